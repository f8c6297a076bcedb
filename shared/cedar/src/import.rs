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
use crate::pool::{check_pool_id, qualify, unqualify};
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
        statements.push(qualify(statement, pool_id)?);
    }
    Ok(document(schema, &statements))
}

/// [`to_import_json`], leaving out each policy that has no Verified Permissions form (one that
/// names another pool's group or a scope) instead of failing: the document, and the id of each
/// policy left out with why. A bad pool id is still an error.
pub fn to_import_json_leaving_out(
    schema: &ApiSchema,
    policies: &CedarPolicies,
    pool_id: &str,
) -> Result<(String, Vec<(String, String)>), Error> {
    check_pool_id(pool_id)?;
    let mut statements = Vec::new();
    let mut left_out = Vec::new();
    for statement in policies.statements() {
        match qualify(statement, pool_id) {
            Ok(s) => statements.push(s),
            Err(why) => left_out.push((statement.id.clone(), why.to_string())),
        }
    }
    Ok((document(schema, &statements), left_out))
}

fn document(schema: &ApiSchema, statements: &[Statement]) -> String {
    let statements: Vec<Value> = statements
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
        "policies": statements,
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn policies() -> (ApiSchema, CedarPolicies) {
        let schema = ApiSchema::for_routes("api", &[("GET", "/pets")]).unwrap();
        let files = [
            (
                "admin.cedar".to_owned(),
                r#"permit (principal in api::UserGroup::"admin", action, resource);"#.to_owned(),
            ),
            (
                "partners.cedar".to_owned(),
                r#"permit (principal in api::UserGroup::"partners:admin", action, resource);"#
                    .to_owned(),
            ),
        ];
        let policies = CedarPolicies::from_files(&files, &schema).unwrap();
        (schema, policies)
    }

    #[test]
    fn a_policy_without_a_verified_permissions_form_is_left_out_and_named() {
        let (schema, policies) = policies();
        let error = to_import_json(&schema, &policies, "us-east-1_EXAMPLE").unwrap_err();
        assert!(error.to_string().contains("partners:admin"), "{error}");

        let (document, left_out) =
            to_import_json_leaving_out(&schema, &policies, "us-east-1_EXAMPLE").unwrap();
        assert_eq!(left_out.len(), 1);
        assert_eq!(left_out[0].0, "partners.cedar#0");
        assert!(
            left_out[0].1.contains("one identity source"),
            "{left_out:?}"
        );
        let (_, back) = from_import_json(&document, "us-east-1_EXAMPLE").unwrap();
        let ids: Vec<&str> = back.statements().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["admin.cedar#0"]);
    }

    #[test]
    fn a_bad_pool_id_is_an_error_not_a_policy_left_out() {
        let (schema, policies) = policies();
        assert!(to_import_json_leaving_out(&schema, &policies, "a|b").is_err());
        assert!(to_import_json_leaving_out(&schema, &policies, "").is_err());
    }
}
