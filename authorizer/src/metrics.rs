//! CloudWatch metrics in the Embedded Metric Format (EMF): log lines that CloudWatch Logs turns
//! into metrics, so the authorizer reports them without a single extra call.
//!
//! [`EmfLayer`] writes one more line beside some of the log events: a JSON object with `_aws` at
//! its top level, which the runtime's JSON log layer cannot produce (it nests every field under
//! `fields`).
//!
//! - a decision: `Decisions` by `Outcome` and `Reason`, and for a decision that was made
//!   `DecisionLatency`, `PolicyCacheHits`, `PolicyCacheMisses` by function. The line is made from
//!   the decision's [`DecisionRecord`] itself, handed to the layer while the record's log event
//!   is dispatched (`counting`): never read back from the log line's fields, so a log field
//!   renamed cannot drop a metric;
//! - a JWKS fetch line (`jwks_fetch`, written by the shared crate's key cache): `JwksFetches` and
//!   `JwksFetchFailures` by function.
//!
//! Every dimension is bounded: the outcome (four values) and the reason come from the code's
//! own [`ReasonCode`]s, the function name from Lambda. Group names, user ids and paths never
//! become dimensions: each distinct combination is a custom metric, and each is billed.

use std::cell::Cell;
use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::tracing::field::{Field, Visit};
use lambda_runtime::tracing::subscriber::Layer;
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use lambda_runtime::tracing::subscriber::layer::Context;
use lambda_runtime::tracing::{Event, Subscriber};

use crate::record::{DecisionRecord, Outcome, ReasonCode};

thread_local! {
    /// The decision whose log event is being dispatched on this thread, if one is.
    static COUNTING: Cell<Option<Counted>> = const { Cell::new(None) };
}

/// What the metric line of a decision is made of, taken from its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counted {
    reason: ReasonCode,
    /// Latency in microseconds, policy cache hits and misses: for a decision that was made.
    decided: Option<(u64, usize, usize)>,
}

impl Counted {
    pub(crate) fn of(record: &DecisionRecord<'_>) -> Self {
        Self {
            reason: record.reason,
            decided: record
                .decided
                .map(|d| (d.latency_us, d.cache_hits, d.cache_misses)),
        }
    }
}

/// Runs `log`, which dispatches the log event of the decision `counted` was taken from, with
/// `counted` handed to the [`EmfLayer`]: layers see an event on the thread that dispatches it,
/// within the dispatch.
pub(crate) fn counting(counted: Counted, log: impl FnOnce()) {
    COUNTING.with(|c| c.set(Some(counted)));
    log();
    COUNTING.with(|c| c.set(None));
}

/// A [`Layer`] that writes an EMF line for each decision and JWKS fetch event.
pub struct EmfLayer<W> {
    writer: W,
    /// The function's name as a JSON string.
    function: String,
}

impl<W> EmfLayer<W> {
    /// Metrics of the function `function` (Lambda's `AWS_LAMBDA_FUNCTION_NAME`), written to
    /// `writer`, the same stream as the logs.
    pub fn new(writer: W, function: &str) -> Self {
        Self {
            writer,
            // Written into every line as is: escaped once, here.
            function: serde_json::to_string(function).unwrap_or_else(|_| "\"\"".to_owned()),
        }
    }
}

impl<S, W> Layer<S> for EmfLayer<W>
where
    S: Subscriber,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let line = match COUNTING.with(Cell::take) {
            Some(counted) => counted.emf(&self.function, now_millis()),
            None => {
                let mut fetch = JwksFetch::default();
                event.record(&mut fetch);
                let Some(failed) = fetch.failed else {
                    return;
                };
                jwks_emf(failed, &self.function, now_millis())
            }
        };
        // One write per line, so that lines from concurrent invocations never interleave.
        let _ = self.writer.make_writer().write_all(line.as_bytes());
    }
}

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The one field of a JWKS fetch line that metrics are made of.
#[derive(Default)]
struct JwksFetch {
    failed: Option<bool>,
}

impl Visit for JwksFetch {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "jwks_fetch" {
            self.failed = Some(value != "ok");
        }
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {}
}

