//! `groupgate token`: an access token for a user, through Cognito's admin flow on the stack's
//! operator client. The public client has no password flow, so this is how an operator (or a
//! smoke test) gets a token without a browser; it needs IAM credentials allowed
//! `cognito-idp:AdminInitiateAuth` on the pool.

use std::path::Path;

use anyhow::Context as _;
use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;
use serde::Deserialize;

/// The parts of a stack description (`.local/stack.json`, or the file the deployed smoke test
/// writes) that a token needs.
#[derive(Debug, Deserialize)]
pub struct StackFile {
    pub user_pool_id: String,
    pub operator_client_id: String,
    /// Cognito's endpoint when it is not the environment's (an emulator).
    #[serde(default)]
    pub cognito_endpoint: Option<String>,
    /// DynamoDB's endpoint when it is not the environment's (an emulator).
    #[serde(default)]
    pub dynamodb_endpoint: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub users: Vec<User>,
    /// The pets table, for removing what a smoke test wrote.
    #[serde(default)]
    pub pets_table: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub username: String,
    pub password: String,
}

impl StackFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the stack description `{}`", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not a stack description", path.display()))
    }

    /// The description of a deployed stack, from its outputs (`UserPoolId`, `OperatorClientId`,
    /// `Region`, `PetsTableName`).
    pub async fn from_stack(aws: &aws_config::SdkConfig, name: &str) -> anyhow::Result<Self> {
        let cfn = aws_sdk_cloudformation::Client::new(aws);
        let outputs = super::cloudformation::read_outputs(&cfn, name).await?;
        let take =
            |key: &str| super::cloudformation::output(&outputs, name, key).map(str::to_owned);
        Ok(Self {
            user_pool_id: take("UserPoolId")?,
            operator_client_id: take("OperatorClientId")?,
            cognito_endpoint: None,
            dynamodb_endpoint: None,
            region: take("Region").ok(),
            users: Vec::new(),
            pets_table: take("PetsTableName").ok(),
        })
    }

    /// The password the file keeps for `user` (the local stack's demo users).
    pub fn password(&self, user: &str) -> Option<&str> {
        self.users
            .iter()
            .find(|u| u.username == user)
            .map(|u| u.password.as_str())
    }
}

/// Signs `user` in with `ADMIN_USER_PASSWORD_AUTH` and returns the access token.
pub async fn access_token(
    cognito: &Cognito,
    pool: &str,
    client: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<String> {
    let auth = cognito
        .admin_initiate_auth()
        .user_pool_id(pool)
        .client_id(client)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", user)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "signing `{user}` in: {}",
                aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(e)
            )
        })?;
    if let Some(challenge) = auth.challenge_name() {
        anyhow::bail!(
            "`{user}` must first answer the `{}` challenge (a new password, say)",
            challenge.as_str()
        );
    }
    auth.authentication_result
        .and_then(|r| r.access_token)
        .context("Cognito returned no access token")
}

/// A Cognito client for the stack: its `cognito_endpoint` when the description names one, the
/// environment's (`AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER`, `AWS_ENDPOINT_URL`, or AWS's
/// own) otherwise.
pub async fn cognito_client(stack: &StackFile) -> anyhow::Result<Cognito> {
    let base = base_config(stack).await;
    let mut config = aws_sdk_cognitoidentityprovider::config::Builder::from(&base);
    if let Some(endpoint) =
        ServiceEndpoint::parse("cognito_endpoint", stack.cognito_endpoint.as_deref())?
    {
        config.set_endpoint_url(Some(endpoint.url));
        if endpoint.local {
            config.set_credentials_provider(Some(local_credentials()));
        }
    }
    Ok(Cognito::from_conf(config.build()))
}

/// A DynamoDB client for the stack: its `dynamodb_endpoint` when the description names one, the
/// environment's otherwise. Never Cognito's endpoint: each service has its own.
pub async fn dynamodb_client(stack: &StackFile) -> anyhow::Result<aws_sdk_dynamodb::Client> {
    let base = base_config(stack).await;
    let mut config = aws_sdk_dynamodb::config::Builder::from(&base);
    if let Some(endpoint) =
        ServiceEndpoint::parse("dynamodb_endpoint", stack.dynamodb_endpoint.as_deref())?
    {
        config.set_endpoint_url(Some(endpoint.url));
        if endpoint.local {
            config.set_credentials_provider(Some(local_credentials()));
        }
    }
    Ok(aws_sdk_dynamodb::Client::from_conf(config.build()))
}

