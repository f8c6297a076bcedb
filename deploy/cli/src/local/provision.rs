//! Provisions an emulator (moto) with what the stack would create in AWS, from the same stack
//! definition and `policies/`: user pool, app client, groups with their roles, one demo user per
//! group (and one in no group), the two tables, and the seeded policies.

use std::collections::BTreeMap;

use anyhow::Context as _;
use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::{
    ExplicitAuthFlowsType, OAuthFlowType, PasswordPolicyType, ResourceServerScopeType,
    UserPoolPolicyType, UsernameAttributeType,
};
use aws_sdk_dynamodb::types::ScalarAttributeType;
use rand::Rng;
use serde_json::Value;

use groupgate_shared::env;

use crate::construct::Stack;
use crate::description::{DemoUser, LocalParts, LocalPool};
use crate::operations::seed;
use crate::stack::StackOutputs;
use crate::stack::groups::{GroupDefinition, Subject};
use crate::stack::settings::TrustedPool;

/// The IAM path of the local stack's group roles (the stack's is `/groupgate/{stack}/`).
pub const LOCAL_ROLE_PATH: &str = "/groupgate/local/";

/// The local stack's tables.
pub const POLICY_TABLE: &str = "groupgate-local-policies";
pub const PETS_TABLE: &str = "groupgate-local-pets";

/// Writes `text` to `path`, readable and writable by its owner only (mode 0600 on Unix), as the
/// local stack's description must be: it holds the demo users' passwords. The text goes into a
/// new file beside `path`, created 0600 by `tempfile`, which then replaces `path` by a rename:
/// a file already there with wider permissions (an earlier run's) does not keep them, and no
/// reader ever sees a half-written file.
pub fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => std::path::Path::new("."),
    };
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| tempfile::NamedTempFile::new_in(dir))
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.as_file().sync_all()?;
            file.persist(path).map_err(|e| e.error)
        });
    written
        .map(drop)
        .with_context(|| format!("writing `{}`", path.display()))
}

/// A password that satisfies the pool's policy: 20 characters from every class.
pub fn generate_password() -> String {
    const CLASSES: [&[u8]; 4] = [
        b"ABCDEFGHJKLMNPQRSTUVWXYZ",
        b"abcdefghijkmnopqrstuvwxyz",
        b"23456789",
        b"!#%+-=@^_",
    ];
    let mut rng = rand::rng();
    (0..20)
        .map(|i| {
            let class = CLASSES.get(i % CLASSES.len()).copied().unwrap_or(b"x");
            let index = rng.random_range(0..class.len());
            class.get(index).copied().map(char::from).unwrap_or('x')
        })
        .collect()
}

fn property<'a>(stack: &'a Stack, resource: &str, path: &[&str]) -> Option<&'a Value> {
    let mut value = &stack.resource(resource)?.properties;
    for key in path {
        value = value.get(key)?;
    }
    Some(value)
}

fn key_schema(stack: &Stack, table: &str) -> anyhow::Result<(String, ScalarAttributeType)> {
    let definition = property(stack, table, &["AttributeDefinitions"])
        .and_then(|d| d.get(0))
        .with_context(|| format!("the stack has no key for `{table}`"))?;
    let name = definition
        .get("AttributeName")
        .and_then(Value::as_str)
        .with_context(|| format!("the key of `{table}` has no name"))?
        .to_owned();
    let kind = ScalarAttributeType::from(
        definition
            .get("AttributeType")
            .and_then(Value::as_str)
            .unwrap_or("S"),
    );
    Ok((name, kind))
}

/// An AWS SDK call's failure, naming the call, with the service's error code and message.
pub(crate) fn sdk<E>(
    call: &str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E>) -> anyhow::Error + '_
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    move |e| crate::aws::failed(call, e)
}

