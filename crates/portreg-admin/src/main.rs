//! `portreg-admin`: `portreg serve`, `portreg update`, `portreg authority` and `portreg
//! convert --to parquet`, which bring an HTTP server, TLS, SQLite and Arrow. `portreg`
//! hands these commands over to it; run directly, it takes every other command too.

mod commands;

/// mimalloc: under load, glibc's malloc made the server's worker threads wait on its arena
/// locks (a fifth of the time of a kept answer, `perf` on bench/serve.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use portreg_cli::cli::{Cli, Command, Common, ConvertTarget};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Some(Command::Serve(args)) => commands::serve::run(
            args,
            &Common {
                registry: args.registry.registry.clone(),
                ..Common::default()
            },
        ),
        Some(Command::Update(args)) => commands::update::run(args),
        Some(Command::Convert(args)) if args.to == ConvertTarget::Parquet => {
            commands::parquet::run(args)
        }
        Some(Command::Authority(args)) => commands::authority::run(
            args,
            &Common {
                format: args.format,
                color: args.color,
                ..Common::default()
            },
        ),
        _ => portreg_cli::commands::run(cli),
    };
    portreg_cli::report(outcome)
}
