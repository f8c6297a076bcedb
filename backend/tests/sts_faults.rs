#![cfg(test)]
//! STS misbehaving, over the wire: a server the test controls answers `GetCallerIdentity` and
//! `AssumeRole`, except that it never answers for one role. A stalled call for that role must
//! fail within the SDK's timeouts, and must not hold up any other caller.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backend::roles::RoleBroker;
use groupgate_shared::PrincipalType;
use groupgate_shared::context::Caller;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

const ACCOUNT: &str = "123456789012";
const PATH: &str = "/groupgate/demo/groups/";
const STALLED: &str = "stalled-role";

fn role(name: &str) -> String {
    format!("arn:aws:iam::{ACCOUNT}:role{PATH}{name}")
}

/// Reads one HTTP request (head and a `Content-Length` body).
async fn read_request(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if buffer.len() >= end + 4 + length {
                return Some(text);
            }
        }
    }
}

/// A fake STS: answers over HTTP, never answers an `AssumeRole` of [`STALLED`]. Counts calls.
async fn sts(calls: Arc<AtomicUsize>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let calls = Arc::clone(&calls);
            tokio::spawn(async move {
                while let Some(request) = read_request(&mut stream).await {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let body = if request.contains("Action=GetCallerIdentity") {
                        format!(
                            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Arn>arn:aws:sts::{ACCOUNT}:assumed-role/backend/fn</Arn><UserId>AROAEXAMPLE:fn</UserId><Account>{ACCOUNT}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
                        )
                    } else if request.contains(STALLED) {
                        // Hold the connection open and say nothing.
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    } else {
                        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/r/s</Arn><AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>2</RequestId></ResponseMetadata></AssumeRoleResponse>".to_owned()
                    };
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if stream.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{address}")
}

fn caller(name: &str, role_name: &str) -> Caller {
    Caller {
        sub: format!("sub-{name}"),
        username: name.to_owned(),
        groups: vec!["g".to_owned()],
        role_arn: Some(role(role_name)),
        preferred_role: None,
        roles: Vec::new(),
        principal_type: PrincipalType::User,
        client_id: None,
        pool: None,
    }
}

async fn broker(endpoint: &str) -> RoleBroker {
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sts::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .timeout_config(backend::sdk_timeouts())
        .load()
        .await;
    RoleBroker::new(aws, Duration::from_secs(900), None, PATH.to_owned())
}

#[tokio::test]
async fn a_stalled_assume_role_fails_in_time_and_blocks_no_other_caller() {
    let calls = Arc::new(AtomicUsize::new(0));
    let endpoint = sts(Arc::clone(&calls)).await;
    let broker = Arc::new(broker(&endpoint).await);
    // Learn the function's own identity first, so only AssumeRole is in play.
    broker.assume_for(&caller("warm", "vet")).await.unwrap();

    let stalled = {
        let broker = Arc::clone(&broker);
        tokio::spawn(async move {
            let started = Instant::now();
            let result = broker.assume_for(&caller("alice", STALLED)).await;
            (result.map(|_| ()), started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Another caller is served while the stalled call is still waiting.
    let started = Instant::now();
    let other = broker.assume_for(&caller("bob", "vet")).await;
    let waited = started.elapsed();
    assert!(other.is_ok(), "{:?}", other.err());
    assert!(
        !stalled.is_finished(),
        "the stalled call should still be waiting"
    );
    // Generous: this checks that bob does not wait out alice's timeout (seconds), not speed.
    assert!(
        waited < Duration::from_millis(1500),
        "bob waited {waited:?}"
    );

    // The stalled call ends as an error, within the SDK's operation timeout (5 s) and a margin.
    let (result, took) = stalled.await.unwrap();
    let error = result.unwrap_err();
    assert!(matches!(error.status.as_u16(), 502..=504), "{error:?}");
    assert!(
        took < Duration::from_secs(8),
        "the stalled call took {took:?}"
    );
}

#[tokio::test]
async fn concurrent_requests_of_one_caller_share_one_assume_role() {
    let calls = Arc::new(AtomicUsize::new(0));
    let endpoint = sts(Arc::clone(&calls)).await;
    let broker = Arc::new(broker(&endpoint).await);
    broker.assume_for(&caller("warm", "vet")).await.unwrap();
    let before = calls.load(Ordering::SeqCst);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let broker = Arc::clone(&broker);
            tokio::spawn(async move { broker.assume_for(&caller("carol", "vet")).await })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(
        calls.load(Ordering::SeqCst) - before,
        1,
        "one AssumeRole for carol"
    );
}

/// Issue #14: start-up learns the function's own identity, so a caller's first request makes
/// one STS call (its AssumeRole), not two in a row.
#[tokio::test]
async fn warm_up_leaves_a_callers_first_request_one_sts_call() {
    let calls = Arc::new(AtomicUsize::new(0));
    let endpoint = sts(Arc::clone(&calls)).await;
    let warm = broker(&endpoint).await;
    warm.warm_up().await.unwrap();
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "GetCallerIdentity at start-up"
    );
    warm.assume_for(&caller("dave", "vet")).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "then AssumeRole alone");

    // Without it, the first request makes both.
    let cold_calls = Arc::new(AtomicUsize::new(0));
    let cold = broker(&sts(Arc::clone(&cold_calls)).await).await;
    cold.assume_for(&caller("erin", "vet")).await.unwrap();
    assert_eq!(cold_calls.load(Ordering::SeqCst), 2);
}
