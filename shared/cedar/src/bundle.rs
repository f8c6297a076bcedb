//! What the deploy stores for the authorizer: the schema, the policies (each with its id, file
//! and line) and the API they guard, as one JSON text in one item of the policy table
//! (key [`BUNDLE_KEY`], attribute [`BUNDLE_ATTRIBUTE`]). Read back, the schema is parsed and
//! the policies validated strictly again, so a stored set that is not valid (edited by hand, or
//! written by another version) is refused whole, with what and where, never used in part.
//!
//! ```json
//! {"format": 1, "application": "petstore", "schema": {...},
//!  "policies": [{"id": "admin.cedar#0", "file": "admin.cedar", "line": 3, "text": "permit (...);"}]}
//! ```

use serde_json::{Map, Value, json};

use crate::decide::CedarPolicyStore;
use crate::error::Error;
use crate::policies::{CedarPolicies, Statement};
use crate::schema::ApiSchema;

/// The policy table's key (`group`) of the bundle's item: no group is named so, since a group
/// name cannot start with `#` (the policy keys are group names, `pool:group` and `scope:...`).
pub const BUNDLE_KEY: &str = "#cedar";
/// The item's string attribute that holds the bundle's JSON text.
pub const BUNDLE_ATTRIBUTE: &str = "cedar";
/// The one format this version reads and writes.
const FORMAT: u64 = 1;

/// A schema, its policies and the API's name, as stored.
#[derive(Debug, Clone)]
pub struct CedarBundle {
    application: String,
    schema: Value,
    statements: Vec<Statement>,
}

impl CedarBundle {
    /// The bundle of a validated policy set; `application` names the resource,
    /// `Application::"{application}"` (the API's title).
    pub fn new(schema: &ApiSchema, policies: &CedarPolicies, application: &str) -> Self {
        Self {
            application: application.to_owned(),
            schema: schema.json().clone(),
            statements: policies.statements().to_vec(),
        }
    }

    pub fn application(&self) -> &str {
        &self.application
    }

    /// The bundle's JSON text, compact (it is stored, not read by people).
    pub fn to_json(&self) -> String {
        let policies: Vec<Value> = self
            .statements
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "file": s.file,
                    "line": s.line,
                    "text": s.text,
                })
            })
            .collect();
        let document = json!({
            "format": FORMAT,
            "application": self.application,
            "schema": self.schema,
            "policies": policies,
        });
        document.to_string()
    }

    /// A bundle read from its JSON text. Only its shape is checked here: the schema and the
    /// policies are checked by [`CedarBundle::into_store`].
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let bad = |what: String| Error::Bundle(what);
        let document: Value =
            serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
        let object = document
            .as_object()
            .ok_or_else(|| bad("not a JSON object".to_owned()))?;
        expect_fields(object, "", &["format", "application", "schema", "policies"])?;
        match object.get("format").and_then(Value::as_u64) {
            Some(FORMAT) => {}
            _ => {
                return Err(bad(format!(
                    "`format` is {}, and this authorizer reads format {FORMAT}",
                    object.get("format").unwrap_or(&Value::Null)
                )));
            }
        }
        let application = string(object, "application", "")?.to_owned();
        let schema = object
            .get("schema")
            .filter(|s| s.is_object())
            .cloned()
            .ok_or_else(|| bad("`schema` is not a JSON object".to_owned()))?;
        let list = object
            .get("policies")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("`policies` is not a list".to_owned()))?;
        let mut statements = Vec::with_capacity(list.len());
        for (n, policy) in list.iter().enumerate() {
            let at = format!("policies/{n}/");
            let policy = policy
                .as_object()
                .ok_or_else(|| bad(format!("`{at}` is not a JSON object")))?;
            expect_fields(policy, &at, &["id", "file", "line", "text"])?;
            let line = match policy.get("line") {
                None | Some(Value::Null) => None,
                Some(line) => Some(
                    line.as_u64()
                        .filter(|l| *l > 0)
                        .and_then(|l| usize::try_from(l).ok())
                        .ok_or_else(|| bad(format!("`{at}line` is not a line number")))?,
                ),
            };
            statements.push(Statement {
                id: string(policy, "id", &at)?.to_owned(),
                file: string(policy, "file", &at)?.to_owned(),
                text: string(policy, "text", &at)?.to_owned(),
                line,
            });
        }
        Ok(Self {
            application,
            schema,
            statements,
        })
    }

    /// The store to decide with: the schema parsed, the policies parsed and validated against
    /// it in strict mode. Any problem refuses the whole bundle.
    pub fn into_store(self) -> Result<CedarPolicyStore, Error> {
        let schema = ApiSchema::from_json(self.schema)?;
        let policies = CedarPolicies::from_stored(self.statements, &schema)?;
        CedarPolicyStore::new(schema, policies, &self.application)
    }
}

/// A refusal of a field `object` has that it should not, or one it lacks (`line` may lack).
fn expect_fields(object: &Map<String, Value>, at: &str, known: &[&str]) -> Result<(), Error> {
    if let Some(unknown) = object.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::Bundle(format!(
            "`{at}{unknown}` is not a field of a bundle"
        )));
    }
    Ok(())
}

