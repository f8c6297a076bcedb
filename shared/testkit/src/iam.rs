//! A small IAM policy evaluator for tests: identity policies, an optional permissions boundary,
//! Allow and Deny, `Action`/`NotAction`, `Resource`/`NotResource`, `*` and `?` wildcards, and the
//! condition operators the project's templates use. It answers whether one request is allowed
//! and which statement decided, so a test can name both.
//!
//! Written from IAM's documentation, not from another evaluator:
//! - the evaluation logic (explicit deny wins, then an allow is needed in the identity policies
//!   and, when there is one, in the permissions boundary; otherwise implicit deny):
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>
//!   and <https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html>;
//! - actions match case-insensitively, resources (ARNs) case-sensitively, `*` any run of
//!   characters and `?` one:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html>,
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>;
//! - conditions: keys are ANDed, a key's values are ORed; a missing key makes a condition false
//!   except for the negated operators, `...IfExists` and `Null`; `ForAnyValue:` and
//!   `ForAllValues:` over multivalued keys (`ForAllValues:` holds when the key is missing):
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>,
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>.
//!
//! Not modelled: resource-based policies, session policies, SCPs, policy variables, numeric and
//! date operators. A policy that uses anything unmodelled is refused when it is parsed, so a
//! test never silently decides on half a policy.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// One request: who asks to do what to which resource, with the condition keys it carries.
/// Context keys are matched case-insensitively, as IAM does; values are kept as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub context: BTreeMap<String, Vec<String>>,
}

impl Request {
    pub fn new(principal: &str, action: &str, resource: &str) -> Self {
        Self {
            principal: principal.to_owned(),
            action: action.to_owned(),
            resource: resource.to_owned(),
            context: BTreeMap::new(),
        }
    }

    /// Adds a context key with one or more values.
    pub fn with(mut self, key: &str, values: &[&str]) -> Self {
        self.context.insert(
            key.to_ascii_lowercase(),
            values.iter().map(|v| (*v).to_owned()).collect(),
        );
        self
    }

    fn values(&self, key: &str) -> Option<&Vec<String>> {
        self.context.get(&key.to_ascii_lowercase())
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} asks {} on {}",
            self.principal, self.action, self.resource
        )?;
        if !self.context.is_empty() {
            write!(f, " with {:?}", self.context)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Allow,
    Deny,
}

