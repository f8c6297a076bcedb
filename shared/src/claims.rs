//! The claims of a Cognito access or ID token, read with strict types.
//!
//! Cognito adds claims over time, so unknown claims are allowed; but every claim we read must have
//! exactly the type Cognito documents, and no claim may appear twice.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// Most groups a token may carry. Cognito puts a user in at most 100 groups, so a token with more
/// was not issued for a real user of the pool: it is rejected, not truncated.
pub const MAX_GROUPS: usize = 100;

/// Which kind of Cognito token this is, from its `token_use` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenUse {
    Access,
    Id,
}

impl TokenUse {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenUse::Access => "access",
            TokenUse::Id => "id",
        }
    }
}

/// The claims of a verified Cognito token that the authorizer and backend use.
///
/// Group names are opaque keys: they are kept exactly as the token carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CognitoClaims {
    pub sub: String,
    pub iss: String,
    pub token_use: TokenUse,
    pub exp: u64,
    pub iat: u64,
    pub nbf: Option<u64>,
    /// Present on access tokens.
    pub client_id: Option<String>,
    /// Present on ID tokens; Cognito writes it as a single string.
    pub aud: Option<String>,
    /// The user name on access tokens.
    pub username: Option<String>,
    /// The user name on ID tokens (`cognito:username`).
    pub cognito_username: Option<String>,
    /// `cognito:groups`
    pub groups: Vec<String>,
    /// `cognito:preferred_role`
    pub preferred_role: Option<String>,
    /// `cognito:roles`
    pub roles: Vec<String>,
    pub scope: Option<String>,
}

impl CognitoClaims {
    /// Parses a token payload, rejecting duplicated claims and claims of the wrong type.
    pub fn from_json(payload: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }

    /// The user's name, whichever claim this kind of token carries it in (`sub` as a last resort).
    pub fn username(&self) -> &str {
        self.username
            .as_deref()
            .or(self.cognito_username.as_deref())
            .unwrap_or(&self.sub)
    }
}

/// Who a token speaks for: a person signed in to the pool, or an app client on its own behalf
/// (Cognito's client-credentials grant, which "authorize[s] an application rather than a
/// user": <https://docs.aws.amazon.com/cli/latest/reference/cognito-idp/get-client-token.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalType {
    User,
    Client,
}

impl PrincipalType {
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalType::User => "user",
            PrincipalType::Client => "client",
        }
    }
}

impl CognitoClaims {
    /// [`PrincipalType::Client`] for a client-credentials access token: no user name, no
    /// groups, a `scope` claim, and a `sub` that is the app client's id (no user's `sub`, a
    /// UUID, is an app client id). Every other token names a person.
    pub fn principal_type(&self) -> PrincipalType {
        let client = self.token_use == TokenUse::Access
            && self.username.is_none()
            && self.cognito_username.is_none()
            && self.groups.is_empty()
            && self.scopes().next().is_some()
            && self.client_id.as_deref() == Some(self.sub.as_str());
        if client {
            PrincipalType::Client
        } else {
            PrincipalType::User
        }
    }

    /// The scopes of the `scope` claim, which holds them separated by spaces
    /// (<https://www.rfc-editor.org/rfc/rfc6749#section-3.3>); custom scopes are
    /// `{resource server}/{scope}`.
    pub fn scopes(&self) -> impl Iterator<Item = &str> + Clone {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }
}

/// Reads the claims in one pass over the payload, refusing any claim name seen twice.
///
/// serde's derived structs catch a repeated *known* field but silently let a repeated unknown one
/// through, and `serde_json::Value` keeps the last of two. A token with two values for one claim
/// is ambiguous, so it is rejected whatever the claim is.
impl<'de> Deserialize<'de> for CognitoClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

