//! The API Gateway Lambda authorizer.
//!
//! - [`config`]: the environment, read once at start-up;
//! - [`event`]: the TOKEN and REQUEST events, headers read as plain strings;
//! - [`handler`]: one event in, `Unauthorized`, an error, or a policy with context out;
//! - [`logging`]: the log subscriber, shared with the benchmarks.
//!
//! Verification, policies and the decision itself live in the shared `groupgate` crate.

pub mod config;
pub mod event;
pub mod handler;
pub mod logging;

pub use config::Config;
pub use event::AuthorizerEvent;
pub use handler::{Authorizer, AuthorizerError, AuthorizerResponse};
