use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use groupgate_cli::stack::groups;
use groupgate_cli::stack::settings::{Overrides, Settings};
use groupgate_cli::{local, operations, toolbox};

/// groupgate, the operator's tool: the stack as code (synth), the bootstrap stack, seeding the
/// tables, tokens for users, and the local stack.
#[derive(Parser)]
#[command(name = "groupgate", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write `<out>/template.json` and `<out>/assets.json` (each Lambda zip, its SHA-256 and S3 key).
    Synth {
        /// Folder to write into (created if missing).
        #[arg(long, default_value = "cdk.out")]
        out: PathBuf,
        /// Folder of group definitions.
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
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Create or update the bootstrap stack (once per account and region): the artifact bucket,
    /// GitHub's OIDC provider (or the account's own), the deploy and CloudFormation execution
    /// roles, the permissions boundary, and API Gateway's logging role and account setting.
    /// Prints the one-time GitHub setup the deploy role's trust needs. With --synth-only,
    /// only write its template.
    Bootstrap {
        /// Write `<out>/bootstrap.json` and deploy nothing.
        #[arg(long)]
        synth_only: bool,
        #[arg(long, default_value = "cdk.out")]
        out: PathBuf,
        /// The GitHub repository allowed to deploy, as `owner/name`.
        #[arg(long, required_unless_present = "synth_only")]
        repository: Option<String>,
        /// The repository's numeric id (`gh api repos/OWNER/NAME --jq .id`): a renamed or
        /// re-created repository does not keep it.
        #[arg(long, required_unless_present = "synth_only")]
        repository_id: Option<String>,
        /// The numeric id of the repository's owner (`gh api repos/OWNER/NAME --jq .owner.id`).
        #[arg(long, required_unless_present = "synth_only")]
        owner_id: Option<String>,
        /// The GitHub environment the deploy job runs in.
        #[arg(long, default_value = "production")]
        environment: String,
        /// The only branch whose deploy workflow may deploy.
        #[arg(long, default_value = "main")]
        branch: String,
        /// The deploy workflow's file.
        #[arg(long, default_value = ".github/workflows/deploy.yml")]
        workflow: String,
        /// The account's GitHub OIDC provider; by default an existing one is found, or created.
        #[arg(long)]
        oidc_provider_arn: Option<String>,
        /// The product stacks' names start with this.
        #[arg(long, default_value = "groupgate")]
        stack_name_prefix: String,
    },
    /// Deploy a product stack: check the region is bootstrapped, upload the zips, create and
    /// execute a change set through the bootstrap's execution role, seed the tables, and flush
    /// the stage's authorizer cache. Writes the template, asset manifest and outputs to --out.
    Deploy {
        /// The stack's name (the bootstrap's deploy role may deploy only its name prefix).
        #[arg(long, env = "STACK_NAME", default_value = "groupgate")]
        stack_name: String,
        /// Where cargo-lambda wrote the zips (`<dir>/<function>/bootstrap.zip`).
        #[arg(long, default_value = "target/lambda")]
        assets: PathBuf,
        #[arg(long, default_value_os_t = groups::default_dir())]
        policies: PathBuf,
        #[arg(long, default_value = ".local/deploy")]
        out: PathBuf,
        /// A template parameter, as KEY=VALUE (repeatable): LogRetentionDays, HostedUiCallbackUrl,
        /// AlarmEmail. A parameter not given keeps the stack's value (its default on a first
        /// deploy; one without a default must be given then).
        #[arg(long = "parameter", value_name = "KEY=VALUE")]
        parameters: Vec<String>,
        /// Allow a change that replaces or deletes the user pool or a table (and their data).
        #[arg(long)]
        allow_destructive: bool,
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
    },
    /// Deploy a change to the group policies alone, without a build or a stack update: check
    /// that the stack runs the template these policies make (apart from the functions' code),
    /// seed the policy table, and flush the stage's authorizer cache twice. A group added or
    /// removed, or a change to its precedence, description or pets_table, needs `deploy`.
    DeployPolicies {
        /// The stack's name.
        #[arg(long, env = "STACK_NAME", default_value = "groupgate")]
        stack_name: String,
        #[arg(long, default_value_os_t = groups::default_dir())]
        policies: PathBuf,
        /// Where the stack's outputs are written (`outputs.json`, for the smoke test).
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
    },
    /// Write every group's policy to the policy table (any DynamoDB endpoint: the AWS SDK's
    /// environment decides), after validating them all; remove groups no longer defined.
    SeedPolicies {
        /// The deployed stack: its outputs name the policy table and each group's role.
        #[arg(long, conflicts_with_all = ["table", "group_roles"], required_unless_present = "table")]
        stack: Option<String>,
        /// The policy table's name (the stack's `PolicyTableName` output).
        #[arg(long, env = "POLICY_TABLE")]
        table: Option<String>,
        #[arg(long, default_value_os_t = groups::default_dir())]
        policies: PathBuf,
        /// `group=roleArn,...` (the stack's `GroupRoleArns` output). Roles already stored are
        /// kept for groups not named here.
        #[arg(long, default_value = "")]
        group_roles: String,
        /// Keep items of groups that are no longer defined.
        #[arg(long)]
        no_prune: bool,
    },
    /// Write the default pets into the pets table if it is empty.
    SeedPets {
        /// The pets table's name (the stack's `PetsTableName` output).
        #[arg(long, env = "PETS_TABLE")]
        table: String,
    },
    /// Delete pets by id from the pets table of a stack description (smoke tests clean up
    /// with it: the API has no DELETE). DynamoDB is the description's `dynamodb_endpoint`, else
    /// the environment's.
    RemovePets {
        #[arg(long, default_value = ".local/stack.json")]
        stack_file: PathBuf,
        /// The ids to delete (the id counter, 0, is never deleted).
        #[arg(long = "id", required = true)]
        ids: Vec<u64>,
    },
    /// Print an access token for a user: Cognito's admin flow on the stack's operator client.
    /// The password is read from GROUPGATE_PASSWORD (never a flag, which other users of the
    /// machine could read), else from the stack description's demo users.
    Token {
        /// The user's name (for the local stack, e.g. `admin@groupgate.local`).
        #[arg(long)]
        user: String,
        /// The stack description: `.local/stack.json` for the local stack, or one of the same
        /// shape (`user_pool_id`, `operator_client_id`, optional `cognito_endpoint`, `region`).
        /// `cognito_endpoint` is Cognito's alone; without it the environment decides.
        #[arg(long, default_value = ".local/stack.json")]
        stack_file: PathBuf,
        /// A deployed stack instead: its outputs name the pool and the operator client.
        #[arg(long, conflicts_with = "stack_file")]
        stack: Option<String>,
    },
    /// Why is this request allowed or denied? Verifies a token as the authorizer does (or takes
    /// groups), decides with the authorizer's code, and shows the statement that decided, what
    /// the groups can reach and the policy returned to API Gateway. Exit 0: decided (allow or
    /// deny); 2: usage error; 3: could not decide (keys or table unreachable).
    Explain(ExplainArgs),
    /// Lint the group definitions with the authorizer's own parser, and judge what their
    /// statements reach over the API's routes. Exit 0: clean or warnings only; 1: errors (or
    /// warnings with --strict); 2: usage error.
    Validate {
        #[arg(long, default_value_os_t = groups::default_dir())]
        policies: PathBuf,
        /// Also compare with the groups of this live policy table.
        #[arg(long, conflicts_with = "stack")]
        table: Option<String>,
        /// Also compare with the policy table of this deployed stack.
        #[arg(long)]
        stack: Option<String>,
        #[arg(long, value_enum, default_value = "plain")]
        format: ValidateFormat,
        /// Warnings fail too.
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Every group, and no group, against every route, as the authorizer decides. With
    /// --expect, check the matrix against the access file. Exit 0: printed, or it matches; 1:
    /// it differs; 2: usage error.
    Simulate {
        #[arg(long, default_value_os_t = groups::default_dir())]
        policies: PathBuf,
        /// Read the policies from this live table instead.
        #[arg(long)]
        table: Option<String>,
        #[arg(long, value_enum, default_value = "table")]
        format: groupgate_cli::toolbox::simulate::Format,
        /// The access file to check against (`deploy/access.json`); its statuses go into the TSV.
        #[arg(long)]
        expect: Option<PathBuf>,
        /// Rewrite the --expect file's decisions from the policies (keeping its statuses).
        #[arg(long, requires = "expect")]
        update: bool,
        /// Whose statuses the TSV gives: `local` (moto, no IAM) or `aws`.
        #[arg(long, default_value = "local")]
        environment: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// The local stack (used by scripts/dev.sh).
    #[command(subcommand)]
    Local(Local),
}

#[derive(Subcommand)]
enum Local {
    /// Create the user pool, groups, roles, demo users and tables in an emulator (moto) from the
    /// stack definition, seed the policies, and write the stack description and functions' env.
    Provision {
        /// The emulator's endpoint; the AWS SDK is pointed at it.
        #[arg(long)]
        endpoint: String,
        /// Where the local gateway will serve the API (with the stage).
        #[arg(long)]
        api_url: String,
        #[arg(long, default_value = ".local/stack.json")]
        out: PathBuf,
        #[arg(long, default_value = ".local/functions.env")]
        env_file: PathBuf,
        #[arg(long, default_value_os_t = groups::default_dir())]
        policies: PathBuf,
        #[command(flatten)]
        settings: SettingsArgs,
    },
    /// Serve the API like API Gateway does, calling the functions through cargo-lambda.
    Gateway {
        #[arg(long, default_value = "127.0.0.1")]
        address: std::net::IpAddr,
        #[arg(long)]
        port: u16,
        /// cargo-lambda's invoke endpoint.
        #[arg(long)]
        invoke_url: String,
        #[command(flatten)]
        settings: SettingsArgs,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ValidateFormat {
    /// `file:line: severity: message`
    Plain,
    /// GitHub Actions annotations
    Github,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ExplainFormat {
    Text,
    Json,
}

#[derive(Args)]
struct ExplainArgs {
    /// `-`: read the caller's access token from stdin. Without it (and without --groups), the
    /// token is read from GROUPGATE_TOKEN. Never the token itself: other users of the machine
    /// can read a command line. It is verified, never printed.
    #[arg(long, value_name = "-", conflicts_with = "groups")]
    token: Option<String>,
    /// The caller's groups instead of a token, comma-separated (`--groups ''` for none).
    #[arg(long, value_delimiter = ',')]
    groups: Option<Vec<String>>,
    #[arg(long)]
    method: String,
    /// The path after the stage, e.g. `/petstore/v1/pets`.
    #[arg(long)]
    path: String,
    /// The caller's address, for `aws:SourceIp` conditions.
    #[arg(long)]
    source_ip: Option<std::net::IpAddr>,
    /// The time to check the token at, in seconds since the epoch (default: now).
    #[arg(long, value_name = "TIMESTAMP")]
    now: Option<u64>,
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    /// Read the policies from this live table instead.
    #[arg(long)]
    table: Option<String>,
    /// The pool the token must come from (default: the stack's or the local stack's).
    #[arg(long)]
    user_pool_id: Option<String>,
    /// A client id the token may be for (repeatable).
    #[arg(long = "client-id")]
    client_ids: Vec<String>,
    /// Where the pool's keys are (default: the pool's address on AWS, or the local stack's).
    #[arg(long)]
    jwks_url: Option<String>,
    /// A deployed stack whose outputs name the pool and clients.
    #[arg(long)]
    stack: Option<String>,
    /// The local stack's description, used when present and nothing else names the pool.
    #[arg(long, default_value = ".local/stack.json")]
    stack_file: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    format: ExplainFormat,
    #[command(flatten)]
    settings: SettingsArgs,
}

/// The settings file, and flags that override its values.
#[derive(Args)]
struct SettingsArgs {
    /// The settings that shape the stack.
    #[arg(long = "settings", default_value_os_t = Settings::default_path())]
    settings_file: PathBuf,
    /// API stage name.
    #[arg(long)]
    stage: Option<String>,
    /// Seconds API Gateway caches an authorizer result per token (0 to 3600; 0 turns it off).
    #[arg(long)]
    authorizer_ttl: Option<u32>,
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
        let overrides = Overrides {
            stage: self.stage,
            authorizer_ttl_seconds: self.authorizer_ttl,
            assume_group_role: self.assume_group_role,
            throttle_rate_limit: self.throttle_rate,
            throttle_burst_limit: self.throttle_burst,
            cors_origins: (!self.cors_origins.is_empty()).then_some(self.cors_origins),
        };
        Ok(Settings::load_with(&self.settings_file, overrides)?)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Synth {
            out,
            policies,
            assets,
            placeholder_assets,
            settings,
        } => {
            let assets = (!placeholder_assets).then_some(&*assets);
            operations::synth(&out, &policies, assets, &settings.load()?)
        }
        Command::SeedPolicies {
            stack,
            table,
            policies,
            group_roles,
            no_prune,
        } => {
            let aws = aws_config::load_from_env().await;
            let target = match (stack, table) {
                (Some(stack), _) => operations::SeedTarget::Stack(stack),
                (None, Some(table)) => operations::SeedTarget::Table { table, group_roles },
                (None, None) => anyhow::bail!("name the stack (--stack) or the table (--table)"),
            };
            operations::seed_policies(&aws, target, &policies, !no_prune).await
        }
        Command::Bootstrap {
            synth_only: true,
            out,
            ..
        } => operations::synth_bootstrap(&out),
        Command::Bootstrap {
            repository,
            repository_id,
            owner_id,
            environment,
            branch,
            workflow,
            oidc_provider_arn,
            stack_name_prefix,
            ..
        } => {
            let params = operations::BootstrapParams {
                deployer: groupgate_stack::bootstrap::Deployer {
                    repository: repository.unwrap_or_default(),
                    repository_id: repository_id.unwrap_or_default(),
                    owner_id: owner_id.unwrap_or_default(),
                    environment,
                    branch,
                    workflow,
                },
                oidc_provider_arn,
                stack_name_prefix,
            };
            let aws = aws_config::load_from_env().await;
            operations::bootstrap(&aws, params, Default::default()).await
        }
        Command::Deploy {
            stack_name,
            assets,
            policies,
            out,
            parameters,
            allow_destructive,
            flush_wait,
            outputs_from_resources,
            settings,
        } => {
            let settings = settings.load()?;
            let flush_wait =
                flush_wait.unwrap_or(groupgate_cli::stack::POLICY_CACHE_TTL_SECONDS + 5);
            let request = operations::deploy::DeployRequest {
                stack_name: &stack_name,
                policies: &policies,
                assets_dir: &assets,
                settings: &settings,
                parameters: &parameters,
                allow_destructive,
                out: &out,
                flush_wait: std::time::Duration::from_secs(flush_wait),
                outputs_from_resources,
                polling: Default::default(),
            };
            let aws = aws_config::load_from_env().await;
            operations::deploy::deploy(&aws, &request).await.map(drop)
        }
        Command::DeployPolicies {
            stack_name,
            policies,
            out,
            flush_wait,
            outputs_from_resources,
            settings,
        } => {
            let settings = settings.load()?;
            let flush_wait =
                flush_wait.unwrap_or(groupgate_cli::stack::POLICY_CACHE_TTL_SECONDS + 5);
            let request = operations::policies::PolicyDeployRequest {
                stack_name: &stack_name,
                policies: &policies,
                settings: &settings,
                out: &out,
                flush_wait: std::time::Duration::from_secs(flush_wait),
                outputs_from_resources,
            };
            let aws = aws_config::load_from_env().await;
            operations::policies::deploy_policies(&aws, &request)
                .await
                .map(drop)
        }
        Command::SeedPets { table } => operations::seed_pets(&table).await,
        Command::RemovePets { stack_file, ids } => operations::remove_pets(&stack_file, &ids).await,
        Command::Token {
            user,
            stack_file,
            stack,
        } => {
            let password = std::env::var("GROUPGATE_PASSWORD").ok();
            let source = match &stack {
                Some(name) => operations::TokenSource::Stack(name),
                None => operations::TokenSource::File(&stack_file),
            };
            operations::print_token(source, &user, password).await
        }
        Command::Explain(args) => exit_with(explain(args).await),
        Command::Validate {
            policies,
            table,
            stack,
            format,
            strict,
            settings,
        } => {
            let settings = settings.load()?;
            let table = match (table, &stack) {
                (Some(table), _) => Some(table),
                (None, Some(stack)) => {
                    let aws = aws_config::load_from_env().await;
                    let cfn = aws_sdk_cloudformation::Client::new(&aws);
                    let outputs = operations::cloudformation::read_outputs(&cfn, stack).await?;
                    Some(
                        operations::cloudformation::output(&outputs, stack, "PolicyTableName")?
                            .to_owned(),
                    )
                }
                (None, None) => None,
            };
            let live = match &table {
                Some(table) => {
                    let catalogue = toolbox::load(&policies, Some(table)).await?;
                    Some((
                        table.as_str(),
                        catalogue.names().iter().map(|n| n.to_string()).collect(),
                    ))
                }
                None => None,
            };
            let context = toolbox::validate::Context {
                stage: &settings.stage,
                cached: settings.authorizer_ttl_seconds > 0,
                live_groups: live,
            };
            let findings = toolbox::validate::validate(&policies, &context)?;
            for finding in &findings {
                let line = match format {
                    ValidateFormat::Plain => finding.plain(),
                    ValidateFormat::Github => finding.github(),
                };
                toolbox::print(&format!("{line}\n"));
            }
            let errors = findings
                .iter()
                .filter(|f| f.severity == toolbox::validate::Severity::Error)
                .count();
            let warnings = findings.len() - errors;
            eprintln!(
                "validate: {errors} errors, {warnings} warnings in {}",
                policies.display()
            );
            exit_with(Ok(if errors > 0 || (strict && warnings > 0) {
                1
            } else {
                0
            }))
        }
        Command::Simulate {
            policies,
            table,
            format,
            expect,
            update,
            environment,
            settings,
        } => {
            let settings = settings.load()?;
            let catalogue = toolbox::load(&policies, table.as_deref()).await?;
            let cells = toolbox::simulate::matrix(&catalogue, &settings.stage);
            let cells = exit_on_usage(cells)?;
            let access = expect
                .as_deref()
                .map(toolbox::simulate::AccessFile::load)
                .transpose()?;
            if let (true, Some(path), Some(access)) = (update, &expect, &access) {
                let updated = toolbox::simulate::AccessFile::from_cells(&cells, Some(access));
                std::fs::write(path, serde_json::to_string_pretty(&updated)? + "\n")?;
                eprintln!("simulate: wrote the decisions into {}", path.display());
            }
            toolbox::print(&toolbox::simulate::render(
                &cells,
                format,
                access.as_ref(),
                &environment,
            ));
            let differences = access.map(|a| a.differences(&cells)).unwrap_or_default();
            if !differences.is_empty() && !update {
                eprintln!(
                    "simulate: the policies' decisions differ from {}:",
                    expect
                        .as_deref()
                        .unwrap_or(std::path::Path::new("?"))
                        .display()
                );
                for line in &differences {
                    eprintln!("  {line}");
                }
                eprintln!(
                    "  (if the change is meant, run `groupgate simulate --expect FILE --update`)"
                );
                return exit_with(Ok(toolbox::EXIT_DIFFERS));
            }
            Ok(())
        }
        Command::Local(Local::Provision {
            endpoint,
            api_url,
            out,
            env_file,
            policies,
            settings,
        }) => {
            let settings = settings.load()?;
            local::provision_emulator(&endpoint, &api_url, &policies, &out, &env_file, &settings)
                .await
        }
        Command::Local(Local::Gateway {
            address,
            port,
            invoke_url,
            settings,
        }) => local::serve_gateway(address, port, invoke_url, &settings.load()?).await,
    }
}

/// Exits with `code` when it is not 0; an error is printed by `main` (exit 1), except one that
/// means "could not decide" (exit 3).
fn exit_with(result: anyhow::Result<i32>) -> anyhow::Result<()> {
    match result {
        Ok(0) => Ok(()),
        Ok(code) => std::process::exit(code),
        Err(e) if e.downcast_ref::<toolbox::explain::Undecided>().is_some() => {
            eprintln!("error: {e:#}");
            std::process::exit(toolbox::EXIT_UNDECIDED)
        }
        Err(e) if e.downcast_ref::<toolbox::UsageError>().is_some() => {
            eprintln!("error: {e:#}");
            std::process::exit(2)
        }
        Err(e) => Err(e),
    }
}

/// Passes a result on, exiting 2 on a usage error.
fn exit_on_usage<T>(result: anyhow::Result<T>) -> anyhow::Result<T> {
    match result {
        Err(e) if e.downcast_ref::<toolbox::UsageError>().is_some() => {
            eprintln!("error: {e:#}");
            std::process::exit(2)
        }
        other => other,
    }
}

/// `groupgate explain`, with the settings file's stage.
async fn explain(args: ExplainArgs) -> anyhow::Result<i32> {
    let stage = args.settings.load()?.stage;
    let options = toolbox::explain::Options {
        token: args.token,
        groups: args.groups,
        method: args.method,
        path: args.path,
        source_ip: args.source_ip,
        now: args.now,
        policies: args.policies,
        table: args.table,
        user_pool_id: args.user_pool_id,
        client_ids: args.client_ids,
        jwks_url: args.jwks_url,
        stack: args.stack,
        stack_file: args.stack_file,
        json: args.format == ExplainFormat::Json,
        stage,
    };
    toolbox::explain::run(options).await
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
