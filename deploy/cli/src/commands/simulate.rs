//! `groupgate simulate`: every group against every route, and the committed access matrix.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::ToolboxSettingsArgs;
use crate::exit::{Outcome, UsageError};
use crate::stack::groups;
use crate::stack::settings::PolicyLanguage;
use crate::toolbox::{self, cedar, simulate};

#[derive(clap::Args)]
pub struct Args {
    /// Folder of group definitions (`GROUPGATE_POLICIES` sets the default).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    /// Read the policies from this live table instead (the local stack's when it names its
    /// table).
    #[arg(long)]
    table: Option<String>,
    /// How the matrix is printed.
    #[arg(long, value_enum, default_value = "table")]
    format: simulate::Format,
    /// The access file to check against (`deploy/access.json`); its statuses go into the TSV.
    #[arg(long)]
    expect: Option<PathBuf>,
    /// Rewrite the --expect file's decisions from the policies (keeping its statuses).
    #[arg(long, requires = "expect")]
    update: bool,
    /// Whose statuses the TSV gives: `local` (moto, no IAM) or `aws`.
    #[arg(long, default_value = "local")]
    environment: String,
    #[command(flatten)]
    settings: ToolboxSettingsArgs,
}

/// Prints the matrix; with `--expect`, fails when it differs from the access file (unless
/// `--update` rewrites the file).
pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let (settings, api) = args.settings.load_with_api()?;
    let cells = match settings.policy_language {
        PolicyLanguage::Iam => {
            let catalogue = toolbox::load(&args.policies, args.table.as_deref()).await?;
            simulate::matrix(&catalogue, &api, &settings.stage)?
        }
        PolicyLanguage::Cedar => {
            if args.table.is_some() {
                return Err(UsageError(
                    "--table: no policy table holds Cedar policies yet; give --policies".to_owned(),
                )
                .into());
            }
            let store = cedar::load(&args.policies, &api)
                .with_context(|| format!("Cedar policies in `{}`", args.policies.display()))?;
            cedar::matrix(&store, &api)
        }
    };
    let access = match &args.expect {
        Some(path) => Some((path.as_path(), simulate::AccessFile::load(path)?)),
        None => None,
    };
    if let (true, Some((path, access))) = (args.update, &access) {
        let updated = simulate::AccessFile::from_cells(&cells, Some(access));
        std::fs::write(path, serde_json::to_string_pretty(&updated)? + "\n")
            .with_context(|| format!("writing `{}`", path.display()))?;
        eprintln!("simulate: wrote the decisions into {}", path.display());
    }
    toolbox::print(&simulate::render(
        &cells,
        args.format,
        access.as_ref().map(|(_, a)| a),
        &args.environment,
    ));
    match access {
        Some((path, access)) if !args.update => Ok(report_differences(path, &access, &cells)),
        _ => Ok(Outcome::Done),
    }
}

/// Prints how the matrix differs from the access file at `path`, and what to run if the change
/// is meant.
fn report_differences(
    path: &Path,
    access: &simulate::AccessFile,
    cells: &[simulate::Cell],
) -> Outcome {
    let differences = access.differences(cells);
    if differences.is_empty() {
        return Outcome::Done;
    }
    eprintln!(
        "simulate: the policies' decisions differ from {}:",
        path.display()
    );
    for line in &differences {
        eprintln!("  {line}");
    }
    eprintln!("  (if the change is meant, run `groupgate simulate --expect FILE --update`)");
    Outcome::Failed
}
