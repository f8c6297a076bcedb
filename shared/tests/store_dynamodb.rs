#![cfg(test)]
//! The group policy store against DynamoDB: moto's server over the wire; for the refusals moto
//! never makes (it enforces no IAM and never throttles), a server answering with DynamoDB's own
//! error bodies, and one that never answers, read by the real SDK client; and smithy mocks for
//! unprocessed keys, which need a successful answer that changes from call to call.

use std::time::Duration;

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use groupgate_shared::dynamodb::{Backoff, DynamoPolicySource};
use groupgate_shared::{Error, GroupPolicyStore, PolicyDocument, PolicySource, StoreFailure};
use groupgate_testkit::{Moto, StaticHttpServer, policy_table};
use serde_json::json;
use std::collections::HashMap;

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn backoff() -> Backoff {
    Backoff {
        retries: 2,
        first_delay: Duration::from_millis(1),
    }
}

#[tokio::test]
async fn entries_are_read_with_role_and_precedence_and_missing_groups_are_absent() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let table = policy_table(
        &client,
        &[
            (
                "pet-veterinarian",
                ALLOW_ALL,
                Some("arn:aws:iam::123456789012:role/vet"),
                Some(10),
            ),
            ("broken", "{not json", None, None),
            ("plain", ALLOW_ALL, None, None),
        ],
    )
    .await;
    let source = DynamoPolicySource::new(client, table, backoff());
    let groups = ["plain", "pet-veterinarian", "ghost", "broken"].map(str::to_owned);
    let mut found = source.fetch(&groups).await.unwrap();
    found.sort_by(|a, b| a.group.cmp(&b.group));
    let names: Vec<_> = found.iter().map(|g| g.group.as_str()).collect();
    assert_eq!(names, ["broken", "pet-veterinarian", "plain"]);
    assert!(found[0].policy.is_err());
    let vet = &found[1];
    assert_eq!(
        vet.policy,
        Ok(PolicyDocument::from_json(ALLOW_ALL).unwrap())
    );
    assert_eq!(
        vet.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/vet")
    );
    assert_eq!(vet.precedence, Some(10));
}

#[tokio::test]
async fn more_groups_than_one_batch_holds_are_read_in_several_calls() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let names: Vec<String> = (0..130).map(|i| format!("g{i:03}")).collect();
    let items: Vec<_> = names
        .iter()
        .map(|n| (n.as_str(), ALLOW_ALL, None, None))
        .collect();
    let table = policy_table(&client, &items).await;
    let source = DynamoPolicySource::new(client, table, backoff());
    assert_eq!(source.fetch(&names).await.unwrap().len(), 130);
}

#[tokio::test]
async fn cached_entries_are_reused_within_the_ttl_and_reread_after() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let table = policy_table(&client, &[("vet", ALLOW_ALL, None, None)]).await;
    let source = DynamoPolicySource::new(client.clone(), table.clone(), backoff());
    let cached = GroupPolicyStore::new(source.clone(), Duration::from_secs(300));
    let uncached = GroupPolicyStore::new(source, Duration::ZERO);
    let groups = ["vet".to_owned(), "vet".to_owned()];
    let first = cached.load(&groups).await.unwrap();
    assert_eq!(first.policies.len(), 1, "duplicates are looked up once");
    assert_eq!((first.cache_hits, first.cache_misses), (0, 1));
    assert_eq!(uncached.load(&groups).await.unwrap().policies.len(), 1);

    client
        .delete_item()
        .table_name(&table)
        .key("group", AttributeValue::S("vet".into()))
        .send()
        .await
        .unwrap();
    let again = cached.load(&groups).await.unwrap();
    assert_eq!(again.policies.len(), 1, "served from the cache");
    assert_eq!((again.cache_hits, again.cache_misses), (1, 0));
    let reread = uncached.load(&groups).await.unwrap();
    assert!(reread.policies.is_empty(), "read again");
    assert_eq!((reread.cache_hits, reread.cache_misses), (0, 1));
}

/// The kind of a store error, and its message.
fn kind(error: Error) -> (StoreFailure, String) {
    let message = error.to_string();
    match error {
        Error::Store { kind, .. } => (kind, message),
        other => panic!("not a store error: {other}"),
    }
}

#[tokio::test]
async fn a_missing_table_is_a_store_error_of_no_particular_kind() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let source = DynamoPolicySource::new(client, "no-such-table".into(), backoff());
    let (kind, err) = kind(source.fetch(&["vet".to_owned()]).await.unwrap_err());
    assert_eq!(kind, StoreFailure::Unavailable, "{err}");
    assert!(err.contains("no-such-table"), "{err}");
}

/// A client of the policy table at `endpoint`, with short timeouts and one attempt per call
/// (the SDK's retries end in the same error, later).
async fn client_at(endpoint: &str) -> aws_sdk_dynamodb::Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(200))
        .operation_attempt_timeout(Duration::from_millis(200))
        .operation_timeout(Duration::from_millis(600))
        .build();
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// A table that takes the connection and never answers is a timeout; one whose port refuses
/// the connection is not (another fix: the endpoint, not the network's patience).
#[tokio::test]
async fn a_stalled_table_is_a_timeout_and_a_refused_connection_is_not() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stalled = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let source = DynamoPolicySource::new(client_at(&stalled).await, "t".into(), backoff());
    let (kind_of_stall, err) = kind(source.fetch(&["vet".to_owned()]).await.unwrap_err());
    assert_eq!(kind_of_stall, StoreFailure::TimedOut, "{err}");
    assert!(err.starts_with("policy store timed out: "), "{err}");

    let closed = format!("http://127.0.0.1:{}", groupgate_testkit::free_port());
    let source = DynamoPolicySource::new(client_at(&closed).await, "t".into(), backoff());
    let (kind_of_refusal, err) = kind(source.fetch(&["vet".to_owned()]).await.unwrap_err());
    assert_eq!(kind_of_refusal, StoreFailure::Unavailable, "{err}");
}