fn string<'a>(object: &'a Map<String, Value>, field: &str, at: &str) -> Result<&'a str, Error> {
    object
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::Bundle(format!("`{at}{field}` is not a string")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICIES: &str = r#"// Staff read.
permit (
    principal in api::UserGroup::"staff",
    action == api::Action::"get /pets",
    resource
);
"#;

    fn bundle() -> CedarBundle {
        let schema = ApiSchema::for_routes("api", &[("GET", "/pets"), ("POST", "/pets")]).unwrap();
        let files = [("staff.cedar".to_owned(), POLICIES.to_owned())];
        let policies = CedarPolicies::from_files(&files, &schema).unwrap();
        CedarBundle::new(&schema, &policies, "api")
    }

    fn edited(edit: impl FnOnce(&mut Value)) -> String {
        let mut json: Value = serde_json::from_str(&bundle().to_json()).unwrap();
        edit(&mut json);
        json.to_string()
    }

    #[test]
    fn the_json_has_the_agreed_shape() {
        let json: Value = serde_json::from_str(&bundle().to_json()).unwrap();
        assert_eq!(json["format"], 1);
        assert_eq!(json["application"], "api");
        assert!(json["schema"]["api"]["actions"]["get /pets"].is_object());
        assert_eq!(json["policies"][0]["id"], "staff.cedar#0");
        assert_eq!(json["policies"][0]["file"], "staff.cedar");
        assert_eq!(json["policies"][0]["line"], 2);
        assert!(
            json["policies"][0]["text"]
                .as_str()
                .unwrap()
                .starts_with("permit")
        );
    }

    #[test]
    fn a_bundle_read_back_decides() {
        let store = CedarBundle::from_json(&bundle().to_json())
            .unwrap()
            .into_store()
            .unwrap();
        assert!(store.decide("sub", &["staff"], "GET", "/pets").allow);
        assert!(!store.decide("sub", &["staff"], "POST", "/pets").allow);
        assert_eq!(store.policies().statements()[0].line, Some(2));
    }

    #[test]
    fn an_unknown_format_is_refused() {
        let text = edited(|j| j["format"] = json!(2));
        let e = CedarBundle::from_json(&text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the stored Cedar bundle is not valid: `format` is 2, and this authorizer reads format 1"
        );
    }

    #[test]
    fn a_missing_or_unknown_field_is_named() {
        let text = edited(|j| {
            j["policies"][0]
                .as_object_mut()
                .unwrap()
                .remove("text")
                .map(drop)
                .unwrap()
        });
        let e = CedarBundle::from_json(&text).unwrap_err();
        assert!(
            e.to_string().ends_with("`policies/0/text` is not a string"),
            "{e}"
        );
        let text = edited(|j| j["policy"] = json!([]));
        let e = CedarBundle::from_json(&text).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("`policy` is not a field of a bundle"),
            "{e}"
        );
        let e = CedarBundle::from_json("[]").unwrap_err();
        assert!(e.to_string().ends_with("not a JSON object"), "{e}");
    }

    #[test]
    fn bad_policy_text_is_refused_with_its_file_and_line() {
        let text = edited(|j| {
            j["policies"][0]["text"] = json!(
                "permit (\n    principal in api::UserGroup::\"staff\"\n    action,\n    resource\n);"
            );
        });
        let e = CedarBundle::from_json(&text)
            .unwrap()
            .into_store()
            .unwrap_err();
        let message = e.to_string();
        assert!(
            message.starts_with("the Cedar policies are not valid:"),
            "{message}"
        );
        assert!(message.contains("staff.cedar:"), "{message}");
        assert!(message.contains("`staff.cedar#0`"), "{message}");
    }

    #[test]
    fn a_policy_the_schema_does_not_have_is_refused_with_its_file_and_line() {
        // The schema lost `post /pets`, a policy still names it.
        let text = edited(|j| {
            j["policies"][0]["text"] = json!(
                "permit (\n    principal,\n    action == api::Action::\"post /pets\",\n    resource\n);"
            );
            j["schema"]["api"]["actions"]
                .as_object_mut()
                .unwrap()
                .remove("post /pets");
        });
        let e = CedarBundle::from_json(&text)
            .unwrap()
            .into_store()
            .unwrap_err();
        let Error::Policies(problems) = &e else {
            panic!("{e}")
        };
        assert_eq!(problems.len(), 1, "{e}");
        assert_eq!(problems[0].file, "staff.cedar");
        // The policy starts on line 2 of its file; the action is its third line.
        assert_eq!(problems[0].line, Some(4), "{e}");
        assert!(problems[0].message.contains("post /pets"), "{e}");
    }

    #[test]
    fn a_schema_that_is_not_cedar_is_refused() {
        let text = edited(|j| j["schema"] = json!({ "api": { "entityTypes": 3 } }));
        let e = CedarBundle::from_json(&text)
            .unwrap()
            .into_store()
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the generated schema is not valid Cedar"),
            "{e}"
        );
    }
}
