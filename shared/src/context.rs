//! The hand-off between the two Lambdas: what the authorizer puts in API Gateway's context, how
//! the backend reads the caller back (from that context, or from a Cognito user pool
//! authorizer's claims), and the one rule for which IAM role the caller acts as.
//!
//! API Gateway passes the authorizer's context to the backend as `requestContext.authorizer`,
//! with `principalId` added. Context values must be flat strings, numbers or booleans, so the
//! group list travels as a JSON array inside a string.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::claims::{CognitoClaims, TokenUse};
use crate::group::GroupPolicy;

/// The keys of the context, written and read only through this module.
mod key {
    pub const PRINCIPAL_ID: &str = "principalId";
    pub const SUB: &str = "sub";
    pub const USERNAME: &str = "username";
    pub const GROUPS: &str = "groups";
    pub const TOKEN_USE: &str = "token_use";
    pub const ROLE_ARN: &str = "role_arn";
    /// Where a Cognito user pool authorizer puts the token's claims instead.
    pub const CLAIMS: &str = "claims";
}

/// The context variables an integration's request parameters may map from (`context.stage`)
/// that groupgate's stack and its local gateway both honour: a subset of API Gateway's
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference
pub const MAPPED_CONTEXT_VARIABLES: &[&str] = &[
    "requestId",
    "stage",
    "httpMethod",
    "resourcePath",
    "apiId",
    "accountId",
];

/// The keys of the authorizer's context, as an integration's request parameters name them
/// (`context.authorizer.sub`). `role_arn` is absent when the caller has no role.
pub const CONTEXT_KEYS: &[&str] = &[
    key::PRINCIPAL_ID,
    key::SUB,
    key::USERNAME,
    key::GROUPS,
    key::TOKEN_USE,
    key::ROLE_ARN,
];

/// What the authorizer returns as `context`, serialized to the flat shape API Gateway accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerContext {
    pub sub: String,
    pub username: String,
    pub groups: Vec<String>,
    pub token_use: TokenUse,
    /// The role the caller acts as, chosen by [`choose_role`]; absent when there is none.
    pub role_arn: Option<String>,
}

impl AuthorizerContext {
    /// The context for a verified caller and the entries of their groups.
    pub fn new(claims: &CognitoClaims, groups: &[Arc<GroupPolicy>]) -> Self {
        let by_group = lowest_precedence_role(groups);
        Self {
            sub: claims.sub.clone(),
            username: claims.username().to_owned(),
            groups: claims.groups.clone(),
            token_use: claims.token_use,
            role_arn: choose_role(claims.preferred_role.as_deref(), &claims.roles, by_group)
                .ok()
                .map(str::to_owned),
        }
    }
}

impl Serialize for AuthorizerContext {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap};
        let groups = serde_json::to_string(&self.groups).map_err(S::Error::custom)?;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry(key::SUB, &self.sub)?;
        map.serialize_entry(key::USERNAME, &self.username)?;
        map.serialize_entry(key::GROUPS, &groups)?;
        map.serialize_entry(key::TOKEN_USE, self.token_use.as_str())?;
        if let Some(role) = &self.role_arn {
            map.serialize_entry(key::ROLE_ARN, role)?;
        }
        map.end()
    }
}

/// The caller of a backend request, from either authorizer shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub sub: String,
    pub username: String,
    pub groups: Vec<String>,
    /// The role our authorizer chose (`role_arn`).
    pub role_arn: Option<String>,
    /// `cognito:preferred_role` from a Cognito authorizer's claims.
    pub preferred_role: Option<String>,
    /// `cognito:roles` from a Cognito authorizer's claims.
    pub roles: Vec<String>,
}

/// Why the request context does not name a caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the request carries no caller identity")]
    Missing,
    #[error("the caller identity in the request context is malformed: {0}")]
    Malformed(String),
}

