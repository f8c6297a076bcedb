//! This product's stack: the user pool and its groups, the tables, the two functions and the
//! REST API with its Lambda authorizer. Also the API's routes and authorizer settings, which the
//! local gateway reads so it behaves like the deployed API.

use groupgate::env;
use serde_json::json;

use crate::assets::Assets;
use crate::construct::resources::{
    Function, allow, dynamodb_table, iam_role, invoke_permission, lambda_function,
    lambda_invocation_uri, log_group,
};
use crate::construct::{Expr, Handle, Parameter, Resource, Stack, canonical, id_fragment};
use crate::groups::{DataAccess, GroupDefinition};

/// The methods of the API, as (HTTP method, resource path).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/petstore/v1/pets"),
    ("POST", "/petstore/v1/pets"),
    ("GET", "/petstore/v1/pets/{id}"),
    ("GET", "/petstore/v2/pets"),
    ("GET", "/petstore/v2/status"),
    ("GET", "/petstore/v2/identity"),
];

/// The stage name unless the `StageName` parameter says otherwise.
pub const DEFAULT_STAGE: &str = "prod";
/// API Gateway's authorizer cache TTL unless `AuthorizerResultTtl` says otherwise.
pub const DEFAULT_AUTHORIZER_TTL_SECONDS: u32 = 300;
/// The request header the authorizer's token comes from (its identity source).
pub const IDENTITY_HEADER: &str = "Authorization";
/// The Lambda functions, by the binary names cargo-lambda builds them under.
pub const FUNCTIONS: [&str; 2] = ["authorizer", "backend"];

/// The access log line: who (`principalId`), what the authorizer and API Gateway decided.
const ACCESS_LOG_FORMAT: &str = r#"{"requestId":"$context.requestId","ip":"$context.identity.sourceIp","method":"$context.httpMethod","path":"$context.resourcePath","status":"$context.status","principalId":"$context.authorizer.principalId","authorizeStatus":"$context.authorize.status","authorizeError":"$context.authorize.error","authorizerStatus":"$context.authorizer.status","authorizerError":"$context.authorizer.error","authorizerLatency":"$context.authorizer.latency","responseLatency":"$context.responseLatency"}"#;

