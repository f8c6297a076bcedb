#![cfg(test)]
//! Least privilege, proven with an IAM evaluator (`groupgate_testkit::iam`) on the synthesized
//! templates: the bootstrap template and the app template, resolved to one account, region and
//! product stack (`groupgate`, named with the default prefix), with the physical names
//! CloudFormation would generate. moto enforces no IAM, so this is the only proof offline.
//!
//! Must be allowed:
//! - every permission in CloudFormation's handler lists (`fixtures/handler_permissions.json`,
//!   from the resource schemas cfn-lint ships) for each resource of the app template, to the
//!   execution role, on the resource and with the condition keys the Service Authorization
//!   Reference gives the action (see [`handler_requests`]); or else an exclusion saying which
//!   template property would need it, checked absent;
//! - every call in `groupgate_cli::operations::permissions::CALLS`, to its role.
//!
//! Must be denied: the same kinds of action on another application's resources in the same
//! account and region, IAM outside the product, the boundary, the bootstrap stack, imports,
//! and each action of the red team's report.
//!
//! A failure names the principal, action, resource, context and the statements that decided.

use std::collections::{BTreeMap, BTreeSet};

use groupgate_cli::operations::permissions::{CALLS, Call, Caller, On, SOURCES};
use groupgate_cli::stack::bootstrap::{self, Bootstrapped, PRODUCT_TAG};
use groupgate_cli::stack::{self, Settings, assets::Assets, groups};
use groupgate_testkit::iam::{Decision, Policy, Principal, Request};
use serde_json::{Value, json};

const PARTITION: &str = "aws";
const ACCOUNT: &str = "111122223333";
const REGION: &str = "eu-west-1";
/// The product stack, named with the bootstrap's default prefix.
const STACK: &str = "groupgate";
const POOL_ID: &str = "eu-west-1_Ab12Cd34E";
const API_ID: &str = "a1b2c3d4e5";

// ---------------------------------------------------------------------------------------------
// Templates resolved to concrete values.

/// A template's resources with every intrinsic function resolved, and each resource's `Ref` and
/// `Arn` as CloudFormation would give them.
struct Resolved {
    resources: BTreeMap<String, (String, Value)>,
    refs: BTreeMap<String, String>,
    arns: BTreeMap<String, String>,
}

/// A name CloudFormation generates, `{stack}-{logical id}-{13 characters}`.
fn generated(stack: &str, id: &str) -> String {
    let suffix: String = id
        .bytes()
        .cycle()
        .take(13)
        .map(|b| char::from(b'A' + b % 26))
        .collect();
    format!("{stack}-{id}-{suffix}")
}

struct Ctx<'a> {
    stack: &'a str,
    parameters: BTreeMap<String, String>,
    conditions: &'a Value,
    refs: &'a BTreeMap<String, String>,
    arns: &'a BTreeMap<String, String>,
}

impl Ctx<'_> {
    fn reference(&self, name: &str) -> Value {
        let pseudo = match name {
            "AWS::Region" => Some(REGION.to_owned()),
            "AWS::AccountId" => Some(ACCOUNT.to_owned()),
            "AWS::Partition" => Some(PARTITION.to_owned()),
            "AWS::URLSuffix" => Some("amazonaws.com".to_owned()),
            "AWS::StackName" => Some(self.stack.to_owned()),
            "AWS::StackId" => Some(format!(
                "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{}/0e6e1f40-0000-11ee-8000-0a1b2c3d4e5f",
                self.stack
            )),
            "AWS::NoValue" => return Value::Null,
            _ => None,
        };
        let value = pseudo
            .or_else(|| self.parameters.get(name).cloned())
            .or_else(|| self.refs.get(name).cloned())
            .unwrap_or_else(|| format!("unresolved-{name}"));
        Value::String(value)
    }

    fn attribute(&self, id: &str, attribute: &str) -> String {
        match attribute {
            "Arn" => self
                .arns
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("unresolved-{id}.Arn")),
            "RootResourceId" => "rootres000".to_owned(),
            other => format!("{id}-{other}"),
        }
    }

    fn condition(&self, name: &str) -> bool {
        self.truth(&self.conditions[name])
    }

    fn truth(&self, expression: &Value) -> bool {
        if let Some(pair) = expression.get("Fn::Equals") {
            return self.resolve(&pair[0]) == self.resolve(&pair[1]);
        }
        if let Some(inner) = expression.get("Fn::Not") {
            return !self.truth(&inner[0]);
        }
        if let Some(name) = expression.get("Condition").and_then(Value::as_str) {
            return self.condition(name);
        }
        panic!("condition {expression} is not modelled")
    }

    fn substitute(&self, template: &str) -> String {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let end = rest[start..].find('}').unwrap() + start;
            let name = &rest[start + 2..end];
            match name.split_once('.') {
                Some((id, attribute)) => out.push_str(&self.attribute(id, attribute)),
                None => out.push_str(self.reference(name).as_str().unwrap()),
            }
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        out
    }

    fn resolve(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (key, arg) = map.iter().next().unwrap();
                match key.as_str() {
                    "Ref" => self.reference(arg.as_str().unwrap()),
                    "Fn::GetAtt" => Value::String(
                        self.attribute(arg[0].as_str().unwrap(), arg[1].as_str().unwrap()),
                    ),
                    "Fn::Sub" => Value::String(self.substitute(arg.as_str().unwrap())),
                    "Fn::Join" => {
                        let separator = arg[0].as_str().unwrap();
                        let parts: Vec<String> = arg[1]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| self.resolve(p).as_str().unwrap().to_owned())
                            .collect();
                        Value::String(parts.join(separator))
                    }
                    "Fn::If" => {
                        let branch = if self.condition(arg[0].as_str().unwrap()) {
                            &arg[1]
                        } else {
                            &arg[2]
                        };
                        self.resolve(branch)
                    }
                    "Fn::Split" => {
                        let text = self.resolve(&arg[1]);
                        Value::Array(
                            text.as_str()
                                .unwrap()
                                .split(arg[0].as_str().unwrap())
                                .map(|s| Value::String(s.to_owned()))
                                .collect(),
                        )
                    }
                    "Fn::Select" => {
                        let list = self.resolve(&arg[1]);
                        list[arg[0].as_u64().unwrap() as usize].clone()
                    }
                    _ => Value::Object(
                        map.iter()
                            .map(|(k, v)| (k.clone(), self.resolve(v)))
                            .filter(|(_, v)| !v.is_null())
                            .collect(),
                    ),
                }
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.resolve(v)))
                    .filter(|(_, v)| !v.is_null())
                    .collect(),
            ),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.resolve(v))
                    .filter(|v| !v.is_null())
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Resolves `template` deployed as `stack` with `parameters` (defaults fill the rest).
fn resolve(template: &Value, stack: &str, given: &[(&str, &str)]) -> Resolved {
    let mut parameters: BTreeMap<String, String> = template["Parameters"]
        .as_object()
        .unwrap()
        .iter()
        .filter_map(|(k, p)| Some((k.clone(), p["Default"].as_str()?.to_owned())))
        .collect();
    for (k, v) in given {
        parameters.insert((*k).to_owned(), (*v).to_owned());
    }
    let empty = json!({});
    let conditions = template.get("Conditions").unwrap_or(&empty);
    let none = BTreeMap::new();
    let names = Ctx {
        stack,
        parameters: parameters.clone(),
        conditions,
        refs: &none,
        arns: &none,
    };
    let mut refs = BTreeMap::new();
    let mut arns = BTreeMap::new();
    let mut kept = Vec::new();
    for (id, resource) in template["Resources"].as_object().unwrap() {
        if let Some(condition) = resource["Condition"].as_str()
            && !names.condition(condition)
        {
            continue;
        }
        kept.push(id.clone());
        let kind = resource["Type"].as_str().unwrap();
        let p = &resource["Properties"];
        let named = |key: &str| {
            p.get(key)
                .map(|v| names.resolve(v).as_str().unwrap().to_owned())
                .unwrap_or_else(|| generated(stack, id))
        };
        let (r, a) = match kind {
            "AWS::DynamoDB::Table" => {
                let n = named("TableName");
                (
                    n.clone(),
                    format!("arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{n}"),
                )
            }
            "AWS::Lambda::Function" => {
                let n = named("FunctionName");
                (
                    n.clone(),
                    format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{n}"),
                )
            }
            "AWS::Logs::LogGroup" => {
                let n = named("LogGroupName");
                (
                    n.clone(),
                    format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{n}:*"),
                )
            }
            "AWS::IAM::Role" => {
                let n = named("RoleName");
                let path = p
                    .get("Path")
                    .map(|v| names.resolve(v).as_str().unwrap().to_owned())
                    .unwrap_or_else(|| "/".to_owned());
                (n.clone(), format!("arn:aws:iam::{ACCOUNT}:role{path}{n}"))
            }
            "AWS::IAM::ManagedPolicy" => {
                let arn = format!(
                    "arn:aws:iam::{ACCOUNT}:policy/{}",
                    named("ManagedPolicyName")
                );
                (arn.clone(), arn)
            }
            "AWS::IAM::OIDCProvider" => {
                let arn = format!(
                    "arn:aws:iam::{ACCOUNT}:oidc-provider/{}",
                    bootstrap::GITHUB_OIDC
                );
                (arn.clone(), arn)
            }
            "AWS::S3::Bucket" => {
                let n = named("BucketName");
                (n.clone(), format!("arn:aws:s3:::{n}"))
            }
            "AWS::SNS::Topic" => {
                let arn = format!("arn:aws:sns:{REGION}:{ACCOUNT}:{}", named("TopicName"));
                (arn.clone(), arn)
            }
            "AWS::Cognito::UserPool" => (
                POOL_ID.to_owned(),
                format!("arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{POOL_ID}"),
            ),
            "AWS::CloudWatch::Alarm" => {
                let n = named("AlarmName");
                (
                    n.clone(),
                    format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{n}"),
                )
            }
            "AWS::CloudWatch::Dashboard" => {
                let n = named("DashboardName");
                (
                    n.clone(),
                    format!("arn:aws:cloudwatch::{ACCOUNT}:dashboard/{n}"),
                )
            }
            "AWS::ApiGateway::RestApi" => (API_ID.to_owned(), String::new()),
            _ => (format!("{}0001", id.to_ascii_lowercase()), String::new()),
        };
        refs.insert(id.clone(), r);
        arns.insert(id.clone(), a);
    }
    // A subscription's id is its ARN, below its topic's.
    let ctx = Ctx {
        stack,
        parameters,
        conditions,
        refs: &refs,
        arns: &arns,
    };
    let resources = kept
        .iter()
        .map(|id| {
            let r = &template["Resources"][id];
            (
                id.clone(),
                (
                    r["Type"].as_str().unwrap().to_owned(),
                    ctx.resolve(&r["Properties"]),
                ),
            )
        })
        .collect();
    Resolved {
        resources,
        refs: refs.clone(),
        arns: arns.clone(),
    }
}

