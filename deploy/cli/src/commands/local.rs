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
    /// Bring the running local stack in line with the policies folder: validate it (on an error,
    /// change nothing), re-seed the policy table, create new groups with their roles and demo
    /// users, remove those of removed files, and flush the gateway's authorizer cache. Prints
    /// one line of what changed.
    Sync(SyncArgs),
    /// Empty the running local gateway's authorizer cache.
    Flush,
    /// Add a user to a group of the running local stack; a new user is created with a password,
    /// kept with the demo users.
    AddUser(AddUserArgs),
    /// Print fresh access tokens of the running local stack's demo users (`user token` lines),
    /// or the token alone of one user.
    Tokens(TokensArgs),
}

#[derive(clap::Args)]
pub struct SyncArgs {
    /// The group definitions, and with Cedar the `*.cedar` policies (default:
    /// GROUPGATE_POLICIES, else the checkout's `policies/`).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    #[command(flatten)]
    settings: super::ToolboxSettingsArgs,
}

#[derive(clap::Args)]
pub struct AddUserArgs {
    /// The user's name: an email address (the local pool signs users in by email).
    #[arg(long)]
    user: String,
    /// A group of the local stack (a file in the policies folder, synced).
    #[arg(long)]
    group: String,
}

#[derive(clap::Args)]
pub struct TokensArgs {
    /// Only this demo user's token, printed alone.
    #[arg(long)]
    user: Option<String>,
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
        Command::Sync(args) => {
            let settings = args.settings.load()?;
            println!("{}", local::sync::sync(&args.policies, &settings).await?)
        }
        Command::Flush => {
            let flushed = local::users::flush().await?;
            println!("flushed the local gateway's authorizer cache ({flushed} cached results)");
        }
        Command::AddUser(args) => {
            let created = local::users::add_user(&args.user, &args.group).await?;
            let (user, group) = (&args.user, &args.group);
            if created {
                println!(
                    "created `{user}` in group `{group}` (its password is in `groupgate describe`)"
                );
            } else {
                println!(
                    "added `{user}` to group `{group}`: its earlier tokens do not carry it, get a fresh one with `groupgate local tokens --user {user}`"
                );
            }
        }
        Command::Tokens(args) => {
            let tokens = local::users::tokens(args.user.as_deref()).await?;
            for (user, token) in tokens {
                if args.user.is_some() {
                    println!("{token}");
                } else {
                    println!("{user} {token}");
                }
            }
        }
    }
    Ok(Outcome::Done)
}
