//! Deploying a template as a stack, the way `cdk deploy` does: through a change set, with the
//! stack's events printed as they arrive and one clear last line.
//!
//! - What a deploy does with the stack it finds is decided by its status alone ([`action`]),
//!   for every status of CloudFormation's list: a stack with no resources yet
//!   (`REVIEW_IN_PROGRESS`, left by a failed first change set) is created with a `CREATE`
//!   change set; one left in `ROLLBACK_COMPLETE` by a failed first create is deleted first; one
//!   that needs a person (a failed rollback) is refused with what to do.
//! - On an update, every parameter the deploy does not set keeps the stack's value
//!   (`UsePreviousValue`), so a value set by hand survives the next push. A parameter without a
//!   default that nobody gives is refused before anything is created ([`plan`]), and so is a
//!   kept value that the new template's constraints refuse (a narrowed `AllowedValues`, say),
//!   which CloudFormation would fail the change set for with a less helpful message.
//! - "No changes" is success, whether CloudFormation reports it as a FAILED change set (AWS)
//!   or refuses to create the change set (moto).
//! - A change set that would replace or delete a protected resource (the user pool, a table) is
//!   refused unless destructive changes are allowed.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, Replacement,
    ResourceChange, StackStatus,
};

/// What to deploy.
pub struct StackRequest<'a> {
    pub name: &'a str,
    pub template_body: &'a str,
    /// Where CloudFormation reads the template instead, when it is too large to pass inline.
    pub template_url: Option<String>,
    /// The values this deploy sets. Every other parameter keeps the stack's value on an update,
    /// and its default on a create.
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

/// What a deploy did: its outcome, and the resource changes of the change set it executed
/// (none when nothing changed).
#[derive(Debug)]
pub struct Deployed {
    pub outcome: Outcome,
    pub changes: Vec<ResourceChange>,
}

/// What a deploy does with the stack it finds under its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A `CREATE` change set: there is no stack, or one with no template and no resources yet.
    Create,
    /// Delete the stack, then create it: a failed first create left nothing worth keeping.
    DeleteThenCreate,
    /// An `UPDATE` change set on a stack that settled.
    Update,
    /// Stop, saying why and what to do.
    Refuse(String),
}

/// What a deploy does with a stack named `name` in `status` (`None`: no such stack).
///
/// The statuses and what each allows are CloudFormation's:
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html#cfn-console-view-stack-data-resources-status-codes>
/// and <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Stack.html>.
/// A `CREATE` change set for a stack in `REVIEW_IN_PROGRESS` is what the CDK does too (a stack
/// "with an expected StackId but without any templates or resources"): it is not deleted, since
/// deleting one that never had a template can itself fail and leave `DELETE_FAILED`.
pub fn action(name: &str, status: Option<&StackStatus>) -> Action {
    let Some(status) = status else {
        return Action::Create;
    };
    let state = status.as_str();
    match status {
        StackStatus::ReviewInProgress | StackStatus::DeleteComplete => Action::Create,
        StackStatus::RollbackComplete => Action::DeleteThenCreate,
        StackStatus::CreateComplete
        | StackStatus::UpdateComplete
        | StackStatus::UpdateRollbackComplete
        | StackStatus::ImportComplete
        | StackStatus::ImportRollbackComplete => Action::Update,
        StackStatus::RollbackFailed => Action::Refuse(format!(
            "{name}: ROLLBACK_FAILED: its first create failed and not everything it made could be removed; delete the stack (its events name what is left), then deploy again"
        )),
        StackStatus::DeleteFailed => Action::Refuse(format!(
            "{name}: DELETE_FAILED; delete it by hand (its events say what stayed), then deploy again"
        )),
        StackStatus::UpdateRollbackFailed => Action::Refuse(format!(
            "{name}: UPDATE_ROLLBACK_FAILED; finish the rollback with `aws cloudformation continue-update-rollback --stack-name {name}`, then deploy again"
        )),
        // Only a deploy with rollback turned off ends here, and only a rollback or a delete may
        // follow: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_RollbackStack.html
        StackStatus::CreateFailed | StackStatus::UpdateFailed => Action::Refuse(format!(
            "{name}: {state}: a deploy with rollback turned off failed; roll it back with `aws cloudformation rollback-stack --stack-name {name}`, then deploy again"
        )),
        StackStatus::ImportRollbackFailed => Action::Refuse(format!(
            "{name}: IMPORT_ROLLBACK_FAILED; settle it by hand (its events say why), then deploy again"
        )),
        _ if state.ends_with("_IN_PROGRESS") => {
            Action::Refuse(format!("{name}: busy ({state}); try again when it settles"))
        }
        _ => Action::Refuse(format!(
            "{name}: in a state this tool does not know (`{state}`); settle it by hand, then deploy again"
        )),
    }
}

