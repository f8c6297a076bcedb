#![cfg(test)]
//! The authorizer at its edge: REQUEST events with headers the `http` crate would refuse, more
//! than one `Authorization` value, and tokens whose text tries to forge or flood the log. Keys
//! and policies are served from memory (the tests' own groups, `shared/testkit/fixtures`), so
//! each case is about the event alone.

use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use authorizer::logging::{LogFormat, subscriber};
use authorizer::{Authorizer, AuthorizerError, AuthorizerEvent};
use groupgate_shared::PolicySource;
use groupgate_shared::jwks::{JwksCache, JwksSource};
use groupgate_shared::{
    Error, ExpectedTokenUse, GroupPolicy, GroupPolicyStore, INVOKE_ACTION, MergedPolicy,
    PolicyDocument, RequestFacts, StoreFailure, TokenRules, TokenVerifier,
};
use groupgate_testkit::{TestKey, access_claims, fixture_policy, jwks};
use serde_json::{Value, json};

const POOL: &str = "us-east-1_Events01";
const CLIENT: &str = "events-client";
const NOW: u64 = 1_800_000_000;
const EVENT: &str = include_str!("../../fixtures/events/authorizer-request.json");

static KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("events-key"));

struct Keys;
impl JwksSource for Keys {
    async fn fetch(&self) -> Result<Vec<u8>, Error> {
        Ok(jwks(&[&KEY]).into_bytes())
    }
}

/// The tests' own group policies (`shared/testkit/fixtures`), as the seeding writes them.
struct Policies;
impl PolicySource for Policies {
    async fn fetch(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Error> {
        Ok(groups
            .iter()
            .filter(|g| ["admin", "pet-veterinarian"].contains(&g.as_str()))
            .map(|g| GroupPolicy {
                group: g.clone(),
                policy: PolicyDocument::from_json(&fixture_policy(g)),
                role_arn: None,
                precedence: None,
            })
            .collect())
    }
}

fn authorizer() -> Authorizer<Keys, Policies> {
    authorizer_with(Policies)
}

/// Refuses every read with a store error of one kind.
struct Failing(StoreFailure);
impl PolicySource for Failing {
    async fn fetch(&self, _groups: &[String]) -> Result<Vec<GroupPolicy>, Error> {
        Err(Error::Store {
            kind: self.0,
            detail: "BatchGetItem on `policies`: refused".to_owned(),
        })
    }
}

fn authorizer_with<P: PolicySource>(policies: P) -> Authorizer<Keys, P> {
    let rules = TokenRules::new(
        POOL,
        vec![CLIENT.into()],
        ExpectedTokenUse::Access,
        Duration::from_secs(30),
    )
    .unwrap();
    Authorizer::new(
        TokenVerifier::new(rules, JwksCache::new(Keys, Duration::from_secs(10))),
        GroupPolicyStore::new(policies, Duration::from_secs(60)),
    )
}

fn token(groups: &[&str]) -> String {
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    KEY.sign(&access_claims(&issuer, CLIENT, groups, NOW))
}

/// The REQUEST fixture without its Authorization header, changed by `change`.
fn event(change: impl FnOnce(&mut Value)) -> AuthorizerEvent {
    let mut event: Value = serde_json::from_str(EVENT).unwrap();
    for key in ["headers", "multiValueHeaders"] {
        event[key].as_object_mut().unwrap().remove("Authorization");
    }
    change(&mut event);
    serde_json::from_value(event).unwrap()
}

/// Whether the policy returned for `event` allows the fixture's method (`GET /petstore/v1/pets`),
/// evaluated as API Gateway would.
fn decide(event: &AuthorizerEvent) -> Result<bool, AuthorizerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = authorizer().handle(event, NOW).await?;
        let returned =
            PolicyDocument::from_json(&serde_json::to_string(&response.policy_document).unwrap())
                .unwrap();
        let method =
            "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/petstore/v1/pets";
        Ok(
            MergedPolicy::from_document("returned", returned, &RequestFacts::default())
                .decide(INVOKE_ACTION, method)
                .is_allow(),
        )
    })
}

