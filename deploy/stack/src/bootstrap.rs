//! The bootstrap stack: what a product stack needs from its account and region, created once
//! per account and region by `groupgate bootstrap`, the way `cdk bootstrap` does.
//!
//! - the artifact bucket the Lambda zips are uploaded to: versioned, encrypted, public access
//!   blocked, TLS only, old versions expired;
//! - GitHub's OIDC provider (or the account's existing one: it is account-wide);
//! - a deploy role that only the repository's environment can assume, allowed to pass the
//!   execution role, run CloudFormation on this product's stacks, write the bucket, and do
//!   what the deploy does after the stack update, on those stacks' resources alone;
//! - a CloudFormation execution role, which may create roles only under the product's IAM path
//!   and only with the permissions boundary, so that whoever can deploy cannot mint an
//!   administrator;
//! - the API Gateway CloudWatch role and the account setting that names it (one per account and
//!   region, so it belongs here and not in a product stack).
//!
//! Names carry the region wherever IAM's global namespace would otherwise collide.

use serde_json::{Value, json};

use crate::construct::resources::{allow, apigateway_account, apigateway_cloudwatch_role};
use crate::construct::{Expr, Handle, Parameter, Resource, Stack};

/// The bootstrap stack's name in each region.
pub const STACK_NAME: &str = "groupgate-bootstrap";
/// The IAM path of the roles the product stacks create; the execution role may create roles
/// under it only.
pub const APP_ROLE_PATH: &str = "/groupgate/";
/// The IAM path of the bootstrap stack's own roles, which the execution role cannot touch.
pub const BOOTSTRAP_ROLE_PATH: &str = "/groupgate-bootstrap/";
/// GitHub Actions' OIDC issuer.
const GITHUB_OIDC: &str = "token.actions.githubusercontent.com";

/// The names of what a product stack's deploy needs, as `Fn::Sub` patterns of the account and
/// region. `groupgate deploy` resolves the same patterns ([`Bootstrapped::resolve`]), so it finds
/// them without reading the bootstrap stack.
const BUCKET_NAME: &str = "groupgate-assets-${AWS::AccountId}-${AWS::Region}";
const EXECUTION_ROLE_NAME: &str = "groupgate-cfn-exec-${AWS::Region}";
const BOUNDARY_NAME: &str = "groupgate-boundary-${AWS::Region}";

/// Where the bootstrap's bucket, execution role and permissions boundary are in one account and
/// region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootstrapped {
    pub bucket: String,
    pub execution_role_arn: String,
    pub boundary_arn: String,
}

impl Bootstrapped {
    pub fn resolve(partition: &str, account: &str, region: &str) -> Self {
        let name = |pattern: &str| {
            pattern
                .replace("${AWS::AccountId}", account)
                .replace("${AWS::Region}", region)
        };
        Self {
            bucket: name(BUCKET_NAME),
            execution_role_arn: format!(
                "arn:{partition}:iam::{account}:role{BOOTSTRAP_ROLE_PATH}{}",
                name(EXECUTION_ROLE_NAME)
            ),
            boundary_arn: format!(
                "arn:{partition}:iam::{account}:policy/{}",
                name(BOUNDARY_NAME)
            ),
        }
    }
}

/// Builds the bootstrap stack.
pub fn build() -> Stack {
    let mut stack = Stack::new(
        "groupgate bootstrap: the artifact bucket, GitHub OIDC, the deploy and CloudFormation execution roles, and the account's API Gateway logging role",
    );
    let (repository, environment, existing_provider) = parameters(&mut stack);
    let create_provider = stack.condition(
        "CreateOidcProvider",
        Expr::Equals(Box::new(existing_provider.clone()), Box::new("".into())),
    );
    build_resources(
        &mut stack,
        repository,
        environment,
        existing_provider,
        create_provider,
    );
    stack
}

