#![cfg(test)]
//! Builds REST API v1 proxy requests from the real event fixtures.
#![allow(dead_code)]

use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

pub const LAMBDA_AUTHORIZER: &str =
    include_str!("../../fixtures/events/rest-proxy-lambda-authorizer.json");
pub const COGNITO_AUTHORIZER: &str =
    include_str!("../../fixtures/events/rest-proxy-cognito-authorizer.json");

/// The fixture with this method, path (the stage is added as API Gateway does) and body.
pub fn request(fixture: &str, method: &str, path: &str, body: Option<&str>) -> Request {
    request_with(fixture, method, path, body, |_| {})
}

/// Like [`request`], letting the test change the event first.
pub fn request_with(
    fixture: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
    change: impl FnOnce(&mut Value),
) -> Request {
    let mut event: Value = serde_json::from_str(fixture).unwrap();
    event["httpMethod"] = json!(method);
    event["path"] = json!(path);
    event["resource"] = json!(path);
    event["requestContext"]["httpMethod"] = json!(method);
    event["requestContext"]["path"] = json!(format!("/prod{path}"));
    event["body"] = body.map_or(Value::Null, |b| json!(b));
    change(&mut event);
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

pub fn body_json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref())
        .unwrap_or_else(|e| panic!("response body is not JSON ({e}): {:?}", response.body()))
}

/// Status and JSON body.
pub async fn call(app: &backend::App, request: Request) -> (u16, Value) {
    let response = app.handle(request).await;
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap()),
        Some("application/json")
    );
    (response.status().as_u16(), body_json(&response))
}
