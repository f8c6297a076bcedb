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
use crate::pool::{PolicyNames, PoolNaming};
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
    user_pool_id: String,
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
            user_pool_id: user_pool_id.to_owned(),
            issuers: [
                format!("https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"),
                format!("https://issuer-cognito-idp.{region}.amazonaws.com/{user_pool_id}"),
            ],
            client_ids,
            token_use,
            leeway_secs: leeway.as_secs(),
        })
    }

    /// The pool these rules are for (`us-east-1_AbCdEf123`).
    pub fn user_pool_id(&self) -> &str {
        &self.user_pool_id
    }

    /// The pool's JWKS address in AWS.
    pub fn default_jwks_url(&self) -> String {
        let [issuer, _] = &self.issuers;
        format!("{issuer}/.well-known/jwks.json")
    }

    /// Whether `iss` is one of this pool's two issuer forms, compared exactly. Cognito issues
    /// tokens under `https://cognito-idp.{region}.amazonaws.com/{pool}` (the original issuer) or
    /// `https://issuer-cognito-idp.{region}.amazonaws.com/{pool}` (the updated one), by the
    /// pool's issuer configuration:
    /// <https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_IssuerConfigurationType.html>
    pub fn issues(&self, iss: &str) -> bool {
        self.issuers.iter().any(|issuer| issuer == iss)
    }

    /// Verifies `token` with `keys` at time `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, keys: &KeySet, now: u64) -> Result<CognitoClaims, Rejection> {
        let parts = TokenParts::split(token)?;
        let kid = parts.header()?.kid;
        let claims = parts.claims()?;
        self.finish(&parts, claims, keys.get(&kid), now)
    }

    /// Checks the signature with `key` (the one the header's `kid` names), then `claims` (read
    /// from the same payload before the signature was checked, and trusted only now).
    fn finish(
        &self,
        parts: &TokenParts<'_>,
        claims: CognitoClaims,
        key: Option<&ParsedPublicKey>,
        now: u64,
    ) -> Result<CognitoClaims, Rejection> {
        let key = key.ok_or(Rejection::UnknownKey)?;
        key.verify_sig(parts.signed, &parts.signature()?)
            .map_err(|_| Rejection::BadSignature)?;
        self.check_claims(&claims, now)?;
        Ok(claims)
    }

    fn check_claims(&self, claims: &CognitoClaims, now: u64) -> Result<(), Rejection> {
        // Checked again here, after the signature: the issuer chose the pool, and only the
        // pool's own key may vouch for it.
        if !self.issues(&claims.iss) {
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

/// One trusted user pool as the verifier holds it: the rules its tokens must pass, its own key
/// cache (so its fetches and their rate limit are its own), and how its callers are named in
/// the policy table.
struct Pool<S> {
    rules: TokenRules,
    keys: JwksCache<S>,
    names: PolicyNames,
}

/// A token that passed, with the naming of the pool whose key verified it.
#[derive(Debug)]
pub struct Verified<'v> {
    pub claims: CognitoClaims,
    pub names: &'v PolicyNames,
    /// The pool whose key and issuer the token passed (`us-east-1_AbCdEf123`).
    pub pool_id: &'v str,
}

/// Verifies tokens of the configured user pools, each against its own JWKS, fetching and
/// refreshing the keys as needed.
///
/// The token's unverified `iss` picks the pool, by exact match; a token naming no configured
/// pool is rejected before any key is looked up, so keys are only ever fetched from a
/// configured pool's JWKS, never from an address a token chose.
pub struct TokenVerifier<S> {
    pools: Vec<Pool<S>>,
}

impl<S: JwksSource> TokenVerifier<S> {
    /// A verifier for one pool, whose groups are looked up as they are named.
    pub fn new(rules: TokenRules, keys: JwksCache<S>) -> Self {
        Self {
            pools: vec![Pool {
                rules,
                keys,
                names: PolicyNames::unprefixed(),
            }],
        }
    }

    /// A verifier for several pools. Refuses none at all, two pools of one issuer and two
    /// pools with the same group prefix (see [`PolicyNames`] for prefixes that overlap).
    pub fn for_pools(pools: Vec<TrustedPool<S>>) -> Result<Self, Error> {
        if pools.is_empty() {
            return Err(Error::Config("no user pool is trusted".to_owned()));
        }
        let prefixes: Vec<&str> = pools
            .iter()
            .map(|p| p.naming.group_prefix.as_str())
            .collect();
        let mut built = Vec::with_capacity(pools.len());
        for (index, pool) in pools.iter().enumerate() {
            let [issuer, _] = &pool.rules.issuers;
            if pools.iter().take(index).any(|p| p.rules.issues(issuer)) {
                return Err(Error::Config(format!(
                    "user pool `{issuer}` is trusted twice"
                )));
            }
            built.push(PolicyNames::among(&pool.naming, &prefixes)?);
        }
        Ok(Self {
            pools: pools
                .into_iter()
                .zip(built)
                .map(|(pool, names)| Pool {
                    rules: pool.rules,
                    keys: pool.keys,
                    names,
                })
                .collect(),
        })
    }

    /// The rules of the first pool configured.
    pub fn rules(&self) -> Option<&TokenRules> {
        self.pools.first().map(|p| &p.rules)
    }

    /// Fetches every pool's keys ahead of the first request, one pool after another; what a
    /// start-up deadline cuts off is fetched by the first request that needs it. Returns how
    /// many keys each pool holds, or why not.
    pub async fn prefetch(&self) -> Vec<Result<usize, Error>> {
        let mut held = Vec::with_capacity(self.pools.len());
        for pool in &self.pools {
            held.push(pool.keys.prefetch().await);
        }
        held
    }

    pub async fn verify(&self, token: &str, now: u64) -> Result<Verified<'_>, VerifyError> {
        let parts = TokenParts::split(token).map_err(VerifyError::Rejected)?;
        let kid = parts.header().map_err(VerifyError::Rejected)?.kid;
        let claims = parts.claims().map_err(VerifyError::Rejected)?;
        let pool = self
            .pools
            .iter()
            .find(|p| p.rules.issues(&claims.iss))
            .ok_or(VerifyError::Rejected(Rejection::Issuer))?;
        match pool.keys.lookup(&kid).await {
            Ok(KeyLookup::Found(keys)) => pool
                .rules
                .finish(&parts, claims, keys.get(&kid), now)
                .map(|claims| Verified {
                    claims,
                    names: &pool.names,
                    pool_id: pool.rules.user_pool_id(),
                })
                .map_err(VerifyError::Rejected),
            Ok(KeyLookup::Unknown) => Err(VerifyError::Rejected(Rejection::UnknownKey)),
            Err(err) => Err(VerifyError::KeysUnavailable(err)),
        }
    }
}

