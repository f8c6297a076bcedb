//! Brings the running local stack in line with `policies/` without a restart: the policy table
//! re-seeded, each new group created with its role and demo user (by [`provision`]'s own
//! functions), each removed group deleted with its role and demo user, the description
//! rewritten, and the local gateway's authorizer cache flushed.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;

use super::provision::{self, sdk};
use crate::description::{self, DemoUser, StackDescription};
use crate::operations::seed;
use crate::stack::Settings;
use crate::stack::groups::GroupDefinition;

/// What a sync changed, by group name.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub added: Vec<String>,
    /// Groups whose policy or precedence changed.
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl fmt::Display for SyncReport {
    /// One line: `policies: +new ~changed -removed`, or `policies: no change`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let marks = [
            ("+", &self.added),
            ("~", &self.changed),
            ("-", &self.removed),
        ];
        let parts: Vec<String> = marks
            .iter()
            .flat_map(|(mark, names)| names.iter().map(move |n| format!("{mark}{n}")))
            .collect();
        if parts.is_empty() {
            write!(f, "policies: no change")
        } else {
            write!(f, "policies: {}", parts.join(" "))
        }
    }
}

/// The running local stack: its description and where it is kept.
pub(crate) fn running() -> anyhow::Result<(StackDescription, std::path::PathBuf)> {
    let described = StackDescription::running_local()?;
    Ok((described, description::local_file()))
}

/// Writes the local stack's description back, owner-only as provisioning writes it.
pub(crate) fn save(described: &StackDescription, path: &Path) -> anyhow::Result<()> {
    provision::write_private(path, &(serde_json::to_string_pretty(described)? + "\n"))
}

/// Syncs the running local stack with the group definitions in `policies` (and with Cedar its
/// `*.cedar` policies, as one bundle). A definition or a Cedar policy that does not load
/// changes nothing.
pub async fn sync(policies: &Path, settings: &Settings) -> anyhow::Result<SyncReport> {
    let (mut described, path) = running()?;
    let folder = seed::PolicyFolder::load(policies, settings)
        .context("policies not applied (the running stack keeps its own)")?;
    folder
        .check_local()
        .context("policies not applied (the running stack keeps its own)")?;
    let definitions = &folder.groups;
    let cognito = described.cognito().await?;
    let dynamodb = described.dynamodb().await?;
    let iam = described.iam().await?;
    let outputs = &described.outputs;
    let (pool, table) = (
        outputs.user_pool_id.clone(),
        outputs.policy_table_name.clone(),
    );
    let stored = stored_policies(&dynamodb, &table).await?;
    let mut roles = outputs.group_role_arns.clone();

    let mut report = SyncReport::default();
    // The local pool's groups each have a Cognito group, a role and a demo user; scopes and
    // other pools' groups are only seeded.
    let local_groups: Vec<&GroupDefinition> = definitions
        .iter()
        .filter(|d| d.stack_group().is_some())
        .collect();
    let new: Vec<GroupDefinition> = local_groups
        .iter()
        .filter(|d| !roles.contains_key(&d.key))
        .map(|d| (*d).clone())
        .collect();
    report.changed = changed(definitions, &roles, &stored);
    if let Some(bundle) = &folder.cedar_bundle
        && stored.get(seed::CEDAR_BUNDLE_KEY).map(|(text, _)| text) != Some(bundle)
    {
        report.changed.push(seed::CEDAR_BUNDLE_KEY.to_owned());
    }
    for definition in local_groups.iter().filter(|d| roles.contains_key(&d.key)) {
        provision::update_group(
            &cognito,
            &pool,
            definition,
            roles.get(&definition.key).cloned(),
        )
        .await?;
    }
    let removed = removed(&described, &roles, &local_groups);

    let created = provision::create_groups(&iam, &cognito, &pool, &new).await?;
    roles.extend(created);
    // What now exists is written down at once, before the users: a later step's failure must
    // not leave groups the description does not know.
    described.outputs.group_role_arns = roles.clone();
    save(&described, &path)?;
    let users: Vec<_> = new.iter().map(|g| provision::demo_user(&g.key)).collect();
    provision::create_users(&cognito, &pool, &users).await?;
    let local = described
        .local
        .as_mut()
        .context("the description has no local parts")?;
    local.users.extend(users);
    let mut kept = roles.clone();
    kept.retain(|group, _| !removed.contains(group));
    save(&described, &path)?;
    seed::seed(&dynamodb, &table, folder.seed(), &kept, true).await?;

    let local = described
        .local
        .as_mut()
        .context("the description has no local parts")?;
    for group in &removed {
        remove_group(&cognito, &iam, &pool, group, &roles).await?;
        remove_demo_user(&cognito, &pool, group, &mut local.users).await?;
    }
    report.added = new.into_iter().map(|g| g.key).collect();
    report.removed = removed;
    described.outputs.group_role_arns = kept;
    save(&described, &path)?;
    local_gateway::flush_cache(&described.outputs.api_url).await?;
    Ok(report)
}

