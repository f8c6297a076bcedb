//! IAM-style policy documents, parsed strictly.
//!
//! A group's policy decides what its members may call, so a document we do not fully understand
//! is never half-applied: an unknown element, a missing `Effect`, a condition operator we cannot
//! evaluate, all make the whole document invalid.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize, Serializer};

use crate::Error;
use crate::arn::Pattern;

/// The only policy language version IAM documents today.
pub const POLICY_VERSION: &str = "2012-10-17";

/// A policy document: `Version` and one or more statements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Effect {
    Allow,
    Deny,
}

/// What a statement's `Action`/`NotAction` or `Resource`/`NotResource` element covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Matches what any of the patterns match.
    Only(Vec<Pattern>),
    /// Matches what none of the patterns match.
    AllBut(Vec<Pattern>),
}

impl Scope {
    pub fn matches(&self, candidate: &str) -> bool {
        match self {
            Scope::Only(patterns) => patterns.iter().any(|p| p.matches(candidate)),
            Scope::AllBut(patterns) => !patterns.iter().any(|p| p.matches(candidate)),
        }
    }

    fn patterns(&self) -> &[Pattern] {
        match self {
            Scope::Only(p) | Scope::AllBut(p) => p,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub action: Scope,
    pub resource: Scope,
    pub condition: Option<Condition>,
}

/// The condition operators we evaluate. Operators are ANDed; the values of one key are ORed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    /// `IpAddress` on `aws:SourceIp`: the caller's address is in one of these networks.
    pub ip_address: Option<Vec<IpNet>>,
    /// `NotIpAddress` on `aws:SourceIp`: the caller's address is in none of these networks.
    pub not_ip_address: Option<Vec<IpNet>>,
}

/// What conditions are evaluated against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// `aws:SourceIp`; `None` when the event does not carry it (TOKEN authorizers).
    pub source_ip: Option<IpAddr>,
}

/// How a statement's condition came out for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionOutcome {
    Holds,
    Fails,
    /// A key the condition needs is missing from the request.
    Unknown,
}

impl Condition {
    pub fn evaluate(&self, facts: &RequestFacts) -> ConditionOutcome {
        let Some(ip) = facts.source_ip else {
            return ConditionOutcome::Unknown;
        };
        let in_any = |nets: &[IpNet]| nets.iter().any(|n| n.contains(&ip));
        let ok = self.ip_address.as_deref().is_none_or(in_any)
            && !self.not_ip_address.as_deref().is_some_and(in_any);
        if ok {
            ConditionOutcome::Holds
        } else {
            ConditionOutcome::Fails
        }
    }
}

impl Statement {
    /// Whether this statement takes part in decisions for a request with these facts.
    ///
    /// Fails closed when a condition cannot be evaluated: an Allow that depends on a missing key
    /// does not apply, a Deny that depends on one does.
    pub fn applies(&self, facts: &RequestFacts) -> bool {
        match self.condition.as_ref().map(|c| c.evaluate(facts)) {
            None | Some(ConditionOutcome::Holds) => true,
            Some(ConditionOutcome::Fails) => false,
            Some(ConditionOutcome::Unknown) => self.effect == Effect::Deny,
        }
    }
}

impl PolicyDocument {
    /// Parses a policy document from its JSON text.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let raw: RawDocument =
            serde_json::from_str(text).map_err(|e| Error::Policy(e.to_string()))?;
        raw.try_into()
    }
}

impl Serialize for PolicyDocument {
    /// Serializes as IAM JSON without conditions: the form returned to API Gateway.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(rename = "Version")]
            version: &'static str,
            #[serde(rename = "Statement")]
            statement: Vec<StatementOut<'a>>,
        }
        Out {
            version: POLICY_VERSION,
            statement: self.statements.iter().map(StatementOut).collect(),
        }
        .serialize(serializer)
    }
}

pub(crate) struct StatementOut<'a>(pub(crate) &'a Statement);

impl Serialize for StatementOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let s = self.0;
        struct Names<'a>(&'a Scope);
        impl Serialize for Names<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.patterns().iter().map(Pattern::as_str))
            }
        }
        let mut map = serializer.serialize_map(None)?;
        if let Some(sid) = &s.sid {
            map.serialize_entry("Sid", sid)?;
        }
        map.serialize_entry("Effect", &s.effect)?;
        match &s.action {
            Scope::Only(_) => map.serialize_entry("Action", &Names(&s.action))?,
            Scope::AllBut(_) => map.serialize_entry("NotAction", &Names(&s.action))?,
        }
        match &s.resource {
            Scope::Only(_) => map.serialize_entry("Resource", &Names(&s.resource))?,
            Scope::AllBut(_) => map.serialize_entry("NotResource", &Names(&s.resource))?,
        }
        map.end()
    }
}