/// The metric directives of each line, fixed: only the values change from line to line. Every
/// metric is in the namespace `groupgate`.
const JWKS_DIRECTIVES: &str = concat!(
    r#"[{"Namespace":"groupgate","Dimensions":[["FunctionName"]],"Metrics":["#,
    r#"{"Name":"JwksFetches","Unit":"Count"},{"Name":"JwksFetchFailures","Unit":"Count"}]}]"#
);
/// Decisions by outcome and reason, and by outcome alone: the errors alarm subtracts the
/// refused tokens (`Outcome=Unauthorized`, whatever their reason) from Lambda's `Errors`.
const DECISIONS_DIRECTIVE: &str = concat!(
    r#"{"Namespace":"groupgate","Dimensions":[["FunctionName","Outcome","Reason"],["FunctionName","Outcome"]],"#,
    r#""Metrics":[{"Name":"Decisions","Unit":"Count"}]}"#
);
/// For a decision that was made (the allowed and denied ones): its time and cache use.
const DECIDED_DIRECTIVE: &str = concat!(
    r#"{"Namespace":"groupgate","Dimensions":[["FunctionName"]],"Metrics":["#,
    r#"{"Name":"DecisionLatency","Unit":"Microseconds"},"#,
    r#"{"Name":"PolicyCacheHits","Unit":"Count"},{"Name":"PolicyCacheMisses","Unit":"Count"}]}"#
);

/// The EMF line (newline included) of a JWKS fetch. `function` is already a JSON string, quotes
/// included.
fn jwks_emf(failed: bool, function: &str, timestamp: u64) -> String {
    format!(
        concat!(
            r#"{{"_aws":{{"Timestamp":{},"CloudWatchMetrics":{}}},"FunctionName":{},"#,
            r#""JwksFetches":1,"JwksFetchFailures":{}}}"#,
            "\n"
        ),
        timestamp,
        JWKS_DIRECTIVES,
        function,
        u8::from(failed)
    )
}

impl Counted {
    /// The EMF line (newline included) of this decision. `function` is already a JSON string,
    /// quotes included.
    fn emf(&self, function: &str, timestamp: u64) -> String {
        use std::fmt::Write as _;
        let outcome: Outcome = self.reason.outcome();
        let mut line = String::with_capacity(640);
        let _ = write!(
            line,
            r#"{{"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":["#
        );
        line.push_str(DECISIONS_DIRECTIVE);
        if self.decided.is_some() {
            line.push(',');
            line.push_str(DECIDED_DIRECTIVE);
        }
        let _ = write!(
            line,
            r#"]}},"FunctionName":{function},"Outcome":"{}","Reason":"{}","Decisions":1"#,
            outcome.as_str(),
            self.reason.code()
        );
        if let Some((latency, hits, misses)) = self.decided {
            let _ = write!(
                line,
                r#","DecisionLatency":{latency},"PolicyCacheHits":{hits},"PolicyCacheMisses":{misses}"#
            );
        }
        line.push_str("}\n");
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(line: &str) -> serde_json::Value {
        assert!(line.ends_with('\n'));
        serde_json::from_str(line).unwrap_or_default()
    }

    #[test]
    fn a_failed_jwks_fetch_counts_as_a_fetch_and_a_failure() {
        let line = parsed(&jwks_emf(true, "\"fn\"", 1));
        assert_eq!(line["JwksFetches"], 1);
        assert_eq!(line["JwksFetchFailures"], 1);
        assert_eq!(line["_aws"]["Timestamp"], 1);
        assert_eq!(
            parsed(&jwks_emf(false, "\"fn\"", 1))["JwksFetchFailures"],
            0
        );
    }

    #[test]
    fn a_function_name_is_escaped_once_and_lines_are_json() {
        let layer = EmfLayer::new(std::io::sink, "a\"b");
        let counted = Counted {
            reason: ReasonCode::Allowed,
            decided: Some((7, 1, 0)),
        };
        let parsed = parsed(&counted.emf(&layer.function, 5));
        assert_eq!(parsed["FunctionName"], "a\"b");
        assert_eq!(parsed["DecisionLatency"], 7);
        assert_eq!(
            parsed["_aws"]["CloudWatchMetrics"].as_array().map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn a_decision_not_made_counts_without_latency_or_cache_use() {
        let counted = Counted {
            reason: ReasonCode::PolicyStore(groupgate_shared::StoreFailure::Throttled),
            decided: None,
        };
        let line = parsed(&counted.emf("\"fn\"", 1));
        assert_eq!(
            (&line["Outcome"], &line["Reason"]),
            (
                &serde_json::json!("Error"),
                &serde_json::json!("policy_store_throttled")
            )
        );
        assert!(line.get("DecisionLatency").is_none(), "{line}");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"].as_array().map(Vec::len),
            Some(1)
        );
    }
}
