//! Test support for the workspace's tests, never linked into a Lambda: an RSA signing key that
//! mints Cognito-shaped tokens, a tiny HTTP server that serves a JWKS document (so tests can
//! issue tokens no emulator would), a moto server with a Cognito user pool and the policy table
//! in it, and (`lambda`) a local Lambda Runtime API to run a function's real bootstrap under.
//!
//! A set-up that fails here cannot be recovered by the test that asked for it, so these helpers
//! panic with what went wrong, as a test would.
#![allow(
    clippy::panic,
    clippy::expect_used,
    reason = "test support: a failed set-up stops the test that asked for it, loudly"
)]

pub mod iam;
pub mod lambda;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ExplicitAuthFlowsType};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An RS256 signing key with a `kid`.
pub struct TestKey {
    pub kid: String,
    pair: RsaKeyPair,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .unwrap_or_else(|e| panic!("RSA key generation failed: {e}"));
        Self {
            kid: kid.to_owned(),
            pair,
        }
    }

    /// This key as a JWK (RSA, `use` sig, `alg` RS256).
    pub fn jwk(&self) -> serde_json::Value {
        let public = self.pair.public_key();
        serde_json::json!({
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    /// Signs `claims` under a header of our choosing (the `kid` is added if the header lacks it).
    pub fn sign_with_header(
        &self,
        mut header: serde_json::Value,
        claims: &serde_json::Value,
    ) -> String {
        if let Some(h) = header.as_object_mut() {
            h.entry("kid").or_insert_with(|| self.kid.clone().into());
        }
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        self.sign_raw(&signed)
    }

    /// Signs `claims` as Cognito does: RS256 with this key's `kid`.
    pub fn sign(&self, claims: &serde_json::Value) -> String {
        self.sign_with_header(serde_json::json!({"alg": "RS256"}), claims)
    }

    /// Appends an RS256 signature of `signed` (`header.payload`, already encoded).
    pub fn sign_raw(&self, signed: &str) -> String {
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .unwrap_or_else(|e| panic!("RSA signing failed: {e}"));
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// A JWKS document holding these keys.
pub fn jwks(keys: &[&TestKey]) -> String {
    serde_json::json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() }).to_string()
}

/// Claims as Cognito puts them in an access token, valid from `now` for an hour.
pub fn access_claims(
    pool_issuer: &str,
    client_id: &str,
    groups: &[&str],
    now: u64,
) -> serde_json::Value {
    serde_json::json!({
        "sub": "6f1c2e1a-0000-4000-8000-000000000001",
        "iss": pool_issuer,
        "client_id": client_id,
        "origin_jti": "0b2c",
        "event_id": "e1",
        "token_use": "access",
        "scope": "aws.cognito.signin.user.admin",
        "auth_time": now,
        "exp": now + 3600,
        "iat": now,
        "jti": "3a1f",
        "username": "alice",
        "cognito:groups": groups,
    })
}

/// Serves one fixed HTTP response to every request on a loopback port, counting requests.
pub struct StaticHttpServer {
    pub addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl StaticHttpServer {
    /// Serves `body` with `status` (for example `200 OK`).
    pub async fn start(status: &str, body: String) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let hits = Arc::new(AtomicUsize::new(0));
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let counter = Arc::clone(&hits);
        let task = tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Ok(Self { addr, hits, task })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for StaticHttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A moto server for tests that talk to emulated AWS over the wire.
///
/// Uses the server `MOTO_ENDPOINT` names when set (`scripts/test.sh` starts one for the whole run);
/// otherwise starts `moto_server` from the repository's `.venv` (or `MOTO_SERVER`) on a free
/// loopback port and stops it when dropped.
pub struct Moto {
    pub endpoint: String,
    child: Option<std::process::Child>,
}

impl Moto {
    pub async fn start() -> Self {
        if let Ok(endpoint) = std::env::var("MOTO_ENDPOINT") {
            return Self {
                endpoint,
                child: None,
            };
        }
        Self::start_own().await
    }

    /// A moto server of this caller's own, even when `MOTO_ENDPOINT` names a shared one: for
    /// tests that create fixed names (the local stack's `groupgate-local-*` tables and pool),
    /// which two such tests in one shared emulator would both claim.
    pub async fn start_own() -> Self {
        let program = std::env::var("MOTO_SERVER").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/moto_server").to_owned()
        });
        let port = free_port();
        let child = std::process::Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start `{program}`: {e}. Run scripts/test.sh (it installs moto into .venv) \
                     or set MOTO_ENDPOINT to a running moto server"
                )
            });
        let moto = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child: Some(child),
        };
        moto.wait_ready().await;
        moto
    }

    async fn wait_ready(&self) {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            if client
                .get(format!("{}/moto-api/", self.endpoint))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("moto at {} did not become ready within 60 s", self.endpoint);
    }

    /// SDK configuration for a fresh account of this server, for tests that create
    /// account-wide names (the bootstrap stack's roles): moto acts in the account of a role
    /// assumed there, so the configuration carries credentials of a role in a new account.
    pub async fn sdk_config_in_new_account(&self) -> aws_config::SdkConfig {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            .wrapping_add(u128::from(std::process::id()) << 20)
            .wrapping_add(NEXT.fetch_add(1, Ordering::SeqCst) as u128);
        let account = format!("{:012}", 100_000_000_000 + seed % 800_000_000_000);
        let base = self.sdk_config().await;
        let assumed = aws_sdk_sts::Client::new(&base)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/test"))
            .role_session_name("test")
            .send()
            .await
            .unwrap_or_else(|e| panic!("assuming a role in account {account}: {e}"));
        let Some(credentials) = assumed.credentials else {
            panic!("moto's AssumeRole returned no credentials");
        };
        base.to_builder()
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::new(
                    credentials.access_key_id,
                    credentials.secret_access_key,
                    Some(credentials.session_token),
                    None,
                    "moto-account",
                ),
            ))
            .build()
    }

    /// SDK configuration pointing every client at this server.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// A name no other test in this run uses, for tables and pools in a shared emulator.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    )
}