/// `Action` or `NotAction` (and the same for resources): the patterns, and whether they are
/// negated.
#[derive(Debug, Clone)]
struct Patterns {
    not: bool,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
enum SetOperator {
    Single,
    ForAnyValue,
    ForAllValues,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    Bool,
    Null,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "StringEquals" => Self::StringEquals,
            "StringNotEquals" => Self::StringNotEquals,
            "StringEqualsIgnoreCase" => Self::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Self::StringNotEqualsIgnoreCase,
            "StringLike" => Self::StringLike,
            "StringNotLike" => Self::StringNotLike,
            "ArnEquals" => Self::ArnEquals,
            "ArnNotEquals" => Self::ArnNotEquals,
            "ArnLike" => Self::ArnLike,
            "ArnNotLike" => Self::ArnNotLike,
            "Bool" => Self::Bool,
            "Null" => Self::Null,
            _ => return None,
        })
    }

    fn negated(self) -> bool {
        matches!(
            self,
            Self::StringNotEquals
                | Self::StringNotEqualsIgnoreCase
                | Self::StringNotLike
                | Self::ArnNotEquals
                | Self::ArnNotLike
        )
    }

    /// Whether one request value matches one policy value (before negation).
    fn matches(self, request: &str, policy: &str) -> bool {
        match self {
            Self::StringEquals | Self::StringNotEquals | Self::ArnEquals | Self::ArnNotEquals => {
                request == policy
            }
            Self::StringEqualsIgnoreCase | Self::StringNotEqualsIgnoreCase => {
                request.eq_ignore_ascii_case(policy)
            }
            Self::StringLike | Self::StringNotLike | Self::ArnLike | Self::ArnNotLike => {
                wildcard(policy, request, false)
            }
            Self::Bool => request.eq_ignore_ascii_case(policy),
            Self::Null => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Condition {
    text: String,
    set: SetOperator,
    operator: Operator,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

impl Condition {
    fn holds(&self, request: &Request) -> bool {
        let present = request.values(&self.key);
        if self.operator == Operator::Null {
            // `Null: true` holds when the key is absent, `false` when it is present.
            let wants_absent = self.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
            return present.is_none() == wants_absent;
        }
        let Some(values) = present else {
            return match self.set {
                SetOperator::ForAllValues => true,
                SetOperator::ForAnyValue => false,
                SetOperator::Single => self.if_exists || self.operator.negated(),
            };
        };
        let one = |value: &String| {
            let any = self.values.iter().any(|p| self.operator.matches(value, p));
            if self.operator.negated() { !any } else { any }
        };
        match self.set {
            SetOperator::ForAllValues => values.iter().all(one),
            SetOperator::ForAnyValue => values.iter().any(one),
            // A single-valued key: IAM compares each value the request carries; a negated
            // operator holds only when none matches.
            SetOperator::Single => {
                if self.operator.negated() {
                    values.iter().all(one)
                } else {
                    values.iter().any(one)
                }
            }
        }
    }
}

/// One statement, with where it comes from for the report.
#[derive(Debug, Clone)]
pub struct Statement {
    /// `policy name#Sid` or `policy name#index`.
    pub id: String,
    effect: Effect,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

impl Statement {
    fn applies(&self, request: &Request) -> bool {
        let action = self
            .actions
            .values
            .iter()
            .any(|p| wildcard(p, &request.action, true));
        let resource = self
            .resources
            .values
            .iter()
            .any(|p| wildcard(p, &request.resource, false));
        action != self.actions.not
            && resource != self.resources.not
            && self.conditions.iter().all(|c| c.holds(request))
    }

    /// The statement's conditions, as written, for a report.
    pub fn conditions(&self) -> Vec<&str> {
        self.conditions.iter().map(|c| c.text.as_str()).collect()
    }
}

/// A parsed policy document.
#[derive(Debug, Clone)]
pub struct Policy {
    pub name: String,
    pub statements: Vec<Statement>,
}

/// A policy the evaluator cannot read, or reads only in part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError(pub String);

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PolicyError {}

fn strings(value: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match value {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Bool(b) => Ok(b.to_string()),
                other => Err(PolicyError(format!("{what}: `{other}` is not a string"))),
            })
            .collect(),
        other => Err(PolicyError(format!(
            "{what}: `{other}` is not a string or a list"
        ))),
    }
}

fn patterns(
    statement: &serde_json::Map<String, Value>,
    positive: &str,
    negative: &str,
    id: &str,
) -> Result<Patterns, PolicyError> {
    match (statement.get(positive), statement.get(negative)) {
        (Some(v), None) => Ok(Patterns {
            not: false,
            values: strings(v, &format!("{id} {positive}"))?,
        }),
        (None, Some(v)) => Ok(Patterns {
            not: true,
            values: strings(v, &format!("{id} {negative}"))?,
        }),
        _ => Err(PolicyError(format!(
            "{id}: needs exactly one of `{positive}` and `{negative}`"
        ))),
    }
}

fn conditions(value: Option<&Value>, id: &str) -> Result<Vec<Condition>, PolicyError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let map = value
        .as_object()
        .ok_or_else(|| PolicyError(format!("{id}: `Condition` is not an object")))?;
    let mut out = Vec::new();
    for (name, keys) in map {
        let (set, rest) = if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (SetOperator::ForAnyValue, rest)
        } else if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (SetOperator::ForAllValues, rest)
        } else {
            (SetOperator::Single, name.as_str())
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        let operator = Operator::parse(base).ok_or_else(|| {
            PolicyError(format!("{id}: condition operator `{name}` is not modelled"))
        })?;
        let keys = keys
            .as_object()
            .ok_or_else(|| PolicyError(format!("{id}: `{name}` is not an object")))?;
        for (key, values) in keys {
            out.push(Condition {
                text: format!("{name} {key} {values}"),
                set: set.clone(),
                operator,
                if_exists,
                key: key.clone(),
                values: strings(values, &format!("{id} {name} {key}"))?,
            });
        }
    }
    Ok(out)
}