/// Issue #9, row 3: names with a space or `@`, a non-ASCII name, DEL or CR in a value.
#[test]
fn headers_the_http_crate_refuses_are_read_as_strings_and_the_token_still_decides() {
    let odd = [
        ("a b", "x"),
        ("x@y", "1"),
        ("ünïcödé", "v"),
        ("X-Del", "a\u{7f}b"),
        ("X-Cr", "a\rb"),
    ];
    let with = |authorization: String| {
        event(move |e| {
            for (name, value) in odd {
                e["headers"][name] = json!(value);
                e["multiValueHeaders"][name] = json!([value]);
            }
            e["headers"]["Authorization"] = json!(authorization);
        })
    };
    assert!(
        decide(&with(format!("Bearer {}", token(&["pet-veterinarian"])))).unwrap(),
        "a valid token still decides"
    );
    assert!(
        !decide(&with(format!("Bearer {}", token(&[])))).unwrap(),
        "and a user in no group is still denied"
    );
    assert!(matches!(
        decide(&with("Bearer not.a.token".into())),
        Err(AuthorizerError::Unauthorized)
    ));
}

/// Issue #9, row 4: two case variants, or `headers` and `multiValueHeaders` that disagree.
#[test]
fn more_than_one_distinct_authorization_value_is_unauthorized() {
    let admin = format!("Bearer {}", token(&["admin"]));
    let cases = [
        json!({"headers": {"Authorization": "Bearer garbage", "AUTHORIZATION": admin}}),
        json!({"headers": {"Authorization": admin}, "multiValueHeaders": {"Authorization": ["Bearer garbage"]}}),
        json!({"headers": {"authorization": admin}, "multiValueHeaders": {"Authorization": [admin, "Bearer other"]}}),
    ];
    for case in cases {
        let e = event(|e| {
            for key in ["headers", "multiValueHeaders"] {
                if let Some(extra) = case.get(key) {
                    for (name, value) in extra.as_object().unwrap() {
                        e[key][name] = value.clone();
                    }
                }
            }
        });
        assert!(
            matches!(decide(&e), Err(AuthorizerError::Unauthorized)),
            "{case}"
        );
    }
    // The same value under two spellings of the name, in both maps, is one value.
    let e = event(|e| {
        e["headers"]["authorization"] = json!(admin);
        e["multiValueHeaders"]["AUTHORIZATION"] = json!([admin]);
    });
    assert!(decide(&e).unwrap());
}

/// A `MakeWriter` that keeps what was logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

use lambda_runtime::tracing::subscriber as tracing_subscriber;

/// What deciding `event` writes: the log lines, and apart from them the EMF metric lines.
fn written(format: LogFormat, event: &AuthorizerEvent) -> (String, Vec<Value>) {
    captured(format, || {
        let _ = decide(event);
    })
}

/// What `run` writes: the log lines, and apart from them the EMF metric lines.
fn captured(format: LogFormat, run: impl FnOnce()) -> (String, Vec<Value>) {
    let captured = Captured::default();
    let subscriber = subscriber(format, captured.clone());
    lambda_runtime::tracing::dispatcher::with_default(
        &lambda_runtime::tracing::Dispatch::new(subscriber),
        run,
    );
    let out = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let (metrics, logs): (Vec<&str>, Vec<&str>) =
        out.lines().partition(|l| l.starts_with("{\"_aws\""));
    let metrics = metrics
        .into_iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (logs.iter().map(|l| format!("{l}\n")).collect(), metrics)
}

fn logged(format: LogFormat, event: &AuthorizerEvent) -> String {
    written(format, event).0
}

/// Issue #9, row 5: a header `alg` with a newline and a fake log line, or 700 kB of it.
#[test]
fn the_tokens_text_can_neither_forge_nor_flood_a_log_line() {
    let claims = access_claims(
        &format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}"),
        CLIENT,
        &["admin"],
        NOW,
    );
    let forged = KEY.sign_with_header(
        json!({"alg": "x\n INFO request_id=\"x\" decision=\"Allow\" reason=\"allowed\""}),
        &claims,
    );
    let flood = KEY.sign_with_header(json!({"alg": "A".repeat(700_000)}), &claims);
    for format in [LogFormat::Text, LogFormat::Json] {
        let with = |token: &str| {
            let token = token.to_owned();
            event(move |e| e["headers"]["Authorization"] = json!(format!("Bearer {token}")))
        };
        let out = logged(format, &with(&forged));
        assert_eq!(out.lines().count(), 1, "{format:?}: {out}");
        assert!(out.contains("algorithm"), "{format:?}: {out}");
        assert!(
            !out.lines()
                .any(|l| l.contains("decision=\"Allow\"") && !l.contains("algorithm")),
            "{format:?}: {out}"
        );
        let out = logged(format, &with(&flood));
        assert_eq!(out.lines().count(), 1, "{format:?}");
        assert!(out.len() < 1_000, "{format:?}: {} bytes logged", out.len());
        assert!(
            out.contains("[cut at 128 of 700000 bytes]"),
            "{format:?}: {out}"
        );
    }
}

