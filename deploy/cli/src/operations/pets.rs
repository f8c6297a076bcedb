//! The petstore's table, seeded by the operator's tool: the deploy, `groupgate seed-pets` and the
//! local stack write the default pets into an empty pets table. The function never does: with
//! group roles assumed its own role has no access to the table at all. `groupgate remove-pets`
//! deletes what a smoke test wrote.
//!
//! The table's layout is the backend's (`backend/src/pets.rs`): key `id` (N), a pet's `name`
//! (S), and item `id = 0` holding the id counter `next_id`. `deploy/cli/tests/pets.rs` holds
//! this copy to the backend's reading of it.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

/// What an empty table is seeded with, as in the sample this product generalizes; ids 1 to 4.
pub const DEFAULT_PETS: [&str; 4] = ["Birds", "Cats", "Dogs", "Fish"];
/// The id of the counter item.
const COUNTER_ID: &str = "0";

/// Writes the default pets and the id counter into `table` if it is empty; `true` when it did.
/// Safe to run twice, or twice at once: every write is conditional.
pub async fn seed_defaults(client: &Client, table: &str) -> anyhow::Result<bool> {
    let scan = client
        .scan()
        .table_name(table)
        .limit(1)
        .send()
        .await
        .map_err(|e| failed("Scan", table, e))?;
    if scan.count > 0 {
        return Ok(false);
    }
    let pets = DEFAULT_PETS.iter().zip(1u64..).map(|(name, id)| {
        (
            id.to_string(),
            ("name", AttributeValue::S((*name).to_owned())),
        )
    });
    let counter = (
        COUNTER_ID.to_owned(),
        ("next_id", AttributeValue::N(DEFAULT_PETS.len().to_string())),
    );
    for (id, (attribute, value)) in pets.chain([counter]) {
        let put = client
            .put_item()
            .table_name(table)
            .item("id", AttributeValue::N(id))
            .item(attribute, value)
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match put {
            Ok(_) => {}
            // Seeded by another run at the same time: fine.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(failed("PutItem", table, e)),
        }
    }
    Ok(true)
}

/// Deletes pet `id` from `table` (a smoke test removing what it wrote: the API has no DELETE).
pub async fn remove(client: &Client, table: &str, id: u64) -> anyhow::Result<()> {
    client
        .delete_item()
        .table_name(table)
        .key("id", AttributeValue::N(id.to_string()))
        .send()
        .await
        .map_err(|e| crate::aws::failed(format!("deleting pet {id} from `{table}`"), e))?;
    Ok(())
}

fn failed<E>(call: &str, table: &str, e: aws_sdk_dynamodb::error::SdkError<E>) -> anyhow::Error
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    crate::aws::failed(format!("seeding `{table}`: DynamoDB {call}"), e)
}
