//! What both benchmarks measure, built from the frozen inputs in `fixtures/bench/`: the
//! authorizer with its key and policy caches warm, the REQUEST event it answers, and the same
//! token's bare RS256 verification (key parsed once), the floor no verifier can beat.

use std::collections::HashMap;
use std::time::Duration;

use authorizer::logging::{LogFormat, init};
use authorizer::{Authorizer, AuthorizerEvent};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use groupgate_shared::PolicySource;
use groupgate_shared::jwks::{JwksCache, JwksSource};
use groupgate_shared::{
    Error, ExpectedTokenUse, GroupPolicy, GroupPolicyStore, PoolNaming, TokenRules, TokenVerifier,
    TrustedPool,
};

const POOL: &str = "us-east-1_Bench0001";
const CLIENT: &str = "bench-client";
/// The token's `iat` plus a minute: the time every benchmark verifies it at.
pub const NOW: u64 = 1_800_000_060;

const JWKS: &str = include_str!("../../../fixtures/bench/jwks.json");
const TOKEN: &str = include_str!("../../../fixtures/bench/token.jwt");
const POLICIES: &str = include_str!("../../../fixtures/bench/policies.json");
const EVENT: &str = include_str!("../../../fixtures/events/authorizer-request.json");

pub struct Jwks;
impl JwksSource for Jwks {
    async fn fetch(&self) -> Result<Vec<u8>, Error> {
        Ok(JWKS.as_bytes().to_vec())
    }
}

pub struct Policies(Vec<GroupPolicy>);
impl PolicySource for Policies {
    async fn fetch(&self, _groups: &[String]) -> Result<Vec<GroupPolicy>, Error> {
        Ok(self.0.clone())
    }
}

fn policies() -> Vec<GroupPolicy> {
    let entries: Vec<serde_json::Value> = serde_json::from_str(POLICIES).expect("policies.json");
    entries
        .iter()
        .map(|e| {
            let item = HashMap::from([
                (
                    "group".to_owned(),
                    AttributeValue::S(e["group"].as_str().expect("group").to_owned()),
                ),
                (
                    "policy".to_owned(),
                    AttributeValue::S(e["policy"].to_string()),
                ),
                (
                    "role_arn".to_owned(),
                    AttributeValue::S(e["role_arn"].as_str().expect("role").to_owned()),
                ),
                (
                    "precedence".to_owned(),
                    AttributeValue::N(e["precedence"].to_string()),
                ),
            ]);
            GroupPolicy::from_item(&item).expect("bench item has a group")
        })
        .collect()
}

pub type BenchAuthorizer = Authorizer<Jwks, Policies>;

/// The bundle of the petstore's Cedar policies, as the deploy stores it.
#[cfg(feature = "cedar")]
#[cfg_attr(
    feature = "cedar",
    allow(dead_code, reason = "only the instructions bench decides with Cedar")
)]
pub fn cedar_bundle() -> String {
    use groupgate_cedar::{ApiSchema, CedarBundle, CedarPolicies};
    let schema =
        ApiSchema::for_routes("petstore", &groupgate_testkit::FIXTURE_ROUTES).expect("schema");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/cedar/policies");
    let policies = CedarPolicies::load_dir(&dir, &schema).expect("the petstore's Cedar policies");
    CedarBundle::new(&schema, &policies, "petstore").to_json()
}

#[cfg(feature = "cedar")]
#[cfg_attr(
    feature = "cedar",
    allow(dead_code, reason = "only the instructions bench decides with Cedar")
)]
struct Bundle(String);

#[cfg(feature = "cedar")]
impl authorizer::cedar::BundleSource for Bundle {
    fn read(&self) -> authorizer::cedar::BundleRead<'_> {
        Box::pin(async move { Ok(authorizer::cedar::BundleItem::Text(self.0.clone())) })
    }
}

/// Everything a benchmark iteration needs, already warm.
pub struct Bench {
    pub runtime: tokio::runtime::Runtime,
    pub authorizer: BenchAuthorizer,
    pub event: AuthorizerEvent,
    /// `header.payload` of the token, its signature, and the key, for the bare verification.
    pub signed: Vec<u8>,
    pub signature: Vec<u8>,
    pub floor_key: aws_lc_rs::signature::ParsedPublicKey,
}

impl Bench {
    /// Builds the authorizer and warms its caches with one decision. Log lines go to a sink in
    /// the JSON format the template configures, so formatting them is measured too.
    pub fn new() -> Self {
        Self::with_pools(1)
    }

