#![cfg(test)]
//! The policy toolbox: `validate`'s findings on a fixture of bad policies, `simulate --expect`
//! against the committed access file and a changed policy, `explain`'s usage errors, and the
//! property that `explain`'s decision never disagrees with the authorizer's returned policy as
//! the independent reference evaluator reads it. And `explain` on a token as the authorizer
//! reads it (its clock leeway, its `Bearer` rule), from the environment or stdin only, against
//! a JWKS the test serves.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, LazyLock};

use groupgate_cli::stack::groups;
use groupgate_cli::toolbox::explain::TOKEN_VARIABLE;
use groupgate_cli::toolbox::validate::{Context, Severity, validate};
use groupgate_cli::toolbox::{Catalogue, Evaluation, Request};
use groupgate_shared::{GroupPolicy, PolicyDocument};
use groupgate_testkit::{
    FIXTURE_ACCESS, FIXTURE_API, FIXTURE_POLICIES, StaticHttpServer, TestKey, access_claims, jwks,
    unique,
};
use proptest::prelude::*;
use serde_json::{Value, json};

fn fixture_api() -> groupgate_cli::stack::Api {
    groupgate_cli::stack::Api::load(Path::new(FIXTURE_API)).unwrap()
}

fn groupgate(args: &[&str]) -> Output {
    groupgate_with(args, None, None)
}

