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
use serde::Serialize;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "groupgate";

/// The outcomes a decision line can carry; anything else is not turned into a metric.
const OUTCOMES: [&str; 4] = ["Allow", "Deny", "Unauthorized", "Error"];
/// Longest reason code taken as a dimension value (the codes are short identifiers).
const MAX_REASON: usize = 48;

/// A [`Layer`] that writes an EMF line for each decision and JWKS fetch event.
pub struct EmfLayer<W> {
    writer: W,
    function: String,
}

impl<W> EmfLayer<W> {
    /// Metrics of the function `function` (Lambda's `AWS_LAMBDA_FUNCTION_NAME`), written to
    /// `writer`, the same stream as the logs.
    pub fn new(writer: W, function: impl Into<String>) -> Self {
        Self {
            writer,
            function: function.into(),
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
        if let Ok(mut bytes) = serde_json::to_vec(&line) {
            bytes.push(b'\n');
            let _ = self.writer.make_writer().write_all(&bytes);
        }
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
    decision: Option<String>,
    reason: Option<String>,
    latency_us: Option<u64>,
    cache_hits: Option<u64>,
    cache_misses: Option<u64>,
    jwks_fetch: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "decision" => self.decision = Some(value.to_owned()),
            "reason" => self.reason = Some(value.to_owned()),
            "jwks_fetch" => self.jwks_fetch = Some(value.to_owned()),
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

impl Fields {
    /// The EMF line for these fields, if they carry a measurement.
    fn emf<'a>(&'a self, function: &'a str, timestamp: u64) -> Option<Line<'a>> {
        if let Some(fetch) = self.jwks_fetch.as_deref() {
            let failed = fetch != "ok";
            return Some(Line {
                aws: Aws {
                    timestamp,
                    metrics: vec![Directive::by_function(&[
                        Metric::count("JwksFetches"),
                        Metric::count("JwksFetchFailures"),
                    ])],
                },
                function,
                jwks_fetches: Some(1),
                jwks_fetch_failures: Some(u64::from(failed)),
                ..Line::default()
            });
        }
        let outcome = OUTCOMES
            .into_iter()
            .find(|o| Some(*o) == self.decision.as_deref())?;
        let reason = self
            .reason
            .as_deref()
            .filter(|r| r.len() <= MAX_REASON && r.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or("other");
        let mut per_function = Vec::new();
        if self.latency_us.is_some() {
            per_function.push(Metric {
                name: "DecisionLatency",
                unit: "Microseconds",
            });
        }
        if self.cache_hits.is_some() {
            per_function.push(Metric::count("PolicyCacheHits"));
        }
        if self.cache_misses.is_some() {
            per_function.push(Metric::count("PolicyCacheMisses"));
        }
        let mut metrics = vec![Directive {
            namespace: NAMESPACE,
            dimensions: [&["FunctionName", "Outcome", "Reason"]],
            metrics: vec![Metric::count("Decisions")],
        }];
        if !per_function.is_empty() {
            metrics.push(Directive::by_function(&per_function));
        }
        Some(Line {
            aws: Aws { timestamp, metrics },
            function,
            outcome: Some(outcome),
            reason: Some(reason),
            decisions: Some(1),
            latency_us: self.latency_us,
            cache_hits: self.cache_hits,
            cache_misses: self.cache_misses,
            ..Line::default()
        })
    }
}

/// One EMF log line: the `_aws` metadata, then the dimension and metric values it names.
#[derive(Serialize, Default)]
struct Line<'a> {
    #[serde(rename = "_aws")]
    aws: Aws<'a>,
    #[serde(rename = "FunctionName")]
    function: &'a str,
    #[serde(rename = "Outcome", skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a str>,
    #[serde(rename = "Reason", skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(rename = "Decisions", skip_serializing_if = "Option::is_none")]
    decisions: Option<u64>,
    #[serde(rename = "DecisionLatency", skip_serializing_if = "Option::is_none")]
    latency_us: Option<u64>,
    #[serde(rename = "PolicyCacheHits", skip_serializing_if = "Option::is_none")]
    cache_hits: Option<u64>,
    #[serde(rename = "PolicyCacheMisses", skip_serializing_if = "Option::is_none")]
    cache_misses: Option<u64>,
    #[serde(rename = "JwksFetches", skip_serializing_if = "Option::is_none")]
    jwks_fetches: Option<u64>,
    #[serde(rename = "JwksFetchFailures", skip_serializing_if = "Option::is_none")]
    jwks_fetch_failures: Option<u64>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Aws<'a> {
    timestamp: u64,
    #[serde(rename = "CloudWatchMetrics")]
    metrics: Vec<Directive<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Directive<'a> {
    namespace: &'static str,
    dimensions: [&'a [&'static str]; 1],
    metrics: Vec<Metric>,
}

impl<'a> Directive<'a> {
    fn by_function(metrics: &[Metric]) -> Self {
        Directive {
            namespace: NAMESPACE,
            dimensions: [&["FunctionName"]],
            metrics: metrics.to_vec(),
        }
    }
}

#[derive(Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
struct Metric {
    name: &'static str,
    unit: &'static str,
}

impl Metric {
    fn count(name: &'static str) -> Self {
        Metric {
            name,
            unit: "Count",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(fields: &Fields) -> serde_json::Value {
        serde_json::to_value(fields.emf("fn", 1).unwrap_or_default()).unwrap_or_default()
    }

    #[test]
    fn a_failed_jwks_fetch_counts_as_a_fetch_and_a_failure() {
        let failed = Fields {
            jwks_fetch: Some("failed".to_owned()),
            ..Fields::default()
        };
        let line = line(&failed);
        assert_eq!(line["JwksFetches"], 1);
        assert_eq!(line["JwksFetchFailures"], 1);
    }

    #[test]
    fn events_without_a_known_outcome_make_no_metric_and_odd_reasons_are_other() {
        let unknown = Fields {
            decision: Some("Maybe".to_owned()),
            ..Fields::default()
        };
        assert!(unknown.emf("fn", 1).is_none());
        let odd = Fields {
            decision: Some("Deny".to_owned()),
            reason: Some("has space".to_owned()),
            ..Fields::default()
        };
        assert_eq!(line(&odd)["Reason"], "other");
    }
}
