//! What the stack's test binaries share: the tests' own groups and API (see
//! `shared/testkit/fixtures/README.md`), so that `policies/` and `api/` can change without moving
//! them, and the committed settings.

use groupgate_stack::assets::Assets;
use groupgate_stack::{self as stack, groups};
use serde_json::Value;

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

/// The app stack's template of the fixture groups and `api`, with placeholder assets.
pub fn app_template(api: &stack::Api, settings: &stack::Settings) -> Value {
    stack::build(
        &fixture_groups(),
        api,
        &Assets::placeholder(&stack::FUNCTIONS),
        settings,
    )
    .to_template()
    .unwrap()
}