/// Creates a policy table (`group` as the partition key) and writes `(group, policy, role, precedence)` items.
pub async fn policy_table(
    client: &aws_sdk_dynamodb::Client,
    items: &[(&str, &str, Option<&str>, Option<i64>)],
) -> String {
    use aws_sdk_dynamodb::types::AttributeValue;
    let table = unique("policies");
    if let Err(e) = groupgate_shared::dynamodb::create_table(
        client,
        &table,
        "group",
        aws_sdk_dynamodb::types::ScalarAttributeType::S,
    )
    .await
    {
        panic!("{e}");
    }
    for (group, policy, role, precedence) in items {
        let mut put = client
            .put_item()
            .table_name(&table)
            .item("group", AttributeValue::S((*group).to_owned()))
            .item("policy", AttributeValue::S((*policy).to_owned()));
        if let Some(role) = role {
            put = put.item("role_arn", AttributeValue::S((*role).to_owned()));
        }
        if let Some(p) = precedence {
            put = put.item("precedence", AttributeValue::N(p.to_string()));
        }
        if let Err(e) = put.send().await {
            panic!(
                "put_item: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            );
        }
    }
    table
}

/// The tests' own group definitions (`admin`, `pet-veterinarian`, `pet-viewer`): a copy of the
/// product's `policies/` as the tests were written, so that a policy author's change to
/// `policies/` never moves a test that names or counts groups (see `fixtures/README.md`).
pub const FIXTURE_POLICIES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/policies");

/// The tests' own copy of the petstore's API document (`api/petstore.yaml`), for tests that
/// name or count routes.
pub const FIXTURE_API: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/api/petstore.yaml");

/// The routes of [`FIXTURE_API`] as (method, resource path), for the Cedar schema of tests and
/// benches that cannot read the document (the authorizer does not link the stack's reader).
/// A test in this crate holds it to the document.
pub const FIXTURE_ROUTES: [(&str, &str); 6] = [
    ("GET", "/petstore/v1/pets"),
    ("POST", "/petstore/v1/pets"),
    ("GET", "/petstore/v1/pets/{id}"),
    ("GET", "/petstore/v2/pets"),
    ("GET", "/petstore/v2/status"),
    ("GET", "/petstore/v2/identity"),
];

/// The access matrix of [`FIXTURE_POLICIES`], as `groupgate simulate --expect` reads it.
pub const FIXTURE_ACCESS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/access.json");

/// The policy of fixture group `group` ([`FIXTURE_POLICIES`]), as the JSON text the seeding
/// writes to the policy table.
pub fn fixture_policy(group: &str) -> String {
    let path = format!("{FIXTURE_POLICIES}/{group}.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading `{path}`: {e}"));
    let definition: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("`{path}`: {e}"));
    match definition.get("policy") {
        Some(policy) => policy.to_string(),
        None => panic!("`{path}` has no `policy`"),
    }
}

