#![cfg(test)]
//! Routes the gateway serves with API Gateway's `http_proxy` integration, and public routes,
//! against a real upstream HTTP server and a stand-in authorizer the test starts (so the
//! gateway's own HTTP clients are used both ways).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use local_gateway::{
    Gateway, GatewayConfig, GatewayRequest, GatewayResponse, LocalIntegration, Route,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// A request the upstream received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    /// Path and query string.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Serves `handler` over HTTP/1.1 on a loopback port; returns its address.
async fn serve_http<F, R>(handler: F) -> String
where
    F: Fn(hyper::Request<Bytes>) -> R + Send + Sync + 'static,
    R: std::future::Future<Output = hyper::Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: hyper::Request<hyper::body::Incoming>| {
                        let handler = Arc::clone(&handler);
                        async move {
                            let (parts, body) = request.into_parts();
                            let body = body.collect().await.unwrap().to_bytes();
                            Ok::<_, Infallible>(
                                handler(hyper::Request::from_parts(parts, body)).await,
                            )
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

/// The upstream: records each request; `/slow` never answers in time, `/redirect` redirects,
/// anything else is a 201 with a header and body of its own.
async fn upstream(received: Arc<Mutex<Vec<Received>>>) -> String {
    serve_http(move |request: hyper::Request<Bytes>| {
        let received = Arc::clone(&received);
        async move {
            let target = request
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            received.lock().unwrap().push(Received {
                method: request.method().to_string(),
                target: target.clone(),
                headers: request
                    .headers()
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
                    .collect(),
                body: request.body().to_vec(),
            });
            if target.starts_with("/slow") {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            let builder = hyper::Response::builder();
            let builder = if target.starts_with("/redirect") {
                builder.status(302).header("location", "/elsewhere")
            } else {
                builder.status(201).header("x-upstream", "yes")
            };
            builder
                .header("content-type", "text/plain")
                .body(Full::new(Bytes::from("from upstream")))
                .unwrap()
        }
    })
    .await
}

/// A cargo-lambda invoke endpoint with two functions: an authorizer allowing `Bearer allow`
/// everything (context `sub`: `user-1`) and denying any other token, and a backend answering
/// 200 with the event it received.
async fn functions(authorizer_calls: Arc<AtomicUsize>) -> String {
    serve_http(move |request: hyper::Request<Bytes>| {
        let calls = Arc::clone(&authorizer_calls);
        async move {
            let event: Value = serde_json::from_slice(request.body()).unwrap();
            let reply = if request.uri().path().contains("/authorizer/") {
                calls.fetch_add(1, Ordering::SeqCst);
                let effect = if event["headers"]["Authorization"] == "Bearer allow" {
                    "Allow"
                } else {
                    "Deny"
                };
                json!({"principalId": "user-1", "policyDocument": {"Version": "2012-10-17",
                    "Statement": [{"Effect": effect, "Action": "execute-api:Invoke", "Resource": "*"}]},
                    "context": {"sub": "user-1", "n": 3}})
            } else {
                json!({"statusCode": 200, "body": event.to_string()})
            };
            hyper::Response::new(Full::new(Bytes::from(reply.to_string())))
        }
    })
    .await
}

struct Setup {
    gateway: Gateway,
    received: Arc<Mutex<Vec<Received>>>,
    authorizer_calls: Arc<AtomicUsize>,
}

impl Setup {
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn route(method: &str, path: &str, public: bool, integration: LocalIntegration) -> Route {
    Route {
        method: method.into(),
        path: path.into(),
        public,
        integration,
    }
}

fn http_proxy(method: &str, uri: String, mappings: &[(&str, &str)]) -> LocalIntegration {
    LocalIntegration::HttpProxy {
        method: method.into(),
        uri,
        request_parameters: mappings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    }
}

const IDENTITY: (&str, &str) = (
    "integration.request.header.X-User-Sub",
    "context.authorizer.sub",
);

fn config(routes: Vec<Route>, invoke_url: String) -> GatewayConfig {
    GatewayConfig {
        stage: "prod".into(),
        routes,
        authorizer_ttl: Duration::ZERO,
        identity_header: "Authorization".into(),
        cache_by_route: false,
        invoke_url,
        authorizer_function: "authorizer".into(),
        hints: HashMap::new(),
        cors_origins: groupgate_shared::cors::AllowedOrigins::new(Vec::new()).unwrap(),
        // Short, so the slow upstream is a timeout without waiting 29 s.
        integration_timeout: Duration::from_millis(500),
    }
}

async fn setup() -> Setup {
    let received = Arc::new(Mutex::new(Vec::new()));
    let up = upstream(Arc::clone(&received)).await;
    let authorizer_calls = Arc::new(AtomicUsize::new(0));
    let invoke_url = functions(Arc::clone(&authorizer_calls)).await;
    // A port nothing listens on.
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let visit = [
        ("integration.request.path.id", "method.request.path.visitId"),
        IDENTITY,
        (
            "integration.request.header.X-Request-Id",
            "context.requestId",
        ),
        ("integration.request.querystring.stage", "context.stage"),
        ("integration.request.header.X-Source", "'gateway'"),
    ];
    let routes = vec![
        route(
            "GET",
            "/clinic/visits/{visitId}",
            false,
            http_proxy("ANY", format!("{up}/v1/visits/{{id}}"), &visit),
        ),
        route(
            "ANY",
            "/clinic/visits/{visitId}",
            false,
            http_proxy("ANY", format!("{up}/any/{{id}}"), &visit),
        ),
        route(
            "POST",
            "/clinic/visits",
            false,
            http_proxy("PUT", format!("{up}/v1/visits"), &[IDENTITY]),
        ),
        route(
            "GET",
            "/clinic/health",
            true,
            http_proxy("ANY", format!("{up}/health"), &[]),
        ),
        route(
            "GET",
            "/clinic/hello",
            true,
            LocalIntegration::Function("backend".into()),
        ),
        route(
            "ANY",
            "/clinic/down",
            false,
            http_proxy("ANY", format!("http://{down}/x"), &[IDENTITY]),
        ),
        route(
            "GET",
            "/clinic/slow",
            false,
            http_proxy("ANY", format!("{up}/slow"), &[IDENTITY]),
        ),
        route(
            "GET",
            "/clinic/redirect",
            false,
            http_proxy("ANY", format!("{up}/redirect"), &[IDENTITY]),
        ),
    ];
    let gateway = Gateway::new(config(routes, invoke_url), Arc::new(Instant::now)).unwrap();
    Setup {
        gateway,
        received,
        authorizer_calls,
    }
}

fn request(method: &str, target: &str, headers: &[(&str, &str)]) -> GatewayRequest {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    GatewayRequest {
        method: method.into(),
        path: format!("/prod{path}"),
        query: query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        source_ip: Some("127.0.0.1".parse().unwrap()),
        ..GatewayRequest::default()
    }
}

fn header<'a>(response: &'a GatewayResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn message(response: &GatewayResponse) -> Value {
    serde_json::from_slice::<Value>(&response.body).unwrap()["message"].clone()
}

#[tokio::test]
async fn an_allowed_call_reaches_the_endpoint_with_the_mapped_identity_and_path() {
    let s = setup().await;
    let response = s
        .gateway
        .handle(request(
            "GET",
            "/clinic/visits/v7?q=1",
            &[
                ("Authorization", "Bearer allow"),
                ("Host", "client.example"),
                ("Accept", "text/plain"),
            ],
        ))
        .await;
    assert_eq!(response.status, 201, "the endpoint's status");
    assert_eq!(header(&response, "x-upstream"), Some("yes"));
    assert_eq!(response.body, b"from upstream");
    let received = s.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.method, "GET");
    assert_eq!(got.target, "/v1/visits/v7?q=1&stage=prod");
    assert_eq!(got.all("x-user-sub"), ["user-1"]);
    assert_eq!(got.all("x-source"), ["gateway"]);
    assert_eq!(got.all("x-request-id").len(), 1);
    assert!(!got.all("x-request-id")[0].is_empty());
    assert_eq!(got.all("accept"), ["text/plain"]);
    // API Gateway passes the caller's Authorization header on, and not its Host.
    assert_eq!(got.all("authorization"), ["Bearer allow"]);
    assert_ne!(got.all("host"), ["client.example"]);
    assert_eq!(s.authorizer_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_client_cannot_set_the_identity_header_the_mapping_sets() {
    let s = setup().await;
    let response = s
        .gateway
        .handle(request(
            "GET",
            "/clinic/visits/v7",
            &[
                ("Authorization", "Bearer allow"),
                ("X-User-Sub", "admin"),
                ("x-user-sub", "admin-too"),
                ("X-USER-SUB", "admin-three"),
            ],
        ))
        .await;
    assert_eq!(response.status, 201);
    let received = s.received();
    assert_eq!(
        received[0].all("x-user-sub"),
        ["user-1"],
        "only the mapped value"
    );
}

#[tokio::test]
async fn the_integration_method_and_the_body_are_sent() {
    let s = setup().await;
    let mut post = request(
        "POST",
        "/clinic/visits",
        &[("Authorization", "Bearer allow")],
    );
    post.body = b"{\"pet\":\"rex\"}".to_vec();
    let response = s.gateway.handle(post).await;
    assert_eq!(response.status, 201);
    let received = s.received();
    assert_eq!(received[0].method, "PUT", "the integration's method");
    assert_eq!(received[0].target, "/v1/visits");
    assert_eq!(received[0].body, b"{\"pet\":\"rex\"}");
    assert_eq!(received[0].all("content-length"), ["13"]);
}

#[tokio::test]
async fn a_refused_call_never_reaches_the_endpoint() {
    let s = setup().await;
    let denied = s
        .gateway
        .handle(request(
            "GET",
            "/clinic/visits/v7",
            &[("Authorization", "Bearer deny")],
        ))
        .await;
    assert_eq!(denied.status, 403);
    let anonymous = s
        .gateway
        .handle(request(
            "GET",
            "/clinic/visits/v7",
            &[("X-User-Sub", "user-1")],
        ))
        .await;
    assert_eq!(anonymous.status, 401);
    assert!(s.received().is_empty(), "{:?}", s.received());
}

#[tokio::test]
async fn a_public_route_is_reached_without_a_token_or_the_authorizer() {
    let s = setup().await;
    let response = s
        .gateway
        .handle(request("GET", "/clinic/health", &[]))
        .await;
    assert_eq!(response.status, 201);
    assert_eq!(s.received().len(), 1);
    // A public function route: no authorizer context in its event.
    let response = s
        .gateway
        .handle(request(
            "GET",
            "/clinic/hello",
            &[("Authorization", "Bearer deny")],
        ))
        .await;
    assert_eq!(response.status, 200);
    let event: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(event["resource"], "/clinic/hello");
    assert!(
        event["requestContext"].get("authorizer").is_none(),
        "{event}"
    );
    assert_eq!(s.authorizer_calls.load(Ordering::SeqCst), 0);
    // Other methods on a public resource are still no route.
    let response = s
        .gateway
        .handle(request("POST", "/clinic/health", &[]))
        .await;
    assert_eq!(response.status, 403);
}

#[tokio::test]
async fn any_matches_every_method_a_resource_does_not_declare() {
    let s = setup().await;
    let allowed = [("Authorization", "Bearer allow")];
    for method in ["GET", "DELETE"] {
        let response = s
            .gateway
            .handle(request(method, "/clinic/visits/v7", &allowed))
            .await;
        assert_eq!(response.status, 201, "{method}");
    }
    let received = s.received();
    let targets: Vec<(&str, &str)> = received
        .iter()
        .map(|r| (r.method.as_str(), r.target.as_str()))
        .collect();
    assert_eq!(
        targets,
        [
            ("GET", "/v1/visits/v7?stage=prod"),
            ("DELETE", "/any/v7?stage=prod")
        ],
        "GET is declared; DELETE is caught by ANY"
    );
    for method in ["GET", "DELETE", "PATCH"] {
        let response = s
            .gateway
            .handle(request(
                method,
                "/clinic/down",
                &[("Authorization", "Bearer allow")],
            ))
            .await;
        assert_eq!(
            response.status, 500,
            "{method}: routed, the endpoint is down"
        );
    }
}

#[tokio::test]
async fn an_unreachable_endpoint_is_500_internal_server_error() {
    let s = setup().await;
    let response = s
        .gateway
        .handle(request(
            "GET",
            "/clinic/down",
            &[("Authorization", "Bearer allow")],
        ))
        .await;
    assert_eq!(response.status, 500);
    assert_eq!(message(&response), "Internal server error");
}

#[tokio::test]
async fn a_slow_endpoint_is_504_endpoint_request_timed_out() {
    let s = setup().await;
    let started = Instant::now();
    let response = s
        .gateway
        .handle(request(
            "GET",
            "/clinic/slow",
            &[("Authorization", "Bearer allow")],
        ))
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "it did not wait"
    );
    assert_eq!(response.status, 504);
    assert_eq!(message(&response), "Endpoint request timed out");
    assert_eq!(s.received().len(), 1, "the endpoint was called");
}

#[tokio::test]
async fn a_redirect_is_passed_back_not_followed() {
    let s = setup().await;
    let response = s
        .gateway
        .handle(request(
            "GET",
            "/clinic/redirect",
            &[("Authorization", "Bearer allow")],
        ))
        .await;
    assert_eq!(response.status, 302);
    assert_eq!(header(&response, "location"), Some("/elsewhere"));
    assert_eq!(s.received().len(), 1);
}

#[test]
fn an_unknown_mapping_source_is_refused_at_start_naming_the_key() {
    let routes = vec![route(
        "GET",
        "/a",
        false,
        http_proxy(
            "ANY",
            "http://127.0.0.1:1/a".into(),
            &[("integration.request.header.X-Who", "context.identity.user")],
        ),
    )];
    let error = Gateway::new(
        config(routes, "http://127.0.0.1:1".into()),
        Arc::new(Instant::now),
    )
    .err()
    .unwrap()
    .to_string();
    assert!(
        error.contains("`integration.request.header.X-Who`"),
        "{error}"
    );
    assert!(error.contains("GET /a"), "{error}");
}
