//! `groupgate seed-pets`: the default pets into an empty pets table.

use crate::aws::{self, Target};
use crate::description::{self, StackDescription};
use crate::exit::Outcome;
use crate::operations::pets;

#[derive(clap::Args)]
pub struct Args {
    /// The deployed stack: its `PetsTableName` output names the table.
    #[arg(long, conflicts_with = "table", required_unless_present = "table")]
    stack: Option<String>,
    /// The pets table's name (the stack's `PetsTableName` output; the local stack's is
    /// `groupgate-local-pets`).
    #[arg(long, env = "PETS_TABLE")]
    table: Option<String>,
}

/// Writes the default pets into the table if it is empty (the function never seeds: with group
/// roles assumed its own role cannot touch the table).
pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let (client, table) = match (&args.stack, &args.table) {
        (Some(name), _) => {
            let aws = aws::config(Target::Environment).await?;
            let stack = StackDescription::of_stack(&aws, name).await?;
            (
                aws_sdk_dynamodb::Client::new(&aws),
                stack.outputs.pets_table_name,
            )
        }
        (None, Some(table)) => (description::table_client(table).await?, table.clone()),
        (None, None) => anyhow::bail!("name the stack (--stack) or the table (--table)"),
    };
    if pets::seed_defaults(&client, &table).await? {
        println!("seeded the default pets into `{table}`");
    } else {
        println!("`{table}` already has pets: left as it is");
    }
    Ok(Outcome::Done)
}
