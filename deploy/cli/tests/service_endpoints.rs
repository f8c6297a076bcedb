#![cfg(test)]
//! Issue 19 (2), as a class: every command of the tool that talks to AWS is run as an operator
//! runs it (the built binary), with each AWS service on its own endpoint, so that a client built
//! for one service but sent to another's endpoint fails the test.
//!
//! moto serves every service on one endpoint, so against moto alone a DynamoDB call sent to
//! "Cognito's" endpoint still works. Here each service's endpoint is a [`ServiceGate`]: a proxy
//! to moto that passes only requests signed for its own service (the service in the SigV4
//! credential scope) and refuses and records any other. `AWS_ENDPOINT_URL`, where a client with
//! no endpoint of its own goes, is a gate that passes nothing. No mocks: the calls go over the
//! wire to moto.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use std::collections::BTreeMap;

use groupgate_cli::stack::{self, Output as StackOutput, StackOutputs, groups};
use groupgate_cli::toolbox::simulate;
use groupgate_testkit::{CognitoPool, Moto, policy_table, unique};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The services the tool calls: the suffix of their `AWS_ENDPOINT_URL_*` variable, and the
/// name their requests are signed for.
const SERVICES: [(&str, &str); 7] = [
    ("COGNITO_IDENTITY_PROVIDER", "cognito-idp"),
    ("DYNAMODB", "dynamodb"),
    ("CLOUDFORMATION", "cloudformation"),
    ("S3", "s3"),
    ("STS", "sts"),
    ("API_GATEWAY", "apigateway"),
    ("IAM", "iam"),
];

/// An HTTP proxy to moto that passes the requests signed for one service and refuses (and
/// records) all others.
struct ServiceGate {
    url: String,
    /// `"<signed for> to <gate>: <method> <path>"` for each refused request.
    refused: Arc<Mutex<Vec<String>>>,
    passed: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl ServiceGate {
    /// A gate for `service` (a signing name), or for no service at all.
    async fn start(service: Option<&'static str>, upstream: &str) -> Self {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let refused = Arc::new(Mutex::new(Vec::new()));
        let passed = Arc::new(Mutex::new(0));
        let client = reqwest::Client::new();
        let upstream = upstream.to_owned();
        let (r, p) = (Arc::clone(&refused), Arc::clone(&passed));
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, p, client, upstream) = (
                    Arc::clone(&r),
                    Arc::clone(&p),
                    client.clone(),
                    upstream.clone(),
                );
                tokio::spawn(async move {
                    let handle = move |request| {
                        forward(
                            request,
                            service,
                            Arc::clone(&r),
                            Arc::clone(&p),
                            client.clone(),
                            upstream.clone(),
                        )
                    };
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hyper::service::service_fn(handle))
                        .await;
                });
            }
        });
        Self {
            url,
            refused,
            passed,
            task,
        }
    }
}

impl Drop for ServiceGate {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The service a request is signed for: `Credential=AKID/date/region/SERVICE/aws4_request`.
fn signed_for(request: &Request<Incoming>) -> String {
    request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("(unsigned)")
        .to_owned()
}

async fn forward(
    request: Request<Incoming>,
    service: Option<&'static str>,
    refused: Arc<Mutex<Vec<String>>>,
    passed: Arc<Mutex<usize>>,
    client: reqwest::Client,
    upstream: String,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let signed = signed_for(&request);
    if service != Some(signed.as_str()) {
        refused.lock().unwrap().push(format!(
            "{signed} to {}: {} {}",
            service.unwrap_or("AWS_ENDPOINT_URL"),
            request.method(),
            request.uri()
        ));
        let mut response = Response::new(Full::new(Bytes::from(format!(
            "this endpoint serves {}, not {signed}",
            service.unwrap_or("no service")
        ))));
        *response.status_mut() = StatusCode::MISDIRECTED_REQUEST;
        return Ok(response);
    }
    *passed.lock().unwrap() += 1;
    let (parts, body) = request.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = client.request(parts.method, format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if !["host", "content-length", "transfer-encoding", "connection"].contains(&name.as_str()) {
            out = out.header(name, value);
        }
    }
    let answer = out.body(body).send().await.unwrap();
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !["content-length", "transfer-encoding", "connection"].contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    let bytes = answer.bytes().await.unwrap();
    Ok(response.body(Full::new(bytes)).unwrap())
}

/// A gate per service, and one that passes nothing at `AWS_ENDPOINT_URL`.
struct Endpoints {
    gates: Vec<(&'static str, &'static str, ServiceGate)>,
    elsewhere: ServiceGate,
}

impl Endpoints {
    async fn start(moto: &Moto) -> Self {
        let mut gates = Vec::new();
        for (variable, service) in SERVICES {
            gates.push((
                variable,
                service,
                ServiceGate::start(Some(service), &moto.endpoint).await,
            ));
        }
        Self {
            gates,
            elsewhere: ServiceGate::start(None, &moto.endpoint).await,
        }
    }

