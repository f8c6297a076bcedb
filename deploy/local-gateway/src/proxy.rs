//! API Gateway's `http_proxy` integration: the method request passed to an HTTP endpoint, with
//! the integration's request parameter mappings applied, and the endpoint's answer passed back.
//!
//! "In HTTP proxy integration, API Gateway passes the client-submitted method request to the
//! backend. The request data that is passed through includes the request headers, query string
//! parameters, URL path variables, and payload", and the client receives the backend's answer:
//! https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-create-api-as-simple-proxy-for-http.html
//!
//! Mappings are checked once, when the gateway starts ([`ProxyPlan::new`]): a key or source this
//! gateway does not know is refused there, naming the key, rather than ignored at request time.

use serde_json::{Map, Value};

/// Where a mapping writes: `integration.request.{header|querystring|path}.NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Header(String),
    Query(String),
    Path(String),
}

/// A context variable a mapping may read (`context.NAME`): the few this gateway knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContextVariable {
    RequestId,
    Stage,
    HttpMethod,
    ResourcePath,
    ApiId,
    AccountId,
}

impl ContextVariable {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "requestId" => Self::RequestId,
            "stage" => Self::Stage,
            "httpMethod" => Self::HttpMethod,
            "resourcePath" => Self::ResourcePath,
            "apiId" => Self::ApiId,
            "accountId" => Self::AccountId,
            _ => return None,
        })
    }
}

/// Where a mapping reads from, in the forms API Gateway's parameter mapping source reference
/// lists for an integration request: `method.request.{path|querystring|header}.NAME`,
/// `context.VARIABLE` (the authorizer's context is `context.authorizer.KEY`) and `'STATIC'`:
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-parameter-mapping-sources.html
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    Header(String),
    Query(String),
    Path(String),
    Authorizer(String),
    Context(ContextVariable),
    Static(String),
}

/// The request a mapping reads: what the gateway knows once the caller is authorized.
pub struct MappingInput<'a> {
    pub method: &'a str,
    pub headers: &'a [(String, String)],
    pub query: &'a [(String, String)],
    pub path_parameters: &'a Map<String, Value>,
    /// The authorizer's context (`principalId` included); `None` on a public method.
    pub authorizer: Option<&'a Map<String, Value>>,
    pub request_id: &'a str,
    pub stage: &'a str,
    pub resource_path: &'a str,
    pub api_id: &'a str,
    pub account_id: &'a str,
}

/// The integration request to send upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// One `http_proxy` integration, checked.
#[derive(Debug, Clone)]
pub struct ProxyPlan {
    /// `None`: the method request's own method (`ANY`).
    method: Option<String>,
    uri: String,
    mappings: Vec<(Target, Source)>,
}

/// Request headers never passed upstream: the hop-by-hop headers of one connection (RFC 9110
/// section 7.6.1), `Host`, which API Gateway does not forward to HTTP endpoints, and
/// `Content-Length`, which the client recomputes for the body it sends. API Gateway lists these
/// among the headers it drops, remaps or overwrites towards an integration endpoint:
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-known-issues.html#api-gateway-known-issues-rest-apis
/// `Authorization` is not among them: API Gateway passes it on (it drops it only when it holds
/// a Signature Version 4 signature, page above), so the endpoint receives the caller's token.
const NOT_FORWARDED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Whether a request or response header stays on its own hop.
pub fn hop_by_hop(name: &str) -> bool {
    NOT_FORWARDED.iter().any(|h| name.eq_ignore_ascii_case(h))
}

