//! What an operator runs against a stack: synthesizing its template and asset manifest,
//! bootstrapping an account, deploying, seeding its tables, and getting a token.
//!
//! - [`cloudformation`]: a template deployed as a stack through a change set;
//! - [`bootstrap`]: `groupgate bootstrap`, the bootstrap stack and API Gateway's logging role;
//! - [`parameter_constraints`]: a value a deploy keeps, checked against the new template;
//! - [`deploy`]: `groupgate deploy`, from the built zips to a seeded, flushed stack;
//! - [`policies`]: `groupgate deploy-policies`, a change to the group policies alone, without
//!   a build or a stack update;
//! - [`seed`]: writes the group policies to the policy table;
//! - [`pets`]: the default pets, into an empty pets table;
//! - [`token`]: an access token for a user through the operator client's admin flow;
//! - [`permissions`]: every AWS call these make, with the IAM action it needs.

pub mod bootstrap;
pub mod cloudformation;
pub mod deploy;
pub mod parameter_constraints;
pub mod permissions;
pub mod pets;
pub mod policies;
pub mod seed;
pub mod token;

use std::path::Path;

use anyhow::Context as _;

use crate::stack::{self, Settings, assets::Assets, groups};

/// Writes `path` as pretty JSON, creating its folder.
pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(value)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing `{}`", path.display()))
}

/// Writes a deployed stack's description (`groupgate describe`'s JSON) to `out/stack.json`,
/// as `deploy` and `deploy-policies` leave it for the smoke step; returns its outputs.
pub(crate) fn write_description(
    out: &Path,
    outputs: stack::StackOutputs,
) -> anyhow::Result<stack::StackOutputs> {
    let description = crate::description::StackDescription {
        outputs,
        local: None,
    };
    write_json(
        &out.join("stack.json"),
        &serde_json::to_value(&description)?,
    )?;
    Ok(description.outputs)
}

/// Which stack `groupgate synth` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthTarget {
    /// The app stack: user pool, tables, functions, REST API, alarms.
    App,
    /// The authorizer-only stack, for a REST API defined elsewhere (`stack::attach`).
    AuthorizerOnly,
}

/// Writes `<out>/template.json` and `<out>/assets.json` of `target` from the group definitions
/// in `policies`, the zips in `assets_dir` (or stand-in keys when `assets_dir` is `None`) and
/// the settings.
pub fn synth(
    out: &Path,
    policies: &Path,
    assets_dir: Option<&Path>,
    settings: &Settings,
    target: SynthTarget,
) -> anyhow::Result<()> {
    let groups = groups::load_for(policies, settings)?;
    let functions: &[&str] = match target {
        SynthTarget::App => &stack::FUNCTIONS,
        SynthTarget::AuthorizerOnly => &stack::attach::FUNCTIONS,
    };
    let assets = match assets_dir {
        Some(dir) => Assets::from_dir(dir, functions)?,
        None => Assets::placeholder(functions),
    };
    let template = match target {
        SynthTarget::App => stack::build(&groups, &settings.api()?, &assets, settings),
        SynthTarget::AuthorizerOnly => stack::attach::build(&groups, &assets, settings),
    }
    .to_template()?;
    write_json(&out.join("template.json"), &template)?;
    write_json(&out.join("assets.json"), &serde_json::to_value(&assets)?)?;
    println!(
        "wrote {}/template.json and {}/assets.json",
        out.display(),
        out.display()
    );
    Ok(())
}
