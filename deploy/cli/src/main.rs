//! `groupgate`: parses the command line, runs the command, and ends with its exit code
//! (`groupgate_cli::exit` maps every outcome and error to one).

// No function over `too-many-lines-threshold` (clippy.toml) lines outside the tests.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

use std::process::ExitCode;

use clap::Parser as _;
use groupgate_cli::commands::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    groupgate_cli::exit::finish(Cli::parse().run().await)
}
