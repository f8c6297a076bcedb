#![cfg(test)]
//! Deploying a stack through a change set, checked against CloudFormation's API reference: the
//! stack statuses DescribeStacks reports
//! (<https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html>, what each
//! allows: <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html#cfn-console-view-stack-data-resources-status-codes>)
//! and the parameter rules of CreateChangeSet
//! (<https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html>,
//! <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html>).
//!
//! Against moto's CloudFormation over the wire where it can serve: it keeps parameters with
//! `UsePreviousValue`, and a CREATE change set that is deleted leaves its stack in
//! `REVIEW_IN_PROGRESS`, as AWS does. With smithy mocks for what it cannot do:
//! - a second CREATE change set on a stack in `REVIEW_IN_PROGRESS` makes moto a second stack of
//!   the same name (AWS reuses the one there), and its change sets never fail;
//! - it never rolls back a failed create, so `ROLLBACK_COMPLETE` recovery is mocked;
//! - it refuses an unchanged template at `CreateChangeSet`, where AWS returns a FAILED change
//!   set that "didn't contain changes": both are tested;
//! - it computes no replacements and never pages a change set, so a destructive change set and
//!   a paged one are mocked.

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_change_set::DeleteChangeSetOutput;
use aws_sdk_cloudformation::operation::delete_stack::DeleteStackOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::{
    DescribeStacksError, DescribeStacksOutput,
};
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::types::{
    Capability, Change, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, Replacement,
    ResourceChange, Stack, StackStatus,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use groupgate_cli::operations::cloudformation::{
    Action, Outcome, Polling, StackRequest, action, change_set_parameters, deploy_stack, plan,
};
use groupgate_cli::stack::bootstrap;
use groupgate_testkit::{Moto, unique};

const FAST: Polling = Polling {
    interval: Duration::from_millis(50),
    limit: Duration::from_secs(30),
};

/// A template with the parameters of the product stack: two the deploy always sets, three an
/// operator may set by hand, one of them without a default.
const APP_TEMPLATE: &str = r#"{"Parameters": {
    "ArtifactBucket": {"Type": "String"},
    "PermissionsBoundaryArn": {"Type": "String"},
    "LogRetentionDays": {"Type": "Number", "Default": "30"},
    "HostedUiCallbackUrl": {"Type": "String"},
    "AlarmEmail": {"Type": "String", "Default": ""}
  }, "Resources": {}}"#;

fn request<'a>(name: &'a str, template: &'a str) -> StackRequest<'a> {
    StackRequest {
        name,
        template_body: template,
        template_url: None,
        parameters: vec![("GitHubRepository".into(), "groupgate/groupgate".into())],
        capabilities: vec![Capability::CapabilityNamedIam],
        role_arn: None,
        protected: &["ArtifactBucket"],
        allow_destructive: false,
    }
}

const REPOSITORY_TEMPLATE: &str =
    r#"{"Parameters": {"GitHubRepository": {"Type": "String"}}, "Resources": {}}"#;

/// The app stack's request, as `groupgate deploy` sends it: the bootstrap's two values and
/// `extra`.
fn app_request<'a>(extra: &[(&str, &str)]) -> StackRequest<'a> {
    let mut parameters = vec![
        ("ArtifactBucket".to_owned(), "groupgate-assets".to_owned()),
        (
            "PermissionsBoundaryArn".to_owned(),
            "arn:aws:iam::123456789012:policy/b".to_owned(),
        ),
    ];
    parameters.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    StackRequest {
        parameters,
        ..request("s", APP_TEMPLATE)
    }
}

#[tokio::test]
async fn the_bootstrap_stack_is_created_then_an_unchanged_deploy_is_success() {
    let moto = Moto::start().await;
    let cfn = Client::new(&moto.sdk_config_in_new_account().await);
    let name = unique("bootstrap").replace('-', "");
    let template = bootstrap::build().to_template().unwrap().to_string();
    // The bootstrap's trust names the repository by its immutable ids too.
    let request = |name, template| StackRequest {
        parameters: vec![
            ("GitHubRepository".into(), "groupgate/groupgate".into()),
            ("GitHubRepositoryId".into(), "456789".into()),
            ("GitHubOwnerId".into(), "123456".into()),
        ],
        ..request(name, template)
    };
    let created = deploy_stack(&cfn, &request(&name, &template), FAST)
        .await
        .unwrap();
    assert_eq!(created.outcome, Outcome::Created);
    assert!(!created.changes.is_empty(), "the change set's resources");
    // moto refuses an unchanged template at CreateChangeSet ("No updates are to be performed").
    let again = deploy_stack(&cfn, &request(&name, &template), FAST)
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::NoChanges);
    assert!(again.changes.is_empty());
}