/// The parameters: the repository and environment allowed to deploy, the account's existing
/// OIDC provider if any, and (read through `${StackNamePrefix}`) the product stacks' prefix.
fn parameters(stack: &mut Stack) -> (Expr, Expr, Expr) {
    let repository = stack.parameter(
        "GitHubRepository",
        Parameter::string("The repository allowed to deploy, as owner/name"),
    );
    let environment = stack.parameter(
        "GitHubEnvironment",
        Parameter::string("The GitHub environment whose jobs may assume the deploy role")
            .default("production"),
    );
    let existing_provider = stack.parameter(
        "GitHubOidcProviderArn",
        Parameter::string(
            "The account's GitHub OIDC provider, if it has one already (it is account-wide); empty to create it",
        )
        .default(""),
    );
    // Read through `${StackNamePrefix}` in the deploy role's resources.
    stack.parameter(
        "StackNamePrefix",
        Parameter::string("The product stacks' names start with this").default("groupgate"),
    );
    (repository, environment, existing_provider)
}

fn build_resources(
    stack: &mut Stack,
    repository: Expr,
    environment: Expr,
    existing_provider: Expr,
    create_provider: String,
) {
    let bucket = artifact_bucket(stack);
    let provider = stack.add(
        "GitHubOidcProvider",
        Resource::new(
            "AWS::IAM::OIDCProvider",
            json!({
                "Url": format!("https://{GITHUB_OIDC}"),
                "ClientIdList": ["sts.amazonaws.com"],
            }),
        )
        .when(&create_provider),
    );
    let provider_arn = Expr::If(
        create_provider,
        Box::new(provider.r#ref()),
        Box::new(existing_provider),
    );
    let boundary = permissions_boundary(stack);
    let execution = execution_role(stack, &bucket, &boundary);
    let deploy = deploy_role(
        stack,
        &DeployRole {
            provider_arn,
            repository,
            environment,
        },
        &bucket,
        &execution,
    );
    api_gateway_logging(stack);

    stack.output(
        "ArtifactBucketName",
        bucket.r#ref(),
        "Where the Lambda zips go",
    );
    stack.output(
        "DeployRoleArn",
        deploy.arn(),
        "The role GitHub's deploy job assumes",
    );
    stack.output(
        "ExecutionRoleArn",
        execution.arn(),
        "The role CloudFormation deploys product stacks with",
    );
    stack.output(
        "PermissionsBoundaryArn",
        boundary.r#ref(),
        "The boundary every role of a product stack carries",
    );
}

/// A role statement for `principal` to assume the role with `action` under `condition`.
fn trust(principal: Value, action: &str, condition: Option<Value>) -> Value {
    let mut statement = json!({ "Effect": "Allow", "Principal": principal, "Action": action });
    if let (Some(condition), Some(map)) = (condition, statement.as_object_mut()) {
        map.insert("Condition".into(), condition);
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] })
}

fn artifact_bucket(stack: &mut Stack) -> Handle {
    let bucket = stack.add(
        "ArtifactBucket",
        Resource::new(
            "AWS::S3::Bucket",
            json!({
                "BucketName": Expr::sub(BUCKET_NAME),
                "VersioningConfiguration": { "Status": "Enabled" },
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [{
                        "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" },
                    }],
                },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true,
                    "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true,
                    "RestrictPublicBuckets": true,
                },
                "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
                "LifecycleConfiguration": {
                    "Rules": [{
                        "Id": "expire-old-versions",
                        "Status": "Enabled",
                        "NoncurrentVersionExpiration": { "NoncurrentDays": 30 },
                        "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 },
                    }],
                },
            }),
        )
        .retained()
        .waive(&[(
            "CKV_AWS_18",
            "holds only build artifacts that the deploy role writes; an access-log bucket per region would be one more bucket to keep; turn on CloudTrail data events for an audit trail",
        )]),
    );
    stack.add(
        "ArtifactBucketPolicy",
        Resource::new(
            "AWS::S3::BucketPolicy",
            json!({
                "Bucket": bucket.r#ref(),
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [{
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [bucket.arn(), Expr::join("", vec![bucket.arn(), "/*".into()])],
                        "Condition": { "Bool": { "aws:SecureTransport": "false" } },
                    }],
                },
            }),
        ),
    );
    bucket
}

