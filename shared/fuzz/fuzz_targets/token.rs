//! The full `verify` of a token with a fixed key set (the benchmarks' frozen JWKS), at a time
//! when the frozen token is valid. Invariant beyond "no panic": a token that is accepted has a
//! signature that verifies, checked again here straight with aws-lc-rs.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use groupgate_shared::jwks::KeySet;
use groupgate_shared::{ExpectedTokenUse, TokenRules};
use groupgate_fuzz::{JWKS, NOW, signature_verifies};
use libfuzzer_sys::fuzz_target;

static KEYS: LazyLock<KeySet> =
    LazyLock::new(|| KeySet::from_jwks_json(JWKS.as_bytes()).expect("the frozen JWKS parses"));
static RULES: LazyLock<TokenRules> = LazyLock::new(|| {
    TokenRules::new(
        "us-east-1_Bench0001",
        vec!["bench-client".to_owned()],
        ExpectedTokenUse::Access,
        Duration::from_secs(60),
    )
    .expect("the rules are valid")
});

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if RULES.verify(token, &KEYS, NOW).is_ok() {
        assert!(
            signature_verifies(token),
            "accepted a token whose signature does not verify"
        );
    }
});
