//! The `portreg` command line, as a library for its two binaries: `portreg` (lookups,
//! search, info, free ports, diff, names, conversion) and `portreg-admin` (crate
//! `portreg-admin`: serve, update, authority), which `portreg` runs for those commands so
//! that a lookup links none of their libraries.

pub mod active;
pub mod cli;
pub mod commands;
pub mod enrich;
pub mod error;
pub mod history;
pub mod output;
pub mod store;

pub use error::{exit_code, report, CommandResult, Exit, Failure};

/// Runs `portreg` with the process's arguments; returns the exit code, standard output
/// flushed.
pub fn main() -> u8 {
    main_with(std::env::args_os().collect())
}

/// Runs `portreg` with `args`, the program's name first (as `python -m portreg` does);
/// returns the exit code, standard output flushed.
pub fn main_with(args: Vec<std::ffi::OsString>) -> u8 {
    use std::io::Write;
    let code = exit_code(commands::run(cli::Cli::from_args(args)));
    let _ = std::io::stdout().flush();
    code
}
