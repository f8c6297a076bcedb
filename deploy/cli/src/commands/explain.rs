//! `groupgate explain`: why one request is allowed or denied.

use std::path::PathBuf;

use anyhow::Context as _;

use super::ToolboxSettingsArgs;
use crate::exit::{Outcome, UsageError};
use crate::stack::groups;
use crate::stack::settings::PolicyLanguage;
use crate::toolbox::cedar;
use crate::toolbox::explain::{self, Options};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Text,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// `-`: read the caller's access token from stdin. Without it (and without --groups), the
    /// token is read from GROUPGATE_TOKEN. Never the token itself: other users of the machine
    /// can read a command line. It is verified, never printed.
    #[arg(long, value_name = "-", conflicts_with = "groups")]
    token: Option<String>,
    /// The caller's groups instead of a token, comma-separated (`--groups ''` for none).
    #[arg(long, value_delimiter = ',')]
    groups: Option<Vec<String>>,
    /// A machine client's custom scopes instead of a token, comma-separated
    /// (`petstore/pets.read`): each is looked up as `scope:{scope}`, as the authorizer looks up
    /// a client-credentials token's.
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["token", "groups"])]
    scopes: Option<Vec<String>>,
    /// With --groups or --scopes: the `group_prefix` of the `[[pools]]` pool the caller is
    /// from (`partners:`); left out for the stack's own pool.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    pool: String,
    /// The request's HTTP method (any case).
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
    /// Folder of group definitions (`GROUPGATE_POLICIES` sets the default).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    /// Read the policies from this live table instead (the local stack's when it names its
    /// table).
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
    /// A stack description (`groupgate describe`'s JSON) naming the pool and clients; by
    /// default the running local stack's, when nothing else names the pool.
    #[arg(long)]
    stack_file: Option<PathBuf>,
    /// `text` for a person, `json` for a script.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    #[command(flatten)]
    settings: ToolboxSettingsArgs,
}

/// Explains the request with the settings file's stage.
pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let (settings, api) = args.settings.load_with_api()?;
    if !args.pool.is_empty() && !settings.pools.iter().any(|p| p.group_prefix == args.pool) {
        return Err(UsageError(format!(
            "--pool `{}` is no `group_prefix` of the settings' `[[pools]]`",
            args.pool
        ))
        .into());
    }
    // The policy keys the authorizer would look up for these groups or scopes.
    let pool = &args.pool;
    let keys: Option<Vec<String>> = match (args.groups, args.scopes) {
        (Some(groups), _) => Some(
            groups
                .iter()
                .filter(|g| !g.is_empty())
                .map(|g| format!("{pool}{g}"))
                .collect(),
        ),
        (None, Some(scopes)) => Some(
            scopes
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| format!("{pool}{}{s}", groups::SCOPE_MARKER))
                .collect(),
        ),
        (None, None) => None,
    };
    if settings.policy_language == PolicyLanguage::Cedar {
        let (Some(keys), None) = (&keys, &args.table) else {
            return Err(UsageError(
                "with Cedar policies, explain takes --groups or --scopes and reads --policies (a token, or --table, is not read yet)".to_owned(),
            )
            .into());
        };
        let store = cedar::load(&args.policies, &api)
            .with_context(|| format!("Cedar policies in `{}`", args.policies.display()))?;
        cedar::explain(&store, &api, keys, &args.method, &args.path)
            .print(args.format == Format::Json);
        return Ok(Outcome::Done);
    }
    let options = Options {
        token: args.token,
        groups: keys,
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
        json: args.format == Format::Json,
        stage: settings.stage,
        api,
        pools: settings.pools,
    };
    explain::run(options).await?;
    Ok(Outcome::Done)
}
