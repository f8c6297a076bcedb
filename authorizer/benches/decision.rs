#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark: a broken setup should stop it loudly"
)]

//! The warm decision path by wall-clock time: verify a token, merge cached group policies,
//! decide, write the decision's log line, render the response as the JSON API Gateway receives.
//! Timed in the same run as a bare aws-lc-rs RS256 verification of the same token.
//!
//! Prints `decision_vs_verify_floor=<ratio>`; the target is 1.25 or less. Timings move by a
//! few percent from run to run: `benches/instructions.rs` holds the budget by instruction count.

mod support;

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::Criterion;
use support::Bench;

/// Total time and iterations measured for one benchmark, for the ratio printed at the end.
static TOTALS: Mutex<[(Duration, u64); 2]> = Mutex::new([(Duration::ZERO, 0); 2]);

fn record(slot: usize, elapsed: Duration, iters: u64) {
    let mut totals = TOTALS.lock().expect("totals lock");
    totals[slot].0 += elapsed;
    totals[slot].1 += iters;
}

fn main() {
    let bench = Bench::new();
    let mut c = Criterion::default().configure_from_args();
    c.bench_function("rs256_verify_floor", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                bench.verify_floor();
            }
            let elapsed = start.elapsed();
            record(0, elapsed, iters);
            elapsed
        })
    });
    c.bench_function("warm_decision_path", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(bench.decide());
            }
            let elapsed = start.elapsed();
            record(1, elapsed, iters);
            elapsed
        })
    });
    c.final_summary();

    let totals = TOTALS.lock().expect("totals lock");
    let per_iter = |(d, n): (Duration, u64)| d.as_secs_f64() / n.max(1) as f64;
    let floor = per_iter(totals[0]);
    let decision = per_iter(totals[1]);
    println!("verify_floor_us={:.2}", floor * 1e6);
    println!("decision_path_us={:.2}", decision * 1e6);
    println!("decision_vs_verify_floor={:.3}", decision / floor);
}
