//! The authorizer's configuration, read once from the environment at start-up.

use std::time::Duration;

use serde::Deserialize;

pub use groupgate_shared::env::ConfigError;
use groupgate_shared::env::{self, Vars};
use groupgate_shared::jwks::DEFAULT_KEYS_MAX_AGE;
use groupgate_shared::{DEFAULT_CLOCK_LEEWAY, ExpectedTokenUse};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The pools whose tokens are accepted: `USER_POOLS`, or the one pool of `USER_POOL_ID`,
    /// `APP_CLIENT_IDS`, `TOKEN_USE` and `JWKS_URL` (with no group prefix).
    pub pools: Vec<PoolConfig>,
    /// `POLICY_TABLE`: the DynamoDB table of group policies.
    pub policy_table: String,
    /// `POLICY_CACHE_TTL_SECONDS`: how long a group's policy is reused (default 60).
    pub policy_cache_ttl: Duration,
    /// `CLOCK_LEEWAY_SECONDS`: clock skew tolerated on `exp`, `nbf`, `iat` (default 30, at most 300).
    pub leeway: Duration,
    /// `JWKS_MAX_AGE_SECONDS`: how old the pool's keys may get before the JWKS is read again, so
    /// how soon a key removed from it stops being trusted (default 900, 60 to 3600; see
    /// [`groupgate_shared::jwks::JwksCache`] for an outage).
    pub jwks_max_age: Duration,
    /// `POLICY_LANGUAGE`: `iam` (the default), or `cedar` in a build with the `cedar` feature.
    pub policy_language: PolicyLanguage,
}

/// Which policies decide: the group policies of the table (IAM documents, one item per group),
/// or the Cedar policy set the deploy stores in one item of it (see `groupgate_cedar::CedarBundle`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PolicyLanguage {
    #[default]
    Iam,
    #[cfg(feature = "cedar")]
    Cedar,
}

impl PolicyLanguage {
    /// `POLICY_LANGUAGE`'s value. `cedar` in a build without the feature is an error: the
    /// function then fails to start and every request fails (a 500), never an Allow.
    fn parse(value: Option<&str>) -> Result<Self, ConfigError> {
        match value {
            None | Some("iam") => Ok(PolicyLanguage::Iam),
            #[cfg(feature = "cedar")]
            Some("cedar") => Ok(PolicyLanguage::Cedar),
            #[cfg(not(feature = "cedar"))]
            Some("cedar") => Err(ConfigError::new(
                env::POLICY_LANGUAGE,
                "is `cedar`, and this authorizer was built without Cedar: build it with `--features cedar`",
            )),
            Some(other) => Err(ConfigError::new(
                env::POLICY_LANGUAGE,
                format!("`{other}` is not `iam` or `cedar`"),
            )),
        }
    }
}

/// One trusted user pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// The pool (`{region}_{id}`).
    pub pool_id: String,
    /// The app clients whose tokens are accepted.
    pub client_ids: Vec<String>,
    /// `access` (the one-pool default), `id` or `any`.
    pub token_use: ExpectedTokenUse,
    /// Put before each group (and `scope:` and each scope) to make its key in the policy table.
    pub group_prefix: String,
    /// Where to fetch the pool's keys, when not from Cognito itself (emulators).
    pub jwks_url: Option<String>,
    /// Whether a person's scopes count beside their groups (default false).
    pub scopes_for_users: bool,
}

/// An entry of `USER_POOLS` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolEntry {
    pool_id: String,
    client_ids: Vec<String>,
    token_use: String,
    group_prefix: String,
    #[serde(default)]
    jwks_url: Option<String>,
    #[serde(default)]
    scopes_for_users: bool,
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
        let pools = match vars.get(env::USER_POOLS) {
            Some(json) => {
                let one_pool = [
                    env::USER_POOL_ID,
                    env::APP_CLIENT_IDS,
                    env::TOKEN_USE,
                    env::JWKS_URL,
                ];
                if let Some(also) = one_pool.iter().find(|v| vars.get(v).is_some()) {
                    return Err(ConfigError::new(
                        env::USER_POOLS,
                        format!("is set, and so is `{also}`: configure the pools one way"),
                    ));
                }
                pools_of(&json)?
            }
            None => vec![one_pool(vars)?],
        };
        Ok(Self {
            pools,
            policy_table: vars.required(env::POLICY_TABLE)?,
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
            policy_language: PolicyLanguage::parse(vars.get(env::POLICY_LANGUAGE).as_deref())?,
        })
    }
}

