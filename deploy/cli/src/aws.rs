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

/// Why an AWS call failed: the service's error code and message (`NotAuthorizedException:
/// Incorrect username or password.`), or, when no service answered, each cause in turn (`dispatch
/// failure: io error: ... Connection refused (os error 111)`) and what to check.
pub fn cause<E>(error: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(service) = error {
        let status = service.raw().status().as_u16();
        return match (service.err().code(), service.err().message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            (None, _) => format!("HTTP {status} with no error code"),
        };
    }
    let causes = causes(error);
    match error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
            "{causes}; the service could not be reached: check the network, and AWS_ENDPOINT_URL (or the service's own) if one is set"
        ),
        _ => causes,
    }
}

/// An error and its sources, each once, joined by `: `: their `Display`, never their `Debug`,
/// on one line.
pub fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = one_line(&e.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// `text`'s lines on one: a line ending in `:` runs on into the next, the others are joined by
/// `; ` (the credential chain lists each provider it tried on a line of its own).
fn one_line(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_cause_on_several_lines_is_put_on_one() {
        let error = Layer(
            "no credentials found in chain. Attempted:\n  Environment: not set\n  Profile: not enabled",
            None,
        );
        assert_eq!(
            causes(&error),
            "no credentials found in chain. Attempted: Environment: not set; Profile: not enabled"
        );
    }

    #[test]
    fn causes_are_each_said_once_in_words() {
        let error = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "io error",
                Some(Box::new(Layer(
                    "Connection refused (os error 111)",
                    Some(Box::new(Layer("Connection refused (os error 111)", None))),
                ))),
            ))),
        );
        assert_eq!(
            causes(&error),
            "dispatch failure: io error: Connection refused (os error 111)"
        );
    }
}