/// The bootstrap stack and the product stack, resolved, and their principals.
struct World {
    bootstrap: Resolved,
    app: Resolved,
    boundary: Policy,
    execution: Principal,
    deploy: Principal,
    /// The product stack's roles by logical id, each under the boundary.
    app_roles: BTreeMap<String, Principal>,
    groups: Vec<groups::GroupDefinition>,
    bootstrapped: Bootstrapped,
}

fn inline_policies(name: &str, properties: &Value) -> Vec<Policy> {
    properties["Policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            Policy::parse(
                &format!("{name}/{}", p["PolicyName"].as_str().unwrap()),
                &p["PolicyDocument"],
            )
            .unwrap()
        })
        .collect()
}

fn world() -> World {
    let bootstrap_template = bootstrap::build().to_template().unwrap();
    let bootstrap = resolve(
        &bootstrap_template,
        bootstrap::STACK_NAME,
        &[
            ("GitHubRepository", "octo-org/groupgate"),
            ("GitHubRepositoryId", "456789"),
            ("GitHubOwnerId", "123456"),
        ],
    );
    let bootstrapped = Bootstrapped::resolve(PARTITION, ACCOUNT, REGION);
    let groups = groups::load(&groups::default_dir()).unwrap();
    let settings = Settings::load(&Settings::default_path()).unwrap();
    let assets = Assets::placeholder(&stack::FUNCTIONS);
    let app_template = stack::build(&groups, &settings.api().unwrap(), &assets, &settings)
        .to_template()
        .unwrap();
    let app = resolve(
        &app_template,
        STACK,
        &[
            ("ArtifactBucket", &bootstrapped.bucket),
            ("PermissionsBoundaryArn", &bootstrapped.boundary_arn),
            ("AlarmEmail", "ops@example.com"),
        ],
    );
    let (_, boundary) = &bootstrap.resources["PermissionsBoundary"];
    assert_eq!(
        bootstrap.refs["PermissionsBoundary"], bootstrapped.boundary_arn,
        "the deploy passes the boundary the bootstrap creates"
    );
    let boundary = Policy::parse("boundary", &boundary["PolicyDocument"]).unwrap();
    let principal = |r: &Resolved, id: &str, boundary: Option<Policy>| Principal {
        name: r.arns[id].clone(),
        policies: inline_policies(id, &r.resources[id].1),
        boundary,
    };
    let execution = principal(&bootstrap, "ExecutionRole", None);
    assert_eq!(execution.name, bootstrapped.execution_role_arn);
    let deploy = principal(&bootstrap, "DeployRole", None);
    let app_roles = app
        .resources
        .iter()
        .filter(|(_, (kind, _))| kind == "AWS::IAM::Role")
        .map(|(id, (_, p))| {
            assert_eq!(
                p["PermissionsBoundary"].as_str(),
                Some(bootstrapped.boundary_arn.as_str()),
                "{id} carries the boundary"
            );
            (id.clone(), principal(&app, id, Some(boundary.clone())))
        })
        .collect();
    World {
        bootstrap,
        app,
        boundary,
        execution,
        deploy,
        app_roles,
        groups,
        bootstrapped,
    }
}

// ---------------------------------------------------------------------------------------------
// Requests and their checks.

fn request(principal: &Principal, action: &str, resource: &str) -> Request {
    Request::new(&principal.name, action, resource)
}

/// Failures collected, so one run names every wrong decision.
#[derive(Default)]
struct Verdicts {
    failures: Vec<String>,
    checked: usize,
}

