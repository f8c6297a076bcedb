//! The schema and policies in the form Verified Permissions takes them: the schema as the JSON
//! text `PutSchema` takes (`definition.cedarJson`,
//! <https://docs.aws.amazon.com/verifiedpermissions/latest/apireference/API_PutSchema.html>),
//! and each policy as one static policy's Cedar statement, as `CreatePolicy` takes it
//! (`definition.static.statement`, with the policy's id as its description,
//! <https://docs.aws.amazon.com/verifiedpermissions/latest/apireference/API_StaticPolicyDefinition.html>).
//! One JSON document holds both, so a script can make the calls from it; reading it back gives
//! the same schema and policies (Verified Permissions gives policies its own ids; the
//! description keeps ours). On the way out users and groups are qualified with the user pool's
//! id, as Verified Permissions names them, and on the way back the pool's id is taken off
//! (see [`crate::pool`]).

use serde_json::{Value, json};

use crate::error::Error;
use crate::policies::{CedarPolicies, Statement, file_of_id};
use crate::pool::{qualify, unqualify};
use crate::schema::ApiSchema;

/// The document of a schema and its policies, in Verified Permissions' request shapes, for a
/// store whose identity source is the user pool `pool_id`. A policy naming another pool's
/// group or a scope has no such form and is an error.
pub fn to_import_json(
    schema: &ApiSchema,
    policies: &CedarPolicies,
    pool_id: &str,
) -> Result<String, Error> {
    let mut statements = Vec::new();
    for statement in policies.statements() {
        let s = qualify(statement, pool_id)?;
        statements.push(json!({
            "definition": {
                "static": { "description": s.id, "statement": s.text }
            }
        }));
    }
    let document = json!({
        "schema": { "definition": { "cedarJson": schema.to_json_string() } },
        "policies": statements,
    });
    Ok(serde_json::to_string_pretty(&document).unwrap_or_default())
}

/// The schema and policies of a document [`to_import_json`] wrote for the pool `pool_id`, in
/// groupgate's names, validated again. A user or group of another pool is an error.
pub fn from_import_json(text: &str, pool_id: &str) -> Result<(ApiSchema, CedarPolicies), Error> {
    let bad = |what: &str| Error::Import(what.to_owned());
    let document: Value = serde_json::from_str(text).map_err(|e| Error::Import(e.to_string()))?;
    let cedar_json = document
        .pointer("/schema/definition/cedarJson")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("`/schema/definition/cedarJson` is not a string"))?;
    let schema_json: Value =
        serde_json::from_str(cedar_json).map_err(|e| Error::Import(format!("`cedarJson`: {e}")))?;
    let schema = ApiSchema::from_json(schema_json)?;
    let mut statements = Vec::new();
    for (n, policy) in document
        .get("policies")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("`/policies` is not a list"))?
        .iter()
        .enumerate()
    {
        let field = |name: &str| {
            policy
                .pointer(&format!("/definition/static/{name}"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    Error::Import(format!(
                        "`/policies/{n}/definition/static/{name}` is not a string"
                    ))
                })
        };
        let id = field("description")?.to_owned();
        let statement = Statement {
            file: file_of_id(&id).to_owned(),
            text: field("statement")?.to_owned(),
            id,
            line: None,
        };
        statements.push(unqualify(&statement, pool_id)?);
    }
    let policies = CedarPolicies::from_statements(statements, &schema)?;
    Ok((schema, policies))
}
