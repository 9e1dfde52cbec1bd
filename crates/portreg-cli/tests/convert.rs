//! `portreg convert`, run as a user would.

mod harness;

use harness::{portreg, portreg_with_input, shared};

const SERVICES: &[u8] = b"ssh\t22/tcp\t\t# SSH Remote Login Protocol\nhttp\t80/tcp\twww\n";

#[test]
fn converts_stdin_with_detected_format() {
    let run = portreg_with_input(&["convert", "-", "--to", "json"], Some(SERVICES));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let records = run.json();
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
    let args = [
        "convert",
        "--from",
        "services",
        "--to",
        "iana-csv",
        "-o",
        output.to_str().unwrap(),
    ];
    let run = portreg_with_input(&args, Some(SERVICES));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let csv = std::fs::read_to_string(&output).unwrap();
    assert!(csv.starts_with("Service Name,Port Number,"));
    assert!(csv.contains("ssh,22,tcp,SSH Remote Login Protocol,"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn strict_mode_exits_2_with_a_location() {
    let run = portreg_with_input(
        &["convert", "--from", "services", "--to", "json", "--strict"],
        Some(b"ssh 22/tcp\nbad 7x/tcp\n"),
    );
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "portreg: <stdin>:2:5: expected a port or range before '/', found \"7x/tcp\"\n"
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn lenient_mode_warns_for_each_skipped_line_and_counts_them() {
    let run = portreg_with_input(
        &["convert", "--from", "services", "--to", "jsonl"],
        Some(b"ssh 22/tcp\nbad 7x/tcp\nworse\n"),
    );
    assert_eq!(run.code, 0);
    assert!(
        run.stderr
            .contains("<stdin>:2:5: expected a port or range before '/'"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("<stdin>:3:6: expected port/protocol after the name"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .ends_with("portreg: 2 line(s) skipped in <stdin>\n"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stdout.lines().count(), 1);
}

#[test]
fn usage_errors_exit_2() {
    let unknown = portreg_with_input(&["convert", "--to", "yaml"], Some(SERVICES));
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains("unknown format \"yaml\""));
    let missing = portreg(&["convert", "/no/such/file", "--to", "json"]);
    assert_eq!(missing.code, 2);
    assert!(missing
        .stderr
        .starts_with("portreg: cannot read /no/such/file"));
    let undetectable = portreg_with_input(&["convert", "--to", "json"], Some(b"hello world\n"));
    assert_eq!(undetectable.code, 2);
    assert!(undetectable
        .stderr
        .contains("cannot tell the format; give it with --from"));
}

#[test]
fn help_has_examples() {
    let run = portreg(&["convert", "--help"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("Examples:"));
    assert!(run
        .stdout
        .contains("iana-xml, iana-csv, iana-txt, legacy, services, wireshark, nmap, json, jsonl"));
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn converts_the_seed_and_the_iana_xml() {
    let (Some(seed), Some(xml), Some(csv)) = (
        shared("seeds/000_e3c441be08ae7963.txt"),
        shared("data/iana/service-names-port-numbers.xml"),
        shared("data/iana/service-names-port-numbers.csv"),
    ) else {
        return;
    };
    let run = portreg(&["convert", &seed, "--to", "json"]);
    assert_eq!(run.code, 0);
    let records = run.json();
    let records = records.as_array().unwrap();
    assert!(records
        .iter()
        .any(|r| r["name"] == "tcpmux" && r["contacts"][0] == "Mark Lottor <MKL@nisc.sri.com>"));
    assert!(run
        .stderr
        .ends_with(&format!("portreg: 5 line(s) skipped in {seed}\n")));
    let strict = portreg(&["convert", &seed, "--to", "json", "--strict"]);
    assert_eq!(strict.code, 2);
    assert!(strict
        .stderr
        .contains("000_e3c441be08ae7963.txt:1:1: expected"));
    let run = portreg(&["convert", &xml, "--to", "iana-csv"]);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout == std::fs::read_to_string(csv).unwrap(),
        "XML -> CSV is IANA's CSV byte for byte"
    );
}

#[test]
fn inputs_over_the_cap_are_refused_before_they_are_read_whole() {
    let zeros = vec![0u8; 64 * 1024 * 1024 + 1];
    let run = portreg_with_input(&["convert", "-", "--to", "json"], Some(&zeros));
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("larger than 64 MiB"), "{}", run.stderr);
    let device = portreg(&["22", "--registry", "/dev/zero"]);
    assert_eq!(device.code, 2);
    assert!(
        device.stderr.contains("larger than 64 MiB"),
        "{}",
        device.stderr
    );
}
