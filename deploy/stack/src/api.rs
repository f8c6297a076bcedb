//! The API: an OpenAPI 3.0 document (JSON or YAML), the format API Gateway imports, read into
//! the operations the stack deploys, the local gateway serves and the policy toolbox reasons
//! about. A document API Gateway would refuse, or one groupgate cannot honour, is refused here,
//! naming the file, the JSON pointer of what is wrong and why, before anything is written.
//!
//! What is read of it:
//! - `paths`: each path template and its operations (`get`, `post`, ..., and API Gateway's
//!   `x-amazon-apigateway-any-method`);
//! - `security` (the operation's, else the document's): `[]` is a public operation, with no
//!   authorizer, as OpenAPI means it; any other requirement puts the operation behind the
//!   groupgate authorizer (so does no `security` at all: access control fails closed);
//! - `x-amazon-apigateway-integration`, API Gateway's own extension: `aws_proxy` to a Lambda
//!   function, `http_proxy` to a URL, with `requestParameters`; an operation without it goes to
//!   the product's backend function.
//!
//! https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration.html
//! https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-known-issues.html

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use groupgate_shared::context::{
    CONTEXT_KEYS, MAPPED_CONTEXT_VARIABLES as CONTEXT_VARIABLES, OPTIONAL_CONTEXT_KEYS,
};
use serde_json::{Map, Value};

/// The settings' default document, relative to the checkout.
pub const DEFAULT_API: &str = "api/petstore.yaml";

/// The variable that points the tool, the tests and `scripts/dev.sh` at another document.
pub const API_VARIABLE: &str = "GROUPGATE_API";

/// The methods an OpenAPI path item holds, and API Gateway's any-method extension.
const METHODS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("put", "PUT"),
    ("post", "POST"),
    ("delete", "DELETE"),
    ("options", "OPTIONS"),
    ("head", "HEAD"),
    ("patch", "PATCH"),
    ("x-amazon-apigateway-any-method", "ANY"),
];

/// The integration fields groupgate honours; any other changes what API Gateway does in a way
/// the local stack would not show, so it is refused.
const INTEGRATION_FIELDS: &[&str] = &[
    "type",
    "uri",
    "httpMethod",
    "requestParameters",
    "timeoutInMillis",
];

/// The API, as read from its document.
#[derive(Debug, Clone, PartialEq)]
pub struct Api {
    /// Where it was read from, for messages.
    pub file: PathBuf,
    /// `info.title`: names the API in the stack's descriptions.
    pub title: String,
    /// `info.description`, else a sentence made from the title.
    pub description: String,
    /// In the document's order.
    pub operations: Vec<Operation>,
}

/// One method of one resource path.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    /// Upper case (`GET`), or `ANY`.
    pub method: String,
    /// The resource path, with `{name}` path parameters (`/pets/{id}`).
    pub path: String,
    /// `security: []`: no authorizer.
    pub public: bool,
    pub integration: Integration,
}

/// Where API Gateway sends an operation's requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Integration {
    /// The product's backend function (no `x-amazon-apigateway-integration`).
    Backend,
    /// `aws_proxy` to another Lambda function.
    Lambda {
        /// The invocation URI as written (`arn:aws:apigateway:{region}:lambda:path/...`).
        uri: String,
        /// The function's ARN, taken from the URI.
        function_arn: String,
        request_parameters: Vec<(String, String)>,
        timeout_ms: Option<u32>,
    },
    /// `http_proxy` to a URL.
    HttpProxy {
        /// The method sent upstream: one of the HTTP methods, or `ANY` (the request's own).
        method: String,
        /// `http://` or `https://`, with `{name}` placeholders that `requestParameters` fill.
        uri: String,
        /// (`integration.request.{header|querystring|path}.NAME`, source), in the document's order.
        request_parameters: Vec<(String, String)>,
        timeout_ms: Option<u32>,
    },
}

impl Integration {
    /// The request parameters it maps.
    pub fn request_parameters(&self) -> &[(String, String)] {
        match self {
            Integration::Backend => &[],
            Integration::Lambda {
                request_parameters, ..
            }
            | Integration::HttpProxy {
                request_parameters, ..
            } => request_parameters,
        }
    }
}

/// The template's logical id of the API Gateway resource of `path` (`/pets/{id}`: `ApiPetsId`).
pub(crate) fn resource_id(path: &str) -> String {
    format!("Api{}", crate::construct::id_fragment(path))
}

/// The template's logical id of the method `method` of `path` (`ApiPetsIdGet`; `ApiPetsOptions`
/// for the CORS preflight).
pub(crate) fn method_id(path: &str, method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut chars = lower.chars();
    let capitalized = chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default();
    format!("{}{capitalized}", resource_id(path))
}

