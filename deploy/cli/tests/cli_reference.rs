#![cfg(test)]
//! The book's CLI reference, `docs/src/reference/cli.md`, is every command's `--help` as the
//! built `groupgate` prints it. Commands are found by walking the `Commands:` list of each help
//! text, so a command added, renamed, moved or nested changes the page with no edit here. The
//! binary runs with an empty environment, in an empty folder outside any checkout, so the page
//! shows no value of the machine it was made on (`[env: STACK_NAME=...]`, a checkout's path).
//!
//! When the committed page is stale the test fails and prints the one command that rewrites it.

use std::path::{Path, PathBuf};
use std::process::Command;

const REGENERATE: &str = "GROUPGATE_UPDATE_DOCS=1 cargo test -p groupgate-cli --test cli_reference";

fn page_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/reference/cli.md")
}

/// `groupgate <path...> --help`, run where no checkout or environment can show through.
fn help(path: &[String], empty_dir: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_groupgate"))
        .args(path)
        .arg("--help")
        .env_clear()
        .current_dir(empty_dir)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "groupgate {} --help failed: {}",
        path.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:`, without clap's own `help`.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim_end() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every command, depth first in the order the help lists them: (path, help text).
fn every_command(empty_dir: &Path) -> Vec<(Vec<String>, String)> {
    let mut found = Vec::new();
    let mut pending = vec![Vec::new()];
    while let Some(path) = pending.pop() {
        let text = help(&path, empty_dir);
        let children = subcommands(&text);
        found.push((path.clone(), text));
        for child in children.into_iter().rev() {
            let mut next = path.clone();
            next.push(child);
            pending.push(next);
        }
    }
    found
}

fn render(commands: &[(Vec<String>, String)]) -> String {
    let mut page = String::from(
        "# Command line\n\n\
         Every command of the operator's tool, `groupgate`, as its `--help` prints it. The\n\
         page is generated from the tool: a test fails when it is stale, and\n\
         `GROUPGATE_UPDATE_DOCS=1 cargo test -p groupgate-cli --test cli_reference` rewrites it.\n\
         Run the tool as `cargo run -p groupgate-cli -- COMMAND`, or build it once\n\
         (`cargo build -p groupgate-cli`) and run `target/debug/groupgate COMMAND`; it finds\n\
         `policies/` and `deploy/groupgate.toml` from the current folder up.\n",
    );
    for (path, text) in commands {
        let name = std::iter::once("groupgate")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ");
        page.push_str(&format!(
            "\n## {name}\n\n```text\n{}\n```\n",
            text.trim_end()
        ));
    }
    page
}

#[test]
fn the_cli_reference_is_every_commands_help() {
    let empty_dir = tempfile::tempdir().unwrap();
    let commands = every_command(empty_dir.path());
    assert!(
        commands.len() > 5,
        "found only {} commands: the `Commands:` lists were not read",
        commands.len()
    );
    let page = render(&commands);
    let path = page_path();
    if std::env::var_os("GROUPGATE_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &page).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != page {
        let first = committed
            .lines()
            .zip(page.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(page.lines().count()));
        panic!(
            "docs/src/reference/cli.md is stale from line {}: the tool's help changed. Rewrite it with\n\n    {REGENERATE}\n",
            first + 1
        );
    }
}

#[test]
fn a_commands_list_names_each_subcommand_once_and_skips_help() {
    let text = "Usage: groupgate <COMMAND>\n\nCommands:\n  synth     Write the template\n            \
                and more\n  local     The local stack\n  help      Print this message\n\nOptions:\n  \
                -h, --help  Print help\n";
    assert_eq!(subcommands(text), ["synth", "local"]);
    assert!(
        subcommands("Usage: groupgate synth [OPTIONS]\n\nOptions:\n  --out <OUT>\n").is_empty()
    );
}
