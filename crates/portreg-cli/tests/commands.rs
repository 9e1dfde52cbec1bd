//! Every command of `portreg`, its output formats, errors and exit codes.

mod harness;

use std::collections::HashMap;

use harness::{portreg, shared};
use serde_json::Value;

const XML: &str = "data/iana/service-names-port-numbers.xml";
const NEWEST_XML: &str = "data/iana/newest/service-names-port-numbers.xml";

#[test]
fn lookup_tables() {
    insta::assert_snapshot!("lookup_22", portreg(&["22"]).stdout);
    insta::assert_snapshot!("lookup_http", portreg(&["HTTP"]).stdout);
    insta::assert_snapshot!("lookup_dns_sd", portreg(&["_ssh._tcp"]).stdout);
    insta::assert_snapshot!("lookup_reserved", portreg(&["0", "1024/udp"]).stdout);
    insta::assert_snapshot!("lookup_range", portreg(&["6000-6010", "-t", "tcp"]).stdout);
    insta::assert_snapshot!(
        "lookup_several",
        portreg(&["lookup", "ssh", "443/tcp", "domain/udp"]).stdout
    );
}

#[test]
fn lookup_formats() {
    let json = portreg(&["6010/tcp", "--format", "json"]).json();
    assert_eq!(json[0]["name"], "x11");
    assert_eq!(
        (json[0]["port_low"].as_u64(), json[0]["port_high"].as_u64()),
        (Some(6000), Some(6063))
    );
    assert_eq!(json[0]["role"], "canonical");
    assert_eq!(json[0]["range_class"], "user");
    let jsonl = portreg(&["22", "80", "-f", "jsonl"]);
    assert!(jsonl.stdout.lines().count() >= 4);
    for line in jsonl.stdout.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        assert!(record["port_low"] == 22 || record["port_low"] == 80);
    }
    let csv = portreg(&["22/tcp", "-f", "csv"]);
    assert!(csv
        .stdout
        .starts_with("Service Name,Port Number,Transport Protocol,"));
    assert!(csv
        .stdout
        .contains("\r\nssh,22,tcp,The Secure Shell (SSH) Protocol,"));
    let services = portreg(&["22/tcp", "-f", "services"]);
    assert_eq!(
        services.stdout,
        "ssh\t22/tcp\t# The Secure Shell (SSH) Protocol\n"
    );
}

#[test]
fn lookup_exit_codes() {
    let none = portreg(&["49152"]);
    assert_eq!((none.code, none.stdout.as_str()), (1, ""));
    assert!(none
        .stderr
        .contains("no record for 49152 (port 49152: Dynamic and/or Private Ports, never assigned"));
    let bad = portreg(&["70000"]);
    assert_eq!(bad.code, 2);
    assert_eq!(
        bad.stderr,
        "portreg: \"70000\" is not a port: ports run from 0 to 65535\n"
    );
    assert_eq!(portreg(&[]).code, 2);
    assert_eq!(portreg(&["22", "--format", "yaml"]).code, 2);
    assert_eq!(portreg(&["22", "-t", "xyz/"]).code, 2);
    let mixed = portreg(&["22", "zz-no-such-svc"]);
    assert_eq!(mixed.code, 0, "found something");
    assert!(mixed.stderr.contains("no record for zz-no-such-svc"));
    let filtered = portreg(&["ssh", "-t", "udp", "-f", "json"]).json();
    assert!(filtered
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["transport"] == "udp"));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    assert!(!portreg(&["22"]).stdout.contains('\u{1b}'));
    assert!(portreg(&["22", "--color", "always"])
        .stdout
        .contains('\u{1b}'));
}

