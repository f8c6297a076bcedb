#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark: a broken setup should stop it loudly"
)]

//! Memory of the authorizer as it ships, over many invocations: the release bootstrap under a
//! local Lambda Runtime API (which sends a distinct trace header with each event, as Lambda
//! does), against moto, deciding `INVOCATIONS` events after a warm-up.
//!
//! It runs the process both ways lambda_runtime can: sequentially (classic Lambda) and with
//! `AWS_LAMBDA_MAX_CONCURRENCY=4` (Lambda Managed Instances), and prints for each the resident
//! memory after the warm-up and at the end, the growth per invocation, and the peak.
//!
//! Target: in concurrent mode, where everything the process does per invocation is the
//! authorizer's own work, memory is flat: growth under [`MAX_GROWTH_PER_INVOCATION`] bytes per
//! invocation. The bench exits non-zero above it. The sequential mode is reported, not held:
//! there lambda_runtime copies each trace header into `_X_AMZN_TRACE_ID` with `setenv`, and
//! glibc keeps every value ever set, about 140 bytes per invocation (README, "Memory").
//!
//! `MEMORY_BINARY=path` measures another build (an older commit's, say) instead of this one's.

use std::time::Duration;

use groupgate_testkit::lambda::{
    AuthorizerStack, RuntimeApi, allows, bench_binary, bench_selected, memory_kib, spawn_function,
};

const WARM_UP: usize = 2_000;
const INVOCATIONS: usize = 20_000;
/// Events queued at once, so that four workers always have one to take.
const BATCH: usize = 64;
const MAX_GROWTH_PER_INVOCATION: f64 = 16.0;

async fn decide(api: &RuntimeApi, stack: &AuthorizerStack, count: usize) {
    let mut left = count;
    while left > 0 {
        let n = left.min(BATCH);
        let ids: Vec<String> = (0..n).map(|_| api.push(&stack.event())).collect();
        for id in ids {
            let outcome = api
                .outcome(&id, Duration::from_secs(30))
                .await
                .expect("an answer within 30 s");
            assert!(allows(&outcome, AuthorizerStack::METHOD_ARN), "{outcome:?}");
        }
        left -= n;
    }
}

/// Growth in bytes per invocation, printed with the figures it comes from.
async fn measure(binary: &str, stack: &AuthorizerStack, concurrency: u32) -> f64 {
    let api = RuntimeApi::start().await;
    let mut env = stack.env();
    env.push(("AWS_LAMBDA_MAX_CONCURRENCY", concurrency.to_string()));
    let mut child = spawn_function(binary, &api, &env, None);
    decide(&api, stack, WARM_UP).await;
    let (before, _) = memory_kib(child.id());
    decide(&api, stack, INVOCATIONS).await;
    let (after, peak) = memory_kib(child.id());
    let _ = child.kill();
    let _ = child.wait();
    let per_invocation = (after as f64 - before as f64) * 1024.0 / INVOCATIONS as f64;
    let mode = if concurrency > 1 {
        format!("concurrent ({concurrency})")
    } else {
        "sequential".to_owned()
    };
    println!("| {mode} | {before} KiB | {after} KiB | {per_invocation:.0} B | {peak} KiB |");
    per_invocation
}

fn main() {
    if !bench_selected("memory") {
        return;
    }
    let binary = bench_binary("MEMORY_BINARY", "authorizer", "authorizer");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let concurrent = runtime.block_on(async {
        let stack = AuthorizerStack::start(Duration::ZERO).await;
        println!("memory of {binary} over {INVOCATIONS} decisions after {WARM_UP} to warm up");
        println!(
            "| mode | RSS after warm-up | RSS at the end | growth per invocation | peak RSS |"
        );
        println!("|---|---|---|---|---|");
        measure(&binary, &stack, 1).await;
        measure(&binary, &stack, 4).await
    });
    println!(
        "memory_growth_per_invocation_concurrent: {concurrent:.1} B (budget {MAX_GROWTH_PER_INVOCATION})"
    );
    if concurrent > MAX_GROWTH_PER_INVOCATION {
        eprintln!("memory grows by {concurrent:.1} B per invocation in concurrent mode: a leak");
        std::process::exit(1);
    }
}
