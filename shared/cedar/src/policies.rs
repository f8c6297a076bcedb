//! A policy set read from `*.cedar` files: each file's policies are named after it
//! (`admin.cedar#0`, `admin.cedar#1`, in the file's order), so a decision's reasons and every
//! error name the file. The set is validated against the API's schema in Cedar's strict mode
//! (<https://docs.cedarpolicy.com/policies/validation.html>), as Verified Permissions validates
//! a store's policies; a parse or validation error names its file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::str::FromStr as _;

use cedar_policy::{
    ActionConstraint, Policy, PolicyId, PolicySet, ResourceConstraint, ValidationMode, Validator,
};
use miette::Diagnostic;

use crate::error::{Error, Problem};
use crate::pool::NamedIds;
use crate::schema::ApiSchema;

/// The extension of a policy file.
pub const EXTENSION: &str = "cedar";

/// One policy of the set, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `admin.cedar#0`.
    pub id: String,
    pub file: String,
    /// The policy's Cedar text, as in its file.
    pub text: String,
    /// The 1-based line of its file it starts on, where known (not for a policy read back
    /// from Verified Permissions' form).
    pub line: Option<usize>,
}

/// A validated policy set and where each of its policies came from.
#[derive(Debug, Clone)]
pub struct CedarPolicies {
    set: PolicySet,
    statements: Vec<Statement>,
    warnings: Vec<Problem>,
    /// The users and groups the policies name.
    ids: NamedIds,
}

