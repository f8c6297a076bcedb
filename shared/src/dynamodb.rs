//! The policy table in DynamoDB (feature `dynamodb`): items read into [`GroupPolicy`]s, with
//! BatchGetItem per request, and with one bounded Scan at start-up.
//!
//! An item is `group` (S, the partition key), `policy` (S, the policy document as JSON text),
//! and optionally `role_arn` (S) and `precedence` (N).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use crate::error::{Error, PolicyError, StoreFailure};
use crate::group::GroupPolicy;
use crate::policy::PolicyDocument;
use crate::store::PolicySource;

/// DynamoDB's limit on keys in one BatchGetItem call.
pub const BATCH_GET_MAX_KEYS: usize = 100;

impl GroupPolicy {
    /// Reads a policy-table item. `None` when the item has no string `group` key at all.
    pub fn from_item(item: &HashMap<String, AttributeValue>) -> Option<Self> {
        let group = item.get("group")?.as_s().ok()?.clone();
        let policy = match item.get("policy") {
            Some(AttributeValue::S(text)) => PolicyDocument::from_json(text),
            Some(_) => Err(PolicyError("attribute `policy` is not a string".to_owned())),
            None => Err(PolicyError("attribute `policy` is missing".to_owned())),
        };
        let role_arn = match item.get("role_arn") {
            None => None,
            Some(AttributeValue::S(arn)) => Some(arn.clone()),
            Some(_) => {
                return Some(Self::invalid(group, "attribute `role_arn` is not a string"));
            }
        };
        let precedence = match item.get("precedence") {
            None => None,
            Some(AttributeValue::N(n)) => match n.parse() {
                Ok(n) => Some(n),
                Err(_) => {
                    return Some(Self::invalid(
                        group,
                        &format!("attribute `precedence` `{n}` is not an integer"),
                    ));
                }
            },
            Some(_) => {
                return Some(Self::invalid(
                    group,
                    "attribute `precedence` is not a number",
                ));
            }
        };
        Some(Self {
            group,
            policy,
            role_arn,
            precedence,
        })
    }
}

/// How often and how patiently `UnprocessedKeys` are retried before giving up.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub retries: u32,
    pub first_delay: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            retries: 4,
            first_delay: Duration::from_millis(25),
        }
    }
}

/// Reads the policy table with BatchGetItem.
#[derive(Clone)]
pub struct DynamoPolicySource {
    client: aws_sdk_dynamodb::Client,
    table: String,
    backoff: Backoff,
}

impl DynamoPolicySource {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String, backoff: Backoff) -> Self {
        Self {
            client,
            table,
            backoff,
        }
    }

    /// A failed call on the table, of the kind its SDK error says, with the whole error chain.
    fn failed<E>(&self, operation: &str, error: SdkError<E>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Error::Store {
            kind: failure_kind(&error),
            detail: format!(
                "{operation} on `{}`: {}",
                self.table,
                crate::sdk_error::cause(&error)
            ),
        }
    }

    /// The item keyed `key` (the `group` attribute), with only `attribute`; `None` when the
    /// table has no such item. The authorizer reads the Cedar policy set's one item with it.
    pub async fn get_item(
        &self,
        key: &str,
        attribute: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, Error> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("group", AttributeValue::S(key.to_owned()))
            .projection_expression("#a")
            .expression_attribute_names("#a", attribute)
            .send()
            .await
            .map_err(|e| self.failed("GetItem", e))?;
        Ok(output.item)
    }

    async fn fetch_chunk(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Error> {
        let keys = groups
            .iter()
            .map(|g| HashMap::from([("group".to_owned(), AttributeValue::S(g.clone()))]))
            .collect::<Vec<_>>();
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(false)
            // `group` is a DynamoDB reserved word; name every attribute through a placeholder.
            .projection_expression("#g, #p, #r, #n")
            .expression_attribute_names("#g", "group")
            .expression_attribute_names("#p", "policy")
            .expression_attribute_names("#r", "role_arn")
            .expression_attribute_names("#n", "precedence")
            .build()
            .map_err(|e| Error::store(e.to_string()))?;
        let mut found = Vec::new();
        let mut delay = self.backoff.first_delay;
        for attempt in 0..=self.backoff.retries {
            if attempt > 0 {
                tokio::time::sleep(delay).await;
                delay = delay.saturating_mul(2);
            }
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| self.failed("BatchGetItem", e))?;
            if let Some(items) = output.responses.and_then(|mut r| r.remove(&self.table)) {
                found.extend(items.iter().filter_map(GroupPolicy::from_item));
            }
            match output
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .filter(|k| !k.keys.is_empty())
            {
                None => return Ok(found),
                Some(rest) => request = rest,
            }
        }
        // Keys come back unprocessed when the table's throughput is exceeded, a partition is
        // asked for over 1 MB, the response passes 16 MB, or on an internal failure:
        // https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html
        // A batch of small policy items, one per partition key, meets neither size limit, so
        // what is left after the retries is throttling (rarely, an internal failure).
        Err(Error::Store {
            kind: StoreFailure::Throttled,
            detail: format!(
                "BatchGetItem on `{}` left keys unprocessed after {} retries",
                self.table, self.backoff.retries
            ),
        })
    }
}

