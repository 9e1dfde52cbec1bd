//! The `portreg` command line, as a library for its two binaries: `portreg` (lookups,
//! search, info, free ports, diff, names, conversion) and `portreg-admin` (crate
//! `portreg-admin`: serve, update, authority), which `portreg` runs for those commands so
//! that a lookup links none of their libraries.

pub mod active;
pub mod cli;
pub mod commands;
pub mod error;
pub mod output;
pub mod store;

pub use error::{report, CommandResult, Exit, Failure};

/// Runs `portreg` with the process's arguments.
pub fn main() -> std::process::ExitCode {
    use clap::Parser;
    report(commands::run(cli::Cli::parse()))
}
