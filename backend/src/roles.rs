//! Acting as the caller's group role: which role, whether it may be assumed, and STS AssumeRole
//! with the credentials cached until shortly before they expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_sdk_sts::config::Credentials;
use tokio::sync::Mutex;

use crate::error::ApiError;
use groupgate_shared::context::{Caller, NoRole};
use groupgate_shared::untrusted::Untrusted;

/// Credentials are renewed this long before they expire.
const RENEW_BEFORE_EXPIRY: Duration = Duration::from_secs(120);
/// At most this many (role, session) credentials are kept.
const MAX_CACHED: usize = 1024;

/// A well-formed IAM role ARN, `arn:{partition}:iam::{account}:role{path}{name}`, read strictly:
/// the path's segments are non-empty, not `.` or `..`, and use only IAM's name characters, so a
/// text match on the path (as an IAM policy's `role/groupgate/stack/*` does) means what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleArn {
    pub arn: String,
    pub partition: String,
    pub account: String,
    /// `/` or `/a/b/`.
    pub path: String,
    pub name: String,
}

impl RoleArn {
    pub fn parse(arn: &str) -> Result<Self, String> {
        let bad = || format!("`{}` is not a well-formed IAM role ARN", Untrusted(arn));
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
        let segments: Vec<&str> = resource
            .strip_prefix("role/")
            .ok_or_else(bad)?
            .split('/')
            .collect();
        let Some((name, path)) = segments.split_last() else {
            return Err(bad());
        };
        let segment_ok = |s: &&str| {
            !s.is_empty()
                && *s != "."
                && *s != ".."
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
        };
        let path = if path.is_empty() {
            "/".to_owned()
        } else {
            format!("/{}/", path.join("/"))
        };
        if !partition.starts_with("aws")
            || !partition
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'-')
            || !crate::config::is_account_id(account)
            || !segments.iter().all(segment_ok)
            || name.len() > 64
            || path.len() > 512
        {
            return Err(bad());
        }
        Ok(Self {
            arn: arn.to_owned(),
            partition: partition.to_owned(),
            account: account.to_owned(),
            path,
            name: (*name).to_owned(),
        })
    }
}

/// A `RoleSessionName` that is unique per user and readable in CloudTrail: the user name with
/// characters outside `[\w+=,.@-]` turned into `-` and cut, then `.` and 12 hex digits of the
/// SHA-256 of `sub`. Two users whose names clean up alike (`a b`, `a/b`, `a-b`) or share their
/// first 51 characters still get different sessions, and so different cached credentials.
pub fn session_name(username: &str, sub: &str) -> String {
    const HASH_HEX: usize = 12;
    const PREFIX_MAX: usize = 64 - 1 - HASH_HEX;
    let prefix: String = username
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(PREFIX_MAX)
        .collect();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sub.as_bytes());
    let hash: String = digest
        .as_ref()
        .iter()
        .take(HASH_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{prefix}.{hash}")
}

/// Temporary credentials for one role session.
#[derive(Clone)]
pub struct Assumed {
    pub role: RoleArn,
    pub config: SdkConfig,
    expires: SystemTime,
}

/// The function's own identity, as STS reports it for its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Own {
    partition: String,
    account: String,
}

/// Assumes group roles through STS and keeps their credentials.
pub struct RoleBroker {
    base: SdkConfig,
    sts: aws_sdk_sts::Client,
    session: Duration,
    /// `None`: only the function's own account.
    allowed_accounts: Option<Vec<String>>,
    /// Group roles live under this IAM path (`/groupgate/{stack}/`), set by the stack.
    role_path: String,
    /// Learned from STS on first use: roles are assumed only in the function's own partition.
    own: tokio::sync::OnceCell<Own>,
    /// One slot per (role, session). The map's lock is held only to find a slot; a slot's own
    /// lock is held across its `AssumeRole`, so concurrent requests of one caller share one
    /// call, and a stalled call for one caller never blocks another's.
    cache: std::sync::Mutex<HashMap<(String, String), Arc<Slot>>>,
}

/// The credentials of one (role, session), filled by the first request that needs them.
type Slot = Mutex<Option<Assumed>>;