impl CedarPolicies {
    /// Every `*.cedar` file directly in `dir`, in name order. A folder with none is an error:
    /// it would deny everyone, which is more likely a wrong folder than a meant policy.
    pub fn load_dir(dir: &Path, schema: &ApiSchema) -> Result<Self, Error> {
        let read_error = |path: &Path, e: std::io::Error| Error::Read {
            path: path.to_owned(),
            message: e.to_string(),
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
            let path = entry.map_err(|e| read_error(dir, e))?.path();
            if path.extension().is_none_or(|e| e != EXTENSION) || !path.is_file() {
                continue;
            }
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| Error::Read {
                    path: path.clone(),
                    message: "a policy file's name is UTF-8".to_owned(),
                })?
                .to_owned();
            let text = std::fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
            files.push((name, text));
        }
        if files.is_empty() {
            return Err(Error::Read {
                path: dir.to_owned(),
                message: format!("no `*.{EXTENSION}` policy file"),
            });
        }
        files.sort();
        Self::from_files(&files, schema)
    }

    /// The policies of `files`, each a name (`admin.cedar`) and its Cedar text.
    pub fn from_files(files: &[(String, String)], schema: &ApiSchema) -> Result<Self, Error> {
        let mut set = PolicySet::new();
        let mut statements = Vec::new();
        let mut problems = Vec::new();
        let mut texts = BTreeMap::new();
        for (file, text) in files {
            if texts.insert(file.as_str(), text.as_str()).is_some() {
                problems.push(Problem {
                    file: file.clone(),
                    line: None,
                    message: "two policy files have this name".to_owned(),
                });
                continue;
            }
            match parse_file(file, text) {
                Ok(policies) => {
                    for policy in policies {
                        let policy_text = policy.to_string();
                        // A policy parsed from text prints as its own span of that text.
                        let line = text
                            .find(&policy_text)
                            .and_then(|at| text.get(..at))
                            .map(|before| before.matches('\n').count() + 1);
                        statements.push(Statement {
                            id: policy.id().to_string(),
                            file: file.clone(),
                            text: policy_text,
                            line,
                        });
                        if let Err(e) = set.add(policy) {
                            problems.push(Problem {
                                file: file.clone(),
                                line: None,
                                message: e.to_string(),
                            });
                        }
                    }
                }
                Err(mut found) => problems.append(&mut found),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Policies(problems));
        }
        let result = Validator::new(schema.schema().clone()).validate(&set, ValidationMode::Strict);
        let locate = |id: &PolicyId, diagnostic: &dyn Diagnostic, message: String| {
            let file = file_of(id);
            let text = texts.get(file).copied().unwrap_or_default();
            Problem {
                file: file.to_owned(),
                line: line_of(diagnostic, text),
                message,
            }
        };
        let problems: Vec<Problem> = result
            .validation_errors()
            .map(|e| locate(e.policy_id(), e, e.to_string()))
            .collect();
        if !problems.is_empty() {
            return Err(Error::Policies(problems));
        }
        let warnings = result
            .validation_warnings()
            .map(|w| locate(w.policy_id(), w, w.to_string()))
            .collect();
        let ids = named_ids(&set, &statements).map_err(|p| Error::Policies(vec![p]))?;
        Ok(Self {
            set,
            statements,
            warnings,
            ids,
        })
    }

    pub fn set(&self) -> &PolicySet {
        &self.set
    }

    /// The policies in file order, then in each file's order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// The users and groups the policies name, and in which form: with Cedar, its `groups` are
    /// the groups there are, since no other file lists them.
    pub fn named_ids(&self) -> &NamedIds {
        &self.ids
    }

    /// The policies that can apply to no route the authorizer decides, and why: every action
    /// they name is of a public route (API Gateway runs no authorizer for it), or their
    /// resource is not the API, `Application::"{application}"`. `decided` holds the action
    /// names of the routes the authorizer decides (`get /pets`).
    pub fn matching_no_route(&self, decided: &BTreeSet<String>, application: &str) -> Vec<Problem> {
        let mut problems = Vec::new();
        for statement in &self.statements {
            let Some(policy) = self.set.policy(&PolicyId::new(&statement.id)) else {
                continue;
            };
            let problem = |message: String| Problem {
                file: statement.file.clone(),
                line: statement.line,
                message: format!("`{}` matches no route: {message}", statement.id),
            };
            let actions = match policy.action_constraint() {
                ActionConstraint::Any => None,
                ActionConstraint::Eq(uid) => Some(vec![uid]),
                ActionConstraint::In(uids) => Some(uids),
            };
            if let Some(actions) = actions
                && !actions.iter().any(|a| decided.contains(a.id().unescaped()))
            {
                let names: Vec<String> = actions.iter().map(ToString::to_string).collect();
                problems.push(problem(format!(
                    "its actions ({}) are only of public routes, for which no authorizer runs",
                    names.join(", ")
                )));
            }
            let resource = match policy.resource_constraint() {
                ResourceConstraint::In(uid) | ResourceConstraint::Eq(uid) => Some(uid),
                ResourceConstraint::IsIn(_, uid) => Some(uid),
                ResourceConstraint::Any | ResourceConstraint::Is(_) => None,
            };
            if let Some(uid) = resource
                && uid.id().unescaped() != application
            {
                problems.push(problem(format!(
                    "its resource `{uid}` is not the API, whose every request is on `Application::\"{application}\"`"
                )));
            }
        }
        problems
    }

    /// What Cedar's validator warns of without refusing the set (a policy that can never
    /// apply, for one), each with its file and line.
    pub fn warnings(&self) -> &[Problem] {
        &self.warnings
    }

    /// A set read back from its statements (as Verified Permissions stores them: one Cedar
    /// policy each, under its id), validated as [`CedarPolicies::from_files`] does.
    pub(crate) fn from_statements(
        statements: Vec<Statement>,
        schema: &ApiSchema,
    ) -> Result<Self, Error> {
        let mut set = PolicySet::new();
        for statement in &statements {
            let policy = Policy::parse(Some(PolicyId::new(&statement.id)), &statement.text)
                .map_err(|e| Error::Import(format!("policy `{}`: {e}", statement.id)))?;
            set.add(policy)
                .map_err(|e| Error::Import(format!("policy `{}`: {e}", statement.id)))?;
        }
        let result = Validator::new(schema.schema().clone()).validate(&set, ValidationMode::Strict);
        if let Some(e) = result.validation_errors().next() {
            return Err(Error::Import(format!("policy `{}`: {e}", e.policy_id())));
        }
        let ids = named_ids(&set, &statements).map_err(|p| Error::Import(p.message))?;
        Ok(Self {
            set,
            statements,
            warnings: Vec::new(),
            ids,
        })
    }
}

