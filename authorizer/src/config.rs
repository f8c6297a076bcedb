//! The authorizer's configuration, read once from the environment at start-up.

use std::time::Duration;

use groupgate::ExpectedTokenUse;

/// A missing or malformed setting, named.
#[derive(Debug, thiserror::Error)]
#[error("configuration: `{variable}` {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

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
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |variable: &'static str| {
            lookup(variable)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let required = |variable: &'static str| {
            get(variable).ok_or(ConfigError {
                variable,
                problem: "is required".to_owned(),
            })
        };
        let seconds = |variable: &'static str, default: u64, max: u64| match get(variable) {
            None => Ok(Duration::from_secs(default)),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n <= max => Ok(Duration::from_secs(n)),
                _ => Err(ConfigError {
                    variable,
                    problem: format!("`{v}` is not a whole number of seconds from 0 to {max}"),
                }),
            },
        };

        let user_pool_id = required("USER_POOL_ID")?;
        groupgate::token::user_pool_region(&user_pool_id).map_err(|e| ConfigError {
            variable: "USER_POOL_ID",
            problem: e.detail(),
        })?;
        let client_ids: Vec<String> = required("APP_CLIENT_IDS")?
            .split(',')
            .map(|c| c.trim().to_owned())
            .collect();
        if client_ids.iter().any(String::is_empty) {
            return Err(ConfigError {
                variable: "APP_CLIENT_IDS",
                problem: "has an empty entry".to_owned(),
            });
        }
        let token_use = match get("TOKEN_USE") {
            None => ExpectedTokenUse::Access,
            Some(v) => v.parse().map_err(|problem| ConfigError {
                variable: "TOKEN_USE",
                problem,
            })?,
        };
        let jwks_url = get("JWKS_URL");
        if let Some(url) = &jwks_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            return Err(ConfigError {
                variable: "JWKS_URL",
                problem: format!("`{url}` is not an http(s) URL"),
            });
        }
        Ok(Self {
            user_pool_id,
            client_ids,
            policy_table: required("POLICY_TABLE")?,
            token_use,
            jwks_url,
            policy_cache_ttl: seconds("POLICY_CACHE_TTL_SECONDS", 60, 3600)?,
            leeway: seconds("CLOCK_LEEWAY_SECONDS", 30, 300)?,
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
