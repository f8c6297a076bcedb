//! `groupgate simulate`: every group, and no group, against every route of the API, as the
//! authorizer decides; and the committed access matrix (`deploy/access.json`) it is checked
//! against. The same file gives the smoke tests their cases (`--format tsv`), with the status
//! each environment answers where that differs from the decision (a read-only role's write is
//! let through by the authorizer and refused by DynamoDB on AWS, but moto enforces no IAM).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::{Catalogue, Evaluation, Request, routes};
use crate::stack::Api;

/// How the user in no group is named in the matrix.
pub const NO_GROUP: &str = "(no group)";

/// Why anyone reaches a public operation: API Gateway calls no authorizer for it.
pub const PUBLIC: &str =
    "public: the API's document gives it `security: []`, so no authorizer runs";

/// One cell: a group (or none) on a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub group: String,
    pub method: String,
    pub route: String,
    /// The path asked (path parameters take a sample value).
    pub path: String,
    pub allow: bool,
    /// Why, in the authorizer's words.
    pub reason: String,
}

impl Cell {
    /// `METHOD /route`, as the access file keys a route.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.route)
    }

    pub fn decision(&self) -> &'static str {
        if self.allow { "Allow" } else { "Deny" }
    }
}

/// Every group and no group against every route, in that order.
pub fn matrix(catalogue: &Catalogue, api: &Api, stage: &str) -> anyhow::Result<Vec<Cell>> {
    let mut who: Vec<Option<&str>> = catalogue.names().into_iter().map(Some).collect();
    who.push(None);
    // Each route once, with whether it is public (no authorizer runs for anyone).
    let routes: Vec<_> = routes(api)
        .into_iter()
        .map(|(method, route, path)| {
            let public = api.route_of(&method, &path).is_some_and(|o| o.public);
            (method, route, path, public)
        })
        .collect();
    let mut cells = Vec::new();
    for group in who {
        let names: Vec<String> = group.map(str::to_owned).into_iter().collect();
        for (method, route, path, public) in routes.iter().cloned() {
            if public {
                cells.push(Cell {
                    group: group.unwrap_or(NO_GROUP).to_owned(),
                    method,
                    route,
                    path,
                    allow: true,
                    reason: PUBLIC.to_owned(),
                });
                continue;
            }
            let request = Request {
                method: method.clone(),
                path: path.clone(),
                source_ip: None,
                stage: stage.to_owned(),
            };
            let evaluation = Evaluation::new(catalogue.select(&names), &request)?;
            let decision = evaluation.decision();
            let allow = decision.is_allow();
            // The returned policy must say the same to API Gateway; if not, the tool is wrong.
            let reference = evaluation
                .reference_allows()
                .map_err(|e| anyhow::anyhow!("the returned policy cannot be evaluated: {e}"))?;
            if reference != allow {
                anyhow::bail!(
                    "the authorizer decides {} for {} on {method} {path}, but its returned policy says otherwise: report this",
                    decision.as_str(),
                    group.unwrap_or(NO_GROUP)
                );
            }
            cells.push(Cell {
                group: group.unwrap_or(NO_GROUP).to_owned(),
                method,
                route,
                path,
                allow,
                reason: decision.reason().to_string(),
            });
        }
    }
    Ok(cells)
}

/// The committed access matrix: the authorizer's decision for every group on every route, and
/// where the end-to-end status differs by environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFile {
    #[serde(rename = "$comment", default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// group (or `(no group)`) -> `METHOD /route` -> `Allow` or `Deny`.
    pub decisions: BTreeMap<String, BTreeMap<String, Decision>>,
    /// environment -> group -> `METHOD /route` -> the status callers get there instead of the
    /// decision's usual one (2xx for an Allow, 403 for a Deny).
    #[serde(default)]
    pub status: BTreeMap<String, BTreeMap<String, BTreeMap<String, Override>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    Allow,
    Deny,
}

/// A status that differs from the decision's usual one, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub status: u16,
    pub why: String,
}

/// The variable that names another access file than the checkout's, beside
/// [`crate::stack::groups::POLICIES_VARIABLE`].
pub const ACCESS_VARIABLE: &str = "GROUPGATE_ACCESS";

/// The access file: `GROUPGATE_ACCESS` when set, else the committed `deploy/access.json`.
pub fn default_access_file() -> PathBuf {
    match std::env::var_os(ACCESS_VARIABLE) {
        Some(file) if !file.is_empty() => PathBuf::from(file),
        _ => crate::stack::settings::checkout_root().join("deploy/access.json"),
    }
}

