//! Policy definitions: one JSON file in `policies/` per Cognito group, or per OAuth scope that
//! machine clients are authorized by, the single source of the groups, the scopes, their API
//! policies and their data permissions for the template, the policy table and the local stack.
//!
//! A definition names what it is for: `"group": "admin"` (people in that group) or
//! `"scope": "petstore/pets.read"` (machine clients granted that scope, by the client-credentials
//! flow), and, for another trusted pool than the stack's own, `"pool"`: that pool's
//! `group_prefix` from `deploy/groupgate.toml`'s `[[pools]]`. Its key in the policy table is what
//! the authorizer looks up: the prefix, then the group, or `scope:` and the scope.
//!
//! With `policy_language = "cedar"` the folder's `*.cedar` files say what groups may call, and a
//! definition says only who a group is (its Cognito group, precedence and role): it has no
//! `policy`, and one with a `policy` is refused.

use std::path::{Path, PathBuf};

use groupgate_shared::PolicyDocument;
use serde::Deserialize;

use crate::settings::PolicyLanguage;

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

/// Whom a definition's policy is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The people in a Cognito group (`cognito:groups`).
    Group(String),
    /// The machine clients whose access token carries a custom scope: `{resource server}/{name}`.
    Scope(String),
}

impl Subject {
    /// `group` or `scope`, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Group(_) => "group",
            Subject::Scope(_) => "scope",
        }
    }
}

/// One file of `policies/`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupDefinition {
    /// The policy table's key, which the authorizer looks up: the pool's prefix, then the group,
    /// or `scope:` and the scope (`admin`, `partners:admin`, `scope:petstore/pets.read`).
    pub key: String,
    pub subject: Subject,
    /// The `group_prefix` of the pool whose callers it is for; empty for the stack's own pool.
    pub pool: String,
    /// The Cognito group's precedence; 0 for a scope (a machine client has no role to choose).
    pub precedence: u32,
    pub description: String,
    pub pets_table: DataAccess,
    /// The API policy, as written (validated with the shared parser on load); none with Cedar
    /// policies, where access is in the `*.cedar` files.
    pub policy: Option<serde_json::Value>,
}

/// A definition as written in its file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    group: Option<String>,
    scope: Option<String>,
    pool: Option<String>,
    precedence: Option<u32>,
    description: String,
    pets_table: Option<DataAccess>,
    policy: Option<serde_json::Value>,
}