    /// The same, with `pools` trusted pools: the bench token's pool (no group prefix) listed
    /// last, after others with prefixes, so its issuer is matched after theirs.
    pub fn with_pools(pools: usize) -> Self {
        init(LogFormat::Json, std::io::sink);
        let token = TOKEN.trim();
        let rules = TokenRules::new(
            POOL,
            vec![CLIENT.into()],
            ExpectedTokenUse::Access,
            Duration::from_secs(30),
        )
        .expect("rules");
        let keys = JwksCache::new(Jwks, Duration::from_secs(10));
        let store = GroupPolicyStore::new(Policies(policies()), Duration::from_secs(3600));
        let verifier = if pools <= 1 {
            TokenVerifier::new(rules, keys)
        } else {
            let mut trusted: Vec<TrustedPool<Jwks>> = (1..pools)
                .map(|i| TrustedPool {
                    rules: TokenRules::new(
                        &format!("eu-west-1_Other{i:04}"),
                        vec![CLIENT.into()],
                        ExpectedTokenUse::Access,
                        Duration::from_secs(30),
                    )
                    .expect("rules"),
                    keys: JwksCache::new(Jwks, Duration::from_secs(10)),
                    naming: PoolNaming {
                        group_prefix: format!("tenant-{i}:"),
                        scopes_for_users: false,
                    },
                })
                .collect();
            trusted.push(TrustedPool {
                rules,
                keys,
                naming: PoolNaming::default(),
            });
            TokenVerifier::for_pools(trusted).expect("pools")
        };
        let authorizer = Authorizer::new(verifier, store);

        let mut event: serde_json::Value = serde_json::from_str(EVENT).expect("event fixture");
        event["headers"]["Authorization"] = format!("Bearer {token}").into();
        event["multiValueHeaders"]["Authorization"] =
            serde_json::json!([format!("Bearer {token}")]);
        let event: AuthorizerEvent = serde_json::from_value(event).expect("event");

        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let warm = runtime
            .block_on(authorizer.handle(&event, NOW))
            .expect("the bench token is allowed");
        assert!(
            serde_json::to_string(&warm)
                .expect("json")
                .contains("petstore")
        );

        let (signed, signature) = token.rsplit_once('.').expect("jws");
        let jwks: serde_json::Value = serde_json::from_str(JWKS).expect("jwks");
        let component = |name: &str| {
            URL_SAFE_NO_PAD
                .decode(jwks["keys"][0][name].as_str().expect("jwk component"))
                .expect("base64url")
        };
        let (n, e) = (component("n"), component("e"));
        let floor_key = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e }
            .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
            .expect("key");
        Self {
            runtime,
            authorizer,
            event,
            signed: signed.as_bytes().to_vec(),
            signature: URL_SAFE_NO_PAD.decode(signature).expect("signature"),
            floor_key,
        }
    }

    /// The same, deciding with the petstore's Cedar policies (`examples/cedar/policies`) stored
    /// as a bundle, warmed with one decision. Everything else (token, event, runtime) as
    /// [`Bench::new`].
    ///
    /// `callers_kept`: how many built callers the set keeps ([`authorizer::cedar::CALLERS_KEPT`]
    /// as the function does; 0 builds the caller on every decision).
    #[cfg(feature = "cedar")]
    #[cfg_attr(
        feature = "cedar",
        allow(dead_code, reason = "only the instructions bench decides with Cedar")
    )]
    pub fn cedar(callers_kept: usize) -> Self {
        let iam = Self::new();
        let rules = TokenRules::new(
            POOL,
            vec![CLIENT.into()],
            ExpectedTokenUse::Access,
            Duration::from_secs(30),
        )
        .expect("rules");
        let keys = JwksCache::new(Jwks, Duration::from_secs(10));
        let source =
            authorizer::cedar::CedarSource::new(Bundle(cedar_bundle()), Duration::from_secs(3600))
                .with_callers_kept(callers_kept);
        // The group items, read for the caller's role as the function reads them.
        let groups = GroupPolicyStore::new(Policies(policies()), Duration::from_secs(3600));
        let authorizer = Authorizer::with_cedar(TokenVerifier::new(rules, keys), source, groups);
        let warm = iam
            .runtime
            .block_on(authorizer.handle(&iam.event, NOW))
            .expect("the bench token is decided");
        let json = serde_json::to_string(&warm).expect("json");
        assert!(
            json.contains(r#""Effect":"Allow""#),
            "the bench token is allowed by Cedar: {json}"
        );
        Self { authorizer, ..iam }
    }

    /// One production decision: handle the event, then serialize the response as the runtime does.
    pub fn decide(&self) -> Vec<u8> {
        let response = self
            .runtime
            .block_on(
                self.authorizer
                    .handle(std::hint::black_box(&self.event), NOW),
            )
            .expect("allowed");
        serde_json::to_vec(&response).expect("json")
    }

    /// The floor: the same signature checked with the same pre-parsed key.
    pub fn verify_floor(&self) {
        self.floor_key
            .verify_sig(
                std::hint::black_box(&self.signed),
                std::hint::black_box(&self.signature),
            )
            .expect("valid");
    }
}
