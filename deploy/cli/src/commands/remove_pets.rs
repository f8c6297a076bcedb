//! `groupgate remove-pets`: the pets a smoke test wrote, removed (the API has no DELETE).

use std::path::PathBuf;

use crate::description::StackDescription;
use crate::exit::Outcome;
use crate::operations::pets;

#[derive(clap::Args)]
pub struct Args {
    /// A stack description (`groupgate describe`'s JSON); by default the running local stack.
    /// DynamoDB is the local stack's emulator, else the environment's.
    #[arg(long)]
    stack_file: Option<PathBuf>,
    /// The ids to delete (the id counter, 0, is never deleted).
    #[arg(long = "id", required = true)]
    ids: Vec<u64>,
}

pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let stack = StackDescription::from_file_or_local(args.stack_file.as_deref())?;
    let table = &stack.outputs.pets_table_name;
    let client = stack.dynamodb().await?;
    for id in args.ids.iter().filter(|id| **id != 0) {
        pets::remove(&client, table, *id).await?;
        println!("removed pet {id} from `{table}`");
    }
    Ok(Outcome::Done)
}
