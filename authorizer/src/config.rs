//! The authorizer's configuration, read once from the environment at start-up.

use std::time::Duration;

pub use groupgate_shared::env::ConfigError;
use groupgate_shared::env::{self, Vars};
use groupgate_shared::jwks::DEFAULT_KEYS_MAX_AGE;
use groupgate_shared::{DEFAULT_CLOCK_LEEWAY, ExpectedTokenUse};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `USER_POOL_ID`: the pool whose tokens are accepted (`{region}_{id}`).
    pub user_pool_id: String,
    /// `APP_CLIENT_IDS`: comma-separated app clients whose tokens are accepted.
    pub client_ids: Vec<String>,
    /// `POLICY_TABLE`: the DynamoDB table of group policies.
    pub policy_table: String,
    /// `TOKEN_USE`: `access` (default), `id` or `any`.
    pub token_use: ExpectedTokenUse,
    /// `JWKS_URL`: where to fetch the pool's keys, when not from Cognito itself (emulators).
    pub jwks_url: Option<String>,
    /// `POLICY_CACHE_TTL_SECONDS`: how long a group's policy is reused (default 60).
    pub policy_cache_ttl: Duration,
    /// `CLOCK_LEEWAY_SECONDS`: clock skew tolerated on `exp`, `nbf`, `iat` (default 30, at most 300).
    pub leeway: Duration,
    /// `JWKS_MAX_AGE_SECONDS`: how old the pool's keys may get before the JWKS is read again, so
    /// how soon a key removed from it stops being trusted (default 900, 60 to 3600; see
    /// [`groupgate_shared::jwks::JwksCache`] for an outage).
    pub jwks_max_age: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::process())
    }

    /// Reads the configuration through `lookup` (a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_vars(&Vars::new(lookup))
    }

    fn from_vars<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<Self, ConfigError> {
        let user_pool_id = vars.required(env::USER_POOL_ID)?;
        groupgate_shared::user_pool_region(&user_pool_id)
            .map_err(|problem| ConfigError::new(env::USER_POOL_ID, problem))?;
        let client_ids: Vec<String> = vars
            .required(env::APP_CLIENT_IDS)?
            .split(',')
            .map(|c| c.trim().to_owned())
            .collect();
        if client_ids.iter().any(String::is_empty) {
            return Err(ConfigError::new(env::APP_CLIENT_IDS, "has an empty entry"));
        }
        let token_use = match vars.get(env::TOKEN_USE) {
            None => ExpectedTokenUse::Access,
            Some(v) => v
                .parse()
                .map_err(|problem: String| ConfigError::new(env::TOKEN_USE, problem))?,
        };
        let jwks_url = vars.get(env::JWKS_URL);
        if let Some(url) = &jwks_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError::new(
                env::JWKS_URL,
                format!("`{url}` is not an http(s) URL"),
            ));
        }
        Ok(Self {
            user_pool_id,
            client_ids,
            policy_table: vars.required(env::POLICY_TABLE)?,
            token_use,
            jwks_url,
            policy_cache_ttl: vars.seconds(env::POLICY_CACHE_TTL_SECONDS, 60, 0..=3600)?,
            leeway: vars.seconds(
                env::CLOCK_LEEWAY_SECONDS,
                DEFAULT_CLOCK_LEEWAY.as_secs(),
                0..=300,
            )?,
            jwks_max_age: vars.seconds(
                env::JWKS_MAX_AGE_SECONDS,
                DEFAULT_KEYS_MAX_AGE.as_secs(),
                60..=3600,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    const MINIMAL: [(&str, &str); 3] = [
        ("USER_POOL_ID", "us-east-1_abc123"),
        ("APP_CLIENT_IDS", "one, two"),
        ("POLICY_TABLE", "policies"),
    ];

    #[test]
    fn minimal_configuration_gets_defaults() {
        let c = config(&MINIMAL).unwrap();
        assert_eq!(c.client_ids, ["one", "two"]);
        assert_eq!(c.token_use, ExpectedTokenUse::Access);
        assert_eq!(c.policy_cache_ttl, Duration::from_secs(60));
        assert_eq!(c.leeway, Duration::from_secs(30));
        assert_eq!(c.jwks_url, None);
        assert_eq!(c.jwks_max_age, Duration::from_secs(900));
    }

    #[test]
    fn each_missing_required_variable_is_named() {
        for skip in ["USER_POOL_ID", "APP_CLIENT_IDS", "POLICY_TABLE"] {
            let vars: Vec<_> = MINIMAL
                .iter()
                .copied()
                .filter(|(k, _)| *k != skip)
                .collect();
            let err = config(&vars).unwrap_err();
            assert_eq!(err.variable, skip);
            assert!(err.to_string().contains("is required"));
        }
    }

    #[test]
    fn malformed_values_are_named_with_the_value() {
        let cases = [
            ("USER_POOL_ID", "abc"),
            ("APP_CLIENT_IDS", "one,,two"),
            ("TOKEN_USE", "refresh"),
            ("JWKS_URL", "file:///etc/passwd"),
            ("POLICY_CACHE_TTL_SECONDS", "-1"),
            ("CLOCK_LEEWAY_SECONDS", "3600"),
            ("JWKS_MAX_AGE_SECONDS", "59"),
            ("JWKS_MAX_AGE_SECONDS", "3601"),
        ];
        for (variable, value) in cases {
            let mut vars: Vec<_> = MINIMAL
                .iter()
                .copied()
                .filter(|(k, _)| *k != variable)
                .collect();
            vars.push((variable, value));
            let err = config(&vars).unwrap_err();
            assert_eq!(err.variable, variable, "{err}");
        }
    }
}
