//! Seeds the policy table from the group definitions: every definition written, and (unless told
//! otherwise) every group no longer defined removed, so `policies/` stays the source of truth.
//!
//! With Cedar policies a group's item has no `policy` (a stale one is removed), and one more
//! item, keyed [`CEDAR_BUNDLE_KEY`], holds the Cedar bundle the authorizer decides with. Pruning
//! removes that item when a deployment goes back to IAM, as it removes any key not defined.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::stack::Settings;
use crate::stack::groups::{self, GroupDefinition};
use crate::stack::settings::PolicyLanguage;

pub use groupgate_cedar::{
    BUNDLE_ATTRIBUTE as CEDAR_BUNDLE_ATTRIBUTE, BUNDLE_KEY as CEDAR_BUNDLE_KEY,
};

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub written: Vec<String>,
    pub removed: Vec<String>,
}

/// DynamoDB's item size limit, names and values included: "The maximum item size in DynamoDB
/// is 400 KB"
/// (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html#limits-items>).
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The bundle must fit in its one item, or the seed would fail after the stack update had
/// already switched the authorizer to Cedar (every request then fails): checked when the
/// folder is read, before anything is deployed.
fn check_bundle_size(bundle: &str, dir: &std::path::Path) -> anyhow::Result<()> {
    let item = "group".len() + CEDAR_BUNDLE_KEY.len() + CEDAR_BUNDLE_ATTRIBUTE.len() + bundle.len();
    if item > MAX_ITEM_BYTES {
        anyhow::bail!(
            "the Cedar policies in `{}` make a bundle of {} bytes, over DynamoDB's item limit of {MAX_ITEM_BYTES} bytes (400 KB): shorten or merge policies",
            dir.display(),
            bundle.len()
        );
    }
    Ok(())
}

/// What is seeded: the group definitions, and with Cedar the bundle's JSON.
#[derive(Debug, Clone, Copy)]
pub struct Seed<'a> {
    pub groups: &'a [GroupDefinition],
    /// The Cedar bundle (schema, policies, application) as JSON; `None` for IAM policies.
    pub cedar_bundle: Option<&'a str>,
}

impl<'a> Seed<'a> {
    /// IAM group definitions, each with its policy.
    pub fn iam(groups: &'a [GroupDefinition]) -> Self {
        Self {
            groups,
            cedar_bundle: None,
        }
    }
}

/// A policies folder as a deployment seeds it: the group definitions (with their IAM policies,
/// or without with Cedar), and with Cedar the bundle of its `*.cedar` files.
#[derive(Debug)]
pub struct PolicyFolder {
    pub groups: Vec<GroupDefinition>,
    pub cedar_bundle: Option<String>,
}

impl PolicyFolder {
    /// Reads `dir` in the settings' policy language; any invalid definition or Cedar policy is
    /// an error, so nothing is deployed from a folder that does not load whole.
    pub fn load(dir: &std::path::Path, settings: &Settings) -> anyhow::Result<Self> {
        let groups = groups::load_for(dir, settings)?;
        let cedar_bundle = match settings.policy_language {
            PolicyLanguage::Iam => None,
            PolicyLanguage::Cedar => Some(
                crate::toolbox::cedar::bundle_json(dir, &settings.api()?)
                    .map_err(|e| e.context(format!("the Cedar policies in `{}`", dir.display())))?,
            ),
        };
        if let Some(bundle) = &cedar_bundle {
            check_bundle_size(bundle, dir)?;
        }
        Ok(Self {
            groups,
            cedar_bundle,
        })
    }

    /// What [`seed`] writes of it.
    pub fn seed(&self) -> Seed<'_> {
        Seed {
            groups: &self.groups,
            cedar_bundle: self.cedar_bundle.as_deref(),
        }
    }
}

