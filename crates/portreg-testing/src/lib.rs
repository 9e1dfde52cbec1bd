//! Where tests find the real registry files: `../shared` beside the repository. Tests
//! that need it are ignored, with the reason, when it is absent (`portreg_shared_absent`,
//! set by `crates/portreg/build.rs`); `PORTREG_REQUIRE_SHARED=1` (set by CI) makes them
//! run or fail. And how tests run portreg's programs: each in folders of its own
//! ([`isolate`]), never the user's home, configuration or `/etc`.

use std::path::PathBuf;

/// A path under `../shared` (always `Some`; an `Option` for the tests' `let ... else`).
/// Where the folder is absent, the tests that need it are
/// ignored (`portreg_shared_absent`) and none comes here; one that does was not marked,
/// and fails rather than pass without having run.
///
/// # Panics
///
/// When the folder is missing.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if dir.join("data").is_dir() {
        return Some(dir.join(relative));
    }
    if std::env::var("PORTREG_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("PORTREG_REQUIRE_SHARED=1 but {} is missing", dir.display());
    }
    panic!(
        "{} is missing (the shared registry files): this test needs it, and is ignored \
         without it only when marked #[cfg_attr(portreg_shared_absent, ignore = \"...\")]",
        dir.display()
    );
}

/// A path under `../shared` as a string argument ([`shared`]).
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
    use std::process::Stdio;
    let sandbox = Sandbox::new();
    let mut child = sandbox
        .command(program)
        .args(args)
        .env_remove("COLUMNS")
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

/// Points every variable portreg reads for a place to read or write at folders under
/// `dir`: the home folder, the XDG folders, the data and configuration folders and the
/// machine's (`/var/lib/portreg`, `/etc/portreg/local.d`). A test that sets one of them
/// itself does so after this.
pub fn isolate(command: &mut std::process::Command, dir: &std::path::Path) {
    command
        .env("HOME", dir.join("home"))
        .env("XDG_DATA_HOME", dir.join("xdg-data"))
        .env("XDG_CONFIG_HOME", dir.join("xdg-config"))
        .env("XDG_CACHE_HOME", dir.join("xdg-cache"))
        .env("XDG_STATE_HOME", dir.join("xdg-state"))
        .env("PORTREG_DATA_DIR", dir.join("data"))
        .env("PORTREG_CONFIG_DIR", dir.join("config"))
        .env("PORTREG_SYSTEM_DATA_DIR", dir.join("system-data"))
        .env("PORTREG_SYSTEM_LOCAL_DIR", dir.join("system-local"));
}

/// Folders of a test's own for a program's home, data and configuration, removed when
/// dropped.
pub struct Sandbox(PathBuf);

impl Sandbox {
    /// A new, empty sandbox in the temporary directory.
    ///
    /// # Panics
    ///
    /// When the temporary directory cannot be written.
    pub fn new() -> Sandbox {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "portreg-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a sandbox in the temporary directory");
        Sandbox(dir)
    }

    /// The sandbox's folder.
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// [`isolate`] in this sandbox.
    pub fn isolate(&self, command: &mut std::process::Command) {
        isolate(command, &self.0);
    }
}

impl Sandbox {
    /// A command for `program`, isolated in this sandbox ([`Sandbox::isolate`]); the
    /// sandbox must outlive the process.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> std::process::Command {
        let mut command = std::process::Command::new(program);
        self.isolate(&mut command);
        command
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
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
