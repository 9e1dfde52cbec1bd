//! How a command ends: its exit code, and on failure one error that carries it, printed
//! in one place.

use std::fmt;
use std::process::ExitCode;

/// Exit codes: 0 done or found, 1 nothing found (or refused), 2 usage or input error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked, or found something.
    Success = 0,
    /// Nothing found, or (for `check-name`, the authority) the answer is no.
    NotFound = 1,
    /// Bad usage or unreadable input.
    Error = 2,
}

/// A command that could not do what was asked: why, and the exit code it ends with.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// What went wrong, with its causes.
    pub error: anyhow::Error,
}

impl Failure {
    /// A usage or input error (exit 2).
    pub fn usage(message: impl fmt::Display) -> Self {
        Failure {
            exit: Exit::Error,
            error: anyhow::anyhow!("{message}"),
        }
    }

    /// A refusal: a rule or a conflict says no (exit 1).
    pub fn refused(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            exit: Exit::NotFound,
            error: error.into(),
        }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure {
            exit: Exit::Error,
            error: error.into(),
        }
    }
}

/// What every command returns.
pub type CommandResult = Result<Exit, Failure>;

/// Prints a failure (`portreg: reason: cause`) and turns the outcome into the process's
/// exit code. A closed standard output (`portreg 22 | head -0`) is no failure.
pub fn report(outcome: CommandResult) -> ExitCode {
    ExitCode::from(exit_code(outcome))
}

/// [`report`], as a number.
pub fn exit_code(outcome: CommandResult) -> u8 {
    let exit = match outcome {
        Ok(exit) => exit,
        Err(failure) if is_broken_pipe(&failure.error) => Exit::Success,
        Err(failure) => {
            // The reason may quote data: shown, never obeyed, by a terminal.
            let reason = format!("{:#}", failure.error);
            eprintln!("portreg: {}", crate::output::visible(&reason));
            failure.exit
        }
    };
    exit as u8
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_broken_pipe_is_found_anywhere_in_the_chain() {
        let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
        let wrapped = Err::<(), _>(pipe).context("writing the table").unwrap_err();
        assert!(is_broken_pipe(&wrapped));
        assert!(!is_broken_pipe(&anyhow::anyhow!("other")));
    }
}
