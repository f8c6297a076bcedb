//! `groupgate local`: the local stack's pieces, which `scripts/dev.sh` runs.

use std::path::PathBuf;

use super::SettingsArgs;
use crate::description;
use crate::exit::Outcome;
use crate::local;
use crate::stack::groups;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Create the user pool, groups, roles, demo users and tables in an emulator (moto) from the
    /// stack definition, seed the policies, and write the stack's description and the
    /// functions' environment.
    Provision(ProvisionArgs),
    /// Serve the API like API Gateway does, calling the functions through cargo-lambda.
    Gateway(GatewayArgs),
}

#[derive(clap::Args)]
pub struct ProvisionArgs {
    /// The emulator's endpoint; the AWS SDK is pointed at it.
    #[arg(long)]
    endpoint: String,
    /// Where the local gateway will serve the API (with the stage).
    #[arg(long)]
    api_url: String,
    /// Where to write the description (default: `.local/stack.json` in the checkout).
    #[arg(long, default_value_os_t = description::local_file())]
    out: PathBuf,
    /// Where to write the functions' environment (`dev.sh` passes it to cargo-lambda).
    #[arg(long, default_value = ".local/functions.env")]
    env_file: PathBuf,
    /// Folder of group definitions (`GROUPGATE_POLICIES` sets the default).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    #[command(flatten)]
    settings: SettingsArgs,
}

#[derive(clap::Args)]
pub struct GatewayArgs {
    /// The address to serve on.
    #[arg(long, default_value = "127.0.0.1")]
    address: std::net::IpAddr,
    /// The port to serve on.
    #[arg(long)]
    port: u16,
    /// cargo-lambda's invoke endpoint.
    #[arg(long)]
    invoke_url: String,
    #[command(flatten)]
    settings: SettingsArgs,
}

pub async fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Provision(args) => {
            let settings = args.settings.load()?;
            local::provision_emulator(
                &args.endpoint,
                &args.api_url,
                &args.policies,
                &args.out,
                &args.env_file,
                &settings,
            )
            .await?;
        }
        Command::Gateway(args) => {
            let settings = args.settings.load()?;
            local::serve_gateway(args.address, args.port, args.invoke_url, &settings).await?;
        }
    }
    Ok(Outcome::Done)
}
