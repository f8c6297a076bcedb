//! A policy set read from `*.cedar` files: each file's policies are named after it
//! (`admin.cedar#0`, `admin.cedar#1`, in the file's order), so a decision's reasons and every
//! error name the file. The set is validated against the API's schema in Cedar's strict mode
//! (<https://docs.cedarpolicy.com/policies/validation.html>), as Verified Permissions validates
//! a store's policies; a parse or validation error names its file and line.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr as _;

use cedar_policy::{Policy, PolicyId, PolicySet, ValidationMode, Validator};
use miette::Diagnostic;

use crate::error::{Error, Problem};
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
}

/// A validated policy set and where each of its policies came from.
#[derive(Debug, Clone)]
pub struct CedarPolicies {
    set: PolicySet,
    statements: Vec<Statement>,
    warnings: Vec<Problem>,
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
                        statements.push(Statement {
                            id: policy.id().to_string(),
                            file: file.clone(),
                            text: policy.to_string(),
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
        Ok(Self {
            set,
            statements,
            warnings,
        })
    }

    pub fn set(&self) -> &PolicySet {
        &self.set
    }

    /// The policies in file order, then in each file's order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
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
        Ok(Self {
            set,
            statements,
            warnings: Vec::new(),
        })
    }
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
        assert!(loaded.warnings().is_empty());
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
