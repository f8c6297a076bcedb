//! What the moto tests share.

use std::collections::BTreeSet;

use serde_json::Value;

/// The logical ids of `template` that the stack `name` in moto does not list: moto's
/// CloudFormation skips what it does not implement (and lists it without a logical id), and
/// resources whose condition is false are not created.
pub async fn not_created(
    cfn: &aws_sdk_cloudformation::Client,
    name: &str,
    template: &Value,
) -> BTreeSet<String> {
    let listed: BTreeSet<String> = cfn
        .list_stack_resources()
        .stack_name(name)
        .send()
        .await
        .unwrap()
        .stack_resource_summaries
        .unwrap()
        .into_iter()
        .filter_map(|r| r.logical_resource_id)
        .collect();
    template["Resources"]
        .as_object()
        .unwrap()
        .keys()
        .filter(|id| !listed.contains(*id))
        .cloned()
        .collect()
}
