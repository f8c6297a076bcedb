//! The app stack: the user pool and its groups, the tables, the two functions and the REST API
//! with its Lambda authorizer. Also the API's routes and authorizer settings, which the local
//! gateway reads so it behaves like the deployed API.

use groupgate_shared::cors::{self, AllowedOrigins};
use groupgate_shared::env;
use serde_json::json;

use crate::Settings;
use crate::api::{self, Api, Integration, Operation};
use crate::assets::Assets;
use crate::bootstrap::{APP_ROLE_PATH, PRODUCT_TAG};
use crate::construct::resources::{
    Function, LOG_RETENTION_DAYS, RoleScope, allow, dynamodb_table, iam_role, invoke_permission,
    lambda_function, lambda_invocation_uri, log_group,
};
use crate::construct::{Expr, Handle, Parameter, Resource, Stack, canonical};
use crate::groups::{DataAccess, GroupDefinition, Subject};
use crate::monitoring;
use crate::outputs::Output;
use crate::settings::{PolicyLanguage, TrustedPool};

/// The hint of each gateway response type, for the local gateway.
pub fn gateway_hints() -> std::collections::HashMap<String, String> {
    GATEWAY_RESPONSES
        .iter()
        .map(|(_, kind, _, hint)| ((*kind).to_owned(), (*hint).to_owned()))
        .collect()
}

/// Security-scanner (checkov) checks that do not apply to this stack's resources, and why.
mod waivers {
    pub const FUNCTION: &[(&str, &str)] = &[
        (
            "CKV_AWS_116",
            "invoked synchronously by API Gateway: a dead-letter queue only receives failed asynchronous invocations",
        ),
        (
            "CKV_AWS_117",
            "calls only AWS public endpoints (Cognito keys, DynamoDB, STS); a VPC would add NAT cost and cold-start time and protect nothing more",
        ),
        (
            "CKV_AWS_115",
            "reserved concurrency can make the stack undeployable in accounts with a low concurrency limit; the stage's throttling bounds the load instead",
        ),
        (
            "CKV_AWS_173",
            "the variables hold resource names and ids, no secrets; Lambda encrypts them at rest with its AWS managed key",
        ),
    ];
    pub const LOG_GROUP: &[(&str, &str)] = &[(
        "CKV_AWS_158",
        "the logs hold no tokens or secrets (they are never logged) and are encrypted at rest by CloudWatch; a customer managed key would need a key policy for the logs service",
    )];
    pub const TABLE: &[(&str, &str)] = &[(
        "CKV_AWS_119",
        "encrypted at rest with DynamoDB's AWS owned key; a customer managed key would need key policies and grants for every role that reads the table (the authorizer, each group role)",
    )];
    pub const PUBLIC_METHOD: &[(&str, &str)] = &[(
        "CKV_AWS_59",
        "the API's OpenAPI document makes this operation public (`security: []`): it is meant to be called without a token",
    )];
    pub const STAGE: &[(&str, &str)] = &[(
        "CKV_AWS_120",
        "response caching would serve one caller's answer to another; the authorizer's results are cached per token instead",
    )];
}

/// The resources that hold data: a deploy refuses to replace or delete them unless told to.
pub const DATA_RESOURCES: &[&str] = &["UserPool", "PolicyTable", PETS_TABLE];

/// The pets table's logical id. CloudFormation names the table `{stack}-PetsTable-{random}`,
/// which is how the bootstrap's permissions boundary tells it from the policy table.
pub const PETS_TABLE: &str = "PetsTable";
/// Seconds the authorizer keeps a group's policy before reading it again.
pub const POLICY_CACHE_TTL_SECONDS: u64 = 60;

/// The REST API's name, as a `Fn::Sub` template: the stack's name and the API's title, in the
/// letters, digits and `-` that are safe in a template and in CloudWatch's `ApiName` dimension.
fn api_name(api: &Api) -> String {
    let title: String = api
        .title
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    format!("${{AWS::StackName}}-{}", title.trim_matches('-'))
}

/// The request header the authorizer's token comes from (its identity source).
pub const IDENTITY_HEADER: &str = "Authorization";

/// The authorizer's variable naming the policy language it decides with (`iam`, `cedar`); the
/// template sets it only for Cedar, so an IAM stack's authorizer is configured as before.
pub const POLICY_LANGUAGE_VARIABLE: &str = env::POLICY_LANGUAGE;

/// What API Gateway caches the authorizer's answer by, as the REQUEST authorizer's
/// `IdentitySource` mapping expressions. With IAM policies the answer is the caller's merged
/// policy, right for every method, so the token alone keys it. With Cedar policies the
/// authorizer answers for one route (an Allow or a Deny on this method and resource path), so
/// the method and the resource path key it too, or API Gateway would apply one route's answer
/// to another. The context variables are `$context.httpMethod` and `$context.resourcePath`,
/// named `context.{variable}` in an identity source, and the list is comma-separated:
/// <https://docs.aws.amazon.com/apigateway/latest/api/API_CreateAuthorizer.html> (`identitySource`),
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/configure-api-gateway-lambda-authorization.html>,
/// <https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference>.
pub fn identity_sources(language: PolicyLanguage) -> Vec<String> {
    let header = format!("method.request.header.{IDENTITY_HEADER}");
    match language {
        PolicyLanguage::Iam => vec![header],
        PolicyLanguage::Cedar => vec![
            header,
            "context.httpMethod".to_owned(),
            "context.resourcePath".to_owned(),
        ],
    }
}
/// The Lambda functions, by the binary names cargo-lambda builds them under.
pub const FUNCTIONS: [&str; 2] = ["authorizer", "backend"];

/// The access log line: who (`principalId`), what the authorizer and API Gateway decided.
const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","method":"$context.httpMethod","path":"$context.resourcePath","status":"$context.status","principalId":"$context.authorizer.principalId","authorizeStatus":"$context.authorize.status","authorizeError":"$context.authorize.error","authorizerStatus":"$context.authorizer.status","authorizerError":"$context.authorizer.error","authorizerLatency":"$context.authorizer.latency","responseLatency":"$context.responseLatency"}"#;

