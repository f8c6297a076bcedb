//! The events the gateway sends, as typed values in the shape API Gateway gives a REST API (v1)
//! Lambda proxy integration and a REQUEST Lambda authorizer (recorded in `fixtures/events/`).
//!
//! `aws_lambda_events` has types for these events, but they normalise details the functions
//! would then never meet locally: header names are lowercased by its `HeaderMap` (API Gateway
//! keeps the client's casing), and a Lambda authorizer's context is written under `lambda`, the
//! HTTP API shape, where a REST API puts it directly in `authorizer`. So the shape is ours.

use std::net::IpAddr;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Names and values as they arrived, in order, in the client's casing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameValues(pub Vec<(String, String)>);

impl NameValues {
    /// `headers`: each name with its last value (a name that differs in case is another name).
    fn single(&self) -> Single<'_> {
        Single(self)
    }

    /// `multiValueHeaders`: each name with all its values.
    fn multi(&self) -> Multi<'_> {
        Multi(self)
    }

    fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in &self.0 {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        names
    }
}

struct Single<'a>(&'a NameValues);
struct Multi<'a>(&'a NameValues);

impl Serialize for Single<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = self.0.names();
        let mut map = serializer.serialize_map(Some(names.len()))?;
        for name in names {
            let last = self
                .0
                .0
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v);
            map.serialize_entry(name, &last)?;
        }
        map.end()
    }
}

impl Serialize for Multi<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let names = self.0.names();
        let mut map = serializer.serialize_map(Some(names.len()))?;
        for name in names {
            let all: Vec<&String> = self
                .0
                .0
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, v)| v)
                .collect();
            map.serialize_entry(name, &all)?;
        }
        map.end()
    }
}

/// Which of the two events: they differ in a few fields, and in how an empty map is written
/// (`{}` in an authorizer event, `null` in a proxy event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Authorizer,
    Proxy,
}

/// What the gateway knows of a request, to write into either event.
#[derive(Debug, Clone)]
pub struct RestRequest<'a> {
    pub resource: &'a str,
    /// The path without the stage.
    pub path: &'a str,
    pub method: &'a str,
    pub headers: &'a NameValues,
    pub query: &'a NameValues,
    pub path_parameters: &'a Map<String, Value>,
    pub stage: &'a str,
    pub request_id: &'a str,
    pub request_time_epoch_ms: i64,
    pub account_id: &'a str,
    pub api_id: &'a str,
    pub host: &'a str,
    pub source_ip: Option<IpAddr>,
}

/// A REST API event: a REQUEST authorizer's (with `type` and `methodArn`) or a proxy
/// integration's (with the authorizer's context, `body` and `isBase64Encoded`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestEvent<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    method_arn: Option<&'a str>,
    resource: &'a str,
    path: &'a str,
    http_method: &'a str,
    headers: OrEmpty<Single<'a>>,
    multi_value_headers: OrEmpty<Multi<'a>>,
    query_string_parameters: OrEmpty<Single<'a>>,
    multi_value_query_string_parameters: OrEmpty<Multi<'a>>,
    path_parameters: OrEmpty<&'a Map<String, Value>>,
    stage_variables: OrEmpty<()>,
    request_context: RequestContext<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_base64_encoded: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestContext<'a> {
    resource_id: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    authorizer: Option<&'a Map<String, Value>>,
    resource_path: &'a str,
    http_method: &'a str,
    extended_request_id: &'a str,
    request_time: String,
    path: String,
    account_id: &'a str,
    protocol: &'static str,
    stage: &'a str,
    domain_prefix: &'a str,
    request_time_epoch: i64,
    request_id: &'a str,
    identity: Identity<'a>,
    domain_name: &'a str,
    api_id: &'a str,
}

/// The caller as API Gateway describes one that did not sign with IAM: only the address and
/// user agent are known.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    cognito_identity_pool_id: Option<()>,
    account_id: Option<()>,
    cognito_identity_id: Option<()>,
    caller: Option<()>,
    source_ip: Option<String>,
    principal_org_id: Option<()>,
    access_key: Option<()>,
    cognito_authentication_type: Option<()>,
    cognito_authentication_provider: Option<()>,
    user_arn: Option<()>,
    user_agent: Option<&'a str>,
    user: Option<()>,
}

/// A map written as itself, or, when empty, as `{}` or `null` by the event's kind.
struct OrEmpty<T> {
    value: T,
    empty: bool,
    kind: Kind,
}

impl<T: Serialize> Serialize for OrEmpty<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (self.empty, self.kind) {
            (false, _) => self.value.serialize(serializer),
            (true, Kind::Authorizer) => serializer.serialize_map(Some(0))?.end(),
            (true, Kind::Proxy) => serializer.serialize_none(),
        }
    }
}

