//! The toolbox on Cedar policies (`policy_language = "cedar"`): the schema generated from the
//! API's routes, the `*.cedar` files validated strictly against it, and every decision made by
//! `groupgate-cedar`'s [`CedarPolicyStore::decide`], the code the authorizer is to use. A
//! caller is a member of its groups' policy keys (`admin`, `partners:admin`,
//! `scope:petstore/status.read`), as the IAM decision looks its policies up.
//!
//! With Cedar there are no group definitions: the groups of the matrix are those the policies
//! name.
//!
//! Policies written for a Verified Permissions store name groups and users by pool
//! (`UserGroup::"us-east-1_AbC|admin"`), as the authorizer accepts them. When they name one
//! pool, the toolbox takes it for the stack's own: a key without a prefix (`admin`) is that
//! pool's group, and the matrix lists it as `admin`. Policies naming several pools by id are
//! decided for no pool (each such policy then denies with an error), and `validate` says so.

use std::collections::BTreeSet;
use std::path::Path;

use groupgate_cedar::{
    ApiSchema, CallerPool, CedarBundle, CedarDecision, CedarPolicies, CedarPolicyStore, NamedIds,
    Problem, action_name, pool_of,
};
use serde_json::{Value, json};

use super::routes;
use super::simulate::{Cell, NO_GROUP, PUBLIC};
use super::validate::{Finding, Severity};
use crate::exit::UsageError;
use crate::stack::Api;
use crate::stack::groups;
use crate::stack::settings::PolicyLanguage;

/// The sub of the caller the toolbox asks about: Cedar policies on groups do not depend on it.
const SIMULATED_SUB: &str = "simulated-user";

/// The schema of `api`: namespace from its title, one action per method of each route.
pub fn schema(api: &Api) -> anyhow::Result<ApiSchema> {
    let routes: Vec<(&str, &str)> = api
        .operations
        .iter()
        .map(|o| (o.method.as_str(), o.path.as_str()))
        .collect();
    ApiSchema::for_routes(&groupgate_cedar::namespace_of(&api.title), &routes)
        .map_err(|e| anyhow::anyhow!("the Cedar schema of `{}`: {e}", api.file.display()))
}

/// A policies folder that does not exist is a usage error, as with IAM policies.
fn folder_exists(dir: &Path) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    Err(UsageError(format!(
        "the policies folder `{}` does not exist",
        dir.display()
    ))
    .into())
}

/// The policies of `dir` over `api`'s schema, ready to decide.
pub fn load(dir: &Path, api: &Api) -> anyhow::Result<CedarPolicyStore> {
    folder_exists(dir)?;
    let schema = schema(api)?;
    let policies = CedarPolicies::load_dir(dir, &schema)?;
    Ok(CedarPolicyStore::new(schema, policies, &api.title)?)
}

/// The bundle the deploy stores for the authorizer: the policies of `dir`, validated strictly
/// against `api`'s schema, as [`CedarBundle`]'s JSON, and the user pools the policies name as
/// Verified Permissions does (`{userPoolId}|admin`). An invalid set is an error: nothing of it
/// is seeded.
pub fn bundle_json(dir: &Path, api: &Api) -> anyhow::Result<(String, BTreeSet<String>)> {
    folder_exists(dir)?;
    let schema = schema(api)?;
    let policies = CedarPolicies::load_dir(dir, &schema)?;
    let pools = policies.named_ids().pools.clone();
    Ok((
        CedarBundle::new(&schema, &policies, &api.title).to_json(),
        pools,
    ))
}

/// The pool the policies name users or groups of (`{userPoolId}|…`), when they name exactly
/// one: the toolbox takes it for the stack's own.
fn simulated_pool(ids: &NamedIds) -> Option<&str> {
    match ids.pools.len() {
        1 => ids.pools.first().map(String::as_str),
        _ => None,
    }
}

/// The groups the policies name, as the toolbox's callers are keyed: a group of the
/// [`simulated_pool`] (`us-east-1_AbC|admin`) is the stack pool's `admin`.
fn simulated_keys(ids: &NamedIds) -> BTreeSet<String> {
    let pool = simulated_pool(ids);
    ids.groups
        .iter()
        .map(|id| match (pool, pool_of(id)) {
            (Some(pool), Some(named)) if pool == named => id[pool.len() + 1..].to_owned(),
            _ => id.clone(),
        })
        .collect()
}

