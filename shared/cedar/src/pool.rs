//! groupgate's entity ids and Verified Permissions' pool-qualified ones.
//!
//! A policy is written before the stack creates its user pool, so groupgate's own policies name
//! a group by its policy key (`UserGroup::"admin"`, `UserGroup::"partners:admin"` for another
//! pool's group under its `group_prefix`) and a caller by its `sub` (`User::"{sub}"`). A
//! Verified Permissions store with a Cognito identity source names them `"{userPoolId}|admin"`
//! and `"{userPoolId}|{sub}"`
//! (<https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/identity-sources-cognito.html>).
//! [`qualify`] rewrites one policy into that form given the pool id, [`unqualify`] back. A store
//! has one identity source, so a key of another pool or of a scope (one with a `:`) has no
//! Verified Permissions form and is refused.
//!
//! A set need not be rewritten to be decided: [`NamedIds`] says which form a set names its
//! users and groups in, and the decision names a caller of a known pool in that form too
//! (`crate::CedarPolicyStore::caller_in_pool`).

use std::collections::BTreeSet;

use cedar_policy::{Policy, PolicyId};
use serde_json::Value;

use crate::error::Error;
use crate::policies::Statement;
use crate::schema::{USER, USER_GROUP};

/// `statement` with its users and groups named as Verified Permissions names them for the pool
/// `pool_id`.
pub(crate) fn qualify(statement: &Statement, pool_id: &str) -> Result<Statement, Error> {
    check_pool_id(pool_id)?;
    rewrite(statement, |kind, id| {
        if kind == USER_GROUP && id.contains(':') {
            return Err(format!(
                "the group `{id}` belongs to another pool or is a scope, and a Verified Permissions store has one identity source"
            ));
        }
        Ok(format!("{pool_id}|{id}"))
    })
}

/// `statement`, read from Verified Permissions' form for the pool `pool_id`, with its users and
/// groups named as groupgate names them. An id of another pool (or of none) is refused.
pub(crate) fn unqualify(statement: &Statement, pool_id: &str) -> Result<Statement, Error> {
    check_pool_id(pool_id)?;
    let prefix = format!("{pool_id}|");
    rewrite(statement, |kind, id| {
        id.strip_prefix(&prefix)
            .map(str::to_owned)
            .ok_or_else(|| format!("the {kind} `{id}` is not of the pool `{pool_id}`"))
    })
}

pub(crate) fn check_pool_id(pool_id: &str) -> Result<(), Error> {
    if pool_id.is_empty() || pool_id.contains('|') {
        return Err(Error::Import(format!(
            "`{pool_id}` is not a user pool id (`us-east-1_AbCdEf123`)"
        )));
    }
    Ok(())
}

/// The statement with every `User` and `UserGroup` entity id passed through `map` (given the
/// entity type's own name and the id), through Cedar's JSON form of the policy, so that only
/// entity references are touched, wherever they are (scope or condition). The text comes back
/// as Cedar prints it: the file's comments do not survive.
fn rewrite(
    statement: &Statement,
    map: impl Fn(&str, &str) -> Result<String, String>,
) -> Result<Statement, Error> {
    let failed = |e: String| Error::Import(format!("policy `{}`: {e}", statement.id));
    let id = PolicyId::new(&statement.id);
    let policy =
        Policy::parse(Some(id.clone()), &statement.text).map_err(|e| failed(e.to_string()))?;
    let mut json = policy.to_json().map_err(|e| failed(e.to_string()))?;
    walk(&mut json, &map).map_err(failed)?;
    let policy = Policy::from_json(Some(id), json).map_err(|e| failed(e.to_string()))?;
    Ok(Statement {
        id: statement.id.clone(),
        file: statement.file.clone(),
        text: policy.to_string(),
        line: statement.line,
    })
}

/// Cedar's JSON policy names an entity as an object `{"type": "ns::UserGroup", "id": "admin"}`,
/// in the scope and (under `__entity`) in conditions.
/// <https://docs.cedarpolicy.com/policies/json-format.html>
fn walk(
    value: &mut Value,
    map: &impl Fn(&str, &str) -> Result<String, String>,
) -> Result<(), String> {
    match value {
        Value::Object(object) => {
            let kind = pool_entity(object).map(str::to_owned);
            if let (Some(kind), Some(Value::String(id))) = (kind, object.get_mut("id")) {
                *id = map(&kind, id)?;
                return Ok(());
            }
            object.values_mut().try_for_each(|v| walk(v, map))
        }
        Value::Array(items) => items.iter_mut().try_for_each(|v| walk(v, map)),
        _ => Ok(()),
    }
}

/// The entity type's own name (`User`, `UserGroup`) when `object` names a pool's entity, as
/// Cedar's JSON form of a policy does: `{"type": "ns::UserGroup", "id": "admin"}`.
fn pool_entity(object: &serde_json::Map<String, Value>) -> Option<&str> {
    object
        .get("type")
        .and_then(Value::as_str)
        .and_then(|t| t.rsplit("::").next())
        .filter(|kind| [USER, USER_GROUP].contains(kind))
}

/// The users and groups a policy set names, by the form of their ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamedIds {
    /// Every group id (`admin`, `partners:admin`, `us-east-1_AbC|admin`).
    pub groups: BTreeSet<String>,
    /// Whether a user is named by its `sub` alone.
    pub users_by_sub: bool,
    /// Whether a user is named as Verified Permissions names it, `{userPoolId}|{sub}`.
    pub users_by_pool: bool,
    /// Whether a group is named as Verified Permissions names it, `{userPoolId}|{group}`.
    pub groups_by_pool: bool,
    /// The user pools the pool-qualified ids name.
    pub pools: BTreeSet<String>,
}

