//! The bootstrap stack: what a product stack needs from its account and region, created once
//! per account and region by `groupgate bootstrap`, the way `cdk bootstrap` does.
//!
//! - the artifact bucket the Lambda zips are uploaded to: versioned, encrypted, public access
//!   blocked, TLS only, old versions expired; kept when the stack is deleted, and adopted again
//!   by the next bootstrap;
//! - GitHub's OIDC provider, unless the account has one already (it is account-wide); kept when
//!   the stack is deleted, because other regions' deploy roles trust it too;
//! - a deploy role that only the repository's deploy workflow on its main branch can assume,
//!   named by the repository's and owner's immutable ids; it may pass the execution role, run
//!   change sets on this product's stacks (never an import), write the bucket, and do what the
//!   deploy does after the stack update, on those stacks' resources alone;
//! - a CloudFormation execution role that reaches only the product's resources: by name prefix
//!   where CloudFormation names them from the stack name, by the `groupgate:stack` tag where
//!   names are generated (user pools, REST APIs); it creates roles only under the product's
//!   IAM path and only with the permissions boundary;
//! - the permissions boundary, which holds every role of a product stack to the product's
//!   tables, log groups and group roles, whatever its own policy or trust says;
//! - the role API Gateway writes CloudWatch logs with. `groupgate bootstrap` names it in the
//!   account's API Gateway setting after the stack is up, retrying while IAM propagates (see
//!   `operations::bootstrap`), and leaves a role another application set there alone.
//!
//! Names carry the region wherever IAM's global namespace would otherwise collide. Every `*`
//! resource left in a statement says beside it which action needs it and why.

use serde_json::{Value, json};

use crate::construct::resources::apigateway_cloudwatch_role;
use crate::construct::{Expr, Handle, Parameter, Resource, Stack};

/// The bootstrap stack's name in each region.
pub const STACK_NAME: &str = "groupgate-bootstrap";
/// The IAM path of the roles the product stacks create; the execution role may create roles
/// under it only.
pub const APP_ROLE_PATH: &str = "/groupgate/";
/// The IAM path of the bootstrap stack's own roles, which the execution role cannot touch.
pub const BOOTSTRAP_ROLE_PATH: &str = "/groupgate-bootstrap/";
/// GitHub Actions' OIDC issuer.
pub const GITHUB_OIDC: &str = "token.actions.githubusercontent.com";
/// The audience GitHub's tokens carry for AWS (`aws-actions/configure-aws-credentials`).
pub const OIDC_AUDIENCE: &str = "sts.amazonaws.com";
/// The tag a product stack puts on what has a generated id (the user pool, the REST API), with
/// the stack's name as its value: the execution and deploy roles reach those by it.
pub const PRODUCT_TAG: &str = "groupgate:stack";
/// The claims GitHub's subject (`sub`) is made of, in this order, once the repository's OIDC
/// subject template is set to them (`groupgate bootstrap` prints how). Ids rather than names:
/// a renamed or re-registered repository or owner gets new ids, so it does not inherit the
/// trust. `ref` and `job_workflow_ref` bind the trust to the deploy workflow on the main
/// branch: a `workflow_dispatch` from another branch, or a pushed branch with an edited
/// workflow, carries that branch's ref in both.
/// <https://docs.github.com/en/actions/reference/security/oidc#customizing-the-subject-claims-for-an-organization-or-repository>
pub const SUBJECT_CLAIMS: [&str; 5] = [
    "repository_owner_id",
    "repository_id",
    "environment",
    "ref",
    "job_workflow_ref",
];

/// The bootstrap's version, kept as the artifact bucket's tag [`VERSION_TAG`]: `groupgate
/// deploy` refuses a bootstrap older than the one it was built with, before it changes
/// anything, rather than failing mid-update on a permission the old execution role lacks (and
/// rolling back). Raise it whenever the execution or deploy role needs something new:
/// - 1 (no tag): the first bootstrap;
/// - 2: `cognito-idp:*ResourceServer` for scopes and their machine client (issue 23), and
///   `s3:GetBucketTagging` for this check.
pub const BOOTSTRAP_VERSION: u32 = 2;
/// The artifact bucket's tag that holds [`BOOTSTRAP_VERSION`].
pub const VERSION_TAG: &str = "groupgate:bootstrap-version";

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
        Self {
            bucket: bucket_name(account, region),
            execution_role_arn: format!(
                "arn:{partition}:iam::{account}:role{BOOTSTRAP_ROLE_PATH}{}",
                EXECUTION_ROLE_NAME.replace("${AWS::Region}", region)
            ),
            boundary_arn: format!(
                "arn:{partition}:iam::{account}:policy/{}",
                BOUNDARY_NAME.replace("${AWS::Region}", region)
            ),
        }
    }
}