/// What [`provision`] creates the local stack from: the stack definition and its groups, the
/// API's stage, and the emulator's and the local gateway's addresses.
pub struct Plan<'a> {
    pub stack: &'a Stack,
    pub groups: &'a [GroupDefinition],
    /// With Cedar policies, the bundle seeded beside the groups.
    pub cedar_bundle: Option<&'a str>,
    /// The settings' other trusted pools: each gets a pool of its own in the emulator.
    pub pools: &'a [TrustedPool],
    pub stage: &'a str,
    /// The emulator's address (for the JWKS URL and the description's endpoints).
    pub endpoint: &'a str,
    /// Where the local gateway will serve the API.
    pub api_url: &'a str,
}

/// Creates everything in the emulator `aws` points at, and returns the local stack's outputs
/// and its own parts (see [`crate::description::StackDescription`]).
pub async fn provision(
    aws: &SdkConfig,
    plan: &Plan<'_>,
) -> anyhow::Result<(StackOutputs, LocalParts)> {
    let (stack, groups, endpoint) = (plan.stack, plan.groups, plan.endpoint);
    let region = aws
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| crate::aws::LOCAL_REGION.to_owned());
    let cognito = Cognito::new(aws);
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);

    let (pool, client_id) = create_pool(&cognito, stack).await?;
    let operator_client_id = create_client(&cognito, stack, &pool, "OperatorClient").await?;
    let machine_client_id = create_machine_client(&cognito, stack, &pool).await?;
    for (id, name) in [("PolicyTable", POLICY_TABLE), ("PetsTable", PETS_TABLE)] {
        let (key, kind) = key_schema(stack, id)?;
        groupgate_shared::dynamodb::create_table(&dynamodb, name, &key, kind).await?;
    }
    crate::operations::pets::seed_defaults(&dynamodb, PETS_TABLE).await?;
    // The local pool's groups; scopes and other pools' groups are seeded only.
    let local_groups: Vec<GroupDefinition> = groups
        .iter()
        .filter(|g| g.stack_group().is_some())
        .cloned()
        .collect();
    let iam = aws_sdk_iam::Client::new(aws);
    let mut roles = create_groups(&iam, &cognito, &pool, &local_groups).await?;
    let mut users = demo_users(&local_groups);
    create_users(&cognito, &pool, &users).await?;
    // The settings' other pools: a pool each, with its groups, their roles and demo users.
    let mut pools = Vec::with_capacity(plan.pools.len());
    for trusted in plan.pools {
        let (pool_id, client_id) = create_other_pool(&cognito, trusted).await?;
        let its_groups: Vec<GroupDefinition> = groups
            .iter()
            .filter(|g| g.pool == trusted.group_prefix && matches!(g.subject, Subject::Group(_)))
            .cloned()
            .collect();
        roles.extend(create_groups(&iam, &cognito, &pool_id, &its_groups).await?);
        let its_users: Vec<DemoUser> = its_groups.iter().map(other_pool_user).collect();
        create_users(&cognito, &pool_id, &its_users).await?;
        users.extend(its_users);
        pools.push(LocalPool {
            group_prefix: trusted.group_prefix.clone(),
            jwks_url: format!("{endpoint}/{pool_id}/.well-known/jwks.json"),
            pool_id,
            client_id,
            scopes_for_users: trusted.scopes_for_users,
        });
    }
    let seeded = seed::Seed {
        groups,
        cedar_bundle: plan.cedar_bundle,
    };
    seed::seed(&dynamodb, POLICY_TABLE, seeded, &roles, true).await?;

    let outputs = StackOutputs {
        api_url: plan.api_url.to_owned(),
        rest_api_id: local_gateway::LOCAL_API_ID.to_owned(),
        stage_name: plan.stage.to_owned(),
        region,
        user_pool_client_id: client_id,
        operator_client_id,
        policy_table_name: POLICY_TABLE.to_owned(),
        pets_table_name: PETS_TABLE.to_owned(),
        group_role_arns: roles,
        hosted_ui_url: None,
        machine_client_id,
        user_pool_id: pool.clone(),
    };
    let local = LocalParts {
        cognito_endpoint: endpoint.to_owned(),
        dynamodb_endpoint: endpoint.to_owned(),
        jwks_url: format!("{endpoint}/{pool}/.well-known/jwks.json"),
        users,
        pools,
    };
    Ok((outputs, local))
}

