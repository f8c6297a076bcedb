//! `groupgate deploy-policies`: a change to the group policies alone, deployed without building
//! the functions or updating the stack, the pipeline's fast path for a push that changes only
//! `policies/` (and the access matrix).
//!
//! A policy's statements live only in the policy table; the template holds each group's name,
//! precedence, description and pets-table access (its Cognito group and IAM role). So the fast
//! path is sound only while the stack runs the template this checkout makes, apart from the
//! functions' code: it reads the deployed template (`GetTemplate`) and refuses, naming the
//! first difference, when a group was added or removed, a template field of one changed, or the
//! stack is behind this checkout in any other way. Then it seeds the table, removing groups no
//! longer defined, and flushes the stage's authorizer cache twice, as `groupgate deploy` does.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use aws_config::SdkConfig;
use serde_json::Value;

use super::cloudformation::{self, Action};
use super::deploy::{Target, flush_authorizer_cache, outputs_from_resources};
use super::seed;
use crate::stack::{self, Settings, StackOutputs, assets::Assets, groups};

/// What to deploy, and how.
pub struct PolicyDeployRequest<'a> {
    pub stack_name: &'a str,
    pub policies: &'a Path,
    pub settings: &'a Settings,
    /// Where the stack's description is written (`stack.json`, as `groupgate describe` prints
    /// it), for the smoke test.
    pub out: &'a Path,
    /// How long to wait between the two authorizer cache flushes.
    pub flush_wait: Duration,
    /// For emulators only: derive the outputs from the stack's resources when the stack
    /// reports none (moto's change sets compute no outputs).
    pub outputs_from_resources: bool,
}

/// What a policy deploy did.
#[derive(Debug)]
pub struct PolicyDeployReport {
    /// The groups written to the policy table.
    pub written: Vec<String>,
    /// The groups removed from it: no longer defined.
    pub removed: Vec<String>,
    /// How many authorizer cache flushes succeeded, or why one failed.
    pub flushes: Result<u32, String>,
}

/// Deploys the group policies of `request.policies` to the stack, as the module says.
pub async fn deploy_policies(
    aws: &SdkConfig,
    request: &PolicyDeployRequest<'_>,
) -> anyhow::Result<PolicyDeployReport> {
    let name = request.stack_name;
    let folder = seed::PolicyFolder::load(request.policies, request.settings)?;
    let groups = &folder.groups;
    let cfn = aws_sdk_cloudformation::Client::new(aws);
    match cloudformation::action(
        name,
        cloudformation::stack_status(&cfn, name).await?.as_ref(),
    ) {
        Action::Update => {}
        Action::Refuse(why) => anyhow::bail!("{why}"),
        Action::Create | Action::DeleteThenCreate => anyhow::bail!(
            "{name}: no deployed stack to seed; deploy it first with `groupgate deploy --stack-name {name}`"
        ),
    }

    check_template(&cfn, request, groups).await?;

    let outputs = described_outputs(aws, &cfn, request, groups).await?;
    folder.check_named_pools(Some(&outputs.user_pool_id), request.settings)?;

    let policy_table = &outputs.policy_table_name;
    let dynamodb = aws_sdk_dynamodb::Client::new(aws);
    let seeded = seed::seed(
        &dynamodb,
        policy_table,
        folder.seed(),
        &outputs.group_role_arns,
        true,
    )
    .await?;
    for group in &seeded.written {
        println!("{name}: wrote the policy of group `{group}` to {policy_table}");
    }
    for group in &seeded.removed {
        println!("{name}: removed group `{group}` from {policy_table}: no longer defined");
    }

    let apigateway = aws_sdk_apigateway::Client::new(aws);
    let flushes = flush_authorizer_cache(
        &apigateway,
        &outputs.rest_api_id,
        &outputs.stage_name,
        request.flush_wait,
    )
    .await;
    if let Err(e) = &flushes {
        println!(
            "{name}: WARNING: the authorizer cache was not flushed ({e}); changed group policies apply once API Gateway's cached results expire, within {} s",
            request.settings.authorizer_ttl_seconds
        );
    }
    println!(
        "{name}: policies deployed ({} groups); API at {}",
        seeded.written.len(),
        outputs.api_url
    );
    Ok(PolicyDeployReport {
        written: seeded.written,
        removed: seeded.removed,
        flushes,
    })
}

