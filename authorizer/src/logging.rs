//! The function's log output: one subscriber, set up the same way in production and in the
//! benchmarks, which write to a sink so that formatting each decision line is part of what they
//! measure.

use lambda_runtime::tracing::Subscriber;
use lambda_runtime::tracing::subscriber::filter::{EnvFilter, LevelFilter};
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;

/// How log lines are written: Lambda's `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// The format Lambda's advanced logging controls ask for; text when unset.
    pub fn from_env() -> Self {
        match std::env::var("AWS_LAMBDA_LOG_FORMAT") {
            Ok(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            _ => LogFormat::Text,
        }
    }
}

/// Installs [`subscriber`] as the global subscriber.
pub fn init<W>(format: LogFormat, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    // Fails only if a subscriber is installed already, which then keeps logging.
    let dispatch = lambda_runtime::tracing::Dispatch::new(subscriber(format, writer));
    let _ = lambda_runtime::tracing::dispatcher::set_global_default(dispatch);
}

/// The function's subscriber: `INFO` unless `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG` says
/// otherwise, no timestamps (Lambda adds them), lines written to `writer`.
pub fn subscriber<W>(format: LogFormat, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let builder = lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(
            EnvFilter::builder()
                .with_default_directive(level.into())
                .from_env_lossy(),
        )
        .with_writer(writer);
    match format {
        LogFormat::Json => Box::new(builder.json().finish()),
        LogFormat::Text => Box::new(builder.finish()),
    }
}