/// The pool, with the template's password policy, sign-in attribute and auth flows, and its
/// app client. Returns (pool id, client id).
async fn create_pool(cognito: &Cognito, stack: &Stack) -> anyhow::Result<(String, String)> {
    let policy = property(stack, "UserPool", &["Policies", "PasswordPolicy"])
        .context("no password policy in the stack")?;
    let flag = |k: &str| policy.get(k).and_then(Value::as_bool).unwrap_or(true);
    let min_length = policy
        .get("MinimumLength")
        .and_then(Value::as_i64)
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(12);
    let pool = cognito
        .create_user_pool()
        .pool_name("groupgate-local-users")
        .username_attributes(UsernameAttributeType::Email)
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(min_length)
                        .require_lowercase(flag("RequireLowercase"))
                        .require_uppercase(flag("RequireUppercase"))
                        .require_numbers(flag("RequireNumbers"))
                        .require_symbols(flag("RequireSymbols"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(sdk("Cognito CreateUserPool"))?
        .user_pool
        .and_then(|p| p.id)
        .context("CreateUserPool returned no pool id")?;
    let client_id = create_client(cognito, stack, &pool, "UserPoolClient").await?;
    Ok((pool, client_id))
}

/// The stack's resource servers and its client-credentials client, when the policies name
/// scopes of its pool. Returns the client's id. moto has no token endpoint, so the local
/// stack's machine tokens are signed by `scripts/machine-token.py` with the key moto signs its
/// own tokens with; the client and its scopes here are what the authorizer and the toolbox see.
async fn create_machine_client(
    cognito: &Cognito,
    stack: &Stack,
    pool: &str,
) -> anyhow::Result<Option<String>> {
    if stack.resource("MachineClient").is_none() {
        return Ok(None);
    }
    for (id, resource) in stack.resources() {
        if resource.kind != "AWS::Cognito::UserPoolResourceServer" {
            continue;
        }
        let text = |key: &str| {
            resource
                .properties
                .get(key)
                .and_then(Value::as_str)
                .with_context(|| format!("no `{key}` for `{id}` in the stack"))
        };
        let scopes = resource
            .properties
            .get("Scopes")
            .and_then(Value::as_array)
            .with_context(|| format!("no scopes for `{id}` in the stack"))?
            .iter()
            .map(|scope| {
                let field = |key: &str| scope.get(key).and_then(Value::as_str).unwrap_or_default();
                ResourceServerScopeType::builder()
                    .scope_name(field("ScopeName"))
                    .scope_description(field("ScopeDescription"))
                    .build()
                    .context("a resource server scope")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        cognito
            .create_resource_server()
            .user_pool_id(pool)
            .identifier(text("Identifier")?)
            .name(text("Name")?)
            .set_scopes(Some(scopes))
            .send()
            .await
            .map_err(sdk("Cognito CreateResourceServer"))?;
    }
    let scopes: Vec<String> = property(stack, "MachineClient", &["AllowedOAuthScopes"])
        .and_then(Value::as_array)
        .context("no scopes for `MachineClient` in the stack")?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name("machine")
        .generate_secret(true)
        .allowed_o_auth_flows_user_pool_client(true)
        .allowed_o_auth_flows(OAuthFlowType::ClientCredentials)
        .set_allowed_o_auth_scopes(Some(scopes))
        .send()
        .await
        .map_err(sdk("Cognito CreateUserPoolClient `machine`"))?
        .user_pool_client
        .and_then(|c| c.client_id)
        .context("CreateUserPoolClient returned no client id")?;
    Ok(Some(client))
}

/// The app client `id` of the stack, with its name and auth flows. Returns its client id.
async fn create_client(
    cognito: &Cognito,
    stack: &Stack,
    pool: &str,
    id: &str,
) -> anyhow::Result<String> {
    let flows = property(stack, id, &["ExplicitAuthFlows"])
        .and_then(Value::as_array)
        .with_context(|| format!("no auth flows for `{id}` in the stack"))?
        .iter()
        .filter_map(Value::as_str)
        .map(ExplicitAuthFlowsType::from)
        .collect::<Vec<_>>();
    let name = property(stack, id, &["ClientName"])
        .and_then(Value::as_str)
        .unwrap_or(id);
    cognito
        .create_user_pool_client()
        .user_pool_id(pool)
        .client_name(name)
        .set_explicit_auth_flows(Some(flows))
        .send()
        .await
        .map_err(sdk("Cognito CreateUserPoolClient"))?
        .user_pool_client
        .and_then(|c| c.client_id)
        .context("CreateUserPoolClient returned no client id")
}

/// One Cognito group per definition (of the local pool's groups), each with an IAM role under [`LOCAL_ROLE_PATH`]. Returns
/// the role ARN of each group.
pub(crate) async fn create_groups(
    iam: &aws_sdk_iam::Client,
    cognito: &Cognito,
    pool: &str,
    groups: &[GroupDefinition],
) -> anyhow::Result<BTreeMap<String, String>> {
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]});
    let mut roles = BTreeMap::new();
    for group in groups {
        let role_name = role_name(group);
        // Each step takes what an earlier, cut-off run left (a role or group that exists), so
        // a sync that failed half-way never blocks the next one.
        let created = iam
            .create_role()
            .role_name(&role_name)
            .path(LOCAL_ROLE_PATH)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await;
        let role = match created {
            Ok(out) => out.role,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_entity_already_exists_exception()) =>
            {
                iam.get_role()
                    .role_name(&role_name)
                    .send()
                    .await
                    .map_err(sdk(&format!("IAM GetRole `{role_name}`")))?
                    .role
            }
            Err(e) => return Err(sdk(&format!("IAM CreateRole `{role_name}`"))(e)),
        };
        let role_arn = role.map(|r| r.arn).context("IAM returned no role")?;
        let made = cognito
            .create_group()
            .user_pool_id(pool)
            .group_name(cognito_group_name(group))
            .description(&group.description)
            .precedence(cognito_precedence(group))
            .role_arn(&role_arn)
            .send()
            .await;
        match made {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_group_exists_exception()) =>
            {
                update_group(cognito, pool, group, Some(role_arn.clone())).await?;
            }
            Err(e) => return Err(sdk("Cognito CreateGroup")(e)),
        }
        roles.insert(group.key.clone(), role_arn);
    }
    Ok(roles)
}

