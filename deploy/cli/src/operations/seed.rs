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
    /// The user pools the Cedar policies name as Verified Permissions does (`{userPoolId}|…`).
    pub cedar_pools: BTreeSet<String>,
}

impl PolicyFolder {
    /// Reads `dir` in the settings' policy language; any invalid definition or Cedar policy is
    /// an error, so nothing is deployed from a folder that does not load whole.
    pub fn load(dir: &std::path::Path, settings: &Settings) -> anyhow::Result<Self> {
        let groups = groups::load_for(dir, settings)?;
        let (cedar_bundle, cedar_pools) = match settings.policy_language {
            PolicyLanguage::Iam => (None, BTreeSet::new()),
            PolicyLanguage::Cedar => {
                let (bundle, pools) = crate::toolbox::cedar::bundle_json(dir, &settings.api()?)
                    .map_err(|e| e.context(format!("the Cedar policies in `{}`", dir.display())))?;
                (Some(bundle), pools)
            }
        };
        if let Some(bundle) = &cedar_bundle {
            check_bundle_size(bundle, dir)?;
        }
        Ok(Self {
            groups,
            cedar_bundle,
            cedar_pools,
        })
    }

    /// The first pool the Cedar policies name by id that is neither `own_pool` (the stack's)
    /// nor one of `[[pools]]`.
    pub fn untrusted_pool(&self, own_pool: Option<&str>, settings: &Settings) -> Option<&str> {
        let trusted =
            |pool: &str| own_pool == Some(pool) || settings.pools.iter().any(|p| p.pool_id == pool);
        self.cedar_pools
            .iter()
            .map(String::as_str)
            .find(|pool| !trusted(pool))
    }

    /// The local stack makes its own pools, with new ids: Cedar policies naming a pool by id
    /// could never match there, and the authorizer would refuse them.
    pub fn check_local(&self) -> anyhow::Result<()> {
        match self.cedar_pools.first() {
            None => Ok(()),
            Some(pool) => anyhow::bail!(
                "the Cedar policies name users or groups of the user pool `{pool}` by id (`{pool}|…`, Verified Permissions' form): the local stack makes its own pools with new ids, so they could never match there; run it on the policies with groupgate's ids, which `groupgate cedar import --user-pool-id {pool}` writes"
            ),
        }
    }

    /// The Cedar policies may name users and groups as Verified Permissions does
    /// (`{userPoolId}|admin`) only for the pools the authorizer trusts: the stack's own
    /// (`own_pool`, once the stack exists) and those of `[[pools]]`. The authorizer refuses a set
    /// naming any other pool, and every request would fail: this says so before the set is
    /// stored (and, in `deploy`, before the stack changes).
    pub fn check_named_pools(
        &self,
        own_pool: Option<&str>,
        settings: &Settings,
    ) -> anyhow::Result<()> {
        let Some(untrusted) = self.untrusted_pool(own_pool, settings) else {
            return Ok(());
        };
        let own = match own_pool {
            Some(own) => format!("the stack's pool is `{own}`"),
            None => "the stack has no pool yet: write a new stack's policies with groupgate's ids (`UserGroup::\"admin\"`) until it has one".to_owned(),
        };
        anyhow::bail!(
            "the Cedar policies name users or groups of the user pool `{untrusted}` (`{untrusted}|…`), which the authorizer does not trust ({own}; other pools are trusted by `[[pools]]` in the settings): the authorizer would refuse the set and fail every request"
        )
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

    #[test]
    fn policies_may_name_by_id_only_the_pools_the_authorizer_trusts() {
        let settings = Settings::parse(concat!(
            include_str!("../../../../examples/cedar/groupgate.toml"),
            "\n[[pools]]\ngroup_prefix = \"partners:\"\npool_id = \"eu-west-1_Partner1\"\nclient_ids = [\"c\"]\n"
        ))
        .unwrap();
        let folder = |pools: &[&str]| PolicyFolder {
            groups: Vec::new(),
            cedar_bundle: Some("{}".to_owned()),
            cedar_pools: pools.iter().map(|p| (*p).to_owned()).collect(),
        };
        let own = Some("us-east-1_Stack1");
        assert!(folder(&[]).check_named_pools(None, &settings).is_ok());
        let trusted = folder(&["us-east-1_Stack1", "eu-west-1_Partner1"]);
        assert!(trusted.check_named_pools(own, &settings).is_ok());
        // A mistyped id, or the stack's own before the stack exists.
        let error = folder(&["us-east-1_Stack2"])
            .check_named_pools(own, &settings)
            .unwrap_err()
            .to_string();
        assert!(error.contains("`us-east-1_Stack2`"), "{error}");
        assert!(
            error.contains("the stack's pool is `us-east-1_Stack1`"),
            "{error}"
        );
        let error = trusted.check_named_pools(None, &settings).unwrap_err();
        assert!(error.to_string().contains("has no pool yet"), "{error}");
        // The local stack's pools have new ids: any named pool is refused there.
        assert!(folder(&[]).check_local().is_ok());
        let error = trusted.check_local().unwrap_err().to_string();
        assert!(error.contains("groupgate cedar import"), "{error}");
    }
}