/// The one pool of `USER_POOL_ID`, `APP_CLIENT_IDS`, `TOKEN_USE` and `JWKS_URL`.
fn one_pool<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<PoolConfig, ConfigError> {
    let pool_id = vars.required(env::USER_POOL_ID)?;
    groupgate_shared::user_pool_region(&pool_id)
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
    if let Some(url) = &jwks_url {
        check_url(url).map_err(|problem| ConfigError::new(env::JWKS_URL, problem))?;
    }
    Ok(PoolConfig {
        pool_id,
        client_ids,
        token_use,
        group_prefix: String::new(),
        jwks_url,
        scopes_for_users: false,
    })
}

/// The pools of `USER_POOLS`: a non-empty JSON array of entries, no pool twice, no group
/// prefix twice.
fn pools_of(json: &str) -> Result<Vec<PoolConfig>, ConfigError> {
    let bad = |problem: String| ConfigError::new(env::USER_POOLS, problem);
    let value =
        groupgate_shared::json::parse_unique(json).map_err(|e| bad(format!("is not JSON: {e}")))?;
    let serde_json::Value::Array(entries) = value else {
        return Err(bad("is not a JSON array of pools".to_owned()));
    };
    if entries.is_empty() {
        return Err(bad("names no pool".to_owned()));
    }
    let mut pools: Vec<PoolConfig> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let pool = pool_of(entry).map_err(|problem| bad(format!("entry {index}: {problem}")))?;
        let entry = format!("entry {index} (`{}`)", pool.pool_id);
        if pools.iter().any(|p| p.pool_id == pool.pool_id) {
            return Err(bad(format!("{entry}: the pool is listed twice")));
        }
        if let Some(other) = pools
            .iter()
            .position(|p| p.group_prefix == pool.group_prefix)
        {
            return Err(bad(format!(
                "{entry}: group prefix `{}` is entry {other}'s too",
                pool.group_prefix
            )));
        }
        pools.push(pool);
    }
    Ok(pools)
}

/// One entry of `USER_POOLS`, or what is wrong with it (naming the pool when it can).
fn pool_of(entry: serde_json::Value) -> Result<PoolConfig, String> {
    let entry: PoolEntry = serde_json::from_value(entry).map_err(|e| e.to_string())?;
    let named = |problem: String| format!("(`{}`) {problem}", entry.pool_id);
    groupgate_shared::user_pool_region(&entry.pool_id).map_err(named)?;
    if entry.client_ids.is_empty() {
        return Err(named("`client_ids` is empty".to_owned()));
    }
    if entry.client_ids.iter().any(|c| c.trim().is_empty()) {
        return Err(named("`client_ids` has an empty entry".to_owned()));
    }
    let token_use = entry
        .token_use
        .parse()
        .map_err(|problem: String| named(format!("`token_use`: {problem}")))?;
    groupgate_shared::check_group_prefix(&entry.group_prefix).map_err(named)?;
    if let Some(url) = &entry.jwks_url {
        check_url(url).map_err(|problem| named(format!("`jwks_url`: {problem}")))?;
    }
    Ok(PoolConfig {
        pool_id: entry.pool_id,
        client_ids: entry.client_ids,
        token_use,
        group_prefix: entry.group_prefix,
        jwks_url: entry.jwks_url,
        scopes_for_users: entry.scopes_for_users,
    })
}

fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(format!("`{url}` is not an http(s) URL"))
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
        let [pool] = c.pools.as_slice() else {
            panic!("{:?}", c.pools)
        };
        assert_eq!(pool.pool_id, "us-east-1_abc123");
        assert_eq!(pool.client_ids, ["one", "two"]);
        assert_eq!(pool.token_use, ExpectedTokenUse::Access);
        assert_eq!(pool.group_prefix, "");
        assert_eq!(pool.jwks_url, None);
        assert!(!pool.scopes_for_users);
        assert_eq!(c.policy_cache_ttl, Duration::from_secs(60));
        assert_eq!(c.leeway, Duration::from_secs(30));
        assert_eq!(c.jwks_max_age, Duration::from_secs(900));
        assert_eq!(c.policy_language, PolicyLanguage::Iam);
    }

    #[test]
    fn an_unknown_policy_language_is_named() {
        let mut vars = MINIMAL.to_vec();
        vars.push(("POLICY_LANGUAGE", "rego"));
        let err = config(&vars).unwrap_err();
        assert_eq!(err.variable, "POLICY_LANGUAGE");
        assert!(
            err.to_string().contains("`rego` is not `iam` or `cedar`"),
            "{err}"
        );
    }

    #[cfg(not(feature = "cedar"))]
    #[test]
    fn cedar_without_the_feature_is_a_start_up_error_saying_how_to_build() {
        let mut vars = MINIMAL.to_vec();
        vars.push(("POLICY_LANGUAGE", "cedar"));
        let err = config(&vars).unwrap_err();
        assert_eq!(err.variable, "POLICY_LANGUAGE");
        assert!(err.to_string().contains("--features cedar"), "{err}");
    }

    #[cfg(feature = "cedar")]
    #[test]
    fn cedar_is_read_in_a_build_with_the_feature() {
        let mut vars = MINIMAL.to_vec();
        vars.push(("POLICY_LANGUAGE", "cedar"));
        assert_eq!(
            config(&vars).unwrap().policy_language,
            PolicyLanguage::Cedar
        );
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

    const TWO_POOLS: &str = r#"[
        {"pool_id": "us-east-1_Staff1", "client_ids": ["web"], "token_use": "access",
         "group_prefix": ""},
        {"pool_id": "eu-west-1_Tenant2", "client_ids": ["app", "svc"], "token_use": "any",
         "group_prefix": "tenant-b:", "jwks_url": "http://127.0.0.1:9/jwks.json",
         "scopes_for_users": true}
    ]"#;

    fn pools(json: &str) -> Result<Config, ConfigError> {
        config(&[("USER_POOLS", json), ("POLICY_TABLE", "policies")])
    }

    #[test]
    fn user_pools_lists_each_pool_with_its_clients_prefix_and_keys() {
        let c = pools(TWO_POOLS).unwrap();
        assert_eq!(c.pools.len(), 2);
        assert_eq!(c.pools[0].group_prefix, "");
        assert!(!c.pools[0].scopes_for_users);
        let tenant = &c.pools[1];
        assert_eq!(tenant.pool_id, "eu-west-1_Tenant2");
        assert_eq!(tenant.client_ids, ["app", "svc"]);
        assert_eq!(tenant.token_use, ExpectedTokenUse::Any);
        assert_eq!(tenant.group_prefix, "tenant-b:");
        assert_eq!(
            tenant.jwks_url.as_deref(),
            Some("http://127.0.0.1:9/jwks.json")
        );
        assert!(tenant.scopes_for_users);
    }

    #[test]
    fn user_pools_beside_a_one_pool_variable_is_refused() {
        for one in ["USER_POOL_ID", "APP_CLIENT_IDS", "TOKEN_USE", "JWKS_URL"] {
            let err = config(&[
                ("USER_POOLS", TWO_POOLS),
                (one, "access"),
                ("POLICY_TABLE", "p"),
            ])
            .unwrap_err();
            assert_eq!(err.variable, "USER_POOLS");
            assert!(err.to_string().contains(&format!("`{one}`")), "{err}");
        }
    }

    #[test]
    fn the_templates_user_pools_is_read_as_the_stack_says() {
        // What `groupgate synth` gives the authorizer with a `[[pools]]` entry, as the stack's
        // template test evaluates it (deploy/stack/tests/template.rs).
        let c = pools(include_str!(
            "../../shared/testkit/fixtures/template-user-pools.json"
        ))
        .unwrap();
        let read: Vec<_> = c
            .pools
            .iter()
            .map(|p| {
                (
                    p.pool_id.as_str(),
                    p.group_prefix.as_str(),
                    p.client_ids.len(),
                )
            })
            .collect();
        assert_eq!(
            read,
            [
                ("us-east-1_Stack1", "", 3),
                ("eu-west-1_Partner1", "partners:", 1)
            ]
        );
    }

    #[test]
    fn a_bad_user_pools_entry_is_named_with_what_is_wrong() {
        let entry = |fields: &str| {
            format!(
                r#"[{{"pool_id": "us-east-1_A", "client_ids": ["c"], "token_use": "access",
                "group_prefix": ""}}, {{{fields}}}]"#
            )
        };
        let cases = [
            ("not json".to_owned(), "is not JSON"),
            (r#"{"pool_id": "x"}"#.to_owned(), "not a JSON array"),
            ("[]".to_owned(), "names no pool"),
            (
                entry(r#""pool_id": "us-east-1_B", "client_ids": ["c"], "group_prefix": "b:""#),
                "entry 1: missing field `token_use`",
            ),
            (
                entry(
                    r#""pool_id": "us-east-1_B", "client_ids": ["c"], "token_use": "access",
                    "group_prefix": "b:", "group_prefx": "c:""#,
                ),
                "entry 1: unknown field `group_prefx`",
            ),
            (
                entry(
                    r#""pool_id": "B", "client_ids": ["c"], "token_use": "access",
                    "group_prefix": "b:""#,
                ),
                "entry 1: (`B`) user pool id `B` is not of the form",
            ),
            (
                entry(
                    r#""pool_id": "us-east-1_B", "client_ids": [], "token_use": "access",
                    "group_prefix": "b:""#,
                ),
                "entry 1: (`us-east-1_B`) `client_ids` is empty",
            ),
            (
                entry(
                    r#""pool_id": "us-east-1_B", "client_ids": ["c"], "token_use": "refresh",
                    "group_prefix": "b:""#,
                ),
                "entry 1: (`us-east-1_B`) `token_use`: `refresh` is not one of",
            ),
            (
                entry(
                    r#""pool_id": "us-east-1_B", "client_ids": ["c"], "token_use": "id",
                    "group_prefix": "b:", "jwks_url": "file:///etc/passwd""#,
                ),
                "entry 1: (`us-east-1_B`) `jwks_url`: `file:///etc/passwd` is not",
            ),
            (
                entry(
                    r#""pool_id": "us-east-1_A", "client_ids": ["c"], "token_use": "id",
                    "group_prefix": "b:""#,
                ),
                "entry 1 (`us-east-1_A`): the pool is listed twice",
            ),
            (
                entry(
                    r#""pool_id": "us-east-1_B", "client_ids": ["c"], "token_use": "id",
                    "group_prefix": """#,
                ),
                "entry 1 (`us-east-1_B`): group prefix `` is entry 0's too",
            ),
            (
                entry(
                    r#""pool_id": "us-east-1_B", "client_ids": ["c"], "token_use": "id",
                    "group_prefix": "tenant-b""#,
                ),
                "entry 1: (`us-east-1_B`) group prefix `tenant-b` must end with `:`",
            ),
            (
                entry(
                    r#""pool_id": "us-east-1_B", "pool_id": "us-east-1_C", "client_ids": ["c"],
                    "token_use": "id", "group_prefix": "b:""#,
                ),
                "is not JSON",
            ),
        ];
        for (json, needle) in cases {
            let err = pools(&json).unwrap_err();
            assert_eq!(err.variable, "USER_POOLS", "{json}");
            assert!(err.to_string().contains(needle), "{needle}: {err}");
        }
    }
}
