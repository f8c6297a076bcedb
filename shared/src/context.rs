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

use crate::claims::{CognitoClaims, PrincipalType, TokenUse};
use crate::group::GroupPolicy;

/// The keys of the context, written and read only through this module.
mod key {
    pub const PRINCIPAL_ID: &str = "principalId";
    pub const SUB: &str = "sub";
    pub const USERNAME: &str = "username";
    pub const GROUPS: &str = "groups";
    pub const TOKEN_USE: &str = "token_use";
    pub const ROLE_ARN: &str = "role_arn";
    pub const PRINCIPAL_TYPE: &str = "principal_type";
    pub const CLIENT_ID: &str = "client_id";
    pub const POOL: &str = "pool";
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
/// (`context.authorizer.sub`). `role_arn` is absent when the caller has no role, `client_id`
/// when the token names no app client, `pool` for the pool whose groups have no prefix.
pub const CONTEXT_KEYS: &[&str] = &[
    key::PRINCIPAL_ID,
    key::SUB,
    key::USERNAME,
    key::GROUPS,
    key::TOKEN_USE,
    key::ROLE_ARN,
    key::PRINCIPAL_TYPE,
    key::CLIENT_ID,
    key::POOL,
];

/// The keys of [`CONTEXT_KEYS`] the authorizer leaves out for some callers: an integration that
/// maps one would hand the service nothing for those callers, or whatever the client sent.
pub const OPTIONAL_CONTEXT_KEYS: &[&str] = &[key::ROLE_ARN, key::CLIENT_ID, key::POOL];

/// What the authorizer returns as `context`, serialized to the flat shape API Gateway accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerContext {
    pub sub: String,
    pub username: String,
    pub groups: Vec<String>,
    pub token_use: TokenUse,
    /// The role the caller acts as, chosen by [`choose_role`]; absent when there is none, and
    /// always for a machine client.
    pub role_arn: Option<String>,
    pub principal_type: PrincipalType,
    /// The app client the token was issued to (`client_id`, or an ID token's `aud`).
    pub client_id: Option<String>,
    /// The `group_prefix` of the pool the token came from, when it has one: `groups` are the
    /// token's own names, which only name a policy under this prefix (`partners:`).
    pub pool: Option<String>,
}

