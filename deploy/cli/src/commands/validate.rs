//! `groupgate validate`: lints the group definitions, and compares them with a live table's.

use std::path::{Path, PathBuf};

use super::ToolboxSettingsArgs;
use crate::aws::{self, Target};
use crate::description::StackDescription;
use crate::exit::{Outcome, UsageError};
use crate::stack::groups;
use crate::stack::settings::PolicyLanguage;
use crate::toolbox::{self, cedar, validate};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// `file:line: severity: message`
    Plain,
    /// GitHub Actions annotations
    Github,
}

#[derive(clap::Args)]
pub struct Args {
    /// Folder of group definitions (`GROUPGATE_POLICIES` sets the default).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    /// Also compare with the groups of this live policy table (the local stack's when it
    /// names its table).
    #[arg(long, conflicts_with = "stack")]
    table: Option<String>,
    /// Also compare with the policy table of this deployed stack.
    #[arg(long)]
    stack: Option<String>,
    /// How findings are printed.
    #[arg(long, value_enum, default_value = "plain")]
    format: Format,
    /// Warnings fail too.
    #[arg(long)]
    strict: bool,
    #[command(flatten)]
    settings: ToolboxSettingsArgs,
}

/// Prints every finding and a count; fails on an error (or, with `--strict`, a warning).
pub async fn run(args: Args) -> anyhow::Result<Outcome> {
    let (settings, api) = args.settings.load_with_api()?;
    if settings.policy_language == PolicyLanguage::Cedar {
        if args.table.is_some() || args.stack.is_some() {
            return Err(UsageError(
                "--table and --stack: no policy table holds Cedar policies yet".to_owned(),
            )
            .into());
        }
        let findings = cedar::validate(&args.policies, &api)?;
        return Ok(report(&findings, args.format, args.strict, &args.policies));
    }
    let table = match (args.table, &args.stack) {
        (Some(table), _) => Some(table),
        (None, Some(name)) => {
            let aws = aws::config(Target::Environment).await?;
            let stack = StackDescription::of_stack(&aws, name).await?;
            Some(stack.outputs.policy_table_name)
        }
        (None, None) => None,
    };
    let mut live_invalid = Vec::new();
    let live = match &table {
        Some(table) => {
            let catalogue = toolbox::load(&args.policies, Some(table)).await?;
            let names = catalogue.names().iter().map(|n| n.to_string()).collect();
            for group in &catalogue.groups {
                if let Err(why) = &group.policy {
                    live_invalid.push((group.group.clone(), why.to_string()));
                }
            }
            Some((table.as_str(), names))
        }
        None => None,
    };
    let context = validate::Context {
        stage: &settings.stage,
        pools: settings.group_prefixes(),
        api: &api,
        cached: settings.authorizer_ttl_seconds > 0,
        live_groups: live,
        live_invalid,
    };
    let findings = validate::validate(&args.policies, &context)?;
    Ok(report(&findings, args.format, args.strict, &args.policies))
}

/// Prints every finding and a count; the outcome fails on an error (or, with `strict`, a
/// warning).
fn report(findings: &[validate::Finding], format: Format, strict: bool, dir: &Path) -> Outcome {
    for finding in findings {
        let line = match format {
            Format::Plain => finding.plain(),
            Format::Github => finding.github(),
        };
        toolbox::print(&format!("{line}\n"));
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == validate::Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    eprintln!(
        "validate: {}, {} in {}",
        count(errors, "error"),
        count(warnings, "warning"),
        dir.display()
    );
    if errors > 0 || (strict && warnings > 0) {
        Outcome::Failed
    } else {
        Outcome::Done
    }
}

/// `1 error`, `2 errors`.
fn count(n: usize, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}
