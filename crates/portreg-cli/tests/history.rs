//! The registry's history: facts checked in the data (not in the code), lookups as of a
//! date, the timeline's shape, and bad input.

use portreg_testing::{run, Sandbox};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_portreg");

fn json(args: &[&str]) -> Value {
    let out = run(BIN, args, None);
    assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
    out.json()
}

/// Every (event, name, transport, after, by) of a timeline.
fn events(timeline: &Value) -> Vec<(String, String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    timeline["records"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| entry["events"].as_array().unwrap().clone())
        .map(|event| {
            (
                text(&event["change"]),
                text(&event["record"]["name"]),
                text(&event["record"]["transport"]),
                text(&event["after"]),
                text(&event["by"]),
            )
        })
        .collect()
}

#[test]
fn port_465_was_urd_then_also_submissions() {
    let timeline = json(&["history", "465", "-t", "tcp", "-f", "json"]);
    let events = events(&timeline);
    // urd since the 2008 list (the 2001 copy lists ports 0-145 only: not "between").
    assert!(events.contains(&(
        "added".into(),
        "urd".into(),
        "tcp".into(),
        "-".into(),
        "2008-02-29".into()
    )));
    // submissions (RFC 8314) published between two IANA releases of late 2017.
    let added = events
        .iter()
        .find(|e| e.0 == "added" && e.1 == "submissions")
        .expect("submissions added");
    assert_eq!(
        (added.3.as_str(), added.4.as_str()),
        ("2017-11-29", "2017-12-13")
    );
    // As published then: urd alone in 2016, submissions beside it after.
    let before = run(
        BIN,
        &["465/tcp", "--as-of", "2016-06-01", "-f", "json"],
        None,
    );
    assert_eq!(before.code, 0);
    let names: Vec<Value> = before
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].clone())
        .collect();
    assert_eq!(names, [Value::from("urd")]);
    assert!(
        before.stderr.contains("as published on 2013-06-26"),
        "{}",
        before.stderr
    );
    let after = run(
        BIN,
        &["465/tcp", "--as-of", "2018-03-01", "-f", "json", "--all"],
        None,
    );
    assert!(after.stdout.contains("\"submissions\""));
}

#[test]
fn port_43_has_been_nicname_since_the_2001_list() {
    let timeline = json(&["history", "nicname", "-f", "json"]);
    let events = events(&timeline);
    assert!(events.contains(&(
        "added".into(),
        "nicname".into(),
        "tcp".into(),
        "-".into(),
        "2001-09-17".into()
    )));
    assert!(!events.iter().any(|e| e.0 == "removed"), "{events:?}");
    let old = run(BIN, &["43", "--as-of", "2001-12-31"], None);
    assert!(old.stdout.contains("nicname"), "{}", old.stdout);
    assert!(
        old.stderr.contains("lists ports 0-145 only"),
        "{}",
        old.stderr
    );
}