/// The artifact bucket's name in `account` and `region`.
pub fn bucket_name(account: &str, region: &str) -> String {
    BUCKET_NAME
        .replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
}

/// Who may assume the deploy role: GitHub's repository (`owner/name`) and the immutable ids of
/// it and its owner, the environment, branch and workflow file of the deploy job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployer {
    pub repository: String,
    pub repository_id: String,
    pub owner_id: String,
    pub environment: String,
    pub branch: String,
    pub workflow: String,
}

impl Deployer {
    /// The `sub` claim GitHub puts in the deploy job's token under [`SUBJECT_CLAIMS`]: the
    /// value the deploy role's trust policy requires.
    pub fn subject(&self) -> String {
        let values = [
            self.owner_id.clone(),
            self.repository_id.clone(),
            self.environment.clone(),
            format!("refs/heads/{}", self.branch),
            format!(
                "{}/{}@refs/heads/{}",
                self.repository, self.workflow, self.branch
            ),
        ];
        SUBJECT_CLAIMS
            .iter()
            .zip(values)
            .map(|(claim, value)| format!("{claim}:{value}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The request body of GitHub's "set the OIDC subject claim template for a repository".
    pub fn subject_template(&self) -> Value {
        json!({ "use_default": false, "include_claim_keys": SUBJECT_CLAIMS })
    }
}

/// The stack's parameters, as `Ref`s.
struct Params {
    repository: Expr,
    repository_id: Expr,
    owner_id: Expr,
    environment: Expr,
    branch: Expr,
    workflow: Expr,
    existing_provider: Expr,
}

/// Builds the bootstrap stack.
pub fn build() -> Stack {
    let mut stack = Stack::new(
        "groupgate bootstrap: the artifact bucket, GitHub OIDC, the deploy and CloudFormation execution roles, the permissions boundary and API Gateway's logging role",
    );
    let params = parameters(&mut stack);
    let create_provider = stack.condition(
        "CreateOidcProvider",
        Expr::Equals(
            Box::new(params.existing_provider.clone()),
            Box::new("".into()),
        ),
    );
    build_resources(&mut stack, &params, create_provider);
    stack
}

/// The parameters: who may deploy, the account's existing OIDC provider if any, and (read
/// through `${StackNamePrefix}`) the product stacks' name prefix.
fn parameters(stack: &mut Stack) -> Params {
    let mut string = |id: &str, description: &str, default: Option<&str>| {
        let parameter = Parameter::string(description);
        stack.parameter(
            id,
            match default {
                Some(d) => parameter.default(d),
                None => parameter,
            },
        )
    };
    let repository = string(
        "GitHubRepository",
        "The repository allowed to deploy, as owner/name",
        None,
    );
    let repository_id = string(
        "GitHubRepositoryId",
        "The repository's numeric id, which a renamed or re-created repository does not keep",
        None,
    );
    let owner_id = string(
        "GitHubOwnerId",
        "The numeric id of the repository's owner (user or organization)",
        None,
    );
    let environment = string(
        "GitHubEnvironment",
        "The GitHub environment the deploy job runs in",
        Some("production"),
    );
    let branch = string(
        "GitHubBranch",
        "The only branch whose deploy workflow may deploy",
        Some("main"),
    );
    let workflow = string(
        "DeployWorkflow",
        "The deploy workflow's file in the repository",
        Some(".github/workflows/deploy.yml"),
    );
    let existing_provider = string(
        "GitHubOidcProviderArn",
        "The account's GitHub OIDC provider, if it has one already (it is account-wide); empty to create it",
        Some(""),
    );
    // Read through `${StackNamePrefix}` in the roles' and boundary's resources.
    string(
        "StackNamePrefix",
        "The product stacks' names start with this; nothing else in the account should use it",
        Some("groupgate"),
    );
    Params {
        repository,
        repository_id,
        owner_id,
        environment,
        branch,
        workflow,
        existing_provider,
    }
}

fn build_resources(stack: &mut Stack, params: &Params, create_provider: String) {
    let bucket = artifact_bucket(stack);
    let provider = stack.add(
        "GitHubOidcProvider",
        Resource::new(
            "AWS::IAM::OIDCProvider",
            json!({
                "Url": format!("https://{GITHUB_OIDC}"),
                "ClientIdList": [OIDC_AUDIENCE],
            }),
        )
        .when(&create_provider)
        // Account-wide: other regions' deploy roles may trust it, so a stack delete keeps it
        // and the next bootstrap finds it.
        .retained(),
    );
    let provider_arn = Expr::If(
        create_provider,
        Box::new(provider.r#ref()),
        Box::new(params.existing_provider.clone()),
    );
    let boundary = permissions_boundary(stack);
    let execution = execution_role(stack, &bucket, &boundary);
    let subject = subject(params);
    let deploy = deploy_role(
        stack,
        provider_arn.clone(),
        subject.clone(),
        &bucket,
        &execution,
    );
    let logging = api_gateway_logging(stack);

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
        "DeployRoleSubject",
        subject,
        "The sub claim the deploy role requires of GitHub's token",
    );
    stack.output(
        "GitHubOidcProviderArn",
        provider_arn,
        "The GitHub OIDC provider the deploy role trusts",
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
    stack.output(
        "ApiGatewayCloudWatchRoleArn",
        logging.arn(),
        "The role groupgate bootstrap names in API Gateway's account setting",
    );
}

/// The deploy role's required `sub`, from the parameters, as [`Deployer::subject`] writes it.
fn subject(p: &Params) -> Expr {
    let mut parts: Vec<Expr> = Vec::new();
    let values = [
        vec![p.owner_id.clone()],
        vec![p.repository_id.clone()],
        vec![p.environment.clone()],
        vec!["refs/heads/".into(), p.branch.clone()],
        vec![
            p.repository.clone(),
            "/".into(),
            p.workflow.clone(),
            "@refs/heads/".into(),
            p.branch.clone(),
        ],
    ];
    for (i, (claim, value)) in SUBJECT_CLAIMS.iter().zip(values).enumerate() {
        let separator = if i == 0 { "" } else { ":" };
        parts.push(format!("{separator}{claim}:").into());
        parts.extend(value);
    }
    Expr::join("", parts)
}

/// A role statement for `principal` to assume the role with `action` under `condition`.
fn trust(principal: Value, action: &str, condition: Option<Value>) -> Value {
    let mut statement = json!({ "Effect": "Allow", "Principal": principal, "Action": action });
    if let (Some(condition), Some(map)) = (condition, statement.as_object_mut()) {
        map.insert("Condition".into(), condition);
    }
    json!({ "Version": "2012-10-17", "Statement": [statement] })
}

/// An `Fn::Sub` ARN of this partition: `arn:${AWS::Partition}:{rest}`.
fn arn(rest: &str) -> Expr {
    Expr::sub(format!("arn:${{AWS::Partition}}:{rest}"))
}

/// A statement with a Sid.
fn statement(sid: &str, effect: &str, actions: &[&str], resources: Vec<Expr>) -> Value {
    json!({ "Sid": sid, "Effect": effect, "Action": actions, "Resource": resources })
}

/// `statement` with a condition.
fn when(mut statement: Value, condition: Value) -> Value {
    if let Some(map) = statement.as_object_mut() {
        map.insert("Condition".into(), condition);
    }
    statement
}

/// The condition that a resource carries the product tag of a product stack.
fn product_resource() -> Value {
    json!({ "StringLike": { format!("aws:ResourceTag/{PRODUCT_TAG}"): Expr::sub("${StackNamePrefix}*") } })
}

/// The condition that a create request tags the new resource as a product stack's.
fn product_request() -> Value {
    json!({ "StringLike": { format!("aws:RequestTag/{PRODUCT_TAG}"): Expr::sub("${StackNamePrefix}*") } })
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
                "Tags": [{ "Key": VERSION_TAG, "Value": BOOTSTRAP_VERSION.to_string() }],
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

/// The product's tables: CloudFormation names them `{stack}-{LogicalId}-{random}`.
fn product_tables() -> Expr {
    arn("dynamodb:${AWS::Region}:${AWS::AccountId}:table/${StackNamePrefix}*")
}

/// The product's pets tables, `{stack}-PetsTable-{random}`. A stack name that itself holds
/// `-PetsTable-` would widen this to that stack's other tables; stack names are the operator's.
fn product_pets_tables() -> Expr {
    arn(&format!(
        "dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/${{StackNamePrefix}}*-{}-*",
        crate::app::PETS_TABLE
    ))
}

/// The product's log groups, `{stack}-{LogicalId}-{random}`; their streams are below them.
fn product_log_groups() -> Expr {
    arn("logs:${AWS::Region}:${AWS::AccountId}:log-group:${StackNamePrefix}*")
}

/// The product stacks' group roles, which the backend assumes.
fn product_group_roles() -> Expr {
    arn(&format!(
        "iam::${{AWS::AccountId}}:role{APP_ROLE_PATH}${{StackNamePrefix}}*/groups/*"
    ))
}

/// The most any role of a product stack may do, whatever its own policies or trust say: write
/// the product's logs, read items of the product's tables and write those of its pets tables,
/// assume the product's group roles, and send traces.
fn permissions_boundary(stack: &mut Stack) -> Handle {
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
                        statement("ProductLogs", "Allow",
                            &["logs:CreateLogStream", "logs:PutLogEvents"], vec![product_log_groups()]),
                        statement("ReadProductItems", "Allow", &[
                            "dynamodb:BatchGetItem", "dynamodb:GetItem", "dynamodb:Query",
                            "dynamodb:Scan",
                        ], vec![product_tables()]),
                        // Only the pets table is written at run time (the backend). The policy
                        // table is written by the deploy alone, so no role of a product stack,
                        // whatever its own policy or trust, can grant a group more access.
                        statement("WritePetsItemsOnly", "Allow",
                            &["dynamodb:PutItem", "dynamodb:UpdateItem"], vec![product_pets_tables()]),
                        statement("ProductGroupRoles", "Allow",
                            &["sts:AssumeRole"], vec![product_group_roles()]),
                        // X-Ray's PutTraceSegments and PutTelemetryRecords support no resource
                        // type (Service Authorization Reference, AWS X-Ray), so only `*`.
                        statement("Traces", "Allow",
                            &["xray:PutTraceSegments", "xray:PutTelemetryRecords"], vec!["*".into()]),
                    ],
                },
            }),
        ),
    )
}

