//! Runs the built `portreg` as a user would, with a clean environment.

#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};

/// What a run printed and how it ended.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The standard output as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs portreg with `args` (no colour, no terminal width, no inherited registry settings).
pub fn portreg(args: &[&str]) -> Run {
    portreg_with_input(args, None)
}

/// Runs portreg with `args` and standard input.
pub fn portreg_with_input(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portreg"))
        .args(args)
        .env_remove("COLUMNS")
        .env_remove("PORTREG_DATA_DIR")
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("portreg runs");
    if let Some(input) = stdin {
        // portreg may exit (a usage error) before it reads its input: a closed pipe is fine.
        let _ = child.stdin.take().unwrap().write_all(input);
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A file under `../shared`, or `None` after saying why the test skips.
pub fn shared(relative: &str) -> Option<String> {
    portreg_testing::shared(relative).map(|path| path.display().to_string())
}
