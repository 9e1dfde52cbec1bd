//! The suite's commands, run as the tests run them, under an empty home folder: nothing
//! is written there (nor read from it: a local name put there is never seen), because the
//! harness points every variable portreg reads at folders of the test's own.

use std::path::Path;

use portreg_testing::{run_with, Run, Sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_portreg");

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path.clone());
            }
            found.push(path.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    found.sort();
    found
}

#[test]
fn commands_leave_the_home_folder_alone() {
    let sandbox = Sandbox::new();
    let home = sandbox.path().join("observed-home");
    // A local name where portreg would look without the harness: never seen.
    let local = home.join(".config/portreg/local.d");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("home.services"), "zq-home-local 47011/tcp\n").unwrap();
    let before = files_under(&home);
    let work = sandbox.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let registry = work.join("registry.json");
    let registry = registry.display().to_string();
    let db = work.join("authority.sqlite").display().to_string();
    let man = work.join("man").display().to_string();
    let env = [("HOME", home.to_str().unwrap())];
    let portreg = |args: &[&str], stdin: Option<&[u8]>| -> Run { run_with(BIN, args, stdin, &env) };

    let lookup = portreg(&["zq-home-local"], None);
    assert_eq!(
        lookup.code, 1,
        "a local name from the home folder was read: {}",
        lookup.stdout
    );
    for args in [
        &["22"][..],
        &["ldaps", "--format", "json"],
        &["search", "sql"],
        &["info", "443"],
        &["free", "--count", "3"],
        &["check-name", "zq-isolated"],
        &["check-local"],
        &["about"],
        &["nss", "status"],
        &["completions", "bash"],
        &["man", "--dir", &man],
        &[
            "convert", "-", "--from", "services", "--to", "json", "-o", &registry,
        ],
    ] {
        let run = portreg(args, Some(b"zq-isolated 47012/tcp\n"));
        assert!(run.code <= 1, "portreg {args:?}: {}", run.stderr);
    }
    let enriched = portreg(
        &[
            "enrich",
            "--log-format",
            "csv",
            "--port-field",
            "dst_port",
            "--transport-field",
            "proto",
        ],
        Some(b"src,dst,dst_port,proto\n10.0.0.1,10.0.0.2,22,tcp\n"),
    );
    assert_eq!(enriched.code, 0, "{}", enriched.stderr);
    // The commands portreg-admin runs, when it is built beside portreg.
    if Path::new(BIN).with_file_name("portreg-admin").is_file() {
        let built_in = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../portreg-data/data/registry.bin"
        );
        let update = portreg(&["update", "--file", built_in], None);
        assert!(update.code <= 1, "update: {}", update.stderr);
        let init = portreg(&["authority", "--db", &db, "init"], None);
        assert_eq!(init.code, 0, "authority init: {}", init.stderr);
        let list = portreg(&["authority", "--db", &db, "list"], None);
        assert!(list.code <= 1, "authority list: {}", list.stderr);
    }
    assert_eq!(
        files_under(&home),
        before,
        "the commands wrote into the home folder"
    );
}
