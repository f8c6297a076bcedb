//! A local stand-in for API Gateway's REST API with a REQUEST Lambda authorizer, serving the
//! [`Route`]s it is given: each calls a function through cargo-lambda's invoke endpoint or an
//! HTTP endpoint (`http_proxy`). It follows what AWS documents:
//!
//! - a route matches its method, or every method it does not declare for `ANY`;
//! - a public route (no authorizer) is called without an identity source or the authorizer,
//!   and no authorizer context reaches its integration;
//! - no identity source (`Authorization` header): 401 without calling the authorizer;
//! - authorizer error `Unauthorized`: 401; any other error or malformed output: 500;
//! - the returned policy is evaluated against the method ARN by the independent reference
//!   evaluator ([`groupgate_shared::reference`]), never by the authorizer's own `MergedPolicy`,
//!   so a rule the authorizer renders wrongly shows here as it would on AWS: explicit deny or no
//!   allow is 403, and a policy it cannot read (no statement, a `Condition`, a bad `Effect`) is
//!   500, as an authorizer output API Gateway cannot use is;
//! - results are cached per identity source for the TTL and applied to every method, as API
//!   Gateway does (so a policy written only for the first method asked shows up locally); with
//!   a Cedar stack's identity sources (`context.httpMethod` and `context.resourcePath` beside
//!   the header) per token and route, so one route's answer is never applied to another;
//! - allowed requests go to a function as REST v1 proxy events carrying the authorizer context,
//!   or to an `http_proxy` endpoint as they came (method, headers, query string, body; not
//!   `Host` or the connection's own headers), with the integration's request parameter
//!   mappings applied (`method.request.*`, `context.authorizer.KEY`, a few `context.*`
//!   variables, `'static'` values; anything else is refused at start, naming the key). A mapped
//!   header replaces any the client sent under that name. The endpoint's status, headers and
//!   body come back as they are; an endpoint that cannot be reached is a 500;
//! - its own answers are the stack's gateway responses: JSON with the message, the hint the
//!   stack gives for that response type, and the request id;
//! - given CORS origins, it answers OPTIONS preflights itself (no authorizer), echoing only an
//!   allowed origin, and lets the allowed origins read its own answers as the stack does;
//! - an integration that does not answer within the integration timeout (29 s) is a 504;
//! - on top of API Gateway, an admin route of its own ([`CACHE_PATH`], outside any stage and
//!   answered to loopback callers only) empties the authorizer cache, as `groupgate local sync`
//!   and `groupgate local flush` need after a policy change.
//!
//! Its parts: `http` (the HTTP/1.1 server, keeping the client's header casing), `event` (the
//! typed REST API events), `proxy` (the `http_proxy` integration request and its mappings), and
//! here, [`Gateway`]: route, authorize, evaluate, call the integration.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use groupgate_shared::cors::{self, AllowedOrigins};
use groupgate_shared::reference::{self, Verdict};
use groupgate_shared::{INVOKE_ACTION, MethodArn};

mod event;
mod http;
mod proxy;

use event::{NameValues, RestEvent, RestRequest};
use proxy::{MappingInput, ProxyPlan};
use serde_json::{Map, Value, json};

/// The fixed identity of the local API in method ARNs.
pub const LOCAL_REGION: &str = "us-east-1";
pub const LOCAL_ACCOUNT: &str = "123456789012";
pub const LOCAL_API_ID: &str = "localapi01";

/// The local gateway's own route: `DELETE` empties the authorizer cache. It is not under any
/// stage (a stage of this name is refused), and only loopback callers reach it.
pub const CACHE_PATH: &str = "/_groupgate/authorizer-cache";

/// How long API Gateway waits for an integration before it answers 504: 29 s by default, "50
/// milliseconds - 29 seconds for all integration types" in the REST API quotas,
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html#api-gateway-execution-service-limits-table
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(29);

