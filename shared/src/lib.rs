//! The core both Lambdas share: who the caller is, and what their groups let them do.
//!
//! A request's path through this crate:
//! - [`token`] verifies a Cognito JWT (keys from [`jwks`]) into [`claims::CognitoClaims`];
//! - [`store`] loads the policy of each of the user's groups from DynamoDB (cached);
//! - [`policy`] is the strict IAM policy model those entries are parsed into;
//! - [`decision`] merges the groups' policies and decides on a method ARN ([`arn`]).
//!
//! The decision path is plain functions over plain data; the I/O (JWKS over HTTP, DynamoDB)
//! sits behind the small [`jwks::JwksSource`] and [`store::PolicySource`] traits.

pub mod arn;
pub mod claims;
pub mod context;
pub mod decision;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod env;
mod error;
pub mod group;
pub mod json;
pub mod jwks;
pub mod policy;
pub mod store;
pub mod token;
pub mod untrusted;

pub use arn::{MethodArn, Pattern};
pub use claims::{CognitoClaims, TokenUse};
pub use decision::{Decision, INVOKE_ACTION, MergedPolicy, Reason};
pub use error::{Error, PolicyError};
pub use group::GroupPolicy;
pub use policy::{Effect, PolicyDocument, RequestFacts};
pub use store::GroupPolicyStore;
pub use token::{ExpectedTokenUse, Rejection, TokenRules, TokenVerifier, VerifyError};
