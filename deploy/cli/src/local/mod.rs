//! The product on one machine, for `scripts/dev.sh` and the smoke tests: an emulator provisioned
//! from the stack definition ([`provision`]), and the local API Gateway (the `local-gateway`
//! crate beside this one) in front of `cargo lambda watch`; and the running stack brought in
//! line with `policies/` ([`sync`]), its users and tokens by hand ([`users`]).

pub mod provision;
pub mod sync;
pub mod users;

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use local_gateway::{Gateway, GatewayConfig, LocalIntegration, Route};

use crate::description::StackDescription;
use crate::stack::{self, Settings, assets::Assets};

pub use provision::{PETS_TABLE, POLICY_TABLE};

/// The local stack's tables: a `--table` naming one of them is the local stack's.
pub const TABLES: [&str; 2] = [POLICY_TABLE, PETS_TABLE];

/// Provisions the emulator at `endpoint` from the stack definition and `policies`, and writes
/// the local stack's description (`out`) and the functions' environment (`env_file`).
pub async fn provision_emulator(
    endpoint: &str,
    api_url: &str,
    policies: &Path,
    out: &Path,
    env_file: &Path,
    settings: &Settings,
) -> anyhow::Result<()> {
    let folder = crate::operations::seed::PolicyFolder::load(policies, settings)?;
    folder.check_local()?;
    let groups = folder.groups;
    let api = settings.api()?;
    let definition = stack::build(
        &groups,
        &api,
        &Assets::placeholder(&stack::FUNCTIONS),
        settings,
    );
    let cors_origins = settings
        .allowed_origins()
        .map_err(anyhow::Error::msg)?
        .to_list();
    definition.to_template()?;
    let aws = crate::aws::config(crate::aws::Target::Emulator(endpoint)).await?;
    let plan = provision::Plan {
        stack: &definition,
        groups: &groups,
        cedar_bundle: folder.cedar_bundle.as_deref(),
        pools: &settings.pools,
        stage: &settings.stage,
        endpoint,
        api_url,
    };
    let (outputs, local) = provision::provision(&aws, &plan).await?;
    let functions_env = provision::functions_env(&outputs, &local, settings, &cors_origins);
    let users = local.users.len();
    let described = StackDescription {
        outputs,
        local: Some(local),
    };
    // The description holds the demo users' passwords: both files are the owner's only.
    for (path, text) in [
        (out, serde_json::to_string_pretty(&described)? + "\n"),
        (env_file, functions_env),
    ] {
        provision::write_private(path, &text)?;
    }
    println!(
        "provisioned pool {} with {} demo users",
        described.outputs.user_pool_id, users
    );
    Ok(())
}

/// How the local gateway serves one operation of the API's document: the product's backend and
/// any other Lambda function through cargo-lambda (by the function's name, so only the
/// workspace's own functions answer; another stack's is a 502 here), an `http_proxy` forwarded
/// to its URL.
fn local_route(operation: &stack::Operation) -> Route {
    let integration = match &operation.integration {
        stack::Integration::Backend => LocalIntegration::Function("backend".to_owned()),
        stack::Integration::Lambda { function_arn, .. } => LocalIntegration::Function(
            function_arn
                .split(':')
                .nth(6)
                .unwrap_or(function_arn)
                .to_owned(),
        ),
        stack::Integration::HttpProxy {
            method,
            uri,
            request_parameters,
            ..
        } => LocalIntegration::HttpProxy {
            method: method.clone(),
            uri: uri.clone(),
            request_parameters: request_parameters.clone(),
        },
    };
    Route {
        method: operation.method.clone(),
        path: operation.path.clone(),
        public: operation.public,
        integration,
    }
}

/// Serves the API on `address:port` like the deployed stack does (its routes, stage and
/// identity source), calling the functions through cargo-lambda at `invoke_url`, until Ctrl-C.
pub async fn serve_gateway(
    address: IpAddr,
    port: u16,
    invoke_url: String,
    settings: &Settings,
) -> anyhow::Result<()> {
    let api = settings.api()?;
    let config = GatewayConfig {
        stage: settings.stage.clone(),
        routes: api.operations.iter().map(local_route).collect(),
        authorizer_ttl: Duration::from_secs(settings.authorizer_ttl_seconds.into()),
        identity_header: stack::IDENTITY_HEADER.to_owned(),
        // As the template's identity sources say: with Cedar, the method and resource path.
        cache_by_route: stack::identity_sources(settings.policy_language)
            .iter()
            .any(|source| source == "context.resourcePath"),
        invoke_url,
        authorizer_function: "authorizer".to_owned(),
        hints: stack::gateway_hints(),
        cors_origins: settings.allowed_origins().map_err(anyhow::Error::msg)?,
        integration_timeout: local_gateway::INTEGRATION_TIMEOUT,
    };
    if !config.cors_origins.is_empty() {
        eprintln!(
            "gateway: CORS for {}",
            config.cors_origins.as_slice().join(", ")
        );
    }
    let gateway = Gateway::new(config, Arc::new(Instant::now))?;
    let listener = tokio::net::TcpListener::bind((address, port))
        .await
        .with_context(|| format!("binding {address}:{port}"))?;
    eprintln!("gateway: listening on http://{}", listener.local_addr()?);
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    local_gateway::serve(listener, Arc::new(gateway), shutdown).await
}