/// What CloudFormation has under a stack's name.
#[derive(Debug)]
pub struct ExistingStack {
    pub status: StackStatus,
    /// The keys of the parameters it was deployed with.
    pub parameters: BTreeSet<String>,
    /// Their values, as DescribeStacks reports them (a `NoEcho` one masked).
    pub values: BTreeMap<String, String>,
}

/// The stack named `name`, `None` when there is no such stack.
pub async fn describe_stack(cfn: &Client, name: &str) -> anyhow::Result<Option<ExistingStack>> {
    match cfn.describe_stacks().stack_name(name).send().await {
        Ok(out) => Ok(out
            .stacks
            .unwrap_or_default()
            .into_iter()
            .next()
            .and_then(|s| {
                let parameters = s.parameters.unwrap_or_default();
                Some(ExistingStack {
                    status: s.stack_status?,
                    values: parameters
                        .iter()
                        .filter_map(|p| {
                            Some((p.parameter_key.clone()?, p.parameter_value.clone()?))
                        })
                        .collect(),
                    parameters: parameters
                        .into_iter()
                        .filter_map(|p| p.parameter_key)
                        .collect(),
                })
            })),
        Err(e) if sdk_message(&e).contains("does not exist") => Ok(None),
        Err(e) => Err(failed("DescribeStacks", e)),
    }
}

/// The change set a deploy will make: decided, and its parameters checked, before anything is
/// uploaded or created.
#[derive(Debug)]
pub struct Plan {
    /// [`Action::Create`], [`Action::DeleteThenCreate`] or [`Action::Update`].
    pub action: Action,
    pub parameters: Vec<Parameter>,
}

/// Decides what to do with the stack of `request` and resolves its parameters; refuses a stack
/// that needs a person, a parameter without a default that nobody gives, and a value kept from
/// the stack that the new template's constraints refuse.
pub async fn plan(cfn: &Client, request: &StackRequest<'_>) -> anyhow::Result<Plan> {
    let existing = describe_stack(cfn, request.name).await?;
    let action = action(request.name, existing.as_ref().map(|s| &s.status));
    let previous = match &action {
        Action::Refuse(why) => anyhow::bail!("{why}"),
        Action::Update => existing,
        Action::Create | Action::DeleteThenCreate => None,
    };
    let parameters = change_set_parameters(
        request.name,
        request.template_body,
        &request.parameters,
        previous.as_ref().map(|s| &s.parameters),
    )?;
    if let Some(stack) = &previous {
        let kept: BTreeMap<String, String> = parameters
            .iter()
            .filter(|p| p.use_previous_value == Some(true))
            .filter_map(|p| p.parameter_key.as_ref())
            .filter_map(|key| Some((key.clone(), stack.values.get(key)?.clone())))
            .collect();
        super::parameter_constraints::check_kept_values(
            request.name,
            request.template_body,
            &kept,
        )?;
    }
    Ok(Plan { action, parameters })
}

