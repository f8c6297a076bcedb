//! The access decision: a user's group policies and a request in, Allow or Deny with its reason out.
//!
//! IAM's rules: every applicable statement of every group counts; an explicit Deny beats any
//! Allow; with no Allow the answer is Deny. A group whose policy could not be read counts as an
//! explicit Deny of everything, because we cannot know what it meant to deny.

use std::fmt;
use std::sync::{Arc, LazyLock};

use serde::{Serialize, Serializer};

use crate::arn::{MethodArn, Pattern};
use crate::group::GroupPolicy;
use crate::policy::{Effect, PolicyDocument, RequestFacts, Scope, Statement};
use crate::untrusted::Untrusted;

/// The action API Gateway checks for a method call.
pub const INVOKE_ACTION: &str = "execute-api:Invoke";

/// Stands in for the policy of a group whose policy is invalid.
static DENY_EVERYTHING: LazyLock<Statement> = LazyLock::new(|| Statement {
    sid: Some("InvalidGroupPolicy".to_owned()),
    effect: Effect::Deny,
    action: Scope::new(vec![Pattern::action("*")]),
    resource: Scope::new(vec![Pattern::resource("*")]),
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
}

/// The policy returned to API Gateway for one request: the whole merged policy (API Gateway
/// caches it and applies it to every method of the API), or, when no statement of it bears on
/// `execute-api:Invoke`, a Deny of every method, since a policy holds at least one statement
/// (and with nothing merged, no method is allowed). The authorizer, the policy tools and the
/// fuzz targets all render it through this one type.
///
/// It holds only what API Gateway documents for an authorizer's output
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html>):
/// `Version`, and statements of `Effect`, `Action` `execute-api:Invoke` and `Resource` method
/// ARN patterns with `*` wildcards (the parser refuses `NotAction`, `NotResource` and `?`). Two
/// translations keep it so, each equal to the merged policy for the one action API Gateway
/// checks, `execute-api:Invoke` on a method ARN ("whether to allow or deny ... the API Gateway
/// execution service to invoke (`Action`) the specified API method (`Resource`)", ibid.):
/// - a statement's actions become `execute-api:Invoke` when one of them matches it (it applies
///   to an invoke exactly when its resources match), and the statement is left out when none
///   does (it never applies to an invoke);
/// - a resource `*` becomes `arn:{partition}:execute-api:*:*:*/*/*/*`, which matches every method
///   ARN of the request's partition (`{apiId}/{stage}/{METHOD}/{path}` has three `/`, and `*`
///   matches any run of characters, `/` and none included), as `*` does.
///
/// Nothing of the request's method ARN but its partition is copied into the policy, and that
/// only when it is a partition's plain name (else `*`): the ARN's characters are literal, and a
/// `?` or `*` in them would be read as a wildcard.
#[derive(Debug)]
pub struct ReturnedPolicy {
    merged: MergedPolicy,
    /// Every method ARN of the request's partition: what `*` and an empty policy stand for.
    every_method: String,
}

/// One statement as returned: its effect and its resources, documented elements only (no
/// `Sid`: the documented output names none; the log says which statement decided).
#[derive(Debug, Serialize)]
struct ReturnedStatement<'a> {
    #[serde(rename = "Effect")]
    effect: Effect,
    #[serde(rename = "Action")]
    action: [&'static str; 1],
    #[serde(rename = "Resource")]
    resource: Vec<&'a str>,
}

impl ReturnedPolicy {
    /// The policy returned for a request on `method_arn`, from the merge it was decided on.
    pub fn new(merged: MergedPolicy, method_arn: &MethodArn) -> Self {
        let partition = method_arn.partition();
        let plain = partition
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let partition = if plain { partition } else { "*" };
        Self {
            merged,
            every_method: format!("arn:{partition}:execute-api:*:*:*/*/*/*"),
        }
    }

    /// The merged policy it renders.
    pub fn merged(&self) -> &MergedPolicy {
        &self.merged
    }

    /// The policy document as API Gateway receives it.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    fn statements(&self) -> Vec<ReturnedStatement<'_>> {
        let statements: Vec<_> = self
            .merged
            .entries()
            .filter(|entry| entry.statement.action.matches(INVOKE_ACTION))
            .map(|entry| ReturnedStatement {
                effect: entry.statement.effect,
                action: [INVOKE_ACTION],
                resource: entry
                    .statement
                    .resource
                    .patterns()
                    .iter()
                    .map(|p| {
                        if p.matches_anything() {
                            self.every_method.as_str()
                        } else {
                            p.as_str()
                        }
                    })
                    .collect(),
            })
            .collect();
        if !statements.is_empty() {
            return statements;
        }
        vec![ReturnedStatement {
            effect: Effect::Deny,
            action: [INVOKE_ACTION],
            resource: vec![self.every_method.as_str()],
        }]
    }
}