/// A policy element that IAM lets be one string or a list of strings.
struct StringOrList(Vec<String>);

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StringOrList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StringOrList, E> {
                Ok(StringOrList(vec![v.to_owned()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StringOrList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(StringOrList(out))
            }
        }
        deserializer.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "Id", default)]
    _id: Option<String>,
    /// One statement object or a list of them; parsed one by one so errors can name the statement.
    #[serde(rename = "Statement")]
    statement: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    #[serde(rename = "Sid", default)]
    sid: Option<String>,
    #[serde(rename = "Effect")]
    effect: String,
    #[serde(rename = "Action", default)]
    action: Option<StringOrList>,
    #[serde(rename = "NotAction", default)]
    not_action: Option<StringOrList>,
    #[serde(rename = "Resource", default)]
    resource: Option<StringOrList>,
    #[serde(rename = "NotResource", default)]
    not_resource: Option<StringOrList>,
    #[serde(rename = "Condition", default)]
    condition: Option<BTreeMap<String, BTreeMap<String, StringOrList>>>,
}

impl TryFrom<RawDocument> for PolicyDocument {
    type Error = Error;

    fn try_from(raw: RawDocument) -> Result<Self, Error> {
        if raw.version != POLICY_VERSION {
            return Err(Error::Policy(format!(
                "unsupported `Version` `{}`: expected `{POLICY_VERSION}`",
                raw.version
            )));
        }
        let raw_statements = match raw.statement {
            serde_json::Value::Array(list) => list,
            one @ serde_json::Value::Object(_) => vec![one],
            _ => {
                return Err(Error::Policy(
                    "`Statement` must be an object or a list of objects".to_owned(),
                ));
            }
        };
        let statements = raw_statements
            .into_iter()
            .enumerate()
            .map(|(i, value)| {
                serde_json::from_value::<RawStatement>(value)
                    .map_err(|e| e.to_string())
                    .and_then(|raw| Statement::try_from(raw).map_err(|e| e.detail()))
                    .map_err(|why| Error::Policy(format!("statement #{i}: {why}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if statements.is_empty() {
            return Err(Error::Policy("`Statement` is empty".to_owned()));
        }
        Ok(Self { statements })
    }
}

impl TryFrom<RawStatement> for Statement {
    type Error = Error;

    fn try_from(raw: RawStatement) -> Result<Self, Error> {
        let effect = match raw.effect.as_str() {
            "Allow" => Effect::Allow,
            "Deny" => Effect::Deny,
            other => {
                return Err(Error::Policy(format!(
                    "`Effect` must be `Allow` or `Deny`, not `{other}`"
                )));
            }
        };
        let action = scope(
            "Action",
            raw.action,
            raw.not_action,
            Pattern::action,
            check_action,
        )?;
        let resource = scope(
            "Resource",
            raw.resource,
            raw.not_resource,
            Pattern::resource,
            check_resource,
        )?;
        let condition = raw.condition.map(condition).transpose()?;
        Ok(Self {
            sid: raw.sid,
            effect,
            action,
            resource,
            condition,
        })
    }
}

fn scope(
    element: &str,
    only: Option<StringOrList>,
    all_but: Option<StringOrList>,
    pattern: fn(&str) -> Pattern,
    check: fn(&str) -> Result<(), String>,
) -> Result<Scope, Error> {
    let compile = |StringOrList(values), name: &str| -> Result<Vec<Pattern>, Error> {
        if values.is_empty() {
            return Err(Error::Policy(format!("`{name}` is empty")));
        }
        values
            .iter()
            .map(|v| {
                check(v).map_err(|why| Error::Policy(format!("`{name}` value `{v}` {why}")))?;
                Ok(pattern(v))
            })
            .collect()
    };
    match (only, all_but) {
        (Some(v), None) => Ok(Scope::Only(compile(v, element)?)),
        (None, Some(v)) => Ok(Scope::AllBut(compile(v, &format!("Not{element}"))?)),
        (Some(_), Some(_)) => Err(Error::Policy(format!(
            "has both `{element}` and `Not{element}`"
        ))),
        (None, None) => Err(Error::Policy(format!(
            "needs `{element}` or `Not{element}`"
        ))),
    }
}

fn check_action(value: &str) -> Result<(), String> {
    if value == "*"
        || value
            .split_once(':')
            .is_some_and(|(s, a)| !s.is_empty() && !a.is_empty())
    {
        Ok(())
    } else {
        Err("is not `*` or `service:action`".to_owned())
    }
}

fn check_resource(value: &str) -> Result<(), String> {
    if value == "*" || value.starts_with("arn:") {
        Ok(())
    } else {
        Err("is not `*` or an ARN".to_owned())
    }
}

fn condition(raw: BTreeMap<String, BTreeMap<String, StringOrList>>) -> Result<Condition, Error> {
    let mut out = Condition::default();
    for (operator, keys) in raw {
        let slot = match operator.as_str() {
            "IpAddress" => &mut out.ip_address,
            "NotIpAddress" => &mut out.not_ip_address,
            other => {
                return Err(Error::Policy(format!(
                    "unsupported condition operator `{other}` (supported: `IpAddress`, `NotIpAddress`)"
                )));
            }
        };
        let mut networks = Vec::new();
        if keys.is_empty() {
            return Err(Error::Policy(format!(
                "condition `{operator}` names no key"
            )));
        }
        for (key, values) in keys {
            // Condition keys are case-insensitive in IAM.
            if !key.eq_ignore_ascii_case("aws:SourceIp") {
                return Err(Error::Policy(format!(
                    "unsupported condition key `{key}` in `{operator}` (supported: `aws:SourceIp`)"
                )));
            }
            let StringOrList(values) = values;
            if values.is_empty() {
                return Err(Error::Policy(format!(
                    "condition `{operator}` has no values"
                )));
            }
            for value in values {
                networks.push(parse_network(&value).ok_or_else(|| {
                    Error::Policy(format!(
                        "`{value}` in `{operator}` is not an IP address or CIDR block"
                    ))
                })?);
            }
        }
        *slot = Some(networks);
    }
    Ok(out)
}

fn parse_network(value: &str) -> Option<IpNet> {
    IpNet::from_str(value)
        .ok()
        .or_else(|| IpAddr::from_str(value).ok().map(IpNet::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOG: &str = r#"{ "Version":"2012-10-17", "Statement":[ { "Sid":"PetStore-API",
        "Effect":"Allow", "Action":"execute-api:Invoke",
        "Resource":[ "arn:aws:execute-api:*:*:*/*/*/petstore/v1/*",
                     "arn:aws:execute-api:*:*:*/*/GET/petstore/v2/status" ],
        "Condition":{ "IpAddress":{ "aws:SourceIp":[ "192.0.2.0/24", "198.51.100.0/24" ] } } } ] }"#;

    fn facts(ip: &str) -> RequestFacts {
        RequestFacts {
            source_ip: Some(ip.parse().unwrap()),
        }
    }

    #[test]
    fn the_blog_posts_policy_parses() {
        let doc = PolicyDocument::from_json(BLOG).unwrap();
        let s = &doc.statements[0];
        assert_eq!(s.effect, Effect::Allow);
        assert_eq!(s.sid.as_deref(), Some("PetStore-API"));
        assert!(s.applies(&facts("192.0.2.7")));
        assert!(!s.applies(&facts("203.0.113.1")));
    }

    #[test]
    fn not_ip_address_excludes_the_listed_networks() {
        let doc = PolicyDocument::from_json(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"NotIpAddress":{"aws:sourceip":"10.0.0.1"}}}}"#,
        )
        .unwrap();
        let s = &doc.statements[0];
        assert!(!s.applies(&facts("10.0.0.1")));
        assert!(s.applies(&facts("10.0.0.2")));
        assert!(s.applies(&facts("::1")));
    }