impl ProxyPlan {
    /// Checks an integration of the route `method path` (`public`: no authorizer); the error
    /// names the mapping key or placeholder at fault.
    pub fn new(
        route_path: &str,
        public: bool,
        method: &str,
        uri: &str,
        request_parameters: &[(String, String)],
    ) -> Result<Self, String> {
        let parsed =
            reqwest::Url::parse(uri).map_err(|e| format!("integration uri `{uri}`: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("integration uri `{uri}` is not http or https"));
        }
        let mut mappings = Vec::new();
        for (key, value) in request_parameters {
            let target = parse_target(key)?;
            let source = parse_source(key, value)?;
            if let Source::Path(name) = &source
                && !route_path.split('/').any(|s| s == format!("{{{name}}}"))
            {
                return Err(format!(
                    "request parameter `{key}`: the resource `{route_path}` has no path parameter `{name}`"
                ));
            }
            // A public method has no authorizer: nothing could fill the mapped value, and a
            // header meant to carry an identity would silently go missing.
            if public && matches!(source, Source::Authorizer(_)) {
                return Err(format!(
                    "request parameter `{key}`: `{value}` on a public method, which has no authorizer"
                ));
            }
            mappings.push((target, source));
        }
        for name in placeholders(uri) {
            if !mappings
                .iter()
                .any(|(t, _)| matches!(t, Target::Path(p) if *p == name))
            {
                return Err(format!(
                    "integration uri `{uri}`: placeholder `{{{name}}}` has no `integration.request.path.{name}` mapping"
                ));
            }
        }
        let method = method.to_ascii_uppercase();
        Ok(Self {
            method: (method != "ANY").then_some(method),
            uri: uri.to_owned(),
            mappings,
        })
    }

    /// The integration request for `input`: the method request's headers and query string with
    /// the mappings applied, to the uri with its placeholders filled. A mapped header or query
    /// parameter replaces every one of the same name the client sent, and one whose source is
    /// absent (a header not sent, a context key the authorizer did not return) is removed all
    /// the same: a client never sets a value that a mapping owns. `Err` names a path
    /// placeholder left without a value.
    pub fn request(&self, input: &MappingInput<'_>) -> Result<UpstreamRequest, String> {
        let mut headers: Vec<(String, String)> = input
            .headers
            .iter()
            .filter(|(name, _)| !hop_by_hop(name))
            .cloned()
            .collect();
        let mut query: Vec<(String, String)> = input.query.to_vec();
        let mut path: Vec<(&str, String)> = Vec::new();
        for (target, source) in &self.mappings {
            let value = source.read(input);
            match target {
                // Header names are case-insensitive (RFC 9110 section 5.1): the client's
                // `x-user-sub` is the mapped `X-User-Sub`.
                Target::Header(name) => {
                    headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                    headers.extend(value.map(|v| (name.clone(), v)));
                }
                Target::Query(name) => {
                    query.retain(|(n, _)| n != name);
                    query.extend(value.map(|v| (name.clone(), encode(&v))));
                }
                Target::Path(name) => {
                    let value = value.ok_or_else(|| {
                        format!("no value for the uri's placeholder `{{{name}}}`")
                    })?;
                    path.push((name, encode(&value)));
                }
            }
        }
        let mut url = self.uri.clone();
        for (name, value) in path {
            url = url.replace(&format!("{{{name}}}"), &value);
        }
        if !query.is_empty() {
            let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&pairs.join("&"));
        }
        Ok(UpstreamRequest {
            method: self
                .method
                .clone()
                .unwrap_or_else(|| input.method.to_owned()),
            url,
            headers,
        })
    }
}

impl Source {
    /// The value this source gives for `input`, `None` when it has none.
    fn read(&self, input: &MappingInput<'_>) -> Option<String> {
        match self {
            // The last value, as in the proxy event's `headers`.
            Self::Header(name) => input
                .headers
                .iter()
                .rev()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone()),
            // The query string and path come as sent, percent-encoded; a mapping carries the
            // text ("REST APIs decode URL-encoded request parameters before passing them to
            // backend integrations", page of `NOT_FORWARDED`), encoded again where it goes.
            Self::Query(name) => input
                .query
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| decode(v)),
            Self::Path(name) => input
                .path_parameters
                .get(name)
                .and_then(Value::as_str)
                .map(decode),
            // "the stringified value of the specified key-value pair of the context map returned
            // from an API Gateway Lambda authorizer function":
            // https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference
            Self::Authorizer(key) => match input.authorizer?.get(key)? {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            },
            Self::Context(variable) => Some(
                match variable {
                    ContextVariable::RequestId => input.request_id,
                    ContextVariable::Stage => input.stage,
                    ContextVariable::HttpMethod => input.method,
                    ContextVariable::ResourcePath => input.resource_path,
                    ContextVariable::ApiId => input.api_id,
                    ContextVariable::AccountId => input.account_id,
                }
                .to_owned(),
            ),
            Self::Static(value) => Some(value.clone()),
        }
    }
}