/// The decision for the toolbox's caller with the policy keys `keys`, as the authorizer makes
/// it: a caller of the stack's pool, whose groups are its keys without a prefix, when the
/// policies name that pool by id.
fn decide(store: &CedarPolicyStore, keys: &[&str], method: &str, route: &str) -> CedarDecision {
    let Some(pool) = simulated_pool(store.policies().named_ids()) else {
        return store.decide(SIMULATED_SUB, keys, method, route);
    };
    // A key with a `:` is another pool's group or a scope, not a group of the stack's pool.
    let groups: Vec<String> = keys
        .iter()
        .filter(|key| !key.contains(':'))
        .map(|key| (*key).to_owned())
        .collect();
    let pool = CallerPool {
        id: pool,
        groups: &groups,
    };
    match store.caller_in_pool(SIMULATED_SUB, keys, pool) {
        Ok(caller) => store.decide_for(&caller, method, route),
        Err(e) => CedarDecision::failed(e),
    }
}

/// The action names of the routes the authorizer decides (not the public ones).
fn decided_actions(api: &Api) -> BTreeSet<String> {
    routes(api)
        .into_iter()
        .filter(|(method, _, path)| !api.route_of(method, path).is_some_and(|o| o.public))
        .map(|(method, route, _)| action_name(&method, &route))
        .collect()
}

/// `validate` on a Cedar folder: every parse or strict validation error (file, line, Cedar's
/// message), Cedar's warnings, a warning for each policy that matches no route the authorizer
/// decides, an error for each group definition (`*.json`) that does not load (one with a
/// `policy` among them), and a warning for each group the policies name that no definition
/// defines: the stack makes no Cognito group, scope or role for it.
pub fn validate(dir: &Path, api: &Api) -> anyhow::Result<Vec<Finding>> {
    folder_exists(dir)?;
    let (mut findings, defined) = match groups::load_in(dir, PolicyLanguage::Cedar) {
        Ok(definitions) => (
            Vec::new(),
            Some(
                definitions
                    .into_iter()
                    .map(|d| d.key)
                    .collect::<BTreeSet<_>>(),
            ),
        ),
        Err(e) => {
            let file = match &e {
                groups::GroupError::Invalid { path, .. }
                | groups::GroupError::Read { path, .. } => path.clone(),
            };
            let error = Finding {
                severity: Severity::Error,
                file,
                line: None,
                pointer: e.pointer().map(str::to_owned),
                message: e.message(),
            };
            (vec![error], None)
        }
    };
    findings.extend(policy_findings(dir, api, defined.as_ref())?);
    Ok(findings)
}

