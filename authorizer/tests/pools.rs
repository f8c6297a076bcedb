#![cfg(test)]
//! Several trusted pools and machine clients, over the wire: each pool's JWKS is served by its
//! own recording HTTP server (the test kit's `StaticHttpServer`), so a test can say which key
//! addresses a decision read, and none when the token names a pool that is not configured.
//! Policies are served from memory, recording the keys asked for.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use authorizer::{Authorizer, AuthorizerError, AuthorizerEvent, AuthorizerResponse};
use groupgate_shared::jwks::{HttpJwksSource, JwksCache};
use groupgate_shared::{
    Error, ExpectedTokenUse, GroupPolicy, GroupPolicyStore, INVOKE_ACTION, MergedPolicy,
    PolicyDocument, PolicySource, PoolNaming, PrincipalType, RequestFacts, TokenRules,
    TokenVerifier, TrustedPool,
};
use groupgate_testkit::{StaticHttpServer, TestKey, access_claims, fixture_policy, jwks};
use serde_json::{Value, json};

const POOL_A: &str = "us-east-1_StaffA";
const POOL_B: &str = "eu-west-1_TenantB";
const CLIENT: &str = "web-client";
const MACHINE: &str = "svc7machineclient";
const NOW: u64 = 1_800_000_000;
const EVENT: &str = include_str!("../../fixtures/events/authorizer-request.json");
/// The fixture event's method.
const METHOD: &str =
    "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/petstore/v1/pets";

static KEY_A: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("a-key"));
static KEY_B: LazyLock<TestKey> = LazyLock::new(|| TestKey::generate("b-key"));

/// The policy table: pool A's `admin` and `pet-veterinarian`, the scope `petstore/pets.read`
/// of pool A (with a role, which a client must never get), and nothing for pool B.
#[derive(Default)]
struct Table {
    asked: Mutex<Vec<String>>,
}

impl PolicySource for &Table {
    async fn fetch(&self, keys: &[String]) -> Result<Vec<GroupPolicy>, Error> {
        self.asked.lock().unwrap().extend(keys.iter().cloned());
        let entries = HashMap::from([
            ("admin", ("admin", None)),
            ("pet-veterinarian", ("pet-veterinarian", None)),
            (
                "scope:petstore/pets.read",
                (
                    "pet-veterinarian",
                    Some("arn:aws:iam::123456789012:role/groupgate/vet"),
                ),
            ),
        ]);
        Ok(keys
            .iter()
            .filter_map(|key| {
                let (fixture, role) = entries.get(key.as_str())?;
                Some(GroupPolicy {
                    group: key.clone(),
                    policy: PolicyDocument::from_json(&fixture_policy(fixture)),
                    role_arn: role.map(str::to_owned),
                    precedence: Some(1),
                })
            })
            .collect())
    }
}

/// Both pools' JWKS servers, and one more that no pool names.
struct Servers {
    a: StaticHttpServer,
    b: StaticHttpServer,
    stranger: StaticHttpServer,
}

impl Servers {
    async fn start() -> Self {
        let serve = |key: &TestKey| StaticHttpServer::start("200 OK", jwks(&[key]));
        Self {
            a: serve(&KEY_A).await.unwrap(),
            b: serve(&KEY_B).await.unwrap(),
            stranger: serve(&KEY_A).await.unwrap(),
        }
    }

    fn hits(&self) -> [usize; 3] {
        [self.a.hits(), self.b.hits(), self.stranger.hits()]
    }
}

fn pool(id: &str, server: &StaticHttpServer, prefix: &str) -> TrustedPool<HttpJwksSource> {
    TrustedPool {
        rules: TokenRules::new(
            id,
            vec![CLIENT.to_owned(), MACHINE.to_owned()],
            ExpectedTokenUse::Access,
            Duration::from_secs(30),
        )
        .unwrap(),
        keys: JwksCache::new(
            HttpJwksSource::new(server.url(&format!("/{id}/.well-known/jwks.json"))).unwrap(),
            Duration::from_secs(10),
        ),
        naming: PoolNaming {
            group_prefix: prefix.to_owned(),
            scopes_for_users: false,
        },
    }
}

fn authorizer<'t>(servers: &Servers, table: &'t Table) -> Authorizer<HttpJwksSource, &'t Table> {
    let verifier = TokenVerifier::for_pools(vec![
        pool(POOL_A, &servers.a, ""),
        pool(POOL_B, &servers.b, "tenant-b:"),
    ])
    .unwrap();
    Authorizer::new(
        verifier,
        GroupPolicyStore::new(table, Duration::from_secs(60)),
    )
}

fn issuer(pool: &str) -> String {
    let region = groupgate_shared::user_pool_region(pool).unwrap();
    format!("https://cognito-idp.{region}.amazonaws.com/{pool}")
}

fn person(key: &TestKey, iss: &str, groups: &[&str]) -> String {
    key.sign(&access_claims(iss, CLIENT, groups, NOW))
}

/// A client-credentials access token, as Cognito issues it: `sub` is the client id, no user
/// name, no groups, custom scopes.
fn machine(key: &TestKey, iss: &str, scope: &str) -> String {
    key.sign(
        &json!({"sub": MACHINE, "client_id": MACHINE, "iss": iss, "token_use": "access",
        "scope": scope, "auth_time": NOW, "exp": NOW + 3600, "iat": NOW, "jti": "m1",
        "version": 2}),
    )
}

