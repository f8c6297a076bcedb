//! The petstore API, behind the authorizer.
//!
//! - [`config`]: the environment, read once;
//! - [`proxy`]: the REST API v1 proxy event, checked, in; the proxy response out;
//! - [`routes`]: request -> route -> JSON response;
//! - [`roles`]: STS AssumeRole into the caller's group role, credentials cached;
//! - [`pets`]: the pets, in DynamoDB or in memory;
//! - [`error`]: failures as `{"message": ...}` with the right status.
//!
//! The caller comes from the authorizer's context, read by `groupgate_shared::context`, the contract
//! the authorizer writes; which role the caller acts as is decided there too.
// The request path keeps its functions short enough to read at once (threshold in clippy.toml).
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

pub mod config;
pub mod error;
pub mod pets;
pub mod proxy;
pub mod roles;
pub mod routes;

pub use config::Config;
pub use routes::App;

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;

/// Bounds on every AWS call the backend makes, so a dead dependency is a quick 503, not a hang.
pub fn sdk_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(1000))
        .operation_attempt_timeout(Duration::from_millis(2000))
        .operation_timeout(Duration::from_millis(5000))
        .build()
}
