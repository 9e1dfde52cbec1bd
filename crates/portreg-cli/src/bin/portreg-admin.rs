//! `portreg-admin`: `portreg serve`, `portreg update` and `portreg authority`, run by
//! `portreg` (which hands these commands over) or directly.

fn main() -> std::process::ExitCode {
    portreg_cli::main::<true>()
}
