//! The policy toolbox: `explain`, `validate` and `simulate`, on the authorizer's own code. A
//! group's entry is parsed by [`groupgate_shared::PolicyDocument::from_json`] (what the
//! authorizer does with a policy-table item), merged by [`MergedPolicy::for_request`], decided by
//! [`MergedPolicy::decide`], and rendered by [`ReturnedPolicy`]: the same functions, so
//! the tools cannot disagree with the authorizer. Every decision is also held to
//! [`groupgate_shared::reference`], an independent evaluator of the returned policy.
//!
//! - [`explain`]: why one request is allowed or denied;
//! - [`simulate`]: every group against every route, and the committed access matrix;
//! - [`validate`]: lints `policies/`;
//! - [`cedar`]: the three on Cedar policies (`policy_language = "cedar"`), decided by
//!   `groupgate-cedar`.

pub mod cedar;
pub mod explain;
pub mod simulate;
pub mod validate;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_dynamodb::types::AttributeValue;
use groupgate_shared::{
    GroupPolicy, INVOKE_ACTION, MergedPolicy, MethodArn, RequestFacts, ReturnedPolicy,
};
use serde_json::Value;

use crate::exit::{Undecided, UsageError};
use crate::stack::{Api, groups};

/// The method ARN's fixed parts offline: policies match them with wildcards, and the tools
/// say so when one does not.
pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";
pub const API_ID: &str = "api0000000";

/// The sample value a route's path parameter takes (`/pets/{id}` is asked as `/pets/1`).
pub const SAMPLE_PARAMETER: &str = "1";

/// Writes `text` to stdout; a closed pipe (`| head`) ends the output quietly.
pub fn print(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// Every group's entry, as the authorizer would read it from the policy table.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub groups: Vec<Arc<GroupPolicy>>,
    /// Where they came from, for messages.
    pub source: String,
}

impl Catalogue {
    /// From the group definitions in `dir`, each policy parsed as the authorizer parses the
    /// text the seed writes.
    pub fn from_dir(dir: &Path) -> anyhow::Result<Self> {
        let definitions = groups::load(dir)?;
        let groups = definitions
            .iter()
            .map(|d| Arc::new(d.group_policy()))
            .collect();
        Ok(Self {
            groups,
            source: dir.display().to_string(),
        })
    }

    /// From a live policy table, each item read as the authorizer reads it.
    pub async fn from_table(
        client: &aws_sdk_dynamodb::Client,
        table: &str,
    ) -> anyhow::Result<Self> {
        let mut pages = client.scan().table_name(table).into_paginator().send();
        let mut groups = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| crate::aws::failed("DynamoDB Scan", e))?;
            for item in page.items() {
                let item: &HashMap<String, AttributeValue> = item;
                if let Some(group) = GroupPolicy::from_item(item) {
                    groups.push(Arc::new(group));
                }
            }
        }
        groups.sort_by(|a, b| a.group.cmp(&b.group));
        Ok(Self {
            groups,
            source: format!("table {table}"),
        })
    }

    /// The names of every group.
    pub fn names(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.group.as_str()).collect()
    }

    /// The entries of `names`, in the order given, as the authorizer's store returns them: a
    /// group the table does not hold has no entry (and so grants nothing).
    pub fn select(&self, names: &[String]) -> Vec<Arc<GroupPolicy>> {
        names
            .iter()
            .filter_map(|n| self.groups.iter().find(|g| &g.group == n).cloned())
            .collect()
    }
}

/// One request: a method on a path of the API, from an address.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub source_ip: Option<IpAddr>,
    pub stage: String,
}