/// Brings `definition`'s Cognito group to its description and precedence as written now, and
/// to `role_arn` when given.
pub(crate) async fn update_group(
    cognito: &Cognito,
    pool: &str,
    definition: &GroupDefinition,
    role_arn: Option<String>,
) -> anyhow::Result<()> {
    cognito
        .update_group()
        .user_pool_id(pool)
        .group_name(cognito_group_name(definition))
        .description(&definition.description)
        .precedence(cognito_precedence(definition))
        .set_role_arn(role_arn)
        .send()
        .await
        .map_err(sdk(&format!("Cognito UpdateGroup `{}`", definition.key)))?;
    Ok(())
}

/// Cognito's precedence is an `i32`; a larger one is held at its top.
fn cognito_precedence(definition: &GroupDefinition) -> i32 {
    i32::try_from(definition.precedence).unwrap_or(i32::MAX)
}

/// A group definition's name in its own pool (its key without the pool's prefix).
fn cognito_group_name(definition: &GroupDefinition) -> &str {
    match &definition.subject {
        Subject::Group(name) => name,
        Subject::Scope(scope) => scope,
    }
}

/// A stand-in in the emulator for another trusted pool: a pool of users signing in by email,
/// and one client with the admin sign-in flow, for the demo users' tokens. Returns (pool id,
/// client id).
async fn create_other_pool(
    cognito: &Cognito,
    trusted: &TrustedPool,
) -> anyhow::Result<(String, String)> {
    let name = format!(
        "groupgate-local-{}",
        trusted.group_prefix.trim_end_matches(':')
    );
    let pool = cognito
        .create_user_pool()
        .pool_name(&name)
        .username_attributes(UsernameAttributeType::Email)
        .send()
        .await
        .map_err(sdk(&format!("Cognito CreateUserPool `{name}`")))?
        .user_pool
        .and_then(|p| p.id)
        .context("CreateUserPool returned no pool id")?;
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&pool)
        .client_name("operator")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .map_err(sdk(&format!("Cognito CreateUserPoolClient in `{name}`")))?
        .user_pool_client
        .and_then(|c| c.client_id)
        .context("CreateUserPoolClient returned no client id")?;
    Ok((pool, client))
}

