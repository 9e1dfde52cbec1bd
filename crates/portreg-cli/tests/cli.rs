//! The `portreg` binary, run as a user would.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// Runs portreg with `args` and optional standard input.
fn portreg(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portreg"))
        .args(args)
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
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn shared(relative: &str) -> Option<PathBuf> {
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

const SERVICES: &[u8] = b"ssh\t22/tcp\t\t# SSH Remote Login Protocol\nhttp\t80/tcp\twww\n";

#[test]
fn converts_stdin_with_detected_format() {
    let out = portreg(&["convert", "-", "--to", "json"], Some(SERVICES));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records[0]["name"], "ssh");
    assert_eq!(records[0]["port_low"], 22);
    assert_eq!(records[1]["aliases"][0], "www");
    // Every key of the JSON record is present, null when absent.
    for key in [
        "name",
        "port_low",
        "port_high",
        "transport",
        "description",
        "status",
        "aliases",
        "assignees",
        "contacts",
        "registered",
        "modified",
        "references",
        "service_code",
        "unauthorized_use",
        "notes",
        "range_class",
    ] {
        assert!(records[1].get(key).is_some(), "missing key {key}");
    }
    assert_eq!(records[1]["description"], serde_json::Value::Null);
}

#[test]
fn writes_to_an_output_file() {
    let dir = std::env::temp_dir().join(format!("portreg-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = dir.join("out.csv");
    let out = portreg(
        &[
            "convert",
            "--from",
            "services",
            "--to",
            "iana-csv",
            "-o",
            output.to_str().unwrap(),
        ],
        Some(SERVICES),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(&output).unwrap();
    assert!(csv.starts_with("Service Name,Port Number,"));
    assert!(csv.contains("ssh,22,tcp,SSH Remote Login Protocol,"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn strict_mode_exits_2_with_a_location() {
    let out = portreg(
        &["convert", "--from", "services", "--to", "json", "--strict"],
        Some(b"ssh 22/tcp\nbad 7x/tcp\n"),
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        text(&out.stderr),
        "<stdin>:2:5: expected a port or range before '/', found \"7x/tcp\"\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn lenient_mode_warns_for_each_skipped_line_and_counts_them() {
    let out = portreg(
        &["convert", "--from", "services", "--to", "jsonl"],
        Some(b"ssh 22/tcp\nbad 7x/tcp\nworse\n"),
    );
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("<stdin>:2:5: expected a port or range before '/'"),
        "{stderr}"
    );
    assert!(
        stderr.contains("<stdin>:3:6: expected port/protocol after the name"),
        "{stderr}"
    );
    assert!(
        stderr.ends_with("portreg: 2 line(s) skipped in <stdin>\n"),
        "{stderr}"
    );
    assert_eq!(text(&out.stdout).lines().count(), 1);
}

#[test]
fn usage_errors_exit_2() {
    let unknown = portreg(&["convert", "--to", "yaml"], Some(SERVICES));
    assert_eq!(unknown.status.code(), Some(2));
    assert!(text(&unknown.stderr).contains("unknown format \"yaml\""));
    let missing = portreg(&["convert", "/no/such/file", "--to", "json"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).starts_with("portreg: cannot read /no/such/file"));
    let undetectable = portreg(&["convert", "--to", "json"], Some(b"hello world\n"));
    assert_eq!(undetectable.status.code(), Some(2));
    assert!(text(&undetectable.stderr).contains("cannot tell the format; give it with --from"));
}

#[test]
fn help_has_examples() {
    let out = portreg(&["convert", "--help"], None);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Examples:"));
    assert!(text(&out.stdout)
        .contains("iana-xml, iana-csv, iana-txt, legacy, services, wireshark, nmap, json, jsonl"));
}

#[test]
fn converts_the_seed_and_the_iana_xml() {
    let (Some(seed), Some(xml), Some(csv)) = (
        shared("seeds/000_e3c441be08ae7963.txt"),
        shared("data/iana/service-names-port-numbers.xml"),
        shared("data/iana/service-names-port-numbers.csv"),
    ) else {
        return;
    };
    let out = portreg(&["convert", seed.to_str().unwrap(), "--to", "json"], None);
    assert!(out.status.success());
    let records: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert!(records
        .iter()
        .any(|r| r["name"] == "tcpmux" && r["contacts"][0] == "Mark Lottor <MKL@nisc.sri.com>"));
    let skipped = format!("portreg: 5 line(s) skipped in {}\n", seed.display());
    assert!(text(&out.stderr).ends_with(&skipped));
    let strict = portreg(
        &[
            "convert",
            seed.to_str().unwrap(),
            "--to",
            "json",
            "--strict",
        ],
        None,
    );
    assert_eq!(strict.status.code(), Some(2));
    assert!(text(&strict.stderr).contains("000_e3c441be08ae7963.txt:1:1: expected"));
    let out = portreg(
        &["convert", xml.to_str().unwrap(), "--to", "iana-csv"],
        None,
    );
    assert!(out.status.success());
    assert!(
        out.stdout == std::fs::read(csv).unwrap(),
        "XML -> CSV is IANA's CSV byte for byte"
    );
}
