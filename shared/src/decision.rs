//! The access decision: a user's group policies and a request in, Allow or Deny with its reason out.
//!
//! IAM's rules: every applicable statement of every group counts; an explicit Deny beats any
//! Allow; with no Allow the answer is Deny. A group whose policy could not be read counts as an
//! explicit Deny of everything, because we cannot know what it meant to deny.

use std::fmt;
use std::sync::{Arc, LazyLock};

use serde::{Serialize, Serializer};

use crate::arn::Pattern;
use crate::group::GroupPolicy;
use crate::policy::{Effect, PolicyDocument, RequestFacts, Scope, Statement, StatementJson};
use crate::untrusted::Untrusted;

/// The action API Gateway checks for a method call.
pub const INVOKE_ACTION: &str = "execute-api:Invoke";

/// Stands in for the policy of a group whose policy is invalid.
static DENY_EVERYTHING: LazyLock<Statement> = LazyLock::new(|| Statement {
    sid: Some("InvalidGroupPolicy".to_owned()),
    effect: Effect::Deny,
    action: Scope::Only(vec![Pattern::action("*")]),
    resource: Scope::Only(vec![Pattern::resource("*")]),
    condition: None,
});

/// Where a statement came from, for the reason in the log. Borrowed from the policies, so
/// deciding allocates nothing; it is only formatted when logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub group: &'a str,
    /// The statement's position in the group's policy.
    pub index: usize,
    pub sid: Option<&'a str>,
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "group `{}` statement #{}",
            Untrusted(self.group),
            self.index
        )?;
        match self.sid {
            Some(sid) => write!(f, " ({})", Untrusted(sid)),
            None => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason<'a> {
    AllowedBy(Origin<'a>),
    DeniedBy(Origin<'a>),
    /// The group's policy was invalid, so it denies everything.
    InvalidPolicy {
        group: &'a str,
    },
    NoMatchingAllow,
}

impl Reason<'_> {
    /// A short stable code for logs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::AllowedBy(_) => "allowed",
            Reason::DeniedBy(_) => "explicit_deny",
            Reason::InvalidPolicy { .. } => "invalid_policy",
            Reason::NoMatchingAllow => "no_allow",
        }
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::AllowedBy(o) => write!(f, "allowed by {o}"),
            Reason::DeniedBy(o) => write!(f, "explicitly denied by {o}"),
            Reason::InvalidPolicy { group } => {
                write!(f, "policy of group `{}` is invalid", Untrusted(group))
            }
            Reason::NoMatchingAllow => f.write_str("no statement allows it"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    Allow(Reason<'a>),
    Deny(Reason<'a>),
}

impl<'a> Decision<'a> {
    pub fn is_allow(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    pub fn reason(&self) -> &Reason<'a> {
        match self {
            Decision::Allow(r) | Decision::Deny(r) => r,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Allow(_) => "Allow",
            Decision::Deny(_) => "Deny",
        }
    }
}

/// A statement that applies, by position: group `group` of the merged groups, statement
/// `index` of its policy; or the stand-in deny-all of a group whose policy is invalid.
#[derive(Debug, Clone, Copy)]
enum Applied {
    Statement { group: usize, index: usize },
    InvalidGroup { group: usize },
}

/// One applying statement with where it came from.
struct Entry<'a> {
    group: &'a str,
    index: usize,
    statement: &'a Statement,
    invalid: bool,
}

impl<'a> Entry<'a> {
    fn origin(&self) -> Origin<'a> {
        Origin {
            group: self.group,
            index: self.index,
            sid: self.statement.sid.as_deref(),
        }
    }

    fn covers(&self, action: &str, resource: &str) -> bool {
        self.statement.action.matches(action) && self.statement.resource.matches(resource)
    }
}

/// The statements of all of a user's groups that apply to one request (conditions evaluated),
/// merged once: the decision is made from it, and it is the policy returned to API Gateway.
///
/// API Gateway caches the returned policy and applies it to every method of the API, so it must
/// be the whole merged policy, not an answer for the one method asked about.
#[derive(Debug)]
pub struct MergedPolicy {
    groups: Vec<Arc<GroupPolicy>>,
    applied: Vec<Applied>,
}

impl MergedPolicy {
    /// Merges the groups' policies for a request with these facts.
    pub fn for_request(groups: Vec<Arc<GroupPolicy>>, facts: &RequestFacts) -> Self {
        let mut applied = Vec::new();
        for (g, group) in groups.iter().enumerate() {
            match &group.policy {
                Ok(document) => applied.extend(
                    document
                        .statements
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.applies(facts))
                        .map(|(index, _)| Applied::Statement { group: g, index }),
                ),
                Err(_) => applied.push(Applied::InvalidGroup { group: g }),
            }
        }
        Self { groups, applied }
    }

    /// One policy document (as returned by an authorizer), its statements attributed to `source`.
    pub fn from_document(source: &str, document: PolicyDocument, facts: &RequestFacts) -> Self {
        let group = GroupPolicy {
            group: source.to_owned(),
            policy: Ok(document),
            role_arn: None,
            precedence: None,
        };
        Self::for_request(vec![Arc::new(group)], facts)
    }

    /// The groups' entries this policy was merged from.
    pub fn groups(&self) -> &[Arc<GroupPolicy>] {
        &self.groups
    }

    pub fn is_empty(&self) -> bool {
        self.applied.is_empty()
    }

    fn entries(&self) -> impl Iterator<Item = Entry<'_>> {
        self.applied.iter().filter_map(|applied| match *applied {
            Applied::Statement { group, index } => {
                let entry = self.groups.get(group)?;
                let statement = entry.policy.as_ref().ok()?.statements.get(index)?;
                Some(Entry {
                    group: &entry.group,
                    index,
                    statement,
                    invalid: false,
                })
            }
            Applied::InvalidGroup { group } => Some(Entry {
                group: &self.groups.get(group)?.group,
                index: 0,
                statement: &DENY_EVERYTHING,
                invalid: true,
            }),
        })
    }

    /// Decides whether `action` on `resource` (a method ARN) is allowed.
    pub fn decide(&self, action: &str, resource: &str) -> Decision<'_> {
        let mut allowed_by = None;
        for entry in self.entries() {
            if !entry.covers(action, resource) {
                continue;
            }
            match entry.statement.effect {
                Effect::Deny if entry.invalid => {
                    return Decision::Deny(Reason::InvalidPolicy { group: entry.group });
                }
                Effect::Deny => return Decision::Deny(Reason::DeniedBy(entry.origin())),
                Effect::Allow => {
                    allowed_by.get_or_insert(entry.origin());
                }
            }
        }
        match allowed_by {
            Some(origin) => Decision::Allow(Reason::AllowedBy(origin)),
            None => Decision::Deny(Reason::NoMatchingAllow),
        }
    }

    /// The policy document to hand to API Gateway. `deny_scope` is what an empty policy denies
    /// (the API stage's wildcard ARN), since API Gateway wants at least one statement.
    pub fn document<'s>(&'s self, deny_scope: &'s str) -> impl Serialize + 's {
        RenderedPolicy {
            merged: self,
            deny_scope,
        }
    }
}

struct RenderedPolicy<'s> {
    merged: &'s MergedPolicy,
    deny_scope: &'s str,
}

impl Serialize for RenderedPolicy<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut doc = serializer.serialize_struct("PolicyDocument", 2)?;
        doc.serialize_field("Version", crate::policy::POLICY_VERSION)?;
        if self.merged.is_empty() {
            doc.serialize_field(
                "Statement",
                &[serde_json::json!({
                    "Effect": "Deny",
                    "Action": [INVOKE_ACTION],
                    "Resource": [self.deny_scope],
                })],
            )?;
        } else {
            let statements: Vec<_> = self
                .merged
                .entries()
                .map(|entry| StatementJson {
                    statement: entry.statement,
                    with_condition: false,
                })
                .collect();
            doc.serialize_field("Statement", &statements)?;
        }
        doc.end()
    }
}
