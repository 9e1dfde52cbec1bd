//! One module a command; `run` dispatches. `serve`, `update` and `authority` live in
//! `portreg-admin`, which [`hand_over`] runs.

pub mod about;
pub mod check_local;
pub mod check_name;
pub mod convert;
pub mod diff;
pub mod free;
pub mod info;
pub mod lookup;
pub mod search;

use std::io::Write;
use std::path::PathBuf;

use clap::CommandFactory;

use crate::cli::{Cli, Command};
use crate::{CommandResult, Exit, Failure};

/// Runs the command the arguments name; the administrative ones are handed over to
/// `portreg-admin`.
pub fn run(cli: Cli) -> CommandResult {
    let common = &cli.common;
    match &cli.command {
        None => lookup::run(&cli.lookup, common),
        Some(Command::Lookup(args)) => lookup::run(args, common),
        Some(Command::Search(args)) => search::run(args, common),
        Some(Command::Info(args)) => info::run(args, common),
        Some(Command::Free(args)) => free::run(args, common),
        Some(Command::Diff(args)) => diff::run(args, common),
        Some(Command::CheckName(args)) => check_name::run(args, common),
        Some(Command::CheckLocal) => check_local::run(common),
        Some(Command::About) => about::run(common),
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

/// The admin binary's name.
pub const ADMIN: &str = "portreg-admin";

/// How to get `portreg-admin`, for the message when it is missing.
const HOW_TO_GET_ADMIN: &str = "it is built beside portreg by `cargo build --release` in \
portreg's source tree (then use target/release/portreg), or installed with \
`cargo install --path crates/portreg-admin`";

/// Runs the same arguments with `portreg-admin`, found beside this executable, else on
/// the PATH. On Unix the process becomes it, so its exit status is this one's.
fn hand_over() -> CommandResult {
    let beside = std::env::current_exe()
        .ok()
        .map(|exe| exe.with_file_name(ADMIN))
        .filter(|path| path.is_file());
    let program: PathBuf = beside.unwrap_or_else(|| PathBuf::from(ADMIN));
    let mut command = std::process::Command::new(&program);
    command.args(std::env::args_os().skip(1));
    let missing = |error: std::io::Error| {
        Failure::usage(format!(
            "this command is run by {ADMIN}, which cannot be run ({error}): {HOW_TO_GET_ADMIN}"
        ))
    };
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        Err(missing(command.exec()))
    }
    #[cfg(not(unix))]
    {
        let status = command.status().map_err(missing)?;
        std::process::exit(status.code().unwrap_or(2));
    }
}