/// What a deploy does in each status of the API reference's list: the SDK's list is the API's,
/// so a status added there fails this test until it is decided.
#[test]
fn every_stack_status_of_the_api_reference_has_a_decided_action() {
    enum Want {
        Create,
        DeleteThenCreate,
        Update,
        Refuse(&'static str),
    }
    let expected = |status: &str| match status {
        // No template and no resources: a failed or unexecuted first change set.
        "REVIEW_IN_PROGRESS" | "DELETE_COMPLETE" => Some(Want::Create),
        // "When in this state, only a delete operation can be performed."
        "ROLLBACK_COMPLETE" => Some(Want::DeleteThenCreate),
        "CREATE_COMPLETE"
        | "UPDATE_COMPLETE"
        | "UPDATE_ROLLBACK_COMPLETE"
        | "IMPORT_COMPLETE"
        | "IMPORT_ROLLBACK_COMPLETE" => Some(Want::Update),
        "ROLLBACK_FAILED" => Some(Want::Refuse("delete the stack")),
        "DELETE_FAILED" => Some(Want::Refuse("delete it by hand")),
        "UPDATE_ROLLBACK_FAILED" => Some(Want::Refuse("continue-update-rollback")),
        "CREATE_FAILED" | "UPDATE_FAILED" => Some(Want::Refuse("rollback-stack")),
        "IMPORT_ROLLBACK_FAILED" => Some(Want::Refuse("settle it by hand")),
        s if s.ends_with("_IN_PROGRESS") => Some(Want::Refuse("busy")),
        _ => None,
    };
    assert_eq!(action("s", None), Action::Create, "no stack");
    let statuses = StackStatus::values();
    assert!(statuses.len() >= 23, "{statuses:?}");
    for status in statuses {
        let got = action("s", Some(&StackStatus::from(*status)));
        match (expected(status), &got) {
            (Some(Want::Create), Action::Create)
            | (Some(Want::DeleteThenCreate), Action::DeleteThenCreate)
            | (Some(Want::Update), Action::Update) => {}
            (Some(Want::Refuse(words)), Action::Refuse(why)) => {
                assert!(why.contains(words), "{status}: {why}");
                assert!(why.starts_with("s: "), "{status} names the stack: {why}");
            }
            (None, _) => panic!("{status}: no expected action; decide it in `action`"),
            (_, got) => panic!("{status}: {got:?}"),
        }
    }
    let unknown = action("s", Some(&StackStatus::from("SOMETHING_NEW")));
    assert!(
        matches!(&unknown, Action::Refuse(why) if why.contains("`SOMETHING_NEW`")),
        "{unknown:?}"
    );
}

#[test]
fn parameters_follow_cloudformations_rules() {
    let keys = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
    let given = [
        ("ArtifactBucket".to_owned(), "b".to_owned()),
        ("PermissionsBoundaryArn".to_owned(), "arn".to_owned()),
    ];
    let shown = |parameters: Vec<Parameter>| -> Vec<String> {
        parameters
            .iter()
            .map(|p| match (p.use_previous_value, &p.parameter_value) {
                (Some(true), None) => format!("{}=previous", p.parameter_key.as_deref().unwrap()),
                (None, Some(v)) => format!("{}={v}", p.parameter_key.as_deref().unwrap()),
                other => panic!("both or neither: {other:?}"),
            })
            .collect()
    };

    // An update: every parameter the stack has and the deploy does not set keeps its value.
    let previous = keys(&[
        "ArtifactBucket",
        "PermissionsBoundaryArn",
        "LogRetentionDays",
        "HostedUiCallbackUrl",
        "AlarmEmail",
    ]);
    let update = change_set_parameters("s", APP_TEMPLATE, &given, Some(&previous)).unwrap();
    assert_eq!(
        shown(update),
        [
            "AlarmEmail=previous",
            "ArtifactBucket=b",
            "HostedUiCallbackUrl=previous",
            "LogRetentionDays=previous",
            "PermissionsBoundaryArn=arn",
        ]
    );

    // A parameter new to the stack gets its default: UsePreviousValue is refused for a key the
    // stack does not have.
    let older = keys(&[
        "ArtifactBucket",
        "PermissionsBoundaryArn",
        "HostedUiCallbackUrl",
    ]);
    let update = change_set_parameters("s", APP_TEMPLATE, &given, Some(&older)).unwrap();
    assert_eq!(
        shown(update),
        [
            "ArtifactBucket=b",
            "HostedUiCallbackUrl=previous",
            "PermissionsBoundaryArn=arn",
        ]
    );

    // A create: no previous values; one without a default must be given.
    let mut with_callback = given.to_vec();
    with_callback.push((
        "HostedUiCallbackUrl".into(),
        "https://app.example.com/".into(),
    ));
    let create = change_set_parameters("s", APP_TEMPLATE, &with_callback, None).unwrap();
    assert_eq!(
        shown(create),
        [
            "ArtifactBucket=b",
            "HostedUiCallbackUrl=https://app.example.com/",
            "PermissionsBoundaryArn=arn",
        ]
    );
    let missing = change_set_parameters("s", APP_TEMPLATE, &given, None)
        .unwrap_err()
        .to_string();
    assert_eq!(
        missing,
        "s: the template's parameter `HostedUiCallbackUrl` has no default and no value yet: pass `--parameter HostedUiCallbackUrl=VALUE` (later deploys keep it)"
    );

    // A value for a parameter the template does not have is refused, naming it.
    let mut unknown = given.to_vec();
    unknown.push(("Nope".into(), "1".into()));
    let error = change_set_parameters("s", APP_TEMPLATE, &unknown, Some(&previous))
        .unwrap_err()
        .to_string();
    assert_eq!(error, "s: the template has no parameter `Nope`");
}

fn stack(status: StackStatus) -> DescribeStacksOutput {
    stack_with(status, &[])
}

/// A described stack with these parameters.
fn stack_with(status: StackStatus, parameters: &[(&str, &str)]) -> DescribeStacksOutput {
    let mut stack = Stack::builder()
        .stack_name("s")
        .stack_status(status)
        .creation_time(aws_sdk_cloudformation::primitives::DateTime::from_secs(0));
    for (key, value) in parameters {
        stack = stack.parameters(
            Parameter::builder()
                .parameter_key(*key)
                .parameter_value(*value)
                .build(),
        );
    }
    DescribeStacksOutput::builder()
        .stacks(stack.build())
        .build()
}

fn missing() -> DescribeStacksError {
    DescribeStacksError::generic(
        aws_sdk_cloudformation::error::ErrorMetadata::builder()
            .code("ValidationError")
            .message("Stack with id s does not exist")
            .build(),
    )
}

fn complete() -> DescribeChangeSetOutput {
    DescribeChangeSetOutput::builder()
        .status(ChangeSetStatus::CreateComplete)
        .build()
}

#[tokio::test]
async fn a_stack_left_in_rollback_complete_is_deleted_and_created_again() {
    let rules = [
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::RollbackComplete)),
        mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build()),
        mock!(Client::describe_stacks).then_error(missing),
        mock!(Client::create_change_set)
            .match_requests(|r| r.change_set_type() == Some(&ChangeSetType::Create))
            .then_output(|| CreateChangeSetOutput::builder().id("cs").build()),
        mock!(Client::describe_change_set).then_output(complete),
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build()),
        mock!(Client::describe_stack_events)
            .then_output(|| DescribeStackEventsOutput::builder().build()),
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::CreateComplete)),
    ];
    let refs: Vec<_> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &refs);
    let deployed = deploy_stack(&cfn, &request("s", REPOSITORY_TEMPLATE), FAST)
        .await
        .unwrap();
    assert_eq!(deployed.outcome, Outcome::Created);
    for (rule, what) in rules
        .iter()
        .zip(["describe", "delete", "gone", "create change set"])
    {
        assert_eq!(rule.num_calls(), 1, "{what}");
    }
}