/// The definitions already stored (or given a role) whose policy or precedence is not what is
/// stored.
fn changed(
    definitions: &[GroupDefinition],
    roles: &BTreeMap<String, String>,
    stored: &HashMap<String, (String, String)>,
) -> Vec<String> {
    definitions
        .iter()
        .filter(|d| roles.contains_key(&d.key) || stored.contains_key(&d.key))
        .filter(|d| {
            stored.get(&d.key)
                != Some(&(
                    d.policy_text().unwrap_or_default(),
                    d.precedence.to_string(),
                ))
        })
        .map(|d| d.key.clone())
        .collect()
}

/// The local pool's groups no longer defined. Other pools' groups are made when the stack
/// starts; a sync leaves them as they are.
fn removed(
    described: &StackDescription,
    roles: &BTreeMap<String, String>,
    local_groups: &[&GroupDefinition],
) -> Vec<String> {
    let other_pools: Vec<&str> = described
        .local
        .as_ref()
        .map(|l| l.pools.iter().map(|p| p.group_prefix.as_str()).collect())
        .unwrap_or_default();
    roles
        .keys()
        .filter(|g| !local_groups.iter().any(|d| &d.key == *g))
        .filter(|g| !other_pools.iter().any(|prefix| g.starts_with(prefix)))
        .cloned()
        .collect()
}

/// Each stored group's (policy text, precedence), as `seed` writes them.
async fn stored_policies(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> anyhow::Result<HashMap<String, (String, String)>> {
    let mut pages = dynamodb
        .scan()
        .table_name(table)
        .into_paginator()
        .items()
        .send();
    let mut stored = HashMap::new();
    while let Some(item) = pages.next().await {
        let item = item.map_err(|e| crate::aws::failed(format!("scanning `{table}`"), e))?;
        let text = |key: &str| match item.get(key) {
            Some(AttributeValue::S(s) | AttributeValue::N(s)) => s.clone(),
            _ => String::new(),
        };
        let group = text("group");
        let stored_value = match group == seed::CEDAR_BUNDLE_KEY {
            true => (text(seed::CEDAR_BUNDLE_ATTRIBUTE), String::new()),
            false => (text("policy"), text("precedence")),
        };
        stored.insert(group, stored_value);
    }
    Ok(stored)
}

/// Deletes `group`'s demo user, and takes `group` off every user the description lists.
async fn remove_demo_user(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool: &str,
    group: &str,
    users: &mut Vec<DemoUser>,
) -> anyhow::Result<()> {
    let demo = provision::demo_username(group);
    if users.iter().any(|u| u.username == demo) {
        delete_user(cognito, pool, &demo).await?;
    }
    users.retain(|u| u.username != demo);
    for user in users.iter_mut() {
        user.groups.retain(|g| g != group);
    }
    Ok(())
}

/// Deletes the user `user`; one already gone (an earlier sync stopped half-way, or by hand) is
/// what was wanted.
async fn delete_user(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    pool: &str,
    user: &str,
) -> anyhow::Result<()> {
    let deleted = cognito
        .admin_delete_user()
        .user_pool_id(pool)
        .username(user)
        .send()
        .await;
    if let Err(e) = deleted
        && !e
            .as_service_error()
            .is_some_and(|e| e.is_user_not_found_exception())
    {
        return Err(sdk(&format!("Cognito AdminDeleteUser `{user}`"))(e));
    }
    Ok(())
}

/// Deletes the Cognito group `group` and its IAM role (named by the last part of its ARN).
async fn remove_group(
    cognito: &aws_sdk_cognitoidentityprovider::Client,
    iam: &aws_sdk_iam::Client,
    pool: &str,
    group: &str,
    roles: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    // Each step accepts what is already gone, so a sync stopped half-way is finished by the
    // next one rather than stuck on it.
    let deleted = cognito
        .delete_group()
        .user_pool_id(pool)
        .group_name(group)
        .send()
        .await;
    if let Err(e) = deleted
        && !e
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception())
    {
        return Err(sdk(&format!("Cognito DeleteGroup `{group}`"))(e));
    }
    if let Some(role) = roles.get(group).and_then(|arn| arn.rsplit('/').next()) {
        let deleted = iam.delete_role().role_name(role).send().await;
        if let Err(e) = deleted
            && !e
                .as_service_error()
                .is_some_and(|e| e.is_no_such_entity_exception())
        {
            return Err(sdk(&format!("IAM DeleteRole `{role}`"))(e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_is_one_line_of_marks() {
        assert_eq!(SyncReport::default().to_string(), "policies: no change");
        let report = SyncReport {
            added: vec!["pet-groomer".into()],
            changed: vec!["admin".into()],
            removed: vec!["pet-viewer".into(), "x".into()],
        };
        assert_eq!(
            report.to_string(),
            "policies: +pet-groomer ~admin -pet-viewer -x"
        );
    }
}
