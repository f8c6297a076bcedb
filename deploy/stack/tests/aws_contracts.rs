#![cfg(test)]
//! What AWS refuses in a template that moto and cfn-lint both accept, checked offline for every
//! template the tool synthesizes, so that the next defect of each kind fails here rather than on
//! a user's first deploy:
//!
//! - a dashboard body CloudWatch's PutDashboard would reject: moto stores any string and
//!   cfn-lint does not look inside `DashboardBody`. Every body is validated against a JSON
//!   Schema written from CloudWatch's Dashboard Body Structure and Syntax
//!   (`deploy/schemas/cloudwatch-dashboard-body.schema.json`) after its `Fn::Sub` placeholders
//!   are resolved to sample values;
//! - a parameter `Ref`'d into a property whose CloudFormation resource schema allows only some
//!   values (an `enum`) but which accepts others: CloudFormation takes the value and the
//!   resource's handler refuses it mid-deploy, after other resources changed. The resource
//!   schemas are the ones cfn-lint ships in its package data (in `.venv`).

use std::path::PathBuf;

use groupgate_stack::assets::Assets;
use groupgate_stack::{self as stack, bootstrap, groups};
use serde_json::{Value, json};

const REGION: &str = "eu-west-1";
const ACCOUNT: &str = "123456789012";
const STACK_NAME: &str = "groupgate";

/// Every template the tool synthesizes, by name.
fn templates() -> Vec<(&'static str, Value)> {
    let groups = groups::load(&groups::default_dir()).unwrap();
    let settings = stack::Settings::load(&stack::Settings::default_path()).unwrap();
    let api = settings.api().unwrap();
    let app = stack::build(
        &groups,
        &api,
        &Assets::placeholder(&stack::FUNCTIONS),
        &settings,
    )
    .to_template()
    .unwrap();
    let bootstrap = bootstrap::build().to_template().unwrap();
    let authorizer_only = stack::attach::build(
        &groups,
        &Assets::placeholder(&stack::attach::FUNCTIONS),
        &settings,
    )
    .to_template()
    .unwrap();
    vec![
        ("app", app),
        ("bootstrap", bootstrap),
        ("authorizer-only", authorizer_only),
    ]
}

/// A sample value for a `${...}` placeholder of `template`'s `Fn::Sub`, shaped as
/// CloudFormation would resolve it (a generated name, an ARN, a parameter's default).
fn sample(template: &Value, name: &str) -> String {
    let pseudo = match name {
        "AWS::Region" => Some(REGION.to_owned()),
        "AWS::AccountId" => Some(ACCOUNT.to_owned()),
        "AWS::StackName" => Some(STACK_NAME.to_owned()),
        "AWS::Partition" => Some("aws".to_owned()),
        "AWS::URLSuffix" => Some("amazonaws.com".to_owned()),
        "AWS::StackId" => Some(format!(
            "arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK_NAME}/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
        )),
        _ => None,
    };
    if let Some(value) = pseudo {
        return value;
    }
    let (id, attribute) = name.split_once('.').unwrap_or((name, ""));
    if let Some(parameter) = template["Parameters"].get(id) {
        return parameter["Default"].as_str().unwrap_or("sample").to_owned();
    }
    let kind = template["Resources"][id]["Type"]
        .as_str()
        .unwrap_or_else(|| panic!("`${{{name}}}` names nothing in the template"));
    let physical = format!("{STACK_NAME}-{id}-1A2B3C4D5E6F");
    match (kind, attribute) {
        (_, "") => physical,
        ("AWS::CloudWatch::Alarm", "Arn") => {
            format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{physical}")
        }
        (_, "Arn") => {
            let service = kind.split("::").nth(1).unwrap().to_ascii_lowercase();
            format!("arn:aws:{service}:{REGION}:{ACCOUNT}:{physical}")
        }
        _ => format!("{physical}-{attribute}"),
    }
}

/// `text` with every `${...}` replaced as CloudFormation's `Fn::Sub` would, and `${!x}` as the
/// literal `${x}`.
fn resolve_sub(template: &Value, text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .unwrap_or_else(|| panic!("unclosed `${{` in {text}"));
        let name = &after[..end];
        match name.strip_prefix('!') {
            Some(literal) => out.push_str(&format!("${{{literal}}}")),
            None => out.push_str(&sample(template, name)),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

fn dashboard_schema() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!(
        "../../schemas/cloudwatch-dashboard-body.schema.json"
    ))
    .unwrap();
    jsonschema::draft202012::new(&schema).unwrap()
}