/// Where time comes from; tests move it by hand.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// One method of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Upper case, or `ANY`, which matches every method.
    pub method: String,
    /// The resource path, with `{param}`s.
    pub path: String,
    /// No authorizer (AuthorizationType `NONE`): no identity source is asked for and no
    /// authorizer context reaches the integration.
    pub public: bool,
    pub integration: LocalIntegration,
}

/// What a route calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalIntegration {
    /// A function cargo lambda runs, by its name (REST v1 proxy event).
    Function(String),
    /// API Gateway's `http_proxy`: forwarded to `uri` (`{name}` placeholders filled from the
    /// mapped path parameters), with the request's method unless `method` says otherwise
    /// (`ANY`: the same); `request_parameters` maps `integration.request.*` keys to sources.
    HttpProxy {
        method: String,
        uri: String,
        request_parameters: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub stage: String,
    pub routes: Vec<Route>,
    pub authorizer_ttl: Duration,
    pub identity_header: String,
    /// Whether the identity sources also hold `context.httpMethod` and `context.resourcePath`
    /// (a Cedar stack's, see `groupgate_stack::identity_sources`): a cached result then answers
    /// only the method and resource path it was made for.
    pub cache_by_route: bool,
    /// cargo-lambda's invoke endpoint, e.g. `http://127.0.0.1:9000`.
    pub invoke_url: String,
    pub authorizer_function: String,
    /// The hint of each gateway response type (`UNAUTHORIZED`, `ACCESS_DENIED`, ...), as the
    /// stack's gateway responses give them.
    pub hints: HashMap<String, String>,
    /// Browser origins allowed to call the API; empty, no CORS.
    pub cors_origins: AllowedOrigins,
    /// How long the backend may take before the answer is 504 ([`INTEGRATION_TIMEOUT`]).
    pub integration_timeout: Duration,
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

/// One of API Gateway's own answers, before it is written out: its response type, status and
/// message (API Gateway's `$context.error.messageString`).
struct GatewayError {
    kind: &'static str,
    status: u16,
    message: Option<&'static str>,
}

impl GatewayError {
    const fn new(kind: &'static str, status: u16, message: Option<&'static str>) -> Self {
        Self {
            kind,
            status,
            message,
        }
    }
}

const UNAUTHORIZED: GatewayError = GatewayError::new("UNAUTHORIZED", 401, Some("Unauthorized"));
const AUTHORIZER_FAILURE: GatewayError = GatewayError::new("AUTHORIZER_FAILURE", 500, None);
const BACKEND_FAILURE: GatewayError =
    GatewayError::new("DEFAULT_5XX", 502, Some("Internal server error"));
/// API Gateway's response type and message when the integration times out:
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html
const INTEGRATION_TIMED_OUT: GatewayError = GatewayError::new(
    "INTEGRATION_TIMEOUT",
    504,
    Some("Endpoint request timed out"),
);

/// A route whose integration the gateway does not have (it checked them all at start).
const INTEGRATION_FAILED: GatewayError =
    GatewayError::new("DEFAULT_5XX", 500, Some("Internal server error"));
/// An `http_proxy` endpoint that cannot be reached or does not answer whole: API Gateway answers
/// 500 for a configuration error, "including when an invalid endpoint address is submitted"
/// (API_CONFIGURATION_ERROR,
/// https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html),
/// and an endpoint "not listening on the target ports" is "Execution failed due to
/// configuration error ... Method completed with status: 500" in its execution log:
/// https://repost.aws/knowledge-center/api-gateway-500-error-vpc
const UPSTREAM_UNREACHABLE: GatewayError = GatewayError::new(
    "API_CONFIGURATION_ERROR",
    500,
    Some("Internal server error"),
);

/// What an `ANY` method answers to, for a preflight's `Access-Control-Allow-Methods`.
const ANY_METHODS: [&str; 6] = ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"];

const EXPLICIT_DENY: &str = "User is not authorized to access this resource with an explicit deny";
const NO_ALLOW: &str = "User is not authorized to access this resource";

/// An authorizer result as API Gateway keeps it.
#[derive(Clone)]
struct Authorization {
    at: Instant,
    principal_id: String,
    /// The returned policy document, as returned.
    policy: Arc<Value>,
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
    /// The checked `http_proxy` integration of each route, by its index (`None`: a function).
    plans: Vec<Option<ProxyPlan>>,
    http: reqwest::Client,
    /// For `http_proxy` integrations: redirects are the client's to follow, as API Gateway
    /// passes the endpoint's answer back as it is.
    upstream: reqwest::Client,
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
        if CACHE_PATH.starts_with(&format!("/{}/", config.stage)) {
            anyhow::bail!(
                "stage `{}` is the local gateway's own path: choose another stage name",
                config.stage
            );
        }
        let plans = config
            .routes
            .iter()
            .map(|route| match &route.integration {
                LocalIntegration::Function(_) => Ok(None),
                LocalIntegration::HttpProxy {
                    method,
                    uri,
                    request_parameters,
                } => ProxyPlan::new(&route.path, route.public, method, uri, request_parameters)
                    .map(Some)
                    .map_err(|e| anyhow::anyhow!("route {} {}: {e}", route.method, route.path)),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        Ok(Self {
            config,
            plans,
            upstream: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            // Generous: the first invocation of a function may wait for cargo-lambda to build it.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(300))
                .build()?,
            cache: Mutex::new(HashMap::new()),
            clock,
            authorizer_calls: 0.into(),
        })
    }

    /// Empties the authorizer cache, as `FlushStageAuthorizersCache` does for a stage; returns
    /// how many results it held.
    pub fn flush_authorizer_cache(&self) -> usize {
        match self.cache.lock() {
            Ok(mut cache) => cache.drain().count(),
            // A poisoned lock: replace the map, the cache must not survive a flush.
            Err(poisoned) => {
                let mut cache = poisoned.into_inner();
                let count = cache.len();
                *cache = HashMap::new();
                count
            }
        }
    }

    pub fn authorizer_calls(&self) -> usize {
        self.authorizer_calls
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The index of the route `method path` asks (already without the stage), and its path
    /// parameters. On the resource the path matches, the method itself comes before `ANY`,
    /// which "will catch any HTTP method that wasn't explicitly declared":
    /// https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-any-method.html
    fn route(&self, method: &str, path: &str) -> Option<(usize, Map<String, Value>)> {
        let path = path.trim_end_matches('/');
        let routes = &self.config.routes;
        // Of the resources that match, the one API Gateway serves (`/pets/mine` before
        // `/pets/{id}`); the first listed of equals.
        let (first, parameters) = routes
            .iter()
            .enumerate()
            .filter(|(_, route)| route.method == method || route.method == "ANY")
            .filter_map(|(index, route)| {
                let parameters = groupgate_shared::route::path_parameters(&route.path, path)?;
                Some((index, parameters))
            })
            .min_by_key(|(index, _)| {
                routes
                    .get(*index)
                    .map(|r| groupgate_shared::route::precedence(&r.path))
            })?;
        let resource = &routes.get(first)?.path;
        let index = routes
            .iter()
            .position(|route| &route.path == resource && route.method == method)
            .unwrap_or(first);
        let parameters = parameters
            .into_iter()
            .map(|(name, value)| (name.to_owned(), json!(value)))
            .collect();
        Some((index, parameters))
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
        let origin = find_header(&request.headers, "origin").map(str::to_owned);
        let line = |path: &str, outcome: &dyn std::fmt::Display| {
            log(&format!(
                "{request_id} {} {path}: {outcome}",
                request.method
            ));
        };
        if request.path == CACHE_PATH
            && request.method == "DELETE"
            && request
                .source_ip
                .is_some_and(|ip| ip.to_canonical().is_loopback())
        {
            let flushed = self.flush_authorizer_cache();
            line(
                &request.path,
                &format_args!("200 (flushed {flushed} cached results)"),
            );
            return GatewayResponse::json(200, json!({ "flushed": flushed }));
        }
        if request.method == "OPTIONS"
            && let Some(response) = self.preflight(&request.path, origin.as_deref())
        {
            line(&request.path, &"204 (CORS preflight)");
            return response;
        }
        let fail = |error: GatewayError| self.error(&error, &request_id, origin.as_deref());
        let (path, index, path_parameters, method_arn) = match self.resolve(&request) {
            Ok(resolved) => resolved,
            Err(error) => return fail(error),
        };
        let Some(route) = self.config.routes.get(index) else {
            return fail(INTEGRATION_FAILED);
        };
        let headers = NameValues(std::mem::take(&mut request.headers));
        let query = NameValues(std::mem::take(&mut request.query));
        let host = find_header(&headers.0, "host").unwrap_or("localhost");
        let rest = RestRequest {
            resource: &route.path,
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
        // A method without an authorizer (AuthorizationType NONE) is called as it comes: no
        // identity source is required and no authorizer context reaches the integration.
        let authorizer = if route.public {
            None
        } else {
            match self.authorized(&rest, &method_arn).await {
                Ok(context) => Some(context),
                Err(error) => {
                    let why = error.message.unwrap_or("authorizer failure");
                    line(&path, &format_args!("{} ({why})", error.status));
                    return fail(error);
                }
            }
        };
        let response = match self
            .integrate(index, &rest, authorizer.as_ref(), &request.body)
            .await
        {
            Ok(response) => response,
            Err(error) => fail(error),
        };
        let how = if route.public { "public" } else { "allowed" };
        line(&path, &format_args!("{} ({how})", response.status));
        response
    }

    /// The authorizer's context (with `principalId`) when the caller may call `method_arn`;
    /// otherwise API Gateway's answer: 401 without an identity source or for `Unauthorized`,
    /// 403 when the returned policy does not allow the method, 500 when it cannot be used.
    async fn authorized(
        &self,
        rest: &RestRequest<'_>,
        method_arn: &MethodArn,
    ) -> Result<Map<String, Value>, GatewayError> {
        let identity = find_header(&rest.headers.0, &self.config.identity_header)
            .filter(|v| !v.is_empty())
            .ok_or(UNAUTHORIZED)?;
        // The cache key: the identity sources' values. A header value holds no line break, so
        // the route after one cannot run into it.
        let identity = match self.config.cache_by_route {
            false => identity.to_owned(),
            true => format!("{identity}\n{} {}", rest.method, rest.resource),
        };
        let authorization = self.authorize(&identity, method_arn, rest).await?;
        if let Some(message) = refusal(&authorization.policy, method_arn.as_str())? {
            return Err(GatewayError::new("ACCESS_DENIED", 403, Some(message)));
        }
        let mut context = authorization.context;
        context.insert("principalId".into(), json!(authorization.principal_id));
        Ok(context)
    }

    /// Calls route `index`'s integration with the request.
    async fn integrate(
        &self,
        index: usize,
        rest: &RestRequest<'_>,
        authorizer: Option<&Map<String, Value>>,
        body: &[u8],
    ) -> Result<GatewayResponse, GatewayError> {
        let integration = self.config.routes.get(index).map(|r| &r.integration);
        match (integration, self.plans.get(index).and_then(Option::as_ref)) {
            (Some(LocalIntegration::Function(function)), _) => {
                let event = RestEvent::proxy(rest, authorizer, body);
                self.call_backend(function, &event).await
            }
            (Some(LocalIntegration::HttpProxy { .. }), Some(plan)) => {
                self.call_upstream(plan, rest, authorizer, body).await
            }
            _ => Err(INTEGRATION_FAILED),
        }
    }

    /// API Gateway's `http_proxy`: the integration request `plan` makes of the method request,
    /// and the endpoint's status, headers and body back as they are.
    async fn call_upstream(
        &self,
        plan: &ProxyPlan,
        rest: &RestRequest<'_>,
        authorizer: Option<&Map<String, Value>>,
        body: &[u8],
    ) -> Result<GatewayResponse, GatewayError> {
        let failed = |why: &dyn std::fmt::Display| {
            log(&format!("http_proxy integration failed: {why}"));
            UPSTREAM_UNREACHABLE
        };
        let upstream = plan
            .request(&MappingInput {
                method: rest.method,
                headers: &rest.headers.0,
                query: &rest.query.0,
                path_parameters: rest.path_parameters,
                authorizer,
                request_id: rest.request_id,
                stage: rest.stage,
                resource_path: rest.resource,
                api_id: rest.api_id,
                account_id: rest.account_id,
            })
            .map_err(|e| failed(&e))?;
        let method =
            reqwest::Method::from_bytes(upstream.method.as_bytes()).map_err(|e| failed(&e))?;
        let mut call = self.upstream.request(method, &upstream.url);
        for (name, value) in &upstream.headers {
            call = call.header(name, value);
        }
        let call = async {
            let response = call.body(body.to_vec()).send().await?;
            let status = response.status().as_u16();
            let headers = response
                .headers()
                .iter()
                .filter(|(name, _)| !proxy::hop_by_hop(name.as_str()))
                .map(|(name, value)| {
                    (
                        name.as_str().to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let body = response.bytes().await?.to_vec();
            Ok::<_, reqwest::Error>(GatewayResponse {
                status,
                headers,
                body,
            })
        };
        let timeout = self.config.integration_timeout;
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(response)) => Ok(response),
            // The error without its URL: a query string may carry what must not be logged.
            Ok(Err(e)) => Err(failed(&e.without_url())),
            Err(_) => {
                log(&format!(
                    "http_proxy endpoint did not answer within {} ms",
                    timeout.as_millis()
                ));
                Err(INTEGRATION_TIMED_OUT)
            }
        }
    }

    /// One of API Gateway's own answers, as the stack's gateway responses write it.
    fn error(
        &self,
        error: &GatewayError,
        request_id: &str,
        origin: Option<&str>,
    ) -> GatewayResponse {
        let mut body = Map::new();
        body.insert("message".into(), json!(error.message));
        // A response type the stack does not customize answers as its DEFAULT_4XX or
        // DEFAULT_5XX does ("If the response type is unspecified, this response defaults to the
        // DEFAULT_5XX type"):
        // https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html
        let fallback = if error.status >= 500 {
            "DEFAULT_5XX"
        } else {
            "DEFAULT_4XX"
        };
        let hint = self
            .config
            .hints
            .get(error.kind)
            .or_else(|| self.config.hints.get(fallback))
            .filter(|hint| !hint.is_empty());
        if let Some(hint) = hint {
            body.insert("hint".into(), json!(hint));
        }
        body.insert("requestId".into(), json!(request_id));
        let mut response = GatewayResponse::json(error.status, Value::Object(body));
        // As the stack's gateway responses: one origin is named; several copy the request's.
        match self.config.cors_origins.as_slice() {
            [] => {}
            [only] => response
                .headers
                .push(("access-control-allow-origin".into(), only.clone())),
            _ => {
                if let Some(origin) = origin {
                    response
                        .headers
                        .push(("access-control-allow-origin".into(), origin.to_owned()));
                }
                response.headers.push(("vary".into(), "Origin".into()));
            }
        }
        response
    }

    /// The answer to a CORS preflight for `path`, when CORS is on and `path` is a resource of
    /// the API: `Access-Control-Allow-Origin` only for an allowed origin, as the stack's MOCK
    /// integration does.
    fn preflight(&self, path: &str, origin: Option<&str>) -> Option<GatewayResponse> {
        if self.config.cors_origins.is_empty() {
            return None;
        }
        let path = path
            .strip_prefix(&format!("/{}", self.config.stage))
            .filter(|p| p.starts_with('/'))?;
        let methods: Vec<&str> = self
            .config
            .routes
            .iter()
            .enumerate()
            .filter(|(index, route)| {
                self.route(&route.method, path)
                    .is_some_and(|(matched, _)| matched == *index)
            })
            .flat_map(|(_, route)| match route.method.as_str() {
                "ANY" => ANY_METHODS.to_vec(),
                method => vec![method],
            })
            .collect();
        if methods.is_empty() {
            return None;
        }
        let mut headers = vec![
            (
                "access-control-allow-methods".to_owned(),
                format!("{},OPTIONS", methods.join(",")),
            ),
            (
                "access-control-allow-headers".to_owned(),
                cors::ALLOW_HEADERS.to_owned(),
            ),
            (
                "access-control-max-age".to_owned(),
                cors::MAX_AGE_SECONDS.to_string(),
            ),
            ("vary".to_owned(), "Origin".to_owned()),
        ];
        if let Some(allowed) = self.config.cors_origins.allow(origin) {
            headers.push(("access-control-allow-origin".to_owned(), allowed.to_owned()));
        }
        Some(GatewayResponse {
            status: 204,
            headers,
            body: Vec::new(),
        })
    }

    /// The path without the stage, the route it matches, its path parameters and the method ARN;
    /// or API Gateway's answer when there is no such route.
    fn resolve(
        &self,
        request: &GatewayRequest,
    ) -> Result<(String, usize, Map<String, Value>, MethodArn), GatewayError> {
        let stage_prefix = format!("/{}", self.config.stage);
        let path = request
            .path
            .strip_prefix(&stage_prefix)
            .filter(|p| p.starts_with('/'))
            .ok_or(GatewayError::new("DEFAULT_4XX", 403, Some("Forbidden")))?;
        let (index, path_parameters) = self.route(&request.method, path).ok_or(
            GatewayError::new("DEFAULT_4XX", 403, Some("Missing Authentication Token")),
        )?;
        let method_arn = MethodArn::for_request(
            LOCAL_REGION,
            LOCAL_ACCOUNT,
            LOCAL_API_ID,
            &self.config.stage,
            &request.method,
            path,
        )
        .map_err(|e| {
            log(&format!("unusable path: {e}"));
            GatewayError::new("DEFAULT_4XX", 400, Some("Bad Request"))
        })?;
        Ok((path.to_owned(), index, path_parameters, method_arn))
    }

    async fn call_backend(
        &self,
        function: &str,
        event: &RestEvent<'_>,
    ) -> Result<GatewayResponse, GatewayError> {
        let failed = |why: &dyn std::fmt::Display| {
            log(&format!("backend failed: {why}"));
            BACKEND_FAILURE
        };
        let event = serde_json::to_value(event).map_err(|e| failed(&e))?;
        let timeout = self.config.integration_timeout;
        let invoked = tokio::time::timeout(timeout, self.invoke(function, &event)).await;
        let Ok(invoked) = invoked else {
            log(&format!(
                "backend did not answer within {} ms",
                timeout.as_millis()
            ));
            return Err(INTEGRATION_TIMED_OUT);
        };
        match invoked {
            Ok(Invocation::Ok(response)) => proxy_response(&response)
                .ok_or_else(|| failed(&"the function's response has no statusCode")),
            Ok(Invocation::FunctionError(message)) => Err(failed(&message)),
            Err(e) => Err(failed(&e)),
        }
    }

    /// The authorizer's result for these identity sources' values: from the cache, or by
    /// invoking it.
    async fn authorize(
        &self,
        identity: &str,
        method_arn: &MethodArn,
        request: &RestRequest<'_>,
    ) -> Result<Authorization, GatewayError> {
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
            AUTHORIZER_FAILURE
        };
        let event = serde_json::to_value(RestEvent::authorizer(request, method_arn.as_str()))
            .map_err(|e| failure(e.to_string()))?;
        self.authorizer_calls
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let output = match self.invoke(&self.config.authorizer_function, &event).await {
            Ok(Invocation::Ok(output)) => output,
            Ok(Invocation::FunctionError(message)) if message == "Unauthorized" => {
                return Err(UNAUTHORIZED);
            }
            Ok(Invocation::FunctionError(message)) => return Err(failure(message)),
            Err(e) => return Err(failure(e.to_string())),
        };
        let authorization = parse_authorizer_output(&output, now).map_err(&failure)?;
        // API Gateway reads the whole policy when the authorizer answers; one it cannot use is
        // a 500, and is not cached.
        reference::evaluate(&authorization.policy, INVOKE_ACTION, method_arn.as_str())
            .map_err(|why| failure(format!("policyDocument: {why}")))?;
        if !ttl.is_zero()
            && let Ok(mut cache) = self.cache.lock()
        {
            cache.insert(identity.to_owned(), authorization.clone());
        }
        Ok(authorization)
    }
}

/// API Gateway's message when the returned `policy` does not allow `method_arn`, read by the
/// reference evaluator; `None` when it allows it.
fn refusal(policy: &Value, method_arn: &str) -> Result<Option<&'static str>, GatewayError> {
    match reference::evaluate(policy, INVOKE_ACTION, method_arn) {
        Ok(Verdict::Allow) => Ok(None),
        Ok(Verdict::ExplicitDeny) => Ok(Some(EXPLICIT_DENY)),
        Ok(Verdict::ImplicitDeny) => Ok(Some(NO_ALLOW)),
        // Checked when the authorizer answered; fails closed all the same.
        Err(why) => {
            log(&format!("authorizer failure: returned policy: {why}"));
            Err(AUTHORIZER_FAILURE)
        }
    }
}

fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Checks an authorizer's output as API Gateway does: a principal, a policy document with
/// statements, and a context of plain values only.
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
    // A policy document holds a list of one or more statements:
    // https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html
    // and "Arrays can take one or more values" in
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
    match policy.get("Statement") {
        Some(Value::Object(_)) => {}
        Some(Value::Array(list)) if !list.is_empty() => {}
        Some(Value::Array(_)) => return Err("policyDocument has no statement".into()),
        _ => return Err("policyDocument has no `Statement` list".into()),
    }
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
        policy: Arc::new(policy.clone()),
        context,
    })
}