/// What is wrong with a definition: the field (none: the whole definition), and why.
type FieldError = (Option<&'static str>, String);

impl Written {
    /// Whom it is for, with the group's precedence and pets-table access (a scope has neither:
    /// a machine client has no role).
    fn subject(&mut self) -> Result<(Subject, u32, DataAccess), FieldError> {
        let subject = match (self.group.take(), self.scope.take()) {
            (Some(group), None) => {
                check_group_name(&group).map_err(|m| (Some("group"), m))?;
                Subject::Group(group)
            }
            (None, Some(scope)) => {
                check_scope(&scope).map_err(|m| (Some("scope"), m))?;
                // Cognito's ScopeDescription: 1-256 characters.
                let length = self.description.chars().count();
                if !(1..=256).contains(&length) {
                    return Err((
                        Some("description"),
                        format!(
                            "a scope's description is its ScopeDescription in Cognito: 1-256 characters, not {length}"
                        ),
                    ));
                }
                Subject::Scope(scope)
            }
            _ => {
                return Err((
                    None,
                    "a definition names exactly one of `group` (people in a Cognito group) or `scope` (machine clients granted an OAuth scope)".to_owned(),
                ));
            }
        };
        match (&subject, self.precedence, self.pets_table) {
            (Subject::Group(_), Some(precedence), access) => {
                Ok((subject, precedence, access.unwrap_or_default()))
            }
            (Subject::Group(_), None, _) => Err((None, "missing field `precedence`".to_owned())),
            (Subject::Scope(_), Some(_), _) => Err((
                Some("precedence"),
                "a scope has no precedence: a machine client has no group role to choose"
                    .to_owned(),
            )),
            (Subject::Scope(_), None, Some(_)) => Err((
                Some("pets_table"),
                "a scope has no IAM role, so no pets_table access: the backend never assumes a role for a machine client".to_owned(),
            )),
            (Subject::Scope(_), None, None) => Ok((subject, 0, DataAccess::None)),
        }
    }
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
    /// Parses and validates one IAM definition (its `policy` required); `path` is for messages.
    pub fn parse(path: &Path, text: &str) -> Result<Self, GroupError> {
        Self::parse_in(path, text, PolicyLanguage::Iam)
    }

    /// Parses and validates one definition of a policies folder in `language`: with IAM its
    /// `policy` is required, with Cedar it is refused (access is in the `*.cedar` files).
    pub fn parse_in(path: &Path, text: &str, language: PolicyLanguage) -> Result<Self, GroupError> {
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
        let mut written: Written = serde_path_to_error::deserialize(value)
            .map_err(|e| at(Some(json_pointer(e.path())), e.into_inner().to_string()))?;
        let field = |name: &str, message: String| at(Some(format!("/{name}")), message);
        let (subject, precedence, pets_table) =
            written.subject().map_err(|(name, message)| match name {
                Some(name) => field(name, message),
                None => invalid(message),
            })?;
        let pool = match written.pool {
            None => String::new(),
            Some(prefix) => {
                check_pool_prefix(&prefix).map_err(|m| field("pool", m))?;
                prefix
            }
        };
        let key = match &subject {
            Subject::Group(group) => format!("{pool}{group}"),
            Subject::Scope(scope) => format!("{pool}{SCOPE_MARKER}{scope}"),
        };
        let kind = subject.kind();
        match (language, &written.policy) {
            (PolicyLanguage::Iam, None) => {
                return Err(invalid("missing field `policy`".to_owned()));
            }
            (PolicyLanguage::Iam, Some(policy)) => {
                PolicyDocument::from_value(policy.clone())
                    .map_err(|e| field("policy", format!("{kind} `{key}`: {e}")))?;
            }
            (PolicyLanguage::Cedar, Some(_)) => {
                return Err(field(
                    "policy",
                    format!(
                        "{kind} `{key}` has a `policy`, but with `policy_language = \"cedar\"` access is in the .cedar files: a definition says only who the {kind} is"
                    ),
                ));
            }
            (PolicyLanguage::Cedar, None) => {}
        }
        Ok(GroupDefinition {
            key,
            subject,
            pool,
            precedence,
            description: written.description,
            pets_table,
            policy: written.policy,
        })
    }

    /// The Cognito group of the stack's own pool this definition makes (with its IAM role), if
    /// it makes one: another pool's groups and every scope are made elsewhere.
    pub fn stack_group(&self) -> Option<&str> {
        match &self.subject {
            Subject::Group(group) if self.pool.is_empty() => Some(group),
            _ => None,
        }
    }

    /// The scope of the stack's own pool this definition is for, if it is one: the template
    /// declares it on the pool's resource server.
    pub fn stack_scope(&self) -> Option<&str> {
        match &self.subject {
            Subject::Scope(scope) if self.pool.is_empty() => Some(scope),
            _ => None,
        }
    }

    /// The policy as the compact JSON text stored in the policy table; none with Cedar.
    pub fn policy_text(&self) -> Option<String> {
        self.policy.as_ref().map(serde_json::Value::to_string)
    }

    /// The entry the authorizer reads for this definition once seeded (its policy parsed from
    /// the text the seed writes), with no role: what the toolbox and the tests decide with. A
    /// Cedar definition has no IAM policy, so its entry fails closed (the authorizer's answer
    /// for an item without one).
    pub fn group_policy(&self) -> groupgate_shared::GroupPolicy {
        let policy = match self.policy_text() {
            Some(text) => PolicyDocument::from_json(&text),
            None => Err(groupgate_shared::PolicyError(
                "no IAM policy: access is in the Cedar policies".to_owned(),
            )),
        };
        groupgate_shared::GroupPolicy {
            group: self.key.clone(),
            policy,
            role_arn: None,
            precedence: Some(self.precedence.into()),
        }
    }

    /// A CloudFormation-safe id fragment: `pet-veterinarian` -> `PetVeterinarian`.
    pub fn logical_name(&self) -> String {
        crate::construct::id_fragment(&self.key)
    }
}

pub use groupgate_shared::SCOPE_MARKER;

/// Most scopes one app client may be allowed (`AllowedOAuthScopes`).
pub const MAX_CLIENT_SCOPES: usize = 50;

/// Cognito's rule for group names: 1-128 characters, none of them white space.
fn check_group_name(group: &str) -> Result<(), String> {
    let ok = !group.is_empty()
        && group.chars().count() <= 128
        && !group.chars().any(char::is_whitespace);
    if !ok {
        return Err(format!(
            "group name `{group}` must be 1-128 characters without whitespace"
        ));
    }
    // The policy table's keys starting with `#` are the product's own (`#cedar`, the Cedar
    // bundle's item), never a group's.
    if group.starts_with('#') {
        return Err(format!(
            "group name `{group}` starts with `#`, which the policy table keeps for its own items"
        ));
    }
    if group.starts_with(SCOPE_MARKER) {
        return Err(format!(
            "group name `{group}` starts with `{SCOPE_MARKER}`, which names a scope's policy: the authorizer gives such a group nothing"
        ));
    }
    Ok(())
}

/// A custom scope as Cognito writes it in an access token: `{resource server}/{scope name}`,
/// where the identifier is 1-256 of `[\x21\x23-\x5B\x5D-\x7E]` (it may hold `/`, as a URL
/// does) and the name 1-256 of the same without `/`
/// (<https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ResourceServerType.html>,
/// <https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ResourceServerScopeType.html>).
pub fn split_scope(scope: &str) -> Option<(&str, &str)> {
    let allowed = |b: u8| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b);
    let (server, name) = scope.rsplit_once('/')?;
    let ok = (1..=256).contains(&server.len())
        && (1..=256).contains(&name.len())
        && server.bytes().all(allowed)
        && name.bytes().all(allowed);
    ok.then_some((server, name))
}

