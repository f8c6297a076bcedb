//! Who is calling, from what API Gateway put in `requestContext.authorizer`.
//!
//! Two shapes arrive there: our Lambda authorizer's flat context (`principalId`, `sub`,
//! `username`, `groups` as a JSON array string, `role_arn`), or a Cognito user pool authorizer's
//! `claims` object, in which API Gateway has turned every claim into a string.

use std::collections::HashMap;

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub sub: String,
    pub username: String,
    pub groups: Vec<String>,
    /// The role our authorizer chose for the caller (`role_arn`).
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

/// Reads the caller from the authorizer fields of a REST API request context.
pub fn caller(fields: &HashMap<String, Value>) -> Result<Caller, IdentityError> {
    match fields.get("claims") {
        Some(Value::Object(claims)) => from_cognito_claims(claims),
        Some(_) => Err(IdentityError::Malformed("`claims` is not an object".into())),
        None if fields.contains_key("principalId") || fields.contains_key("sub") => {
            from_lambda_context(fields)
        }
        None => Err(IdentityError::Missing),
    }
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
    let sub = string(get, "sub")?
        .or(string(get, "principalId")?)
        .ok_or_else(|| IdentityError::Malformed("neither `sub` nor `principalId` is set".into()))?;
    let groups = match string(get, "groups")? {
        None => Vec::new(),
        Some(json) => serde_json::from_str::<Vec<String>>(json).map_err(|e| {
            IdentityError::Malformed(format!("`groups` is not a JSON array of strings: {e}"))
        })?,
    };
    Ok(Caller {
        sub: sub.to_owned(),
        username: string(get, "username")?.unwrap_or(sub).to_owned(),
        groups,
        role_arn: string(get, "role_arn")?.map(str::to_owned),
        preferred_role: None,
        roles: Vec::new(),
    })
}

fn from_cognito_claims(claims: &serde_json::Map<String, Value>) -> Result<Caller, IdentityError> {
    let get = |key: &str| claims.get(key);
    let sub = string(get, "sub")?
        .ok_or_else(|| IdentityError::Malformed("claim `sub` is missing".into()))?;
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

    #[test]
    fn lambda_authorizer_context_is_read() {
        let c = caller(&fields(json!({"principalId": "s-1", "sub": "s-1", "username": "vet",
            "groups": "[\"pet-veterinarian\",\"a b\"]", "role_arn": "arn:aws:iam::1:role/r", "token_use": "access"})))
        .unwrap();
        assert_eq!(c.sub, "s-1");
        assert_eq!(c.username, "vet");
        assert_eq!(c.groups, ["pet-veterinarian", "a b"]);
        assert_eq!(c.role_arn.as_deref(), Some("arn:aws:iam::1:role/r"));
    }

    #[test]
    fn cognito_authorizer_claims_are_read_from_their_string_forms() {
        let c = caller(&fields(
            json!({"claims": {"sub": "s-2", "cognito:username": "boss",
            "cognito:groups": "admin,pet-veterinarian",
            "cognito:roles": "arn:aws:iam::1:role/a,arn:aws:iam::1:role/v",
            "cognito:preferred_role": "arn:aws:iam::1:role/a", "token_use": "id"}}),
        ))
        .unwrap();
        assert_eq!(c.username, "boss");
        assert_eq!(c.groups, ["admin", "pet-veterinarian"]);
        assert_eq!(c.roles, ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/v"]);
        assert_eq!(c.preferred_role.as_deref(), Some("arn:aws:iam::1:role/a"));
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
        assert_eq!(caller(&HashMap::new()), Err(IdentityError::Missing));
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
            let err = caller(&fields(v)).unwrap_err().to_string();
            assert!(err.contains(needle), "{err}");
        }
    }
}