fn parse_target(key: &str) -> Result<Target, String> {
    let refused = || {
        format!(
            "request parameter `{key}`: keys are `integration.request.header.NAME`, `integration.request.querystring.NAME` or `integration.request.path.NAME`"
        )
    };
    let rest = key
        .strip_prefix("integration.request.")
        .ok_or_else(refused)?;
    let (kind, name) = rest.split_once('.').ok_or_else(refused)?;
    if name.is_empty() {
        return Err(refused());
    }
    match kind {
        "header" => {
            if hop_by_hop(name) {
                return Err(format!(
                    "request parameter `{key}`: `{name}` is a header of the connection, not one to map"
                ));
            }
            Ok(Target::Header(name.to_owned()))
        }
        "querystring" => Ok(Target::Query(name.to_owned())),
        "path" => Ok(Target::Path(name.to_owned())),
        _ => Err(refused()),
    }
}

fn parse_source(key: &str, value: &str) -> Result<Source, String> {
    if let Some(literal) = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .filter(|_| value.len() >= 2)
    {
        return Ok(Source::Static(literal.to_owned()));
    }
    let named = |prefix: &str| value.strip_prefix(prefix).filter(|n| !n.is_empty());
    if let Some(name) = named("method.request.header.") {
        return Ok(Source::Header(name.to_owned()));
    }
    if let Some(name) = named("method.request.querystring.") {
        return Ok(Source::Query(name.to_owned()));
    }
    if let Some(name) = named("method.request.path.") {
        return Ok(Source::Path(name.to_owned()));
    }
    if let Some(name) = named("context.authorizer.") {
        return Ok(Source::Authorizer(name.to_owned()));
    }
    if let Some(variable) = named("context.").and_then(ContextVariable::parse) {
        return Ok(Source::Context(variable));
    }
    Err(format!(
        "request parameter `{key}`: unknown source `{value}` (this gateway maps `method.request.{{header|querystring|path}}.NAME`, `context.authorizer.KEY`, `context.{{requestId|stage|httpMethod|resourcePath|apiId|accountId}}` or a `'static'` value)"
    ))
}