/// The name a definition's file should have, without `.json`: its key, each character other
/// than a letter, digit, `.`, `_` or `-` made `-` (`scope:petstore/pets.read` is
/// `scope-petstore-pets.read.json`), so that a file name never needs `/` or `:`.
pub fn file_stem(key: &str) -> String {
    key.chars()
        .map(|c| match c.is_ascii_alphanumeric() || "._-".contains(c) {
            true => c,
            false => '-',
        })
        .collect()
}

/// The template's logical id of a resource server of the stack's own pool.
pub fn resource_server_id(identifier: &str) -> String {
    format!(
        "ResourceServer{}",
        crate::construct::id_fragment(identifier)
    )
}

fn check_scope(scope: &str) -> Result<(), String> {
    // An app client's allowed scope (`ScopeType`) is at most 256 characters in all.
    // https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolClient.html
    if scope.len() > 256 {
        return Err(format!(
            "scope `{scope}` is {} characters: Cognito allows an app client at most 256 for a scope, its resource server's identifier included",
            scope.len()
        ));
    }
    if split_scope(scope).is_none() {
        return Err(format!(
            "scope `{scope}` must be a custom scope as Cognito writes it: `{{resource server identifier}}/{{scope name}}`, each 1-256 printable ASCII characters without spaces, `\"` or `\\`"
        ));
    }
    Ok(())
}

/// A pool is named by its `group_prefix` from `[[pools]]`; the stack's own pool by leaving `pool`
/// out.
fn check_pool_prefix(prefix: &str) -> Result<(), String> {
    if prefix.is_empty() {
        return Err("leave `pool` out for the stack's own pool; another pool is named by its `group_prefix`".to_owned());
    }
    groupgate_shared::check_group_prefix(prefix)
}

/// Loads every `*.json` IAM definition in `dir`, sorted by key; keys, and the logical names of
/// the stack's own groups (their template ids), must be unique, and there is at least one.
pub fn load(dir: &Path) -> Result<Vec<GroupDefinition>, GroupError> {
    load_in(dir, PolicyLanguage::Iam)
}

