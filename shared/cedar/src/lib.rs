//! Cedar policies per Cognito group, decided in-process, in the shape of Amazon Verified
//! Permissions' API-linked policy stores (issue 24): the toolbox, the deploy and the authorizer's
//! `cedar` feature use it.
//!
//! - `schema`: [`ApiSchema`], the Cedar schema generated from an API's routes (`User` in
//!   `UserGroup`, `Application`, one action per method such as `"get /pets/{id}"`);
//! - `policies`: [`CedarPolicies`], `*.cedar` files read into one policy set, each policy named
//!   after its file (`admin.cedar#0`), validated strictly against the schema;
//! - `decide`: [`CedarPolicyStore::decide`], a caller's groups and a route in, a
//!   [`CedarDecision`] with the policies that determined it out; any error denies;
//! - `bundle`: [`CedarBundle`], the schema, policies and API name as the deploy stores them for
//!   the authorizer (one item of the policy table), read back and validated again;
//! - `import`: the schema and policies in the form Verified Permissions imports, and back;
//! - `pool`: groupgate's ids (`UserGroup::"admin"`, `User::"{sub}"`) to and from Verified
//!   Permissions' pool-qualified ones (`"{userPoolId}|admin"`), and [`NamedIds`], which of the
//!   two a set uses (the decision accepts both);
//! - `error`: [`Error`], and the [`Problem`] (file, line, Cedar's message) of a policy error.

mod bundle;
mod decide;
mod error;
mod import;
mod policies;
mod pool;
mod schema;

pub use bundle::{BUNDLE_ATTRIBUTE, BUNDLE_KEY, CedarBundle};
pub use decide::{CallerPool, CedarCaller, CedarDecision, CedarPolicyStore};
pub use error::{Error, Problem};
pub use import::{from_import_json, to_import_json, to_import_json_leaving_out};
pub use policies::{CedarPolicies, EXTENSION, Statement};
pub use pool::{NamedIds, pool_of};
pub use schema::{APPLICATION, ApiSchema, USER, USER_GROUP, action_name, namespace_of};
