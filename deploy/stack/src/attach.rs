//! The authorizer-only stack (`groupgate synth --authorizer-only`), for a REST API defined
//! elsewhere (SAM, CDK, Terraform): the authorizer function and its role, the policy table, the
//! authorizer's alarms and dashboard, and either a new user pool with the groups of `policies/`
//! or an existing pool given by id. Its outputs are what the API's template needs to use it.
//!
//! The stack grants no one the right to invoke the function. API Gateway invokes an authorizer
//! as the service principal `apigateway.amazonaws.com`, and a grant to a service principal
//! without a source lets resources in other accounts invoke the function too
//! (<https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html>). The narrowest
//! source is the API's own authorizer, `arn:aws:execute-api:{region}:{account}:{api-id}/authorizers/{authorizer-id}`
//! (<https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-lambda-authorizer-cross-account-lambda-authorizer.html>),
//! whose ids exist only in the API's template: so the `AWS::Lambda::Permission` lives there,
//! as `examples/sam/` and `examples/cdk/` show.

use crate::app::{self, AuthorizerInputs};
use crate::assets::Assets;
use crate::construct::{Expr, Handle, Parameter, Stack};
use crate::groups::GroupDefinition;
use crate::{Settings, monitoring};

/// The functions this stack deploys, by the binary names cargo-lambda builds them under.
pub const FUNCTIONS: [&str; 1] = ["authorizer"];

/// The parameter naming an existing user pool; empty: the stack creates one.
pub const EXISTING_USER_POOL_ID: &str = "ExistingUserPoolId";
/// The parameter naming the existing pool's app clients whose tokens are accepted.
pub const EXISTING_APP_CLIENT_IDS: &str = "ExistingAppClientIds";
/// The condition that holds when the stack creates the pool (no existing pool given).
pub const CREATES_USER_POOL: &str = "CreatesUserPool";

/// The stack's outputs. The exported ones are imported as `${StackName}-{key}`
/// ([`export_name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachOutput {
    AuthorizerFunctionArn,
    UserPoolId,
    UserPoolIssuer,
    /// Only when the stack creates the pool.
    UserPoolClientId,
    PolicyTableName,
}

impl AttachOutput {
    pub const ALL: [Self; 5] = [
        Self::AuthorizerFunctionArn,
        Self::UserPoolId,
        Self::UserPoolIssuer,
        Self::UserPoolClientId,
        Self::PolicyTableName,
    ];

    /// The output's key in the template and in DescribeStacks.
    pub const fn key(self) -> &'static str {
        match self {
            Self::AuthorizerFunctionArn => "AuthorizerFunctionArn",
            Self::UserPoolId => "UserPoolId",
            Self::UserPoolIssuer => "UserPoolIssuer",
            Self::UserPoolClientId => "UserPoolClientId",
            Self::PolicyTableName => "PolicyTableName",
        }
    }

    /// Whether other stacks of the account and region can import it (`Fn::ImportValue`).
    pub const fn exported(self) -> bool {
        matches!(
            self,
            Self::AuthorizerFunctionArn | Self::UserPoolId | Self::UserPoolIssuer
        )
    }

    const fn description(self) -> &'static str {
        match self {
            Self::AuthorizerFunctionArn => {
                "The authorizer function: the REST API's REQUEST authorizer URI and its invoke permission's FunctionName"
            }
            Self::UserPoolId => "The user pool whose access tokens the authorizer accepts",
            Self::UserPoolIssuer => "The issuer (iss) of the pool's tokens",
            Self::UserPoolClientId => {
                "The created pool's public app client (only when the stack creates the pool)"
            }
            Self::PolicyTableName => {
                "The table of group policies: groupgate seed-policies --table <this>"
            }
        }
    }
}

/// The export name of output `key` of stack `stack_name`.
pub fn export_name(stack_name: &str, key: &str) -> String {
    format!("{stack_name}-{key}")
}