/// Why the scanner's broad-permission checks do not apply to the execution role.
const EXECUTION_ROLE_WAIVER: &str = "CloudFormation's execution role must create the product's resources; every statement is held to the product's name prefix or tag except the read-only lookups that support no resource type (each commented in the source), the roles it creates are held to the product's IAM path and the permissions boundary, and only the deploy role may pass it to CloudFormation";
const EXECUTION_ROLE_WAIVERS: &[(&str, &str)] = &[
    ("CKV_AWS_107", EXECUTION_ROLE_WAIVER),
    ("CKV_AWS_108", EXECUTION_ROLE_WAIVER),
    ("CKV_AWS_109", EXECUTION_ROLE_WAIVER),
    ("CKV_AWS_110", EXECUTION_ROLE_WAIVER),
    ("CKV_AWS_111", EXECUTION_ROLE_WAIVER),
];

/// The actions CloudFormation's handlers need on the product's tables (the `AWS::DynamoDB::Table`
/// handler permission lists, less the Kinesis and S3 import ones, which the template does not
/// use: `deploy/cli/tests/iam.rs` checks both).
const TABLE_ACTIONS: &[&str] = &[
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:UpdateTable",
    "dynamodb:DeleteTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:DescribeContributorInsights",
    "dynamodb:UpdateContributorInsights",
    "dynamodb:DescribeKinesisStreamingDestination",
    "dynamodb:ListTagsOfResource",
    "dynamodb:TagResource",
    "dynamodb:UntagResource",
    "dynamodb:GetResourcePolicy",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
    "dynamodb:CreateTableReplica",
    "dynamodb:AssociateTableReplica",
    "dynamodb:Scan",
    "dynamodb:Query",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
];

