//! A stack's description, as `groupgate describe` prints it for scripts: the app stack's outputs
//! ([`StackOutputs`], read from a deployed stack), and for the local stack its own parts too
//! ([`LocalParts`]: the emulator's endpoints, the pool's keys, the demo users).
//!
//! The local stack's description is `.local/stack.json` under the checkout's root, found from
//! any folder of the checkout as `policies/` is. `scripts/dev.sh` writes it once the stack
//! answers and removes it when it stops; [`StackDescription::running_local`] also checks that
//! the emulator and the local gateway answer, so a file left by a killed run is not taken for
//! a running stack.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::aws::{self, Target};
use crate::stack::StackOutputs;
use crate::stack::settings::checkout_root;

/// The local stack's description, relative to the checkout's root.
pub const LOCAL_FILE: &str = ".local/stack.json";

/// A stack's outputs, and the local stack's own parts when it is the local stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackDescription {
    #[serde(flatten)]
    pub outputs: StackOutputs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<LocalParts>,
}

/// What only the local stack has: every service is the emulator on this machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalParts {
    pub cognito_endpoint: String,
    pub dynamodb_endpoint: String,
    /// Where the pool's keys are: moto serves them apart from the tokens' issuer.
    pub jwks_url: String,
    /// One demo user per group and one in no group, with their passwords.
    pub users: Vec<DemoUser>,
    /// The emulator's stand-ins for the settings' other trusted pools (`[[pools]]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<LocalPool>,
}

/// A pool of the settings' `[[pools]]`, as the local stack made it in the emulator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalPool {
    pub group_prefix: String,
    /// The emulator's pool, in place of the settings' `pool_id`.
    pub pool_id: String,
    /// Its one client, with the admin sign-in flow, for the demo users' tokens.
    pub client_id: String,
    pub jwks_url: String,
    pub scopes_for_users: bool,
}

/// A demo user of the local stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoUser {
    pub username: String,
    pub password: String,
    /// Its groups' keys in the policy table (`partners:admin` for another pool's).
    pub groups: Vec<String>,
    /// The `group_prefix` of the other pool it is a user of; none: the stack's own pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
}

/// The local stack is not running (or not found in this checkout).
#[derive(Debug, thiserror::Error)]
#[error(
    "the local stack is not running ({why}): start it with `scripts/dev.sh` in the checkout at `{root}`"
)]
pub struct NotRunning {
    pub why: String,
    pub root: String,
}

/// Where the local stack's description is in the checkout the tool runs in.
pub fn local_file() -> PathBuf {
    checkout_root().join(LOCAL_FILE)
}

impl StackDescription {
    /// Reads a description written by `groupgate describe`, `groupgate deploy` or the local
    /// stack.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the stack description `{}`", path.display()))?;
        serde_json::from_str(&text).with_context(|| {
            format!(
                "`{}` is not a stack description (`groupgate describe` prints one)",
                path.display()
            )
        })
    }

    /// The deployed stack `name`, from its outputs (CloudFormation DescribeStacks).
    pub async fn of_stack(aws: &aws_config::SdkConfig, name: &str) -> anyhow::Result<Self> {
        let cfn = aws_sdk_cloudformation::Client::new(aws);
        let outputs = crate::operations::cloudformation::read_outputs(&cfn, name).await?;
        let outputs = StackOutputs::from_outputs(name, &outputs)?;
        Ok(Self {
            outputs,
            local: None,
        })
    }

    /// The local stack of this checkout, when it is running: its description is there, and
    /// its emulator and gateway answer.
    pub fn running_local() -> anyhow::Result<Self> {
        let path = local_file();
        let not_running = |why: String| NotRunning {
            why,
            root: checkout_root().display().to_string(),
        };
        if !path.is_file() {
            return Err(not_running(format!("no {LOCAL_FILE}")).into());
        }
        let description = Self::load(&path)?;
        let local = description
            .local
            .as_ref()
            .with_context(|| format!("`{}` describes no local stack", path.display()))?;
        for (what, url) in [
            ("the emulator", local.cognito_endpoint.as_str()),
            ("the local gateway", description.outputs.api_url.as_str()),
        ] {
            if !answers(url) {
                return Err(not_running(format!("{what} at {url} does not answer")).into());
            }
        }
        Ok(description)
    }

    /// The description in `file`, else the running local stack's.
    pub fn from_file_or_local(file: Option<&Path>) -> anyhow::Result<Self> {
        match file {
            Some(path) => Self::load(path),
            None => Self::running_local(),
        }
    }

    /// A Cognito client for the stack: the local stack's emulator, else the environment's
    /// (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`, `AWS_ENDPOINT_URL`, or AWS's own) in the
    /// stack's region.
    pub async fn cognito(&self) -> anyhow::Result<aws_sdk_cognitoidentityprovider::Client> {
        let endpoint = self
            .local
            .as_ref()
            .map(|l| ("cognito_endpoint", &*l.cognito_endpoint));
        let config = self.config(endpoint).await?;
        Ok(aws_sdk_cognitoidentityprovider::Client::new(&config))
    }

    /// A DynamoDB client for the stack, as [`Self::cognito`]: never Cognito's endpoint, each
    /// service has its own.
    pub async fn dynamodb(&self) -> anyhow::Result<aws_sdk_dynamodb::Client> {
        let endpoint = self
            .local
            .as_ref()
            .map(|l| ("dynamodb_endpoint", &*l.dynamodb_endpoint));
        let config = self.config(endpoint).await?;
        Ok(aws_sdk_dynamodb::Client::new(&config))
    }

    /// The configuration for one service: its emulator endpoint (`field` of the local parts),
    /// else the environment in the stack's region.
    async fn config(
        &self,
        endpoint: Option<(&str, &str)>,
    ) -> anyhow::Result<aws_config::SdkConfig> {
        match endpoint {
            Some((field, url)) => {
                let url = emulator_endpoint(field, url)?;
                aws::config(Target::Emulator(url)).await
            }
            None => aws::config(Target::Region(&self.outputs.region)).await,
        }
    }

    /// An IAM client for the local stack's emulator (which serves every service at the one
    /// endpoint, Cognito's); the local stack's group roles are there.
    pub async fn iam(&self) -> anyhow::Result<aws_sdk_iam::Client> {
        let local = self
            .local
            .as_ref()
            .context("IAM is reached here for the local stack only")?;
        let config = self
            .config(Some(("cognito_endpoint", &*local.cognito_endpoint)))
            .await?;
        Ok(aws_sdk_iam::Client::new(&config))
    }

    /// The pool and the admin-flow client a user signs in with: the stack's pool and operator
    /// client, or, for a local demo user of another pool, that pool's.
    pub fn sign_in_pool(&self, user: &str) -> anyhow::Result<(&str, &str)> {
        let own = (
            self.outputs.user_pool_id.as_str(),
            self.outputs.operator_client_id.as_str(),
        );
        let Some(local) = &self.local else {
            return Ok(own);
        };
        let prefix = local
            .users
            .iter()
            .find(|u| u.username == user)
            .and_then(|u| u.pool.as_deref());
        match prefix {
            None => Ok(own),
            Some(prefix) => local
                .pools
                .iter()
                .find(|p| p.group_prefix == prefix)
                .map(|p| (p.pool_id.as_str(), p.client_id.as_str()))
                .with_context(|| format!("the local stack has no pool `{prefix}` for `{user}`")),
        }
    }

    /// The password the description keeps for `user` (the local stack's demo users).
    pub fn password(&self, user: &str) -> Option<&str> {
        self.local
            .as_ref()?
            .users
            .iter()
            .find(|u| u.username == user)
            .map(|u| u.password.as_str())
    }
}

