//! A parameter value kept from the stack (`UsePreviousValue`) checked against the constraints
//! of the template about to be deployed.
//!
//! CloudFormation checks every parameter value against the template's `AllowedValues`,
//! `AllowedPattern`, `MinLength`/`MaxLength` (String) and `MinValue`/`MaxValue` (Number)
//! (<https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html>),
//! the values it keeps included. A new template that narrows a constraint the stack's value no
//! longer meets fails the change set with a generic message; this names the parameter first.

use std::collections::BTreeMap;

use anyhow::Context as _;

/// Why `value` breaks a constraint of the parameter `spec` (its definition in the template),
/// `None` when it meets them all.
///
/// Only `String` and `Number` parameters are checked: the list and AWS-specific types are left
/// to CloudFormation. A pattern this crate's `regex` cannot read (CloudFormation's are Java
/// regular expressions) is left to CloudFormation too.
pub fn broken_constraint(spec: &serde_json::Value, value: &str) -> Option<String> {
    let kind = spec
        .get("Type")
        .and_then(serde_json::Value::as_str)
        .filter(|k| matches!(*k, "String" | "Number"))?;
    if let Some(allowed) = spec
        .get("AllowedValues")
        .and_then(serde_json::Value::as_array)
    {
        let allowed: Vec<String> = allowed.iter().map(plain).collect();
        let same = |a: &String| match (kind, a.parse::<f64>(), value.parse::<f64>()) {
            ("Number", Ok(a), Ok(v)) => a == v,
            _ => a == value,
        };
        if !allowed.iter().any(same) {
            return Some(format!("not one of AllowedValues {}", allowed.join(", ")));
        }
    }
    if kind == "Number" {
        number_constraint(spec, value)
    } else {
        string_constraint(spec, value)
    }
}

fn string_constraint(spec: &serde_json::Value, value: &str) -> Option<String> {
    if let Some(pattern) = spec
        .get("AllowedPattern")
        .and_then(serde_json::Value::as_str)
    {
        // CloudFormation's patterns are Java's (`java.util.regex.Pattern`:
        // https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-regexes.html),
        // matched against the whole value, as its `\\d{4}` example for four digits says.
        // Character classes whose meaning differs between the two (Rust's `\s`, `\d`, `\w`,
        // `\b` and `\p{..}` are Unicode-aware, Java's ASCII by default) could refuse a value
        // CloudFormation accepts: such a pattern is left to CloudFormation.
        let differs = [
            "\\s", "\\S", "\\d", "\\D", "\\w", "\\W", "\\b", "\\B", "\\p", "\\P",
        ]
        .iter()
        .any(|class| pattern.contains(class));
        let whole = (!differs)
            .then(|| regex::Regex::new(&format!("^(?:{pattern})$")).ok())
            .flatten();
        if whole.is_some_and(|re| !re.is_match(value)) {
            return Some(format!("does not match AllowedPattern `{pattern}`"));
        }
    }
    let length = value.chars().count();
    if let Some(min) = number(spec, "MinLength").filter(|min| (length as f64) < *min) {
        return Some(format!("shorter than MinLength {min}"));
    }
    if let Some(max) = number(spec, "MaxLength").filter(|max| (length as f64) > *max) {
        return Some(format!("longer than MaxLength {max}"));
    }
    None
}

fn number_constraint(spec: &serde_json::Value, value: &str) -> Option<String> {
    let Ok(n) = value.trim().parse::<f64>() else {
        return Some("not a number".to_owned());
    };
    if let Some(min) = number(spec, "MinValue").filter(|min| n < *min) {
        return Some(format!("below MinValue {min}"));
    }
    if let Some(max) = number(spec, "MaxValue").filter(|max| n > *max) {
        return Some(format!("above MaxValue {max}"));
    }
    None
}

/// A numeric attribute, written in the template as a JSON number or a string.
fn number(spec: &serde_json::Value, key: &str) -> Option<f64> {
    let value = spec.get(key)?;
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

fn plain(value: &serde_json::Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned)
}