/// The `{name}`s of a uri template.
fn placeholders(uri: &str) -> Vec<String> {
    uri.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// `value` with its `%XX` escapes decoded (one that is not an escape stays as it is).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        let escaped = (byte == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `value` percent-encoded for a query string value or a path segment (the client's own query
/// pairs are passed as sent).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The stack accepts a document's `context.NAME` sources from the shared list; each must
    /// be one this gateway gives, or a document that synthesizes would not start locally.
    #[test]
    fn every_context_variable_the_stack_accepts_is_one_this_gateway_maps() {
        for name in groupgate_shared::context::MAPPED_CONTEXT_VARIABLES {
            assert!(ContextVariable::parse(name).is_some(), "context.{name}");
        }
        assert_eq!(ContextVariable::parse("identity.sourceIp"), None);
    }

    fn plan(
        route: &str,
        public: bool,
        uri: &str,
        mappings: &[(&str, &str)],
    ) -> Result<ProxyPlan, String> {
        let mappings: Vec<(String, String)> = mappings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ProxyPlan::new(route, public, "ANY", uri, &mappings)
    }

    #[test]
    fn unknown_keys_and_sources_are_refused_naming_the_key() {
        let cases = [
            ("integration.request.body.x", "'v'"),
            ("integration.request.header.", "'v'"),
            ("method.request.header.X", "'v'"),
            ("integration.request.header.X", "method.request.body"),
            ("integration.request.header.X", "stageVariables.s"),
            ("integration.request.header.X", "context.identity.sourceIp"),
            ("integration.request.header.X", "nonsense"),
            ("integration.request.header.Connection", "'close'"),
        ];
        for (key, value) in cases {
            let error = plan("/a", false, "http://h/a", &[(key, value)]).unwrap_err();
            assert!(error.contains(&format!("`{key}`")), "{key}: {error}");
        }
    }

    #[test]
    fn a_placeholder_needs_a_path_mapping_and_a_path_source_a_path_parameter() {
        let error = plan("/a/{id}", false, "http://h/a/{id}", &[]).unwrap_err();
        assert!(error.contains("`{id}`"), "{error}");
        let error = plan(
            "/a/{id}",
            false,
            "http://h/a/{id}",
            &[("integration.request.path.id", "method.request.path.other")],
        )
        .unwrap_err();
        assert!(error.contains("`other`"), "{error}");
        plan(
            "/a/{id}",
            false,
            "http://h/a/{id}",
            &[("integration.request.path.id", "method.request.path.id")],
        )
        .unwrap();
    }

    #[test]
    fn a_public_method_cannot_map_the_authorizers_context() {
        let mapping = [(
            "integration.request.header.X-User-Sub",
            "context.authorizer.sub",
        )];
        let error = plan("/a", true, "http://h/a", &mapping).unwrap_err();
        assert!(error.contains("public"), "{error}");
        plan("/a", false, "http://h/a", &mapping).unwrap();
    }

    #[test]
    fn mapped_query_and_path_values_are_decoded_then_encoded_once() {
        assert_eq!(decode("a%20b%2Fc%zz%"), "a b/c%zz%");
        let plan = plan(
            "/a/{id}",
            false,
            "http://h/x/{p}",
            &[
                ("integration.request.path.p", "method.request.querystring.q"),
                (
                    "integration.request.querystring.id",
                    "method.request.path.id",
                ),
            ],
        )
        .unwrap();
        let query = vec![("q".to_owned(), "x%2Fy%20z".to_owned())];
        let path_parameters = json!({"id": "a%20b"});
        let request = plan
            .request(&MappingInput {
                method: "GET",
                headers: &[],
                query: &query,
                path_parameters: path_parameters.as_object().unwrap(),
                authorizer: None,
                request_id: "r",
                stage: "prod",
                resource_path: "/a/{id}",
                api_id: "api",
                account_id: "1",
            })
            .unwrap();
        // A `/` from a value never adds a path segment upstream.
        assert_eq!(request.url, "http://h/x/x%2Fy%20z?q=x%2Fy%20z&id=a%20b");
    }

    #[test]
    fn mappings_fill_the_uri_and_replace_what_the_client_sent() {
        let plan = plan(
            "/visits/{visitId}",
            false,
            "http://h/v1/visits/{id}",
            &[
                ("integration.request.path.id", "method.request.path.visitId"),
                (
                    "integration.request.header.X-User-Sub",
                    "context.authorizer.sub",
                ),
                ("integration.request.header.X-Count", "context.authorizer.n"),
                (
                    "integration.request.header.X-Missing",
                    "context.authorizer.none",
                ),
                ("integration.request.querystring.by", "context.requestId"),
                ("integration.request.querystring.tag", "'a b&c'"),
            ],
        )
        .unwrap();
        let headers = vec![
            ("x-user-sub".to_owned(), "forged".to_owned()),
            ("X-Missing".to_owned(), "forged".to_owned()),
            ("Host".to_owned(), "client".to_owned()),
            ("Connection".to_owned(), "keep-alive".to_owned()),
            ("Authorization".to_owned(), "Bearer t".to_owned()),
        ];
        let query = vec![
            ("by".to_owned(), "forged".to_owned()),
            ("q".to_owned(), "1".to_owned()),
        ];
        let path_parameters = json!({"visitId": "v7"});
        let authorizer = json!({"sub": "user-1", "n": 3});
        let request = plan
            .request(&MappingInput {
                method: "PATCH",
                headers: &headers,
                query: &query,
                path_parameters: path_parameters.as_object().unwrap(),
                authorizer: authorizer.as_object(),
                request_id: "r1",
                stage: "prod",
                resource_path: "/visits/{visitId}",
                api_id: "api",
                account_id: "1",
            })
            .unwrap();
        assert_eq!(request.method, "PATCH");
        assert_eq!(request.url, "http://h/v1/visits/v7?q=1&by=r1&tag=a%20b%26c");
        assert_eq!(
            request.headers,
            [
                ("Authorization".to_owned(), "Bearer t".to_owned()),
                ("X-User-Sub".to_owned(), "user-1".to_owned()),
                ("X-Count".to_owned(), "3".to_owned()),
            ]
        );
    }
}
