//! Deploying a template as a stack, the way `cdk deploy` does: through a change set, with the
//! stack's events printed as they arrive and one clear last line.
//!
//! - A stack left in `ROLLBACK_COMPLETE` by a failed first create can only be deleted; it is
//!   deleted first, so the next deploy is not stuck until someone does it by hand.
//! - "No changes" is success, whether CloudFormation reports it as a FAILED change set (AWS)
//!   or refuses to create the change set (moto).
//! - A change set that would replace or delete a protected resource (the user pool, a table) is
//!   refused unless destructive changes are allowed.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, Replacement, StackStatus,
};

/// What to deploy.
pub struct StackRequest<'a> {
    pub name: &'a str,
    pub template_body: &'a str,
    /// Where CloudFormation reads the template instead, when it is too large to pass inline.
    pub template_url: Option<String>,
    pub parameters: Vec<(String, String)>,
    pub capabilities: Vec<Capability>,
    /// The role CloudFormation acts with (the bootstrap's execution role), if not the caller's.
    pub role_arn: Option<&'a str>,
    /// Logical ids that hold data: replacing or deleting them needs `allow_destructive`.
    pub protected: &'a [&'a str],
    pub allow_destructive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    NoChanges,
}

/// How often stack and change-set states are polled.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub interval: Duration,
    /// Polls before giving up on a state that does not settle.
    pub attempts: u32,
}

impl Default for Polling {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            attempts: 720,
        }
    }
}

/// The stack's status, `None` when there is no such stack.
pub async fn stack_status(cfn: &Client, name: &str) -> anyhow::Result<Option<StackStatus>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out
            .stacks
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|s| s.stack_status)),
        Err(e) if sdk_message(&e).contains("does not exist") => Ok(None),
        Err(e) => Err(failed("DescribeStacks", e)),
    }
}

/// The stack's outputs by key.
pub async fn read_outputs(
    cfn: &Client,
    name: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let described = cfn
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .map_err(|e| failed(&format!("DescribeStacks {name}"), e))?;
    Ok(described
        .stacks
        .unwrap_or_default()
        .into_iter()
        .next()
        .and_then(|s| s.outputs)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|o| Some((o.output_key?, o.output_value?)))
        .collect())
}

/// Output `key` of stack `stack` from its `outputs`, or an error naming both when it is missing
/// or empty.
pub fn output<'a>(
    outputs: &'a std::collections::BTreeMap<String, String>,
    stack: &str,
    key: &str,
) -> anyhow::Result<&'a str> {
    outputs
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| anyhow::anyhow!("stack `{stack}` has no `{key}` output"))
}

/// Creates or updates the stack through a change set and waits for it to settle.
pub async fn deploy_stack(
    cfn: &Client,
    request: &StackRequest<'_>,
    polling: Polling,
) -> anyhow::Result<Outcome> {
    let name = request.name;
    let mut status = stack_status(cfn, name).await?;
    if status == Some(StackStatus::RollbackComplete) {
        println!(
            "{name}: left in ROLLBACK_COMPLETE by its first create; deleting it to start again"
        );
        cfn.delete_stack()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| failed("DeleteStack", e))?;
        wait_until_gone(cfn, name, polling).await?;
        status = None;
    }
    if let Some(busy) = status
        .as_ref()
        .filter(|s| s.as_str().ends_with("_IN_PROGRESS"))
    {
        anyhow::bail!(
            "{name}: busy ({}); try again when it settles",
            busy.as_str()
        );
    }
    let kind = if status.is_some() {
        ChangeSetType::Update
    } else {
        ChangeSetType::Create
    };
    let Some(change_set) = create_change_set(cfn, request, kind).await? else {
        println!("{name}: no changes");
        return Ok(Outcome::NoChanges);
    };
    if !change_set_ready(cfn, name, &change_set, request, polling).await? {
        println!("{name}: no changes");
        return Ok(Outcome::NoChanges);
    }
    let started = aws_sdk_cloudformation::primitives::DateTime::from(std::time::SystemTime::now());
    cfn.execute_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .send()
        .await
        .map_err(|e| failed("ExecuteChangeSet", e))?;
    let last = follow_events(cfn, name, started, polling).await?;
    match last {
        StackStatus::CreateComplete => {
            println!("{name}: CREATE_COMPLETE");
            Ok(Outcome::Created)
        }
        StackStatus::UpdateComplete => {
            println!("{name}: UPDATE_COMPLETE");
            Ok(Outcome::Updated)
        }
        other => anyhow::bail!(
            "{name}: {}: the deploy failed; the events above say why",
            other.as_str()
        ),
    }
}

