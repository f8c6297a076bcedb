//! Failures as JSON responses: `{"message": ...}` with the status that says whose fault it was.

use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, message)
    }

    /// Maps an AWS SDK failure: access denied is the caller's role at work (403); throttling, a
    /// timeout or an unreachable service is a temporary outage (503); anything else, a bad
    /// answer from a dependency (502). The body names the dependency and the kind of failure
    /// only: the SDK's text (endpoints, ARNs, raw headers) goes to the log, never to the caller.
    pub fn from_sdk<E, R>(operation: &str, error: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let code = error.code().unwrap_or_default().to_owned();
        let detail = error
            .message()
            .map(str::to_owned)
            .unwrap_or_else(|| aws_sdk_sts::error::DisplayErrorContext(&error).to_string());
        let (status, what) = match &error {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "is unreachable")
            }
            _ if code.contains("AccessDenied") || code == "UnauthorizedOperation" => {
                (StatusCode::FORBIDDEN, "was denied")
            }
            _ if code.contains("Throttl")
                || code == "ProvisionedThroughputExceededException"
                || code == "RequestLimitExceeded"
                || code == "ServiceUnavailable" =>
            {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "is throttled or unavailable",
                )
            }
            _ => (StatusCode::BAD_GATEWAY, "failed"),
        };
        tracing::warn!(operation, code = %code, detail = %detail, status = status.as_u16(), "dependency call failed");
        Self::new(status, format!("{operation} {what}"))
    }

    pub fn into_response(self) -> Response<Body> {
        json_response(self.status, &serde_json::json!({ "message": self.message }))
    }
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(Body::Text(body.to_string()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        lambda_http::http::header::CONTENT_TYPE,
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    response
}