/// The environment's configuration, in the description's region when it names one. Endpoints
/// are set per service on top of it, never here: an endpoint on the shared configuration would
/// send every service's calls to it.
async fn base_config(stack: &StackFile) -> aws_config::SdkConfig {
    let mut loader = aws_config::from_env();
    if let Some(region) = &stack.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    loader.load().await
}

/// An emulator on this machine takes any credentials; the environment's are not sent to it.
fn local_credentials() -> aws_sdk_cognitoidentityprovider::config::SharedCredentialsProvider {
    aws_sdk_cognitoidentityprovider::config::SharedCredentialsProvider::new(
        aws_sdk_cognitoidentityprovider::config::Credentials::new(
            "testing", "testing", None, None, "local",
        ),
    )
}

/// One service's endpoint from a stack description.
#[derive(Debug, PartialEq, Eq)]
struct ServiceEndpoint {
    url: String,
    /// On this machine (a loopback address or `localhost`): an emulator.
    local: bool,
}

impl ServiceEndpoint {
    /// Parses the value of `field`. The host decides whether it is local, never a prefix of the
    /// text (`http://127.0.0.1.example.com` is not). Plain HTTP is refused unless local: the
    /// admin sign-in sends a password.
    fn parse(field: &str, value: Option<&str>) -> anyhow::Result<Option<Self>> {
        let Some(text) = value.filter(|v| !v.is_empty()) else {
            return Ok(None);
        };
        let url = url::Url::parse(text)
            .map_err(|e| anyhow::anyhow!("`{field}` `{text}` is not a URL: {e}"))?;
        let local = match url.host() {
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => anyhow::bail!("`{field}` `{text}` names no host"),
        };
        match url.scheme() {
            "https" => {}
            "http" if local => {}
            "http" => {
                anyhow::bail!("`{field}` `{text}` is plain HTTP to another machine: use https")
            }
            other => anyhow::bail!("`{field}` `{text}` is `{other}`, not an http(s) URL"),
        }
        Ok(Some(Self {
            url: text.to_owned(),
            local,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Option<ServiceEndpoint>> {
        ServiceEndpoint::parse("cognito_endpoint", Some(text))
    }

    #[test]
    fn only_a_loopback_host_or_localhost_is_local() {
        for local in [
            "http://127.0.0.1:5000",
            "http://127.0.0.2:5000/",
            "http://localhost:5000",
            "http://LOCALHOST",
            "http://[::1]:5000",
        ] {
            assert!(parse(local).unwrap().unwrap().local, "{local}");
        }
        for remote in [
            "https://cognito-idp.us-east-1.amazonaws.com",
            "https://127.0.0.1.attacker.example",
            "https://localhost.attacker.example",
            "https://[::1].attacker.example",
            "https://attacker.example/127.0.0.1",
            "https://user@attacker.example",
        ] {
            // Some of these are not URLs at all; none is local.
            assert!(
                !parse(remote).is_ok_and(|e| e.is_some_and(|e| e.local)),
                "{remote}"
            );
        }
    }

    #[test]
    fn plain_http_to_another_machine_is_refused() {
        let error = parse("http://127.0.0.1.attacker.example")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "`cognito_endpoint` `http://127.0.0.1.attacker.example` is plain HTTP to another machine: use https"
        );
        let error = parse("ftp://127.0.0.1").unwrap_err().to_string();
        assert!(error.contains("not an http(s) URL"), "{error}");
        let error = parse("127.0.0.1:5000").unwrap_err().to_string();
        assert!(error.contains("`127.0.0.1:5000`"), "{error}");
    }

    #[test]
    fn no_endpoint_leaves_the_service_to_the_environment() {
        assert_eq!(
            ServiceEndpoint::parse("dynamodb_endpoint", None).unwrap(),
            None
        );
        assert_eq!(
            ServiceEndpoint::parse("dynamodb_endpoint", Some("")).unwrap(),
            None
        );
    }
}
