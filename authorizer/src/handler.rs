//! One authorizer invocation: API Gateway event in, policy and context (or `Unauthorized`) out.

use std::time::Instant;

use groupgate_shared::PolicySource;
use groupgate_shared::context::AuthorizerContext;
use groupgate_shared::jwks::JwksSource;
use groupgate_shared::untrusted::{Untrusted, UntrustedList};
use groupgate_shared::{
    GroupPolicyStore, INVOKE_ACTION, MergedPolicy, MethodArn, Rejection, RequestFacts,
    ReturnedPolicy, TokenVerifier, VerifyError, bearer_token,
};
use lambda_runtime::Diagnostic;
use serde::Serialize;

use crate::event::{Authorization, AuthorizerEvent};
use crate::record::{Decided, DecisionRecord, ReasonCode};

/// What the authorizer returns to API Gateway.
///
/// Our own type rather than `aws_lambda_events`' response: the policy is rendered straight
/// from the merge it was decided on, in the documented elements only (see [`ReturnedPolicy`]).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerResponse {
    pub principal_id: String,
    /// The merged policy of the user's groups (the one the decision was made from), rendered
    /// when the response is serialized.
    pub policy_document: ReturnedPolicy,
    /// What the backend reads the caller from (see [`groupgate_shared::context`]).
    pub context: AuthorizerContext,
}

/// Why no policy was returned.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizerError {
    /// The token is missing or bad. The message must be exactly this for API Gateway to answer 401.
    #[error("Unauthorized")]
    Unauthorized,
    /// We could not decide (keys or policies unavailable, malformed event). API Gateway answers
    /// 500 and does not cache it.
    #[error("{0}")]
    Failed(String),
}

impl From<AuthorizerError> for Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        let error_type = match error {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::Failed(_) => "AuthorizerFailure",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The authorizer with its long-lived parts: verifier (with its key cache) and policy store.
pub struct Authorizer<J, P> {
    verifier: TokenVerifier<J>,
    store: GroupPolicyStore<P>,
}

/// The parts of an event a decision needs.
struct Call<'e> {
    request_id: Option<&'e str>,
    authorization: Authorization<'e>,
    method_arn: Option<&'e str>,
    source_ip: Option<&'e str>,
}

impl<'e> Call<'e> {
    fn from_event(event: &'e AuthorizerEvent) -> Self {
        match event {
            AuthorizerEvent::Token(e) => Call {
                request_id: None,
                authorization: e
                    .authorization_token
                    .as_deref()
                    .map_or(Authorization::Missing, Authorization::One),
                method_arn: e.method_arn.as_deref(),
                source_ip: None,
            },
            AuthorizerEvent::Request(e) => Call {
                request_id: e.request_id(),
                authorization: e.authorization(),
                method_arn: e.method_arn.as_deref(),
                source_ip: e.source_ip(),
            },
        }
    }
}

impl<J: JwksSource, P: PolicySource> Authorizer<J, P> {
    pub fn new(verifier: TokenVerifier<J>, store: GroupPolicyStore<P>) -> Self {
        Self { verifier, store }
    }

