//! `portreg update` against a server of the test's own on 127.0.0.1: every way a
//! download can go wrong leaves the registry in use exactly as it was.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use portreg_testing::shared_arg as shared;

/// A loopback HTTP server with a fixed set of answers, one thread per connection.
struct Server {
    port: u16,
    stop: Arc<AtomicBool>,
}

#[derive(Clone)]
struct Files {
    old: Arc<Vec<u8>>,
    new: Arc<Vec<u8>>,
}

impl Server {
    fn start(files: Files) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let files = files.clone();
                thread::spawn(move || answer(stream, &files));
            }
        });
        Server { port, stop }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn answer(mut stream: TcpStream, files: &Files) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request = String::new();
    let _ = reader.read_line(&mut request);
    let mut if_none_match = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(value.trim().to_owned());
            }
        }
    }
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let send = |stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]| {
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes());
        let _ = stream.write_all(body);
    };
    match path.as_str() {
        "/old.xml" | "/new.xml" => {
            let (body, etag) = if path == "/old.xml" {
                (&files.old, "\"old\"")
            } else {
                (&files.new, "\"new\"")
            };
            if if_none_match.as_deref() == Some(etag) {
                let _ = stream.write_all(b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n");
            } else {
                send(
                    &mut stream,
                    "200 OK",
                    &format!("ETag: {etag}\r\nContent-Type: text/xml\r\n"),
                    body,
                );
            }
        }
        "/slow.xml" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                files.new.len()
            );
            let _ = stream.write_all(head.as_bytes());
            for chunk in files.new.chunks(files.new.len() / 10 + 1) {
                thread::sleep(Duration::from_millis(100));
                let _ = stream.write_all(chunk);
            }
        }
        "/error" => send(&mut stream, "500 Internal Server Error", "", b"oops"),
        "/html" => send(
            &mut stream,
            "200 OK",
            "Content-Type: text/html\r\n",
            b"<!DOCTYPE html><html><body>Service unavailable</body></html>",
        ),
        "/truncated" => {
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                files.new.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&files.new[..files.new.len() / 2]);
        }
        "/stall" => {
            let mut sink = [0u8; 1];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(20)));
            let _ = stream.read(&mut sink);
        }
        _ => send(&mut stream, "404 Not Found", "", b"no"),
    }
}

/// A data directory of the test's own.
struct DataDir(PathBuf);

impl DataDir {
    fn new(name: &str) -> DataDir {
        let dir =
            std::env::temp_dir().join(format!("portreg-update-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        DataDir(dir)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_portreg-admin"));
        portreg_testing::isolate(&mut command, &self.0.with_extension("sandbox"));
        command
            .args(args)
            .env("PORTREG_DATA_DIR", &self.0)
            .env("NO_COLOR", "1");
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// The registry in use: (records, updated).
    fn in_use(&self) -> (u64, String) {
        let out = self.run(&["about", "-f", "json"]);
        let about: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            about["records"].as_u64().unwrap(),
            about["updated"].as_str().unwrap_or("").to_owned(),
        )
    }

