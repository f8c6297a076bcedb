//! The user pool's signing keys: fetched lazily, parsed once, re-read when they are old or a
//! token names a key not held, and trusted only for a bounded time after the JWKS last listed them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, JwkSet, KeyAlgorithm, PublicKeyUse, RSAKeyParameters,
};
use tokio::time::Instant;

use crate::Error;
use crate::untrusted::Untrusted;

/// Largest JWKS document accepted; Cognito's is well under 2 KiB.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;

/// How long keys read from the JWKS are used before the JWKS is read again, by default: a key
/// removed from the pool's JWKS stops being trusted within this time (see [`JwksCache`]).
/// Cognito may rotate a pool's keys and asks that cached keys be refreshed periodically:
/// <https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html>
pub const DEFAULT_KEYS_MAX_AGE: Duration = Duration::from_secs(15 * 60);

/// The RSA modulus sizes RS256 is verified with: [`RSA_PKCS1_2048_8192_SHA256`]'s range, which
/// verification enforces; 2048 bits or more is what
/// <https://www.rfc-editor.org/rfc/rfc7518#section-3.3> requires.
const MODULUS_BITS: std::ops::RangeInclusive<usize> = 2048..=8192;
/// The smallest public exponent accepted: FIPS 186-5 (appendix A.1.1) requires an odd e above
/// 2^16, <https://nvlpubs.nist.gov/nistpubs/FIPS/NIST.FIPS.186-5.pdf>.
const MIN_EXPONENT: u64 = 65537;
/// The widest public exponent AWS-LC verifies with (its `is_public_component_of_rsa_key_good`, a
/// guard against slow verification): larger ones fail every signature.
const MAX_EXPONENT_BITS: usize = 33;

/// RS256 verification keys by `kid`, parsed once so a verification does no key parsing.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, ParsedPublicKey>,
    /// The RS256 signing keys the document listed that cannot verify anything, and why.
    unusable: Vec<String>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.keys.keys()).finish()
    }
}

impl KeySet {
    /// Reads the RS256 signing keys of a JWKS document. Keys of other types or uses are skipped,
    /// and so are RSA keys that could not verify a token (see [`usable_rsa_key`]): they are
    /// checked here, not found out at the first signature, where a key that fails every
    /// verification would turn into a 401 for every token. A document that is not a JWKS at all,
    /// or that holds no usable key, is an error: a pool's JWKS always has its RS256 keys, so an
    /// empty set is a broken or wrong endpoint (a fault), never a reason to answer 401.
    pub fn from_jwks_json(bytes: &[u8]) -> Result<Self, Error> {
        let set: JwkSet = serde_json::from_slice(bytes)
            .map_err(|e| Error::Jwks(format!("not a JWKS document: {e}")))?;
        let listed = set.keys.len();
        let mut keys = HashMap::new();
        let mut unusable = Vec::new();
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
            let Some(kid) = jwk.common.key_id else {
                continue;
            };
            match usable_rsa_key(rsa) {
                Ok(parsed) => {
                    keys.insert(kid, parsed);
                }
                Err(why) => unusable.push(format!("key `{}`: {why}", Untrusted(&kid))),
            }
        }
        if keys.is_empty() {
            let mut message =
                format!("the JWKS holds no usable RS256 signing key (of {listed} keys listed)");
            if !unusable.is_empty() {
                message = format!("{message}: {}", unusable.join("; "));
            }
            return Err(Error::Jwks(message));
        }
        Ok(Self { keys, unusable })
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

    /// The RSA signing keys skipped as unusable, each with why.
    pub fn unusable(&self) -> &[String] {
        &self.unusable
    }
}

