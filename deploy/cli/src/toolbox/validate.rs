//! `groupgate validate`: lints the group definitions with the authorizer's own parser, and
//! judges what their statements reach over the API's finite list of routes (path parameters
//! take a sample value, the stage is the settings').
//!
//! How conditions count: a statement with a condition is taken to apply (its condition may
//! hold), so it counts for "matches no route". A `Deny` with a condition never shadows an
//! `Allow`, because it may not apply.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use groupgate_shared::{ConditionBlock, Effect, INVOKE_ACTION, PolicyDocument, Statement};

use super::{Request, routes};
use crate::stack::Api;
use crate::stack::groups::{self, GroupDefinition};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding: where (the file, a line when the parser knows it, else a JSON pointer) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub file: PathBuf,
    pub line: Option<usize>,
    pub pointer: Option<String>,
    pub message: String,
}

impl Finding {
    fn new(severity: Severity, file: &Path, message: impl Into<String>) -> Self {
        Self {
            severity,
            file: file.to_owned(),
            line: None,
            pointer: None,
            message: message.into(),
        }
    }

    fn at(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    /// `file:line: error: message`, or `file: error: /pointer: message`.
    pub fn plain(&self) -> String {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let file = self.file.display();
        match (self.line, &self.pointer) {
            (Some(line), _) => format!("{file}:{line}: {severity}: {}", self.message),
            (None, Some(pointer)) => format!("{file}: {severity}: {pointer}: {}", self.message),
            (None, None) => format!("{file}: {severity}: {}", self.message),
        }
    }

    /// A GitHub Actions annotation.
    pub fn github(&self) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut properties = format!("file={}", escape_property(&self.file.display().to_string()));
        if let Some(line) = self.line {
            properties.push_str(&format!(",line={line}"));
        }
        let message = match &self.pointer {
            Some(pointer) => format!("{pointer}: {}", self.message),
            None => self.message.clone(),
        };
        format!("::{kind} {properties}::{}", escape_data(&message))
    }
}

/// GitHub's escaping of an annotation's message.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// GitHub's escaping of an annotation's property.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// What `validate` checks the policies against.
pub struct Context<'a> {
    pub stage: &'a str,
    /// The group prefix of every trusted pool: the stack's own (`""`) and each of the settings'
    /// `[[pools]]` (`Settings::group_prefixes`).
    pub pools: Vec<&'a str>,
    /// The API whose routes the statements are judged over.
    pub api: &'a Api,
    /// Whether API Gateway caches authorizer results (a TTL above 0).
    pub cached: bool,
    /// The groups of the live table, when one was given.
    pub live_groups: Option<(&'a str, Vec<String>)>,
    /// The live table's groups whose stored item does not parse, and why: the authorizer
    /// denies their members every request until they are seeded again.
    pub live_invalid: Vec<(String, String)>,
}

/// Lints every `*.json` in `dir`.
pub fn validate(dir: &Path, context: &Context<'_>) -> anyhow::Result<Vec<Finding>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read the policies folder `{}`: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let arns = route_arns(context.api, context.stage, None);
    // Each route with a path parameter, the parameter holding a `:`.
    let probes = route_arns(context.api, context.stage, Some("a:b"));
    let mut findings = Vec::new();
    let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
    for path in &paths {
        let Some(definition) = parse(path, &mut findings) else {
            continue;
        };
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let expected = groups::file_stem(&definition.key);
        let field = format!("/{}", definition.subject.kind());
        if stem != expected {
            findings.push(
                Finding::new(
                Severity::Error,
                path,
                format!(
                    "the file is named `{stem}.json` but defines {} `{}`: name it `{expected}.json`",
                    definition.subject.kind(),
                    definition.key
                ),
            )
                .at(field.clone()),
            );
        }
        if let Some(problem) = groups::ownership_problem(&definition, &context.pools) {
            findings.push(Finding::new(Severity::Error, path, problem).at("/pool"));
        }
        if let Some(first) = seen.get(&definition.key) {
            findings.push(
                Finding::new(
                    Severity::Error,
                    path,
                    format!(
                        "{} `{}` is defined twice (also in `{}`)",
                        definition.subject.kind(),
                        definition.key,
                        first.display()
                    ),
                )
                .at(field),
            );
        } else {
            seen.insert(definition.key.clone(), path.clone());
        }
        if let Some(policy) = &definition.policy
            && let Ok(document) = PolicyDocument::from_value(policy.clone())
        {
            findings.extend(lint_statements(path, &document, &arns, context.cached));
            findings.extend(lint_deny_wildcards(path, &document, &probes));
        }
    }
    findings.extend(live_findings(dir, context, &seen));
    Ok(findings)
}

