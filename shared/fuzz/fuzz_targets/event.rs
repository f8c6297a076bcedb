//! The authorizer at its front door: any bytes as an API Gateway authorizer event, through the
//! real handler with the benchmarks' frozen key set and group policies held in memory (so the
//! AWS SDK is not built). Invariants beyond "no panic":
//! - an event that is answered with a policy carries a token whose signature verifies, checked
//!   again straight with aws-lc-rs;
//! - an event without exactly one `Authorization` value (none, or two that differ) is never
//!   answered with a policy, whatever else it holds;
//! - with keys and policies in memory nothing can be unavailable: a failure (API Gateway's 500)
//!   means the method ARN is missing or malformed, and a good ARN never fails;
//! - the returned policy reads with the independent reference evaluator.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use authorizer::event::{Authorization, AuthorizerEvent};
use authorizer::{Authorizer, AuthorizerError};
use groupgate_shared::jwks::{JwksCache, JwksSource};
use groupgate_shared::{
    Error, ExpectedTokenUse, GroupPolicy, GroupPolicyStore, INVOKE_ACTION, MethodArn,
    PolicyDocument, PolicySource, TokenRules, TokenVerifier, bearer_token,
};
use groupgate_fuzz::{JWKS, NOW, signature_verifies};
use libfuzzer_sys::fuzz_target;

const POLICIES: &str = include_str!("../../../fixtures/bench/policies.json");

struct Keys;
impl JwksSource for Keys {
    async fn fetch(&self) -> Result<Vec<u8>, Error> {
        Ok(JWKS.as_bytes().to_vec())
    }
}

struct Policies(Vec<GroupPolicy>);
impl PolicySource for Policies {
    async fn fetch(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Error> {
        Ok(self
            .0
            .iter()
            .filter(|p| groups.contains(&p.group))
            .cloned()
            .collect())
    }
}

static AUTHORIZER: LazyLock<Authorizer<Keys, Policies>> = LazyLock::new(|| {
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(POLICIES).expect("the bench policies are JSON");
    let policies = entries
        .iter()
        .map(|e| GroupPolicy {
            group: e["group"].as_str().expect("a group").to_owned(),
            policy: PolicyDocument::from_json(&e["policy"].to_string()),
            role_arn: e["role_arn"].as_str().map(str::to_owned),
            precedence: None,
        })
        .collect();
    let rules = TokenRules::new(
        "us-east-1_Bench0001",
        vec!["bench-client".to_owned()],
        ExpectedTokenUse::Access,
        Duration::from_secs(60),
    )
    .expect("the rules are valid");
    Authorizer::new(
        TokenVerifier::new(rules, JwksCache::new(Keys, Duration::from_secs(10))),
        GroupPolicyStore::new(Policies(policies), Duration::from_secs(3600)),
    )
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
});

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<AuthorizerEvent>(data) else {
        return;
    };
    let (authorization, method_arn) = match &event {
        AuthorizerEvent::Token(e) => (
            e.authorization_token
                .as_deref()
                .map_or(Authorization::Missing, Authorization::One),
            e.method_arn.as_deref(),
        ),
        AuthorizerEvent::Request(e) => (e.authorization(), e.method_arn.as_deref()),
    };
    let arn_ok = method_arn.is_some_and(|a| MethodArn::parse(a).is_ok());
    let result = RUNTIME.block_on(AUTHORIZER.handle(&event, NOW));
    match result {
        Ok(response) => {
            let Authorization::One(value) = authorization else {
                panic!("answered with a policy without exactly one Authorization value");
            };
            let token = bearer_token(value).expect("an answered event has a bearer token");
            assert!(
                signature_verifies(token),
                "answered with a policy for a token whose signature does not verify"
            );
            assert!(arn_ok, "answered with a policy for a malformed method ARN");
            let returned = serde_json::to_value(&response.policy_document).expect("renders");
            let arn = method_arn.unwrap_or_default();
            groupgate_shared::reference::allows(&returned, INVOKE_ACTION, arn)
                .expect("the returned policy reads");
            if let Err(why) = groupgate_shared::reference::documented(&returned) {
                panic!("the returned policy is not documented ({why}): {returned}");
            }
        }
        Err(AuthorizerError::Failed(reason)) => {
            assert!(!arn_ok, "failed with a good method ARN: {reason}");
        }
        Err(AuthorizerError::Unauthorized) => {}
    }
});