/// On the product's functions (`AWS::Lambda::Function` and `AWS::Lambda::Permission`), less
/// layers, code signing, VPC, file systems, KMS and capacity providers, which it does not use.
const FUNCTION_ACTIONS: &[&str] = &[
    "lambda:CreateFunction",
    "lambda:GetFunction",
    "lambda:DeleteFunction",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:PutFunctionConcurrency",
    "lambda:DeleteFunctionConcurrency",
    "lambda:TagResource",
    "lambda:UntagResource",
    "lambda:ListTags",
    "lambda:GetFunctionCodeSigningConfig",
    "lambda:GetRuntimeManagementConfig",
    "lambda:PutRuntimeManagementConfig",
    "lambda:GetFunctionRecursionConfig",
    "lambda:PutFunctionRecursionConfig",
    "lambda:PutFunctionScalingConfig",
    "lambda:PublishVersion",
    "lambda:GetPolicy",
    "lambda:RemovePermission",
];

/// On the product's log groups (`AWS::Logs::LogGroup`), less KMS, deliveries, resource and
/// index policies (account-wide), which it does not use.
const LOG_GROUP_ACTIONS: &[&str] = &[
    "logs:CreateLogGroup",
    "logs:DeleteLogGroup",
    "logs:PutRetentionPolicy",
    "logs:DeleteRetentionPolicy",
    "logs:TagResource",
    "logs:UntagResource",
    "logs:ListTagsForResource",
    "logs:GetDataProtectionPolicy",
    "logs:PutDataProtectionPolicy",
    "logs:DeleteDataProtectionPolicy",
    "logs:PutLogGroupDeletionProtection",
    "logs:PutBearerTokenAuthentication",
];