/// A Deny that IAM's documented wildcard rule would not apply to a request whose path
/// parameter holds a `:`. groupgate's `*` matches `:`; IAM documents that only a `*` ending an
/// ARN segment (the parts between colons) "can expand to match beyond the colon boundaries",
/// and API Gateway does not say which rule it applies to an authorizer's policy. Each route
/// with a path parameter is probed with the value `a:b`.
/// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
fn lint_deny_wildcards(
    path: &Path,
    document: &PolicyDocument,
    probes: &[(String, String)],
) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, statement) in document.statements.iter().enumerate() {
        if statement.effect != Effect::Deny || !statement.action.matches(INVOKE_ACTION) {
            continue;
        }
        for pattern in statement.resource.patterns() {
            let escaped = probes
                .iter()
                .find(|(_, arn)| pattern.matches(arn) && !iam_segment_match(pattern.as_str(), arn));
            if let Some((route, _)) = escaped {
                findings.push(
                    Finding::new(
                        Severity::Warning,
                        path,
                        format!("this Deny's `{}` matches `{route}` with a path parameter holding `:` only because groupgate's `*` matches `:`; IAM documents that a `*` not ending an ARN segment does not, so on AWS such a request might not be denied: end the pattern with `*` or deny the route whole", pattern.as_str()),
                    )
                    .at(format!("/policy/Statement/{i}/Resource")),
                );
            }
        }
    }
    findings
}

/// Whether `pattern` matches `candidate` by IAM's documented rule: a `*` matches within a
/// colon-separated segment, and across colons only when it is the last character of a
/// segment of the pattern.
fn iam_segment_match(pattern: &str, candidate: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let candidate: Vec<char> = candidate.chars().collect();
    iam_match_from(&pattern, &candidate)
}

fn iam_match_from(pattern: &[char], candidate: &[char]) -> bool {
    match pattern.split_first() {
        None => candidate.is_empty(),
        Some(('*', rest)) => {
            let crosses_colons = rest.first().is_none_or(|c| *c == ':');
            (0..=candidate.len())
                .take_while(|&n| {
                    crosses_colons || candidate.get(..n).is_some_and(|t| !t.contains(&':'))
                })
                .any(|n| candidate.get(n..).is_some_and(|c| iam_match_from(rest, c)))
        }
        Some((c, rest)) => candidate
            .split_first()
            .is_some_and(|(d, more)| c == d && iam_match_from(rest, more)),
    }
}

/// What the live table, when one was given, says of the definitions `seen` (group and file):
/// stored items the authorizer cannot parse, groups only the table has, and groups it lacks.
fn live_findings(
    dir: &Path,
    context: &Context<'_>,
    seen: &BTreeMap<String, PathBuf>,
) -> Vec<Finding> {
    let Some((table, live)) = &context.live_groups else {
        return Vec::new();
    };
    let mut findings = Vec::new();
    for (group, why) in &context.live_invalid {
        findings.push(Finding::new(
            Severity::Error,
            dir,
            format!(
                "group `{group}` in {table} does not parse ({why}), so the authorizer denies its members every request: seed it again (groupgate seed-policies)"
            ),
        ));
    }
    for group in live.iter().filter(|g| !seen.contains_key(*g)) {
        findings.push(Finding::new(
            Severity::Warning,
            dir,
            format!("group `{group}` is in {table} but not defined here: the next seed removes it"),
        ));
    }
    for (group, path) in seen.iter().filter(|(g, _)| !live.contains(g)) {
        findings.push(Finding::new(
            Severity::Warning,
            path,
            format!("group `{group}` is not in {table} yet: seed it"),
        ));
    }
    findings
}

/// Parses one definition as the seed does; a failure becomes an error finding with its line
/// when the JSON parser knows it.
fn parse(path: &Path, findings: &mut Vec<Finding>) -> Option<GroupDefinition> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            findings.push(Finding::new(
                Severity::Error,
                path,
                format!("cannot read it: {e}"),
            ));
            return None;
        }
    };
    if let Err(e) = groupgate_shared::json::parse_unique(&text) {
        let mut finding = Finding::new(Severity::Error, path, e.to_string());
        finding.line = Some(e.line());
        findings.push(finding);
        return None;
    }
    match GroupDefinition::parse(path, &text) {
        Ok(definition) => Some(definition),
        Err(e) => {
            let finding = Finding::new(Severity::Error, path, e.message());
            findings.push(match e.pointer() {
                Some(pointer) => finding.at(pointer),
                None => finding,
            });
            None
        }
    }
}

