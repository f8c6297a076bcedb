//! The stack as code.
//!
//! - [`construct`]: a small typed construct library (stack, intrinsics, resource types);
//! - [`groups`]: the group definitions in `policies/`, the source of groups, roles and policies;
//! - [`stack`]: this product's stack, and the API's routes and authorizer settings;
//! - [`assets`]: the Lambda zips and their content-addressed S3 keys;
//! - [`seed`]: writes the group policies to the policy table;
//! - [`local`]: the local stack: emulator provisioning and the local API gateway.

pub mod assets;
pub mod construct;
pub mod groups;
pub mod local;
pub mod seed;
pub mod stack;
