//! The Cedar schema of an API, in the shape Verified Permissions gives an API-linked policy
//! store: a namespace holding the entity types `User` (member of `UserGroup`), `UserGroup` and
//! `Application`, and one action per method of each route, named `"get /pets/{id}"`, that
//! applies to a `User` on the `Application` with an empty context.
//!
//! The action's name (lowercase method, a space, the resource path) and the group entity are as
//! in API Gateway's example of a Verified Permissions authorizer:
//! <https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-lambda-authorizer-verified-permissions.html>.
//! The store itself: <https://docs.aws.amazon.com/verifiedpermissions/latest/userguide/policy-stores_api-userpool.html>.

use std::collections::BTreeSet;
use std::str::FromStr as _;

use cedar_policy::{EntityTypeName, Schema};
use serde_json::{Value, json};

use crate::error::Error;

/// The entity type of a caller.
pub const USER: &str = "User";
/// The entity type of a Cognito group; a `User` is a member of its groups.
pub const USER_GROUP: &str = "UserGroup";
/// The entity type of the API, the one resource every action applies to.
pub const APPLICATION: &str = "Application";

/// The methods API Gateway serves; `ANY` stands for all of them.
/// <https://docs.aws.amazon.com/apigateway/latest/api/API_PutMethod.html> (`httpMethod`).
const METHODS: [&str; 7] = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"];

/// The schema of one API: Cedar's [`Schema`] to validate and authorize with, and its JSON
/// form, the one Verified Permissions imports (`PutSchema`'s `cedarJson`).
#[derive(Debug, Clone)]
pub struct ApiSchema {
    namespace: String,
    json: Value,
    schema: Schema,
}

impl ApiSchema {
    /// The schema for `routes`, each a method (`GET`, …, or `ANY`) and a resource path as the
    /// API declares it (`/pets/{id}`). An `ANY` route gets an action for each method API
    /// Gateway serves, since the request (and so the action asked) names its own method.
    pub fn for_routes(namespace: &str, routes: &[(&str, &str)]) -> Result<Self, Error> {
        entity_type(namespace, USER)?;
        let mut actions = BTreeSet::new();
        for (method, path) in routes {
            for method in expand(method, path)? {
                actions.insert(action_name(method, path));
            }
        }
        let applies_to = json!({
            "principalTypes": [USER],
            "resourceTypes": [APPLICATION],
            "context": { "type": "Record", "attributes": {} },
        });
        let empty = json!({ "shape": { "type": "Record", "attributes": {} } });
        let json = json!({
            namespace: {
                "entityTypes": {
                    USER: {
                        "memberOfTypes": [USER_GROUP],
                        "shape": { "type": "Record", "attributes": {} },
                    },
                    USER_GROUP: empty,
                    APPLICATION: empty,
                },
                "actions": actions
                    .into_iter()
                    .map(|name| (name, json!({ "appliesTo": applies_to })))
                    .collect::<serde_json::Map<_, _>>(),
            }
        });
        Self::from_json(json)
    }

