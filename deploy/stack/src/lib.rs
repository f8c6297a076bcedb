//! This product's CloudFormation, as data: built from `policies/` and `deploy/groupgate.toml`
//! with the construct library (`groupgate-construct`), and without the AWS SDKs, so that what
//! the stack is can be read, tested and linted offline.
//!
//! - [`api`]: the API, read from its OpenAPI document (`api/petstore.yaml` by default): its
//!   operations, who may call them without a token, and where each is integrated;
//! - [`app`]: the app stack (user pool, tables, functions, REST API, alarms) and the gateway
//!   responses, which the local gateway serves too;
//! - [`groups`]: the group definitions in `policies/`, the source of groups, roles and policies;
//! - [`settings`]: the settings that shape the template (`deploy/groupgate.toml`);
//! - [`assets`]: the Lambda zips and their content-addressed S3 keys;
//! - [`monitoring`]: the alarms and the dashboard;
//! - [`outputs`]: the app stack's outputs, named once: written into the template, read back
//!   from a deployed stack;
//! - [`attach`]: the authorizer-only stack, for a REST API defined elsewhere;
//! - [`bootstrap`]: the stack created once per account and region before any app stack.
//!
//! The operator's tool (`groupgate-cli`) deploys what this crate describes.

// No function over `too-many-lines-threshold` (clippy.toml) lines outside the tests.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

use groupgate_construct as construct;

pub mod api;
pub mod app;
pub mod assets;
pub mod attach;
pub mod bootstrap;
pub mod groups;
pub mod monitoring;
pub mod outputs;
pub mod settings;

pub use api::{Api, Integration, Operation};
pub use app::{
    DATA_RESOURCES, DEPLOYED_API_TYPES, FUNCTIONS, GATEWAY_RESPONSES, IDENTITY_HEADER,
    POLICY_CACHE_TTL_SECONDS, POLICY_LANGUAGE_VARIABLE, api_digest, build, gateway_hints,
    identity_sources,
};
pub use outputs::{Output, StackOutputs};
pub use settings::Settings;
