//! Cognito JWT verification: token in, claims or a reason to reject it out.
//!
//! The checks follow what Cognito documents for its tokens (and what awslabs' aws-jwt-verify
//! enforces). The algorithm is pinned to RS256 by us; nothing in the token's header chooses how it
//! is verified, and keys come only from the configured JWKS.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use aws_lc_rs::signature::ParsedPublicKey;

use crate::Error;
use crate::claims::{CognitoClaims, TokenUse};
use crate::jwks::{JwksCache, JwksSource, KeyLookup, KeySet};
use crate::untrusted::Untrusted;

/// Longest lifetime (`exp - iat`) accepted; Cognito's own maximum for access and ID tokens.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

/// Clock skew tolerated on `exp`, `nbf` and `iat` unless `CLOCK_LEEWAY_SECONDS` says otherwise:
/// the authorizer's default, and what `groupgate explain` checks tokens with.
pub const DEFAULT_CLOCK_LEEWAY: Duration = Duration::from_secs(30);

/// The JWT in an `Authorization` value: `Bearer <jwt>` (scheme in any case), or the bare JWT as
/// API Gateway's Cognito authorizer accepts it. `None`: another scheme, or no token.
pub fn bearer_token(value: &str) -> Option<&str> {
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
        Some(_) => return None,
        None => value,
    };
    // Anything but base64url and dots (stray spaces included) fails decoding later; only an
    // empty token needs catching here.
    (!token.is_empty()).then_some(token)
}

/// Which token kinds the verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedTokenUse {
    Access,
    Id,
    Any,
}

impl std::str::FromStr for ExpectedTokenUse {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "access" => Ok(Self::Access),
            "id" => Ok(Self::Id),
            "any" => Ok(Self::Any),
            other => Err(format!("`{other}` is not one of `access`, `id`, `any`")),
        }
    }
}

/// Why a token was not accepted. Every variant means `Unauthorized`; the variant is for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not three base64url segments, or a header or payload that is not the JSON it should be.
    Malformed(String),
    /// `alg` other than RS256.
    Algorithm(String),
    /// The header has `crit`, which we do not support.
    CriticalHeader,
    /// No `kid`, or one that is not in the JWKS.
    UnknownKey,
    BadSignature,
    /// A claim is missing, of the wrong type, or duplicated.
    Claims(String),
    Issuer,
    TokenUse,
    Audience,
    Expired,
    NotYetValid,
    IssuedInFuture,
    LifetimeTooLong,
}

impl Rejection {
    /// A short stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::Algorithm(_) => "algorithm",
            Rejection::CriticalHeader => "crit_header",
            Rejection::UnknownKey => "unknown_kid",
            Rejection::BadSignature => "bad_signature",
            Rejection::Claims(_) => "bad_claims",
            Rejection::Issuer => "issuer",
            Rejection::TokenUse => "token_use",
            Rejection::Audience => "audience",
            Rejection::Expired => "expired",
            Rejection::NotYetValid => "not_yet_valid",
            Rejection::IssuedInFuture => "issued_in_future",
            Rejection::LifetimeTooLong => "lifetime_too_long",
        }
    }
}

/// The token's own text (its `alg`, or parser messages that quote it) is the caller's: it is
/// shown escaped and cut (see [`Untrusted`]), so that a rejection is always safe to log.
impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Malformed(why) => write!(f, "malformed token: {}", Untrusted(why)),
            Rejection::Algorithm(alg) => write!(f, "algorithm `{}` is not RS256", Untrusted(alg)),
            Rejection::Claims(why) => write!(f, "bad claims: {}", Untrusted(why)),
            other => f.write_str(other.code()),
        }
    }
}

/// The outcome of verifying a token when the keys may have to be fetched.
#[derive(Debug)]
pub enum VerifyError {
    /// The token is bad: `Unauthorized`.
    Rejected(Rejection),
    /// We could not check it (the JWKS could not be fetched): a server error, never an allow.
    KeysUnavailable(Error),
}

/// The rules a token must pass, fixed at start-up.
#[derive(Debug, Clone)]
pub struct TokenRules {
    issuers: [String; 2],
    client_ids: Vec<String>,
    token_use: ExpectedTokenUse,
    leeway_secs: u64,
}