/// Creates a change set of `kind`, and returns its name; `None` when CloudFormation refuses it
/// because the template changes nothing (moto's way of saying so).
async fn create_change_set(
    cfn: &Client,
    request: &StackRequest<'_>,
    kind: ChangeSetType,
) -> anyhow::Result<Option<String>> {
    let change_set = format!(
        "groupgate-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
    let parameters = request
        .parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();
    let created = cfn
        .create_change_set()
        .stack_name(request.name)
        .change_set_name(&change_set)
        .change_set_type(kind)
        .set_template_body(
            request
                .template_url
                .is_none()
                .then(|| request.template_body.to_owned()),
        )
        .set_template_url(request.template_url.clone())
        .set_parameters(Some(parameters))
        .set_capabilities(Some(request.capabilities.clone()))
        .set_role_arn(request.role_arn.map(str::to_owned))
        .send()
        .await;
    match created {
        Ok(_) => Ok(Some(change_set)),
        Err(e) if no_changes(&sdk_message(&e)) => Ok(None),
        Err(e) => Err(failed("CreateChangeSet", e)),
    }
}

/// Waits for the change set; `false` when it holds no changes (and has been deleted). Refuses
/// (and deletes) one that would replace or delete a protected resource.
async fn change_set_ready(
    cfn: &Client,
    name: &str,
    change_set: &str,
    request: &StackRequest<'_>,
    polling: Polling,
) -> anyhow::Result<bool> {
    for _ in 0..polling.attempts {
        let described = cfn
            .describe_change_set()
            .stack_name(name)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(|e| failed("DescribeChangeSet", e))?;
        match described.status {
            Some(ChangeSetStatus::CreateComplete) => {
                let destructive: Vec<String> = described
                    .changes
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|c| c.resource_change)
                    .filter(|r| {
                        let id = r.logical_resource_id.as_deref().unwrap_or_default();
                        request.protected.contains(&id)
                            && (r.action == Some(ChangeAction::Remove)
                                || matches!(
                                    r.replacement,
                                    Some(Replacement::True | Replacement::Conditional)
                                ))
                    })
                    .filter_map(|r| r.logical_resource_id)
                    .collect();
                if !destructive.is_empty() && !request.allow_destructive {
                    delete_change_set(cfn, name, change_set).await;
                    anyhow::bail!(
                        "{name}: refusing a change that would replace or delete {}, which hold data; pass --allow-destructive if that is meant",
                        destructive.join(", ")
                    );
                }
                return Ok(true);
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = described.status_reason.unwrap_or_default();
                delete_change_set(cfn, name, change_set).await;
                if no_changes(&reason) {
                    return Ok(false);
                }
                anyhow::bail!("{name}: the change set failed: {reason}");
            }
            _ => tokio::time::sleep(polling.interval).await,
        }
    }
    anyhow::bail!("{name}: the change set did not settle")
}

async fn delete_change_set(cfn: &Client, name: &str, change_set: &str) {
    let _ = cfn
        .delete_change_set()
        .stack_name(name)
        .change_set_name(change_set)
        .send()
        .await;
}

/// Prints the stack's events since `started` as they arrive, until the stack settles; returns
/// the status it settled in.
async fn follow_events(
    cfn: &Client,
    name: &str,
    started: aws_sdk_cloudformation::primitives::DateTime,
    polling: Polling,
) -> anyhow::Result<StackStatus> {
    let mut seen = HashSet::new();
    for _ in 0..polling.attempts {
        let events = cfn
            .describe_stack_events()
            .stack_name(name)
            .send()
            .await
            .map_err(|e| failed("DescribeStackEvents", e))?
            .stack_events
            .unwrap_or_default();
        // Newest first: print the new ones oldest first.
        for event in events.iter().rev() {
            let at = event.timestamp.map_or(0, |t| t.secs());
            let id = event.event_id.clone().unwrap_or_default();
            if at >= started.secs() && seen.insert(id) {
                println!(
                    "{name}: {} {} {}{}",
                    event.logical_resource_id.as_deref().unwrap_or("-"),
                    event.resource_type.as_deref().unwrap_or("-"),
                    event.resource_status.as_ref().map_or("-", |s| s.as_str()),
                    event
                        .resource_status_reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                );
            }
        }
        match stack_status(cfn, name).await? {
            Some(s) if !s.as_str().ends_with("_IN_PROGRESS") => return Ok(s),
            None => anyhow::bail!("{name}: the stack disappeared while deploying"),
            Some(_) => tokio::time::sleep(polling.interval).await,
        }
    }
    anyhow::bail!("{name}: the stack did not settle")
}

async fn wait_until_gone(cfn: &Client, name: &str, polling: Polling) -> anyhow::Result<()> {
    for _ in 0..polling.attempts {
        match stack_status(cfn, name).await? {
            None | Some(StackStatus::DeleteComplete) => return Ok(()),
            Some(StackStatus::DeleteFailed) => {
                anyhow::bail!("{name}: DELETE_FAILED; delete it by hand, then deploy again")
            }
            Some(_) => tokio::time::sleep(polling.interval).await,
        }
    }
    anyhow::bail!("{name}: the delete did not settle")
}

/// Whether CloudFormation's words mean the template changes nothing.
fn no_changes(message: &str) -> bool {
    message.contains("didn't contain changes") || message.contains("No updates are to be performed")
}

fn sdk_message<E, R>(e: &aws_sdk_cloudformation::error::SdkError<E, R>) -> String
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata,
{
    use aws_sdk_cloudformation::error::ProvideErrorMetadata as _;
    e.message().unwrap_or_default().to_owned()
}

/// A failed CloudFormation call, with the SDK's whole error chain.
pub(crate) fn failed<E: std::error::Error + 'static>(call: &str, e: E) -> anyhow::Error {
    anyhow::anyhow!(
        "CloudFormation {call}: {}",
        aws_sdk_cloudformation::error::DisplayErrorContext(e)
    )
}
