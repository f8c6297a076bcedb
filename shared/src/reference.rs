//! A reference evaluator of a policy returned to API Gateway, as API Gateway applies it: written
//! from IAM's rules on plain JSON, independently of [`crate::MergedPolicy`] and its parser, and
//! small enough to check by eye. The policy tools, the property tests and the fuzzers hold the
//! authorizer's decision to it.
//!
//! The rules: a statement applies when its `Action` (or everything but its `NotAction`) and its
//! `Resource` (or everything but its `NotResource`) match; `*` matches any run of characters and
//! `?` any one; actions match without regard to (ASCII) case, resources exactly. Any applying `Deny`
//! wins; else any applying `Allow` allows; else it is denied. A returned policy has no
//! conditions (they were applied before it was returned), so a `Condition` is an error here.
//! [`evaluate`] also tells an explicit deny from no allow, as API Gateway's two 403 messages do
//! (the local gateway answers with them).

use serde_json::Value;

/// What API Gateway makes of a request under a returned policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allow,
    /// A `Deny` applies (API Gateway's "with an explicit deny" 403).
    ExplicitDeny,
    /// No statement allows it (API Gateway's plain 403).
    ImplicitDeny,
}

/// Whether the policy allows `action` on `resource`, or why the policy cannot be read.
pub fn allows(policy: &Value, action: &str, resource: &str) -> Result<bool, String> {
    evaluate(policy, action, resource).map(|verdict| verdict == Verdict::Allow)
}

/// The verdict on `action` on `resource`, or why the policy cannot be read. Every statement is
/// read, whether or not it applies: one it cannot read makes the whole policy unreadable.
pub fn evaluate(policy: &Value, action: &str, resource: &str) -> Result<Verdict, String> {
    let statements = match policy.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::Object(_)) => vec![one],
        _ => return Err("no `Statement`".to_owned()),
    };
    let (mut allowed, mut denied) = (false, false);
    for statement in statements {
        if statement.get("Condition").is_some() {
            return Err("a returned policy has no conditions".to_owned());
        }
        let action_matches = element(statement, "Action", "NotAction", |p| {
            glob(&p.to_ascii_lowercase(), &action.to_ascii_lowercase())
        })?;
        let resource_matches =
            element(statement, "Resource", "NotResource", |p| glob(p, resource))?;
        let applies = action_matches && resource_matches;
        match statement.get("Effect").and_then(Value::as_str) {
            Some("Deny") => denied |= applies,
            Some("Allow") => allowed |= applies,
            other => return Err(format!("`Effect` is {other:?}")),
        }
    }
    Ok(match (denied, allowed) {
        (true, _) => Verdict::ExplicitDeny,
        (false, true) => Verdict::Allow,
        (false, false) => Verdict::ImplicitDeny,
    })
}

/// Whether `positive` (or everything but `negative`) matches, by `matches` on each pattern.
fn element(
    statement: &Value,
    positive: &str,
    negative: &str,
    matches: impl Fn(&str) -> bool,
) -> Result<bool, String> {
    let (value, negated) = match (statement.get(positive), statement.get(negative)) {
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
        _ => return Err(format!("not exactly one of `{positive}` and `{negative}`")),
    };
    let patterns: Vec<&str> = match value {
        Value::String(one) => vec![one.as_str()],
        Value::Array(list) => list
            .iter()
            .map(|p| p.as_str().ok_or(format!("`{positive}` holds a non-string")))
            .collect::<Result<_, _>>()?,
        _ => return Err(format!("`{positive}` is neither a string nor a list")),
    };
    Ok(patterns.into_iter().any(matches) != negated)
}

