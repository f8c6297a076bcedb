#![cfg(test)]
//! Every route and error of the backend, from real REST v1 proxy event fixtures, with the
//! in-memory store (no AWS involved).

mod common;

use backend::{App, Config};
use common::{COGNITO_AUTHORIZER, LAMBDA_AUTHORIZER, call, request, request_with};
use serde_json::json;

async fn app() -> App {
    let aws = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    App::new(&Config::from_lookup(|_| None).unwrap(), &aws)
}

fn default_pets() -> serde_json::Value {
    json!([{"id":1,"name":"Birds"},{"id":2,"name":"Cats"},{"id":3,"name":"Dogs"},{"id":4,"name":"Fish"}])
}

#[tokio::test]
async fn v1_lists_the_default_pets_for_both_identity_shapes() {
    let app = app().await;
    for fixture in [LAMBDA_AUTHORIZER, COGNITO_AUTHORIZER] {
        let (status, body) = call(&app, request(fixture, "GET", "/petstore/v1/pets", None)).await;
        assert_eq!(status, 200);
        assert_eq!(body, json!({ "pets": default_pets() }));
    }
}

#[tokio::test]
async fn v2_lists_pets_in_its_own_shape() {
    let (status, body) = call(
        &app().await,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v2/pets", None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({ "items": default_pets(), "count": 4 }));
}

#[tokio::test]
async fn one_pet_or_404() {
    let app = app().await;
    let (status, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets/3", None),
    )
    .await;
    assert_eq!((status, body), (200, json!({"id":3,"name":"Dogs"})));
    let (status, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets/99", None),
    )
    .await;
    assert_eq!(
        (status, body),
        (404, json!({"message":"no pet with id 99"}))
    );
    let (status, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets/x", None),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body["message"].as_str().unwrap().contains("`x`"));
}

#[tokio::test]
async fn a_created_pet_is_201_and_can_be_read_back() {
    let app = app().await;
    let (status, body) = call(
        &app,
        request(
            COGNITO_AUTHORIZER,
            "POST",
            "/petstore/v1/pets",
            Some(r#"{"name":"Hamsters"}"#),
        ),
    )
    .await;
    assert_eq!((status, body), (201, json!({"id":5,"name":"Hamsters"})));
    let (_, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets/5", None),
    )
    .await;
    assert_eq!(body, json!({"id":5,"name":"Hamsters"}));
}

#[tokio::test]
async fn bad_bodies_are_400_naming_the_problem() {
    let app = app().await;
    for (body, needle) in [
        (None, "empty"),
        (Some("{\"name\":"), "not valid JSON"),
        (Some("{}"), "`name`"),
        (Some("{\"name\":\"\"}"), "field `name`"),
        (Some("{\"name\":\"Rex\",\"age\":3}"), "`age`"),
    ] {
        let (status, json) = call(
            &app,
            request(LAMBDA_AUTHORIZER, "POST", "/petstore/v1/pets", body),
        )
        .await;
        assert_eq!(status, 400, "{body:?}");
        assert!(
            json["message"].as_str().unwrap().contains(needle),
            "{body:?}: {json}"
        );
    }
    let (_, list) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None),
    )
    .await;
    assert_eq!(
        list["pets"].as_array().unwrap().len(),
        4,
        "nothing was created"
    );
}

#[tokio::test]
async fn status_answers_without_identity() {
    let req = request_with(LAMBDA_AUTHORIZER, "GET", "/petstore/v2/status", None, |e| {
        e["requestContext"]["authorizer"] = json!(null);
    });
    assert_eq!(call(&app().await, req).await, (200, json!({"status":"ok"})));
}

#[tokio::test]
async fn protected_routes_without_identity_are_401() {
    for path in [
        "/petstore/v1/pets",
        "/petstore/v2/pets",
        "/petstore/v2/identity",
        "/petstore/v1/pets/1",
    ] {
        let req = request_with(LAMBDA_AUTHORIZER, "GET", path, None, |e| {
            e["requestContext"]["authorizer"] = json!(null);
        });
        let (status, body) = call(&app().await, req).await;
        assert_eq!(status, 401, "{path}");
        assert_eq!(body["message"], "the request carries no caller identity");
    }
}

#[tokio::test]
async fn a_malformed_identity_is_401_naming_the_problem() {
    let req = request_with(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None, |e| {
        e["requestContext"]["authorizer"]["groups"] = json!("pet-veterinarian");
    });
    let (status, body) = call(&app().await, req).await;
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("`groups`"));
}