impl PolicySource for DynamoPolicySource {
    async fn fetch(&self, groups: &[String]) -> Result<Vec<GroupPolicy>, Error> {
        let mut found = Vec::with_capacity(groups.len());
        for chunk in groups.chunks(BATCH_GET_MAX_KEYS) {
            found.extend(self.fetch_chunk(chunk).await?);
        }
        Ok(found)
    }

    /// Scans the table, page by page, giving up (`None`) once it holds more than `limit` items.
    async fn list_all(&self, limit: usize) -> Result<Option<Vec<GroupPolicy>>, Error> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .projection_expression("#g, #p, #r, #n")
                .expression_attribute_names("#g", "group")
                .expression_attribute_names("#p", "policy")
                .expression_attribute_names("#r", "role_arn")
                .expression_attribute_names("#n", "precedence")
                .set_exclusive_start_key(start)
                .limit(i32::try_from(limit.saturating_add(1)).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| self.failed("Scan", e))?;
            found.extend(page.items().iter().filter_map(GroupPolicy::from_item));
            if found.len() > limit {
                return Ok(None);
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(Some(found)),
            }
        }
    }
}

/// DynamoDB's error codes for a request refused for want of capacity (the SDK has retried them
/// already), and for one IAM refused; see "Error messages and codes" in
/// https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html
const THROTTLING_CODES: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ThrottlingException",
];
const ACCESS_DENIED_CODE: &str = "AccessDeniedException";

/// The kind of a failed call: a timeout from the SDK's own error (its operation or attempt
/// timeout, or a connect timeout), throttling and access denied from the service's error code.
fn failure_kind<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> StoreFailure {
    match error {
        SdkError::TimeoutError(_) => StoreFailure::TimedOut,
        SdkError::DispatchFailure(failure) if failure.is_timeout() => StoreFailure::TimedOut,
        SdkError::ServiceError(service) => match service.err().code() {
            Some(code) if THROTTLING_CODES.contains(&code) => StoreFailure::Throttled,
            Some(ACCESS_DENIED_CODE) => StoreFailure::AccessDenied,
            _ => StoreFailure::Unavailable,
        },
        _ => StoreFailure::Unavailable,
    }
}

/// Creates an on-demand table keyed by one attribute (`key` of type `key_type`: `S` or `N`).
/// The local stack's provisioning and the emulator tests make their tables with it; the
/// deployed stack's tables come from the template.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    key: &str,
    key_type: aws_sdk_dynamodb::types::ScalarAttributeType,
) -> Result<(), Error> {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType};
    let failed = |e: &dyn std::fmt::Display| Error::store(format!("creating table `{name}`: {e}"));
    let definition = AttributeDefinition::builder()
        .attribute_name(key)
        .attribute_type(key_type)
        .build()
        .map_err(|e| failed(&e))?;
    let schema = KeySchemaElement::builder()
        .attribute_name(key)
        .key_type(KeyType::Hash)
        .build()
        .map_err(|e| failed(&e))?;
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(definition)
        .key_schema(schema)
        .send()
        .await
        .map_err(|e| failed(&crate::sdk_error::cause(&e)))?;
    Ok(())
}
