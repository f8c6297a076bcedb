#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark: a broken setup should stop it loudly"
)]

//! Cold starts of the authorizer as it ships: the release bootstrap, started fresh under a
//! local Lambda Runtime API, against moto's Cognito JWKS and DynamoDB, each behind a proxy.
//!
//! For each cold start it measures, from the process's start:
//! - `init`: until the runtime asks for its first event (start-up work included);
//! - `first`: until the first decision is answered;
//! - and `tenth`: how long the tenth decision took, the warm path.
//!
//! It runs `COLDSTART_RUNS` cold starts (default 7; single cold starts vary by 3x here) and
//! reports medians, twice: with no delay, and with `COLDSTART_DELAY_MS` (default 50) added by
//! the proxies to every new connection, which stands in for the TLS handshake to a regional
//! endpoint. The difference between the two `first` figures shows the cold path's structure:
//! about one delay when the key fetch and the table's connection overlap, two when they queue.
//!
//! With the `cedar` feature (`cargo bench -p authorizer --features cedar --bench coldstart`) it
//! measures a second function beside the IAM one: the bootstrap built with Cedar, run with
//! `POLICY_LANGUAGE=cedar`, reading the petstore's Cedar policies from the table's `#cedar`
//! item (parsed and validated strictly at start-up) and deciding the same request.
//!
//! What it is not: plain HTTP on loopback instead of TLS to AWS, and this machine's x86_64
//! instead of Lambda's arm64. `COLDSTART_BINARY=path` measures another build of the bootstrap.

use std::time::{Duration, Instant};

use groupgate_testkit::lambda::{
    AuthorizerStack, RuntimeApi, allows, bench_binary, bench_selected, spawn_function,
};

// Only the Cedar bundle is used here.
#[cfg(feature = "cedar")]
#[allow(dead_code, unused_imports)]
mod support;

/// What the function is run with: its language's environment and event beside the stack's.
#[derive(Clone, Copy)]
enum Language {
    Iam,
    #[cfg(feature = "cedar")]
    Cedar,
}

impl Language {
    fn env(self, stack: &AuthorizerStack) -> Vec<(&'static str, String)> {
        let env = stack.env();
        match self {
            Language::Iam => env,
            #[cfg(feature = "cedar")]
            Language::Cedar => {
                let mut env = env;
                env.push(("POLICY_LANGUAGE", "cedar".to_owned()));
                env
            }
        }
    }

    /// The stack's REQUEST event; Cedar's action is its `httpMethod` and `resource`.
    fn event(self, stack: &AuthorizerStack) -> serde_json::Value {
        let event = stack.event();
        match self {
            Language::Iam => event,
            #[cfg(feature = "cedar")]
            Language::Cedar => {
                let mut event = event;
                event["httpMethod"] = "GET".into();
                event["resource"] = "/petstore/v1/pets".into();
                event
            }
        }
    }
}

struct Sample {
    init: Duration,
    first: Duration,
    tenth: Duration,
}

