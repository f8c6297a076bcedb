//! The settings that shape the template, from the committed `deploy/groupgate.toml`, with the
//! command line's flags laid over them. Everything here needs a redeployment (a new API
//! deployment, or new resources) when it changes, so none of it is a stack parameter: a
//! parameter's new value would reach the resource and never the live stage.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::api::{API_VARIABLE, Api, ApiError, DEFAULT_API};

/// Longest authorizer result TTL API Gateway accepts.
pub const MAX_AUTHORIZER_TTL_SECONDS: u32 = 3600;

/// The settings file, relative to the checkout's root.
const SETTINGS_FILE: &str = "deploy/groupgate.toml";

/// The variable that names another settings file than the checkout's (every command's
/// `--settings` default, and `scripts/dev.sh`'s local stack).
pub const SETTINGS_VARIABLE: &str = "GROUPGATE_SETTINGS";

/// The checkout the tool runs in: the nearest folder, from the current one up, that holds
/// `deploy/groupgate.toml`; else the current folder. The defaults of `--settings` and
/// `--policies` are found from it, so a prebuilt `groupgate` works in any checkout.
pub fn checkout_root() -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| {
            dir.ancestors()
                .find(|d| d.join(SETTINGS_FILE).is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| PathBuf::from("."))
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The API stage name.
    pub stage: String,
    /// API Gateway's authorizer result cache TTL, in seconds (0 turns the cache off).
    pub authorizer_ttl_seconds: u32,
    /// Whether the backend acts with the caller's group IAM role.
    pub assume_group_role: bool,
    pub throttle: Throttle,
    /// Browser origins allowed to call the API (CORS); empty, no CORS is emitted.
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// The API's OpenAPI document (`api = "..."`), relative to the checkout unless absolute;
    /// `GROUPGATE_API` and `--api` override it. Default: the petstore's, [`DEFAULT_API`].
    #[serde(rename = "api", default = "default_api_file")]
    pub api_file: PathBuf,
    /// Other user pools whose tokens the authorizer trusts, beside the stack's own.
    #[serde(default)]
    pub pools: Vec<TrustedPool>,
    /// The language of the policies folder: IAM group definitions (`*.json`, the default) or
    /// Cedar policies (`*.cedar`, issue 24). `--policy-language` overrides it.
    #[serde(default)]
    pub policy_language: PolicyLanguage,
}

/// The language the policies are written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyLanguage {
    /// One IAM policy document per group, in a group definition (`policies/*.json`).
    #[default]
    Iam,
    /// Cedar policies (`*.cedar`) over the schema generated from the API's routes, in the
    /// shape of Verified Permissions' API-linked policy stores.
    Cedar,
}

impl PolicyLanguage {
    /// The extension of the policies folder's files in this language.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Iam => "json",
            Self::Cedar => "cedar",
        }
    }
}

impl std::fmt::Display for PolicyLanguage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Iam => "iam",
            Self::Cedar => "cedar",
        })
    }
}

impl std::str::FromStr for PolicyLanguage {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "iam" => Ok(Self::Iam),
            "cedar" => Ok(Self::Cedar),
            _ => Err(format!(
                "`{text}` is not a policy language: `iam` or `cedar`"
            )),
        }
    }
}

fn default_api_file() -> PathBuf {
    PathBuf::from(DEFAULT_API)
}

/// Stage throttling: steady requests per second, and the burst above it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedPool {
    /// Put before its groups' names (and `scope:`) to make their keys in the policy table; a
    /// definition names the pool by it (`"pool": "partners:"`).
    pub group_prefix: String,
    /// `{region}_{id}`: the pool may be in another region or account.
    pub pool_id: String,
    /// The app clients whose tokens are accepted (`aud` of an ID token, `client_id` of an
    /// access token).
    pub client_ids: Vec<String>,
    /// `access` (the default, as for the stack's own pool), `id` or `any`.
    #[serde(default = "default_token_use")]
    pub token_use: String,
    /// Whether a person's access token is authorized by its scopes too, not only its groups.
    #[serde(default)]
    pub scopes_for_users: bool,
}

