//! Runs the built `portreg` as a user would, with a clean environment.

#![allow(dead_code, unused_imports)]

pub use portreg_testing::{shared_arg as shared, Run};

/// Runs portreg with `args`.
pub fn portreg(args: &[&str]) -> Run {
    portreg_testing::run(env!("CARGO_BIN_EXE_portreg"), args, None)
}

/// Runs portreg with `args` and standard input.
pub fn portreg_with_input(args: &[&str], stdin: Option<&[u8]>) -> Run {
    portreg_testing::run(env!("CARGO_BIN_EXE_portreg"), args, stdin)
}
