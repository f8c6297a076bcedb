#![cfg(test)]
//! How AWS failures become responses, with the SDK's own error types (smithy mocks stand in
//! for the faults moto cannot produce: access denied, throttling).

use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use aws_sdk_sts::types::error::ExpiredTokenException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use backend::error::ApiError;

async fn sts_error(error: impl Fn() -> AssumeRoleError + Send + Sync + 'static) -> ApiError {
    let rule = mock!(aws_sdk_sts::Client::assume_role).then_error(error);
    let client = mock_client!(aws_sdk_sts, RuleMode::Sequential, [&rule]);
    let err = client
        .assume_role()
        .role_arn("arn:aws:iam::123456789012:role/r")
        .role_session_name("vet")
        .send()
        .await
        .unwrap_err();
    ApiError::from_sdk("STS AssumeRole", err)
}

fn generic(code: &'static str) -> AssumeRoleError {
    generic_saying(code, "told by the test")
}

fn generic_saying(code: &'static str, message: &'static str) -> AssumeRoleError {
    AssumeRoleError::generic(
        aws_sdk_sts::error::ErrorMetadata::builder()
            .code(code)
            .message(message)
            .build(),
    )
}

#[tokio::test]
async fn access_denied_is_403_with_the_operation_named() {
    let e = sts_error(|| generic("AccessDenied")).await;
    assert_eq!(e.status, 403);
    assert_eq!(e.message, "STS AssumeRole was denied");
}

#[tokio::test]
async fn throttling_is_503() {
    for code in [|| generic("Throttling"), || generic("ThrottlingException")] {
        assert_eq!(sts_error(code).await.status, 503);
    }
}

#[tokio::test]
async fn other_service_errors_are_502() {
    let e = sts_error(|| {
        AssumeRoleError::ExpiredTokenException(
            ExpiredTokenException::builder().message("old").build(),
        )
    })
    .await;
    assert_eq!(e.status, 502);
    assert_eq!(e.message, "STS AssumeRole failed");
}

#[tokio::test]
async fn dynamodb_access_denied_is_403() {
    use aws_sdk_dynamodb::operation::scan::ScanError;
    let rule = mock!(aws_sdk_dynamodb::Client::scan).then_error(|| {
        ScanError::generic(
            aws_sdk_dynamodb::error::ErrorMetadata::builder()
                .code("AccessDeniedException")
                .message("not for this role")
                .build(),
        )
    });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
    let err = client.scan().table_name("pets").send().await.unwrap_err();
    let e = ApiError::from_sdk("DynamoDB Scan", err);
    assert_eq!(
        (e.status.as_u16(), e.message.as_str()),
        (403, "DynamoDB Scan was denied")
    );
}

/// Issue #9, row 9: what the SDK says (endpoints, ARNs, raw headers) stays out of the body.
#[tokio::test]
async fn error_bodies_never_carry_the_dependencys_text() {
    let leaky = "User: arn:aws:sts::123456789012:assumed-role/backend/fn is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/secret (endpoint https://sts.us-east-1.amazonaws.com)";
    for code in ["AccessDenied", "Throttling", "InternalError"] {
        let response = sts_error(move || generic_saying(code, leaky))
            .await
            .into_response();
        let body = String::from_utf8(response.body().to_vec()).unwrap();
        for secret in ["arn:", "amazonaws.com", "secret", "not authorized"] {
            assert!(!body.contains(secret), "{code}: {body}");
        }
        assert!(body.contains("STS AssumeRole"), "{body}");
    }
}
