//! The one way the tool reaches AWS. [`config`] loads the SDK's configuration once per command:
//! the environment's (profiles, SSO, credential processes, `AWS_ENDPOINT_URL*`), or an emulator
//! on this machine. [`failed`] puts an SDK error in words a person reads: the service's error
//! code and message, or why the request was never answered, never the SDK's debug struct or
//! the raw HTTP response.

use std::fmt::Display;

use anyhow::Context as _;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, ProvideCredentials as _, SharedCredentialsProvider};
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
pub use groupgate_shared::sdk_error::{cause, causes};

/// Where a command's AWS calls go.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The environment's account, credentials and region.
    Environment,
    /// The environment's, in this region.
    Region(&'a str),
    /// An emulator on this machine (moto) at this endpoint: every service on it, in the local
    /// stack's region, with stand-in credentials (the environment's are never sent to it).
    Emulator(&'a str),
}

/// The region the local stack's emulator serves.
pub const LOCAL_REGION: &str = local_gateway::LOCAL_REGION;

/// The SDK's configuration for `target`. For the environment, the credentials are resolved
/// here, so that a missing or broken one is one error that says what to set, before any call.
pub async fn config(target: Target<'_>) -> anyhow::Result<SdkConfig> {
    let loader = aws_config::defaults(BehaviorVersion::latest());
    let loader = match target {
        Target::Environment => loader,
        Target::Region(region) => loader.region(Region::new(region.to_owned())),
        Target::Emulator(endpoint) => {
            return Ok(loader
                .endpoint_url(endpoint)
                .region(Region::new(LOCAL_REGION))
                .credentials_provider(local_credentials())
                .load()
                .await);
        }
    };
    let config = loader.load().await;
    let provider = config
        .credentials_provider()
        .context("no AWS credentials provider: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")?;
    if let Err(e) = provider.provide_credentials().await {
        anyhow::bail!(
            "no AWS credentials ({}); set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
            causes(&e)
        );
    }
    Ok(config)
}

/// An emulator on this machine takes any credentials; the environment's are not sent to it.
pub fn local_credentials() -> SharedCredentialsProvider {
    SharedCredentialsProvider::new(Credentials::new("testing", "testing", None, None, "local"))
}

/// A failed AWS call, `what` (the service and operation, and what it was on) followed by its
/// cause in words (see [`cause`]).
pub fn failed<E>(what: impl Display, error: SdkError<E>) -> anyhow::Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    anyhow::anyhow!("{what}: {}", cause(&error))
}
