use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use deploy::assets::Assets;
use deploy::{groups, local, seed, stack};

/// groupgate's stack as code: synthesize the CloudFormation template and asset manifest, and
/// seed the policy table from `policies/`.
#[derive(Parser)]
#[command(version)]
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
    },
    /// Write every group's policy to the policy table (any DynamoDB endpoint: the AWS SDK's
    /// environment decides), after validating them all; remove groups no longer defined.
    #[command(visible_alias = "deploy")]
    SeedPolicies {
        /// The policy table's name (the stack's `PolicyTableName` output).
        #[arg(long, env = "POLICY_TABLE")]
        table: String,
        #[arg(long, default_value_os_t = groups::default_dir())]
        policies: PathBuf,
        /// `group=roleArn,...` (the stack's `GroupRoleArns` output).
        #[arg(long, default_value = "")]
        group_roles: String,
        /// Keep items of groups that are no longer defined.
        #[arg(long)]
        no_prune: bool,
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
        /// Run the backend with ASSUME_GROUP_ROLE=false.
        #[arg(long)]
        no_assume_group_role: bool,
        #[arg(long, default_value_os_t = groups::default_dir())]
        policies: PathBuf,
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
        /// Authorizer result cache TTL in seconds (the stack's `AuthorizerResultTtl` default unless set).
        #[arg(long, default_value_t = stack::DEFAULT_AUTHORIZER_TTL_SECONDS)]
        authorizer_ttl: u32,
        #[arg(long, default_value = stack::DEFAULT_STAGE)]
        stage: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Synth {
            out,
            policies,
            assets,
            placeholder_assets,
        } => {
            let groups = groups::load(&policies)?;
            let assets = if placeholder_assets {
                Assets::placeholder(&stack::FUNCTIONS)
            } else {
                Assets::from_dir(&assets, &stack::FUNCTIONS)?
            };
            let template = stack::build(&groups, &assets).to_template()?;
            std::fs::create_dir_all(&out)
                .with_context(|| format!("creating `{}`", out.display()))?;
            let write = |name: &str, value: &serde_json::Value| -> anyhow::Result<()> {
                let path = out.join(name);
                let text = serde_json::to_string_pretty(value)? + "\n";
                std::fs::write(&path, text).with_context(|| format!("writing `{}`", path.display()))
            };
            write("template.json", &template)?;
            write("assets.json", &serde_json::to_value(&assets)?)?;
            println!(
                "wrote {}/template.json and {}/assets.json",
                out.display(),
                out.display()
            );
        }
        Command::SeedPolicies {
            table,
            policies,
            group_roles,
            no_prune,
        } => {
            let groups = groups::load(&policies)?;
            let roles = seed::parse_group_roles(&group_roles).map_err(anyhow::Error::msg)?;
            let aws = aws_config::load_from_env().await;
            let client = aws_sdk_dynamodb::Client::new(&aws);
            let report = seed::seed(&client, &table, &groups, &roles, !no_prune).await?;
            for group in &report.written {
                println!("wrote policy of group `{group}`");
            }
            for group in &report.removed {
                println!(
                    "removed group `{group}` (no longer in {})",
                    policies.display()
                );
            }
        }
        Command::Local(Local::Provision {
            endpoint,
            api_url,
            out,
            env_file,
            no_assume_group_role,
            policies,
        }) => {
            let groups = groups::load(&policies)?;
            let definition = stack::build(&groups, &Assets::placeholder(&stack::FUNCTIONS));
            definition.to_template()?;
            let aws = aws_config::from_env()
                .endpoint_url(&endpoint)
                .region(aws_config::Region::new(local::gateway::LOCAL_REGION))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "testing", "testing", None, None, "local",
                ))
                .load()
                .await;
            let local =
                local::provision::provision(&aws, &endpoint, &definition, &groups, &api_url)
                    .await?;
            for (path, text) in [
                (&out, serde_json::to_string_pretty(&local)? + "\n"),
                (&env_file, local.functions_env(!no_assume_group_role)),
            ] {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(path, text)
                    .with_context(|| format!("writing `{}`", path.display()))?;
            }
            println!(
                "provisioned pool {} with {} demo users",
                local.user_pool_id,
                local.users.len()
            );
        }
        Command::Local(Local::Gateway {
            address,
            port,
            invoke_url,
            authorizer_ttl,
            stage,
        }) => {
            let config = local::gateway::GatewayConfig {
                stage,
                routes: stack::ROUTES
                    .iter()
                    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
                    .collect(),
                authorizer_ttl: std::time::Duration::from_secs(authorizer_ttl.into()),
                identity_header: stack::IDENTITY_HEADER.to_owned(),
                invoke_url,
                authorizer_function: "authorizer".to_owned(),
                backend_function: "backend".to_owned(),
            };
            let gateway =
                local::gateway::Gateway::new(config, std::sync::Arc::new(std::time::Instant::now))?;
            let listener = tokio::net::TcpListener::bind((address, port))
                .await
                .with_context(|| format!("binding {address}:{port}"))?;
            eprintln!("gateway: listening on http://{}", listener.local_addr()?);
            let shutdown = async {
                let _ = tokio::signal::ctrl_c().await;
            };
            local::gateway::serve(listener, std::sync::Arc::new(gateway), shutdown).await?;
        }
    }
    Ok(())
}