    fn url(&self, service: &str) -> String {
        self.gates
            .iter()
            .find(|(_, s, _)| *s == service)
            .map(|(_, _, g)| g.url.clone())
            .unwrap()
    }

    /// The environment that puts each service on its own gate.
    fn env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .gates
            .iter()
            .map(|(variable, _, gate)| (format!("AWS_ENDPOINT_URL_{variable}"), gate.url.clone()))
            .collect();
        env.push(("AWS_ENDPOINT_URL".into(), self.elsewhere.url.clone()));
        env
    }

    /// Every request a gate refused: each is a client sent to another service's endpoint.
    fn refused(&self) -> Vec<String> {
        self.gates
            .iter()
            .map(|(_, _, g)| g)
            .chain([&self.elsewhere])
            .flat_map(|g| g.refused.lock().unwrap().clone())
            .collect()
    }

    fn passed(&self, service: &str) -> usize {
        self.gates
            .iter()
            .find(|(_, s, _)| *s == service)
            .map(|(_, _, g)| *g.passed.lock().unwrap())
            .unwrap()
    }
}

/// Credentials for the tool: moto's default account, or one of [`Moto::sdk_config_in_new_account`].
async fn credentials(aws: &aws_config::SdkConfig) -> Vec<(String, String)> {
    use aws_sdk_dynamodb::config::ProvideCredentials as _;
    let credentials = aws
        .credentials_provider()
        .unwrap()
        .provide_credentials()
        .await
        .unwrap();
    let mut env = vec![
        (
            "AWS_ACCESS_KEY_ID".to_owned(),
            credentials.access_key_id().to_owned(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_owned(),
            credentials.secret_access_key().to_owned(),
        ),
    ];
    if let Some(token) = credentials.session_token() {
        env.push(("AWS_SESSION_TOKEN".to_owned(), token.to_owned()));
    }
    env
}

/// Runs `groupgate ARGS` from the repository's root with only `env` (and no AWS profile or
/// instance metadata to fall back on).
async fn groupgate(args: &[&str], env: &[(String, String)]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    tokio::process::Command::new(env!("CARGO_BIN_EXE_groupgate"))
        .args(args)
        .current_dir(root)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        // The policies this test process reads (a policy author's copy, when set), so the tool
        // and the test agree on the groups.
        .envs(
            [groups::POLICIES_VARIABLE, simulate::ACCESS_VARIABLE]
                .into_iter()
                .filter_map(|name| Some((name, std::env::var(name).ok()?))),
        )
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .unwrap()
}

/// Asserts the command succeeded and no client went to another service's endpoint.
fn assert_ran(what: &str, output: &Output, endpoints: &Endpoints) {
    assert!(
        output.status.success(),
        "{what} failed: {}\nrefused by the gates: {:#?}",
        String::from_utf8_lossy(&output.stderr),
        endpoints.refused()
    );
    assert_eq!(endpoints.refused(), Vec::<String>::new(), "{what}");
}

/// A pets table with pet 7 in it.
async fn pets_table(dynamodb: &aws_sdk_dynamodb::Client) -> String {
    let table = unique("pets");
    groupgate_shared::dynamodb::create_table(dynamodb, &table, "id", ScalarAttributeType::N)
        .await
        .unwrap();
    dynamodb
        .put_item()
        .table_name(&table)
        .item("id", AttributeValue::N("7".into()))
        .item("name", AttributeValue::S("Smoke Test Pet".into()))
        .send()
        .await
        .unwrap();
    table
}

async fn has_pet(dynamodb: &aws_sdk_dynamodb::Client, table: &str, id: &str) -> bool {
    dynamodb
        .get_item()
        .table_name(table)
        .key("id", AttributeValue::N(id.into()))
        .send()
        .await
        .unwrap()
        .item
        .is_some()
}

fn write_json(value: &serde_json::Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{}.json", unique("stack")));
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

/// Every output of an app stack, each a plausible value, with `overrides` laid over them.
fn all_outputs(overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let roles = groups::load(&groups::default_dir())
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{}=arn:aws:iam::123456789012:role/groupgate/s/groups/{}",
                g.key, g.key
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    StackOutput::ALL
        .iter()
        .map(|o| {
            let value = match o {
                StackOutput::ApiUrl => {
                    "https://api0000000.execute-api.us-east-1.amazonaws.com/prod"
                }
                StackOutput::Region => "us-east-1",
                StackOutput::GroupRoleArns => &roles,
                _ => "unused",
            };
            let value = overrides
                .iter()
                .find(|(k, _)| *k == o.key())
                .map_or(value, |(_, v)| *v);
            (o.key().to_owned(), value.to_owned())
        })
        .collect()
}

/// A stack in moto with every output of an app stack, `overrides` among them, as a deployed
/// stack's are.
async fn stack_with_outputs(aws: &aws_config::SdkConfig, overrides: &[(&str, &str)]) -> String {
    let name = unique("described").replace('-', "");
    let outputs: serde_json::Map<String, serde_json::Value> = all_outputs(overrides)
        .into_iter()
        .map(|(k, v)| (k, serde_json::json!({ "Value": v })))
        .collect();
    let template = serde_json::json!({
        "Resources": { "Topic": { "Type": "AWS::SNS::Topic" } },
        "Outputs": outputs,
    });
    aws_sdk_cloudformation::Client::new(aws)
        .create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .send()
        .await
        .unwrap();
    name
}

/// The smoke tests' two calls on a stack description: a token (Cognito) and removing the pets
/// they wrote (DynamoDB). Once for the local stack's description, whose own parts name each
/// service's endpoint; once for a deployed stack's (`groupgate describe --stack`), where the
/// environment's endpoints are used, each service's own.
#[tokio::test]
async fn token_and_remove_pets_reach_cognito_and_dynamodb_each_on_its_own_endpoint() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    let pool = CognitoPool::create(&moto).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let endpoints = Endpoints::start(&moto).await;
    let mut env = endpoints.env();
    env.extend(credentials(&aws).await);

    for local in [true, false] {
        let table = pets_table(&dynamodb).await;
        let outputs: BTreeMap<String, String> = all_outputs(&[
            ("UserPoolId", &pool.id),
            ("OperatorClientId", &pool.client_id),
            ("PetsTableName", &table),
        ])
        .into_iter()
        .collect();
        let outputs = StackOutputs::from_outputs("s", &outputs).unwrap();
        let mut description = serde_json::to_value(&outputs).unwrap();
        let mut run_env = env.clone();
        if local {
            description["local"] = serde_json::json!({
                "cognito_endpoint": endpoints.url("cognito-idp"),
                "dynamodb_endpoint": endpoints.url("dynamodb"),
                "jwks_url": "http://127.0.0.1:1/jwks.json",
                "users": [{"username": "vet", "password": "Corr3ct-Horse!", "groups": []}],
            });
        } else {
            run_env.push(("GROUPGATE_PASSWORD".into(), "Corr3ct-Horse!".into()));
        }
        let how = if local {
            "local stack"
        } else {
            "deployed stack"
        };
        let file = write_json(&description);
        let file = file.to_str().unwrap();

        let token = groupgate(&["token", "--stack-file", file, "--user", "vet"], &run_env).await;
        assert_ran(&format!("token, {how}"), &token, &endpoints);
        let token = String::from_utf8(token.stdout).unwrap();
        assert_eq!(token.trim().split('.').count(), 3, "a JWT");

        let removed = groupgate(
            &["remove-pets", "--stack-file", file, "--id", "7"],
            &run_env,
        )
        .await;
        assert_ran(&format!("remove-pets, {how}"), &removed, &endpoints);
        assert!(!has_pet(&dynamodb, &table, "7").await, "pet 7 was removed");
        std::fs::remove_file(file).unwrap();
    }
    assert!(endpoints.passed("cognito-idp") >= 2);
    assert!(endpoints.passed("dynamodb") >= 2);
}

/// `token --stack`: the pool and client from the stack's outputs (CloudFormation), then the
/// sign-in (Cognito).
#[tokio::test]
async fn a_token_from_a_deployed_stack_reaches_cloudformation_and_cognito_each_on_its_own() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    let pool = CognitoPool::create(&moto).await;
    let name = stack_with_outputs(
        &aws,
        &[
            ("UserPoolId", &pool.id),
            ("OperatorClientId", &pool.client_id),
            ("Region", "us-east-1"),
        ],
    )
    .await;
    let endpoints = Endpoints::start(&moto).await;
    let mut env = endpoints.env();
    env.extend(credentials(&aws).await);
    env.push(("GROUPGATE_PASSWORD".into(), "Corr3ct-Horse!".into()));
    let token = groupgate(&["token", "--stack", &name, "--user", "vet"], &env).await;
    assert_ran("token --stack", &token, &endpoints);
    assert!(endpoints.passed("cloudformation") >= 1);
    assert!(endpoints.passed("cognito-idp") >= 1);
}

