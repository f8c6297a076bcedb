//! Seeds the policy table from the group definitions: every definition written, and (unless told
//! otherwise) every group no longer defined removed, so `policies/` stays the source of truth.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::stack::groups::GroupDefinition;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct SeedReport {
    pub written: Vec<String>,
    pub removed: Vec<String>,
}

/// Writes every definition of `groups` to `table`, with the role `roles` names for it; with
/// `prune`, removes the items of groups no longer defined.
pub async fn seed(
    client: &Client,
    table: &str,
    groups: &[GroupDefinition],
    roles: &BTreeMap<String, String>,
    prune: bool,
) -> anyhow::Result<SeedReport> {
    if let Some(unknown) = roles.keys().find(|g| !groups.iter().any(|d| &d.key == *g)) {
        anyhow::bail!("a role is given for group `{unknown}`, which has no definition");
    }
    let mut report = SeedReport::default();
    for group in groups {
        // An update, not a put: a group whose role is not given keeps the `role_arn` it has, so
        // a re-seed by hand without the roles can never strip them (access tokens carry no
        // `cognito:preferred_role`, so a stripped role is a 403 for every call).
        let mut set = "SET #p = :p, #n = :n".to_owned();
        let mut update = client
            .update_item()
            .table_name(table)
            .key("group", AttributeValue::S(group.key.clone()))
            .expression_attribute_names("#p", "policy")
            .expression_attribute_names("#n", "precedence")
            .expression_attribute_values(":p", AttributeValue::S(group.policy_text()))
            .expression_attribute_values(":n", AttributeValue::N(group.precedence.to_string()));
        if let Some(role) = roles.get(&group.key) {
            set.push_str(", #r = :r");
            update = update
                .expression_attribute_names("#r", "role_arn")
                .expression_attribute_values(":r", AttributeValue::S(role.clone()));
        }
        update
            .update_expression(set)
            .send()
            .await
            .map_err(|e| crate::aws::failed(format!("writing `{}` to `{table}`", group.key), e))?;
        report.written.push(group.key.clone());
    }
    if prune {
        report.removed = prune_undefined(client, table, groups).await?;
    }
    Ok(report)
}

/// Deletes the items of groups that `groups` does not define; returns their names.
async fn prune_undefined(
    client: &Client,
    table: &str,
    groups: &[GroupDefinition],
) -> anyhow::Result<Vec<String>> {
    let defined: BTreeSet<&str> = groups.iter().map(|g| g.key.as_str()).collect();
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
