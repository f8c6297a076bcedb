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

use crate::arn::Pattern;
use crate::error::PolicyError;

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

/// What a statement's `Action` or `Resource` element covers: what any of its patterns match.
///
/// There is no `NotAction`/`NotResource`: API Gateway documents neither for the policy a Lambda
/// authorizer returns (see [`documented`]), so a policy using them is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(Vec<Pattern>);

impl Scope {
    /// A scope of these patterns (for statements built in code; the parser checks its own).
    pub fn new(patterns: Vec<Pattern>) -> Self {
        Self(patterns)
    }

    pub fn matches(&self, candidate: &str) -> bool {
        self.0.iter().any(|p| p.matches(candidate))
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.0
    }
}

/// The longest method ARN API Gateway authorizes, in bytes ([the authorizer output][output]:
/// an authorization-enabled method ARN is at most 1600 bytes): a `Resource` value longer than
/// this is refused, since it is longer than anything it could be meant to match.
///
/// [output]: https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html
pub const MAX_RESOURCE_BYTES: usize = 1600;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub action: Scope,
    pub resource: Scope,
    pub condition: Option<Condition>,
}

/// A statement's `Condition`, as IAM evaluates it: every operator block must hold (AND), every
/// key within a block must hold (AND), and a key holds when any of its values matches (OR).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Condition {
    pub blocks: Vec<ConditionBlock>,
}

/// One operator with its keys, such as `"IpAddress": {"aws:SourceIp": [...]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionBlock {
    pub operator: IpOperator,
    pub keys: Vec<ConditionKey>,
}

/// The operators we evaluate, both on `aws:SourceIp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpOperator {
    /// The caller's address is in one of the key's networks.
    IpAddress,
    /// The caller's address is in none of the key's networks.
    NotIpAddress,
}

impl IpOperator {
    pub fn as_str(self) -> &'static str {
        match self {
            IpOperator::IpAddress => "IpAddress",
            IpOperator::NotIpAddress => "NotIpAddress",
        }
    }
}

/// A condition key (as written: IAM matches key names case-insensitively) and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionKey {
    pub name: String,
    pub networks: Vec<IpNet>,
}

/// What conditions are evaluated against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestFacts {
    /// `aws:SourceIp`; `None` when the event does not carry it (TOKEN authorizers).
    pub source_ip: Option<IpAddr>,
}

impl RequestFacts {
    /// The facts of a request from its source address as API Gateway reports it; an address that
    /// does not parse is unknown, so conditions on it fail closed.
    pub fn from_source_ip(source_ip: Option<&str>) -> Self {
        Self {
            source_ip: source_ip.and_then(|ip| ip.trim().parse::<IpAddr>().ok()),
        }
    }
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
        // An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) is the IPv4 address it carries.
        let ip = ip.to_canonical();
        let key_holds = |operator: IpOperator, key: &ConditionKey| {
            let in_any = key.networks.iter().any(|n| n.contains(&ip));
            match operator {
                IpOperator::IpAddress => in_any,
                IpOperator::NotIpAddress => !in_any,
            }
        };
        let holds = self
            .blocks
            .iter()
            .all(|block| block.keys.iter().all(|key| key_holds(block.operator, key)));
        if holds {
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
    ///
    /// A key named twice anywhere in the document makes it invalid: JSON parsers keep one of the
    /// two silently, and which one decides between Allow and Deny.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let value = crate::json::parse_unique(text).map_err(|e| PolicyError(e.to_string()))?;
        Self::from_value(value)
    }

    /// Reads a document from a JSON value that was itself read with [`crate::json::parse_unique`]
    /// (a `serde_json::Value` from anywhere else has already lost any repeated keys).
    pub fn from_value(value: serde_json::Value) -> Result<Self, PolicyError> {
        let raw: RawDocument =
            serde_json::from_value(value).map_err(|e| PolicyError(e.to_string()))?;
        raw.try_into()
    }
}

impl Serialize for PolicyDocument {
    /// Serializes the whole document, conditions included: it parses back to an equal document.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut doc = serializer.serialize_struct("PolicyDocument", 2)?;
        doc.serialize_field("Version", POLICY_VERSION)?;
        let statements: Vec<_> = self.statements.iter().map(StatementJson).collect();
        doc.serialize_field("Statement", &statements)?;
        doc.end()
    }
}