impl<'de> Visitor<'de> for ClaimsVisitor {
    type Value = CognitoClaims;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CognitoClaims, A::Error> {
        let mut sub = None;
        let mut iss = None;
        let mut token_use = None;
        let mut exp = None;
        let mut iat = None;
        let mut nbf = None;
        let mut client_id = None;
        let mut aud = None;
        let mut username = None;
        let mut cognito_username = None;
        let mut groups = None;
        let mut preferred_role = None;
        let mut roles = None;
        let mut scope = None;
        let mut seen = SeenKeys::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicated claim `{}`",
                    crate::untrusted::Untrusted(&key.0)
                )));
            }
            match key.0.as_ref() {
                "sub" => sub = Some(map.next_value::<String>()?),
                "iss" => iss = Some(map.next_value::<String>()?),
                "token_use" => token_use = Some(map.next_value::<TokenUse>()?),
                "exp" => exp = Some(map.next_value::<u64>()?),
                "iat" => iat = Some(map.next_value::<u64>()?),
                "nbf" => nbf = map.next_value::<Option<u64>>()?,
                "client_id" => client_id = map.next_value::<Option<String>>()?,
                "aud" => aud = map.next_value::<Option<String>>()?,
                "username" => username = map.next_value::<Option<String>>()?,
                "cognito:username" => cognito_username = map.next_value::<Option<String>>()?,
                "cognito:groups" => groups = Some(bounded_groups(map.next_value()?)?),
                "cognito:preferred_role" => {
                    preferred_role = map.next_value::<Option<String>>()?;
                }
                "cognito:roles" => roles = Some(map.next_value::<Vec<String>>()?),
                "scope" => scope = map.next_value::<Option<String>>()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            seen.insert(key);
        }
        Ok(CognitoClaims {
            // Cognito's `sub` is a UUID: an empty one names nobody.
            sub: match sub {
                None => return Err(de::Error::missing_field("sub")),
                Some(sub) if sub.is_empty() => return Err(de::Error::custom("`sub` is empty")),
                Some(sub) => sub,
            },
            iss: iss.ok_or_else(|| de::Error::missing_field("iss"))?,
            token_use: token_use.ok_or_else(|| de::Error::missing_field("token_use"))?,
            exp: exp.ok_or_else(|| de::Error::missing_field("exp"))?,
            iat: iat.ok_or_else(|| de::Error::missing_field("iat"))?,
            nbf,
            client_id,
            aud,
            username,
            cognito_username,
            groups: groups.unwrap_or_default(),
            preferred_role,
            roles: roles.unwrap_or_default(),
            scope,
        })
    }
}

/// `cognito:groups` as read, unless it holds more than [`MAX_GROUPS`] names.
fn bounded_groups<E: de::Error>(list: Vec<String>) -> Result<Vec<String>, E> {
    if list.len() > MAX_GROUPS {
        return Err(E::custom(format_args!(
            "`cognito:groups` has {} groups; at most {MAX_GROUPS} are accepted",
            list.len()
        )));
    }
    Ok(list)
}

/// The claim names read so far. A real token has a few dozen claims, which a linear scan checks
/// fastest; past that a hash set takes over, so a payload of thousands of claims costs linear
/// time, not quadratic.
#[derive(Default)]
struct SeenKeys<'de> {
    few: Vec<Key<'de>>,
    many: HashSet<Key<'de>>,
}

impl<'de> SeenKeys<'de> {
    const FEW: usize = 32;

    fn contains(&self, key: &Key<'de>) -> bool {
        self.few.contains(key) || self.many.contains(key)
    }

    fn insert(&mut self, key: Key<'de>) {
        if self.few.len() < Self::FEW {
            self.few.push(key);
        } else {
            self.many.insert(key);
        }
    }
}

