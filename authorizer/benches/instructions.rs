#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark: a broken setup should stop it loudly"
)]

//! The warm decision path and the bare RS256 verify, by instruction count under callgrind: the
//! same count for the same binary and inputs whatever else the machine is doing, so it can hold
//! a budget where timings move by several percent.
//!
//! The bench runs itself under `valgrind --tool=callgrind` twice per path, with `LOW` and `HIGH`
//! iterations; the difference divided by `HIGH - LOW` is the cost of one iteration, with
//! start-up and set-up cancelled out. It prints:
//!
//! - `decision_instructions`, `verify_instructions`: per iteration;
//! - `decision_instructions_vs_verify`: the path over the floor, budget [`MAX_VS_VERIFY`];
//! - `decision_instructions_vs_baseline`: today's decision count over the committed one in
//!   `instructions-baseline.json`, budget [`MAX_VS_BASELINE`];
//! - `decision_three_pools_instructions`: the same decision with three pools trusted (the
//!   token's matched last), reported only.
//!
//! With the `cedar` feature it also prints `cedar_decision_instructions` (the same token and
//! event decided by the petstore's Cedar policies, `examples/cedar/policies`, stored as a
//! bundle; the caller's entities kept as the function keeps them), held to [`MAX_CEDAR_VS_IAM`]
//! of the IAM decision, and `cedar_decision_fresh_caller_instructions` (the caller built on
//! every decision), reported only.
//!
//! It exits non-zero over any budget (only reports with `GROUPGATE_BENCH_REPORT_ONLY=1`, for
//! machines of another kind than the baseline's). `GROUPGATE_UPDATE_BASELINE=1 cargo bench -p authorizer
//! --bench instructions` rewrites the baseline: commit it with the reason in the message.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::Bench;

const LOW: u64 = 20;
const HIGH: u64 = 220;
/// Today's decision path may cost at most 3% more instructions than the committed baseline.
const MAX_VS_BASELINE: f64 = 1.03;
/// The decision path over the bare verify, in instructions. Not the 1.25 time budget: RSA's
/// big-number code retires more work per instruction than JSON parsing and formatting does.
const MAX_VS_VERIFY: f64 = 1.30;
/// With the `cedar` feature: the Cedar warm decision (the caller's entities kept, as the
/// function keeps them) may cost at most 1.10x the IAM warm decision of the same run (issue 24).
#[cfg(feature = "cedar")]
const MAX_CEDAR_VS_IAM: f64 = 1.10;
/// Set in the child process: which path to run, and how many times.
const WORKLOAD: &str = "GROUPGATE_BENCH_WORKLOAD";

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Counts {
    decision: u64,
    verify: u64,
}

fn baseline_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/instructions-baseline.json")
}

/// Runs `path` `iterations` times under callgrind; the total instructions of the process.
fn count(path: &str, iterations: u64) -> u64 {
    let out = std::env::temp_dir().join(format!(
        "groupgate-callgrind-{}-{path}-{iterations}.out",
        std::process::id()
    ));
    let status = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--dump-instr=no",
            "--compress-strings=no",
        ])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe().expect("own path"))
        .env(WORKLOAD, format!("{path}:{iterations}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("valgrind (Debian package `valgrind`) must be installed");
    assert!(
        status.success(),
        "the {path} workload failed under callgrind"
    );
    let text = std::fs::read_to_string(&out).expect("callgrind output");
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|n| n.trim().parse().ok())
        .expect("callgrind output has a summary line")
}

fn per_iteration(path: &str) -> u64 {
    let (low, high) = (count(path, LOW), count(path, HIGH));
    high.saturating_sub(low) / (HIGH - LOW)
}

