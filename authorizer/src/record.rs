//! The one record of a decision: its outcome, its reason code, and for a decision that was made
//! its latency and policy cache use. [`DecisionRecord::emit`] writes the log line from it and
//! hands the same record to the metrics layer ([`crate::metrics`]), so what is logged and what is
//! counted cannot drift apart.

use std::fmt;

use groupgate_shared::{Decision, Error, Reason, StoreFailure};

use crate::metrics;

/// How an invocation ended: the `decision` of the log line, the `Outcome` dimension of the
/// metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    Deny,
    /// The token is missing or bad: API Gateway's 401.
    Unauthorized,
    /// No decision could be made: API Gateway's 500.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "Allow",
            Outcome::Deny => "Deny",
            Outcome::Unauthorized => "Unauthorized",
            Outcome::Error => "Error",
        }
    }
}

/// Why an invocation ended as it did: the `reason` of the log line, the `Reason` dimension of
/// the metrics. Each reason belongs to exactly one [`Outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonCode {
    /// A statement allows the call.
    Allowed,
    /// A statement denies it.
    ExplicitDeny,
    /// A group's policy is invalid, so it denies everything.
    InvalidPolicy,
    /// No statement allows it.
    NoAllow,
    /// No `Authorization` value, or not a bearer token.
    NoToken,
    /// More than one distinct `Authorization` value.
    ConflictingAuthorization,
    /// The verifier refused the token; its own code ([`groupgate_shared::Rejection::code`]).
    TokenRejected(&'static str),
    /// No method ARN, or a malformed one.
    MalformedEvent,
    /// The pool's signing keys could not be had.
    JwksUnavailable,
    /// The policy table could not be read, of this kind.
    PolicyStore(StoreFailure),
    /// Cedar reported an error (a policy that erred, a route the schema lacks): a Deny.
    CedarError,
    /// Cedar mode, and the policy table has no Cedar policy set.
    CedarBundleMissing,
    /// Cedar mode, and the stored policy set is not valid.
    CedarBundleInvalid,
}

impl ReasonCode {
    /// The outcome this reason belongs to.
    pub fn outcome(self) -> Outcome {
        match self {
            ReasonCode::Allowed => Outcome::Allow,
            ReasonCode::ExplicitDeny
            | ReasonCode::InvalidPolicy
            | ReasonCode::NoAllow
            | ReasonCode::CedarError => Outcome::Deny,
            ReasonCode::NoToken
            | ReasonCode::ConflictingAuthorization
            | ReasonCode::TokenRejected(_) => Outcome::Unauthorized,
            ReasonCode::MalformedEvent
            | ReasonCode::JwksUnavailable
            | ReasonCode::PolicyStore(_)
            | ReasonCode::CedarBundleMissing
            | ReasonCode::CedarBundleInvalid => Outcome::Error,
        }
    }

    /// The short stable code of logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            ReasonCode::Allowed => "allowed",
            ReasonCode::ExplicitDeny => "explicit_deny",
            ReasonCode::InvalidPolicy => "invalid_policy",
            ReasonCode::NoAllow => "no_allow",
            ReasonCode::NoToken => "no_token",
            ReasonCode::ConflictingAuthorization => "conflicting_authorization",
            ReasonCode::TokenRejected(code) => code,
            ReasonCode::MalformedEvent => "malformed_event",
            ReasonCode::JwksUnavailable => "jwks_unavailable",
            ReasonCode::PolicyStore(StoreFailure::Throttled) => "policy_store_throttled",
            ReasonCode::PolicyStore(StoreFailure::TimedOut) => "policy_store_timeout",
            ReasonCode::PolicyStore(StoreFailure::AccessDenied) => "policy_store_denied",
            ReasonCode::PolicyStore(StoreFailure::Unavailable) => "policy_store_unavailable",
            ReasonCode::CedarError => "cedar_error",
            ReasonCode::CedarBundleMissing => "cedar_policies_missing",
            ReasonCode::CedarBundleInvalid => "cedar_policies_invalid",
        }
    }

    /// The reason of a decision made on the merged policy.
    pub fn of_decision(decision: &Decision<'_>) -> Self {
        match decision.reason() {
            Reason::AllowedBy(_) => ReasonCode::Allowed,
            Reason::DeniedBy(_) => ReasonCode::ExplicitDeny,
            Reason::InvalidPolicy { .. } => ReasonCode::InvalidPolicy,
            Reason::NoMatchingAllow => ReasonCode::NoAllow,
        }
    }

    /// The reason of a Cedar decision, from its own code; a code this version does not know
    /// is a Cedar error (a Deny).
    #[cfg(feature = "cedar")]
    pub fn of_cedar(decision: &groupgate_cedar::CedarDecision) -> Self {
        match decision.code() {
            "allowed" if decision.allow => ReasonCode::Allowed,
            "explicit_deny" => ReasonCode::ExplicitDeny,
            "no_allow" => ReasonCode::NoAllow,
            _ => ReasonCode::CedarError,
        }
    }

    /// The reason of a failure to read the policy store, of the failure's kind.
    pub fn of_store_error(error: &Error) -> Self {
        match error {
            Error::Store { kind, .. } => ReasonCode::PolicyStore(*kind),
            _ => ReasonCode::PolicyStore(StoreFailure::Unavailable),
        }
    }
}

