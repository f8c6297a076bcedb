//! The command line: [`Cli`], and one module per subcommand holding its arguments and what it
//! runs. Every command ends with an [`Outcome`] or an error; [`crate::exit`] alone turns that
//! into the exit code and the message a person reads.

mod bootstrap;
mod cedar;
mod deploy;
mod deploy_policies;
mod describe;
mod explain;
mod local;
mod remove_pets;
mod seed_pets;
mod seed_policies;
mod settings;
mod simulate;
mod synth;
mod token;
mod validate;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::Outcome;
use crate::stack::Api;
use crate::stack::settings::{Overrides, PolicyLanguage, Settings};

/// groupgate, the operator's tool: the stack as code (synth), the bootstrap stack, deploys,
/// seeding the tables, tokens for users, the policy toolbox (explain, validate, simulate), and
/// the local stack.
#[derive(Parser)]
#[command(name = "groupgate", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write `<out>/template.json` and `<out>/assets.json` (each Lambda zip, its SHA-256 and S3 key).
    Synth(synth::Args),
    /// Create or update the bootstrap stack (once per account and region): the artifact bucket,
    /// GitHub's OIDC provider (or the account's own), the deploy and CloudFormation execution
    /// roles, the permissions boundary, and API Gateway's logging role and account setting.
    /// Prints the one-time GitHub setup the deploy role's trust needs. With --synth-only,
    /// only write its template.
    Bootstrap(bootstrap::Args),
    /// Deploy a product stack: check the region is bootstrapped, upload the zips, create and
    /// execute a change set through the bootstrap's execution role, seed the tables, and flush
    /// the stage's authorizer cache. Writes the template, asset manifest and the stack's
    /// description (`stack.json`, as `describe` prints it) to --out.
    Deploy(deploy::Args),
    /// Deploy a change to the group policies alone, without a build or a stack update: check
    /// that the stack runs the template these policies make (apart from the functions' code),
    /// seed the policy table, and flush the stage's authorizer cache twice. A group added or
    /// removed, or a change to its precedence, description or pets_table, needs `deploy`.
    DeployPolicies(deploy_policies::Args),
    /// Print a stack's description as JSON, for scripts: a deployed stack's outputs (--stack),
    /// or by default the running local stack's, with its endpoints and demo users.
    Describe(describe::Args),
    /// Write every group's policy to the policy table (any DynamoDB endpoint: the AWS SDK's
    /// environment decides, or the running local stack's when --table names its table), after
    /// validating them all; remove groups no longer defined.
    SeedPolicies(seed_policies::Args),
    /// Write the default pets into the pets table if it is empty.
    SeedPets(seed_pets::Args),
    /// Delete pets by id from the pets table of a stack description (smoke tests clean up
    /// with it: the API has no DELETE).
    RemovePets(remove_pets::Args),
    /// Print an access token for a user: Cognito's admin flow on the stack's operator client.
    /// The password is read from GROUPGATE_PASSWORD (never a flag, which other users of the
    /// machine could read), else from the local stack's demo users.
    Token(token::Args),
    /// Why is this request allowed or denied? Verifies a token as the authorizer does (or takes
    /// groups), decides with the authorizer's code, and shows the statement that decided, what
    /// the groups can reach and the policy returned to API Gateway. Exit 0: decided (allow or
    /// deny); 2: usage error; 3: could not decide (keys or table unreachable).
    Explain(explain::Args),
    /// Lint the group definitions with the authorizer's own parser, and judge what their
    /// statements reach over the API's routes. Exit 0: clean or warnings only; 1: errors (or
    /// warnings with --strict); 2: usage error; 3: the table could not be read.
    Validate(validate::Args),
    /// Every group, and no group, against every route, as the authorizer decides. With
    /// --expect, check the matrix against the access file. Exit 0: printed, or it matches; 1:
    /// it differs; 2: usage error; 3: the table could not be read.
    Simulate(simulate::Args),
    /// Cedar policies to and from Amazon Verified Permissions' import form.
    #[command(subcommand)]
    Cedar(cedar::Command),
    /// The local stack (used by scripts/dev.sh).
    #[command(subcommand)]
    Local(local::Command),
    /// The settings as the commands read them, for scripts (`settings get policy_language`).
    #[command(subcommand)]
    Settings(settings::Command),
}

