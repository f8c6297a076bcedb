//! How a run of the tool ends, in one place: what a command found ([`Outcome`]) or the error it
//! stopped on, as an exit code and as the one line a person reads.
//!
//! The exit codes are the policy toolbox's, for every command: 0 done (or nothing wrong found);
//! 1 errors found, a difference from what was expected, or a failure; 2 a usage error (clap's
//! own code); 3 could not decide, because something it needed (the pool's keys, a policy table)
//! could not be read.

use std::process::ExitCode;

/// What a command that ran to its end found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, or nothing wrong found: exit 0.
    Done,
    /// Errors found, or a difference from what was expected (`validate`, `simulate --expect`),
    /// already printed: exit 1.
    Failed,
}

/// The command line asked for something that cannot be: exit 2, like clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The tool could not decide: something it needed (the pool's keys, a policy table) could not
/// be read. Exit 3.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Undecided(pub String);

pub const DONE: u8 = 0;
pub const FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const UNDECIDED: u8 = 3;

/// The exit code of a run that ended with `result`.
pub fn code(result: &anyhow::Result<Outcome>) -> u8 {
    match result {
        Ok(Outcome::Done) => DONE,
        Ok(Outcome::Failed) => FAILED,
        Err(e) if holds::<UsageError>(e) => USAGE,
        Err(e) if holds::<Undecided>(e) => UNDECIDED,
        Err(_) => FAILED,
    }
}

/// Whether `error` is, wraps, or was given as context, a `T`.
fn holds<T: std::error::Error + Send + Sync + 'static>(error: &anyhow::Error) -> bool {
    error.downcast_ref::<T>().is_some() || error.chain().any(|c| c.is::<T>())
}

/// The line a person reads when a run fails: the error and its causes, each once. Never a
/// backtrace, whatever `RUST_BACKTRACE` says.
pub fn message(error: &anyhow::Error) -> String {
    format!("error: {error:#}")
}

/// Prints the error, if the run ended with one, and returns the run's exit code.
pub fn finish(result: anyhow::Result<Outcome>) -> ExitCode {
    if let Err(error) = &result {
        eprintln!("{}", message(error));
    }
    ExitCode::from(code(&result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context as _;

    #[test]
    fn each_ending_has_its_code_even_under_context() {
        assert_eq!(code(&Ok(Outcome::Done)), 0);
        assert_eq!(code(&Ok(Outcome::Failed)), 1);
        let usage: anyhow::Result<Outcome> =
            Err(UsageError("`--x` is wrong".into())).context("explain");
        assert_eq!(code(&usage), 2);
        let undecided: anyhow::Result<Outcome> =
            Err(Undecided("the keys".into())).context("explain");
        assert_eq!(code(&undecided), 3);
        let read: anyhow::Result<Outcome> = Err(anyhow::anyhow!("connection refused"))
            .context(Undecided("could not read the policy table `t`".into()));
        assert_eq!(code(&read), 3);
        assert_eq!(
            message(&read.unwrap_err()),
            "error: could not read the policy table `t`: connection refused"
        );
        assert_eq!(code(&Err(anyhow::anyhow!("anything else"))), 1);
    }

    #[test]
    fn the_message_is_one_line_of_causes() {
        let error = Err::<(), _>(std::io::Error::other("disk full"))
            .context("writing `x.json`")
            .unwrap_err();
        assert_eq!(message(&error), "error: writing `x.json`: disk full");
    }
}
