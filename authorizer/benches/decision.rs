#![allow(
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "a benchmark: a broken setup should stop it loudly"
)]

//! The warm decision path: verify a token, merge cached group policies, decide, render the
//! response as the JSON API Gateway receives. Timed in the same run as a bare aws-lc-rs RS256
//! verification of the same token (key parsed once), the floor no verifier can beat.
//!
//! Prints `decision_vs_verify_floor=<ratio>`; the target is 1.25 or less.

use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use authorizer::{Authorizer, AuthorizerEvent};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::Criterion;
use groupgate::jwks::{JwksCache, JwksSource};
use groupgate::store::PolicySource;
use groupgate::testkit::{TestKey, access_claims, jwks};
use groupgate::{
    Error, ExpectedTokenUse, GroupPolicy, GroupPolicyStore, TokenRules, TokenVerifier,
};

const POOL: &str = "us-east-1_Bench0001";
const CLIENT: &str = "bench-client";
const VET: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PetStore-API","Effect":"Allow",
  "Action":"execute-api:Invoke","Resource":["arn:aws:execute-api:*:*:*/*/*/petstore/v1/*",
  "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status"],
  "Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","198.51.100.0/24"]}}}]}"#;
const ADMIN: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:*","Resource":"*"},
  {"Effect":"Deny","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:*/*/DELETE/*"}]}"#;

struct Jwks(String);
impl JwksSource for Jwks {
    async fn fetch(&self) -> Result<Vec<u8>, Error> {
        Ok(self.0.clone().into_bytes())
    }
}

struct Policies(Vec<GroupPolicy>);
impl PolicySource for Policies {
    async fn fetch(&self, _groups: &[String]) -> Result<Vec<GroupPolicy>, Error> {
        Ok(self.0.clone())
    }
}

fn group(name: &str, policy: &str) -> GroupPolicy {
    GroupPolicy::from_item(
        &[
            ("group".to_owned(), AttributeValue::S(name.to_owned())),
            ("policy".to_owned(), AttributeValue::S(policy.to_owned())),
            (
                "role_arn".to_owned(),
                AttributeValue::S(format!("arn:aws:iam::123456789012:role/{name}")),
            ),
            ("precedence".to_owned(), AttributeValue::N("1".to_owned())),
        ]
        .into_iter()
        .collect(),
    )
    .expect("bench item has a group")
}

/// Total time and iterations measured for one benchmark, for the ratio printed at the end.
static TOTALS: Mutex<[(Duration, u64); 2]> = Mutex::new([(Duration::ZERO, 0); 2]);

fn record(slot: usize, elapsed: Duration, iters: u64) {
    let mut totals = TOTALS.lock().expect("totals lock");
    totals[slot].0 += elapsed;
    totals[slot].1 += iters;
}

fn main() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let key = TestKey::generate("bench-key");
    let issuer = format!("https://cognito-idp.us-east-1.amazonaws.com/{POOL}");
    let token = key.sign(&access_claims(
        &issuer,
        CLIENT,
        &["pet-veterinarian", "admin"],
        now,
    ));

    let rules = TokenRules::new(
        POOL,
        vec![CLIENT.into()],
        ExpectedTokenUse::Access,
        Duration::from_secs(30),
    )
    .expect("rules");
    let keys = JwksCache::new(Jwks(jwks(&[&key])), Duration::from_secs(10));
    let store = GroupPolicyStore::new(
        Policies(vec![group("pet-veterinarian", VET), group("admin", ADMIN)]),
        Duration::from_secs(3600),
    );
    let authorizer = Authorizer::new(TokenVerifier::new(rules, keys), store);

    let mut event: serde_json::Value = serde_json::from_str(include_str!(
        "../../fixtures/events/authorizer-request.json"
    ))
    .expect("fixture");
    event["headers"]["Authorization"] = format!("Bearer {token}").into();
    let event: AuthorizerEvent = serde_json::from_value(event).expect("event");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Warm the key and policy caches; from here on the path does no I/O.
    let warm = runtime
        .block_on(authorizer.handle(&event, now))
        .expect("the bench token is allowed");
    assert!(warm.policy_document.to_json().contains("petstore"));

    // The floor: the same token's signature checked with the same key, parsed once.
    let (signed, signature) = token.rsplit_once('.').expect("jws");
    let signature = URL_SAFE_NO_PAD.decode(signature).expect("signature");
    let jwk = key.jwk();
    let n = URL_SAFE_NO_PAD
        .decode(jwk["n"].as_str().expect("n"))
        .expect("n");
    let e = URL_SAFE_NO_PAD
        .decode(jwk["e"].as_str().expect("e"))
        .expect("e");
    let floor_key = aws_lc_rs::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
        .expect("key");

    let mut c = Criterion::default().configure_from_args();
    c.bench_function("rs256_verify_floor", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(
                    floor_key.verify_sig(black_box(signed.as_bytes()), black_box(&signature)),
                )
                .expect("valid");
            }
            let elapsed = start.elapsed();
            record(0, elapsed, iters);
            elapsed
        })
    });
    c.bench_function("warm_decision_path", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let response = runtime
                    .block_on(authorizer.handle(black_box(&event), now))
                    .expect("allowed");
                black_box(serde_json::to_vec(&response).expect("json"));
            }
            let elapsed = start.elapsed();
            record(1, elapsed, iters);
            elapsed
        })
    });
    c.final_summary();

    let totals = TOTALS.lock().expect("totals lock");
    let per_iter = |(d, n): (Duration, u64)| d.as_secs_f64() / n.max(1) as f64;
    let floor = per_iter(totals[0]);
    let decision = per_iter(totals[1]);
    println!("verify_floor_us={:.2}", floor * 1e6);
    println!("decision_path_us={:.2}", decision * 1e6);
    println!("decision_vs_verify_floor={:.3}", decision / floor);
}
