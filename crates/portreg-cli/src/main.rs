//! The `portreg` command line.

mod cli;
mod convert;

use std::process::ExitCode;

use clap::Parser;

/// Exit codes: 0 done or found, 1 nothing found, 2 usage or input error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked.
    Success = 0,
    /// A lookup found nothing.
    NotFound = 1,
    /// Bad usage or unreadable input.
    Error = 2,
}

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    let exit = match args.command {
        cli::Command::Convert(convert) => convert::run(&convert).unwrap_or_else(|error| {
            eprintln!("portreg: {error:#}");
            Exit::Error
        }),
    };
    ExitCode::from(exit as u8)
}