/// The demo user of another pool's group: `admin@partners.groupgate.local` for `partners:admin`.
fn other_pool_user(definition: &GroupDefinition) -> DemoUser {
    DemoUser {
        username: format!(
            "{}@{}.groupgate.local",
            cognito_group_name(definition),
            definition.pool.trim_end_matches(':')
        ),
        password: generate_password(),
        groups: vec![definition.key.clone()],
        pool: Some(definition.pool.clone()),
    }
}

/// The IAM role name [`create_groups`] gives `group`'s role.
pub(crate) fn role_name(group: &GroupDefinition) -> String {
    format!("groupgate-local-{}", group.logical_name())
}

/// The name of `group`'s demo user.
pub(crate) fn demo_username(group: &str) -> String {
    format!("{group}@groupgate.local")
}

/// The demo user of `group`, with a fresh password.
pub(crate) fn demo_user(group: &str) -> DemoUser {
    DemoUser {
        username: demo_username(group),
        password: generate_password(),
        groups: vec![group.to_owned()],
        pool: None,
    }
}

/// One demo user per group, and one in no group.
fn demo_users(groups: &[GroupDefinition]) -> Vec<DemoUser> {
    let mut users: Vec<DemoUser> = groups.iter().map(|g| demo_user(&g.key)).collect();
    users.push(DemoUser {
        username: "nobody@groupgate.local".to_owned(),
        password: generate_password(),
        groups: Vec::new(),
        pool: None,
    });
    users
}

/// Creates each user with its password, in its groups.
pub(crate) async fn create_users(
    cognito: &Cognito,
    pool: &str,
    users: &[DemoUser],
) -> anyhow::Result<()> {
    for user in users {
        // A user that exists (an earlier, cut-off sync, or `local add-user`) is taken as it is:
        // its password is set and its group added below, both of which may be repeated.
        let created = cognito
            .admin_create_user()
            .user_pool_id(pool)
            .username(&user.username)
            .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_username_exists_exception()) => {}
            Err(e) => return Err(sdk("Cognito AdminCreateUser")(e)),
        }
        cognito
            .admin_set_user_password()
            .user_pool_id(pool)
            .username(&user.username)
            .password(&user.password)
            .permanent(true)
            .send()
            .await
            .map_err(sdk("Cognito AdminSetUserPassword"))?;
        for group in &user.groups {
            // A key of another pool's group is its prefix and the group's own name.
            let prefix = user.pool.as_deref().unwrap_or_default();
            let name = group.strip_prefix(prefix).unwrap_or(group);
            cognito
                .admin_add_user_to_group()
                .user_pool_id(pool)
                .username(&user.username)
                .group_name(name)
                .send()
                .await
                .map_err(sdk("Cognito AdminAddUserToGroup"))?;
        }
    }
    Ok(())
}

