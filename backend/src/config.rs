//! The backend's configuration, read once from the environment at start-up.

use std::time::Duration;

use groupgate_shared::cors::AllowedOrigins;
pub use groupgate_shared::env::ConfigError;
use groupgate_shared::env::{self, Vars};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `PETS_TABLE`: the DynamoDB table of pets; unset, pets live in memory.
    pub pets_table: Option<String>,
    /// `ASSUME_GROUP_ROLE`: act with the caller's group IAM role (default `false`).
    pub assume_group_role: bool,
    /// `ALLOWED_ROLE_ACCOUNTS`: accounts whose roles may be assumed (comma-separated 12-digit
    /// ids); unset, only the function's own account.
    pub allowed_role_accounts: Option<Vec<String>>,
    /// `ROLE_SESSION_SECONDS`: how long assumed credentials last (900 to 3600, default 900).
    pub role_session: Duration,
    /// `GROUP_ROLE_PATH`: the IAM path the group roles live under (`/groupgate/{stack}/`), set
    /// by the stack; required when `ASSUME_GROUP_ROLE` is on. Only roles under it are assumed.
    pub group_role_path: Option<String>,
    /// `CORS_ORIGINS`: browser origins whose pages may read the responses (comma-separated);
    /// unset, none.
    pub cors_origins: AllowedOrigins,
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
        let assume_group_role = vars.flag(env::ASSUME_GROUP_ROLE, false)?;
        let allowed_role_accounts = match vars.get(env::ALLOWED_ROLE_ACCOUNTS) {
            None => None,
            Some(list) => {
                let accounts: Vec<String> = list.split(',').map(|a| a.trim().to_owned()).collect();
                if let Some(bad) = accounts.iter().find(|a| !is_account_id(a)) {
                    return Err(ConfigError::new(
                        env::ALLOWED_ROLE_ACCOUNTS,
                        format!("`{bad}` is not a 12-digit account id"),
                    ));
                }
                Some(accounts)
            }
        };
        let group_role_path = vars.get(env::GROUP_ROLE_PATH);
        match &group_role_path {
            Some(path) if !is_role_path(path) => {
                return Err(ConfigError::new(
                    env::GROUP_ROLE_PATH,
                    format!(
                        "`{path}` is not an IAM path such as `/groupgate/my-stack/` (segments of letters, digits and `+=,.@_-`, `/` at both ends)"
                    ),
                ));
            }
            None if assume_group_role => {
                return Err(ConfigError::new(
                    env::GROUP_ROLE_PATH,
                    format!("is required when `{}` is on", env::ASSUME_GROUP_ROLE),
                ));
            }
            _ => {}
        }
        Ok(Self {
            pets_table: vars.get(env::PETS_TABLE),
            assume_group_role,
            allowed_role_accounts,
            role_session: vars.seconds(env::ROLE_SESSION_SECONDS, 900, 900..=3600)?,
            group_role_path,
            cors_origins: match vars.get(env::CORS_ORIGINS) {
                Some(list) => AllowedOrigins::from_list(&list)
                    .map_err(|e| ConfigError::new(env::CORS_ORIGINS, e))?,
                None => AllowedOrigins::default(),
            },
        })
    }
}

/// An IAM path below the root: `/a/` or `/a/b/`, no empty, `.` or `..` segment.
fn is_role_path(path: &str) -> bool {
    path.len() <= 512
        && path
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix('/'))
            .is_some_and(|inner| {
                inner.split('/').all(|s| {
                    !s.is_empty()
                        && s != "."
                        && s != ".."
                        && s.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
                })
            })
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<_, _> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| vars.get(k).cloned())
    }

    #[test]
    fn nothing_set_means_memory_store_and_no_role_switch() {
        let c = config(&[]).unwrap();
        assert_eq!(c.pets_table, None);
        assert!(!c.assume_group_role);
        assert_eq!(c.allowed_role_accounts, None);
        assert_eq!(c.role_session, Duration::from_secs(900));
        assert_eq!(c.group_role_path, None);
    }

    #[test]
    fn every_setting_is_read() {
        let c = config(&[
            ("PETS_TABLE", "pets"),
            ("ASSUME_GROUP_ROLE", "true"),
            ("ALLOWED_ROLE_ACCOUNTS", "111111111111, 222222222222"),
            ("ROLE_SESSION_SECONDS", "1800"),
            ("GROUP_ROLE_PATH", "/groupgate/my-stack/"),
        ])
        .unwrap();
        assert_eq!(c.pets_table.as_deref(), Some("pets"));
        assert!(c.assume_group_role);
        assert_eq!(
            c.allowed_role_accounts.unwrap(),
            ["111111111111", "222222222222"]
        );
        assert_eq!(c.role_session, Duration::from_secs(1800));
        assert_eq!(c.group_role_path.as_deref(), Some("/groupgate/my-stack/"));
    }

    #[test]
    fn assuming_roles_needs_the_role_path() {
        let err = config(&[("ASSUME_GROUP_ROLE", "true")]).unwrap_err();
        assert_eq!(err.variable, "GROUP_ROLE_PATH");
        assert!(err.to_string().contains("is required"), "{err}");
    }

    #[test]
    fn malformed_values_are_named() {
        for (variable, value) in [
            ("ASSUME_GROUP_ROLE", "yes"),
            ("ALLOWED_ROLE_ACCOUNTS", "1234"),
            ("ALLOWED_ROLE_ACCOUNTS", "111111111111,"),
            ("ROLE_SESSION_SECONDS", "60"),
            ("GROUP_ROLE_PATH", "groupgate/stack"),
            ("GROUP_ROLE_PATH", "/groupgate/../x/"),
            ("GROUP_ROLE_PATH", "/"),
        ] {
            let err = config(&[(variable, value)]).unwrap_err();
            assert_eq!(err.variable, variable);
            assert!(
                err.to_string()
                    .starts_with(&format!("configuration: `{variable}`")),
                "{err}"
            );
        }
    }
}