fn capitalized(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut chars = lower.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// Builds the whole stack from the group definitions and the function code locations.
pub fn build(groups: &[GroupDefinition], assets: &Assets) -> Stack {
    let mut stack = Stack::new(
        "groupgate: a petstore REST API with Cognito group-based access control through a Lambda authorizer",
    );

    let bucket = stack.parameter(
        "ArtifactBucket",
        Parameter::string("S3 bucket holding the Lambda zips under the keys of the asset manifest"),
    );
    let stage = stack.parameter(
        "StageName",
        Parameter::string("API stage name").default(DEFAULT_STAGE),
    );
    let ttl = stack.parameter(
        "AuthorizerResultTtl",
        Parameter::number(
            "Seconds API Gateway caches an authorizer result per token (0 disables)",
            0,
            3600,
        )
        .default(DEFAULT_AUTHORIZER_TTL_SECONDS.to_string()),
    );
    let assume = stack.parameter(
        "AssumeGroupRole",
        Parameter::string("Whether the backend acts with the caller's group IAM role")
            .default("true")
            .allowed(&["true", "false"]),
    );
    let retention = stack.parameter(
        "LogRetentionDays",
        Parameter::number("Days to keep function and access logs", 1, 3653).default("30"),
    );
    let callback = stack.parameter(
        "HostedUiCallbackUrl",
        Parameter::string("Where the hosted UI sends users after sign-in")
            .default("http://localhost/"),
    );

    // Identity: the user pool, its app client and hosted UI domain.
    let pool = stack.add(
        "UserPool",
        Resource::new(
            "AWS::Cognito::UserPool",
            json!({
                "UserPoolName": Expr::sub("${AWS::StackName}-users"),
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
        ),
    );
    let client = stack.add(
        "UserPoolClient",
        Resource::new(
            "AWS::Cognito::UserPoolClient",
            json!({
                "UserPoolId": pool.r#ref(),
                "ClientName": "web",
                "GenerateSecret": false,
                "ExplicitAuthFlows": [
                    "ALLOW_USER_PASSWORD_AUTH",
                    "ALLOW_USER_SRP_AUTH",
                    "ALLOW_REFRESH_TOKEN_AUTH",
                ],
                "PreventUserExistenceErrors": "ENABLED",
                "AllowedOAuthFlowsUserPoolClient": true,
                "AllowedOAuthFlows": ["code"],
                "AllowedOAuthScopes": ["openid", "email", "profile"],
                "CallbackURLs": [callback.clone()],
                "LogoutURLs": [callback.clone()],
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
    );
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

    // Data.
    let policy_table = stack.add("PolicyTable", dynamodb_table("group", "S"));
    let pets_table = stack.add("PetsTable", dynamodb_table("id", "N").retained());

    // Functions and their least-privilege roles.
    let lambda_principal = json!({ "Service": "lambda.amazonaws.com" });
    let authorizer_logs = stack.add("AuthorizerLogGroup", log_group(retention.clone()));
    let backend_logs = stack.add("BackendLogGroup", log_group(retention.clone()));
    let write_logs = |logs: &Handle| {
        allow(
            &["logs:CreateLogStream", "logs:PutLogEvents"],
            vec![logs.arn()],
        )
    };
    let authorizer_role = stack.add(
        "AuthorizerRole",
        iam_role(
            lambda_principal.clone(),
            None,
            "authorizer",
            vec![
                allow(&["dynamodb:BatchGetItem"], vec![policy_table.arn()]),
                write_logs(&authorizer_logs),
            ],
        ),
    );
    let group_roles_path = Expr::sub("/groupgate/${AWS::StackName}/");
    let backend_role = stack.add(
        "BackendRole",
        iam_role(
            lambda_principal,
            None,
            "backend",
            vec![
                allow(
                    DataAccess::ReadWrite.actions(),
                    vec![pets_table.arn()],
                ),
                allow(
                    &["sts:AssumeRole"],
                    vec![Expr::sub(
                        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/groupgate/${AWS::StackName}/*",
                    )],
                ),
                write_logs(&backend_logs),
            ],
        ),
    );
    let authorizer_fn = stack.add(
        "AuthorizerFunction",
        lambda_function(Function {
            description: "API Gateway Lambda authorizer: Cognito token in, merged group policy out",
            code_bucket: bucket.clone(),
            code_key: assets.key("authorizer"),
            role: &authorizer_role,
            log_group: &authorizer_logs,
            memory_mb: 512,
            timeout_seconds: 10,
            environment: vec![
                (env::USER_POOL_ID, pool.r#ref()),
                (env::APP_CLIENT_IDS, client.r#ref()),
                (env::POLICY_TABLE, policy_table.r#ref()),
                (env::TOKEN_USE, "access".into()),
                (env::POLICY_CACHE_TTL_SECONDS, "60".into()),
            ],
        }),
    );
    let backend_fn = stack.add(
        "BackendFunction",
        lambda_function(Function {
            description: "The petstore API",
            code_bucket: bucket,
            code_key: assets.key("backend"),
            role: &backend_role,
            log_group: &backend_logs,
            memory_mb: 256,
            timeout_seconds: 15,
            environment: vec![
                (env::PETS_TABLE, pets_table.r#ref()),
                (env::ASSUME_GROUP_ROLE, assume),
                (env::ALLOWED_ROLE_ACCOUNTS, Expr::pseudo("AccountId")),
                (env::GROUP_ROLE_PATH, group_roles_path.clone()),
            ],
        }),
    );

    // One Cognito group per definition, each with the role its members act as.
    let mut role_pairs = Vec::new();
    for group in groups {
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
                Some(group_roles_path.clone()),
                "pets",
                statements,
            ),
        );
        stack.add(
            &format!("Group{name}"),
            Resource::new(
                "AWS::Cognito::UserPoolGroup",
                json!({
                    "UserPoolId": pool.r#ref(),
                    "GroupName": group.group,
                    "Description": group.description,
                    "Precedence": group.precedence,
                    "RoleArn": role.arn(),
                }),
            ),
        );
        role_pairs.push(Expr::join(
            "=",
            vec![group.group.clone().into(), role.arn()],
        ));
    }

    // The REST API.
    let api = stack.add(
        "RestApi",
        Resource::new(
            "AWS::ApiGateway::RestApi",
            json!({
                "Name": Expr::sub("${AWS::StackName}-petstore"),
                "Description": "The petstore API, authorized by Cognito groups",
                "EndpointConfiguration": { "Types": ["REGIONAL"] },
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
                "IdentitySource": format!("method.request.header.{IDENTITY_HEADER}"),
                "AuthorizerResultTtlInSeconds": ttl,
                "AuthorizerUri": lambda_invocation_uri(&authorizer_fn),
            }),
        ),
    );
    stack.add(
        "AuthorizerInvokePermission",
        invoke_permission(
            &authorizer_fn,
            Expr::sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/authorizers/${ApiAuthorizer}"),
        ),
    );
    stack.add(
        "BackendInvokePermission",
        invoke_permission(
            &backend_fn,
            Expr::sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RestApi}/${StageName}/*"),
        ),
    );

    let mut resource_ids: Vec<(String, Handle)> = Vec::new();
    let mut methods = Vec::new();
    for (method, path) in ROUTES {
        let mut parent = api.get_att("RootResourceId");
        let mut prefix = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            let handle = match resource_ids.iter().find(|(p, _)| *p == prefix) {
                Some((_, h)) => h.clone(),
                None => {
                    let h = stack.add(
                        &format!("Api{}", id_fragment(&prefix)),
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
        let method_handle = stack.add(
            &format!("Api{}{}", id_fragment(path), capitalized(method)),
            Resource::new(
                "AWS::ApiGateway::Method",
                json!({
                    "RestApiId": api.r#ref(),
                    "ResourceId": parent,
                    "HttpMethod": method,
                    "AuthorizationType": "CUSTOM",
                    "AuthorizerId": authorizer.r#ref(),
                    "Integration": {
                        "Type": "AWS_PROXY",
                        "IntegrationHttpMethod": "POST",
                        "Uri": lambda_invocation_uri(&backend_fn),
                    },
                }),
            ),
        );
        methods.push(method_handle);
    }

    for (id, kind, status) in [
        ("UnauthorizedResponse", "UNAUTHORIZED", "401"),
        ("AccessDeniedResponse", "ACCESS_DENIED", "403"),
        ("AuthorizerFailureResponse", "AUTHORIZER_FAILURE", "500"),
    ] {
        stack.add(
            id,
            Resource::new(
                "AWS::ApiGateway::GatewayResponse",
                json!({
                    "RestApiId": api.r#ref(),
                    "ResponseType": kind,
                    "StatusCode": status,
                    "ResponseParameters": {
                        "gatewayresponse.header.Content-Type": "'application/json'",
                    },
                    "ResponseTemplates": {
                        "application/json": "{\"message\":$context.error.messageString}",
                    },
                }),
            ),
        );
    }

    // A new deployment whenever the API's methods change: the logical id carries their digest.
    let method_digest = {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        for m in &methods {
            if let Some(r) = stack.resource(m.id()) {
                hasher.update(m.id().as_bytes());
                hasher.update(canonical(r.properties.clone()).to_string().as_bytes());
            }
        }
        hasher
            .finalize()
            .iter()
            .take(5)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let method_refs: Vec<&Handle> = methods.iter().collect();
    let deployment = stack.add(
        &format!("RestApiDeployment{method_digest}"),
        Resource::new(
            "AWS::ApiGateway::Deployment",
            json!({ "RestApiId": api.r#ref(), "Description": "groupgate petstore API" }),
        )
        .depends_on(&method_refs),
    );
    let access_logs = stack.add("ApiAccessLogGroup", log_group(retention));
    let cloudwatch_role = stack.add(
        "ApiGatewayCloudWatchRole",
        Resource::new(
            "AWS::IAM::Role",
            json!({
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Effect": "Allow",
                        "Principal": { "Service": "apigateway.amazonaws.com" },
                        "Action": "sts:AssumeRole",
                    }],
                },
                "ManagedPolicyArns": [Expr::sub(
                    "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
                )],
            }),
        ),
    );
    let account = stack.add(
        "ApiGatewayAccount",
        Resource::new(
            "AWS::ApiGateway::Account",
            json!({ "CloudWatchRoleArn": cloudwatch_role.arn() }),
        ),
    );
    stack.add(
        "ApiStage",
        Resource::new(
            "AWS::ApiGateway::Stage",
            json!({
                "RestApiId": api.r#ref(),
                "DeploymentId": deployment.r#ref(),
                "StageName": stage,
                "AccessLogSetting": {
                    "DestinationArn": access_logs.arn(),
                    "Format": ACCESS_LOG_FORMAT,
                },
            }),
        )
        .depends_on(&[&account]),
    );

    stack.output(
        "ApiUrl",
        Expr::sub("https://${RestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${StageName}"),
        "Base URL of the petstore API",
    );
    stack.output("Region", Expr::pseudo("Region"), "Region of the stack");
    stack.output("UserPoolId", pool.r#ref(), "Cognito user pool id");
    stack.output("UserPoolClientId", client.r#ref(), "Cognito app client id");
    stack.output(
        "PolicyTableName",
        policy_table.r#ref(),
        "DynamoDB table of group policies",
    );
    stack.output(
        "PetsTableName",
        pets_table.r#ref(),
        "DynamoDB table of pets",
    );
    stack.output(
        "GroupRoleArns",
        Expr::join(",", role_pairs),
        "group=role ARN pairs, for seeding the policy table",
    );
    stack.output(
        "HostedUiUrl",
        Expr::sub(
            "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com/login?client_id=${UserPoolClient}&response_type=code&redirect_uri=${HostedUiCallbackUrl}",
        ),
        "Cognito hosted UI sign-in page",
    );
    stack
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_capitalized_for_ids() {
        assert_eq!(capitalized("POST"), "Post");
    }
}
