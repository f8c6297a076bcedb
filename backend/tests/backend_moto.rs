#![cfg(test)]
//! The backend against moto's DynamoDB and STS over the wire: pets in a real table, role
//! assumption with the right role and session name, and proof that the role's credentials are the
//! ones used for the table.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use backend::{App, Config};
use common::{COGNITO_AUTHORIZER, LAMBDA_AUTHORIZER, call, request, request_with};
use groupgate_testkit::{Moto, free_port, unique};
use serde_json::json;

const VET_ROLE: &str = "arn:aws:iam::123456789012:role/groupgate/demo/groupgate-pet-veterinarian";
/// The IAM path of the fixtures' group roles, as the stack would pass it.
const ROLE_PATH: &str = "/groupgate/demo/";
/// A role in another account: moto keeps each account's tables apart, so what the backend reads
/// with this role's credentials shows whose credentials it used.
const FOREIGN_ROLE: &str = "arn:aws:iam::111111111111:role/groupgate/demo/groupgate-partner";

/// A pets table holding the default pets and the id counter, as the operator's tool seeds it
/// (`groupgate seed-pets`; `deploy/cli/tests/pets.rs` holds the tool to this layout).
async fn pets_table(client: &aws_sdk_dynamodb::Client) -> String {
    let table = unique("pets");
    pets_table_named(client, &table).await;
    let pets = backend::pets::DEFAULT_PETS.iter().zip(1u64..);
    for (name, id) in pets {
        client
            .put_item()
            .table_name(&table)
            .item("id", AttributeValue::N(id.to_string()))
            .item("name", AttributeValue::S((*name).to_owned()))
            .send()
            .await
            .unwrap();
    }
    client
        .put_item()
        .table_name(&table)
        .item("id", AttributeValue::N("0".into()))
        .item("next_id", AttributeValue::N("4".into()))
        .send()
        .await
        .unwrap();
    table
}

fn config(vars: &[(&str, &str)]) -> Config {
    let vars: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::from_lookup(|k| vars.get(k).cloned()).unwrap()
}

async fn sdk(moto: &Moto) -> aws_config::SdkConfig {
    moto.sdk_config()
        .await
        .to_builder()
        .timeout_config(backend::sdk_timeouts())
        .build()
}

