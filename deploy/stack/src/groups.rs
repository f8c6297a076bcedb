//! Group definitions: one JSON file per Cognito group in `policies/`, the single source of the
//! groups, their API policies and their data permissions for the template, the policy table and
//! the local stack.

use std::path::{Path, PathBuf};

use groupgate_shared::PolicyDocument;
use serde::Deserialize;

/// What a group's IAM role may do on the pets table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataAccess {
    /// Also when the definition does not say: an API other than the petstore has no pets table.
    #[default]
    None,
    Read,
    ReadWrite,
}

impl DataAccess {
    /// The DynamoDB actions this level grants.
    pub fn actions(self) -> &'static [&'static str] {
        match self {
            DataAccess::None => &[],
            DataAccess::Read => &["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query"],
            DataAccess::ReadWrite => &[
                "dynamodb:GetItem",
                "dynamodb:Scan",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
            ],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupDefinition {
    pub group: String,
    pub precedence: u32,
    pub description: String,
    #[serde(default)]
    pub pets_table: DataAccess,
    /// The API policy, as written (validated with the shared parser on load).
    pub policy: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("cannot read `{path}`: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("`{path}`: {}{message}", pointer.as_ref().map(|p| format!("{p}: ")).unwrap_or_default())]
    Invalid {
        path: PathBuf,
        /// The JSON pointer of what is wrong, when one field is.
        pointer: Option<String>,
        message: String,
    },
}

impl GroupError {
    /// The JSON pointer of the field in error, when one field is.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            GroupError::Invalid { pointer, .. } => pointer.as_deref(),
            GroupError::Read { .. } => None,
        }
    }

    /// What is wrong, without the file's name (and pointer) in front.
    pub fn message(&self) -> String {
        match self {
            GroupError::Invalid { message, .. } => message.clone(),
            GroupError::Read { error, .. } => format!("cannot read it: {error}"),
        }
    }
}

/// The JSON pointer (RFC 6901) of a field serde could not read; the whole document for a
/// missing field.
fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push_str(&crate::api::token(key))
            }
            Segment::Unknown => pointer.push('?'),
        }
    }
    if pointer.is_empty() {
        pointer.push('/');
    }
    pointer
}

impl GroupDefinition {
    /// Parses and validates one definition; `path` is for messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, GroupError> {
        let at = |pointer: Option<String>, message: String| GroupError::Invalid {
            path: path.to_owned(),
            pointer,
            message,
        };
        let invalid = |message: String| at(None, message);
        // Read strictly: a key named twice (in the policy above all) is an error, never the
        // last of the two silently winning.
        let value =
            groupgate_shared::json::parse_unique(text).map_err(|e| invalid(e.to_string()))?;
        // Through serde_path_to_error, so the error names the field (`/pets_table`), not only
        // what was wrong with it.
        let definition: GroupDefinition = serde_path_to_error::deserialize(value)
            .map_err(|e| at(Some(json_pointer(e.path())), e.into_inner().to_string()))?;
        // Cognito's own rule for group names.
        let name_ok = !definition.group.is_empty()
            && definition.group.chars().count() <= 128
            && !definition.group.chars().any(char::is_whitespace);
        if !name_ok {
            return Err(at(
                Some("/group".to_owned()),
                format!(
                    "group name `{}` must be 1-128 characters without whitespace",
                    definition.group
                ),
            ));
        }
        PolicyDocument::from_value(definition.policy.clone()).map_err(|e| {
            at(
                Some("/policy".to_owned()),
                format!("group `{}`: {e}", definition.group),
            )
        })?;
        Ok(definition)
    }

    /// The policy as the compact JSON text stored in the policy table.
    pub fn policy_text(&self) -> String {
        self.policy.to_string()
    }

    /// A CloudFormation-safe id fragment: `pet-veterinarian` -> `PetVeterinarian`.
    pub fn logical_name(&self) -> String {
        crate::construct::id_fragment(&self.group)
    }
}

