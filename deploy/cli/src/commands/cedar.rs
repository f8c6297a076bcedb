//! `groupgate cedar export|import`: a folder of Cedar policies to and from the form Amazon
//! Verified Permissions takes (the schema as `PutSchema`'s `cedarJson`, each policy as
//! `CreatePolicy`'s static definition), with users and groups named as a store whose identity
//! source is one Cognito user pool names them (`"{user pool id}|admin"`).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use groupgate_cedar::{CedarPolicies, EXTENSION, from_import_json, to_import_json_leaving_out};

use super::ToolboxSettingsArgs;
use crate::exit::{Outcome, UsageError};
use crate::stack::groups;
use crate::toolbox::cedar;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Write the schema generated from the API's routes and the folder's `*.cedar` policies as
    /// one JSON document in Verified Permissions' request shapes, for a store whose identity
    /// source is the user pool --user-pool-id. A policy that names another pool's group or a
    /// scope has no such form: it is left out and named on stderr (exit 1 unless
    /// --allow-left-out).
    Export(ExportArgs),
    /// Read such a document into a new folder of `*.cedar` files, in groupgate's names (the
    /// pool's id taken off), after validating its policies strictly against the schema of this
    /// API's routes. Nothing is written when any policy is invalid, or when the folder already
    /// holds a `*.cedar` file.
    Import(ImportArgs),
}

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Folder of `*.cedar` policies (`GROUPGATE_POLICIES` sets the default).
    #[arg(long, default_value_os_t = groups::default_dir())]
    policies: PathBuf,
    /// The user pool of the store's identity source (`us-east-1_AbCdEf123`).
    #[arg(long)]
    user_pool_id: String,
    /// Where to write the document (default: stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Exit 0 even when policies were left out.
    #[arg(long)]
    allow_left_out: bool,
    #[command(flatten)]
    settings: ToolboxSettingsArgs,
}

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The document (`groupgate cedar export`'s form).
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// The user pool whose ids the document's users and groups carry.
    #[arg(long)]
    user_pool_id: String,
    /// The folder to write the `*.cedar` files into (created when missing).
    #[arg(long, value_name = "DIR")]
    into: PathBuf,
    #[command(flatten)]
    settings: ToolboxSettingsArgs,
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Export(args) => export(args),
        Command::Import(args) => import(args),
    }
}

fn export(args: ExportArgs) -> anyhow::Result<Outcome> {
    let (_, api) = args.settings.load_with_api()?;
    let store = cedar::load(&args.policies, &api)
        .with_context(|| format!("Cedar policies in `{}`", args.policies.display()))?;
    let (document, left_out) =
        to_import_json_leaving_out(store.schema(), store.policies(), &args.user_pool_id)
            .map_err(|e| UsageError(format!("--user-pool-id: {e}")))?;
    match &args.out {
        Some(path) => std::fs::write(path, document + "\n")
            .with_context(|| format!("writing `{}`", path.display()))?,
        None => writeln!(std::io::stdout(), "{document}")?,
    }
    for (id, why) in &left_out {
        eprintln!("cedar export: left out `{id}`: {why}");
    }
    Ok(if left_out.is_empty() || args.allow_left_out {
        Outcome::Done
    } else {
        Outcome::Failed
    })
}

fn import(args: ImportArgs) -> anyhow::Result<Outcome> {
    let (_, api) = args.settings.load_with_api()?;
    let text = std::fs::read_to_string(&args.from)
        .with_context(|| format!("reading `{}`", args.from.display()))?;
    let (_, imported) = from_import_json(&text, &args.user_pool_id)
        .with_context(|| format!("`{}`", args.from.display()))?;
    let files = files_of(&imported);
    // The policies must hold against this API's routes, not only the document's own schema
    // (a Verified Permissions store's schema is not refreshed when the API changes).
    let schema = cedar::schema(&api)?;
    let listed: Vec<(String, String)> = files.clone().into_iter().collect();
    CedarPolicies::from_files(&listed, &schema).with_context(|| {
        format!(
            "the policies of `{}` against the routes of `{}`",
            args.from.display(),
            api.file.display()
        )
    })?;
    write_new_folder(&args.into, &files)?;
    eprintln!(
        "cedar import: wrote {} file(s) into {}",
        files.len(),
        args.into.display()
    );
    Ok(Outcome::Done)
}

/// The imported policies as file name to text. A policy's file comes from its description
/// (`admin.cedar#0` is in `admin.cedar`); a description that is not a plain `*.cedar` file name
/// (a store's own policies, or a name with a path in it) puts the policy in `imported.cedar`,
/// so a document can never write outside the folder.
fn files_of(policies: &CedarPolicies) -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for statement in policies.statements() {
        let file = if is_plain_file_name(&statement.file) {
            statement.file.clone()
        } else {
            format!("imported.{EXTENSION}")
        };
        let text = files.entry(file).or_default();
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(&format!("// {}\n{}\n", statement.id, statement.text));
    }
    files
}

fn is_plain_file_name(name: &str) -> bool {
    name.strip_suffix(&format!(".{EXTENSION}"))
        .is_some_and(|stem| {
            !stem.is_empty()
                && !stem.starts_with('.')
                && stem
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        })
}

/// Writes `files` into `dir`, refusing a folder that already holds Cedar policies: an import
/// never overwrites or mixes with policies it did not read.
fn write_new_folder(dir: &Path, files: &BTreeMap<String, String>) -> anyhow::Result<()> {
    if dir.exists() {
        let existing = std::fs::read_dir(dir)
            .with_context(|| format!("reading `{}`", dir.display()))?
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == EXTENSION));
        if existing {
            return Err(UsageError(format!(
                "--into `{}` already holds `*.{EXTENSION}` files: import into a new folder",
                dir.display()
            ))
            .into());
        }
    }
    // Two names one case-insensitive file system would make one file: refused, so that no
    // policy (a forbid, say) is lost by one file overwriting the other.
    let mut folded = std::collections::BTreeMap::new();
    for name in files.keys() {
        if let Some(other) = folded.insert(name.to_ascii_lowercase(), name) {
            return Err(anyhow::anyhow!(
                "the document names the files `{other}` and `{name}`, which differ only in case: rename one description"
            ));
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    for (name, text) in files {
        let path = dir.join(name);
        // Never over an existing file, whatever made it since the check above.
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating `{}`", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .with_context(|| format!("writing `{}`", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::is_plain_file_name;

    #[test]
    fn only_a_plain_cedar_file_name_is_kept() {
        for good in [
            "admin.cedar",
            "pet-viewer.cedar",
            "scope-petstore-status.read.cedar",
        ] {
            assert!(is_plain_file_name(good), "{good}");
        }
        for bad in [
            "../admin.cedar",
            "/etc/admin.cedar",
            "a/b.cedar",
            ".cedar",
            ".hidden.cedar",
            "admin.json",
            "admin",
            "a\\b.cedar",
        ] {
            assert!(!is_plain_file_name(bad), "{bad}");
        }
    }
}
