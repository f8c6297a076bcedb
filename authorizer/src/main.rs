// The request path keeps its functions short enough to read at once (threshold in clippy.toml).
#![warn(clippy::too_many_lines)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authorizer::config::PolicyLanguage;
use authorizer::{Authorizer, AuthorizerEvent, Config};
use groupgate_shared::dynamodb::{Backoff, DynamoPolicySource};
use groupgate_shared::jwks::{HttpJwksSource, JwksCache};
use groupgate_shared::{GroupPolicyStore, PoolNaming, TokenRules, TokenVerifier, TrustedPool};
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

    let verifier = verifier(&config)?;

    let aws = aws_config::from_env()
        .timeout_config(authorizer::sdk_timeouts())
        .load()
        .await;
    let policies = DynamoPolicySource::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.policy_table.clone(),
        Backoff::default(),
    );
    let authorizer = match config.policy_language {
        PolicyLanguage::Iam => {
            let store = GroupPolicyStore::new(policies, config.policy_cache_ttl);
            warm_up(&verifier, store.preload(PRELOAD_LIMIT)).await;
            Authorizer::new(verifier, store)
        }
        #[cfg(feature = "cedar")]
        PolicyLanguage::Cedar => {
            let groups = GroupPolicyStore::new(policies.clone(), config.policy_cache_ttl);
            // A set may name the trusted pools' users and groups as Verified Permissions does.
            let pools = config.pools.iter().map(|p| p.pool_id.clone()).collect();
            let source = authorizer::cedar::CedarSource::new(policies, config.policy_cache_ttl)
                .trusting(pools);
            // The policy set, and the group items (for their roles) in the same bounded read
            // IAM's start-up does.
            let read = async {
                let (set, _) = tokio::join!(source.refresh(), groups.preload(PRELOAD_LIMIT));
                set.map(|set| set.store().policies().statements().len())
            };
            warm_up(&verifier, read).await;
            Authorizer::with_cedar(verifier, source, groups)
        }
    };
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

/// The verifier of the configured pools, each with its own key cache (its own fetches and
/// refetch rate limit) reading its own JWKS address.
fn verifier(config: &Config) -> Result<TokenVerifier<HttpJwksSource>, Error> {
    let mut pools = Vec::with_capacity(config.pools.len());
    for pool in &config.pools {
        let rules = TokenRules::new(
            &pool.pool_id,
            pool.client_ids.clone(),
            pool.token_use,
            config.leeway,
        )?;
        let jwks_url = pool
            .jwks_url
            .clone()
            .unwrap_or_else(|| rules.default_jwks_url());
        let keys = JwksCache::new(HttpJwksSource::new(jwks_url)?, JWKS_REFRESH_INTERVAL)
            .with_max_age(config.jwks_max_age);
        pools.push(TrustedPool {
            rules,
            keys,
            naming: PoolNaming {
                group_prefix: pool.group_prefix.clone(),
                scopes_for_users: pool.scopes_for_users,
            },
        });
    }
    Ok(TokenVerifier::for_pools(pools)?)
}

/// Fetches the pools' keys and reads the policies (the group policies, or the Cedar policy
/// set; either opens the table's connection) concurrently, within [`INIT_DEADLINE`]. Nothing
/// here can fail start-up: what did not finish is done lazily, and a Cedar set that is missing
/// or invalid fails each request until it is fixed.
async fn warm_up<E: std::fmt::Display>(
    verifier: &TokenVerifier<HttpJwksSource>,
    read_policies: impl std::future::Future<Output = Result<usize, E>>,
) {
    let warm = async { tokio::join!(verifier.prefetch(), read_policies) };
    match tokio::time::timeout(INIT_DEADLINE, warm).await {
        Ok((pools, table)) => tracing::info!(
            jwks_fetch = if pools.iter().all(Result::is_ok) {
                "ok"
            } else {
                "failed"
            },
            keys = pools
                .iter()
                .map(|p| p.as_ref().map_or(0, |n| *n))
                .sum::<usize>(),
            keys_error = pools
                .iter()
                .filter_map(|p| p.as_ref().err().map(|e| e.to_string()))
                .collect::<Vec<_>>()
                .join("; "),
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
