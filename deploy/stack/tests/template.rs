#![cfg(test)]
//! The synthesized template: a reviewed snapshot, determinism, and the properties that matter
//! for security checked one by one.

mod common;

use common::{app_template, fixture_api, fixture_groups, settings};
use groupgate_stack::assets::Assets;
use groupgate_stack::{self as stack, bootstrap, groups};
use serde_json::{Value, json};

// The tests' own groups and API (`common`): these tests name and count them, and the snapshot
// holds their roles. The product's own `policies/` is checked by cfn-lint on its synthesized
// template and by the property tests at the end of this file.

fn template_with(settings: &stack::Settings) -> Value {
    app_template(&fixture_api(), settings)
}

fn deployment_id(t: &Value) -> String {
    let ids: Vec<_> = t["Resources"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("RestApiDeployment"))
        .cloned()
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids[0].clone()
}

fn template() -> Value {
    template_with(&settings())
}

#[test]
fn the_template_matches_the_reviewed_snapshot() {
    insta::assert_json_snapshot!("template", template());
}

/// The fixture groups as a Cedar policies folder defines them (no IAM policy), with
/// `policy_language = "cedar"`.
fn cedar_template() -> Value {
    let settings = stack::Settings {
        policy_language: stack::settings::PolicyLanguage::Cedar,
        ..settings()
    };
    let groups: Vec<groups::GroupDefinition> = fixture_groups()
        .into_iter()
        .map(|d| groups::GroupDefinition { policy: None, ..d })
        .collect();
    stack::build(
        &groups,
        &fixture_api(),
        &Assets::placeholder(&stack::FUNCTIONS),
        &settings,
    )
    .to_template()
    .unwrap()
}

#[test]
fn the_cedar_template_matches_the_reviewed_snapshot() {
    insta::assert_json_snapshot!("template_cedar", cedar_template());
}

/// With Cedar the authorizer answers for one route, so API Gateway's cache is keyed by the
/// method and the resource path beside the token, and the authorizer is told its language;
/// the groups' Cognito groups and roles are made as with IAM.
#[test]
fn a_cedar_stack_keys_the_authorizer_cache_by_route_and_tells_the_authorizer() {
    let (iam, cedar) = (template(), cedar_template());
    let source = |t: &Value| resource(t, "ApiAuthorizer")["Properties"]["IdentitySource"].clone();
    assert_eq!(source(&iam), "method.request.header.Authorization");
    assert_eq!(
        source(&cedar),
        "method.request.header.Authorization, context.httpMethod, context.resourcePath"
    );
    let language = |t: &Value| {
        resource(t, "AuthorizerFunction")["Properties"]["Environment"]["Variables"]
            .get(stack::POLICY_LANGUAGE_VARIABLE)
            .cloned()
    };
    assert_eq!(language(&iam), None);
    assert_eq!(language(&cedar), Some(json!("cedar")));
    let kinds = |t: &Value| -> Vec<String> {
        let mut ids: Vec<String> = t["Resources"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        ids.retain(|id| !id.starts_with("RestApiDeployment"));
        ids.sort();
        ids
    };
    assert_eq!(
        kinds(&iam),
        kinds(&cedar),
        "the same resources, groups and roles included"
    );
    assert_ne!(
        deployment_id(&iam),
        deployment_id(&cedar),
        "a new authorizer configuration needs a new API deployment"
    );
}

#[test]
fn synthesis_is_deterministic() {
    let a = serde_json::to_string_pretty(&template()).unwrap();
    let b = serde_json::to_string_pretty(&template()).unwrap();
    assert_eq!(a, b);
}

fn resource<'a>(t: &'a Value, id: &str) -> &'a Value {
    t["Resources"]
        .get(id)
        .unwrap_or_else(|| panic!("no resource `{id}`"))
}

fn inline_statements(role: &Value) -> &Vec<Value> {
    role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        .as_array()
        .unwrap()
}

#[test]
fn the_authorizer_may_only_read_the_policy_table_and_write_its_logs_and_traces() {
    let t = template();
    let statements = inline_statements(resource(&t, "AuthorizerRole"));
    assert_eq!(
        statements[0],
        json!({"Effect":"Allow","Action":["dynamodb:BatchGetItem","dynamodb:GetItem","dynamodb:Scan"],
        "Resource":[{"Fn::GetAtt":["PolicyTable","Arn"]}]})
    );
    assert_eq!(
        statements[1]["Action"],
        json!(["logs:CreateLogStream", "logs:PutLogEvents"])
    );
    assert_eq!(
        statements[2],
        json!({"Effect":"Allow","Action":["xray:PutTraceSegments","xray:PutTelemetryRecords"],
        "Resource":["*"]})
    );
    assert_eq!(statements.len(), 3);
    assert!(
        resource(&t, "AuthorizerRole")["Properties"]
            .get("ManagedPolicyArns")
            .is_none()
    );
}