#[tokio::test]
async fn pets_are_seeded_created_and_read_in_dynamodb() {
    let moto = Moto::start().await;
    let aws = sdk(&moto).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    let table = pets_table(&dynamodb).await;
    let app = App::new(&config(&[("PETS_TABLE", &table)]), &aws);
    // Start-up reads the table once with the function's own credentials.
    app.warm_up().await.unwrap();

    let (status, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["pets"][0], json!({"id":1,"name":"Birds"}));
    assert_eq!(body["pets"].as_array().unwrap().len(), 4);

    let (status, created) = call(
        &app,
        request(
            LAMBDA_AUTHORIZER,
            "POST",
            "/petstore/v1/pets",
            Some(r#"{"name":"Hamsters"}"#),
        ),
    )
    .await;
    assert_eq!(
        (status, created.clone()),
        (201, json!({"id":5,"name":"Hamsters"}))
    );
    let (status, _) = call(
        &app,
        request(
            LAMBDA_AUTHORIZER,
            "POST",
            "/petstore/v1/pets",
            Some(r#"{"name":"Ferrets"}"#),
        ),
    )
    .await;
    assert_eq!(status, 201);

    // Another instance of the function sees what this one wrote: it lives in the table.
    let other = App::new(&config(&[("PETS_TABLE", &table)]), &aws);
    let (_, pet) = call(
        &other,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets/5", None),
    )
    .await;
    assert_eq!(pet, created);
    let (_, v2) = call(
        &other,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v2/pets", None),
    )
    .await;
    assert_eq!(v2["count"], 6);
    let stored = dynamodb
        .get_item()
        .table_name(&table)
        .key("id", AttributeValue::N("6".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(stored.item.unwrap()["name"].as_s().unwrap(), "Ferrets");
}

#[tokio::test]
async fn the_group_role_is_assumed_with_a_session_named_after_the_user() {
    let moto = Moto::start().await;
    let app = assuming_app(&moto).await;
    let (status, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v2/identity", None),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["role_arn"], VET_ROLE);
    // The session is the user's name and a hash of their `sub`: unique per user.
    let session = backend::roles::session_name("vet", "6f1c2e1a-0000-4000-8000-000000000001");
    assert!(session.starts_with("vet."), "{session}");
    assert_eq!(
        body["assumed_role_arn"],
        format!("arn:aws:sts::123456789012:assumed-role/groupgate-pet-veterinarian/{session}")
    );

    // A Cognito authorizer's claims: the preferred role, session from cognito:username.
    let (status, body) = call(
        &app,
        request(COGNITO_AUTHORIZER, "GET", "/petstore/v2/identity", None),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let assumed = body["assumed_role_arn"].as_str().unwrap();
    assert!(
        assumed.starts_with("arn:aws:sts::123456789012:assumed-role/groupgate-admin/boss."),
        "{assumed}"
    );
}

#[tokio::test]
async fn the_assumed_credentials_are_the_ones_used_for_the_table() {
    let moto = Moto::start().await;
    let aws = sdk(&moto).await;
    let own = aws_sdk_dynamodb::Client::new(&aws);
    let table = pets_table(&own).await;

    // The same table name in the other account, holding other pets, made with that role's keys.
    let sts = aws_sdk_sts::Client::new(&aws);
    let creds = sts
        .assume_role()
        .role_arn(FOREIGN_ROLE)
        .role_session_name("setup")
        .send()
        .await
        .unwrap()
        .credentials
        .unwrap();
    let foreign_config = aws
        .to_builder()
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new(
                creds.access_key_id,
                creds.secret_access_key,
                Some(creds.session_token),
                None,
                "setup",
            ),
        ))
        .build();
    let foreign = aws_sdk_dynamodb::Client::new(&foreign_config);
    pets_table_named(&foreign, &table).await;
    for (id, name) in [("0", None), ("1", Some("Partner Parrots"))] {
        let mut put = foreign
            .put_item()
            .table_name(&table)
            .item("id", AttributeValue::N(id.into()));
        put = match name {
            Some(name) => put.item("name", AttributeValue::S(name.into())),
            None => put.item("next_id", AttributeValue::N("1".into())),
        };
        put.send().await.unwrap();
    }

    let acting = |role: &str| {
        let role = role.to_owned();
        move |e: &mut serde_json::Value| e["requestContext"]["authorizer"]["role_arn"] = json!(role)
    };
    let app = App::new(
        &config(&[
            ("PETS_TABLE", &table),
            ("ASSUME_GROUP_ROLE", "true"),
            ("GROUP_ROLE_PATH", ROLE_PATH),
            ("ALLOWED_ROLE_ACCOUNTS", "111111111111,123456789012"),
        ]),
        &aws,
    );
    let (_, ours) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None),
    )
    .await;
    assert_eq!(
        ours["pets"][0]["name"], "Birds",
        "the home account's table, seeded"
    );
    let (status, theirs) = call(
        &app,
        request_with(
            LAMBDA_AUTHORIZER,
            "GET",
            "/petstore/v1/pets",
            None,
            acting(FOREIGN_ROLE),
        ),
    )
    .await;
    assert_eq!(status, 200, "{theirs}");
    assert_eq!(theirs, json!({"pets":[{"id":1,"name":"Partner Parrots"}]}));

    // Without role assumption the function's own credentials read the home table.
    let plain = App::new(&config(&[("PETS_TABLE", &table)]), &aws);
    let (_, body) = call(
        &plain,
        request_with(
            LAMBDA_AUTHORIZER,
            "GET",
            "/petstore/v1/pets",
            None,
            acting(FOREIGN_ROLE),
        ),
    )
    .await;
    assert_eq!(body["pets"][0]["name"], "Birds");
}

async fn pets_table_named(client: &aws_sdk_dynamodb::Client, table: &str) {
    groupgate_shared::dynamodb::create_table(client, table, "id", ScalarAttributeType::N)
        .await
        .unwrap();
}

#[tokio::test]
async fn roles_outside_the_allowed_accounts_or_missing_are_403() {
    let moto = Moto::start().await;
    let aws = sdk(&moto).await;
    // Default: only the function's own account (123456789012, as STS tells it).
    let app = App::new(
        &config(&[
            ("ASSUME_GROUP_ROLE", "true"),
            ("GROUP_ROLE_PATH", ROLE_PATH),
        ]),
        &aws,
    );
    let foreign = request_with(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None, |e| {
        e["requestContext"]["authorizer"]["role_arn"] = json!(FOREIGN_ROLE);
    });
    let (status, body) = call(&app, foreign).await;
    assert_eq!(status, 403);
    assert!(
        body["message"].as_str().unwrap().contains("`111111111111`"),
        "{body}"
    );

    let malformed = request_with(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None, |e| {
        e["requestContext"]["authorizer"]["role_arn"] =
            json!("arn:aws:iam::123456789012:user/admin");
    });
    assert_eq!(call(&app, malformed).await.0, 403);

    let none = request_with(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None, |e| {
        e["requestContext"]["authorizer"]
            .as_object_mut()
            .unwrap()
            .remove("role_arn");
    });
    let (status, body) = call(&app, none).await;
    assert_eq!(
        (status, body),
        (
            403,
            json!({"message":"no group role to act as for this caller"})
        )
    );
}

#[tokio::test]
async fn an_unreachable_sts_is_a_quick_503() {
    let moto = Moto::start().await;
    let aws = sdk(&moto)
        .await
        .to_builder()
        .endpoint_url(format!("http://127.0.0.1:{}", free_port()))
        .build();
    let app = App::new(
        &config(&[
            ("ASSUME_GROUP_ROLE", "true"),
            ("GROUP_ROLE_PATH", ROLE_PATH),
            ("ALLOWED_ROLE_ACCOUNTS", "123456789012"),
        ]),
        &aws,
    );
    let started = Instant::now();
    let (status, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("STS GetCallerIdentity is unreachable"),
        "{body}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by the SDK timeouts"
    );
}

#[tokio::test]
async fn a_missing_table_is_a_502_with_a_message() {
    let moto = Moto::start().await;
    let aws = sdk(&moto).await;
    let app = App::new(&config(&[("PETS_TABLE", "no-such-table")]), &aws);
    // Start-up fails, and says why; the function still starts and answers each request.
    let warm = app.warm_up().await.unwrap_err();
    assert!(warm.message.contains("DynamoDB GetItem"), "{warm:?}");
    let (status, body) = call(
        &app,
        request(LAMBDA_AUTHORIZER, "GET", "/petstore/v1/pets", None),
    )
    .await;
    assert_eq!(status, 502);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("DynamoDB Scan failed"),
        "{body}"
    );
}

/// Issue #9, row 10: role ARNs that only look like the group roles, or lie outside them.
#[tokio::test]
async fn only_well_formed_roles_in_this_partition_under_the_role_path_are_assumed() {
    let moto = Moto::start().await;
    let app = assuming_app(&moto).await;
    for (role, needle) in [
        (
            "arn:aws:iam::123456789012:role/groupgate/demo/../admin-role",
            "well-formed",
        ),
        (
            "arn:aws:iam::123456789012:role/vet-role/../admin-role",
            "well-formed",
        ),
        ("arn:aws:iam::123456789012:role//vet-role", "well-formed"),
        (
            "arn:aws-cn:iam::123456789012:role/groupgate/demo/vet",
            "partition",
        ),
        ("arn:aws:iam::123456789012:role/other/vet", "role path"),
        ("arn:aws:iam::123456789012:role/vet", "role path"),
    ] {
        let event = request_with(
            LAMBDA_AUTHORIZER,
            "GET",
            "/petstore/v2/identity",
            None,
            |e| {
                e["requestContext"]["authorizer"]["role_arn"] = json!(role);
            },
        );
        let (status, body) = call(&app, event).await;
        assert_eq!(status, 403, "{role}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{role}: {body}"
        );
    }
}

/// Issue #9, row 11.
#[tokio::test]
async fn a_preferred_role_outside_the_callers_roles_is_403() {
    let moto = Moto::start().await;
    let app = assuming_app(&moto).await;
    let event = request_with(
        COGNITO_AUTHORIZER,
        "GET",
        "/petstore/v2/identity",
        None,
        |e| {
            e["requestContext"]["authorizer"]["claims"]["cognito:preferred_role"] =
                json!("arn:aws:iam::123456789012:role/groupgate/demo/groupgate-root");
        },
    );
    assert_eq!(
        call(&app, event).await,
        (
            403,
            json!({"message": "the caller's preferred role is not one of its roles"})
        )
    );
}

/// The backend with role assumption on, under the fixtures' role path, against moto.
async fn assuming_app(moto: &Moto) -> App {
    let aws = sdk(moto).await;
    App::new(
        &config(&[
            ("ASSUME_GROUP_ROLE", "true"),
            ("GROUP_ROLE_PATH", ROLE_PATH),
        ]),
        &aws,
    )
}
