use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use deploy::assets::Assets;
use deploy::{groups, seed, stack};

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
                Assets::placeholder()
            } else {
                Assets::from_dir(&assets)?
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
    }
    Ok(())
}