/// The one EMF line of a decision (JWKS fetch lines aside).
fn decision_metrics(event: &AuthorizerEvent) -> Value {
    let (_, metrics) = written(LogFormat::Json, event);
    let decisions: Vec<Value> = metrics
        .into_iter()
        .filter(|m| m.get("Decisions").is_some())
        .collect();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    decisions.into_iter().next().unwrap()
}

/// Issue #13: decisions by outcome and reason, latency and policy cache use, as EMF lines whose
/// dimensions are bounded: no group, user or path ever becomes one.
#[test]
fn each_decision_writes_one_emf_line_with_bounded_dimensions() {
    let with = |authorization: String| {
        event(move |e| e["headers"]["Authorization"] = json!(authorization))
    };
    let vet = with(format!("Bearer {}", token(&["pet-veterinarian"])));
    // A fresh authorizer fetches the keys first: one fetch, not failed.
    let (_, lines) = written(LogFormat::Text, &vet);
    let fetches: Vec<&Value> = lines
        .iter()
        .filter(|l| l.get("JwksFetches").is_some())
        .collect();
    assert_eq!(fetches.len(), 1, "{lines:?}");
    assert_eq!(
        (&fetches[0]["JwksFetches"], &fetches[0]["JwksFetchFailures"]),
        (&json!(1), &json!(0))
    );
    assert_eq!(
        fetches[0]["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["FunctionName"]])
    );
    let allowed = decision_metrics(&vet);
    let directives = &allowed["_aws"]["CloudWatchMetrics"];
    assert_eq!(directives[0]["Namespace"], "groupgate");
    // By outcome alone too: the errors alarm subtracts `Outcome=Unauthorized` from Lambda's
    // `Errors` (deploy/stack/src/monitoring.rs).
    assert_eq!(
        directives[0]["Dimensions"],
        json!([
            ["FunctionName", "Outcome", "Reason"],
            ["FunctionName", "Outcome"]
        ])
    );
    assert_eq!(
        directives[0]["Metrics"],
        json!([{"Name": "Decisions", "Unit": "Count"}])
    );
    assert_eq!(directives[1]["Dimensions"], json!([["FunctionName"]]));
    let names: Vec<&str> = directives[1]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["DecisionLatency", "PolicyCacheHits", "PolicyCacheMisses"]
    );
    assert_eq!(allowed["Outcome"], "Allow");
    assert_eq!(allowed["Decisions"], 1);
    assert!(allowed["DecisionLatency"].as_u64().unwrap() > 0);
    // A fresh authorizer: the one group is read from the source.
    assert_eq!(
        (
            allowed["PolicyCacheHits"].as_u64(),
            allowed["PolicyCacheMisses"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert!(allowed["_aws"]["Timestamp"].as_u64().unwrap() > 1_700_000_000_000);

    let denied = decision_metrics(&with(format!("Bearer {}", token(&["pet-viewer", "x"]))));
    assert_eq!(
        (&denied["Outcome"], &denied["Reason"]),
        (&json!("Deny"), &json!("no_allow"))
    );
    assert_eq!(denied["PolicyCacheMisses"], 2);

    let unauthorized = decision_metrics(&with("Bearer not.a.jwt".to_owned()));
    assert_eq!(unauthorized["Outcome"], "Unauthorized");
    assert!(
        unauthorized.get("DecisionLatency").is_none(),
        "{unauthorized}"
    );
    assert_eq!(
        unauthorized["_aws"]["CloudWatchMetrics"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let failed = decision_metrics(&event(|e| {
        e["headers"]["Authorization"] = json!(format!("Bearer {}", token(&["admin"])));
        e["methodArn"] = json!("not-an-arn");
    }));
    assert_eq!(
        (&failed["Outcome"], &failed["Reason"]),
        (&json!("Error"), &json!("malformed_event"))
    );

    for line in [&allowed, &denied, &unauthorized, &failed] {
        let keys: Vec<&str> = line
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in &keys {
            assert!(
                [
                    "_aws",
                    "FunctionName",
                    "Outcome",
                    "Reason",
                    "Decisions",
                    "DecisionLatency",
                    "PolicyCacheHits",
                    "PolicyCacheMisses"
                ]
                .contains(key),
                "unexpected member {key} in {line}"
            );
        }
        let text = line.to_string();
        for private in ["pet-veterinarian", "pet-viewer", "petstore", "6f1c2e1a"] {
            assert!(!text.contains(private), "{private} in {text}");
        }
    }
}

/// A token's text cannot choose a metric's dimension value: the forged `alg` of the log test
/// still counts under the verifier's own reason code.
#[test]
fn a_forged_header_cannot_choose_a_dimension_value() {
    let claims = access_claims(
        &format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}"),
        CLIENT,
        &["admin"],
        NOW,
    );
    let forged = KEY.sign_with_header(json!({"alg": "x\", \"Reason\": \"allowed"}), &claims);
    let line = decision_metrics(&event(|e| {
        e["headers"]["Authorization"] = json!(format!("Bearer {forged}"))
    }));
    assert_eq!(line["Outcome"], "Unauthorized");
    let reason = line["Reason"].as_str().unwrap();
    assert!(
        reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "{reason}"
    );
}

/// Handles `event` with the authorizer `a` on a fresh runtime.
fn handle<P: PolicySource>(
    a: &Authorizer<Keys, P>,
    event: &AuthorizerEvent,
) -> Result<authorizer::AuthorizerResponse, AuthorizerError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(a.handle(event, NOW))
}

/// Issue 21: a policy store failure keeps its kind up to the decision: its own reason code in
/// the error API Gateway turns into a 500, in the log line and as the metric's `Reason`.
#[test]
fn each_kind_of_store_failure_is_an_error_with_its_own_reason() {
    let vet = event(|e| {
        e["headers"]["Authorization"] = json!(format!("Bearer {}", token(&["pet-veterinarian"])))
    });
    for (kind, code) in [
        (StoreFailure::Throttled, "policy_store_throttled"),
        (StoreFailure::TimedOut, "policy_store_timeout"),
        (StoreFailure::AccessDenied, "policy_store_denied"),
        (StoreFailure::Unavailable, "policy_store_unavailable"),
    ] {
        let a = authorizer_with(Failing(kind));
        let mut result = None;
        let (logs, metrics) = captured(LogFormat::Json, || result = Some(handle(&a, &vet)));
        match result {
            Some(Err(AuthorizerError::Failed(message))) => {
                assert!(message.starts_with(&format!("{code}: ")), "{message}")
            }
            other => panic!("{kind:?}: expected a failure, got {other:?}"),
        }
        let line = metrics
            .iter()
            .find(|m| m.get("Decisions").is_some())
            .unwrap();
        assert_eq!(
            (&line["Outcome"], &line["Reason"]),
            (&json!("Error"), &json!(code))
        );
        assert!(logs.contains(&format!("\"reason\":\"{code}\"")), "{logs}");
    }
}

/// The JSON log line of the one decision in `logs`.
fn decision_log_line(logs: &str) -> Value {
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["fields"].get("decision").is_some())
        .collect();
    assert_eq!(lines.len(), 1, "{logs}");
    lines.into_iter().next().unwrap()
}

/// Issue 21: the log line and the metric line of a decision are written from one record, so
/// they agree on every decision; a field renamed on one side only (the log's `reason`, the
/// metric's `Reason`, `latency_us` or a cache count) fails here.
#[test]
fn a_decisions_log_line_and_metric_line_say_the_same() {
    let bearer = |groups: &[&str]| json!(format!("Bearer {}", token(groups)));
    let with = |authorization: Value| event(move |e| e["headers"]["Authorization"] = authorization);
    let cases = [
        with(bearer(&["pet-veterinarian"])),
        with(bearer(&["pet-viewer"])),
        with(bearer(&[])),
        with(json!("Bearer not.a.jwt")),
        with(json!("Basic dmV0OnB3")),
        event(|e| {
            e["headers"]["Authorization"] = bearer(&["admin"]);
            e["methodArn"] = json!("not-an-arn");
        }),
    ];
    let mut outcomes = Vec::new();
    for case in &cases {
        let (logs, metrics) = written(LogFormat::Json, case);
        let log = &decision_log_line(&logs)["fields"];
        let metric = metrics
            .iter()
            .find(|m| m.get("Decisions").is_some())
            .unwrap();
        assert_eq!(log["decision"], metric["Outcome"], "{log} {metric}");
        assert_eq!(log["reason"], metric["Reason"], "{log} {metric}");
        for (field, member) in [
            ("latency_us", "DecisionLatency"),
            ("policy_cache_hits", "PolicyCacheHits"),
            ("policy_cache_misses", "PolicyCacheMisses"),
        ] {
            assert_eq!(log.get(field), metric.get(member), "{log} {metric}");
        }
        outcomes.push(metric["Outcome"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        outcomes,
        [
            "Allow",
            "Deny",
            "Deny",
            "Unauthorized",
            "Unauthorized",
            "Error"
        ]
    );
}
