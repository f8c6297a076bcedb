//! A group's entry in the policy table, as the decision sees it: the group, its parsed policy
//! (or why it could not be used), and the role its members act as.

use crate::error::PolicyError;
use crate::policy::PolicyDocument;

/// A group's entry in the policy table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPolicy {
    pub group: String,
    /// The parsed policy, or why it could not be used (the group then denies everything).
    pub policy: Result<PolicyDocument, PolicyError>,
    pub role_arn: Option<String>,
    pub precedence: Option<i64>,
}

impl GroupPolicy {
    /// An entry whose policy cannot be used (the group then denies everything).
    pub fn invalid(group: String, why: &str) -> Self {
        Self {
            group,
            policy: Err(PolicyError(why.to_owned())),
            role_arn: None,
            precedence: None,
        }
    }
}