impl CedarPolicies {
    /// A set read back from statements stored with their files and lines (a
    /// [`crate::CedarBundle`]), validated strictly as [`CedarPolicies::from_files`] does. Every
    /// problem names the policy's file and the line in it, counted from where the statement
    /// says the policy starts.
    pub(crate) fn from_stored(
        statements: Vec<Statement>,
        schema: &ApiSchema,
    ) -> Result<Self, Error> {
        let at = |statement: &Statement, diagnostic: &dyn Diagnostic| {
            let within = line_of(diagnostic, &statement.text);
            match (statement.line, within) {
                (Some(start), Some(within)) => Some(start + within - 1),
                (start, None) => start,
                (None, within) => within,
            }
        };
        let mut set = PolicySet::new();
        let mut problems = Vec::new();
        for statement in &statements {
            let problem = |line, message: String| Problem {
                file: statement.file.clone(),
                line,
                message: format!("`{}`: {message}", statement.id),
            };
            match Policy::parse(Some(PolicyId::new(&statement.id)), &statement.text) {
                Ok(policy) => {
                    if let Err(e) = set.add(policy) {
                        problems.push(problem(statement.line, e.to_string()));
                    }
                }
                Err(e) => problems.push(problem(at(statement, &e), e.to_string())),
            }
        }
        if !problems.is_empty() {
            return Err(Error::Policies(problems));
        }
        let result = Validator::new(schema.schema().clone()).validate(&set, ValidationMode::Strict);
        let problems: Vec<Problem> = result
            .validation_errors()
            .map(|e| {
                let id: &str = e.policy_id().as_ref();
                match statements.iter().find(|s| s.id == id) {
                    Some(statement) => Problem {
                        file: statement.file.clone(),
                        line: at(statement, e),
                        message: format!("`{id}`: {e}"),
                    },
                    None => Problem {
                        file: file_of_id(id).to_owned(),
                        line: None,
                        message: format!("`{id}`: {e}"),
                    },
                }
            })
            .collect();
        if !problems.is_empty() {
            return Err(Error::Policies(problems));
        }
        let ids = named_ids(&set, &statements).map_err(|p| Error::Policies(vec![p]))?;
        Ok(Self {
            set,
            statements,
            warnings: Vec::new(),
            ids,
        })
    }
}

/// What the policies of `set` name, each of `statements`. A set names its users in one form:
/// by `sub` (groupgate's) or by `{userPoolId}|{sub}` (Verified Permissions'), since the
/// principal of a decision has one id; a set that names both has a policy that could never
/// match, which for a `forbid` would leave a denial unsaid, so it is refused.
fn named_ids(set: &PolicySet, statements: &[Statement]) -> Result<NamedIds, Problem> {
    let mut ids = NamedIds::default();
    let (mut by_sub, mut by_pool) = (None, None);
    for statement in statements {
        let Some(policy) = set.policy(&PolicyId::new(&statement.id)) else {
            continue;
        };
        // A policy parsed from text always has a JSON form.
        let json = policy.to_json().map_err(|e| Problem {
            file: statement.file.clone(),
            line: statement.line,
            message: format!("`{}`: {e}", statement.id),
        })?;
        let mut own = NamedIds::default();
        own.add(&json);
        if own.users_by_sub {
            by_sub = by_sub.or(Some(statement));
        }
        if own.users_by_pool {
            by_pool = by_pool.or(Some(statement));
        }
        ids.extend(own);
    }
    if let (Some(by_sub), Some(by_pool)) = (by_sub, by_pool) {
        return Err(Problem {
            file: by_pool.file.clone(),
            line: by_pool.line,
            message: format!(
                "`{}` names a user as Verified Permissions does (`{{userPoolId}}|{{sub}}`) and `{}` names one by its `sub`: a set names its users one way, since a caller has one id (`groupgate cedar import` takes the pool ids off)",
                by_pool.id, by_sub.id
            ),
        });
    }
    Ok(ids)
}