/// On the product's alarms and dashboard (`AWS::CloudWatch::Alarm`, `AWS::CloudWatch::Dashboard`).
const CLOUDWATCH_ACTIONS: &[&str] = &[
    "cloudwatch:PutMetricAlarm",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DeleteAlarms",
    "cloudwatch:PutDashboard",
    "cloudwatch:GetDashboard",
    "cloudwatch:DeleteDashboards",
    "cloudwatch:TagResource",
    "cloudwatch:UntagResource",
    "cloudwatch:ListTagsForResource",
];

/// On the product's alarm topic (`AWS::SNS::Topic`, `AWS::SNS::Subscription`).
const TOPIC_ACTIONS: &[&str] = &[
    "sns:CreateTopic",
    "sns:DeleteTopic",
    "sns:GetTopicAttributes",
    "sns:SetTopicAttributes",
    "sns:TagResource",
    "sns:UntagResource",
    "sns:ListTagsForResource",
    "sns:Subscribe",
    "sns:ListSubscriptionsByTopic",
    "sns:GetDataProtectionPolicy",
    "sns:PutDataProtectionPolicy",
];

/// On the product's user pools (`AWS::Cognito::UserPool`, `...Client`, `...Group`,
/// `...Domain`, `...ResourceServer`), less SMS roles, analytics, custom domains and KMS, which it does not use.
const USER_POOL_ACTIONS: &[&str] = &[
    "cognito-idp:DescribeUserPool",
    "cognito-idp:UpdateUserPool",
    "cognito-idp:DeleteUserPool",
    "cognito-idp:SetUserPoolMfaConfig",
    "cognito-idp:GetUserPoolMfaConfig",
    "cognito-idp:AddCustomAttributes",
    "cognito-idp:TagResource",
    "cognito-idp:UntagResource",
    "cognito-idp:ListTagsForResource",
    "cognito-idp:CreateUserPoolClient",
    "cognito-idp:DescribeUserPoolClient",
    "cognito-idp:UpdateUserPoolClient",
    "cognito-idp:DeleteUserPoolClient",
    "cognito-idp:CreateGroup",
    "cognito-idp:GetGroup",
    "cognito-idp:UpdateGroup",
    "cognito-idp:DeleteGroup",
    "cognito-idp:CreateUserPoolDomain",
    "cognito-idp:UpdateUserPoolDomain",
    "cognito-idp:DeleteUserPoolDomain",
    "cognito-idp:CreateResourceServer",
    "cognito-idp:DescribeResourceServer",
    "cognito-idp:UpdateResourceServer",
    "cognito-idp:DeleteResourceServer",
];