impl Request {
    /// The method ARN API Gateway would send, or what is wrong with the request.
    pub fn method_arn(&self) -> anyhow::Result<MethodArn> {
        let usage = |message: String| anyhow::Error::new(UsageError(message));
        if !self.path.starts_with('/') {
            return Err(usage(format!("path `{}` must start with `/`", self.path)));
        }
        let method = self.method.as_str();
        let known = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
        if !known.contains(&method) {
            return Err(usage(format!(
                "method `{method}` is not one of {} (in capitals)",
                known.join(", ")
            )));
        }
        MethodArn::for_request(REGION, ACCOUNT, API_ID, &self.stage, method, &self.path)
            .map_err(|e| usage(e.to_string()))
    }
}

/// What the authorizer decides for `groups` on `request`, and the policy it returns.
pub struct Evaluation {
    pub policy: ReturnedPolicy,
    pub method_arn: MethodArn,
    /// The policy document returned to API Gateway.
    pub returned: Value,
}

impl Evaluation {
    pub fn new(groups: Vec<Arc<GroupPolicy>>, request: &Request) -> anyhow::Result<Self> {
        let method_arn = request.method_arn()?;
        let facts = RequestFacts {
            source_ip: request.source_ip,
        };
        let merged = MergedPolicy::for_request(groups, &facts);
        let policy = ReturnedPolicy::new(merged, &method_arn);
        let returned = serde_json::to_value(&policy)?;
        Ok(Self {
            policy,
            method_arn,
            returned,
        })
    }

    pub fn decision(&self) -> groupgate_shared::Decision<'_> {
        self.policy
            .merged()
            .decide(INVOKE_ACTION, self.method_arn.as_str())
    }

    /// The reference evaluator's reading of the returned policy on this request.
    pub fn reference_allows(&self) -> Result<bool, String> {
        groupgate_shared::reference::allows(&self.returned, INVOKE_ACTION, self.method_arn.as_str())
    }
}

/// The status a call usually ends in: 201 for an allowed POST (the API's POSTs create), 200
/// for another allowed call, 403 for a Deny.
pub fn usual_status(allow: bool, method: &str) -> u16 {
    match (allow, method) {
        (false, _) => 403,
        (true, "POST") => 201,
        (true, _) => 200,
    }
}

/// The methods an `ANY` operation is asked with: those a caller's policy is usually written for
/// (a method ARN names the request's own method, never `ANY`).
const ANY_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The API's routes as (method, route, path asked): each path parameter takes a sample value,
/// an `ANY` operation is asked with each of [`ANY_METHODS`] it does not have on its own. The
/// unauthenticated CORS preflights are not routes of the access rules.
pub fn routes(api: &Api) -> Vec<(String, String, String)> {
    let mut routes = Vec::new();
    for operation in &api.operations {
        let path = operation
            .path
            .split('/')
            .map(|part| {
                if part.starts_with('{') && part.ends_with('}') {
                    SAMPLE_PARAMETER
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let methods: Vec<&str> = if operation.method == "ANY" {
            ANY_METHODS
                .into_iter()
                .filter(|m| {
                    !api.operations
                        .iter()
                        .any(|o| o.path == operation.path && o.method == *m)
                })
                .collect()
        } else {
            vec![operation.method.as_str()]
        };
        for method in methods {
            routes.push((method.to_owned(), operation.path.clone(), path.clone()));
        }
    }
    routes
}

/// Reads the policies from `table` when given (the local stack's emulator when it names one
/// of its tables), else from `dir`. A table that cannot be read means the tool cannot decide.
pub async fn load(dir: &Path, table: Option<&str>) -> anyhow::Result<Catalogue> {
    match table {
        Some(table) => {
            let read = async {
                let client = crate::description::table_client(table).await?;
                Catalogue::from_table(&client, table).await
            };
            read.await.context(Undecided(format!(
                "could not read the policy table `{table}`"
            )))
        }
        None if !dir.is_dir() => Err(anyhow::Error::new(UsageError(format!(
            "the policies folder `{}` does not exist",
            dir.display()
        )))),
        None => {
            Catalogue::from_dir(dir).with_context(|| format!("policies in `{}`", dir.display()))
        }
    }
}
