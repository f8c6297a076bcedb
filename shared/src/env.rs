//! The functions' environment variables: their names, in one place for the functions that read
//! them, the stack definition that sets them and the local stack, so that a renamed variable
//! cannot break a deploy silently; and one way of reading them, with one error for a variable
//! that is missing or malformed.

use std::ops::RangeInclusive;
use std::time::Duration;

/// The authorizer's.
pub const USER_POOL_ID: &str = "USER_POOL_ID";
pub const APP_CLIENT_IDS: &str = "APP_CLIENT_IDS";
pub const POLICY_TABLE: &str = "POLICY_TABLE";
pub const TOKEN_USE: &str = "TOKEN_USE";
pub const JWKS_URL: &str = "JWKS_URL";
/// Several trusted pools, as a JSON array (instead of the four one-pool variables above).
pub const USER_POOLS: &str = "USER_POOLS";
pub const POLICY_CACHE_TTL_SECONDS: &str = "POLICY_CACHE_TTL_SECONDS";
pub const CLOCK_LEEWAY_SECONDS: &str = "CLOCK_LEEWAY_SECONDS";
pub const JWKS_MAX_AGE_SECONDS: &str = "JWKS_MAX_AGE_SECONDS";
/// `iam` (the default) or `cedar`: which policies the authorizer decides with.
pub const POLICY_LANGUAGE: &str = "POLICY_LANGUAGE";

/// The backend's.
pub const PETS_TABLE: &str = "PETS_TABLE";
pub const ASSUME_GROUP_ROLE: &str = "ASSUME_GROUP_ROLE";
pub const ALLOWED_ROLE_ACCOUNTS: &str = "ALLOWED_ROLE_ACCOUNTS";
pub const ROLE_SESSION_SECONDS: &str = "ROLE_SESSION_SECONDS";
pub const GROUP_ROLE_PATH: &str = "GROUP_ROLE_PATH";
pub const CORS_ORIGINS: &str = "CORS_ORIGINS";

/// A missing or malformed setting, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: `{variable}` {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

impl ConfigError {
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// Variables read through a lookup (the process environment, or a map in tests). Values are
/// trimmed, and an empty value counts as unset.
pub struct Vars<F>(F);

impl Vars<fn(&str) -> Option<String>> {
    /// The process environment.
    pub fn process() -> Self {
        Vars(|name| std::env::var(name).ok())
    }
}

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    pub fn new(lookup: F) -> Self {
        Vars(lookup)
    }

    pub fn get(&self, variable: &str) -> Option<String> {
        (self.0)(variable)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, variable: &'static str) -> Result<String, ConfigError> {
        self.get(variable)
            .ok_or_else(|| ConfigError::new(variable, "is required"))
    }

    /// A whole number of seconds within `range`, `default` when unset.
    pub fn seconds(
        &self,
        variable: &'static str,
        default: u64,
        range: RangeInclusive<u64>,
    ) -> Result<Duration, ConfigError> {
        match self.get(variable) {
            None => Ok(Duration::from_secs(default)),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if range.contains(&n) => Ok(Duration::from_secs(n)),
                _ => Err(ConfigError::new(
                    variable,
                    format!(
                        "`{v}` is not a whole number of seconds from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )),
            },
        }
    }

    /// `true`/`1` or `false`/`0`, `default` when unset.
    pub fn flag(&self, variable: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.get(variable).as_deref() {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(ConfigError::new(
                variable,
                format!("`{other}` is not `true` or `false`"),
            )),
        }
    }
}
