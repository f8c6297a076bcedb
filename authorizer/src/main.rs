use std::time::{Duration, SystemTime, UNIX_EPOCH};

use authorizer::{Authorizer, AuthorizerEvent, Config};
use groupgate::dynamodb::{Backoff, DynamoPolicySource};
use groupgate::jwks::{HttpJwksSource, JwksCache};
use groupgate::{GroupPolicyStore, TokenRules, TokenVerifier};
use lambda_runtime::{Error, LambdaEvent, service_fn};

/// How often an unknown `kid` may trigger a JWKS fetch.
const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(10);

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
    let keys = JwksCache::new(HttpJwksSource::new(jwks_url)?, JWKS_REFRESH_INTERVAL);

    let aws = aws_config::from_env()
        .timeout_config(authorizer::sdk_timeouts())
        .load()
        .await;
    let policies = DynamoPolicySource::new(
        aws_sdk_dynamodb::Client::new(&aws),
        config.policy_table.clone(),
        Backoff::default(),
    );
    let authorizer = Authorizer::new(
        TokenVerifier::new(rules, keys),
        GroupPolicyStore::new(policies, config.policy_cache_ttl),
    );
    let authorizer = &authorizer;

    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<AuthorizerEvent>| async move {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            authorizer.handle(&event.payload, now).await
        },
    ))
    .await
}