/// The app stack's other logical ids that [`resource_id`] and [`method_id`] could also make.
const OTHER_API_IDS: &[&str] = &[
    "Api5xxAlarm",
    "ApiAccessLogGroup",
    "ApiAuthorizer",
    "ApiRefusalsAlarm",
    "ApiStage",
];

/// A document refused: the file, the JSON pointer (RFC 6901) of what is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("API document `{}`: {}: {message}", file.display(), if pointer.is_empty() { "(the document)" } else { pointer })]
pub struct ApiError {
    pub file: PathBuf,
    pub pointer: String,
    pub message: String,
}

impl Api {
    /// Reads and checks the document at `file` (`.json`, else YAML).
    pub fn load(file: &Path) -> Result<Self, ApiError> {
        let text = std::fs::read_to_string(file).map_err(|e| ApiError {
            file: file.to_owned(),
            pointer: String::new(),
            message: format!("cannot read it: {e}"),
        })?;
        Self::parse(file, &text)
    }

    /// Checks a document's text; `file` names it in errors and says its format.
    pub fn parse(file: &Path, text: &str) -> Result<Self, ApiError> {
        let fail = |message: String| ApiError {
            file: file.to_owned(),
            pointer: String::new(),
            message,
        };
        let is_json = file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        // Both formats through one reader that refuses a key written twice (YAML's own readers
        // keep the last), so an operation or a `security: []` cannot hide behind a repeat.
        let document = if is_json {
            groupgate_shared::json::parse_unique(text)
                .map_err(|e| fail(format!("not JSON: {e}")))?
        } else {
            serde_yaml_ng::from_str::<groupgate_shared::json::Unique>(text)
                .map(|u| u.0)
                .map_err(|e| fail(format!("not YAML: {e}")))?
        };
        Reader { file }.api(&document)
    }

    /// The operation serving `method` on `path` (a path after the stage), as API Gateway
    /// matches it: a literal segment before a `{name}` one, a method before `ANY`.
    pub fn route_of(&self, method: &str, path: &str) -> Option<&Operation> {
        let matching = |o: &&Operation| {
            groupgate_shared::route::path_parameters(&o.path, path).is_some()
                && (o.method == method || o.method == "ANY")
        };
        // API Gateway prefers `/pets/mine` to `/pets/{id}`, and a declared method to `ANY`.
        self.operations.iter().filter(matching).min_by_key(|o| {
            (
                groupgate_shared::route::precedence(&o.path),
                o.method == "ANY",
            )
        })
    }
}

/// Reads a parsed document, keeping the file for errors.
struct Reader<'f> {
    file: &'f Path,
}

