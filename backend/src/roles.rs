//! Acting as the caller's group role: which role, whether it may be assumed, and STS AssumeRole
//! with the credentials cached until shortly before they expire.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_sts::config::Credentials;
use tokio::sync::Mutex;

use crate::error::ApiError;
use crate::identity::Caller;

/// Credentials are renewed this long before they expire.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(120);
/// At most this many (role, session) credentials are kept.
const MAX_CACHED: usize = 1024;

/// The role to act as: the authorizer's `role_arn`, else `cognito:preferred_role`, else the one
/// entry of `cognito:roles` (several, and none is preferred: we do not guess).
pub fn choose_role(caller: &Caller) -> Option<&str> {
    caller
        .role_arn
        .as_deref()
        .or(caller.preferred_role.as_deref())
        .or(match caller.roles.as_slice() {
            [only] => Some(only.as_str()),
            _ => None,
        })
}

/// A well-formed IAM role ARN: `arn:{partition}:iam::{account}:role/{path/}{name}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub arn: String,
    pub account: String,
}

impl RoleArn {
    pub fn parse(arn: &str) -> Result<Self, String> {
        let bad = || format!("`{arn}` is not an IAM role ARN");
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(bad());
        };
        let name = resource.strip_prefix("role/").ok_or_else(bad)?;
        let name_ok = !name.is_empty()
            && name.len() <= 512
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
            && !name.ends_with('/');
        if !matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
            || !crate::config::is_account_id(account)
            || !name_ok
        {
            return Err(bad());
        }
        Ok(Self {
            arn: arn.to_owned(),
            account: account.to_owned(),
        })
    }
}

/// A `RoleSessionName` from a user name: characters outside `[\w+=,.@-]` become `-`, cut to 64,
/// padded to the minimum of 2.
pub fn session_name(username: &str) -> String {
    let mut name: String = username
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    while name.len() < 2 {
        name.push('-');
    }
    name
}

/// Temporary credentials for one role session.
#[derive(Clone)]
pub struct Assumed {
    pub role: RoleArn,
    pub config: SdkConfig,
    expires: SystemTime,
}

/// Assumes group roles through STS and keeps their credentials.
pub struct RoleBroker {
    base: SdkConfig,
    sts: aws_sdk_sts::Client,
    session: Duration,
    /// `None`: only the function's own account, learned from STS on first use.
    allowed_accounts: Option<Vec<String>>,
    own_account: tokio::sync::OnceCell<String>,
    cache: Mutex<HashMap<(String, String), Assumed>>,
}

impl RoleBroker {
    pub fn new(base: SdkConfig, session: Duration, allowed_accounts: Option<Vec<String>>) -> Self {
        Self {
            sts: aws_sdk_sts::Client::new(&base),
            base,
            session,
            allowed_accounts,
            own_account: tokio::sync::OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn account_allowed(&self, account: &str) -> Result<bool, ApiError> {
        if let Some(allowed) = &self.allowed_accounts {
            return Ok(allowed.iter().any(|a| a == account));
        }
        let own = self
            .own_account
            .get_or_try_init(|| async {
                self.sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| ApiError::from_sdk("STS GetCallerIdentity", e))?
                    .account
                    .ok_or_else(|| ApiError::bad_gateway("STS did not say which account this is"))
            })
            .await?;
        Ok(own == account)
    }

    /// Credentials for acting as `caller`'s group role.
    pub async fn assume_for(&self, caller: &Caller) -> Result<Assumed, ApiError> {
        let arn = choose_role(caller)
            .ok_or_else(|| ApiError::forbidden("no group role to act as for this caller"))?;
        let role = RoleArn::parse(arn).map_err(ApiError::forbidden)?;
        if !self.account_allowed(&role.account).await? {
            return Err(ApiError::forbidden(format!(
                "role `{}` is in account `{}`, which is not allowed",
                role.arn, role.account
            )));
        }
        let session = session_name(&caller.username);
        let key = (role.arn.clone(), session.clone());
        let mut cache = self.cache.lock().await;
        if let Some(hit) = cache.get(&key)
            && hit.expires > SystemTime::now() + RENEW_BEFORE_EXPIRY
        {
            return Ok(hit.clone());
        }
        let output = self
            .sts
            .assume_role()
            .role_arn(&role.arn)
            .role_session_name(&session)
            .duration_seconds(i32::try_from(self.session.as_secs()).unwrap_or(900))
            .send()
            .await
            .map_err(|e| ApiError::from_sdk("STS AssumeRole", e))?;
        let credentials = output
            .credentials
            .ok_or_else(|| ApiError::bad_gateway("STS AssumeRole returned no credentials"))?;
        let expires = SystemTime::try_from(credentials.expiration)
            .unwrap_or_else(|_| SystemTime::now() + self.session);
        let provider = Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            Some(credentials.session_token),
            Some(expires),
            "group-role",
        );
        let config = self
            .base
            .to_builder()
            .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                provider,
            ))
            .build();
        tracing::info!(role = %role.arn, session = %session, "assumed group role");
        let assumed = Assumed {
            role,
            config,
            expires,
        };
        if cache.len() >= MAX_CACHED {
            let now = SystemTime::now();
            cache.retain(|_, a| a.expires > now + RENEW_BEFORE_EXPIRY);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(key, assumed.clone());
        Ok(assumed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role_arn: Option<&str>, preferred: Option<&str>, roles: &[&str]) -> Caller {
        Caller {
            sub: "s".into(),
            username: "u".into(),
            groups: vec![],
            role_arn: role_arn.map(str::to_owned),
            preferred_role: preferred.map(str::to_owned),
            roles: roles.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn the_authorizers_role_comes_first_then_preferred_then_a_single_role() {
        assert_eq!(
            choose_role(&caller(Some("a"), Some("p"), &["r"])),
            Some("a")
        );
        assert_eq!(
            choose_role(&caller(None, Some("p"), &["r", "s"])),
            Some("p")
        );
        assert_eq!(choose_role(&caller(None, None, &["r"])), Some("r"));
        assert_eq!(choose_role(&caller(None, None, &["r", "s"])), None);
        assert_eq!(choose_role(&caller(None, None, &[])), None);
    }

    #[test]
    fn role_arns_are_checked() {
        let ok = RoleArn::parse("arn:aws:iam::123456789012:role/team/groupgate-vet").unwrap();
        assert_eq!(ok.account, "123456789012");
        for bad in [
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::12345:role/x",
            "arn:aws:sts::123456789012:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
            "arn:evil:iam::123456789012:role/x",
            "role/x",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn session_names_are_sanitised_and_sized() {
        assert_eq!(session_name("alice@example.com"), "alice@example.com");
        assert_eq!(session_name("ünï cödé/x"), "-n--c-d--x");
        assert_eq!(session_name("a"), "a-");
        assert_eq!(session_name(""), "--");
        assert_eq!(session_name(&"x".repeat(100)).len(), 64);
    }
}