impl AuthorizerContext {
    /// The context for a verified caller of `principal_type` and the entries of the policies
    /// it was authorized by. A machine client acts as no role: a scope's entry names none it
    /// could take, and it has no groups.
    pub fn new(
        claims: &CognitoClaims,
        principal_type: PrincipalType,
        policies: &[Arc<GroupPolicy>],
        group_prefix: &str,
    ) -> Self {
        let role_arn = match principal_type {
            PrincipalType::Client => None,
            PrincipalType::User => choose_role(
                claims.preferred_role.as_deref(),
                &claims.roles,
                lowest_precedence_role(policies),
            )
            .ok()
            .map(str::to_owned),
        };
        Self {
            sub: claims.sub.clone(),
            username: claims.username().to_owned(),
            groups: claims.groups.clone(),
            token_use: claims.token_use,
            role_arn,
            principal_type,
            client_id: claims.client_id.clone().or_else(|| claims.aud.clone()),
            pool: (!group_prefix.is_empty()).then(|| group_prefix.to_owned()),
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
        map.serialize_entry(key::PRINCIPAL_TYPE, self.principal_type.as_str())?;
        if let Some(client) = &self.client_id {
            map.serialize_entry(key::CLIENT_ID, client)?;
        }
        if let Some(pool) = &self.pool {
            map.serialize_entry(key::POOL, pool)?;
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
    /// A person, or a machine client (which never acts as a group's role).
    pub principal_type: PrincipalType,
    /// The app client the caller's token was issued to, when known.
    pub client_id: Option<String>,
    /// The `group_prefix` of the caller's pool, when it has one (`pool`).
    pub pool: Option<String>,
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
    /// one the Cognito claims name. A machine client has none, whatever the context says.
    pub fn role(&self) -> Result<&str, NoRole> {
        if self.principal_type == PrincipalType::Client {
            return Err(NoRole::None);
        }
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
    // A context without `principal_type` was written before machine clients were told apart,
    // when every caller was a person.
    let principal_type = match string(get, key::PRINCIPAL_TYPE)? {
        None | Some("user") => PrincipalType::User,
        Some("client") => PrincipalType::Client,
        Some(other) => {
            return Err(IdentityError::Malformed(format!(
                "`principal_type` is `{}`, not `user` or `client`",
                crate::untrusted::Untrusted(other)
            )));
        }
    };
    Ok(Caller {
        sub: sub.to_owned(),
        username: string(get, key::USERNAME)?.unwrap_or(sub).to_owned(),
        groups,
        role_arn: string(get, key::ROLE_ARN)?.map(str::to_owned),
        preferred_role: None,
        roles: Vec::new(),
        principal_type,
        client_id: string(get, key::CLIENT_ID)?.map(str::to_owned),
        pool: string(get, key::POOL)?.map(str::to_owned),
    })
}

fn from_cognito_claims(claims: &serde_json::Map<String, Value>) -> Result<Caller, IdentityError> {
    let get = |key: &str| claims.get(key);
    let sub = string(get, "sub")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| IdentityError::Malformed("claim `sub` is missing or empty".into()))?;
    let named = string(get, "cognito:username")?.or(string(get, "username")?);
    let client_id = string(get, "client_id")?.or(string(get, "aud")?);
    let groups = claim_list(claims.get("cognito:groups"), "cognito:groups")?;
    // The same rule as [`CognitoClaims::principal_type`], on the claims as strings.
    let principal_type = if named.is_none()
        && groups.is_empty()
        && string(get, "token_use")? == Some("access")
        && client_id == Some(sub)
    {
        PrincipalType::Client
    } else {
        PrincipalType::User
    };
    Ok(Caller {
        sub: sub.to_owned(),
        username: named.unwrap_or(sub).to_owned(),
        groups,
        role_arn: None,
        preferred_role: string(get, "cognito:preferred_role")?.map(str::to_owned),
        roles: claim_list(claims.get("cognito:roles"), "cognito:roles")?,
        principal_type,
        client_id: client_id.map(str::to_owned),
        // A Cognito authorizer serves one pool, with no prefix.
        pool: None,
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
    fn a_machine_client_never_acts_as_a_role_whatever_the_context_says() {
        let c =
            Caller::from_authorizer_fields(&fields(json!({"principalId": "app1", "sub": "app1",
            "username": "app1", "groups": "[]", "role_arn": "arn:aws:iam::1:role/r",
            "token_use": "access", "principal_type": "client", "client_id": "app1"})))
            .unwrap();
        assert_eq!(c.principal_type, PrincipalType::Client);
        assert_eq!(c.client_id.as_deref(), Some("app1"));
        assert_eq!(c.role(), Err(NoRole::None));
        // A context from before principal types names a person, who keeps the chosen role.
        let older = Caller::from_authorizer_fields(&fields(json!({"principalId": "s", "sub": "s",
            "role_arn": "arn:aws:iam::1:role/r"})))
        .unwrap();
        assert_eq!(older.principal_type, PrincipalType::User);
        assert_eq!(older.role(), Ok("arn:aws:iam::1:role/r"));
        let odd =
            Caller::from_authorizer_fields(&fields(json!({"sub": "s", "principal_type": "robot"})))
                .unwrap_err();
        assert!(odd.to_string().contains("`principal_type`"), "{odd}");
    }

    #[test]
    fn a_cognito_authorizers_client_credentials_claims_name_a_client_without_a_role() {
        let c = Caller::from_authorizer_fields(&fields(json!({"claims": {"sub": "app1",
            "client_id": "app1", "token_use": "access", "scope": "petstore/pets.read",
            "cognito:roles": "arn:aws:iam::1:role/a"}})))
        .unwrap();
        assert_eq!(c.principal_type, PrincipalType::Client);
        assert_eq!(c.role(), Err(NoRole::None));
        let person = Caller::from_authorizer_fields(&fields(json!({"claims": {"sub": "u-1",
            "client_id": "app1", "token_use": "access", "username": "alice",
            "cognito:roles": "arn:aws:iam::1:role/a"}})))
        .unwrap();
        assert_eq!(person.principal_type, PrincipalType::User);
        assert_eq!(person.role(), Ok("arn:aws:iam::1:role/a"));
    }

    #[test]
    fn the_authorizer_gives_a_client_no_role_even_when_a_scope_entry_names_one() {
        let claims = CognitoClaims::from_json(
            br#"{"sub":"app1","client_id":"app1","iss":"i","token_use":"access","exp":2,"iat":1,
            "scope":"petstore/pets.read"}"#,
        )
        .unwrap();
        let entries = [group("scope:petstore/pets.read", Some(1), Some("arn:r"))];
        let client = AuthorizerContext::new(&claims, PrincipalType::Client, &entries, "");
        assert_eq!(client.role_arn, None);
        assert_eq!(client.client_id.as_deref(), Some("app1"));
        let written = serde_json::to_value(&client).unwrap();
        assert_eq!(written["principal_type"], "client");
        assert_eq!(written["client_id"], "app1");
        assert!(
            written.get("pool").is_none(),
            "the unprefixed pool is named by no key"
        );
        let person = AuthorizerContext::new(&claims, PrincipalType::User, &entries, "");
        assert_eq!(person.role_arn.as_deref(), Some("arn:r"));
        assert_eq!(
            serde_json::to_value(&person).unwrap()["principal_type"],
            "user"
        );
    }

    #[test]
    fn a_caller_of_a_prefixed_pool_is_named_with_its_prefix() {
        let claims = CognitoClaims::from_json(
            br#"{"sub":"u1","client_id":"web","iss":"i","token_use":"access","exp":2,"iat":1,
            "username":"ann","cognito:groups":["admin"]}"#,
        )
        .unwrap();
        let context = AuthorizerContext::new(&claims, PrincipalType::User, &[], "partners:");
        let mut fields: HashMap<String, Value> =
            serde_json::from_value(serde_json::to_value(&context).unwrap()).unwrap();
        assert_eq!(fields["pool"], "partners:");
        assert_eq!(fields["groups"], r#"["admin"]"#);
        fields.insert(key::PRINCIPAL_ID.to_owned(), json!("u1"));
        let caller = Caller::from_authorizer_fields(&fields).unwrap();
        assert_eq!(caller.pool.as_deref(), Some("partners:"));
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
                client in any::<bool>(),
                client_id in proptest::option::of("[a-z0-9]{1,26}"),
                pool in proptest::option::of("[a-z0-9-]{1,12}:"),
            ) {
                let written = AuthorizerContext {
                    sub: sub.clone(),
                    username: username.clone(),
                    groups: groups.clone(),
                    token_use: if access { TokenUse::Access } else { TokenUse::Id },
                    role_arn: role_arn.clone(),
                    principal_type: if client { PrincipalType::Client } else { PrincipalType::User },
                    client_id: client_id.clone(),
                    pool: pool.clone(),
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
                prop_assert_eq!(read.client_id, client_id);
                prop_assert_eq!(read.pool, pool);
                prop_assert_eq!(
                    read.principal_type,
                    if client { PrincipalType::Client } else { PrincipalType::User }
                );
            }
        }
    }
}