/// Refuses a deploy of `template_body` to stack `name` when a value it keeps (`kept`: key and
/// the stack's current value) breaks the template's constraints, naming each such parameter,
/// its value, the constraint and the flag that sets a new value.
///
/// A `NoEcho` parameter's value is masked as asterisks by DescribeStacks
/// (<https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html>):
/// it cannot be checked here, and is left to CloudFormation.
pub fn check_kept_values(
    name: &str,
    template_body: &str,
    kept: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let template: serde_json::Value =
        serde_json::from_str(template_body).context("the template is not JSON")?;
    let declared = template.get("Parameters");
    let broken: Vec<String> = kept
        .iter()
        .filter_map(|(key, value)| {
            let spec = declared?.get(key)?;
            let no_echo = match spec.get("NoEcho") {
                Some(serde_json::Value::Bool(b)) => *b,
                Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
                _ => false,
            };
            if no_echo || (!value.is_empty() && value.chars().all(|c| c == '*')) {
                return None;
            }
            let why = broken_constraint(spec, value)?;
            Some(format!(
                "`{key}` keeps the stack's value `{value}`, which the new template refuses ({why}): pass `--parameter {key}=VALUE` with a value it allows"
            ))
        })
        .collect();
    if broken.is_empty() {
        return Ok(());
    }
    anyhow::bail!("{name}: {}", broken.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `\s` is ASCII whitespace to Java, any Unicode space to Rust: a value with a no-break
    /// space meets the pattern on CloudFormation, so it is not refused here.
    #[test]
    fn a_pattern_whose_classes_java_reads_otherwise_is_left_to_cloudformation() {
        let url = json!({"Type": "String", "AllowedPattern": "^(https://[^\\s#]+)?$"});
        assert_eq!(
            broken_constraint(&url, "https://example.com/a\u{a0}b"),
            None
        );
        let ascii = json!({"Type": "String", "AllowedPattern": "^(https://[^ #]+)?$"});
        assert!(broken_constraint(&ascii, "https://example.com/a b").is_some());
    }

    #[test]
    fn each_constraint_refuses_what_it_should_and_only_that() {
        let retention = json!({"Type": "Number", "Default": "30",
            "AllowedValues": ["1", "3", "5", "7", "14", "30", "60", "90"]});
        let url = json!({"Type": "String", "AllowedPattern": "^$|^https://.+$"});
        let bare_pattern = json!({"Type": "String", "AllowedPattern": "[a-z]+"});
        let lengths = json!({"Type": "String", "MinLength": 2, "MaxLength": "4"});
        let range = json!({"Type": "Number", "MinValue": 1, "MaxValue": "10"});
        let choice = json!({"Type": "String", "AllowedValues": ["dev", "prod"]});
        let list = json!({"Type": "CommaDelimitedList", "AllowedValues": ["a"]});
        let java_only = json!({"Type": "String", "AllowedPattern": "(?<=a)b"});
        let cases: &[(&serde_json::Value, &str, Option<&str>)] = &[
            (&retention, "30", None),
            (&retention, "30.0", None),
            (
                &retention,
                "2",
                Some("not one of AllowedValues 1, 3, 5, 7, 14, 30, 60, 90"),
            ),
            (&url, "", None),
            (&url, "https://app.example.com/", None),
            (
                &url,
                "http://app.example.com/",
                Some("does not match AllowedPattern `^$|^https://.+$`"),
            ),
            (&bare_pattern, "abc", None),
            // The whole value must match, not a part of it.
            (
                &bare_pattern,
                "abc1",
                Some("does not match AllowedPattern `[a-z]+`"),
            ),
            (&lengths, "ab", None),
            (&lengths, "abcd", None),
            (&lengths, "a", Some("shorter than MinLength 2")),
            (&lengths, "abcde", Some("longer than MaxLength 4")),
            // Characters, not bytes.
            (&lengths, "ééé", None),
            (&range, "1", None),
            (&range, "10", None),
            (&range, "0", Some("below MinValue 1")),
            (&range, "10.5", Some("above MaxValue 10")),
            (&range, "ten", Some("not a number")),
            (&choice, "prod", None),
            (&choice, "Prod", Some("not one of AllowedValues dev, prod")),
            // Left to CloudFormation: list types, Java-only patterns.
            (&list, "a,b", None),
            (&java_only, "b", None),
            (&json!({"Type": "String"}), "anything", None),
        ];
        for (spec, value, want) in cases {
            assert_eq!(
                broken_constraint(spec, value).as_deref(),
                *want,
                "{value} against {spec}"
            );
        }
    }

    const TEMPLATE: &str = r#"{"Parameters": {
        "LogRetentionDays": {"Type": "Number", "AllowedValues": ["1", "30", "90"]},
        "HostedUiCallbackUrl": {"Type": "String", "AllowedPattern": "^https://.+$"},
        "Secret": {"Type": "String", "NoEcho": true, "MinLength": 20},
        "Token": {"Type": "String", "MinLength": 20}
    }}"#;

    fn kept(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_kept_value_the_new_template_refuses_is_named_with_what_to_do() {
        let error = check_kept_values(
            "app",
            TEMPLATE,
            &kept(&[
                ("LogRetentionDays", "2"),
                ("HostedUiCallbackUrl", "https://a/"),
            ]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            error,
            "app: `LogRetentionDays` keeps the stack's value `2`, which the new template refuses (not one of AllowedValues 1, 30, 90): pass `--parameter LogRetentionDays=VALUE` with a value it allows"
        );
        assert!(!error.contains('\n'));
    }

    #[test]
    fn masked_and_undeclared_values_are_left_to_cloudformation() {
        // NoEcho: DescribeStacks masks the value; a masked value of another parameter too.
        let ok = kept(&[
            ("Secret", "****"),
            ("Token", "*****"),
            ("Removed", "x"),
            ("LogRetentionDays", "90"),
        ]);
        check_kept_values("app", TEMPLATE, &ok).unwrap();
        let error = check_kept_values("app", TEMPLATE, &kept(&[("Token", "short")]))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("`Token`") && error.contains("MinLength 20"),
            "{error}"
        );
    }
}