/// Loads every `*.json` definition in `dir` as [`load`] does, for a folder of `language`'s
/// policies: with Cedar the definitions have no `policy` and may be none at all (a group only
/// the `*.cedar` files name gets no Cognito group or role).
pub fn load_in(dir: &Path, language: PolicyLanguage) -> Result<Vec<GroupDefinition>, GroupError> {
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
        let group = GroupDefinition::parse_in(&path, &text, language)?;
        // Each group's role and Cognito group, and each resource server, has a template id
        // made from its name: two names that make one id would be one resource.
        let server_id = |d: &GroupDefinition| {
            d.stack_scope()
                .and_then(split_scope)
                .map(|(server, _)| (server.to_owned(), resource_server_id(server)))
        };
        let clashes = |g: &&GroupDefinition| {
            let both_groups = matches!(g.subject, Subject::Group(_))
                && matches!(group.subject, Subject::Group(_));
            let servers_clash = match (server_id(g), server_id(&group)) {
                (Some((a, a_id)), Some((b, b_id))) => a != b && a_id == b_id,
                _ => false,
            };
            g.key == group.key
                || (both_groups && g.logical_name() == group.logical_name())
                || servers_clash
        };
        if let Some(twin) = groups.iter().find(clashes) {
            return Err(GroupError::Invalid {
                path,
                pointer: None,
                message: format!("`{}` clashes with `{}`", group.key, twin.key),
            });
        }
        groups.push(group);
    }
    if groups.is_empty() && language == PolicyLanguage::Iam {
        return Err(GroupError::Invalid {
            path: dir.to_owned(),
            pointer: None,
            message: "no policy definitions (*.json) found".to_owned(),
        });
    }
    // The stack's one machine client is allowed every scope of its pool, and a client may be
    // allowed at most 50 (AllowedOAuthScopes).
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-cognito-userpoolclient.html
    let scopes = groups.iter().filter(|g| g.stack_scope().is_some()).count();
    if scopes > MAX_CLIENT_SCOPES {
        return Err(GroupError::Invalid {
            path: dir.to_owned(),
            pointer: None,
            message: format!(
                "{scopes} scopes of the stack's pool: its machine client may be allowed at most {MAX_CLIENT_SCOPES}"
            ),
        });
    }
    groups.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(groups)
}

/// What is wrong with `definition` among trusted pools of these prefixes (the stack's own, `""`,
/// among them), if anything: its pool must be one of them, and its key must be that pool's as
/// the authorizer reads keys (the longest prefix it starts with owns it, see
/// [`groupgate_shared::PolicyNames`]). A stack group named `partners:admin` would otherwise be
/// the `partners:` pool's `admin`, with this definition's policy and role.
pub fn ownership_problem(definition: &GroupDefinition, prefixes: &[&str]) -> Option<String> {
    if !prefixes.contains(&definition.pool.as_str()) {
        return Some(format!(
            "`{}` names pool `{}`, which no `[[pools]]` entry of the settings has as its `group_prefix`",
            definition.key, definition.pool
        ));
    }
    let owner = prefixes
        .iter()
        .filter(|p| definition.key.starts_with(**p))
        .max_by_key(|p| p.len())
        .copied()
        .unwrap_or_default();
    if owner != definition.pool {
        let pool = match definition.pool.as_str() {
            "" => "the stack's own pool".to_owned(),
            other => format!("pool `{other}`"),
        };
        return Some(format!(
            "`{}` is meant for {pool}, but the authorizer would look it up for the members of pool `{owner}` (its name starts with that pool's `group_prefix`): rename it, or say `\"pool\": \"{owner}\"`",
            definition.key
        ));
    }
    None
}

