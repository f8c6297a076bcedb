//! How a trusted pool's callers are named in the policy table: a person by the groups in their
//! token, a machine client by the custom scopes in its token, each under the pool's group
//! prefix, so that two pools' groups of one name never share a policy unless configured to.

use std::borrow::Cow;

use crate::Error;
use crate::claims::{CognitoClaims, PrincipalType};
use crate::token::Rejection;
use crate::untrusted::Untrusted;

/// What follows a pool's prefix in the key of a scope's policy: `scope:petstore/pets.read`.
pub const SCOPE_MARKER: &str = "scope:";

/// Most scopes a token may have counted: groupgate's own bound on the work one token causes (a
/// policy key and a table lookup per scope), not a Cognito limit. Cognito allows 100 custom
/// scopes per resource server
/// (<https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_ResourceServerType.html>)
/// and a client may be allowed the scopes of several servers, so a real token can carry more: a
/// token whose scopes count and that carries more is refused (fails closed), never truncated.
pub const MAX_SCOPES: usize = 100;

/// Checks a pool's `group_prefix`: empty (one pool's groups as they are), or 1-63 letters,
/// digits, `-`, `_` or `.` and then `:`. The closing `:` keeps one prefix from being the start
/// of another pool's group name by accident (`tenant` and `tenant-b:`), and makes a key read as
/// `pool:group`.
pub fn check_group_prefix(prefix: &str) -> Result<(), String> {
    let Some(name) = prefix.strip_suffix(':') else {
        return match prefix.is_empty() {
            true => Ok(()),
            false => Err(format!("group prefix `{prefix}` must end with `:`")),
        };
    };
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !ok {
        return Err(format!(
            "group prefix `{prefix}` must be 1-63 letters, digits, `-`, `_` or `.`, then `:`"
        ));
    }
    // `scope:` starts the keys of the unprefixed pool's scopes: a pool with that prefix would
    // have its groups (`scope:` + a group named like a scope) looked up as those scopes' keys.
    if SCOPE_MARKER.eq_ignore_ascii_case(prefix) {
        return Err(format!(
            "group prefix `{prefix}` is the marker of scopes' keys (`{SCOPE_MARKER}`): choose another"
        ));
    }
    Ok(())
}

/// A pool's naming, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolNaming {
    /// Put before each group (and `scope:` and each scope) to make its key in the policy table.
    pub group_prefix: String,
    /// Whether a person's access token is authorized by its scopes too, not only its groups.
    pub scopes_for_users: bool,
}

/// A pool's naming among all the trusted pools'.
///
/// Each key of the policy table belongs to at most one pool and one kind: to the pool with the
/// longest prefix it starts with, and to that pool's scopes when the rest starts with
/// [`SCOPE_MARKER`], else to its groups. A name that would make another pool's key, or a group
/// named like a scope, grants nothing (and is logged): with prefixes `""` and `tenant-b:`, the
/// first pool's group `tenant-b:admin` does not reach the second pool's `admin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyNames {
    prefix: String,
    /// What follows this prefix in the longer prefixes of other pools.
    foreign: Vec<String>,
    scopes_for_users: bool,
}

impl PolicyNames {
    /// The one pool's naming when it is the only pool: no prefix, groups only.
    pub fn unprefixed() -> Self {
        Self {
            prefix: String::new(),
            foreign: Vec::new(),
            scopes_for_users: false,
        }
    }