/// The template's parameters, and the settings it is synthesized with.
pub(crate) struct Params<'s> {
    pub(crate) bucket: Expr,
    pub(crate) boundary: Expr,
    pub(crate) retention: Expr,
    callback: Expr,
    /// The condition that holds when a hosted UI callback URL is given.
    hosted_ui: String,
    pub(crate) settings: &'s Settings,
}

/// The user pool, its public app client, and the operators' client (admin flow only).
pub(crate) struct Identity {
    pub(crate) pool: Handle,
    pub(crate) client: Handle,
    pub(crate) operator_client: Handle,
    /// The client-credentials client, when the pool's policies name scopes.
    pub(crate) machine_client: Option<Handle>,
}

impl Identity {
    /// The ids of the app clients whose tokens the authorizer accepts, joined with `,`.
    pub(crate) fn client_ids(&self) -> Expr {
        let mut ids = vec![self.client.r#ref(), self.operator_client.r#ref()];
        ids.extend(self.machine_client.iter().map(Handle::r#ref));
        Expr::join(",", ids)
    }
}

/// What the authorizer function is configured with: the pool and app clients whose tokens it
/// accepts, and the table it reads the group policies from.
pub(crate) struct AuthorizerInputs<'a> {
    pub(crate) user_pool_id: Expr,
    /// The app clients' ids, joined with `,`.
    pub(crate) app_client_ids: Expr,
    pub(crate) policy_table: &'a Handle,
    /// Other trusted pools (`[[pools]]`): with any, the authorizer is given `USER_POOLS`.
    pub(crate) other_pools: &'a [TrustedPool],
}

/// The authorizer's variables naming the pools it trusts: the stack's pool alone as
/// `USER_POOL_ID`, `APP_CLIENT_IDS` and `TOKEN_USE` (its groups unprefixed), or, with other
/// pools, all of them in `USER_POOLS`, the stack's pool first with the empty prefix.
fn trusted_pools_environment(inputs: &AuthorizerInputs) -> Vec<(&'static str, Expr)> {
    if inputs.other_pools.is_empty() {
        return vec![
            (env::USER_POOL_ID, inputs.user_pool_id.clone()),
            (env::APP_CLIENT_IDS, inputs.app_client_ids.clone()),
            (env::TOKEN_USE, "access".into()),
        ];
    }
    let others: Vec<serde_json::Value> = inputs
        .other_pools
        .iter()
        .map(|pool| {
            json!({
                "pool_id": pool.pool_id,
                "client_ids": pool.client_ids,
                "token_use": pool.token_use,
                "group_prefix": pool.group_prefix,
                "scopes_for_users": pool.scopes_for_users,
            })
        })
        .collect();
    let others = serde_json::Value::Array(others).to_string();
    // `[{own pool}, ...others]`: the client ids go in as JSON strings, one per id of the list.
    let users_pools = Expr::join(
        "",
        vec![
            "[{\"pool_id\":\"".into(),
            inputs.user_pool_id.clone(),
            "\",\"client_ids\":[\"".into(),
            // `Fn::Join` of the `Fn::Split` list itself: a `Fn::Join` list of one list is invalid.
            Expr::Literal(json!({ "Fn::Join": [
                "\",\"",
                Expr::Split(",".into(), Box::new(inputs.app_client_ids.clone())),
            ] })),
            "\"],\"token_use\":\"access\",\"group_prefix\":\"\"},".into(),
            others
                .strip_prefix('[')
                .unwrap_or(&others)
                .to_owned()
                .into(),
        ],
    );
    vec![(env::USER_POOLS, users_pools)]
}

/// The two tables.
struct Data {
    policy_table: Handle,
    pets_table: Handle,
}

/// The two functions, and the backend's role (which the group roles trust).
struct Functions {
    authorizer: Handle,
    backend: Handle,
    backend_role: Handle,
}

/// The IAM path of this stack's group roles, which the backend may assume and nothing else.
fn group_roles_path() -> Expr {
    Expr::sub(format!("{APP_ROLE_PATH}${{AWS::StackName}}/groups/"))
}

/// The scope of this stack's roles: the functions' roles and the group roles live under
/// separate paths below the one the bootstrap's execution role may create roles in, so that the
/// backend's `sts:AssumeRole` on the group path can never reach a function's role.
fn role_scope(params: &Params, path: Expr) -> RoleScope {
    RoleScope {
        path,
        boundary: params.boundary.clone(),
    }
}

/// The IAM path of this stack's functions' roles.
fn function_roles_path() -> Expr {
    Expr::sub(format!("{APP_ROLE_PATH}${{AWS::StackName}}/functions/"))
}

/// Builds the whole stack from the group definitions, the function code locations and the
/// settings.
pub fn build(groups: &[GroupDefinition], api: &Api, assets: &Assets, settings: &Settings) -> Stack {
    let mut stack = Stack::new(&format!(
        "groupgate: a {} REST API with Cognito group-based access control through a Lambda authorizer",
        api.title
    ));
    let params = parameters(&mut stack, settings);
    let identity = identity(&mut stack, &params, groups);
    let data = data(&mut stack);
    let functions = functions(&mut stack, &params, &identity, &data, assets);
    let role_pairs = group_roles(&mut stack, groups, &params, &identity, &data, &functions);
    rest_api(&mut stack, &params, api, &functions);
    monitoring::add(
        &mut stack,
        &monitoring::Watched {
            authorizer: &functions.authorizer,
            backend: &functions.backend,
            api_name: &api_name(api),
            stage: &settings.stage,
        },
    );
    outputs(&mut stack, &params, &identity, &data, role_pairs);
    stack
}

pub(crate) fn parameters<'s>(stack: &mut Stack, settings: &'s Settings) -> Params<'s> {
    let bucket = stack.parameter(
        "ArtifactBucket",
        Parameter::string("S3 bucket holding the Lambda zips under the keys of the asset manifest"),
    );
    let retention = stack.parameter(
        "LogRetentionDays",
        Parameter::number(
            "Days to keep function and access logs (a period CloudWatch Logs accepts)",
        )
        .allowed(LOG_RETENTION_DAYS)
        .default("30"),
    );
    let boundary = stack.parameter(
        "PermissionsBoundaryArn",
        Parameter::string(
            "The bootstrap's permissions boundary, which every role of this stack carries (the bootstrap stack's PermissionsBoundaryArn output)",
        ),
    );
    // Empty by default: a deployed public client gets no redirect target it was not given, so
    // the hosted UI's code flow stays off until an operator names the app's HTTPS address.
    // Cognito takes plain HTTP only for localhost, which has no place on a deployed client.
    // https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolClient.html
    let callback = stack.parameter(
        "HostedUiCallbackUrl",
        Parameter::string(
            "Where the hosted UI sends users after sign-in (an https:// address without a fragment); empty: no hosted UI sign-in",
        )
        .default("")
        .pattern(
            "^(https://[^\\s#]+)?$",
            "must be empty or an https:// address without spaces or a fragment (#)",
        ),
    );
    let hosted_ui = stack.condition(
        "HasHostedUi",
        Expr::Not(Box::new(Expr::Equals(
            Box::new(callback.clone()),
            Box::new("".into()),
        ))),
    );
    Params {
        bucket,
        boundary,
        retention,
        callback,
        hosted_ui,
        settings,
    }
}