async fn cold_start(binary: &str, stack: &AuthorizerStack, language: Language) -> Sample {
    let api = RuntimeApi::start().await;
    // Queued before the process starts, so it is handed over at the first poll.
    let first_id = api.push(&language.event(stack));
    let started = Instant::now();
    let mut child = spawn_function(binary, &api, &language.env(stack), None);
    let first = api
        .outcome(&first_id, Duration::from_secs(30))
        .await
        .expect("a first answer within 30 s");
    assert!(
        allows(&first, AuthorizerStack::METHOD_ARN),
        "the first decision is an Allow: {first:?}"
    );
    let init = api.first_poll().expect("the runtime polled") - started;
    let mut last = first.clone();
    for _ in 2..=10 {
        last = api
            .invoke(&language.event(stack), Duration::from_secs(30))
            .await
            .expect("an answer within 30 s");
        assert!(allows(&last, AuthorizerStack::METHOD_ARN), "{last:?}");
    }
    let _ = child.kill();
    let _ = child.wait();
    Sample {
        init,
        first: first.answered - started,
        tenth: last.took(),
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not ours means another bench was asked for.
    if !bench_selected("coldstart") {
        return;
    }
    let runs: usize = std::env::var("COLDSTART_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let delay = Duration::from_millis(
        std::env::var("COLDSTART_DELAY_MS")
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(50),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let binary = bench_binary("COLDSTART_BINARY", "authorizer", "authorizer");
    #[cfg(feature = "cedar")]
    let binary = {
        // Cargo writes every build of the bootstrap to one path: the IAM build is copied aside
        // before the Cedar one is built over it.
        let iam = kept_copy(&binary, "iam");
        let cedar = kept_copy(&cedar_binary(), "cedar");
        runtime.block_on(measure(&cedar, Language::Cedar, runs, delay));
        iam
    };
    runtime.block_on(measure(&binary, Language::Iam, runs, delay));
}

/// The table of cold starts of `binary` deciding in `language`, with no delay and with `delay`.
async fn measure(binary: &str, language: Language, runs: usize, delay: Duration) {
    let name = match language {
        Language::Iam => "IAM policies",
        #[cfg(feature = "cedar")]
        Language::Cedar => "Cedar policies",
    };
    println!("cold starts of {binary} ({name}), median of {runs} each");
    println!("| injected per new connection | init | first decision | tenth decision |");
    println!("|---|---|---|---|");
    let mut firsts = Vec::new();
    for injected in [Duration::ZERO, delay] {
        let stack = AuthorizerStack::start(injected).await;
        #[cfg(feature = "cedar")]
        if let Language::Cedar = language {
            store_bundle(&stack).await;
        }
        // One start to warm moto and the file cache, not counted.
        cold_start(binary, &stack, language).await;
        let mut samples = Vec::new();
        for _ in 0..runs {
            samples.push(cold_start(binary, &stack, language).await);
        }
        let first = median(samples.iter().map(|s| s.first).collect());
        println!(
            "| {} | {} | {} | {} |",
            ms(injected),
            ms(median(samples.iter().map(|s| s.init).collect())),
            ms(first),
            ms(median(samples.iter().map(|s| s.tenth).collect())),
        );
        firsts.push(first);
    }
    if let [plain, delayed] = firsts[..] {
        let cost = delayed.saturating_sub(plain);
        println!(
            "coldstart_first_decision_injection_cost: {} = {:.2} injected delays (goal: about 1, the fetches overlapping)",
            ms(cost),
            cost.as_secs_f64() / delay.as_secs_f64().max(f64::EPSILON),
        );
    }
    println!("not measured here: TLS (plain HTTP on loopback), arm64 (this is x86_64)");
}

/// A copy of `binary` that the next build does not overwrite.
#[cfg(feature = "cedar")]
fn kept_copy(binary: &str, name: &str) -> String {
    let kept =
        std::env::temp_dir().join(format!("groupgate-coldstart-{name}-{}", std::process::id()));
    std::fs::copy(binary, &kept).expect("copy the bootstrap aside");
    kept.to_string_lossy().into_owned()
}

/// The bootstrap as a Cedar deployment ships it (`--features cedar`, release profile).
#[cfg(feature = "cedar")]
fn cedar_binary() -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = std::process::Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "authorizer",
            "--features",
            "cedar",
        ])
        .args(["--bin", "authorizer"])
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --release --features cedar failed"
    );
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_owned());
    format!("{target}/release/authorizer")
}

/// Writes the petstore's Cedar bundle as the deploy does: item `#cedar` of the policy table.
#[cfg(feature = "cedar")]
async fn store_bundle(stack: &AuthorizerStack) {
    use aws_sdk_dynamodb::types::AttributeValue;
    aws_sdk_dynamodb::Client::new(&stack.moto.sdk_config().await)
        .put_item()
        .table_name(&stack.table)
        .item(
            "group",
            AttributeValue::S(groupgate_cedar::BUNDLE_KEY.to_owned()),
        )
        .item(
            groupgate_cedar::BUNDLE_ATTRIBUTE,
            AttributeValue::S(support::cedar_bundle()),
        )
        .send()
        .await
        .expect("the bundle item is written");
}