impl Caller {
    /// Reads the caller from `requestContext.authorizer`: our authorizer's flat context, or a
    /// Cognito user pool authorizer's `claims` object (in which API Gateway has turned every
    /// claim into a string).
    pub fn from_authorizer_fields(fields: &HashMap<String, Value>) -> Result<Self, IdentityError> {
        match fields.get(key::CLAIMS) {
            Some(Value::Object(claims)) => from_cognito_claims(claims),
            Some(_) => Err(IdentityError::Malformed("`claims` is not an object".into())),
            None if fields.contains_key(key::PRINCIPAL_ID) || fields.contains_key(key::SUB) => {
                from_lambda_context(fields)
            }
            None => Err(IdentityError::Missing),
        }
    }

    /// The role this caller acts as, by [`choose_role`]: the one our authorizer chose, else the
    /// one the Cognito claims name.
    pub fn role(&self) -> Result<&str, NoRole> {
        match &self.role_arn {
            Some(role) => Ok(role),
            None => choose_role(self.preferred_role.as_deref(), &self.roles, None),
        }
    }
}

/// Why a caller has no role to act as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoRole {
    /// No role is named, or several and none is preferred: we do not guess.
    None,
    /// `cognito:preferred_role` is not one of the caller's `cognito:roles`.
    PreferredNotAmongRoles,
}

/// Which IAM role a caller acts as: the token's `cognito:preferred_role`, which must be one of
/// its `cognito:roles`; else the role of the caller's group with the lowest precedence in the
/// policy table (`by_group`); else the only entry of `cognito:roles`.
pub fn choose_role<'a>(
    preferred: Option<&'a str>,
    roles: &'a [String],
    by_group: Option<&'a str>,
) -> Result<&'a str, NoRole> {
    if let Some(preferred) = preferred {
        return if roles.iter().any(|r| r == preferred) {
            Ok(preferred)
        } else {
            Err(NoRole::PreferredNotAmongRoles)
        };
    }
    if let Some(role) = by_group {
        return Ok(role);
    }
    match roles {
        [only] => Ok(only),
        _ => Err(NoRole::None),
    }
}

/// The role of the group with the lowest precedence (ties: the token's group order; groups
/// without a precedence come last).
fn lowest_precedence_role(groups: &[Arc<GroupPolicy>]) -> Option<&str> {
    groups
        .iter()
        .filter_map(|g| Some((g.precedence.unwrap_or(i64::MAX), g.role_arn.as_deref()?)))
        .min_by_key(|(precedence, _)| *precedence)
        .map(|(_, role)| role)
}

fn string<'a>(
    map: impl Fn(&str) -> Option<&'a Value>,
    key: &str,
) -> Result<Option<&'a str>, IdentityError> {
    match map(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(IdentityError::Malformed(format!("`{key}` is not a string"))),
    }
}

fn from_lambda_context(fields: &HashMap<String, Value>) -> Result<Caller, IdentityError> {
    let get = |key: &str| fields.get(key);
    let sub = string(get, key::SUB)?
        .or(string(get, key::PRINCIPAL_ID)?)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| IdentityError::Malformed("neither `sub` nor `principalId` is set".into()))?;
    let groups = match string(get, key::GROUPS)? {
        None => Vec::new(),
        Some(json) => serde_json::from_str::<Vec<String>>(json).map_err(|e| {
            IdentityError::Malformed(format!("`groups` is not a JSON array of strings: {e}"))
        })?,
    };
    Ok(Caller {
        sub: sub.to_owned(),
        username: string(get, key::USERNAME)?.unwrap_or(sub).to_owned(),
        groups,
        role_arn: string(get, key::ROLE_ARN)?.map(str::to_owned),
        preferred_role: None,
        roles: Vec::new(),
    })
}

fn from_cognito_claims(claims: &serde_json::Map<String, Value>) -> Result<Caller, IdentityError> {
    let get = |key: &str| claims.get(key);
    let sub = string(get, "sub")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| IdentityError::Malformed("claim `sub` is missing or empty".into()))?;
    let username = string(get, "cognito:username")?
        .or(string(get, "username")?)
        .unwrap_or(sub);
    Ok(Caller {
        sub: sub.to_owned(),
        username: username.to_owned(),
        groups: claim_list(claims.get("cognito:groups"), "cognito:groups")?,
        role_arn: None,
        preferred_role: string(get, "cognito:preferred_role")?.map(str::to_owned),
        roles: claim_list(claims.get("cognito:roles"), "cognito:roles")?,
    })
}

