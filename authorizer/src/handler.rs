//! One authorizer invocation: API Gateway event in, policy and context (or `Unauthorized`) out.

use std::time::Instant;

use groupgate_shared::PolicySource;
use groupgate_shared::context::AuthorizerContext;
use groupgate_shared::jwks::JwksSource;
use groupgate_shared::untrusted::{Untrusted, UntrustedList};
use groupgate_shared::{
    GroupPolicyStore, INVOKE_ACTION, MergedPolicy, MethodArn, Rejection, RequestFacts,
    ReturnedPolicy, TokenVerifier, Verified, VerifyError, bearer_token,
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
    /// The policy API Gateway applies: the merged IAM policy the decision was made from, or
    /// with Cedar one statement on the request's route.
    pub policy_document: PolicyOut,
    /// What the backend reads the caller from (see [`groupgate_shared::context`]).
    pub context: AuthorizerContext,
}

/// The returned policy, rendered when the response is serialized.
#[derive(Debug)]
pub enum PolicyOut {
    /// The merged policy of the user's groups (the one the decision was made from).
    Iam(ReturnedPolicy),
    /// Cedar's Allow or Deny on the request's route.
    #[cfg(feature = "cedar")]
    Cedar(crate::cedar::RoutePolicy),
}

impl PolicyOut {
    /// The policy document as API Gateway receives it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for PolicyOut {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            PolicyOut::Iam(policy) => policy.serialize(serializer),
            #[cfg(feature = "cedar")]
            PolicyOut::Cedar(policy) => policy.serialize(serializer),
        }
    }
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

/// The authorizer with its long-lived parts: verifier (with its key cache) and policies.
pub struct Authorizer<J, P> {
    verifier: TokenVerifier<J>,
    policies: Policies<P>,
}

/// What decides: the group policies (IAM), or the Cedar policy set. With Cedar the group
/// items are still read, for the roles they name (the backend acts with the caller's group
/// role), never for access.
enum Policies<P> {
    Iam(GroupPolicyStore<P>),
    #[cfg(feature = "cedar")]
    Cedar(crate::cedar::CedarSource, GroupPolicyStore<P>),
}

/// The parts of an event a decision needs.
struct Call<'e> {
    request_id: Option<&'e str>,
    authorization: Authorization<'e>,
    method_arn: Option<&'e str>,
    source_ip: Option<&'e str>,
    /// The REQUEST event's `httpMethod` and `resource` (Cedar's action); a TOKEN event has none.
    #[cfg(feature = "cedar")]
    http_method: Option<&'e str>,
    #[cfg(feature = "cedar")]
    resource: Option<&'e str>,
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
                #[cfg(feature = "cedar")]
                http_method: None,
                #[cfg(feature = "cedar")]
                resource: None,
            },
            AuthorizerEvent::Request(e) => Call {
                request_id: e.request_id(),
                authorization: e.authorization(),
                method_arn: e.method_arn.as_deref(),
                source_ip: e.source_ip(),
                #[cfg(feature = "cedar")]
                http_method: e.http_method.as_deref(),
                #[cfg(feature = "cedar")]
                resource: e.resource.as_deref(),
            },
        }
    }
}

impl<J: JwksSource, P: PolicySource> Authorizer<J, P> {
    pub fn new(verifier: TokenVerifier<J>, store: GroupPolicyStore<P>) -> Self {
        Self {
            verifier,
            policies: Policies::Iam(store),
        }
    }

    /// An authorizer that decides with the Cedar policy set of `source`, and reads the roles
    /// of an allowed caller's groups from `groups` (their policy-table items).
    #[cfg(feature = "cedar")]
    pub fn with_cedar(
        verifier: TokenVerifier<J>,
        source: crate::cedar::CedarSource,
        groups: GroupPolicyStore<P>,
    ) -> Self {
        Self {
            verifier,
            policies: Policies::Cedar(source, groups),
        }
    }

    /// Handles one event at time `now` (seconds since the epoch).
    pub async fn handle(
        &self,
        event: &AuthorizerEvent,
        now: u64,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        match &self.policies {
            Policies::Iam(store) => self.handle_iam(store, event, now).await,
            #[cfg(feature = "cedar")]
            Policies::Cedar(source, groups) => self.handle_cedar(source, groups, event, now).await,
        }
    }

