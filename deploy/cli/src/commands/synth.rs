//! `groupgate synth`: the app stack's template and asset manifest, or the authorizer-only
//! stack's.

use std::path::PathBuf;

use super::SettingsArgs;
use crate::exit::Outcome;
use crate::operations;
use crate::stack::groups;

#[derive(clap::Args)]
pub struct Args {
    /// Folder to write into (created if missing).
    #[arg(long, default_value = "cdk.out")]
    out: PathBuf,
    /// Folder of group definitions (`GROUPGATE_POLICIES` sets the default).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    /// Where cargo-lambda wrote the zips (`<dir>/<function>/bootstrap.zip`).
    #[arg(
        long,
        default_value = "target/lambda",
        conflicts_with = "placeholder_assets"
    )]
    assets: PathBuf,
    /// Use stand-in asset keys instead of hashing built zips (for linting the template).
    #[arg(long)]
    placeholder_assets: bool,
    /// Only the authorizer, its policy table, alarms and (new or existing) user pool, for a
    /// REST API defined elsewhere (SAM, CDK, Terraform); its outputs are what that API needs.
    #[arg(long)]
    authorizer_only: bool,
    #[command(flatten)]
    settings: SettingsArgs,
}

pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let assets = (!args.placeholder_assets).then_some(&*args.assets);
    let settings = args.settings.load()?;
    let target = if args.authorizer_only {
        operations::SynthTarget::AuthorizerOnly
    } else {
        operations::SynthTarget::App
    };
    operations::synth(&args.out, &args.policies, assets, &settings, target)?;
    Ok(Outcome::Done)
}
