//! A function's real bootstrap, run as Lambda runs it: a local Lambda Runtime API that hands out
//! the events a test queues and records what the function answers and when, and a TCP proxy
//! that delays every new connection (the TLS handshake to a regional endpoint that loopback
//! does not have) or refuses them all (a dependency that is down).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// What the function did with one event.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// When the runtime was handed the event (its `next` poll was answered).
    pub served: Instant,
    /// When it posted the answer.
    pub answered: Instant,
    /// An error (`/error`) rather than a response.
    pub error: bool,
    pub body: String,
}

impl Outcome {
    /// How long the function took over the event.
    pub fn took(&self) -> Duration {
        self.answered.saturating_duration_since(self.served)
    }
}

#[derive(Default)]
struct State {
    queued: VecDeque<(String, Vec<u8>)>,
    served: HashMap<String, Instant>,
    outcomes: HashMap<String, Outcome>,
    first_poll: Option<Instant>,
    init_error: Option<String>,
    next_id: u64,
    /// `next` polls waiting for an event now.
    polling: usize,
}

/// A local Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`) on a loopback port.
pub struct RuntimeApi {
    address: String,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the runtime API");
        let address = listener.local_addr().expect("a local address").to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let changed = Arc::new(Notify::new());
        let (s, c) = (Arc::clone(&state), Arc::clone(&changed));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (s, c) = (Arc::clone(&s), Arc::clone(&c));
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        handle(request, Arc::clone(&s), Arc::clone(&c))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            address,
            state,
            changed,
        }
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Queues an event; returns its request id.
    pub fn push(&self, event: &serde_json::Value) -> String {
        let mut state = self.state.lock().expect("runtime API state");
        state.next_id += 1;
        let id = format!("req-{}", state.next_id);
        state
            .queued
            .push_back((id.clone(), event.to_string().into_bytes()));
        drop(state);
        self.changed.notify_waiters();
        id
    }

    /// When the function first asked for an event: its init was over.
    pub fn first_poll(&self) -> Option<Instant> {
        self.state.lock().expect("runtime API state").first_poll
    }

    /// How many `next` polls are waiting for an event: how many invocations the function is
    /// ready to take at once.
    pub fn polling(&self) -> usize {
        self.state.lock().expect("runtime API state").polling
    }

    /// What the function reported as an init error, if it did.
    pub fn init_error(&self) -> Option<String> {
        self.state
            .lock()
            .expect("runtime API state")
            .init_error
            .clone()
    }

    /// Waits up to `timeout` for the outcome of event `id`.
    pub async fn outcome(&self, id: &str, timeout: Duration) -> Option<Outcome> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.changed.notified();
            if let Some(outcome) = self
                .state
                .lock()
                .expect("runtime API state")
                .outcomes
                .get(id)
            {
                return Some(outcome.clone());
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }

    /// Queues `event` and waits up to `timeout` for its outcome.
    pub async fn invoke(&self, event: &serde_json::Value, timeout: Duration) -> Option<Outcome> {
        let id = self.push(event);
        self.outcome(&id, timeout).await
    }
}

async fn handle(
    request: Request<Incoming>,
    state: Arc<Mutex<State>>,
    changed: Arc<Notify>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let reply = |status: StatusCode, body: Vec<u8>| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response
    };
    if path == "/2018-06-01/runtime/invocation/next" {
        let _poll = Polling::new(&state);
        loop {
            let waiting = changed.notified();
            {
                let mut state = state.lock().expect("runtime API state");
                state.first_poll.get_or_insert_with(Instant::now);
                if let Some((id, body)) = state.queued.pop_front() {
                    state.served.insert(id.clone(), Instant::now());
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() + 10_000);
                    let mut response = reply(StatusCode::OK, body);
                    let headers = response.headers_mut();
                    // A distinct trace header per event, as Lambda sends one.
                    let n = state.served.len();
                    let trace = format!("Root=1-{n:08x}-{n:024x};Parent={n:016x};Sampled=0");
                    for (name, value) in [
                        ("lambda-runtime-trace-id", trace),
                        ("lambda-runtime-aws-request-id", id),
                        ("lambda-runtime-deadline-ms", deadline.to_string()),
                        (
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:local".to_owned(),
                        ),
                    ] {
                        headers.insert(name, value.parse().expect("a header value"));
                    }
                    return Ok(response);
                }
            }
            waiting.await;
        }
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
    let answered = Instant::now();
    let mut state = state.lock().expect("runtime API state");
    if path == "/2018-06-01/runtime/init/error" {
        state.init_error = Some(body);
    } else if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
        let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
        let served = state.served.get(id).copied().unwrap_or(answered);
        state.outcomes.insert(
            id.to_owned(),
            Outcome {
                served,
                answered,
                error: kind == "error",
                body,
            },
        );
    } else {
        return Ok(reply(StatusCode::NOT_FOUND, Vec::new()));
    }
    drop(state);
    changed.notify_waiters();
    Ok(reply(StatusCode::ACCEPTED, b"{}".to_vec()))
}

/// Counts a `next` poll as waiting while it lives (a dropped connection included).
struct Polling(Arc<Mutex<State>>);

impl Polling {
    fn new(state: &Arc<Mutex<State>>) -> Self {
        state.lock().expect("runtime API state").polling += 1;
        Polling(Arc::clone(state))
    }
}