    fn installed_file(&self) -> PathBuf {
        self.0.join("registry.bin")
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_dir_all(self.0.with_extension("sandbox"));
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// IANA's two XML files, re-dated after the built-in registry (2026-08-17) so that both
/// are newer than it: the one of 2026-02-13 as of 2026-09-01, the newest as of 2026-10-01.
fn files() -> Option<Files> {
    let old = shared("data/iana/service-names-port-numbers.xml")?;
    let new = shared("data/iana/newest/service-names-port-numbers.xml")?;
    let redate = |path: &str, from: &str, to: &str| {
        let text = std::fs::read_to_string(path).unwrap();
        let (from, to) = (
            format!("<updated>{from}</updated>"),
            format!("<updated>{to}</updated>"),
        );
        assert!(text.contains(&from));
        Arc::new(text.replacen(&from, &to, 1).into_bytes())
    };
    Some(Files {
        old: redate(&old, "2026-02-13", "2026-09-01"),
        new: redate(&new, "2026-08-17", "2026-10-01"),
    })
}

fn assert_refused(out: &Output, why: &str) {
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("update refused") && stderr.contains(why),
        "{stderr}"
    );
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn installs_updates_refuses_and_rolls_back() {
    let Some(files) = files() else { return };
    let server = Server::start(files);
    let data = DataDir::new("life");
    let embedded = data.in_use();
    assert_eq!(embedded.1, portreg_data::UPDATED);

    // First install.
    let out = data.run(&["update", "--url", &server.url("old.xml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("installed the registry of 2026-09-01 (14499 records)"));
    assert_eq!(data.in_use(), (14_499, "2026-09-01".into()));

    // Not modified: the server's ETag is remembered.
    let out = data.run(&["update", "--url", &server.url("old.xml")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("already current"));

    // --check says a newer one exists, and installs nothing.
    let out = data.run(&["update", "--check", "--url", &server.url("new.xml")]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("2026-10-01, 14533 records"));
    assert_eq!(data.in_use(), (14_499, "2026-09-01".into()));

    // Newer.
    let out = data.run(&["update", "--url", &server.url("new.xml"), "--verbose"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("installed the registry of 2026-10-01 (14533 records)"));
    assert!(
        stdout.lines().any(|l| l.starts_with("  + ")),
        "--verbose lists the added records"
    );
    let newest = data.in_use();
    assert_eq!(newest, (14_533, "2026-10-01".into()));
    let before = std::fs::read(data.installed_file()).unwrap();

    // Every failure leaves the registry in use exactly as it was.
    let older = data.run(&["update", "--url", &server.url("old.xml")]);
    assert_refused(&older, "older than the registry in use");
    let error = data.run(&["update", "--url", &server.url("error")]);
    assert_refused(&error, "HTTP 500");
    let html = data.run(&["update", "--url", &server.url("html")]);
    assert_refused(&html, "is not a registry file");
    let truncated = data.run(&["update", "--url", &server.url("truncated")]);
    assert_refused(&truncated, "broke off");
    let stalled = data.run(&["update", "--url", &server.url("stall"), "--timeout", "2"]);
    assert_refused(&stalled, "cannot download");
    let missing = data.run(&["update", "--file", "/no/such/registry.xml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(std::fs::read(data.installed_file()).unwrap(), before);
    assert_eq!(data.in_use(), newest);

    // Older, when asked for.
    let out = data.run(&["update", "--url", &server.url("old.xml"), "--allow-older"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(data.in_use(), (14_499, "2026-09-01".into()));

    // Rollback brings the one before back, twice over.
    assert_eq!(data.run(&["update", "--rollback"]).status.code(), Some(0));
    assert_eq!(data.in_use(), newest);
    assert_eq!(data.run(&["update", "--rollback"]).status.code(), Some(0));
    assert_eq!(data.in_use(), (14_499, "2026-09-01".into()));

    // Lookups answer from the installed registry.
    let out = data.run(&["rdp", "-f", "json"]);
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        records.as_array().unwrap().len(),
        2,
        "name-only records come with IANA's registry"
    );
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn too_small_a_registry_is_refused() {
    let Some(netbase) = shared("data/netbase/services") else {
        return;
    };
    let data = DataDir::new("small");
    let out = data.run(&["update", "--file", &netbase, "--allow-older"]);
    assert_refused(&out, "fewer than 90%");
    assert!(!data.installed_file().exists());
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn two_updates_at_once_both_end_well() {
    let Some(files) = files() else { return };
    let server = Server::start(files);
    let data = DataDir::new("concurrent");
    let url = server.url("slow.xml");
    let first = data.command(&["update", "--url", &url]).spawn().unwrap();
    thread::sleep(Duration::from_millis(200));
    let second = data.command(&["update", "--url", &url]).spawn().unwrap();
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(
        text(&second.stderr).contains("another update is running"),
        "{}",
        text(&second.stderr)
    );
    assert!(
        matches!(second.status.code(), Some(0 | 1)),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(data.in_use(), (14_533, "2026-10-01".into()));
    let leftovers: Vec<_> = std::fs::read_dir(&data.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary files left");
}

fn damage(path: &Path, how: &str) {
    match how {
        "truncate" => {
            let bytes = std::fs::read(path).unwrap();
            std::fs::write(path, &bytes[..bytes.len() / 3]).unwrap();
        }
        "flip" => {
            let mut bytes = std::fs::read(path).unwrap();
            let middle = bytes.len() / 2;
            bytes[middle] ^= 0x55;
            std::fs::write(path, bytes).unwrap();
        }
        _ => std::fs::write(path, b"not a registry at all").unwrap(),
    }
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn a_damaged_installed_registry_never_breaks_a_lookup() {
    let Some(new) = shared("data/iana/newest/service-names-port-numbers.xml") else {
        return;
    };
    for how in ["truncate", "flip", "garbage"] {
        let data = DataDir::new(how);
        assert_eq!(data.run(&["update", "--file", &new]).status.code(), Some(0));
        damage(&data.installed_file(), how);
        let out = data.run(&["22", "-f", "json"]);
        assert_eq!(out.status.code(), Some(0), "{how}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert_eq!(
            stderr
                .matches("warning: the installed registry cannot be used")
                .count(),
            1,
            "{how}: {stderr}"
        );
        let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(records[0]["name"], "ssh");
        assert_eq!(
            data.in_use().1,
            portreg_data::UPDATED,
            "{how}: the embedded registry answers"
        );
        // An update repairs it.
        assert_eq!(
            data.run(&["update", "--file", &new]).status.code(),
            Some(0),
            "{how}"
        );
        // The shared newest file, as it is: the built-in registry's own date.
        assert_eq!(data.in_use(), (14_533, "2026-08-17".into()));
    }
}

/// The newest XML with its date and records rewritten by `edit`, in a file of the test's.
fn edited_xml(data: &DataDir, name: &str, edit: impl Fn(&str) -> String) -> Option<String> {
    let newest = shared("data/iana/newest/service-names-port-numbers.xml")?;
    let text = std::fs::read_to_string(newest).unwrap();
    std::fs::create_dir_all(&data.0).unwrap();
    let path = data.0.join(name);
    std::fs::write(&path, edit(&text)).unwrap();
    Some(path.display().to_string())
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn a_registry_dated_in_the_future_is_refused() {
    let data = DataDir::new("future");
    let Some(file) = edited_xml(&data, "future.xml", |text| {
        text.replacen(
            "<updated>2026-08-17</updated>",
            "<updated>9999-12-31</updated>",
            1,
        )
    }) else {
        return;
    };
    let out = data.run(&["update", "--file", &file]);
    assert_refused(&out, "in the future");
    assert!(!data.installed_file().exists());
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn copies_of_one_record_are_refused() {
    let data = DataDir::new("copies");
    let Some(file) = edited_xml(&data, "copies.xml", |text| {
        let start = text.find("<record").unwrap();
        let end = text[start..].find("</record>").unwrap() + start + "</record>".len();
        let record = &text[start..end];
        let last = text.rfind("</record>").unwrap() + "</record>".len();
        let dated = text[..start].replacen("2026-08-17", "2026-10-01", 1);
        format!("{dated}{}{}", record.repeat(14_600), &text[last..])
    }) else {
        return;
    };
    let out = data.run(&["update", "--file", &file]);
    assert_refused(&out, "distinct (name, port, transport) entries");
    let lookup = data.run(&["22/tcp"]);
    assert_eq!(lookup.status.code(), Some(0));
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn planted_links_are_never_followed() {
    let Some(new) = shared("data/iana/newest/service-names-port-numbers.xml") else {
        return;
    };
    let data = DataDir::new("links");
    std::fs::create_dir_all(&data.0).unwrap();
    let outside = std::env::temp_dir().join(format!("portreg-outside-{}", std::process::id()));
    let _ = std::fs::remove_file(&outside);
    std::os::unix::fs::symlink(&outside, data.0.join("update.lock")).unwrap();
    let out = data.run(&["update", "--file", &new]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!outside.exists(), "the dangling link's target was created");
    assert!(!data.installed_file().exists());
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn installing_the_built_in_registrys_own_source_changes_no_answer() {
    let Some(source) = shared("data/iana/newest/service-names-port-numbers.xml") else {
        return;
    };
    let data = DataDir::new("own-source");
    let out = data.run(&["update", "--file", &source]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("0 changed"),
        "{}",
        text(&out.stdout)
    );
    // Every record, aliases included, as the built-in registry has it.
    let installed = std::fs::read(data.installed_file()).unwrap();
    let installed = portreg::CompiledRegistry::from_bytes(&installed).unwrap();
    let embedded = portreg::CompiledRegistry::embedded();
    assert_eq!(
        installed.to_registry().records,
        embedded.to_registry().records
    );
    for name in ["postgres", "www", "http"] {
        let out = data.run(&[name, "-f", "json"]);
        assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
    }
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn a_rollback_never_reads_through_a_planted_link() {
    let Some(files) = files() else { return };
    let data = DataDir::new("rollback-link");
    std::fs::create_dir_all(&data.0).unwrap();
    let new = data.0.join("new.xml");
    std::fs::write(&new, files.new.as_slice()).unwrap();
    assert_eq!(
        data.run(&["update", "--file", &new.display().to_string()])
            .status
            .code(),
        Some(0)
    );
    let installed = std::fs::read(data.installed_file()).unwrap();
    // A victim file the user never meant to install, linked in as the previous registry.
    let victim = data.0.join("victim");
    std::fs::write(&victim, b"secret bytes of another file").unwrap();
    let previous = data
        .installed_file()
        .with_file_name("registry.previous.bin");
    let _ = std::fs::remove_file(&previous);
    std::os::unix::fs::symlink(&victim, &previous).unwrap();
    let out = data.run(&["update", "--rollback"]);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("nothing was changed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read(data.installed_file()).unwrap(), installed);
    // A regular file that is no registry is refused the same way.
    std::fs::remove_file(&previous).unwrap();
    std::fs::write(&previous, b"not a registry").unwrap();
    let out = data.run(&["update", "--rollback"]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(std::fs::read(data.installed_file()).unwrap(), installed);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn an_update_killed_between_renames_is_recovered_and_said_once() {
    let Some(files) = files() else { return };
    let data = DataDir::new("killed");
    std::fs::create_dir_all(&data.0).unwrap();
    for (name, bytes) in [("old.xml", &files.old), ("new.xml", &files.new)] {
        std::fs::write(data.0.join(name), bytes.as_slice()).unwrap();
    }
    for name in ["old.xml", "new.xml"] {
        let file = data.0.join(name).display().to_string();
        assert_eq!(
            data.run(&["update", "--file", &file]).status.code(),
            Some(0)
        );
    }
    // What the earlier two-rename install left when killed between them.
    std::fs::remove_file(data.installed_file()).unwrap();
    let first = data.run(&["22/tcp"]);
    assert_eq!(first.status.code(), Some(0));
    assert!(
        text(&first.stderr).contains("interrupted update"),
        "{}",
        text(&first.stderr)
    );
    assert_eq!(data.in_use(), (14_499, "2026-09-01".into()));
    let second = data.run(&["22/tcp"]);
    assert!(text(&second.stderr).is_empty(), "{}", text(&second.stderr));
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn a_damaged_registry_is_reported_once() {
    let Some(new) = shared("data/iana/newest/service-names-port-numbers.xml") else {
        return;
    };
    let data = DataDir::new("once");
    assert_eq!(data.run(&["update", "--file", &new]).status.code(), Some(0));
    damage(&data.installed_file(), "flip");
    let first = text(&data.run(&["22"]).stderr);
    assert!(first.contains("cannot be used"), "{first}");
    let second = text(&data.run(&["22"]).stderr);
    assert!(!second.contains("cannot be used"), "{second}");
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn a_system_install_is_readable_by_every_user_and_leaves_the_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let Some(files) = files() else { return };
    let server = Server::start(files);
    let user = DataDir::new("system-user");
    let system = DataDir::new("system-machine");
    let out = user
        .command(&["update", "--system", "--url", &server.url("new.xml")])
        .env("PORTREG_SYSTEM_DATA_DIR", &system.0)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("--system --rollback"),
        "{}",
        text(&out.stdout)
    );
    for file in ["registry.bin", "state.json"] {
        let mode = std::fs::metadata(system.0.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "{file}");
    }
    assert!(
        !user.installed_file().exists(),
        "the user's registry is not the machine's"
    );
    // The name service's view of it.
    let status = user
        .command(&["nss", "status", "-f", "json", "--nsswitch", "/nonexistent"])
        .env("PORTREG_SYSTEM_DATA_DIR", &system.0)
        .output()
        .unwrap();
    assert_eq!(
        status.status.code(),
        Some(1),
        "not in use: no services line"
    );
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["updated"], "2026-10-01");
    assert!(status["registry"]
        .as_str()
        .unwrap()
        .contains("system-machine"));
}