/// The Cedar side of [`validate`]; `defined` holds the keys of the folder's definitions, when
/// they loaded.
fn policy_findings(
    dir: &Path,
    api: &Api,
    defined: Option<&BTreeSet<String>>,
) -> anyhow::Result<Vec<Finding>> {
    let schema = schema(api)?;
    let finding = |severity, problem: &Problem| Finding {
        severity,
        file: dir.join(&problem.file),
        line: problem.line,
        pointer: None,
        message: problem.message.clone(),
    };
    match CedarPolicies::load_dir(dir, &schema) {
        Ok(policies) => {
            let mut findings: Vec<Finding> = policies
                .warnings()
                .iter()
                .map(|w| finding(Severity::Warning, w))
                .collect();
            findings.extend(
                policies
                    .matching_no_route(&decided_actions(api), &api.title)
                    .iter()
                    .map(|p| finding(Severity::Warning, p)),
            );
            let ids = policies.named_ids();
            if ids.pools.len() > 1 {
                findings.push(Finding {
                    severity: Severity::Warning,
                    file: dir.to_owned(),
                    line: None,
                    pointer: None,
                    message: format!(
                        "the policies name users or groups of {} user pools by id ({}): the authorizer decides them, but `simulate` and `explain` cannot tell which is the stack's, and decide for none",
                        ids.pools.len(),
                        ids.pools.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            let undefined = simulated_keys(ids)
                .into_iter()
                .filter(|key| defined.is_some_and(|d| !d.contains(key)));
            findings.extend(undefined.map(|key| Finding {
                severity: Severity::Warning,
                file: dir.to_owned(),
                line: None,
                pointer: None,
                message: format!(
                    "the policies name `UserGroup::\"{key}\"`, which no definition of this folder defines (`{}.json`, with no `policy`): the stack makes no Cognito group, scope or IAM role for it",
                    groups::file_stem(&key)
                ),
            }));
            Ok(findings)
        }
        Err(groupgate_cedar::Error::Policies(problems)) => Ok(problems
            .iter()
            .map(|p| finding(Severity::Error, p))
            .collect()),
        Err(e) => Err(e.into()),
    }
}

/// Every group the policies name, and no group, against every route, in that order.
pub fn matrix(store: &CedarPolicyStore, api: &Api) -> Vec<Cell> {
    let mut who: Vec<Option<String>> = simulated_keys(store.policies().named_ids())
        .into_iter()
        .map(Some)
        .collect();
    who.push(None);
    let mut cells = Vec::new();
    for group in &who {
        let groups: Vec<&str> = group.iter().map(String::as_str).collect();
        let name = group.as_deref().unwrap_or(NO_GROUP);
        for (method, route, path) in routes(api) {
            let (allow, reason) = if api.route_of(&method, &path).is_some_and(|o| o.public) {
                (true, PUBLIC.to_owned())
            } else {
                let decision = decide(store, &groups, &method, &route);
                (decision.allow, decision.to_string())
            };
            cells.push(Cell {
                group: name.to_owned(),
                method,
                route,
                path,
                allow,
                reason,
            });
        }
    }
    cells
}

/// `explain` on Cedar policies: the route a request takes, the decision, and each policy that
/// decided it with its file and line.
pub fn explain(
    store: &CedarPolicyStore,
    api: &Api,
    keys: &[String],
    method: &str,
    path: &str,
) -> super::explain::Report {
    let method = method.to_ascii_uppercase();
    let caller = if keys.is_empty() {
        "no group".to_owned()
    } else {
        format!("groups (policy keys) {}", keys.join(", "))
    };
    let mut lines = vec![
        format!(
            "policies: Cedar, {} policies over the schema of `{}`",
            store.policies().statements().len(),
            api.title
        ),
        format!("caller: {caller}"),
    ];
    let Some(operation) = api.route_of(&method, path) else {
        lines.push(format!(
            "decision: Deny (403): `{method} {path}` is no route of the API; API Gateway answers before any authorizer runs"
        ));
        return report(lines, json!({ "decision": "deny", "reason": "no_route" }));
    };
    if operation.public {
        lines.push(format!(
            "route: {} {} ({PUBLIC})",
            operation.method, operation.path
        ));
        lines.push("decision: Allow".to_owned());
        return report(lines, json!({ "decision": "allow", "reason": "public" }));
    }
    let action = action_name(&method, &operation.path);
    lines.push(format!(
        "route: {} {} (Cedar action `{}::Action::\"{action}\"`)",
        operation.method,
        operation.path,
        store.schema().namespace()
    ));
    let groups: Vec<&str> = keys.iter().map(String::as_str).collect();
    let decision = decide(store, &groups, &method, &operation.path);
    lines.push(format!("decision: {decision}"));
    let mut deciding = Vec::new();
    for id in &decision.policies {
        let statement = store.policies().statements().iter().find(|s| &s.id == id);
        let place = statement.map(|s| match s.line {
            Some(line) => format!("{}:{line}", s.file),
            None => s.file.clone(),
        });
        lines.push(format!(
            "  {id} ({})",
            place.as_deref().unwrap_or("file unknown")
        ));
        if let Some(statement) = statement {
            for text in statement.text.lines() {
                lines.push(format!("    {text}"));
            }
        }
        deciding.push(json!({
            "id": id,
            "file": statement.map(|s| s.file.clone()),
            "line": statement.and_then(|s| s.line),
        }));
    }
    let json = json!({
        "decision": if decision.allow { "allow" } else { "deny" },
        "reason": decision.code(),
        "action": action,
        "policies": deciding,
        "errors": decision.errors,
    });
    report(lines, json)
}

fn report(lines: Vec<String>, json: Value) -> super::explain::Report {
    super::explain::Report {
        text: lines.join("\n") + "\n",
        json,
    }
}

#[cfg(test)]
mod tests {
    use super::super::SAMPLE_PARAMETER;
    use super::*;

    /// The sample path of a route, as [`routes`] asks it (`/pets/{id}` as `/pets/1`).
    fn sample(route: &str) -> String {
        route
            .split('/')
            .map(|p| {
                if p.starts_with('{') {
                    SAMPLE_PARAMETER
                } else {
                    p
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    fn petstore() -> Api {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        Api::load(&root.join("shared/testkit/fixtures/api/petstore.yaml")).unwrap()
    }

    fn examples() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cedar/policies")
    }

    #[test]
    fn explain_names_the_deciding_policy_with_its_file_and_line() {
        let api = petstore();
        let store = load(&examples(), &api).unwrap();
        let keys = ["pet-viewer".to_owned()];
        let report = explain(
            &store,
            &api,
            &keys,
            "get",
            &sample("/petstore/v1/pets/{id}"),
        );
        assert_eq!(report.json["decision"], "allow", "{}", report.text);
        assert_eq!(report.json["policies"][0]["id"], "pet-viewer.cedar#0");
        assert_eq!(report.json["policies"][0]["file"], "pet-viewer.cedar");
        assert!(
            report
                .text
                .contains("pet-viewer.cedar#0 (pet-viewer.cedar:3)"),
            "{}",
            report.text
        );
        let denied = explain(&store, &api, &[], "POST", "/petstore/v1/pets");
        assert_eq!(denied.json["decision"], "deny");
        assert_eq!(denied.json["reason"], "no_allow");
    }
}