/// A list claim as API Gateway delivers it: a comma-separated string (`a,b`, the REST API
/// Cognito authorizer), a bracketed space-separated string (`[a b]`, as HTTP API JWT authorizers
/// write it), or, should it ever arrive unflattened, a JSON array.
///
/// Cognito allows commas in group names, so a name with a comma cannot be told apart from two
/// names here; the authorizer's `groups` (a real JSON array) has no such ambiguity.
pub fn claim_list(value: Option<&Value>, key: &str) -> Result<Vec<String>, IdentityError> {
    let split = |s: &str, separators: &[char]| -> Vec<String> {
        s.split(separators)
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect()
    };
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => match s.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            Some(inner) => Ok(split(inner, &[' ', ','])),
            None => Ok(split(s, &[','])),
        },
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str().map(str::to_owned).ok_or_else(|| {
                    IdentityError::Malformed(format!("`{key}` has a non-string entry"))
                })
            })
            .collect(),
        Some(_) => Err(IdentityError::Malformed(format!("`{key}` is not a list"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> HashMap<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    fn group(name: &str, precedence: Option<i64>, role: Option<&str>) -> Arc<GroupPolicy> {
        Arc::new(GroupPolicy {
            group: name.to_owned(),
            policy: Err(crate::PolicyError("unused".to_owned())),
            role_arn: role.map(str::to_owned),
            precedence,
        })
    }

    fn roles(list: &[&str]) -> Vec<String> {
        list.iter().map(|r| (*r).to_owned()).collect()
    }

    /// Found by the `identity` fuzz target: a Cognito authorizer's claims with an empty `sub`
    /// named a caller no one is. Neither shape may give a caller without a subject.
    #[test]
    fn an_empty_subject_is_no_caller_in_either_shape() {
        let cognito = fields(json!({"claims": {"sub": "", "cognito:username": "boss"}}));
        assert!(matches!(
            Caller::from_authorizer_fields(&cognito),
            Err(IdentityError::Malformed(_))
        ));
        let lambda = fields(json!({"sub": "", "principalId": "", "username": "vet"}));
        assert!(matches!(
            Caller::from_authorizer_fields(&lambda),
            Err(IdentityError::Malformed(_))
        ));
    }

    #[test]
    fn preferred_role_then_lowest_precedence_group_then_a_single_role() {
        let groups = [
            group("a", None, Some("arn:a")),
            group("b", Some(5), Some("arn:b")),
            group("c", Some(1), None),
            group("d", Some(2), Some("arn:d")),
        ];
        let by_group = lowest_precedence_role(&groups);
        assert_eq!(by_group, Some("arn:d"));
        let both = roles(&["arn:p", "arn:q"]);
        assert_eq!(choose_role(Some("arn:p"), &both, by_group), Ok("arn:p"));
        assert_eq!(choose_role(None, &both, by_group), Ok("arn:d"));
        assert_eq!(choose_role(None, &roles(&["arn:r"]), None), Ok("arn:r"));
        assert_eq!(choose_role(None, &both, None), Err(NoRole::None));
        assert_eq!(choose_role(None, &[], None), Err(NoRole::None));
    }

    /// Issue #9, row 11: a preferred role that is not among the caller's roles is refused,
    /// whichever Lambda asks.
    #[test]
    fn a_preferred_role_outside_the_roles_is_refused() {
        assert_eq!(
            choose_role(Some("arn:p"), &roles(&["arn:q"]), Some("arn:d")),
            Err(NoRole::PreferredNotAmongRoles)
        );
        let caller = Caller::from_authorizer_fields(&fields(json!({"claims": {"sub": "s",
            "cognito:preferred_role": "arn:p", "cognito:roles": "arn:q,arn:r"}})))
        .unwrap();
        assert_eq!(caller.role(), Err(NoRole::PreferredNotAmongRoles));
    }

    #[test]
    fn lambda_authorizer_context_is_read() {
        let c = Caller::from_authorizer_fields(&fields(json!({"principalId": "s-1", "sub": "s-1", "username": "vet",
            "groups": "[\"pet-veterinarian\",\"a b\"]", "role_arn": "arn:aws:iam::1:role/r", "token_use": "access"})))
        .unwrap();
        assert_eq!(c.sub, "s-1");
        assert_eq!(c.username, "vet");
        assert_eq!(c.groups, ["pet-veterinarian", "a b"]);
        assert_eq!(c.role(), Ok("arn:aws:iam::1:role/r"));
    }

    #[test]
    fn cognito_authorizer_claims_are_read_from_their_string_forms() {
        let c = Caller::from_authorizer_fields(&fields(
            json!({"claims": {"sub": "s-2", "cognito:username": "boss",
            "cognito:groups": "admin,pet-veterinarian",
            "cognito:roles": "arn:aws:iam::1:role/a,arn:aws:iam::1:role/v",
            "cognito:preferred_role": "arn:aws:iam::1:role/a", "token_use": "id"}}),
        ))
        .unwrap();
        assert_eq!(c.username, "boss");
        assert_eq!(c.groups, ["admin", "pet-veterinarian"]);
        assert_eq!(c.roles, ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/v"]);
        assert_eq!(c.role(), Ok("arn:aws:iam::1:role/a"));
    }

    #[test]
    fn list_claims_come_in_several_string_forms() {
        let list = |v: Value| claim_list(Some(&v), "k").unwrap();
        assert_eq!(list(json!("admin")), ["admin"]);
        assert_eq!(list(json!("admin,vet")), ["admin", "vet"]);
        assert_eq!(list(json!("[admin vet]")), ["admin", "vet"]);
        assert_eq!(list(json!("[admin, vet]")), ["admin", "vet"]);
        assert_eq!(list(json!(["admin", "vet"])), ["admin", "vet"]);
        assert!(list(json!("")).is_empty());
        assert!(list(json!("[]")).is_empty());
        assert!(claim_list(Some(&json!(7)), "k").is_err());
    }

    #[test]
    fn no_authorizer_fields_is_missing_identity() {
        assert_eq!(
            Caller::from_authorizer_fields(&HashMap::new()),
            Err(IdentityError::Missing)
        );
    }

    #[test]
    fn malformed_contexts_are_rejected_with_the_reason() {
        for (v, needle) in [
            (
                json!({"principalId": "s", "groups": "pet-veterinarian"}),
                "`groups`",
            ),
            (json!({"principalId": 5}), "`principalId`"),
            (json!({"claims": "x"}), "`claims`"),
            (json!({"claims": {"cognito:username": "u"}}), "`sub`"),
        ] {
            let err = Caller::from_authorizer_fields(&fields(v))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    mod round_trip {
        use super::*;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            // Commas, quotes, brackets, spaces, escapes and non-ASCII: what could confuse a
            // flattened or re-parsed representation.
            "[a-zA-Z0-9 ,\\[\\]\"\\\\é@:/_-]{0,24}"
        }

        proptest! {
            /// What the authorizer writes, passed through API Gateway (`principalId` added, the
            /// context's values as they are), the backend reads back unchanged.
            #[test]
            fn the_backend_reads_what_the_authorizer_writes(
                sub in "[a-z0-9-]{1,36}",
                username in text(),
                groups in proptest::collection::vec(text(), 0..6),
                role_arn in proptest::option::of(text()),
                access in any::<bool>(),
            ) {
                let written = AuthorizerContext {
                    sub: sub.clone(),
                    username: username.clone(),
                    groups: groups.clone(),
                    token_use: if access { TokenUse::Access } else { TokenUse::Id },
                    role_arn: role_arn.clone(),
                };
                let mut fields: HashMap<String, Value> =
                    serde_json::from_value(serde_json::to_value(&written).unwrap()).unwrap();
                prop_assert!(fields.values().all(|v| v.is_string()), "flat strings only");
                fields.insert(key::PRINCIPAL_ID.to_owned(), json!(sub));
                let read = Caller::from_authorizer_fields(&fields).unwrap();
                prop_assert_eq!(read.sub, sub);
                prop_assert_eq!(read.username, username);
                prop_assert_eq!(read.groups, groups);
                prop_assert_eq!(read.role_arn, role_arn);
            }
        }
    }
}
