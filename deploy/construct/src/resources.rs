//! Constructors for the resource types this product uses, with the settings every use of them
//! should have (on-demand tables with recovery, JSON logs with retention, ...) built in.

use serde_json::{Value, json};

use super::{Expr, Handle, Resource};

/// A DynamoDB table keyed by one attribute, on-demand, with point-in-time recovery, encrypted
/// at rest with DynamoDB's AWS owned key.
///
/// `SSEEnabled: false` is that key, not "unencrypted": DynamoDB encrypts every table at rest,
/// and `true` would select the AWS managed KMS key (`aws/dynamodb`) instead, with KMS charges
/// and `kms:` calls on create and update that neither the roles here nor the readers need.
/// Stated rather than omitted, so that a stack created with `true` moves to the owned key on
/// its next update (DynamoDB changes an existing table's key in place).
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-dynamodb-table-ssespecification.html>,
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html>,
/// <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.tutorial.html>
pub fn dynamodb_table(partition_key: &str, key_type: &str) -> Resource {
    Resource::new(
        "AWS::DynamoDB::Table",
        json!({
            "AttributeDefinitions": [{ "AttributeName": partition_key, "AttributeType": key_type }],
            "KeySchema": [{ "AttributeName": partition_key, "KeyType": "HASH" }],
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": { "PointInTimeRecoveryEnabled": true },
            "SSESpecification": { "SSEEnabled": false },
        }),
    )
}

/// An IAM policy statement.
pub fn allow(actions: &[&str], resources: Vec<Expr>) -> Value {
    json!({ "Effect": "Allow", "Action": actions, "Resource": resources })
}

/// Where a product stack's roles live and how far they may reach: an IAM path under the one
/// the bootstrap's execution role may create roles in, and the bootstrap's permissions boundary.
pub struct RoleScope {
    pub path: Expr,
    pub boundary: Expr,
}

/// An IAM role that `principal` (`{"Service": ...}` or `{"AWS": ...}`) may assume, with one
/// inline policy of `statements`, under `scope`'s path and boundary.
pub fn iam_role(
    principal: Value,
    scope: RoleScope,
    policy_name: &str,
    statements: Vec<Value>,
) -> Resource {
    Resource::new(
        "AWS::IAM::Role",
        json!({
            "Path": scope.path,
            "PermissionsBoundary": scope.boundary,
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{ "Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole" }],
            },
            "Policies": [{
                "PolicyName": policy_name,
                "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
            }],
        }),
    )
}

/// The retention periods CloudWatch Logs accepts, in days; any other is refused.
/// <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html>
pub const LOG_RETENTION_DAYS: &[&str] = &[
    "1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731",
    "1096", "1827", "2192", "2557", "2922", "3288", "3653",
];

/// A log group keeping its events `retention_days` (one of [`LOG_RETENTION_DAYS`]).
pub fn log_group(retention_days: Expr) -> Resource {
    Resource::new(
        "AWS::Logs::LogGroup",
        json!({ "RetentionInDays": retention_days }),
    )
}

/// What a Lambda function is made of.
pub struct Function<'a> {
    pub description: &'a str,
    pub code_bucket: Expr,
    pub code_key: String,
    pub role: &'a Handle,
    pub log_group: &'a Handle,
    pub memory_mb: u32,
    pub timeout_seconds: u32,
    pub environment: Vec<(&'a str, Expr)>,
}

/// A Rust Lambda function: `provided.al2023` on arm64, JSON logs to its own log group.
pub fn lambda_function(f: Function<'_>) -> Resource {
    let variables: serde_json::Map<String, Value> = f
        .environment
        .into_iter()
        .map(|(k, v)| (k.to_owned(), json!(v)))
        .collect();
    Resource::new(
        "AWS::Lambda::Function",
        json!({
            "Description": f.description,
            "Runtime": "provided.al2023",
            "Architectures": ["arm64"],
            "Handler": "bootstrap",
            "Code": { "S3Bucket": f.code_bucket, "S3Key": f.code_key },
            "Role": f.role.arn(),
            "MemorySize": f.memory_mb,
            "Timeout": f.timeout_seconds,
            "Environment": { "Variables": variables },
            "TracingConfig": { "Mode": "Active" },
            "LoggingConfig": {
                "LogFormat": "JSON",
                "ApplicationLogLevel": "INFO",
                "SystemLogLevel": "WARN",
                "LogGroup": f.log_group.r#ref(),
            },
        }),
    )
}

/// Lets API Gateway invoke `function`, only from `source_arn`.
pub fn invoke_permission(function: &Handle, source_arn: Expr) -> Resource {
    Resource::new(
        "AWS::Lambda::Permission",
        json!({
            "Action": "lambda:InvokeFunction",
            "FunctionName": function.arn(),
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": source_arn,
        }),
    )
}

/// The URI API Gateway calls a Lambda function by.
pub fn lambda_invocation_uri(function: &Handle) -> Expr {
    Expr::sub(format!(
        "arn:${{AWS::Partition}}:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{{}.Arn}}/invocations",
        function.id()
    ))
}

/// The role API Gateway writes CloudWatch logs with, for the account setting below.
pub fn apigateway_cloudwatch_role() -> Resource {
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
    )
}

/// API Gateway's account setting (one per account and region) naming `role` for its logs.
pub fn apigateway_account(role: &Handle) -> Resource {
    Resource::new(
        "AWS::ApiGateway::Account",
        json!({ "CloudWatchRoleArn": role.arn() }),
    )
}
