//! `portreg authority` as processes use it: the acceptance path, many processes racing for
//! one port or one name, and approvals killed at random points.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use portreg_authority::{Actor, Authority, RequestState};

use portreg_testing::TempDb as Db;

fn portreg(args: &[&str]) -> std::process::Output {
    portreg_testing::Sandbox::new()
        .command(env!("CARGO_BIN_EXE_portreg-admin"))
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn request_args<'a>(db: &'a str, name: &'a str, port: &'a str) -> Vec<&'a str> {
    vec![
        "authority",
        "--db",
        db,
        "request",
        "--name",
        name,
        "-t",
        "tcp",
        "--port",
        port,
        "--description",
        "test",
        "--assignee",
        "T",
        "--contact",
        "T",
    ]
}

#[test]
fn request_review_publish_and_refuse() {
    let db = Db::new("cli");
    let path = db.arg();
    assert_eq!(
        portreg(&["authority", "--db", &path, "init"]).status.code(),
        Some(0)
    );
    let again = portreg(&["authority", "--db", &path, "init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("already exists"));
    // A provider's rule that is none is a usage error, before anything is done.
    let rule = portreg(&["authority", "--db", &path, "--same-address", "dots", "list"]);
    assert_eq!(rule.status.code(), Some(2));
    assert!(
        text(&rule.stderr).contains("dots@DOMAIN"),
        "{}",
        text(&rule.stderr)
    );
    let rule = portreg(&[
        "authority",
        "--db",
        &path,
        "--same-address",
        "dots@gmail.com",
        "verify",
    ]);
    assert_eq!(rule.status.code(), Some(0), "{}", text(&rule.stderr));
    let filed = portreg(&request_args(&path, "zq-acc-one", "40404"));
    assert_eq!(filed.status.code(), Some(0), "{}", text(&filed.stderr));
    let stdout = text(&filed.stdout);
    assert!(
        stdout.starts_with("request 1 filed: zq-acc-one port 40404/tcp"),
        "{stdout}"
    );
    let pending = portreg(&["authority", "--db", &path, "list", "-f", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&pending.stdout).unwrap();
    assert_eq!(list[0]["state"], "pending");
    let approved = portreg(&["authority", "--db", &path, "review", "1", "--approve"]);
    assert_eq!(
        approved.status.code(),
        Some(0),
        "{}",
        text(&approved.stderr)
    );
    let csv = portreg(&["authority", "--db", &path, "publish", "--to", "iana-csv"]);
    assert!(text(&csv.stdout).contains("\nzq-acc-one,40404,tcp,test,"));
    // Every other command takes the published registry.
    let published = format!("{path}.xml");
    let out = portreg(&[
        "authority",
        "--db",
        &path,
        "publish",
        "--to",
        "iana-xml",
        "-o",
        &published,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lookup = portreg(&["40404", "--registry", &published, "-f", "json"]);
    let records: serde_json::Value = serde_json::from_slice(&lookup.stdout).unwrap();
    assert_eq!(records[0]["name"], "zq-acc-one");
    let _ = std::fs::remove_file(&published);
    let dynamic = portreg(&request_args(&path, "zq-acc-dyn", "50000"));
    assert_eq!(dynamic.status.code(), Some(1));
    assert!(text(&dynamic.stderr).contains("Dynamic range"));
    let history = portreg(&[
        "authority",
        "--db",
        &path,
        "history",
        "zq-acc-one",
        "-f",
        "json",
    ]);
    let entries: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    assert_eq!(
        entries.as_array().unwrap().len(),
        2,
        "the request and its approval"
    );
    let missing = portreg(&["authority", "--db", "/no/such/dir/x.sqlite", "list"]);
    assert_eq!(missing.status.code(), Some(2));
}

/// Starts `processes` shells at once, each filing a request and approving it.
fn race(db: &str, attempts: &[(String, String)]) -> Vec<bool> {
    let sandbox = portreg_testing::Sandbox::new();
    let children: Vec<_> = attempts
        .iter()
        .map(|(name, port)| {
            let script = format!(
                "id=$(\"$PORTREG\" authority --db '{db}' request --name {name} -t tcp --port {port} --description race \
                 --assignee T --contact T | grep -oE '[0-9]+' | head -n1) && \
                 \"$PORTREG\" authority --db '{db}' review \"$id\" --approve"
            );
            sandbox
                .command("sh")
                .args(["-c", &script])
                .env("PORTREG", env!("CARGO_BIN_EXE_portreg-admin"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|mut child| child.wait().unwrap().success())
        .collect()
}

#[test]
fn many_processes_one_port_one_name_exactly_one_wins() {
    let db = Db::new("race");
    let path = db.arg();
    assert_eq!(
        portreg(&["authority", "--db", &path, "init"]).status.code(),
        Some(0)
    );
    let same_port: Vec<(String, String)> = (0..8)
        .map(|i| (format!("zq-race-{i}"), "40404".to_owned()))
        .collect();
    let won = race(&path, &same_port);
    assert_eq!(
        won.iter().filter(|w| **w).count(),
        1,
        "one port: exactly one approval"
    );
    let same_name: Vec<(String, String)> = (0..8)
        .map(|i| ("zq-same".to_owned(), (41000 + i).to_string()))
        .collect();
    let won = race(&path, &same_name);
    assert_eq!(
        won.iter().filter(|w| **w).count(),
        1,
        "one name: exactly one approval"
    );
    let authority = Authority::open(&db.0).unwrap();
    let history = authority.history(None, None).unwrap();
    let requests = history.iter().filter(|e| e.action == "request").count();
    assert_eq!(requests, 16, "every request attempt is in the audit trail");
    let filed = authority
        .requests(None, &Actor::local("test"))
        .unwrap()
        .len();
    let approvals = history.iter().filter(|e| e.action == "approve").count();
    assert_eq!(
        approvals, filed,
        "every approval attempt is in the audit trail"
    );
    assert_eq!(
        history
            .iter()
            .filter(|e| e.action == "approve" && e.outcome == "ok")
            .count(),
        2
    );
    assert_eq!(authority.integrity().unwrap(), "ok");
}

/// Sends SIGKILL to a whole process group.
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-s", "KILL", "--", &format!("-{pid}")])
        .status();
}

#[test]
fn approvals_killed_at_random_points_leave_nothing_half_done() {
    let db = Db::new("crash");
    let path = db.arg();
    assert_eq!(
        portreg(&["authority", "--db", &path, "init"]).status.code(),
        Some(0)
    );
    let total = 150;
    for i in 0..total {
        let port = (42000 + i).to_string();
        let out = portreg(&request_args(&path, &format!("zq-crash-{i}"), &port));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let log = std::env::temp_dir().join(format!("portreg-crash-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let mut seed = Instant::now().elapsed().as_nanos() as u64 | 1;
    let started = Instant::now();
    let mut interrupted = 0;
    let sandbox = portreg_testing::Sandbox::new();
    loop {
        let pending: Vec<i64> = Authority::open(&db.0)
            .unwrap()
            .requests(Some(RequestState::Pending), &Actor::local("test"))
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        if pending.is_empty() || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        let ids: Vec<String> = pending.iter().map(ToString::to_string).collect();
        let script = format!(
            "for id in {}; do \"$PORTREG\" authority --db '{path}' review $id --approve >/dev/null 2>&1 && echo $id >> '{}'; done",
            ids.join(" "),
            log.display()
        );
        let mut child = sandbox
            .command("sh")
            .args(["-c", &script])
            .env("PORTREG", env!("CARGO_BIN_EXE_portreg-admin"))
            .process_group(0)
            .spawn()
            .unwrap();
        // xorshift: a kill somewhere between 10 and 80 ms in.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(10 + seed % 70));
        kill_group(child.id());
        let status = child.wait().unwrap();
        interrupted += usize::from(status.code().is_none());
        check_consistent(&db.0, &log);
    }
    assert!(
        interrupted >= 3,
        "only {interrupted} runs were killed before they finished"
    );
    let authority = Authority::open(&db.0).unwrap();
    assert!(
        authority
            .requests(Some(RequestState::Pending), &Actor::local("test"))
            .unwrap()
            .is_empty(),
        "all approved in the end"
    );
    check_consistent(&db.0, &log);
    let _ = std::fs::remove_file(&log);
}

/// Every approval reported done is there; every approved request has all its records
/// and every pending one none; the database is sound.
fn check_consistent(db: &Path, log: &Path) {
    let authority = Authority::open(db).unwrap();
    assert_eq!(authority.integrity().unwrap(), "ok");
    let reported: Vec<i64> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    for request in authority.requests(None, &Actor::local("test")).unwrap() {
        let records = authority.records_named(&request.request.name).unwrap();
        match request.state {
            RequestState::Approved => assert_eq!(
                records.len(),
                1,
                "request {} approved with its record",
                request.id
            ),
            _ => {
                assert!(
                    records.is_empty(),
                    "request {} not approved and no record",
                    request.id
                );
                assert!(
                    !reported.contains(&request.id),
                    "request {} was reported done",
                    request.id
                );
            }
        }
    }
}

#[test]
fn identities_a_private_store_and_a_verifiable_history() {
    use std::os::unix::fs::PermissionsExt;
    let db = Db::new("identities");
    let path = db.arg();
    assert_eq!(
        portreg(&["authority", "--db", &path, "init"]).status.code(),
        Some(0)
    );
    let mode = std::fs::metadata(&db.0).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the store is its owner's alone");
    let added = portreg(&[
        "authority",
        "--db",
        &path,
        "user",
        "add",
        "ada",
        "--role",
        "expert",
        "--ttl",
        "30d",
    ]);
    assert_eq!(added.status.code(), Some(0), "{}", text(&added.stderr));
    let stdout = text(&added.stdout);
    let token = stdout.trim();
    assert!(
        token.starts_with("portreg_") && !token.contains(char::is_whitespace),
        "{stdout:?}"
    );
    let listed = portreg(&["authority", "--db", &path, "user", "list", "-f", "json"]);
    let users: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(users[0]["role"], "expert");
    assert!(users[0]["expires"].as_str().is_some());
    assert!(
        !text(&listed.stdout).contains(token),
        "a token is shown once"
    );
    let filed = portreg(&request_args(&path, "zq-hist", "40411"));
    assert_eq!(filed.status.code(), Some(0), "{}", text(&filed.stderr));
    assert_eq!(
        portreg(&["authority", "--db", &path, "review", "1", "--approve"])
            .status
            .code(),
        Some(0)
    );
    let history = portreg(&["authority", "--db", &path, "history", "-f", "json"]);
    let entries: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let actor = entries[0]["actor"].as_str().unwrap_or_default().to_owned();
    assert!(actor.starts_with("local:"), "{actor}");
    let whole = portreg(&["authority", "--db", &path, "verify"]);
    assert_eq!(whole.status.code(), Some(0), "{}", text(&whole.stderr));
    let published = portreg(&["authority", "--db", &path, "publish", "--to", "iana-xml"]);
    let xml = text(&published.stdout);
    let head = xml
        .split("<audit-head>")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_default()
        .to_owned();
    assert!(
        head.contains(':'),
        "the published registry names its history"
    );
    assert_eq!(
        portreg(&["authority", "--db", &path, "verify", "--head", &head])
            .status
            .code(),
        Some(0)
    );
    // Behind the store's back: the triggers dropped, a row edited.
    let connection = rusqlite::Connection::open(&db.0).unwrap();
    connection
        .execute_batch("DROP TRIGGER audit_is_append_only_update; UPDATE audit SET actor = 'mallory' WHERE id = 2;")
        .unwrap();
    drop(connection);
    let broken = portreg(&["authority", "--db", &path, "verify"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        text(&broken.stderr).contains("row 2 was changed"),
        "{}",
        text(&broken.stderr)
    );
    // The approval cannot be made by a flag naming someone else.
    let reviewer = portreg(&[
        "authority",
        "--db",
        &path,
        "review",
        "1",
        "--approve",
        "--reviewer",
        "mallory",
    ]);
    assert_eq!(reviewer.status.code(), Some(2));
}