/// A JSON pointer's reference token (RFC 6901: `~` as `~0`, `/` as `~1`).
pub(crate) fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl Reader<'_> {
    fn error(&self, pointer: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            file: self.file.to_owned(),
            pointer: pointer.to_owned(),
            message: message.into(),
        }
    }

    fn object<'v>(
        &self,
        value: &'v Value,
        pointer: &str,
    ) -> Result<&'v Map<String, Value>, ApiError> {
        value
            .as_object()
            .ok_or_else(|| self.error(pointer, "must be an object"))
    }

    fn string<'v>(&self, value: &'v Value, pointer: &str) -> Result<&'v str, ApiError> {
        value
            .as_str()
            .ok_or_else(|| self.error(pointer, "must be a string"))
    }

    fn api(&self, document: &Value) -> Result<Api, ApiError> {
        let root = self.object(document, "")?;
        let version = root.get("openapi").ok_or_else(|| {
            self.error(
                "/openapi",
                "missing: an OpenAPI 3.0 document starts with `openapi: 3.0.x`",
            )
        })?;
        let version = self.string(version, "/openapi")?;
        // API Gateway's REST API import takes OpenAPI 2.0 and 3.0, not 3.1:
        // https://docs.aws.amazon.com/apigateway/latest/developerguide/import-edge-optimized-api.html
        if !version.starts_with("3.0.") {
            return Err(self.error(
                "/openapi",
                format!(
                    "`{version}`: groupgate reads OpenAPI 3.0 (`3.0.x`), as API Gateway imports it"
                ),
            ));
        }
        let info = self.object(root.get("info").unwrap_or(&Value::Null), "/info")?;
        let title = self.string(info.get("title").unwrap_or(&Value::Null), "/info/title")?;
        let description = match info.get("description") {
            Some(d) => self.string(d, "/info/description")?.to_owned(),
            None => format!("The {title} API, authorized by Cognito groups"),
        };
        let schemes = self.security_schemes(root)?;
        let default_security = match root.get("security") {
            Some(s) => self.public(s, "/security", &schemes)?,
            None => false,
        };
        let paths = self.object(root.get("paths").unwrap_or(&Value::Null), "/paths")?;
        if paths.is_empty() {
            return Err(self.error("/paths", "the API has no paths"));
        }
        let mut operations = Vec::new();
        for (path, item) in paths {
            let pointer = format!("/paths/{}", token(path));
            let parameters = self.path_template(path, &pointer)?;
            let item = self.object(item, &pointer)?;
            for (key, value) in item {
                let at = format!("{pointer}/{}", token(key));
                let Some((_, method)) = METHODS.iter().find(|(k, _)| k == key) else {
                    match key.as_str() {
                        "summary" | "description" | "parameters" | "servers" => continue,
                        k if k.starts_with("x-") => continue,
                        "trace" => return Err(self.error(&at, "API Gateway has no TRACE method")),
                        "$ref" => return Err(self.error(&at, "a path item by `$ref` is not supported: write the operations in the document")),
                        _ => return Err(self.error(&at, format!("`{key}` is not a field of an OpenAPI path item"))),
                    }
                };
                let operation = self.object(value, &at)?;
                let public = match operation.get("security") {
                    Some(s) => self.public(s, &format!("{at}/security"), &schemes)?,
                    None => default_security,
                };
                let integration = match operation.get("x-amazon-apigateway-integration") {
                    Some(i) => self.integration(
                        i,
                        &format!("{at}/x-amazon-apigateway-integration"),
                        &parameters,
                    )?,
                    None => Integration::Backend,
                };
                self.no_authorizer_context(public, &integration, &at)?;
                operations.push(Operation {
                    method: (*method).to_owned(),
                    path: path.clone(),
                    public,
                    integration,
                });
            }
        }
        self.sibling_parameters(paths.keys())?;
        self.logical_ids(&operations)?;
        Ok(Api {
            file: self.file.to_owned(),
            title: title.to_owned(),
            description,
            operations,
        })
    }

    /// Each path part and method becomes a template resource named from its path with only
    /// letters and digits kept (`/a-b` and `/a/b` are both `ApiAB`): two that would share a name
    /// are refused here, where the pointer can say which, rather than at synth.
    fn logical_ids(&self, operations: &[Operation]) -> Result<(), ApiError> {
        let mut named: std::collections::BTreeMap<String, String> = OTHER_API_IDS
            .iter()
            .map(|id| ((*id).to_owned(), format!("the stack's own `{id}`")))
            .collect();
        let mut claim = |id: String, what: String, path: &str| -> Result<(), ApiError> {
            match named.get(&id) {
                Some(other) if *other != what => Err(self.error(
                    &format!("/paths/{}", token(path)),
                    format!("{what} and {other} would both be `{id}` in the template: rename one"),
                )),
                _ => {
                    named.insert(id, what);
                    Ok(())
                }
            }
        };
        for operation in operations {
            let path = &operation.path;
            let mut prefix = String::new();
            for part in path.split('/').filter(|p| !p.is_empty()) {
                prefix.push('/');
                prefix.push_str(part);
                claim(
                    resource_id(&prefix),
                    format!("the resource `{prefix}`"),
                    path,
                )?;
            }
            let method = &operation.method;
            claim(method_id(path, method), format!("`{method} {path}`"), path)?;
            // The CORS preflight, when the settings ask for one.
            claim(
                method_id(path, "OPTIONS"),
                format!("`OPTIONS {path}`"),
                path,
            )?;
        }
        Ok(())
    }

    /// A public operation has no authorizer, so nothing of its context to map.
    fn no_authorizer_context(
        &self,
        public: bool,
        integration: &Integration,
        at: &str,
    ) -> Result<(), ApiError> {
        let mapped = integration
            .request_parameters()
            .iter()
            .find(|(_, source)| source.starts_with("context.authorizer."));
        match mapped {
            Some((target, source)) if public => Err(self.error(
                &format!(
                    "{at}/x-amazon-apigateway-integration/requestParameters/{}",
                    token(target)
                ),
                format!("`{source}`: the operation is public (`security: []`), so no authorizer runs and it has no context"),
            )),
            _ => Ok(()),
        }
    }

    fn security_schemes(&self, root: &Map<String, Value>) -> Result<BTreeSet<String>, ApiError> {
        let Some(components) = root.get("components") else {
            return Ok(BTreeSet::new());
        };
        let components = self.object(components, "/components")?;
        match components.get("securitySchemes") {
            None => Ok(BTreeSet::new()),
            Some(s) => Ok(self
                .object(s, "/components/securitySchemes")?
                .keys()
                .cloned()
                .collect()),
        }
    }

    /// Whether a `security` value makes the operation public (`[]`). Any other requirement is
    /// the authorizer's; an optional one (`{}` in the list) cannot be honoured, since a method
    /// either has the authorizer or has none.
    fn public(
        &self,
        security: &Value,
        pointer: &str,
        schemes: &BTreeSet<String>,
    ) -> Result<bool, ApiError> {
        let requirements = security
            .as_array()
            .ok_or_else(|| self.error(pointer, "must be a list of security requirements"))?;
        for (i, requirement) in requirements.iter().enumerate() {
            let at = format!("{pointer}/{i}");
            let requirement = self.object(requirement, &at)?;
            if requirement.is_empty() {
                return Err(self.error(&at, "an optional requirement (`{}`) cannot be honoured: an operation is either behind the authorizer or public (`security: []`)"));
            }
            for (name, scopes) in requirement {
                let at = format!("{at}/{}", token(name));
                if !schemes.contains(name) {
                    return Err(self.error(
                        &at,
                        format!("`{name}` is not in /components/securitySchemes"),
                    ));
                }
                if scopes.as_array().is_none_or(|s| !s.is_empty()) {
                    return Err(self.error(&at, "scopes cannot be honoured: groupgate authorizes by the caller's groups and their policies; give `[]`"));
                }
            }
        }
        Ok(requirements.is_empty())
    }

    /// Checks a path template as API Gateway accepts resource paths, and returns its
    /// parameters' names.
    fn path_template(&self, path: &str, pointer: &str) -> Result<Vec<String>, ApiError> {
        if !path.starts_with('/') {
            return Err(self.error(pointer, "a path starts with `/`"));
        }
        if path == "/" {
            return Ok(Vec::new());
        }
        // "The /ping and /sping paths are reserved for the service health check", same page.
        if ["ping", "sping"].contains(&path[1..].split('/').next().unwrap_or_default()) {
            return Err(self.error(
                pointer,
                "`/ping` and `/sping` are reserved by API Gateway for its health check",
            ));
        }
        let mut names = Vec::new();
        for part in path[1..].split('/') {
            if part.is_empty() {
                return Err(self.error(pointer, "a path has no empty segment and no trailing `/`"));
            }
            if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if name.ends_with('+') {
                    return Err(self.error(
                        pointer,
                        format!(
                            "`{part}`: greedy path variables are not supported yet; list the paths"
                        ),
                    ));
                }
                let ok = !name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
                if !ok {
                    return Err(self.error(
                        pointer,
                        format!(
                            "`{part}`: a path parameter's name is letters, digits, `_`, `-` or `.`"
                        ),
                    ));
                }
                if names.iter().any(|n| n == name) {
                    return Err(self.error(pointer, format!("`{part}` appears twice in the path")));
                }
                names.push(name.to_owned());
            } else if !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._,:".contains(&b))
            {
                // "Path segments can only contain alphanumeric characters, hyphens, periods,
                // commas, colons, and curly braces" (underscores too), and a path parameter is a
                // whole segment: the REST API notes of
                // https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-known-issues.html
                return Err(self.error(
                    pointer,
                    format!("`{part}`: a path segment is letters, digits and `-._,:`, or a whole `{{name}}`"),
                ));
            }
        }
        Ok(names)
    }

    /// API Gateway has one resource per path, so two path templates that differ only in a
    /// parameter's name (`/pets/{id}` and `/pets/{petId}`) cannot both be: "A sibling of this
    /// resource already has a variable path part".
    fn sibling_parameters<'p>(
        &self,
        paths: impl Iterator<Item = &'p String>,
    ) -> Result<(), ApiError> {
        let mut seen: Vec<(String, &str)> = Vec::new();
        for path in paths {
            let mut prefix = String::new();
            for part in path.split('/').filter(|p| !p.is_empty()) {
                if part.starts_with('{') {
                    if let Some((_, other)) = seen.iter().find(|(p, o)| *p == prefix && *o != part)
                    {
                        return Err(self.error(
                            &format!("/paths/{}", token(path)),
                            format!("`{part}` beside `{other}` under `{}`: a resource has one path parameter child; use one name", if prefix.is_empty() { "/" } else { &prefix }),
                        ));
                    }
                    seen.push((prefix.clone(), part));
                }
                prefix.push('/');
                prefix.push_str(part);
            }
        }
        Ok(())
    }

    fn integration(
        &self,
        value: &Value,
        pointer: &str,
        parameters: &[String],
    ) -> Result<Integration, ApiError> {
        let fields = self.object(value, pointer)?;
        if let Some(field) = fields
            .keys()
            .find(|k| !INTEGRATION_FIELDS.contains(&k.as_str()))
        {
            return Err(self.error(
                &format!("{pointer}/{}", token(field)),
                format!(
                    "groupgate does not support `{field}` (it honours {})",
                    INTEGRATION_FIELDS.join(", ")
                ),
            ));
        }
        let field = |name: &str| -> Result<Option<&str>, ApiError> {
            fields
                .get(name)
                .map(|v| self.string(v, &format!("{pointer}/{name}")))
                .transpose()
        };
        let kind =
            field("type")?.ok_or_else(|| self.error(&format!("{pointer}/type"), "missing"))?;
        let uri = field("uri")?.ok_or_else(|| self.error(&format!("{pointer}/uri"), "missing"))?;
        let http_method = field("httpMethod")?;
        let request_parameters =
            self.request_parameters(fields.get("requestParameters"), pointer, parameters)?;
        let timeout_ms = self.timeout(fields.get("timeoutInMillis"), pointer)?;
        match kind.to_ascii_lowercase().as_str() {
            "aws_proxy" => {
                // Lambda proxy integrations are always POSTed to Lambda's Invoke API.
                if http_method.is_some_and(|m| m != "POST") {
                    return Err(self.error(
                        &format!("{pointer}/httpMethod"),
                        "a Lambda (`aws_proxy`) integration is invoked with POST",
                    ));
                }
                let function_arn = lambda_function_of(uri).ok_or_else(|| {
                    self.error(&format!("{pointer}/uri"), "must be a Lambda invocation URI: `arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function ARN}/invocations`")
                })?;
                Ok(Integration::Lambda {
                    uri: uri.to_owned(),
                    function_arn,
                    request_parameters,
                    timeout_ms,
                })
            }
            "http_proxy" => {
                let method = http_method.ok_or_else(|| {
                    self.error(
                        &format!("{pointer}/httpMethod"),
                        "missing: the method sent upstream, or `ANY` for the request's own",
                    )
                })?;
                let method = method.to_ascii_uppercase();
                if !METHODS.iter().any(|(_, m)| *m == method) {
                    return Err(self.error(
                        &format!("{pointer}/httpMethod"),
                        format!("`{method}` is not an HTTP method API Gateway sends"),
                    ));
                }
                self.http_uri(uri, &format!("{pointer}/uri"), &request_parameters)?;
                Ok(Integration::HttpProxy {
                    method,
                    uri: uri.to_owned(),
                    request_parameters,
                    timeout_ms,
                })
            }
            other => Err(self.error(
                &format!("{pointer}/type"),
                format!("`{other}`: groupgate supports `aws_proxy` and `http_proxy` integrations"),
            )),
        }
    }

    /// `timeoutInMillis`: "50 milliseconds - 29 seconds for all integration types",
    /// https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html
    fn timeout(&self, value: Option<&Value>, pointer: &str) -> Result<Option<u32>, ApiError> {
        let Some(value) = value else {
            return Ok(None);
        };
        value
            .as_u64()
            .filter(|ms| (50..=29_000).contains(ms))
            .and_then(|ms| u32::try_from(ms).ok())
            .map(Some)
            .ok_or_else(|| {
                self.error(
                    &format!("{pointer}/timeoutInMillis"),
                    "must be a whole number of milliseconds from 50 to 29000",
                )
            })
    }

    /// An `http_proxy` URI: absolute http(s), each `{name}` filled by an
    /// `integration.request.path.name` mapping, as API Gateway requires.
    fn http_uri(
        &self,
        uri: &str,
        pointer: &str,
        mappings: &[(String, String)],
    ) -> Result<(), ApiError> {
        let rest = uri
            .strip_prefix("https://")
            .or_else(|| uri.strip_prefix("http://"))
            .filter(|r| !r.is_empty() && !r.starts_with('/'))
            .ok_or_else(|| {
                self.error(
                    pointer,
                    format!("`{uri}` must be an absolute `http://` or `https://` URL"),
                )
            })?;
        let mut rest = rest;
        while let Some(open) = rest.find('{') {
            let close = rest[open..]
                .find('}')
                .ok_or_else(|| self.error(pointer, "an unclosed `{`"))?;
            let name = &rest[open + 1..open + close];
            let target = format!("integration.request.path.{name}");
            if !mappings.iter().any(|(k, _)| *k == target) {
                return Err(self.error(
                    pointer,
                    format!("`{{{name}}}` needs a request parameter `{target}`"),
                ));
            }
            rest = &rest[open + close + 1..];
        }
        Ok(())
    }

    /// `requestParameters`: each target an integration request header, query string or path
    /// parameter, each source a method request parameter of this route, the authorizer's
    /// context, a context variable or a static value.
    /// https://docs.aws.amazon.com/apigateway/latest/developerguide/request-response-data-mappings.html
    fn request_parameters(
        &self,
        value: Option<&Value>,
        pointer: &str,
        parameters: &[String],
    ) -> Result<Vec<(String, String)>, ApiError> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let pointer = format!("{pointer}/requestParameters");
        let mut mappings = Vec::new();
        for (target, source) in self.object(value, &pointer)? {
            let at = format!("{pointer}/{}", token(target));
            let source = self.string(source, &at)?;
            let name = ["header", "querystring", "path"]
                .iter()
                .find_map(|kind| target.strip_prefix(&format!("integration.request.{kind}.")))
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    self.error(
                        &at,
                        "a target is `integration.request.{header|querystring|path}.NAME`",
                    )
                })?;
            let _ = name;
            self.source(source, &at, parameters)?;
            mappings.push((target.clone(), source.to_owned()));
        }
        Ok(mappings)
    }

    fn source(&self, source: &str, at: &str, parameters: &[String]) -> Result<(), ApiError> {
        if source.len() >= 2 && source.starts_with('\'') && source.ends_with('\'') {
            return Ok(());
        }
        if let Some(key) = source.strip_prefix("context.authorizer.") {
            // AWS documents the mapping, not what it does when the key is absent: a client's
            // own header of that name could reach the service. Only keys every caller has.
            if OPTIONAL_CONTEXT_KEYS.contains(&key) {
                return Err(self.error(
                    at,
                    format!("`{source}`: the authorizer sets `{key}` for some callers only, so the service could receive nothing or the client's own header; map a key every caller has ({})", CONTEXT_KEYS.iter().filter(|k| !OPTIONAL_CONTEXT_KEYS.contains(k)).copied().collect::<Vec<_>>().join(", ")),
                ));
            }
            if CONTEXT_KEYS.contains(&key) {
                return Ok(());
            }
            return Err(self.error(
                at,
                format!(
                    "`{source}`: the authorizer's context has {}",
                    CONTEXT_KEYS.join(", ")
                ),
            ));
        }
        if let Some(name) = source.strip_prefix("method.request.path.") {
            if parameters.iter().any(|p| p == name) {
                return Ok(());
            }
            return Err(self.error(
                at,
                format!("`{source}`: the path has no parameter `{name}`"),
            ));
        }
        for kind in ["header", "querystring"] {
            if source
                .strip_prefix(&format!("method.request.{kind}."))
                .is_some_and(|n| !n.is_empty())
            {
                return Ok(());
            }
        }
        if let Some(variable) = source.strip_prefix("context.")
            && CONTEXT_VARIABLES.contains(&variable)
        {
            return Ok(());
        }
        Err(self.error(
            at,
            format!("`{source}`: a source is `method.request.{{path|header|querystring}}.NAME`, `context.authorizer.KEY`, one of `context.{}`, or a static `'value'`", CONTEXT_VARIABLES.join("`, `context.")),
        ))
    }
}