/// Issue 19 (3): a failed CREATE change set leaves its stack in `REVIEW_IN_PROGRESS`, with no
/// template and no resources. The next deploy creates it with a CREATE change set (an UPDATE is
/// refused for such a stack), with no previous values, instead of calling it busy forever.
#[tokio::test]
async fn a_failed_first_change_set_is_treated_as_no_stack() {
    let rules = [
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::ReviewInProgress)),
        mock!(Client::create_change_set)
            .match_requests(|r| {
                r.change_set_type() == Some(&ChangeSetType::Create)
                    && r.parameters()
                        .iter()
                        .all(|p| p.use_previous_value.is_none() && p.parameter_value.is_some())
            })
            .then_output(|| CreateChangeSetOutput::builder().id("cs").build()),
        mock!(Client::describe_change_set).then_output(complete),
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build()),
        mock!(Client::describe_stack_events)
            .then_output(|| DescribeStackEventsOutput::builder().build()),
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::CreateComplete)),
    ];
    let refs: Vec<_> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &refs);
    let request = app_request(&[("HostedUiCallbackUrl", "https://app.example.com/")]);
    let deployed = deploy_stack(&cfn, &request, FAST).await.unwrap();
    assert_eq!(deployed.outcome, Outcome::Created);
    assert_eq!(rules[1].num_calls(), 1, "one CREATE change set");
}