/// The role CloudFormation deploys product stacks with: every statement names the product's
/// resources, by name prefix or by the product tag.
fn execution_role(stack: &mut Stack, bucket: &Handle, boundary: &Handle) -> Handle {
    let function_code = statement(
        "FunctionCode",
        "Allow",
        &["s3:GetObject", "s3:GetObjectVersion"],
        vec![Expr::join("", vec![bucket.arn(), "/*".into()])],
    );
    let statements: Vec<Value> = [
        compute_statements(),
        monitoring_statements(),
        user_pool_statements(),
        rest_api_statements(),
        vec![function_code],
        role_statements(boundary),
    ]
    .concat();
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

/// The product's tables and functions; only API Gateway may be granted a function's invocation.
fn compute_statements() -> Vec<Value> {
    vec![
        statement(
            "ProductTables",
            "Allow",
            TABLE_ACTIONS,
            vec![product_tables()],
        ),
        statement(
            "ProductFunctions",
            "Allow",
            FUNCTION_ACTIONS,
            vec![arn(
                "lambda:${AWS::Region}:${AWS::AccountId}:function:${StackNamePrefix}*",
            )],
        ),
        // Only API Gateway may be granted the invocation of a product function: no public or
        // cross-account invoke permission.
        when(
            statement(
                "InvokeOnlyByApiGateway",
                "Allow",
                &["lambda:AddPermission"],
                vec![arn(
                    "lambda:${AWS::Region}:${AWS::AccountId}:function:${StackNamePrefix}*",
                )],
            ),
            json!({ "StringEquals": { "lambda:Principal": "apigateway.amazonaws.com" } }),
        ),
    ]
}

/// The product's log groups, alarms, dashboards and alarm topic.
fn monitoring_statements() -> Vec<Value> {
    vec![
        statement(
            "ProductLogGroups",
            "Allow",
            LOG_GROUP_ACTIONS,
            vec![product_log_groups()],
        ),
        // DescribeLogGroups, DescribeResourcePolicies and DescribeIndexPolicies support no
        // resource type (Service Authorization Reference, CloudWatch Logs): the LogGroup
        // handler looks its group up with them. Read-only, names and settings only.
        statement(
            "LogGroupLookups",
            "Allow",
            &[
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:DescribeIndexPolicies",
            ],
            vec!["*".into()],
        ),
        statement(
            "ProductAlarmsAndDashboards",
            "Allow",
            CLOUDWATCH_ACTIONS,
            vec![
                arn("cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${StackNamePrefix}*"),
                arn("cloudwatch::${AWS::AccountId}:dashboard/${StackNamePrefix}*"),
            ],
        ),
        statement(
            "ProductTopics",
            "Allow",
            TOPIC_ACTIONS,
            vec![arn(
                "sns:${AWS::Region}:${AWS::AccountId}:${StackNamePrefix}*",
            )],
        ),
        // Unsubscribe and GetSubscriptionAttributes support no resource type (Service
        // Authorization Reference, Amazon SNS): the Subscription handler deletes the alarm
        // e-mail subscription with them. The residue: this role could unsubscribe a
        // subscription it knows the ARN of; it cannot read or publish to a foreign topic.
        statement(
            "SubscriptionsHaveNoResourceType",
            "Allow",
            &["sns:Unsubscribe", "sns:GetSubscriptionAttributes"],
            vec!["*".into()],
        ),
    ]
}

/// The product's user pools, held to them by the product tag.
fn user_pool_statements() -> Vec<Value> {
    vec![
        when(
            statement(
                "CreateOnlyTaggedUserPools",
                "Allow",
                &["cognito-idp:CreateUserPool"],
                // CreateUserPool supports no resource type; the request tag holds it to a
                // product pool.
                vec!["*".into()],
            ),
            product_request(),
        ),
        // A foreign pool lacks the tag, so it can be neither used nor tagged into scope
        // (TagResource is held to pools that already carry it).
        when(
            statement(
                "ProductUserPools",
                "Allow",
                USER_POOL_ACTIONS,
                vec![arn(
                    "cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/*",
                )],
            ),
            product_resource(),
        ),
        // DescribeUserPoolDomain supports no resource type (Service Authorization Reference,
        // Amazon Cognito User Pools): the UserPoolDomain handler checks a domain with it.
        // Read-only.
        statement(
            "UserPoolDomainLookups",
            "Allow",
            &["cognito-idp:DescribeUserPoolDomain"],
            vec!["*".into()],
        ),
    ]
}

/// The product's REST APIs, held to them by the product tag.
fn rest_api_statements() -> Vec<Value> {
    let rest_apis = arn("apigateway:${AWS::Region}::/restapis/*");
    vec![
        when(
            statement(
                "CreateOnlyTaggedRestApis",
                "Allow",
                &["apigateway:POST"],
                vec![arn("apigateway:${AWS::Region}::/restapis")],
            ),
            product_request(),
        ),
        // A REST API's children (resources, methods, authorizers, deployments, stages, gateway
        // responses) inherit its tags for access control:
        // https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-tagging-supported-resources.html
        // No `/tags/*` statement: tagging another API into scope stays impossible.
        when(
            statement(
                "ProductRestApis",
                "Allow",
                &[
                    "apigateway:GET",
                    "apigateway:POST",
                    "apigateway:PUT",
                    "apigateway:PATCH",
                    "apigateway:DELETE",
                    "apigateway:UpdateRestApiPolicy",
                ],
                vec![rest_apis],
            ),
            product_resource(),
        ),
    ]
}

/// The product's roles: created only under its IAM path with the boundary, passed only to
/// Lambda; the boundary and the bootstrap's own roles out of reach.
fn role_statements(boundary: &Handle) -> Vec<Value> {
    let app_roles = arn(&format!(
        "iam::${{AWS::AccountId}}:role{APP_ROLE_PATH}${{StackNamePrefix}}*"
    ));
    let with_boundary = json!({ "StringEquals": { "iam:PermissionsBoundary": boundary.r#ref() } });
    vec![
        when(
            statement(
                "CreateRolesOnlyWithTheBoundary",
                "Allow",
                &[
                    "iam:CreateRole",
                    "iam:PutRolePolicy",
                    "iam:AttachRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:DeleteRolePolicy",
                    "iam:PutRolePermissionsBoundary",
                ],
                vec![app_roles.clone()],
            ),
            with_boundary,
        ),
        statement(
            "ProductRoles",
            "Allow",
            &[
                "iam:GetRole",
                "iam:GetRolePolicy",
                "iam:DeleteRole",
                "iam:UpdateRole",
                "iam:UpdateRoleDescription",
                "iam:UpdateAssumeRolePolicy",
                "iam:TagRole",
                "iam:UntagRole",
                "iam:ListRolePolicies",
                "iam:ListAttachedRolePolicies",
            ],
            vec![app_roles.clone()],
        ),
        // The functions are the only service a product role is passed to.
        when(
            statement(
                "PassProductRolesToLambda",
                "Allow",
                &["iam:PassRole"],
                vec![app_roles],
            ),
            json!({ "StringEquals": { "iam:PassedToService": "lambda.amazonaws.com" } }),
        ),
        statement(
            "KeepTheBoundaryAndTheBootstrap",
            "Deny",
            &["iam:*"],
            vec![
                boundary.r#ref(),
                arn(&format!(
                    "iam::${{AWS::AccountId}}:role{BOOTSTRAP_ROLE_PATH}*"
                )),
            ],
        ),
        statement(
            "NeverDropTheBoundary",
            "Deny",
            &["iam:DeleteRolePermissionsBoundary"],
            vec!["*".into()],
        ),
    ]
}

/// The role the pipeline's deploy job assumes through GitHub's OIDC: only a token whose `sub`
/// is `subject` (the repository's and owner's ids, the environment, the main branch and the
/// deploy workflow) and whose audience is STS.
fn deploy_role(
    stack: &mut Stack,
    provider_arn: Expr,
    subject: Expr,
    bucket: &Handle,
    execution: &Handle,
) -> Handle {
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
                    json!({ "Federated": provider_arn }),
                    "sts:AssumeRoleWithWebIdentity",
                    Some(json!({ "StringEquals": {
                        format!("{GITHUB_OIDC}:aud"): OIDC_AUDIENCE,
                        format!("{GITHUB_OIDC}:sub"): subject,
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

/// What the deploy job may do: pass the execution role, run change sets on the product's
/// stacks through it (never an import, never the bootstrap stack), write the bucket, and the
/// work after a stack update (seeding the tables, a fresh API deployment, flushing the
/// authorizer cache, the smoke test's users) on the product's resources alone. Every call is
/// listed in `operations::permissions::CALLS`, which `deploy/cli/tests/iam.rs` evaluates.
fn deploy_permissions(bucket: &Handle, execution: &Handle) -> Vec<Value> {
    [
        change_set_permissions(execution),
        after_update_permissions(bucket),
    ]
    .concat()
}

/// Change sets on the product's stacks, through the execution role only; never an import, never
/// the bootstrap stack.
fn change_set_permissions(execution: &Handle) -> Vec<Value> {
    let stacks = arn("cloudformation:${AWS::Region}:${AWS::AccountId}:stack/${StackNamePrefix}*/*");
    vec![
        when(
            statement(
                "PassTheExecutionRoleToCloudFormation",
                "Allow",
                &["iam:PassRole"],
                vec![execution.arn()],
            ),
            json!({ "StringEquals": { "iam:PassedToService": "cloudformation.amazonaws.com" } }),
        ),
        // Every change set runs as the execution role, never with the deploy role's own rights.
        when(
            statement(
                "ChangeSetsThroughTheExecutionRole",
                "Allow",
                &["cloudformation:CreateChangeSet"],
                vec![stacks.clone()],
            ),
            json!({ "StringEquals": { "cloudformation:RoleArn": execution.arn() } }),
        ),
        statement(
            "ProductStacks",
            "Allow",
            &[
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
        // No import brings an existing resource (another application's) into a product stack:
        // an IMPORT change set carries `cloudformation:ImportResourceTypes`. (There is no IAM
        // action `ImportResourcesToStack`; `cloudformation:*` covers whatever an import is
        // authorized as.)
        // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/security_iam_id-based-policy-examples.html
        when(
            statement("NoImports", "Deny", &["cloudformation:*"], vec!["*".into()]),
            json!({ "ForAnyValue:StringLike": { "cloudformation:ImportResourceTypes": ["*"] } }),
        ),
        // The bootstrap stack's name starts with the default prefix.
        statement(
            "NotTheBootstrapStack",
            "Deny",
            &["cloudformation:*"],
            vec![arn(&format!(
                "cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{STACK_NAME}/*"
            ))],
        ),
    ]
}

/// The zips, and the work after a stack update on the product's resources: seeding the tables,
/// a fresh API deployment, flushing the authorizer cache, the smoke test's users.
fn after_update_permissions(bucket: &Handle) -> Vec<Value> {
    let objects = Expr::join("", vec![bucket.arn(), "/*".into()]);
    vec![
        statement(
            "Assets",
            "Allow",
            // HeadObject (the stored object's SHA-256 and version) is s3:GetObject.
            &["s3:PutObject", "s3:GetObject"],
            vec![objects],
        ),
        statement(
            "AssetBucket",
            "Allow",
            // GetBucketTagging: the deploy reads the bootstrap's version (VERSION_TAG).
            &[
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:GetBucketTagging",
            ],
            vec![bucket.arn()],
        ),
        statement(
            "ProductItems",
            "Allow",
            &[
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:Scan",
            ],
            vec![product_tables()],
        ),
        statement(
            "ApiGatewayAccountSetting",
            "Allow",
            &["apigateway:GET"],
            vec![arn("apigateway:${AWS::Region}::/account")],
        ),
        // A fresh deployment after removed routes (CreateDeployment names the stage, which moves
        // to it in the same call), the authorizer cache flushed: on the product's REST APIs only
        // (tag inherited from the API).
        when(
            statement(
                "ProductApiDeployments",
                "Allow",
                &["apigateway:POST", "apigateway:DELETE"],
                vec![
                    arn("apigateway:${AWS::Region}::/restapis/*/deployments"),
                    arn("apigateway:${AWS::Region}::/restapis/*/stages/*"),
                ],
            ),
            product_resource(),
        ),
        when(
            statement(
                "SmokeTestUsersOnTheProductsPools",
                "Allow",
                &[
                    "cognito-idp:AdminCreateUser",
                    "cognito-idp:AdminSetUserPassword",
                    "cognito-idp:AdminAddUserToGroup",
                    "cognito-idp:AdminDeleteUser",
                    "cognito-idp:AdminInitiateAuth",
                ],
                vec![arn(
                    "cognito-idp:${AWS::Region}:${AWS::AccountId}:userpool/*",
                )],
            ),
            product_resource(),
        ),
    ]
}

/// The role API Gateway writes CloudWatch logs with. Kept when the stack is deleted: the
/// account's API Gateway setting (one per region, which other applications' stages share)
/// keeps naming it. CloudFormation generates its name, so a re-bootstrap makes a new one
/// instead of colliding with the kept one.
fn api_gateway_logging(stack: &mut Stack) -> Handle {
    let mut role = apigateway_cloudwatch_role();
    if let Some(properties) = role.properties.as_object_mut() {
        properties.insert("Path".into(), json!(BOOTSTRAP_ROLE_PATH));
    }
    stack.add("ApiGatewayCloudWatchRole", role.retained())
}
