#![cfg(test)]
//! The local gateway's own rules, against a stand-in Lambda invoke endpoint served over HTTP by
//! the test (so the gateway's real HTTP client is used), with a clock the test moves; and the
//! access matrix the smoke tests check (`deploy/access.json`), answered through the gateway for
//! a stand-in authorizer that renders its policies by the authorizer's rule, or by broken ones.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use groupgate_shared::{
    GroupPolicy, MergedPolicy, MethodArn, PolicyDocument, RequestFacts, ReturnedPolicy,
};
use groupgate_stack as stack;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use local_gateway::{Gateway, GatewayConfig, GatewayRequest, LocalIntegration, Route, serve};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A function answered by code: its event in, (HTTP status, body) out.
type Handler = Arc<dyn Fn(&Value) -> (u16, Value) + Send + Sync>;

/// Scripted function results: (HTTP status, body) by function name, or a handler; received
/// events recorded.
#[derive(Default)]
struct Functions {
    results: Mutex<HashMap<String, (u16, Value)>>,
    handlers: Mutex<HashMap<String, Handler>>,
    received: Mutex<Vec<(String, Value)>>,
    /// How long a function takes to answer (a slow or stuck integration).
    delays: Mutex<HashMap<String, Duration>>,
}

impl Functions {
    fn answer_with(&self, function: &str, handler: Handler) {
        self.handlers
            .lock()
            .unwrap()
            .insert(function.to_owned(), handler);
    }
    fn reply(&self, function: &str, event: &Value) -> Option<(u16, Value)> {
        let handler = self.handlers.lock().unwrap().get(function).cloned();
        match handler {
            Some(handler) => Some(handler(event)),
            None => self.results.lock().unwrap().get(function).cloned(),
        }
    }
    fn set(&self, function: &str, status: u16, body: Value) {
        self.results
            .lock()
            .unwrap()
            .insert(function.to_owned(), (status, body));
    }
    fn received(&self, function: &str) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(f, _)| f == function)
            .map(|(_, e)| e.clone())
            .collect()
    }
}

async fn invoke_endpoint(functions: Arc<Functions>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let functions = Arc::clone(&functions);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let functions = Arc::clone(&functions);
                        async move {
                            let name = request
                                .uri()
                                .path()
                                .split('/')
                                .nth(3)
                                .unwrap_or_default()
                                .to_owned();
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let event: Value = serde_json::from_slice(&body).unwrap();
                            let delay = functions.delays.lock().unwrap().get(&name).copied();
                            if let Some(delay) = delay {
                                tokio::time::sleep(delay).await;
                            }
                            let (status, reply) = functions.reply(&name, &event).unwrap_or((
                                500,
                                json!({"errorType": "NotFound", "errorMessage": "no such function"}),
                            ));
                            functions
                                .received
                                .lock()
                                .unwrap()
                                .push((name.clone(), event));
                            let mut response =
                                hyper::Response::new(Full::new(Bytes::from(reply.to_string())));
                            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(response)
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}")
}

struct Setup {
    gateway: Arc<Gateway>,
    functions: Arc<Functions>,
    /// Seconds added to the gateway's clock.
    offset: Arc<AtomicU64>,
}

async fn setup(ttl: u64) -> Setup {
    setup_with_cors(ttl, &[]).await
}

async fn setup_with_cors(ttl: u64, origins: &[&str]) -> Setup {
    setup_with(ttl, origins, local_gateway::INTEGRATION_TIMEOUT).await
}

/// The tests' copy of the petstore's API, the routes these tests call.
fn petstore() -> stack::Api {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testkit/fixtures/api/petstore.yaml"
    );
    stack::Api::load(std::path::Path::new(file)).unwrap()
}

async fn setup_with(ttl: u64, origins: &[&str], integration_timeout: Duration) -> Setup {
    setup_keyed(ttl, origins, integration_timeout, false).await
}

/// A Cedar stack's gateway: results cached per token, method and resource path.
async fn setup_by_route(ttl: u64) -> Setup {
    setup_keyed(ttl, &[], local_gateway::INTEGRATION_TIMEOUT, true).await
}

