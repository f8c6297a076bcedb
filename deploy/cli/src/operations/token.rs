//! `groupgate token`: an access token for a user, through Cognito's admin flow on the stack's
//! operator client. The public client has no password flow, so this is how an operator (or a
//! smoke test) gets a token without a browser; it needs IAM credentials allowed
//! `cognito-idp:AdminInitiateAuth` on the pool.

use anyhow::Context as _;
use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::AuthFlowType;

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
            let refused = e.as_service_error().is_some_and(|e| {
                e.is_not_authorized_exception() || e.is_user_not_found_exception()
            });
            let hint = if refused {
                "; check the user's name and password (GROUPGATE_PASSWORD, else the local stack's demo users)"
            } else {
                ""
            };
            anyhow::anyhow!("signing `{user}` in: {}{hint}", crate::aws::cause(&e))
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
