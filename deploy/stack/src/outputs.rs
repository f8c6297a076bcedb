//! The app stack's outputs, named once. [`Output`] gives each its key and description, which the
//! template is written with ([`crate::app::build`] writes every one); [`StackOutputs`] holds their
//! values as a deployed stack reports them (CloudFormation's DescribeStacks), checked: a missing
//! or malformed output is an error that names it. `groupgate describe` prints a
//! [`StackOutputs`] as JSON for scripts, each field named after its output's key in snake case.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One output of the app stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    ApiUrl,
    RestApiId,
    StageName,
    Region,
    UserPoolId,
    UserPoolClientId,
    OperatorClientId,
    PolicyTableName,
    PetsTableName,
    GroupRoleArns,
    /// Only when the stack has a hosted UI (its callback URL parameter is set).
    HostedUiUrl,
    /// Only when the policies name scopes of the stack's pool.
    MachineClientId,
}

impl Output {
    /// Every output, in the template's order.
    pub const ALL: [Self; 12] = [
        Self::ApiUrl,
        Self::RestApiId,
        Self::StageName,
        Self::Region,
        Self::UserPoolId,
        Self::UserPoolClientId,
        Self::OperatorClientId,
        Self::PolicyTableName,
        Self::PetsTableName,
        Self::GroupRoleArns,
        Self::HostedUiUrl,
        Self::MachineClientId,
    ];

    /// The output's key in the template and in DescribeStacks.
    pub const fn key(self) -> &'static str {
        match self {
            Self::ApiUrl => "ApiUrl",
            Self::RestApiId => "RestApiId",
            Self::StageName => "StageName",
            Self::Region => "Region",
            Self::UserPoolId => "UserPoolId",
            Self::UserPoolClientId => "UserPoolClientId",
            Self::OperatorClientId => "OperatorClientId",
            Self::PolicyTableName => "PolicyTableName",
            Self::PetsTableName => "PetsTableName",
            Self::GroupRoleArns => "GroupRoleArns",
            Self::HostedUiUrl => "HostedUiUrl",
            Self::MachineClientId => "MachineClientId",
        }
    }

    /// The output's description in the template.
    pub const fn description(self) -> &'static str {
        match self {
            Self::ApiUrl => "Base URL of the API",
            Self::RestApiId => "The REST API's id",
            Self::StageName => "The API's stage",
            Self::Region => "Region of the stack",
            Self::UserPoolId => "Cognito user pool id",
            Self::UserPoolClientId => "Cognito app client id",
            Self::OperatorClientId => {
                "Cognito client for operators and smoke tests (admin sign-in only)"
            }
            Self::PolicyTableName => "DynamoDB table of group policies",
            Self::PetsTableName => "DynamoDB table of pets",
            Self::GroupRoleArns => "group=role ARN pairs, for seeding the policy table",
            Self::HostedUiUrl => "Cognito hosted UI sign-in page",
            Self::MachineClientId => {
                "Cognito client for machine clients (client-credentials grant, the policies' scopes)"
            }
        }
    }
}

/// A deployed stack's outputs that are missing or not what the template writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputsError {
    #[error(
        "stack `{stack}` has no `{key}` output: is it a groupgate app stack, and did its last deploy finish?"
    )]
    Missing { stack: String, key: &'static str },
    #[error("stack `{stack}`: output `{key}` {problem}")]
    Malformed {
        stack: String,
        key: &'static str,
        problem: String,
    },
}

/// The app stack's outputs, as values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackOutputs {
    pub api_url: String,
    pub rest_api_id: String,
    pub stage_name: String,
    pub region: String,
    pub user_pool_id: String,
    pub user_pool_client_id: String,
    pub operator_client_id: String,
    pub policy_table_name: String,
    pub pets_table_name: String,
    /// Each group's IAM role ARN, by group (the `GroupRoleArns` output, `group=arn,...`).
    pub group_role_arns: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_ui_url: Option<String>,
    /// The client-credentials client, when the policies name scopes of the stack's pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine_client_id: Option<String>,
}

impl StackOutputs {
    /// The outputs of the stack named `stack`, from its outputs by key (DescribeStacks).
    /// Outputs this type does not know are ignored: a newer stack may add some.
    pub fn from_outputs(
        stack: &str,
        outputs: &BTreeMap<String, String>,
    ) -> Result<Self, OutputsError> {
        let malformed = |output: Output, problem: String| OutputsError::Malformed {
            stack: stack.to_owned(),
            key: output.key(),
            problem,
        };
        let take = |output: Output| {
            outputs
                .get(output.key())
                .filter(|v| !v.trim().is_empty())
                .cloned()
                .ok_or_else(|| OutputsError::Missing {
                    stack: stack.to_owned(),
                    key: output.key(),
                })
        };
        let api_url = take(Output::ApiUrl)?;
        if !api_url.starts_with("https://") {
            return Err(malformed(
                Output::ApiUrl,
                format!("`{api_url}` is not an https URL"),
            ));
        }
        let group_role_arns = parse_group_roles(&take(Output::GroupRoleArns)?)
            .map_err(|problem| malformed(Output::GroupRoleArns, problem))?;
        Ok(Self {
            api_url,
            rest_api_id: take(Output::RestApiId)?,
            stage_name: take(Output::StageName)?,
            region: take(Output::Region)?,
            user_pool_id: take(Output::UserPoolId)?,
            user_pool_client_id: take(Output::UserPoolClientId)?,
            operator_client_id: take(Output::OperatorClientId)?,
            policy_table_name: take(Output::PolicyTableName)?,
            pets_table_name: take(Output::PetsTableName)?,
            group_role_arns,
            hosted_ui_url: take(Output::HostedUiUrl).ok(),
            machine_client_id: take(Output::MachineClientId).ok(),
        })
    }
}

