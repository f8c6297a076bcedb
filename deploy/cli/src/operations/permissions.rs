//! Every AWS call the product makes with the bootstrap's deploy role and with the roles of a
//! product stack, in one list: `deploy/cli/tests/iam.rs` evaluates each against the synthesized
//! policies, and fails when a source file makes an SDK call (or, in the smoke script, an AWS
//! CLI call) that this list does not name, so a new call cannot ship without its permission.
//!
//! Calls the operator makes with their own credentials (`groupgate bootstrap`, the local stack,
//! the toolbox) are listed as [`Caller::Operator`] and not evaluated: those credentials are
//! whatever the operator's are. `sts:GetCallerIdentity` needs no permission and is listed as
//! [`On::Nothing`].

/// Whose role a call is made with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// The bootstrap's deploy role: `groupgate deploy`, `deploy-policies`, `seed-policies
    /// --stack`, `token --stack`, `remove-pets` and the deployed smoke test, in the pipeline's
    /// deploy jobs.
    Deploy,
    /// The authorizer function's own role.
    Authorizer,
    /// The backend function's own role.
    Backend,
    /// A group role the backend assumes for a caller: the call is allowed to the groups whose
    /// `pets_table` access includes the action, and to no other.
    GroupRole,
    /// The operator's own credentials, or an emulator: not evaluated.
    Operator,
}

/// What a call acts on, resolved by the test against a deployed stack's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// The product stack (`stack/{name}/{id}`).
    ProductStack,
    /// The bootstrap's execution role, passed to CloudFormation.
    ExecutionRole,
    ArtifactBucket,
    /// An object in the artifact bucket (a zip or a template).
    ArtifactObject,
    PolicyTable,
    PetsTable,
    /// The product stack's user pool (tagged `groupgate:stack`).
    UserPool,
    /// API Gateway's account setting in the region.
    ApiGatewayAccount,
    /// The product REST API's deployments collection.
    ApiDeployments,
    /// The product REST API's stage.
    ApiStage,
    /// The stage's authorizer cache.
    AuthorizerCache,
    /// The product stack's group roles (each of them).
    GroupRoles,
    /// The calling function's own log group's streams.
    OwnLogStreams,
    /// An action that supports no resource type (`*`).
    AnyResource,
    /// Needs no permission.
    Nothing,
}

/// One call: where it is made, the SDK operation (snake case, as the SDK's fluent builder
/// names it, or the AWS CLI's command), the IAM action, what it acts on and with whose role.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub source: &'static str,
    pub operation: &'static str,
    pub action: &'static str,
    pub on: On,
    pub by: Caller,
}

const fn call(
    source: &'static str,
    operation: &'static str,
    action: &'static str,
    on: On,
    by: Caller,
) -> Call {
    Call {
        source,
        operation,
        action,
        on,
        by,
    }
}

const CFN: &str = "deploy/cli/src/operations/cloudformation.rs";
const DEPLOY: &str = "deploy/cli/src/operations/deploy.rs";
const POLICIES: &str = "deploy/cli/src/operations/policies.rs";
const SEED: &str = "deploy/cli/src/operations/seed.rs";
const TOKEN: &str = "deploy/cli/src/operations/token.rs";
const BOOTSTRAP: &str = "deploy/cli/src/operations/bootstrap.rs";
const PETS: &str = "backend/src/pets.rs";
const SEED_PETS: &str = "deploy/cli/src/operations/pets.rs";
const ROLES: &str = "backend/src/roles.rs";
const ROUTES: &str = "backend/src/routes.rs";
const STORE: &str = "shared/src/dynamodb.rs";
const SMOKE: &str = "scripts/pipeline/smoke-deployed.sh";