async fn setup_keyed(
    ttl: u64,
    origins: &[&str],
    integration_timeout: Duration,
    cache_by_route: bool,
) -> Setup {
    let functions = Arc::new(Functions::default());
    let invoke_url = invoke_endpoint(Arc::clone(&functions)).await;
    let offset = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let clock_offset = Arc::clone(&offset);
    let config = GatewayConfig {
        stage: "prod".into(),
        routes: petstore()
            .operations
            .into_iter()
            .map(|o| Route {
                method: o.method,
                path: o.path,
                public: o.public,
                integration: LocalIntegration::Function("backend".into()),
            })
            .collect(),
        authorizer_ttl: Duration::from_secs(ttl),
        identity_header: "Authorization".into(),
        cache_by_route,
        invoke_url,
        authorizer_function: "authorizer".into(),
        hints: stack::gateway_hints(),
        cors_origins: groupgate_shared::cors::AllowedOrigins::new(
            origins.iter().map(|o| o.to_string()).collect(),
        )
        .unwrap(),
        integration_timeout,
    };
    let gateway = Gateway::new(
        config,
        Arc::new(move || start + Duration::from_secs(clock_offset.load(Ordering::SeqCst))),
    )
    .unwrap();
    functions.set(
        "backend",
        200,
        json!({"statusCode": 200, "headers": {"content-type": "application/json", "x-pets": "yes"},
        "body": "{\"pets\":[]}", "isBase64Encoded": false}),
    );
    Setup {
        gateway: Arc::new(gateway),
        functions,
        offset,
    }
}

impl Setup {
    /// The status of a GET of `path` with `token`.
    async fn status(&self, path: &str, token: &str) -> u16 {
        self.gateway.handle(get(path, Some(token))).await.status
    }
}

fn allow(resources: &[&str]) -> Value {
    json!({"principalId": "user-1", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": resources}]},
        "context": {"sub": "user-1", "username": "vet", "groups": "[\"pet-veterinarian\"]", "n": 3, "b": true}})
}

fn get(path: &str, token: Option<&str>) -> GatewayRequest {
    GatewayRequest {
        method: "GET".into(),
        path: format!("/prod{path}"),
        headers: token
            .map(|t| vec![("Authorization".to_owned(), format!("Bearer {t}"))])
            .unwrap_or_default(),
        source_ip: Some("127.0.0.1".parse().unwrap()),
        ..GatewayRequest::default()
    }
}

fn body(response: &local_gateway::GatewayResponse) -> Value {
    serde_json::from_slice(&response.body).unwrap()
}

/// The body of one of the gateway's own answers, as the stack's gateway response of `kind`
/// writes it: the message, the stack's hint, and the request id.
fn gateway_body(response: &local_gateway::GatewayResponse, kind: &str, message: Value) -> Value {
    let mut b = body(response);
    let id = b["requestId"].as_str().unwrap_or_default();
    assert_eq!(id.len(), 32, "{b}");
    b.as_object_mut().unwrap().remove("requestId");
    assert_eq!(
        b,
        json!({"message": message, "hint": stack::gateway_hints()[kind]}),
        "{kind}"
    );
    b
}

fn header<'a>(response: &'a local_gateway::GatewayResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn no_identity_source_is_401_without_calling_the_authorizer() {
    let s = setup(300).await;
    let response = s.gateway.handle(get("/petstore/v1/pets", None)).await;
    assert_eq!(response.status, 401);
    gateway_body(&response, "UNAUTHORIZED", json!("Unauthorized"));
    assert_eq!(s.gateway.authorizer_calls(), 0);
}

#[tokio::test]
async fn an_unauthorized_error_is_401_and_other_errors_500() {
    let s = setup(300).await;
    s.functions.set(
        "authorizer",
        500,
        json!({"errorType": "Unauthorized", "errorMessage": "Unauthorized"}),
    );
    let response = s.gateway.handle(get("/petstore/v1/pets", Some("a"))).await;
    assert_eq!(response.status, 401);
    gateway_body(&response, "UNAUTHORIZED", json!("Unauthorized"));

    s.functions.set(
        "authorizer",
        500,
        json!({"errorType": "AuthorizerFailure", "errorMessage": "policy_store_unavailable: x"}),
    );
    let response = s.gateway.handle(get("/petstore/v1/pets", Some("b"))).await;
    assert_eq!(response.status, 500);
    gateway_body(&response, "AUTHORIZER_FAILURE", Value::Null);
    assert!(s.functions.received("backend").is_empty());
}

