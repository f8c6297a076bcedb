//! `groupgate seed-policies`: the group definitions into a policy table.

use std::path::PathBuf;

use super::ToolboxSettingsArgs;
use crate::aws::{self, Target};
use crate::description::{self, StackDescription};
use crate::exit::Outcome;
use crate::operations::seed;
use crate::stack::groups;
use crate::stack::outputs::parse_group_roles;

#[derive(clap::Args)]
pub struct Args {
    /// The deployed stack: its outputs name the policy table and each group's role.
    #[arg(long, conflicts_with_all = ["table", "group_roles"], required_unless_present = "table")]
    stack: Option<String>,
    /// The policy table's name (the stack's `PolicyTableName` output; the local stack's is
    /// `groupgate-local-policies`).
    #[arg(long, env = "POLICY_TABLE")]
    table: Option<String>,
    /// Folder of group definitions (`GROUPGATE_POLICIES` sets the default).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    /// `group=roleArn,...` (the stack's `GroupRoleArns` output). Roles already stored are
    /// kept for groups not named here.
    #[arg(long, default_value = "")]
    group_roles: String,
    /// Keep items of groups that are no longer defined.
    #[arg(long)]
    no_prune: bool,
    #[command(flatten)]
    settings: ToolboxSettingsArgs,
}

/// Validates every definition (and with Cedar every policy), then writes them to the table with
/// their group roles, and the Cedar bundle, removing groups no longer defined unless
/// `--no-prune`. A group whose role is not given keeps the role already stored.
pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let settings = args.settings.load()?;
    let folder = seed::PolicyFolder::load(&args.policies, &settings)?;
    let (client, table, roles) = match (&args.stack, &args.table) {
        (Some(name), _) => {
            let aws = aws::config(Target::Environment).await?;
            let stack = StackDescription::of_stack(&aws, name).await?;
            let outputs = stack.outputs;
            folder.check_named_pools(Some(&outputs.user_pool_id), &settings)?;
            let client = aws_sdk_dynamodb::Client::new(&aws);
            (client, outputs.policy_table_name, outputs.group_role_arns)
        }
        (None, Some(table)) => {
            // A table alone does not say which pool is the stack's: a set naming a pool by id
            // must name only `[[pools]]` ones, or be seeded with `--stack`.
            if let Some(pool) = folder.untrusted_pool(None, &settings) {
                anyhow::bail!(
                    "the Cedar policies name users or groups of the user pool `{pool}` by id, which no `[[pools]]` entry trusts, and with `--table` the stack's own pool is not known: seed with `--stack` so it can be checked"
                );
            }
            let roles = parse_group_roles(&args.group_roles)
                .map_err(|e| anyhow::anyhow!("`--group-roles`: {e}"))?;
            let client = description::table_client(table).await?;
            (client, table.clone(), roles)
        }
        (None, None) => anyhow::bail!("name the stack (--stack) or the table (--table)"),
    };
    let prune = !args.no_prune;
    let report = seed::seed(&client, &table, folder.seed(), &roles, prune).await?;
    for group in &report.written {
        println!("wrote policy of group `{group}`");
    }
    for group in &report.removed {
        println!(
            "removed group `{group}` (no longer in {})",
            args.policies.display()
        );
    }
    Ok(Outcome::Done)
}