/// The user pool, its app clients and hosted UI domain.
pub(crate) fn identity(stack: &mut Stack, params: &Params, groups: &[GroupDefinition]) -> Identity {
    let pool = user_pool(stack);
    let client = web_client(stack, &pool, params);
    let operator_client = operator_client(stack, &pool);
    let machine_client = machine_access(stack, &pool, groups);
    // A unique prefix per stack: `groupgate-` and the stack id's UUID.
    let domain_prefix = Expr::join(
        "-",
        vec![
            "groupgate".into(),
            Expr::Select(
                2,
                Box::new(Expr::Split("/".into(), Box::new(Expr::pseudo("StackId")))),
            ),
        ],
    );
    stack.add(
        "UserPoolDomain",
        Resource::new(
            "AWS::Cognito::UserPoolDomain",
            json!({ "UserPoolId": pool.r#ref(), "Domain": domain_prefix }),
        ),
    );

    Identity {
        pool,
        client,
        operator_client,
        machine_client,
    }
}

/// The scopes the stack's own pool's policies name, by resource server: a resource server each
/// (`AWS::Cognito::UserPoolResourceServer`), and one confidential client allowed Cognito's
/// client-credentials grant for them all, whose tokens the authorizer accepts. None without
/// scopes. Its secret stays in Cognito (`DescribeUserPoolClient`); more clients, each with
/// fewer scopes, are the operator's to add, as the README says.
/// <https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-define-resource-servers.html>
fn machine_access(stack: &mut Stack, pool: &Handle, groups: &[GroupDefinition]) -> Option<Handle> {
    let mut servers: std::collections::BTreeMap<&str, Vec<(&str, &str)>> = Default::default();
    for group in groups {
        if let Some((server, name)) = group.stack_scope().and_then(crate::groups::split_scope) {
            servers
                .entry(server)
                .or_default()
                .push((name, group.description.as_str()));
        }
    }
    if servers.is_empty() {
        return None;
    }
    let mut handles = Vec::new();
    for (server, scopes) in &servers {
        let scopes: Vec<serde_json::Value> = scopes
            .iter()
            .map(
                |(name, description)| json!({ "ScopeName": name, "ScopeDescription": description }),
            )
            .collect();
        handles.push(stack.add(
            &crate::groups::resource_server_id(server),
            Resource::new(
                "AWS::Cognito::UserPoolResourceServer",
                json!({
                    "UserPoolId": pool.r#ref(),
                    "Identifier": server,
                    "Name": resource_server_name(server),
                    "Scopes": scopes,
                }),
            ),
        ));
    }
    let all_scopes: Vec<&str> = groups.iter().filter_map(|g| g.stack_scope()).collect();
    let servers: Vec<&Handle> = handles.iter().collect();
    Some(
        stack.add(
            "MachineClient",
            Resource::new(
                "AWS::Cognito::UserPoolClient",
                json!({
                    "UserPoolId": pool.r#ref(),
                    "ClientName": "machine",
                    // The client-credentials grant needs a secret; no user ever signs in here.
                    "GenerateSecret": true,
                    "AllowedOAuthFlowsUserPoolClient": true,
                    "AllowedOAuthFlows": ["client_credentials"],
                    "AllowedOAuthScopes": all_scopes,
                    "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH"],
                    "PreventUserExistenceErrors": "ENABLED",
                    "AccessTokenValidity": 60,
                    "TokenValidityUnits": { "AccessToken": "minutes" },
                }),
            )
            // The scopes are strings to CloudFormation: the servers declaring them must exist
            // before a client may be allowed them.
            .depends_on(&servers),
        ),
    )
}

/// A resource server's display name: Cognito allows `[\w\s+=,.@-]`, 1-256, so a URL
/// identifier's other characters become `-`.
fn resource_server_name(identifier: &str) -> String {
    identifier
        .chars()
        .take(256)
        .map(
            |c| match c.is_ascii_alphanumeric() || "_ +=,.@-".contains(c) {
                true => c,
                false => '-',
            },
        )
        .collect()
}

/// The pool: people sign in by email, created by an administrator only; kept on stack delete.
fn user_pool(stack: &mut Stack) -> Handle {
    stack.add(
        "UserPool",
        Resource::new(
            "AWS::Cognito::UserPool",
            json!({
                "UserPoolName": Expr::sub("${AWS::StackName}-users"),
                // The bootstrap's deploy role may manage smoke-test users only in pools tagged
                // with a product stack's name.
                "UserPoolTags": { "groupgate:stack": Expr::pseudo("StackName") },
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                "AdminCreateUserConfig": { "AllowAdminCreateUserOnly": true },
                "AccountRecoverySetting": {
                    "RecoveryMechanisms": [{ "Name": "verified_email", "Priority": 1 }],
                },
                "Policies": {
                    "PasswordPolicy": {
                        "MinimumLength": 12,
                        "RequireLowercase": true,
                        "RequireUppercase": true,
                        "RequireNumbers": true,
                        "RequireSymbols": true,
                        "TemporaryPasswordValidityDays": 3,
                    },
                },
            }),
        )
        .retained(),
    )
}

/// The public client: SRP, and the hosted UI's code flow (with PKCE) when a callback URL is
/// given; no password flow.
fn web_client(stack: &mut Stack, pool: &Handle, params: &Params) -> Handle {
    let with_hosted_ui = |value: serde_json::Value| {
        Expr::If(
            params.hosted_ui.clone(),
            Box::new(Expr::Literal(value)),
            Box::new(Expr::pseudo("NoValue")),
        )
    };
    let callback = json!([params.callback]);
    stack.add(
        "UserPoolClient",
        Resource::new(
            "AWS::Cognito::UserPoolClient",
            json!({
                "UserPoolId": pool.r#ref(),
                "ClientName": "web",
                "GenerateSecret": false,
                // People sign in through the hosted UI (code flow with PKCE) or SRP: no
                // password ever reaches an API on this public client.
                "ExplicitAuthFlows": ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                "PreventUserExistenceErrors": "ENABLED",
                "AllowedOAuthFlowsUserPoolClient": Expr::If(
                    params.hosted_ui.clone(),
                    Box::new(Expr::Literal(json!(true))),
                    Box::new(Expr::Literal(json!(false))),
                ),
                "AllowedOAuthFlows": with_hosted_ui(json!(["code"])),
                "AllowedOAuthScopes": with_hosted_ui(json!(["openid", "email", "profile"])),
                "CallbackURLs": with_hosted_ui(callback.clone()),
                "LogoutURLs": with_hosted_ui(callback),
                "SupportedIdentityProviders": ["COGNITO"],
                "AccessTokenValidity": 60,
                "IdTokenValidity": 60,
                "RefreshTokenValidity": 30,
                "TokenValidityUnits": {
                    "AccessToken": "minutes",
                    "IdToken": "minutes",
                    "RefreshToken": "days",
                },
            }),
        ),
    )
}

/// For operators and the smoke tests: the admin flow only, which needs IAM credentials allowed
/// `cognito-idp:AdminInitiateAuth` on this pool, so it is no public password login.
fn operator_client(stack: &mut Stack, pool: &Handle) -> Handle {
    stack.add(
        "OperatorClient",
        Resource::new(
            "AWS::Cognito::UserPoolClient",
            json!({
                "UserPoolId": pool.r#ref(),
                "ClientName": "operator",
                "GenerateSecret": false,
                "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                "PreventUserExistenceErrors": "ENABLED",
                "AccessTokenValidity": 60,
                "IdTokenValidity": 60,
                "RefreshTokenValidity": 1,
                "TokenValidityUnits": {
                    "AccessToken": "minutes",
                    "IdToken": "minutes",
                    "RefreshToken": "days",
                },
            }),
        ),
    )
}

/// The table of group policies the authorizer reads (`groupgate deploy` seeds it).
pub(crate) fn policy_table(stack: &mut Stack) -> Handle {
    stack.add(
        "PolicyTable",
        dynamodb_table("group", "S")
            .retained()
            .waive(waivers::TABLE),
    )
}

fn data(stack: &mut Stack) -> Data {
    let policy_table = policy_table(stack);
    let pets_table = stack.add(
        PETS_TABLE,
        dynamodb_table("id", "N").retained().waive(waivers::TABLE),
    );

    Data {
        policy_table,
        pets_table,
    }
}

/// Lets a function write to its own log group, and nothing else of CloudWatch Logs.
fn write_logs(logs: &Handle) -> serde_json::Value {
    allow(
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        vec![logs.arn()],
    )
}

/// X-Ray tracing of a function (its trace segments, which name no resource).
fn write_traces() -> serde_json::Value {
    allow(
        &["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        vec!["*".into()],
    )
}

/// The functions, each with its log group and least-privilege role.
fn functions(
    stack: &mut Stack,
    params: &Params,
    identity: &Identity,
    data: &Data,
    assets: &Assets,
) -> Functions {
    let authorizer = authorizer_function(
        stack,
        params,
        &AuthorizerInputs {
            user_pool_id: identity.pool.r#ref(),
            app_client_ids: identity.client_ids(),
            policy_table: &data.policy_table,
            other_pools: &params.settings.pools,
        },
        assets,
    );
    let (backend, backend_role) = backend_function(stack, params, data, assets);
    Functions {
        authorizer,
        backend,
        backend_role,
    }
}

/// The authorizer may read the policy table (BatchGetItem per request, one Scan at start-up to
/// fill its cache; with Cedar, GetItem of the bundle's item), and write its logs. GetItem is
/// granted in either language: it reads nothing BatchGetItem on the same table does not.
pub(crate) fn authorizer_function(
    stack: &mut Stack,
    params: &Params,
    inputs: &AuthorizerInputs,
    assets: &Assets,
) -> Handle {
    let logs = stack.add(
        "AuthorizerLogGroup",
        log_group(params.retention.clone()).waive(waivers::LOG_GROUP),
    );
    let role = stack.add(
        "AuthorizerRole",
        iam_role(
            json!({ "Service": "lambda.amazonaws.com" }),
            role_scope(params, function_roles_path()),
            "authorizer",
            vec![
                allow(
                    &["dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Scan"],
                    vec![inputs.policy_table.arn()],
                ),
                write_logs(&logs),
                write_traces(),
            ],
        ),
    );
    stack.add(
        "AuthorizerFunction",
        lambda_function(Function {
            description: "API Gateway Lambda authorizer: Cognito token in, merged group policy out",
            code_bucket: params.bucket.clone(),
            code_key: assets.key("authorizer"),
            role: &role,
            log_group: &logs,
            memory_mb: 512,
            timeout_seconds: 10,
            environment: [
                trusted_pools_environment(inputs),
                vec![
                    (env::POLICY_TABLE, inputs.policy_table.r#ref()),
                    (
                        env::POLICY_CACHE_TTL_SECONDS,
                        POLICY_CACHE_TTL_SECONDS.to_string().into(),
                    ),
                ],
                policy_language_environment(params.settings.policy_language),
            ]
            .concat(),
        })
        .waive(waivers::FUNCTION),
    )
}

/// `POLICY_LANGUAGE=cedar` for a Cedar stack's authorizer (it then reads the Cedar bundle from
/// the policy table, and fails at start-up if it was built without Cedar); nothing for IAM.
fn policy_language_environment(language: PolicyLanguage) -> Vec<(&'static str, Expr)> {
    match language {
        PolicyLanguage::Iam => Vec::new(),
        PolicyLanguage::Cedar => vec![(POLICY_LANGUAGE_VARIABLE, language.to_string().into())],
    }
}

/// The backend may use the pets table, assume this stack's group roles, and write its logs.
/// Returns the function and its role.
fn backend_function(
    stack: &mut Stack,
    params: &Params,
    data: &Data,
    assets: &Assets,
) -> (Handle, Handle) {
    let logs = stack.add(
        "BackendLogGroup",
        log_group(params.retention.clone()).waive(waivers::LOG_GROUP),
    );
    let role = stack.add(
        "BackendRole",
        iam_role(
            json!({ "Service": "lambda.amazonaws.com" }),
            role_scope(params, function_roles_path()),
            "backend",
            [
                // With group roles assumed, every read and write goes through the caller's
                // group role: the function's own role has no access to the pets table.
                (!params.settings.assume_group_role).then(|| {
                    allow(DataAccess::ReadWrite.actions(), vec![data.pets_table.arn()])
                }),
                Some(allow(
                    &["sts:AssumeRole"],
                    vec![Expr::sub(format!(
                        "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{APP_ROLE_PATH}${{AWS::StackName}}/groups/*",
                    ))],
                )),
                Some(write_logs(&logs)),
                Some(write_traces()),
            ]
            .into_iter()
            .flatten()
            .collect(),
        ),
    );
    let function = stack.add(
        "BackendFunction",
        lambda_function(Function {
            description: "The petstore API",
            code_bucket: params.bucket.clone(),
            code_key: assets.key("backend"),
            role: &role,
            log_group: &logs,
            memory_mb: 256,
            timeout_seconds: 15,
            environment: vec![
                (env::PETS_TABLE, data.pets_table.r#ref()),
                (
                    env::ASSUME_GROUP_ROLE,
                    params.settings.assume_group_role.to_string().into(),
                ),
                (env::ALLOWED_ROLE_ACCOUNTS, Expr::pseudo("AccountId")),
                (env::GROUP_ROLE_PATH, group_roles_path()),
            ]
            .into_iter()
            .chain(
                params
                    .settings
                    .allowed_origins()
                    .ok()
                    .filter(|o| !o.is_empty())
                    .map(|o| (env::CORS_ORIGINS, o.to_list().into())),
            )
            .collect(),
        })
        .waive(waivers::FUNCTION),
    );
    (function, role)
}

/// One Cognito group per definition, and the IAM role its members act as. Returns the
/// `group=role ARN` pairs for the `GroupRoleArns` output.
///
/// The Cognito group names no role (`RoleArn`): the role reaches the backend from the policy
/// table, through the authorizer's context (`role_arn`), which `groupgate deploy` seeds from
/// that output. A group's `RoleArn` only ever shows in ID tokens (`cognito:roles`,
/// `cognito:preferred_role`), and the authorizer accepts access tokens; setting it would also
/// need `iam:PassRole` to Cognito for the deploy's execution role.
fn group_roles(
    stack: &mut Stack,
    groups: &[GroupDefinition],
    params: &Params,
    identity: &Identity,
    data: &Data,
    functions: &Functions,
) -> Vec<Expr> {
    let (pool, pets_table, backend_role) =
        (&identity.pool, &data.pets_table, &functions.backend_role);
    let mut role_pairs = Vec::new();
    // Every group's role (another pool's too: the backend assumes it from the policy table's
    // item); a scope has none: the backend never assumes a role for a machine client.
    for group in groups
        .iter()
        .filter(|g| matches!(g.subject, Subject::Group(_)))
    {
        let name = group.logical_name();
        let mut statements = Vec::new();
        if group.pets_table != DataAccess::None {
            statements.push(allow(group.pets_table.actions(), vec![pets_table.arn()]));
        }
        // IAM wants at least one statement in an inline policy; a group with no data access
        // gets an explicit deny instead.
        if statements.is_empty() {
            statements.push(
                json!({ "Effect": "Deny", "Action": "dynamodb:*", "Resource": pets_table.arn() }),
            );
        }
        let role = stack.add(
            &format!("GroupRole{name}"),
            iam_role(
                json!({ "AWS": backend_role.arn() }),
                role_scope(params, group_roles_path()),
                "pets",
                statements,
            ),
        );
        // Only the stack's own pool gets the group: another pool's groups are its owner's.
        if let Some(group_name) = group.stack_group() {
            stack.add(
                &format!("Group{name}"),
                cognito_group(pool, group_name, group),
            );
        }
        role_pairs.push(Expr::join("=", vec![group.key.clone().into(), role.arn()]));
    }

    role_pairs
}

/// The Cognito group `name` of a definition, in `pool`.
pub(crate) fn cognito_group(pool: &Handle, name: &str, group: &GroupDefinition) -> Resource {
    Resource::new(
        "AWS::Cognito::UserPoolGroup",
        json!({
            "UserPoolId": pool.r#ref(),
            "GroupName": name,
            "Description": group.description,
            "Precedence": group.precedence,
        }),
    )
}

/// The REST API: the authorizer, a method per route, the gateway responses, the deployment
/// and the stage.
fn rest_api(stack: &mut Stack, params: &Params, api_doc: &Api, functions: &Functions) {
    let (authorizer_fn, backend_fn) = (&functions.authorizer, &functions.backend);
    let api = stack.add(
        "RestApi",
        Resource::new(
            "AWS::ApiGateway::RestApi",
            json!({
                "Name": Expr::sub(api_name(api_doc)),
                "Description": api_doc.description,
                "EndpointConfiguration": { "Types": ["REGIONAL"] },
                // The bootstrap's execution and deploy roles reach the product's REST APIs
                // (and their children, which inherit it) by this tag only.
                "Tags": [{ "Key": PRODUCT_TAG, "Value": Expr::pseudo("StackName") }],
            }),
        ),
    );
    let authorizer = stack.add(
        "ApiAuthorizer",
        Resource::new(
            "AWS::ApiGateway::Authorizer",
            json!({
                "RestApiId": api.r#ref(),
                "Name": "cognito-groups",
                "Type": "REQUEST",
                "IdentitySource": identity_sources(params.settings.policy_language).join(", "),
                "AuthorizerResultTtlInSeconds": params.settings.authorizer_ttl_seconds,
                "AuthorizerUri": lambda_invocation_uri(authorizer_fn),
            }),
        ),
    );
    stack.add(
        "AuthorizerInvokePermission",
        invoke_permission(
            authorizer_fn,
            Expr::sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/authorizers/${ApiAuthorizer}"),
        ),
    );
    stack.add(
        "BackendInvokePermission",
        invoke_permission(
            backend_fn,
            Expr::sub(format!(
                "arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{RestApi}}/{}/*",
                params.settings.stage
            )),
        ),
    );

    let origins = params.settings.allowed_origins().unwrap_or_default();
    let methods = methods(stack, api_doc, &api, &authorizer, backend_fn, &origins);
    let responses = gateway_responses(stack, &api, &origins);
    let deployed = [methods, responses].concat();
    deployment_and_stage(stack, params, api_doc, &api, &deployed);
}

/// A resource per path part and a method per operation of the API's document: behind the
/// authorizer unless the operation is public, integrated as the document says.
fn methods(
    stack: &mut Stack,
    api_doc: &Api,
    api: &Handle,
    authorizer: &Handle,
    backend_fn: &Handle,
    origins: &AllowedOrigins,
) -> Vec<Handle> {
    let mut resource_ids: Vec<(String, Handle)> = Vec::new();
    let mut methods = Vec::new();
    for operation in &api_doc.operations {
        let parent = resource(stack, api, &mut resource_ids, &operation.path);
        let mut properties = serde_json::Map::new();
        properties.insert("RestApiId".into(), json!(api.r#ref()));
        properties.insert("ResourceId".into(), json!(parent));
        properties.insert("HttpMethod".into(), json!(operation.method));
        if operation.public {
            properties.insert("AuthorizationType".into(), json!("NONE"));
        } else {
            properties.insert("AuthorizationType".into(), json!("CUSTOM"));
            properties.insert("AuthorizerId".into(), json!(authorizer.r#ref()));
        }
        properties.insert("Integration".into(), integration(operation, backend_fn));
        let declared = method_request_parameters(operation);
        if !declared.is_empty() {
            properties.insert("RequestParameters".into(), declared.into());
        }
        let mut method = Resource::new("AWS::ApiGateway::Method", properties.into());
        if operation.public {
            method = method.waive(waivers::PUBLIC_METHOD);
        }
        methods.push(stack.add(&api::method_id(&operation.path, &operation.method), method));
    }
    if !origins.is_empty() {
        for (path, resource) in &resource_ids {
            let allowed: Vec<&str> = api_doc
                .operations
                .iter()
                .filter(|o| o.path == *path)
                .map(|o| o.method.as_str())
                .collect();
            if !allowed.is_empty() {
                methods.push(preflight(stack, api, path, resource, &allowed, origins));
            }
        }
    }
    methods
}

/// The resource of `path`, adding it and its parents as needed; its id as a method's
/// `ResourceId`.
fn resource(
    stack: &mut Stack,
    api: &Handle,
    resource_ids: &mut Vec<(String, Handle)>,
    path: &str,
) -> Expr {
    let mut parent = api.get_att("RootResourceId");
    let mut prefix = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        let handle = match resource_ids.iter().find(|(p, _)| *p == prefix) {
            Some((_, h)) => h.clone(),
            None => {
                let h = stack.add(
                    &api::resource_id(&prefix),
                    Resource::new(
                        "AWS::ApiGateway::Resource",
                        json!({ "RestApiId": api.r#ref(), "ParentId": parent, "PathPart": part }),
                    ),
                );
                resource_ids.push((prefix.clone(), h.clone()));
                h
            }
        };
        parent = handle.r#ref();
    }
    parent
}

/// An operation's integration. A Lambda function other than the product's backend needs a
/// resource-based policy letting API Gateway invoke it, which this stack does not add: the
/// bootstrap's execution role may change only this stack's functions, and the function's owner
/// decides who invokes it (the book's "Your API" page gives the `aws lambda add-permission`).
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html
fn integration(operation: &Operation, backend_fn: &Handle) -> serde_json::Value {
    let mappings = |parameters: &[(String, String)]| {
        parameters
            .iter()
            .map(|(target, source)| (target.clone(), json!(source)))
            .collect::<serde_json::Map<_, _>>()
    };
    let (kind, method, uri) = match &operation.integration {
        Integration::Backend => (
            "AWS_PROXY",
            "POST",
            json!(lambda_invocation_uri(backend_fn)),
        ),
        Integration::Lambda { uri, .. } => ("AWS_PROXY", "POST", json!(uri)),
        Integration::HttpProxy { method, uri, .. } => ("HTTP_PROXY", method.as_str(), json!(uri)),
    };
    let mut integration = serde_json::Map::new();
    integration.insert("Type".into(), json!(kind));
    integration.insert("IntegrationHttpMethod".into(), json!(method));
    integration.insert("Uri".into(), uri);
    let parameters = operation.integration.request_parameters();
    if !parameters.is_empty() {
        integration.insert("RequestParameters".into(), mappings(parameters).into());
    }
    if let Integration::Lambda {
        timeout_ms: Some(ms),
        ..
    }
    | Integration::HttpProxy {
        timeout_ms: Some(ms),
        ..
    } = &operation.integration
    {
        integration.insert("TimeoutInMillis".into(), json!(ms));
    }
    integration.into()
}

/// The method request parameters an integration maps from, declared on the method as API
/// Gateway requires ("Invalid mapping expression specified" otherwise): path parameters
/// required, headers and query strings optional.
fn method_request_parameters(operation: &Operation) -> serde_json::Map<String, serde_json::Value> {
    operation
        .integration
        .request_parameters()
        .iter()
        .filter_map(|(_, source)| {
            let kind = ["path", "header", "querystring"]
                .into_iter()
                .find(|kind| source.starts_with(&format!("method.request.{kind}.")))?;
            Some((source.clone(), json!(kind == "path")))
        })
        .collect()
}

/// The CORS preflight of one resource: an OPTIONS method with no authorizer (browsers send
/// preflights without the token), answered by API Gateway itself (a MOCK integration). Its
/// mapping template sets `Access-Control-Allow-Origin` only when the request's `Origin` is one
/// of the allowed origins, so the browser refuses the call from any other.
fn preflight(
    stack: &mut Stack,
    api: &Handle,
    path: &str,
    resource: &Handle,
    methods: &[&str],
    origins: &AllowedOrigins,
) -> Handle {
    let condition = origins
        .as_slice()
        .iter()
        .map(|o| format!("$origin == '{o}'"))
        .collect::<Vec<_>>()
        .join(" || ");
    // The `Origin` header only (as HTTP/1.1 browsers send it, else `origin` as HTTP/2 ones do):
    // `$input.params('Origin')` would search the path and the query string first, so that
    // `?Origin=...` chose the origin. A header missing from the map is null, which `$!` renders
    // empty.
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html
    let template = format!(
        "#set($origin = $input.params().header.get('Origin'))\n#if(\"$!origin\" == '')#set($origin = $input.params().header.get('origin'))#end\n#if({condition})#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)#end\n"
    );
    let header = |name: &str| format!("method.response.header.{name}");
    let allow_methods = format!("'{},OPTIONS'", methods.join(","));
    stack.add(
        &api::method_id(path, "OPTIONS"),
        Resource::new(
            "AWS::ApiGateway::Method",
            json!({
                "RestApiId": api.r#ref(),
                "ResourceId": resource.r#ref(),
                "HttpMethod": "OPTIONS",
                "AuthorizationType": "NONE",
                "Integration": {
                    "Type": "MOCK",
                    "RequestTemplates": { "application/json": "{\"statusCode\": 204}" },
                    "IntegrationResponses": [{
                        "StatusCode": "204",
                        "ResponseParameters": {
                            header("Access-Control-Allow-Methods"): allow_methods,
                            header("Access-Control-Allow-Headers"): format!("'{}'", cors::ALLOW_HEADERS),
                            header("Access-Control-Max-Age"): format!("'{}'", cors::MAX_AGE_SECONDS),
                            header("Vary"): "'Origin'",
                        },
                        "ResponseTemplates": { "application/json": template },
                    }],
                },
                "MethodResponses": [{
                    "StatusCode": "204",
                    "ResponseParameters": {
                        header("Access-Control-Allow-Origin"): false,
                        header("Access-Control-Allow-Methods"): false,
                        header("Access-Control-Allow-Headers"): false,
                        header("Access-Control-Max-Age"): false,
                        header("Vary"): false,
                    },
                }],
            }),
        ),
    )
}

/// The responses API Gateway sends itself: JSON bodies that say what the caller can do, with
/// the request id to quote when reporting a problem.
/// API Gateway's own answers the stack customises: (logical id, response type, status, hint).
/// An empty status keeps the status of the response a DEFAULT_ type stands for. The local
/// gateway answers with the same hints.
pub const GATEWAY_RESPONSES: &[(&str, &str, &str, &str)] = &[
    (
        "UnauthorizedResponse",
        "UNAUTHORIZED",
        "401",
        "send a valid Cognito access token as `Authorization: Bearer <token>`; sign in again if it expired",
    ),
    (
        "AccessDeniedResponse",
        "ACCESS_DENIED",
        "403",
        "your groups do not allow this method on this path; ask an administrator for a group that does",
    ),
    (
        "ThrottledResponse",
        "THROTTLED",
        "429",
        "too many requests: retry after a short wait, backing off",
    ),
    (
        "AuthorizerFailureResponse",
        "AUTHORIZER_FAILURE",
        "500",
        "access could not be checked just now: retry shortly, and report the request id if it persists",
    ),
    (
        "AuthorizerConfigurationErrorResponse",
        "AUTHORIZER_CONFIGURATION_ERROR",
        "500",
        "access could not be checked: retry shortly, and report the request id if it persists",
    ),
    (
        "Default4xxResponse",
        "DEFAULT_4XX",
        "",
        "the request was refused before reaching the API: check the method, path and headers",
    ),
    (
        "Default5xxResponse",
        "DEFAULT_5XX",
        "",
        "the API failed: retry shortly, and report the request id if it persists",
    ),
];

/// API Gateway's own answers (401, 403, 429, authorizer failures, other 4xx and 5xx): JSON with
/// a hint of what the caller can do, and, with CORS on, readable by the allowed origins.
///
/// A gateway response cannot check `Origin`: it can only set a fixed value or copy a request
/// header. With one origin it names that origin. With several it copies the request's
/// `Origin`: these bodies hold only the message, hint and request id, and a browser on any
/// other origin never gets this far, because the preflight every token-bearing call needs
/// already refused it.
fn gateway_responses(stack: &mut Stack, api: &Handle, origins: &AllowedOrigins) -> Vec<Handle> {
    let mut cors_headers = serde_json::Map::new();
    match origins.as_slice() {
        [] => {}
        [only] => {
            cors_headers.insert(
                "gatewayresponse.header.Access-Control-Allow-Origin".into(),
                json!(format!("'{only}'")),
            );
        }
        _ => {
            cors_headers.insert(
                "gatewayresponse.header.Access-Control-Allow-Origin".into(),
                json!("method.request.header.Origin"),
            );
            cors_headers.insert("gatewayresponse.header.Vary".into(), json!("'Origin'"));
        }
    }
    GATEWAY_RESPONSES
        .iter()
        .copied()
    .map(|(id, kind, status, hint)| {
        let template = format!(
            r#"{{"message":$context.error.messageString,"hint":"{hint}","requestId":"$context.requestId"}}"#
        );
        let mut properties = json!({
            "RestApiId": api.r#ref(),
            "ResponseType": kind,
            "ResponseParameters": cors_headers.clone().into_iter()
                .chain([("gatewayresponse.header.Content-Type".to_owned(), json!("'application/json'"))])
                .collect::<serde_json::Map<_, _>>(),
            "ResponseTemplates": { "application/json": template },
        });
        // The DEFAULT_ types keep the status of the response they stand for.
        if let (false, Some(map)) = (status.is_empty(), properties.as_object_mut()) {
            map.insert("StatusCode".into(), json!(status));
        }
        stack.add(
            id,
            Resource::new("AWS::ApiGateway::GatewayResponse", properties),
        )
    })
    .collect()
}

/// The resource types API Gateway serves only once the API is deployed: a change to one needs a
/// new deployment, and so does removing one (`groupgate deploy` deploys the stage again then).
pub const DEPLOYED_API_TYPES: [&str; 4] = [
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::GatewayResponse",
];

/// A digest of everything API Gateway only serves once it is deployed: methods, resources, the
/// authorizer, the gateway responses. It names the deployment, so that a change to any of them
/// is a new deployment, and the stage moves to it.
pub fn api_digest(stack: &Stack) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for (id, resource) in stack.resources() {
        if DEPLOYED_API_TYPES.contains(&resource.kind) {
            hasher.update(id.as_bytes());
            hasher.update(
                canonical(resource.properties.clone())
                    .to_string()
                    .as_bytes(),
            );
        }
    }
    crate::assets::hex(hasher.finalize().get(..5).unwrap_or_default())
}

/// The deployment and the stage, with access logs and throttling.
///
/// The stage's access logs need the account's API Gateway CloudWatch role. That setting is one
/// per account and region, so the bootstrap stack owns it and `groupgate deploy` checks it is
/// set before deploying.
fn deployment_and_stage(
    stack: &mut Stack,
    params: &Params,
    api_doc: &Api,
    api: &Handle,
    deployed: &[Handle],
) {
    let refs: Vec<&Handle> = deployed.iter().collect();
    let deployment = stack.add(
        &format!("RestApiDeployment{}", api_digest(stack)),
        Resource::new(
            "AWS::ApiGateway::Deployment",
            json!({ "RestApiId": api.r#ref(), "Description": format!("groupgate {} API", api_doc.title) }),
        )
        .depends_on(&refs),
    );
    let access_logs = stack.add(
        "ApiAccessLogGroup",
        log_group(params.retention.clone()).waive(waivers::LOG_GROUP),
    );
    let throttle = &params.settings.throttle;
    stack.add(
        "ApiStage",
        Resource::new(
            "AWS::ApiGateway::Stage",
            json!({
                "RestApiId": api.r#ref(),
                "DeploymentId": deployment.r#ref(),
                "StageName": params.settings.stage,
                "AccessLogSetting": {
                    "DestinationArn": access_logs.arn(),
                    "Format": ACCESS_LOG_FORMAT,
                },
                "TracingEnabled": true,
                "MethodSettings": [{
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": throttle.rate_limit,
                    "ThrottlingBurstLimit": throttle.burst_limit,
                }],
            }),
        )
        .waive(waivers::STAGE),
    );
}

/// Every [`Output`], with its value in this stack; the hosted UI's and the machine client's only
/// when there is one.
fn outputs(
    stack: &mut Stack,
    params: &Params,
    identity: &Identity,
    data: &Data,
    role_pairs: Vec<Expr>,
) {
    let stage = &params.settings.stage;
    let group_roles = Expr::join(",", role_pairs);
    for output in Output::ALL {
        let value = match output {
            Output::MachineClientId => match &identity.machine_client {
                Some(client) => client.r#ref(),
                None => continue,
            },
            Output::ApiUrl => Expr::sub(format!(
                "https://${{RestApi}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{stage}"
            )),
            Output::RestApiId => Expr::Ref("RestApi".into()),
            Output::StageName => stage.as_str().into(),
            Output::Region => Expr::pseudo("Region"),
            Output::UserPoolId => identity.pool.r#ref(),
            Output::UserPoolClientId => identity.client.r#ref(),
            Output::OperatorClientId => identity.operator_client.r#ref(),
            Output::PolicyTableName => data.policy_table.r#ref(),
            Output::PetsTableName => data.pets_table.r#ref(),
            Output::GroupRoleArns => group_roles.clone(),
            Output::HostedUiUrl => Expr::sub(
                "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com/login?client_id=${UserPoolClient}&response_type=code&redirect_uri=${HostedUiCallbackUrl}",
            ),
        };
        if output == Output::HostedUiUrl {
            stack.output_when(&params.hosted_ui, output.key(), value, output.description());
        } else {
            stack.output(output.key(), value, output.description());
        }
    }
}
