#![cfg(test)]
//! The authorizer's real bootstrap (this crate's binary) under a local Lambda Runtime API, with
//! moto behind a proxy per dependency: what its start-up does when a dependency is down or slow.
//! Issue #14: init never fails for a dependency, the first request falls back to fetching, no
//! answer in between is wrong, and a fetch cut off by the init deadline leaves nothing held.
//!
//! Time bounds here are generous upper limits that show a timeout or a cancellation works; how
//! fast start-up is lives in the `coldstart` benchmark.

use std::time::{Duration, Instant};

use groupgate_shared::jwks::{HttpJwksSource, JwksSource as _};
use groupgate_testkit::StaticHttpServer;
use groupgate_testkit::lambda::{AuthorizerStack, Outcome, RuntimeApi, allows, spawn_function};

const BINARY: &str = env!("CARGO_BIN_EXE_authorizer");

struct Running {
    api: RuntimeApi,
    child: std::process::Child,
    started: Instant,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start(stack: &AuthorizerStack) -> Running {
    start_with(&stack.env()).await
}

/// Starts the binary with environment `env` under a fresh Runtime API.
async fn start_with(env: &[(&str, String)]) -> Running {
    let api = RuntimeApi::start().await;
    let started = Instant::now();
    let child = spawn_function(BINARY, &api, env, None);
    Running {
        api,
        child,
        started,
    }
}

impl Running {
    /// Waits for the function to finish its init (ask for its first event); how long it took.
    async fn init(&self) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(at) = self.api.first_poll() {
                return at - self.started;
            }
            if let Some(error) = self.api.init_error() {
                panic!("init failed: {error}");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the function did not finish its init within 20 s");
    }