fn event(token: &str) -> AuthorizerEvent {
    let mut event: Value = serde_json::from_str(EVENT).unwrap();
    event["headers"]["Authorization"] = json!(format!("Bearer {token}"));
    event["multiValueHeaders"]["Authorization"] = json!([format!("Bearer {token}")]);
    serde_json::from_value(event).unwrap()
}

async fn handle(
    authorizer: &Authorizer<HttpJwksSource, &Table>,
    token: &str,
) -> Result<AuthorizerResponse, AuthorizerError> {
    authorizer.handle(&event(token), NOW).await
}

/// Whether the returned policy allows the fixture's method, evaluated as API Gateway would.
fn allows(response: &AuthorizerResponse) -> bool {
    let returned =
        PolicyDocument::from_json(&serde_json::to_string(&response.policy_document).unwrap())
            .unwrap();
    MergedPolicy::from_document("returned", returned, &RequestFacts::default())
        .decide(INVOKE_ACTION, METHOD)
        .is_allow()
}

#[tokio::test]
async fn an_unconfigured_issuer_is_unauthorized_with_no_request_to_any_jwks() {
    let servers = Servers::start().await;
    let table = Table::default();
    let authorizer = authorizer(&servers, &table);
    let stranger_pool = servers.stranger.url("/us-east-1_Stranger");
    for iss in [issuer("us-east-1_Stranger"), stranger_pool] {
        let result = handle(&authorizer, &person(&KEY_A, &iss, &["admin"])).await;
        assert!(
            matches!(result, Err(AuthorizerError::Unauthorized)),
            "{iss}"
        );
    }
    assert_eq!(servers.hits(), [0, 0, 0], "no JWKS was asked for");
    assert!(table.asked.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_token_naming_pool_b_signed_with_pool_as_key_is_unauthorized() {
    let servers = Servers::start().await;
    let table = Table::default();
    let authorizer = authorizer(&servers, &table);
    let forged = person(&KEY_A, &issuer(POOL_B), &["admin"]);
    assert!(matches!(
        handle(&authorizer, &forged).await,
        Err(AuthorizerError::Unauthorized)
    ));
    assert_eq!(servers.hits(), [0, 1, 0], "only pool B's keys were read");
}

#[tokio::test]
async fn each_pools_groups_are_looked_up_under_its_prefix() {
    let servers = Servers::start().await;
    let table = Table::default();
    let authorizer = authorizer(&servers, &table);
    let staff = handle(&authorizer, &person(&KEY_A, &issuer(POOL_A), &["admin"]))
        .await
        .unwrap();
    assert!(allows(&staff), "pool A's admin");
    let tenant = handle(&authorizer, &person(&KEY_B, &issuer(POOL_B), &["admin"]))
        .await
        .unwrap();
    assert!(
        !allows(&tenant),
        "pool B's admin does not reach pool A's grants"
    );
    assert_eq!(
        tenant.context.groups,
        ["admin"],
        "the token's own group names"
    );
    // ... under the pool's prefix, which the context names; the unprefixed pool's names none.
    assert_eq!(tenant.context.pool.as_deref(), Some("tenant-b:"));
    assert_eq!(staff.context.pool, None);
    // Pool B's `admin` was asked for as `tenant-b:admin`, never as `admin`.
    assert_eq!(*table.asked.lock().unwrap(), ["admin", "tenant-b:admin"]);
    assert_eq!(servers.hits(), [1, 1, 0]);
}

#[tokio::test]
async fn a_machine_client_is_authorized_by_its_scopes_and_gets_no_role() {
    let servers = Servers::start().await;
    let table = Table::default();
    let authorizer = authorizer(&servers, &table);
    let reader = handle(
        &authorizer,
        &machine(&KEY_A, &issuer(POOL_A), "petstore/pets.read"),
    )
    .await
    .unwrap();
    assert!(allows(&reader));
    assert_eq!(reader.principal_id, MACHINE);
    assert_eq!(reader.context.principal_type, PrincipalType::Client);
    assert_eq!(reader.context.client_id.as_deref(), Some(MACHINE));
    assert_eq!(
        reader.context.role_arn, None,
        "the scope's role is not a client's"
    );
    let context = serde_json::to_value(&reader.context).unwrap();
    assert_eq!(context["principal_type"], "client");
    assert!(context.get("role_arn").is_none());

    let writer = handle(
        &authorizer,
        &machine(&KEY_A, &issuer(POOL_A), "petstore/pets.write"),
    )
    .await
    .unwrap();
    assert!(!allows(&writer), "a scope without a policy grants nothing");
    // The same scope in pool B is pool B's key, which has no entry.
    let other_pool = handle(
        &authorizer,
        &machine(&KEY_B, &issuer(POOL_B), "petstore/pets.read"),
    )
    .await
    .unwrap();
    assert!(!allows(&other_pool));
    assert!(
        table
            .asked
            .lock()
            .unwrap()
            .contains(&"tenant-b:scope:petstore/pets.read".to_owned())
    );
}

#[tokio::test]
async fn a_persons_scopes_are_ignored_by_default() {
    let servers = Servers::start().await;
    let table = Table::default();
    let authorizer = authorizer(&servers, &table);
    let mut claims = access_claims(&issuer(POOL_A), CLIENT, &[], NOW);
    claims["scope"] = json!("petstore/pets.read");
    let response = handle(&authorizer, &KEY_A.sign(&claims)).await.unwrap();
    assert!(!allows(&response), "no group, and the scope does not count");
    assert_eq!(response.context.principal_type, PrincipalType::User);
    assert!(table.asked.lock().unwrap().is_empty(), "no key to look up");
}