#[test]
fn port_400_changed_contact_in_june_and_december_2023() {
    let timeline = json(&["history", "400/tcp", "-f", "json"]);
    // work-sol until the 2013 text (renamed: "Formerly was Workstation Solutions"), then
    // osb-sd, whose contact changed twice in 2023.
    let records = timeline["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    let renamed = records[1]["events"][0].clone();
    assert_eq!(
        (renamed["change"].as_str(), renamed["renamed_from"].as_str()),
        (Some("added"), Some("work-sol"))
    );
    let changes: Vec<(String, String)> = records
        .iter()
        .flat_map(|r| r["events"].as_array().unwrap().clone())
        .filter(|e| e["change"] == "changed")
        .filter(|e| {
            e["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["field"] == "contacts")
        })
        .map(|e| {
            (
                e["after"].as_str().unwrap().to_owned(),
                e["by"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        changes.contains(&("2023-06-07".to_owned(), "2023-06-15".to_owned())),
        "{changes:?}"
    );
    assert!(
        changes.contains(&("2023-12-05".to_owned(), "2023-12-27".to_owned())),
        "{changes:?}"
    );
    let info = run(BIN, &["info", "400/tcp"], None);
    assert!(
        info.stdout
            .contains("last changed     between 2023-12-05 and 2023-12-27"),
        "{}",
        info.stdout
    );
}

#[test]
fn the_2008_list_marks_585_de_registered() {
    let record = &json(&["585", "--as-of", "2008-03-01", "-f", "json"])[0];
    assert_eq!(record["status"], "deassigned");
    assert_eq!(record["description"], "De-registered (25 April 2006)");
}

#[test]
fn imap_over_udp_was_listed_in_2017_and_gone_by_2024() {
    let in_2017 = run(
        BIN,
        &["imap/udp", "--as-of", "2017-06-01", "-f", "json"],
        None,
    );
    assert!(in_2017.stdout.contains("\"imap\""), "{}", in_2017.stdout);
    let in_2024 = run(
        BIN,
        &["143/udp", "--as-of", "2024-03-18", "-f", "json"],
        None,
    );
    assert!(!in_2024.stdout.contains("\"imap\""), "{}", in_2024.stdout);
    let events = events(&json(&["history", "imap", "-t", "udp", "-f", "json"]));
    assert!(
        events
            .iter()
            .any(|e| e.0 == "removed" && e.2 == "udp" && e.3 == "2021-02-18"),
        "{events:?}"
    );
}

#[test]
fn an_unassigned_range_split_by_an_assignment() {
    let events = events(&json(&["history", "13824-13893", "-f", "json"]));
    let at = |change: &str, name: &str| {
        events
            .iter()
            .filter(|e| e.0 == change && e.1 == name && e.4 == "2023-06-07")
            .count()
    };
    // 13824-13893 Unassigned gave way to 13824-13831, 13832 (a-trust-rpc) and 13833-13893.
    assert_eq!(at("removed", "-"), 1, "{events:?}");
    assert_eq!(at("added", "a-trust-rpc"), 1);
    let diff = run(
        BIN,
        &[
            "diff",
            "--from",
            "2023-05-24",
            "--to",
            "2023-06-07",
            "-f",
            "json",
        ],
        None,
    );
    // Like diff(1): 1 where the registries differ.
    assert_eq!(diff.code, 1, "{}", diff.stderr);
    let text = diff.stdout;
    assert!(text.contains("13833") && text.contains("13831"), "{text}");
}

#[test]
fn dates_before_the_first_snapshot_and_in_the_future() {
    let early = run(BIN, &["22", "--as-of", "1999-01-01"], None);
    assert_eq!(early.code, 2);
    assert!(
        early.stderr.contains("the earliest is 2001-09-17"),
        "{}",
        early.stderr
    );
    let future = run(BIN, &["22", "--as-of", "2099-01-01"], None);
    assert_eq!(future.code, 0);
    assert!(
        future.stderr.contains("as published on 2026-08-17"),
        "{}",
        future.stderr
    );
    let bad = run(BIN, &["22", "--as-of", "yesterday"], None);
    assert_eq!(bad.code, 2);
    let unknown = run(BIN, &["history", "zq-never-a-name"], None);
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("no record in the history"));
}

#[test]
fn a_history_of_ones_own_snapshots() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().join("snapshots");
    std::fs::create_dir_all(&dir).unwrap();
    let list = |date: &str, lines: &str| {
        format!("PORT NUMBERS\n\n(last updated {date})\n\nKeyword         Decimal    Description                     References\n-------         -------    -----------                     ----------\n{lines}")
    };
    std::fs::write(
        dir.join("a.txt"),
        list("2020-01-01", "zqsvc           4711/tcp   First service\n"),
    )
    .unwrap();
    std::fs::write(dir.join("b.txt"), list("2021-01-01", "zqsvc           4711/tcp   First service, renamed text\nzqnew           4712/tcp   Newer\n")).unwrap();
    // The same date as another: kept once. A file no reader takes: named and left out.
    std::fs::write(dir.join("c.txt"), list("2021-01-01", "zqsvc           4711/tcp   First service, renamed text\nzqnew           4712/tcp   Newer\n")).unwrap();
    std::fs::write(dir.join("d.bin"), b"\x00\x01 not a registry").unwrap();
    let out_file = sandbox.path().join("mine.history");
    let built = run(
        BIN,
        &[
            "history",
            "build",
            dir.to_str().unwrap(),
            "-o",
            out_file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(built.code, 0, "{}", built.stderr);
    assert!(built.stderr.contains("d.bin: left out"), "{}", built.stderr);
    assert!(built.stderr.contains("the same date"), "{}", built.stderr);
    let history = out_file.to_str().unwrap();
    let timeline = json(&["history", "zqsvc", "--history", history, "-f", "json"]);
    assert_eq!(timeline["snapshots"]["count"], 2);
    let events = events(&timeline);
    assert_eq!(events[0].0, "added");
    assert_eq!(events[1].0, "changed");
    let then = run(
        BIN,
        &["4712", "--as-of", "2020-06-01", "--history", history],
        None,
    );
    assert_eq!(then.code, 1, "{}", then.stdout);
    let later = run(
        BIN,
        &["4712", "--as-of", "2021-06-01", "--history", history],
        None,
    );
    assert!(later.stdout.contains("zqnew"));
    let broken = sandbox.path().join("broken.history");
    std::fs::write(&broken, b"not a history").unwrap();
    let refused = run(
        BIN,
        &["history", "22", "--history", broken.to_str().unwrap()],
        None,
    );
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("broken.history"),
        "{}",
        refused.stderr
    );
}

#[test]
fn enrich_answers_each_line_by_its_own_time() {
    let log = "#separator \\x09\n#fields\tts\tid.resp_p\tproto\n#types\ttime\tport\tenum\n\
               1451606400.5\t13832\ttcp\n1704067200.0\t13832\ttcp\n";
    let dated = run(
        BIN,
        &["enrich", "--as-of-field", "ts", "-q"],
        Some(log.as_bytes()),
    );
    assert_eq!(dated.code, 0, "{}", dated.stderr);
    let names: Vec<&str> = dated
        .stdout
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit('\t').next().unwrap())
        .collect();
    // 2016: Unassigned (no name); 2024: a-trust-rpc.
    assert_eq!(names, ["-", "a-trust-rpc"]);
    let fixed = run(
        BIN,
        &["enrich", "--as-of", "2016-01-01", "-q"],
        Some(log.as_bytes()),
    );
    assert!(!fixed.stdout.contains("a-trust-rpc"));
}

#[test]
fn notes_link_an_old_name_to_its_replacement() {
    // IANA: udt-os "is a replacement for \"udt_os\""; udt_os "is an alias to \"udt-os\"".
    let timeline = json(&["history", "udt_os", "-t", "tcp", "-f", "json"]);
    let added = timeline["records"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["events"].as_array().unwrap().clone())
        .find(|e| e["change"] == "added" && e["record"]["name"] == "udt-os")
        .expect("the replacement is part of the old name's history");
    assert_eq!(added["links"][0]["relation"], "replacement_for");
    assert_eq!(added["links"][0]["name"], "udt_os");
    assert_eq!(added["after"], "2008-02-29");
    let historic = events(&timeline)
        .into_iter()
        .find(|e| e.0 == "changed" && e.1 == "udt_os");
    assert!(historic.is_some());
}