/// Seeding by hand and the policy toolbox: the stack's outputs (CloudFormation), then the
/// tables (DynamoDB).
#[tokio::test]
async fn seeding_and_the_toolbox_reach_cloudformation_and_dynamodb_each_on_its_own() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let policies = policy_table(&dynamodb, &[]).await;
    let pets = unique("pets");
    groupgate_shared::dynamodb::create_table(&dynamodb, &pets, "id", ScalarAttributeType::N)
        .await
        .unwrap();
    let name = stack_with_outputs(
        &aws,
        &[("PolicyTableName", &policies), ("PetsTableName", &pets)],
    )
    .await;
    let endpoints = Endpoints::start(&moto).await;
    let mut env = endpoints.env();
    env.extend(credentials(&aws).await);

    for args in [
        vec!["describe", "--stack", &name],
        vec!["seed-policies", "--stack", &name],
        vec!["seed-policies", "--table", &policies],
        vec!["seed-pets", "--stack", &name],
        vec!["validate", "--stack", &name],
        vec!["simulate", "--table", &policies],
    ] {
        let output = groupgate(&args, &env).await;
        assert_ran(&args.join(" "), &output, &endpoints);
    }
    let seeded = dynamodb
        .scan()
        .table_name(&pets)
        .send()
        .await
        .unwrap()
        .count;
    assert!(seeded > 0, "the default pets");
    assert!(endpoints.passed("cloudformation") >= 3);
    assert!(endpoints.passed("dynamodb") >= 4);
}

