//! The operator's side: the stack as code, and the product on one machine.
//!
//! - [`construct`]: a small typed construct library (stack, intrinsics, resource types) that
//!   knows nothing of groupgate;
//! - [`stack`]: this product's stack, built from the group definitions in `policies/`, and the
//!   Lambda assets;
//! - [`operations`]: what an operator runs against a stack: synth, bootstrap, deploy, seeding,
//!   tokens;
//! - [`toolbox`]: the policy tools (explain, validate, simulate) on the authorizer's own code;
//! - [`local`]: the local stack: emulator provisioning, and the local API Gateway (its own crate,
//!   `deploy/gateway`).
//!
//! `main.rs` only parses the command line and calls one of these.

pub mod construct;
pub mod local;
pub mod operations;
pub mod stack;
pub mod toolbox;
