//! A reference evaluator of a policy returned to API Gateway, as API Gateway applies it: written
//! from IAM's rules on plain JSON, independently of [`crate::MergedPolicy`] and its parser, and
//! small enough to check by eye. The policy tools, the property tests and the fuzzers hold the
//! authorizer's decision to it.
//!
//! The rules: a statement applies when its `Action` and its `Resource` match; `*` matches any run
//! of characters; actions match without regard to (ASCII) case, resources exactly. Any applying
//! `Deny` wins; else any applying `Allow` allows; else it is denied. A returned policy has no
//! conditions (they were applied before it was returned), so a `Condition` is an error here.
//! So are `NotAction`, `NotResource` and a `?` in a pattern: API Gateway documents none of them
//! for an authorizer's policy, so there is no rule to evaluate them by (see [`documented`]).
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
    if statement.get(negative).is_some() {
        return Err(format!(
            "`{negative}` is not documented for an authorizer's policy"
        ));
    }
    let Some(value) = statement.get(positive) else {
        return Err(format!("no `{positive}`"));
    };
    let patterns: Vec<&str> = match value {
        Value::String(one) => vec![one.as_str()],
        Value::Array(list) => list
            .iter()
            .map(|p| p.as_str().ok_or(format!("`{positive}` holds a non-string")))
            .collect::<Result<_, _>>()?,
        _ => return Err(format!("`{positive}` is neither a string nor a list")),
    };
    if patterns.iter().any(|p| p.contains('?')) {
        return Err(format!(
            "`{positive}` uses `?`, not documented for an authorizer's policy"
        ));
    }
    Ok(patterns.into_iter().any(matches))
}

/// Whether a returned policy uses only what API Gateway documents for a Lambda authorizer's
/// output, or the first thing it does not: a `Version` of `2012-10-17` and a list of statements
/// of exactly `Effect` (`Allow` or `Deny`), `Action` (`execute-api:Invoke`) and `Resource`
/// method ARNs, `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`,
/// with no wildcard but `*`, at most 1600 bytes
/// (<https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-lambda-authorizer-output.html>).
/// A `*` may stand for any of the fields, or end the ARN after the API id.
pub fn documented(policy: &Value) -> Result<(), String> {
    let Some(document) = policy.as_object() else {
        return Err("not an object".to_owned());
    };
    if let Some(key) = document
        .keys()
        .find(|k| !["Version", "Statement"].contains(&k.as_str()))
    {
        return Err(format!("undocumented element `{key}`"));
    }
    if policy.get("Version").and_then(Value::as_str) != Some("2012-10-17") {
        return Err("`Version` is not `2012-10-17`".to_owned());
    }
    let Some(statements) = policy.get("Statement").and_then(Value::as_array) else {
        return Err("`Statement` is not a list".to_owned());
    };
    if statements.is_empty() {
        return Err("`Statement` is empty".to_owned());
    }
    statements.iter().try_for_each(documented_statement)
}

fn documented_statement(statement: &Value) -> Result<(), String> {
    let Some(fields) = statement.as_object() else {
        return Err("a statement is not an object".to_owned());
    };
    if let Some(key) = fields
        .keys()
        .find(|k| !["Effect", "Action", "Resource"].contains(&k.as_str()))
    {
        return Err(format!("undocumented statement element `{key}`"));
    }
    match statement.get("Effect").and_then(Value::as_str) {
        Some("Allow" | "Deny") => {}
        other => return Err(format!("`Effect` is {other:?}")),
    }
    let strings = |name: &str| -> Result<Vec<&str>, String> {
        match statement.get(name) {
            Some(Value::String(one)) => Ok(vec![one.as_str()]),
            Some(Value::Array(list)) if !list.is_empty() => list
                .iter()
                .map(|v| v.as_str().ok_or(format!("`{name}` holds a non-string")))
                .collect(),
            _ => Err(format!("`{name}` is not a string or a list of strings")),
        }
    };
    if let Some(action) = strings("Action")?
        .into_iter()
        .find(|a| *a != "execute-api:Invoke")
    {
        return Err(format!("`Action` `{action}` is not `execute-api:Invoke`"));
    }
    match strings("Resource")?
        .into_iter()
        .find(|r| !documented_resource(r))
    {
        Some(resource) => Err(format!("`Resource` `{resource}` is not a method ARN")),
        None => Ok(()),
    }
}

