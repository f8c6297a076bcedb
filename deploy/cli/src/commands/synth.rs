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
        // A Cedar answer is for one route, so API Gateway must cache it per route: the
        // authorizer's identity sources must add `context.httpMethod` and
        // `context.resourcePath`. This stack does not make the authorizer resource (the API's
        // template does, and the SAM and CDK examples key it by the token alone), so it cannot
        // make sure of that: an answer for one route would be reused for the token's every
        // route. Refused until the examples and a check carry the identity sources.
        if settings.policy_language == crate::stack::settings::PolicyLanguage::Cedar {
            return Err(crate::exit::UsageError(
                "--authorizer-only with `policy_language = \"cedar\"`: a Cedar answer is for one route, and this stack cannot make the API's authorizer cache it per route (identity sources `context.httpMethod` and `context.resourcePath`); use IAM policies for an API defined elsewhere".to_owned(),
            )
            .into());
        }
        operations::SynthTarget::AuthorizerOnly
    } else {
        operations::SynthTarget::App
    };
    operations::synth(&args.out, &args.policies, assets, &settings, target)?;
    Ok(Outcome::Done)
}
