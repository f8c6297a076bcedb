//! The two authorizer events API Gateway sends, read as the plain JSON they are.
//!
//! `aws_lambda_events` reads headers into the `http` crate's `HeaderMap`, which refuses a name
//! with a space or `@`, a non-ASCII name, or a value with DEL or CR: the whole event then fails
//! to deserialize, a 500 before the token is looked at. Here every name and value is a string,
//! kept in order with repeats, and only `Authorization` is interpreted, by [`RequestEvent::authorization`].

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

/// A TOKEN or REQUEST authorizer event, told apart by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
pub enum AuthorizerEvent {
    #[serde(rename = "TOKEN")]
    Token(TokenEvent),
    #[serde(rename = "REQUEST")]
    Request(RequestEvent),
}

/// What a TOKEN authorizer receives: the identity source's value and the method ARN.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenEvent {
    #[serde(default)]
    pub authorization_token: Option<String>,
    #[serde(default)]
    pub method_arn: Option<String>,
}

/// The parts of a REQUEST authorizer event the authorizer reads; the rest is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEvent {
    #[serde(default)]
    pub method_arn: Option<String>,
    /// The request's method (`GET`): with `resource`, the route a Cedar decision is about.
    #[serde(default)]
    pub http_method: Option<String>,
    /// The resource path template the request matched (`/petstore/v1/pets/{id}`), not the path.
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub headers: Option<Headers>,
    #[serde(default)]
    pub multi_value_headers: Option<MultiValueHeaders>,
    #[serde(default)]
    pub request_context: Option<RequestContext>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub identity: Option<Identity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    #[serde(default)]
    pub source_ip: Option<String>,
}

/// `headers`: each name with its value, in the event's order; a name given twice is kept twice.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

/// `multiValueHeaders`: each name with its values, in the event's order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MultiValueHeaders(pub Vec<(String, Vec<String>)>);

/// What the event says about `Authorization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization<'e> {
    Missing,
    /// One value, however many times and under whatever case of the name it appears.
    One(&'e str),
    /// Two different values: which one API Gateway keyed its cache on is not ours to guess.
    Conflicting,
}

impl RequestEvent {
    /// The `Authorization` value, by one rule: the name is matched without regard to case, in
    /// `headers` and `multiValueHeaders` alike, and every value found must be the same one.
    pub fn authorization(&self) -> Authorization<'_> {
        let singles = self.headers.iter().flat_map(|h| &h.0).map(|(n, v)| (n, v));
        let multis = self
            .multi_value_headers
            .iter()
            .flat_map(|h| &h.0)
            .flat_map(|(n, vs)| vs.iter().map(move |v| (n, v)));
        let mut found = Authorization::Missing;
        for (_, value) in singles
            .chain(multis)
            .filter(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        {
            found = match found {
                Authorization::Missing => Authorization::One(value),
                Authorization::One(first) if first == value => found,
                _ => return Authorization::Conflicting,
            };
        }
        found
    }

    pub fn request_id(&self) -> Option<&str> {
        self.request_context.as_ref()?.request_id.as_deref()
    }

    pub fn source_ip(&self) -> Option<&str> {
        self.request_context
            .as_ref()?
            .identity
            .as_ref()?
            .source_ip
            .as_deref()
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of header names and string values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut out = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, Option<String>>()? {
                    out.extend(value.map(|v| (name, v)));
                }
                Ok(Headers(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for MultiValueHeaders {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MultiValueHeaders;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of header names and lists of string values")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<MultiValueHeaders, A::Error> {
                let mut out = Vec::new();
                while let Some((name, values)) =
                    map.next_entry::<String, Option<Vec<Option<String>>>>()?
                {
                    let values: Vec<String> = values.into_iter().flatten().flatten().collect();
                    out.push((name, values));
                }
                Ok(MultiValueHeaders(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(headers: serde_json::Value, multi: serde_json::Value) -> RequestEvent {
        let event = json!({"type": "REQUEST", "methodArn": "arn", "headers": headers,
            "multiValueHeaders": multi});
        match serde_json::from_value(event).unwrap() {
            AuthorizerEvent::Request(r) => r,
            AuthorizerEvent::Token(_) => unreachable!(),
        }
    }

    #[test]
    fn one_value_in_both_maps_and_any_case_is_the_authorization() {
        let r = request(
            json!({"authorization": "Bearer a"}),
            json!({"AUTHORIZATION": ["Bearer a", "Bearer a"]}),
        );
        assert_eq!(r.authorization(), Authorization::One("Bearer a"));
        assert_eq!(
            request(json!(null), json!(null)).authorization(),
            Authorization::Missing
        );
    }

    /// Issue #9, row 4: two distinct values, under two case variants or across the two maps.
    #[test]
    fn two_distinct_values_conflict() {
        let cases = [
            (
                json!({"Authorization": "Bearer garbage", "AUTHORIZATION": "Bearer admin"}),
                json!(null),
            ),
            (
                json!({"Authorization": "Bearer a"}),
                json!({"Authorization": ["Bearer b"]}),
            ),
            (
                json!(null),
                json!({"Authorization": ["Bearer a", "Bearer b"]}),
            ),
        ];
        for (headers, multi) in cases {
            assert_eq!(
                request(headers.clone(), multi.clone()).authorization(),
                Authorization::Conflicting,
                "{headers} {multi}"
            );
        }
    }

    #[test]
    fn a_name_repeated_in_the_event_json_is_kept_and_compared() {
        let text = r#"{"type":"REQUEST","headers":{"Authorization":"Bearer a","Authorization":"Bearer b"}}"#;
        let AuthorizerEvent::Request(r) = serde_json::from_str(text).unwrap() else {
            unreachable!()
        };
        assert_eq!(r.authorization(), Authorization::Conflicting);
    }
}