/// Who asked for what, and what deciding it cost: what a decision that was made adds to its
/// record. The caller's strings are logged escaped.
#[derive(Clone, Copy)]
pub struct Decided<'a> {
    pub sub: &'a dyn fmt::Display,
    pub groups: &'a dyn fmt::Display,
    pub method_arn: &'a dyn fmt::Display,
    pub latency_us: u64,
    pub cache_hits: usize,
    pub cache_misses: usize,
}

/// One decision, as it is logged and counted.
#[derive(Clone, Copy)]
pub struct DecisionRecord<'a> {
    pub request_id: &'a str,
    pub reason: ReasonCode,
    /// What the code does not say (the statement that decided, the error), already safe to log.
    pub detail: Option<&'a dyn fmt::Display>,
    /// `None` when no decision was made (Unauthorized, Error).
    pub decided: Option<Decided<'a>>,
}

impl DecisionRecord<'_> {
    pub fn outcome(&self) -> Outcome {
        self.reason.outcome()
    }

    /// Writes the record's log line (level ERROR for an [`Outcome::Error`], INFO otherwise),
    /// and, from the same record, its metric line.
    pub fn emit(&self) {
        let decided = self.decided.as_ref();
        metrics::counting(metrics::Counted::of(self), || {
            macro_rules! log_line {
                ($level:ident) => {
                    tracing::$level!(
                        request_id = self.request_id,
                        sub = decided.map(|d| tracing::field::display(d.sub)),
                        groups = decided.map(|d| tracing::field::display(d.groups)),
                        method_arn = decided.map(|d| tracing::field::display(d.method_arn)),
                        decision = self.outcome().as_str(),
                        reason = self.reason.code(),
                        detail = self.detail.map(tracing::field::display),
                        latency_us = decided.map(|d| d.latency_us),
                        policy_cache_hits = decided.map(|d| d.cache_hits),
                        policy_cache_misses = decided.map(|d| d.cache_misses),
                    )
                };
            }
            match self.outcome() {
                Outcome::Error => log_line!(error),
                _ => log_line!(info),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use groupgate_shared::Rejection;

    /// Every reason there is: the authorizer's own, the verifier's, and each store failure.
    fn every_reason() -> Vec<ReasonCode> {
        let rejections = [
            Rejection::Malformed(String::new()),
            Rejection::Algorithm(String::new()),
            Rejection::CriticalHeader,
            Rejection::UnknownKey,
            Rejection::BadSignature,
            Rejection::Claims(String::new()),
            Rejection::Issuer,
            Rejection::TokenUse,
            Rejection::Audience,
            Rejection::Expired,
            Rejection::NotYetValid,
            Rejection::IssuedInFuture,
            Rejection::LifetimeTooLong,
        ];
        let mut all = vec![
            ReasonCode::Allowed,
            ReasonCode::ExplicitDeny,
            ReasonCode::InvalidPolicy,
            ReasonCode::NoAllow,
            ReasonCode::NoToken,
            ReasonCode::ConflictingAuthorization,
            ReasonCode::MalformedEvent,
            ReasonCode::JwksUnavailable,
            ReasonCode::CedarError,
            ReasonCode::CedarBundleMissing,
            ReasonCode::CedarBundleInvalid,
        ];
        all.extend(
            rejections
                .iter()
                .map(|r| ReasonCode::TokenRejected(r.code())),
        );
        all.extend(
            [
                StoreFailure::Throttled,
                StoreFailure::TimedOut,
                StoreFailure::AccessDenied,
                StoreFailure::Unavailable,
            ]
            .map(ReasonCode::PolicyStore),
        );
        all
    }

    /// A code names one reason, so it names one outcome: a metric dimension value never counts
    /// two kinds of event, and the dashboard's list of combinations stays small.
    #[test]
    fn each_reason_code_is_distinct_and_a_bounded_dimension_value() {
        let all = every_reason();
        let mut codes: Vec<&str> = all.iter().map(|r| r.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len(), "{codes:?}");
        for code in codes {
            assert!(
                !code.is_empty()
                    && code.len() <= 48
                    && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }

    #[test]
    fn each_store_failure_has_its_own_error_reason() {
        let kinds = [
            (StoreFailure::Throttled, "policy_store_throttled"),
            (StoreFailure::TimedOut, "policy_store_timeout"),
            (StoreFailure::AccessDenied, "policy_store_denied"),
            (StoreFailure::Unavailable, "policy_store_unavailable"),
        ];
        for (kind, code) in kinds {
            let error = Error::Store {
                kind,
                detail: "x".into(),
            };
            let reason = ReasonCode::of_store_error(&error);
            assert_eq!((reason.code(), reason.outcome()), (code, Outcome::Error));
        }
    }
}