/// Builds the authorizer-only stack from the group definitions (its groups, when it creates
/// the pool), the authorizer's code location and the settings.
pub fn build(groups: &[GroupDefinition], assets: &Assets, settings: &Settings) -> Stack {
    let mut stack = Stack::new(
        "groupgate authorizer only: a Lambda REQUEST authorizer with Cognito group-based policies, for a REST API defined elsewhere",
    );
    let params = app::parameters(&mut stack, settings);
    let pool = pool_choice(&mut stack);
    let identity = app::identity(&mut stack, &params, groups);
    let mut created = vec![
        identity.pool.id().to_owned(),
        identity.client.id().to_owned(),
        identity.operator_client.id().to_owned(),
        "UserPoolDomain".to_owned(),
    ];
    created.extend(identity.machine_client.iter().map(|h| h.id().to_owned()));
    created.extend(
        groups
            .iter()
            .filter_map(|g| g.stack_scope().and_then(crate::groups::split_scope))
            .map(|(server, _)| crate::groups::resource_server_id(server)),
    );
    created.sort();
    created.dedup();
    for id in &created {
        created_with_pool(&mut stack, id);
    }
    for group in groups {
        if let Some(name) = group.stack_group() {
            let id = format!("Group{}", group.logical_name());
            stack.add(
                &id,
                app::cognito_group(&identity.pool, name, group).when(CREATES_USER_POOL),
            );
        }
    }
    let user_pool_id = pool.pick(identity.pool.r#ref(), pool.existing_id.clone());
    let app_client_ids = pool.pick(identity.client_ids(), pool.existing_clients.clone());
    let policy_table = app::policy_table(&mut stack);
    let authorizer = app::authorizer_function(
        &mut stack,
        &params,
        &AuthorizerInputs {
            user_pool_id: user_pool_id.clone(),
            app_client_ids,
            policy_table: &policy_table,
            other_pools: &settings.pools,
        },
        assets,
    );
    monitoring::add_for_authorizer(&mut stack, &authorizer);
    outputs(
        &mut stack,
        &authorizer,
        &user_pool_id,
        &identity.client,
        &policy_table,
    );
    stack
}

/// The existing pool's parameters, and the condition that the stack creates one instead.
struct PoolChoice {
    existing_id: Expr,
    existing_clients: Expr,
}

impl PoolChoice {
    /// `created` when the stack creates the pool, `existing` otherwise.
    fn pick(&self, created: Expr, existing: Expr) -> Expr {
        Expr::If(
            CREATES_USER_POOL.to_owned(),
            Box::new(created),
            Box::new(existing),
        )
    }
}

// The patterns are Cognito's own for a pool id and an app client id; the authorizer refuses at
// start-up a pool id without its region or an empty client id.
// https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolClientDescription.html
fn pool_choice(stack: &mut Stack) -> PoolChoice {
    let existing_id = stack.parameter(
        EXISTING_USER_POOL_ID,
        Parameter::string(
            "An existing user pool of this region whose tokens the authorizer accepts (its groups are the operator's to create); empty: the stack creates a pool with the groups of policies/",
        )
        .default("")
        .pattern(
            "^([\\w-]+_[0-9a-zA-Z]+)?$",
            "must be empty or a user pool id such as us-east-1_AbC123def",
        ),
    );
    let existing_clients = stack.parameter(
        EXISTING_APP_CLIENT_IDS,
        Parameter::string(
            "With an existing pool: its app clients whose tokens are accepted, comma-separated (required then); ignored when the stack creates the pool",
        )
        .default("")
        .pattern(
            "^([\\w+]+(,[\\w+]+)*)?$",
            "must be empty or app client ids separated by commas, without spaces",
        ),
    );
    stack.condition(
        CREATES_USER_POOL,
        Expr::Equals(Box::new(existing_id.clone()), Box::new("".into())),
    );
    // Without client ids the authorizer would refuse to start and every call would get a 500:
    // refuse the parameters instead, before anything is created.
    let not_empty = |value: &Expr| {
        Expr::Not(Box::new(Expr::Equals(
            Box::new(value.clone()),
            Box::new("".into()),
        )))
    };
    stack.rule(
        "ExistingPoolNamesItsAppClients",
        not_empty(&existing_id),
        &[(
            not_empty(&existing_clients),
            "ExistingAppClientIds must name the existing pool's app clients whose tokens are accepted",
        )],
    );
    PoolChoice {
        existing_id,
        existing_clients,
    }
}

/// Makes resource `id` exist only when the stack creates the pool.
fn created_with_pool(stack: &mut Stack, id: &str) {
    if let Some(resource) = stack.resource_mut(id) {
        resource.condition = Some(CREATES_USER_POOL.to_owned());
    }
}

fn outputs(
    stack: &mut Stack,
    authorizer: &Handle,
    user_pool_id: &Expr,
    client: &Handle,
    policy_table: &Handle,
) {
    // The issuer Cognito writes into `iss` by default (the "original" issuer format), in the
    // pool's own region: the part of its id before `_` (an existing pool may be in another
    // region than this stack). A pool set to the newer issuer format writes
    // `https://issuer-cognito-idp.{region}.amazonaws.com/{id}` instead.
    // https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_IssuerConfigurationType.html
    let region = Expr::Select(
        0,
        Box::new(Expr::Split("_".into(), Box::new(user_pool_id.clone()))),
    );
    let issuer = Expr::join(
        "",
        vec![
            "https://cognito-idp.".into(),
            region,
            ".amazonaws.com/".into(),
            user_pool_id.clone(),
        ],
    );
    for output in AttachOutput::ALL {
        let value = match output {
            AttachOutput::AuthorizerFunctionArn => authorizer.arn(),
            AttachOutput::UserPoolId => user_pool_id.clone(),
            AttachOutput::UserPoolIssuer => issuer.clone(),
            AttachOutput::UserPoolClientId => client.r#ref(),
            AttachOutput::PolicyTableName => policy_table.r#ref(),
        };
        let (key, description) = (output.key(), output.description());
        if output == AttachOutput::UserPoolClientId {
            stack.output_when(CREATES_USER_POOL, key, value, description);
        } else if output.exported() {
            let name = Expr::sub(export_name("${AWS::StackName}", key));
            stack.exported_output(key, value, description, name);
        } else {
            stack.output(key, value, description);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_carry_the_stack_name() {
        assert_eq!(
            export_name("team-auth", "AuthorizerFunctionArn"),
            "team-auth-AuthorizerFunctionArn"
        );
    }
}