/// The stack's outputs (derived from its resources where moto leaves them out, when the request
/// allows it), written to `stack.json` in `request.out` as `describe` prints them.
async fn described_outputs(
    aws: &SdkConfig,
    cfn: &aws_sdk_cloudformation::Client,
    request: &PolicyDeployRequest<'_>,
    groups: &[groups::GroupDefinition],
) -> anyhow::Result<StackOutputs> {
    let name = request.stack_name;
    let outputs = cloudformation::read_outputs(cfn, name).await?;
    let outputs = match StackOutputs::from_outputs(name, &outputs) {
        Ok(outputs) => outputs,
        Err(e) if request.outputs_from_resources => {
            println!("{name}: {e}; deriving the outputs from its resources");
            let target = Target::of(aws).await?;
            outputs_from_resources(cfn, &target, request.settings, groups, name).await?
        }
        Err(e) => return Err(e.into()),
    };
    super::write_description(request.out, outputs)
}

/// Refuses, naming the first difference, unless the stack runs the template `request.policies`
/// makes, apart from the functions' code.
async fn check_template(
    cfn: &aws_sdk_cloudformation::Client,
    request: &PolicyDeployRequest<'_>,
    groups: &[groups::GroupDefinition],
) -> anyhow::Result<()> {
    let name = request.stack_name;
    // Original is the template as submitted; this stack has no transforms, so it is also the
    // one that runs: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_GetTemplate.html
    let deployed = cfn
        .get_template()
        .stack_name(name)
        .template_stage(aws_sdk_cloudformation::types::TemplateStage::Original)
        .send()
        .await
        .map_err(|e| cloudformation::failed(&format!("GetTemplate {name}"), e))?
        .template_body
        .with_context(|| format!("{name}: GetTemplate returned no template"))?;
    let deployed: Value = serde_json::from_str(&deployed)
        .with_context(|| format!("{name}: the deployed template is not JSON"))?;
    let wanted = stack::build(
        groups,
        &request.settings.api()?,
        &Assets::placeholder(&stack::FUNCTIONS),
        request.settings,
    )
    .to_template()?;
    if let Some(difference) = template_difference(&deployed, &wanted) {
        anyhow::bail!(
            "{name}: the stack's template differs from the one {} makes, at `{difference}` (a group added or removed, a group's precedence, description or pets_table changed, or the stack is behind this checkout): deploy it with `groupgate deploy`",
            request.policies.display()
        );
    }
    println!(
        "{name}: the stack runs the template these policies make: only the policy table changes"
    );
    Ok(())
}

/// Where the deployed template differs from the wanted one, ignoring the functions' code (the
/// zips' keys and versions, which only a build knows): `Resources.GroupRolePetViewer`, or
/// `None` when they are the same. A difference in `Resources` is named before any other.
pub fn template_difference(deployed: &Value, wanted: &Value) -> Option<String> {
    let (deployed, wanted) = (without_code(deployed), without_code(wanted));
    let sections = |t: &Value| t.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
    let mut names = sections(&deployed).unwrap_or_default();
    names.extend(sections(&wanted).unwrap_or_default());
    // Resources first: a changed resource says more than the output that names it.
    names.sort_by_key(|name| (name != "Resources", name.clone()));
    names.dedup();
    for section in names {
        let (a, b) = (deployed.get(&section), wanted.get(&section));
        if a == b {
            continue;
        }
        let keys = |v: Option<&Value>| {
            v.and_then(Value::as_object)
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
        };
        let mut inner = keys(a).unwrap_or_default();
        inner.extend(keys(b).unwrap_or_default());
        inner.sort();
        inner.dedup();
        let key = inner
            .into_iter()
            .find(|k| a.and_then(|v| v.get(k)) != b.and_then(|v| v.get(k)));
        return Some(match key {
            Some(key) => format!("{section}.{key}"),
            None => section,
        });
    }
    None
}

