//! The crate's errors: what can go wrong outside a token's own validity (a bad token is a
//! [`crate::token::Rejection`], never an error).

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
    #[error("policy store unavailable: {0}")]
    Store(String),
}