#[test]
fn search_ranks_and_limits() {
    insta::assert_snapshot!(
        "search_sql",
        portreg(&["search", "sql", "--limit", "6"]).stdout
    );
    // The limit counts rows shown, and a cut list says how many more there are.
    let cut = portreg(&["search", "sql", "--limit", "6"]);
    assert_eq!(cut.stdout.lines().count(), 7);
    assert!(cut.stderr.contains(" more; --limit "), "{}", cut.stderr);
    let json = portreg(&["search", "mysql", "-f", "json"]).json();
    assert_eq!(
        (json[0]["name"].as_str(), json[0]["match"].as_str()),
        (Some("mysql"), Some("exact-name"))
    );
    let words = portreg(&["search", "secure", "shell", "-f", "json", "-n", "50"]).json();
    let ssh = words
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "ssh")
        .expect("ssh found");
    assert_eq!(ssh["match"], "description-word");
    let none = portreg(&["search", "zzqqxx"]);
    assert_eq!(none.code, 1);
    let udp = portreg(&["search", "kerberos", "-t", "udp", "-f", "json"]).json();
    assert!(udp
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["transport"] == "udp"));
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn info_says_everything() {
    let run = portreg(&["info", "22"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("ssh 22/tcp: assigned (canonical)"));
    assert!(run.stdout.contains(
        "port 22: System Ports (Well Known Ports), assigned by IETF Review or IESG Approval"
    ));
    assert!(run.stdout.contains("privileged"));
    let json = portreg(&["info", "22", "-f", "json"]).json();
    assert_eq!(json["ports"][0]["range_class"], "system");
    if std::path::Path::new("/proc/sys/net/ipv4/ip_local_port_range").exists() {
        assert!(json["ports"][0]["ephemeral"].is_boolean());
    }
    let Some(xml) = shared(XML) else { return };
    let x11 = portreg(&["info", "x11/tcp", "--registry", &xml]);
    assert!(x11.stdout.contains("Stephen Gildea"), "{}", x11.stdout);
    assert!(x11
        .stdout
        .contains("unauthorized use: Known Unauthorized Use on port 6003"));
    let http = portreg(&["info", "http/tcp", "--registry", &xml, "-f", "json"]).json();
    let links = http["records"][0]["links"].as_array().unwrap();
    assert!(links
        .iter()
        .any(|l| l == "https://www.rfc-editor.org/rfc/rfc9110"));
    let people = &http["records"][0]["people"];
    assert!(
        people["contacts"][0].as_str().unwrap().contains('@'),
        "{people}"
    );
    assert!(!people["contacts"][0].as_str().unwrap().contains('&'));
}

#[test]
fn free_ports() {
    insta::assert_snapshot!(
        "free_range",
        portreg(&[
            "free",
            "-t",
            "tcp",
            "--range",
            "8000-8030",
            "--include-listening"
        ])
        .stdout
    );
    let json = portreg(&["free", "--range", "1020-1030", "-f", "json"]).json();
    for span in json.as_array().unwrap() {
        assert!(span["port_low"].as_u64() <= span["port_high"].as_u64());
    }
    let counted = portreg(&["free", "--count", "3", "-f", "json"]).json();
    assert_eq!(portreg_testing::span_total(&counted), 3);
    assert_eq!(portreg(&["free", "--range", "lots"]).code, 2);
    let reserved = portreg(&["free", "--range", "1024", "-f", "json"]);
    assert_eq!((reserved.code, reserved.json()), (1, serde_json::json!([])));
    if std::path::Path::new("/proc/sys/net/ipv4/ip_local_port_range").exists() {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let bounds: Vec<u64> = range
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect();
        // The ephemeral range is left out by default.
        let spans = portreg(&["free", "--range", "1024-65535", "-f", "json"]).json();
        let outside = |s: &Value| {
            s["port_high"].as_u64().unwrap() < bounds[0]
                || s["port_low"].as_u64().unwrap() > bounds[1]
        };
        assert!(spans.as_array().unwrap().iter().all(outside));
    }
}

/// A record's identity for diffs, recomputed here: (name, ports, transport, nth).
fn identities(records: &[Value]) -> Vec<(String, String, String, usize)> {
    let mut seen: HashMap<(String, String, String), usize> = HashMap::new();
    records
        .iter()
        .map(|r| {
            let key = (
                r["name"].as_str().unwrap_or("").to_lowercase(),
                format!("{}-{}", r["port_low"], r["port_high"]),
                r["transport"].to_string(),
            );
            let n = seen.entry(key.clone()).or_default();
            *n += 1;
            (key.0, key.1, key.2, *n)
        })
        .collect()
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn diff_counts_match_an_independent_count() {
    let (Some(old), Some(new)) = (shared(XML), shared(NEWEST_XML)) else {
        return;
    };
    let run = portreg(&["diff", &old, &new, "-f", "json"]);
    assert_eq!(run.code, 1, "different, as diff(1) says: {}", run.stderr);
    let diff = run.json();
    let old_records = portreg(&["convert", &old, "--to", "json"]).json();
    let new_records = portreg(&["convert", &new, "--to", "json"]).json();
    let (old_records, new_records) = (
        old_records.as_array().unwrap(),
        new_records.as_array().unwrap(),
    );
    let old_ids = identities(old_records);
    let new_ids = identities(new_records);
    let added = new_ids.iter().filter(|id| !old_ids.contains(id)).count();
    let removed = old_ids.iter().filter(|id| !new_ids.contains(id)).count();
    let changed = old_ids
        .iter()
        .enumerate()
        .filter_map(|(i, id)| new_ids.iter().position(|n| n == id).map(|j| (i, j)))
        .filter(|&(i, j)| {
            let strip = |v: &Value| {
                let mut v = v.clone();
                for key in [
                    "description_markup",
                    "notes_markup",
                    "range_class",
                    "ports_as_written",
                ] {
                    v.as_object_mut().unwrap().remove(key);
                }
                v
            };
            strip(&old_records[i]) != strip(&new_records[j])
        })
        .count();
    let summary = &diff["summary"];
    assert_eq!(
        (summary["added"].as_u64(), summary["removed"].as_u64()),
        (Some(added as u64), Some(removed as u64))
    );
    assert_eq!(summary["changed"].as_u64(), Some(changed as u64));
    assert_eq!(added as i64 - removed as i64, 14_533 - 14_499);
    assert_eq!(diff["added"].as_array().unwrap().len(), added);
    assert!(diff["changed"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| !c["fields"].as_array().unwrap().is_empty()));
    let table = portreg(&["diff", &old, &new]);
    assert!(table.stdout.starts_with(&format!(
        "{added} added, {removed} removed, {changed} changed"
    )));
    // The old and new values of each changed field are shown.
    assert!(table.stdout.contains(" -> "), "{}", table.stdout);
    let same = portreg(&["diff", &old, &old]);
    assert_eq!(same.code, 0);
}

#[test]
fn check_name_reasons_and_takers() {
    let taken = portreg(&["check-name", "SSH", "-f", "json"]);
    assert_eq!(taken.code, 1);
    let json = taken.json();
    assert_eq!(
        (json["valid"].as_bool(), json["free"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(json["taken_by"][0]["name"], "ssh");
    let fresh = portreg(&["check-name", "zq-fresh-svc"]);
    assert_eq!(
        (fresh.code, fresh.stdout.as_str()),
        (0, "zq-fresh-svc: valid and free\n")
    );
    insta::assert_snapshot!(
        "check_name_invalid",
        portreg(&["check-name", "--", "-bad--name_with+signs-"]).stdout
    );
    let codes = portreg(&["check-name", "a--b", "-f", "json"]).json();
    assert_eq!(codes["problems"][0]["code"], "adjacent-hyphens");
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn about_the_registry_in_use() {
    let json = portreg(&["about", "-f", "json"]).json();
    assert_eq!(json["registry"], "embedded");
    assert!(json["records"].as_u64().unwrap() > 10_000);
    assert!(json["source"]
        .as_str()
        .unwrap()
        .contains("IANA service-names-port-numbers.xml"));
    assert!(json["updated"].is_string());
    assert!(portreg(&["about"])
        .stdout
        .starts_with(&format!("portreg {}\n", env!("CARGO_PKG_VERSION"))));
    let Some(xml) = shared(NEWEST_XML) else {
        return;
    };
    let json = portreg(&["about", "--registry", &xml, "-f", "json"]).json();
    let people = std::fs::read_to_string(&xml)
        .unwrap()
        .matches("<person id=")
        .count() as u64;
    assert_eq!(
        (json["records"].as_u64(), json["people"].as_u64()),
        (Some(14_533), Some(people))
    );
    assert_eq!(json["updated"], "2026-08-17");
}

#[test]
fn registry_file_errors_exit_2() {
    let run = portreg(&["22", "--registry", "/no/such/registry.xml"]);
    assert_eq!(run.code, 2);
    assert!(run
        .stderr
        .starts_with("portreg: cannot read /no/such/registry.xml"));
}

#[test]
fn completions_and_man_page() {
    let bash = portreg(&["completions", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("check-name"));
    let man = portreg(&["man"]);
    assert!(man.stdout.contains(".TH portreg"));
    for command in [
        "lookup",
        "search",
        "info",
        "free",
        "diff",
        "check-name",
        "about",
        "convert",
    ] {
        let help = portreg(&[command, "--help"]);
        assert!(
            help.stdout.contains("Example"),
            "{command} --help has examples"
        );
    }
}

#[test]
fn record_formats_only_where_there_are_records() {
    for command in [
        &["about"][..],
        &["free"],
        &["check-name", "x"],
        &["info", "22"],
    ] {
        let mut args = command.to_vec();
        args.extend(["-f", "csv"]);
        let run = portreg(&args);
        // A usage error naming the formats the command takes.
        assert_eq!(run.code, 2, "{args:?}");
        assert!(run.stderr.contains("invalid value 'csv'"), "{}", run.stderr);
        assert!(run.stderr.contains("table, json, jsonl"), "{}", run.stderr);
    }
    let lines = portreg(&["free", "--range", "1020-1030", "-f", "jsonl"]);
    assert!(lines
        .stdout
        .lines()
        .all(|l| serde_json::from_str::<Value>(l).unwrap()["port_low"].is_u64()));
}

#[test]
fn one_row_per_service_with_its_other_names() {
    let table = portreg(&["80"]).stdout;
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert!(
        rows.iter().any(|r| r.contains("http (www, www-http)")),
        "{table}"
    );
    assert!(
        !rows
            .iter()
            .any(|r| r.split_whitespace().nth(2) == Some("www")),
        "no row of its own for another name: {table}"
    );
    // --all and the machine formats list every record.
    assert!(portreg(&["80", "--all"]).stdout.contains(" www "));
    let json = portreg(&["80", "-f", "json"]).json();
    assert!(json
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "www-http"));
}

#[test]
fn search_suggests_a_name_when_nothing_matches() {
    let run = portreg(&["search", "htpp"]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("did you mean") && run.stderr.contains("http"),
        "{}",
        run.stderr
    );
}

#[test]
fn free_for_checks_the_name() {
    let bad = portreg(&["free", "--for", "Bad Name!"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("not a valid service name"),
        "{}",
        bad.stderr
    );
    let taken = portreg(&["free", "--for", "ssh"]);
    assert_eq!(taken.code, 0);
    assert!(
        taken.stderr.contains("ssh is already assigned (22/tcp"),
        "{}",
        taken.stderr
    );
    let fresh = portreg(&["free", "--for", "zq-fresh-name"]);
    assert!(
        !fresh.stderr.contains("already assigned"),
        "{}",
        fresh.stderr
    );
}

#[test]
fn tables_wrap_to_a_narrow_terminal() {
    let run = portreg_testing::run_with(
        env!("CARGO_BIN_EXE_portreg"),
        &["80", "8080", "4200"],
        None,
        &[("COLUMNS", "60")],
    );
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 60, "{line:?}\n{}", run.stdout);
    }
    assert!(run.stdout.contains("World Wide Web HTTP"), "{}", run.stdout);
    let info = portreg_testing::run_with(
        env!("CARGO_BIN_EXE_portreg"),
        &["info", "8080/tcp"],
        None,
        &[("COLUMNS", "40")],
    );
    for line in info.stdout.lines() {
        assert!(line.chars().count() <= 40, "{line:?}\n{}", info.stdout);
    }
}

#[test]
fn info_says_what_listens_here_as_free_explain_does() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let info = portreg(&["info", &port]);
    assert!(
        info.stdout.contains("listening here") && info.stdout.contains("yes, on tcp"),
        "{}",
        info.stdout
    );
    let json = portreg(&["info", &port, "-f", "json"]).json();
    assert_eq!(json["ports"][0]["listening"], serde_json::json!(["tcp"]));
    let explain = portreg(&["free", "--explain", &port, "-f", "json"]).json();
    assert!(
        explain["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["kind"] == "listening"),
        "{explain}"
    );
    drop(listener);
}

/// A page a command, each with the sections a man page has: options from the command's
/// arguments, examples from its help, what its exit status means, what it reads.
#[test]
fn every_command_has_a_whole_man_page() {
    let dir = portreg_testing::Sandbox::new();
    let out = dir.path().join("man");
    let written = portreg(&["man", "--dir", out.to_str().unwrap()]);
    assert_eq!(written.code, 0, "{}", written.stderr);
    let pages: Vec<_> = std::fs::read_dir(&out).unwrap().flatten().collect();
    assert_eq!(pages.len(), 18, "portreg.1 and one page a command");
    for page in pages {
        let name = page.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(page.path()).unwrap();
        for section in [
            ".SH NAME",
            ".SH SYNOPSIS",
            ".SH DESCRIPTION",
            ".SH OPTIONS",
            ".SH EXAMPLES",
            ".SH \"EXIT STATUS\"",
            ".SH ENVIRONMENT",
            ".SH FILES",
        ] {
            assert!(text.contains(section), "{name} has no {section}");
        }
        assert!(!text.contains(".SH EXTRA"), "{name}");
    }
    let free = std::fs::read_to_string(out.join("portreg-free.1")).unwrap();
    assert!(free.contains("\\-\\-explain 8080"), "{free}");
}
