//! `groupgate token`: an access token for a user, through Cognito's admin flow on the stack's
//! operator client.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::aws::{self, Target};
use crate::description::StackDescription;
use crate::exit::Outcome;
use crate::operations::token;

/// Where the password comes from, when the description has none for the user.
const PASSWORD_VARIABLE: &str = "GROUPGATE_PASSWORD";

#[derive(clap::Args)]
pub struct Args {
    /// The user's name (for the local stack, e.g. `admin@groupgate.local`).
    #[arg(long)]
    user: String,
    /// A stack description (`groupgate describe`'s JSON); by default the running local stack.
    /// Cognito is the local stack's emulator, else the environment's.
    #[arg(long)]
    stack_file: Option<PathBuf>,
    /// A deployed stack instead: its outputs name the pool and the operator client.
    #[arg(long, conflicts_with = "stack_file")]
    stack: Option<String>,
}

/// Prints the token. The password comes from [`PASSWORD_VARIABLE`], else from the
/// description's demo users.
pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let (stack, source) = match &args.stack {
        Some(name) => {
            let aws = aws::config(Target::Environment).await?;
            let stack = StackDescription::of_stack(&aws, name).await?;
            (stack, format!("stack `{name}`"))
        }
        None => match &args.stack_file {
            Some(path) => (
                StackDescription::load(path)?,
                format!("the users of `{}`", path.display()),
            ),
            None => (
                StackDescription::running_local()?,
                "the local stack's demo users".to_owned(),
            ),
        },
    };
    let user = &args.user;
    let password = match std::env::var(PASSWORD_VARIABLE) {
        Ok(password) if !password.is_empty() => password,
        _ => stack.password(user).map(str::to_owned).with_context(|| {
            format!("no password for `{user}`: set {PASSWORD_VARIABLE}, or name one of {source}")
        })?,
    };
    let cognito = stack.cognito().await?;
    let (pool, client) = stack.sign_in_pool(user)?;
    let token = token::access_token(&cognito, pool, client, user, &password).await?;
    println!("{token}");
    Ok(Outcome::Done)
}
