//! The `portreg` command line, as a library for its two binaries: `portreg`, and
//! `portreg-admin`, which `portreg serve`, `portreg update` and `portreg authority` run.
//! Those three bring an HTTP server, TLS and SQLite; kept out of `portreg`, they cost a
//! lookup nothing at start-up (no extra shared library, fewer relocations).

mod active;
pub mod cli;
mod commands;
mod output;
mod store;

use std::process::ExitCode;

use clap::Parser;

/// Exit codes: 0 done or found, 1 nothing found, 2 usage or input error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked, or found something.
    Success = 0,
    /// Nothing found (or, for `check-name`, the name is not usable).
    NotFound = 1,
    /// Bad usage or unreadable input.
    Error = 2,
}

/// Runs the command line; `ADMIN` is set in `portreg-admin`, which carries the
/// administrative commands, and clear in `portreg`, which hands them over to it.
pub fn main<const ADMIN: bool>() -> ExitCode {
    let args = cli::Cli::parse();
    let exit = commands::run::<ADMIN>(args).unwrap_or_else(|error| {
        if error
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        {
            return Exit::Success;
        }
        eprintln!("portreg: {error:#}");
        Exit::Error
    });
    ExitCode::from(exit as u8)
}
