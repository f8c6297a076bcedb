//! The asset manifest: each Lambda zip, its SHA-256, and the content-addressed S3 key it is
//! uploaded under, so a new build is a new key and CloudFormation updates the function.

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Asset {
    pub function: String,
    /// The zip, as `cargo lambda build --arm64 --output-format zip` writes it.
    pub path: PathBuf,
    pub sha256: String,
    /// Where it must be uploaded in the artifact bucket.
    pub s3_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assets {
    pub assets: Vec<Asset>,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "cannot read the zip of `{function}` at `{path}` ({error}); build it first with `cargo lambda build --release --arm64 --output-format zip`, or synthesize with --placeholder-assets"
)]
pub struct AssetError {
    pub function: String,
    pub path: PathBuf,
    pub error: std::io::Error,
}

fn key(function: &str, sha256: &str) -> String {
    format!("groupgate/{function}/{sha256}.zip")
}

impl Assets {
    /// Hashes `<dir>/<function>/bootstrap.zip` for each of `functions`.
    pub fn from_dir(dir: &Path, functions: &[&str]) -> Result<Self, AssetError> {
        let assets = functions
            .iter()
            .map(|function| {
                let path = dir.join(function).join("bootstrap.zip");
                let bytes = std::fs::read(&path).map_err(|error| AssetError {
                    function: (*function).to_owned(),
                    path: path.clone(),
                    error,
                })?;
                let sha256 = hex(&Sha256::digest(&bytes));
                Ok(Asset {
                    function: (*function).to_owned(),
                    s3_key: key(function, &sha256),
                    path,
                    sha256,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { assets })
    }

    /// Stand-in assets (hash of no bytes) for checking or testing a template without a build.
    pub fn placeholder(functions: &[&str]) -> Self {
        let sha256 = hex(&Sha256::digest(b""));
        Self {
            assets: functions
                .iter()
                .map(|function| Asset {
                    function: (*function).to_owned(),
                    path: PathBuf::from(format!("target/lambda/{function}/bootstrap.zip")),
                    s3_key: key(function, &sha256),
                    sha256: sha256.clone(),
                })
                .collect(),
        }
    }

    /// The S3 key of `function`'s zip (every function of the stack is in the manifest).
    pub fn key(&self, function: &str) -> String {
        self.assets
            .iter()
            .find(|a| a.function == function)
            .map(|a| a.s3_key.clone())
            .unwrap_or_default()
    }
}

/// Lower-case hex, as content-addressed keys are written.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_content_addressed() {
        let dir = std::env::temp_dir().join(format!("groupgate-assets-{}", std::process::id()));
        const FUNCTIONS: [&str; 2] = ["authorizer", "backend"];
        for f in FUNCTIONS {
            std::fs::create_dir_all(dir.join(f)).unwrap();
            std::fs::write(dir.join(f).join("bootstrap.zip"), f.as_bytes()).unwrap();
        }
        let a = Assets::from_dir(&dir, &FUNCTIONS).unwrap();
        std::fs::write(dir.join("backend/bootstrap.zip"), b"rebuilt").unwrap();
        let b = Assets::from_dir(&dir, &FUNCTIONS).unwrap();
        assert_eq!(a.key("authorizer"), b.key("authorizer"));
        assert_ne!(a.key("backend"), b.key("backend"));
        assert_eq!(
            b.key("backend"),
            format!("groupgate/backend/{}.zip", hex(&Sha256::digest(b"rebuilt")))
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_missing_zip_says_how_to_build_it() {
        let err = Assets::from_dir(Path::new("/nonexistent"), &["authorizer"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cargo lambda build"), "{err}");
        assert!(err.contains("`authorizer`"), "{err}");
    }
}
