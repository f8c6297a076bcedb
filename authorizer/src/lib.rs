//! The API Gateway Lambda authorizer.
//!
//! - [`config`]: the environment, read once at start-up;
//! - [`handler`]: one event in, `Unauthorized`, an error, or a policy with context out;
//! - [`logging`]: the log subscriber, shared with the benchmarks.
//!
//! Verification, policies and the decision itself live in the shared `groupgate` crate.

pub mod config;
pub mod handler;
pub mod logging;

pub use config::Config;
pub use handler::{Authorizer, AuthorizerError, AuthorizerEvent, AuthorizerResponse, Context};
