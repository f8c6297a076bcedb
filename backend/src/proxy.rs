//! The REST API (v1) proxy event in, the proxy response out.
//!
//! `lambda_http` turns the event into an `http::Request`, but it panics on some events it cannot
//! turn into one (a body marked base64 that is not, a `Host` such as `a b`) and reads an empty
//! `httpMethod` as GET. So the raw event is checked first, and whatever cannot be read is a 400
//! that says what was wrong, never a panic or a guess.

use std::str::FromStr;

use base64::Engine as _;
use lambda_http::aws_lambda_events::apigw::ApiGatewayProxyResponse;
use lambda_http::http::{Method, uri::Authority};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::error::ApiError;

/// Checks the event and converts it to a request, or says what makes it unreadable.
pub fn read(event: &Value) -> Result<Request, ApiError> {
    check(event)?;
    let text = event.to_string();
    // The checks above cover every panic of lambda_http's conversion we know of; should another
    // input reach one, it is still a 400 for this request, not a failed invocation.
    std::panic::catch_unwind(|| lambda_http::request::from_str(&text))
        .map_err(|_| ApiError::bad_request("the request could not be read as HTTP"))?
        .map_err(|e| ApiError::bad_request(format!("the request could not be read: {e}")))
}

fn check(event: &Value) -> Result<(), ApiError> {
    let bad = ApiError::bad_request;
    match event.get("httpMethod") {
        Some(Value::String(m)) if !m.is_empty() && Method::from_str(m).is_ok() => {}
        Some(Value::String(m)) if m.is_empty() => return Err(bad("`httpMethod` is empty")),
        Some(Value::String(_)) => return Err(bad("`httpMethod` is not an HTTP method")),
        _ => {
            return Err(bad(
                "the event has no `httpMethod`: not a REST API proxy event",
            ));
        }
    }
    if event.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        let body = event
            .get("body")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if base64::engine::general_purpose::STANDARD
            .decode(body)
            .is_err()
        {
            return Err(bad("the body is marked as base64 but is not valid base64"));
        }
    }
    for (name, value) in header_values(event) {
        if name.eq_ignore_ascii_case("host")
            && (value.contains(|c: char| c.is_whitespace()) || Authority::from_str(value).is_err())
        {
            return Err(bad("the `Host` header is not a valid host"));
        }
        if name.eq_ignore_ascii_case("x-forwarded-proto") && !matches!(value, "http" | "https") {
            return Err(bad(
                "the `X-Forwarded-Proto` header is not `http` or `https`",
            ));
        }
    }
    Ok(())
}

/// Every (name, value) in `headers` and `multiValueHeaders`.
fn header_values(event: &Value) -> impl Iterator<Item = (&str, &str)> {
    let single = event
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(n, v)| Some((n.as_str(), v.as_str()?)));
    let multi = event
        .get("multiValueHeaders")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .flat_map(|(n, vs)| {
            vs.as_array()
                .into_iter()
                .flatten()
                .filter_map(move |v| Some((n.as_str(), v.as_str()?)))
        });
    single.chain(multi)
}

/// The proxy response API Gateway expects for `response`.
pub fn respond(response: Response<Body>) -> ApiGatewayProxyResponse {
    let (parts, body) = response.into_parts();
    let mut out = ApiGatewayProxyResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers.clone();
    out.multi_value_headers = parts.headers;
    (out.body, out.is_base64_encoded) = match body {
        Body::Empty => (None, false),
        Body::Text(text) => (Some(Body::Text(text)), false),
        Body::Binary(bytes) => (Some(Body::Binary(bytes)), true),
        _ => (None, false),
    };
    out
}
