//! The crate's errors: what can go wrong outside a token's own validity (a bad token is a
//! [`crate::token::Rejection`], never an error).

use std::fmt;

/// Why a policy document cannot be used; the message names the element and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("malformed method ARN `{arn}`: {reason}")]
    MethodArn { arn: String, reason: String },
    #[error("invalid policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("signing keys unavailable: {0}")]
    Jwks(String),
    /// The policy store could not be read; `kind` says what an operator fixes.
    #[error("policy store {kind}: {detail}")]
    Store { kind: StoreFailure, detail: String },
}

impl Error {
    /// A policy store failure of no more particular kind.
    pub fn store(detail: impl Into<String>) -> Self {
        Error::Store {
            kind: StoreFailure::Unavailable,
            detail: detail.into(),
        }
    }
}

/// What kind of failure reading the policy store was: each has its own fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreFailure {
    /// The table refused the read for want of capacity (throttling, or keys left unprocessed
    /// after the retries): raise its capacity or the account's quota.
    Throttled,
    /// No answer within the SDK's timeouts: the network path to DynamoDB, or a regional event.
    TimedOut,
    /// IAM refused the read: the function's role lacks the permission on the table.
    AccessDenied,
    /// Anything else (no such table, a refused connection, a malformed answer).
    Unavailable,
}

impl fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StoreFailure::Throttled => "throttled",
            StoreFailure::TimedOut => "timed out",
            StoreFailure::AccessDenied => "access denied",
            StoreFailure::Unavailable => "unavailable",
        })
    }
}
