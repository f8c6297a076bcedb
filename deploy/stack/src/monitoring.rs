//! What an operator watches: alarms on the authorizer's errors and throttles, the API's 5xx
//! rate and a sudden rise in refusals (4xx), sent to an optional SNS topic, and a dashboard of
//! the same metrics. The alarms read metrics Lambda and API Gateway publish on their own; the
//! dashboard adds the authorizer's own (decisions by outcome and reason, policy cache, JWKS
//! fetches, decision time), which it writes as Embedded Metric Format log lines.

use serde_json::json;

use crate::construct::{Expr, Handle, Parameter, Resource, Stack};

/// The resources the alarms and the dashboard watch.
pub struct Watched<'a> {
    pub authorizer: &'a Handle,
    pub backend: &'a Handle,
    /// The API's name as API Gateway's metrics dimension it (`ApiName`), as a `Fn::Sub`
    /// template.
    pub api_name: &'a str,
    pub stage: &'a str,
}

/// Adds the alarms, their optional topic and the dashboard.
pub fn add(stack: &mut Stack, watched: &Watched<'_>) {
    let actions = alarm_topic(stack);
    function_alarms(stack, watched.authorizer, &actions);
    api_alarms(stack, watched, &actions);
    dashboard(stack, watched);
}

/// The authorizer's alarms, their optional topic and a dashboard of its metrics, for a stack
/// that has the authorizer and no API of its own (the API that uses it is defined elsewhere,
/// and its owner watches it).
pub fn add_for_authorizer(stack: &mut Stack, authorizer: &Handle) {
    let actions = alarm_topic(stack);
    function_alarms(stack, authorizer, &actions);
    let widgets = [
        vec![widget(
            "Authorizer invocations, errors, throttles",
            json!([
                [
                    "AWS/Lambda",
                    "Invocations",
                    "FunctionName",
                    function_name(authorizer)
                ],
                [".", "Errors", ".", "."],
                [".", "Throttles", ".", "."],
            ]),
            "Sum",
            12,
        )],
        authorizer_widgets(authorizer),
    ]
    .concat();
    add_dashboard(stack, &widgets);
}