/// `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`, fields
/// non-empty (the path may be), `*` the only wildcard, where a final `*` may end the ARN
/// anywhere after the API id.
fn documented_resource(resource: &str) -> bool {
    if resource.len() > 1600 || resource.contains('?') {
        return false;
    }
    let fields: Vec<&str> = resource.splitn(6, ':').collect();
    let [arn, partition, service, region, account, rest] = fields.as_slice() else {
        return false;
    };
    let parts: Vec<&str> = rest.splitn(4, '/').collect();
    let head_ok = *arn == "arn"
        && *service == "execute-api"
        && [partition, region, account].iter().all(|f| !f.is_empty());
    let parts_ok = match parts.as_slice() {
        [api, stage, method, _path] => [api, stage, method].iter().all(|f| !f.is_empty()),
        [api, .., last] => !api.is_empty() && last.ends_with('*'),
        _ => false,
    };
    head_ok && parts_ok
}

/// `*` matches any run of characters; everything else itself (a `?` never gets here).
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
    }

    /// API Gateway documents no `NotAction`, `NotResource` or `?` for an authorizer's policy,
    /// so the reference has no rule for them: a policy using one cannot be read.
    #[test]
    fn what_api_gateway_does_not_document_cannot_be_read() {
        for statement in [
            json!({"Effect": "Deny", "Action": "*", "NotResource": "*/POST/*"}),
            json!({"Effect": "Allow", "NotAction": "execute-api:*", "Resource": "*"}),
            json!({"Effect": "Allow", "Action": "*", "Resource": "*/GET/petstore/v?/pets"}),
            json!({"Effect": "Allow", "Action": "execute-api:Inv?ke", "Resource": "*"}),
        ] {
            let error = allows(
                &json!({"Statement": [statement]}),
                "execute-api:Invoke",
                ARN,
            )
            .unwrap_err();
            assert!(
                error.contains("NotResource") || error.contains("NotAction") || error.contains('?'),
                "{error}"
            );
        }
    }

    #[test]
    fn documented_holds_the_returned_policy_to_the_documented_elements() {
        let doc = |statement: serde_json::Value| json!({"Version": "2012-10-17", "Statement": [statement]});
        let good = json!({"Effect": "Deny", "Action": ["execute-api:Invoke"],
            "Resource": [ARN, "arn:aws:execute-api:*:*:*/*/*/*", "arn:aws-cn:execute-api:r:1:api/prod/*",
                "arn:aws:execute-api:r:1:api/prod/GET/"]});
        assert_eq!(documented(&doc(good)), Ok(()));
        let long = format!("arn:aws:execute-api:r:1:api/prod/GET/{}", "p".repeat(1600));
        for bad in [
            json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN, "Sid": "S"}),
            json!({"Effect": "allow", "Action": "execute-api:Invoke", "Resource": ARN}),
            json!({"Effect": "Allow", "Action": "*", "Resource": ARN}),
            json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "*"}),
            json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:s3:::b/k"}),
            json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:r:1:api/prod"}),
            json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN.replace("GET", "G?T")}),
            json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": long}),
            json!({"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": ARN}),
            json!({"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": []}),
        ] {
            assert!(documented(&doc(bad.clone())).is_err(), "{bad}");
        }
        assert!(documented(&json!({"Version": "2012-10-17", "Statement": []})).is_err());
        assert!(
            documented(&json!({"Version": "2008-10-17", "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}]}))
            .is_err()
        );
        assert!(
            documented(&json!({"Version": "2012-10-17", "Id": "x", "Statement": [
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": ARN}]}))
            .is_err()
        );
    }

    #[test]
    fn glob_follows_star() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a*", "a"));
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