/// The RSA key `rsa` parsed for RS256, or why it cannot verify a token. aws-lc-rs checks none of
/// this when it parses the components: a modulus outside 2048 to 8192 bits, an even one, or an
/// even, too small or too large exponent all parse, and then fail every signature (an exponent
/// of 3 or 17 even verifies). The components must be minimal big-endian, as
/// <https://www.rfc-editor.org/rfc/rfc7518#section-6.3.1> asks (aws-lc-rs refuses a leading zero).
fn usable_rsa_key(rsa: &RSAKeyParameters) -> Result<ParsedPublicKey, String> {
    let decode = |what: &str, value: &str| {
        let bytes = URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|e| format!("`{what}` is not base64url: {e}"))?;
        match bytes.first() {
            Some(0) => Err(format!("`{what}` has a leading zero octet")),
            Some(_) => Ok(bytes),
            None => Err(format!("`{what}` is empty")),
        }
    };
    let n = decode("n", &rsa.n)?;
    let e = decode("e", &rsa.e)?;
    let n_bits = bit_length(&n);
    if !MODULUS_BITS.contains(&n_bits) {
        return Err(format!(
            "its modulus has {n_bits} bits, outside {} to {}",
            MODULUS_BITS.start(),
            MODULUS_BITS.end()
        ));
    }
    if n.last().is_some_and(|b| b & 1 == 0) {
        return Err("its modulus is even".to_owned());
    }
    if bit_length(&e) > MAX_EXPONENT_BITS {
        return Err(format!(
            "its public exponent has {} bits, over {MAX_EXPONENT_BITS}",
            bit_length(&e)
        ));
    }
    let exponent = e.iter().fold(0u64, |value, b| value << 8 | u64::from(*b));
    if exponent < MIN_EXPONENT || exponent % 2 == 0 {
        return Err(format!(
            "its public exponent is {exponent}: it must be odd and at least {MIN_EXPONENT}"
        ));
    }
    RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
        .map_err(|err| format!("aws-lc-rs refuses it: {err}"))
}

/// The number of significant bits of a big-endian number with no leading zero octet.
fn bit_length(bytes: &[u8]) -> usize {
    bytes
        .first()
        .map_or(0, |first| bytes.len() * 8 - first.leading_zeros() as usize)
}

/// Where the JWKS document comes from. The HTTP source is the real one; tests may serve their own.
pub trait JwksSource: Send + Sync {
    fn fetch(&self) -> impl Future<Output = Result<Vec<u8>, Error>> + Send;
}

/// Fetches the JWKS over HTTP(S) with connect and response timeouts and a size cap.
#[cfg(feature = "http-jwks")]
pub struct HttpJwksSource {
    client: reqwest::Client,
    url: String,
}

#[cfg(feature = "http-jwks")]
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

#[cfg(feature = "http-jwks")]
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

/// The keys held, and when the fetch that read them was made (`None`: never).
#[derive(Clone, Default)]
struct Held {
    keys: Arc<KeySet>,
    read_at: Option<Instant>,
}

impl Held {
    /// Read less than `age` ago.
    fn younger_than(&self, age: Duration) -> bool {
        self.read_at.is_some_and(|at| at.elapsed() < age)
    }
}

/// Keeps the parsed key set, and reads the JWKS again (one fetch, shared by every request
/// waiting on it, at most one per `refresh_interval`) when:
/// - a token names a `kid` that is not held (key rotation);
/// - the keys are `max_age` old: the new document replaces them, so a key removed from the JWKS
///   stops being trusted then. One request makes the fetch; the others go on with the held
///   keys meanwhile rather than queue behind it.
///
/// When that fetch fails, the keys held stay in use, but only until they are twice `max_age`
/// old: past that nothing is trusted and every lookup is an error (a 500, not a 401) until the
/// JWKS can be read again. A JWKS blip then costs nothing, while a long outage cannot keep a
/// withdrawn key trusted for longer than that bound.
pub struct JwksCache<S> {
    source: S,
    held: RwLock<Held>,
    /// When the last fetch was attempted; guards the single flight.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
    refresh_interval: Duration,
    max_age: Duration,
}

impl<S: JwksSource> JwksCache<S> {
    /// A cache whose keys are read again after [`DEFAULT_KEYS_MAX_AGE`].
    pub fn new(source: S, refresh_interval: Duration) -> Self {
        Self {
            source,
            held: RwLock::new(Held::default()),
            last_fetch: tokio::sync::Mutex::new(None),
            refresh_interval,
            max_age: DEFAULT_KEYS_MAX_AGE,
        }
    }

    /// Reads the keys again once they are `max_age` old (see [`JwksCache`]).
    pub fn with_max_age(self, max_age: Duration) -> Self {
        Self { max_age, ..self }
    }

