//! The user pool's signing keys: fetched lazily, parsed once, refreshed at most every so often.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse};
use tokio::time::Instant;

use crate::Error;

/// Largest JWKS document accepted; Cognito's is well under 2 KiB.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// RS256 verification keys by `kid`, parsed once so a verification does no key parsing.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, ParsedPublicKey>,
}

impl KeySet {
    /// Reads the RS256 signing keys of a JWKS document. Keys of other types or uses are skipped;
    /// a document that is not a JWKS at all, or whose RSA key cannot be parsed, is an error.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<Self, Error> {
        let set: JwkSet = serde_json::from_slice(bytes)
            .map_err(|e| Error::Jwks(format!("not a JWKS document: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in set.keys {
            let AlgorithmParameters::RSA(rsa) = &jwk.algorithm else {
                continue;
            };
            if jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|u| *u != PublicKeyUse::Signature)
            {
                continue;
            }
            if jwk
                .common
                .key_algorithm
                .is_some_and(|a| a != KeyAlgorithm::RS256)
            {
                continue;
            }
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let decode = |what: &str, value: &str| {
                URL_SAFE_NO_PAD
                    .decode(value)
                    .map_err(|e| Error::Jwks(format!("key `{kid}`: `{what}` is not base64url: {e}")))
            };
            let n = decode("n", &rsa.n)?;
            let e = decode("e", &rsa.e)?;
            let parsed = RsaPublicKeyComponents { n: &n, e: &e }
                .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
                .map_err(|err| Error::Jwks(format!("key `{kid}` is not a usable RSA key: {err}")))?;
            keys.insert(kid, parsed);
        }
        Ok(Self { keys })
    }

    pub fn get(&self, kid: &str) -> Option<&ParsedPublicKey> {
        self.keys.get(kid)
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Where the JWKS document comes from. The HTTP source is the real one; tests may serve their own.
pub trait JwksSource: Send + Sync {
    fn fetch(&self) -> impl Future<Output = Result<Vec<u8>, Error>> + Send;
}

/// Fetches the JWKS over HTTP(S) with connect and response timeouts and a size cap.
pub struct HttpJwksSource {
    client: reqwest::Client,
    url: String,
}

impl HttpJwksSource {
    pub fn new(url: String) -> Result<Self, Error> {
        // reqwest is built without a bundled crypto provider; use the aws-lc one the SDK uses too.
        // Installing fails only if a provider is installed already, which is just as good.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(1500))
            .timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::Jwks(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { client, url })
    }
}

impl JwksSource for HttpJwksSource {
    async fn fetch(&self) -> Result<Vec<u8>, Error> {
        let fail = |e: &dyn std::fmt::Display| Error::Jwks(format!("GET `{}`: {e}", self.url));
        let mut response = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| fail(&e))?;
        if !response.status().is_success() {
            return Err(fail(&format!("status {}", response.status())));
        }
        if response
            .content_length()
            .is_some_and(|len| len > MAX_JWKS_BYTES as u64)
        {
            return Err(fail(&format!("larger than {MAX_JWKS_BYTES} bytes")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| fail(&e))? {
            if body.len() + chunk.len() > MAX_JWKS_BYTES {
                return Err(fail(&format!("larger than {MAX_JWKS_BYTES} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The outcome of looking up a key.
pub enum KeyLookup {
    Found(Arc<KeySet>),
    /// The JWKS was read (now or recently) and has no key with this id.
    Unknown,
}

/// Keeps the parsed key set. A `kid` it does not know triggers at most one fetch per
/// `refresh_interval`, shared by every request waiting on it; when a fetch fails the keys already
/// held stay in use.
pub struct JwksCache<S> {
    source: S,
    keys: RwLock<Arc<KeySet>>,
    /// When the last fetch was attempted; guards the single flight.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    refresh_interval: Duration,
}

impl<S: JwksSource> JwksCache<S> {
    pub fn new(source: S, refresh_interval: Duration) -> Self {
        Self {
            source,
            keys: RwLock::new(Arc::new(KeySet::default())),
            last_fetch: tokio::sync::Mutex::new(None),
            refresh_interval,
        }
    }

    fn current(&self) -> Arc<KeySet> {
        match self.keys.read() {
            Ok(keys) => Arc::clone(&keys),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Returns the key set holding `kid`, fetching the JWKS if `kid` is new and no fetch was
    /// attempted within the refresh interval. An error means the keys could not be had at all
    /// (no keys held and the fetch failed): the caller must not treat it as a bad token.
    pub async fn lookup(&self, kid: &str) -> Result<KeyLookup, Error> {
        let keys = self.current();
        if keys.get(kid).is_some() {
            return Ok(KeyLookup::Found(keys));
        }
        let mut last_fetch = self.last_fetch.lock().await;
        // Another request may have fetched while this one waited for the lock.
        let keys = self.current();
        if keys.get(kid).is_some() {
            return Ok(KeyLookup::Found(keys));
        }
        if last_fetch.is_some_and(|at| at.elapsed() < self.refresh_interval) {
            return if keys.is_empty() {
                Err(Error::Jwks(
                    "no signing keys held and the last fetch failed recently".to_owned(),
                ))
            } else {
                Ok(KeyLookup::Unknown)
            };
        }
        *last_fetch = Some(Instant::now());
        let fetched = self
            .source
            .fetch()
            .await
            .and_then(|bytes| KeySet::from_jwks_json(&bytes));
        match fetched {
            Ok(fresh) => {
                let fresh = Arc::new(fresh);
                match self.keys.write() {
                    Ok(mut keys) => *keys = Arc::clone(&fresh),
                    Err(poisoned) => *poisoned.into_inner() = Arc::clone(&fresh),
                }
                tracing::info!(keys = fresh.len(), "jwks refreshed");
                Ok(if fresh.get(kid).is_some() {
                    KeyLookup::Found(fresh)
                } else {
                    KeyLookup::Unknown
                })
            }
            Err(err) if keys.is_empty() => Err(err),
            Err(err) => {
                tracing::warn!(error = %err, "jwks refresh failed; keeping the keys held");
                Ok(KeyLookup::Unknown)
            }
        }
    }
}