    async fn invoke(&self, stack: &AuthorizerStack) -> Outcome {
        self.api
            .invoke(&stack.event(), Duration::from_secs(20))
            .await
            .expect("an answer within 20 s")
    }
}

/// Until the dependency is back, every answer is an error (API Gateway's 500) naming `reason`,
/// the code the log line carries, never a policy and never `Unauthorized`; once it is back the
/// function answers Allow within `recovery`.
async fn serves_after_recovery(
    running: &Running,
    stack: &AuthorizerStack,
    reason: &str,
    bring_back: impl FnOnce(),
    recovery: Duration,
) {
    let down = running.invoke(stack).await;
    assert!(down.error, "while down: {down:?}");
    assert!(
        down.body.contains("AuthorizerFailure") && down.body.contains(reason),
        "a fault ({reason}), not a bad token: {}",
        down.body
    );
    bring_back();
    let deadline = Instant::now() + recovery;
    loop {
        let outcome = running.invoke(stack).await;
        if allows(&outcome, AuthorizerStack::METHOD_ARN) {
            return;
        }
        assert!(
            outcome.error && outcome.body.contains("AuthorizerFailure"),
            "only errors before recovery: {outcome:?}"
        );
        assert!(
            Instant::now() < deadline,
            "not serving {recovery:?} after recovery"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_endpoint_down_at_init_leaves_the_function_serving_once_it_is_back() {
    let stack = AuthorizerStack::start(Duration::ZERO).await;
    stack.jwks.set_down(true);
    let running = start(&stack).await;
    running.init().await;
    // A failed fetch is retried after the 10 s refresh interval, not on every request.
    serves_after_recovery(
        &running,
        &stack,
        "jwks_unavailable",
        || stack.jwks.set_down(false),
        Duration::from_secs(15),
    )
    .await;
}

/// Issue #20: a JWKS whose only key cannot verify a token (here the pool's own key with an
/// exponent of 3, which used to be held and then answered 401 to every token) is a fault: each
/// answer is the error API Gateway turns into a 500, naming `jwks_unavailable`.
#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_of_only_unusable_keys_is_answered_as_a_fault_not_unauthorized() {
    let stack = AuthorizerStack::start(Duration::ZERO).await;
    let pool_jwks = HttpJwksSource::new(stack.pool.jwks_url(&stack.moto.endpoint))
        .unwrap()
        .fetch()
        .await
        .unwrap();
    let mut document: serde_json::Value = serde_json::from_slice(&pool_jwks).unwrap();
    document["keys"][0]["e"] = "Aw".into();
    let server = StaticHttpServer::start("200 OK", document.to_string())
        .await
        .unwrap();
    let mut env = stack.env();
    for (name, value) in &mut env {
        if *name == "JWKS_URL" {
            *value = server.url("/jwks.json");
        }
    }
    let running = start_with(&env).await;
    running.init().await;
    for _ in 0..2 {
        let outcome = running.invoke(&stack).await;
        assert!(
            outcome.error
                && outcome.body.contains("AuthorizerFailure")
                && outcome.body.contains("jwks_unavailable"),
            "a fault, not a bad token: {outcome:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_table_unreachable_at_init_leaves_the_function_serving_once_it_is_back() {
    let stack = AuthorizerStack::start(Duration::ZERO).await;
    stack.dynamodb.set_down(true);
    let running = start(&stack).await;
    running.init().await;
    serves_after_recovery(
        &running,
        &stack,
        "policy_store_unavailable",
        || stack.dynamodb.set_down(false),
        Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_work_past_the_init_deadline_is_cut_off_and_holds_nothing() {
    // Every new connection takes 3 s: longer than the 1 s init deadline.
    let stack = AuthorizerStack::start(Duration::from_secs(3)).await;
    let running = start(&stack).await;
    let init = running.init().await;
    assert!(init < Duration::from_millis(2500), "init took {init:?}");
    // Were the JWKS lock or a half-open connection still held, this request would wait for
    // them; it opens its own, now without delay.
    stack.jwks.set_delay(Duration::ZERO);
    stack.dynamodb.set_delay(Duration::ZERO);
    let first = running.invoke(&stack).await;
    assert!(
        allows(&first, AuthorizerStack::METHOD_ARN),
        "first answer: {first:?}"
    );
    assert!(
        first.took() < Duration::from_secs(2),
        "the first request waited {:?}",
        first.took()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_fetches_the_keys_and_policies_so_the_first_request_does_not() {
    let stack = AuthorizerStack::start(Duration::ZERO).await;
    let running = start(&stack).await;
    running.init().await;
    // Both dependencies go down after init: the first request is answered with the keys and
    // the group policies start-up read.
    stack.jwks.set_down(true);
    stack.dynamodb.set_down(true);
    let first = running.invoke(&stack).await;
    assert!(
        allows(&first, AuthorizerStack::METHOD_ARN),
        "first answer: {first:?}"
    );
}

/// A refused token is API Gateway's 401, not a fault: its log line is INFO, and nothing at
/// ERROR (the runtime logs every handler `Err` at ERROR unless the function filters it).
#[tokio::test]
async fn a_refused_token_is_not_logged_at_error_level() {
    let stack = AuthorizerStack::start(Duration::ZERO).await;
    let api = RuntimeApi::start().await;
    let log = std::env::temp_dir().join(groupgate_testkit::unique("authorizer-log"));
    let mut child = spawn_function(BINARY, &api, &stack.env(), Some(&log));
    let mut event = stack.event();
    event["headers"]["Authorization"] = "Bearer not.a.token".into();
    let outcome = api.invoke(&event, Duration::from_secs(20)).await;
    let _ = child.kill();
    let _ = child.wait();
    let outcome = outcome.expect("an answer within 20 s");
    assert!(
        outcome.error && outcome.body.contains("Unauthorized"),
        "{outcome:?}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["fields"]["decision"] == "Unauthorized"),
        "{text}"
    );
    assert!(!lines.iter().any(|l| l["level"] == "ERROR"), "{text}");
    std::fs::remove_file(&log).unwrap();
}

/// With `AWS_LAMBDA_MAX_CONCURRENCY` (Lambda Managed Instances), one process takes that many
/// invocations at once, and answers each as it would alone.
#[tokio::test(flavor = "multi_thread")]
async fn with_max_concurrency_one_process_takes_several_invocations_at_once() {
    let stack = AuthorizerStack::start(Duration::ZERO).await;
    let mut env = stack.env();
    env.push(("AWS_LAMBDA_MAX_CONCURRENCY", "4".to_owned()));
    let running = start_with(&env).await;
    running.init().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while running.api.polling() < 4 {
        assert!(
            Instant::now() < deadline,
            "{} polls, not 4",
            running.api.polling()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let ids: Vec<String> = (0..16).map(|_| running.api.push(&stack.event())).collect();
    for id in ids {
        let outcome = running
            .api
            .outcome(&id, Duration::from_secs(20))
            .await
            .expect("an answer");
        assert!(allows(&outcome, AuthorizerStack::METHOD_ARN), "{outcome:?}");
    }

    // Without it, one at a time, as classic Lambda runs it.
    let sequential = start(&stack).await;
    sequential.init().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sequential.api.polling(), 1);
}
