//! Cognito JWT verification: token in, claims or a reason to reject it out.
//!
//! The checks follow what Cognito documents for its tokens (and what awslabs' aws-jwt-verify
//! enforces). The algorithm is pinned to RS256 by us; nothing in the token's header chooses how it
//! is verified, and keys come only from the configured JWKS.

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use aws_lc_rs::signature::ParsedPublicKey;

use crate::Error;
use crate::claims::{CognitoClaims, TokenUse};
use crate::jwks::{JwksCache, JwksSource, KeyLookup, KeySet};

/// Longest lifetime (`exp - iat`) accepted; Cognito's own maximum for access and ID tokens.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

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

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Malformed(why) => write!(f, "malformed token: {why}"),
            Rejection::Algorithm(alg) => write!(f, "algorithm `{alg}` is not RS256"),
            Rejection::Claims(why) => write!(f, "bad claims: {why}"),
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
        let region = user_pool_region(user_pool_id)?;
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
        if claims.nbf.is_some_and(|nbf| nbf > now.saturating_add(leeway)) {
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

/// The region of a user pool id such as `us-east-1_AbCdEf123`.
pub fn user_pool_region(user_pool_id: &str) -> Result<&str, Error> {
    match user_pool_id.split_once('_') {
        Some((region, id))
            if !region.is_empty()
                && !id.is_empty()
                && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && id.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            Ok(region)
        }
        _ => Err(Error::Config(format!(
            "user pool id `{user_pool_id}` is not of the form `{{region}}_{{id}}`"
        ))),
    }
}

/// The fields of the JOSE header we read. Others (`jwk`, `jku`, `x5u`, `x5c`, ...) are ignored:
/// keys come only from our JWKS.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
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
            return Err(Rejection::Algorithm(header.alg));
        }
        if header.crit.is_some() {
            return Err(Rejection::CriticalHeader);
        }
        let kid = header.kid.ok_or(Rejection::UnknownKey)?;
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
