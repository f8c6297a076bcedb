//! `groupgate describe`: a stack's description as JSON, for scripts (see
//! [`crate::description`]): `scripts/smoke.sh` and the others read a stack through it, with
//! `scripts/lib.sh`'s `json_get`.

use crate::aws::{self, Target};
use crate::description::StackDescription;
use crate::exit::Outcome;

#[derive(clap::Args)]
pub struct Args {
    /// A deployed stack (its outputs, from CloudFormation); by default the running local
    /// stack of this checkout.
    #[arg(long)]
    stack: Option<String>,
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let description = match &args.stack {
        Some(name) => {
            let aws = aws::config(Target::Environment).await?;
            StackDescription::of_stack(&aws, name).await?
        }
        None => StackDescription::running_local()?,
    };
    crate::toolbox::print(&(serde_json::to_string_pretty(&description)? + "\n"));
    Ok(Outcome::Done)
}