impl Verdicts {
    fn expect(&mut self, principal: &Principal, request: &Request, allowed: bool, why: &str) {
        self.checked += 1;
        let decision = principal.decide(request);
        if decision.allowed() != allowed {
            self.failures.push(format!(
                "{}: {request}\n    expected {}, got: {decision}\n    ({why})",
                principal.name,
                if allowed { "ALLOW" } else { "DENY" }
            ));
        }
    }

    fn finish(self, what: &str) {
        assert!(self.checked > 0, "{what}: nothing was checked");
        assert!(
            self.failures.is_empty(),
            "{what}: {} of {} requests decided wrongly:\n{}",
            self.failures.len(),
            self.checked,
            self.failures.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// (a) CloudFormation's handler permissions, with the execution role.

/// A handler permission the app template does not need: `why`, and the properties of the
/// resource type whose presence would need it (checked absent on every such resource).
struct Exclusion {
    kind: &'static str,
    action: &'static str,
    needed_with: &'static [&'static str],
    why: &'static str,
    /// Properties whose absence would need it.
    needed_without: &'static [&'static str],
}

const fn not_needed(
    kind: &'static str,
    action: &'static str,
    needed_with: &'static [&'static str],
    why: &'static str,
) -> Exclusion {
    Exclusion {
        kind,
        action,
        needed_with,
        why,
        needed_without: &[],
    }
}

/// Handler permissions the template does not need, each tied to the properties that would.
const EXCLUSIONS: &[Exclusion] = &[
    not_needed(
        "*",
        "kms:*",
        &[
            "KMSMasterKeyId",
            "KmsKeyArn",
            "KmsKeyId",
            "KmsMasterKeyId",
            "SSESpecification.KMSMasterKeyId",
        ],
        "no customer managed key: DynamoDB's and Lambda's own keys need no caller KMS permission",
    ),
    not_needed(
        "AWS::DynamoDB::Table",
        "kinesis:*",
        &["KinesisStreamSpecification"],
        "no Kinesis streaming destination",
    ),
    not_needed(
        "AWS::DynamoDB::Table",
        "dynamodb:*KinesisStreamingDestination",
        &["KinesisStreamSpecification"],
        "no Kinesis streaming destination",
    ),
    not_needed(
        "AWS::DynamoDB::Table",
        "dynamodb:ImportTable",
        &["ImportSourceSpecification"],
        "no import from S3",
    ),
    not_needed(
        "AWS::DynamoDB::Table",
        "dynamodb:DescribeImport",
        &["ImportSourceSpecification"],
        "no import from S3",
    ),
    not_needed(
        "AWS::DynamoDB::Table",
        "s3:*",
        &["ImportSourceSpecification"],
        "no import from S3",
    ),
    not_needed(
        "AWS::DynamoDB::Table",
        "logs:*",
        &["ImportSourceSpecification"],
        "import logs only",
    ),
    not_needed(
        "AWS::DynamoDB::Table",
        "iam:CreateServiceLinkedRole",
        &["ContributorInsightsSpecification", "ReplicaSpecification"],
        "no contributor insights or replicas, whose service-linked roles are the only ones a table makes",
    ),
    not_needed("AWS::Lambda::Function", "ec2:*", &["VpcConfig"], "no VPC"),
    not_needed(
        "AWS::Lambda::Function",
        "elasticfilesystem:*",
        &["FileSystemConfigs"],
        "no file system",
    ),
    not_needed(
        "AWS::Lambda::Function",
        "s3files:*",
        &["FileSystemConfigs"],
        "no file system",
    ),
    not_needed(
        "AWS::Lambda::Function",
        "lambda:GetLayerVersion",
        &["Layers"],
        "no layers",
    ),
    not_needed(
        "AWS::Lambda::Function",
        "lambda:*CodeSigningConfig",
        &["CodeSigningConfigArn"],
        "no code signing",
    ),
    not_needed(
        "AWS::Lambda::Function",
        "lambda:GetFunctionCodeSigningConfig",
        &[],
        "allowed, see ProductFunctions",
    ),
    not_needed(
        "AWS::Lambda::Function",
        "lambda:PassCapacityProvider",
        &["CapacityProviderConfig"],
        "no capacity provider",
    ),
    not_needed(
        "AWS::Lambda::Function",
        "lambda:AssociateRuntimeAlias",
        &["CapacityProviderConfig", "RuntimeManagementConfig"],
        "not an IAM action in the Service Authorization Reference or cfn-lint's list; no runtime alias",
    ),
    not_needed(
        "AWS::Logs::LogGroup",
        "logs:*KmsKey",
        &["KmsKeyId"],
        "no KMS key",
    ),
    not_needed(
        "AWS::Logs::LogGroup",
        "logs:*ResourcePolic*",
        &["ResourcePolicyDocument"],
        "no resource policy (an account-wide one)",
    ),
    not_needed(
        "AWS::Logs::LogGroup",
        "logs:DescribeResourcePolicies",
        &[],
        "allowed, see LogGroupLookups",
    ),
    not_needed(
        "AWS::Logs::LogGroup",
        "logs:*IndexPolic*",
        &["FieldIndexPolicies"],
        "no field index policy",
    ),
    not_needed(
        "AWS::Logs::LogGroup",
        "logs:DescribeIndexPolicies",
        &[],
        "allowed, see LogGroupLookups",
    ),
    not_needed(
        "AWS::Logs::LogGroup",
        "logs:CreateLogDelivery",
        &["DataProtectionPolicy"],
        "no data protection audit delivery",
    ),
    not_needed(
        "AWS::Logs::LogGroup",
        "s3:REST.PUT.OBJECT",
        &["DataProtectionPolicy"],
        "no data protection audit delivery",
    ),
    not_needed(
        "AWS::Logs::LogGroup",
        "firehose:*",
        &["DataProtectionPolicy"],
        "no data protection audit delivery",
    ),
    not_needed(
        "AWS::SNS::Topic",
        "iam:*",
        &["DeliveryStatusLogging"],
        "no delivery status logging role",
    ),
    not_needed(
        "AWS::SNS::Subscription",
        "iam:*",
        &["SubscriptionRoleArn"],
        "no subscription role (Firehose only)",
    ),
    not_needed(
        "AWS::SNS::Subscription",
        "sns:SetSubscriptionAttributes",
        &[
            "FilterPolicy",
            "FilterPolicyScope",
            "RawMessageDelivery",
            "RedrivePolicy",
            "DeliveryPolicy",
            "ReplayPolicy",
            "SubscriptionRoleArn",
        ],
        "no updatable subscription attribute: Endpoint, Protocol and TopicArn replace the subscription",
    ),
    not_needed(
        "AWS::Cognito::UserPool",
        "iam:*",
        &["SmsConfiguration", "LambdaConfig"],
        "no SMS role",
    ),
    not_needed(
        "AWS::Cognito::UserPoolClient",
        "iam:*",
        &["AnalyticsConfiguration"],
        "no Pinpoint analytics role",
    ),
    not_needed(
        "AWS::Cognito::UserPoolGroup",
        "iam:*",
        &["RoleArn"],
        "no role on the groups: the policy table names them",
    ),
    not_needed(
        "AWS::Cognito::UserPoolDomain",
        "cloudfront:*",
        &["CustomDomainConfig"],
        "no custom domain",
    ),
    not_needed(
        "AWS::ApiGateway::*",
        "iam:PassRole",
        &[
            "CloudWatchRoleArn",
            "AuthorizerCredentials",
            "Integration.Credentials",
            "Credentials",
        ],
        "no role passed to API Gateway",
    ),
    not_needed(
        "AWS::ApiGateway::RestApi",
        "s3:GetObject",
        &["BodyS3Location"],
        "no OpenAPI body in S3",
    ),
    Exclusion {
        kind: "AWS::IAM::Role",
        action: "iam:DeleteRolePermissionsBoundary",
        needed_with: &[],
        why: "called only to remove a role's boundary; every product role carries it, and the execution role is denied it",
        needed_without: &["PermissionsBoundary"],
    },
];

