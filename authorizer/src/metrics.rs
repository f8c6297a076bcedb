//! CloudWatch metrics in the Embedded Metric Format (EMF): log lines that CloudWatch Logs turns
//! into metrics, so the authorizer reports them without a single extra call.
//!
//! [`EmfLayer`] watches the log events the authorizer already writes and, for the ones that
//! carry a measurement, writes one more line: a JSON object with `_aws` at its top level, which
//! the runtime's JSON log layer cannot produce (it nests every field under `fields`).
//!
//! - a decision line (`decision`, `reason`): `Decisions` by `Outcome` and `Reason`, and
//!   `DecisionLatency`, `PolicyCacheHits`, `PolicyCacheMisses` by function;
//! - a JWKS fetch line (`jwks_fetch`): `JwksFetches` and `JwksFetchFailures` by function.
//!
//! Every dimension is bounded: the outcome (four values) and the reason come from the code's
//! own constants, the function name from Lambda. Group names, user ids and paths never become
//! dimensions: each distinct combination is a custom metric, and each is billed.

use std::io::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use lambda_runtime::tracing::field::{Field, Visit};
use lambda_runtime::tracing::subscriber::Layer;
use lambda_runtime::tracing::subscriber::fmt::MakeWriter;
use lambda_runtime::tracing::subscriber::layer::Context;
use lambda_runtime::tracing::{Event, Subscriber};

/// The outcomes a decision line can carry; anything else is not turned into a metric.
const OUTCOMES: [&str; 4] = ["Allow", "Deny", "Unauthorized", "Error"];
/// Longest reason code taken as a dimension value (the codes are short identifiers).
const MAX_REASON: usize = 48;

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
        let mut fields = Fields::default();
        event.record(&mut fields);
        let Some(line) = fields.emf(&self.function, now_millis()) else {
            return;
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

/// The fields of one event that metrics are made of.
#[derive(Default)]
struct Fields {
    outcome: Option<&'static str>,
    reason: Option<String>,
    latency_us: Option<u64>,
    cache_hits: Option<u64>,
    cache_misses: Option<u64>,
    jwks_fetch_failed: Option<bool>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "decision" => self.outcome = OUTCOMES.into_iter().find(|o| *o == value),
            "reason" => self.reason = Some(value.to_owned()),
            "jwks_fetch" => self.jwks_fetch_failed = Some(value != "ok"),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "latency_us" => self.latency_us = Some(value),
            "policy_cache_hits" => self.cache_hits = Some(value),
            "policy_cache_misses" => self.cache_misses = Some(value),
            _ => {}
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
const DECISIONS_DIRECTIVE: &str = concat!(
    r#"{"Namespace":"groupgate","Dimensions":[["FunctionName","Outcome","Reason"]],"#,
    r#""Metrics":[{"Name":"Decisions","Unit":"Count"}]}"#
);
/// For a decision that was made (the allowed and denied ones): its time and cache use.
const DECIDED_DIRECTIVE: &str = concat!(
    r#"{"Namespace":"groupgate","Dimensions":[["FunctionName"]],"Metrics":["#,
    r#"{"Name":"DecisionLatency","Unit":"Microseconds"},"#,
    r#"{"Name":"PolicyCacheHits","Unit":"Count"},{"Name":"PolicyCacheMisses","Unit":"Count"}]}"#
);

impl Fields {
    /// The EMF line (newline included) for these fields, if they carry a measurement.
    /// `function` is already a JSON string, quotes included.
    fn emf(&self, function: &str, timestamp: u64) -> Option<String> {
        use std::fmt::Write as _;
        let mut line = String::with_capacity(640);
        let _ = write!(
            line,
            r#"{{"_aws":{{"Timestamp":{timestamp},"CloudWatchMetrics":"#
        );
        if let Some(failed) = self.jwks_fetch_failed {
            let _ = write!(
                line,
                r#"{JWKS_DIRECTIVES}}},"FunctionName":{function},"JwksFetches":1,"JwksFetchFailures":{}}}"#,
                u8::from(failed)
            );
            line.push('\n');
            return Some(line);
        }
        let outcome = self.outcome?;
        // A dimension value from the code's reason codes; anything else (which our code never
        // logs) counts as `other` rather than minting a new billed metric.
        let reason = self
            .reason
            .as_deref()
            .filter(|r| {
                !r.is_empty()
                    && r.len() <= MAX_REASON
                    && r.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            })
            .unwrap_or("other");
        let decided = match (self.latency_us, self.cache_hits, self.cache_misses) {
            (Some(latency), Some(hits), Some(misses)) => Some((latency, hits, misses)),
            _ => None,
        };
        line.push('[');
        line.push_str(DECISIONS_DIRECTIVE);
        if decided.is_some() {
            line.push(',');
            line.push_str(DECIDED_DIRECTIVE);
        }
        let _ = write!(
            line,
            r#"]}},"FunctionName":{function},"Outcome":"{outcome}","Reason":"{reason}","Decisions":1"#
        );
        if let Some((latency, hits, misses)) = decided {
            let _ = write!(
                line,
                r#","DecisionLatency":{latency},"PolicyCacheHits":{hits},"PolicyCacheMisses":{misses}"#
            );
        }
        line.push_str("}\n");
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &Fields) -> serde_json::Value {
        serde_json::from_str(&fields.emf("\"fn\"", 1).unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn a_failed_jwks_fetch_counts_as_a_fetch_and_a_failure() {
        let failed = Fields {
            jwks_fetch_failed: Some(true),
            ..Fields::default()
        };
        let line = line(&failed);
        assert_eq!(line["JwksFetches"], 1);
        assert_eq!(line["JwksFetchFailures"], 1);
    }

    #[test]
    fn a_function_name_is_escaped_once_and_lines_are_json() {
        let layer = EmfLayer::new(std::io::sink, "a\"b");
        let fields = Fields {
            outcome: Some("Allow"),
            reason: Some("allowed".to_owned()),
            latency_us: Some(7),
            cache_hits: Some(1),
            cache_misses: Some(0),
            ..Fields::default()
        };
        let text = fields.emf(&layer.function, 5).unwrap_or_default();
        assert!(text.ends_with('\n'));
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(parsed["FunctionName"], "a\"b");
        assert_eq!(parsed["DecisionLatency"], 7);
        assert_eq!(
            parsed["_aws"]["CloudWatchMetrics"].as_array().map(Vec::len),
            Some(2)
        );
    }

    #[test]
    fn events_without_a_known_outcome_make_no_metric_and_odd_reasons_are_other() {
        let unknown = Fields::default();
        assert!(unknown.emf("\"fn\"", 1).is_none());
        let odd = Fields {
            outcome: Some("Deny"),
            reason: Some("has \"quote".to_owned()),
            ..Fields::default()
        };
        assert_eq!(line(&odd)["Reason"], "other");
    }
}