/// Parses `group=arn,group=arn` (the `GroupRoleArns` output, and `seed-policies --group-roles`);
/// the error names the pair that is not `group=arn:...`, or the group named twice.
pub fn parse_group_roles(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut roles = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some((group, arn)) if !group.is_empty() && arn.starts_with("arn:") => {
                if roles.insert(group.to_owned(), arn.to_owned()).is_some() {
                    return Err(format!("names group `{group}` twice"));
                }
            }
            _ => return Err(format!("`{pair}` is not `group=arn:...`")),
        }
    }
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs() -> BTreeMap<String, String> {
        Output::ALL
            .iter()
            .map(|o| {
                let value = match o {
                    Output::ApiUrl => "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
                    Output::GroupRoleArns => {
                        "admin=arn:aws:iam::1:role/a,pet-viewer=arn:aws:iam::1:role/v"
                    }
                    _ => "value",
                };
                (o.key().to_owned(), value.to_owned())
            })
            .collect()
    }

    #[test]
    fn the_template_writes_every_output_with_its_description_and_no_other() {
        let settings = crate::Settings::load(&crate::Settings::default_path()).unwrap();
        let groups = crate::groups::load(&crate::groups::default_dir()).unwrap();
        let assets = crate::assets::Assets::placeholder(&crate::FUNCTIONS);
        let template = crate::build(&groups, &settings.api().unwrap(), &assets, &settings)
            .to_template()
            .unwrap();
        let written = template["Outputs"].as_object().unwrap();
        let keys: Vec<&str> = written.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = Output::ALL.iter().map(|o| o.key()).collect();
        expected.sort_unstable();
        assert_eq!(keys, expected);
        for output in Output::ALL {
            assert_eq!(
                written[output.key()]["Description"],
                output.description(),
                "{}",
                output.key()
            );
        }
        assert_eq!(written["HostedUiUrl"]["Condition"], "HasHostedUi");
    }

    #[test]
    fn every_output_is_read_into_its_field() {
        let read = StackOutputs::from_outputs("s", &outputs()).unwrap();
        assert_eq!(read.group_role_arns["pet-viewer"], "arn:aws:iam::1:role/v");
        assert_eq!(read.hosted_ui_url.as_deref(), Some("value"));
        let json = serde_json::to_value(&read).unwrap();
        let fields = json.as_object().unwrap();
        assert_eq!(fields.len(), Output::ALL.len(), "{json}");
        for output in Output::ALL {
            let snake: String = output
                .key()
                .chars()
                .enumerate()
                .flat_map(|(i, c)| {
                    let lower = c.to_ascii_lowercase();
                    if c.is_ascii_uppercase() && i > 0 {
                        vec!['_', lower]
                    } else {
                        vec![lower]
                    }
                })
                .collect();
            assert!(fields.contains_key(&snake), "{snake} in {json}");
        }
    }

    #[test]
    fn a_missing_or_empty_output_is_an_error_that_names_it() {
        for output in Output::ALL {
            // The optional outputs: a stack without a hosted UI or without scopes has none.
            if matches!(output, Output::HostedUiUrl | Output::MachineClientId) {
                continue;
            }
            for value in [None, Some(" ")] {
                let mut given = outputs();
                match value {
                    None => given.remove(output.key()),
                    Some(v) => given.insert(output.key().to_owned(), v.to_owned()),
                };
                assert_eq!(
                    StackOutputs::from_outputs("s", &given),
                    Err(OutputsError::Missing {
                        stack: "s".into(),
                        key: output.key()
                    })
                );
            }
        }
        let mut without_ui = outputs();
        without_ui.remove("HostedUiUrl");
        without_ui.remove("MachineClientId");
        let read = StackOutputs::from_outputs("s", &without_ui).unwrap();
        assert_eq!(read.hosted_ui_url, None);
        assert_eq!(read.machine_client_id, None);
        assert!(
            !serde_json::to_string(&read)
                .unwrap()
                .contains("hosted_ui_url")
        );
    }

    #[test]
    fn a_malformed_output_is_an_error_that_names_it() {
        for (key, value, problem) in [
            ("GroupRoleArns", "admin", "`admin` is not `group=arn:...`"),
            (
                "GroupRoleArns",
                "a=arn:aws:iam::1:role/a,a=arn:aws:iam::1:role/b",
                "names group `a` twice",
            ),
            ("ApiUrl", "abc.example", "`abc.example` is not an https URL"),
        ] {
            let mut given = outputs();
            given.insert(key.to_owned(), value.to_owned());
            let error = StackOutputs::from_outputs("s", &given)
                .unwrap_err()
                .to_string();
            assert_eq!(error, format!("stack `s`: output `{key}` {problem}"));
        }
    }

    #[test]
    fn group_roles_are_parsed_and_bad_pairs_named() {
        let roles =
            parse_group_roles("admin=arn:aws:iam::1:role/a, vet=arn:aws:iam::1:role/v").unwrap();
        assert_eq!(roles["vet"], "arn:aws:iam::1:role/v");
        assert!(parse_group_roles("").unwrap().is_empty());
        assert_eq!(
            parse_group_roles("admin").unwrap_err(),
            "`admin` is not `group=arn:...`"
        );
    }
}