fn property_present(properties: &Value, path: &str) -> bool {
    let mut value = properties;
    for part in path.split('.') {
        match value.get(part) {
            Some(v) => value = v,
            None => return false,
        }
    }
    true
}

fn glob(pattern: &str, text: &str) -> bool {
    groupgate_testkit::iam::wildcard(pattern, text, false)
}

/// The exclusion that covers `action` on a resource of `kind`, if any.
fn exclusion(kind: &str, action: &str) -> Option<&'static Exclusion> {
    EXCLUSIONS
        .iter()
        .find(|e| glob(e.kind, kind) && glob(e.action, action) && !e.why.starts_with("allowed"))
}

/// The requests one handler permission makes for one resource, as the Service Authorization
/// Reference describes the action: the resource type it is authorized on (or `*` where it
/// supports none) and its condition keys. `Err` when the action is not encoded here, so a new
/// handler permission fails the test until it is.
///
/// Pages: list_amazondynamodb.html, list_awslambda.html, list_amazoncloudwatchlogs.html,
/// list_amazoncloudwatch.html, list_amazonsns.html, list_amazoncognitouserpools.html,
/// list_amazonapigatewaymanagement.html, list_awsidentityandaccessmanagementiam.html,
/// list_amazons3.html, all under
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/>.
fn handler_requests(
    w: &World,
    id: &str,
    kind: &str,
    properties: &Value,
    action: &str,
) -> Result<Vec<Request>, String> {
    let exec = &w.execution;
    let app = &w.app;
    let (service, name) = action.split_once(':').unwrap();
    let tagged = |r: Request| r.with(&format!("aws:ResourceTag/{PRODUCT_TAG}"), &[STACK]);
    let pool_arn = format!("arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{POOL_ID}");
    let api = format!("arn:aws:apigateway:{REGION}::/restapis/{API_ID}");
    let one = |resource: &str| Ok(vec![request(exec, action, resource)]);
    match (service, kind) {
        ("dynamodb", "AWS::DynamoDB::Table") => one(&app.arns[id]),
        ("lambda", "AWS::Lambda::Function") => one(&app.arns[id]),
        ("lambda", "AWS::Lambda::Permission") => {
            let function = properties["FunctionName"].as_str().unwrap();
            let r = request(exec, action, function);
            Ok(vec![match name {
                "AddPermission" => r.with(
                    "lambda:Principal",
                    &[properties["Principal"].as_str().unwrap()],
                ),
                _ => r,
            }])
        }
        ("s3", "AWS::Lambda::Function") => {
            let code = &properties["Code"];
            one(&format!(
                "arn:aws:s3:::{}/{}",
                code["S3Bucket"].as_str().unwrap(),
                code["S3Key"].as_str().unwrap()
            ))
        }
        ("iam", "AWS::IAM::Role") => {
            let r = request(exec, action, &app.arns[id]);
            // The keys IAM's page lists for these actions: the role's (or the new) boundary.
            Ok(vec![match name {
                "CreateRole"
                | "PutRolePolicy"
                | "AttachRolePolicy"
                | "DetachRolePolicy"
                | "DeleteRolePolicy"
                | "PutRolePermissionsBoundary"
                | "DeleteRole"
                | "GetRole"
                | "UpdateRole"
                | "UpdateRoleDescription"
                | "UpdateAssumeRolePolicy" => r.with(
                    "iam:PermissionsBoundary",
                    &[properties["PermissionsBoundary"].as_str().unwrap()],
                ),
                _ => r,
            }])
        }
        ("iam", "AWS::Lambda::Function") if name == "PassRole" => Ok(vec![
            request(exec, action, properties["Role"].as_str().unwrap())
                .with("iam:PassedToService", &["lambda.amazonaws.com"]),
        ]),
        ("logs", "AWS::Logs::LogGroup") => match name {
            "DescribeLogGroups" | "DescribeResourcePolicies" | "DescribeIndexPolicies" => one("*"),
            _ => one(&format!(
                "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}",
                app.refs[id]
            )),
        },
        ("cloudwatch", "AWS::CloudWatch::Alarm" | "AWS::CloudWatch::Dashboard") => {
            one(&app.arns[id])
        }
        ("sns", "AWS::SNS::Topic") => one(&app.refs[id]),
        ("sns", "AWS::SNS::Subscription") => match name {
            "Subscribe" => Ok(vec![
                request(exec, action, properties["TopicArn"].as_str().unwrap())
                    .with("sns:Protocol", &[properties["Protocol"].as_str().unwrap()])
                    .with("sns:Endpoint", &[properties["Endpoint"].as_str().unwrap()]),
            ]),
            "Unsubscribe" | "GetSubscriptionAttributes" => one("*"),
            _ => Err(format!("{action} on a subscription")),
        },
        ("cognito-idp", "AWS::Cognito::UserPool") if name == "CreateUserPool" => Ok(vec![
            request(exec, action, "*")
                .with(&format!("aws:RequestTag/{PRODUCT_TAG}"), &[STACK])
                .with("aws:TagKeys", &[PRODUCT_TAG]),
        ]),
        ("cognito-idp", _) if name == "DescribeUserPoolDomain" => one("*"),
        ("cognito-idp", k) if k.starts_with("AWS::Cognito::") => {
            Ok(vec![tagged(request(exec, action, &pool_arn))])
        }
        ("apigateway", "AWS::ApiGateway::RestApi") if name == "POST" => Ok(vec![
            request(
                exec,
                action,
                &format!("arn:aws:apigateway:{REGION}::/restapis"),
            )
            .with(&format!("aws:RequestTag/{PRODUCT_TAG}"), &[STACK])
            .with("aws:TagKeys", &[PRODUCT_TAG]),
        ]),
        ("apigateway", k) if k.starts_with("AWS::ApiGateway::") => {
            let child = match k {
                "AWS::ApiGateway::RestApi" => String::new(),
                "AWS::ApiGateway::Resource" => format!("/resources/{}", app.refs[id]),
                "AWS::ApiGateway::Method" => format!(
                    "/resources/{}/methods/{}",
                    properties["ResourceId"].as_str().unwrap(),
                    properties["HttpMethod"].as_str().unwrap()
                ),
                "AWS::ApiGateway::Authorizer" => format!("/authorizers/{}", app.refs[id]),
                "AWS::ApiGateway::Deployment" => format!("/deployments/{}", app.refs[id]),
                "AWS::ApiGateway::Stage" => {
                    format!("/stages/{}", properties["StageName"].as_str().unwrap())
                }
                "AWS::ApiGateway::GatewayResponse" => format!(
                    "/gatewayresponses/{}",
                    properties["ResponseType"].as_str().unwrap()
                ),
                "AWS::ApiGateway::Account" => return Err("the app has no account setting".into()),
                other => return Err(format!("{other} has no API Gateway path here")),
            };
            // A POST creates under the collection; the child inherits the API's tag.
            let path = match (name, child.rsplit_once('/')) {
                ("POST", Some((collection, _))) if !child.is_empty() => collection.to_owned(),
                _ => child,
            };
            Ok(vec![tagged(request(exec, action, &format!("{api}{path}")))])
        }
        _ => Err(format!(
            "no Service Authorization Reference encoding for {action} on {kind}"
        )),
    }
}

