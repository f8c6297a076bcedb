//! What the stack's test binaries share: the tests' own groups and API (see
//! `shared/testkit/fixtures/README.md`), so that `policies/` and `api/` can change without moving
//! them, and the committed settings.

use groupgate_stack::{self as stack, groups};

/// The tests' own groups: the tests name and count them, and the snapshots hold their roles.
pub fn fixture_groups() -> Vec<groups::GroupDefinition> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testkit/fixtures/policies"
    );
    groups::load(std::path::Path::new(dir)).unwrap()
}

/// The tests' own copy of the petstore's API.
pub fn fixture_api() -> stack::Api {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/testkit/fixtures/api/petstore.yaml"
    );
    stack::Api::load(std::path::Path::new(file)).unwrap()
}

/// `deploy/groupgate.toml`.
pub fn settings() -> stack::Settings {
    stack::Settings::load(&stack::Settings::default_path()).unwrap()
}