/// What CloudWatch would refuse in `body`, one line per problem: the schema's findings, and
/// the two rules of a metric row that a JSON Schema cannot state (a dimension name has its
/// value; a rendering properties object can only come last).
fn dashboard_problems(body: &Value) -> Vec<String> {
    let schema = dashboard_schema();
    let mut problems: Vec<String> = schema
        .iter_errors(body)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    let widgets = body["widgets"].as_array().into_iter().flatten();
    for (w, widget) in widgets.enumerate() {
        let rows = widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten();
        for (r, row) in rows.enumerate() {
            let Some(items) = row.as_array() else {
                continue;
            };
            let strings = items.iter().take_while(|i| i.is_string()).count();
            let at = format!("/widgets/{w}/properties/metrics/{r}");
            if strings > 0 && strings % 2 == 1 {
                problems.push(format!("{at}: a dimension name without its value"));
            }
            if strings > 0 && items.len() > strings + 1 {
                problems.push(format!(
                    "{at}: the rendering properties object must be the row's last item"
                ));
            }
        }
    }
    problems
}

/// Every `DashboardBody` of `template`, resolved to the JSON CloudWatch would receive.
fn dashboard_bodies(template: &Value) -> Vec<(String, Value)> {
    template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Dashboard")
        .map(|(id, r)| {
            let body = &r["Properties"]["DashboardBody"];
            let text = match (body.as_str(), body["Fn::Sub"].as_str()) {
                (Some(plain), _) => plain.to_owned(),
                (None, Some(sub)) => resolve_sub(template, sub),
                _ => panic!("{id}: a DashboardBody this check cannot resolve: {body}"),
            };
            let parsed = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{id}: the body is not JSON ({e}): {text}"));
            (id.clone(), parsed)
        })
        .collect()
}

#[test]
fn every_dashboard_body_the_stacks_write_is_one_cloudwatch_accepts() {
    let mut checked = 0;
    for (name, template) in templates() {
        for (id, body) in dashboard_bodies(&template) {
            let problems = dashboard_problems(&body);
            assert!(
                problems.is_empty(),
                "{name} template, {id}: CloudWatch would refuse this body:\n{}\n{body:#}",
                problems.join("\n")
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 2,
        "the app and authorizer-only stacks each have a dashboard to check"
    );
}

/// Issue 19, item 1: the SEARCH widget's `metrics` was an array of objects, not of arrays, and
/// PutDashboard refused it ("Should be array"), rolling back the first deploy. The body as it
/// shipped is kept in `fixtures/dashboards/`.
#[test]
fn the_dashboard_body_that_shipped_is_refused_for_its_search_widget() {
    let (_, template) = templates().remove(0);
    let shipped = include_str!("../../../fixtures/dashboards/shipped-search-widget.json");
    let body: Value = serde_json::from_str(&resolve_sub(&template, shipped)).unwrap();
    let problems = dashboard_problems(&body);
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("/widgets/3/properties/metrics/0")),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .all(|p| p.starts_with("/widgets/3/properties/metrics")),
        "only the SEARCH widget was wrong: {problems:#?}"
    );
}

/// A small, valid body with one widget of `kind` and `properties`, placed at the grid's origin.
fn one_widget(kind: &str, properties: Value) -> Value {
    json!({ "widgets": [{ "type": kind, "x": 0, "y": 0, "width": 12, "height": 6, "properties": properties }] })
}

fn metric_widget(metrics: Value) -> Value {
    one_widget(
        "metric",
        json!({ "region": REGION, "stat": "Sum", "period": 60, "metrics": metrics }),
    )
}

