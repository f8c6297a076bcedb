//! `groupgate seed-pets`: the default pets into an empty pets table.

use crate::description;
use crate::exit::Outcome;
use crate::operations::pets;

#[derive(clap::Args)]
pub struct Args {
    /// The pets table's name (the stack's `PetsTableName` output; the local stack's is
    /// `groupgate-local-pets`).
    #[arg(long, env = "PETS_TABLE")]
    table: String,
}

/// Writes the default pets into the table if it is empty (the function never seeds: with group
/// roles assumed its own role cannot touch the table).
pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let table = &args.table;
    let client = description::table_client(table).await?;
    if pets::seed_defaults(&client, table).await? {
        println!("seeded the default pets into `{table}`");
    } else {
        println!("`{table}` already has pets: left as it is");
    }
    Ok(Outcome::Done)
}
