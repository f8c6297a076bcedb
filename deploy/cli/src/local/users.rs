//! The local stack's users by hand: a user added to a group (created with a password when it is
//! new), and fresh access tokens of the demo users.

use anyhow::Context as _;

use super::provision::{self, sdk};
use super::sync::{running, save};
use crate::description::DemoUser;
use crate::operations::token;

/// Adds `user` to `group` in the running local stack, creating the user (with a generated
/// password, kept in the description) when it is not one of its users. Returns whether the
/// user was created.
pub async fn add_user(user: &str, group: &str) -> anyhow::Result<bool> {
    let (mut described, path) = running()?;
    if !user.contains('@') {
        anyhow::bail!(
            "`{user}` is not an email address: the local pool signs users in by email (say `{user}@example.com`)"
        );
    }
    if !described.outputs.group_role_arns.contains_key(group) {
        anyhow::bail!(
            "the local stack has no group `{group}`: add its file to policies/ and run `groupgate local sync`"
        );
    }
    let cognito = described.cognito().await?;
    let pool = described.outputs.user_pool_id.clone();
    let local = described
        .local
        .as_mut()
        .context("the description has no local parts")?;
    let created = match local.users.iter_mut().find(|u| u.username == user) {
        Some(known) => {
            cognito
                .admin_add_user_to_group()
                .user_pool_id(&pool)
                .username(user)
                .group_name(group)
                .send()
                .await
                .map_err(sdk(&format!("Cognito AdminAddUserToGroup `{user}`")))?;
            if !known.groups.iter().any(|g| g == group) {
                known.groups.push(group.to_owned());
            }
            false
        }
        None => {
            let new = DemoUser {
                username: user.to_owned(),
                password: provision::generate_password(),
                groups: vec![group.to_owned()],
                pool: None,
            };
            provision::create_users(&cognito, &pool, std::slice::from_ref(&new)).await?;
            local.users.push(new);
            true
        }
    };
    save(&described, &path)?;
    Ok(created)
}

/// Fresh access tokens of the running local stack's demo users (or of `only`), as
/// (user, token) pairs.
pub async fn tokens(only: Option<&str>) -> anyhow::Result<Vec<(String, String)>> {
    let (described, _) = running()?;
    let users: Vec<DemoUser> = described
        .local
        .as_ref()
        .map(|l| l.users.clone())
        .unwrap_or_default();
    let chosen: Vec<&DemoUser> = users
        .iter()
        .filter(|u| only.is_none_or(|name| u.username == name))
        .collect();
    if let (Some(name), true) = (only, chosen.is_empty()) {
        let known: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
        anyhow::bail!(
            "`{name}` is not a user of the local stack: name one of {}",
            known.join(", ")
        );
    }
    let cognito = described.cognito().await?;
    let mut tokens = Vec::with_capacity(chosen.len());
    for user in chosen {
        let (pool, client) = described.sign_in_pool(&user.username)?;
        let token =
            token::access_token(&cognito, pool, client, &user.username, &user.password).await?;
        tokens.push((user.username.clone(), token));
    }
    Ok(tokens)
}

/// Empties the running local gateway's authorizer cache; returns how many results it held.
pub async fn flush() -> anyhow::Result<usize> {
    let (described, _) = running()?;
    local_gateway::flush_cache(&described.outputs.api_url).await
}