    #[test]
    fn a_condition_on_a_missing_source_ip_fails_closed() {
        let allow = PolicyDocument::from_json(BLOG).unwrap();
        assert!(!allow.statements[0].applies(&RequestFacts::default()));
        let deny = PolicyDocument::from_json(&BLOG.replace("\"Allow\"", "\"Deny\"")).unwrap();
        assert!(deny.statements[0].applies(&RequestFacts::default()));
    }

    #[test]
    fn malformed_policies_are_rejected_with_what_was_wrong() {
        let base = |stmt: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{stmt}]}}"#);
        let cases = [
            (base(r#"{"Action":"*","Resource":"*"}"#), "Effect"),
            (base(r#"{"Effect":"allow","Action":"*","Resource":"*"}"#), "`allow`"),
            (base(r#"{"Effect":"Allow","Resource":"*"}"#), "needs `Action`"),
            (
                base(r#"{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}"#),
                "both `Action`",
            ),
            (base(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), "`Action` is empty"),
            (base(r#"{"Effect":"Allow","Action":"invoke","Resource":"*"}"#), "`invoke`"),
            (base(r#"{"Effect":"Allow","Action":"*","Resource":"petstore/*"}"#), "`petstore/*`"),
            (
                base(r#"{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}"#),
                "Principal",
            ),
            (
                base(
                    r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"x"}}}"#,
                ),
                "`StringEquals`",
            ),
            (
                base(
                    r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:UserAgent":"x"}}}"#,
                ),
                "`aws:UserAgent`",
            ),
            (
                base(
                    r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}}"#,
                ),
                "`300.1.1.1/8`",
            ),
            (
                r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#.to_owned(),
                "`2008-10-17`",
            ),
            (r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(), "empty"),
            (r#"{"Version":"2012-10-17"}"#.to_owned(), "Statement"),
            ("not json".to_owned(), "expected"),
        ];
        for (text, expected) in cases {
            let err = PolicyDocument::from_json(&text).unwrap_err().to_string();
            assert!(
                err.contains(expected),
                "{text}\n  gave: {err}\n  wanted: {expected}"
            );
        }
    }

    #[test]
    fn rendering_drops_conditions_and_keeps_not_elements() {
        let doc = PolicyDocument::from_json(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","NotAction":"execute-api:Invoke",
            "NotResource":["arn:aws:execute-api:*:*:*/*/GET/x"],"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
        )
        .unwrap();
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Deny",
                "NotAction":["execute-api:Invoke"],"NotResource":["arn:aws:execute-api:*:*:*/*/GET/x"]}]})
        );
    }
}
