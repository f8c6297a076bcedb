//! The product on one machine, for `scripts/dev.sh` and the smoke tests: an emulator provisioned
//! from the stack definition, and a local API Gateway in front of `cargo lambda watch`.

pub mod gateway;
pub mod provision;