#[test]
fn the_backend_may_assume_only_this_stacks_group_roles() {
    let t = template();
    let statements = inline_statements(resource(&t, "BackendRole"));
    let assume = statements
        .iter()
        .find(|s| s["Action"] == json!(["sts:AssumeRole"]))
        .unwrap();
    assert_eq!(
        assume["Resource"],
        json!([{"Fn::Sub":
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/groupgate/${AWS::StackName}/groups/*"}])
    );
    for group in [
        "GroupRoleAdmin",
        "GroupRolePetVeterinarian",
        "GroupRolePetViewer",
    ] {
        let role = resource(&t, group);
        assert_eq!(
            role["Properties"]["Path"],
            json!({"Fn::Sub": "/groupgate/${AWS::StackName}/groups/"})
        );
        assert_eq!(
            role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"],
            json!({"AWS": {"Fn::GetAtt": ["BackendRole", "Arn"]}})
        );
    }
    // The backend's own role is not on the group path, so it cannot assume itself or the
    // authorizer's role.
    for function in ["BackendRole", "AuthorizerRole"] {
        assert_eq!(
            resource(&t, function)["Properties"]["Path"],
            json!({"Fn::Sub": "/groupgate/${AWS::StackName}/functions/"})
        );
    }
}

#[test]
fn no_account_setting_and_every_role_is_under_the_product_path_with_the_boundary() {
    let t = template();
    let resources = t["Resources"].as_object().unwrap();
    assert!(
        resources
            .values()
            .all(|r| r["Type"] != "AWS::ApiGateway::Account"),
        "the account's API Gateway setting belongs to the bootstrap stack"
    );
    let roles: Vec<(&String, &Value)> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .collect();
    assert_eq!(roles.len(), 5, "two functions' roles and three group roles");
    for (id, role) in roles {
        let p = &role["Properties"];
        assert_eq!(
            p["PermissionsBoundary"],
            json!({"Ref": "PermissionsBoundaryArn"}),
            "{id}"
        );
        // The bootstrap's execution role may create roles only under this path.
        let path = p["Path"]["Fn::Sub"].as_str().unwrap();
        assert!(path.starts_with(bootstrap::APP_ROLE_PATH), "{id}: {path}");
        assert!(p.get("RoleName").is_none(), "{id}: named roles collide");
    }
}

/// Issue 19, item 11: the role reaches the backend from the policy table (the authorizer's
/// `role_arn`), seeded from `GroupRoleArns`; a Cognito group's `RoleArn` only shows in ID
/// tokens, which the authorizer does not accept, and would need `iam:PassRole` to Cognito.
#[test]
fn every_group_definition_becomes_a_cognito_group_and_a_role_the_policy_table_names() {
    let t = template();
    let vet = &resource(&t, "GroupPetVeterinarian")["Properties"];
    assert_eq!(vet["GroupName"], "pet-veterinarian");
    assert_eq!(vet["Precedence"], 10);
    for (id, group) in of_type(&t, "AWS::Cognito::UserPoolGroup") {
        assert!(
            group["Properties"].get("RoleArn").is_none(),
            "{id} passes a role to Cognito"
        );
    }
    assert_eq!(
        resource(&t, "AuthorizerFunction")["Properties"]["Environment"]["Variables"]["TOKEN_USE"],
        "access",
        "access tokens never carry cognito:roles"
    );
    let pairs = t["Outputs"]["GroupRoleArns"]["Value"].to_string();
    assert!(
        pairs.contains(r#"["pet-veterinarian",{"Fn::GetAtt":["GroupRolePetVeterinarian","Arn"]}]"#),
        "{pairs}"
    );
}

/// Issue 19, item 12: `SSEEnabled: true` selects the AWS managed KMS key (KMS charges, `kms:`
/// calls); `false` is DynamoDB's AWS owned key, which the scanner waiver states.
#[test]
fn tables_are_encrypted_with_dynamodbs_aws_owned_key_as_the_waiver_says() {
    let t = template();
    let tables = of_type(&t, "AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 2);
    for (id, table) in tables {
        assert_eq!(
            table["Properties"]["SSESpecification"],
            json!({"SSEEnabled": false}),
            "{id}"
        );
        assert!(
            table["Properties"]["SSESpecification"]
                .get("KMSMasterKeyId")
                .is_none()
        );
        let waiver = &table["Metadata"]["checkov"]["skip"][0];
        assert_eq!(waiver["id"], "CKV_AWS_119", "{id}");
        assert!(
            waiver["comment"]
                .as_str()
                .unwrap()
                .contains("AWS owned key"),
            "{id}: {waiver}"
        );
    }
}

/// Issue 19, item 9: CloudWatch Logs takes only some retention periods; the parameter offers
/// exactly those (the class check in `aws_contracts.rs` holds every such parameter to its
/// resource schema).
#[test]
fn log_retention_takes_only_the_periods_cloudwatch_logs_accepts() {
    let t = template();
    let p = &t["Parameters"]["LogRetentionDays"];
    assert_eq!(p["Type"], "Number");
    assert_eq!(p["Default"], "30");
    let allowed: Vec<&str> = p["AllowedValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(allowed.len(), 22);
    for days in ["1", "30", "400", "3653"] {
        assert!(allowed.contains(&days), "{days}");
    }
    for days in ["2", "31", "3652"] {
        assert!(!allowed.contains(&days), "{days}");
    }
    for id in ["AuthorizerLogGroup", "BackendLogGroup", "ApiAccessLogGroup"] {
        assert_eq!(
            resource(&t, id)["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{id}"
        );
    }
}

/// Whether CloudFormation takes `value` for `parameter`, by its `AllowedPattern`.
fn pattern_allows(parameter: &Value, value: &str) -> bool {
    let pattern = parameter["AllowedPattern"].as_str().unwrap();
    jsonschema::draft202012::new(&json!({ "type": "string", "pattern": pattern }))
        .unwrap()
        .is_valid(&json!(value))
}

/// Issue 20, item 5: the public client had `http://localhost/` as its callback by default. Now
/// the hosted UI's code flow is off until an https:// callback is given, and nothing else is
/// taken.
#[test]
fn the_public_client_has_no_callback_until_an_https_one_is_given() {
    let t = template();
    let p = &t["Parameters"]["HostedUiCallbackUrl"];
    assert_eq!(p["Default"], "");
    for accepted in [
        "",
        "https://app.example.com/callback",
        "https://app.example.com/cb?x=1",
    ] {
        assert!(pattern_allows(p, accepted), "{accepted:?} is refused");
    }
    for refused in [
        "http://localhost/",
        "http://app.example.com/",
        "https://app.example.com/#fragment",
        "https://app example.com/",
        "javascript:alert(1)",
        " https://app.example.com/",
    ] {
        assert!(!pattern_allows(p, refused), "{refused:?} is taken");
    }
    assert_eq!(
        t["Conditions"]["HasHostedUi"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "HostedUiCallbackUrl"}, ""]}]})
    );
    let client = &resource(&t, "UserPoolClient")["Properties"];
    let when_given =
        |value: Value| json!({"Fn::If": ["HasHostedUi", value, {"Ref": "AWS::NoValue"}]});
    assert_eq!(
        client["AllowedOAuthFlowsUserPoolClient"],
        json!({"Fn::If": ["HasHostedUi", true, false]})
    );
    assert_eq!(client["AllowedOAuthFlows"], when_given(json!(["code"])));
    for urls in ["CallbackURLs", "LogoutURLs"] {
        assert_eq!(
            client[urls],
            when_given(json!([{"Ref": "HostedUiCallbackUrl"}])),
            "{urls}"
        );
    }
    assert_eq!(
        client["ExplicitAuthFlows"],
        json!(["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
        "SRP sign-in works without the hosted UI"
    );
    assert_eq!(t["Outputs"]["HostedUiUrl"]["Condition"], "HasHostedUi");
}

#[test]
fn lambda_permissions_are_restricted_by_source_arn() {
    let t = template();
    for id in ["AuthorizerInvokePermission", "BackendInvokePermission"] {
        let source = &resource(&t, id)["Properties"]["SourceArn"]["Fn::Sub"];
        assert!(
            source.as_str().unwrap().contains("${RestApi}/"),
            "{id}: {source}"
        );
    }
}

#[test]
fn every_method_is_behind_the_request_authorizer() {
    let t = template();
    let methods: Vec<_> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGateway::Method")
        .collect();
    assert_eq!(methods.len(), fixture_api().operations.len());
    for m in methods {
        assert_eq!(m["Properties"]["AuthorizationType"], "CUSTOM");
        assert_eq!(
            m["Properties"]["AuthorizerId"],
            json!({"Ref": "ApiAuthorizer"})
        );
    }
    let authorizer = &resource(&t, "ApiAuthorizer")["Properties"];
    assert_eq!(authorizer["Type"], "REQUEST");
    assert_eq!(
        authorizer["IdentitySource"],
        "method.request.header.Authorization"
    );
    assert_eq!(authorizer["AuthorizerResultTtlInSeconds"], 300);
    assert!(
        t["Parameters"].get("AuthorizerResultTtl").is_none(),
        "a synth-time setting, not a parameter"
    );
}

#[test]
fn functions_are_arm64_on_al2023_with_the_variables_they_read() {
    let t = template();
    for (id, vars) in [
        (
            "AuthorizerFunction",
            &[
                "USER_POOL_ID",
                "APP_CLIENT_IDS",
                "POLICY_TABLE",
                "TOKEN_USE",
                "POLICY_CACHE_TTL_SECONDS",
            ][..],
        ),
        (
            "BackendFunction",
            &[
                "PETS_TABLE",
                "ASSUME_GROUP_ROLE",
                "ALLOWED_ROLE_ACCOUNTS",
                "GROUP_ROLE_PATH",
            ][..],
        ),
    ] {
        let p = &resource(&t, id)["Properties"];
        assert_eq!(p["Runtime"], "provided.al2023");
        assert_eq!(p["Architectures"], json!(["arm64"]));
        let mut names: Vec<_> = p["Environment"]["Variables"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        let mut want: Vec<_> = vars.iter().map(|v| v.to_string()).collect();
        want.sort();
        assert_eq!(names, want, "{id}");
    }
}

#[test]
fn a_method_change_makes_a_new_deployment() {
    let t = template();
    assert_eq!(
        resource(&t, "ApiStage")["Properties"]["DeploymentId"],
        json!({"Ref": deployment_id(&t)})
    );
}

/// Issue #11: changing what API Gateway only serves once deployed makes a new deployment, so
/// the stage moves to it. The TTL is a synth-time setting now: a parameter's new value would
/// reach the authorizer resource and never the stage.
#[test]
fn changing_the_authorizer_ttl_or_a_gateway_response_makes_a_new_deployment() {
    let base = settings();
    let before = deployment_id(&template_with(&base));
    let mut ttl = base.clone();
    ttl.authorizer_ttl_seconds = 0;
    let with_ttl = template_with(&ttl);
    assert_eq!(
        with_ttl["Resources"]["ApiAuthorizer"]["Properties"]["AuthorizerResultTtlInSeconds"],
        0
    );
    assert_ne!(deployment_id(&with_ttl), before);

    // The deployment is named by the digest of the API's deployed parts, gateway responses
    // among them.
    let groups = fixture_groups();
    let mut built = stack::build(
        &groups,
        &fixture_api(),
        &Assets::placeholder(&stack::FUNCTIONS),
        &base,
    );
    assert_eq!(
        before,
        format!("RestApiDeployment{}", stack::api_digest(&built))
    );
    built
        .resource_mut("AccessDeniedResponse")
        .unwrap()
        .properties["StatusCode"] = json!("404");
    assert_ne!(
        before,
        format!("RestApiDeployment{}", stack::api_digest(&built))
    );
}

#[test]
fn the_user_pool_and_tables_survive_a_delete_and_a_replacement() {
    let t = template();
    for id in ["UserPool", "PolicyTable", "PetsTable"] {
        let r = resource(&t, id);
        assert_eq!(r["DeletionPolicy"], "RetainExceptOnCreate", "{id}");
        assert_eq!(r["UpdateReplacePolicy"], "Retain", "{id}");
    }
}

#[test]
fn the_stage_is_throttled_and_every_gateway_response_is_json_with_a_hint() {
    let t = template();
    let stage = &resource(&t, "ApiStage")["Properties"];
    assert_eq!(stage["StageName"], "prod");
    assert_eq!(stage["MethodSettings"][0]["ThrottlingRateLimit"], 100.0);
    assert_eq!(stage["MethodSettings"][0]["ThrottlingBurstLimit"], 200);
    let responses: Vec<&Value> = t["Resources"]
        .as_object()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGateway::GatewayResponse")
        .collect();
    let kinds: Vec<&str> = responses
        .iter()
        .map(|r| r["Properties"]["ResponseType"].as_str().unwrap())
        .collect();
    for kind in [
        "UNAUTHORIZED",
        "ACCESS_DENIED",
        "THROTTLED",
        "AUTHORIZER_FAILURE",
        "AUTHORIZER_CONFIGURATION_ERROR",
        "DEFAULT_4XX",
        "DEFAULT_5XX",
    ] {
        assert!(kinds.contains(&kind), "{kind}");
    }
    for r in responses {
        let body = r["Properties"]["ResponseTemplates"]["application/json"]
            .as_str()
            .unwrap();
        assert!(body.contains("\"hint\":"), "{body}");
        assert!(body.contains("$context.requestId"), "{body}");
    }
}

/// Issue #11: password sign-in was on the public client only so that the smoke test could sign
/// in. People use the hosted UI's code flow (with PKCE) or SRP; operators and the smoke tests use
/// the admin flow on their own client, which needs IAM credentials.
#[test]
fn no_client_allows_user_password_auth() {
    let t = template();
    let clients: Vec<(&String, &Value)> = t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Cognito::UserPoolClient")
        .collect();
    assert_eq!(clients.len(), 2);
    for (id, client) in &clients {
        let flows = client["Properties"]["ExplicitAuthFlows"]
            .as_array()
            .unwrap();
        assert!(
            !flows.contains(&json!("ALLOW_USER_PASSWORD_AUTH")),
            "{id}: {flows:?}"
        );
    }
    assert_eq!(
        resource(&t, "UserPool")["Properties"]["UserPoolTags"],
        json!({"groupgate:stack": {"Ref": "AWS::StackName"}}),
        "the bootstrap's deploy role manages users only in pools tagged so"
    );
    let operator = &resource(&t, "OperatorClient")["Properties"];
    assert_eq!(
        operator["ExplicitAuthFlows"],
        json!(["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"])
    );
    assert!(operator.get("AllowedOAuthFlows").is_none());
    // Tokens from both clients are accepted by the authorizer.
    assert_eq!(
        resource(&t, "AuthorizerFunction")["Properties"]["Environment"]["Variables"]["APP_CLIENT_IDS"],
        json!({"Fn::Join": [",", [{"Ref": "UserPoolClient"}, {"Ref": "OperatorClient"}]]})
    );
}

/// Issue #11: with group roles assumed, the backend's own role cannot touch the pets table, so
/// every read and write is the caller's group role at work; the viewer's role may only read.
#[test]
fn with_roles_assumed_only_the_group_roles_reach_the_pets_table() {
    let t = template();
    let backend = inline_statements(resource(&t, "BackendRole"));
    assert!(
        !backend
            .iter()
            .any(|s| s["Action"].to_string().contains("dynamodb:")),
        "{backend:?}"
    );
    let viewer = inline_statements(resource(&t, "GroupRolePetViewer"));
    assert_eq!(
        viewer[0]["Action"],
        json!(["dynamodb:GetItem", "dynamodb:Scan", "dynamodb:Query"])
    );
    assert_eq!(viewer.len(), 1);
    let vet = inline_statements(resource(&t, "GroupRolePetVeterinarian"));
    assert!(
        vet[0]["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("dynamodb:PutItem"))
    );

    // Without role assumption, the backend acts with its own role, which then needs the table.
    let mut own = settings();
    own.assume_group_role = false;
    let t = template_with(&own);
    let backend = inline_statements(resource(&t, "BackendRole"));
    assert!(
        backend
            .iter()
            .any(|s| s["Resource"] == json!([{"Fn::GetAtt": ["PetsTable", "Arn"]}])),
        "{backend:?}"
    );
}

fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

#[test]
fn without_origins_no_cors_is_emitted() {
    let t = template();
    let methods = of_type(&t, "AWS::ApiGateway::Method");
    assert_eq!(methods.len(), fixture_api().operations.len());
    assert!(
        methods
            .iter()
            .all(|(_, m)| m["Properties"]["HttpMethod"] != "OPTIONS")
    );
    assert!(!t.to_string().contains("Access-Control"));
    let env = &resource(&t, "BackendFunction")["Properties"]["Environment"]["Variables"];
    assert!(env.get("CORS_ORIGINS").is_none());
}

#[test]
fn with_origins_each_resource_gets_an_unauthenticated_preflight_that_checks_the_origin() {
    let mut with_cors = settings();
    with_cors.cors_origins = vec![
        "https://app.example.com".into(),
        "http://localhost:3000".into(),
    ];
    let t = template_with(&with_cors);
    assert_ne!(deployment_id(&t), deployment_id(&template()));

    let preflights: Vec<_> = of_type(&t, "AWS::ApiGateway::Method")
        .into_iter()
        .filter(|(_, m)| m["Properties"]["HttpMethod"] == "OPTIONS")
        .collect();
    let api = fixture_api();
    let paths: std::collections::BTreeSet<&str> =
        api.operations.iter().map(|o| o.path.as_str()).collect();
    assert_eq!(
        preflights.len(),
        paths.len(),
        "one per resource with methods"
    );
    for (id, m) in &preflights {
        let p = &m["Properties"];
        assert_eq!(p["AuthorizationType"], "NONE", "{id}");
        assert!(p.get("AuthorizerId").is_none(), "{id}");
        assert_eq!(p["Integration"]["Type"], "MOCK", "{id}");
        let response = &p["Integration"]["IntegrationResponses"][0];
        let template = response["ResponseTemplates"]["application/json"]
            .as_str()
            .unwrap();
        // The allowed origin is echoed only when the request's Origin is one of the list.
        assert!(
            template.contains(
                "#if($origin == 'https://app.example.com' || $origin == 'http://localhost:3000')#set($context.responseOverride.header.Access-Control-Allow-Origin = $origin)#end"
            ),
            "{id}: {template}"
        );
        assert_eq!(
            response["ResponseParameters"]["method.response.header.Access-Control-Allow-Headers"],
            "'Authorization,Content-Type'"
        );
    }
    let v1 = &resource(&t, "ApiPetstoreV1PetsOptions")["Properties"]["Integration"]["IntegrationResponses"]
        [0]["ResponseParameters"];
    assert_eq!(
        v1["method.response.header.Access-Control-Allow-Methods"],
        "'GET,POST,OPTIONS'"
    );

    // Every gateway response (401, 403, 429, 5xx...) is readable by the allowed origins.
    for (id, response) in of_type(&t, "AWS::ApiGateway::GatewayResponse") {
        let headers = &response["Properties"]["ResponseParameters"];
        assert_eq!(
            headers["gatewayresponse.header.Access-Control-Allow-Origin"],
            "method.request.header.Origin",
            "{id}"
        );
        assert_eq!(headers["gatewayresponse.header.Vary"], "'Origin'", "{id}");
    }
    let env = &resource(&t, "BackendFunction")["Properties"]["Environment"]["Variables"];
    assert_eq!(
        env["CORS_ORIGINS"],
        "https://app.example.com,http://localhost:3000"
    );

    // With one origin, the gateway responses name it.
    with_cors.cors_origins.truncate(1);
    let t = template_with(&with_cors);
    let headers = &resource(&t, "UnauthorizedResponse")["Properties"]["ResponseParameters"];
    assert_eq!(
        headers["gatewayresponse.header.Access-Control-Allow-Origin"],
        "'https://app.example.com'"
    );
}

/// Every VTL mapping template in `t` (methods' integrations and gateway responses), by the
/// resource it belongs to.
fn mapping_templates(t: &Value) -> Vec<(String, String)> {
    fn walk(id: &str, value: &Value, found: &mut Vec<(String, String)>) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if key == "RequestTemplates" || key == "ResponseTemplates" {
                        for text in v
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter_map(|(_, t)| t.as_str())
                        {
                            found.push((id.to_owned(), text.to_owned()));
                        }
                    } else {
                        walk(id, v, found);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| walk(id, v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    for (id, r) in t["Resources"].as_object().unwrap() {
        walk(id, &r["Properties"], &mut found);
    }
    found
}

fn with_two_origins() -> Value {
    let mut with_cors = settings();
    with_cors.cors_origins = vec![
        "https://app.example.com".into(),
        "http://localhost:3000".into(),
    ];
    template_with(&with_cors)
}

/// Issue 20, item 5: `$input.params('Origin')` searches the path, then the query string, then
/// the headers, so `?Origin=https://app.example.com` chose the origin the preflight echoed.
/// API Gateway's mapping template reference gives `$input.params().header` for the headers.
#[test]
fn the_preflight_reads_the_origin_header_only() {
    let t = with_two_origins();
    let template = resource(&t, "ApiPetstoreV1PetsOptions")["Properties"]["Integration"]
        ["IntegrationResponses"][0]["ResponseTemplates"]["application/json"]
        .as_str()
        .unwrap();
    assert!(
        template.starts_with(
            "#set($origin = $input.params().header.get('Origin'))\n#if(\"$!origin\" == '')#set($origin = $input.params().header.get('origin'))#end\n"
        ),
        "{template}"
    );
}

/// The class of that defect: no mapping template of the stack reads a parameter by name
/// wherever it is found (`$input.params('x')`), whatever the settings.
#[test]
fn no_mapping_template_reads_a_request_parameter_from_wherever_it_is_found() {
    let mut checked = 0;
    for t in [template(), with_two_origins()] {
        for (id, text) in mapping_templates(&t) {
            checked += 1;
            for (at, _) in text.match_indices("$input.params(") {
                assert!(
                    text[at..].starts_with("$input.params()"),
                    "{id}: `$input.params(name)` also reads the path and query string: {text}"
                );
            }
        }
    }
    assert!(checked > 0);
}

#[test]
fn functions_and_stage_are_traced_and_every_scanner_waiver_gives_its_reason() {
    let t = template();
    for function in ["AuthorizerFunction", "BackendFunction"] {
        let f = resource(&t, function);
        assert_eq!(
            f["Properties"]["TracingConfig"]["Mode"], "Active",
            "{function}"
        );
    }
    assert_eq!(
        resource(&t, "ApiStage")["Properties"]["TracingEnabled"],
        true
    );
    for role in ["AuthorizerRole", "BackendRole"] {
        assert!(
            inline_statements(resource(&t, role)).iter().any(
                |s| s["Action"] == json!(["xray:PutTraceSegments", "xray:PutTelemetryRecords"])
            ),
            "{role} may write its traces"
        );
    }
    let mut waived = 0;
    for (id, r) in t["Resources"].as_object().unwrap() {
        for skip in r["Metadata"]["checkov"]["skip"]
            .as_array()
            .into_iter()
            .flatten()
        {
            waived += 1;
            let reason = skip["comment"].as_str().unwrap_or_default();
            assert!(skip["id"].as_str().unwrap().starts_with("CKV_"), "{id}");
            assert!(
                reason.len() > 40,
                "{id}: {} needs a reason a reviewer accepts",
                skip["id"]
            );
        }
    }
    assert!(waived > 0);
}

#[test]
fn alarms_watch_the_authorizer_and_the_api_and_notify_only_when_an_email_is_given() {
    let t = template();
    // A refused token ends the authorizer's invocation in the error `Unauthorized`, which
    // Lambda counts in `Errors`: the errors alarm watches them less the refused tokens.
    let errors = &resource(&t, "AuthorizerErrorsAlarm")["Properties"];
    assert_eq!(errors.get("MetricName"), None);
    let queries = errors["Metrics"].as_array().unwrap();
    assert_eq!(queries[0]["MetricStat"]["Metric"]["MetricName"], "Errors");
    assert_eq!(
        queries[1]["MetricStat"]["Metric"]["Dimensions"][1],
        json!({"Name": "Outcome", "Value": "Unauthorized"})
    );
    assert_eq!(queries[1]["MetricStat"]["Metric"]["Namespace"], "groupgate");
    assert_eq!(queries[2]["Expression"], "errors - FILL(refused, 0)");
    assert_eq!(
        queries.iter().filter(|q| q["ReturnData"] == true).count(),
        1,
        "an alarm returns one series"
    );
    for (alarm, metric) in [
        ("AuthorizerErrorsAlarm", None),
        ("AuthorizerThrottlesAlarm", Some("Throttles")),
        ("Api5xxAlarm", Some("5XXError")),
    ] {
        let p = &resource(&t, alarm)["Properties"];
        if let Some(metric) = metric {
            assert_eq!(p["MetricName"], metric, "{alarm}");
        }
        assert_eq!(
            p["AlarmActions"],
            json!({"Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]}),
            "{alarm}"
        );
    }
    let refusals = &resource(&t, "ApiRefusalsAlarm")["Properties"];
    assert_eq!(refusals["ThresholdMetricId"], "usual");
    assert_eq!(
        refusals["Metrics"][0]["MetricStat"]["Metric"]["MetricName"],
        "4XXError"
    );
    assert_eq!(resource(&t, "AlarmTopic")["Condition"], "HasAlarmEmail");
    assert_eq!(
        t["Conditions"]["HasAlarmEmail"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]})
    );
    // The dashboard's body is valid JSON once its `${...}` are resolved.
    let body = resource(&t, "Dashboard")["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .unwrap();
    let parsed: Value = serde_json::from_str(body).unwrap();
    assert_eq!(parsed["widgets"].as_array().unwrap().len(), 6);
    assert!(body.contains("${AuthorizerFunction}") && body.contains("${BackendFunction}"));
    // The authorizer's own EMF metrics, by the names and namespace it writes them under.
    for metric in [
        "Decisions",
        "DecisionLatency",
        "PolicyCacheHits",
        "PolicyCacheMisses",
        "JwksFetches",
        "JwksFetchFailures",
    ] {
        assert!(body.contains(metric), "{metric} not on the dashboard");
    }
    assert!(body.contains("{groupgate,FunctionName,Outcome,Reason}"));
}

/// Whatever the product's `policies/` holds (or `GROUPGATE_POLICIES` names: the policy author's
/// rehearsal in `scripts/test.sh toolbox` adds a group), each group of the stack's pool becomes
/// one Cognito group of its name and precedence, every group one role under the product's path
/// with the boundary, named in `GroupRoleArns`, and each of the pool's scopes is declared on its
/// resource server and allowed to the machine client; nothing else in the template depends on
/// how many there are.
#[test]
fn the_products_own_definitions_each_become_their_group_role_or_scope() {
    let groups = groups::load(&groups::default_dir()).unwrap();
    assert!(!groups.is_empty(), "policies/ defines no group");
    let settings = settings();
    let t = stack::build(
        &groups,
        &settings.api().unwrap(),
        &Assets::placeholder(&stack::FUNCTIONS),
        &settings,
    )
    .to_template()
    .unwrap();
    let pairs = t["Outputs"]["GroupRoleArns"]["Value"].to_string();
    let mut roles = 0;
    let mut cognito_groups = 0;
    for group in &groups {
        let logical = group.logical_name();
        match &group.subject {
            groups::Subject::Group(_) => {
                if let Some(name) = group.stack_group() {
                    let cognito = &resource(&t, &format!("Group{logical}"))["Properties"];
                    assert_eq!(cognito["GroupName"], name);
                    assert_eq!(cognito["Precedence"], group.precedence);
                    cognito_groups += 1;
                }
                let role = &resource(&t, &format!("GroupRole{logical}"))["Properties"];
                assert_eq!(
                    role["PermissionsBoundary"],
                    json!({"Ref": "PermissionsBoundaryArn"})
                );
                roles += 1;
                let name = serde_json::to_string(&group.key).unwrap();
                assert!(pairs.contains(&name), "{} not in {pairs}", group.key);
            }
            groups::Subject::Scope(scope) => {
                let (server, name) = groups::split_scope(scope).unwrap();
                if group.stack_scope().is_some() {
                    let declared = &resource(&t, &groups::resource_server_id(server))["Properties"];
                    assert_eq!(declared["Identifier"], server);
                    assert!(
                        declared["Scopes"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|s| s["ScopeName"] == name),
                        "{scope} not declared"
                    );
                    let allowed =
                        &resource(&t, "MachineClient")["Properties"]["AllowedOAuthScopes"];
                    assert!(
                        allowed.as_array().unwrap().contains(&json!(scope)),
                        "{allowed}"
                    );
                }
            }
        }
    }
    assert_eq!(
        of_type(&t, "AWS::Cognito::UserPoolGroup").len(),
        cognito_groups
    );
    assert_eq!(
        of_type(&t, "AWS::IAM::Role").len(),
        stack::FUNCTIONS.len() + roles,
        "one role per function and per group"
    );
}

/// The clinic example's document with one more operation, integrated with a Lambda function of
/// another stack.
fn clinic_with_a_lambda() -> stack::Api {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/clinic/api.yaml"
    );
    let text = std::fs::read_to_string(file).unwrap().replace(
        "  /clinic/health:",
        "  /clinic/invoices:\n    get:\n      x-amazon-apigateway-integration:\n        type: aws_proxy\n        httpMethod: POST\n        uri: arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:invoices/invocations\n        timeoutInMillis: 5000\n  /clinic/health:",
    );
    stack::Api::parse(std::path::Path::new(file), &text).unwrap()
}

#[test]
fn another_api_document_shapes_the_methods_their_integrations_and_who_needs_a_token() {
    let api = clinic_with_a_lambda();
    let t = app_template(&api, &settings());
    let methods = of_type(&t, "AWS::ApiGateway::Method");
    assert_eq!(methods.len(), api.operations.len());

    // `security: []`: no authorizer at all; everything else behind it.
    let health = &resource(&t, "ApiClinicHealthGet")["Properties"];
    assert_eq!(health["AuthorizationType"], "NONE");
    assert!(health.get("AuthorizerId").is_none(), "{health}");
    // checkov's "no open access to back-end resources" is waived with the reason, on it alone.
    let waived = |id: &str| {
        resource(&t, id)["Metadata"]
            .to_string()
            .contains("CKV_AWS_59")
    };
    assert!(waived("ApiClinicHealthGet"));
    assert!(!waived("ApiClinicVisitsGet"));
    for (id, m) in &methods {
        if *id != "ApiClinicHealthGet" {
            assert_eq!(m["Properties"]["AuthorizationType"], "CUSTOM", "{id}");
            assert_eq!(
                m["Properties"]["AuthorizerId"],
                json!({"Ref": "ApiAuthorizer"})
            );
        }
    }

    // http_proxy: the URL, the method, the identity and path mappings, and the path parameter
    // declared on the method so API Gateway accepts the mapping.
    let one = &resource(&t, "ApiClinicVisitsVisitIdGet")["Properties"];
    assert_eq!(
        one["RequestParameters"],
        json!({"method.request.path.visitId": true})
    );
    let integration = &one["Integration"];
    assert_eq!(integration["Type"], "HTTP_PROXY");
    assert_eq!(integration["IntegrationHttpMethod"], "GET");
    assert_eq!(integration["Uri"], "http://127.0.0.1:18484/visits/{id}");
    assert_eq!(
        integration["RequestParameters"]["integration.request.header.X-Caller-Sub"],
        "context.authorizer.sub"
    );
    assert_eq!(
        integration["RequestParameters"]["integration.request.path.id"],
        "method.request.path.visitId"
    );

    // aws_proxy to another stack's function: its URI as written, its timeout, and no
    // permission added for it (the function's owner grants API Gateway the invoke).
    let invoices = &resource(&t, "ApiClinicInvoicesGet")["Properties"]["Integration"];
    assert_eq!(invoices["Type"], "AWS_PROXY");
    assert_eq!(invoices["IntegrationHttpMethod"], "POST");
    assert_eq!(invoices["TimeoutInMillis"], 5000);
    assert!(
        invoices["Uri"]
            .as_str()
            .unwrap()
            .ends_with(":function:invoices/invocations")
    );
    let permissions = of_type(&t, "AWS::Lambda::Permission");
    assert!(
        permissions
            .iter()
            .all(|(_, p)| !p["Properties"].to_string().contains("function:invoices")),
        "{permissions:?}"
    );

    // The API is named and described from the document; another document is another deployment.
    let rest = &resource(&t, "RestApi")["Properties"];
    assert_eq!(rest["Name"], json!({"Fn::Sub": "${AWS::StackName}-clinic"}));
    assert_eq!(
        rest["Description"],
        "A vet clinic's visits, authorized by Cognito groups"
    );
    assert_ne!(deployment_id(&t), deployment_id(&template()));
}

#[test]
fn with_cors_origins_an_options_operation_of_the_document_is_refused() {
    let dir = std::env::temp_dir().join(format!("groupgate-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("api.yaml");
    std::fs::write(
        &file,
        "openapi: 3.0.3\ninfo: {title: t}\npaths:\n  /a:\n    get: {}\n    options: {security: []}\n",
    )
    .unwrap();
    let mut with_cors = settings();
    with_cors.api_file = file.clone();
    assert!(
        with_cors.api().is_ok(),
        "without origins it is the API's own"
    );
    with_cors.cors_origins = vec!["https://app.example.com".into()];
    let err = with_cors.api().unwrap_err();
    assert_eq!(err.pointer, "/paths/~1a/options");
    assert!(err.to_string().contains("preflight"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `Fn::Join`, `Fn::Split` and `Ref` evaluated, each `Ref` as a value of the fixture's: enough
/// to read a variable built from them as the function will see it.
fn evaluate(value: &Value) -> Value {
    if let Some(name) = value.get("Ref").and_then(Value::as_str) {
        let id = match name {
            "UserPool" => "us-east-1_Stack1",
            "UserPoolClient" => "webclient",
            "OperatorClient" => "operatorclient",
            "MachineClient" => "machineclient",
            other => panic!("no value for Ref {other}"),
        };
        return json!(id);
    }
    if let Some(args) = value.get("Fn::Split") {
        let text = evaluate(&args[1]);
        let parts: Vec<&str> = text
            .as_str()
            .unwrap()
            .split(args[0].as_str().unwrap())
            .collect();
        return json!(parts);
    }
    if let Some(args) = value.get("Fn::Join") {
        let parts = evaluate(&args[1]);
        let parts: Vec<String> = parts
            .as_array()
            .unwrap()
            .iter()
            .map(|p| match evaluate(p) {
                Value::String(s) => s,
                other => panic!("a Fn::Join part is not a string: {other}"),
            })
            .collect();
        return json!(parts.join(args[0].as_str().unwrap()));
    }
    match value {
        Value::Array(items) => Value::Array(items.iter().map(evaluate).collect()),
        other => other.clone(),
    }
}

#[test]
fn scopes_and_other_pools_make_a_resource_server_a_machine_client_and_user_pools() {
    let dir = tempfile::tempdir().unwrap();
    let allow_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"*"}]}"#;
    for (file, fields) in [
        ("admin.json", r#""group":"admin","precedence":1"#),
        (
            "partners-admin.json",
            r#""group":"admin","pool":"partners:","precedence":1,"pets_table":"read""#,
        ),
        (
            "scope-petstore-pets.read.json",
            r#""scope":"petstore/pets.read""#,
        ),
        (
            "scope-petstore-pets.write.json",
            r#""scope":"petstore/pets.write""#,
        ),
    ] {
        let text = format!(r#"{{{fields},"description":"d of {file}","policy":{allow_all}}}"#);
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let mut settings = common::settings();
    let definitions = groups::load(dir.path()).unwrap();
    let unknown = groups::load_for(dir.path(), &settings)
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("`partners:admin` names pool `partners:`, which no `[[pools]]`"),
        "{unknown}"
    );
    settings.pools = vec![stack::settings::TrustedPool {
        group_prefix: "partners:".to_owned(),
        pool_id: "eu-west-1_Partner1".to_owned(),
        client_ids: vec!["partnerweb".to_owned()],
        token_use: "access".to_owned(),
        scopes_for_users: false,
    }];
    assert_eq!(
        groups::load_for(dir.path(), &settings).unwrap(),
        definitions
    );
    let t = stack::build(
        &definitions,
        &settings.api().unwrap(),
        &Assets::placeholder(&stack::FUNCTIONS),
        &settings,
    )
    .to_template()
    .unwrap();

    // The stack's own pool gets its own group; the partner pool's group gets only its role.
    assert_eq!(of_type(&t, "AWS::Cognito::UserPoolGroup").len(), 1);
    assert_eq!(
        resource(&t, "GroupAdmin")["Properties"]["GroupName"],
        "admin"
    );
    resource(&t, "GroupRolePartnersAdmin");
    let pairs = t["Outputs"]["GroupRoleArns"]["Value"].to_string();
    assert!(pairs.contains("\"partners:admin\""), "{pairs}");
    assert!(!pairs.contains("scope:"), "a scope has no role: {pairs}");

    let server = &resource(&t, "ResourceServerPetstore")["Properties"];
    assert_eq!(server["Identifier"], "petstore");
    assert_eq!(
        server["Scopes"],
        json!([
            {"ScopeName": "pets.read", "ScopeDescription": "d of scope-petstore-pets.read.json"},
            {"ScopeName": "pets.write", "ScopeDescription": "d of scope-petstore-pets.write.json"},
        ])
    );
    let machine = resource(&t, "MachineClient");
    assert_eq!(machine["DependsOn"], json!(["ResourceServerPetstore"]));
    let machine = &machine["Properties"];
    assert_eq!(machine["AllowedOAuthFlows"], json!(["client_credentials"]));
    assert_eq!(machine["GenerateSecret"], true);
    assert_eq!(
        machine["AllowedOAuthScopes"],
        json!(["petstore/pets.read", "petstore/pets.write"])
    );

    // With another pool, the authorizer trusts both through USER_POOLS, the stack's pool first
    // with its three clients and no prefix.
    let variables = &resource(&t, "AuthorizerFunction")["Properties"]["Environment"]["Variables"];
    assert!(variables.get("USER_POOL_ID").is_none(), "{variables}");
    let pools = evaluate(&variables["USER_POOLS"]);
    let pools: Value = serde_json::from_str(pools.as_str().unwrap()).unwrap();
    // The authorizer's own tests parse this file as `USER_POOLS` (authorizer/src/config.rs).
    let fixture: Value = serde_json::from_str(include_str!(
        "../../../shared/testkit/fixtures/template-user-pools.json"
    ))
    .unwrap();
    assert_eq!(pools, fixture);
}
