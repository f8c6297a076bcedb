//! `groupgate settings get NAME`: one value of the settings as the other commands read them
//! (`--settings`, else `GROUPGATE_SETTINGS`, else `deploy/groupgate.toml`; the toolbox's flags
//! laid over them), for scripts: `scripts/pipeline/build.sh` and `scripts/dev.sh` build the
//! authorizer with Cedar exactly when `policy_language` is `cedar`.

use clap::ValueEnum;

use super::ToolboxSettingsArgs;
use crate::exit::Outcome;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print one setting's value, as the commands read it.
    Get(GetArgs),
}

/// The settings a script may ask for.
#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "snake_case")]
enum Name {
    /// `iam` or `cedar`.
    PolicyLanguage,
    /// The API stage.
    Stage,
    /// The authorizer result cache's TTL, in seconds.
    AuthorizerTtlSeconds,
    /// The API's OpenAPI document.
    Api,
}

#[derive(clap::Args)]
pub struct GetArgs {
    /// The setting.
    #[arg(value_enum)]
    name: Name,
    #[command(flatten)]
    settings: ToolboxSettingsArgs,
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    let Command::Get(args) = command;
    let settings = args.settings.load()?;
    let value = match args.name {
        Name::PolicyLanguage => settings.policy_language.to_string(),
        Name::Stage => settings.stage.clone(),
        Name::AuthorizerTtlSeconds => settings.authorizer_ttl_seconds.to_string(),
        Name::Api => settings.api_file.display().to_string(),
    };
    crate::toolbox::print(&format!("{value}\n"));
    Ok(Outcome::Done)
}
