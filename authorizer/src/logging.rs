//! The function's log output: one subscriber, set up the same way in production and in the
//! benchmarks, which write to a sink so that formatting each decision line (and its metric line)
//! is part of what they measure.

use lambda_runtime::tracing::subscriber::filter::{
    EnvFilter, FilterExt as _, LevelFilter, filter_fn,
};
use lambda_runtime::tracing::subscriber::fmt::{self, MakeWriter};
use lambda_runtime::tracing::subscriber::layer::SubscriberExt as _;
use lambda_runtime::tracing::subscriber::{Layer, Registry};
use lambda_runtime::tracing::{Level, Subscriber};

use crate::metrics::EmfLayer;

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
    W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    // Fails only if a subscriber is installed already, which then keeps logging.
    let dispatch = lambda_runtime::tracing::Dispatch::new(subscriber(format, writer));
    let _ = lambda_runtime::tracing::dispatcher::set_global_default(dispatch);
}

/// The function's subscriber: log lines at `INFO` unless `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`
/// says otherwise, without timestamps (Lambda adds them); and beside them the EMF metric lines
/// of [`EmfLayer`], which see the authorizer's `INFO` events whatever the log level, so that
/// quieter logs never lose a metric. Both are written to `writer`.
pub fn subscriber<W>(format: LogFormat, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Clone + Send + Sync + 'static,
{
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    // The runtime logs every `Err` a handler returns at ERROR, as one `message` field (its
    // panic lines carry an `error` field and stay). For this function an `Err` is either
    // `Unauthorized`, API Gateway's 401 for a refused token, which is no fault, or a fault
    // already logged at ERROR by the decision record: the runtime's line only repeats it.
    let filter = filter.and(filter_fn(|meta| {
        !(meta.target() == "lambda_runtime::layers::panic"
            && meta.is_event()
            && meta.fields().field("error").is_none())
    }));
    let lines = fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(writer.clone());
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match format {
        // The invocation's span (request id, X-Ray trace id) once, not again as a list of one:
        // a quarter of each decision line, and log bytes are billed.
        LogFormat::Json => Box::new(lines.json().with_span_list(false).with_filter(filter)),
        LogFormat::Text => Box::new(lines.with_filter(filter)),
    };
    let function =
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "authorizer".to_owned());
    // Only this crate's and the shared crate's events can carry a metric: every other callsite
    // (the SDK's, hyper's) stays disabled when the log level leaves it out.
    let ours = filter_fn(|meta| {
        *meta.level() <= Level::INFO
            && (meta.target().starts_with("authorizer") || meta.target().starts_with("groupgate"))
    });
    let metrics = EmfLayer::new(writer, &function).with_filter(ours);
    Box::new(Registry::default().with(logs).with(metrics))
}
