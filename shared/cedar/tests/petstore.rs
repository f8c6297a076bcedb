//! The petstore's policies in Cedar (`examples/cedar/policies/`) decide as its IAM policies
//! (`policies/`) do: cell by cell against the committed access matrix (`deploy/access.json`),
//! and for random sets of groups (none, unknown ones included) on every route against the IAM
//! decision of `groupgate_shared`. And a Verified Permissions import document of the schema and
//! policies reads back into a store that decides the same.
// The fixtures are loaded in helpers outside the `#[test]` functions: one that does not load
// fails every test that uses it, which is what the lint's test exemption is for.
#![allow(clippy::unwrap_used, reason = "test fixtures")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use groupgate_cedar::{
    ApiSchema, CedarBundle, CedarPolicies, CedarPolicyStore, from_import_json, to_import_json,
    to_import_json_leaving_out,
};
use groupgate_shared::{GroupPolicy, INVOKE_ACTION, MergedPolicy, MethodArn, RequestFacts};
use groupgate_stack::Api;
use proptest::prelude::*;

/// The pool of the Verified Permissions store the policies are exported to.
const POOL: &str = "us-east-1_EXAMPLE";
const SUB: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";
/// The methods an `ANY` operation is asked with, as `groupgate simulate` asks them.
const ANY_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The tests' own copy of the petstore (`shared/testkit/fixtures/`): its API, its IAM groups and
/// its access matrix, so that a policy author's new group in `policies/` never breaks these.
fn fixture(path: &str) -> PathBuf {
    root().join("shared/testkit/fixtures").join(path)
}

static API: LazyLock<Api> = LazyLock::new(|| Api::load(&fixture("api/petstore.yaml")).unwrap());

/// The routes the authorizer decides, as (method, resource path): public ones are skipped
/// (API Gateway runs no authorizer for them), `ANY` is asked with each method it stands for.
fn routes() -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for operation in API.operations.iter().filter(|o| !o.public) {
        if operation.method == "ANY" {
            for method in ANY_METHODS {
                let declared = API
                    .operations
                    .iter()
                    .any(|o| o.path == operation.path && o.method == method);
                if !declared {
                    routes.push((method.to_owned(), operation.path.clone()));
                }
            }
        } else {
            routes.push((operation.method.clone(), operation.path.clone()));
        }
    }
    routes
}

fn schema() -> ApiSchema {
    let routes: Vec<(&str, &str)> = API
        .operations
        .iter()
        .map(|o| (o.method.as_str(), o.path.as_str()))
        .collect();
    ApiSchema::for_routes("petstore", &routes).unwrap()
}

static STORE: LazyLock<CedarPolicyStore> = LazyLock::new(|| {
    let schema = schema();
    let policies =
        CedarPolicies::load_dir(&root().join("examples/cedar/policies"), &schema).unwrap();
    CedarPolicyStore::new(schema, policies, &API.title).unwrap()
});

/// The IAM group policies, as `groupgate simulate` reads them.
static IAM_GROUPS: LazyLock<Vec<Arc<GroupPolicy>>> = LazyLock::new(|| {
    groupgate_stack::groups::load(&fixture("policies"))
        .unwrap()
        .iter()
        .map(|d| Arc::new(d.group_policy()))
        .collect()
});

/// The IAM decision for `groups` on `method path_template`, the path parameters given a sample
/// value, as `groupgate simulate` decides it.
fn iam_allows(groups: &[&str], method: &str, path_template: &str) -> bool {
    let path: Vec<&str> = path_template
        .split('/')
        .map(|part| {
            if part.starts_with('{') && part.ends_with('}') {
                "1"
            } else {
                part
            }
        })
        .collect();
    let arn = MethodArn::for_request(
        "us-east-1",
        "123456789012",
        "abcdef1234",
        "prod",
        method,
        &path.join("/"),
    )
    .unwrap();
    let selected = groups
        .iter()
        .filter_map(|name| IAM_GROUPS.iter().find(|g| g.group == *name).cloned())
        .collect();
    MergedPolicy::for_request(selected, &RequestFacts::default())
        .decide(INVOKE_ACTION, arn.as_str())
        .is_allow()
}