impl Cli {
    /// Runs the command.
    pub async fn run(self) -> anyhow::Result<Outcome> {
        match self.command {
            Command::Synth(args) => synth::run(args),
            Command::Bootstrap(args) => bootstrap::run(args).await,
            Command::Deploy(args) => deploy::run(args).await,
            Command::DeployPolicies(args) => deploy_policies::run(args).await,
            Command::Describe(args) => describe::run(args).await,
            Command::SeedPolicies(args) => seed_policies::run(args).await,
            Command::SeedPets(args) => seed_pets::run(args).await,
            Command::RemovePets(args) => remove_pets::run(args).await,
            Command::Token(args) => token::run(args).await,
            Command::Explain(args) => explain::run(args).await,
            Command::Validate(args) => validate::run(args).await,
            Command::Simulate(args) => simulate::run(args).await,
            Command::Cedar(command) => cedar::run(command),
            Command::Local(command) => local::run(command).await,
            Command::Settings(command) => settings::run(command),
        }
    }
}

/// The settings file, and flags that override its values.
#[derive(Args)]
struct SettingsArgs {
    #[command(flatten)]
    toolbox: ToolboxSettingsArgs,
    /// Whether the backend acts with the caller's group IAM role.
    #[arg(long)]
    assume_group_role: Option<bool>,
    /// Stage throttling: steady requests per second.
    #[arg(long)]
    throttle_rate: Option<f64>,
    /// Stage throttling: burst.
    #[arg(long)]
    throttle_burst: Option<u32>,
    /// A browser origin allowed to call the API (repeatable); replaces the file's list.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
}

impl SettingsArgs {
    fn load(self) -> anyhow::Result<Settings> {
        let api_file = self.toolbox.api_file()?;
        let overrides = Overrides {
            stage: self.toolbox.stage,
            authorizer_ttl_seconds: self.toolbox.authorizer_ttl,
            assume_group_role: self.assume_group_role,
            throttle_rate_limit: self.throttle_rate,
            throttle_burst_limit: self.throttle_burst,
            cors_origins: (!self.cors_origins.is_empty()).then_some(self.cors_origins),
            api_file,
            policy_language: self.toolbox.policy_language,
        };
        let settings = Settings::load_with(&self.toolbox.settings_file, overrides)?;
        Ok(settings)
    }
}

/// The settings file and the two settings the policy toolbox reads (the stage names the method
/// ARNs; the authorizer cache's TTL decides which conditions are safe): the toolbox's commands
/// list only the flags they use.
#[derive(Args)]
struct ToolboxSettingsArgs {
    /// The settings that shape the stack.
    #[arg(long = "settings", default_value_os_t = Settings::default_path())]
    settings_file: PathBuf,
    /// API stage name.
    #[arg(long)]
    stage: Option<String>,
    /// Seconds API Gateway caches an authorizer result per token (0 to 3600; 0 turns it off).
    #[arg(long)]
    authorizer_ttl: Option<u32>,
    /// The API's OpenAPI 3.0 document, JSON or YAML (default: GROUPGATE_API, else the
    /// settings' `api`).
    #[arg(long, value_name = "FILE")]
    api: Option<PathBuf>,
    /// The language of the policies folder: `iam` (`*.json` group definitions) or `cedar`
    /// (`*.cedar` policies); default: the settings' `policy_language`.
    #[arg(long, value_name = "iam|cedar")]
    policy_language: Option<PolicyLanguage>,
}

impl ToolboxSettingsArgs {
    fn load(self) -> anyhow::Result<Settings> {
        let overrides = Overrides {
            api_file: self.api_file()?,
            stage: self.stage,
            authorizer_ttl_seconds: self.authorizer_ttl,
            policy_language: self.policy_language,
            ..Overrides::default()
        };
        Ok(Settings::load_with(&self.settings_file, overrides)?)
    }

    /// The settings and the API they name, read and checked.
    fn load_with_api(self) -> anyhow::Result<(Settings, Api)> {
        let settings = self.load()?;
        let api = settings.api()?;
        Ok((settings, api))
    }

    /// `--api`, from the current folder (the settings file's `api` is from the checkout's root).
    fn api_file(&self) -> anyhow::Result<Option<PathBuf>> {
        self.api
            .as_deref()
            .map(std::path::absolute)
            .transpose()
            .map_err(|e| anyhow::anyhow!("`--api`: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    /// Every option of every command says what it is for in `--help` (and so in the CLI
    /// reference): an option with only its default is a guess for the reader.
    #[test]
    fn every_option_has_help_text() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let own = !matches!(arg.get_id().as_str(), "help" | "version");
                if own && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{}", arg.get_id()));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "groupgate", &mut missing);
        assert_eq!(missing, Vec::<String>::new(), "options without help text");
    }
}
