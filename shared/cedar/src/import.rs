//! The schema and policies in the form Verified Permissions takes them: the schema as the JSON
//! text `PutSchema` takes (`definition.cedarJson`,
//! <https://docs.aws.amazon.com/verifiedpermissions/latest/apireference/API_PutSchema.html>),
//! and each policy as one static policy's Cedar statement, as `CreatePolicy` takes it
//! (`definition.static.statement`, with the policy's id as its description,
//! <https://docs.aws.amazon.com/verifiedpermissions/latest/apireference/API_StaticPolicyDefinition.html>).
//! One JSON document holds both, so a script can make the calls from it; reading it back gives
//! the same schema and policies (Verified Permissions gives policies its own ids; the
//! description keeps ours).

use serde_json::{Value, json};

use crate::error::Error;
use crate::policies::{CedarPolicies, Statement, file_of_id};
use crate::schema::ApiSchema;

/// The document of a schema and its policies, in Verified Permissions' request shapes.
pub fn to_import_json(schema: &ApiSchema, policies: &CedarPolicies) -> String {
    let policies: Vec<Value> = policies
        .statements()
        .iter()
        .map(|s| {
            json!({
                "definition": {
                    "static": { "description": s.id, "statement": s.text }
                }
            })
        })
        .collect();
    let document = json!({
        "schema": { "definition": { "cedarJson": schema.to_json_string() } },
        "policies": policies,
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
}

/// The schema and policies of a document [`to_import_json`] wrote, validated again.
pub fn from_import_json(text: &str) -> Result<(ApiSchema, CedarPolicies), Error> {
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
        statements.push(Statement {
            file: file_of_id(&id).to_owned(),
            text: field("statement")?.to_owned(),
            id,
        });
    }
    let policies = CedarPolicies::from_statements(statements, &schema)?;
    Ok((schema, policies))
}