    /// `naming` among the prefixes of every trusted pool (its own included, once).
    pub fn among(naming: &PoolNaming, prefixes: &[&str]) -> Result<Self, Error> {
        let prefix = naming.group_prefix.as_str();
        if prefixes.iter().filter(|p| **p == prefix).count() > 1 {
            return Err(Error::Config(format!(
                "group prefix `{prefix}` is given to more than one pool"
            )));
        }
        Ok(Self {
            prefix: prefix.to_owned(),
            foreign: prefixes
                .iter()
                .filter_map(|p| p.strip_prefix(prefix))
                .filter(|rest| !rest.is_empty())
                .map(str::to_owned)
                .collect(),
            scopes_for_users: naming.scopes_for_users,
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether `name` after this pool's prefix is a key of this pool's, not of a longer prefix.
    fn owns(&self, name: &str) -> bool {
        !self.foreign.iter().any(|f| name.starts_with(f.as_str()))
    }

    /// Which kind of caller `claims` names and the policy keys it is authorized by: a person's
    /// groups (and scopes, if this pool counts them), or a machine client's scopes.
    pub fn policy_keys<'c>(&self, claims: &'c CognitoClaims) -> Result<PolicyKeys<'c>, Rejection> {
        let principal = claims.principal_type();
        let with_scopes = principal == PrincipalType::Client || self.scopes_for_users;
        let groups_as_they_are = self.prefix.is_empty()
            && !with_scopes
            && claims.groups.iter().all(|g| self.is_group(g));
        if groups_as_they_are {
            // The one-pool warm path: the token's groups are the keys, nothing is copied.
            return Ok(PolicyKeys {
                principal,
                keys: Cow::Borrowed(&claims.groups),
            });
        }
        let mut keys = Vec::new();
        if principal == PrincipalType::User {
            for group in &claims.groups {
                if self.is_group(group) {
                    keys.push(format!("{}{group}", self.prefix));
                } else {
                    tracing::warn!(
                        group = %Untrusted(group),
                        "the group is named like a scope or another pool's group; it grants nothing",
                    );
                }
            }
        }
        if with_scopes {
            let scopes = claims.scopes();
            if scopes.clone().count() > MAX_SCOPES {
                return Err(Rejection::Claims(format!(
                    "`scope` has more than {MAX_SCOPES} scopes"
                )));
            }
            for scope in scopes {
                let name = format!("{SCOPE_MARKER}{scope}");
                if self.owns(&name) {
                    keys.push(format!("{}{name}", self.prefix));
                }
            }
        }
        Ok(PolicyKeys {
            principal,
            keys: Cow::Owned(keys),
        })
    }

    fn is_group(&self, group: &str) -> bool {
        !group.starts_with(SCOPE_MARKER) && self.owns(group)
    }
}

/// The kind of caller a token names, and the keys of the policies it is authorized by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyKeys<'c> {
    pub principal: PrincipalType,
    pub keys: Cow<'c, [String]>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(prefix: &str, all: &[&str], scopes_for_users: bool) -> PolicyNames {
        let naming = PoolNaming {
            group_prefix: prefix.to_owned(),
            scopes_for_users,
        };
        PolicyNames::among(&naming, all).unwrap()
    }

    fn person(groups: &[&str], scope: &str) -> CognitoClaims {
        let claims = json!({"sub": "6f1c2e1a-0000-4000-8000-000000000001", "iss": "i",
            "token_use": "access", "exp": 2, "iat": 1, "client_id": "web", "username": "alice",
            "cognito:groups": groups, "scope": scope});
        CognitoClaims::from_json(claims.to_string().as_bytes()).unwrap()
    }

    fn client(scope: &str) -> CognitoClaims {
        let claims = json!({"sub": "svc1", "iss": "i", "token_use": "access", "exp": 2,
            "iat": 1, "client_id": "svc1", "scope": scope});
        CognitoClaims::from_json(claims.to_string().as_bytes()).unwrap()
    }

    fn keys(names: &PolicyNames, claims: &CognitoClaims) -> (PrincipalType, Vec<String>) {
        let keys = names.policy_keys(claims).unwrap();
        (keys.principal, keys.keys.into_owned())
    }

    #[test]
    fn one_pools_groups_are_the_keys_as_they_are() {
        let one = PolicyNames::unprefixed();
        let claims = person(
            &["admin", "pet-veterinarian"],
            "aws.cognito.signin.user.admin",
        );
        let found = one.policy_keys(&claims).unwrap();
        assert!(matches!(found.keys, Cow::Borrowed(_)), "nothing copied");
        assert_eq!(found.principal, PrincipalType::User);
        assert_eq!(*found.keys, ["admin", "pet-veterinarian"]);
    }

    #[test]
    fn groups_are_namespaced_by_their_pools_prefix() {
        let all = ["", "tenant-b:"];
        let claims = person(&["admin"], "");
        assert_eq!(keys(&names("", &all, false), &claims).1, ["admin"]);
        assert_eq!(
            keys(&names("tenant-b:", &all, false), &claims).1,
            ["tenant-b:admin"]
        );
    }

    #[test]
    fn a_group_named_like_another_pools_group_or_a_scope_grants_nothing() {
        let all = ["", "tenant-b:", "tenant-b:eu:"];
        let first = names("", &all, false);
        let claims = person(
            &[
                "tenant-b:admin",
                "scope:petstore/pets.write",
                "vet",
                "tenant-b",
            ],
            "",
        );
        assert_eq!(keys(&first, &claims).1, ["vet", "tenant-b"]);
        let second = names("tenant-b:", &all, false);
        assert_eq!(
            keys(&second, &person(&["eu:admin", "admin"], "")).1,
            ["tenant-b:admin"]
        );
        let third = names("tenant-b:eu:", &all, false);
        assert_eq!(
            keys(&third, &person(&["admin"], "")).1,
            ["tenant-b:eu:admin"]
        );
    }

    #[test]
    fn a_machine_client_is_authorized_by_its_scopes() {
        let all = ["", "tenant-b:"];
        let claims = client("petstore/pets.read  petstore/pets.write");
        assert_eq!(
            keys(&names("", &all, false), &claims),
            (
                PrincipalType::Client,
                vec![
                    "scope:petstore/pets.read".to_owned(),
                    "scope:petstore/pets.write".to_owned()
                ]
            )
        );
        assert_eq!(
            keys(&names("tenant-b:", &all, false), &claims).1,
            [
                "tenant-b:scope:petstore/pets.read",
                "tenant-b:scope:petstore/pets.write"
            ]
        );
    }

    #[test]
    fn a_persons_scopes_are_ignored_unless_the_pool_counts_them() {
        let claims = person(&["vet"], "petstore/pets.write openid");
        assert_eq!(
            keys(&names("", &[""], false), &claims),
            (PrincipalType::User, vec!["vet".to_owned()])
        );
        assert_eq!(
            keys(&names("", &[""], true), &claims).1,
            ["vet", "scope:petstore/pets.write", "scope:openid"]
        );
    }

    #[test]
    fn only_a_client_credentials_token_names_a_client() {
        assert_eq!(client("a/b").principal_type(), PrincipalType::Client);
        let with = |change: &dyn Fn(&mut serde_json::Value)| {
            let mut claims = json!({"sub": "svc1", "iss": "i", "token_use": "access", "exp": 2,
                "iat": 1, "client_id": "svc1", "scope": "a/b"});
            change(&mut claims);
            CognitoClaims::from_json(claims.to_string().as_bytes())
                .unwrap()
                .principal_type()
        };
        assert_eq!(
            with(&|c| c["username"] = json!("svc1")),
            PrincipalType::User
        );
        assert_eq!(
            with(&|c| c["cognito:groups"] = json!(["admin"])),
            PrincipalType::User
        );
        assert_eq!(
            with(&|c| c["client_id"] = json!("other")),
            PrincipalType::User
        );
        assert_eq!(with(&|c| c["scope"] = json!(" ")), PrincipalType::User);
        assert_eq!(
            with(&|c| {
                c["token_use"] = json!("id");
                c["aud"] = json!("svc1");
            }),
            PrincipalType::User
        );
    }

    #[test]
    fn more_scopes_than_counted_is_refused_only_where_they_count() {
        let many: Vec<String> = (0..=MAX_SCOPES).map(|i| format!("api/s{i}")).collect();
        let err = names("", &[""], false)
            .policy_keys(&client(&many.join(" ")))
            .unwrap_err();
        assert_eq!(err.code(), "bad_claims");
        let person = person(&["vet"], &many.join(" "));
        assert!(names("", &[""], false).policy_keys(&person).is_ok());
        assert!(names("", &[""], true).policy_keys(&person).is_err());
    }

    #[test]
    fn a_prefix_must_end_with_a_colon_and_may_not_be_the_scope_marker() {
        assert!(check_group_prefix("").is_ok());
        assert!(check_group_prefix("tenant-b:").is_ok());
        for bad in ["tenant-b", ":", "a:b:", "a b:", "scope:", "Scope:"] {
            assert!(check_group_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn two_pools_with_one_prefix_are_refused() {
        let naming = PoolNaming::default();
        let err = PolicyNames::among(&naming, &["", "b:", ""]).unwrap_err();
        assert!(err.to_string().contains("more than one pool"), "{err}");
    }
}
