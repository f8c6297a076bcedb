//! A local stand-in for API Gateway's REST API with a REQUEST Lambda authorizer, calling the
//! functions through cargo-lambda's invoke endpoint. It follows what AWS documents:
//!
//! - no identity source (`Authorization` header): 401 without calling the authorizer;
//! - authorizer error `Unauthorized`: 401; any other error or malformed output: 500;
//! - the returned policy is evaluated against the method ARN: explicit deny or no allow is 403;
//! - results are cached per identity source for the TTL and applied to every method, as API
//!   Gateway does (so a policy written only for the first method asked shows up locally);
//! - allowed requests go to the backend as REST v1 proxy events carrying the authorizer context.
//!
//! Its parts: `http` (the HTTP/1.1 server, keeping the client's header casing), `event` (the
//! typed REST API events), and here, [`Gateway`]: route, authorize, evaluate, call the backend.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use groupgate::{INVOKE_ACTION, MergedPolicy, MethodArn, PolicyDocument, RequestFacts};

mod event;
mod http;

use event::{NameValues, RestEvent, RestRequest};
use serde_json::{Map, Value, json};

/// The fixed identity of the local API in method ARNs.
pub const LOCAL_REGION: &str = "us-east-1";
pub const LOCAL_ACCOUNT: &str = "123456789012";
pub const LOCAL_API_ID: &str = "localapi01";

/// Where time comes from; tests move it by hand.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub stage: String,
    /// (HTTP method, resource path with `{param}`s).
    pub routes: Vec<(String, String)>,
    pub authorizer_ttl: Duration,
    pub identity_header: String,
    /// cargo-lambda's invoke endpoint, e.g. `http://127.0.0.1:9000`.
    pub invoke_url: String,
    pub authorizer_function: String,
    pub backend_function: String,
}

/// A request as the gateway sees it.
#[derive(Debug, Clone, Default)]
pub struct GatewayRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub source_ip: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl GatewayResponse {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }
}

const EXPLICIT_DENY: &str = "User is not authorized to access this resource with an explicit deny";
const NO_ALLOW: &str = "User is not authorized to access this resource";

/// An authorizer result as API Gateway keeps it.
#[derive(Clone)]
struct Authorization {
    at: Instant,
    principal_id: String,
    policy: Arc<PolicyDocument>,
    context: Map<String, Value>,
}

/// What calling a function gave.
enum Invocation {
    Ok(Value),
    /// The function returned an error (`errorMessage`).
    FunctionError(String),
}

pub struct Gateway {
    config: GatewayConfig,
    http: reqwest::Client,
    cache: Mutex<HashMap<String, Authorization>>,
    clock: Clock,
    /// How many times the authorizer was invoked (for tests and the log).
    authorizer_calls: std::sync::atomic::AtomicUsize,
}

fn log(line: &str) {
    eprintln!("gateway: {line}");
}