#[test]
fn the_schema_accepts_each_widget_shape_the_documentation_shows() {
    let alarm = format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:groupgate-errors");
    let accepted = [
        metric_widget(json!([
            ["AWS/Lambda", "Errors", "FunctionName", "f", { "id": "m1", "yAxis": "right" }],
            [".", ".", ".", "g", { "id": "m2", "stat": "p99.9", "color": "#1f77b4" }],
            [{ "expression": "SUM(METRICS())", "label": "all errors", "id": "e1" }],
            [{ "expression": "SEARCH('{AWS/Lambda,FunctionName} MetricName=\"Errors\"', 'Sum', 300)", "id": "e2" }],
            ["AWS/ApiGateway", "Count"],
        ])),
        one_widget(
            "metric",
            json!({
                "region": REGION, "view": "gauge", "title": "t", "timezone": "+0130",
                "metrics": [["AWS/Lambda", "ConcurrentExecutions"]],
                "yAxis": { "left": { "min": 0, "max": 100, "showUnits": false } },
                "legend": { "position": "bottom" },
                "annotations": { "horizontal": [{ "value": 80, "fill": "above" }, [{ "value": 1 }, { "value": 2 }]] },
            }),
        ),
        one_widget(
            "metric",
            json!({ "region": REGION, "annotations": { "alarms": [alarm] } }),
        ),
        one_widget(
            "text",
            json!({ "markdown": "# groupgate", "background": "transparent" }),
        ),
        one_widget(
            "log",
            json!({ "region": REGION, "query": "SOURCE '/aws/lambda/f' | fields @message", "view": "table" }),
        ),
        one_widget(
            "alarm",
            json!({ "alarms": [alarm], "sortBy": "stateUpdatedTimestamp", "states": ["ALARM"] }),
        ),
        one_widget(
            "explorer",
            json!({
                "metrics": [{ "metricName": "Errors", "resourceType": "AWS::Lambda::Function", "stat": "Sum" }],
                "labels": [{ "key": "groupgate:stack", "value": STACK_NAME }],
                "widgetOptions": { "view": "timeSeries", "widgetsPerRow": 2 },
            }),
        ),
        json!({
            "start": "-PT6H", "periodOverride": "inherit", "widgets": [],
            "variables": [{ "type": "property", "property": "FunctionName", "inputType": "select",
                "id": "fn", "search": "{AWS/Lambda,FunctionName} MetricName=\"Errors\"",
                "populateFrom": "FunctionName" }],
        }),
    ];
    for body in accepted {
        let problems = dashboard_problems(&body);
        assert!(problems.is_empty(), "{problems:#?}\n{body:#}");
    }
}