impl TokenRules {
    /// Rules for tokens of the user pool `user_pool_id` (`{region}_{id}`).
    pub fn new(
        user_pool_id: &str,
        client_ids: Vec<String>,
        token_use: ExpectedTokenUse,
        leeway: Duration,
    ) -> Result<Self, Error> {
        let region = user_pool_region(user_pool_id).map_err(Error::Config)?;
        if client_ids.is_empty() {
            return Err(Error::Config("no app client ids given".to_owned()));
        }
        Ok(Self {
            issuers: [
                format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"),
                format!("https://issuer-cognito-idp.{region}.amazonaws.com/{user_pool_id}"),
            ],
            client_ids,
            token_use,
            leeway_secs: leeway.as_secs(),
        })
    }

    /// The pool's JWKS address in AWS.
    pub fn default_jwks_url(&self) -> String {
        let [issuer, _] = &self.issuers;
        format!("{issuer}/.well-known/jwks.json")
    }

    /// Verifies `token` with `keys` at time `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, keys: &KeySet, now: u64) -> Result<CognitoClaims, Rejection> {
        let parts = TokenParts::split(token)?;
        let kid = parts.header()?.kid;
        self.finish(&parts, keys.get(&kid), now)
    }

    /// Checks the signature with `key` (the one the header's `kid` names), then the claims.
    fn finish(
        &self,
        parts: &TokenParts<'_>,
        key: Option<&ParsedPublicKey>,
        now: u64,
    ) -> Result<CognitoClaims, Rejection> {
        let key = key.ok_or(Rejection::UnknownKey)?;
        key.verify_sig(parts.signed, &parts.signature()?)
            .map_err(|_| Rejection::BadSignature)?;
        let claims = parts.claims()?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &CognitoClaims, now: u64) -> Result<(), Rejection> {
        if !self.issuers.contains(&claims.iss) {
            return Err(Rejection::Issuer);
        }
        let audience = match (self.token_use, claims.token_use) {
            (ExpectedTokenUse::Access | ExpectedTokenUse::Any, TokenUse::Access) => {
                &claims.client_id
            }
            (ExpectedTokenUse::Id | ExpectedTokenUse::Any, TokenUse::Id) => &claims.aud,
            _ => return Err(Rejection::TokenUse),
        };
        if !audience
            .as_ref()
            .is_some_and(|a| self.client_ids.contains(a))
        {
            return Err(Rejection::Audience);
        }
        let leeway = self.leeway_secs;
        if claims.exp.saturating_add(leeway) <= now {
            return Err(Rejection::Expired);
        }
        if claims
            .nbf
            .is_some_and(|nbf| nbf > now.saturating_add(leeway))
        {
            return Err(Rejection::NotYetValid);
        }
        if claims.iat > now.saturating_add(leeway) {
            return Err(Rejection::IssuedInFuture);
        }
        if claims.exp.saturating_sub(claims.iat) > MAX_TOKEN_LIFETIME.as_secs() {
            return Err(Rejection::LifetimeTooLong);
        }
        Ok(())
    }
}

/// The region of a user pool id such as `us-east-1_AbCdEf123`, or what is wrong with it.
pub fn user_pool_region(user_pool_id: &str) -> Result<&str, String> {
    match user_pool_id.split_once('_') {
        Some((region, id))
            if !region.is_empty()
                && !id.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Ok(region)
        }
        _ => Err(format!(
            "user pool id `{user_pool_id}` is not of the form `{{region}}_{{id}}`"
        )),
    }
}

/// The fields of the JOSE header we read. Others (`jwk`, `jku`, `x5u`, `x5c`, ...) are ignored:
/// keys come only from our JWKS.
#[derive(Deserialize)]
struct Header<'a> {
    #[serde(borrow)]
    alg: Cow<'a, str>,
    #[serde(default, borrow)]
    kid: Option<Cow<'a, str>>,
    #[serde(default)]
    crit: Option<serde::de::IgnoredAny>,
}

struct Checked {
    kid: String,
}

/// A compact JWS split into its three segments.
struct TokenParts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
    /// `header.payload`, the bytes the signature covers.
    signed: &'a [u8],
}

