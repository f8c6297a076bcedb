//! The operator's tool, `groupgate`: what an operator runs against the stack that
//! `groupgate-stack` describes, and the product on one machine.
//!
//! - [`operations`]: synth, bootstrap, deploy, seeding, tokens;
//! - [`toolbox`]: the policy tools (explain, validate, simulate) on the authorizer's own code;
//! - [`local`]: the local stack: emulator provisioning, and the local API Gateway (its own
//!   crate, `deploy/local-gateway`).
//!
//! `main.rs` only parses the command line and calls one of these.

/// The stack's description (`groupgate-stack`) and its construct library, under the names
/// the tool's modules use for them.
pub use groupgate_construct as construct;
pub use groupgate_stack as stack;

pub mod local;
pub mod operations;
pub mod toolbox;