    /// The token's claims and its pool's naming, or `Unauthorized` (or a failure to get the
    /// pool's keys).
    async fn verify(
        &self,
        authorization: Authorization<'_>,
        request_id: &str,
        now: u64,
    ) -> Result<Verified<'_>, AuthorizerError> {
        let token = token_of(authorization, request_id)?;
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
        Ok(verified)
    }

    async fn handle_iam(
        &self,
        store: &GroupPolicyStore<P>,
        event: &AuthorizerEvent,
        now: u64,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        let started = Instant::now();
        let call = Call::from_event(event);
        let request_id = call.request_id.unwrap_or("-");

        let method_arn = method_arn_of(call.method_arn, request_id)?;
        let facts = RequestFacts::from_source_ip(call.source_ip);

        let verified = self.verify(call.authorization, request_id, now).await?;
        let claims = &verified.claims;
        let caller = verified
            .names
            .policy_keys(claims)
            .map_err(|rejection| rejected(request_id, &rejection))?;
        let loaded = store
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
            policy_document: PolicyOut::Iam(ReturnedPolicy::new(merged, &method_arn)),
            context,
        })
    }

    /// The Cedar decision: principal `User::"{sub}"` in `UserGroup::"{key}"` for each of the
    /// caller's policy keys, action the event's route, resource the API; the policy returned is
    /// one statement on the route (see [`crate::cedar::RoutePolicy`] for why that is right
    /// under API Gateway's cache).
    #[cfg(feature = "cedar")]
    async fn handle_cedar(
        &self,
        source: &crate::cedar::CedarSource,
        groups: &GroupPolicyStore<P>,
        event: &AuthorizerEvent,
        now: u64,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        use crate::cedar::{Route, RoutePolicy};

        let started = Instant::now();
        let call = Call::from_event(event);
        let request_id = call.request_id.unwrap_or("-");

        let method_arn = method_arn_of(call.method_arn, request_id)?;
        let route = Route::checked(call.http_method, call.resource, &method_arn)
            .map_err(|why| failed(request_id, ReasonCode::MalformedEvent, &why))?;

        let verified = self.verify(call.authorization, request_id, now).await?;
        let claims = &verified.claims;
        let caller = verified
            .names
            .policy_keys(claims)
            .map_err(|rejection| rejected(request_id, &rejection))?;
        let set = source
            .current()
            .await
            .map_err(|e| failed(request_id, e.reason(), &e.to_string()))?;
        // Who the caller is in Verified Permissions' ids, for a set written that way. The token's
        // groups as they are (not only those that made keys): every such id is qualified by
        // the pool the token was verified against, so none can pass as another pool's.
        let pool = groupgate_cedar::CallerPool {
            id: verified.pool_id,
            groups: &claims.groups,
        };
        let decision = set.decide(
            &claims.sub,
            &caller.keys,
            pool,
            route.method,
            route.resource,
        );
        let reason = ReasonCode::of_cedar(&decision);
        let allow = decision.allow && reason == ReasonCode::Allowed;
        // The role an allowed caller's backend acts with comes from its groups' items, as with
        // IAM (a Deny needs none: its context reaches no backend). The items are cached as the
        // IAM policies are; a failed read fails the request.
        let loaded = if allow {
            groups
                .load(&caller.keys)
                .await
                .map_err(|e| failed(request_id, ReasonCode::of_store_error(&e), &e.to_string()))?
        } else {
            groupgate_shared::Loaded::default()
        };

        let detail = crate::cedar::Detail(&decision);
        DecisionRecord {
            request_id,
            reason,
            detail: Some(&detail),
            decided: Some(Decided {
                sub: &Untrusted(&claims.sub),
                groups: &UntrustedList(&caller.keys),
                method_arn: &Untrusted(method_arn.as_str()),
                latency_us: started.elapsed().as_micros() as u64,
                cache_hits: loaded.cache_hits + 1,
                cache_misses: loaded.cache_misses,
            }),
        }
        .emit();
        let context = AuthorizerContext::new(
            claims,
            caller.principal,
            &loaded.policies,
            verified.names.prefix(),
        );
        Ok(AuthorizerResponse {
            principal_id: claims.sub.clone(),
            policy_document: PolicyOut::Cedar(RoutePolicy::new(allow, &method_arn, &route)),
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
