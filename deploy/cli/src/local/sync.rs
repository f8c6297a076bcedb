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
use crate::stack::groups::{self, GroupDefinition};

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

/// Syncs the running local stack with the group definitions in `policies`. A definition that
/// does not load changes nothing.
pub async fn sync(policies: &Path) -> anyhow::Result<SyncReport> {
    let (mut described, path) = running()?;
    let definitions = groups::load(policies).map_err(|e| {
        anyhow::Error::new(e).context("policies not applied (the running stack keeps its own)")
    })?;
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
    for definition in definitions.iter() {
        let wanted = (definition.policy_text(), definition.precedence.to_string());
        let known = roles.contains_key(&definition.key) || stored.contains_key(&definition.key);
        if known && stored.get(&definition.key) != Some(&wanted) {
            report.changed.push(definition.key.clone());
        }
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
    let removed: Vec<String> = roles
        .keys()
        .filter(|g| !local_groups.iter().any(|d| &d.key == *g))
        .cloned()
        .collect();

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
    seed::seed(&dynamodb, &table, &definitions, &kept, true).await?;

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
        stored.insert(text("group"), (text("policy"), text("precedence")));
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