/// The other half: when this deploy's own CREATE change set fails, it says the stack stays
/// (and that the next deploy creates it), and it does not delete it: deleting a stack that never
/// had a template can itself fail and strand it in DELETE_FAILED.
#[tokio::test]
async fn a_failed_create_change_set_says_the_next_deploy_creates_the_stack() {
    let rules = [
        mock!(Client::describe_stacks).then_error(missing),
        mock!(Client::create_change_set)
            .then_output(|| CreateChangeSetOutput::builder().id("cs").build()),
        mock!(Client::describe_change_set).then_output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::Failed)
                .status_reason("Parameter validation failed: parameter value x for parameter name LogRetentionDays does not exist")
                .build()
        }),
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build()),
        mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build()),
    ];
    let refs: Vec<_> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, &refs);
    let request = app_request(&[("HostedUiCallbackUrl", "https://app.example.com/")]);
    let error = deploy_stack(&cfn, &request, FAST)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("Parameter validation failed"), "{error}");
    assert!(error.contains("stays in REVIEW_IN_PROGRESS"), "{error}");
    assert!(error.contains("the next deploy creates it"), "{error}");
    assert_eq!(rules[3].num_calls(), 1, "the failed change set is deleted");
    assert_eq!(
        rules[4].num_calls(),
        0,
        "the stack is left for the next deploy"
    );
}

/// Over the wire: moto leaves a stack in `REVIEW_IN_PROGRESS` once its CREATE change set is
/// deleted (what a failed one leaves on AWS), and the next deploy plans a CREATE on it.
#[tokio::test]
async fn a_stack_stranded_in_review_in_progress_is_planned_as_a_create_in_moto() {
    let moto = Moto::start().await;
    let cfn = Client::new(&moto.sdk_config().await);
    let name = unique("stranded").replace('-', "");
    let template = r#"{"Parameters": {"GitHubRepository": {"Type": "String"}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}"#;
    cfn.create_change_set()
        .stack_name(&name)
        .change_set_name("first")
        .change_set_type(ChangeSetType::Create)
        .template_body(template)
        .parameters(
            Parameter::builder()
                .parameter_key("GitHubRepository")
                .parameter_value("a/b")
                .build(),
        )
        .send()
        .await
        .unwrap();
    cfn.delete_change_set()
        .stack_name(&name)
        .change_set_name("first")
        .send()
        .await
        .unwrap();
    let status = groupgate_cli::operations::cloudformation::stack_status(&cfn, &name)
        .await
        .unwrap();
    assert_eq!(status, Some(StackStatus::ReviewInProgress));
    let planned = plan(&cfn, &request(&name, template)).await.unwrap();
    assert_eq!(planned.action, Action::Create);
}