impl RoleBroker {
    pub fn new(
        base: SdkConfig,
        session: Duration,
        allowed_accounts: Option<Vec<String>>,
        role_path: String,
    ) -> Self {
        Self {
            sts: aws_sdk_sts::Client::new(&base),
            base,
            session,
            allowed_accounts,
            role_path,
            own: tokio::sync::OnceCell::new(),
            cache: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Start-up work: learns the function's own account and partition from STS (opening its
    /// connection), so that a caller's first request waits on its `AssumeRole` alone.
    pub async fn warm_up(&self) -> Result<(), ApiError> {
        self.own().await.map(|_| ())
    }

    async fn own(&self) -> Result<&Own, ApiError> {
        self.own
            .get_or_try_init(|| async {
                let who = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| ApiError::from_sdk("STS GetCallerIdentity", e))?;
                let partition = who
                    .arn
                    .as_deref()
                    .and_then(|arn| arn.split(':').nth(1))
                    .filter(|p| !p.is_empty());
                match (partition, who.account) {
                    (Some(partition), Some(account)) => Ok(Own {
                        partition: partition.to_owned(),
                        account,
                    }),
                    _ => Err(ApiError::bad_gateway(
                        "STS GetCallerIdentity did not say which account and partition this is",
                    )),
                }
            })
            .await
    }

    /// Whether the backend may act as `role`: in its own partition, in an allowed account, and
    /// under the product's role path.
    async fn check(&self, role: &RoleArn) -> Result<(), ApiError> {
        let own = self.own().await?;
        if role.partition != own.partition {
            return Err(ApiError::forbidden(format!(
                "role `{}` is not in this partition (`{}`)",
                role.arn, own.partition
            )));
        }
        let allowed = match &self.allowed_accounts {
            Some(allowed) => allowed.contains(&role.account),
            None => role.account == own.account,
        };
        if !allowed {
            return Err(ApiError::forbidden(format!(
                "role `{}` is in account `{}`, which is not allowed",
                role.arn, role.account
            )));
        }
        if !role.path.starts_with(&self.role_path) {
            return Err(ApiError::forbidden(format!(
                "role `{}` is not under the group role path `{}`",
                role.arn, self.role_path
            )));
        }
        Ok(())
    }

    /// Credentials for acting as `caller`'s group role.
    pub async fn assume_for(&self, caller: &Caller) -> Result<Assumed, ApiError> {
        let arn = caller.role().map_err(|why| {
            ApiError::forbidden(match why {
                NoRole::None => "no group role to act as for this caller",
                NoRole::PreferredNotAmongRoles => {
                    "the caller's preferred role is not one of its roles"
                }
            })
        })?;
        let role = RoleArn::parse(arn).map_err(ApiError::forbidden)?;
        self.check(&role).await?;
        let session = session_name(&caller.username, &caller.sub);
        let slot = self.slot((role.arn.clone(), session.clone()));
        let mut held = slot.lock().await;
        if let Some(hit) = held.as_ref()
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
        *held = Some(assumed.clone());
        Ok(assumed)
    }

    /// The slot of `key`, made if there is none. When the map is full, slots that are neither
    /// in use nor fresh are dropped first; if that is not enough, every slot not in use.
    fn slot(&self, key: (String, String)) -> Arc<Slot> {
        // A poisoned map only means another request panicked while holding it: the map itself
        // is still a valid cache.
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = cache.get(&key) {
            return Arc::clone(slot);
        }
        if cache.len() >= MAX_CACHED {
            let fresh_after = SystemTime::now() + RENEW_BEFORE_EXPIRY;
            cache.retain(|_, slot| {
                slot.try_lock().map_or(true, |s| {
                    s.as_ref().is_some_and(|a| a.expires > fresh_after)
                })
            });
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, slot| slot.try_lock().is_err());
            }
        }
        Arc::clone(cache.entry(key).or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_read_into_their_parts() {
        let ok =
            RoleArn::parse("arn:aws:iam::123456789012:role/groupgate/stack/groupgate-vet").unwrap();
        assert_eq!(ok.partition, "aws");
        assert_eq!(ok.account, "123456789012");
        assert_eq!(ok.path, "/groupgate/stack/");
        assert_eq!(ok.name, "groupgate-vet");
        assert_eq!(
            RoleArn::parse("arn:aws-cn:iam::123456789012:role/r")
                .unwrap()
                .path,
            "/"
        );
    }

    /// Issue #9, row 10: dot segments, empty segments and malformed ARNs.
    #[test]
    fn malformed_role_arns_are_refused() {
        for bad in [
            "arn:aws:iam::123456789012:role/vet-role/../admin-role",
            "arn:aws:iam::123456789012:role/groupgate/stack/../other/admin",
            "arn:aws:iam::123456789012:role//vet-role",
            "arn:aws:iam::123456789012:role/./vet-role",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:iam::12345:role/x",
            "arn:aws:sts::123456789012:role/x",
            "arn:aws:iam:us-east-1:123456789012:role/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/x/",
            "arn:aws:iam::123456789012:role/a b",
            "arn:evil:iam::123456789012:role/x",
            "role/x",
        ] {
            assert!(RoleArn::parse(bad).is_err(), "{bad}");
        }
    }

    /// Issue #9, row 12: names that clean up alike, or share their first 64 characters.
    #[test]
    fn session_names_are_unique_per_user_and_readable() {
        let names: Vec<String> = [("a b", "sub-1"), ("a/b", "sub-2"), ("a-b", "sub-3")]
            .iter()
            .map(|(u, s)| session_name(u, s))
            .collect();
        assert!(names.iter().all(|n| n.starts_with("a-b.")), "{names:?}");
        assert_ne!(names[0], names[1]);
        assert_ne!(names[1], names[2]);
        assert_ne!(names[0], names[2]);
        let long_a = format!("{}a", "x".repeat(69));
        let long_b = format!("{}b", "x".repeat(69));
        let (a, b) = (
            session_name(&long_a, "sub-a"),
            session_name(&long_b, "sub-b"),
        );
        assert_ne!(a, b);
        for name in [
            &a,
            &b,
            &session_name("ünï cödé", "s"),
            &session_name("", "s"),
        ] {
            assert!((2..=64).contains(&name.len()), "{name}");
            assert!(
                name.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"_+=,.@-".contains(&c)),
                "{name}"
            );
        }
        assert_eq!(
            session_name("alice@example.com", "s"),
            session_name("alice@example.com", "s")
        );
    }
}
