//! Where tests find the real registry files: `../shared` beside the repository. Tests
//! skip, saying why, when it is absent; `PORTREG_REQUIRE_SHARED=1` (set by CI) makes that
//! a failure.

use std::path::PathBuf;

/// A path under `../shared`, or `None` after printing why the test skips.
///
/// # Panics
///
/// When `PORTREG_REQUIRE_SHARED=1` and the folder is missing.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if dir.join("data").is_dir() {
        return Some(dir.join(relative));
    }
    if std::env::var("PORTREG_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("PORTREG_REQUIRE_SHARED=1 but {} is missing", dir.display());
    }
    eprintln!(
        "skipped: {} is missing (the shared registry files)",
        dir.display()
    );
    None
}

/// A path under `../shared` as a string argument, or `None` after saying why the test
/// skips.
pub fn shared_arg(relative: &str) -> Option<String> {
    shared(relative).map(|path| path.display().to_string())
}

/// What a process printed and how it ended.
pub struct Run {
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    /// The standard output as JSON.
    ///
    /// # Panics
    ///
    /// When it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
}

/// Runs `program` as a user would: no colour, no terminal width, no inherited registry
/// settings; with `stdin` when given, else none.
///
/// # Panics
///
/// When the program cannot be started.
pub fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_with(program, args, stdin, &[])
}

/// [`run`] with these environment variables set as well.
///
/// # Panics
///
/// When the program cannot be started.
pub fn run_with(program: &str, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(program)
        .args(args)
        .env_remove("COLUMNS")
        .env_remove("PORTREG_DATA_DIR")
        .env_remove("PORTREG_CONFIG_DIR")
        .env_remove("PORTREG_SYSTEM_DATA_DIR")
        .env_remove("PORTREG_SYSTEM_LOCAL_DIR")
        .env("XDG_CONFIG_HOME", "/nonexistent/portreg-test-config")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    // Input is written from another thread: a filter writes output while it reads, and
    // would block on a full pipe that nobody reads.
    let writer = match (stdin, child.stdin.take()) {
        (Some(input), Some(mut pipe)) => {
            let input = input.to_vec();
            // The program may exit (a usage error) before it reads its input: a closed
            // pipe is fine.
            Some(std::thread::spawn(move || {
                let _ = pipe.write_all(&input);
            }))
        }
        _ => None,
    };
    let output = child.wait_with_output().expect("the program ends");
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A SQLite file in the temporary directory, removed (with its WAL files) before use and
/// when dropped.
pub struct TempDb(pub PathBuf);

impl TempDb {
    /// A fresh path named after the test and this process.
    pub fn new(name: &str) -> TempDb {
        let path =
            std::env::temp_dir().join(format!("portreg-test-{name}-{}.sqlite", std::process::id()));
        let db = TempDb(path);
        db.remove();
        db
    }

    /// Removes the file, its WAL files and the signing key made beside it.
    pub fn remove(&self) {
        for suffix in ["", "-wal", "-shm", ".key"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }

    /// The path as an argument.
    pub fn arg(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        self.remove();
    }
}

/// How many ports a JSON list of `{"port_low", "port_high"}` spans covers.
///
/// # Panics
///
/// When the value is not such a list.
pub fn span_total(spans: &serde_json::Value) -> u64 {
    spans
        .as_array()
        .expect("a list of spans")
        .iter()
        .map(|s| {
            let (low, high) = (s["port_low"].as_u64(), s["port_high"].as_u64());
            high.zip(low).map(|(h, l)| h - l + 1).expect("a span")
        })
        .sum()
}

/// DuckDB's answer to `sql` (through Python's `duckdb`, which `.ci/run` installs) as JSON
/// rows; `None`, after printing why, when the module is missing and packages are not
/// required (`PORTREG_REQUIRE_PACKAGES=1` makes that a failure).
///
/// # Panics
///
/// When DuckDB refuses the query, or python3 cannot run.
pub fn duckdb(sql: &str) -> Option<serde_json::Value> {
    let script = "import duckdb, json, sys\n\
                  rows = duckdb.connect().sql(sys.argv[1]).fetchall()\n\
                  print(json.dumps(rows, default=str))";
    let output = std::process::Command::new("python3")
        .args(["-c", script, sql])
        .output();
    match output {
        Ok(output) if output.status.success() => {
            Some(serde_json::from_slice(&output.stdout).expect("JSON rows"))
        }
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("No module named 'duckdb'")
                && std::env::var("PORTREG_REQUIRE_PACKAGES").as_deref() != Ok("1")
            {
                eprintln!("skipped: Python's duckdb is not installed (pip install duckdb)");
                return None;
            }
            panic!("duckdb failed on {sql}: {stderr}");
        }
        Err(error) => panic!("python3: {error}"),
    }
}