/// Runs the tool with `GROUPGATE_TOKEN` set to `token` (unset when `None`) and `stdin` piped in.
fn groupgate_with(args: &[&str], token: Option<&str>, stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_groupgate"));
    command
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .env_remove(TOKEN_VARIABLE)
        // The routes these tests name: the tests' copy of the petstore's API.
        .env("GROUPGATE_API", FIXTURE_API)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(token) = token {
        command.env(TOKEN_VARIABLE, token);
    }
    let mut child = command.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// A folder holding `files` (name, content).
fn folder(files: &[(&str, String)]) -> PathBuf {
    let dir = std::env::temp_dir().join(unique("policies"));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    dir
}

fn definition(group: &str, statements: Value) -> String {
    serde_json::to_string_pretty(&json!({
        "group": group,
        "precedence": 1,
        "description": "a test group",
        "pets_table": "none",
        "policy": { "Version": "2012-10-17", "Statement": statements },
    }))
    .unwrap()
}

const V1: &str = "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/*";

fn findings(dir: &Path, cached: bool) -> Vec<(Severity, String, String)> {
    let api = fixture_api();
    let context = Context {
        stage: "prod",
        pools: vec!["", "partners:"],
        api: &api,
        cached,
        live_groups: None,
        live_invalid: Vec::new(),
    };
    validate(dir, &context)
        .unwrap()
        .into_iter()
        .map(|f| {
            let file = f.file.file_name().unwrap().to_string_lossy().into_owned();
            (f.severity, file, f.plain())
        })
        .collect()
}

fn has(found: &[(Severity, String, String)], severity: Severity, file: &str, needle: &str) -> bool {
    found
        .iter()
        .any(|(s, f, text)| *s == severity && f == file && text.contains(needle))
}

/// A Cedar answer is for one route; the authorizer-only stack cannot make the API's authorizer
/// cache it per route, so it is refused rather than reused across the token's routes.
#[test]
fn the_authorizer_only_stack_refuses_cedar() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cedar");
    let out_dir = std::env::temp_dir().join(unique("attach-cedar"));
    let out = groupgate(&[
        "synth",
        "--authorizer-only",
        "--placeholder-assets",
        "--settings",
        example.join("groupgate.toml").to_str().unwrap(),
        "--policies",
        example.join("policies").to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("context.resourcePath"),
        "{}",
        text(&out)
    );
    assert!(!out_dir.join("template.json").exists());
}

/// The authorizer's Cedar tests and benches name the fixture API's routes without reading it.
#[test]
fn the_fixture_routes_are_the_fixture_apis() {
    let api = fixture_api();
    let mut routes: Vec<(String, String)> = api
        .operations
        .iter()
        .map(|o| (o.method.clone(), o.path.clone()))
        .collect();
    routes.sort();
    let mut listed: Vec<(String, String)> = groupgate_testkit::FIXTURE_ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    listed.sort();
    assert_eq!(routes, listed);
}

#[test]
fn the_shipped_policies_are_clean() {
    assert_eq!(findings(&groups::default_dir(), true), vec![]);
}

#[test]
fn each_finding_of_validate() {
    let allow_v1 = json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": V1});
    let dir = folder(&[
        (
            "broken.json",
            "{\n  \"group\": \"broken\",\n  \"policy\": {,\n}".to_owned(),
        ),
        ("misnamed.json", definition("other", json!([allow_v1]))),
        (
            "scope-monitor.json",
            json!({"scope": "petstore/monitor", "description": "d",
                   "policy": {"Version": "2012-10-17", "Statement": [allow_v1]}})
            .to_string(),
        ),
        (
            "partners-admin.json",
            json!({"group": "admin", "pool": "partners:", "precedence": 1, "description": "d",
                   "policy": {"Version": "2012-10-17", "Statement": [allow_v1]}})
            .to_string(),
        ),
        (
            "partners-ops.json",
            json!({"group": "partners:ops", "precedence": 1, "description": "d",
                   "policy": {"Version": "2012-10-17", "Statement": [allow_v1]}})
            .to_string(),
        ),
        (
            "strangers-admin.json",
            json!({"group": "admin", "pool": "strangers:", "precedence": 1, "description": "d",
                   "policy": {"Version": "2012-10-17", "Statement": [allow_v1]}})
            .to_string(),
        ),
        (
            "readonly.json",
            definition("readonly", json!([allow_v1]))
                .replace("\"pets_table\": \"none\"", "\"pets_table\": \"readonly\""),
        ),
        ("twin-a.json", definition("twin", json!([allow_v1]))),
        ("twin.json", definition("twin", json!([allow_v1]))),
        (
            "nothing.json",
            definition(
                "nothing",
                json!([
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/DELETE/*"}
                ]),
            ),
        ),
        (
            "star.json",
            definition(
                "star",
                json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
            ),
        ),
        (
            "shadow.json",
            definition(
                "shadow",
                json!([
                    allow_v1,
                    {"Effect": "Deny", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:*:*:*/*/*/petstore/*"}
                ]),
            ),
        ),
        (
            "ip.json",
            definition(
                "ip",
                json!([
                    {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": V1,
                     "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}
                ]),
            ),
        ),
    ]);
    let found = findings(&dir, true);
    for (severity, file, needle) in [
        (Severity::Error, "broken.json", "broken.json:3: error:"),
        (Severity::Error, "misnamed.json", "defines group `other`"),
        (
            Severity::Error,
            "scope-monitor.json",
            "/scope: the file is named `scope-monitor.json` but defines scope `scope:petstore/monitor`: name it `scope-petstore-monitor.json`",
        ),
        (
            Severity::Error,
            "strangers-admin.json",
            "/pool: `strangers:admin` names pool `strangers:`, which no `[[pools]]` entry",
        ),
        (
            Severity::Error,
            "partners-ops.json",
            "`partners:ops` is meant for the stack's own pool, but the authorizer would look it up for the members of pool `partners:`",
        ),
        (
            Severity::Error,
            "readonly.json",
            "error: /pets_table: unknown variant `readonly`",
        ),
        (Severity::Error, "twin.json", "defined twice"),
        (
            Severity::Warning,
            "nothing.json",
            "/policy/Statement/0: matches no route",
        ),
        (Severity::Warning, "star.json", "actions reach beyond"),
        (Severity::Warning, "star.json", "resources reach beyond"),
        (
            Severity::Warning,
            "shadow.json",
            "/policy/Statement/0: this Allow is shadowed",
        ),
        (Severity::Warning, "ip.json", "aws:SourceIp"),
    ] {
        assert!(
            has(&found, severity, file, needle),
            "{file}: {needle}: {found:#?}"
        );
    }
    // A configured pool's group, in its file named after its key, is clean.
    assert!(
        !found
            .iter()
            .any(|(_, file, _)| file == "partners-admin.json"),
        "{found:#?}"
    );
    // Without the authorizer cache, a SourceIp condition is fine.
    assert!(!has(
        &findings(&dir, false),
        Severity::Warning,
        "ip.json",
        "aws:SourceIp"
    ));

    // The command line: GitHub annotations, and exit 1 for errors.
    let out = groupgate(&[
        "validate",
        "--format",
        "github",
        "--policies",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let annotations = String::from_utf8_lossy(&out.stdout);
    assert!(
        annotations
            .lines()
            .any(|l| l.starts_with("::error file=") && l.contains("broken.json,line=3::")),
        "{annotations}"
    );
    assert!(
        annotations
            .lines()
            .any(|l| l.starts_with("::warning file=")
                && l.contains("shadow.json::/policy/Statement/0")),
        "{annotations}"
    );
}

/// A Deny whose `*` before the end of its resource is all that makes it match a path parameter
/// holding `:` is warned about (IAM documents that such a `*` does not match `:`); one ending in
/// `*`, or an Allow, is not.
#[test]
fn validate_warns_of_a_deny_that_only_groupgates_wildcard_makes_match_a_colon() {
    let deny = |resource: &str| {
        json!([
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/GET/*"},
            {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": resource},
        ])
    };
    let dir = folder(&[
        (
            "mid.json",
            definition(
                "mid",
                deny("arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets/*b"),
            ),
        ),
        (
            "end.json",
            definition(
                "end",
                deny("arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets/*"),
            ),
        ),
    ]);
    let found = findings(&dir, false);
    assert!(
        has(
            &found,
            Severity::Warning,
            "mid.json",
            "`GET /petstore/v1/pets/{id}` with a path parameter holding `:`"
        ),
        "{found:?}"
    );
    assert!(
        !found
            .iter()
            .any(|(_, file, text)| file == "end.json" && text.contains("holding `:`")),
        "{found:?}"
    );
}

/// Issue #22: what API Gateway does not document for an authorizer's policy (`NotResource`,
/// `NotAction`, `?`), and a `Resource` longer than the longest method ARN (1600 bytes), are
/// errors, each on one line that says why and what to write instead.
#[test]
fn validate_refuses_what_api_gateway_does_not_document() {
    let resource_of = |bytes: usize| {
        let prefix = "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets/";
        format!("{prefix}{}", "*".repeat(bytes - prefix.len()))
    };
    let dir = folder(&[
        (
            "not-resource.json",
            definition(
                "not-resource",
                json!([{"Effect": "Deny", "Action": "execute-api:Invoke", "NotResource": V1}]),
            ),
        ),
        (
            "not-action.json",
            definition(
                "not-action",
                json!([{"Effect": "Allow", "NotAction": "s3:*", "Resource": V1}]),
            ),
        ),
        (
            "question.json",
            definition(
                "question",
                json!([{"Effect": "Allow", "Action": "execute-api:Invoke",
                        "Resource": "arn:aws:execute-api:*:*:*/*/GET/petstore/v?/pets"}]),
            ),
        ),
        (
            "at-limit.json",
            definition(
                "at-limit",
                json!([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource_of(1600)}]),
            ),
        ),
        (
            "past-limit.json",
            definition(
                "past-limit",
                json!([{"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resource_of(1601)}]),
            ),
        ),
    ]);
    let found = findings(&dir, false);
    for (file, needle) in [
        (
            "not-resource.json",
            "error: /policy: group `not-resource`: statement #0: `NotResource` is not allowed: API Gateway documents only `Resource` in an authorizer's policy; list in `Resource` the method ARNs",
        ),
        (
            "not-action.json",
            "error: /policy: group `not-action`: statement #0: `NotAction` is not allowed: API Gateway documents only `Action` in an authorizer's policy; write `\"Action\": \"execute-api:Invoke\"`",
        ),
        (
            "question.json",
            "uses `?`: API Gateway documents only the `*` wildcard in an authorizer's policy; use `*` or spell the characters out",
        ),
        (
            "past-limit.json",
            "is 1601 bytes: longer than any method ARN (API Gateway allows 1600)",
        ),
    ] {
        assert!(
            has(&found, Severity::Error, file, needle),
            "{file}: {needle}: {found:#?}"
        );
    }
    assert!(
        found.iter().all(|(_, _, text)| !text.contains('\n')),
        "{found:#?}"
    );
    assert!(
        !found
            .iter()
            .any(|(s, f, _)| *s == Severity::Error && f == "at-limit.json"),
        "{found:#?}"
    );
}

#[test]
fn warnings_pass_unless_strict_and_a_missing_folder_is_a_usage_error() {
    let dir = folder(&[(
        "star.json",
        definition(
            "star",
            json!([{"Effect": "Allow", "Action": "*", "Resource": V1}]),
        ),
    )]);
    let path = dir.to_str().unwrap();
    assert_eq!(
        groupgate(&["validate", "--policies", path]).status.code(),
        Some(0)
    );
    assert_eq!(
        groupgate(&["validate", "--strict", "--policies", path])
            .status
            .code(),
        Some(1)
    );
    let out = groupgate(&[
        "explain",
        "--groups",
        "a",
        "--method",
        "GET",
        "--path",
        "/x",
        "--policies",
        "/no/such/folder",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("the policies folder `/no/such/folder` does not exist"));
}

#[test]
fn explain_names_what_is_wrong_with_the_request() {
    for (args, needle) in [
        (
            ["--method", "GET", "--path", "petstore/v1/pets"],
            "must start with `/`",
        ),
        (
            ["--method", "FETCH", "--path", "/petstore/v1/pets"],
            "method `FETCH` is not one of",
        ),
        (
            ["--method", "GET", "--path", "/prod/petstore/v1/pets"],
            "`--path` is the path after the stage: give `/petstore/v1/pets`",
        ),
    ] {
        let mut all = vec![
            "explain",
            "--policies",
            FIXTURE_POLICIES,
            "--groups",
            "admin",
        ];
        all.extend(args);
        let out = groupgate(&all);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(needle), "{}", text(&out));
        assert!(!text(&out).contains("panicked"), "{}", text(&out));
    }
    let out = groupgate(&[
        "explain",
        "--policies",
        FIXTURE_POLICIES,
        "--groups",
        "pet-veterinarian",
        "--method",
        "GET",
        "--path",
        "/petstore/v2/pets",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["decision"], "deny");
    assert_eq!(report["reason"], "no_allow");
}

/// The status a caller would see: 201 for an allowed POST; 403 `Missing Authentication Token`
/// for a method the API does not have, whatever the policies say; and `--method get` is GET.
#[test]
fn explain_gives_the_status_the_caller_would_see() {
    let report = |groups: &str, method: &str, path: &str| -> (Value, String) {
        let args = [
            "explain",
            "--policies",
            FIXTURE_POLICIES,
            "--groups",
            groups,
            "--method",
            method,
            "--path",
            path,
        ];
        let out = groupgate(&[&args[..], &["--format", "json"]].concat());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        (
            serde_json::from_slice(&out.stdout).unwrap(),
            text(&groupgate(&args)),
        )
    };
    let (created, _) = report("pet-veterinarian", "POST", "/petstore/v1/pets");
    assert_eq!(
        (created["decision"].as_str(), created["status"].as_u64()),
        (Some("allow"), Some(201))
    );
    assert_eq!(created["route"], "/petstore/v1/pets");

    // The admin's policy allows every method, but the API has no DELETE.
    let (missing, words) = report("admin", "DELETE", "/petstore/v1/pets/1");
    assert_eq!(missing["status"], 403);
    assert_eq!(missing["route"], Value::Null);
    assert!(
        words.contains("the API has no DELETE /petstore/v1/pets/1"),
        "{words}"
    );
    assert!(words.contains("Missing Authentication Token"), "{words}");

    let (lower, _) = report("pet-viewer", "get", "/petstore/v1/pets/7");
    assert_eq!(
        (lower["decision"].as_str(), lower["status"].as_u64()),
        (Some("allow"), Some(200))
    );
    assert_eq!(lower["route"], "/petstore/v1/pets/{id}");
}

/// With `--api`, the toolbox reasons about that API's routes: the clinic example's public
/// operation is reached without the authorizer, a petstore path is not one of its routes, and
/// the access matrix has its routes only.
#[test]
fn the_toolbox_works_on_another_api_from_its_document() {
    let clinic = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/clinic");
    let (api, policies) = (format!("{clinic}/api.yaml"), format!("{clinic}/policies"));
    let explain = |method: &str, path: &str| -> Value {
        let out = groupgate(&[
            "explain",
            "--api",
            &api,
            "--policies",
            &policies,
            "--groups",
            "",
            "--method",
            method,
            "--path",
            path,
            "--format",
            "json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let health = explain("GET", "/clinic/health");
    assert_eq!(
        (health["decision"].as_str(), health["status"].as_u64()),
        (Some("public"), Some(200))
    );
    let visit = explain("GET", "/clinic/visits/v-1");
    assert_eq!(
        (visit["decision"].as_str(), visit["status"].as_u64()),
        (Some("deny"), Some(403))
    );
    assert_eq!(visit["route"], "/clinic/visits/{visitId}");
    let petstore = explain("GET", "/petstore/v1/pets");
    assert_eq!(petstore["route"], Value::Null, "{petstore}");

    let out = groupgate(&[
        "simulate",
        "--api",
        &api,
        "--policies",
        &policies,
        "--format",
        "tsv",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let matrix = String::from_utf8_lossy(&out.stdout);
    assert!(matrix.contains("/clinic/visits/{visitId}"), "{matrix}");
    assert!(!matrix.contains("/petstore/"), "{matrix}");

    let broken = std::env::temp_dir()
        .join(unique("api"))
        .with_extension("yaml");
    std::fs::write(&broken, "openapi: 3.1.0\ninfo: {title: t}\npaths: {}\n").unwrap();
    let out = groupgate(&[
        "validate",
        "--api",
        broken.to_str().unwrap(),
        "--policies",
        &policies,
    ]);
    assert_ne!(out.status.code(), Some(0));
    let words = text(&out);
    assert!(
        words.contains(&format!(
            "API document `{}`: /openapi: `3.1.0`",
            broken.display()
        )),
        "{words}"
    );
    std::fs::remove_file(broken).unwrap();
}

#[test]
fn simulate_expect_passes_for_the_committed_file_and_names_a_changed_cell() {
    // The product's own matrix holds for its own policies, whatever groups they define.
    let access = groupgate_cli::toolbox::simulate::default_access_file();
    let out = groupgate(&["simulate", "--expect", access.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // The tests' own groups, with the viewer given v2's pets.
    let access = Path::new(FIXTURE_ACCESS);
    let mut files: Vec<(String, String)> = std::fs::read_dir(FIXTURE_POLICIES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    for (name, content) in &mut files {
        if name == "pet-viewer.json" {
            *content = content.replace(
                "\"arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status\"",
                "\"arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status\", \"arn:aws:execute-api:*:*:*/*/GET/petstore/v2/pets\"",
            );
        }
    }
    let refs: Vec<(&str, String)> = files.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let changed = folder(&refs);
    let out = groupgate(&[
        "simulate",
        "--expect",
        access.to_str().unwrap(),
        "--policies",
        changed.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("pet-viewer: GET /petstore/v2/pets: expected Deny, got Allow"),
        "{}",
        text(&out)
    );
}

/// Statements drawn from patterns that overlap in every way the API's routes can tell apart.
fn statement() -> impl Strategy<Value = Value> {
    let effect = prop_oneof![Just("Allow"), Just("Deny")];
    let action = prop_oneof![
        Just("execute-api:Invoke"),
        Just("execute-api:*"),
        Just("*"),
        Just("EXECUTE-API:invoke"),
        Just("s3:GetObject"),
    ];
    let resource = prop_oneof![
        Just("*"),
        Just("arn:aws:execute-api:*:*:*/*/*/*"),
        Just("arn:aws:execute-api:*:*:*/*/GET/*"),
        Just("arn:aws:execute-api:*:*:*/*/GET/petstore/v1/*"),
        Just("arn:aws:execute-api:*:*:*/*/*/petstore/v1/pets"),
        Just("arn:aws:execute-api:*:*:*/prod/POST/petstore/v1/pets"),
        Just("arn:aws:execute-api:*:*:*/test/*"),
        Just("arn:aws:execute-api:*:*:*/*/GET/petstore/v*/pets"),
        Just("arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"),
    ];
    // Now and then a statement API Gateway does not document (issue #22): its group is
    // invalid and denies everything.
    let documented = prop::bool::weighted(0.9);
    (
        effect,
        action,
        prop::collection::vec(resource, 1..3),
        documented,
    )
        .prop_map(|(effect, action, resources, documented)| {
            let key = if documented {
                "Resource"
            } else {
                "NotResource"
            };
            json!({"Effect": effect, "Action": action, key: resources})
        })
}

fn request() -> impl Strategy<Value = (String, String)> {
    let method = prop_oneof![Just("GET"), Just("POST"), Just("DELETE")];
    let path = prop_oneof![
        Just("/petstore/v1/pets"),
        Just("/petstore/v1/pets/7"),
        Just("/petstore/v2/pets"),
        Just("/petstore/v2/status"),
        Just("/other"),
    ];
    (method, path).prop_map(|(m, p)| (m.to_owned(), p.to_owned()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `explain`'s decision (the authorizer's merge and decide) agrees with the policy returned
    /// to API Gateway, and with the groups' own statements, as the reference evaluator reads
    /// them.
    #[test]
    fn explain_never_disagrees_with_the_reference_evaluator(
        policies in prop::collection::vec(prop::collection::vec(statement(), 0..4), 0..4),
        member in prop::collection::vec(any::<bool>(), 4),
        (method, path) in request(),
    ) {
        let groups: Vec<Arc<GroupPolicy>> = policies
            .iter()
            .enumerate()
            .map(|(i, statements)| {
                let text = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
                Arc::new(GroupPolicy {
                    group: format!("g{i}"),
                    policy: PolicyDocument::from_json(&text),
                    role_arn: None,
                    precedence: None,
                })
            })
            .collect();
        let catalogue = Catalogue { groups, source: "generated".into() };
        let names: Vec<String> = (0..policies.len())
            .filter(|i| member.get(*i).copied().unwrap_or(false))
            .map(|i| format!("g{i}"))
            .collect();
        let request = Request { method, path, source_ip: None, stage: "prod".into() };
        let evaluation = Evaluation::new(catalogue.select(&names), &request).unwrap();
        let decided = evaluation.decision().is_allow();
        prop_assert_eq!(evaluation.reference_allows(), Ok(decided));

        // A member group whose policy does not parse (an empty `Statement`, say) denies
        // everything: the authorizer fails closed.
        let selected = catalogue.select(&names);
        if selected.iter().any(|g| g.policy.is_err()) {
            prop_assert!(!decided);
            return Ok(());
        }
        // The same groups' statements, all in one document, read by the reference directly.
        let all: Vec<Value> = names
            .iter()
            .filter_map(|n| n.strip_prefix('g').and_then(|i| i.parse::<usize>().ok()))
            .flat_map(|i| policies[i].clone())
            .collect();
        let direct = groupgate_shared::reference::allows(
            &json!({"Statement": all}),
            groupgate_shared::INVOKE_ACTION,
            evaluation.method_arn.as_str(),
        );
        prop_assert_eq!(direct, Ok(decided));
    }
}

#[test]
fn explain_exits_3_when_the_keys_cannot_be_read() {
    let closed = format!(
        "http://127.0.0.1:{}/jwks.json",
        groupgate_testkit::free_port()
    );
    let out = groupgate_with(
        &[
            "explain",
            "--method",
            "GET",
            "--path",
            "/petstore/v1/pets",
            "--user-pool-id",
            "us-east-1_abc",
            "--client-id",
            "client",
            "--jwks-url",
            &closed,
        ],
        Some("a.b.c"),
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("the pool's keys could not be read"),
        "{}",
        text(&out)
    );
}

const POOL: &str = "us-east-1_TestPool1";
const CLIENT: &str = "client-1";
const NOW: u64 = 1_800_000_000;
static KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("explain-key"));

/// A `pet-veterinarian` access token of the test pool, issued `age` seconds before [`NOW`] and
/// valid for an hour.
fn token_issued(age: u64) -> String {
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    KEY.sign(&access_claims(
        &issuer,
        CLIENT,
        &["pet-veterinarian"],
        NOW - age,
    ))
}

/// `explain --format json` for `GET /petstore/v1/pets` at [`NOW`] with the test pool's keys
/// served at `jwks_url`, `GROUPGATE_TOKEN` set to `token`, `stdin` piped in and `extra` arguments.
/// Run on a blocking thread: the test's runtime serves the keys meanwhile.
async fn explain_json(
    jwks_url: &str,
    token: Option<&str>,
    stdin: Option<&str>,
    extra: &[&str],
) -> Output {
    let now = NOW.to_string();
    let mut args: Vec<String> = [
        "explain",
        "--method",
        "GET",
        "--path",
        "/petstore/v1/pets",
        "--now",
        &now,
        "--user-pool-id",
        POOL,
        "--client-id",
        CLIENT,
        "--jwks-url",
        jwks_url,
        "--format",
        "json",
        "--policies",
        FIXTURE_POLICIES,
    ]
    .iter()
    .chain(extra)
    .map(|a| (*a).to_owned())
    .collect();
    let (token, stdin) = (token.map(str::to_owned), stdin.map(str::to_owned));
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter_mut().map(|a| a.as_str()).collect();
        groupgate_with(&args, token.as_deref(), stdin.as_deref())
    })
    .await
    .unwrap()
}

/// The JSON report of a run that decided.
fn report(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// The JWKS of [`KEY`], served on a loopback port for as long as the server lives.
async fn keys_served() -> (StaticHttpServer, String) {
    let server = StaticHttpServer::start("200 OK", jwks(&[&KEY]))
        .await
        .unwrap();
    let url = server.url("/jwks.json");
    (server, url)
}

/// Issue #20: `explain` accepted a token up to 60 s past its expiry, where the authorizer (30 s
/// by default, `CLOCK_LEEWAY_SECONDS`) answers 401. Both now use the core's one default.
#[tokio::test(flavor = "multi_thread")]
async fn explain_checks_expiry_with_the_authorizers_clock_leeway() {
    let (_server, url) = keys_served().await;
    assert_eq!(groupgate_shared::DEFAULT_CLOCK_LEEWAY.as_secs(), 30);
    for (past_expiry, status) in [(29, 200), (31, 401), (59, 401)] {
        let token = token_issued(3600 + past_expiry);
        let report = report(&explain_json(&url, Some(&token), None, &[]).await);
        assert_eq!(
            report["status"], status,
            "{past_expiry} s past expiry: {report}"
        );
        if status == 401 {
            assert_eq!(report["reason"], "expired", "{report}");
        }
    }
}

/// Issue #20: `explain` stripped only `Bearer ` (that case) and refused `bearer <jwt>` as a
/// malformed token, which the authorizer accepts; a value of another scheme is the authorizer's
/// `no_token`, not a malformed token.
#[tokio::test(flavor = "multi_thread")]
async fn explain_reads_the_bearer_scheme_in_any_case_as_the_authorizer_does() {
    let (_server, url) = keys_served().await;
    let token = token_issued(0);
    for (value, status, reason) in [
        (format!("bearer {token}\n"), 200, "allowed"),
        (format!("BEARER {token}"), 200, "allowed"),
        (format!("Bearer {token}"), 200, "allowed"),
        (token.clone(), 200, "allowed"),
        ("Basic dXNlcjpwYXNz".to_owned(), 401, "no_token"),
    ] {
        let out = explain_json(&url, None, Some(&value), &["--token", "-"]).await;
        let report = report(&out);
        assert_eq!(report["status"], status, "{report}");
        assert_eq!(report["reason"], reason, "{report}");
    }
}

/// Issue #20: a token on the command line can be read by every user of the machine. `explain`
/// takes it from `GROUPGATE_TOKEN` or stdin, and refuses `--token VALUE` without repeating it.
#[tokio::test(flavor = "multi_thread")]
async fn explain_takes_the_token_from_the_environment_or_stdin_never_from_a_flag() {
    let (_server, url) = keys_served().await;
    let token = token_issued(0);
    let from_env = explain_json(&url, Some(&token), None, &[]).await;
    assert_eq!(report(&from_env)["status"], 200);
    let from_stdin = explain_json(&url, None, Some(&token), &["--token", "-"]).await;
    assert_eq!(report(&from_stdin)["status"], 200);
    for out in [&from_env, &from_stdin] {
        assert!(!text(out).contains(&token), "the token was printed");
    }

    let on_the_line = explain_json(&url, None, None, &["--token", &token]).await;
    assert_eq!(on_the_line.status.code(), Some(2), "{}", text(&on_the_line));
    assert!(
        text(&on_the_line).contains("GROUPGATE_TOKEN"),
        "{}",
        text(&on_the_line)
    );
    assert!(
        !text(&on_the_line).contains(&token),
        "the refusal repeats the token"
    );

    for (out, needle) in [
        (explain_json(&url, None, None, &[]).await, "GROUPGATE_TOKEN"),
        (
            explain_json(&url, None, Some(" \n"), &["--token", "-"]).await,
            "read no token from stdin",
        ),
    ] {
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(text(&out).contains(needle), "{}", text(&out));
    }
}

/// The petstore's policies in Cedar (`examples/cedar/policies/`).
fn cedar_examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cedar/policies")
}

/// A file of the checkout.
fn checkout(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The Cedar example files, `edit` applied to each (name, content).
fn cedar_copy(edit: impl Fn(&str, String) -> String) -> PathBuf {
    let files: Vec<(String, String)> = std::fs::read_dir(cedar_examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let content = edit(&name, std::fs::read_to_string(&p).unwrap());
            (name, content)
        })
        .collect();
    let refs: Vec<(&str, String)> = files.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    folder(&refs)
}

#[test]
fn simulate_in_cedar_gives_the_shipped_access_matrix_and_names_a_changed_cell() {
    // The Cedar example, with its own settings, on the product's API: exactly the matrix the
    // IAM policies of `policies/` give (issue 24).
    let examples = cedar_examples();
    let settings = checkout("examples/cedar/groupgate.toml");
    let (api, access) = (
        checkout("api/petstore.yaml"),
        checkout("deploy/access.json"),
    );
    let simulate = |policies: &Path| {
        groupgate(&[
            "simulate",
            "--settings",
            settings.to_str().unwrap(),
            "--api",
            api.to_str().unwrap(),
            "--policies",
            policies.to_str().unwrap(),
            "--expect",
            access.to_str().unwrap(),
        ])
    };
    let out = simulate(&examples);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // The columns are the groups the policies name, and no group.
    let header = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .to_owned();
    for group in [
        "admin",
        "pet-veterinarian",
        "pet-viewer",
        "scope:petstore/status.read",
        "(no group)",
    ] {
        assert!(header.contains(group), "{header}");
    }

    let changed = cedar_copy(|name, content| {
        if name == "pet-viewer.cedar" {
            content.replace(
                r#"petstore::Action::"get /petstore/v2/status""#,
                r#"petstore::Action::"get /petstore/v2/status", petstore::Action::"get /petstore/v2/pets""#,
            )
        } else {
            content
        }
    });
    let out = simulate(&changed);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("pet-viewer: GET /petstore/v2/pets: expected Deny, got Allow"),
        "{}",
        text(&out)
    );
}

#[test]
fn cedar_export_and_import_round_trip_through_verified_permissions_form() {
    // The example's Cedar files, and one policy for another pool's group, which a store with
    // one identity source cannot hold.
    let mut files: Vec<(String, String)> = std::fs::read_dir(cedar_examples())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.push((
        "partners.cedar".to_owned(),
        r#"permit (principal in petstore::UserGroup::"partners:admin", action, resource);"#
            .to_owned(),
    ));
    let refs: Vec<(&str, String)> = files.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let dir = folder(&refs);
    let document = dir.join("vp.json");
    let export = |extra: &[&str]| {
        let mut args = vec![
            "cedar",
            "export",
            "--api",
            FIXTURE_API,
            "--policies",
            dir.to_str().unwrap(),
            "--user-pool-id",
            "us-east-1_EXAMPLE",
            "--out",
            document.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        groupgate(&args)
    };

    let out = export(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("left out `partners.cedar#0`"),
        "{}",
        text(&out)
    );
    let out = export(&["--allow-left-out"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let written = std::fs::read_to_string(&document).unwrap();
    assert!(
        written.contains(r#"UserGroup::\"us-east-1_EXAMPLE|admin\""#),
        "{written}"
    );
    assert!(!written.contains("partners:admin"), "{written}");

    let back = dir.join("back");
    let import = |into: &Path, pool: &str| {
        groupgate(&[
            "cedar",
            "import",
            "--api",
            FIXTURE_API,
            "--from",
            document.to_str().unwrap(),
            "--user-pool-id",
            pool,
            "--into",
            into.to_str().unwrap(),
        ])
    };
    let out = import(&back, "us-east-1_EXAMPLE");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // Read back, the policies decide the access matrix the originals do.
    let out = groupgate(&[
        "simulate",
        "--policy-language",
        "cedar",
        "--api",
        FIXTURE_API,
        "--policies",
        back.to_str().unwrap(),
        "--expect",
        FIXTURE_ACCESS,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Importing again into the same folder would mix policies: refused, nothing changed.
    let before = std::fs::read_to_string(back.join("admin.cedar")).unwrap();
    let out = import(&back, "us-east-1_EXAMPLE");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("already holds"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(back.join("admin.cedar")).unwrap(),
        before
    );

    // Another pool's document is refused, naming the id.
    let out = import(&dir.join("other"), "us-east-1_OTHER");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not of the pool `us-east-1_OTHER`"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("other").exists());

    // A description that is a path writes nowhere but the folder.
    let hostile = written.replace("admin.cedar#0", "../../escaped.cedar#0");
    std::fs::write(&document, hostile).unwrap();
    let into = dir.join("hostile");
    let out = import(&into, "us-east-1_EXAMPLE");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(into.join("imported.cedar").is_file());
    assert!(!dir.join("escaped.cedar").exists() && !into.join("../../escaped.cedar").exists());
}

#[test]
fn a_verified_permissions_policy_set_is_validated_and_simulated_unchanged() {
    // The example's policies as a Verified Permissions store for the stack's pool holds them
    // (exported, each statement its own file, unchanged), beside the scope's policy (which has
    // no such form) and the definitions: the same access matrix.
    let settings = checkout("examples/cedar/groupgate.toml");
    let api = checkout("api/petstore.yaml");
    let exported = folder(&[]).join("vp.json");
    let out = groupgate(&[
        "cedar",
        "export",
        "--settings",
        settings.to_str().unwrap(),
        "--api",
        api.to_str().unwrap(),
        "--policies",
        cedar_examples().to_str().unwrap(),
        "--user-pool-id",
        "us-east-1_Stack001",
        "--allow-left-out",
        "--out",
        exported.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let document: Value =
        serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    let dir = cedar_copy(|_, content| content);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".cedar") && !name.starts_with("scope-") {
            std::fs::remove_file(path).unwrap();
        }
    }
    for (i, policy) in document["policies"].as_array().unwrap().iter().enumerate() {
        let statement = policy["definition"]["static"]["statement"]
            .as_str()
            .unwrap();
        assert!(statement.contains("us-east-1_Stack001|"), "{statement}");
        std::fs::write(dir.join(format!("store-{i}.cedar")), statement).unwrap();
    }
    let run = |command: &str, extra: &[&str]| {
        let mut args = vec![
            command,
            "--settings",
            settings.to_str().unwrap(),
            "--api",
            api.to_str().unwrap(),
            "--policies",
            dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        groupgate(&args)
    };
    let out = run("validate", &["--strict"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let access = checkout("deploy/access.json");
    let out = run("simulate", &["--expect", access.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(
        "explain",
        &[
            "--groups",
            "pet-viewer",
            "--method",
            "GET",
            "--path",
            "/petstore/v1/pets",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("decision: Allow"), "{}", text(&out));

    // A second pool named by id: the toolbox cannot tell which is the stack's, and says so.
    std::fs::write(
        dir.join("other.cedar"),
        r#"forbid (principal in petstore::UserGroup::"eu-west-1_Other01|admin", action, resource);"#,
    )
    .unwrap();
    let out = run("validate", &[]);
    assert!(text(&out).contains("2 user pools by id"), "{}", text(&out));
}

#[test]
fn validate_in_cedar_names_the_broken_file_and_line() {
    let examples = cedar_examples();
    let clean = groupgate(&[
        "validate",
        "--policy-language",
        "cedar",
        "--policies",
        examples.to_str().unwrap(),
        "--strict",
    ]);
    assert_eq!(clean.status.code(), Some(0), "{}", text(&clean));

    // An action no route has.
    let broken = cedar_copy(|name, content| match name {
        "pet-veterinarian.cedar" => content.replace(
            r#""post /petstore/v1/pets""#,
            r#""delete /petstore/v1/pets""#,
        ),
        _ => content,
    });
    let vet_line = std::fs::read_to_string(broken.join("pet-veterinarian.cedar"))
        .unwrap()
        .lines()
        .position(|l| l.contains("delete /petstore/v1/pets"))
        .unwrap()
        + 1;
    let out = groupgate(&[
        "validate",
        "--policy-language",
        "cedar",
        "--policies",
        broken.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let expected = format!(
        "{}:{vet_line}: error: ",
        broken.join("pet-veterinarian.cedar").display()
    );
    assert!(text(&out).contains(&expected), "{expected}\n{}", text(&out));
    assert!(
        text(&out).contains("delete /petstore/v1/pets"),
        "{}",
        text(&out)
    );

    let unparsable = cedar_copy(|name, content| {
        if name == "admin.cedar" {
            content.replace("    action,\n", "    action\n")
        } else {
            content
        }
    });
    let out = groupgate(&[
        "validate",
        "--policy-language",
        "cedar",
        "--policies",
        unparsable.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let file = unparsable.join("admin.cedar").display().to_string();
    assert!(
        text(&out).contains(&format!("{file}:7: error: ")),
        "{}",
        text(&out)
    );
}

#[test]
fn validate_in_cedar_warns_of_a_policy_that_matches_no_route() {
    // The clinic's `GET /clinic/health` is public: a policy naming only it is never
    // consulted; one on another resource than the API never matches.
    let api = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/clinic/api.yaml"
    );
    let dir = folder(&[(
        "odd.cedar",
        "permit (principal, action == clinic::Action::\"get /clinic/health\", resource);\n\npermit (principal, action, resource == clinic::Application::\"billing\");\n".to_owned(),
    )]);
    let out = groupgate(&[
        "validate",
        "--api",
        api,
        "--policy-language",
        "cedar",
        "--policies",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "warnings pass: {}", text(&out));
    let file = dir.join("odd.cedar").display().to_string();
    assert!(
        text(&out).contains(&format!(
            "{file}:1: warning: `odd.cedar#0` matches no route: its actions"
        )),
        "{}",
        text(&out)
    );
    assert!(
        text(&out).contains(&format!(
            "{file}:3: warning: `odd.cedar#1` matches no route: its resource"
        )),
        "{}",
        text(&out)
    );
    let strict = groupgate(&[
        "validate",
        "--api",
        api,
        "--policy-language",
        "cedar",
        "--policies",
        dir.to_str().unwrap(),
        "--strict",
    ]);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict));
    let missing = groupgate(&[
        "validate",
        "--policy-language",
        "cedar",
        "--policies",
        "/nonexistent/policies",
    ]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
}

#[test]
fn explain_in_cedar_names_the_deciding_policies_and_their_files() {
    let examples = cedar_examples();
    let out = groupgate(&[
        "explain",
        "--policy-language",
        "cedar",
        "--policies",
        examples.to_str().unwrap(),
        "--groups",
        "pet-viewer,auditor",
        "--method",
        "GET",
        "--path",
        "/petstore/v2/status",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let json = report(&out);
    assert_eq!(json["decision"], "allow", "{json}");
    assert_eq!(
        json["policies"],
        json!([{ "id": "pet-viewer.cedar#0", "file": "pet-viewer.cedar", "line": 3 }])
    );
    // A token is not read with Cedar yet: a usage error, not a guess.
    let out = groupgate(&[
        "explain",
        "--policy-language",
        "cedar",
        "--policies",
        examples.to_str().unwrap(),
        "--method",
        "GET",
        "--path",
        "/petstore/v2/status",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// `settings get`, which build.sh and dev.sh ask whether to build the authorizer with Cedar,
/// reads the settings as every command does: `--settings`, else `GROUPGATE_SETTINGS`, flags
/// laid over them.
#[test]
fn settings_get_prints_the_policy_language_as_the_commands_read_it() {
    let cedar = checkout("examples/cedar/groupgate.toml");
    let get = |extra: &[&str], settings_variable: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_groupgate"));
        command
            .args(["settings", "get", "policy_language"])
            .args(extra);
        match settings_variable {
            Some(file) => command.env("GROUPGATE_SETTINGS", file),
            None => command.env_remove("GROUPGATE_SETTINGS"),
        };
        let out = command.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(get(&[], None), "iam\n", "deploy/groupgate.toml");
    assert_eq!(get(&[], Some(&cedar)), "cedar\n");
    assert_eq!(
        get(&["--settings", cedar.to_str().unwrap()], None),
        "cedar\n"
    );
    assert_eq!(get(&["--policy-language", "iam"], Some(&cedar)), "iam\n");

    let out = groupgate(&["settings", "get", "pools"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("policy_language"), "{}", text(&out));
}