/// `*` matches any run of characters, `?` any one character; everything else itself.
fn glob(pattern: &str, text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    // row[j]: the pattern read so far matches the first j characters of the text.
    let mut row: Vec<bool> = (0..=text.len()).map(|j| j == 0).collect();
    for p in pattern.chars() {
        let mut next: Vec<bool> = Vec::with_capacity(row.len());
        for j in 0..=text.len() {
            let before = |v: &Vec<bool>| j > 0 && v.get(j - 1) == Some(&true);
            next.push(match p {
                '*' => row.get(j) == Some(&true) || before(&next),
                '?' => before(&row),
                c => before(&row) && text.get(j - 1) == Some(&c),
            });
        }
        row = next;
    }
    row.last() == Some(&true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api/prod/GET/petstore/v1/pets";

    #[test]
    fn deny_beats_allow_and_nothing_is_deny() {
        let allow = json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"});
        let deny = json!({"Effect": "Deny", "Action": "*", "Resource": "arn:aws:execute-api:*:*:*/*/GET/*"});
        assert_eq!(
            allows(
                &json!({"Statement": [allow.clone()]}),
                "execute-api:Invoke",
                ARN
            ),
            Ok(true)
        );
        assert_eq!(
            allows(
                &json!({"Statement": [allow, deny]}),
                "execute-api:Invoke",
                ARN
            ),
            Ok(false)
        );
        assert_eq!(
            allows(&json!({"Statement": []}), "execute-api:Invoke", ARN),
            Ok(false)
        );
    }

    #[test]
    fn actions_ignore_case_resources_do_not_and_not_elements_invert() {
        let policy = |statement| json!({"Statement": statement});
        assert_eq!(
            allows(
                &policy(
                    json!({"Effect": "Allow", "Action": "EXECUTE-API:invoke", "Resource": [ARN]})
                ),
                "execute-api:Invoke",
                ARN
            ),
            Ok(true)
        );
        assert_eq!(
            allows(
                &policy(json!({"Effect": "Allow", "Action": "*", "Resource": ARN.to_uppercase()})),
                "execute-api:Invoke",
                ARN
            ),
            Ok(false)
        );
        assert_eq!(
            allows(
                &policy(json!({"Effect": "Allow", "Action": "*", "NotResource": "*/POST/*"})),
                "execute-api:Invoke",
                ARN
            ),
            Ok(true)
        );
        assert_eq!(
            allows(
                &policy(json!({"Effect": "Allow", "NotAction": "execute-api:*", "Resource": "*"})),
                "execute-api:Invoke",
                ARN
            ),
            Ok(false)
        );
    }

    #[test]
    fn glob_follows_star_and_question_mark() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a*", "a"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(!glob("a*d", "abc"));
        assert!(glob("*/GET/petstore/v1/*", "api/prod/GET/petstore/v1/pets"));
    }

    #[test]
    fn an_explicit_deny_is_told_from_no_allow() {
        let policy = json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*/GET/*"},
            {"Effect": "Deny", "Action": "*", "Resource": "*/prod/GET/petstore/v1/*"},
        ]});
        let verdict = |method: &str| {
            evaluate(
                &policy,
                "execute-api:Invoke",
                &ARN.replace("/GET/", &format!("/{method}/")),
            )
        };
        assert_eq!(verdict("GET"), Ok(Verdict::ExplicitDeny));
        assert_eq!(verdict("POST"), Ok(Verdict::ImplicitDeny));
        let read = json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}});
        assert_eq!(
            evaluate(&read, "execute-api:Invoke", ARN),
            Ok(Verdict::Allow)
        );
    }

    /// A statement it cannot read spoils the policy even behind a Deny that already applies:
    /// API Gateway reads the whole document, not up to the first answer.
    #[test]
    fn a_statement_it_cannot_read_is_an_error_even_after_an_applying_deny() {
        let policy = json!({"Statement": [
            {"Effect": "Deny", "Action": "*", "Resource": "*"},
            {"Effect": "Perhaps", "Action": "*", "Resource": "*"},
        ]});
        assert!(evaluate(&policy, "execute-api:Invoke", ARN).is_err());
    }

    #[test]
    fn what_it_cannot_read_is_an_error() {
        for bad in [
            json!({}),
            json!({"Statement": [{"Effect": "Allow", "Resource": "*"}]}),
            json!({"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}),
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {}}]}),
            json!({"Statement": [{"Effect": "Allow", "Action": "*", "NotAction": "x", "Resource": "*"}]}),
        ] {
            assert!(allows(&bad, "execute-api:Invoke", ARN).is_err(), "{bad}");
        }
    }
}