fn handler_permissions() -> BTreeMap<String, BTreeMap<String, Vec<String>>> {
    serde_json::from_str(include_str!("fixtures/handler_permissions.json")).unwrap()
}

#[test]
fn the_execution_role_may_do_everything_cloudformations_handlers_need_for_the_app_template() {
    let w = world();
    let fixture = handler_permissions();
    let mut verdicts = Verdicts::default();
    let mut unencoded = BTreeSet::new();
    for (id, (kind, properties)) in &w.app.resources {
        let phases = fixture
            .get(kind)
            .unwrap_or_else(|| panic!("{kind} is not in handler_permissions.json: regenerate it"));
        for (phase, actions) in phases {
            for action in actions {
                if let Some(e) = exclusion(kind, action) {
                    for property in e.needed_with {
                        assert!(
                            !property_present(properties, property),
                            "{id} sets {property}, so {action} ({phase}) is needed after all: {}",
                            e.why
                        );
                    }
                    for property in e.needed_without {
                        assert!(
                            property_present(properties, property),
                            "{id} lacks {property}, so {action} ({phase}) is needed after all: {}",
                            e.why
                        );
                    }
                    continue;
                }
                match handler_requests(&w, id, kind, properties, action) {
                    Ok(requests) => {
                        for r in &requests {
                            verdicts.expect(
                                &w.execution,
                                r,
                                true,
                                &format!("{kind} {phase} handler of {id}"),
                            );
                        }
                    }
                    Err(why) => {
                        unencoded.insert(why);
                    }
                }
            }
        }
    }
    assert!(
        unencoded.is_empty(),
        "handler permissions with no encoding or exclusion:\n{}",
        unencoded.into_iter().collect::<Vec<_>>().join("\n")
    );
    verdicts.finish("handler permissions");
}