fn default_token_use() -> String {
    "access".to_owned()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Throttle {
    pub rate_limit: f64,
    pub burst_limit: u32,
}

/// Values given on the command line, laid over the file's (`None`: keep the file's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub stage: Option<String>,
    pub authorizer_ttl_seconds: Option<u32>,
    pub assume_group_role: Option<bool>,
    pub throttle_rate_limit: Option<f64>,
    pub throttle_burst_limit: Option<u32>,
    /// Replaces the file's list when given.
    pub cors_origins: Option<Vec<String>>,
    /// The API's document (`--api`).
    pub api_file: Option<PathBuf>,
    /// `--policy-language`.
    pub policy_language: Option<PolicyLanguage>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the settings file `{path}`: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("settings file `{path}`: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl Settings {
    /// The committed settings file, `deploy/groupgate.toml`.
    pub fn default_path() -> PathBuf {
        match std::env::var_os(SETTINGS_VARIABLE) {
            Some(file) if !file.is_empty() => PathBuf::from(file),
            _ => checkout_root().join(SETTINGS_FILE),
        }
    }

    /// Reads and checks a settings file.
    pub fn load(path: &Path) -> Result<Self, SettingsError> {
        let text = std::fs::read_to_string(path).map_err(|error| SettingsError::Read {
            path: path.to_owned(),
            error,
        })?;
        let mut settings = Self::parse(&text).map_err(|message| SettingsError::Invalid {
            path: path.to_owned(),
            message,
        })?;
        if let Some(file) = std::env::var_os(API_VARIABLE).filter(|v| !v.is_empty()) {
            settings.api_file = PathBuf::from(file);
        }
        Ok(settings)
    }

    /// Where the API's document is: `api_file` from the checkout's root unless absolute.
    pub fn api_path(&self) -> PathBuf {
        checkout_root().join(&self.api_file)
    }

    /// Reads and checks the API's document, with these settings: with CORS origins, the stack
    /// answers every resource's preflight itself, so the document may not have an OPTIONS
    /// operation of its own.
    pub fn api(&self) -> Result<Api, ApiError> {
        let api = Api::load(&self.api_path())?;
        if let Some(options) = api.operations.iter().find(|o| o.method == "OPTIONS")
            && !self.cors_origins.is_empty()
        {
            return Err(ApiError {
                file: api.file.clone(),
                pointer: format!("/paths/{}/options", crate::api::token(&options.path)),
                message: "with `cors_origins` set, groupgate answers each resource's CORS preflight itself: remove this OPTIONS operation or the origins".to_owned(),
            });
        }
        Ok(api)
    }

    /// Parses and checks settings; the error says which setting is wrong and why.
    pub fn parse(text: &str) -> Result<Self, String> {
        let settings: Settings = toml::from_str(text).map_err(|e| e.to_string())?;
        settings.check()?;
        Ok(settings)
    }

    /// The settings of the file at `path` with `overrides` laid over them, checked again.
    pub fn load_with(path: &Path, overrides: Overrides) -> Result<Self, SettingsError> {
        let mut settings = Self::load(path)?;
        let Overrides {
            stage,
            authorizer_ttl_seconds,
            assume_group_role,
            throttle_rate_limit,
            throttle_burst_limit,
            cors_origins,
            api_file,
            policy_language,
        } = overrides;
        settings.policy_language = policy_language.unwrap_or(settings.policy_language);
        settings.api_file = api_file.unwrap_or(settings.api_file);
        settings.cors_origins = cors_origins.unwrap_or(settings.cors_origins);
        settings.stage = stage.unwrap_or(settings.stage);
        settings.authorizer_ttl_seconds =
            authorizer_ttl_seconds.unwrap_or(settings.authorizer_ttl_seconds);
        settings.assume_group_role = assume_group_role.unwrap_or(settings.assume_group_role);
        settings.throttle.rate_limit = throttle_rate_limit.unwrap_or(settings.throttle.rate_limit);
        settings.throttle.burst_limit =
            throttle_burst_limit.unwrap_or(settings.throttle.burst_limit);
        settings.check().map_err(|message| SettingsError::Invalid {
            path: path.to_owned(),
            message: format!("with the command line's values: {message}"),
        })?;
        Ok(settings)
    }

    /// The group prefix of every trusted pool: the stack's own (`""`) and each of `[[pools]]`.
    pub fn group_prefixes(&self) -> Vec<&str> {
        let mut prefixes = vec![""];
        prefixes.extend(self.pools.iter().map(|p| p.group_prefix.as_str()));
        prefixes
    }

    /// Checks that each policy definition's pool is the stack's own or one of `[[pools]]`, and
    /// that the authorizer would look it up for that pool's callers.
    pub fn check_definitions(
        &self,
        definitions: &[crate::groups::GroupDefinition],
    ) -> Result<(), String> {
        let prefixes = self.group_prefixes();
        match definitions
            .iter()
            .find_map(|d| crate::groups::ownership_problem(d, &prefixes))
        {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// The CORS origins, checked.
    pub fn allowed_origins(&self) -> Result<groupgate_shared::cors::AllowedOrigins, String> {
        groupgate_shared::cors::AllowedOrigins::new(self.cors_origins.clone())
    }

    /// Checks the values, as after flags have been laid over the file.
    pub fn check(&self) -> Result<(), String> {
        let stage_ok = !self.stage.is_empty()
            && self.stage.len() <= 128
            && self
                .stage
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !stage_ok {
            return Err(format!(
                "`stage` `{}` must be 1-128 letters, digits, `-` or `_`",
                self.stage
            ));
        }
        if self.authorizer_ttl_seconds > MAX_AUTHORIZER_TTL_SECONDS {
            return Err(format!(
                "`authorizer_ttl_seconds` {} is over API Gateway's maximum of {MAX_AUTHORIZER_TTL_SECONDS}",
                self.authorizer_ttl_seconds
            ));
        }
        if !(self.throttle.rate_limit.is_finite() && self.throttle.rate_limit > 0.0) {
            return Err(format!(
                "`throttle.rate_limit` {} must be a positive number of requests per second",
                self.throttle.rate_limit
            ));
        }
        if self.throttle.burst_limit == 0 {
            return Err("`throttle.burst_limit` must be at least 1".to_owned());
        }
        for (index, pool) in self.pools.iter().enumerate() {
            let named =
                |problem: String| format!("`pools[{index}]` (`{}`): {problem}", pool.pool_id);
            groupgate_shared::user_pool_region(&pool.pool_id).map_err(named)?;
            if pool.group_prefix.is_empty() {
                return Err(named(
                    "`group_prefix` is empty, which is the stack's own pool's: give this pool its own, such as `partners:`".to_owned(),
                ));
            }
            groupgate_shared::check_group_prefix(&pool.group_prefix).map_err(named)?;
            if pool.client_ids.is_empty() || pool.client_ids.iter().any(|c| c.trim().is_empty()) {
                return Err(named(
                    "`client_ids` must name at least one app client, none empty".to_owned(),
                ));
            }
            pool.token_use
                .parse::<groupgate_shared::ExpectedTokenUse>()
                .map_err(|problem| named(format!("`token_use`: {problem}")))?;
            if let Some(twin) = self
                .pools
                .iter()
                .take(index)
                .find(|p| p.pool_id == pool.pool_id || p.group_prefix == pool.group_prefix)
            {
                return Err(named(format!(
                    "the pool or its `group_prefix` is listed twice (also `{}`, `{}`)",
                    twin.pool_id, twin.group_prefix
                )));
            }
        }
        self.allowed_origins()
            .map_err(|e| format!("`cors_origins`: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_settings_load() {
        let s = Settings::load(&Settings::default_path()).unwrap();
        assert_eq!(s.stage, "prod");
        assert_eq!(s.authorizer_ttl_seconds, 300);
        assert!(s.assume_group_role);
        assert_eq!(s.policy_language, PolicyLanguage::Iam);
    }

    #[test]
    fn the_policy_language_is_read_overridden_and_a_wrong_one_named() {
        let good = std::fs::read_to_string(Settings::default_path()).unwrap();
        let with = |language: &str| {
            good.replace(
                "policy_language = \"iam\"",
                &format!("policy_language = \"{language}\""),
            )
        };
        assert_ne!(with("cedar"), good);
        let cedar = Settings::parse(&with("cedar")).unwrap();
        assert_eq!(cedar.policy_language, PolicyLanguage::Cedar);
        assert_eq!(cedar.policy_language.extension(), "cedar");
        let err = Settings::parse(&with("rego")).unwrap_err();
        assert!(
            err.contains("policy_language") && err.contains("rego"),
            "{err}"
        );
        let s = Settings::load_with(
            &Settings::default_path(),
            Overrides {
                policy_language: Some(PolicyLanguage::Cedar),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(s.policy_language, PolicyLanguage::Cedar);
        assert_eq!("cedar".parse(), Ok(PolicyLanguage::Cedar));
        assert_eq!(
            "Cedar".parse::<PolicyLanguage>(),
            Err("`Cedar` is not a policy language: `iam` or `cedar`".to_owned())
        );
    }

    #[test]
    fn flags_override_the_file_and_are_checked_too() {
        let path = Settings::default_path();
        let s = Settings::load_with(
            &path,
            Overrides {
                authorizer_ttl_seconds: Some(0),
                stage: Some("test".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!((s.authorizer_ttl_seconds, s.stage.as_str()), (0, "test"));
        assert!(
            s.assume_group_role,
            "what no flag names stays as in the file"
        );
        let err = Settings::load_with(
            &path,
            Overrides {
                authorizer_ttl_seconds: Some(4000),
                ..Overrides::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("authorizer_ttl_seconds"), "{err}");
    }

    #[test]
    fn bad_settings_are_refused_naming_the_setting() {
        let good = std::fs::read_to_string(Settings::default_path()).unwrap();
        for (from, to, needle) in [
            (
                "authorizer_ttl_seconds = 300",
                "authorizer_ttl_seconds = 3601",
                "authorizer_ttl_seconds",
            ),
            (
                "authorizer_ttl_seconds = 300",
                "authorizer_ttl_seconds = -1",
                "authorizer_ttl_seconds",
            ),
            ("stage = \"prod\"", "stage = \"pro d\"", "`stage`"),
            ("rate_limit = 100.0", "rate_limit = 0.0", "rate_limit"),
            ("burst_limit = 200", "burst_limit = 0", "burst_limit"),
            (
                "cors_origins = []",
                "cors_origins = [\"https://app.example.com/\"]",
                "cors_origins",
            ),
            ("cors_origins = []", "cors_origins = [\"*\"]", "wildcard"),
            (
                "stage = \"prod\"",
                "stage = \"prod\"\nstaeg = \"x\"",
                "staeg",
            ),
        ] {
            let text = good.replace(from, to);
            assert_ne!(text, good, "{from}");
            let err = Settings::parse(&text).unwrap_err();
            assert!(err.contains(needle), "{to}: {err}");
        }
    }

    #[test]
    fn other_pools_are_read_and_each_bad_one_is_named() {
        let good = std::fs::read_to_string(Settings::default_path()).unwrap();
        let pool = |fields: &str| format!("{good}\n[[pools]]\n{fields}\n");
        let ok = pool(
            "group_prefix = \"partners:\"\npool_id = \"eu-west-1_Abc123\"\nclient_ids = [\"web1\"]",
        );
        let settings = Settings::parse(&ok).unwrap();
        assert_eq!(settings.pools.len(), 1);
        assert_eq!(settings.pools[0].token_use, "access");
        assert!(!settings.pools[0].scopes_for_users);
        for (fields, needle) in [
            (
                "group_prefix = \"\"\npool_id = \"eu-west-1_A1\"\nclient_ids = [\"c\"]",
                "`pools[0]` (`eu-west-1_A1`): `group_prefix` is empty",
            ),
            (
                "group_prefix = \"partners\"\npool_id = \"eu-west-1_A1\"\nclient_ids = [\"c\"]",
                "must end with `:`",
            ),
            (
                "group_prefix = \"p:\"\npool_id = \"A1\"\nclient_ids = [\"c\"]",
                "`pools[0]` (`A1`)",
            ),
            (
                "group_prefix = \"p:\"\npool_id = \"eu-west-1_A1\"\nclient_ids = []",
                "`client_ids` must name",
            ),
            (
                "group_prefix = \"p:\"\npool_id = \"eu-west-1_A1\"\nclient_ids = [\"c\"]\ntoken_use = \"refresh\"",
                "`token_use`",
            ),
            (
                "group_prefix = \"p:\"\npool_id = \"eu-west-1_A1\"\nclient_ids = [\"c\"]\n[[pools]]\ngroup_prefix = \"p:\"\npool_id = \"eu-west-1_B1\"\nclient_ids = [\"c\"]",
                "`pools[1]` (`eu-west-1_B1`): the pool or its `group_prefix` is listed twice",
            ),
        ] {
            let err = Settings::parse(&pool(fields)).unwrap_err();
            assert!(err.contains(needle), "{fields}: {err}");
        }
    }
}
