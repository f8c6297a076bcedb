//! `execute-api` method ARNs and the IAM wildcard patterns matched against them.

use std::fmt;
use std::ops::Range;

use crate::Error;

/// The ARN API Gateway gives a Lambda authorizer for the method being called:
/// `arn:{partition}:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}`.
///
/// The root resource has an empty path (the ARN ends in `/`). Characters in the ARN are literal:
/// a `*` in a request path is a `*`, not a wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodArn {
    arn: String,
    /// Byte ranges in `arn` of partition, region, account, api id, stage, method and path.
    parts: [Range<usize>; 7],
}

const PARTITION: usize = 0;
const REGION: usize = 1;
const ACCOUNT: usize = 2;
const API_ID: usize = 3;
const STAGE: usize = 4;
const METHOD: usize = 5;
const PATH: usize = 6;

impl MethodArn {
    pub fn parse(arn: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::MethodArn {
            arn: arn.to_owned(),
            reason: why.to_owned(),
        };
        let mut fields = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("execute-api"), Some(region), Some(account)) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(bad(
                "expected `arn:{partition}:execute-api:{region}:{account}:...`",
            ));
        };
        let resource = fields.next().ok_or_else(|| bad("no resource part"))?;
        let mut segments = resource.splitn(4, '/');
        let (Some(api_id), Some(stage), Some(method), Some(path)) = (
            segments.next(),
            segments.next(),
            segments.next(),
            segments.next(),
        ) else {
            return Err(bad(
                "expected `{apiId}/{stage}/{METHOD}/{path}` after the account",
            ));
        };
        for (name, value) in [
            ("partition", partition),
            ("region", region),
            ("account", account),
            ("api id", api_id),
            ("stage", stage),
            ("method", method),
        ] {
            if value.is_empty() {
                return Err(bad(&format!("empty {name}")));
            }
        }
        // Every part is a subslice of `arn`, so its offset is a pointer difference.
        let range = |part: &str| {
            let start = part.as_ptr() as usize - arn.as_ptr() as usize;
            start..start + part.len()
        };
        Ok(Self {
            arn: arn.to_owned(),
            parts: [
                range(partition),
                range(region),
                range(account),
                range(api_id),
                range(stage),
                range(method),
                range(path),
            ],
        })
    }

    /// Builds the ARN API Gateway would send for `method` on `path` (`/pets/1`, or `/` for the root).
    pub fn for_request(
        region: &str,
        account: &str,
        api_id: &str,
        stage: &str,
        method: &str,
        path: &str,
    ) -> Result<Self, Error> {
        let path = path.trim_start_matches('/');
        Self::parse(&format!(
            "arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path}"
        ))
    }

    fn part(&self, index: usize) -> &str {
        self.parts
            .get(index)
            .and_then(|r| self.arn.get(r.clone()))
            .unwrap_or_default()
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }
    pub fn partition(&self) -> &str {
        self.part(PARTITION)
    }
    pub fn region(&self) -> &str {
        self.part(REGION)
    }
    pub fn account(&self) -> &str {
        self.part(ACCOUNT)
    }
    pub fn api_id(&self) -> &str {
        self.part(API_ID)
    }
    pub fn stage(&self) -> &str {
        self.part(STAGE)
    }
    pub fn method(&self) -> &str {
        self.part(METHOD)
    }
    /// The resource path without its leading `/` (empty for the root).
    pub fn path(&self) -> &str {
        self.part(PATH)
    }

    /// The ARN that covers every method and path of this API stage.
    pub fn stage_wildcard(&self) -> String {
        format!(
            "arn:{}:execute-api:{}:{}:{}/{}/*",
            self.part(PARTITION),
            self.region(),
            self.account(),
            self.api_id(),
            self.stage()
        )
    }
}

impl fmt::Display for MethodArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// An IAM wildcard pattern: `*` matches any run of characters (including `/` and none at all),
/// `?` matches exactly one character, everything else matches itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    source: String,
    /// What is matched: the source, lowercased for case-insensitive patterns.
    text: String,
    kind: PatternKind,
    case_insensitive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PatternKind {
    Anything,
    Exact,
    Glob,
}