/// Issue 19 (5): an update sends `UsePreviousValue` for every parameter of the stack the deploy
/// does not set, so what an operator set by hand (an alarm email, a callback URL, a retention)
/// is not reset to its default by the next push.
#[tokio::test]
async fn an_update_keeps_every_parameter_it_does_not_set() {
    let by_hand = [
        ("ArtifactBucket", "groupgate-assets"),
        (
            "PermissionsBoundaryArn",
            "arn:aws:iam::123456789012:policy/b",
        ),
        ("LogRetentionDays", "90"),
        ("HostedUiCallbackUrl", "https://app.example.com/"),
        ("AlarmEmail", "ops@example.com"),
    ];
    let kept = |r: &aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetInput| {
        let previous: Vec<&str> = r
            .parameters()
            .iter()
            .filter(|p| p.use_previous_value == Some(true) && p.parameter_value.is_none())
            .filter_map(|p| p.parameter_key.as_deref())
            .collect();
        r.change_set_type() == Some(&ChangeSetType::Update)
            && previous == ["AlarmEmail", "HostedUiCallbackUrl", "LogRetentionDays"]
            && r.parameters().len() == 5
    };
    let rules = [
        mock!(Client::describe_stacks)
            .then_output(move || stack_with(StackStatus::UpdateComplete, &by_hand)),
        mock!(Client::create_change_set)
            .match_requests(kept)
            .then_output(|| CreateChangeSetOutput::builder().id("cs").build()),
        mock!(Client::describe_change_set).then_output(complete),
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build()),
        mock!(Client::describe_stack_events)
            .then_output(|| DescribeStackEventsOutput::builder().build()),
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete)),
    ];
    let refs: Vec<_> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &refs);
    let deployed = deploy_stack(&cfn, &app_request(&[]), FAST).await.unwrap();
    assert_eq!(deployed.outcome, Outcome::Updated);
    assert_eq!(rules[1].num_calls(), 1);
}

/// A value kept with `UsePreviousValue` that the new template's constraints refuse (here a
/// retention the stack has, no longer among `AllowedValues`) is refused before any change set,
/// in one line naming the parameter, its value, the constraint and the flag; AWS would fail the
/// change set instead. A value given with `--parameter` is not checked here.
#[tokio::test]
async fn a_kept_value_the_new_template_refuses_stops_the_deploy_naming_it() {
    const NARROWED: &str = r#"{"Parameters": {
        "ArtifactBucket": {"Type": "String"},
        "PermissionsBoundaryArn": {"Type": "String"},
        "LogRetentionDays": {"Type": "Number", "Default": "30", "AllowedValues": ["1", "3", "30"]},
        "AlarmEmail": {"Type": "String", "Default": "", "NoEcho": true, "AllowedPattern": "^$|^.+@.+$"}
      }, "Resources": {}}"#;
    let on_stack = [
        ("ArtifactBucket", "groupgate-assets"),
        (
            "PermissionsBoundaryArn",
            "arn:aws:iam::123456789012:policy/b",
        ),
        ("LogRetentionDays", "2"),
        ("AlarmEmail", "****"),
    ];
    let describe = mock!(Client::describe_stacks)
        .then_output(move || stack_with(StackStatus::UpdateComplete, &on_stack));
    let create = mock!(Client::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("cs").build());
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&describe, &create]
    );
    let kept = StackRequest {
        template_body: NARROWED,
        ..app_request(&[])
    };
    let error = plan(&cfn, &kept).await.unwrap_err().to_string();
    assert_eq!(
        error,
        "s: `LogRetentionDays` keeps the stack's value `2`, which the new template refuses (not one of AllowedValues 1, 3, 30): pass `--parameter LogRetentionDays=VALUE` with a value it allows"
    );
    assert_eq!(create.num_calls(), 0, "nothing was created");

    let given = StackRequest {
        template_body: NARROWED,
        ..app_request(&[("LogRetentionDays", "3")])
    };
    let planned = plan(&cfn, &given).await.unwrap();
    assert_eq!(planned.action, Action::Update);
}

const CALLBACK: (&str, &str) = ("HostedUiCallbackUrl", "https://app.example.com/");