impl<'a> TokenParts<'a> {
    fn split(token: &'a str) -> Result<Self, Rejection> {
        let malformed = || Rejection::Malformed("expected three base64url segments".to_owned());
        let (signed, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
        let (header, payload) = signed.split_once('.').ok_or_else(malformed)?;
        if header.is_empty() || payload.is_empty() || signature.is_empty() {
            return Err(malformed());
        }
        Ok(Self {
            header,
            payload,
            signature,
            signed: signed.as_bytes(),
        })
    }

    fn header(&self) -> Result<Checked, Rejection> {
        let bytes = decode_segment("header", self.header)?;
        let header: Header = serde_json::from_slice(&bytes)
            .map_err(|e| Rejection::Malformed(format!("header: {e}")))?;
        if header.alg != "RS256" {
            return Err(Rejection::Algorithm(header.alg.into_owned()));
        }
        if header.crit.is_some() {
            return Err(Rejection::CriticalHeader);
        }
        let kid = header.kid.ok_or(Rejection::UnknownKey)?.into_owned();
        Ok(Checked { kid })
    }

    fn signature(&self) -> Result<Vec<u8>, Rejection> {
        decode_segment("signature", self.signature)
    }

    fn claims(&self) -> Result<CognitoClaims, Rejection> {
        let bytes = decode_segment("payload", self.payload)?;
        CognitoClaims::from_json(&bytes).map_err(|e| Rejection::Claims(e.to_string()))
    }
}

fn decode_segment(name: &str, segment: &str) -> Result<Vec<u8>, Rejection> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|e| Rejection::Malformed(format!("{name} is not base64url: {e}")))
}

/// Verifies tokens against the user pool's JWKS, fetching and refreshing it as needed.
pub struct TokenVerifier<S> {
    rules: TokenRules,
    keys: JwksCache<S>,
}

impl<S: JwksSource> TokenVerifier<S> {
    pub fn new(rules: TokenRules, keys: JwksCache<S>) -> Self {
        Self { rules, keys }
    }

    pub fn rules(&self) -> &TokenRules {
        &self.rules
    }