/// The file a policy id names: `admin.cedar` of `admin.cedar#0`.
fn file_of(id: &PolicyId) -> &str {
    file_of_id(id.as_ref())
}

pub(crate) fn file_of_id(id: &str) -> &str {
    id.rsplit_once('#').map_or(id, |(file, _)| file)
}

/// A file's static policies, named `{file}#{n}` in the file's order; or every problem found.
fn parse_file(file: &str, text: &str) -> Result<Vec<Policy>, Vec<Problem>> {
    let parsed = PolicySet::from_str(text).map_err(|errors| {
        errors
            .iter()
            .map(|e| Problem {
                file: file.to_owned(),
                line: line_of(e, text),
                message: e.to_string(),
            })
            .collect::<Vec<_>>()
    })?;
    if let Some(template) = parsed.templates().next() {
        return Err(vec![Problem {
            file: file.to_owned(),
            line: None,
            message: format!(
                "a template (a policy with `?principal` or `?resource`) is not supported: {}",
                first_line(&template.to_string())
            ),
        }]);
    }
    // Cedar names a text's policies `policy0`, `policy1`, … in the order written.
    let mut numbered: Vec<(usize, &Policy)> = parsed
        .policies()
        .map(|p| {
            let id: &str = p.id().as_ref();
            let n = id.strip_prefix("policy").and_then(|n| n.parse().ok());
            (n.unwrap_or(usize::MAX), p)
        })
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    Ok(numbered
        .into_iter()
        .enumerate()
        .map(|(n, (_, p))| p.new_id(PolicyId::new(format!("{file}#{n}"))))
        .collect())
}

/// The 1-based line of the first place a diagnostic labels in `text`.
fn line_of(diagnostic: &(impl Diagnostic + ?Sized), text: &str) -> Option<usize> {
    let offset = diagnostic.labels()?.next()?.offset();
    let before = text.get(..offset)?;
    Some(before.matches('\n').count() + 1)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> ApiSchema {
        ApiSchema::for_routes("petstore", &[("GET", "/pets"), ("POST", "/pets")]).unwrap()
    }

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
            .collect()
    }

    const VIEWER: &str = r#"// Viewers read.
permit (
    principal in petstore::UserGroup::"viewer",
    action == petstore::Action::"get /pets",
    resource
);