/// A stack that does not settle within the deploy's limit ends the wait with one line naming
/// the stack's last status and how to watch it, rather than the CI job's timeout killing the
/// tool mid-wait. The limit is for the whole deploy, not each wait.
#[tokio::test(start_paused = true)]
async fn a_deploy_that_outlasts_its_limit_says_what_it_waited_on_and_how_to_watch() {
    let describe = mock!(Client::describe_stacks)
        .sequence()
        .output(|| stack(StackStatus::UpdateComplete))
        .output(|| stack(StackStatus::UpdateInProgress))
        .repeatedly()
        .build();
    let create = mock!(Client::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("cs").build());
    // The change set takes most of the limit: the stack's update gets only what is left.
    let change_set = mock!(Client::describe_change_set)
        .sequence()
        .output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateInProgress)
                .build()
        })
        .times(8)
        .output(complete)
        .build();
    let execute =
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build());
    let events = mock!(Client::describe_stack_events)
        .then_output(|| DescribeStackEventsOutput::builder().build());
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&describe, &create, &change_set, &execute, &events]
    );
    let polling = Polling {
        interval: Duration::from_secs(5),
        limit: Duration::from_secs(60),
    };
    let started = tokio::time::Instant::now();
    let error = deploy_stack(&cfn, &app_request(&[CALLBACK]), polling)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with(
            "s: gave up after 1 min waiting for the stack to settle, still UPDATE_IN_PROGRESS; "
        ),
        "{error}"
    );
    assert!(
        error.contains("`aws cloudformation describe-stack-events --stack-name s --region "),
        "{error}"
    );
    assert!(!error.contains('\n'));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited <= Duration::from_secs(65),
        "waited {waited:?} in all"
    );
    // Paused time: 8 change-set polls of 5 s, then the stack's, until 60 s in all.
    assert_eq!(change_set.num_calls(), 9);
    assert!(events.num_calls() <= 5, "{}", events.num_calls());
}

/// The change set's own wait ends the same way, naming the change set and its status.
#[tokio::test(start_paused = true)]
async fn a_change_set_that_never_settles_is_given_up_on_naming_it() {
    let describe =
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete));
    let create = mock!(Client::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("cs").build());
    let change_set = mock!(Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreatePending)
            .build()
    });
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&describe, &create, &change_set]
    );
    let polling = Polling {
        interval: Duration::from_secs(5),
        limit: Duration::from_secs(90),
    };
    let error = deploy_stack(&cfn, &app_request(&[CALLBACK]), polling)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("s: gave up after 90 s waiting for change set `groupgate-"),
        "{error}"
    );
    assert!(error.contains(", still CREATE_PENDING; "), "{error}");
}

/// Issue 19 (5), the other half: a first deploy without a value for a parameter that has no
/// default is refused before any change set, naming the parameter and the flag that sets it.
#[tokio::test]
async fn a_first_deploy_without_a_required_parameter_is_refused_naming_it() {
    let describe = mock!(Client::describe_stacks).then_error(missing);
    let create = mock!(Client::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("cs").build());
    let cfn = mock_client!(
        aws_sdk_cloudformation,
        RuleMode::MatchAny,
        [&describe, &create]
    );
    let error = deploy_stack(&cfn, &app_request(&[]), FAST)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("pass `--parameter HostedUiCallbackUrl=VALUE`"),
        "{error}"
    );
    assert_eq!(create.num_calls(), 0, "nothing was created");
}

/// Over the wire: a parameter set by hand (`UpdateStack` with the previous template, as the
/// console does) survives the next deploy, which does not set it.
#[tokio::test]
async fn a_value_set_by_hand_survives_the_next_deploy_in_moto() {
    let moto = Moto::start().await;
    let cfn = Client::new(&moto.sdk_config().await);
    let name = unique("byhand").replace('-', "");
    let template = |topics: &[&str]| {
        let resources: serde_json::Map<String, serde_json::Value> = topics
            .iter()
            .map(|t| {
                (
                    (*t).to_owned(),
                    serde_json::json!({"Type": "AWS::SNS::Topic"}),
                )
            })
            .collect();
        serde_json::json!({
            "Parameters": {
                "GitHubRepository": {"Type": "String"},
                "AlarmEmail": {"Type": "String", "Default": ""},
            },
            "Resources": resources,
        })
        .to_string()
    };
    let first = template(&["One"]);
    deploy_stack(&cfn, &request(&name, &first), FAST)
        .await
        .unwrap();
    cfn.update_stack()
        .stack_name(&name)
        .use_previous_template(true)
        .parameters(
            Parameter::builder()
                .parameter_key("GitHubRepository")
                .use_previous_value(true)
                .build(),
        )
        .parameters(
            Parameter::builder()
                .parameter_key("AlarmEmail")
                .parameter_value("ops@example.com")
                .build(),
        )
        .send()
        .await
        .unwrap();
    let second = template(&["One", "Two"]);
    let deployed = deploy_stack(&cfn, &request(&name, &second), FAST)
        .await
        .unwrap();
    assert_eq!(deployed.outcome, Outcome::Updated);
    let stack = cfn
        .describe_stacks()
        .stack_name(&name)
        .send()
        .await
        .unwrap()
        .stacks
        .unwrap()
        .remove(0);
    let email = stack
        .parameters
        .unwrap()
        .into_iter()
        .find(|p| p.parameter_key.as_deref() == Some("AlarmEmail"))
        .and_then(|p| p.parameter_value);
    assert_eq!(email.as_deref(), Some("ops@example.com"));
}