/// The template with every function's `Code` taken out.
fn without_code(template: &Value) -> Value {
    let mut template = template.clone();
    if let Some(resources) = template.get_mut("Resources").and_then(Value::as_object_mut) {
        for resource in resources.values_mut() {
            if resource.get("Type").and_then(Value::as_str) == Some("AWS::Lambda::Function")
                && let Some(properties) = resource
                    .get_mut("Properties")
                    .and_then(Value::as_object_mut)
            {
                properties.remove("Code");
            }
        }
    }
    template
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::groups::{DataAccess, GroupDefinition};

    /// Two groups of the tests' own, so that editing `policies/` never moves these tests.
    fn groups() -> Vec<GroupDefinition> {
        ["readers", "writers"]
            .iter()
            .zip(1..)
            .map(|(name, precedence)| {
                let text = serde_json::json!({
                    "group": name, "precedence": precedence, "description": format!("the {name}"),
                    "pets_table": "read",
                    "policy": {"Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow", "Action": "execute-api:Invoke",
                        "Resource": "arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets"}]},
                });
                GroupDefinition::parse(Path::new("test.json"), &text.to_string()).unwrap()
            })
            .collect()
    }

    fn template(groups: &[GroupDefinition], assets: &Assets) -> Value {
        let settings = Settings::parse(
            "stage = \"prod\"\nauthorizer_ttl_seconds = 300\nassume_group_role = true\n\
             [throttle]\nrate_limit = 100.0\nburst_limit = 200\n",
        )
        .unwrap();
        stack::build(groups, &settings.api().unwrap(), assets, &settings)
            .to_template()
            .unwrap()
    }

    fn built_zips() -> Assets {
        let dir = tempfile::tempdir().unwrap();
        for function in stack::FUNCTIONS {
            std::fs::create_dir_all(dir.path().join(function)).unwrap();
            std::fs::write(dir.path().join(function).join("bootstrap.zip"), function).unwrap();
        }
        Assets::from_dir(dir.path(), &stack::FUNCTIONS).unwrap()
    }

    #[test]
    fn a_changed_statement_leaves_the_template_as_deployed_whatever_zips_it_runs() {
        let deployed = template(&groups(), &built_zips());
        let mut changed = groups();
        changed[0].policy.as_mut().unwrap()["Statement"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!(
                {"Effect": "Deny", "Action": "execute-api:Invoke", "Resource": "*"}
            ));
        let wanted = template(&changed, &Assets::placeholder(&stack::FUNCTIONS));
        assert_ne!(
            deployed, wanted,
            "the zips' keys differ, so the raw templates must"
        );
        assert_eq!(template_difference(&deployed, &wanted), None);
    }

    #[test]
    fn a_group_added_or_a_template_field_changed_is_a_difference_that_is_named() {
        let deployed = template(&groups(), &built_zips());
        let placeholder = Assets::placeholder(&stack::FUNCTIONS);

        let mut added = groups();
        let mut groomers = added[0].clone();
        groomers.key = "groomers".to_owned();
        groomers.subject = crate::stack::groups::Subject::Group("groomers".to_owned());
        added.push(groomers);
        let difference = template_difference(&deployed, &template(&added, &placeholder)).unwrap();
        assert!(difference.contains("Groomers"), "{difference}");

        let changes: [fn(&mut GroupDefinition); 3] = [
            |g| g.precedence += 10,
            |g| g.description.push_str(" (changed)"),
            |g| g.pets_table = DataAccess::ReadWrite,
        ];
        for change in changes {
            let mut changed = groups();
            change(&mut changed[1]);
            let difference =
                template_difference(&deployed, &template(&changed, &placeholder)).unwrap();
            assert!(difference.starts_with("Resources."), "{difference}");
        }
    }

    #[test]
    fn a_section_only_one_template_has_is_a_difference() {
        let deployed = serde_json::json!({"Resources": {}, "Outputs": {"A": 1}});
        let wanted = serde_json::json!({"Resources": {}});
        assert_eq!(
            template_difference(&deployed, &wanted).as_deref(),
            Some("Outputs.A")
        );
    }
}