impl<'a> RestEvent<'a> {
    /// A REQUEST authorizer event for `method_arn`.
    pub fn authorizer(request: &'a RestRequest<'a>, method_arn: &'a str) -> Self {
        let mut event = Self::common(request, Kind::Authorizer, None);
        event.kind = Some("REQUEST");
        event.method_arn = Some(method_arn);
        event
    }

    /// A proxy event carrying the authorizer's context (`principalId` included; none for a
    /// public method) and the body, base64-encoded when it is not UTF-8.
    pub fn proxy(
        request: &'a RestRequest<'a>,
        authorizer: Option<&'a Map<String, Value>>,
        body: &[u8],
    ) -> Self {
        let mut event = Self::common(request, Kind::Proxy, authorizer);
        let (body, base64) = match std::str::from_utf8(body) {
            _ if body.is_empty() => (None, false),
            Ok(text) => (Some(text.to_owned()), false),
            Err(_) => {
                use base64::Engine as _;
                (
                    Some(base64::engine::general_purpose::STANDARD.encode(body)),
                    true,
                )
            }
        };
        event.body = Some(body);
        event.is_base64_encoded = Some(base64);
        event
    }

    fn common(
        r: &'a RestRequest<'a>,
        kind: Kind,
        authorizer: Option<&'a Map<String, Value>>,
    ) -> Self {
        let or_empty = |value, empty| OrEmpty { value, empty, kind };
        let user_agent = r
            .headers
            .0
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case("user-agent"))
            .map(|(_, v)| v.as_str());
        Self {
            kind: None,
            method_arn: None,
            resource: r.resource,
            path: r.path,
            http_method: r.method,
            headers: or_empty(r.headers.single(), r.headers.0.is_empty()),
            multi_value_headers: OrEmpty {
                value: r.headers.multi(),
                empty: r.headers.0.is_empty(),
                kind,
            },
            query_string_parameters: or_empty(r.query.single(), r.query.0.is_empty()),
            multi_value_query_string_parameters: OrEmpty {
                value: r.query.multi(),
                empty: r.query.0.is_empty(),
                kind,
            },
            path_parameters: OrEmpty {
                value: r.path_parameters,
                empty: r.path_parameters.is_empty(),
                kind,
            },
            stage_variables: OrEmpty {
                value: (),
                empty: true,
                kind,
            },
            request_context: RequestContext {
                resource_id: "local",
                authorizer,
                resource_path: r.resource,
                http_method: r.method,
                extended_request_id: r.request_id,
                request_time: request_time(r.request_time_epoch_ms),
                path: format!("/{}{}", r.stage, r.path),
                account_id: r.account_id,
                protocol: "HTTP/1.1",
                stage: r.stage,
                domain_prefix: r.api_id,
                request_time_epoch: r.request_time_epoch_ms,
                request_id: r.request_id,
                identity: Identity {
                    cognito_identity_pool_id: None,
                    account_id: None,
                    cognito_identity_id: None,
                    caller: None,
                    source_ip: r.source_ip.map(|ip| ip.to_string()),
                    principal_org_id: None,
                    access_key: None,
                    cognito_authentication_type: None,
                    cognito_authentication_provider: None,
                    user_arn: None,
                    user_agent,
                    user: None,
                },
                domain_name: r.host,
                api_id: r.api_id,
            },
            body: None,
            is_base64_encoded: None,
        }
    }
}

/// `21/Nov/2026:10:15:30 +0000`, API Gateway's `requestTime` format.
fn request_time(epoch_ms: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let name = usize::try_from(month - 1)
        .ok()
        .and_then(|m| MONTHS.get(m))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{day:02}/{name}/{year}:{:02}:{:02}:{:02} +0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_is_written_as_api_gateway_writes_it() {
        assert_eq!(
            request_time(1_795_256_130_000),
            "21/Nov/2026:10:15:30 +0000"
        );
        assert_eq!(request_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(request_time(951_782_400_000), "29/Feb/2000:00:00:00 +0000");
    }

    fn to_value(value: impl Serialize) -> Value {
        serde_json::to_value(value).unwrap()
    }

    #[test]
    fn headers_keep_their_casing_order_and_repeats() {
        let h = NameValues(vec![
            ("X-Trace".into(), "a".into()),
            ("Accept".into(), "json".into()),
            ("X-Trace".into(), "b".into()),
            ("x-trace".into(), "c".into()),
        ]);
        assert_eq!(
            to_value(h.single()),
            serde_json::json!({"X-Trace": "b", "Accept": "json", "x-trace": "c"})
        );
        assert_eq!(
            to_value(h.multi()),
            serde_json::json!({"X-Trace": ["a", "b"], "Accept": ["json"], "x-trace": ["c"]})
        );
    }
}