/// The function ARN in a Lambda invocation URI,
/// `arn:{partition}:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations`.
fn lambda_function_of(uri: &str) -> Option<String> {
    let (head, rest) = uri.split_once(":lambda:path/2015-03-31/functions/")?;
    let arn = rest.strip_suffix("/invocations")?;
    let head_ok = head.starts_with("arn:") && head.contains(":apigateway:");
    let parts: Vec<&str> = arn.split(':').collect();
    let arn_ok = matches!(parts.as_slice(), ["arn", _, "lambda", region, account, "function", name, ..]
        if !region.is_empty() && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
        && parts.len() <= 8;
    (head_ok && arn_ok).then(|| arn.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
openapi: 3.0.3
info: { title: clinic }
components:
  securitySchemes:
    groupgate: { type: apiKey, in: header, name: Authorization }
security: [ { groupgate: [] } ]
paths:
  /visits:
    get: {}
    post: {}
  /visits/{visitId}:
    get:
      x-amazon-apigateway-integration:
        type: http_proxy
        httpMethod: GET
        uri: http://127.0.0.1:8080/visits/{id}
        requestParameters:
          integration.request.path.id: method.request.path.visitId
          integration.request.header.X-User-Sub: context.authorizer.sub
  /health:
    get:
      security: []
"#;

    fn parse(text: &str) -> Result<Api, ApiError> {
        Api::parse(Path::new("api/clinic.yaml"), text)
    }

    #[test]
    fn a_document_reads_into_operations_with_their_security_and_integration() {
        let api = parse(GOOD).unwrap();
        let routes: Vec<_> = api
            .operations
            .iter()
            .map(|o| (o.method.as_str(), o.path.as_str(), o.public))
            .collect();
        assert_eq!(
            routes,
            [
                ("GET", "/visits", false),
                ("POST", "/visits", false),
                ("GET", "/visits/{visitId}", false),
                ("GET", "/health", true),
            ]
        );
        assert_eq!(
            api.description,
            "The clinic API, authorized by Cognito groups"
        );
        let Integration::HttpProxy {
            request_parameters, ..
        } = &api.operations[2].integration
        else {
            panic!("{:?}", api.operations[2].integration)
        };
        assert_eq!(request_parameters.len(), 2);
        assert_eq!(api.operations[0].integration, Integration::Backend);
    }

    #[test]
    fn routes_match_as_api_gateway_matches_them() {
        let text = GOOD.replace(
            "  /health:",
            "  /visits/mine:\n    x-amazon-apigateway-any-method: {}\n  /health:",
        );
        let api = parse(&text).unwrap();
        let route = |m, p| {
            api.route_of(m, p)
                .map(|o| (o.method.as_str(), o.path.as_str()))
        };
        assert_eq!(
            route("GET", "/visits/7"),
            Some(("GET", "/visits/{visitId}"))
        );
        assert_eq!(route("GET", "/visits/mine"), Some(("ANY", "/visits/mine")));
        assert_eq!(
            route("DELETE", "/visits/mine"),
            Some(("ANY", "/visits/mine"))
        );
        assert_eq!(route("DELETE", "/visits/7"), None);
        assert_eq!(route("GET", "/visits/"), None);
    }

    #[test]
    fn with_no_security_anywhere_every_operation_is_behind_the_authorizer() {
        let api = parse("openapi: 3.0.0\ninfo: {title: t}\npaths:\n  /a:\n    get: {}\n").unwrap();
        assert!(!api.operations[0].public);
    }

    /// Each refusal names the file, the pointer and the problem.
    #[test]
    fn a_document_api_gateway_would_refuse_or_groupgate_cannot_honour_is_refused_where_it_is_wrong()
    {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "openapi: 3.0.3",
                "openapi: 3.1.0",
                "/openapi",
                "OpenAPI 3.0",
            ),
            ("  /health:", "  /health/:", "/paths/~1health~1", "trailing"),
            (
                "  /health:",
                "  /he alth:",
                "/paths/~1he alth",
                "path segment",
            ),
            (
                "  /health:",
                "  /files/{path+}:",
                "/paths/~1files~1{path+}",
                "greedy",
            ),
            (
                "  /health:",
                "  /visits/{id}:",
                "/paths/~1visits~1{id}",
                "one path parameter child",
            ),
            (
                "type: http_proxy",
                "type: mock",
                "/paths/~1visits~1{visitId}/get/x-amazon-apigateway-integration/type",
                "`mock`",
            ),
            (
                "type: http_proxy",
                "type: http_proxy\n        requestTemplates: {}",
                "/paths/~1visits~1{visitId}/get/x-amazon-apigateway-integration/requestTemplates",
                "does not support",
            ),
            (
                "uri: http://127.0.0.1:8080/visits/{id}",
                "uri: /visits/{id}",
                "/paths/~1visits~1{visitId}/get/x-amazon-apigateway-integration/uri",
                "absolute",
            ),
            (
                "uri: http://127.0.0.1:8080/visits/{id}",
                "uri: http://127.0.0.1:8080/visits/{vid}",
                "/paths/~1visits~1{visitId}/get/x-amazon-apigateway-integration/uri",
                "integration.request.path.vid",
            ),
            (
                "method.request.path.visitId",
                "method.request.path.petId",
                "/paths/~1visits~1{visitId}/get/x-amazon-apigateway-integration/requestParameters/integration.request.path.id",
                "no parameter `petId`",
            ),
            (
                "context.authorizer.sub",
                "context.authorizer.email",
                "/paths/~1visits~1{visitId}/get/x-amazon-apigateway-integration/requestParameters/integration.request.header.X-User-Sub",
                "authorizer's context has",
            ),
            (
                "integration.request.header.X-User-Sub",
                "integration.response.header.X-User-Sub",
                "/paths/~1visits~1{visitId}/get/x-amazon-apigateway-integration/requestParameters/integration.response.header.X-User-Sub",
                "a target is",
            ),
            (
                "      security: []",
                "      security: [{}]",
                "/paths/~1health/get/security/0",
                "optional",
            ),
            (
                "      security: []",
                "      security: [{oauth: []}]",
                "/paths/~1health/get/security/0/oauth",
                "not in /components/securitySchemes",
            ),
            (
                "security: [ { groupgate: [] } ]",
                "security: [ { groupgate: [pets.read] } ]",
                "/security/0/groupgate",
                "scopes",
            ),
            (
                "    post: {}",
                "    post: {}\n    trace: {}",
                "/paths/~1visits/trace",
                "TRACE",
            ),
            (
                "  /health:",
                "  /visits-visitId:",
                "/paths/~1visits-visitId",
                "would both be `ApiVisitsVisitId`",
            ),
            ("  /health:", "  /stage:", "/paths/~1stage", "`ApiStage`"),
            (
                "context.authorizer.sub",
                "context.authorizer.role_arn",
                "/paths/~1visits~1{visitId}/get/x-amazon-apigateway-integration/requestParameters/integration.request.header.X-User-Sub",
                "for some callers only",
            ),
            (
                "      security: []",
                "      security: []\n      x-amazon-apigateway-integration: {type: http_proxy, httpMethod: GET, uri: 'http://h/x', requestParameters: {integration.request.header.X-Sub: context.authorizer.sub}}",
                "/paths/~1health/get/x-amazon-apigateway-integration/requestParameters/integration.request.header.X-Sub",
                "no authorizer runs",
            ),
            ("  /health:", "  /ping:", "/paths/~1ping", "reserved"),
            (
                "  /health:",
                "  /he~lth:",
                "/paths/~1he~0lth",
                "path segment",
            ),
            (
                "type: http_proxy",
                "type: http_proxy\n        timeoutInMillis: 30000",
                "/paths/~1visits~1{visitId}/get/x-amazon-apigateway-integration/timeoutInMillis",
                "50 to 29000",
            ),
            (
                "    post: {}",
                "    post: {}\n    get: {}",
                "",
                "duplicate key `get`",
            ),
        ];
        for (from, to, pointer, needle) in cases {
            let text = GOOD.replacen(from, to, 1);
            assert_ne!(text, GOOD, "{from}");
            let err = parse(&text).unwrap_err();
            assert_eq!(err.pointer, *pointer, "{to}: {err}");
            let shown = err.to_string();
            assert!(
                shown.starts_with("API document `api/clinic.yaml`"),
                "{shown}"
            );
            assert!(shown.contains(needle), "{to}: {shown}");
        }
    }

    #[test]
    fn json_documents_are_read_strictly_too() {
        let json = r#"{"openapi":"3.0.1","info":{"title":"t"},"paths":{"/a":{"get":{},"get":{}}}}"#;
        let err = Api::parse(Path::new("a.json"), json).unwrap_err();
        assert!(err.message.contains("duplicate key `get`"), "{err}");
        let ok = r#"{"openapi":"3.0.1","info":{"title":"t"},"paths":{"/a":{"get":{}}}}"#;
        assert_eq!(
            Api::parse(Path::new("a.json"), ok)
                .unwrap()
                .operations
                .len(),
            1
        );
    }

    #[test]
    fn a_lambda_integration_names_its_function() {
        let uri = "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:123456789012:function:visits/invocations";
        assert_eq!(
            lambda_function_of(uri).as_deref(),
            Some("arn:aws:lambda:eu-west-1:123456789012:function:visits")
        );
        for bad in [
            "arn:aws:lambda:eu-west-1:123456789012:function:visits",
            "arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/arn:aws:lambda:eu-west-1:1234:function:v/invocations",
        ] {
            assert_eq!(lambda_function_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_petstore_document_is_the_petstore() {
        let root = crate::settings::checkout_root();
        let api = Api::load(&root.join(DEFAULT_API)).unwrap();
        let routes: Vec<_> = api
            .operations
            .iter()
            .map(|o| (o.method.as_str(), o.path.as_str()))
            .collect();
        assert_eq!(
            routes,
            [
                ("GET", "/petstore/v1/pets"),
                ("POST", "/petstore/v1/pets"),
                ("GET", "/petstore/v1/pets/{id}"),
                ("GET", "/petstore/v2/pets"),
                ("GET", "/petstore/v2/status"),
                ("GET", "/petstore/v2/identity"),
            ]
        );
        assert!(
            api.operations
                .iter()
                .all(|o| !o.public && o.integration == Integration::Backend)
        );
    }
}