/// `bootstrap` and `deploy`: CloudFormation, STS, S3, API Gateway and DynamoDB, each on its own
/// endpoint, over the whole deploy (moto's gaps are those of `tests/deploy_moto.rs`).
#[tokio::test]
async fn bootstrap_and_deploy_reach_each_service_on_its_own_endpoint() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config_in_new_account().await;
    let endpoints = Endpoints::start(&moto).await;
    let mut env = endpoints.env();
    env.extend(credentials(&aws).await);

    let bootstrap = groupgate(
        &[
            "bootstrap",
            "--repository",
            "groupgate/groupgate",
            "--repository-id",
            "456789",
            "--owner-id",
            "123456",
        ],
        &env,
    )
    .await;
    assert_ran("bootstrap", &bootstrap, &endpoints);
    // What the artifact bucket's VersioningConfiguration does, which moto's CloudFormation
    // ignores.
    let s3 = aws_sdk_s3::Client::new(&aws);
    let bucket = s3
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets
        .unwrap_or_default()
        .into_iter()
        .filter_map(|b| b.name)
        .find(|b| b.starts_with("groupgate-assets-"))
        .unwrap();
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();

    let assets = std::env::temp_dir().join(unique("assets"));
    for function in stack::FUNCTIONS {
        std::fs::create_dir_all(assets.join(function)).unwrap();
        std::fs::write(assets.join(function).join("bootstrap.zip"), function).unwrap();
    }
    let out = std::env::temp_dir().join(unique("out"));
    let name = unique("groupgate");
    let deploy = groupgate(
        &[
            "deploy",
            "--stack-name",
            &name,
            "--assets",
            assets.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--flush-wait",
            "0",
            "--outputs-from-resources",
            "--parameter",
            "HostedUiCallbackUrl=https://app.example.com/callback",
        ],
        &env,
    )
    .await;
    assert_ran("deploy", &deploy, &endpoints);
    let stdout = String::from_utf8_lossy(&deploy.stdout);
    assert!(
        stdout.contains(&format!("{name}: CREATE_COMPLETE")),
        "{stdout}"
    );
    for service in ["cloudformation", "sts", "s3", "apigateway", "dynamodb"] {
        assert!(endpoints.passed(service) >= 1, "{service}");
    }
}
