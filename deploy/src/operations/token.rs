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
    /// Cognito's endpoint when it is not AWS's own (an emulator).
    #[serde(default)]
    pub cognito_endpoint: Option<String>,
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

/// The SDK configuration for the stack's services: its own endpoint and test credentials when
/// it is an emulator on this machine, the environment's otherwise.
pub async fn sdk_config(stack: &StackFile) -> aws_config::SdkConfig {
    let mut loader = aws_config::from_env();
    if let Some(region) = &stack.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(endpoint) = &stack.cognito_endpoint {
        loader = loader.endpoint_url(endpoint);
        let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|prefix| endpoint.starts_with(prefix));
        if local {
            loader = loader.credentials_provider(
                aws_sdk_cognitoidentityprovider::config::Credentials::new(
                    "testing", "testing", None, None, "local",
                ),
            );
        }
    }
    loader.load().await
}
