#![cfg(test)]
//! Deploying a stack through a change set: against moto's CloudFormation over the wire where it
//! can serve, and with smithy mocks for what it cannot do:
//! - it never rolls back a failed create, so `ROLLBACK_COMPLETE` recovery is mocked;
//! - it refuses an unchanged template at `CreateChangeSet`, where AWS returns a FAILED change
//!   set that "didn't contain changes": both are tested;
//! - it computes no replacements, so a destructive change set is mocked.

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
    Capability, Change, ChangeAction, ChangeSetStatus, Replacement, ResourceChange, Stack,
    StackStatus,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use deploy::operations::cloudformation::{Outcome, Polling, StackRequest, deploy_stack};
use deploy::stack::bootstrap;
use groupgate_testkit::{Moto, unique};

const FAST: Polling = Polling {
    interval: Duration::from_millis(50),
    attempts: 600,
};

fn request<'a>(name: &'a str, template: &'a str) -> StackRequest<'a> {
    StackRequest {
        name,
        template_body: template,
        template_url: None,
        parameters: vec![
            ("GitHubRepository".into(), "groupgate/groupgate".into()),
            ("GitHubRepositoryId".into(), "456789".into()),
            ("GitHubOwnerId".into(), "123456".into()),
        ],
        capabilities: vec![Capability::CapabilityNamedIam],
        role_arn: None,
        protected: &["ArtifactBucket"],
        allow_destructive: false,
    }
}

#[tokio::test]
async fn the_bootstrap_stack_is_created_then_an_unchanged_deploy_is_success() {
    let moto = Moto::start().await;
    let cfn = Client::new(&moto.sdk_config_in_new_account().await);
    let name = unique("bootstrap").replace('-', "");
    let template = bootstrap::build().to_template().unwrap().to_string();
    assert_eq!(
        deploy_stack(&cfn, &request(&name, &template), FAST)
            .await
            .unwrap(),
        Outcome::Created
    );
    // moto refuses an unchanged template at CreateChangeSet ("No updates are to be performed").
    assert_eq!(
        deploy_stack(&cfn, &request(&name, &template), FAST)
            .await
            .unwrap(),
        Outcome::NoChanges
    );
}

fn stack(status: StackStatus) -> DescribeStacksOutput {
    DescribeStacksOutput::builder()
        .stacks(
            Stack::builder()
                .stack_name("s")
                .stack_status(status)
                .creation_time(aws_sdk_cloudformation::primitives::DateTime::from_secs(0))
                .build(),
        )
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

#[tokio::test]
async fn a_stack_left_in_rollback_complete_is_deleted_and_created_again() {
    let rules = [
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::RollbackComplete)),
        mock!(Client::delete_stack).then_output(|| DeleteStackOutput::builder().build()),
        mock!(Client::describe_stacks).then_error(missing),
        mock!(Client::create_change_set)
            .match_requests(|r| {
                r.change_set_type() == Some(&aws_sdk_cloudformation::types::ChangeSetType::Create)
            })
            .then_output(|| CreateChangeSetOutput::builder().id("cs").build()),
        mock!(Client::describe_change_set).then_output(|| {
            DescribeChangeSetOutput::builder()
                .status(ChangeSetStatus::CreateComplete)
                .build()
        }),
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build()),
        mock!(Client::describe_stack_events)
            .then_output(|| DescribeStackEventsOutput::builder().build()),
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::CreateComplete)),
    ];
    let refs: Vec<_> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &refs);
    let outcome = deploy_stack(&cfn, &request("s", "{}"), FAST).await.unwrap();
    assert_eq!(outcome, Outcome::Created);
    for (rule, what) in rules
        .iter()
        .zip(["describe", "delete", "gone", "create change set"])
    {
        assert_eq!(rule.num_calls(), 1, "{what}");
    }
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
    assert_eq!(
        deploy_stack(&cfn, &request("s", "{}"), FAST).await.unwrap(),
        Outcome::NoChanges
    );
    assert_eq!(rules[3].num_calls(), 1, "the empty change set is deleted");
}

#[tokio::test]
async fn a_change_set_that_would_replace_a_table_is_refused_unless_allowed() {
    let replaces_bucket = || {
        DescribeChangeSetOutput::builder()
            .status(ChangeSetStatus::CreateComplete)
            .changes(
                Change::builder()
                    .resource_change(
                        ResourceChange::builder()
                            .logical_resource_id("ArtifactBucket")
                            .action(ChangeAction::Modify)
                            .replacement(Replacement::True)
                            .build(),
                    )
                    .build(),
            )
            .build()
    };
    let rules = [
        mock!(Client::describe_stacks).then_output(|| stack(StackStatus::UpdateComplete)),
        mock!(Client::create_change_set)
            .then_output(|| CreateChangeSetOutput::builder().id("cs").build()),
        mock!(Client::describe_change_set).then_output(replaces_bucket),
        mock!(Client::delete_change_set).then_output(|| DeleteChangeSetOutput::builder().build()),
        mock!(Client::execute_change_set).then_output(|| ExecuteChangeSetOutput::builder().build()),
    ];
    let refs: Vec<_> = rules.iter().collect();
    let cfn = mock_client!(aws_sdk_cloudformation, RuleMode::Sequential, &refs);
    let err = deploy_stack(&cfn, &request("s", "{}"), FAST)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("ArtifactBucket"), "{err}");
    assert!(err.contains("--allow-destructive"), "{err}");
    assert_eq!(rules[4].num_calls(), 0, "never executed");
    assert_eq!(rules[3].num_calls(), 1, "the refused change set is deleted");
}