/// A pool to trust, as configured: its rules, its key cache and how its callers are named.
pub struct TrustedPool<S> {
    pub rules: TokenRules,
    pub keys: JwksCache<S>,
    pub naming: PoolNaming,
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

    mod pools {
        use super::*;
        use std::sync::atomic::{AtomicUsize, Ordering};

        const POOL_A: &str = "us-east-1_PoolA";
        const POOL_B: &str = "eu-west-1_PoolB";
        static A_KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("shared-kid"));
        static B_KEY: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("shared-kid"));

        /// A pool's JWKS in memory, counting fetches; one that hangs never answers.
        struct Served {
            document: String,
            fetches: AtomicUsize,
            hangs: bool,
        }

        impl JwksSource for &Served {
            async fn fetch(&self) -> Result<Vec<u8>, Error> {
                self.fetches.fetch_add(1, Ordering::SeqCst);
                if self.hangs {
                    std::future::pending::<()>().await;
                }
                Ok(self.document.clone().into_bytes())
            }
        }

        fn served(key: &TestKey, hangs: bool) -> &'static Served {
            Box::leak(Box::new(Served {
                document: jwks(&[key]),
                fetches: AtomicUsize::new(0),
                hangs,
            }))
        }

        fn pool(id: &str, prefix: &str, source: &'static Served) -> TrustedPool<&'static Served> {
            TrustedPool {
                rules: TokenRules::new(
                    id,
                    vec![CLIENT.to_owned()],
                    ExpectedTokenUse::Access,
                    Duration::from_secs(30),
                )
                .unwrap(),
                keys: JwksCache::new(source, Duration::from_secs(10)),
                naming: PoolNaming {
                    group_prefix: prefix.to_owned(),
                    scopes_for_users: false,
                },
            }
        }

        fn issuer(form: &str, pool: &str) -> String {
            let region = user_pool_region(pool).unwrap();
            format!("https://{form}.{region}.amazonaws.com/{pool}")
        }

        fn token(key: &TestKey, iss: &str) -> String {
            key.sign(&access_claims(iss, CLIENT, &["admin"], NOW))
        }

        fn two(a: &'static Served, b: &'static Served) -> TokenVerifier<&'static Served> {
            TokenVerifier::for_pools(vec![pool(POOL_A, "", a), pool(POOL_B, "b:", b)]).unwrap()
        }

        fn rejection(result: Result<Verified<'_>, VerifyError>) -> Rejection {
            match result {
                Err(VerifyError::Rejected(rejection)) => rejection,
                other => panic!("not a rejection: {other:?}"),
            }
        }

        #[tokio::test(start_paused = true)]
        async fn an_unconfigured_issuer_is_rejected_before_any_key_is_fetched() {
            let (a, b) = (served(&A_KEY, false), served(&B_KEY, false));
            let verifier = two(a, b);
            for iss in [
                issuer("cognito-idp", "us-east-1_Other"),
                format!("{}/", issuer("cognito-idp", POOL_A)),
                issuer("cognito-idp", POOL_A).to_uppercase(),
                "https://attacker.example/us-east-1_PoolA".to_owned(),
            ] {
                let result = verifier.verify(&token(&A_KEY, &iss), NOW).await;
                assert_eq!(rejection(result), Rejection::Issuer, "{iss}");
            }
            assert_eq!(a.fetches.load(Ordering::SeqCst), 0);
            assert_eq!(b.fetches.load(Ordering::SeqCst), 0);
        }

        #[tokio::test(start_paused = true)]
        async fn both_issuer_forms_select_their_pool_and_its_naming() {
            let verifier = two(served(&A_KEY, false), served(&B_KEY, false));
            for form in ["cognito-idp", "issuer-cognito-idp"] {
                let a = verifier
                    .verify(&token(&A_KEY, &issuer(form, POOL_A)), NOW)
                    .await
                    .unwrap();
                assert_eq!(a.names.prefix(), "", "{form}");
                let b = verifier
                    .verify(&token(&B_KEY, &issuer(form, POOL_B)), NOW)
                    .await
                    .unwrap();
                assert_eq!(b.names.prefix(), "b:", "{form}");
            }
        }

        #[tokio::test(start_paused = true)]
        async fn a_token_naming_pool_b_but_signed_with_pool_as_key_is_rejected() {
            let verifier = two(served(&A_KEY, false), served(&B_KEY, false));
            // Both pools have a key `shared-kid`: B's is looked up, and A's signature fails it.
            let forged = token(&A_KEY, &issuer("cognito-idp", POOL_B));
            assert_eq!(
                rejection(verifier.verify(&forged, NOW).await),
                Rejection::BadSignature
            );
            // A kid only pool A has is unknown in pool B.
            let only_a: &'static TestKey = Box::leak(Box::new(TestKey::generate("only-a")));
            let a = served(only_a, false);
            let verifier = two(a, served(&B_KEY, false));
            let forged = token(only_a, &issuer("cognito-idp", POOL_B));
            assert_eq!(
                rejection(verifier.verify(&forged, NOW).await),
                Rejection::UnknownKey
            );
            assert_eq!(
                a.fetches.load(Ordering::SeqCst),
                0,
                "pool A's keys not read"
            );
        }

        #[tokio::test(start_paused = true)]
        async fn pool_bs_unknown_kid_flood_costs_pool_a_no_fetch_and_no_wait() {
            let (a, b) = (served(&A_KEY, false), served(&B_KEY, false));
            let verifier = two(a, b);
            let good_a = token(&A_KEY, &issuer("cognito-idp", POOL_A));
            assert!(verifier.verify(&good_a, NOW).await.is_ok());
            for i in 0..200 {
                let flood = B_KEY.sign_with_header(
                    json!({"alg": "RS256", "kid": format!("flood-{i}")}),
                    &access_claims(&issuer("cognito-idp", POOL_B), CLIENT, &[], NOW),
                );
                assert_eq!(
                    rejection(verifier.verify(&flood, NOW).await),
                    Rejection::UnknownKey
                );
                assert!(verifier.verify(&good_a, NOW).await.is_ok());
            }
            assert_eq!(b.fetches.load(Ordering::SeqCst), 1, "B's own rate limit");
            assert_eq!(
                a.fetches.load(Ordering::SeqCst),
                1,
                "A fetched once, at first"
            );
        }

        #[tokio::test(start_paused = true)]
        async fn pool_as_decisions_do_not_wait_on_pool_bs_hung_jwks() {
            let (a, b) = (served(&A_KEY, false), served(&B_KEY, true));
            let verifier: &'static TokenVerifier<&'static Served> = Box::leak(Box::new(two(a, b)));
            let mut flood = tokio::task::JoinSet::new();
            for i in 0..20 {
                let token = B_KEY.sign_with_header(
                    json!({"alg": "RS256", "kid": format!("flood-{i}")}),
                    &access_claims(&issuer("cognito-idp", POOL_B), CLIENT, &[], NOW),
                );
                flood.spawn(async move { verifier.verify(&token, NOW).await.is_ok() });
            }
            while b.fetches.load(Ordering::SeqCst) == 0 {
                tokio::task::yield_now().await;
            }
            // The clock is paused: a decision that waited on pool B's fetch would let it run
            // to the millisecond and time out; pool A's is answered without waiting at all.
            let good_a = token(&A_KEY, &issuer("cognito-idp", POOL_A));
            for _ in 0..10 {
                let decided =
                    tokio::time::timeout(Duration::from_millis(1), verifier.verify(&good_a, NOW))
                        .await;
                assert!(matches!(decided, Ok(Ok(_))), "{decided:?}");
            }
            assert_eq!(b.fetches.load(Ordering::SeqCst), 1);
            assert_eq!(
                flood.len(),
                20,
                "pool B's requests are still waiting on its JWKS"
            );
            flood.abort_all();
        }

        #[test]
        fn a_pool_trusted_twice_or_none_is_refused() {
            let a = served(&A_KEY, false);
            let twice = TokenVerifier::for_pools(vec![pool(POOL_A, "", a), pool(POOL_A, "x:", a)]);
            assert!(twice.err().unwrap().to_string().contains("trusted twice"));
            let none = TokenVerifier::<&'static Served>::for_pools(Vec::new());
            assert!(none.err().unwrap().to_string().contains("no user pool"));
            let same_prefix =
                TokenVerifier::for_pools(vec![pool(POOL_A, "", a), pool(POOL_B, "", a)]);
            assert!(same_prefix.is_err());
        }
    }
}
