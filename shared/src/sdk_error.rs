//! An AWS SDK error in words a person reads, on one line: the service's error code and message,
//! or each cause in turn when no service answered; never the SDK's debug struct or the raw HTTP
//! response (which `DisplayErrorContext` includes). The authorizer's store failures and every
//! message of the operator's tool are written with it.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// Why an AWS call failed: the service's error code and message (`NotAuthorizedException:
/// Incorrect username or password.`), or, when no service answered, each cause in turn (`dispatch
/// failure: io error: ... Connection refused (os error 111)`) and what to check.
pub fn cause<E>(error: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(service) = error {
        let status = service.raw().status().as_u16();
        return match (service.err().code(), service.err().message()) {
            (Some(code), Some(message)) => format!("{code}: {message}"),
            (Some(code), None) => code.to_owned(),
            (None, _) => format!("HTTP {status} with no error code"),
        };
    }
    let causes = causes(error);
    match error {
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => format!(
            "{causes}; the service could not be reached: check the network, and AWS_ENDPOINT_URL (or the service's own) if one is set"
        ),
        _ => causes,
    }
}

/// An error and its sources, each once, joined by `: `: their `Display`, never their `Debug`,
/// on one line.
pub fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(error);
    while let Some(e) = next {
        let text = one_line(&e.to_string());
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// `text`'s lines on one: a line ending in `:` runs on into the next, the others are joined by
/// `; ` (the credential chain lists each provider it tried on a line of its own).
fn one_line(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_cause_on_several_lines_is_put_on_one() {
        let error = Layer(
            "no credentials found in chain. Attempted:\n  Environment: not set\n  Profile: not enabled",
            None,
        );
        assert_eq!(
            causes(&error),
            "no credentials found in chain. Attempted: Environment: not set; Profile: not enabled"
        );
    }

    #[test]
    fn causes_are_each_said_once_in_words() {
        let error = Layer(
            "dispatch failure",
            Some(Box::new(Layer(
                "io error",
                Some(Box::new(Layer(
                    "Connection refused (os error 111)",
                    Some(Box::new(Layer("Connection refused (os error 111)", None))),
                ))),
            ))),
        );
        assert_eq!(
            causes(&error),
            "dispatch failure: io error: Connection refused (os error 111)"
        );
    }
}
