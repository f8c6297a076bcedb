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
//! What it is not: plain HTTP on loopback instead of TLS to AWS, and this machine's x86_64
//! instead of Lambda's arm64. `COLDSTART_BINARY=path` measures another build of the bootstrap.

use std::time::{Duration, Instant};

use groupgate_testkit::lambda::{
    AuthorizerStack, RuntimeApi, allows, bench_binary, bench_selected, spawn_function,
};

struct Sample {
    init: Duration,
    first: Duration,
    tenth: Duration,
}

async fn cold_start(binary: &str, stack: &AuthorizerStack) -> Sample {
    let api = RuntimeApi::start().await;
    // Queued before the process starts, so it is handed over at the first poll.
    let first_id = api.push(&stack.event());
    let started = Instant::now();
    let mut child = spawn_function(binary, &api, &stack.env(), None);
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
            .invoke(&stack.event(), Duration::from_secs(30))
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
    let binary = bench_binary("COLDSTART_BINARY", "authorizer", "authorizer");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        println!("cold starts of {binary}, median of {runs} each");
        println!("| injected per new connection | init | first decision | tenth decision |");
        println!("|---|---|---|---|");
        let mut firsts = Vec::new();
        for injected in [Duration::ZERO, delay] {
            let stack = AuthorizerStack::start(injected).await;
            // One start to warm moto and the file cache, not counted.
            cold_start(&binary, &stack).await;
            let mut samples = Vec::new();
            for _ in 0..runs {
                samples.push(cold_start(&binary, &stack).await);
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
    });
}
