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
use std::path::PathBuf;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::Exit;

/// Runs the command the arguments name. Without `ADMIN`, the administrative commands are
/// handed over to `portreg-admin`, and their code is not even linked in.
pub fn run<const ADMIN: bool>(cli: Cli) -> Result<Exit> {
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
        Some(Command::Serve(args)) if ADMIN => serve::run(args, common),
        Some(Command::Authority(args)) if ADMIN => authority::run(args, common),
        Some(Command::Update(args)) if ADMIN => update::run(args, common),
        Some(Command::Serve(_) | Command::Authority(_) | Command::Update(_)) => hand_over(),
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

/// Runs the same arguments with `portreg-admin`: beside this executable, else on the PATH.
fn hand_over() -> Result<Exit> {
    let beside = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name("portreg-admin"));
    let program: PathBuf = beside
        .filter(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("portreg-admin"));
    let mut command = std::process::Command::new(&program);
    command.args(std::env::args_os().skip(1));
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let error = command.exec();
        anyhow::bail!(
            "cannot run {} ({error}); it comes with portreg",
            program.display()
        );
    }
    #[cfg(not(unix))]
    {
        let status = command
            .status()
            .map_err(|e| anyhow::anyhow!("cannot run {} ({e})", program.display()))?;
        Ok(match status.code() {
            Some(0) => Exit::Success,
            Some(1) => Exit::NotFound,
            _ => Exit::Error,
        })
    }
}