/// The method ARNs of the API's routes on `stage`, keyed `METHOD /route`: each path parameter
/// holding `parameter` when given (and then only the routes that have one), else the sample.
fn route_arns(api: &Api, stage: &str, parameter: Option<&str>) -> Vec<(String, String)> {
    routes(api)
        .into_iter()
        .filter(|(_, route, _)| parameter.is_none() || route.contains('{'))
        .filter_map(|(method, route, sample)| {
            let path = match parameter {
                Some(value) => route
                    .split('/')
                    .map(|part| if part.starts_with('{') { value } else { part })
                    .collect::<Vec<_>>()
                    .join("/"),
                None => sample,
            };
            let request = Request {
                method: method.clone(),
                path,
                source_ip: None,
                stage: stage.to_owned(),
            };
            let arn = request.method_arn().ok()?;
            Some((format!("{method} {route}"), arn.as_str().to_owned()))
        })
        .collect()
}

/// The routes a statement covers (its condition taken to hold).
fn covered<'r>(statement: &Statement, arns: &'r [(String, String)]) -> Vec<&'r str> {
    if !statement.action.matches(INVOKE_ACTION) {
        return Vec::new();
    }
    arns.iter()
        .filter(|(_, arn)| statement.resource.matches(arn))
        .map(|(route, _)| route.as_str())
        .collect()
}

/// The findings of one policy's statements, judged over the API's routes (`arns`); `cached`:
/// API Gateway caches authorizer results.
fn lint_statements(
    path: &Path,
    document: &PolicyDocument,
    arns: &[(String, String)],
    cached: bool,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let pointer = |i: usize| format!("/policy/Statement/{i}");
    // The routes each statement covers, and those the unconditional Denies cover together.
    let coverage: Vec<Vec<&str>> = document
        .statements
        .iter()
        .map(|s| covered(s, arns))
        .collect();
    let denied: Vec<&str> = document
        .statements
        .iter()
        .zip(&coverage)
        .filter(|(s, _)| s.effect == Effect::Deny && s.condition.is_none())
        .flat_map(|(_, routes)| routes.iter().copied())
        .collect();
    for ((i, statement), routes) in document.statements.iter().enumerate().zip(&coverage) {
        if routes.is_empty() {
            findings.push(
                Finding::new(Severity::Warning, path, "matches no route of the API").at(pointer(i)),
            );
        }
        // Wider than the API: an action pattern that also matches other services' actions, or
        // a resource pattern that also matches what is not an API method.
        if statement.action.matches("iam:PassRole") {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    path,
                    "its actions reach beyond `execute-api:Invoke` (`*`): name the action",
                )
                .at(pointer(i)),
            );
        }
        if statement.resource.matches("arn:aws:s3:::a-bucket/a-key") {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    path,
                    "its resources reach beyond API methods (`*`): start them with `arn:aws:execute-api:`",
                )
                .at(pointer(i)),
            );
        }
        if cached && mentions_source_ip(statement) {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    path,
                    "an `aws:SourceIp` condition while API Gateway caches authorizer results: the cached result is reused for other addresses; set authorizer_ttl_seconds = 0 or use a resource policy",
                )
                .at(format!("{}/Condition", pointer(i))),
            );
        }
        if statement.effect == Effect::Allow && !routes.is_empty() {
            let shadowed = routes.iter().all(|route| denied.contains(route));
            if shadowed {
                findings.push(
                    Finding::new(
                        Severity::Warning,
                        path,
                        format!(
                            "this Allow is shadowed: a Deny of the same group covers every route it matches ({})",
                            routes.join(", ")
                        ),
                    )
                    .at(pointer(i)),
                );
            }
        }
    }
    findings
}

fn mentions_source_ip(statement: &Statement) -> bool {
    statement.condition.as_ref().is_some_and(|c| {
        c.blocks.iter().any(|b: &ConditionBlock| {
            b.keys
                .iter()
                .any(|k| k.name.eq_ignore_ascii_case("aws:SourceIp"))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::iam_segment_match;

    #[test]
    fn iams_wildcard_crosses_a_colon_only_at_the_end_of_a_segment() {
        let deny = "arn:aws:execute-api:*:*:*/*/DELETE/pets/*/photos";
        let arn = |id: &str| {
            format!("arn:aws:execute-api:eu-west-1:123456789012:a1/prod/DELETE/pets/{id}/photos")
        };
        assert!(iam_segment_match(deny, &arn("7")));
        assert!(!iam_segment_match(deny, &arn("a:b")));
        assert!(iam_segment_match("arn:aws:execute-api:*:*:*", &arn("a:b")));
        assert!(iam_segment_match(
            "arn:aws:execute-api:*:*:*/*/DELETE/pets/*",
            &arn("a:b")
        ));
        assert!(!iam_segment_match(
            "arn:aws:execute-api:*:*:*/*/GET/*",
            &arn("7")
        ));
    }
}
