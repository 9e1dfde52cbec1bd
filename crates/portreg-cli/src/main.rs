//! `portreg`: lookups, search, info, free ports, diff, names, conversion; `serve`,
//! `update` and `authority` are handed over to `portreg-admin`.

fn main() -> std::process::ExitCode {
    portreg_cli::main()
}