/// The `AlarmEmail` parameter, and the topic and e-mail subscription made when it is set.
/// Returns the alarms' actions: the topic, or none.
fn alarm_topic(stack: &mut Stack) -> Expr {
    let email = stack.parameter(
        "AlarmEmail",
        Parameter::string(
            "Where alarm notifications go (an SNS email subscription); empty for none",
        )
        .default(""),
    );
    let has_email = stack.condition(
        "HasAlarmEmail",
        Expr::Not(Box::new(Expr::Equals(
            Box::new(email.clone()),
            Box::new("".into()),
        ))),
    );
    let topic = stack.add(
        "AlarmTopic",
        Resource::new("AWS::SNS::Topic", json!({ "DisplayName": "groupgate alarms" }))
            .when(&has_email)
            .waive(&[(
                "CKV_AWS_26",
                "CloudWatch alarms cannot publish to a topic encrypted with the AWS managed SNS key, and the notifications carry only alarm names and metric values",
            )]),
    );
    stack.add(
        "AlarmEmailSubscription",
        Resource::new(
            "AWS::SNS::Subscription",
            json!({ "TopicArn": topic.r#ref(), "Protocol": "email", "Endpoint": email }),
        )
        .when(&has_email),
    );
    Expr::If(
        has_email,
        Box::new(Expr::Literal(json!([topic.r#ref()]))),
        Box::new(Expr::pseudo("NoValue")),
    )
}

/// The authorizer's errors and throttles (Lambda's own metrics).
fn function_alarms(stack: &mut Stack, authorizer: &Handle, actions: &Expr) {
    let function_alarm = |metric: &str, function: &Handle, what: &str| {
        json!({
            "AlarmDescription": what,
            "Namespace": "AWS/Lambda",
            "MetricName": metric,
            "Dimensions": [{ "Name": "FunctionName", "Value": function.r#ref() }],
            "Statistic": "Sum",
            "Period": 60,
            "EvaluationPeriods": 5,
            "DatapointsToAlarm": 2,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": actions,
            "OKActions": actions,
        })
    };
    // Lambda counts every invocation that ends in an error, and the authorizer refuses a token
    // by ending in the error `Unauthorized` (API Gateway's 401): "if the function returns an
    // error, then Lambda sends the Errors metric with a value of 1"
    // (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html). So the alarm
    // watches Lambda's errors less the refused tokens the authorizer counts itself (its
    // `Decisions` with `Outcome=Unauthorized`): faults only, crashes and timeouts included.
    let mut errors = function_alarm(
        "Errors",
        authorizer,
        "The authorizer failed (not a refused token): its keys or the policy table may be unreachable, and callers get 500",
    );
    if let Some(alarm) = errors.as_object_mut() {
        for single_metric in [
            "Namespace",
            "MetricName",
            "Dimensions",
            "Statistic",
            "Period",
        ] {
            alarm.remove(single_metric);
        }
        let metric = |namespace: &str, name: &str, dimensions: serde_json::Value| {
            json!({
                "Metric": { "Namespace": namespace, "MetricName": name, "Dimensions": dimensions },
                "Period": 60,
                "Stat": "Sum",
            })
        };
        let function = json!({ "Name": "FunctionName", "Value": authorizer.r#ref() });
        alarm.insert(
            "Metrics".to_owned(),
            json!([
                { "Id": "errors", "ReturnData": false,
                  "MetricStat": metric("AWS/Lambda", "Errors", json!([function])) },
                { "Id": "refused", "ReturnData": false,
                  "MetricStat": metric(NAMESPACE, "Decisions",
                      json!([function, { "Name": "Outcome", "Value": "Unauthorized" }])) },
                { "Id": "faults", "ReturnData": true,
                  "Expression": "errors - FILL(refused, 0)",
                  "Label": "Authorizer errors that are not refused tokens" },
            ]),
        );
    }
    stack.add(
        "AuthorizerErrorsAlarm",
        Resource::new("AWS::CloudWatch::Alarm", errors),
    );
    stack.add(
        "AuthorizerThrottlesAlarm",
        Resource::new(
            "AWS::CloudWatch::Alarm",
            function_alarm(
                "Throttles",
                authorizer,
                "The authorizer was throttled: the account's concurrency is exhausted, and callers get 500",
            ),
        ),
    );
}

/// The API's 5xx rate, and a sudden rise in its refusals (API Gateway's own metrics).
fn api_alarms(stack: &mut Stack, watched: &Watched<'_>, actions: &Expr) {
    let api_dimensions = json!([
        { "Name": "ApiName", "Value": Expr::sub(watched.api_name) },
        { "Name": "Stage", "Value": watched.stage },
    ]);
    stack.add(
        "Api5xxAlarm",
        Resource::new(
            "AWS::CloudWatch::Alarm",
            json!({
                "AlarmDescription": "More than 1% of the API's requests end in a 5xx",
                "Namespace": "AWS/ApiGateway",
                "MetricName": "5XXError",
                "Dimensions": api_dimensions,
                "Statistic": "Average",
                "Period": 300,
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 2,
                "Threshold": 0.01,
                "ComparisonOperator": "GreaterThanThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": actions,
                "OKActions": actions,
            }),
        ),
    );
    // A sudden rise in refusals (401, 403, 429): above the band CloudWatch learns from the
    // API's own history, so a steady level of refused calls does not alarm.
    stack.add(
        "ApiRefusalsAlarm",
        Resource::new(
            "AWS::CloudWatch::Alarm",
            json!({
                "AlarmDescription": "The API refuses (4xx) far more requests than it usually does: a broken client, a policy change, or an attack",
                "Metrics": [
                    {
                        "Id": "refused",
                        "ReturnData": true,
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/ApiGateway",
                                "MetricName": "4XXError",
                                "Dimensions": api_dimensions,
                            },
                            "Period": 300,
                            "Stat": "Sum",
                        },
                    },
                    {
                        "Id": "usual",
                        "ReturnData": true,
                        "Expression": "ANOMALY_DETECTION_BAND(refused, 3)",
                    },
                ],
                "ThresholdMetricId": "usual",
                "EvaluationPeriods": 3,
                "DatapointsToAlarm": 2,
                "ComparisonOperator": "GreaterThanUpperThreshold",
                "TreatMissingData": "notBreaching",
                "AlarmActions": actions,
                "OKActions": actions,
            }),
        ),
    );
}

/// One dashboard of the same metrics, with the functions' durations. Its body is a `Fn::Sub`
/// template: `${AuthorizerFunction}` and the like resolve to the resources' names. CloudWatch
/// refuses a body that breaks its documented structure, and the stack rolls back;
/// `deploy/stack/tests/aws_contracts.rs` checks every body against a schema of it.
/// <https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html>
fn dashboard(stack: &mut Stack, watched: &Watched<'_>) {
    let widgets = [api_widgets(watched), authorizer_widgets(watched.authorizer)].concat();
    add_dashboard(stack, &widgets);
}

/// The dashboard of `widgets`, named after the stack and region.
fn add_dashboard(stack: &mut Stack, widgets: &[serde_json::Value]) {
    let body = json!({ "widgets": widgets });
    stack.add(
        "Dashboard",
        Resource::new(
            "AWS::CloudWatch::Dashboard",
            json!({
                "DashboardName": Expr::sub("${AWS::StackName}-${AWS::Region}"),
                "DashboardBody": Expr::Sub(body.to_string()),
            }),
        ),
    );
}

/// The authorizer's own metrics' namespace: it writes them as EMF log lines
/// (authorizer/src/metrics.rs).
const NAMESPACE: &str = "groupgate";

/// `${Function}`: the function's name in the dashboard's `Fn::Sub` body.
fn function_name(function: &Handle) -> String {
    format!("${{{}}}", function.id())
}

/// A full-width metric widget at row `y`.
fn widget(title: &str, metrics: serde_json::Value, stat: &str, y: u32) -> serde_json::Value {
    json!({
        "type": "metric",
        "x": 0, "y": y, "width": 24, "height": 6,
        "properties": {
            "title": title,
            "region": "${AWS::Region}",
            "stat": stat,
            "period": 60,
            "metrics": metrics,
        },
    })
}

/// Requests, refusals, latency, and both functions' errors and throttles.
fn api_widgets(watched: &Watched<'_>) -> Vec<serde_json::Value> {
    let api = watched.api_name;
    let authorizer = function_name(watched.authorizer);
    let backend = function_name(watched.backend);
    vec![
        widget(
            "Requests and refusals",
            json!([
                [
                    "AWS/ApiGateway",
                    "Count",
                    "ApiName",
                    api,
                    "Stage",
                    watched.stage
                ],
                [".", "4XXError", ".", ".", ".", "."],
                [".", "5XXError", ".", ".", ".", "."],
            ]),
            "Sum",
            0,
        ),
        widget(
            "Latency (p99)",
            json!([
                [
                    "AWS/ApiGateway",
                    "Latency",
                    "ApiName",
                    api,
                    "Stage",
                    watched.stage
                ],
                ["AWS/Lambda", "Duration", "FunctionName", authorizer],
                [".", ".", ".", backend],
            ]),
            "p99",
            6,
        ),
        widget(
            "Function errors and throttles",
            json!([
                ["AWS/Lambda", "Errors", "FunctionName", authorizer],
                [".", "Throttles", ".", "."],
                [".", "Errors", ".", backend],
                [".", "Throttles", ".", "."],
            ]),
            "Sum",
            12,
        ),
    ]
}

/// The authorizer's decisions by outcome and reason, its policy cache and key fetches, and its
/// decision time.
fn authorizer_widgets(authorizer: &Handle) -> Vec<serde_json::Value> {
    let namespace = NAMESPACE;
    let authorizer = function_name(authorizer);
    vec![
        widget(
            "Authorizer decisions by outcome and reason",
            // An expression is a row of its own, like a metric: `[[{...}]]`, not `[{...}]`.
            json!([[{
                "id": "decisions",
                "expression": format!(
                    "SEARCH('{{{namespace},FunctionName,Outcome,Reason}} MetricName=\"Decisions\" FunctionName=\"{authorizer}\"', 'Sum', 60)"
                ),
            }]]),
            "Sum",
            18,
        ),
        widget(
            "Authorizer policy cache and keys",
            json!([
                [namespace, "PolicyCacheHits", "FunctionName", authorizer],
                [".", "PolicyCacheMisses", ".", "."],
                [".", "JwksFetches", ".", "."],
                [".", "JwksFetchFailures", ".", "."],
            ]),
            "Sum",
            24,
        ),
        widget(
            "Authorizer decision time (microseconds, p50 and p99)",
            json!([
                [namespace, "DecisionLatency", "FunctionName", authorizer, {"stat": "p50"}],
                [".", ".", ".", ".", {"stat": "p99"}],
            ]),
            "p99",
            30,
        ),
    ]
}