#[tokio::test]
async fn malformed_authorizer_output_is_500() {
    let mut nested = allow(&["*"]);
    nested["context"]["groups"] = json!(["pet-veterinarian"]);
    let mut no_principal = allow(&["*"]);
    no_principal.as_object_mut().unwrap().remove("principalId");
    let mut no_policy = allow(&["*"]);
    no_policy.as_object_mut().unwrap().remove("policyDocument");
    let mut no_effect = allow(&["*"]);
    no_effect["policyDocument"]["Statement"][0]
        .as_object_mut()
        .unwrap()
        .remove("Effect");
    let mut no_statement = allow(&["*"]);
    no_statement["policyDocument"]["Statement"] = json!([]);
    // The authorizer applies conditions before it answers; a returned one is a broken render,
    // which the authorizer's own parser would read, and the reference evaluator does not.
    let mut condition = allow(&["*"]);
    condition["policyDocument"]["Statement"][0]["Condition"] =
        json!({"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}});
    let mut bad_effect_elsewhere = allow(&["*"]);
    bad_effect_elsewhere["policyDocument"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Perhaps", "Action": "x:Y", "Resource": "arn:aws:s3:::b"}));
    // API Gateway documents no `NotResource`, `NotAction` or `?` for an authorizer's policy
    // (issue #22): the local gateway has no rule to apply them by, and fails closed.
    let mut not_resource = allow(&["*"]);
    not_resource["policyDocument"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Deny", "Action": "execute-api:Invoke",
            "NotResource": "arn:aws:execute-api:*:*:*/*/POST/*"}));
    let mut not_action = allow(&["*"]);
    not_action["policyDocument"]["Statement"]
        .as_array_mut()
        .unwrap()
        .push(json!({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}));
    let question_mark = allow(&["arn:aws:execute-api:*:*:*/*/GET/petstore/v?/*"]);
    let outputs = [
        nested,
        no_principal,
        no_policy,
        no_effect,
        no_statement,
        condition,
        bad_effect_elsewhere,
        not_resource,
        not_action,
        question_mark,
        json!("Allow"),
    ];
    for (i, output) in outputs.into_iter().enumerate() {
        let s = setup(300).await;
        s.functions.set("authorizer", 200, output.clone());
        let response = s
            .gateway
            .handle(get("/petstore/v1/pets", Some(&format!("t{i}"))))
            .await;
        assert_eq!(response.status, 500, "{output}");
        gateway_body(&response, "AUTHORIZER_FAILURE", Value::Null);
        assert!(s.functions.received("backend").is_empty(), "{output}");
    }
}

#[tokio::test]
async fn explicit_and_implicit_denies_have_the_stacks_access_denied_body() {
    let s = setup(0).await;
    s.functions.set(
        "authorizer",
        200,
        allow(&["arn:aws:execute-api:*:*:*/*/GET/petstore/v1/*"]),
    );
    let response = s.gateway.handle(get("/petstore/v2/pets", Some("t"))).await;
    assert_eq!(response.status, 403);
    gateway_body(
        &response,
        "ACCESS_DENIED",
        json!("User is not authorized to access this resource"),
    );

    let mut deny = allow(&["*"]);
    deny["policyDocument"]["Statement"].as_array_mut().unwrap().push(json!(
        {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/*"}));
    s.functions.set("authorizer", 200, deny);
    let response = s.gateway.handle(get("/petstore/v2/pets", Some("t"))).await;
    assert_eq!(response.status, 403);
    gateway_body(
        &response,
        "ACCESS_DENIED",
        json!("User is not authorized to access this resource with an explicit deny"),
    );
}

#[tokio::test]
async fn a_cached_policy_is_applied_to_other_methods_until_the_ttl_passes() {
    let s = setup(300).await;
    // A policy written only for the first method asked: what a naive authorizer returns.
    s.functions.set(
        "authorizer",
        200,
        allow(&["arn:aws:execute-api:us-east-1:123456789012:localapi01/prod/GET/petstore/v1/pets"]),
    );
    assert_eq!(s.status("/petstore/v1/pets", "t").await, 200);
    // A broader policy now, but the cached narrow one still answers for the same token...
    s.functions.set("authorizer", 200, allow(&["*"]));
    assert_eq!(s.status("/petstore/v2/status", "t").await, 403);
    assert_eq!(s.gateway.authorizer_calls(), 1);
    // ...while another token is authorized afresh.
    assert_eq!(s.status("/petstore/v2/status", "other").await, 200);
    assert_eq!(s.gateway.authorizer_calls(), 2);

    s.offset.store(299, Ordering::SeqCst);
    assert_eq!(s.status("/petstore/v2/status", "t").await, 403);
    s.offset.store(300, Ordering::SeqCst);
    assert_eq!(s.status("/petstore/v2/status", "t").await, 200, "expired");
    assert_eq!(s.gateway.authorizer_calls(), 3);
}

/// A Cedar stack's authorizer answers for one route (one statement on the method asked), and
/// its identity sources hold the method and the resource path beside the token: an answer
/// cached for one route is never applied to another, and is reused for its own route, whatever
/// the path parameters.
#[tokio::test]
async fn with_a_cedar_stacks_identity_sources_a_cached_answer_is_only_for_its_route() {
    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:localapi01/prod";
    let s = setup_by_route(300).await;
    s.functions.set(
        "authorizer",
        200,
        allow(&[&format!("{ARN}/GET/petstore/v1/pets")]),
    );
    assert_eq!(s.status("/petstore/v1/pets", "t").await, 200);
    // The same token on another route: the authorizer is asked again (keyed by the header
    // alone, the cached answer would be a 403 here, as the IAM test above shows).
    s.functions.set(
        "authorizer",
        200,
        allow(&[&format!("{ARN}/GET/petstore/v2/status")]),
    );
    assert_eq!(s.status("/petstore/v2/status", "t").await, 200);
    assert_eq!(s.gateway.authorizer_calls(), 2);
    // The first route again: its own cached answer, not the latest one.
    assert_eq!(s.status("/petstore/v1/pets", "t").await, 200);
    assert_eq!(s.gateway.authorizer_calls(), 2);

    // One resource path, two path parameters: one cache entry, as the resource path keys it.
    s.functions.set(
        "authorizer",
        200,
        allow(&[&format!("{ARN}/GET/petstore/v1/pets/*")]),
    );
    assert_eq!(s.status("/petstore/v1/pets/1", "t").await, 200);
    assert_eq!(s.status("/petstore/v1/pets/2", "t").await, 200);
    assert_eq!(s.gateway.authorizer_calls(), 3);
}

#[tokio::test]
async fn allowed_requests_reach_the_backend_with_the_context_and_its_answer_comes_back() {
    let s = setup(300).await;
    s.functions.set("authorizer", 200, allow(&["*"]));
    let response = s
        .gateway
        .handle(get("/petstore/v1/pets/7", Some("t")))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"{\"pets\":[]}");
    assert!(
        response
            .headers
            .contains(&("x-pets".to_owned(), "yes".to_owned()))
    );

    let authorizer_event = &s.functions.received("authorizer")[0];
    assert_eq!(authorizer_event["type"], "REQUEST");
    assert_eq!(
        authorizer_event["methodArn"],
        "arn:aws:execute-api:us-east-1:123456789012:localapi01/prod/GET/petstore/v1/pets/7"
    );
    assert_eq!(authorizer_event["headers"]["Authorization"], "Bearer t");

    let event = &s.functions.received("backend")[0];
    assert_eq!(event["resource"], "/petstore/v1/pets/{id}");
    assert_eq!(event["path"], "/petstore/v1/pets/7");
    assert_eq!(event["pathParameters"], json!({"id": "7"}));
    assert_eq!(event["requestContext"]["stage"], "prod");
    assert_eq!(
        event["requestContext"]["authorizer"],
        json!({"principalId": "user-1", "sub": "user-1",
        "username": "vet", "groups": "[\"pet-veterinarian\"]", "n": 3, "b": true})
    );
    // The event is one the backend's own event types accept.
    let request = lambda_http_request(event);
    assert_eq!(request, "/prod/petstore/v1/pets/7");
}

fn lambda_http_request(event: &Value) -> String {
    let parsed: aws_lambda_events::apigw::ApiGatewayProxyRequest =
        serde_json::from_value(event.clone()).unwrap();
    format!(
        "/{}{}",
        parsed.request_context.stage.unwrap(),
        parsed.path.unwrap()
    )
}

#[tokio::test]
async fn unknown_routes_are_403_missing_authentication_token() {
    let s = setup(300).await;
    let response = s.gateway.handle(get("/petstore/v9", Some("t"))).await;
    assert_eq!(response.status, 403);
    gateway_body(
        &response,
        "DEFAULT_4XX",
        json!("Missing Authentication Token"),
    );
    let mut post_status = get("/petstore/v2/status", Some("t"));
    post_status.method = "POST".into();
    assert_eq!(s.gateway.handle(post_status).await.status, 403);
    assert_eq!(s.gateway.authorizer_calls(), 0);
}

#[tokio::test]
async fn the_gateway_serves_over_http() {
    let s = setup(300).await;
    s.functions.set("authorizer", 200, allow(&["*"]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/prod/petstore/v1/pets",
        listener.local_addr().unwrap()
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, Arc::clone(&s.gateway), async {
        let _ = stopped.await;
    }));
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = reqwest::Client::new();
    let response = client
        .get(&url)
        .header("Authorization", "Bearer t")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-pets"], "yes");
    assert_eq!(client.get(&url).send().await.unwrap().status(), 401);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// The events the functions receive have the shape of the recorded ones in `fixtures/events/`:
/// the same fields at every level, empty maps written as AWS writes them, and the client's
/// header-name casing kept (the request is sent as raw bytes, so nothing lowercases it).
#[tokio::test]
async fn events_have_the_shape_api_gateway_sends() {
    let s = setup(300).await;
    s.functions.set("authorizer", 200, allow(&["*"]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, Arc::clone(&s.gateway), async {
        let _ = stopped.await;
    }));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /prod/petstore/v1/pets HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: curl/8.5.0\r\nAccept: application/json\r\nAuthorization: Bearer t\r\nConnection: close\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
        .await
        .unwrap();
    let mut reply = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut reply)
        .await
        .unwrap();
    assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();

    for (function, fixture) in [
        (
            "authorizer",
            include_str!("../../../fixtures/events/authorizer-request.json"),
        ),
        (
            "backend",
            include_str!("../../../fixtures/events/rest-proxy-lambda-authorizer.json"),
        ),
    ] {
        let sent = &s.functions.received(function)[0];
        let recorded: Value = serde_json::from_str(fixture).unwrap();
        assert_eq!(keys(sent), keys(&recorded), "{function}: top level");
        let (sent_context, recorded_context) =
            (&sent["requestContext"], &recorded["requestContext"]);
        assert_eq!(
            keys(sent_context),
            keys(recorded_context),
            "{function}: requestContext"
        );
        assert_eq!(
            keys(&sent_context["identity"]),
            keys(&recorded_context["identity"]),
            "{function}: identity"
        );
        for field in [
            "queryStringParameters",
            "multiValueQueryStringParameters",
            "stageVariables",
        ] {
            assert_eq!(
                sent[field].is_null(),
                recorded[field].is_null(),
                "{function}: an empty {field} is written as AWS writes it"
            );
        }
        for name in ["User-Agent", "Accept", "Authorization", "Host"] {
            assert!(
                sent["headers"].get(name).is_some(),
                "{function}: {name} keeps its casing"
            );
            assert!(
                sent["multiValueHeaders"][name].is_array(),
                "{function}: {name}"
            );
        }
        assert_eq!(sent_context["identity"]["userAgent"], "curl/8.5.0");
        assert_eq!(sent_context["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(sent_context["requestTime"].as_str().unwrap().len(), 26);
    }
}

fn from_origin(mut request: GatewayRequest, origin: &str) -> GatewayRequest {
    request.headers.push(("Origin".into(), origin.into()));
    request
}

#[tokio::test]
async fn without_origins_a_preflight_is_an_unknown_method_and_no_cors_header_is_added() {
    let s = setup(300).await;
    let mut preflight = from_origin(get("/petstore/v1/pets", None), "http://localhost:3000");
    preflight.method = "OPTIONS".into();
    let response = s.gateway.handle(preflight).await;
    assert_eq!(response.status, 403);
    gateway_body(
        &response,
        "DEFAULT_4XX",
        json!("Missing Authentication Token"),
    );
    assert!(header(&response, "access-control-allow-origin").is_none());
    let response = s
        .gateway
        .handle(from_origin(
            get("/petstore/v1/pets", None),
            "http://localhost:3000",
        ))
        .await;
    assert_eq!(response.status, 401);
    assert!(header(&response, "access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_preflight_is_answered_without_the_authorizer_and_echoes_only_an_allowed_origin() {
    let s = setup_with_cors(300, &["http://localhost:3000", "https://app.example.com"]).await;
    let preflight = |origin: &str, path: &str| {
        let mut r = from_origin(get(path, None), origin);
        r.method = "OPTIONS".into();
        r
    };
    let response = s
        .gateway
        .handle(preflight("http://localhost:3000", "/petstore/v1/pets"))
        .await;
    assert_eq!(response.status, 204);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("http://localhost:3000")
    );
    assert_eq!(
        header(&response, "access-control-allow-methods"),
        Some("GET,POST,OPTIONS")
    );
    assert_eq!(
        header(&response, "access-control-allow-headers"),
        Some("Authorization,Content-Type")
    );
    let response = s
        .gateway
        .handle(preflight("https://app.example.com", "/petstore/v1/pets/7"))
        .await;
    assert_eq!(
        header(&response, "access-control-allow-methods"),
        Some("GET,OPTIONS")
    );
    // Another origin gets an answer the browser refuses: no Access-Control-Allow-Origin.
    let response = s
        .gateway
        .handle(preflight("http://localhost:3001", "/petstore/v1/pets"))
        .await;
    assert_eq!(response.status, 204);
    assert!(header(&response, "access-control-allow-origin").is_none());
    assert_eq!(s.gateway.authorizer_calls(), 0);

    // The gateway's own answers are readable by the origin that asked (several origins: the
    // request's Origin is copied, as the stack's gateway responses do).
    let response = s
        .gateway
        .handle(from_origin(
            get("/petstore/v1/pets", None),
            "https://app.example.com",
        ))
        .await;
    assert_eq!(response.status, 401);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(header(&response, "vary"), Some("Origin"));
}

/// Issue 20, item 5: as the stack's preflight (which reads `$input.params().header`), the
/// local one reads the `Origin` header only: an allowed origin in the query string, with
/// another origin or none in the headers, is echoed nowhere.
#[tokio::test]
async fn a_preflight_reads_the_origin_header_never_the_query_string() {
    let s = setup_with_cors(300, &["https://app.example.com", "http://localhost:3000"]).await;
    let preflight = |origin: Option<&str>| {
        let mut r = get("/petstore/v1/pets", None);
        r.method = "OPTIONS".into();
        r.query = vec![
            ("Origin".into(), "https://app.example.com".into()),
            ("origin".into(), "https://app.example.com".into()),
        ];
        match origin {
            Some(origin) => from_origin(r, origin),
            None => r,
        }
    };
    for origin in [Some("https://evil.example"), None] {
        let response = s.gateway.handle(preflight(origin)).await;
        assert_eq!(response.status, 204, "{origin:?}");
        assert!(
            header(&response, "access-control-allow-origin").is_none(),
            "{origin:?}: {:?}",
            response.headers
        );
    }
    let response = s
        .gateway
        .handle(preflight(Some("http://localhost:3000")))
        .await;
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("http://localhost:3000"),
        "the header alone decides"
    );
}

/// How a returned policy is rendered from the merged policy of a caller's groups, for the method
/// the authorizer was asked about.
type Rule = fn(MergedPolicy, &MethodArn) -> Value;

/// The authorizer's rule, the one the core holds.
fn the_rule(merged: MergedPolicy, method_arn: &MethodArn) -> Value {
    serde_json::to_value(ReturnedPolicy::new(merged, method_arn)).unwrap()
}

/// The tests' own group definitions and their access matrix (`shared/testkit/fixtures`): the
/// broken rules below are caught by what these groups' statements hold, so a policy author's
/// change to `policies/` must not move them. The product's own `policies/` and
/// `deploy/access.json` are held to each other by `groupgate simulate --expect` and, through
/// this gateway, by `scripts/smoke.sh` against the local stack.
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testkit/fixtures");

/// A stand-in for the authorizer, deciding as it does from the fixture group definitions (read
/// as the seed writes them into the policy table) and answering with a policy rendered by `rule`.
/// The token is the name of the caller's one group; `none` is in no group.
fn stand_in_authorizer(rule: Rule) -> Handler {
    let policies = format!("{FIXTURES}/policies");
    let catalogue: Vec<Arc<GroupPolicy>> = stack::groups::load(std::path::Path::new(&policies))
        .unwrap()
        .into_iter()
        .map(|d| {
            Arc::new(GroupPolicy {
                policy: PolicyDocument::from_json(&d.policy_text().unwrap()),
                group: d.key,
                role_arn: None,
                precedence: None,
            })
        })
        .collect();
    Arc::new(move |event: &Value| {
        let token = event["headers"]["Authorization"].as_str().unwrap();
        let group = token.strip_prefix("Bearer ").unwrap();
        let groups = catalogue
            .iter()
            .filter(|g| g.group == group)
            .cloned()
            .collect();
        let facts =
            RequestFacts::from_source_ip(event["requestContext"]["identity"]["sourceIp"].as_str());
        let method_arn = MethodArn::parse(event["methodArn"].as_str().unwrap()).unwrap();
        let merged = MergedPolicy::for_request(groups, &facts);
        let output = json!({"principalId": group, "policyDocument": rule(merged, &method_arn),
            "context": {"sub": group, "groups": group}});
        (200, output)
    })
}

/// The cells of the fixture access matrix (group by route, for the local environment) the gateway
/// answers otherwise, with the authorizer's policies rendered by `rule`; each as
/// `group: METHOD route wanted W got G`. Asked as `scripts/smoke.sh` asks them: one token per
/// group, every route in turn, with the authorizer's result cached for the TTL.
async fn matrix_mismatches(rule: Rule) -> (usize, Vec<String>) {
    let text = std::fs::read_to_string(format!("{FIXTURES}/access.json")).unwrap();
    let matrix: Value = serde_json::from_str(&text).unwrap();
    let s = setup(300).await;
    s.functions
        .answer_with("authorizer", stand_in_authorizer(rule));
    let (mut cells, mut mismatches) = (0, Vec::new());
    for (group, routes) in matrix["decisions"].as_object().unwrap() {
        let token = if group == "(no group)" { "none" } else { group };
        for (route, decision) in routes.as_object().unwrap() {
            let (method, template) = route.split_once(' ').unwrap();
            let wanted = matrix["status"]["local"][group][route]["status"]
                .as_u64()
                .unwrap_or(if decision == "Allow" { 200 } else { 403 });
            let mut request = get(&template.replace("{id}", "1"), Some(token));
            request.method = method.to_owned();
            let got = s.gateway.handle(request).await.status;
            cells += 1;
            if u64::from(got) != wanted {
                mismatches.push(format!("{group}: {route} wanted {wanted} got {got}"));
            }
        }
    }
    (cells, mismatches)
}

/// The access matrix's cases (the fixtures' twin of `deploy/access.json`), answered through the gateway for an
/// authorizer rendering its policies with the core's rule: every cell as the matrix says.
#[tokio::test]
async fn the_gateway_answers_the_access_matrix_for_the_authorizers_rule() {
    let (cells, mismatches) = matrix_mismatches(the_rule).await;
    assert_eq!(cells, 24, "four rows of six routes");
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

/// An empty merge rendered without its stage-wide Deny: a policy with no statement.
fn empty_merge_without_statement(merged: MergedPolicy, method_arn: &MethodArn) -> Value {
    if merged.is_empty() {
        json!({"Version": "2012-10-17", "Statement": []})
    } else {
        the_rule(merged, method_arn)
    }
}

/// The answer for the one method asked, not the merged policy (which API Gateway caches and
/// applies to every method).
fn only_the_method_asked(merged: MergedPolicy, method_arn: &MethodArn) -> Value {
    let effect = merged
        .decide(groupgate_shared::INVOKE_ACTION, method_arn.as_str())
        .as_str();
    json!({"Version": "2012-10-17", "Statement": [{"Effect": effect,
        "Action": "execute-api:Invoke", "Resource": method_arn.as_str()}]})
}

/// Each statement rendered with its first resource only.
fn first_resource_only(merged: MergedPolicy, method_arn: &MethodArn) -> Value {
    let mut policy = the_rule(merged, method_arn);
    for statement in policy["Statement"].as_array_mut().unwrap() {
        if let Some(resources) = statement["Resource"].as_array_mut() {
            resources.truncate(1);
        }
    }
    policy
}

/// Statements rendered with a condition, here the caller's address (a rule that pins the cached
/// policy to where it was asked from). The authorizer's own `MergedPolicy` reads and applies it,
/// and the caller's address meets it, so an evaluator built on that code answers every cell as
/// the matrix says; API Gateway evaluates no condition in a returned policy.
fn with_a_condition(merged: MergedPolicy, method_arn: &MethodArn) -> Value {
    let mut policy = the_rule(merged, method_arn);
    for statement in policy["Statement"].as_array_mut().unwrap() {
        statement["Condition"] = json!({"IpAddress": {"aws:SourceIp": "127.0.0.1/32"}});
    }
    policy
}

/// Issue 21: the gateway decides with the reference evaluator, so a returned-policy rule broken
/// in the authorizer's rendering or merging shows up as a cell of the access matrix that the
/// local smoke tests check answered otherwise. `with_a_condition` is the case the gateway missed
/// while it evaluated returned policies with the authorizer's `MergedPolicy`.
#[tokio::test]
async fn a_broken_returned_policy_rule_changes_an_access_matrix_cell() {
    let broken: [(&str, Rule); 4] = [
        (
            "empty_merge_without_statement",
            empty_merge_without_statement,
        ),
        ("only_the_method_asked", only_the_method_asked),
        ("first_resource_only", first_resource_only),
        ("with_a_condition", with_a_condition),
    ];
    for (name, rule) in broken {
        let (_, mismatches) = matrix_mismatches(rule).await;
        assert!(
            !mismatches.is_empty(),
            "{name}: every cell of the access matrix still as it says"
        );
    }
}

#[test]
fn the_integration_timeout_is_api_gateways_default() {
    assert_eq!(local_gateway::INTEGRATION_TIMEOUT, Duration::from_secs(29));
}

#[tokio::test]
async fn a_backend_that_does_not_answer_in_time_is_504_endpoint_request_timed_out() {
    let s = setup_with(300, &[], Duration::from_millis(300)).await;
    s.functions.set("authorizer", 200, allow(&["*"]));
    assert_eq!(
        s.status("/petstore/v1/pets", "t").await,
        200,
        "a quick backend"
    );
    s.functions
        .delays
        .lock()
        .unwrap()
        .insert("backend".into(), Duration::from_secs(30));
    let started = Instant::now();
    let response = s.gateway.handle(get("/petstore/v1/pets", Some("t"))).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it did not wait for the backend"
    );
    assert_eq!(response.status, 504);
    assert_eq!(body(&response)["message"], "Endpoint request timed out");
    assert_eq!(header(&response, "content-type"), Some("application/json"));
}

/// Serves `s.gateway` on a loopback port; returns the API's URL (with the stage) and a stopper.
async fn serve_on_loopback(s: &Setup) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}/prod", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, Arc::clone(&s.gateway), async {
        let _ = stopped.await;
    }));
    (api_url, stop)
}

#[tokio::test]
async fn a_flush_makes_a_token_allowed_before_refused_once_its_grant_is_removed() {
    let s = setup(300).await;
    let (api_url, stop) = serve_on_loopback(&s).await;
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let client = reqwest::Client::new();
    let pets = format!("{api_url}/petstore/v1/pets");
    let status = |url: String| {
        let client = client.clone();
        async move {
            client
                .get(url)
                .header("Authorization", "Bearer t")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    s.functions.set("authorizer", 200, allow(&["*"]));
    assert_eq!(status(pets.clone()).await, 200);
    // The grant is removed: the cached result still allows, as API Gateway's would for the TTL.
    s.functions.set(
        "authorizer",
        200,
        allow(&[
            "arn:aws:execute-api:us-east-1:123456789012:localapi01/prod/GET/petstore/v2/status",
        ]),
    );
    assert_eq!(status(pets.clone()).await, 200);
    assert_eq!(local_gateway::flush_cache(&api_url).await.unwrap(), 1);
    assert_eq!(status(pets.clone()).await, 403, "refused after the flush");
    assert_eq!(s.gateway.authorizer_calls(), 2);
    // Nothing cached now: a second flush empties nothing.
    s.gateway.flush_authorizer_cache();
    assert_eq!(local_gateway::flush_cache(&api_url).await.unwrap(), 0);
    stop.send(()).unwrap();
}

#[tokio::test]
async fn the_flush_route_is_outside_the_stage_and_for_loopback_callers_only() {
    let s = setup(300).await;
    s.functions.set("authorizer", 200, allow(&["*"]));
    assert_eq!(s.status("/petstore/v1/pets", "t").await, 200);
    let flush = |path: &str, ip: &str| GatewayRequest {
        method: "DELETE".into(),
        path: path.into(),
        source_ip: Some(ip.parse().unwrap()),
        ..GatewayRequest::default()
    };
    // From another machine: the API's own answer for a path outside the stage.
    let response = s
        .gateway
        .handle(flush(local_gateway::CACHE_PATH, "192.0.2.7"))
        .await;
    assert_eq!(response.status, 403);
    // Under the stage it is no route of the API.
    let under_stage = format!("/prod{}", local_gateway::CACHE_PATH);
    let response = s.gateway.handle(flush(&under_stage, "127.0.0.1")).await;
    assert_eq!(response.status, 403);
    gateway_body(
        &response,
        "DEFAULT_4XX",
        json!("Missing Authentication Token"),
    );
    assert_eq!(s.status("/petstore/v1/pets", "t").await, 200);
    assert_eq!(s.gateway.authorizer_calls(), 1, "still cached");
    let response = s
        .gateway
        .handle(flush(local_gateway::CACHE_PATH, "::1"))
        .await;
    assert_eq!(
        (response.status, body(&response)),
        (200, json!({"flushed": 1}))
    );
    assert_eq!(s.status("/petstore/v1/pets", "t").await, 200);
    assert_eq!(
        s.gateway.authorizer_calls(),
        2,
        "asked again after the flush"
    );
}

#[test]
fn a_stage_named_like_the_gateways_own_path_is_refused() {
    let config = GatewayConfig {
        stage: "_groupgate".into(),
        routes: Vec::new(),
        authorizer_ttl: Duration::ZERO,
        identity_header: "Authorization".into(),
        cache_by_route: false,
        invoke_url: "http://127.0.0.1:1".into(),
        authorizer_function: "authorizer".into(),
        hints: HashMap::new(),
        cors_origins: groupgate_shared::cors::AllowedOrigins::new(Vec::new()).unwrap(),
        integration_timeout: local_gateway::INTEGRATION_TIMEOUT,
    };
    let error = Gateway::new(config, Arc::new(Instant::now)).err().unwrap();
    assert!(error.to_string().contains("`_groupgate`"), "{error}");
}
