#![cfg(test)]
//! The synthesized template deployed to moto's CloudFormation, and the policy table seeded
//! through moto's DynamoDB.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use aws_sdk_dynamodb::types::AttributeValue;
use groupgate_cli::operations::seed;
use groupgate_cli::stack::Output;
use groupgate_cli::stack::assets::Assets;
use groupgate_cli::stack::outputs::parse_group_roles;
use groupgate_cli::stack::{self, groups};
use groupgate_shared::{GroupPolicy, PolicyDocument};
use groupgate_testkit::{FIXTURE_POLICIES, Moto, policy_table, unique};

/// What moto's CloudFormation does not implement, and so skips without failing the stack; and
/// the alarm topic and its subscription, which no alarm email leaves out by condition. Besides
/// these, each group's Cognito group (`Group<Name>`), however many `policies/` defines, and
/// the resource servers and machine client of its scopes.
const SKIPPED_BY_MOTO: &[&str] = &[
    "AccessDeniedResponse",
    "AlarmEmailSubscription",
    "AlarmTopic",
    "Api5xxAlarm",
    "ApiRefusalsAlarm",
    "AuthorizerErrorsAlarm",
    "AuthorizerThrottlesAlarm",
    "ApiAuthorizer",
    "ApiStage",
    "AuthorizerConfigurationErrorResponse",
    "AuthorizerFailureResponse",
    "Default4xxResponse",
    "Default5xxResponse",
    "OperatorClient",
    "ThrottledResponse",
    "UnauthorizedResponse",
    "UserPool",
    "UserPoolClient",
    "UserPoolDomain",
];

