// The request path keeps its functions short enough to read at once (threshold in clippy.toml).
#![warn(clippy::too_many_lines)]

use std::sync::Arc;
use std::time::Duration;

use backend::{App, Config};
use lambda_http::{Error, LambdaEvent, service_fn};

/// How long start-up may spend opening the connection its first request needs.
const INIT_DEADLINE: Duration = Duration::from_millis(1000);

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::from_env()
        .timeout_config(backend::sdk_timeouts())
        .load()
        .await;
    let app = App::new(&config, &aws);
    // Lambda freezes the process once it asks for its first event: what is still running then
    // is cut off here, and the first request does it as it always did.
    match tokio::time::timeout(INIT_DEADLINE, app.warm_up()).await {
        Ok(Ok(())) => tracing::info!("start-up warm-up done"),
        Ok(Err(error)) => {
            tracing::warn!(error = ?error, "start-up warm-up failed; the first request retries")
        }
        Err(_) => tracing::warn!(
            deadline_ms = INIT_DEADLINE.as_millis() as u64,
            "start-up warm-up cut off; the first request does it"
        ),
    }
    let app = Arc::new(app);
    // Sequential unless AWS_LAMBDA_MAX_CONCURRENCY > 1, when one process serves that many
    // invocations at once, sharing the clients and the role cache.
    lambda_http::lambda_runtime::run_concurrent(service_fn(
        move |event: LambdaEvent<serde_json::Value>| {
            let app = Arc::clone(&app);
            async move {
                // Boxed: the handler's future is deep enough to overflow the compiler's layout
                // query when nested inside the runtime's.
                Ok::<_, Error>(Box::pin(app.handle_event(&event.payload)).await)
            }
        },
    ))
    .await
}
