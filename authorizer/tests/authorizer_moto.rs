#![cfg(test)]
//! The real authorizer handler against moto's server: tokens from moto's Cognito (InitiateAuth),
//! keys from its JWKS endpoint, group policies from its DynamoDB. Claims moto cannot issue are
//! minted with a test key whose JWKS the test serves itself.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use authorizer::{Authorizer, AuthorizerError, AuthorizerEvent, AuthorizerResponse};
use groupgate_shared::dynamodb::{Backoff, DynamoPolicySource};
use groupgate_shared::jwks::{HttpJwksSource, JwksCache, JwksSource as _};
use groupgate_shared::{
    ExpectedTokenUse, GroupPolicyStore, INVOKE_ACTION, MergedPolicy, PolicyDocument, RequestFacts,
    TokenRules, TokenVerifier,
};
use groupgate_testkit::{
    CognitoPool, Moto, StaticHttpServer, TestKey, access_claims, fixture_policy, jwks, policy_table,
};
use serde_json::json;

const VET_ROLE: &str = "arn:aws:iam::123456789012:role/groupgate-pet-veterinarian";
const ADMIN_ROLE: &str = "arn:aws:iam::123456789012:role/groupgate-admin";

type MotoAuthorizer = Authorizer<HttpJwksSource, DynamoPolicySource>;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn authorizer(
    moto: &Moto,
    pool_id: &str,
    client_id: &str,
    jwks_url: String,
    table: String,
    token_use: ExpectedTokenUse,
) -> MotoAuthorizer {
    let rules = TokenRules::new(
        pool_id,
        vec![client_id.to_owned()],
        token_use,
        Duration::from_secs(30),
    )
    .unwrap();
    let keys = JwksCache::new(
        HttpJwksSource::new(jwks_url).unwrap(),
        Duration::from_secs(10),
    );
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    Authorizer::new(
        TokenVerifier::new(rules, keys),
        GroupPolicyStore::new(
            DynamoPolicySource::new(dynamodb, table, Backoff::default()),
            Duration::from_secs(60),
        ),
    )
}

struct Stack {
    moto: Moto,
    pool: CognitoPool,
    table: String,
}

impl Stack {
    async fn start() -> Self {
        let moto = Moto::start().await;
        let pool = CognitoPool::create(&moto).await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
        let table = policy_table(
            &dynamodb,
            &[
                (
                    "pet-veterinarian",
                    &fixture_policy("pet-veterinarian"),
                    Some(VET_ROLE),
                    Some(10),
                ),
                ("admin", &fixture_policy("admin"), Some(ADMIN_ROLE), Some(1)),
            ],
        )
        .await;
        Self { moto, pool, table }
    }

    fn jwks_url(&self) -> String {
        self.pool.jwks_url(&self.moto.endpoint)
    }

    async fn authorizer(&self, token_use: ExpectedTokenUse) -> MotoAuthorizer {
        authorizer(
            &self.moto,
            &self.pool.id,
            &self.pool.client_id,
            self.jwks_url(),
            self.table.clone(),
            token_use,
        )
        .await
    }
}

const ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod";

fn arn(method: &str, path: &str) -> String {
    format!("{ARN_PREFIX}/{method}{path}")
}

/// The REQUEST event fixture with this Authorization header (or none) and method ARN.
fn request_event(authorization: Option<&str>, method_arn: &str) -> AuthorizerEvent {
    let mut event: serde_json::Value = serde_json::from_str(include_str!(
        "../../fixtures/events/authorizer-request.json"
    ))
    .unwrap();
    event["methodArn"] = json!(method_arn);
    for key in ["headers", "multiValueHeaders"] {
        let headers = event[key].as_object_mut().unwrap();
        headers.remove("Authorization");
        if let Some(value) = authorization {
            let value = if key == "headers" {
                json!(value)
            } else {
                json!([value])
            };
            headers.insert("Authorization".into(), value);
        }
    }
    serde_json::from_value(event).unwrap()
}

fn token_event(token: &str, method_arn: &str) -> AuthorizerEvent {
    let mut event: serde_json::Value =
        serde_json::from_str(include_str!("../../fixtures/events/authorizer-token.json")).unwrap();
    event["authorizationToken"] = json!(token);
    event["methodArn"] = json!(method_arn);
    serde_json::from_value(event).unwrap()
}

/// Evaluates a returned policy as API Gateway would for a cached call to another method.
fn allows(response: &AuthorizerResponse, method: &str, path: &str) -> bool {
    let document = PolicyDocument::from_json(&response.policy_document.to_json()).unwrap();
    MergedPolicy::from_document("returned", document, &RequestFacts::default())
        .decide(INVOKE_ACTION, &arn(method, path))
        .is_allow()
}