forbid (principal, action == petstore::Action::"post /pets", resource);
"#;

    #[test]
    fn each_policy_is_named_after_its_file_in_order() {
        let loaded =
            CedarPolicies::from_files(&files(&[("viewer.cedar", VIEWER)]), &schema()).unwrap();
        let ids: Vec<&str> = loaded.statements().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["viewer.cedar#0", "viewer.cedar#1"]);
        assert!(loaded.statements()[1].text.starts_with("forbid"));
        assert_eq!(loaded.set().policies().count(), 2);
        assert_eq!(Vec::from_iter(&loaded.named_ids().groups), ["viewer"]);
        assert_eq!(loaded.statements()[0].line, Some(2));
        assert_eq!(loaded.statements()[1].line, Some(8));
        assert!(loaded.warnings().is_empty());
    }

    #[test]
    fn a_policy_of_public_routes_only_or_another_resource_matches_no_route() {
        let text = r#"permit (principal, action == petstore::Action::"get /pets", resource);
permit (principal, action in [petstore::Action::"post /pets"], resource);
permit (principal, action, resource == petstore::Application::"other");
permit (principal, action, resource == petstore::Application::"petstore");
"#;
        let loaded = CedarPolicies::from_files(&files(&[("p.cedar", text)]), &schema()).unwrap();
        // `GET /pets` is public: only `post /pets` is decided.
        let decided = BTreeSet::from(["post /pets".to_owned()]);
        let problems = loaded.matching_no_route(&decided, "petstore");
        let found: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(found.len(), 2, "{found:#?}");
        assert!(found[0].starts_with("p.cedar:1: `p.cedar#0` matches no route: its actions (petstore::Action::\"get /pets\") are only of public routes"), "{found:#?}");
        assert!(found[1].starts_with("p.cedar:3: `p.cedar#2` matches no route: its resource `petstore::Application::\"other\"`"), "{found:#?}");
    }

    #[test]
    fn a_parse_error_names_its_file_and_line() {
        let text =
            "permit (principal, action, resource);\n\npermit (principal action, resource);\n";
        let e = CedarPolicies::from_files(&files(&[("bad.cedar", text)]), &schema()).unwrap_err();
        let Error::Policies(problems) = &e else {
            panic!("{e}")
        };
        assert_eq!(problems[0].file, "bad.cedar");
        assert_eq!(problems[0].line, Some(3), "{e}");
        assert!(e.to_string().contains("bad.cedar:3: "), "{e}");
    }

    #[test]
    fn a_validation_error_names_its_file_line_and_cedars_message() {
        let text = "permit (principal, action, resource);\npermit (\n  principal,\n  action == petstore::Action::\"delete /pets\",\n  resource\n);\n";
        let e = CedarPolicies::from_files(
            &files(&[("ok.cedar", VIEWER), ("typo.cedar", text)]),
            &schema(),
        )
        .unwrap_err();
        let Error::Policies(problems) = &e else {
            panic!("{e}")
        };
        assert_eq!(problems.len(), 1, "{e}");
        assert_eq!(problems[0].file, "typo.cedar");
        assert_eq!(problems[0].line, Some(4), "{e}");
        assert!(problems[0].message.contains("delete /pets"), "{e}");
    }

    #[test]
    fn strict_mode_refuses_an_unknown_entity_type() {
        let text = "permit (principal in petstore::Team::\"a\", action, resource);\n";
        let e = CedarPolicies::from_files(&files(&[("team.cedar", text)]), &schema()).unwrap_err();
        assert!(e.to_string().contains("team.cedar:1: "), "{e}");
    }

    #[test]
    fn a_set_names_its_users_one_way() {
        let mixed = files(&[
            (
                "a.cedar",
                r#"permit (principal == petstore::User::"alice", action, resource);"#,
            ),
            (
                "b.cedar",
                r#"forbid (principal == petstore::User::"us-east-1_AbC|mallory", action, resource);"#,
            ),
        ]);
        let Err(Error::Policies(problems)) = CedarPolicies::from_files(&mixed, &schema()) else {
            panic!("a set naming users both ways was accepted");
        };
        assert_eq!(problems[0].file, "b.cedar", "{problems:?}");
        assert!(problems[0].message.contains("`a.cedar#0`"), "{problems:?}");
        // Groups may be named both ways: a caller is a member of both.
        let groups = files(&[(
            "a.cedar",
            r#"permit (principal in petstore::UserGroup::"us-east-1_AbC|staff", action, resource)
when { principal in petstore::UserGroup::"viewer" };"#,
        )]);
        let ids = CedarPolicies::from_files(&groups, &schema()).unwrap();
        let ids = ids.named_ids();
        assert!(ids.groups_by_pool && !ids.users_by_pool && !ids.users_by_sub);
        assert_eq!(Vec::from_iter(ids.pools.iter()), ["us-east-1_AbC"]);
    }

    #[test]
    fn a_template_is_refused_with_its_file() {
        let text = "permit (principal == ?principal, action, resource);\n";
        let e = CedarPolicies::from_files(&files(&[("t.cedar", text)]), &schema()).unwrap_err();
        assert!(e.to_string().contains("t.cedar: a template"), "{e}");
    }

    #[test]
    fn a_folder_is_read_by_extension_and_an_empty_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("viewer.cedar"), VIEWER).unwrap();
        std::fs::write(dir.path().join("README.md"), "not a policy").unwrap();
        let loaded = CedarPolicies::load_dir(dir.path(), &schema()).unwrap();
        assert_eq!(loaded.statements().len(), 2);
        let empty = tempfile::tempdir().unwrap();
        let e = CedarPolicies::load_dir(empty.path(), &schema()).unwrap_err();
        assert!(e.to_string().ends_with("no `*.cedar` policy file"), "{e}");
    }
}