#[tokio::test]
async fn identity_reports_the_caller_of_either_shape() {
    let app = app().await;
    let (status, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v2/identity", None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"sub":"6f1c2e1a-0000-4000-8000-000000000001","username":"vet",
        "groups":["pet-veterinarian"],"role_arn":null,"assumed_role_arn":null})
    );
    let (_, body) = call(
        &app,
        request(COGNITO_AUTHORIZER, "GET", "/petstore/v2/identity", None),
    )
    .await;
    assert_eq!(body["username"], "boss");
    assert_eq!(body["groups"], json!(["admin", "pet-veterinarian"]));
}

#[tokio::test]
async fn unknown_paths_are_404_and_wrong_methods_405() {
    let app = app().await;
    let (status, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v3/pets", None),
    )
    .await;
    assert_eq!(
        (status, body),
        (404, json!({"message":"no route for `/petstore/v3/pets`"}))
    );

    let response = app
        .handle(request(
            LAMBDA_AUTHORIZER,
            "DELETE",
            "/petstore/v1/pets",
            None,
        ))
        .await;
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET, POST");
    let body = common::body_json(&response);
    assert!(body["message"].as_str().unwrap().contains("`DELETE`"));
}

#[tokio::test]
async fn paths_without_the_stage_prefix_work_too() {
    // With AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH, or a custom domain, no stage is in the path.
    let req = request_with(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None, |e| {
        e["requestContext"]["stage"] = json!("$default");
    });
    assert_eq!(call(&app().await, req).await.0, 200);
}

/// A proxy event from the fixture, changed by `change`, as the function receives it.
fn raw_event(
    method: &str,
    path: &str,
    change: impl FnOnce(&mut serde_json::Value),
) -> serde_json::Value {
    let mut event: serde_json::Value = serde_json::from_str(LAMBDA_AUTHORIZER).unwrap();
    event["httpMethod"] = json!(method);
    event["path"] = json!(path);
    event["requestContext"]["httpMethod"] = json!(method);
    change(&mut event);
    event
}

async fn call_event(event: serde_json::Value) -> (i64, serde_json::Value) {
    let response = app().await.handle_event(&event).await;
    let body = match response.body {
        Some(lambda_http::Body::Text(text)) => serde_json::from_str(&text).unwrap(),
        other => panic!("not a JSON text body: {other:?}"),
    };
    (response.status_code, body)
}

/// Issue #9, row 13: a policy that denies `/pets/2` by its ARN cannot be bypassed by another
/// spelling of the id.
#[tokio::test]
async fn only_the_canonical_decimal_form_is_a_pet_id() {
    for id in ["+2", "002", "2%20", "2 "] {
        let (status, body) =
            call_event(raw_event("GET", &format!("/petstore/v1/pets/{id}"), |_| {})).await;
        assert_eq!(status, 400, "{id:?}: {body}");
    }
    let (status, body) = call_event(raw_event("GET", "/petstore/v1/pets/2", |_| {})).await;
    assert_eq!((status, body), (200, json!({"id":2,"name":"Cats"})));
}