/// Writes every definition of `seed` to `table`, with the role `roles` names for it, and the
/// Cedar bundle if there is one; with `prune`, removes the items of groups no longer defined
/// (and the bundle's, when there is none).
pub async fn seed(
    client: &Client,
    table: &str,
    seed: Seed<'_>,
    roles: &BTreeMap<String, String>,
    prune: bool,
) -> anyhow::Result<SeedReport> {
    let groups = seed.groups;
    if let Some(unknown) = roles.keys().find(|g| !groups.iter().any(|d| &d.key == *g)) {
        anyhow::bail!("a role is given for group `{unknown}`, which has no definition");
    }
    if let Some(clash) = groups.iter().find(|g| g.key == CEDAR_BUNDLE_KEY) {
        anyhow::bail!(
            "group `{}` has the policy table's key of the Cedar bundle: rename it",
            clash.key
        );
    }
    let mut report = SeedReport::default();
    for group in groups {
        // An update, not a put: a group whose role is not given keeps the `role_arn` it has, so
        // a re-seed by hand without the roles can never strip them (access tokens carry no
        // `cognito:preferred_role`, so a stripped role is a 403 for every call).
        let mut set = "SET #n = :n".to_owned();
        let mut update = client
            .update_item()
            .table_name(table)
            .key("group", AttributeValue::S(group.key.clone()))
            .expression_attribute_names("#p", "policy")
            .expression_attribute_names("#n", "precedence")
            .expression_attribute_values(":n", AttributeValue::N(group.precedence.to_string()));
        if let Some(policy) = group.policy_text() {
            set.push_str(", #p = :p");
            update = update.expression_attribute_values(":p", AttributeValue::S(policy));
        }
        if let Some(role) = roles.get(&group.key) {
            set.push_str(", #r = :r");
            update = update
                .expression_attribute_names("#r", "role_arn")
                .expression_attribute_values(":r", AttributeValue::S(role.clone()));
        }
        if group.policy.is_none() {
            // A Cedar definition: an IAM policy left from an IAM deployment must not outlive it.
            set.push_str(" REMOVE #p");
        }
        update
            .update_expression(set)
            .send()
            .await
            .map_err(|e| crate::aws::failed(format!("writing `{}` to `{table}`", group.key), e))?;
        report.written.push(group.key.clone());
    }
    if let Some(bundle) = seed.cedar_bundle {
        // UpdateItem, as for the groups: the deploy role's one write action on the table.
        client
            .update_item()
            .table_name(table)
            .key("group", AttributeValue::S(CEDAR_BUNDLE_KEY.to_owned()))
            .update_expression("SET #c = :c")
            .expression_attribute_names("#c", CEDAR_BUNDLE_ATTRIBUTE)
            .expression_attribute_values(":c", AttributeValue::S(bundle.to_owned()))
            .send()
            .await
            .map_err(|e| {
                crate::aws::failed(format!("writing the Cedar policies to `{table}`"), e)
            })?;
        report.written.push(CEDAR_BUNDLE_KEY.to_owned());
    }
    if prune {
        let mut defined: BTreeSet<&str> = groups.iter().map(|g| g.key.as_str()).collect();
        if seed.cedar_bundle.is_some() {
            defined.insert(CEDAR_BUNDLE_KEY);
        }
        report.removed = prune_undefined(client, table, &defined).await?;
    }
    Ok(report)
}

/// Deletes the items whose keys `defined` does not hold; returns their names.
async fn prune_undefined(
    client: &Client,
    table: &str,
    defined: &BTreeSet<&str>,
) -> anyhow::Result<Vec<String>> {
    let mut pages = client
        .scan()
        .table_name(table)
        .projection_expression("#g")
        .expression_attribute_names("#g", "group")
        .into_paginator()
        .items()
        .send();
    let mut stale = Vec::new();
    while let Some(item) = pages.next().await {
        let item = item.map_err(|e| crate::aws::failed(format!("scanning `{table}`"), e))?;
        if let Some(AttributeValue::S(group)) = item.get("group")
            && !defined.contains(group.as_str())
        {
            stale.push(group.clone());
        }
    }
    for group in &stale {
        client
            .delete_item()
            .table_name(table)
            .key("group", AttributeValue::S(group.clone()))
            .send()
            .await
            .map_err(|e| {
                crate::aws::failed(format!("removing group `{group}` from `{table}`"), e)
            })?;
    }
    Ok(stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_over_dynamodbs_item_limit_is_refused_naming_it() {
        let dir = std::path::Path::new("policies");
        assert!(check_bundle_size(&"x".repeat(MAX_ITEM_BYTES - 100), dir).is_ok());
        let error = check_bundle_size(&"x".repeat(MAX_ITEM_BYTES), dir)
            .unwrap_err()
            .to_string();
        assert!(error.contains("400 KB"), "{error}");
        assert!(error.contains("`policies`"), "{error}");
    }
}