#[test]
fn the_committed_handler_permissions_match_the_installed_cfn_lint() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let lib = root.join(".venv/lib");
    let python = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run scripts/test.sh, which installs cfn-lint",
                lib.display()
            )
        })
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .expect("a python3.* folder in .venv/lib");
    let schemas = python.path().join("site-packages/cfnlint/data/schemas");
    let provider: BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(schemas.join("providers/us-east-1.json")).unwrap(),
    )
    .unwrap();
    let fixture = handler_permissions();
    let w = world();
    let kinds: BTreeSet<&String> = w.app.resources.values().map(|(k, _)| k).collect();
    assert_eq!(
        kinds,
        fixture.keys().collect(),
        "the fixture covers exactly the app template's types: run scripts/cfn-handler-permissions.py"
    );
    for (kind, phases) in &fixture {
        let schema: Value = serde_json::from_str(
            &std::fs::read_to_string(schemas.join(format!("resources/{}.json", provider[kind])))
                .unwrap(),
        )
        .unwrap();
        for (phase, committed) in phases {
            let mut installed: Vec<String> = schema["handlers"][phase]["permissions"]
                .as_array()
                .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
                .unwrap_or_default();
            installed.sort();
            assert_eq!(
                &installed, committed,
                "{kind} {phase}: the installed cfn-lint's handler permissions differ; run scripts/cfn-handler-permissions.py and review the diff"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (b) and (c): the calls in the one list, each with its role.

/// The requests one listed call makes, for its principal.
fn call_requests(w: &World, principal: &Principal, call: &Call) -> Vec<Request> {
    let app = &w.app;
    let tagged = |r: Request| r.with(&format!("aws:ResourceTag/{PRODUCT_TAG}"), &[STACK]);
    let api = format!("arn:aws:apigateway:{REGION}::/restapis/{API_ID}");
    let stage = &app.resources["ApiStage"].1["StageName"];
    let stage = stage.as_str().unwrap();
    let r = |resource: &str| request(principal, call.action, resource);
    match call.on {
        On::ProductStack => vec![r(&format!(
            "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/0e6e1f40-0000-11ee-8000-0a1b2c3d4e5f"
        ))
        .with("cloudformation:RoleArn", &[&w.bootstrapped.execution_role_arn])],
        On::ExecutionRole => vec![r(&w.bootstrapped.execution_role_arn)
            .with("iam:PassedToService", &["cloudformation.amazonaws.com"])],
        On::ArtifactBucket => vec![r(&format!("arn:aws:s3:::{}", w.bootstrapped.bucket))],
        On::ArtifactObject => vec![
            r(&format!(
                "arn:aws:s3:::{}/groupgate/assets/authorizer-0123abcd.zip",
                w.bootstrapped.bucket
            )),
            r(&format!(
                "arn:aws:s3:::{}/groupgate/templates/{STACK}/0123abcd.json",
                w.bootstrapped.bucket
            )),
        ],
        On::PolicyTable => vec![r(&app.arns["PolicyTable"])],
        On::PetsTable => vec![r(&app.arns["PetsTable"])],
        On::UserPool => vec![tagged(r(&format!(
            "arn:aws:cognito-idp:{REGION}:{ACCOUNT}:userpool/{POOL_ID}"
        )))],
        On::ApiGatewayAccount => vec![r(&format!("arn:aws:apigateway:{REGION}::/account"))],
        On::ApiDeployments => vec![tagged(r(&format!("{api}/deployments")))],
        On::ApiStage => vec![tagged(r(&format!("{api}/stages/{stage}")))],
        On::AuthorizerCache => vec![tagged(r(&format!(
            "{api}/stages/{stage}/cache/authorizers"
        )))],
        On::GroupRoles => app
            .resources
            .keys()
            .filter(|id| id.starts_with("GroupRole"))
            .map(|id| r(&app.arns[id]))
            .collect(),
        On::OwnLogStreams => {
            let group = match call.by {
                Caller::Authorizer => "AuthorizerLogGroup",
                _ => "BackendLogGroup",
            };
            vec![r(&format!(
                "arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{}:log-stream:2026/01/01/[$LATEST]0123",
                app.refs[group]
            ))]
        }
        On::AnyResource => vec![r("*")],
        On::Nothing => Vec::new(),
    }
}

#[test]
fn every_listed_call_is_allowed_to_the_role_that_makes_it() {
    let w = world();
    let mut verdicts = Verdicts::default();
    for call in CALLS {
        let why = format!("{} `{}` ({})", call.source, call.operation, call.action);
        match call.by {
            Caller::Deploy => {
                for r in call_requests(&w, &w.deploy, call) {
                    verdicts.expect(&w.deploy, &r, true, &why);
                }
            }
            Caller::Authorizer | Caller::Backend => {
                let role = &w.app_roles[if call.by == Caller::Authorizer {
                    "AuthorizerRole"
                } else {
                    "BackendRole"
                }];
                for r in call_requests(&w, role, call) {
                    verdicts.expect(role, &r, true, &why);
                }
            }
            // Each group role may make the call exactly when its `pets_table` access has it.
            Caller::GroupRole => {
                // A scope has no role: the backend never assumes one for a machine client.
                let with_roles = w
                    .groups
                    .iter()
                    .filter(|g| matches!(g.subject, groups::Subject::Group(_)));
                for group in with_roles {
                    let role = &w.app_roles[&format!("GroupRole{}", group.logical_name())];
                    let granted = group.pets_table.actions().contains(&call.action);
                    for r in call_requests(&w, role, call) {
                        verdicts.expect(
                            role,
                            &r,
                            granted,
                            &format!("{why}, group `{}` with {:?}", group.key, group.pets_table),
                        );
                    }
                }
            }
            Caller::Operator => {}
        }
    }
    verdicts.finish("listed calls");
}

/// The operation names of the AWS SDK crates in the Cargo registry (each has a
/// `src/operation/<name>/` module), which is how a fluent builder names its call.
fn sdk_operation_names() -> BTreeSet<String> {
    let home = std::env::var("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo")
        });
    let mut names = BTreeSet::new();
    for index in std::fs::read_dir(home.join("registry/src"))
        .unwrap()
        .flatten()
    {
        for krate in std::fs::read_dir(index.path()).unwrap().flatten() {
            if !krate.file_name().to_string_lossy().starts_with("aws-sdk-") {
                continue;
            }
            if let Ok(ops) = std::fs::read_dir(krate.path().join("src/operation")) {
                for op in ops.flatten().filter(|e| e.path().is_dir()) {
                    names.insert(op.file_name().to_string_lossy().into_owned());
                }
            }
        }
    }
    assert!(
        names.contains("get_item") && names.contains("create_change_set"),
        "no AWS SDK sources in {}",
        home.display()
    );
    names
}

/// The SDK operations a Rust source file calls: every argument-less method call named like an
/// SDK operation (`client.scan()`, `.update_item()`), wherever its builder is sent.
fn sdk_operations(text: &str, operations: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("()") {
        let name: String = text[..at]
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        let before = text[..at - name.len()].trim_end();
        if before.ends_with('.') && operations.contains(&name) {
            found.insert(name);
        }
    }
    found
}

/// The AWS CLI calls of a shell script: `aws SERVICE COMMAND`.
fn cli_operations(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(|line| {
            line.match_indices("aws ")
                .filter_map(|(at, _)| {
                    let mut words = line[at + 4..].split_whitespace();
                    let _service = words.next()?;
                    let command = words.next()?;
                    command
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '-')
                        .then(|| command.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn every_aws_call_in_the_listed_sources_is_in_the_one_list_and_no_entry_is_stale() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let operations = sdk_operation_names();
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for source in SOURCES {
        let text = std::fs::read_to_string(root.join(source)).unwrap();
        let found = if source.ends_with(".sh") {
            cli_operations(&text)
        } else {
            sdk_operations(&text, &operations)
        };
        let listed: BTreeSet<&str> = CALLS
            .iter()
            .filter(|c| c.source == *source)
            .map(|c| c.operation)
            .collect();
        for op in &found {
            if !listed.contains(op.as_str()) {
                missing.push(format!("{source}: `{op}`"));
            }
        }
        for call in CALLS.iter().filter(|c| c.source == *source) {
            if !found.contains(call.operation) {
                stale.push(format!("{source}: `{}` ({})", call.operation, call.action));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "AWS calls that groupgate_cli::operations::permissions::CALLS does not list (add each with its IAM action, and the permission to the role):\n{}",
        missing.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed calls no longer made:\n{}",
        stale.join("\n")
    );
}

#[test]
fn the_call_finder_sees_a_new_call_wherever_its_builder_is_sent() {
    let found = sdk_operations(
        "let mut update = client\n    .update_item()\n    .key(\"id\", v(f(1)));\n\
         update.update_expression(set).send().await;\n\
         aws_sdk_sts::Client::new(&aws).get_caller_identity().send().await;\n\
         client.scan().table_name(t).into_paginator().items().send();\n\
         let n = items.len();",
        &sdk_operation_names(),
    );
    assert_eq!(
        found,
        ["get_caller_identity", "scan", "update_item"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    assert_eq!(
        cli_operations("  aws cognito-idp admin-create-user --user-pool-id x\n# aws s3 cp\n"),
        ["admin-create-user".to_owned()].into_iter().collect()
    );
}

// ---------------------------------------------------------------------------------------------
// Must be denied: other applications' resources in the same account and region, IAM outside
// the product, the boundary, the bootstrap stack, imports; the red team's actions first.

const FOREIGN_POOL: &str =
    "arn:aws:cognito-idp:eu-west-1:111122223333:userpool/eu-west-1_Other0001";
const FOREIGN_TABLE: &str = "arn:aws:dynamodb:eu-west-1:111122223333:table/orders-prod";
const FOREIGN_FUNCTION: &str = "arn:aws:lambda:eu-west-1:111122223333:function:billing-api";
const FOREIGN_LOG_STREAM: &str =
    "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/billing-api:log-stream:s";
const FOREIGN_LOG_GROUP: &str =
    "arn:aws:logs:eu-west-1:111122223333:log-group:/aws/lambda/billing-api";
const FOREIGN_TOPIC: &str = "arn:aws:sns:eu-west-1:111122223333:billing-alerts";
const FOREIGN_API: &str = "arn:aws:apigateway:eu-west-1::/restapis/zz9yy8xx7w";
const FOREIGN_ALARM: &str = "arn:aws:cloudwatch:eu-west-1:111122223333:alarm:billing-5xx";
const FOREIGN_DASHBOARD: &str = "arn:aws:cloudwatch::111122223333:dashboard/billing";
const FOREIGN_STACK: &str = "arn:aws:cloudformation:eu-west-1:111122223333:stack/billing/1";

/// A role the execution role could create under the product's path, with the boundary, any
/// trust policy, and `dynamodb:*` (and more) on `*` in its own policy.
fn backdoor(w: &World) -> Principal {
    let policy = json!({"Statement": [{"Effect": "Allow",
        "Action": ["dynamodb:*", "logs:*", "lambda:*", "sns:*", "cognito-idp:*", "sts:AssumeRole"],
        "Resource": "*"}]});
    Principal {
        name: format!("arn:aws:iam::{ACCOUNT}:role/groupgate/{STACK}/functions/backdoor"),
        policies: vec![Policy::parse("backdoor", &policy).unwrap()],
        boundary: Some(w.boundary.clone()),
    }
}

#[test]
fn the_red_teams_actions_on_other_applications_are_denied() {
    let w = world();
    let backdoor = backdoor(&w);
    let mut v = Verdicts::default();
    let exec = &w.execution;
    let deploy = &w.deploy;
    let untagged = |p: &Principal, action: &str, resource: &str| request(p, action, resource);
    for p in [exec, deploy] {
        v.expect(
            p,
            &untagged(p, "cognito-idp:AdminAddUserToGroup", FOREIGN_POOL),
            false,
            "another pool's admin group",
        );
        v.expect(
            p,
            &untagged(p, "lambda:AddPermission", FOREIGN_FUNCTION)
                .with("lambda:Principal", &["apigateway.amazonaws.com"]),
            false,
            "a foreign function's permission",
        );
        v.expect(
            p,
            &untagged(p, "lambda:CreateFunctionUrlConfig", FOREIGN_FUNCTION)
                .with("lambda:FunctionUrlAuthType", &["NONE"]),
            false,
            "a public URL on a foreign function",
        );
        v.expect(
            p,
            &untagged(p, "sns:SetTopicAttributes", FOREIGN_TOPIC),
            false,
            "repointing a foreign topic",
        );
    }
    for p in [exec, deploy, &backdoor]
        .into_iter()
        .chain(w.app_roles.values())
    {
        v.expect(
            p,
            &untagged(p, "dynamodb:Scan", FOREIGN_TABLE),
            false,
            "reading a foreign table",
        );
        v.expect(
            p,
            &untagged(p, "dynamodb:PutItem", FOREIGN_TABLE),
            false,
            "writing a foreign table",
        );
        v.expect(
            p,
            &untagged(p, "logs:PutLogEvents", FOREIGN_LOG_STREAM),
            false,
            "forging a foreign log",
        );
        v.expect(
            p,
            &untagged(p, "logs:DeleteLogGroup", FOREIGN_LOG_GROUP),
            false,
            "deleting a foreign log group",
        );
    }
    // The backdoor keeps what the boundary gives the product, nothing more.
    v.expect(
        &backdoor,
        &untagged(&backdoor, "cognito-idp:AdminAddUserToGroup", FOREIGN_POOL),
        false,
        "backdoor on a foreign pool",
    );
    v.expect(
        &backdoor,
        &untagged(&backdoor, "lambda:InvokeFunction", FOREIGN_FUNCTION),
        false,
        "backdoor invoking a foreign function",
    );
    v.expect(
        &backdoor,
        &untagged(
            &backdoor,
            "sts:AssumeRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/OrganizationAccountAccessRole"),
        ),
        false,
        "backdoor assuming an admin role",
    );
    v.expect(
        &backdoor,
        &untagged(
            &backdoor,
            "sts:AssumeRole",
            &w.bootstrapped.execution_role_arn,
        ),
        false,
        "backdoor assuming the execution role",
    );
    // A product role works on the product's own resources (the boundary is no wall there).
    v.expect(
        &backdoor,
        &untagged(&backdoor, "dynamodb:Scan", &w.app.arns["PetsTable"]),
        true,
        "the boundary lets product roles reach the product",
    );
    // Imports and change sets outside the prefix.
    let product_stack = format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/1");
    let through_exec = |r: Request| {
        r.with(
            "cloudformation:RoleArn",
            &[&w.bootstrapped.execution_role_arn],
        )
    };
    v.expect(
        deploy,
        &through_exec(untagged(
            deploy,
            "cloudformation:CreateChangeSet",
            &product_stack,
        ))
        .with(
            "cloudformation:ImportResourceTypes",
            &["AWS::DynamoDB::Table"],
        ),
        false,
        "an IMPORT change set",
    );
    v.expect(
        deploy,
        &untagged(
            deploy,
            "cloudformation:ImportResourcesToStack",
            &product_stack,
        ),
        false,
        "ImportResourcesToStack",
    );
    v.expect(
        deploy,
        &through_exec(untagged(
            deploy,
            "cloudformation:CreateChangeSet",
            FOREIGN_STACK,
        )),
        false,
        "a change set on another application's stack",
    );
    v.expect(
        deploy,
        &untagged(deploy, "cloudformation:CreateChangeSet", &product_stack),
        false,
        "a change set without the execution role",
    );
    v.expect(
        deploy,
        &through_exec(untagged(
            deploy,
            "cloudformation:CreateChangeSet",
            &product_stack,
        )),
        true,
        "the deploy's own change set",
    );
    v.finish("red team");
}

/// The policy table decides every caller's access: a role of a product stack that could write it
/// (the red team's backdoor role, or a function's role given more in a template) could grant any
/// group anything, and keep doing so after its deploy access is revoked.
#[test]
fn no_role_under_the_boundary_can_write_a_policy_table_whatever_its_policy_says() {
    let w = world();
    let backdoor = backdoor(&w);
    let mut v = Verdicts::default();
    let policy_table = &w.app.arns["PolicyTable"];
    let pets_table = &w.app.arns["PetsTable"];
    for p in std::iter::once(&backdoor).chain(w.app_roles.values()) {
        for action in [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        ] {
            v.expect(
                p,
                &request(p, action, policy_table),
                false,
                "writing the policy table",
            );
        }
    }
    // What the boundary still gives: reading the policy table, writing the pets.
    v.expect(
        &backdoor,
        &request(&backdoor, "dynamodb:GetItem", policy_table),
        true,
        "reading the policy table",
    );
    v.expect(
        &backdoor,
        &request(&backdoor, "dynamodb:PutItem", pets_table),
        true,
        "writing a pet",
    );
    v.finish("policy table writes");
}

#[test]
fn the_execution_role_cannot_reach_other_applications_iam_or_the_bootstrap() {
    let w = world();
    let exec = &w.execution;
    let mut v = Verdicts::default();
    let r = |action: &str, resource: &str| request(exec, action, resource);
    let tagged_foreign = |action: &str, resource: &str| r(action, resource);
    // Other applications' resources, one of each kind the template makes.
    for (action, resource) in [
        ("dynamodb:DeleteTable", FOREIGN_TABLE),
        ("dynamodb:UpdateTable", FOREIGN_TABLE),
        ("lambda:UpdateFunctionCode", FOREIGN_FUNCTION),
        ("lambda:UpdateFunctionConfiguration", FOREIGN_FUNCTION),
        ("lambda:DeleteFunction", FOREIGN_FUNCTION),
        ("logs:PutRetentionPolicy", FOREIGN_LOG_GROUP),
        ("cloudwatch:PutMetricAlarm", FOREIGN_ALARM),
        ("cloudwatch:DeleteAlarms", FOREIGN_ALARM),
        ("cloudwatch:PutDashboard", FOREIGN_DASHBOARD),
        ("sns:Subscribe", FOREIGN_TOPIC),
        ("sns:DeleteTopic", FOREIGN_TOPIC),
        ("cognito-idp:UpdateUserPool", FOREIGN_POOL),
        ("cognito-idp:CreateGroup", FOREIGN_POOL),
        ("cognito-idp:CreateUserPoolClient", FOREIGN_POOL),
        // Tagging a foreign pool into scope.
        ("cognito-idp:TagResource", FOREIGN_POOL),
        ("apigateway:PATCH", FOREIGN_API),
        ("apigateway:DELETE", FOREIGN_API),
        ("apigateway:POST", &format!("{FOREIGN_API}/deployments")),
        // Tagging a foreign API into scope.
        (
            "apigateway:PUT",
            "arn:aws:apigateway:eu-west-1::/tags/arn%3Aaws%3Aapigateway%3Aeu-west-1%3A%3A%2Frestapis%2Fzz9yy8xx7w",
        ),
        ("logs:PutResourcePolicy", "*"),
        ("lambda:CreateEventSourceMapping", "*"),
        ("lambda:InvokeFunction", FOREIGN_FUNCTION),
        ("s3:GetObject", "arn:aws:s3:::billing-exports/2026/01.csv"),
    ] {
        v.expect(
            exec,
            &tagged_foreign(action, resource),
            false,
            "another application's resource",
        );
    }
    // Even a product-named request cannot create an untagged pool or REST API.
    v.expect(
        exec,
        &r("cognito-idp:CreateUserPool", "*"),
        false,
        "an untagged pool",
    );
    v.expect(
        exec,
        &r(
            "apigateway:POST",
            &format!("arn:aws:apigateway:{REGION}::/restapis"),
        ),
        false,
        "an untagged REST API",
    );
    // Product functions are invoked by API Gateway only.
    v.expect(
        exec,
        &r("lambda:AddPermission", &w.app.arns["BackendFunction"]).with("lambda:Principal", &["*"]),
        false,
        "a public invoke permission",
    );
    v.expect(
        exec,
        &r(
            "lambda:CreateFunctionUrlConfig",
            &w.app.arns["BackendFunction"],
        ),
        false,
        "a function URL on a product function",
    );
    // IAM: outside the product path, without the boundary, the boundary and bootstrap roles.
    let product_role = format!("arn:aws:iam::{ACCOUNT}:role/groupgate/{STACK}/functions/x");
    let boundary = w.bootstrapped.boundary_arn.clone();
    v.expect(
        exec,
        &r(
            "iam:CreateRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/admin"),
        )
        .with("iam:PermissionsBoundary", &[&boundary]),
        false,
        "a role outside /groupgate/",
    );
    v.expect(
        exec,
        &r(
            "iam:CreateRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/groupgate/billing/x"),
        )
        .with("iam:PermissionsBoundary", &[&boundary]),
        false,
        "a role under /groupgate/ for a stack outside the prefix",
    );
    v.expect(
        exec,
        &r("iam:CreateRole", &product_role),
        false,
        "a product role without the boundary",
    );
    v.expect(
        exec,
        &r("iam:CreateRole", &product_role).with(
            "iam:PermissionsBoundary",
            &[&format!(
                "arn:aws:iam::{ACCOUNT}:policy/AdministratorAccess"
            )],
        ),
        false,
        "a product role with another boundary",
    );
    v.expect(
        exec,
        &r("iam:DeleteRolePermissionsBoundary", &product_role)
            .with("iam:PermissionsBoundary", &[&boundary]),
        false,
        "dropping the boundary",
    );
    v.expect(
        exec,
        &r("iam:PassRole", &product_role).with("iam:PassedToService", &["ec2.amazonaws.com"]),
        false,
        "passing a product role to EC2",
    );
    v.expect(
        exec,
        &r(
            "iam:PassRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/admin"),
        )
        .with("iam:PassedToService", &["lambda.amazonaws.com"]),
        false,
        "passing another role to Lambda",
    );
    for action in [
        "iam:CreatePolicyVersion",
        "iam:DeletePolicy",
        "iam:SetDefaultPolicyVersion",
    ] {
        v.expect(exec, &r(action, &boundary), false, "the boundary itself");
    }
    for id in ["ExecutionRole", "DeployRole", "ApiGatewayCloudWatchRole"] {
        for action in [
            "iam:PutRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:AttachRolePolicy",
            "iam:DeleteRole",
        ] {
            v.expect(
                exec,
                &r(action, &w.bootstrap.arns[id]).with("iam:PermissionsBoundary", &[&boundary]),
                false,
                "the bootstrap's roles",
            );
        }
    }
    v.expect(
        exec,
        &r("iam:PutRolePolicy", &product_role).with("iam:PermissionsBoundary", &[&boundary]),
        true,
        "the product's own roles, with the boundary",
    );
    v.finish("execution role");
}

#[test]
fn the_deploy_role_cannot_touch_the_bootstrap_or_other_applications() {
    let w = world();
    let d = &w.deploy;
    let mut v = Verdicts::default();
    let r = |action: &str, resource: &str| request(d, action, resource);
    let bootstrap_stack = format!(
        "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{}/1",
        bootstrap::STACK_NAME
    );
    for action in [
        "cloudformation:CreateChangeSet",
        "cloudformation:ExecuteChangeSet",
        "cloudformation:DeleteStack",
        "cloudformation:UpdateStack",
    ] {
        v.expect(
            d,
            &r(action, &bootstrap_stack).with(
                "cloudformation:RoleArn",
                &[&w.bootstrapped.execution_role_arn],
            ),
            false,
            "the bootstrap stack",
        );
    }
    v.expect(
        d,
        &r("cloudformation:DeleteStack", FOREIGN_STACK),
        false,
        "another application's stack",
    );
    v.expect(
        d,
        &r(
            "cloudformation:CreateStack",
            &format!("arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/1"),
        ),
        false,
        "a stack without a change set",
    );
    v.expect(
        d,
        &r(
            "iam:PassRole",
            &format!("arn:aws:iam::{ACCOUNT}:role/admin"),
        )
        .with("iam:PassedToService", &["cloudformation.amazonaws.com"]),
        false,
        "passing another role",
    );
    v.expect(
        d,
        &r("iam:PassRole", &w.bootstrapped.execution_role_arn)
            .with("iam:PassedToService", &["lambda.amazonaws.com"]),
        false,
        "the execution role to Lambda",
    );
    for action in [
        "cognito-idp:AdminCreateUser",
        "cognito-idp:AdminInitiateAuth",
        "cognito-idp:AdminDeleteUser",
    ] {
        v.expect(d, &r(action, FOREIGN_POOL), false, "another pool's users");
    }
    v.expect(
        d,
        &r(
            "apigateway:DELETE",
            &format!("{FOREIGN_API}/stages/prod/cache/authorizers"),
        ),
        false,
        "another API's cache",
    );
    v.expect(
        d,
        &r("apigateway:POST", &format!("{FOREIGN_API}/deployments")),
        false,
        "another API's deployment",
    );
    v.expect(
        d,
        &r("s3:PutObject", "arn:aws:s3:::billing-exports/x"),
        false,
        "another bucket",
    );
    v.expect(
        d,
        &r(
            "s3:DeleteObject",
            &format!(
                "arn:aws:s3:::{}/groupgate/assets/x.zip",
                w.bootstrapped.bucket
            ),
        ),
        false,
        "deleting assets",
    );
    v.expect(
        d,
        &r("dynamodb:DeleteTable", &w.app.arns["PolicyTable"]),
        false,
        "dropping a product table",
    );
    v.finish("deploy role");
}

#[test]
fn a_failure_names_the_request_and_the_deciding_statement() {
    let w = world();
    let r = request(&w.deploy, "cloudformation:CreateChangeSet", FOREIGN_STACK);
    assert_eq!(w.deploy.decide(&r), Decision::NoAllow);
    let bootstrap_stack = format!(
        "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{}/1",
        bootstrap::STACK_NAME
    );
    let r = request(&w.deploy, "cloudformation:DeleteStack", &bootstrap_stack);
    let decision = w.deploy.decide(&r);
    assert_eq!(
        decision,
        Decision::ExplicitDeny(vec!["DeployRole/deploy#NotTheBootstrapStack".into()])
    );
    let mut v = Verdicts::default();
    v.expect(&w.deploy, &r, true, "a deliberately wrong expectation");
    let message = v.failures.join("\n");
    for part in [
        w.deploy.name.as_str(),
        "cloudformation:DeleteStack",
        bootstrap_stack.as_str(),
        "DeployRole/deploy#NotTheBootstrapStack",
    ] {
        assert!(message.contains(part), "{message}");
    }
}