/// A Lambda proxy response (`statusCode`, `headers`, `multiValueHeaders`, `body`,
/// `isBase64Encoded`) as the HTTP response it describes.
fn proxy_response(response: &Value) -> Option<GatewayResponse> {
    let status = response
        .get("statusCode")
        .and_then(Value::as_u64)
        .and_then(|s| u16::try_from(s).ok())?;
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
    Some(GatewayResponse {
        status,
        headers,
        body,
    })
}

/// The first value of header `name`, whatever its case.
fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

pub use http::serve;

/// Asks the local gateway serving `api_url` (its URL with the stage) to empty its authorizer
/// cache; returns how many results it held.
pub async fn flush_cache(api_url: &str) -> anyhow::Result<usize> {
    let mut url = reqwest::Url::parse(api_url)
        .map_err(|e| anyhow::anyhow!("the local API's URL `{api_url}`: {e}"))?;
    url.set_path(CACHE_PATH);
    url.set_query(None);
    // reqwest's TLS needs a crypto provider installed even for plain HTTP.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?
        .delete(url.clone())
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!("flushing the local gateway's authorizer cache at {url}: {e}")
        })?;
    let status = response.status();
    let body: Value = response
        .bytes()
        .await
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    match body.get("flushed").and_then(Value::as_u64) {
        Some(n) if status.is_success() => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => anyhow::bail!(
            "flushing the local gateway's authorizer cache at {url}: HTTP {status}, {body}: is the gateway at {api_url} a groupgate local gateway?"
        ),
    }
}