/// In the child: set up, then run one path `iterations` times.
fn run_workload(spec: &str) {
    let (path, iterations) = spec.split_once(':').expect("path:iterations");
    let iterations: u64 = iterations.parse().expect("iterations");
    let bench = match path {
        "decision3" => Bench::with_pools(3),
        #[cfg(feature = "cedar")]
        "cedar" => Bench::cedar(authorizer::cedar::CALLERS_KEPT),
        #[cfg(feature = "cedar")]
        "cedar_fresh" => Bench::cedar(0),
        _ => Bench::new(),
    };
    for _ in 0..iterations {
        match path {
            "decision" | "decision3" | "cedar" | "cedar_fresh" => {
                std::hint::black_box(bench.decide());
            }
            "verify" => bench.verify_floor(),
            other => panic!("unknown workload `{other}`"),
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var(WORKLOAD) {
        return run_workload(&spec);
    }
    let today = Counts {
        decision: per_iteration("decision"),
        verify: per_iteration("verify"),
    };
    println!("decision_instructions={}", today.decision);
    println!("verify_instructions={}", today.verify);
    let vs_verify = today.decision as f64 / today.verify as f64;
    println!("decision_instructions_vs_verify={vs_verify:.3} (budget {MAX_VS_VERIFY})");
    println!(
        "decision_three_pools_instructions={}",
        per_iteration("decision3")
    );

    if std::env::var("GROUPGATE_UPDATE_BASELINE").is_ok_and(|v| v == "1") {
        let text = serde_json::to_string_pretty(&today).expect("json") + "\n";
        std::fs::write(baseline_path(), text).expect("writing the baseline");
        println!("baseline updated: {}", baseline_path().display());
    }
    let baseline: Counts = serde_json::from_str(
        &std::fs::read_to_string(baseline_path()).expect("the committed baseline"),
    )
    .expect("baseline json");
    let vs_baseline = today.decision as f64 / baseline.decision as f64;
    println!(
        "decision_instructions_vs_baseline={vs_baseline:.4} (budget {MAX_VS_BASELINE}; baseline {})",
        baseline.decision
    );
    let mut over = Vec::new();
    // The baseline is the IAM function as it ships, built without Cedar: a build with the
    // `cedar` feature lays the same code out differently (a few hundred instructions either
    // way), so there the baseline is reported and the Cedar budget below is what is held.
    if cfg!(not(feature = "cedar")) && vs_baseline > MAX_VS_BASELINE {
        over.push(format!(
            "the decision path costs {vs_baseline:.4}x its committed baseline (budget {MAX_VS_BASELINE})"
        ));
    }
    if vs_verify > MAX_VS_VERIFY {
        over.push(format!(
            "the decision path costs {vs_verify:.3}x the bare verify (budget {MAX_VS_VERIFY})"
        ));
    }
    #[cfg(feature = "cedar")]
    {
        // The same token, event and route, decided by the petstore's Cedar policies: with the
        // caller kept (held), and built afresh on each decision (reported).
        let cedar = per_iteration("cedar");
        let fresh = per_iteration("cedar_fresh");
        let vs_iam = cedar as f64 / today.decision as f64;
        println!("cedar_decision_instructions={cedar}");
        println!("cedar_decision_instructions_vs_iam={vs_iam:.3} (budget {MAX_CEDAR_VS_IAM})");
        println!("cedar_decision_fresh_caller_instructions={fresh}");
        println!(
            "cedar_decision_fresh_caller_instructions_vs_iam={:.3} (reported)",
            fresh as f64 / today.decision as f64
        );
        if vs_iam > MAX_CEDAR_VS_IAM {
            over.push(format!(
                "the Cedar decision costs {vs_iam:.3}x the IAM one (budget {MAX_CEDAR_VS_IAM})"
            ));
        }
    }
    if !over.is_empty() {
        eprintln!("instruction budget exceeded: {}", over.join("; "));
        // The baseline was counted on this project's machine kind; another CPU (a hosted CI
        // runner) takes other code paths in aws-lc, so there the counts are only reported.
        if std::env::var("GROUPGATE_BENCH_REPORT_ONLY").is_ok_and(|v| v == "1") {
            eprintln!("GROUPGATE_BENCH_REPORT_ONLY=1: reported, not enforced");
            return;
        }
        std::process::exit(1);
    }
}