/// The environment both functions run with under `cargo lambda watch`, as `KEY=VALUE` lines.
pub fn functions_env(
    stack: &StackOutputs,
    local: &LocalParts,
    settings: &crate::stack::Settings,
    cors_origins: &str,
) -> String {
    let assume_group_role = settings.assume_group_role;
    // As the template sets it: only a Cedar stack's authorizer is told its language.
    let policy_language = match settings.policy_language {
        crate::stack::settings::PolicyLanguage::Iam => String::new(),
        language => language.to_string(),
    };
    let mut client_ids = vec![
        stack.user_pool_client_id.clone(),
        stack.operator_client_id.clone(),
    ];
    client_ids.extend(stack.machine_client_id.iter().cloned());
    // With other pools, all of them in USER_POOLS (the stack's first, unprefixed), each with
    // the emulator's address of its keys; the one-pool variables are then left out, as the
    // authorizer refuses both.
    let user_pools = match local.pools.is_empty() {
        true => String::new(),
        false => {
            let mut pools = vec![serde_json::json!({
                "pool_id": stack.user_pool_id, "client_ids": client_ids, "token_use": "access",
                "group_prefix": "", "jwks_url": local.jwks_url,
            })];
            pools.extend(local.pools.iter().map(|p| {
                serde_json::json!({
                    "pool_id": p.pool_id, "client_ids": [p.client_id], "token_use": "access",
                    "group_prefix": p.group_prefix, "jwks_url": p.jwks_url,
                    "scopes_for_users": p.scopes_for_users,
                })
            }));
            Value::Array(pools).to_string()
        }
    };
    let one_pool = |value: &str| match user_pools.is_empty() {
        true => value.to_owned(),
        false => String::new(),
    };
    let (pool_id, client_ids, jwks_url) = (
        one_pool(&stack.user_pool_id),
        one_pool(&client_ids.join(",")),
        one_pool(&local.jwks_url),
    );
    [
        ("AWS_ENDPOINT_URL", local.cognito_endpoint.as_str()),
        ("AWS_REGION", stack.region.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        (env::USER_POOL_ID, pool_id.as_str()),
        (env::APP_CLIENT_IDS, client_ids.as_str()),
        (env::USER_POOLS, user_pools.as_str()),
        (env::POLICY_TABLE, stack.policy_table_name.as_str()),
        (env::JWKS_URL, jwks_url.as_str()),
        (env::PETS_TABLE, stack.pets_table_name.as_str()),
        (
            env::ASSUME_GROUP_ROLE,
            if assume_group_role { "true" } else { "false" },
        ),
        (env::GROUP_ROLE_PATH, LOCAL_ROLE_PATH),
        (env::CORS_ORIGINS, cors_origins),
        (
            crate::stack::POLICY_LANGUAGE_VARIABLE,
            policy_language.as_str(),
        ),
        // The authorizer reads the policy table on every call it gets: after `local sync`
        // re-seeds the table and flushes the gateway's cache, the next call decides on the new
        // policies, never on the authorizer's own cached copy (60 s in the deployed stack).
        (env::POLICY_CACHE_TTL_SECONDS, "0"),
        ("AWS_LAMBDA_LOG_FORMAT", "json"),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(k, v)| env_line(k, v))
    .collect()
}

/// `KEY=VALUE` for cargo-lambda's environment file (dotenv): a value with characters the format
/// reads specially (a JSON value's quotes and spaces, `#`, `$`) in single quotes, which keep it
/// as it is, or, holding a single quote itself, in double quotes with `\`, `"` and `$` escaped.
fn env_line(key: &str, value: &str) -> String {
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.,:/@=+".contains(&b));
    if plain {
        return format!("{key}={value}\n");
    }
    if !value.contains('\'') {
        return format!("{key}='{value}'\n");
    }
    let escaped = value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('$', "\\$");
    format!("{key}=\"{escaped}\"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt as _;

    #[cfg(unix)]
    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// Issue #20: `.local/stack.json` holds the demo users' passwords and was written with the
    /// umask's mode (0644: readable by every user of the machine), and kept an earlier file's.
    #[cfg(unix)]
    #[tokio::test]
    async fn the_stack_description_with_the_passwords_is_readable_by_its_owner_only() {
        let moto = groupgate_testkit::Moto::start().await;
        let dir = std::env::temp_dir().join(groupgate_testkit::unique("local-stack"));
        std::fs::create_dir_all(&dir).unwrap();
        let (out, env_file) = (dir.join("stack.json"), dir.join("functions.env"));
        // An earlier run's file, readable by all.
        std::fs::write(&out, "{}").unwrap();
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o644)).unwrap();
        let settings =
            crate::stack::Settings::load(&crate::stack::Settings::default_path()).unwrap();
        crate::local::provision_emulator(
            &moto.endpoint,
            "http://127.0.0.1:1/prod",
            &crate::stack::groups::default_dir(),
            &out,
            &env_file,
            &settings,
        )
        .await
        .unwrap();
        let described = crate::description::StackDescription::load(&out).unwrap();
        let local = described.local.unwrap();
        assert!(local.users.iter().all(|u| !u.password.is_empty()));
        assert_eq!(format!("{:o}", mode(&out)), "600", "{}", out.display());
        assert_eq!(format!("{:o}", mode(&env_file)), "600");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            2,
            "no temporary file is left: {leftovers:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn each_other_pool_of_the_settings_gets_a_pool_its_users_and_a_place_in_user_pools() {
        // Its own server: the local stack's table names are fixed, and another test of this
        // binary provisions the shared one.
        let moto = groupgate_testkit::Moto::start_own().await;
        let dir = std::env::temp_dir().join(groupgate_testkit::unique("local-pools"));
        std::fs::create_dir_all(&dir).unwrap();
        let (out, env_file) = (dir.join("stack.json"), dir.join("functions.env"));
        let example = crate::stack::settings::checkout_root().join("examples/tenants");
        let settings = crate::stack::Settings::load(&example.join("groupgate.toml")).unwrap();
        crate::local::provision_emulator(
            &moto.endpoint,
            "http://127.0.0.1:1/prod",
            &example.join("policies"),
            &out,
            &env_file,
            &settings,
        )
        .await
        .unwrap();
        let described = crate::description::StackDescription::load(&out).unwrap();
        let local = described.local.as_ref().unwrap();
        let [partners] = local.pools.as_slice() else {
            panic!("one other pool: {:?}", local.pools)
        };
        assert_eq!(partners.group_prefix, "partners:");
        assert_ne!(partners.pool_id, described.outputs.user_pool_id);
        let user = local
            .users
            .iter()
            .find(|u| u.pool.as_deref() == Some("partners:"))
            .unwrap();
        assert_eq!(user.groups, ["partners:admin"]);
        assert_eq!(
            described.sign_in_pool(&user.username).unwrap(),
            (partners.pool_id.as_str(), partners.client_id.as_str())
        );
        assert!(
            described
                .outputs
                .group_role_arns
                .contains_key("partners:admin")
        );
        // The functions get every pool in USER_POOLS, and none of the one-pool variables.
        let env = std::fs::read_to_string(&env_file).unwrap();
        assert!(!env.contains("USER_POOL_ID="), "{env}");
        let line = env.lines().find(|l| l.starts_with("USER_POOLS=")).unwrap();
        let json = line
            .strip_prefix("USER_POOLS='")
            .and_then(|l| l.strip_suffix('\''))
            .unwrap();
        let pools: Value = serde_json::from_str(json).unwrap();
        assert_eq!(pools[0]["group_prefix"], "");
        assert_eq!(pools[1]["pool_id"], partners.pool_id.as_str());
        assert_eq!(pools[1]["jwks_url"], partners.jwks_url.as_str());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn environment_file_values_are_quoted_as_dotenv_reads_them() {
        assert_eq!(env_line("A", "us-east-1_x,y"), "A=us-east-1_x,y\n");
        assert_eq!(env_line("P", r#"[{"a": "b"}]"#), "P='[{\"a\": \"b\"}]'\n");
        assert_eq!(env_line("Q", r#"it's "$x""#), "Q=\"it's \\\"\\$x\\\"\"\n");
    }

    #[test]
    fn a_private_file_in_a_missing_folder_is_created_with_it() {
        let dir = std::env::temp_dir().join(groupgate_testkit::unique("private"));
        let path = dir.join("a/b.json");
        write_private(&path, "secret\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "secret\n");
        assert_eq!(format!("{:o}", mode(&path)), "600");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn generated_passwords_meet_the_pool_policy() {
        for _ in 0..50 {
            let p = generate_password();
            assert_eq!(p.len(), 20);
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| !c.is_ascii_alphanumeric()));
        }
        assert_ne!(generate_password(), generate_password());
    }
}