/// A user pool with an app client, the two groups, and users `vet`, `boss` (admin and vet) and
/// `loner` (no group).
pub struct CognitoPool {
    pub id: String,
    pub client_id: String,
    pub cognito: Cognito,
}

impl CognitoPool {
    pub async fn create(moto: &Moto) -> Self {
        let cognito = Cognito::new(&moto.sdk_config().await);
        let id = cognito
            .create_user_pool()
            .pool_name(unique("pool"))
            .send()
            .await
            .expect("moto's Cognito")
            .user_pool
            .expect("moto's Cognito")
            .id
            .expect("moto's Cognito");
        let client_id = cognito
            .create_user_pool_client()
            .user_pool_id(&id)
            .client_name("web")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .expect("moto's Cognito")
            .user_pool_client
            .expect("moto's Cognito")
            .client_id
            .expect("moto's Cognito");
        for (group, precedence) in [("pet-veterinarian", 10), ("admin", 1)] {
            cognito
                .create_group()
                .user_pool_id(&id)
                .group_name(group)
                .precedence(precedence)
                .send()
                .await
                .expect("moto's Cognito");
        }
        let pool = Self {
            id,
            client_id,
            cognito,
        };
        pool.user("vet", &["pet-veterinarian"]).await;
        pool.user("boss", &["pet-veterinarian", "admin"]).await;
        pool.user("loner", &[]).await;
        pool
    }

    pub async fn user(&self, name: &str, groups: &[&str]) {
        self.cognito
            .admin_create_user()
            .user_pool_id(&self.id)
            .username(name)
            .send()
            .await
            .expect("moto's Cognito");
        self.cognito
            .admin_set_user_password()
            .user_pool_id(&self.id)
            .username(name)
            .password("Corr3ct-Horse!")
            .permanent(true)
            .send()
            .await
            .expect("moto's Cognito");
        for group in groups {
            self.cognito
                .admin_add_user_to_group()
                .user_pool_id(&self.id)
                .username(name)
                .group_name(*group)
                .send()
                .await
                .expect("moto's Cognito");
        }
    }

    /// Signs in with USER_PASSWORD_AUTH; returns (access token, ID token).
    pub async fn sign_in(&self, name: &str) -> (String, String) {
        let auth = self
            .cognito
            .initiate_auth()
            .client_id(&self.client_id)
            .auth_flow(AuthFlowType::UserPasswordAuth)
            .auth_parameters("USERNAME", name)
            .auth_parameters("PASSWORD", "Corr3ct-Horse!")
            .send()
            .await
            .expect("moto's Cognito")
            .authentication_result
            .expect("moto's Cognito");
        (
            auth.access_token.expect("moto's Cognito"),
            auth.id_token.expect("moto's Cognito"),
        )
    }

    /// The pool's JWKS as moto serves it from `base` (moto's endpoint, or a proxy to it).
    pub fn jwks_url(&self, base: &str) -> String {
        format!("{base}/{}/.well-known/jwks.json", self.id)
    }

    pub fn issuer(&self) -> String {
        format!("https://cognito-idp.us-east-1.amazonaws.com/{}", self.id)
    }
}