impl NamedIds {
    /// Adds what `other` holds (another policy's ids).
    pub(crate) fn extend(&mut self, other: Self) {
        self.groups.extend(other.groups);
        self.users_by_sub |= other.users_by_sub;
        self.users_by_pool |= other.users_by_pool;
        self.groups_by_pool |= other.groups_by_pool;
        self.pools.extend(other.pools);
    }

    /// Adds what a policy's JSON form names.
    pub(crate) fn add(&mut self, policy: &Value) {
        visit(policy, &mut |kind, id| {
            let pool = pool_of(id);
            if let Some(pool) = pool {
                self.pools.insert(pool.to_owned());
            }
            if kind == USER_GROUP {
                self.groups.insert(id.to_owned());
                self.groups_by_pool |= pool.is_some();
            } else if pool.is_some() {
                self.users_by_pool = true;
            } else {
                self.users_by_sub = true;
            }
        });
    }
}

/// The user pool of a Verified Permissions id (`us-east-1_AbC` of `us-east-1_AbC|admin`): the
/// part before the first `|`, when it has the form of a pool id, `{region}_{id}` (Cognito's
/// pattern `[\w-]+_[0-9a-zA-Z]+`,
/// <https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_DescribeUserPool.html>).
/// A Cognito group name may itself hold a `|`, so an id is only read as pool-qualified when its
/// first part is a pool id.
pub fn pool_of(id: &str) -> Option<&str> {
    let (pool, rest) = id.split_once('|')?;
    let (region, name) = pool.split_once('_')?;
    let word = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let fits = !rest.is_empty()
        && !region.is_empty()
        && region.chars().all(word)
        && !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    fits.then_some(pool)
}

/// Calls `found` with the entity type's own name and the id of every `User` and `UserGroup` a
/// policy's JSON form names, anywhere in it.
fn visit(value: &Value, found: &mut impl FnMut(&str, &str)) {
    match value {
        Value::Object(object) => {
            if let (Some(kind), Some(Value::String(id))) = (pool_entity(object), object.get("id")) {
                found(kind, id);
                return;
            }
            object.values().for_each(|v| visit(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| visit(v, found)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statement(text: &str) -> Statement {
        Statement {
            id: "a.cedar#0".to_owned(),
            file: "a.cedar".to_owned(),
            text: text.to_owned(),
            line: None,
        }
    }

    #[test]
    fn groups_and_users_are_qualified_in_the_scope_and_the_conditions() {
        let s = statement(
            r#"permit (principal in api::UserGroup::"admin", action, resource == api::Application::"api")
when { principal == api::User::"alice" || principal in [api::UserGroup::"viewer"] };"#,
        );
        let q = qualify(&s, "us-east-1_Pool").unwrap();
        assert!(
            q.text.contains(r#"api::UserGroup::"us-east-1_Pool|admin""#),
            "{}",
            q.text
        );
        assert!(
            q.text.contains(r#"api::User::"us-east-1_Pool|alice""#),
            "{}",
            q.text
        );
        assert!(
            q.text
                .contains(r#"api::UserGroup::"us-east-1_Pool|viewer""#),
            "{}",
            q.text
        );
        // The application is not a pool's entity.
        assert!(q.text.contains(r#"api::Application::"api""#), "{}", q.text);
        let back = unqualify(&q, "us-east-1_Pool").unwrap();
        assert_eq!(
            Policy::parse(None, &back.text).unwrap().to_json().unwrap(),
            Policy::parse(None, &s.text).unwrap().to_json().unwrap()
        );
    }

    #[test]
    fn an_id_is_pool_qualified_only_when_it_starts_with_a_pool_id() {
        assert_eq!(pool_of("us-east-1_AbC123|admin"), Some("us-east-1_AbC123"));
        assert_eq!(pool_of("us-east-1_AbC123|a|b"), Some("us-east-1_AbC123"));
        // A Cognito group name may hold a `|`.
        for id in [
            "admin",
            "a|b",
            "us-east-1_AbC123|",
            "_AbC|x",
            "us-east-1_Ab-C|x",
            "|x",
        ] {
            assert_eq!(pool_of(id), None, "{id}");
        }
    }

    #[test]
    fn another_pools_group_or_a_scope_has_no_verified_permissions_form() {
        for key in ["partners:admin", "scope:petstore/status.read"] {
            let s = statement(&format!(
                r#"permit (principal in api::UserGroup::"{key}", action, resource);"#
            ));
            let e = qualify(&s, "us-east-1_Pool").unwrap_err();
            assert!(e.to_string().contains(&format!("`{key}`")), "{e}");
            assert!(e.to_string().contains("a.cedar#0"), "{e}");
        }
    }

    #[test]
    fn an_id_of_another_pool_is_refused_on_the_way_back() {
        let s = statement(
            r#"permit (principal in api::UserGroup::"eu-west-1_Other|admin", action, resource);"#,
        );
        let e = unqualify(&s, "us-east-1_Pool").unwrap_err();
        assert!(
            e.to_string()
                .contains("is not of the pool `us-east-1_Pool`"),
            "{e}"
        );
        let e = qualify(&s, "bad|pool").unwrap_err();
        assert!(
            e.to_string().contains("`bad|pool` is not a user pool id"),
            "{e}"
        );
    }
}
