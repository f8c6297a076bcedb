// The request path keeps its functions short enough to read at once (threshold in clippy.toml).
#![warn(clippy::too_many_lines)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authorizer::{Authorizer, AuthorizerEvent, Config};
use groupgate_shared::dynamodb::{Backoff, DynamoPolicySource};
use groupgate_shared::jwks::{HttpJwksSource, JwksCache};
use groupgate_shared::{GroupPolicyStore, TokenRules, TokenVerifier};
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// How often an unknown `kid` may trigger a JWKS fetch.
const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(10);
/// How long start-up may spend fetching the pool's keys and reading the policy table, side by
/// side. Lambda freezes the process once it asks for its first event, so what is still running
/// then is cut off here, and the first request does it as it always did.
const INIT_DEADLINE: Duration = Duration::from_millis(1000);
/// The most group policies start-up reads ahead (one Scan page of small items). A larger table
/// is left to be read request by request; the Scan has still opened the connection.
const PRELOAD_LIMIT: usize = 500;

#[tokio::main]
async fn main() -> Result<(), Error> {
    authorizer::logging::init(authorizer::logging::LogFormat::from_env(), std::io::stdout);
    let config = Config::from_env()?;

    let rules = TokenRules::new(
        &config.user_pool_id,
        config.client_ids.clone(),
        config.token_use,
        config.leeway,
    )?;
    let jwks_url = config
        .jwks_url
        .clone()
        .unwrap_or_else(|| rules.default_jwks_url());
    let keys = JwksCache::new(HttpJwksSource::new(jwks_url)?, JWKS_REFRESH_INTERVAL)
        .with_max_age(config.jwks_max_age);

    let aws = aws_config::from_env()
        .timeout_config(authorizer::sdk_timeouts())
        .load()
        .await;
    let policies = DynamoPolicySource::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.policy_table.clone(),
        Backoff::default(),
    );
    let store = GroupPolicyStore::new(policies, config.policy_cache_ttl);
    warm_up(&keys, &store).await;
    let authorizer = Authorizer::new(TokenVerifier::new(rules, keys), store);
    let authorizer = Arc::new(authorizer);

    // Sequential unless AWS_LAMBDA_MAX_CONCURRENCY > 1, when one process serves that many
    // invocations at once; the key and policy caches are shared by all of them.
    lambda_runtime::run_concurrent(service_fn(move |event: LambdaEvent<AuthorizerEvent>| {
        let authorizer = Arc::clone(&authorizer);
        async move {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            authorizer.handle(&event.payload, now).await
        }
    }))
    .await
}

/// Fetches the keys and reads the group policies (opening the table's connection) concurrently,
/// within [`INIT_DEADLINE`]. Nothing here can fail start-up: what did not finish is done lazily.
async fn warm_up(keys: &JwksCache<HttpJwksSource>, store: &GroupPolicyStore<DynamoPolicySource>) {
    let warm = async { tokio::join!(keys.prefetch(), store.preload(PRELOAD_LIMIT)) };
    match tokio::time::timeout(INIT_DEADLINE, warm).await {
        Ok((keys, table)) => tracing::info!(
            jwks_fetch = if keys.is_ok() { "ok" } else { "failed" },
            keys = keys.as_ref().map_or(0, |n| *n),
            keys_error = keys.err().map(|e| e.to_string()),
            policies = table.as_ref().map_or(0, |n| *n),
            table_error = table.err().map(|e| e.to_string()),
            "start-up warm-up done",
        ),
        Err(_) => tracing::warn!(
            deadline_ms = INIT_DEADLINE.as_millis() as u64,
            "start-up warm-up cut off; the first request fetches what is missing",
        ),
    }
}