/// A DynamoDB client for a table named on the command line (`--table`): the running local
/// stack's emulator when the name is one of the local stack's tables, the environment's
/// otherwise.
pub async fn table_client(table: &str) -> anyhow::Result<aws_sdk_dynamodb::Client> {
    if crate::local::TABLES.contains(&table) {
        return StackDescription::running_local()?.dynamodb().await;
    }
    let config = aws::config(Target::Environment).await?;
    Ok(aws_sdk_dynamodb::Client::new(&config))
}

/// The local parts' endpoint `field`, which must be on this machine: the emulator gets stand-in
/// credentials, and the demo users' passwords. The host decides, never a prefix of the text
/// (`http://127.0.0.1.example.com` is not on this machine).
fn emulator_endpoint<'a>(field: &str, text: &'a str) -> anyhow::Result<&'a str> {
    let url = url::Url::parse(text)
        .map_err(|e| anyhow::anyhow!("`local.{field}` `{text}` is not a URL: {e}"))?;
    let on_this_machine = match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !matches!(url.scheme(), "http" | "https") || !on_this_machine {
        anyhow::bail!(
            "`local.{field}` `{text}` is not an http(s) address on this machine, as the local stack's emulator is"
        );
    }
    Ok(text)
}

/// Whether something accepts connections at the host and port of `url`, within a second.
fn answers(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    addresses
        .iter()
        .any(|a| TcpStream::connect_timeout(a, Duration::from_secs(1)).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_address_on_this_machine_is_an_emulator() {
        for local in [
            "http://127.0.0.1:5000",
            "http://127.0.0.2:5000/",
            "http://localhost:5000",
            "http://LOCALHOST",
            "http://[::1]:5000",
        ] {
            assert_eq!(emulator_endpoint("cognito_endpoint", local).unwrap(), local);
        }
        for remote in [
            "https://cognito-idp.us-east-1.amazonaws.com",
            "https://127.0.0.1.attacker.example",
            "http://127.0.0.1.attacker.example",
            "https://localhost.attacker.example",
            "https://[::1].attacker.example",
            "https://attacker.example/127.0.0.1",
            "https://user@attacker.example",
            "ftp://127.0.0.1",
        ] {
            let error = emulator_endpoint("cognito_endpoint", remote)
                .unwrap_err()
                .to_string();
            assert!(error.starts_with("`local.cognito_endpoint`"), "{error}");
        }
        let error = emulator_endpoint("dynamodb_endpoint", "127.0.0.1:5000")
            .unwrap_err()
            .to_string();
        assert!(error.contains("`127.0.0.1:5000` is not"), "{error}");
    }

    #[test]
    fn an_address_nobody_listens_on_does_not_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/prod", listener.local_addr().unwrap());
        assert!(answers(&url));
        drop(listener);
        assert!(!answers(&url));
        assert!(!answers("not a url"));
    }
}