#[test]
fn the_schema_refuses_what_the_documentation_rules_out() {
    let good = metric_widget(json!([["AWS/Lambda", "Errors", "FunctionName", "f"]]));
    let property = |key: &str, value: Value| {
        let mut body = good.clone();
        body["widgets"][0]["properties"][key] = value;
        body
    };
    let widget = |key: &str, value: Value| {
        let mut body = good.clone();
        body["widgets"][0][key] = value;
        body
    };
    let without = |pointer: &str, key: &str| {
        let mut body = good.clone();
        body.pointer_mut(pointer)
            .unwrap()
            .as_object_mut()
            .unwrap()
            .remove(key);
        body
    };
    let metrics = |rows: Value| property("metrics", rows);
    let refused = [
        ("no widgets", "", json!({})),
        (
            "an unknown dashboard key",
            "",
            json!({ "widgets": [], "title": "x" }),
        ),
        (
            "end without start",
            "",
            json!({ "widgets": [], "end": "2024-01-01T00:00:00Z" }),
        ),
        (
            "an unknown widget key",
            "/widgets/0",
            widget("title", json!("x")),
        ),
        (
            "an unknown widget type",
            "/widgets/0/type",
            widget("type", json!("graph")),
        ),
        ("x past the grid", "/widgets/0/x", widget("x", json!(24))),
        (
            "width past the grid",
            "/widgets/0/width",
            widget("width", json!(25)),
        ),
        (
            "height of zero",
            "/widgets/0/height",
            widget("height", json!(0)),
        ),
        ("a negative y", "/widgets/0/y", widget("y", json!(-1))),
        ("x without y", "/widgets/0", without("/widgets/0", "y")),
        (
            "no properties",
            "/widgets/0",
            without("/widgets/0", "properties"),
        ),
        (
            "no region",
            "/widgets/0/properties",
            without("/widgets/0/properties", "region"),
        ),
        (
            "no metrics and no alarm",
            "/widgets/0/properties",
            without("/widgets/0/properties", "metrics"),
        ),
        (
            "a period not a multiple of 60",
            "/widgets/0/properties/period",
            property("period", json!(90)),
        ),
        (
            "an unknown statistic",
            "/widgets/0/properties/stat",
            property("stat", json!("Mean")),
        ),
        (
            "an unknown view",
            "/widgets/0/properties/view",
            property("view", json!("line")),
        ),
        (
            "metrics as objects (what shipped)",
            "/widgets/0/properties/metrics/0",
            metrics(json!([{ "id": "e1", "expression": "SEARCH('x', 'Sum', 60)" }])),
        ),
        (
            "metrics as one flat row",
            "/widgets/0/properties/metrics/0",
            metrics(json!(["AWS/Lambda", "Errors"])),
        ),
        (
            "a row with only a namespace",
            "/widgets/0/properties/metrics/0",
            metrics(json!([["AWS/Lambda"]])),
        ),
        (
            "a dimension without its value",
            "/widgets/0/properties/metrics/0",
            metrics(json!([["AWS/Lambda", "Errors", "FunctionName"]])),
        ),
        (
            "a rendering object before a dimension",
            "/widgets/0/properties/metrics/0",
            metrics(json!([["AWS/Lambda", "Errors", {}, "FunctionName", "f"]])),
        ),
        (
            "two rendering objects",
            "/widgets/0/properties/metrics/0",
            metrics(json!([["AWS/Lambda", "Errors", {}, {}]])),
        ),
        (
            "an unknown rendering property",
            "/widgets/0/properties/metrics/0",
            metrics(json!([["AWS/Lambda", "Errors", { "stats": "Sum" }]])),
        ),
        (
            "an id starting with a capital",
            "/widgets/0/properties/metrics/0",
            metrics(json!([["AWS/Lambda", "Errors", { "id": "M1" }]])),
        ),
        (
            "a colour of three digits",
            "/widgets/0/properties/metrics/0",
            metrics(json!([["AWS/Lambda", "Errors", { "color": "#abc" }]])),
        ),
        (
            "the . shorthand in the first row",
            "/widgets/0/properties/metrics/0",
            metrics(json!([[".", "Errors"]])),
        ),
        (
            "an expression row of two",
            "/widgets/0/properties/metrics/0",
            metrics(json!([[{ "expression": "SUM(METRICS())" }, { "expression": "m1" }]])),
        ),
        (
            "an expression without its expression",
            "/widgets/0/properties/metrics/0",
            metrics(json!([[{ "id": "e1" }]])),
        ),
        (
            "a text widget without markdown",
            "/widgets/0/properties",
            one_widget("text", json!({ "background": "solid" })),
        ),
        (
            "a log widget without a query",
            "/widgets/0/properties",
            one_widget("log", json!({ "region": REGION })),
        ),
        (
            "a log query without its SOURCE",
            "/widgets/0/properties/query",
            one_widget(
                "log",
                json!({ "region": REGION, "query": "fields @message" }),
            ),
        ),
        (
            "an alarm widget of names, not ARNs",
            "/widgets/0/properties/alarms/0",
            one_widget("alarm", json!({ "alarms": ["my-alarm"] })),
        ),
        (
            "an alarm annotation and metrics",
            "/widgets/0/properties",
            property(
                "annotations",
                json!({ "alarms": [format!("arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:a")] }),
            ),
        ),
        (
            "a gauge without its axis range",
            "/widgets/0/properties",
            property("view", json!("gauge")),
        ),
    ];
    for (what, at, body) in refused {
        // Each problem reads `path: message`; the root's path is empty.
        let problems = dashboard_problems(&body);
        assert!(
            problems.iter().any(|p| p.starts_with(&format!("{at}: "))),
            "{what}: not refused at `{at}`: {problems:#?}\n{body:#}"
        );
    }
}

#[test]
fn sub_placeholders_resolve_to_sample_values_and_escapes_stay_literal() {
    let t = json!({
        "Parameters": { "Stage": { "Type": "String", "Default": "prod" } },
        "Resources": { "Fn": { "Type": "AWS::Lambda::Function" }, "A": { "Type": "AWS::CloudWatch::Alarm" } },
    });
    assert_eq!(
        resolve_sub(&t, "${AWS::Region}/${Stage}/${Fn}/${A.Arn}/${!Literal}"),
        format!(
            "{REGION}/prod/groupgate-Fn-1A2B3C4D5E6F/arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:groupgate-A-1A2B3C4D5E6F/${{Literal}}"
        )
    );
}