/// The parameters of a change set, by CloudFormation's rules
/// (<https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html>,
/// <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html>):
/// a parameter left out gets its default, even on an update, so one set by hand would be reset.
/// So each parameter of the template is, in this order: the value `given`; on an update, the
/// stack's own value (`UsePreviousValue`, allowed only for keys the stack has: `previous`);
/// its default (left out); or, with no default, refused with every such key named.
pub fn change_set_parameters(
    name: &str,
    template_body: &str,
    given: &[(String, String)],
    previous: Option<&BTreeSet<String>>,
) -> anyhow::Result<Vec<Parameter>> {
    let template: serde_json::Value =
        serde_json::from_str(template_body).context("the template is not JSON")?;
    let declared: BTreeMap<&str, bool> = template
        .get("Parameters")
        .and_then(serde_json::Value::as_object)
        .map(|p| {
            p.iter()
                .map(|(key, spec)| (key.as_str(), spec.get("Default").is_some()))
                .collect()
        })
        .unwrap_or_default();
    if let Some((key, _)) = given
        .iter()
        .find(|(k, _)| !declared.contains_key(k.as_str()))
    {
        anyhow::bail!("{name}: the template has no parameter `{key}`");
    }
    let mut parameters = Vec::new();
    let mut missing = Vec::new();
    for (key, has_default) in declared {
        let parameter = Parameter::builder().parameter_key(key);
        if let Some((_, value)) = given.iter().find(|(k, _)| k == key) {
            parameters.push(parameter.parameter_value(value).build());
        } else if previous.is_some_and(|p| p.contains(key)) {
            parameters.push(parameter.use_previous_value(true).build());
        } else if !has_default {
            missing.push(key);
        }
    }
    if !missing.is_empty() {
        let pass: Vec<String> = missing
            .iter()
            .map(|k| format!("--parameter {k}=VALUE"))
            .collect();
        anyhow::bail!(
            "{name}: the template's parameter {} has no default and no value yet: pass `{}` (later deploys keep it)",
            missing
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
            pass.join(" ")
        );
    }
    Ok(parameters)
}

/// How long a deploy waits, in all, for CloudFormation's stack and change-set states to settle
/// before it gives up (`groupgate deploy --max-wait`'s default). A CI job that runs a deploy
/// must outlive it, or the job is killed mid-wait with no word on the stack's state:
/// `scripts/pipeline/check-workflows.py` holds each deploy job's `timeout-minutes` above it.
pub const LONGEST_WAIT: Duration = Duration::from_secs(40 * 60);

/// How often stack and change-set states are polled, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub interval: Duration,
    /// How long one deploy waits in all (the change set, the stack's update, a delete before
    /// a create) before giving up with the stack's status and how to watch it.
    pub limit: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(5),
            limit: LONGEST_WAIT,
        }
    }
}

impl Polling {
    /// How many polls fit in the limit (at least one).
    pub fn attempts(&self) -> u32 {
        let polls = self.limit.as_millis() / self.interval.as_millis().max(1);
        u32::try_from(polls).unwrap_or(u32::MAX).max(1)
    }
}

/// The moment a deploy stops waiting on CloudFormation, and what it tells the operator then.
struct Deadline {
    at: tokio::time::Instant,
    limit: Duration,
    interval: Duration,
}

impl Deadline {
    fn start(polling: Polling) -> Self {
        Self {
            at: tokio::time::Instant::now() + polling.limit,
            limit: polling.limit,
            interval: polling.interval,
        }
    }

    /// Waits one interval; an error once the limit has passed, saying what was awaited
    /// (`waiting_for`), its last `status`, and how to follow it from here: CloudFormation
    /// carries on whether or not this tool watches
    /// (<https://docs.aws.amazon.com/cli/latest/reference/cloudformation/describe-stack-events.html>).
    async fn tick(
        &self,
        cfn: &Client,
        name: &str,
        waiting_for: &str,
        status: &str,
    ) -> anyhow::Result<()> {
        if tokio::time::Instant::now() >= self.at {
            let region = cfn
                .config()
                .region()
                .map_or_else(|| "REGION".to_owned(), ToString::to_string);
            anyhow::bail!(
                "{name}: gave up after {} waiting for {waiting_for}, still {status}; CloudFormation carries on: watch it with `aws cloudformation describe-stack-events --stack-name {name} --region {region}` or at https://console.aws.amazon.com/cloudformation/home?region={region}#/stacks, and deploy again once it settles (raise `--max-wait` and the job's timeout-minutes if deploys take this long)",
                minutes(self.limit)
            );
        }
        tokio::time::sleep(self.interval).await;
        Ok(())
    }
}