#[tokio::test]
async fn a_failed_change_set_without_changes_is_success_as_aws_reports_it() {
    let rules = [
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete)),
        mock!(Client::create_change_set)
            .then_output(|| CreateChangeSetOutput::builder().id("cs").build()),
        mock!(Client::describe_change_set).then_output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::Failed)
                .status_reason("The submitted information didn't contain changes. Submit different information to create a change set.")
                .build()
        }),
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build()),
    ];
    let refs: Vec<_> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &refs);
    let deployed = deploy_stack(&cfn, &request("s", REPOSITORY_TEMPLATE), FAST)
        .await
        .unwrap();
    assert_eq!(deployed.outcome, Outcome::NoChanges);
    assert_eq!(rules[3].num_calls(), 1, "the empty change set is deleted");
}

fn replaces_bucket() -> Change {
    Change::builder()
        .resource_change(
            ResourceChange::builder()
                .logical_resource_id("ArtifactBucket")
                .action(ChangeAction::Modify)
                .replacement(Replacement::True)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_change_set_that_would_replace_a_table_is_refused_unless_allowed() {
    let rules = [
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete)),
        mock!(Client::create_change_set)
            .then_output(|| CreateChangeSetOutput::builder().id("cs").build()),
        mock!(Client::describe_change_set).then_output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .changes(replaces_bucket())
                .build()
        }),
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build()),
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build()),
    ];
    let refs: Vec<_> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &refs);
    let err = deploy_stack(&cfn, &request("s", REPOSITORY_TEMPLATE), FAST)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ArtifactBucket"), "{err}");
    assert!(err.contains("--allow-destructive"), "{err}");
    assert_eq!(rules[4].num_calls(), 0, "never executed");
    assert_eq!(rules[3].num_calls(), 1, "the refused change set is deleted");
}

/// DescribeChangeSet pages a large change set (`NextToken`): a replacement on a later page is
/// refused as one on the first.
#[tokio::test]
async fn a_replacement_on_a_later_page_of_the_change_set_is_refused_too() {
    let harmless = Change::builder()
        .resource_change(
            ResourceChange::builder()
                .logical_resource_id("Topic")
                .action(ChangeAction::Add)
                .build(),
        )
        .build();
    let rules = [
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete)),
        mock!(Client::create_change_set)
            .then_output(|| CreateChangeSetOutput::builder().id("cs").build()),
        mock!(Client::describe_change_set)
            .match_requests(|r| r.next_token().is_none())
            .then_output(move || {
                DescribeChangeSetOutput::builder()
                    .status(ChangeSetStatus::CreateComplete)
                    .changes(harmless.clone())
                    .next_token("page-2")
                    .build()
            }),
        mock!(Client::describe_change_set)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                DescribeChangeSetOutput::builder()
                    .status(ChangeSetStatus::CreateComplete)
                    .changes(replaces_bucket())
                    .build()
            }),
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build()),
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build()),
    ];
    let refs: Vec<_> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &refs);
    let err = deploy_stack(&cfn, &request("s", REPOSITORY_TEMPLATE), FAST)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ArtifactBucket"), "{err}");
    assert_eq!(rules[5].num_calls(), 0, "never executed");
}