#[test]
fn the_cedar_policies_give_the_committed_access_matrix() {
    let text = std::fs::read_to_string(fixture("access.json")).unwrap();
    let access: serde_json::Value = serde_json::from_str(&text).unwrap();
    let decisions: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_value(access["decisions"].clone()).unwrap();
    let mut checked = 0;
    for (group, cells) in &decisions {
        let groups: Vec<&str> = if group == "(no group)" {
            vec![]
        } else {
            vec![group.as_str()]
        };
        for (route, expected) in cells {
            let (method, path) = route.split_once(' ').unwrap();
            if API.route_of(method, path).is_some_and(|o| o.public) {
                continue;
            }
            let decision = STORE.decide(SUB, &groups, method, path);
            let got = if decision.allow { "Allow" } else { "Deny" };
            assert_eq!(got, expected, "{group} on {route}: {decision}");
            assert!(decision.errors.is_empty(), "{group} on {route}: {decision}");
            checked += 1;
        }
    }
    // Every group of the matrix on every route the authorizer decides.
    assert_eq!(checked, decisions.len() * routes().len());
}

#[test]
fn an_allow_names_the_policy_file_that_permitted_it() {
    let decision = STORE.decide(SUB, &["pet-viewer"], "GET", "/petstore/v2/status");
    assert!(decision.allow, "{decision}");
    assert_eq!(decision.policies, ["pet-viewer.cedar#0"]);
    let both = STORE.decide(SUB, &["pet-viewer", "admin"], "GET", "/petstore/v2/status");
    assert_eq!(both.policies, ["admin.cedar#0", "pet-viewer.cedar#0"]);
    let denied = STORE.decide(SUB, &["pet-viewer"], "GET", "/petstore/v2/identity");
    assert!(
        !denied.allow && denied.policies.is_empty() && denied.errors.is_empty(),
        "{denied}"
    );
    assert_eq!(denied.code(), "no_allow");
}

#[test]
fn a_group_of_another_pool_grants_nothing() {
    // `partners:admin` is the key of the partners pool's `admin`, not the pool's own.
    let decision = STORE.decide(SUB, &["partners:admin"], "GET", "/petstore/v1/pets");
    assert!(!decision.allow, "{decision}");
}

#[test]
fn a_route_the_schema_does_not_know_is_denied_with_cedars_error() {
    let decision = STORE.decide(SUB, &["admin"], "DELETE", "/petstore/v1/pets");
    assert!(!decision.allow, "{decision}");
    assert_eq!(decision.code(), "cedar_error");
    assert!(
        decision.errors[0].contains("delete /petstore/v1/pets"),
        "{decision}"
    );
}