/// Loads every `*.json` in `dir`, sorted by group name; group names and their logical names must
/// be unique.
pub fn load(dir: &Path) -> Result<Vec<GroupDefinition>, GroupError> {
    let read_error = |error| GroupError::Read {
        path: dir.to_owned(),
        error,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut groups = Vec::with_capacity(paths.len());
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|error| GroupError::Read {
            path: path.clone(),
            error,
        })?;
        let group = GroupDefinition::parse(&path, &text)?;
        if let Some(twin) = groups.iter().find(|g: &&GroupDefinition| {
            g.group == group.group || g.logical_name() == group.logical_name()
        }) {
            return Err(GroupError::Invalid {
                path,
                pointer: Some("/group".to_owned()),
                message: format!(
                    "group `{}` clashes with group `{}`",
                    group.group, twin.group
                ),
            });
        }
        groups.push(group);
    }
    if groups.is_empty() {
        return Err(GroupError::Invalid {
            path: dir.to_owned(),
            pointer: None,
            message: "no group definitions (*.json) found".to_owned(),
        });
    }
    groups.sort_by(|a, b| a.group.cmp(&b.group));
    Ok(groups)
}

/// The variable that names another policies folder than the checkout's (every command's
/// `--policies` default, `scripts/dev.sh`, and the tests that hold for whatever groups the
/// product defines: `scripts/test.sh toolbox` rehearses a policy author's new group with it).
pub const POLICIES_VARIABLE: &str = "GROUPGATE_POLICIES";

/// The policies folder: `GROUPGATE_POLICIES` when set, else the checkout's `policies/`.
pub fn default_dir() -> PathBuf {
    match std::env::var_os(POLICIES_VARIABLE) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => super::settings::checkout_root().join("policies"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_definitions_load() {
        let groups = load(&default_dir()).unwrap();
        let names: Vec<_> = groups.iter().map(|g| g.group.as_str()).collect();
        assert_eq!(names, ["admin", "pet-veterinarian", "pet-viewer"]);
        assert_eq!(groups[1].logical_name(), "PetVeterinarian");
    }

    #[test]
    fn a_definition_without_pets_table_gives_its_role_no_access_to_it() {
        let ok_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}]}"#;
        let text =
            format!(r#"{{"group":"g","precedence":1,"description":"d","policy":{ok_policy}}}"#);
        let definition = GroupDefinition::parse(Path::new("policies/g.json"), &text).unwrap();
        assert_eq!(definition.pets_table, DataAccess::None);
        assert!(definition.pets_table.actions().is_empty());
    }

    #[test]
    fn invalid_definitions_are_refused_naming_the_file_and_problem() {
        let path = Path::new("policies/bad.json");
        let ok_policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        for (text, needle) in [
            (
                format!(
                    r#"{{"group":"g","precedence":1,"description":"d","pets_table":"read","policy":{}}}"#,
                    ok_policy.replace("\"Allow\"", "\"allow\"")
                ),
                "`allow`",
            ),
            (
                format!(
                    r#"{{"group":"g","precedence":1,"description":"d","pets_table":"everything","policy":{ok_policy}}}"#
                ),
                "everything",
            ),
            (
                format!(
                    r#"{{"group":"a b","precedence":1,"description":"d","pets_table":"read","policy":{ok_policy}}}"#
                ),
                "`a b`",
            ),
            (
                format!(
                    r#"{{"group":"g","precedence":-1,"description":"d","pets_table":"read","policy":{ok_policy}}}"#
                ),
                "-1",
            ),
            (
                format!(
                    r#"{{"group":"g","precedence":1,"description":"d","pets_table":"read","policy":{ok_policy},"extra":1}}"#
                ),
                "`extra`",
            ),
        ] {
            let err = GroupDefinition::parse(path, &text).unwrap_err().to_string();
            assert!(err.starts_with("`policies/bad.json`"), "{err}");
            assert!(err.contains(needle), "{err}");
        }
    }
}
