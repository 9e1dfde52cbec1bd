//! `portreg`: lookups, search, info, free ports, diff, names, conversion.

fn main() -> std::process::ExitCode {
    portreg_cli::main::<false>()
}
