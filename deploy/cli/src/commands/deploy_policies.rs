//! `groupgate deploy-policies`: a change to the group policies alone, without a build or a
//! stack update (the pipeline's fast path).

use std::path::PathBuf;
use std::time::Duration;

use super::SettingsArgs;
use crate::aws::{self, Target};
use crate::exit::Outcome;
use crate::operations::policies::{self, PolicyDeployRequest};
use crate::stack::{self, groups};

#[derive(clap::Args)]
pub struct Args {
    /// The stack's name.
    #[arg(long, env = "STACK_NAME", default_value = "groupgate")]
    stack_name: String,
    /// Folder of group definitions (`GROUPGATE_POLICIES` sets the default).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    /// Where the stack's description is written (`stack.json`, as `describe` prints it).
    #[arg(long, default_value = ".local/deploy")]
    out: PathBuf,
    /// Seconds between the two authorizer cache flushes (default: the authorizer's own
    /// policy cache TTL, plus a margin).
    #[arg(long, value_name = "SECONDS")]
    flush_wait: Option<u64>,
    /// For emulators whose change sets compute no outputs (moto): derive them from the
    /// stack's resources.
    #[arg(long, hide = true)]
    outputs_from_resources: bool,
    #[command(flatten)]
    settings: SettingsArgs,
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let settings = args.settings.load()?;
    let flush_wait = args
        .flush_wait
        .unwrap_or(stack::POLICY_CACHE_TTL_SECONDS + 5);
    let request = PolicyDeployRequest {
        stack_name: &args.stack_name,
        policies: &args.policies,
        settings: &settings,
        out: &args.out,
        flush_wait: Duration::from_secs(flush_wait),
        outputs_from_resources: args.outputs_from_resources,
    };
    let aws = aws::config(Target::Environment).await?;
    policies::deploy_policies(&aws, &request).await?;
    Ok(Outcome::Done)
}