impl Gateway {
    pub fn new(config: GatewayConfig, clock: Clock) -> anyhow::Result<Self> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Ok(Self {
            config,
            // Generous: the first invocation of a function may wait for cargo-lambda to build it.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()?,
            cache: Mutex::new(HashMap::new()),
            clock,
            authorizer_calls: 0.into(),
        })
    }

    pub fn authorizer_calls(&self) -> usize {
        self.authorizer_calls
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The route template and path parameters for `path` (already without the stage).
    fn route(&self, method: &str, path: &str) -> Option<(String, Map<String, Value>)> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        'routes: for (m, template) in &self.config.routes {
            if m != method {
                continue;
            }
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                continue;
            }
            let mut params = Map::new();
            for (part, segment) in parts.iter().zip(&segments) {
                match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                    Some(name) if !segment.is_empty() => {
                        params.insert(name.to_owned(), json!(segment));
                    }
                    _ if part == segment => {}
                    _ => continue 'routes,
                }
            }
            return Some((template.clone(), params));
        }
        None
    }

    async fn invoke(&self, function: &str, payload: &Value) -> anyhow::Result<Invocation> {
        let url = format!(
            "{}/2015-03-31/functions/{function}/invocations",
            self.config.invoke_url
        );
        let response = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(payload.to_string())
            .send()
            .await?;
        let status = response.status();
        let body: Value = serde_json::from_slice(&response.bytes().await?)?;
        if status.is_success() {
            Ok(Invocation::Ok(body))
        } else {
            Ok(Invocation::FunctionError(
                body.get("errorMessage")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
            ))
        }
    }

    pub async fn handle(&self, mut request: GatewayRequest) -> GatewayResponse {
        let request_id = format!("{:032x}", rand::random::<u128>());
        let (path, resource, path_parameters, method_arn) = match self.resolve(&request) {
            Ok(resolved) => resolved,
            Err(response) => return response,
        };
        let line = |outcome: &dyn std::fmt::Display| {
            log(&format!(
                "{request_id} {} {path}: {outcome}",
                request.method
            ));
        };
        let headers = NameValues(std::mem::take(&mut request.headers));
        let query = NameValues(std::mem::take(&mut request.query));
        let Some(identity) = headers
            .0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&self.config.identity_header))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
        else {
            line(&"401 (no identity source)");
            return GatewayResponse::json(401, json!({"message": "Unauthorized"}));
        };
        let host = headers
            .0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("host"))
            .map_or("localhost", |(_, v)| v.as_str());
        let rest = RestRequest {
            resource: &resource,
            path: &path,
            method: &request.method,
            headers: &headers,
            query: &query,
            path_parameters: &path_parameters,
            stage: &self.config.stage,
            request_id: &request_id,
            request_time_epoch_ms: epoch_ms(),
            account_id: LOCAL_ACCOUNT,
            api_id: LOCAL_API_ID,
            host,
            source_ip: request.source_ip,
        };
        let authorization = match self.authorize(identity, &method_arn, &rest).await {
            Ok(a) => a,
            Err(response) => return response,
        };
        let facts = RequestFacts {
            source_ip: request.source_ip,
        };
        let merged =
            MergedPolicy::from_document("authorizer", (*authorization.policy).clone(), &facts);
        let decision = merged.decide(INVOKE_ACTION, method_arn.as_str());
        if !decision.is_allow() {
            line(&format_args!("403 ({})", decision.reason()));
            let message = match decision.reason() {
                groupgate::Reason::NoMatchingAllow => NO_ALLOW,
                _ => EXPLICIT_DENY,
            };
            return GatewayResponse::json(403, json!({ "Message": message }));
        }
        let mut authorizer = authorization.context.clone();
        authorizer.insert("principalId".into(), json!(authorization.principal_id));
        let event = RestEvent::proxy(&rest, &authorizer, &request.body);
        let response = self.call_backend(&event).await;
        line(&format_args!("{} (allowed)", response.status));
        response
    }

    /// The path without the stage, the route it matches, its path parameters and the method ARN;
    /// or API Gateway's answer when there is no such route.
    fn resolve(
        &self,
        request: &GatewayRequest,
    ) -> Result<(String, String, Map<String, Value>, MethodArn), GatewayResponse> {
        let stage_prefix = format!("/{}", self.config.stage);
        let path = request
            .path
            .strip_prefix(&stage_prefix)
            .filter(|p| p.starts_with('/'))
            .ok_or_else(|| GatewayResponse::json(403, json!({"message": "Forbidden"})))?;
        let (resource, path_parameters) = self.route(&request.method, path).ok_or_else(|| {
            GatewayResponse::json(403, json!({"message": "Missing Authentication Token"}))
        })?;
        let method_arn = MethodArn::for_request(
            LOCAL_REGION,
            LOCAL_ACCOUNT,
            LOCAL_API_ID,
            &self.config.stage,
            &request.method,
            path,
        )
        .map_err(|e| GatewayResponse::json(400, json!({"message": e.to_string()})))?;
        Ok((path.to_owned(), resource, path_parameters, method_arn))
    }

    async fn call_backend(&self, event: &RestEvent<'_>) -> GatewayResponse {
        let failed = |why: &dyn std::fmt::Display| {
            log(&format!("backend failed: {why}"));
            GatewayResponse::json(502, json!({"message": "Internal server error"}))
        };
        let event = match serde_json::to_value(event) {
            Ok(event) => event,
            Err(e) => return failed(&e),
        };
        match self.invoke(&self.config.backend_function, &event).await {
            Ok(Invocation::Ok(response)) => proxy_response(&response),
            Ok(Invocation::FunctionError(message)) => failed(&message),
            Err(e) => failed(&e),
        }
    }

    /// The authorizer's result for this identity source: from the cache, or by invoking it.
    async fn authorize(
        &self,
        identity: &str,
        method_arn: &MethodArn,
        request: &RestRequest<'_>,
    ) -> Result<Authorization, GatewayResponse> {
        let now = (self.clock)();
        let ttl = self.config.authorizer_ttl;
        if let Ok(cache) = self.cache.lock()
            && let Some(hit) = cache.get(identity)
            && now.saturating_duration_since(hit.at) < ttl
        {
            return Ok(hit.clone());
        }
        let failure = |why: String| {
            log(&format!("authorizer failure: {why}"));
            GatewayResponse::json(500, json!({"message": null}))
        };
        let event = serde_json::to_value(RestEvent::authorizer(request, method_arn.as_str()))
            .map_err(|e| failure(e.to_string()))?;
        self.authorizer_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let output = match self.invoke(&self.config.authorizer_function, &event).await {
            Ok(Invocation::Ok(output)) => output,
            Ok(Invocation::FunctionError(message)) if message == "Unauthorized" => {
                return Err(GatewayResponse::json(
                    401,
                    json!({"message": "Unauthorized"}),
                ));
            }
            Ok(Invocation::FunctionError(message)) => return Err(failure(message)),
            Err(e) => return Err(failure(e.to_string())),
        };
        let authorization = parse_authorizer_output(&output, now).map_err(failure)?;
        if !ttl.is_zero()
            && let Ok(mut cache) = self.cache.lock()
        {
            cache.insert(identity.to_owned(), authorization.clone());
        }
        Ok(authorization)
    }
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Checks an authorizer's output as API Gateway does: a principal, a policy document, and a
/// context of plain values only.
fn parse_authorizer_output(output: &Value, now: Instant) -> Result<Authorization, String> {
    let principal_id = output
        .get("principalId")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or("output has no principalId")?
        .to_owned();
    let policy = output
        .get("policyDocument")
        .ok_or("output has no policyDocument")?;
    let policy = PolicyDocument::from_json(&policy.to_string())
        .map_err(|e| format!("policyDocument: {e}"))?;
    let context = match output.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => {
            if let Some((key, _)) = map.iter().find(|(_, v)| v.is_object() || v.is_array()) {
                return Err(format!(
                    "context value `{key}` is not a string, number or boolean"
                ));
            }
            map.clone()
        }
        Some(_) => return Err("context is not an object".into()),
    };
    Ok(Authorization {
        at: now,
        principal_id,
        policy: Arc::new(policy),
        context,
    })
}

/// A Lambda proxy response (`statusCode`, `headers`, `multiValueHeaders`, `body`,
/// `isBase64Encoded`) as the HTTP response it describes.
fn proxy_response(response: &Value) -> GatewayResponse {
    let Some(status) = response
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())
    else {
        return GatewayResponse::json(502, json!({"message": "Internal server error"}));
    };
    let mut headers = Vec::new();
    if let Some(map) = response.get("headers").and_then(Value::as_object) {
        headers.extend(
            map.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))),
        );
    }
    if let Some(map) = response.get("multiValueHeaders").and_then(Value::as_object) {
        for (k, values) in map {
            if headers.iter().any(|(h, _)| h.eq_ignore_ascii_case(k)) {
                continue;
            }
            for v in values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                headers.push((k.clone(), v.to_owned()));
            }
        }
    }
    let text = response
        .get("body")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let body = if response.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        base64_decode(text).unwrap_or_default()
    } else {
        text.as_bytes().to_vec()
    };
    GatewayResponse {
        status,
        headers,
        body,
    }
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

pub use http::serve;
