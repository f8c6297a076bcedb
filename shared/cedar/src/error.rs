use std::fmt;
use std::path::PathBuf;

/// What went wrong building a schema or loading a policy set.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{0}` is not a Cedar namespace (one or more identifiers joined by `::`)")]
    Namespace(String),
    #[error("`{method} {path}` is not a route: {why}")]
    Route {
        method: String,
        path: String,
        why: &'static str,
    },
    #[error("the generated schema is not valid Cedar: {0}")]
    Schema(String),
    #[error("`{path}`: {message}", path = .path.display())]
    Read { path: PathBuf, message: String },
    #[error("{}", Problems(.0))]
    Policies(Vec<Problem>),
    #[error("the Verified Permissions import is not valid: {0}")]
    Import(String),
    #[error("the stored Cedar bundle is not valid: {0}")]
    Bundle(String),
}

/// One problem in one policy file, at a line of it: a parse error or a validation error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file's name as the policy ids use it (`admin.cedar`).
    pub file: String,
    /// 1-based; `None` when Cedar names no place in the file.
    pub line: Option<usize>,
    /// Cedar's own message.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the Cedar policies are not valid:")?;
        for problem in self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}