    /// Handles one event at time `now` (seconds since the epoch).
    pub async fn handle(
        &self,
        event: &AuthorizerEvent,
        now: u64,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        let started = Instant::now();
        let call = Call::from_event(event);
        let request_id = call.request_id.unwrap_or("-");

        let method_arn = method_arn_of(call.method_arn, request_id)?;
        let facts = RequestFacts::from_source_ip(call.source_ip);

        let token = token_of(call.authorization, request_id)?;
        let verified = match self.verifier.verify(token, now).await {
            Ok(verified) => verified,
            Err(VerifyError::Rejected(rejection)) => return Err(rejected(request_id, &rejection)),
            Err(VerifyError::KeysUnavailable(e)) => {
                return Err(failed(
                    request_id,
                    ReasonCode::JwksUnavailable,
                    &e.to_string(),
                ));
            }
        };

        let claims = &verified.claims;
        let caller = verified
            .names
            .policy_keys(claims)
            .map_err(|rejection| rejected(request_id, &rejection))?;
        let loaded = self
            .store
            .load(&caller.keys)
            .await
            .map_err(|e| failed(request_id, ReasonCode::of_store_error(&e), &e.to_string()))?;
        warn_invalid(&loaded.policies, request_id);
        let merged = MergedPolicy::for_request(loaded.policies, &facts);
        let decision = merged.decide(INVOKE_ACTION, method_arn.as_str());

        DecisionRecord {
            request_id,
            reason: ReasonCode::of_decision(&decision),
            detail: Some(decision.reason()),
            decided: Some(Decided {
                sub: &Untrusted(&claims.sub),
                groups: &UntrustedList(&caller.keys),
                method_arn: &Untrusted(method_arn.as_str()),
                latency_us: started.elapsed().as_micros() as u64,
                cache_hits: loaded.cache_hits,
                cache_misses: loaded.cache_misses,
            }),
        }
        .emit();
        let context = AuthorizerContext::new(
            claims,
            caller.principal,
            merged.groups(),
            verified.names.prefix(),
        );
        Ok(AuthorizerResponse {
            principal_id: claims.sub.clone(),
            policy_document: ReturnedPolicy::new(merged, &method_arn),
            context,
        })
    }
}

/// `Unauthorized` for a token that was not accepted, logged with why.
fn rejected(request_id: &str, rejection: &Rejection) -> AuthorizerError {
    DecisionRecord {
        request_id,
        reason: ReasonCode::TokenRejected(rejection.code()),
        detail: Some(rejection),
        decided: None,
    }
    .emit();
    AuthorizerError::Unauthorized
}

/// The event's method ARN, or the failure of a malformed event.
fn method_arn_of(arn: Option<&str>, request_id: &str) -> Result<MethodArn, AuthorizerError> {
    let arn = arn.ok_or_else(|| {
        failed(
            request_id,
            ReasonCode::MalformedEvent,
            "event has no `methodArn`",
        )
    })?;
    MethodArn::parse(arn)
        .map_err(|e| failed(request_id, ReasonCode::MalformedEvent, &e.to_string()))
}

/// The JWT of an event's `Authorization` value, or `Unauthorized` (logged with why).
fn token_of<'e>(
    authorization: Authorization<'e>,
    request_id: &str,
) -> Result<&'e str, AuthorizerError> {
    let reason = match authorization {
        Authorization::One(value) => match bearer_token(value) {
            Some(token) => return Ok(token),
            None => ReasonCode::NoToken,
        },
        Authorization::Missing => ReasonCode::NoToken,
        Authorization::Conflicting => ReasonCode::ConflictingAuthorization,
    };
    DecisionRecord {
        request_id,
        reason,
        detail: None,
        decided: None,
    }
    .emit();
    Err(AuthorizerError::Unauthorized)
}

/// Logs each group whose policy is invalid (it then denies everything).
fn warn_invalid(groups: &[std::sync::Arc<groupgate_shared::GroupPolicy>], request_id: &str) {
    for invalid in groups {
        if let Err(error) = &invalid.policy {
            tracing::warn!(
                request_id,
                group = %Untrusted(&invalid.group),
                error = %Untrusted(&error.0),
                "group policy is invalid; treating it as deny-all",
            );
        }
    }
}

/// A failure to decide: logged with its reason code, and returned as the error API Gateway turns
/// into a 500. The detail can quote the event (a malformed method ARN, say), so it is escaped.
fn failed(request_id: &str, reason: ReasonCode, detail: &str) -> AuthorizerError {
    let detail = Untrusted(detail);
    DecisionRecord {
        request_id,
        reason,
        detail: Some(&detail),
        decided: None,
    }
    .emit();
    AuthorizerError::Failed(format!("{}: {detail}", reason.code()))
}