/// Every call, by source file.
pub const CALLS: &[Call] = &[
    // groupgate deploy: the stack, through a change set run by the execution role.
    call(
        CFN,
        "describe_stacks",
        "cloudformation:DescribeStacks",
        On::ProductStack,
        Caller::Deploy,
    ),
    call(
        CFN,
        "delete_stack",
        "cloudformation:DeleteStack",
        On::ProductStack,
        Caller::Deploy,
    ),
    call(
        CFN,
        "create_change_set",
        "cloudformation:CreateChangeSet",
        On::ProductStack,
        Caller::Deploy,
    ),
    call(
        CFN,
        "create_change_set",
        "iam:PassRole",
        On::ExecutionRole,
        Caller::Deploy,
    ),
    call(
        CFN,
        "describe_change_set",
        "cloudformation:DescribeChangeSet",
        On::ProductStack,
        Caller::Deploy,
    ),
    call(
        CFN,
        "execute_change_set",
        "cloudformation:ExecuteChangeSet",
        On::ProductStack,
        Caller::Deploy,
    ),
    call(
        CFN,
        "delete_change_set",
        "cloudformation:DeleteChangeSet",
        On::ProductStack,
        Caller::Deploy,
    ),
    call(
        CFN,
        "describe_stack_events",
        "cloudformation:DescribeStackEvents",
        On::ProductStack,
        Caller::Deploy,
    ),
    // groupgate deploy: the bootstrap check, assets, outputs, seeding and the cache flush.
    call(
        DEPLOY,
        "get_caller_identity",
        "sts:GetCallerIdentity",
        On::Nothing,
        Caller::Deploy,
    ),
    call(
        DEPLOY,
        "get_bucket_location",
        "s3:GetBucketLocation",
        On::ArtifactBucket,
        Caller::Deploy,
    ),
    call(
        DEPLOY,
        "get_bucket_tagging",
        "s3:GetBucketTagging",
        On::ArtifactBucket,
        Caller::Deploy,
    ),
    call(
        DEPLOY,
        "get_account",
        "apigateway:GET",
        On::ApiGatewayAccount,
        Caller::Deploy,
    ),
    call(
        DEPLOY,
        "head_object",
        "s3:GetObject",
        On::ArtifactObject,
        Caller::Deploy,
    ),
    call(
        DEPLOY,
        "put_object",
        "s3:PutObject",
        On::ArtifactObject,
        Caller::Deploy,
    ),
    call(
        DEPLOY,
        "list_stack_resources",
        "cloudformation:ListStackResources",
        On::ProductStack,
        Caller::Deploy,
    ),
    call(
        DEPLOY,
        "flush_stage_authorizers_cache",
        "apigateway:DELETE",
        On::AuthorizerCache,
        Caller::Deploy,
    ),
    // A fresh deployment of the stage after an update removed API parts (CreateDeployment with
    // the stage's name moves the stage to it in the same call).
    call(
        DEPLOY,
        "create_deployment",
        "apigateway:POST",
        On::ApiDeployments,
        Caller::Deploy,
    ),
    // groupgate deploy-policies: the deployed template, compared with the one policies/ makes.
    call(
        POLICIES,
        "get_template",
        "cloudformation:GetTemplate",
        On::ProductStack,
        Caller::Deploy,
    ),
    // Seeding the policy table (deploy and seed-policies), reading a stack's outputs.
    call(
        SEED,
        "update_item",
        "dynamodb:UpdateItem",
        On::PolicyTable,
        Caller::Deploy,
    ),
    call(
        SEED,
        "scan",
        "dynamodb:Scan",
        On::PolicyTable,
        Caller::Deploy,
    ),
    call(
        SEED,
        "delete_item",
        "dynamodb:DeleteItem",
        On::PolicyTable,
        Caller::Deploy,
    ),
    call(
        TOKEN,
        "admin_initiate_auth",
        "cognito-idp:AdminInitiateAuth",
        On::UserPool,
        Caller::Deploy,
    ),
    // The default pets, written by deploy (the function never seeds), and the pets a smoke test
    // wrote, removed by `remove-pets`.
    call(
        SEED_PETS,
        "scan",
        "dynamodb:Scan",
        On::PetsTable,
        Caller::Deploy,
    ),
    call(
        SEED_PETS,
        "put_item",
        "dynamodb:PutItem",
        On::PetsTable,
        Caller::Deploy,
    ),
    call(
        SEED_PETS,
        "delete_item",
        "dynamodb:DeleteItem",
        On::PetsTable,
        Caller::Deploy,
    ),
    // The deployed smoke test's users (AWS CLI, with the deploy role's credentials).
    call(
        SMOKE,
        "admin-create-user",
        "cognito-idp:AdminCreateUser",
        On::UserPool,
        Caller::Deploy,
    ),
    call(
        SMOKE,
        "admin-set-user-password",
        "cognito-idp:AdminSetUserPassword",
        On::UserPool,
        Caller::Deploy,
    ),
    call(
        SMOKE,
        "admin-add-user-to-group",
        "cognito-idp:AdminAddUserToGroup",
        On::UserPool,
        Caller::Deploy,
    ),
    call(
        SMOKE,
        "admin-delete-user",
        "cognito-idp:AdminDeleteUser",
        On::UserPool,
        Caller::Deploy,
    ),
    // groupgate bootstrap: the operator's credentials.
    call(
        BOOTSTRAP,
        "list_open_id_connect_providers",
        "iam:ListOpenIDConnectProviders",
        On::AnyResource,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "get_open_id_connect_provider",
        "iam:GetOpenIDConnectProvider",
        On::AnyResource,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "head_bucket",
        "s3:ListBucket",
        On::ArtifactBucket,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "create_change_set",
        "cloudformation:CreateChangeSet",
        On::AnyResource,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "describe_change_set",
        "cloudformation:DescribeChangeSet",
        On::AnyResource,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "execute_change_set",
        "cloudformation:ExecuteChangeSet",
        On::AnyResource,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "describe_stacks",
        "cloudformation:DescribeStacks",
        On::AnyResource,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "get_account",
        "apigateway:GET",
        On::ApiGatewayAccount,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "update_account",
        "apigateway:PATCH",
        On::ApiGatewayAccount,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "get_role",
        "iam:GetRole",
        On::AnyResource,
        Caller::Operator,
    ),
    call(
        BOOTSTRAP,
        "list_stack_resources",
        "cloudformation:ListStackResources",
        On::AnyResource,
        Caller::Operator,
    ),
    // The authorizer: its policy table (a Scan at start-up, BatchGetItem per request; with
    // Cedar, GetItem of the bundle's item `#cedar`).
    call(
        STORE,
        "batch_get_item",
        "dynamodb:BatchGetItem",
        On::PolicyTable,
        Caller::Authorizer,
    ),
    call(
        STORE,
        "get_item",
        "dynamodb:GetItem",
        On::PolicyTable,
        Caller::Authorizer,
    ),
    call(
        STORE,
        "scan",
        "dynamodb:Scan",
        On::PolicyTable,
        Caller::Authorizer,
    ),
    call(
        STORE,
        "create_table",
        "dynamodb:CreateTable",
        On::AnyResource,
        Caller::Operator,
    ),
    // Both functions: Lambda writes their logs and X-Ray segments with their roles.
    call(
        "lambda runtime",
        "logs",
        "logs:CreateLogStream",
        On::OwnLogStreams,
        Caller::Authorizer,
    ),
    call(
        "lambda runtime",
        "logs",
        "logs:PutLogEvents",
        On::OwnLogStreams,
        Caller::Authorizer,
    ),
    call(
        "lambda runtime",
        "xray",
        "xray:PutTraceSegments",
        On::AnyResource,
        Caller::Authorizer,
    ),
    call(
        "lambda runtime",
        "xray",
        "xray:PutTelemetryRecords",
        On::AnyResource,
        Caller::Authorizer,
    ),
    call(
        "lambda runtime",
        "logs",
        "logs:CreateLogStream",
        On::OwnLogStreams,
        Caller::Backend,
    ),
    call(
        "lambda runtime",
        "logs",
        "logs:PutLogEvents",
        On::OwnLogStreams,
        Caller::Backend,
    ),
    call(
        "lambda runtime",
        "xray",
        "xray:PutTraceSegments",
        On::AnyResource,
        Caller::Backend,
    ),
    call(
        "lambda runtime",
        "xray",
        "xray:PutTelemetryRecords",
        On::AnyResource,
        Caller::Backend,
    ),
    // The backend: the caller's group role, then the pets table with it.
    call(
        ROLES,
        "get_caller_identity",
        "sts:GetCallerIdentity",
        On::Nothing,
        Caller::Backend,
    ),
    call(
        ROLES,
        "assume_role",
        "sts:AssumeRole",
        On::GroupRoles,
        Caller::Backend,
    ),
    call(
        ROUTES,
        "get_caller_identity",
        "sts:GetCallerIdentity",
        On::Nothing,
        Caller::GroupRole,
    ),
    call(
        PETS,
        "scan",
        "dynamodb:Scan",
        On::PetsTable,
        Caller::GroupRole,
    ),
    call(
        PETS,
        "get_item",
        "dynamodb:GetItem",
        On::PetsTable,
        Caller::GroupRole,
    ),
    call(
        PETS,
        "update_item",
        "dynamodb:UpdateItem",
        On::PetsTable,
        Caller::GroupRole,
    ),
    call(
        PETS,
        "put_item",
        "dynamodb:PutItem",
        On::PetsTable,
        Caller::GroupRole,
    ),
];

/// The files whose SDK calls must all be in [`CALLS`].
pub const SOURCES: &[&str] = &[
    CFN, DEPLOY, POLICIES, SEED, SEED_PETS, TOKEN, BOOTSTRAP, PETS, ROLES, ROUTES, STORE, SMOKE,
];