/// Where cfn-lint keeps CloudFormation's resource schemas: `.venv` (scripts/test.sh installs
/// cfn-lint there).
fn resource_schemas_dir() -> PathBuf {
    let lib = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/lib"));
    std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("site-packages/cfnlint/data/schemas"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "cfn-lint's resource schemas are not under {}: run scripts/test.sh (it installs cfn-lint into .venv)",
                lib.display()
            )
        })
}

/// CloudFormation's resource schema of `kind`, as cfn-lint ships it for us-east-1.
fn resource_schema(dir: &std::path::Path, kind: &str) -> Value {
    let index: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("providers/us-east-1.json")).unwrap(),
    )
    .unwrap();
    let file = index[kind]
        .as_str()
        .unwrap_or_else(|| panic!("cfn-lint has no schema for `{kind}`"));
    serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("resources/{file}.json"))).unwrap(),
    )
    .unwrap()
}

/// The schema node that `path` (property names and array indexes from `Properties`) leads to.
/// `Fn::If` branches stand for the value itself; any other intrinsic function makes a value of
/// its own, so its path leads nowhere.
fn schema_at<'a>(schema: &'a Value, path: &[String]) -> Option<&'a Value> {
    let resolve = |mut node: &'a Value| {
        while let Some(reference) = node["$ref"].as_str() {
            node = schema.pointer(reference.strip_prefix('#')?)?;
        }
        Some(node)
    };
    let mut node = resolve(schema)?;
    let mut segments = path.iter().peekable();
    while let Some(segment) = segments.next() {
        if segment == "Fn::If" {
            segments.next();
            continue;
        }
        if segment.starts_with("Fn::") {
            return None;
        }
        node = if segment.parse::<usize>().is_ok() {
            resolve(node.get("items")?)?
        } else {
            resolve(node.get("properties")?.get(segment)?)?
        };
    }
    Some(node)
}

/// Each `{"Ref": parameter}` under `value`, with its path.
fn parameter_refs(value: &Value, path: &mut Vec<String>, found: &mut Vec<(String, Vec<String>)>) {
    match value {
        Value::Object(map) => {
            if let (1, Some(Value::String(name))) = (map.len(), map.get("Ref")) {
                found.push((name.clone(), path.clone()));
                return;
            }
            for (key, v) in map {
                path.push(key.clone());
                parameter_refs(v, path, found);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                path.push(i.to_string());
                parameter_refs(v, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A parameter passed to a property that CloudFormation's resource schema limits to an `enum`
/// must say so itself (`AllowedValues`, within that enum): otherwise a value the resource
/// refuses is accepted by the change set and fails mid-deploy. Issue 19, item 9:
/// `LogRetentionDays` took any number from 1 to 3653, while CloudWatch Logs takes 22 of them.
#[test]
fn a_parameter_feeding_an_enumerated_property_allows_only_the_enumerated_values() {
    let dir = resource_schemas_dir();
    let mut checked = 0;
    for (name, template) in templates() {
        let parameters = template["Parameters"].as_object().unwrap();
        for (id, resource) in template["Resources"].as_object().unwrap() {
            let kind = resource["Type"].as_str().unwrap();
            let mut refs = Vec::new();
            parameter_refs(&resource["Properties"], &mut Vec::new(), &mut refs);
            let refs: Vec<_> = refs
                .into_iter()
                .filter(|(p, _)| parameters.contains_key(p))
                .collect();
            if refs.is_empty() {
                continue;
            }
            let schema = resource_schema(&dir, kind);
            for (parameter, path) in refs {
                let Some(allowed) = schema_at(&schema, &path).and_then(|n| n["enum"].as_array())
                else {
                    continue;
                };
                checked += 1;
                let allowed: Vec<String> = allowed.iter().map(scalar_text).collect();
                let declared: Vec<String> = parameters[&parameter]["AllowedValues"]
                    .as_array()
                    .map(|values| values.iter().map(scalar_text).collect())
                    .unwrap_or_default();
                let outside: Vec<&String> =
                    declared.iter().filter(|v| !allowed.contains(v)).collect();
                assert!(
                    !declared.is_empty() && outside.is_empty(),
                    "{name} template: parameter `{parameter}` feeds {id}.{} ({kind}), which takes only {allowed:?}; \
                     its AllowedValues are {declared:?}",
                    path.join(".")
                );
            }
        }
    }
    assert!(
        checked >= 1,
        "LogRetentionDays feeds RetentionInDays at least"
    );
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