impl Drop for Polling {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.lock() {
            state.polling -= 1;
        }
    }
}

/// A TCP proxy to `upstream` that waits `delay` before opening each new upstream connection,
/// or, while down, closes every connection it accepts.
pub struct Proxy {
    address: String,
    delay_ms: Arc<AtomicU64>,
    down: Arc<AtomicBool>,
}

impl Proxy {
    pub async fn start(upstream: &str, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("a local address").to_string();
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let down = Arc::new(AtomicBool::new(false));
        let (upstream, d, dn) = (
            upstream.to_owned(),
            Arc::clone(&delay_ms),
            Arc::clone(&down),
        );
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if dn.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let delay = Duration::from_millis(d.load(Ordering::SeqCst));
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    if let Ok(mut outbound) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self {
            address,
            delay_ms,
            down,
        }
    }

    /// `http://host:port`, to put in place of the upstream's URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// While down, every new connection is closed at once; connections already open go on.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
    }
}

/// Starts a function's bootstrap `binary` against `api`, with the environment Lambda sets and
/// `env` on top; its output goes to `log` (a file path) when given, else nowhere.
pub fn spawn_function(
    binary: &str,
    api: &RuntimeApi,
    env: &[(&str, String)],
    log: Option<&std::path::Path>,
) -> Child {
    let mut command = Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", "local")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let (stdout, stderr) = match log.map(std::fs::File::create) {
        Some(Ok(file)) => match file.try_clone() {
            Ok(copy) => (Stdio::from(file), Stdio::from(copy)),
            Err(_) => (Stdio::null(), Stdio::null()),
        },
        _ => (Stdio::null(), Stdio::null()),
    };
    command
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"))
}

/// What the authorizer's bootstrap needs in moto, with a [`Proxy`] in front of each dependency:
/// a user pool whose user `vet` is in `pet-veterinarian`, the policy table with that group's
/// shipped policy, and a signed-in access token.
pub struct AuthorizerStack {
    pub moto: crate::Moto,
    pub pool: crate::CognitoPool,
    pub table: String,
    pub token: String,
    /// In front of the pool's JWKS endpoint.
    pub jwks: Proxy,
    /// In front of DynamoDB.
    pub dynamodb: Proxy,
}

impl AuthorizerStack {
    /// Sets it up with each proxy adding `delay` to every new connection.
    pub async fn start(delay: Duration) -> Self {
        let moto = crate::Moto::start().await;
        let pool = crate::CognitoPool::create(&moto).await;
        let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
        let table = crate::policy_table(
            &client,
            &[(
                "pet-veterinarian",
                &crate::fixture_policy("pet-veterinarian"),
                None,
                Some(10),
            )],
        )
        .await;
        let (token, _) = pool.sign_in("vet").await;
        let upstream = moto.endpoint.trim_start_matches("http://").to_owned();
        let jwks = Proxy::start(&upstream, delay).await;
        let dynamodb = Proxy::start(&upstream, delay).await;
        Self {
            moto,
            pool,
            table,
            token,
            jwks,
            dynamodb,
        }
    }

    /// The authorizer's environment: this pool and table, both reached through the proxies.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("USER_POOL_ID", self.pool.id.clone()),
            ("APP_CLIENT_IDS", self.pool.client_id.clone()),
            ("POLICY_TABLE", self.table.clone()),
            ("JWKS_URL", self.pool.jwks_url(&self.jwks.url())),
            ("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb.url()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
        ]
    }

    /// The method the [`Self::event`] calls.
    pub const METHOD_ARN: &str =
        "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/GET/petstore/v1/pets";

    /// A REQUEST event for `GET /petstore/v1/pets` (which `pet-veterinarian` may call) with
    /// `vet`'s token.
    pub fn event(&self) -> serde_json::Value {
        serde_json::json!({
            "type": "REQUEST",
            "methodArn": Self::METHOD_ARN,
            "headers": { "Authorization": format!("Bearer {}", self.token) },
            "requestContext": { "requestId": "cold-start" },
        })
    }
}

/// Whether an answer is a policy that allows `method_arn`, read by the reference evaluator.
pub fn allows(outcome: &Outcome, method_arn: &str) -> bool {
    !outcome.error
        && serde_json::from_str::<serde_json::Value>(&outcome.body)
            .ok()
            .and_then(|v| {
                let policy = v.get("policyDocument")?;
                groupgate_shared::reference::allows(
                    policy,
                    groupgate_shared::INVOKE_ACTION,
                    method_arn,
                )
                .ok()
            })
            .unwrap_or(false)
}

/// The path of `bin` of `package` as it ships (release profile), built first by the `cargo`
/// running the benchmark.
fn release_binary(package: &str, bin: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .args(["build", "--release", "-p", package, "--bin", bin])
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --release -p {package} failed"
    );
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").to_owned());
    format!("{target}/release/{bin}")
}

/// The bootstrap a benchmark measures: the file the environment variable `var` names when it is
/// set (another commit's build, say), else this workspace's release build of `package`'s `bin`.
pub fn bench_binary(var: &str, package: &str, bin: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| release_binary(package, bin))
}

/// Whether `cargo bench` asked for the harness-less bench `name`: yes unless a filter argument
/// names something else.
pub fn bench_selected(name: &str) -> bool {
    !std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && a != name)
}

/// A process's resident memory now and at its peak, in KiB (`VmRSS`, `VmHWM`).
pub fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