/// The most any role of a product stack may do, whatever its own policies say.
fn permissions_boundary(stack: &mut Stack) -> Handle {
    let table =
        Expr::sub("arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/*");
    stack.add(
        "PermissionsBoundary",
        Resource::new(
            "AWS::IAM::ManagedPolicy",
            json!({
                "ManagedPolicyName": Expr::sub(BOUNDARY_NAME),
                "Description": "The most a role of a groupgate product stack may do",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        allow(&["logs:CreateLogStream", "logs:PutLogEvents"], vec![Expr::sub(
                            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*",
                        )]),
                        allow(&[
                            "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query",
                            "dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem",
                        ], vec![table]),
                        allow(&["sts:AssumeRole"], vec![Expr::sub(format!(
                            "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{APP_ROLE_PATH}*"
                        ))]),
                        allow(&["xray:PutTraceSegments", "xray:PutTelemetryRecords"], vec!["*".into()]),
                    ],
                },
            }),
        ),
    )
}

/// Why the scanner's broad-permission checks do not apply to the execution role.
const EXECUTION_ROLE_WAIVER: &str = "CloudFormation's execution role must create the product's resources; the roles it creates are held to the product's IAM path and the permissions boundary, and only the deploy role may pass it to CloudFormation";
const EXECUTION_ROLE_WAIVERS: &[(&str, &str)] = &[
    ("CKV_AWS_107", EXECUTION_ROLE_WAIVER),
    ("CKV_AWS_109", EXECUTION_ROLE_WAIVER),
    ("CKV_AWS_110", EXECUTION_ROLE_WAIVER),
    ("CKV_AWS_111", EXECUTION_ROLE_WAIVER),
];