    fn current(&self) -> Held {
        match self.held.read() {
            Ok(held) => held.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Whether `held` may still be used: younger than twice the maximum age.
    fn trusted(&self, held: &Held) -> bool {
        held.younger_than(self.max_age.saturating_mul(2))
    }

    /// Fetches the JWKS and reads its keys.
    async fn fetch_keys(&self) -> Result<Arc<KeySet>, Error> {
        let bytes = self.source.fetch().await?;
        let keys = KeySet::from_jwks_json(&bytes).map(Arc::new)?;
        if !keys.unusable().is_empty() {
            tracing::warn!(
                unusable = keys.unusable().join("; "),
                "the JWKS lists signing keys that cannot be used; they are skipped"
            );
        }
        Ok(keys)
    }

    /// Makes `fresh`, read at `read_at`, the keys every lookup sees.
    fn hold(&self, fresh: &Arc<KeySet>, read_at: Instant) {
        let held = Held {
            keys: Arc::clone(fresh),
            read_at: Some(read_at),
        };
        match self.held.write() {
            Ok(mut slot) => *slot = held,
            Err(poisoned) => *poisoned.into_inner() = held,
        }
    }

    /// Fetches the keys ahead of the first request, at start-up. Unlike [`Self::lookup`], a
    /// failure leaves no trace: the first request then fetches as if nothing had been tried, so
    /// a start-up fetch that failed or was cut off never turns into "the last fetch failed
    /// recently". Dropping the future (a start-up deadline) releases the single-flight lock and
    /// the connection with it. Returns how many keys are held.
    pub async fn prefetch(&self) -> Result<usize, Error> {
        let mut last_fetch = self.last_fetch.lock().await;
        let held = self.current();
        if held.younger_than(self.max_age) {
            return Ok(held.keys.len());
        }
        let started = Instant::now();
        let fresh = self.fetch_keys().await?;
        self.hold(&fresh, started);
        *last_fetch = Some(started);
        Ok(fresh.len())
    }

    /// Returns the key set holding `kid`, reading the JWKS first if `kid` is new or the keys
    /// are old (see [`JwksCache`]). An error means no keys can be trusted (none held, or only
    /// ones past twice their maximum age, and the fetch failed): the caller must not treat it
    /// as a bad token.
    pub async fn lookup(&self, kid: &str) -> Result<KeyLookup, Error> {
        let held = self.current();
        let listed = held.keys.get(kid).is_some();
        if listed && held.younger_than(self.max_age) {
            return Ok(KeyLookup::Found(held.keys));
        }
        let mut last_fetch = match self.last_fetch.try_lock() {
            Ok(guard) => guard,
            // Another request is reading the JWKS: go on with the old key meanwhile.
            Err(_) if listed && self.trusted(&held) => return Ok(KeyLookup::Found(held.keys)),
            Err(_) => self.last_fetch.lock().await,
        };
        // Another request may have fetched while this one waited for the lock.
        let held = self.current();
        let listed = held.keys.get(kid).is_some();
        if listed && held.younger_than(self.max_age) {
            return Ok(KeyLookup::Found(held.keys));
        }
        let trusted = self.trusted(&held) && !held.keys.is_empty();
        if last_fetch.is_some_and(|at| at.elapsed() < self.refresh_interval) {
            return match (trusted, listed) {
                (true, true) => Ok(KeyLookup::Found(held.keys)),
                (true, false) => Ok(KeyLookup::Unknown),
                (false, _) => Err(Error::Jwks(
                    "no signing keys held that can be trusted, and the last fetch failed recently"
                        .to_owned(),
                )),
            };
        }
        let started = Instant::now();
        *last_fetch = Some(started);
        match self.fetch_keys().await {
            Ok(fresh) => {
                self.hold(&fresh, started);
                tracing::info!(jwks_fetch = "ok", keys = fresh.len(), "jwks refreshed");
                Ok(if fresh.get(kid).is_some() {
                    KeyLookup::Found(fresh)
                } else {
                    KeyLookup::Unknown
                })
            }
            Err(err) if trusted => {
                tracing::warn!(
                    jwks_fetch = "failed",
                    error = %err,
                    "jwks refresh failed; keeping the keys held until twice their maximum age"
                );
                Ok(if listed {
                    KeyLookup::Found(held.keys)
                } else {
                    KeyLookup::Unknown
                })
            }
            Err(err) => {
                tracing::warn!(
                    jwks_fetch = "failed",
                    error = %err,
                    "jwks fetch failed; no keys held that can be trusted"
                );
                Err(err)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use groupgate_testkit::{StaticHttpServer, TestKey, jwks};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{LazyLock, Mutex};

    static K1: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("k1"));
    static K2: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("k2"));

    /// A source whose document can be changed or failed, counting fetches.
    struct Scripted {
        document: Mutex<Result<String, String>>,
        fetches: AtomicUsize,
    }

    impl Scripted {
        fn new(document: Result<String, String>) -> Self {
            Self {
                document: Mutex::new(document),
                fetches: AtomicUsize::new(0),
            }
        }
        fn set(&self, document: Result<String, String>) {
            *self.document.lock().unwrap() = document;
        }
        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    impl JwksSource for &Scripted {
        async fn fetch(&self) -> Result<Vec<u8>, Error> {
            self.fetches.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            self.document
                .lock()
                .unwrap()
                .clone()
                .map(String::into_bytes)
                .map_err(Error::Jwks)
        }
    }

    #[test]
    fn only_rsa_signature_keys_for_rs256_are_kept() {
        let mut enc = K2.jwk();
        enc["use"] = "enc".into();
        let mut ps = K2.jwk();
        ps["kid"] = "ps".into();
        ps["alg"] = "PS256".into();
        let ec = serde_json::json!({"kty":"EC","kid":"ec","crv":"P-256",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        let mut no_use = K1.jwk();
        no_use.as_object_mut().unwrap().remove("use");
        let doc = serde_json::json!({"keys": [enc, ps, ec, no_use]}).to_string();
        let set = KeySet::from_jwks_json(doc.as_bytes()).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.get("k1").is_some());
    }

    #[tokio::test]
    async fn a_prefetch_fills_the_keys_and_a_failed_or_cut_off_one_leaves_no_trace() {
        let source = Scripted::new(Ok(jwks(&[&K1])));
        let cache = JwksCache::new(&source, Duration::from_secs(60));
        assert_eq!(cache.prefetch().await.unwrap(), 1);
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        assert_eq!(
            source.fetches(),
            1,
            "the first request used the prefetched keys"
        );

        // A failed prefetch: the first request still fetches, and succeeds once the source does.
        let source = Scripted::new(Err("down".into()));
        let cache = JwksCache::new(&source, Duration::from_secs(60));
        assert!(cache.prefetch().await.is_err());
        source.set(Ok(jwks(&[&K1])));
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));

        // A prefetch cut off by a deadline leaves the lock free and no failure behind: the
        // first request fetches at once.
        let source = StallsOnce(AtomicUsize::new(0));
        let cache = JwksCache::new(&source, Duration::from_secs(60));
        let cut = tokio::time::timeout(Duration::from_millis(20), cache.prefetch()).await;
        assert!(cut.is_err(), "the prefetch was cut off");
        let lookup = tokio::time::timeout(Duration::from_secs(5), cache.lookup("k1")).await;
        assert!(matches!(lookup, Ok(Ok(KeyLookup::Found(_)))));
    }

    /// A source whose first fetch never answers; later ones serve K1.
    struct StallsOnce(AtomicUsize);

    impl JwksSource for &StallsOnce {
        async fn fetch(&self) -> Result<Vec<u8>, Error> {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                std::future::pending::<()>().await;
            }
            Ok(jwks(&[&K1]).into_bytes())
        }
    }

    #[test]
    fn a_jwks_without_a_usable_key_is_a_fault_not_an_empty_set() {
        let ec = serde_json::json!({"kty":"EC","kid":"ec","crv":"P-256",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
        for doc in [
            serde_json::json!({"keys": [ec]}),
            serde_json::json!({"keys": []}),
        ] {
            let err = KeySet::from_jwks_json(doc.to_string().as_bytes()).unwrap_err();
            assert!(
                err.to_string().contains("no usable RS256 signing key"),
                "{err}"
            );
        }
    }

    #[tokio::test]
    async fn keys_of_another_type_are_an_error_for_the_caller_never_unknown() {
        let ec = serde_json::json!({"keys": [{"kty":"EC","kid":"k1","crv":"P-256",
            "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]});
        let source = Scripted::new(Ok(ec.to_string()));
        let cache = JwksCache::new(&source, Duration::from_secs(60));
        assert!(cache.lookup("k1").await.is_err());
        // The endpoint is fixed: the next fetch (after the interval) serves again.
        source.set(Ok(jwks(&[&K1])));
        let cache = JwksCache::new(&source, Duration::ZERO);
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
    }

    #[tokio::test]
    async fn a_jwks_endpoint_that_never_answers_is_given_up_within_its_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let source = HttpJwksSource::new(format!("http://{address}/j")).unwrap();
        let started = std::time::Instant::now();
        let err = source.fetch().await.unwrap_err();
        // Generous: the source's own timeout is 3 s; this checks that it works, not speed.
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        assert!(err.to_string().contains(&address.to_string()), "{err}");
    }

    #[test]
    fn a_document_that_is_not_a_jwks_is_an_error() {
        assert!(KeySet::from_jwks_json(b"<html>").is_err());
        let mut bad = K1.jwk();
        bad["n"] = "not base64!".into();
        let doc = serde_json::json!({"keys": [bad]}).to_string();
        let err = KeySet::from_jwks_json(doc.as_bytes())
            .unwrap_err()
            .to_string();
        assert!(err.contains("`k1`"), "{err}");
    }

    #[tokio::test(start_paused = true)]
    async fn keys_are_fetched_lazily_once() {
        let source = Scripted::new(Ok(jwks(&[&K1])));
        let cache = JwksCache::new(&source, Duration::from_secs(10));
        assert_eq!(source.fetches(), 0);
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        assert_eq!(source.fetches(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_kid_refetches_at_most_once_per_interval() {
        let source = Scripted::new(Ok(jwks(&[&K1])));
        let cache = JwksCache::new(&source, Duration::from_secs(10));
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        for _ in 0..5 {
            assert!(matches!(cache.lookup("nope").await, Ok(KeyLookup::Unknown)));
        }
        assert_eq!(source.fetches(), 1, "inside the interval no refetch");
        // A rotated-in key becomes usable once the interval has passed.
        source.set(Ok(jwks(&[&K1, &K2])));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(matches!(cache.lookup("k2").await, Ok(KeyLookup::Found(_))));
        assert_eq!(source.fetches(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_lookups_of_a_new_kid_share_one_fetch() {
        let source: &'static Scripted = Box::leak(Box::new(Scripted::new(Ok(jwks(&[&K1])))));
        let cache = Arc::new(JwksCache::new(source, Duration::from_secs(10)));
        let mut lookups = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let cache = Arc::clone(&cache);
            lookups
                .spawn(async move { matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))) });
        }
        while let Some(found) = lookups.join_next().await {
            assert!(found.unwrap());
        }
        assert_eq!(source.fetches(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_outage_keeps_the_keys_already_held() {
        let source = Scripted::new(Ok(jwks(&[&K1])));
        let cache = JwksCache::new(&source, Duration::from_secs(10));
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        source.set(Err("connection refused".into()));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(matches!(cache.lookup("k2").await, Ok(KeyLookup::Unknown)));
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
    }

    #[tokio::test(start_paused = true)]
    async fn no_keys_and_a_failed_fetch_is_an_error_not_a_rejection() {
        let source = Scripted::new(Err("connection refused".into()));
        let cache = JwksCache::new(&source, Duration::from_secs(10));
        assert!(cache.lookup("k1").await.is_err());
        assert!(cache.lookup("k1").await.is_err());
        assert_eq!(
            source.fetches(),
            1,
            "a failed fetch is not retried inside the interval"
        );
        source.set(Ok(jwks(&[&K1])));
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
    }

    /// An RSA JWK with these components, base64url-encoded as they are (leading zeros kept).
    fn rsa_jwk(kid: &str, n: &[u8], e: &[u8]) -> serde_json::Value {
        serde_json::json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e)})
    }

    /// An odd number of exactly `bits` bits (parsing does not check that it is a product of
    /// primes, and nothing here needs it to be).
    fn odd_modulus(bits: usize) -> Vec<u8> {
        let mut n = vec![0x5a; bits.div_ceil(8)];
        n[0] = 1 << ((bits - 1) % 8);
        *n.last_mut().unwrap() |= 1;
        n
    }

    fn k1_modulus() -> Vec<u8> {
        URL_SAFE_NO_PAD
            .decode(K1.jwk()["n"].as_str().unwrap())
            .unwrap()
    }

    /// Issue #20: each of these parsed, and then failed every signature (a 401 for every token)
    /// or, for exponents 3 and 17, verified; a modulus with a leading zero octet failed the whole
    /// document, good keys and all. Each is now skipped when the JWKS is read, with why.
    #[test]
    fn unusable_rsa_keys_are_skipped_and_a_jwks_of_only_them_is_a_fault() {
        let good_n = k1_modulus();
        let mut even_n = good_n.clone();
        *even_n.last_mut().unwrap() &= 0xfe;
        let mut leading_zero = vec![0];
        leading_zero.extend(&good_n);
        let f4 = [1, 0, 1];
        let cases: [(&str, Vec<u8>, &[u8], &str); 11] = [
            ("e3", good_n.clone(), &[3], "public exponent is 3:"),
            ("e17", good_n.clone(), &[17], "public exponent is 17:"),
            ("e1", good_n.clone(), &[1], "public exponent is 1:"),
            (
                "even-e",
                good_n.clone(),
                &[1, 0, 2],
                "public exponent is 65538:",
            ),
            (
                "wide-e",
                good_n.clone(),
                &[2, 0, 0, 0, 1],
                "public exponent has 34 bits",
            ),
            ("n1024", odd_modulus(1024), &f4, "modulus has 1024 bits"),
            ("n2047", odd_modulus(2047), &f4, "modulus has 2047 bits"),
            ("n8193", odd_modulus(8193), &f4, "modulus has 8193 bits"),
            ("even-n", even_n, &f4, "modulus is even"),
            ("zero-n", leading_zero, &f4, "`n` has a leading zero octet"),
            ("empty-e", good_n.clone(), &[], "`e` is empty"),
        ];
        for (kid, n, e, why) in cases {
            let bad = rsa_jwk(kid, &n, e);
            let alone = serde_json::json!({"keys": [bad]}).to_string();
            let err = KeySet::from_jwks_json(alone.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("no usable RS256 signing key") && err.contains(why),
                "{kid}: {err}"
            );
            assert!(err.contains(&format!("`{kid}`")), "{kid}: {err}");

            let beside = serde_json::json!({"keys": [bad, K1.jwk()]}).to_string();
            let set = KeySet::from_jwks_json(beside.as_bytes()).unwrap();
            assert!(set.get(kid).is_none(), "{kid} was kept");
            assert!(set.get("k1").is_some(), "{kid} cost the good key");
            assert_eq!(set.unusable().len(), 1, "{kid}");
            assert!(
                set.unusable()[0].contains(why),
                "{kid}: {:?}",
                set.unusable()
            );
        }
    }

    #[test]
    fn rsa_keys_at_the_edges_of_the_accepted_sizes_are_kept() {
        for (kid, n, e) in [
            ("n2048", odd_modulus(2048), vec![1, 0, 1]),
            ("n8192", odd_modulus(8192), vec![1, 0, 1]),
            ("e33bits", k1_modulus(), vec![1, 0xff, 0xff, 0xff, 0xff]),
        ] {
            let doc = serde_json::json!({"keys": [rsa_jwk(kid, &n, &e)]}).to_string();
            let set =
                KeySet::from_jwks_json(doc.as_bytes()).unwrap_or_else(|err| panic!("{kid}: {err}"));
            assert!(set.get(kid).is_some(), "{kid}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_removed_from_the_jwks_stops_being_trusted_once_the_keys_are_max_age_old() {
        let max_age = Duration::from_secs(600);
        let source = Scripted::new(Ok(jwks(&[&K1, &K2])));
        let cache = JwksCache::new(&source, Duration::from_secs(10)).with_max_age(max_age);
        assert!(matches!(cache.lookup("k2").await, Ok(KeyLookup::Found(_))));
        source.set(Ok(jwks(&[&K1])));
        // Until then the held keys are used with no fetch, however many requests come.
        tokio::time::advance(max_age - Duration::from_secs(1)).await;
        for _ in 0..100 {
            assert!(matches!(cache.lookup("k2").await, Ok(KeyLookup::Found(_))));
        }
        assert_eq!(source.fetches(), 1, "no fetch per request");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(matches!(cache.lookup("k2").await, Ok(KeyLookup::Unknown)));
        assert_eq!(source.fetches(), 2);
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        assert_eq!(source.fetches(), 2, "the re-read keys are young again");
    }

    #[tokio::test(start_paused = true)]
    async fn while_the_jwks_is_down_old_keys_serve_until_twice_their_max_age_then_nothing_does() {
        let max_age = Duration::from_secs(600);
        let source = Scripted::new(Ok(jwks(&[&K1])));
        let cache = JwksCache::new(&source, Duration::from_secs(10)).with_max_age(max_age);
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        source.set(Err("connection refused".into()));
        tokio::time::advance(max_age).await;
        // Old, and the re-read fails: still trusted, re-read at most once per interval.
        for _ in 0..5 {
            assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        }
        assert_eq!(source.fetches(), 2);
        tokio::time::advance(max_age - Duration::from_secs(1)).await;
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        assert_eq!(source.fetches(), 3);
        // Twice the maximum age: nothing is trusted, which is a fault (500), not a bad token.
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(cache.lookup("k1").await.is_err());
        assert!(cache.lookup("k1").await.is_err());
        assert_eq!(
            source.fetches(),
            3,
            "a failed fetch is not retried inside the interval"
        );
        // The JWKS is back: served again at the next fetch.
        source.set(Ok(jwks(&[&K1])));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
    }

    /// A source that serves K1 once `open` is notified, counting fetches.
    struct Gated {
        open: tokio::sync::Notify,
        fetches: AtomicUsize,
    }

    impl JwksSource for &Gated {
        async fn fetch(&self) -> Result<Vec<u8>, Error> {
            if self.fetches.fetch_add(1, Ordering::SeqCst) > 0 {
                self.open.notified().await;
            }
            Ok(jwks(&[&K1]).into_bytes())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn while_one_request_reads_old_keys_again_the_others_go_on_with_them() {
        let max_age = Duration::from_secs(600);
        let source: &'static Gated = Box::leak(Box::new(Gated {
            open: tokio::sync::Notify::new(),
            fetches: AtomicUsize::new(0),
        }));
        let cache = Arc::new(JwksCache::new(source, Duration::from_secs(10)).with_max_age(max_age));
        assert!(matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))));
        tokio::time::advance(max_age).await;
        let reading = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { matches!(cache.lookup("k1").await, Ok(KeyLookup::Found(_))) }
        });
        for _ in 0..1000 {
            if source.fetches.load(Ordering::SeqCst) == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(
            source.fetches.load(Ordering::SeqCst),
            2,
            "old keys are read again"
        );
        // The re-read hangs; another request is answered with the old key, without waiting.
        let other = tokio::time::timeout(Duration::from_millis(1), cache.lookup("k1")).await;
        assert!(matches!(other, Ok(Ok(KeyLookup::Found(_)))));
        source.open.notify_one();
        assert!(reading.await.unwrap());
        assert_eq!(source.fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_http_source_reads_a_jwks_over_http() {
        let server = StaticHttpServer::start("200 OK", jwks(&[&K1]))
            .await
            .unwrap();
        let source = HttpJwksSource::new(server.url("/pool/.well-known/jwks.json")).unwrap();
        let body = source.fetch().await.unwrap();
        assert!(KeySet::from_jwks_json(&body).unwrap().get("k1").is_some());
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn the_http_source_refuses_errors_and_oversized_documents() {
        let server = StaticHttpServer::start("503 Service Unavailable", "{}".into())
            .await
            .unwrap();
        let err = HttpJwksSource::new(server.url("/j"))
            .unwrap()
            .fetch()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("503"), "{err}");

        let huge = format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(MAX_JWKS_BYTES));
        let server = StaticHttpServer::start("200 OK", huge).await.unwrap();
        let err = HttpJwksSource::new(server.url("/j"))
            .unwrap()
            .fetch()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
    }

    #[tokio::test]
    async fn the_http_source_gives_up_on_an_unreachable_host() {
        // Bind and drop a listener to get a port nothing listens on.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let source = HttpJwksSource::new(format!("http://127.0.0.1:{port}/j")).unwrap();
        assert!(source.fetch().await.is_err());
    }
}