    /// A schema in Verified Permissions' JSON form, such as one [`ApiSchema::to_json_string`]
    /// wrote. It must hold exactly one namespace, with the three entity types.
    pub fn from_json(json: Value) -> Result<Self, Error> {
        let namespace = match json.as_object().map(|o| o.keys().collect::<Vec<_>>()) {
            Some(keys) if keys.len() == 1 => keys.into_iter().map(String::as_str).collect(),
            _ => {
                return Err(Error::Schema(
                    "a schema holds exactly one namespace, as a Verified Permissions store does"
                        .to_owned(),
                ));
            }
        };
        let schema =
            Schema::from_json_value(json.clone()).map_err(|e| Error::Schema(e.to_string()))?;
        let this = Self {
            namespace,
            json,
            schema,
        };
        for name in [USER, USER_GROUP, APPLICATION] {
            let ty = this.entity_type(name)?;
            if !this.schema.entity_types().any(|t| *t == ty) {
                return Err(Error::Schema(format!(
                    "the schema has no entity type `{ty}`"
                )));
            }
        }
        Ok(this)
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The JSON text Verified Permissions imports, pretty-printed.
    pub fn to_json_string(&self) -> String {
        // A `Value` always serializes.
        serde_json::to_string_pretty(&self.json).unwrap_or_default()
    }

    /// `name` (`User`, …) in this schema's namespace.
    pub(crate) fn entity_type(&self, name: &str) -> Result<EntityTypeName, Error> {
        entity_type(&self.namespace, name)
    }
}

/// The namespace for an API named `title` (its OpenAPI `info.title`): the title with every
/// character other than an ASCII letter, digit or `_` made a `_`, and a `_` before a leading
/// digit, so any title gives a Cedar identifier (`petstore` stays `petstore`; `Pet Store v2`
/// is `Pet_Store_v2`).
pub fn namespace_of(title: &str) -> String {
    let mut namespace: String = title
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if namespace.is_empty() || namespace.starts_with(|c: char| c.is_ascii_digit()) {
        namespace.insert(0, '_');
    }
    namespace
}

/// The action of a method on a route: `get /pets/{id}`.
pub fn action_name(method: &str, path: &str) -> String {
    format!("{} {path}", method.to_ascii_lowercase())
}

fn entity_type(namespace: &str, name: &str) -> Result<EntityTypeName, Error> {
    EntityTypeName::from_str(&format!("{namespace}::{name}"))
        .map_err(|_| Error::Namespace(namespace.to_owned()))
}

/// The methods a route's actions are named for.
fn expand<'a>(method: &'a str, path: &str) -> Result<Vec<&'a str>, Error> {
    let bad = |why| Error::Route {
        method: method.to_owned(),
        path: path.to_owned(),
        why,
    };
    if !path.starts_with('/') {
        return Err(bad("a resource path starts with `/`"));
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("a resource path has no spaces or control characters"));
    }
    match method {
        "ANY" => Ok(METHODS.to_vec()),
        m if METHODS.contains(&m) => Ok(vec![m]),
        _ => Err(bad(
            "the method is not one API Gateway serves (upper case, or `ANY`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_method_is_an_action_named_like_verified_permissions_does() {
        let schema = ApiSchema::for_routes(
            "petstore",
            &[("GET", "/pets"), ("POST", "/pets"), ("GET", "/pets/{id}")],
        )
        .unwrap();
        let actions: Vec<String> = schema
            .schema()
            .actions()
            .map(|a| a.id().unescaped().to_owned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(actions, ["get /pets", "get /pets/{id}", "post /pets"]);
        let user = &schema.json()["petstore"]["entityTypes"]["User"];
        assert_eq!(user["memberOfTypes"], json!(["UserGroup"]));
        let get = &schema.json()["petstore"]["actions"]["get /pets"]["appliesTo"];
        assert_eq!(get["principalTypes"], json!(["User"]));
        assert_eq!(get["resourceTypes"], json!(["Application"]));
    }

    #[test]
    fn any_title_gives_a_namespace() {
        assert_eq!(namespace_of("petstore"), "petstore");
        assert_eq!(namespace_of("Pet Store v2"), "Pet_Store_v2");
        assert_eq!(namespace_of("2fa-api"), "_2fa_api");
        assert_eq!(namespace_of(""), "_");
        for title in ["Pet Store v2", "2fa-api", "", "élan"] {
            ApiSchema::for_routes(&namespace_of(title), &[("GET", "/")]).unwrap();
        }
    }

    #[test]
    fn an_any_route_has_an_action_for_every_method() {
        let schema = ApiSchema::for_routes("api", &[("ANY", "/{proxy+}")]).unwrap();
        assert_eq!(schema.schema().actions().count(), METHODS.len());
        assert!(schema.json()["api"]["actions"]["delete /{proxy+}"].is_object());
    }

    #[test]
    fn the_json_text_reads_back_as_the_same_schema() {
        let schema = ApiSchema::for_routes("petstore", &[("GET", "/pets")]).unwrap();
        let text = schema.to_json_string();
        let back = ApiSchema::from_json(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back.json(), schema.json());
        assert_eq!(back.namespace(), "petstore");
    }

    #[test]
    fn a_bad_namespace_method_or_path_is_named() {
        let e = ApiSchema::for_routes("pet store", &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`pet store` is not a Cedar namespace (one or more identifiers joined by `::`)"
        );
        let e = ApiSchema::for_routes("p", &[("get", "/pets")]).unwrap_err();
        assert!(
            e.to_string().starts_with("`get /pets` is not a route"),
            "{e}"
        );
        let e = ApiSchema::for_routes("p", &[("GET", "pets")]).unwrap_err();
        assert!(e.to_string().contains("starts with `/`"), "{e}");
    }

    #[test]
    fn a_schema_without_the_api_linked_entity_types_is_refused() {
        let json = json!({ "ns": { "entityTypes": { "User": {} }, "actions": {} } });
        let e = ApiSchema::from_json(json).unwrap_err();
        assert!(
            e.to_string().contains("no entity type `ns::UserGroup`"),
            "{e}"
        );
        let two = json!({ "a": { "entityTypes": {}, "actions": {} }, "b": { "entityTypes": {}, "actions": {} } });
        assert!(ApiSchema::from_json(two).is_err());
    }
}