#[tokio::test]
async fn the_template_reaches_create_complete_in_moto() {
    let moto = Moto::start().await;
    let aws = moto.sdk_config().await;
    let groups = groups::load(&groups::default_dir()).unwrap();
    let assets = Assets::placeholder(&stack::FUNCTIONS);
    let settings = stack::Settings::load(&stack::Settings::default_path()).unwrap();
    let template = stack::build(&groups, &settings.api().unwrap(), &assets, &settings)
        .to_template()
        .unwrap();

    let s3 = aws_sdk_s3::Client::new(&aws);
    let bucket = unique("artifacts");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    for asset in &assets.assets {
        s3.put_object()
            .bucket(&bucket)
            .key(&asset.s3_key)
            .body(
                b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
                    .to_vec()
                    .into(),
            )
            .send()
            .await
            .unwrap();
    }

    let cfn = aws_sdk_cloudformation::Client::new(&aws);
    let name = unique("gg").replace('-', "");
    cfn.create_stack()
        .stack_name(&name)
        .template_body(template.to_string())
        .parameters(
            Parameter::builder()
                .parameter_key("ArtifactBucket")
                .parameter_value(&bucket)
                .build(),
        )
        .parameters(
            Parameter::builder()
                .parameter_key("PermissionsBoundaryArn")
                .parameter_value("arn:aws:iam::123456789012:policy/groupgate-boundary-us-east-1")
                .build(),
        )
        .capabilities(Capability::CapabilityIam)
        .send()
        .await
        .unwrap();
    let mut described = None;
    for _ in 0..300 {
        let stack = cfn
            .describe_stacks()
            .stack_name(&name)
            .send()
            .await
            .unwrap()
            .stacks
            .unwrap()
            .remove(0);
        if !stack
            .stack_status
            .as_ref()
            .unwrap()
            .as_str()
            .ends_with("IN_PROGRESS")
        {
            described = Some(stack);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let described = described.expect("the stack settles within 30 s");
    assert_eq!(
        described.stack_status,
        Some(StackStatus::CreateComplete),
        "{:?}",
        described.stack_status_reason
    );

    let skipped = common::not_created(&cfn, &name, &template).await;
    let expected: BTreeSet<String> = SKIPPED_BY_MOTO
        .iter()
        .map(|id| id.to_string())
        .chain(
            groups
                .iter()
                .filter(|g| g.stack_group().is_some())
                .map(|g| format!("Group{}", g.logical_name())),
        )
        // The pool's scopes: their resource servers and the machine client, when there are any.
        .chain(
            groups
                .iter()
                .filter_map(|g| g.stack_scope().and_then(groups::split_scope))
                .map(|(server, _)| groups::resource_server_id(server)),
        )
        .chain(
            groups
                .iter()
                .any(|g| g.stack_scope().is_some())
                .then(|| "MachineClient".to_owned()),
        )
        .collect();
    assert_eq!(skipped, expected, "moto's skipped set changed");
    let created = template["Resources"].as_object().unwrap().len() - skipped.len();
    assert!(created >= 28, "{created} resources created");

    let outputs: BTreeMap<String, String> = described
        .outputs
        .unwrap()
        .into_iter()
        .map(|o| (o.output_key.unwrap(), o.output_value.unwrap()))
        .collect();
    // The tables exist in moto's DynamoDB under the names the stack reports.
    let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
    for key in [Output::PolicyTableName.key(), Output::PetsTableName.key()] {
        dynamodb
            .describe_table()
            .table_name(&outputs[key])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{key}: {e:?}"));
    }
    let roles = parse_group_roles(&outputs[Output::GroupRoleArns.key()]).unwrap();
    // One role per group of policies/, whichever groups it defines, each under the stack's
    // path; none for a scope.
    assert_eq!(
        roles.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        groups
            .iter()
            .filter(|g| matches!(g.subject, groups::Subject::Group(_)))
            .map(|g| g.key.as_str())
            .collect::<BTreeSet<_>>()
    );
    for arn in roles.values() {
        assert!(
            arn.contains(&format!(":role/groupgate/{name}/groups/")),
            "{arn}"
        );
    }
}

#[tokio::test]
async fn seeding_writes_every_group_and_removes_undefined_ones() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let stale =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
    let table = policy_table(&client, &[("retired-group", stale, None, None)]).await;
    let groups = groups::load(Path::new(FIXTURE_POLICIES)).unwrap();
    let roles =
        parse_group_roles("admin=arn:aws:iam::123456789012:role/groupgate/s/admin").unwrap();

    let report = seed::seed(&client, &table, seed::Seed::iam(&groups), &roles, true)
        .await
        .unwrap();
    assert_eq!(report.written, ["admin", "pet-veterinarian", "pet-viewer"]);
    assert_eq!(report.removed, ["retired-group"]);

    let item = |group: &str| {
        let client = client.clone();
        let table = table.clone();
        let group = group.to_owned();
        async move {
            client
                .get_item()
                .table_name(&table)
                .key("group", AttributeValue::S(group))
                .send()
                .await
                .unwrap()
                .item
        }
    };
    let admin = GroupPolicy::from_item(&item("admin").await.unwrap()).unwrap();
    assert_eq!(
        admin.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/groupgate/s/admin")
    );
    assert_eq!(admin.precedence, Some(1));
    let vet = GroupPolicy::from_item(&item("pet-veterinarian").await.unwrap()).unwrap();
    assert_eq!(
        vet.policy,
        PolicyDocument::from_json(&groups[1].policy_text().unwrap())
    );
    assert!(item("retired-group").await.is_none());
}

#[tokio::test]
async fn an_invalid_policy_file_is_refused_and_nothing_is_written() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let table = policy_table(&client, &[]).await;
    let dir = std::env::temp_dir().join(unique("policies"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        Path::new(FIXTURE_POLICIES).join("admin.json"),
        dir.join("admin.json"),
    )
    .unwrap();
    std::fs::write(dir.join("broken.json"), r#"{"group":"broken","precedence":5,"description":"d",
        "pets_table":"read","policy":{"Version":"2012-10-17","Statement":[{"Action":"*","Resource":"*"}]}}"#).unwrap();

    // The CLI loads (and so validates) every definition before it writes anything.
    let output = seed_with_the_cli(&moto, &table, &dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("broken.json"), "{stderr}");
    assert!(stderr.contains("Effect"), "{stderr}");
    let count = client.scan().table_name(&table).send().await.unwrap().count;
    assert_eq!(count, 0, "nothing written");
    assert!(Path::new(&dir).exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue #9: the seeding path reads `policies/*.json` as raw text, so a statement that names a
/// key twice is refused with the file and the key named, and nothing is written.
#[tokio::test]
async fn seeding_refuses_a_policy_file_whose_statement_repeats_a_key() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let table = policy_table(&client, &[]).await;
    let dir = std::env::temp_dir().join(unique("policies"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sneaky.json"),
        r#"{"group":"sneaky","precedence":5,"description":"d","pets_table":"read",
        "policy":{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow",
        "Action":"execute-api:Invoke","Resource":"*"}]}}"#,
    )
    .unwrap();
    let output = seed_with_the_cli(&moto, &table, &dir);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("sneaky.json"), "{stderr}");
    assert!(stderr.contains("duplicate key `Effect`"), "{stderr}");
    let count = client.scan().table_name(&table).send().await.unwrap().count;
    assert_eq!(count, 0, "nothing written");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue #11: a re-seed by hand without the roles keeps the `role_arn` each group has.