/// The role CloudFormation deploys product stacks with.
fn execution_role(stack: &mut Stack, bucket: &Handle, boundary: &Handle) -> Handle {
    let app_roles = Expr::sub(format!(
        "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role{APP_ROLE_PATH}*"
    ));
    let with_boundary = json!({ "StringEquals": { "iam:PermissionsBoundary": boundary.r#ref() } });
    let statements = vec![
        allow(
            &[
                "cognito-idp:*",
                "dynamodb:*",
                "lambda:*",
                "apigateway:*",
                "logs:*",
                "cloudwatch:*",
                "sns:*",
                "xray:*",
            ],
            vec!["*".into()],
        ),
        allow(
            &["s3:GetObject", "s3:GetObjectVersion"],
            vec![Expr::join("", vec![bucket.arn(), "/*".into()])],
        ),
        json!({
            "Sid": "CreateRolesOnlyWithTheBoundary",
            "Effect": "Allow",
            "Action": ["iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy",
                "iam:DetachRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"],
            "Resource": [app_roles.clone()],
            "Condition": with_boundary,
        }),
        allow(
            &[
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
            ],
            vec![app_roles.clone()],
        ),
        json!({
            "Sid": "PassOnlyTheProductsRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [app_roles],
            "Condition": { "StringEquals": { "iam:PassedToService": [
                "lambda.amazonaws.com", "apigateway.amazonaws.com", "cognito-idp.amazonaws.com",
            ] } },
        }),
    ];
    stack.add(
        "ExecutionRole",
        Resource::new(
            "AWS::IAM::Role",
            json!({
                "RoleName": Expr::sub(EXECUTION_ROLE_NAME),
                "Path": BOOTSTRAP_ROLE_PATH,
                "AssumeRolePolicyDocument": trust(
                    json!({ "Service": "cloudformation.amazonaws.com" }),
                    "sts:AssumeRole",
                    None,
                ),
                "Policies": [{
                    "PolicyName": "deploy-product-stacks",
                    "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
                }],
            }),
        )
        .waive(EXECUTION_ROLE_WAIVERS),
    )
}

struct DeployRole {
    provider_arn: Expr,
    repository: Expr,
    environment: Expr,
}

/// The role the pipeline's deploy job assumes through GitHub's OIDC.
fn deploy_role(stack: &mut Stack, d: &DeployRole, bucket: &Handle, execution: &Handle) -> Handle {
    let statements = deploy_permissions(bucket, execution);
    stack.add(
        "DeployRole",
        Resource::new(
            "AWS::IAM::Role",
            json!({
                "RoleName": Expr::sub("groupgate-deploy-${AWS::Region}"),
                "Path": BOOTSTRAP_ROLE_PATH,
                "MaxSessionDuration": 3600,
                "AssumeRolePolicyDocument": trust(
                    json!({ "Federated": d.provider_arn }),
                    "sts:AssumeRoleWithWebIdentity",
                    Some(json!({ "StringEquals": {
                        format!("{GITHUB_OIDC}:aud"): "sts.amazonaws.com",
                        format!("{GITHUB_OIDC}:sub"): Expr::join("", vec![
                            "repo:".into(), d.repository.clone(), ":environment:".into(), d.environment.clone(),
                        ]),
                    } })),
                ),
                "Policies": [{
                    "PolicyName": "deploy",
                    "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
                }],
            }),
        ),
    )
}

/// What the deploy job may do: pass the execution role, run CloudFormation on the product's
/// stacks (not the bootstrap stack), write the bucket, and the work after a stack update
/// (seeding the tables, flushing the authorizer cache, the smoke test's users) on the product's
/// resources alone.
fn deploy_permissions(bucket: &Handle, execution: &Handle) -> Vec<Value> {
    let stacks = Expr::sub(
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${StackNamePrefix}*/*",
    );
    let tables = Expr::sub(
        "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${StackNamePrefix}*",
    );
    vec![
        json!({
            "Sid": "PassTheExecutionRoleToCloudFormation",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [execution.arn()],
            "Condition": { "StringEquals": { "iam:PassedToService": "cloudformation.amazonaws.com" } },
        }),
        allow(
            &[
                "cloudformation:CreateChangeSet",
                "cloudformation:DescribeChangeSet",
                "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteChangeSet",
                "cloudformation:DescribeStacks",
                "cloudformation:DescribeStackEvents",
                "cloudformation:DeleteStack",
                "cloudformation:GetTemplate",
                "cloudformation:ListStackResources",
            ],
            vec![stacks],
        ),
        json!({
            "Sid": "NotTheBootstrapStack",
            "Effect": "Deny",
            "Action": ["cloudformation:CreateChangeSet", "cloudformation:ExecuteChangeSet",
                "cloudformation:DeleteStack"],
            "Resource": [Expr::sub(format!(
                "arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{STACK_NAME}/*"
            ))],
        }),
        allow(
            &["cloudformation:DescribeStacks"],
            vec![Expr::sub(format!(
                "arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{STACK_NAME}/*"
            ))],
        ),
        allow(
            &["s3:PutObject", "s3:GetObject"],
            vec![Expr::join("", vec![bucket.arn(), "/*".into()])],
        ),
        allow(
            &["s3:ListBucket", "s3:GetBucketLocation"],
            vec![bucket.arn()],
        ),
        allow(
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Scan",
            ],
            vec![tables],
        ),
        allow(
            &["apigateway:GET"],
            vec![Expr::sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}::/account",
            )],
        ),
        allow(
            &["apigateway:DELETE"],
            vec![Expr::sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/*/stages/*/cache/authorizers",
            )],
        ),
        json!({
            "Sid": "SmokeTestUsersOnTheProductsPools",
            "Effect": "Allow",
            "Action": ["cognito-idp:AdminCreateUser", "cognito-idp:AdminSetUserPassword",
                "cognito-idp:AdminAddUserToGroup", "cognito-idp:AdminDeleteUser",
                "cognito-idp:AdminInitiateAuth"],
            "Resource": [Expr::sub("arn:${AWS::Partition}:cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/*")],
            "Condition": { "StringLike": { "aws:ResourceTag/groupgate:stack": Expr::sub("${StackNamePrefix}*") } },
        }),
    ]
}

/// The account's API Gateway CloudWatch role and the setting that names it.
fn api_gateway_logging(stack: &mut Stack) {
    let mut role = apigateway_cloudwatch_role();
    if let Some(properties) = role.properties.as_object_mut() {
        properties.insert(
            "RoleName".into(),
            json!(Expr::sub("groupgate-apigw-logs-${AWS::Region}")),
        );
        properties.insert("Path".into(), json!(BOOTSTRAP_ROLE_PATH));
    }
    let role = stack.add("ApiGatewayCloudWatchRole", role);
    stack.add("ApiGatewayAccount", apigateway_account(&role));
}