    pub async fn verify(&self, token: &str, now: u64) -> Result<CognitoClaims, VerifyError> {
        let parts = TokenParts::split(token).map_err(VerifyError::Rejected)?;
        let kid = parts.header().map_err(VerifyError::Rejected)?.kid;
        match self.keys.lookup(&kid).await {
            Ok(KeyLookup::Found(keys)) => self
                .rules
                .finish(&parts, keys.get(&kid), now)
                .map_err(VerifyError::Rejected),
            Ok(KeyLookup::Unknown) => Err(VerifyError::Rejected(Rejection::UnknownKey)),
            Err(err) => Err(VerifyError::KeysUnavailable(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use groupgate_testkit::{TestKey, access_claims, jwks};
    use serde_json::json;
    use std::sync::LazyLock;

    const POOL: &str = "us-east-1_TestPool1";
    const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1";
    const CLIENT: &str = "client-1";
    const NOW: u64 = 1_800_000_000;

    static KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("key-1"));
    static OTHER: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("key-2"));
    static KEYS: LazyLock<KeySet> =
        LazyLock::new(|| KeySet::from_jwks_json(jwks(&[&KEY]).as_bytes()).unwrap());

    fn rules(token_use: ExpectedTokenUse) -> TokenRules {
        TokenRules::new(
            POOL,
            vec![CLIENT.to_owned()],
            token_use,
            Duration::from_secs(30),
        )
        .unwrap()
    }

    fn claims() -> serde_json::Value {
        access_claims(ISSUER, CLIENT, &["pet-veterinarian"], NOW)
    }

    fn check(token: &str) -> Result<CognitoClaims, Rejection> {
        rules(ExpectedTokenUse::Access).verify(token, &KEYS, NOW)
    }

    fn with(change: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut c = claims();
        change(&mut c);
        KEY.sign(&c)
    }

    #[test]
    fn a_valid_access_token_gives_its_claims() {
        let claims = check(&KEY.sign(&claims())).unwrap();
        assert_eq!(claims.groups, ["pet-veterinarian"]);
        assert_eq!(claims.username(), "alice");
    }

    #[test]
    fn both_cognito_issuer_forms_are_accepted() {
        let other = "https://issuer-cognito-idp.us-east-1.amazonaws.com/us-east-1_TestPool1";
        assert!(check(&with(|c| c["iss"] = json!(other))).is_ok());
    }

    #[test]
    fn another_pool_or_an_array_issuer_is_rejected() {
        let other_pool = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other";
        assert_eq!(
            check(&with(|c| c["iss"] = json!(other_pool))),
            Err(Rejection::Issuer)
        );
        let err = check(&with(|c| c["iss"] = json!([ISSUER]))).unwrap_err();
        assert_eq!(err.code(), "bad_claims");
    }

    #[test]
    fn only_rs256_is_accepted_whatever_the_header_says() {
        for alg in ["none", "HS256", "RS512", "PS256", "rs256"] {
            let token = KEY.sign_with_header(json!({"alg": alg}), &claims());
            assert_eq!(check(&token), Err(Rejection::Algorithm(alg.to_owned())));
        }
    }

    /// Issue #9, row 5: an `alg` that carries a forged log line, or 700 kB, is shown escaped
    /// and cut.
    #[test]
    fn a_rejection_shows_the_tokens_text_escaped_and_cut() {
        let forged = "x\nINFO decision=\"Allow\"";
        let token = KEY.sign_with_header(json!({"alg": forged}), &claims());
        let shown = check(&token).unwrap_err().to_string();
        assert_eq!(
            shown,
            "algorithm `x\\nINFO decision=\\\"Allow\\\"` is not RS256"
        );
        let huge = "A".repeat(700_000);
        let token = KEY.sign_with_header(json!({"alg": huge}), &claims());
        let shown = check(&token).unwrap_err().to_string();
        assert!(shown.len() < 250, "{}", shown.len());
        assert!(shown.contains("[cut at 128 of 700000 bytes]"), "{shown}");
    }

    #[test]
    fn a_crit_header_rejects_the_token() {
        let token = KEY.sign_with_header(json!({"alg": "RS256", "crit": ["exp"]}), &claims());
        assert_eq!(check(&token), Err(Rejection::CriticalHeader));
    }

    #[test]
    fn keys_offered_in_the_header_are_ignored() {
        // Signed by a key we do not trust, which the header offers in every way it can.
        let header = json!({"alg": "RS256", "kid": "key-2", "jwk": OTHER.jwk(),
            "jku": "https://attacker.example/jwks.json", "x5u": "https://attacker.example/c.pem",
            "x5c": ["MIIB"]});
        assert_eq!(
            check(&OTHER.sign_with_header(header, &claims())),
            Err(Rejection::UnknownKey)
        );
        // Same with a kid we know: the signature does not verify under our key.
        let header = json!({"alg": "RS256", "kid": "key-1", "jwk": OTHER.jwk()});
        assert_eq!(
            check(&OTHER.sign_with_header(header, &claims())),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn a_token_without_kid_is_rejected() {
        let token = KEY.sign_with_header(json!({"alg": "RS256", "kid": null}), &claims());
        assert!(check(&token).is_err());
    }

    #[test]
    fn a_tampered_payload_fails_the_signature() {
        let token = KEY.sign(&claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged =
            URL_SAFE_NO_PAD.encode(claims().to_string().replace("pet-veterinarian", "admin"));
        parts[1] = &forged;
        assert_eq!(check(&parts.join(".")), Err(Rejection::BadSignature));
    }

    #[test]
    fn malformed_tokens_are_rejected() {
        for token in [
            "",
            "a",
            "a.b",
            "a..c",
            "a.b.c.d",
            "!!.??.**",
            "eyJhbGciOiJSUzI1NiJ9.e30.",
        ] {
            let err = check(token).unwrap_err();
            assert!(
                matches!(err, Rejection::Malformed(_) | Rejection::UnknownKey),
                "{token:?}: {err:?}"
            );
        }
    }

    #[test]
    fn token_use_must_match_the_configured_kind() {
        let access = KEY.sign(&claims());
        assert_eq!(
            rules(ExpectedTokenUse::Id).verify(&access, &KEYS, NOW),
            Err(Rejection::TokenUse)
        );
        assert!(
            rules(ExpectedTokenUse::Any)
                .verify(&access, &KEYS, NOW)
                .is_ok()
        );
        let id = with(|c| {
            c["token_use"] = json!("id");
            c["aud"] = json!(CLIENT);
            c.as_object_mut().unwrap().remove("client_id");
        });
        assert!(rules(ExpectedTokenUse::Id).verify(&id, &KEYS, NOW).is_ok());
        assert!(rules(ExpectedTokenUse::Any).verify(&id, &KEYS, NOW).is_ok());
        assert_eq!(check(&id), Err(Rejection::TokenUse));
    }

    #[test]
    fn access_tokens_need_an_allowed_client_id_and_id_tokens_an_allowed_aud() {
        assert_eq!(
            check(&with(|c| c["client_id"] = json!("other"))),
            Err(Rejection::Audience)
        );
        // An access token's `aud` does not stand in for its client_id.
        let token = with(|c| {
            c.as_object_mut().unwrap().remove("client_id");
            c["aud"] = json!(CLIENT);
        });
        assert_eq!(check(&token), Err(Rejection::Audience));
        let id = with(|c| {
            c["token_use"] = json!("id");
            c["aud"] = json!("other");
        });
        assert_eq!(
            rules(ExpectedTokenUse::Id).verify(&id, &KEYS, NOW),
            Err(Rejection::Audience)
        );
    }

    #[test]
    fn time_claims_are_checked_with_leeway() {
        let expired = with(|c| c["exp"] = json!(NOW - 31));
        assert_eq!(check(&expired), Err(Rejection::Expired));
        assert!(check(&with(|c| c["exp"] = json!(NOW - 29))).is_ok());
        assert_eq!(
            check(&with(|c| c["nbf"] = json!(NOW + 31))),
            Err(Rejection::NotYetValid)
        );
        assert!(check(&with(|c| c["nbf"] = json!(NOW + 29))).is_ok());
        assert_eq!(
            check(&with(|c| c["iat"] = json!(NOW + 31))),
            Err(Rejection::IssuedInFuture)
        );
        let missing_exp = with(|c| {
            c.as_object_mut().unwrap().remove("exp");
        });
        assert_eq!(check(&missing_exp).unwrap_err().code(), "bad_claims");
    }

    #[test]
    fn a_lifetime_over_a_day_is_rejected() {
        let long = with(|c| {
            c["iat"] = json!(NOW - 10);
            c["exp"] = json!(NOW - 10 + 24 * 3600 + 1);
        });
        assert_eq!(check(&long), Err(Rejection::LifetimeTooLong));
    }

    #[test]
    fn pool_ids_are_validated() {
        assert!(
            TokenRules::new(
                "us-east-1_abc",
                vec!["c".into()],
                ExpectedTokenUse::Access,
                Duration::ZERO
            )
            .is_ok()
        );
        for bad in ["", "abc", "_abc", "us-east-1_", "us-east-1_a/b", "US_abc"] {
            assert!(user_pool_region(bad).is_err(), "{bad}");
        }
        assert!(
            TokenRules::new(
                "us-east-1_abc",
                vec![],
                ExpectedTokenUse::Access,
                Duration::ZERO
            )
            .is_err()
        );
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_a_bare_token_is_accepted() {
        assert_eq!(bearer_token("Bearer a.b.c"), Some("a.b.c"));
        assert_eq!(bearer_token("bearer a.b.c"), Some("a.b.c"));
        assert_eq!(bearer_token("BEARER a.b.c"), Some("a.b.c"));
        assert_eq!(bearer_token("a.b.c"), Some("a.b.c"));
    }

    #[test]
    fn other_schemes_and_empty_tokens_are_refused() {
        for value in ["Basic abc", "Bearer ", ""] {
            assert_eq!(bearer_token(value), None, "{value:?}");
        }
    }

    #[test]
    fn the_default_jwks_url_is_the_pools() {
        assert_eq!(
            rules(ExpectedTokenUse::Access).default_jwks_url(),
            format!("{ISSUER}/.well-known/jwks.json")
        );
    }
}