impl Policy {
    /// Parses a policy document (`{"Version": ..., "Statement": ...}`) named `name` in reports.
    pub fn parse(name: &str, document: &Value) -> Result<Self, PolicyError> {
        let statements = match document.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(one @ Value::Object(_)) => vec![one.clone()],
            _ => {
                return Err(PolicyError(format!(
                    "{name}: the document has no `Statement`"
                )));
            }
        };
        let mut parsed = Vec::new();
        for (index, statement) in statements.iter().enumerate() {
            let map = statement.as_object().ok_or_else(|| {
                PolicyError(format!("{name}: statement {index} is not an object"))
            })?;
            let id = match map.get("Sid").and_then(Value::as_str) {
                Some(sid) => format!("{name}#{sid}"),
                None => format!("{name}#{index}"),
            };
            if let Some(unknown) = map.keys().find(|k| {
                ![
                    "Sid",
                    "Effect",
                    "Action",
                    "NotAction",
                    "Resource",
                    "NotResource",
                    "Condition",
                ]
                .contains(&k.as_str())
            }) {
                return Err(PolicyError(format!(
                    "{id}: element `{unknown}` is not modelled (an identity policy has no principal)"
                )));
            }
            let effect = match map.get("Effect").and_then(Value::as_str) {
                Some("Allow") => Effect::Allow,
                Some("Deny") => Effect::Deny,
                other => {
                    return Err(PolicyError(format!(
                        "{id}: `Effect` is `{other:?}`, not Allow or Deny"
                    )));
                }
            };
            parsed.push(Statement {
                effect,
                actions: patterns(map, "Action", "NotAction", &id)?,
                resources: patterns(map, "Resource", "NotResource", &id)?,
                conditions: conditions(map.get("Condition"), &id)?,
                id,
            });
        }
        Ok(Self {
            name: name.to_owned(),
            statements: parsed,
        })
    }
}

/// What a principal acts with: its identity policies and, if it has one, its permissions
/// boundary.
#[derive(Debug, Clone)]
pub struct Principal {
    pub name: String,
    pub policies: Vec<Policy>,
    pub boundary: Option<Policy>,
}

/// The answer to one request, with the statements that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Allowed by these identity statements (and, with a boundary, these boundary statements).
    Allow {
        identity: Vec<String>,
        boundary: Vec<String>,
    },
    /// An explicit deny in these statements.
    ExplicitDeny(Vec<String>),
    /// No identity statement allows it.
    NoAllow,
    /// The identity policies allow it (these statements) but the boundary does not.
    OutsideBoundary(Vec<String>),
}

impl Decision {
    pub fn allowed(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allow { identity, boundary } if boundary.is_empty() => {
                write!(f, "allowed by {}", identity.join(", "))
            }
            Self::Allow { identity, boundary } => write!(
                f,
                "allowed by {}, within the boundary's {}",
                identity.join(", "),
                boundary.join(", ")
            ),
            Self::ExplicitDeny(by) => write!(f, "denied explicitly by {}", by.join(", ")),
            Self::NoAllow => f.write_str("denied: no statement allows it (implicit deny)"),
            Self::OutsideBoundary(by) => write!(
                f,
                "denied by the permissions boundary (no boundary statement allows it; {} would)",
                by.join(", ")
            ),
        }
    }
}

fn matching<'a>(
    policies: impl Iterator<Item = &'a Policy>,
    request: &Request,
    effect: Effect,
) -> Vec<String> {
    policies
        .flat_map(|p| &p.statements)
        .filter(|s| s.effect == effect && s.applies(request))
        .map(|s| s.id.clone())
        .collect()
}

impl Principal {
    /// Decides `request` as IAM does for an identity in one account: an explicit deny in any
    /// policy (the boundary included) wins; otherwise the identity policies must allow it and,
    /// with a boundary, so must the boundary.
    pub fn decide(&self, request: &Request) -> Decision {
        let all = self.policies.iter().chain(self.boundary.as_ref());
        let denies = matching(all, request, Effect::Deny);
        if !denies.is_empty() {
            return Decision::ExplicitDeny(denies);
        }
        let identity = matching(self.policies.iter(), request, Effect::Allow);
        if identity.is_empty() {
            return Decision::NoAllow;
        }
        match &self.boundary {
            None => Decision::Allow {
                identity,
                boundary: Vec::new(),
            },
            Some(boundary) => {
                let within = matching(std::iter::once(boundary), request, Effect::Allow);
                if within.is_empty() {
                    Decision::OutsideBoundary(identity)
                } else {
                    Decision::Allow {
                        identity,
                        boundary: within,
                    }
                }
            }
        }
    }
}

/// IAM's wildcard match: `*` is any run of characters (none included), `?` exactly one.
/// `ignore_case` for actions; ARNs and condition values are case-sensitive.
pub fn wildcard(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let fold = |s: &str| -> Vec<char> {
        if ignore_case {
            s.to_ascii_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    };
    let (p, t) = (fold(pattern), fold(text));
    // Iterative glob match with one backtrack point per `*`.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ti));
                pi += 1;
            }
            Some(c) if *c == '?' || Some(c) == t.get(ti) => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..)
        .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
}
