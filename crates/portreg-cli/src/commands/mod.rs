//! One module a command; `run` dispatches.

mod about;
mod authority;
mod check_name;
mod convert;
mod diff;
mod free;
mod info;
mod lookup;
mod search;
mod serve;
mod update;

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::Exit;

/// Runs the command the arguments name.
pub fn run(cli: Cli) -> Result<Exit> {
    let common = &cli.common;
    match &cli.command {
        None => lookup::run(&cli.lookup, common),
        Some(Command::Lookup(args)) => lookup::run(args, common),
        Some(Command::Search(args)) => search::run(args, common),
        Some(Command::Info(args)) => info::run(args, common),
        Some(Command::Free(args)) => free::run(args, common),
        Some(Command::Diff(args)) => diff::run(args, common),
        Some(Command::CheckName(args)) => check_name::run(args, common),
        Some(Command::About) => about::run(common),
        Some(Command::Serve(args)) => serve::run(args, common),
        Some(Command::Authority(args)) => authority::run(args, common),
        Some(Command::Update(args)) => update::run(args, common),
        Some(Command::Convert(args)) => convert::run(args),
        Some(Command::Completions(args)) => {
            clap_complete::generate(
                args.shell,
                &mut Cli::command(),
                "portreg",
                &mut std::io::stdout(),
            );
            Ok(Exit::Success)
        }
        Some(Command::Man) => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page)?;
            std::io::stdout().write_all(&page)?;
            Ok(Exit::Success)
        }
    }
}