impl Serialize for ReturnedPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut doc = serializer.serialize_struct("PolicyDocument", 2)?;
        doc.serialize_field("Version", crate::policy::POLICY_VERSION)?;
        doc.serialize_field("Statement", &self.statements())?;
        doc.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, policy: &str) -> Arc<GroupPolicy> {
        Arc::new(GroupPolicy {
            group: name.to_owned(),
            policy: PolicyDocument::from_json(policy),
            role_arn: None,
            precedence: None,
        })
    }

    fn returned(groups: Vec<Arc<GroupPolicy>>, arn: &MethodArn) -> serde_json::Value {
        let merged = MergedPolicy::for_request(groups, &RequestFacts::default());
        serde_json::to_value(ReturnedPolicy::new(merged, arn)).unwrap()
    }

    #[test]
    fn an_empty_merge_returns_a_deny_of_every_method_and_anything_else_the_merge() {
        let arn = MethodArn::parse(
            "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/GET/petstore/v1/pets",
        )
        .unwrap();
        assert_eq!(
            returned(Vec::new(), &arn),
            serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Deny",
                "Action": [INVOKE_ACTION],
                "Resource": ["arn:aws:execute-api:*:*:*/*/*/*"]}]})
        );
        // Statements whose conditions fail are not merged: that too is an empty merge.
        let elsewhere = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*",
            "Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}]}"#;
        let facts = RequestFacts {
            source_ip: Some("203.0.113.9".parse().unwrap()),
        };
        let merged = MergedPolicy::for_request(vec![group("office", elsewhere)], &facts);
        let document = serde_json::to_value(ReturnedPolicy::new(merged, &arn)).unwrap();
        assert_eq!(document["Statement"][0]["Effect"], "Deny");

        let viewer = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow",
            "Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:*/*/GET/*"}]}"#;
        assert_eq!(
            returned(vec![group("viewer", viewer)], &arn)["Statement"],
            serde_json::json!([{"Effect": "Allow", "Action": [INVOKE_ACTION],
                "Resource": ["arn:aws:execute-api:*:*:*/*/GET/*"]}])
        );
    }

    /// Issue #22: the returned policy spells actions and `*` resources in the documented forms,
    /// and leaves out statements that never bear on an invoke.
    #[test]
    fn the_returned_policy_spells_every_element_in_its_documented_form() {
        let arn = MethodArn::parse(
            "arn:aws-cn:execute-api:cn-north-1:123456789012:a1b2c3/prod/GET/petstore/v1/pets",
        )
        .unwrap();
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Deny","Action":["EXECUTE-API:invoke","s3:GetObject"],
             "Resource":["arn:aws-cn:execute-api:*:*:*/*/DELETE/*","*"]},
            {"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#;
        let every = "arn:aws-cn:execute-api:*:*:*/*/*/*";
        assert_eq!(
            returned(vec![group("g", policy)], &arn)["Statement"],
            serde_json::json!([
                {"Effect": "Allow", "Action": [INVOKE_ACTION], "Resource": [every]},
                {"Effect": "Deny", "Action": [INVOKE_ACTION],
                 "Resource": ["arn:aws-cn:execute-api:*:*:*/*/DELETE/*", every]},
            ])
        );
        // Only statements for other services: nothing bears on an invoke, so all is denied.
        let other = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert_eq!(
            returned(vec![group("g", other)], &arn)["Statement"],
            serde_json::json!([{"Effect": "Deny", "Action": [INVOKE_ACTION],
                "Resource": [every]}])
        );
    }

    /// Issue #22: a group whose policy uses `NotResource` (or `NotAction`, or `?`) is invalid,
    /// and an invalid group denies everything, whatever the user's other groups allow: in the
    /// decision, and in the policy API Gateway receives.
    #[test]
    fn a_group_using_what_is_not_documented_denies_everything() {
        let arn = MethodArn::parse(
            "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/GET/petstore/v1/pets",
        )
        .unwrap();
        let everything = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Action":"execute-api:Invoke","Resource":"*"}]}"#;
        for undocumented in [
            r#"{"Effect":"Deny","Action":"execute-api:Invoke","NotResource":"arn:aws:execute-api:*:*:*/*/POST/*"}"#,
            r#"{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}"#,
            r#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:execute-api:*:*:*/*/G?T/*"}"#,
        ] {
            let policy = format!(r#"{{"Version":"2012-10-17","Statement":[{undocumented}]}}"#);
            let groups = vec![group("admin", everything), group("odd", &policy)];
            let merged = MergedPolicy::for_request(groups, &RequestFacts::default());
            assert_eq!(
                merged.decide(INVOKE_ACTION, arn.as_str()),
                Decision::Deny(Reason::InvalidPolicy { group: "odd" })
            );
            let document = serde_json::to_value(ReturnedPolicy::new(merged, &arn)).unwrap();
            assert_eq!(crate::reference::documented(&document), Ok(()));
            assert_eq!(
                crate::reference::evaluate(&document, INVOKE_ACTION, arn.as_str()),
                Ok(crate::reference::Verdict::ExplicitDeny),
                "{document}"
            );
        }
    }

    /// Found by the `decision` fuzz target: the request's method ARN was copied into the
    /// returned policy, so a `?` in it (API Gateway's ARNs are literal) made an undocumented
    /// wildcard. Only a plain partition name is copied now.
    #[test]
    fn wildcards_in_the_requests_arn_never_reach_the_returned_policy() {
        for (arn, every) in [
            (
                "arn:aws:execute-api:us-easu-1:123456?89012:api0000000/prod/GET/petstore/v1/pets",
                "arn:aws:execute-api:*:*:*/*/*/*",
            ),
            (
                "arn:a?s:execute-api:r:1:api/prod/GET/x",
                "arn:*:execute-api:*:*:*/*/*/*",
            ),
            (
                "arn:a*:execute-api:r:1:api/prod/GET/x",
                "arn:*:execute-api:*:*:*/*/*/*",
            ),
        ] {
            let arn = MethodArn::parse(arn).unwrap();
            let admin = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
            for groups in [Vec::new(), vec![group("admin", admin)]] {
                let document = returned(groups, &arn);
                assert_eq!(
                    crate::reference::documented(&document),
                    Ok(()),
                    "{document}"
                );
                assert_eq!(
                    document["Statement"][0]["Resource"],
                    serde_json::json!([every])
                );
            }
        }
    }
}