impl Pattern {
    /// A case-sensitive pattern, as IAM matches resources.
    pub fn resource(source: &str) -> Self {
        Self::new(source, false)
    }

    /// A case-insensitive pattern, as IAM matches action names. Action names are ASCII, so
    /// case is folded for ASCII letters only: Unicode lowercasing would make a look-alike such
    /// as the Kelvin sign (`K`, U+212A) match `k`, and would not compare a non-ASCII name
    /// equal to itself once one side was folded and the other not.
    pub fn action(source: &str) -> Self {
        Self::new(source, true)
    }

    fn new(source: &str, case_insensitive: bool) -> Self {
        let text = if case_insensitive {
            source.to_ascii_lowercase()
        } else {
            source.to_owned()
        };
        let kind = if text.bytes().all(|b| b == b'*') && !text.is_empty() {
            PatternKind::Anything
        } else if text.contains(['*', '?']) {
            PatternKind::Glob
        } else {
            PatternKind::Exact
        };
        Self {
            source: source.to_owned(),
            text,
            kind,
            case_insensitive,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether it matches everything (it is all `*`).
    pub fn matches_anything(&self) -> bool {
        self.kind == PatternKind::Anything
    }

    pub fn matches(&self, candidate: &str) -> bool {
        match self.kind {
            PatternKind::Anything => true,
            PatternKind::Exact if self.case_insensitive => {
                self.text.eq_ignore_ascii_case(candidate)
            }
            PatternKind::Exact => self.text == candidate,
            PatternKind::Glob if self.case_insensitive => glob_match(
                self.text.as_bytes(),
                candidate.to_ascii_lowercase().as_bytes(),
            ),
            PatternKind::Glob => glob_match(self.text.as_bytes(), candidate.as_bytes()),
        }
    }
}

/// Length in bytes of the UTF-8 character that starts with `lead`.
fn char_len(lead: u8) -> usize {
    match lead {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

/// Iterative wildcard match with single-star backtracking: linear in the common case and
/// O(pattern × text) at worst, with no recursion to exhaust the stack.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, text index it has consumed to).
    let mut resume: Option<(usize, usize)> = None;
    while let Some(&c) = text.get(t) {
        match pattern.get(p) {
            Some(b'*') => {
                resume = Some((p + 1, t));
                p += 1;
                continue;
            }
            Some(b'?') => {
                p += 1;
                t += char_len(c);
                continue;
            }
            Some(&pc) if pc == c => {
                p += 1;
                t += 1;
                continue;
            }
            _ => {}
        }
        match resume {
            Some((after_star, consumed)) => {
                let consumed = consumed + text.get(consumed).map_or(1, |&b| char_len(b));
                resume = Some((after_star, consumed));
                p = after_star;
                t = consumed;
            }
            None => return false,
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|&b| b == b'*'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn method_arn_parts_are_read() {
        let arn = MethodArn::parse(
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/petstore/v1/pets",
        )
        .unwrap();
        assert_eq!(arn.region(), "us-east-1");
        assert_eq!(arn.account(), "123456789012");
        assert_eq!(arn.api_id(), "abc123");
        assert_eq!(arn.stage(), "prod");
        assert_eq!(arn.method(), "GET");
        assert_eq!(arn.path(), "petstore/v1/pets");
        assert_eq!(
            arn.stage_wildcard(),
            "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*"
        );
    }

    #[test]
    fn root_resource_has_an_empty_path() {
        let arn = MethodArn::parse("arn:aws:execute-api:us-east-1:1:api/prod/GET/").unwrap();
        assert_eq!(arn.path(), "");
        let built = MethodArn::for_request("us-east-1", "1", "api", "prod", "GET", "/").unwrap();
        assert_eq!(built, arn);
    }

    #[test]
    fn malformed_method_arns_are_rejected_with_the_reason() {
        for bad in [
            "",
            "arn:aws:lambda:us-east-1:1:function:f",
            "arn:aws:execute-api:us-east-1:1:api/prod/GET",
            "arn:aws:execute-api::1:api/prod/GET/",
            "arn:aws:execute-api:us-east-1:1:api//GET/x",
        ] {
            let err = MethodArn::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("`{bad}`")), "{err}");
        }
    }

    #[test]
    fn star_matches_across_slashes_and_question_mark_one_character() {
        let p = Pattern::resource("arn:aws:execute-api:*:*:*/*/*/petstore/v1/*");
        assert!(p.matches("arn:aws:execute-api:us-east-1:1:api/prod/GET/petstore/v1/pets/1"));
        assert!(p.matches("arn:aws:execute-api:us-east-1:1:api/prod/POST/petstore/v1/"));
        assert!(!p.matches("arn:aws:execute-api:us-east-1:1:api/prod/GET/petstore/v2/pets"));
        let q = Pattern::resource("a/?/c");
        assert!(q.matches("a/b/c"));
        assert!(q.matches("a/é/c"));
        assert!(!q.matches("a/bb/c"));
        assert!(!q.matches("a//c"));
    }

    /// Found by the `matcher` fuzz target: an action pattern with a non-ASCII capital did not
    /// match the very same text, because only the pattern was lowercased (by Unicode rules).
    #[test]
    fn action_case_is_folded_for_ascii_only() {
        let odd = "aw\u{19}\u{23e}\u{15} \u{472}";
        assert!(Pattern::action(odd).matches(odd));
        assert!(Pattern::action("aw*\u{472}").matches(odd));
        // The Kelvin sign is not a `k`.
        assert!(!Pattern::action("execute-api:Invo\u{212a}e").matches("execute-api:Invoke"));
        assert!(!Pattern::action("execute-api:Invo\u{212a}*").matches("execute-api:Invoke"));
        assert!(Pattern::action("EXECUTE-API:invoke").matches("execute-api:Invoke"));
    }

    #[test]
    fn resources_are_case_sensitive_and_actions_are_not() {
        assert!(!Pattern::resource("a/GET/pets").matches("a/get/pets"));
        assert!(Pattern::action("execute-api:Invoke").matches("EXECUTE-API:invoke"));
        assert!(Pattern::action("execute-api:*").matches("execute-api:Invoke"));
        assert!(Pattern::action("Execute-Api:Inv?ke").matches("execute-api:INVOKE"));
    }

    #[test]
    fn star_in_the_arn_is_a_literal_character() {
        let arn = "arn:aws:execute-api:r:1:api/prod/GET/files/*";
        assert!(Pattern::resource("arn:aws:execute-api:r:1:api/prod/GET/files/*").matches(arn));
        assert!(!Pattern::resource("arn:aws:execute-api:r:1:api/prod/GET/files/x").matches(arn));
    }

    /// The obviously correct (exponential) definition the fast matcher must agree with.
    fn model(pattern: &[char], text: &[char]) -> bool {
        match (pattern.first(), text.first()) {
            (None, None) => true,
            (Some('*'), _) => {
                model(&pattern[1..], text) || (!text.is_empty() && model(pattern, &text[1..]))
            }
            (Some('?'), Some(_)) => model(&pattern[1..], &text[1..]),
            (Some(p), Some(t)) if p == t => model(&pattern[1..], &text[1..]),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn glob_agrees_with_the_model(
            pattern in "[ab/é*?]{0,10}",
            text in "[ab/é*?]{0,14}",
        ) {
            let pc: Vec<char> = pattern.chars().collect();
            let tc: Vec<char> = text.chars().collect();
            prop_assert_eq!(Pattern::resource(&pattern).matches(&text), model(&pc, &tc));
        }

        #[test]
        fn a_pattern_without_wildcards_matches_only_itself(text in "[a-zA-Z/]{0,12}", other in "[a-zA-Z/]{0,12}") {
            let p = Pattern::resource(&text);
            prop_assert!(p.matches(&text));
            prop_assert_eq!(p.matches(&other), text == other);
        }
    }
}