/// The JSON form of a statement, as a group's policy writes it.
struct StatementJson<'a>(&'a Statement);

impl Serialize for StatementJson<'_> {
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
        map.serialize_entry("Action", &Names(&s.action))?;
        map.serialize_entry("Resource", &Names(&s.resource))?;
        if let Some(condition) = &s.condition {
            map.serialize_entry("Condition", condition)?;
        }
        map.end()
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Keys<'a>(&'a [ConditionKey]);
        impl Serialize for Keys<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.0.len()))?;
                for key in self.0 {
                    let values: Vec<String> = key.networks.iter().map(IpNet::to_string).collect();
                    map.serialize_entry(&key.name, &values)?;
                }
                map.end()
            }
        }
        let mut map = serializer.serialize_map(Some(self.blocks.len()))?;
        for block in &self.blocks {
            map.serialize_entry(block.operator.as_str(), &Keys(&block.keys))?;
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
    type Error = PolicyError;

    fn try_from(raw: RawDocument) -> Result<Self, PolicyError> {
        if raw.version != POLICY_VERSION {
            return Err(PolicyError(format!(
                "unsupported `Version` `{}`: expected `{POLICY_VERSION}`",
                raw.version
            )));
        }
        let raw_statements = match raw.statement {
            serde_json::Value::Array(list) => list,
            one @ serde_json::Value::Object(_) => vec![one],
            _ => {
                return Err(PolicyError(
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
                    .and_then(|raw| Statement::try_from(raw).map_err(|e| e.0))
                    .map_err(|why| PolicyError(format!("statement #{i}: {why}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if statements.is_empty() {
            return Err(PolicyError("`Statement` is empty".to_owned()));
        }
        Ok(Self { statements })
    }
}

impl TryFrom<RawStatement> for Statement {
    type Error = PolicyError;

    fn try_from(raw: RawStatement) -> Result<Self, PolicyError> {
        let effect = match raw.effect.as_str() {
            "Allow" => Effect::Allow,
            "Deny" => Effect::Deny,
            other => {
                return Err(PolicyError(format!(
                    "`Effect` must be `Allow` or `Deny`, not `{other}`"
                )));
            }
        };
        if raw.not_action.is_some() {
            return Err(PolicyError(NOT_ACTION_REFUSED.to_owned()));
        }
        if raw.not_resource.is_some() {
            return Err(PolicyError(NOT_RESOURCE_REFUSED.to_owned()));
        }
        let action = scope("Action", raw.action, Pattern::action, check_action)?;
        let resource = scope("Resource", raw.resource, Pattern::resource, check_resource)?;
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

// Why only these: API Gateway documents, for the policy a Lambda authorizer returns, a
// `Version` and `Statement`s of `Effect` (`Allow|Deny`), `Action` (`execute-api:Invoke`) and
// `Resource` in the form
// `arn:aws:execute-api:{regionId}:{accountId}:{apiId}/{stage}/{httpVerb}/[{resource}/[{child-resources}]]`,
// where a wild card (`*`) may stand for parts
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html;
// the same template, with `*` for region, account, stage, method and path, in
// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-invoke-api.html
// and https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-iam-policy-examples-for-api-execution.html).
// Neither names `NotAction`, `NotResource` or the `?` wildcard, so what API Gateway makes of
// them is unknown, and a `Deny` it ignored would let callers through. They are refused rather
// than translated: `NotResource` is the complement of its patterns over every method ARN there
// could be, which in general only an unwieldy list of `*` patterns (one per character that could
// // come next) equals, where one slip in translating a `Deny` lets callers through; and a `?`
// has no `*` form. A refused policy is invalid, so its group denies everything.
const NOT_ACTION_REFUSED: &str = "`NotAction` is not allowed: API Gateway documents only `Action` in an authorizer's policy; write `\"Action\": \"execute-api:Invoke\"`";
const NOT_RESOURCE_REFUSED: &str = "`NotResource` is not allowed: API Gateway documents only `Resource` in an authorizer's policy; list in `Resource` the method ARNs the statement should cover";

fn scope(
    element: &str,
    values: Option<StringOrList>,
    pattern: fn(&str) -> Pattern,
    check: fn(&str) -> Result<(), String>,
) -> Result<Scope, PolicyError> {
    let Some(StringOrList(values)) = values else {
        return Err(PolicyError(format!("needs `{element}`")));
    };
    if values.is_empty() {
        return Err(PolicyError(format!("`{element}` is empty")));
    }
    values
        .iter()
        .map(|v| {
            check(v).map_err(|why| PolicyError(format!("`{element}` value `{v}` {why}")))?;
            Ok(pattern(v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Scope)
}

/// `?` matches one character in IAM, but API Gateway documents only `*` for its authorizer's
/// policy (see above `scope`).
const QUESTION_MARK_REFUSED: &str = "uses `?`: API Gateway documents only the `*` wildcard in an authorizer's policy; use `*` or spell the characters out";

fn check_action(value: &str) -> Result<(), String> {
    if value.contains('?') {
        return Err(QUESTION_MARK_REFUSED.to_owned());
    }
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

/// A resource is `*` (every method: the returned policy spells it as an ARN, see
/// `ReturnedPolicy`) or a method ARN pattern in the documented form, at most
/// [`MAX_RESOURCE_BYTES`] long.
fn check_resource(value: &str) -> Result<(), String> {
    if value.contains('?') {
        return Err(QUESTION_MARK_REFUSED.to_owned());
    }
    if value.len() > MAX_RESOURCE_BYTES {
        return Err(format!(
            "is {} bytes: longer than any method ARN (API Gateway allows {MAX_RESOURCE_BYTES})",
            value.len()
        ));
    }
    if value == "*" || is_method_arn_pattern(value) {
        Ok(())
    } else {
        Err("is not `*` or `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}` (parts may be `*`; a final `*` may stand for the parts after it)".to_owned())
    }
}

/// Whether `value` has the documented method ARN form: `arn`, a partition, `execute-api`, a
/// region and an account, then `{apiId}/{stage}/{METHOD}/{path}`, where a final `*` may stand
/// for the fields after the API id (`{apiId}/{stage}/*`, as the documentation's examples do).
fn is_method_arn_pattern(value: &str) -> bool {
    let fields: Vec<&str> = value.splitn(6, ':').collect();
    let ["arn", partition, "execute-api", region, account, rest] = fields.as_slice() else {
        return false;
    };
    let head = [partition, region, account].iter().all(|f| !f.is_empty());
    let parts: Vec<&str> = rest.splitn(4, '/').collect();
    let tail = match parts.as_slice() {
        [api, stage, method, _path] => [api, stage, method].iter().all(|f| !f.is_empty()),
        [api, .., last] => !api.is_empty() && last.ends_with('*'),
        _ => false,
    };
    head && tail
}

fn condition(
    raw: BTreeMap<String, BTreeMap<String, StringOrList>>,
) -> Result<Condition, PolicyError> {
    let mut blocks = Vec::with_capacity(raw.len());
    for (operator, keys) in raw {
        let operator = match operator.as_str() {
            "IpAddress" => IpOperator::IpAddress,
            "NotIpAddress" => IpOperator::NotIpAddress,
            other => {
                return Err(PolicyError(format!(
                    "unsupported condition operator `{other}` (supported: `IpAddress`, `NotIpAddress`)"
                )));
            }
        };
        if keys.is_empty() {
            return Err(PolicyError(format!(
                "condition `{}` names no key",
                operator.as_str()
            )));
        }
        let mut block = ConditionBlock {
            operator,
            keys: Vec::with_capacity(keys.len()),
        };
        for (key, StringOrList(values)) in keys {
            // Condition keys are case-insensitive in IAM; keys that differ only in case are
            // still separate keys of the block, and all of them must hold.
            if !key.eq_ignore_ascii_case("aws:SourceIp") {
                return Err(PolicyError(format!(
                    "unsupported condition key `{key}` in `{}` (supported: `aws:SourceIp`)",
                    operator.as_str()
                )));
            }
            if values.is_empty() {
                return Err(PolicyError(format!(
                    "condition `{}` key `{key}` has no values",
                    operator.as_str()
                )));
            }
            let networks = values
                .iter()
                .map(|value| {
                    parse_network(value).ok_or_else(|| {
                        PolicyError(format!(
                            "`{value}` in `{}` is not an IP address or CIDR block",
                            operator.as_str()
                        ))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            block.keys.push(ConditionKey {
                name: key,
                networks,
            });
        }
        blocks.push(block);
    }
    if blocks.is_empty() {
        return Err(PolicyError("`Condition` is empty".to_owned()));
    }
    Ok(Condition { blocks })
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
                "`NotAction` is not allowed",
            ),
            (base(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), "`Action` is empty"),
            (base(r#"{"Effect":"Allow","Action":"invoke","Resource":"*"}"#), "`invoke`"),
            (base(r#"{"Effect":"Allow","Action":"*","Resource":"petstore/*"}"#), "`petstore/*`"),
            (
                base(r#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::bucket/*"}"#),
                "is not `*` or `arn:{partition}:execute-api:",
            ),
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
    fn serializing_keeps_every_element_and_parses_back_equal() {
        let doc = PolicyDocument::from_json(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Deny","Action":"execute-api:Invoke",
            "Resource":["arn:aws:execute-api:*:*:*/*/GET/x"],"Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8",
            "aws:sourceip":["192.0.2.1","2001:db8::/32"]},"NotIpAddress":{"aws:SourceIp":"10.1.0.0/16"}}}]}"#,
        )
        .unwrap();
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Deny",
                "Action":["execute-api:Invoke"],"Resource":["arn:aws:execute-api:*:*:*/*/GET/x"],
                "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8"],"aws:sourceip":["192.0.2.1/32","2001:db8::/32"]},
                    "NotIpAddress":{"aws:SourceIp":["10.1.0.0/16"]}}}]})
        );
        assert_eq!(PolicyDocument::from_json(&json.to_string()).unwrap(), doc);
    }

    /// Issue #9, row 1: a statement that names a key twice is invalid at every level, whichever
    /// of the two a JSON parser would keep.
    #[test]
    fn a_key_named_twice_anywhere_makes_the_policy_invalid() {
        let doc =
            |statement: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        let cases = [
            (
                doc(r#"{"Effect":"Deny","Effect":"Allow","Action":"*","Resource":"*"}"#),
                "Effect",
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"*","Resource":"arn:aws:execute-api:*:*:*/*/GET/petstore/v1/pets","Resource":"*"}"#,
                ),
                "Resource",
            ),
            (
                doc(
                    r#"{"Effect":"Deny","Action":"*","NotResource":"arn:aws:execute-api:*:*:*/*/GET/a","NotResource":"*"}"#,
                ),
                "NotResource",
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}},"Condition":{}}"#,
                ),
                "Condition",
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},"IpAddress":{"aws:SourceIp":"0.0.0.0/0"}}}"#,
                ),
                "IpAddress",
            ),
            (
                doc(
                    r#"{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8","aws:SourceIp":"0.0.0.0/0"}}}"#,
                ),
                "aws:SourceIp",
            ),
            (
                r#"{"Version":"2012-10-17","Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#
                    .to_owned(),
                "Version",
            ),
        ];
        for (text, key) in cases {
            let err = PolicyDocument::from_json(&text).unwrap_err().to_string();
            assert!(
                err.contains(&format!("duplicate key `{key}`")),
                "{text}\n  gave: {err}"
            );
        }
    }

    /// Issue #9, row 2: keys under one operator are ANDed, even keys that differ only in case.
    #[test]
    fn keys_under_one_operator_are_anded() {
        let doc = PolicyDocument::from_json(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8","aws:sourceip":"0.0.0.0/0"}}}]}"#,
        )
        .unwrap();
        let s = &doc.statements[0];
        assert!(!s.applies(&facts("203.0.113.7")));
        assert!(s.applies(&facts("10.9.8.7")));
    }

    #[test]
    fn values_of_one_key_are_ored_and_operators_anded() {
        let doc = PolicyDocument::from_json(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.0.2.0/24"]},
            "NotIpAddress":{"aws:SourceIp":["10.1.0.0/16"]}}}]}"#,
        )
        .unwrap();
        let s = &doc.statements[0];
        assert!(s.applies(&facts("10.2.0.1")));
        assert!(s.applies(&facts("192.0.2.9")));
        assert!(!s.applies(&facts("10.1.0.1")), "NotIpAddress also applies");
        assert!(!s.applies(&facts("198.51.100.1")));
    }

    /// Issue #9, row 8: an IPv4-mapped IPv6 source address matches IPv4 networks.
    #[test]
    fn ipv4_mapped_addresses_compare_as_ipv4() {
        let doc = PolicyDocument::from_json(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
        )
        .unwrap();
        assert!(doc.statements[0].applies(&facts("::ffff:10.1.2.3")));
        assert!(!doc.statements[0].applies(&facts("::ffff:11.1.2.3")));
        let deny = PolicyDocument::from_json(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}"#,
        )
        .unwrap();
        assert!(!deny.statements[0].applies(&facts("::ffff:10.1.2.3")));
    }

    #[test]
    fn an_empty_condition_or_key_list_is_invalid() {
        for condition in [
            r#"{}"#,
            r#"{"IpAddress":{}}"#,
            r#"{"IpAddress":{"aws:SourceIp":[]}}"#,
        ] {
            let text = format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{condition}}}}}"#
            );
            assert!(PolicyDocument::from_json(&text).is_err(), "{condition}");
        }
    }

    /// Issue #22: API Gateway documents no `NotAction`, `NotResource` or `?` for an
    /// authorizer's policy, so a policy using one is invalid, with a one-line reason that says
    /// what to write instead.
    #[test]
    fn what_api_gateway_does_not_document_is_refused_with_what_to_write_instead() {
        let base = |stmt: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{stmt}]}}"#);
        let cases = [
            (
                r#"{"Effect":"Deny","Action":"execute-api:Invoke","NotResource":"arn:aws:execute-api:*:*:*/*/GET/*"}"#,
                "statement #0: `NotResource` is not allowed: API Gateway documents only `Resource`",
                "list in `Resource` the method ARNs",
            ),
            (
                r#"{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}"#,
                "statement #0: `NotAction` is not allowed: API Gateway documents only `Action`",
                r#"write `"Action": "execute-api:Invoke"`"#,
            ),
            (
                r#"{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:*:*:*/*/GET/petstore/v?/pets"}"#,
                "`Resource` value `arn:aws:execute-api:*:*:*/*/GET/petstore/v?/pets` uses `?`: API Gateway documents only the `*` wildcard",
                "use `*` or spell the characters out",
            ),
            (
                r#"{"Effect":"Allow","Action":"execute-api:Inv?ke","Resource":"*"}"#,
                "`Action` value `execute-api:Inv?ke` uses `?`",
                "use `*`",
            ),
        ];
        for (statement, reason, instead) in cases {
            let err = PolicyDocument::from_json(&base(statement))
                .unwrap_err()
                .to_string();
            assert!(err.contains(reason), "{statement}\n  gave: {err}");
            assert!(err.contains(instead), "{statement}\n  gave: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    /// Issue #22: a method ARN is at most 1600 bytes (API Gateway answers 414 past it), so a
    /// `Resource` may be 1600 bytes and not one more.
    #[test]
    fn a_resource_may_be_as_long_as_the_longest_method_arn_and_no_longer() {
        let prefix = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3/prod/GET/";
        let of_length = |n: usize| format!("{prefix}{}", "p".repeat(n - prefix.len()));
        let doc = |resource: &str| {
            format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"execute-api:Invoke","Resource":"{resource}"}}}}"#
            )
        };
        let at = of_length(MAX_RESOURCE_BYTES);
        assert_eq!(at.len(), 1600);
        assert!(PolicyDocument::from_json(&doc(&at)).is_ok());
        let past = of_length(MAX_RESOURCE_BYTES + 1);
        let err = PolicyDocument::from_json(&doc(&past))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is 1601 bytes: longer than any method ARN (API Gateway allows 1600)"),
            "{err}"
        );
    }

    #[test]
    fn resources_take_the_documented_method_arn_form() {
        let good = [
            "*",
            "arn:aws:execute-api:*:*:*/*/*/*",
            "arn:aws:execute-api:us-east-1:*:a123456789/test/POST/my-demo-resource-path/*",
            "arn:aws:execute-api:*:*:a123456789/*/*/petstorewalkthrough/pets",
            "arn:aws-cn:execute-api:r:1:api/prod/*",
            "arn:aws:execute-api:r:1:api/prod/GET/",
        ];
        let bad = [
            "arn:aws:s3:::bucket/key",
            "arn:aws:execute-api:r:1:api/prod",
            "arn:aws:execute-api:r:1:api",
            "arn:aws:execute-api:r:1:api//GET/x",
            "arn::execute-api:r:1:api/prod/GET/x",
            "arn:aws:execute-api:*",
        ];
        for resource in good {
            assert_eq!(check_resource(resource), Ok(()), "{resource}");
        }
        for resource in bad {
            assert!(check_resource(resource).is_err(), "{resource}");
        }
    }
}