impl AccessFile {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the access file `{}`", path.display()))?;
        groupgate_shared::json::parse_unique(&text)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|v| serde_json::from_value(v).map_err(anyhow::Error::from))
            .with_context(|| format!("`{}` is not an access file", path.display()))
    }

    /// The file that states `cells` (keeping this file's status overrides).
    pub fn from_cells(cells: &[Cell], keep: Option<&AccessFile>) -> Self {
        let mut decisions: BTreeMap<String, BTreeMap<String, Decision>> = BTreeMap::new();
        for cell in cells {
            decisions.entry(cell.group.clone()).or_default().insert(
                cell.route_key(),
                if cell.allow {
                    Decision::Allow
                } else {
                    Decision::Deny
                },
            );
        }
        Self {
            comment: keep.and_then(|k| k.comment.clone()),
            decisions,
            status: keep.map(|k| k.status.clone()).unwrap_or_default(),
        }
    }

    /// What differs between the matrix and this file, one readable line each; empty if none.
    pub fn differences(&self, cells: &[Cell]) -> Vec<String> {
        let mut lines = Vec::new();
        for cell in cells {
            let expected = self
                .decisions
                .get(&cell.group)
                .and_then(|routes| routes.get(&cell.route_key()));
            let got = if cell.allow {
                Decision::Allow
            } else {
                Decision::Deny
            };
            match expected {
                Some(e) if *e == got => {}
                Some(e) => lines.push(format!(
                    "{}: {}: expected {e:?}, got {got:?} ({})",
                    cell.group,
                    cell.route_key(),
                    cell.reason
                )),
                None => lines.push(format!(
                    "{}: {}: not in the file; got {got:?} ({})",
                    cell.group,
                    cell.route_key(),
                    cell.reason
                )),
            }
        }
        for (group, routes) in &self.decisions {
            for route in routes.keys() {
                if !cells
                    .iter()
                    .any(|c| &c.group == group && &c.route_key() == route)
                {
                    lines.push(format!(
                        "{group}: {route}: in the file, but no such group or route"
                    ));
                }
            }
        }
        lines
    }

    /// The status a caller in `cell.group` gets on `cell`'s route in `environment`.
    pub fn status(&self, cell: &Cell, environment: &str) -> u16 {
        self.status
            .get(environment)
            .and_then(|groups| groups.get(&cell.group))
            .and_then(|routes| routes.get(&cell.route_key()))
            .map_or_else(|| usual_status(cell), |o| o.status)
    }
}

/// The status an Allow or a Deny usually ends in (see [`super::usual_status`]).
pub fn usual_status(cell: &Cell) -> u16 {
    super::usual_status(cell.allow, &cell.method)
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Routes down, groups across.
    Table,
    /// The same as a Markdown table, for a pull request.
    Markdown,
    /// One line per group and route: group, method, route, path, decision, status.
    Tsv,
}

/// The matrix in `format`; `access` and `environment` give the statuses of the TSV.
pub fn render(
    cells: &[Cell],
    format: Format,
    access: Option<&AccessFile>,
    environment: &str,
) -> String {
    let mut groups: Vec<&str> = Vec::new();
    for cell in cells {
        if !groups.contains(&cell.group.as_str()) {
            groups.push(&cell.group);
        }
    }
    let mut routes: Vec<String> = Vec::new();
    for cell in cells {
        let key = cell.route_key();
        if !routes.contains(&key) {
            routes.push(key);
        }
    }
    let decision = |group: &str, route: &str| {
        cells
            .iter()
            .find(|c| c.group == group && c.route_key() == route)
            .map_or("?", Cell::decision)
    };
    let mut out = String::new();
    match format {
        Format::Tsv => {
            out.push_str("group\tmethod\troute\tpath\tdecision\tstatus\n");
            for cell in cells {
                let status =
                    access.map_or_else(|| usual_status(cell), |a| a.status(cell, environment));
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}\t{}\t{}\t{status}",
                    cell.group,
                    cell.method,
                    cell.route,
                    cell.path,
                    cell.decision()
                );
            }
        }
        Format::Markdown => {
            let _ = writeln!(out, "| route | {} |", groups.join(" | "));
            let _ = writeln!(out, "|---|{}", "---|".repeat(groups.len()));
            for route in &routes {
                let row: Vec<&str> = groups.iter().map(|g| decision(g, route)).collect();
                let _ = writeln!(out, "| `{route}` | {} |", row.join(" | "));
            }
        }
        Format::Table => {
            let width = routes.iter().map(String::len).max().unwrap_or(0);
            let widths: Vec<usize> = groups.iter().map(|g| g.len().max(5)).collect();
            let _ = write!(out, "{:width$}", "");
            for (g, w) in groups.iter().zip(&widths) {
                let _ = write!(out, "  {g:w$}");
            }
            out.push('\n');
            for route in &routes {
                let _ = write!(out, "{route:width$}");
                for (g, w) in groups.iter().zip(&widths) {
                    let _ = write!(out, "  {:w$}", decision(g, route));
                }
                out.push('\n');
            }
        }
    }
    out
}
