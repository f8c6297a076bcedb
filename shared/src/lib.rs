//! The core both Lambdas share: who the caller is, what their groups let them do, and how the
//! authorizer tells the backend.
//!
//! A request's path through this crate, in the order the authorizer takes it:
//! - `token`: [`TokenVerifier`] checks a Cognito JWT of a trusted pool (its issuer picks the
//!   pool, its keys come from that pool's [`jwks`]) into [`CognitoClaims`] (`claims`), or says
//!   why not ([`Rejection`]);
//! - `pool`: [`PolicyNames`] turns the claims into the keys of the caller's policies: a
//!   person's groups or a machine client's scopes, under the pool's group prefix;
//! - `store`: [`GroupPolicyStore`] loads each group's [`GroupPolicy`] (`group`) through a
//!   [`PolicySource`], cached; [`dynamodb`] is the real source (feature `dynamodb`);
//! - `policy`: [`PolicyDocument`], the strict IAM policy model the entries are parsed into
//!   (read with [`json::parse_unique`], which refuses repeated keys);
//! - `decision`: [`MergedPolicy`] merges the groups' statements once and decides on a
//!   [`MethodArn`] (`arn`), as a [`Decision`] with its [`Reason`]; [`ReturnedPolicy`] is the
//!   policy returned to API Gateway, the one rule every renderer uses;
//! - [`context`]: the [`context::AuthorizerContext`] the authorizer returns, the
//!   [`context::Caller`] the backend reads back, and the rule for which role the caller acts as.
//!
//! Beside the path: [`env`](mod@env) names the functions' variables, [`cors`] holds the
//! browser origins allowed to call the API, [`reference`] evaluates a returned policy as API
//! Gateway does (to hold the decision to), [`route`] matches a path to the API's resource paths
//! as API Gateway does, [`untrusted`] makes a caller's
//! strings safe to log, and `error` holds [`Error`] (a store failure keeps its
//! [`StoreFailure`] kind) and [`PolicyError`].
//!
//! The decision path is plain functions over plain data; the I/O (the JWKS over HTTP, feature
//! `http-jwks`, and DynamoDB) sits behind the small [`jwks::JwksSource`] and [`PolicySource`]
//! traits, so the backend links the core without either.
// The request path keeps its functions short enough to read at once (threshold in clippy.toml).
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

mod arn;
mod claims;
pub mod context;
pub mod cors;
mod decision;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod env;
mod error;
mod group;
pub mod json;
pub mod jwks;
mod policy;
mod pool;
pub mod reference;
pub mod route;
#[cfg(feature = "dynamodb")]
pub mod sdk_error;
mod store;
mod token;
pub mod untrusted;

pub use arn::{MethodArn, Pattern};
pub use claims::{CognitoClaims, MAX_GROUPS, PrincipalType, TokenUse};
pub use decision::{Decision, INVOKE_ACTION, MergedPolicy, Origin, Reason, ReturnedPolicy};
pub use error::{Error, PolicyError, StoreFailure};
pub use group::GroupPolicy;
pub use policy::{
    Condition, ConditionBlock, ConditionKey, ConditionOutcome, Effect, IpOperator, POLICY_VERSION,
    PolicyDocument, RequestFacts, Scope, Statement,
};
pub use pool::{MAX_SCOPES, PolicyKeys, PolicyNames, PoolNaming, SCOPE_MARKER, check_group_prefix};
pub use store::{GroupPolicyStore, Loaded, MAX_KEY_BYTES, PolicySource, is_storable_key};
pub use token::{
    DEFAULT_CLOCK_LEEWAY, ExpectedTokenUse, MAX_TOKEN_LIFETIME, Rejection, TokenRules,
    TokenVerifier, TrustedPool, Verified, VerifyError, bearer_token, user_pool_region,
};
