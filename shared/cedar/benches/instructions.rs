#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a benchmark: a broken setup should stop it loudly"
)]

//! What one Cedar decision costs, in instructions under callgrind, beside the IAM policy work
//! it would replace (issue 24's budget: the Cedar warm decision at most 1.10x the IAM one).
//! The same self-run as `authorizer/benches/instructions.rs`: each workload runs under
//! `valgrind --tool=callgrind` with `LOW` and `HIGH` iterations, and the difference over
//! `HIGH - LOW` is one iteration, start-up and set-up cancelled out. Reports only.
//!
//! - `cedar_decide`: [`CedarPolicyStore::decide`] on the petstore's Cedar policies, a member of
//!   `pet-viewer` on `GET /petstore/v1/pets/{id}`;
//! - `cedar_decide_for`: the same with the caller's entities built once
//!   ([`CedarPolicyStore::caller`]), as an authorizer reusing them per caller would;
//! - `iam_policy`: the IAM side's policy work for the same caller and route, as the authorizer
//!   does it after the token check: merge the group's policy, decide, render the returned
//!   policy as JSON.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use groupgate_cedar::{ApiSchema, CedarPolicies, CedarPolicyStore, namespace_of};
use groupgate_shared::{
    GroupPolicy, INVOKE_ACTION, MergedPolicy, MethodArn, RequestFacts, ReturnedPolicy,
};

const LOW: u64 = 20;
const HIGH: u64 = 220;
const WORKLOAD: &str = "GROUPGATE_BENCH_WORKLOAD";
const SUB: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cedar_store() -> CedarPolicyStore {
    let api = groupgate_stack::Api::load(&root().join("shared/testkit/fixtures/api/petstore.yaml"))
        .unwrap();
    let routes: Vec<(&str, &str)> = api
        .operations
        .iter()
        .map(|o| (o.method.as_str(), o.path.as_str()))
        .collect();
    let schema = ApiSchema::for_routes(&namespace_of(&api.title), &routes).unwrap();
    let policies =
        CedarPolicies::load_dir(&root().join("examples/cedar/policies"), &schema).unwrap();
    CedarPolicyStore::new(schema, policies, &api.title).unwrap()
}

fn iam_groups() -> Vec<Arc<GroupPolicy>> {
    groupgate_stack::groups::load(&root().join("shared/testkit/fixtures/policies"))
        .unwrap()
        .iter()
        .filter(|d| d.key == "pet-viewer")
        .map(|d| Arc::new(d.group_policy()))
        .collect()
}

fn run(path: &str, iterations: u64) {
    match path {
        "cedar_decide" => {
            let store = cedar_store();
            for _ in 0..iterations {
                let decision = std::hint::black_box(&store).decide(
                    std::hint::black_box(SUB),
                    &["pet-viewer"],
                    "GET",
                    "/petstore/v1/pets/{id}",
                );
                assert!(decision.allow);
            }
        }
        "cedar_decide_for" => {
            let store = cedar_store();
            let caller = store.caller(SUB, &["pet-viewer"]).unwrap();
            for _ in 0..iterations {
                let decision = std::hint::black_box(&store).decide_for(
                    std::hint::black_box(&caller),
                    "GET",
                    "/petstore/v1/pets/{id}",
                );
                assert!(decision.allow);
            }
        }
        "iam_policy" => {
            let groups = iam_groups();
            let arn = MethodArn::for_request(
                "us-east-1",
                "123456789012",
                "abcdef1234",
                "prod",
                "GET",
                "/petstore/v1/pets/1",
            )
            .unwrap();
            for _ in 0..iterations {
                let merged = MergedPolicy::for_request(
                    std::hint::black_box(groups.clone()),
                    &RequestFacts::default(),
                );
                assert!(merged.decide(INVOKE_ACTION, arn.as_str()).is_allow());
                let returned = ReturnedPolicy::new(merged, &arn);
                std::hint::black_box(serde_json::to_vec(&returned).unwrap());
            }
        }
        other => panic!("unknown workload `{other}`"),
    }
}

fn count(path: &str, iterations: u64) -> u64 {
    let out = std::env::temp_dir().join(format!(
        "groupgate-cedar-callgrind-{}-{path}-{iterations}.out",
        std::process::id()
    ));
    let status = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--dump-instr=no",
            "--compress-strings=no",
        ])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe().unwrap())
        .env(WORKLOAD, format!("{path}:{iterations}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("valgrind (Debian package `valgrind`) must be installed");
    assert!(
        status.success(),
        "the {path} workload failed under callgrind"
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
                .and_then(|n| n.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .expect("callgrind output has a summary line")
}

fn main() {
    if let Ok(spec) = std::env::var(WORKLOAD) {
        let (path, iterations) = spec.split_once(':').unwrap();
        run(path, iterations.parse().unwrap());
        return;
    }
    for path in ["cedar_decide", "cedar_decide_for", "iam_policy"] {
        let per = (count(path, HIGH) - count(path, LOW)) / (HIGH - LOW);
        println!("{path}_instructions {per}");
    }
}