/// Loads `dir` as [`load_in`] does in the settings' policy language, and checks that each definition's pool is the stack's own or
/// one of `settings`' `[[pools]]`: a definition for a pool the authorizer does not trust would
/// be seeded and never match.
pub fn load_for(
    dir: &Path,
    settings: &crate::Settings,
) -> Result<Vec<GroupDefinition>, GroupError> {
    let definitions = load_in(dir, settings.policy_language)?;
    settings
        .check_definitions(&definitions)
        .map_err(|message| GroupError::Invalid {
            path: dir.to_owned(),
            pointer: None,
            message,
        })?;
    Ok(definitions)
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
    fn the_shipped_and_the_fixture_definitions_load_sorted_by_key() {
        // Whatever `policies/` holds loads, in key order; the tests' own copy has fixed names.
        let shipped = load(&default_dir()).unwrap();
        assert!(shipped.windows(2).all(|w| w[0].key < w[1].key));
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/testkit/fixtures/policies");
        let groups = load(&fixture).unwrap();
        let names: Vec<_> = groups.iter().map(|g| g.key.as_str()).collect();
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

    const ALLOW_ALL: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}]}"#;

    fn parsed(fields: &str) -> Result<GroupDefinition, GroupError> {
        let text = format!(r#"{{{fields},"description":"d","policy":{ALLOW_ALL}}}"#);
        GroupDefinition::parse(Path::new("policies/x.json"), &text)
    }

    #[test]
    fn a_definition_is_keyed_by_its_pools_prefix_and_its_group_or_scope() {
        let own = parsed(r#""group":"admin","precedence":1"#).unwrap();
        assert_eq!(own.key, "admin");
        assert_eq!(own.stack_group(), Some("admin"));
        let other = parsed(r#""group":"admin","pool":"partners:","precedence":1"#).unwrap();
        assert_eq!(other.key, "partners:admin");
        assert_eq!(
            other.stack_group(),
            None,
            "another pool's group is not the stack's"
        );
        let scope = parsed(r#""scope":"petstore/pets.read""#).unwrap();
        assert_eq!(scope.key, "scope:petstore/pets.read");
        assert_eq!(scope.stack_scope(), Some("petstore/pets.read"));
        assert_eq!(scope.pets_table, DataAccess::None);
        let url = parsed(r#""scope":"https://api.example.com/pets.read","pool":"b:""#).unwrap();
        assert_eq!(url.key, "b:scope:https://api.example.com/pets.read");
        assert_eq!(url.stack_scope(), None);
        assert_eq!(
            split_scope("https://api.example.com/pets.read"),
            Some(("https://api.example.com", "pets.read"))
        );
    }

    #[test]
    fn a_definition_that_is_not_clearly_a_group_or_a_scope_is_refused() {
        let long = format!(r#""scope":"{}/{}""#, "s".repeat(200), "n".repeat(60));
        for (fields, pointer, needle) in [
            (long.as_str(), Some("/scope"), "at most 256"),
            (r#""precedence":1"#, None, "exactly one of `group`"),
            (
                r#""group":"a","scope":"s/r","precedence":1"#,
                None,
                "exactly one of `group`",
            ),
            (r#""group":"a""#, None, "missing field `precedence`"),
            (
                r#""scope":"petstore/read","precedence":1"#,
                Some("/precedence"),
                "no group role",
            ),
            (
                r#""scope":"petstore/read","pets_table":"read""#,
                Some("/pets_table"),
                "no IAM role",
            ),
            (
                r#""scope":"petstore""#,
                Some("/scope"),
                "{resource server identifier}/{scope name}",
            ),
            (
                r#""scope":"pet store/read""#,
                Some("/scope"),
                "without spaces",
            ),
            (r#""scope":"petstore/""#, Some("/scope"), "1-256"),
            (
                r#""group":"scope:petstore/read","precedence":1"#,
                Some("/group"),
                "names a scope's policy",
            ),
            (
                r#""group":"a","pool":"","precedence":1"#,
                Some("/pool"),
                "leave `pool` out",
            ),
            (
                r#""group":"a","pool":"partners","precedence":1"#,
                Some("/pool"),
                "must end with `:`",
            ),
            (
                r#""group":"a","pool":"part ners:","precedence":1"#,
                Some("/pool"),
                "letters, digits",
            ),
        ] {
            let err = parsed(fields).unwrap_err();
            assert_eq!(err.pointer(), pointer, "{fields}: {err}");
            assert!(err.to_string().contains(needle), "{fields}: {err}");
        }
    }

    #[test]
    fn a_cedar_definition_says_who_a_group_is_and_leaves_access_to_the_cedar_files() {
        let path = Path::new("policies/vet.json");
        let who = r#"{"group":"vet","precedence":10,"description":"d","pets_table":"read"}"#;
        let cedar = GroupDefinition::parse_in(path, who, PolicyLanguage::Cedar).unwrap();
        assert_eq!(cedar.key, "vet");
        assert_eq!(cedar.pets_table, DataAccess::Read);
        assert_eq!(cedar.policy_text(), None);
        let entry = cedar.group_policy();
        assert!(
            entry.policy.is_err(),
            "no IAM policy: its entry allows nothing"
        );

        let err = GroupDefinition::parse(path, who).unwrap_err().to_string();
        assert!(err.contains("missing field `policy`"), "{err}");

        let with_policy =
            format!(r#"{{"group":"vet","precedence":10,"description":"d","policy":{ALLOW_ALL}}}"#);
        let err = GroupDefinition::parse_in(path, &with_policy, PolicyLanguage::Cedar).unwrap_err();
        assert_eq!(err.pointer(), Some("/policy"));
        assert!(
            err.to_string().contains("access is in the .cedar files"),
            "{err}"
        );
    }

    #[test]
    fn a_cedar_folder_may_define_no_group_and_an_iam_folder_may_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("admin.cedar"),
            "permit (principal, action, resource);",
        )
        .unwrap();
        assert_eq!(load_in(dir.path(), PolicyLanguage::Cedar).unwrap(), []);
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no policy definitions"), "{err}");
    }

    #[test]
    fn a_group_named_like_the_tables_own_items_is_refused() {
        let err = parsed(r##""group":"#cedar","precedence":1"##).unwrap_err();
        assert_eq!(err.pointer(), Some("/group"));
        assert!(err.to_string().contains("keeps for its own items"), "{err}");
    }

    #[test]
    fn a_scope_needs_a_description_cognito_takes() {
        let text = format!(r#"{{"scope":"petstore/read","description":"","policy":{ALLOW_ALL}}}"#);
        let err = GroupDefinition::parse(Path::new("policies/x.json"), &text).unwrap_err();
        assert_eq!(err.pointer(), Some("/description"));
        assert!(err.to_string().contains("1-256 characters, not 0"), "{err}");
    }

    #[test]
    fn more_scopes_than_one_client_may_be_allowed_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..=MAX_CLIENT_SCOPES {
            let text =
                format!(r#"{{"scope":"petstore/s{i}","description":"d","policy":{ALLOW_ALL}}}"#);
            std::fs::write(dir.path().join(format!("scope-petstore-s{i}.json")), text).unwrap();
        }
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("may be allowed at most 50"), "{err}");
    }

    #[test]
    fn definitions_whose_keys_or_template_ids_would_be_one_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, fields: &str| {
            let text = format!(r#"{{{fields},"description":"d","policy":{ALLOW_ALL}}}"#);
            std::fs::write(dir.path().join(name), text).unwrap();
        };
        write("a.json", r#""group":"admin","precedence":1"#);
        write("b.json", r#""group":"admin","pool":"p:","precedence":1"#);
        write("c.json", r#""scope":"pet-store/read""#);
        let loaded = load(dir.path()).unwrap();
        let keys: Vec<_> = loaded.iter().map(|d| d.key.as_str()).collect();
        assert_eq!(keys, ["admin", "p:admin", "scope:pet-store/read"]);
        for (name, fields, needle) in [
            (
                "d.json",
                r#""scope":"pet_store/write""#,
                "clashes with `scope:pet-store/read`",
            ),
            (
                "e.json",
                r#""group":"p-admin","precedence":2"#,
                "clashes with `p:admin`",
            ),
        ] {
            write(name, fields);
            let err = load(dir.path()).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
            std::fs::remove_file(dir.path().join(name)).unwrap();
        }
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