fn unprocessed(table: &str, group: &str) -> BatchGetItemOutput {
    let keys = KeysAndAttributes::builder()
        .keys(HashMap::from([(
            "group".to_owned(),
            AttributeValue::S(group.into()),
        )]))
        .build()
        .unwrap();
    BatchGetItemOutput::builder()
        .unprocessed_keys(table, keys)
        .build()
}

fn found(table: &str, group: &str) -> BatchGetItemOutput {
    let item = HashMap::from([
        ("group".to_owned(), AttributeValue::S(group.into())),
        ("policy".to_owned(), AttributeValue::S(ALLOW_ALL.into())),
    ]);
    BatchGetItemOutput::builder()
        .responses(table, vec![item])
        .build()
}

#[tokio::test]
async fn unprocessed_keys_are_retried() {
    let rule = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .sequence()
        .output(|| unprocessed("t", "vet"))
        .output(|| found("t", "vet"))
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
    let source = DynamoPolicySource::new(client, "t".into(), backoff());
    let got = source.fetch(&["vet".to_owned()]).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(rule.num_calls(), 2);
}

#[tokio::test]
async fn keys_left_unprocessed_after_the_retries_fail_closed() {
    let rule = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .sequence()
        .output(|| unprocessed("t", "vet"))
        .repeatedly()
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
    let source = DynamoPolicySource::new(client, "t".into(), backoff());
    let (kind, err) = kind(source.fetch(&["vet".to_owned()]).await.unwrap_err());
    assert!(err.contains("unprocessed after 2 retries"), "{err}");
    assert_eq!(
        kind,
        StoreFailure::Throttled,
        "what the table could not serve"
    );
    assert_eq!(rule.num_calls(), 3);
}

/// Issue 21: each of DynamoDB's refusals keeps its kind through the store, for the reason code
/// an operator acts on. The bodies are DynamoDB's (awsJson1_0 errors, `__type` naming the
/// exception), read by the SDK's own deserializer; the codes are those of "Error messages and
/// codes" in https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
#[tokio::test]
async fn throttling_and_access_denied_are_store_errors_of_their_own_kinds() {
    let dynamodb = "com.amazonaws.dynamodb.v20120810";
    let cases = [
        (
            "400 Bad Request",
            format!("{dynamodb}#ProvisionedThroughputExceededException"),
            StoreFailure::Throttled,
        ),
        (
            "400 Bad Request",
            format!("{dynamodb}#RequestLimitExceeded"),
            StoreFailure::Throttled,
        ),
        (
            "400 Bad Request",
            format!("{dynamodb}#ThrottlingException"),
            StoreFailure::Throttled,
        ),
        (
            "400 Bad Request",
            "com.amazon.coral.service#AccessDeniedException".to_owned(),
            StoreFailure::AccessDenied,
        ),
        (
            "500 Internal Server Error",
            format!("{dynamodb}#InternalServerError"),
            StoreFailure::Unavailable,
        ),
    ];
    for (status, error_type, want) in cases {
        let body = json!({"__type": error_type, "message": "refused by the test"});
        let server = StaticHttpServer::start(status, body.to_string())
            .await
            .unwrap();
        let client = client_at(&server.url("")).await;
        let store = GroupPolicyStore::new(
            DynamoPolicySource::new(client, "t".into(), backoff()),
            Duration::from_secs(60),
        );
        let (got, err) = kind(store.load(&["vet".to_owned()]).await.unwrap_err());
        assert_eq!(got, want, "{err}");
        assert!(err.contains("refused by the test"), "{err}");
        assert_eq!(server.hits(), 1);
    }
}

/// Issue #14: start-up reads a small table whole (one Scan), so the first request finds every
/// group's policy cached; a table over the limit is left to be read request by request.
#[tokio::test]
async fn preload_fills_the_cache_from_one_scan_of_a_small_table_and_skips_a_large_one() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let table = policy_table(
        &client,
        &[
            (
                "vet",
                ALLOW_ALL,
                Some("arn:aws:iam::123456789012:role/vet"),
                Some(2),
            ),
            ("admin", ALLOW_ALL, None, Some(1)),
            ("viewer", ALLOW_ALL, None, None),
        ],
    )
    .await;
    let source = DynamoPolicySource::new(client.clone(), table.clone(), backoff());
    let store = GroupPolicyStore::new(source.clone(), Duration::from_secs(300));
    assert_eq!(store.preload(10).await.unwrap(), 3);
    // Gone from the table, still served from what start-up read.
    client
        .delete_item()
        .table_name(&table)
        .key("group", AttributeValue::S("vet".into()))
        .send()
        .await
        .unwrap();
    let groups = ["vet".to_owned(), "admin".to_owned()];
    let loaded = store.load(&groups).await.unwrap();
    assert_eq!((loaded.cache_hits, loaded.cache_misses), (2, 0));
    let vet = &loaded.policies[0];
    assert_eq!(
        (vet.group.as_str(), vet.role_arn.as_deref(), vet.precedence),
        ("vet", Some("arn:aws:iam::123456789012:role/vet"), Some(2))
    );

    let too_many = GroupPolicyStore::new(source, Duration::from_secs(300));
    assert_eq!(too_many.preload(1).await.unwrap(), 0);
    let loaded = too_many.load(&groups).await.unwrap();
    assert_eq!((loaded.cache_hits, loaded.cache_misses), (0, 2));
}