async fn authorize(
    a: &MotoAuthorizer,
    token: &str,
    method: &str,
    path: &str,
) -> Result<AuthorizerResponse, AuthorizerError> {
    a.handle(
        &request_event(Some(&format!("Bearer {token}")), &arn(method, path)),
        now(),
    )
    .await
}

#[tokio::test]
async fn moto_tokens_are_authorized_by_their_groups_policies() {
    let stack = Stack::start().await;
    let a = stack.authorizer(ExpectedTokenUse::Access).await;

    let (vet, _) = stack.pool.sign_in("vet").await;
    let response = authorize(&a, &vet, "GET", "/petstore/v1/pets")
        .await
        .unwrap();
    assert_eq!(response.context.username, "vet");
    assert_eq!(response.context.groups, ["pet-veterinarian"]);
    // On the wire, as API Gateway receives it: flat strings.
    let wire = serde_json::to_value(&response.context).unwrap();
    assert_eq!(wire["groups"], r#"["pet-veterinarian"]"#);
    assert_eq!(wire["token_use"], "access");
    assert_eq!(response.context.role_arn.as_deref(), Some(VET_ROLE));
    assert_eq!(response.context.sub, response.principal_id);
    // The returned policy is right for every method, not only the one asked about.
    assert!(allows(&response, "GET", "/petstore/v1/pets"));
    assert!(allows(&response, "POST", "/petstore/v1/pets"));
    assert!(allows(&response, "GET", "/petstore/v2/status"));
    assert!(!allows(&response, "GET", "/petstore/v2/pets"));

    let (boss, _) = stack.pool.sign_in("boss").await;
    let response = authorize(&a, &boss, "GET", "/petstore/v2/pets")
        .await
        .unwrap();
    assert!(allows(&response, "GET", "/petstore/v2/pets"));
    assert!(allows(&response, "DELETE", "/anything"));
    assert_eq!(
        response.context.role_arn.as_deref(),
        Some(ADMIN_ROLE),
        "admin has the lower precedence"
    );
}

#[tokio::test]
async fn a_user_in_no_group_gets_a_policy_that_denies_everything() {
    let stack = Stack::start().await;
    let a = stack.authorizer(ExpectedTokenUse::Access).await;
    let (loner, _) = stack.pool.sign_in("loner").await;
    let response = authorize(&a, &loner, "GET", "/petstore/v1/pets")
        .await
        .unwrap();
    assert!(!allows(&response, "GET", "/petstore/v1/pets"));
    assert!(!allows(&response, "GET", "/"));
    assert!(response.context.groups.is_empty());
    assert_eq!(
        serde_json::to_value(&response.context).unwrap()["groups"],
        "[]"
    );
    assert_eq!(response.context.role_arn, None);
}

#[tokio::test]
async fn missing_garbage_and_wrong_kind_tokens_are_unauthorized() {
    let stack = Stack::start().await;
    let a = stack.authorizer(ExpectedTokenUse::Access).await;
    let target = arn("GET", "/petstore/v1/pets");
    for header in [
        None,
        Some("Bearer"),
        Some("Basic dmV0OnB3"),
        Some("Bearer not.a.jwt"),
        Some("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."),
    ] {
        let result = a.handle(&request_event(header, &target), now()).await;
        assert!(
            matches!(result, Err(AuthorizerError::Unauthorized)),
            "{header:?}: {result:?}"
        );
    }
    let (_, id_token) = stack.pool.sign_in("vet").await;
    let result = authorize(&a, &id_token, "GET", "/petstore/v1/pets").await;
    assert!(
        matches!(result, Err(AuthorizerError::Unauthorized)),
        "an ID token where access is configured"
    );

    let any = stack.authorizer(ExpectedTokenUse::Any).await;
    assert!(
        authorize(&any, &id_token, "GET", "/petstore/v1/pets")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_error_message_is_exactly_unauthorized_for_api_gateway() {
    let diagnostic: lambda_runtime::Diagnostic = AuthorizerError::Unauthorized.into();
    assert_eq!(diagnostic.error_message, "Unauthorized");
}

#[tokio::test]
async fn token_events_are_handled_too() {
    let stack = Stack::start().await;
    let a = stack.authorizer(ExpectedTokenUse::Access).await;
    let (vet, _) = stack.pool.sign_in("vet").await;
    let response = a
        .handle(
            &token_event(&format!("Bearer {vet}"), &arn("GET", "/petstore/v1/pets")),
            now(),
        )
        .await
        .unwrap();
    assert!(allows(&response, "GET", "/petstore/v1/pets"));
    let result = a
        .handle(&token_event("Bearer nope", &arn("GET", "/")), now())
        .await;
    assert!(matches!(result, Err(AuthorizerError::Unauthorized)));
}

#[tokio::test]
async fn a_policy_store_failure_is_an_error_not_unauthorized_and_never_allow() {
    let stack = Stack::start().await;
    let a = authorizer(
        &stack.moto,
        &stack.pool.id,
        &stack.pool.client_id,
        stack.jwks_url(),
        "missing-table".into(),
        ExpectedTokenUse::Access,
    )
    .await;
    let (vet, _) = stack.pool.sign_in("vet").await;
    match authorize(&a, &vet, "GET", "/petstore/v1/pets").await {
        Err(AuthorizerError::Failed(message)) => {
            assert!(
                message.starts_with("policy_store_unavailable: "),
                "{message}"
            )
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_jwks_is_an_error_not_unauthorized() {
    let stack = Stack::start().await;
    let port = groupgate_testkit::free_port();
    let a = authorizer(
        &stack.moto,
        &stack.pool.id,
        &stack.pool.client_id,
        format!("http://127.0.0.1:{port}/jwks.json"),
        stack.table.clone(),
        ExpectedTokenUse::Access,
    )
    .await;
    let (vet, _) = stack.pool.sign_in("vet").await;
    assert!(matches!(
        authorize(&a, &vet, "GET", "/").await,
        Err(AuthorizerError::Failed(_))
    ));
}

/// A JWKS with no key that can verify a token is a broken or wrong endpoint: a fault (500,
/// `jwks_unavailable`), never a 401 for every token. Keys of another type, and (issue #20) the
/// pool's own RSA key made unusable, which used to be held and then failed every signature.
#[tokio::test]
async fn a_jwks_of_unusable_keys_is_an_error_not_unauthorized() {
    let stack = Stack::start().await;
    let pool_jwks = HttpJwksSource::new(stack.jwks_url())
        .unwrap()
        .fetch()
        .await
        .unwrap();
    let pool_key =
        serde_json::from_slice::<serde_json::Value>(&pool_jwks).unwrap()["keys"][0].clone();
    let n = URL_SAFE_NO_PAD
        .decode(pool_key["n"].as_str().unwrap())
        .unwrap();
    let changed = |field: &str, value: &[u8]| {
        let mut key = pool_key.clone();
        key[field] = json!(URL_SAFE_NO_PAD.encode(value));
        json!({"keys": [key]})
    };
    let mut even_n = n.clone();
    *even_n.last_mut().unwrap() &= 0xfe;
    let mut short_n = n[..128].to_vec();
    *short_n.last_mut().unwrap() |= 1;
    // The pool's key id (`kid` of its tokens), but an EC key.
    let ec = json!({"keys": [{"kty": "EC", "kid": pool_key["kid"], "crv": "P-256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]});
    let (vet, _) = stack.pool.sign_in("vet").await;
    for (what, document) in [
        ("an EC key", ec),
        ("exponent 3", changed("e", &[3])),
        ("an even exponent", changed("e", &[1, 0, 2])),
        ("an even modulus", changed("n", &even_n)),
        ("a 1024-bit modulus", changed("n", &short_n)),
    ] {
        let server = StaticHttpServer::start("200 OK", document.to_string())
            .await
            .unwrap();
        let a = authorizer(
            &stack.moto,
            &stack.pool.id,
            &stack.pool.client_id,
            server.url("/jwks.json"),
            stack.table.clone(),
            ExpectedTokenUse::Access,
        )
        .await;
        match authorize(&a, &vet, "GET", "/").await {
            Err(AuthorizerError::Failed(message)) => {
                assert!(message.contains("jwks_unavailable"), "{what}: {message}");
            }
            other => panic!("{what}: expected a failure, got {other:?}"),
        }
    }
}

/// A stalled table is a timeout (`policy_store_timeout`), told from a table that refuses or is
/// missing: the operator looks at the network path, not at the table.
#[tokio::test]
async fn a_stalled_policy_table_fails_closed_within_the_timeouts() {
    let stack = Stack::start().await;
    // A DynamoDB endpoint that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalled = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let rules = TokenRules::new(
        &stack.pool.id,
        vec![stack.pool.client_id.clone()],
        ExpectedTokenUse::Access,
        Duration::from_secs(30),
    )
    .unwrap();
    let keys = JwksCache::new(
        HttpJwksSource::new(stack.jwks_url()).unwrap(),
        Duration::from_secs(10),
    );
    let aws = stack
        .moto
        .sdk_config()
        .await
        .to_builder()
        .endpoint_url(&stalled)
        .timeout_config(authorizer::sdk_timeouts())
        .build();
    let a = Authorizer::new(
        TokenVerifier::new(rules, keys),
        GroupPolicyStore::new(
            DynamoPolicySource::new(
                aws_sdk_dynamodb::Client::new(&aws),
                stack.table.clone(),
                Backoff::default(),
            ),
            Duration::from_secs(60),
        ),
    );
    let (vet, _) = stack.pool.sign_in("vet").await;
    let started = std::time::Instant::now();
    let result = authorize(&a, &vet, "GET", "/").await;
    let took = started.elapsed();
    match result {
        Err(AuthorizerError::Failed(message)) => {
            assert!(message.starts_with("policy_store_timeout: "), "{message}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    // Generous: the operation timeout is 3 s and the function's 10 s; this checks the bound.
    assert!(took < Duration::from_secs(7), "took {took:?}");
}

#[tokio::test]
async fn a_malformed_method_arn_is_an_error() {
    let stack = Stack::start().await;
    let a = stack.authorizer(ExpectedTokenUse::Access).await;
    let (vet, _) = stack.pool.sign_in("vet").await;
    let result = a
        .handle(
            &request_event(Some(&format!("Bearer {vet}")), "arn:aws:lambda:x"),
            now(),
        )
        .await;
    assert!(matches!(result, Err(AuthorizerError::Failed(m)) if m.contains("arn:aws:lambda:x")));
}

#[tokio::test]
async fn minted_tokens_carry_preferred_role_and_exact_group_names() {
    let stack = Stack::start().await;
    let key = TestKey::generate("test-key");
    let server = StaticHttpServer::start("200 OK", jwks(&[&key]))
        .await
        .unwrap();
    let a = authorizer(
        &stack.moto,
        &stack.pool.id,
        "minted-client",
        server.url("/jwks.json"),
        stack.table.clone(),
        ExpectedTokenUse::Access,
    )
    .await;

    let mut claims = access_claims(
        &stack.pool.issuer(),
        "minted-client",
        &["pet-veterinarian"],
        now(),
    );
    claims["cognito:preferred_role"] = json!("arn:aws:iam::123456789012:role/preferred");
    claims["cognito:roles"] = json!([VET_ROLE, "arn:aws:iam::123456789012:role/preferred"]);
    let response = authorize(&a, &key.sign(&claims), "GET", "/petstore/v1/pets")
        .await
        .unwrap();
    assert_eq!(
        response.context.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/preferred")
    );
    // A preferred role that is not among the token's roles is no role at all.
    claims["cognito:roles"] = json!([VET_ROLE]);
    let response = authorize(&a, &key.sign(&claims), "GET", "/petstore/v1/pets")
        .await
        .unwrap();
    assert_eq!(response.context.role_arn, None);

    // Group names are exact keys: no case folding, trimming or splitting.
    for group in ["Admin", "admin ", "admin,pet-veterinarian", "ADMIN"] {
        let claims = access_claims(&stack.pool.issuer(), "minted-client", &[group], now());
        let response = authorize(&a, &key.sign(&claims), "GET", "/petstore/v2/pets")
            .await
            .unwrap();
        assert!(!allows(&response, "GET", "/petstore/v2/pets"), "{group:?}");
    }

    let expired = access_claims(
        &stack.pool.issuer(),
        "minted-client",
        &["admin"],
        now() - 7200,
    );
    assert!(matches!(
        authorize(&a, &key.sign(&expired), "GET", "/").await,
        Err(AuthorizerError::Unauthorized)
    ));
    assert_eq!(server.hits(), 1, "the JWKS is fetched once and kept");
}

#[tokio::test]
async fn an_ip_condition_is_evaluated_against_the_events_source_ip() {
    let stack = Stack::start().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&stack.moto.sdk_config().await);
    let office = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke",
        "Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}"#;
    let table = policy_table(&dynamodb, &[("pet-veterinarian", office, None, None)]).await;
    let a = authorizer(
        &stack.moto,
        &stack.pool.id,
        &stack.pool.client_id,
        stack.jwks_url(),
        table,
        ExpectedTokenUse::Access,
    )
    .await;
    let (vet, _) = stack.pool.sign_in("vet").await;
    let inside = request_event(Some(&format!("Bearer {vet}")), &arn("GET", "/x"));
    let response = a.handle(&inside, now()).await.unwrap();
    assert!(
        allows(&response, "GET", "/x"),
        "the fixture's source IP is 192.0.2.10"
    );

    let mut outside: serde_json::Value = serde_json::from_str(include_str!(
        "../../fixtures/events/authorizer-request.json"
    ))
    .unwrap();
    outside["requestContext"]["identity"]["sourceIp"] = json!("203.0.113.5");
    outside["headers"]["Authorization"] = json!(format!("Bearer {vet}"));
    outside["multiValueHeaders"]["Authorization"] = json!([format!("Bearer {vet}")]);
    let outside: AuthorizerEvent = serde_json::from_value(outside).unwrap();
    let response = a.handle(&outside, now()).await.unwrap();
    assert!(!allows(&response, "GET", "/x"));
}
