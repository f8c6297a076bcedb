//! What more than one fuzz target needs: the frozen key set and token time of the benchmarks,
//! and a signature check made straight with aws-lc-rs, apart from the code under test.

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The benchmarks' frozen JWKS (one RS256 key).
pub const JWKS: &str = include_str!("../../../fixtures/bench/jwks.json");
/// The frozen token, signed by that key.
pub const TOKEN: &str = include_str!("../../../fixtures/bench/token.jwt");
/// The frozen token's `iat` plus a minute: a time at which it is valid.
pub const NOW: u64 = 1_800_000_060;

/// Whether `token`'s signature verifies with the frozen key, independently of `verify`.
pub fn signature_verifies(token: &str) -> bool {
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

