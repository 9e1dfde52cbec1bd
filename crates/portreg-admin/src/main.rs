//! `portreg-admin`: `portreg serve`, `portreg update` and `portreg authority`, which bring
//! an HTTP server, TLS and SQLite. `portreg` hands these commands over to it; run directly,
//! it takes every other command too.

mod commands;

use clap::Parser;
use portreg_cli::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let common = &cli.common;
    let outcome = match &cli.command {
        Some(Command::Serve(args)) => commands::serve::run(args, common),
        Some(Command::Update(args)) => commands::update::run(args, common),
        Some(Command::Authority(args)) => commands::authority::run(args, common),
        _ => portreg_cli::commands::run(cli),
    };
    portreg_cli::report(outcome)
}
