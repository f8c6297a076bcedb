#![cfg(test)]
//! The default pets the tool seeds, against moto's DynamoDB over the wire: seeding runs once,
//! and the petstore's backend reads what it wrote (the table's layout is the backend's; the tool
//! keeps its own copy so that it does not link the Lambda).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use groupgate_cli::operations::pets::{DEFAULT_PETS, seed_defaults};
use groupgate_testkit::{Moto, unique};
use serde_json::{Value, json};

async fn empty_pets_table(client: &aws_sdk_dynamodb::Client) -> String {
    let table = unique("pets");
    client
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::N)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    table
}

/// The backend's answer to `method path` (a Lambda authorizer's proxy event) with `body`.
async fn call(app: &backend::App, method: &str, path: &str, body: Option<&str>) -> (i64, Value) {
    let mut event: Value = serde_json::from_str(include_str!(
        "../../../fixtures/events/rest-proxy-lambda-authorizer.json"
    ))
    .unwrap();
    event["httpMethod"] = json!(method);
    event["path"] = json!(path);
    event["resource"] = json!(path);
    event["requestContext"]["httpMethod"] = json!(method);
    event["body"] = body.map_or(Value::Null, |b| json!(b));
    let response = app.handle_event(&event).await;
    let body = match response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => {
            serde_json::from_str(&text).unwrap()
        }
        other => panic!("not a JSON body: {other:?}"),
    };
    (response.status_code, body)
}

#[tokio::test]
async fn seeding_the_default_pets_runs_once() {
    let moto = Moto::start().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let table = empty_pets_table(&dynamodb).await;
    assert!(seed_defaults(&dynamodb, &table).await.unwrap());
    assert!(
        !seed_defaults(&dynamodb, &table).await.unwrap(),
        "a table with pets is left alone"
    );
    let count = dynamodb
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .count;
    assert_eq!(count, 5, "four pets and the id counter");
}

#[tokio::test]
async fn the_backend_reads_the_pets_the_tool_seeds_and_numbers_new_ones_after_them() {
    assert_eq!(DEFAULT_PETS, backend::pets::DEFAULT_PETS);
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let table = empty_pets_table(&dynamodb).await;
    seed_defaults(&dynamodb, &table).await.unwrap();
    let config =
        backend::Config::from_lookup(|k| (k == "PETS_TABLE").then(|| table.clone())).unwrap();
    let app = backend::App::new(&config, &aws);

    let (status, listed) = call(&app, "GET", "/petstore/v1/pets", None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed["pets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, DEFAULT_PETS);
    let (status, created) = call(
        &app,
        "POST",
        "/petstore/v1/pets",
        Some(r#"{"name":"Hamsters"}"#),
    )
    .await;
    assert_eq!(
        (status, created),
        (201, json!({"id": 5, "name": "Hamsters"}))
    );
}
