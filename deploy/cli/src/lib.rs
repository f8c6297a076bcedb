//! The operator's tool, `groupgate`: what an operator runs against the stack that
//! `groupgate-stack` describes, and the product on one machine.
//!
//! - [`commands`]: the command line, one module per subcommand;
//! - [`operations`]: synth, bootstrap, deploy, seeding, tokens;
//! - [`toolbox`]: the policy tools (explain, validate, simulate) on the authorizer's own code;
//! - [`local`]: the local stack: emulator provisioning, and the local API Gateway (its own
//!   crate, `deploy/local-gateway`);
//! - [`description`]: a stack's description (`groupgate describe`): its outputs, and the local
//!   stack's own parts;
//! - [`aws`]: the one way to AWS: the SDK's configuration, and its errors in words;
//! - [`exit`]: how a run ends: its exit code, and the error a person reads.
//!
//! `main.rs` only parses the command line, runs it, and exits with what [`exit`] says.

// No function over `too-many-lines-threshold` (clippy.toml) lines outside the tests.
#![cfg_attr(not(test), deny(clippy::too_many_lines))]

/// The stack's description (`groupgate-stack`) and its construct library, under the names
/// the tool's modules use for them.
pub use groupgate_construct as construct;
pub use groupgate_stack as stack;

pub mod aws;
pub mod commands;
pub mod description;
pub mod exit;
pub mod local;
pub mod operations;
pub mod toolbox;