/// A claim name, borrowed from the payload unless it had escapes to undo.
#[derive(PartialEq, Eq, Hash)]
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCESS: &str = r#"{"sub":"u-1","iss":"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
        "token_use":"access","exp":2000,"iat":1000,"client_id":"client","username":"alice",
        "cognito:groups":["pet-veterinarian","Admin "]}"#;

    #[test]
    fn access_token_claims_are_read_with_groups_kept_verbatim() {
        let claims = CognitoClaims::from_json(ACCESS.as_bytes()).unwrap();
        assert_eq!(claims.token_use, TokenUse::Access);
        assert_eq!(claims.username(), "alice");
        assert_eq!(claims.groups, ["pet-veterinarian", "Admin "]);
    }

    #[test]
    fn an_empty_sub_is_refused() {
        let json = r#"{"sub":"","iss":"i","token_use":"id","exp":2,"iat":1}"#;
        let err = CognitoClaims::from_json(json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("`sub` is empty"), "{err}");
    }

    #[test]
    fn id_token_username_comes_from_cognito_username() {
        let json = r#"{"sub":"u-1","iss":"i","token_use":"id","exp":2,"iat":1,"aud":"c","cognito:username":"bob"}"#;
        let claims = CognitoClaims::from_json(json.as_bytes()).unwrap();
        assert_eq!(claims.username(), "bob");
        assert!(claims.groups.is_empty());
    }

    #[test]
    fn duplicated_known_claim_is_rejected() {
        let json = r#"{"sub":"a","sub":"b","iss":"i","token_use":"id","exp":2,"iat":1}"#;
        let err = CognitoClaims::from_json(json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("duplicated claim `sub`"), "{err}");
    }

    #[test]
    fn duplicated_unknown_claim_is_rejected() {
        let json = r#"{"sub":"a","iss":"i","token_use":"id","exp":2,"iat":1,"x":1,"x":2}"#;
        let err = CognitoClaims::from_json(json.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("duplicated claim `x`"), "{err}");
    }

    #[test]
    fn a_duplicate_hidden_behind_an_escape_is_rejected() {
        let json = r#"{"sub":"a","iss":"i","token_use":"id","exp":2,"iat":1,"x":1,"\u0078":2}"#;
        assert!(CognitoClaims::from_json(json.as_bytes()).is_err());
    }

    #[test]
    fn groups_that_are_not_an_array_of_strings_are_rejected() {
        for groups in [
            r#""admin""#,
            r#"[1]"#,
            r#"null"#,
            r#"{"a":1}"#,
            r#"["a",null]"#,
        ] {
            let json = format!(
                r#"{{"sub":"a","iss":"i","token_use":"id","exp":2,"iat":1,"cognito:groups":{groups}}}"#
            );
            assert!(
                CognitoClaims::from_json(json.as_bytes()).is_err(),
                "{groups}"
            );
        }
    }

    #[test]
    fn claims_of_the_wrong_type_are_rejected() {
        let cases = [
            ("iss", serde_json::json!(["i"])),
            ("iss", serde_json::json!(1)),
            ("exp", serde_json::json!("2")),
            ("exp", serde_json::json!(2.5)),
            ("aud", serde_json::json!(["c"])),
            ("token_use", serde_json::json!("refresh")),
            ("cognito:preferred_role", serde_json::json!(7)),
        ];
        for (claim, value) in cases {
            let mut json =
                serde_json::json!({"sub":"a","iss":"i","token_use":"id","exp":2,"iat":1});
            json[claim] = value.clone();
            let bytes = serde_json::to_vec(&json).unwrap();
            assert!(
                CognitoClaims::from_json(&bytes).is_err(),
                "{claim}: {value}"
            );
        }
    }

    /// Issue #9, row 6: many claims or groups cost linear time; too many groups are refused.
    #[test]
    fn thousands_of_claims_are_checked_in_linear_time() {
        let mut claims = serde_json::json!({"sub":"a","iss":"i","token_use":"id","exp":2,"iat":1});
        for i in 0..100_000 {
            claims[format!("extra-{i}")] = serde_json::json!(i);
        }
        let bytes = serde_json::to_vec(&claims).unwrap();
        let started = std::time::Instant::now();
        assert!(CognitoClaims::from_json(&bytes).is_ok());
        // A generous bound that tells the complexity class apart, not a speed target: the
        // quadratic check took 0.44 s for a fifth of these claims in a release build.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        let mut text = String::from_utf8(bytes).unwrap();
        text.pop();
        text.push_str(r#","extra-99999":1}"#);
        let err = CognitoClaims::from_json(text.as_bytes()).unwrap_err();
        assert!(
            err.to_string().contains("duplicated claim `extra-99999`"),
            "{err}"
        );
    }

    #[test]
    fn more_groups_than_cognito_allows_is_rejected() {
        // Issue #9, row 6: 10,000 groups were deduplicated in quadratic time; such a token is
        // now refused as it is read.
        let many: Vec<String> = (0..10_000).map(|i| format!("g{i}")).collect();
        let json = serde_json::json!({"sub":"a","iss":"i","token_use":"id","exp":2,"iat":1,
            "cognito:groups": many});
        let err = CognitoClaims::from_json(&serde_json::to_vec(&json).unwrap()).unwrap_err();
        assert!(err.to_string().contains("has 10000 groups"), "{err}");
        let groups: Vec<String> = (0..=MAX_GROUPS).map(|i| format!("g{i}")).collect();
        let json = serde_json::json!({"sub":"a","iss":"i","token_use":"id","exp":2,"iat":1,
            "cognito:groups": groups});
        let err = CognitoClaims::from_json(&serde_json::to_vec(&json).unwrap()).unwrap_err();
        assert!(err.to_string().contains("at most 100"), "{err}");
        let json = serde_json::json!({"sub":"a","iss":"i","token_use":"id","exp":2,"iat":1,
            "cognito:groups": &groups[..MAX_GROUPS]});
        assert!(CognitoClaims::from_json(&serde_json::to_vec(&json).unwrap()).is_ok());
    }

    #[test]
    fn missing_required_claim_is_rejected() {
        let json = r#"{"iss":"i","token_use":"id","exp":2,"iat":1}"#;
        assert!(CognitoClaims::from_json(json.as_bytes()).is_err());
    }
}
