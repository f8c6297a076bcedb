use std::sync::Arc;

use backend::{App, Config};
use lambda_http::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let config = Config::from_env()?;
    let aws = aws_config::from_env()
        .timeout_config(backend::sdk_timeouts())
        .load()
        .await;
    let app = App::new(&config, &aws);
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