/// Issue #9, row 14: routes work whatever the stage is called, `petstore` included.
#[tokio::test]
async fn routes_work_under_a_stage_named_like_the_path() {
    for stage in ["petstore", "prod", "v1", "$default"] {
        let event = raw_event("GET", "/petstore/v1/pets", |e| {
            e["requestContext"]["stage"] = json!(stage);
            e["requestContext"]["path"] = json!(format!("/{stage}/petstore/v1/pets"));
        });
        let (status, body) = call_event(event).await;
        assert_eq!(status, 200, "stage {stage}: {body}");
    }
}

/// Issue #9, rows 15 and 16: events that cannot be read as a request are a 400 saying why.
#[tokio::test]
async fn unreadable_events_are_400_naming_the_problem() {
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            raw_event("", "/petstore/v1/pets", |_| {}),
            "`httpMethod` is empty",
        ),
        (
            raw_event("GET", "/petstore/v1/pets", |e| {
                e.as_object_mut().unwrap().remove("httpMethod");
            }),
            "`httpMethod`",
        ),
        (
            raw_event("POST", "/petstore/v1/pets", |e| {
                e["isBase64Encoded"] = json!(true);
                e["body"] = json!("{\"name\":\"not base64\"}");
            }),
            "base64",
        ),
        (
            raw_event("GET", "/petstore/v1/pets", |e| {
                e["headers"]["Host"] = json!("a b");
                e["multiValueHeaders"]["Host"] = json!(["a b"]);
            }),
            "`Host`",
        ),
        (
            raw_event("GET", "/petstore/v1/pets", |e| {
                e["headers"]["X-Forwarded-Proto"] = json!("a b");
            }),
            "`X-Forwarded-Proto`",
        ),
    ];
    for (event, needle) in cases {
        let (status, body) = call_event(event).await;
        assert_eq!(status, 400, "{needle}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{needle}: {body}"
        );
    }
}

#[tokio::test]
async fn a_readable_event_is_served_with_a_proxy_response() {
    let event = raw_event("POST", "/petstore/v1/pets", |e| {
        e["isBase64Encoded"] = json!(true);
        e["body"] = json!("eyJuYW1lIjoiSGFtc3RlcnMifQ==");
    });
    let response = app().await.handle_event(&event).await;
    assert_eq!(response.status_code, 201);
    assert_eq!(response.headers["content-type"], "application/json");
    assert!(!response.is_base64_encoded);
}

#[tokio::test]
async fn an_allowed_origin_may_read_responses_and_errors_and_no_other_origin_may() {
    let aws = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .build();
    let config = Config::from_lookup(|k| {
        (k == "CORS_ORIGINS").then(|| "https://app.example.com,http://localhost:3000".to_owned())
    })
    .unwrap();
    let with_cors = App::new(&config, &aws);
    let from = |origin: &'static str, path: &'static str| {
        request_with(LAMBDA_AUTHORIZER, "GET", path, None, move |e| {
            e["headers"]["Origin"] = json!(origin);
            e["multiValueHeaders"]["Origin"] = json!([origin]);
        })
    };
    for (origin, path, status) in [
        ("http://localhost:3000", "/petstore/v1/pets", 200),
        ("https://app.example.com", "/petstore/v1/pets/99", 404),
    ] {
        let response = with_cors.handle(from(origin, path)).await;
        assert_eq!(response.status(), status);
        assert_eq!(response.headers()["access-control-allow-origin"], origin);
        assert_eq!(response.headers()["vary"], "Origin");
    }
    let response = with_cors
        .handle(from("https://evil.example", "/petstore/v1/pets"))
        .await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert_eq!(response.headers()["vary"], "Origin");

    // Without CORS_ORIGINS no CORS header at all, whatever the Origin.
    let response = app()
        .await
        .handle(from("http://localhost:3000", "/petstore/v1/pets"))
        .await;
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    assert!(response.headers().get("vary").is_none());
}

#[test]
fn a_bad_cors_origin_is_a_configuration_error_naming_the_variable() {
    let err = Config::from_lookup(|k| (k == "CORS_ORIGINS").then(|| "*".to_owned())).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("CORS_ORIGINS") && text.contains("wildcard"),
        "{text}"
    );
}