#[tokio::test]
async fn a_reseed_without_roles_keeps_the_stored_roles() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let table = policy_table(&client, &[]).await;
    let groups = groups::load(Path::new(FIXTURE_POLICIES)).unwrap();
    let roles =
        parse_group_roles("admin=arn:aws:iam::123456789012:role/groupgate/s/admin").unwrap();
    seed::seed(&client, &table, seed::Seed::iam(&groups), &roles, true)
        .await
        .unwrap();
    seed::seed(
        &client,
        &table,
        seed::Seed::iam(&groups),
        &Default::default(),
        true,
    )
    .await
    .unwrap();
    let item = client
        .get_item()
        .table_name(&table)
        .key("group", AttributeValue::S("admin".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let admin = GroupPolicy::from_item(&item).unwrap();
    assert_eq!(
        admin.role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/groupgate/s/admin")
    );
    assert_eq!(admin.precedence, Some(1));
    assert!(admin.policy.is_ok());
}

/// Runs `seed-policies` as an operator would, against moto.
fn seed_with_the_cli(moto: &Moto, table: &str, dir: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_groupgate"))
        .args(["seed-policies", "--table", table, "--policies"])
        .arg(dir)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .output()
        .unwrap()
}

/// The Cedar example (`examples/cedar/`): its settings and its policies folder.
fn cedar_example() -> (stack::Settings, std::path::PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/cedar");
    let mut settings = stack::Settings::load(&root.join("groupgate.toml")).unwrap();
    // The checkout's API, as the settings name it from the checkout's root.
    settings.api_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../api/petstore.yaml");
    (settings, root.join("policies"))
}

/// Over the wire: a Cedar deployment seeds its groups with no IAM policy (one left by an IAM
/// deployment is removed, the role kept) and one `#cedar` item whose bundle reads back into the
/// same decisions; going back to IAM prunes the bundle's item.
#[tokio::test]
async fn a_cedar_seed_writes_the_bundle_item_and_drops_stale_iam_policies() {
    let moto = Moto::start().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let iam_policy = groupgate_testkit::fixture_policy("pet-viewer");
    let role = "arn:aws:iam::123456789012:role/groupgate/s/pet-viewer";
    let table = policy_table(
        &client,
        &[("pet-viewer", &iam_policy, Some(role), Some(20))],
    )
    .await;
    let (settings, dir) = cedar_example();
    let folder = seed::PolicyFolder::load(&dir, &settings).unwrap();
    assert!(folder.groups.iter().all(|g| g.policy.is_none()));

    let report = seed::seed(&client, &table, folder.seed(), &BTreeMap::new(), true)
        .await
        .unwrap();
    assert!(report.written.contains(&seed::CEDAR_BUNDLE_KEY.to_owned()));
    assert_eq!(report.removed, Vec::<String>::new());

    let get = |key: &str| {
        let (client, table, key) = (client.clone(), table.clone(), key.to_owned());
        async move {
            client
                .get_item()
                .table_name(&table)
                .key("group", AttributeValue::S(key))
                .send()
                .await
                .unwrap()
                .item
        }
    };
    let viewer = get("pet-viewer").await.unwrap();
    assert!(
        !viewer.contains_key("policy"),
        "the IAM policy is gone: {viewer:?}"
    );
    let viewer = GroupPolicy::from_item(&viewer).unwrap();
    assert_eq!(viewer.role_arn.as_deref(), Some(role), "the role is kept");
    assert!(
        viewer.policy.is_err(),
        "an item without a policy allows nothing"
    );

    let bundle = get(seed::CEDAR_BUNDLE_KEY).await.unwrap();
    let Some(AttributeValue::S(text)) = bundle.get(seed::CEDAR_BUNDLE_ATTRIBUTE) else {
        panic!("no bundle text: {bundle:?}");
    };
    assert_eq!(Some(text), folder.cedar_bundle.as_ref());
    let store = groupgate_cedar::CedarBundle::from_json(text)
        .unwrap()
        .into_store()
        .unwrap();
    let decide = |groups: &[&str], method: &str, path: &str| {
        store.decide("someone", groups, method, path).allow
    };
    assert!(decide(&["pet-viewer"], "GET", "/petstore/v1/pets"));
    assert!(!decide(&["pet-viewer"], "GET", "/petstore/v2/pets"));
    assert!(decide(
        &["scope:petstore/status.read"],
        "GET",
        "/petstore/v2/status"
    ));
    assert!(!decide(&[], "GET", "/petstore/v1/pets"));

    // Back to IAM: the bundle's item is pruned, the groups get their policies again.
    let groups = groups::load(Path::new(FIXTURE_POLICIES)).unwrap();
    let report = seed::seed(
        &client,
        &table,
        seed::Seed::iam(&groups),
        &BTreeMap::new(),
        true,
    )
    .await
    .unwrap();
    assert!(
        report.removed.contains(&seed::CEDAR_BUNDLE_KEY.to_owned()),
        "{report:?}"
    );
    assert!(get(seed::CEDAR_BUNDLE_KEY).await.is_none());
    let viewer = GroupPolicy::from_item(&get("pet-viewer").await.unwrap()).unwrap();
    assert!(viewer.policy.is_ok());
}