fn minutes(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 && secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// The stack's status, `None` when there is no such stack.
pub async fn stack_status(cfn: &Client, name: &str) -> anyhow::Result<Option<StackStatus>> {
    Ok(describe_stack(cfn, name).await?.map(|s| s.status))
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
        .map_err(|e| failed(&format!("DescribeStacks `{name}`"), e))?;
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
) -> anyhow::Result<Deployed> {
    let plan = plan(cfn, request).await?;
    execute(cfn, request, plan, polling).await
}

/// A change set that was executed but whose end the tool did not see (it gave up waiting, or
/// lost CloudFormation): its changes, so the caller can say what is left to do by hand.
/// It reads as the error that stopped the tool.
#[derive(Debug, thiserror::Error)]
#[error("{error:#}")]
pub struct Unfollowed {
    pub changes: Vec<ResourceChange>,
    pub error: anyhow::Error,
}

/// Carries out `plan` (from [`plan`]) for `request`.
pub async fn execute(
    cfn: &Client,
    request: &StackRequest<'_>,
    plan: Plan,
    polling: Polling,
) -> anyhow::Result<Deployed> {
    let name = request.name;
    let deadline = Deadline::start(polling);
    let kind = match plan.action {
        Action::Update => ChangeSetType::Update,
        Action::Create => ChangeSetType::Create,
        Action::DeleteThenCreate => {
            println!(
                "{name}: left in ROLLBACK_COMPLETE by its first create; deleting it to start again"
            );
            cfn.delete_stack()
                .stack_name(name)
                .send()
                .await
                .map_err(|e| failed("DeleteStack", e))?;
            wait_until_gone(cfn, name, &deadline).await?;
            ChangeSetType::Create
        }
        Action::Refuse(why) => anyhow::bail!("{why}"),
    };
    let no_changes = || {
        println!("{name}: no changes");
        Ok(Deployed {
            outcome: Outcome::NoChanges,
            changes: Vec::new(),
        })
    };
    let Some(change_set) = create_change_set(cfn, request, kind.clone(), plan.parameters).await?
    else {
        return no_changes();
    };
    let Some(changes) = change_set_ready(cfn, &change_set, request, &kind, &deadline).await? else {
        return no_changes();
    };
    let started = aws_sdk_cloudformation::primitives::DateTime::from(std::time::SystemTime::now());
    cfn.execute_change_set()
        .stack_name(name)
        .change_set_name(&change_set)
        .send()
        .await
        .map_err(|e| failed("ExecuteChangeSet", e))?;
    let last = match follow_events(cfn, name, started, &deadline).await {
        Ok(last) => last,
        Err(error) => return Err(Unfollowed { changes, error }.into()),
    };
    let outcome = match last {
        StackStatus::CreateComplete => Outcome::Created,
        StackStatus::UpdateComplete => Outcome::Updated,
        other => anyhow::bail!(
            "{name}: {}: the deploy failed; the events above say why",
            other.as_str()
        ),
    };
    println!("{name}: {}", last.as_str());
    Ok(Deployed { outcome, changes })
}

/// Creates a change set of `kind`, and returns its name; `None` when CloudFormation refuses it
/// because the template changes nothing (moto's way of saying so).
async fn create_change_set(
    cfn: &Client,
    request: &StackRequest<'_>,
    kind: ChangeSetType,
    parameters: Vec<Parameter>,
) -> anyhow::Result<Option<String>> {
    let change_set = format!(
        "groupgate-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    );
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

/// Waits for the change set and returns its resource changes (every page of them); `None` when
/// it holds no changes (and has been deleted). Refuses (and deletes) one that would replace or
/// delete a protected resource.
async fn change_set_ready(
    cfn: &Client,
    change_set: &str,
    request: &StackRequest<'_>,
    kind: &ChangeSetType,
    deadline: &Deadline,
) -> anyhow::Result<Option<Vec<ResourceChange>>> {
    let name = request.name;
    loop {
        let described = cfn
            .describe_change_set()
            .stack_name(name)
            .change_set_name(change_set)
            .send()
            .await
            .map_err(|e| failed("DescribeChangeSet", e))?;
        match described.status {
            Some(ChangeSetStatus::CreateComplete) => {
                let changes = all_changes(cfn, name, change_set, described).await?;
                let destructive: Vec<&str> = changes
                    .iter()
                    .filter(|r| {
                        let id = r.logical_resource_id.as_deref().unwrap_or_default();
                        request.protected.contains(&id)
                            && (r.action == Some(ChangeAction::Remove)
                                || matches!(
                                    r.replacement,
                                    Some(Replacement::True | Replacement::Conditional)
                                ))
                    })
                    .filter_map(|r| r.logical_resource_id.as_deref())
                    .collect();
                if !destructive.is_empty() && !request.allow_destructive {
                    delete_change_set(cfn, name, change_set).await;
                    anyhow::bail!(
                        "{name}: refusing a change that would replace or delete {}, which hold data; pass --allow-destructive if that is meant",
                        destructive.join(", ")
                    );
                }
                return Ok(Some(changes));
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = described.status_reason.unwrap_or_default();
                delete_change_set(cfn, name, change_set).await;
                if no_changes(&reason) {
                    return Ok(None);
                }
                if *kind == ChangeSetType::Create {
                    // The stack stays in REVIEW_IN_PROGRESS, with no template and no resources;
                    // the next deploy creates it with a CREATE change set (see `action`).
                    anyhow::bail!(
                        "{name}: the change set failed: {reason}. The stack stays in REVIEW_IN_PROGRESS with no resources; the next deploy creates it"
                    );
                }
                anyhow::bail!("{name}: the change set failed: {reason}");
            }
            other => {
                let status = other.as_ref().map_or("-", ChangeSetStatus::as_str);
                let waiting_for = format!("change set `{change_set}`");
                deadline.tick(cfn, name, &waiting_for, status).await?;
            }
        }
    }
}

/// The resource changes of a complete change set, `first` and the pages after it: a large change
/// set is paged (`NextToken`), and a protected resource on a later page must be seen too.
async fn all_changes(
    cfn: &Client,
    name: &str,
    change_set: &str,
    first: aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput,
) -> anyhow::Result<Vec<ResourceChange>> {
    let mut changes = Vec::new();
    let mut page = first;
    loop {
        changes.extend(
            page.changes
                .unwrap_or_default()
                .into_iter()
                .filter_map(|c| c.resource_change),
        );
        let Some(token) = page.next_token.filter(|t| !t.is_empty()) else {
            return Ok(changes);
        };
        page = cfn
            .describe_change_set()
            .stack_name(name)
            .change_set_name(change_set)
            .next_token(token)
            .send()
            .await
            .map_err(|e| failed("DescribeChangeSet", e))?;
    }
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
    deadline: &Deadline,
) -> anyhow::Result<StackStatus> {
    let mut seen = HashSet::new();
    loop {
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
            Some(s) => {
                deadline
                    .tick(cfn, name, "the stack to settle", s.as_str())
                    .await?;
            }
        }
    }
}

async fn wait_until_gone(cfn: &Client, name: &str, deadline: &Deadline) -> anyhow::Result<()> {
    loop {
        match stack_status(cfn, name).await? {
            None | Some(StackStatus::DeleteComplete) => return Ok(()),
            Some(StackStatus::DeleteFailed) => {
                anyhow::bail!("{name}: DELETE_FAILED; delete it by hand, then deploy again")
            }
            Some(s) => {
                deadline
                    .tick(cfn, name, "the stack's delete", s.as_str())
                    .await?;
            }
        }
    }
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

/// A failed CloudFormation call, with CloudFormation's error code and message.
pub(crate) fn failed<E>(call: &str, e: aws_sdk_cloudformation::error::SdkError<E>) -> anyhow::Error
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata
        + std::error::Error
        + Send
        + Sync
        + 'static,
{
    crate::aws::failed(format!("CloudFormation {call}"), e)
}