#[test]
fn the_verified_permissions_import_reads_back_and_decides_the_same() {
    // The scope's policy names `scope:petstore/status.read`, which a store with one identity
    // source has no form for: the export refuses it, or leaves it out by name.
    let scope_policy = "scope-petstore-status.read.cedar#0";
    let refused = to_import_json(STORE.schema(), STORE.policies(), POOL).unwrap_err();
    assert!(refused.to_string().contains(scope_policy), "{refused}");
    let (document, left_out) =
        to_import_json_leaving_out(STORE.schema(), STORE.policies(), POOL).unwrap();
    let left_out: Vec<&str> = left_out.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(left_out, [scope_policy]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("verified-permissions.json");
    std::fs::write(&file, &document).unwrap();
    let (schema, policies) =
        from_import_json(&std::fs::read_to_string(&file).unwrap(), POOL).unwrap();
    assert_eq!(schema.json(), STORE.schema().json());
    let ids = |p: &CedarPolicies| -> Vec<String> {
        p.statements().iter().map(|s| s.id.clone()).collect()
    };
    let exported: Vec<String> = ids(STORE.policies())
        .into_iter()
        .filter(|id| id != scope_policy)
        .collect();
    assert_eq!(ids(&policies), exported);
    // Read back for another pool, the groups are not its own.
    let e = from_import_json(&document, "eu-west-1_Other").unwrap_err();
    assert!(
        e.to_string()
            .contains("is not of the pool `eu-west-1_Other`"),
        "{e}"
    );
    let back = CedarPolicyStore::new(schema, policies, &API.title).unwrap();
    let names = ["admin", "pet-veterinarian", "pet-viewer", "auditor"];
    for mask in 0..(1 << names.len()) {
        let groups: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        for (method, path) in routes() {
            assert_eq!(
                back.decide(SUB, &groups, &method, &path),
                STORE.decide(SUB, &groups, &method, &path),
                "{groups:?} on {method} {path}"
            );
        }
    }
    // Each statement is one policy of Cedar text, as `CreatePolicy` takes it.
    let json: serde_json::Value = serde_json::from_str(&document).unwrap();
    let first = &json["policies"][0]["definition"]["static"];
    assert_eq!(first["description"], "admin.cedar#0");
    let statement = first["statement"].as_str().unwrap();
    assert!(statement.starts_with("permit"), "{statement}");
    // Verified Permissions names the pool's groups `{userPoolId}|{group}`.
    assert!(
        statement.contains(r#"petstore::UserGroup::"us-east-1_EXAMPLE|admin""#),
        "{statement}"
    );
    assert!(json["schema"]["definition"]["cedarJson"].is_string());
}

/// A group set: any of the petstore's groups, and keys no policy has (one differs only in case,
/// one is another pool's, one pool-qualified as Verified Permissions writes it).
fn groups() -> impl Strategy<Value = Vec<&'static str>> {
    proptest::sample::subsequence(
        vec![
            "admin",
            "pet-veterinarian",
            "pet-viewer",
            "Admin",
            "auditor",
            "us-east-1_EXAMPLE|admin",
            "partners:admin",
            "",
        ],
        0..=4,
    )
}

proptest! {
    #[test]
    fn cedar_and_iam_decide_the_same_for_any_groups_on_any_route(
        groups in groups(),
        route in proptest::sample::select(routes()),
    ) {
        let (method, path) = route;
        let cedar = STORE.decide(SUB, &groups, &method, &path);
        prop_assert_eq!(cedar.allow, iam_allows(&groups, &method, &path), "{:?} on {} {}: {}", groups, method, path, cedar);
        prop_assert!(cedar.errors.is_empty(), "{}", cedar);
    }
}

#[test]
fn the_stored_bundle_reads_back_and_decides_the_same_on_every_route_and_group_set() {
    let text = CedarBundle::new(STORE.schema(), STORE.policies(), &API.title).to_json();
    let back = CedarBundle::from_json(&text).unwrap().into_store().unwrap();
    assert_eq!(back.schema().json(), STORE.schema().json());
    assert_eq!(back.policies().statements(), STORE.policies().statements());
    let names = [
        "admin",
        "pet-veterinarian",
        "pet-viewer",
        "auditor",
        "partners:admin",
    ];
    for mask in 0..(1 << names.len()) {
        let groups: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect();
        for (method, path) in routes() {
            assert_eq!(
                back.decide(SUB, &groups, &method, &path),
                STORE.decide(SUB, &groups, &method, &path),
                "{groups:?} on {method} {path}"
            );
        }
    }
}

/// The authorizer's answer is cached by API Gateway per caller, method and resource path, so no
/// policy may read what that key lacks (the request's path parameters, its source address): the
/// schema gives every action an empty context, and strict validation refuses a policy that reads
/// one, naming its file and line.
#[test]
fn a_policy_that_reads_the_request_context_is_refused_with_its_file_and_line() {
    let text = "permit (principal, action, resource);\n\nforbid (principal, action, resource)\n  when { context.sourceIp == \"10.0.0.1\" };\n";
    let files = [("by-address.cedar".to_owned(), text.to_owned())];
    let e = CedarPolicies::from_files(&files, STORE.schema()).unwrap_err();
    assert!(e.to_string().contains("by-address.cedar:4: "), "{e}");
    let text =
        "permit (principal, action, resource) when { context.pathParameters.id == \"7\" };\n";
    let files = [("by-id.cedar".to_owned(), text.to_owned())];
    let e = CedarPolicies::from_files(&files, STORE.schema()).unwrap_err();
    assert!(e.to_string().contains("by-id.cedar:1: "), "{e}");
}
