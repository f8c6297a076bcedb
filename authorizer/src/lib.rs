//! The API Gateway Lambda authorizer.
//!
//! - [`config`]: the environment, read once at start-up;
//! - [`event`]: the TOKEN and REQUEST events, headers read as plain strings;
//! - `cedar` (feature `cedar`): the Cedar policy set read from the policy table and kept for
//!   a TTL, and the one-statement policy returned for a Cedar decision;
//! - [`handler`]: one event in, `Unauthorized`, an error, or a policy with context out;
//! - [`record`]: the one record of each decision (outcome, reason code, latency, cache use),
//!   which both the log line and the metric line are written from;
//! - [`logging`]: the log subscriber, shared with the benchmarks;
//! - [`metrics`]: CloudWatch metrics as Embedded Metric Format lines beside the logs.
//!
//! Verification, policies and the decision itself live in the shared `groupgate-shared` crate.
// The request path keeps its functions short enough to read at once (threshold in clippy.toml).
#![cfg_attr(not(test), warn(clippy::too_many_lines))]

#[cfg(feature = "cedar")]
pub mod cedar;
pub mod config;
pub mod event;
pub mod handler;
pub mod logging;
pub mod metrics;
pub mod record;

pub use config::Config;
pub use event::AuthorizerEvent;
pub use handler::{Authorizer, AuthorizerError, AuthorizerResponse, PolicyOut};

#[cfg(feature = "aws")]
use std::time::Duration;

#[cfg(feature = "aws")]
use aws_config::timeout::TimeoutConfig;

/// Bounds on the policy table's calls, well inside the function's 10 s timeout: a stalled
/// DynamoDB is a logged `policy_store_timeout` error (API Gateway's 500) within about 3 s, never
/// a hang until Lambda kills the invocation.
#[cfg(feature = "aws")]
pub fn sdk_timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(1000))
        .operation_attempt_timeout(Duration::from_millis(1000))
        .operation_timeout(Duration::from_millis(3000))
        .build()
}
