//! The full `verify` of a token with a fixed key set (the benchmarks' frozen JWKS), at a time
//! when the frozen token is valid. Invariant beyond "no panic": a token that is accepted has a
//! signature that verifies, checked again here straight with aws-lc-rs.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use groupgate::jwks::KeySet;
use groupgate::{ExpectedTokenUse, TokenRules};
use libfuzzer_sys::fuzz_target;

const JWKS: &str = include_str!("../../../fixtures/bench/jwks.json");
/// The frozen token's `iat` plus a minute.
const NOW: u64 = 1_800_000_060;

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

/// Whether `token`'s signature verifies with the frozen key, independently of `verify`.
fn signature_verifies(token: &str) -> bool {
    let jwks: serde_json::Value = serde_json::from_str(JWKS).expect("the frozen JWKS is JSON");
    let key = &jwks["keys"][0];
    let (Some(n), Some(e)) = (key["n"].as_str(), key["e"].as_str()) else {
        return false;
    };
    let (Ok(n), Ok(e)) = (URL_SAFE_NO_PAD.decode(n), URL_SAFE_NO_PAD.decode(e)) else {
        return false;
    };
    let Some((signed, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else {
        return false;
    };
    RsaPublicKeyComponents { n: &n, e: &e }
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
        .is_ok()
}

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
