//! The built-in registry is IANA's whole registry; local and nmap layers; the free-port
//! finder. Checked against the real files in `../shared`.

mod harness;

use std::path::PathBuf;

use harness::{portreg, shared};
use portreg_testing::{run_with, span_total, Run};
use serde_json::Value;

fn has(records: &Value, want: &[(&str, Value)]) -> bool {
    records
        .as_array()
        .unwrap()
        .iter()
        .any(|r| want.iter().all(|(k, v)| r[*k] == *v))
}

#[test]
fn the_built_in_registry_is_ianas_whole_registry() {
    let about = portreg(&["about", "-f", "json"]).json();
    assert_eq!(about["records"], 14_533);
    assert_eq!(about["people"], 5_615);
    assert_eq!(about["updated"], "2026-08-17");
    let four = portreg(&["4", "-f", "json"]).json();
    assert!(has(
        &four,
        &[("port_low", 4.into()), ("status", "unassigned".into())]
    ));
    let vrml = portreg(&["4200/udp", "-f", "json"]).json();
    assert!(has(
        &vrml,
        &[
            ("name", "vrml-multi-use".into()),
            ("port_low", 4200.into()),
            ("port_high", 4299.into()),
            ("source", "iana".into()),
        ]
    ));
    let reserved = portreg(&["1020-1030", "--all", "-f", "json"]).json();
    assert!(has(
        &reserved,
        &[("port_low", 1024.into()), ("status", "reserved".into())]
    ));
    let without_all = portreg(&["1020-1030", "-f", "json"]).json();
    assert!(!has(&without_all, &[("status", "reserved".into())]));
    let ssh = portreg(&["info", "ssh", "-f", "json"]).json();
    let references = ssh["records"][0]["references"].to_string();
    assert!(references.contains("rfc4251"), "{references}");
    // People, dates and contacts come with it.
    let sctp = portreg(&["info", "22/sctp", "-f", "json"]).json();
    assert_eq!(sctp["records"][0]["modified"], "2022-02-07");
    assert!(!sctp["records"][0]["contacts"]
        .as_array()
        .unwrap()
        .is_empty());
    // netbase's aliases are merged.
    let www = portreg(&["www/tcp", "-f", "json"]).json();
    assert!(has(
        &www,
        &[("name", "http".into()), ("port_low", 80.into())]
    ));
}

/// An independent count of the ports the XML leaves free in the User range on
/// `transports`: a port is taken on a transport when a record for that transport (or for
/// none) covers it, unless its description is Unassigned in any of IANA's spellings.
fn free_in_xml(xml: &str, transports: &[&str]) -> u64 {
    let mut taken = vec![false; 65_536];
    for record in xml.split("<record").skip(1) {
        let record = &record[..record.find("</record>").unwrap_or(record.len())];
        let field = |tag: &str| {
            let open = format!("<{tag}>");
            let start = record.find(&open)? + open.len();
            let end = record[start..].find(&format!("</{tag}>"))? + start;
            Some(record[start..end].trim().to_owned())
        };
        let Some(number) = field("number") else {
            continue;
        };
        let description = field("description").unwrap_or_default().to_lowercase();
        let described = description.trim_start_matches(['(', ' ']);
        if described.starts_with("unassigned") {
            continue;
        }
        let protocol = field("protocol").unwrap_or_default();
        if !protocol.is_empty() && !transports.contains(&protocol.as_str()) {
            continue;
        }
        let (low, high) = match number.split_once('-') {
            Some((l, h)) => (l.parse::<usize>().unwrap(), h.parse::<usize>().unwrap()),
            None => (number.parse().unwrap(), number.parse().unwrap()),
        };
        taken[low..=high].fill(true);
    }
    (1024..=49151).filter(|&p| !taken[p]).count() as u64
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn free_ports_agree_with_an_independent_count_of_the_xml() {
    let Some(xml) = shared("data/iana/newest/service-names-port-numbers.xml") else {
        return;
    };
    let text = std::fs::read_to_string(&xml).unwrap();
    // Only the registry's exclusions: this machine's are turned off.
    let registry_only = |extra: &[&str]| {
        let mut args = vec![
            "free",
            "--include-ephemeral",
            "--include-kernel-reserved",
            "--include-listening",
            "--include-browser-blocked",
            "-f",
            "json",
        ];
        args.extend_from_slice(extra);
        let run = portreg(&args);
        assert_eq!(run.code, 0, "{}", run.stderr);
        span_total(&run.json())
    };
    for transports in [vec!["tcp"], vec!["udp"], vec!["tcp", "udp"]] {
        let joined = transports.join(",");
        // 1024 and 49151 are Reserved rows of the XML itself.
        let expected = free_in_xml(&text, &transports);
        assert_eq!(registry_only(&["-t", &joined]), expected, "{joined}");
        assert_eq!(
            registry_only(&["-t", &joined, "--registry", &xml]),
            expected,
            "{joined}"
        );
    }
    // By default the machine's ephemeral range is left out too.
    let default = portreg(&["free", "-f", "json"]).json();
    assert!(span_total(&default) < registry_only(&[]));
}

#[test]
fn free_explains_and_picks_stable_ports() {
    let explain = portreg(&["free", "--explain", "6000", "-t", "tcp", "-f", "json"]).json();
    assert_eq!(explain["free"], false);
    let kinds: Vec<&str> = explain["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"taken") && kinds.contains(&"browser-blocked"),
        "{kinds:?}"
    );
    assert!(portreg(&["free", "--explain", "6000", "-t", "tcp"])
        .stdout
        .contains("taken by x11"));
    // A port listening here is named as such.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let busy = portreg(&["free", "--explain", &port, "-t", "tcp", "-f", "json"]).json();
    assert!(busy["reasons"].to_string().contains("listening"), "{busy}");
    drop(listener);
    // One stable port, alone on standard output, the same every time.
    let first = portreg(&["free", "--for", "billing-api"]);
    assert_eq!(first.code, 0);
    let port: u16 = first.stdout.trim().parse().expect("a port alone");
    assert!((1024..=32767).contains(&port));
    assert_eq!(
        portreg(&["free", "--for", "billing-api"]).stdout,
        first.stdout
    );
    assert_eq!(
        portreg(&["free", "--for", "BILLING-API"]).stdout,
        first.stdout
    );
    assert_ne!(
        portreg(&["free", "--for", "metrics-push"]).stdout,
        first.stdout
    );
    let explained = portreg(&[
        "free",
        "--explain",
        &port.to_string(),
        "--include-ephemeral",
    ]);
    assert!(explained.stdout.contains(": free") || explained.stdout.contains("listening"));
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn nmap_is_a_layer_on_request() {
    let Some(nmap) = shared("data/nmap/nmap-services") else {
        return;
    };
    let plain = portreg(&["8080/tcp", "-f", "json", "--nmap", &nmap]).json();
    assert!(!has(&plain, &[("source", "nmap".into())]));
    let unofficial = portreg(&["8080/tcp", "-f", "json", "--unofficial", "--nmap", &nmap]).json();
    assert!(has(
        &unofficial,
        &[("name", "http-proxy".into()), ("source", "nmap".into())]
    ));
    let info = portreg(&["info", "8080/tcp", "--nmap", &nmap]);
    assert!(
        info.stdout.contains("also seen as") && info.stdout.contains("http-proxy"),
        "{}",
        info.stdout
    );
    let base = portreg(&["free", "-t", "tcp", "--range", "8000-8999", "-f", "json"]).json();
    let avoided = portreg(&[
        "free",
        "-t",
        "tcp",
        "--range",
        "8000-8999",
        "--avoid-popular",
        "--nmap",
        &nmap,
        "-f",
        "json",
    ])
    .json();
    assert!(span_total(&avoided) < span_total(&base));
}

/// A config folder of the test's own.
struct Config(PathBuf);

impl Config {
    fn new(name: &str, files: &[(&str, &str)]) -> Config {
        let dir =
            std::env::temp_dir().join(format!("portreg-config-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("local.d")).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join("local.d").join(file), text).unwrap();
        }
        Config(dir)
    }

    /// Runs portreg with this config folder, and a data folder inside it (the merged
    /// registry and the note of warnings said are kept there, not in the user's home).
    fn run(&self, args: &[&str]) -> Run {
        let dir = self.0.display().to_string();
        let data = self.0.join("data").display().to_string();
        run_with(
            env!("CARGO_BIN_EXE_portreg"),
            args,
            None,
            &[("PORTREG_CONFIG_DIR", &dir), ("PORTREG_DATA_DIR", &data)],
        )
    }
}

impl Drop for Config {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn local_names_are_a_labelled_layer() {
    let config = Config::new(
        "local",
        &[
            (
                "team.services",
                "zq-billing\t47013/tcp\t# Billing API\nzq-bad 7x/tcp\n",
            ),
            (
                "more.json",
                r#"[{"name": "zq-metrics", "port_low": 47014, "port_high": 47014, "transport": "udp"}]"#,
            ),
            ("ignored.txt", "not a layer file"),
        ],
    );
    let billing = config.run(&["zq-billing", "-f", "json"]);
    assert!(has(
        &billing.json(),
        &[("port_low", 47013.into()), ("source", "local".into())]
    ));
    // The bad line is a warning with its place, never a failed lookup.
    assert_eq!(billing.code, 0);
    assert!(
        billing.stderr.contains("team.services:2:"),
        "{}",
        billing.stderr
    );
    let metrics = config.run(&["47014/udp", "-f", "json"]).json();
    assert!(has(
        &metrics,
        &[("name", "zq-metrics".into()), ("source", "local".into())]
    ));
    let table = config.run(&["zq-billing"]).stdout;
    assert!(
        table.contains("SOURCE") && table.contains("local"),
        "{table}"
    );
    // A local name takes its port.
    let explain = config.run(&["free", "--explain", "47013", "-t", "tcp"]);
    assert!(
        explain.stdout.contains("taken by zq-billing"),
        "{}",
        explain.stdout
    );
    assert_eq!(config.run(&["check-local"]).code, 0);
}

#[test]
fn local_collisions_are_warned_about_once_and_listed() {
    let config = Config::new(
        "collide",
        &[(
            "clash.services",
            "zq-web\t22/tcp\nssh\t2222/tcp\nzq-fine\t47015/tcp\n",
        )],
    );
    let lookup = config.run(&["22/tcp", "-f", "json"]);
    let records = lookup.json();
    assert!(has(
        &records,
        &[("name", "ssh".into()), ("source", "iana".into())]
    ));
    assert!(has(
        &records,
        &[("name", "zq-web".into()), ("source", "local".into())]
    ));
    assert_eq!(
        lookup.stderr.matches("collide").count(),
        1,
        "{}",
        lookup.stderr
    );
    let check = config.run(&["check-local", "-f", "json"]);
    assert_eq!(check.code, 1);
    let kinds: Vec<String> = check
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["local"]["name"].as_str().unwrap(),
                c["kind"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kinds, ["zq-web:port", "ssh:name"]);
}

#[test]
fn local_warnings_are_said_once_per_change_and_always_by_check_local() {
    let config = Config::new(
        "once",
        &[("team.services", "zq-once\t47016/tcp\nzq-bad 7x/tcp\n")],
    );
    let first = config.run(&["22/tcp"]);
    assert!(
        first.stderr.contains("team.services:2:"),
        "{}",
        first.stderr
    );
    let again = config.run(&["22/tcp"]);
    assert!(!again.stderr.contains("warning"), "{}", again.stderr);
    let check = config.run(&["check-local"]);
    assert!(
        check.stderr.contains("team.services:2:"),
        "{}",
        check.stderr
    );
    // A change of the files is said again.
    std::fs::write(
        config.0.join("local.d").join("team.services"),
        "zq-once\t47016/tcp\nzq-worse 8x/tcp\n",
    )
    .unwrap();
    let changed = config.run(&["22/tcp"]);
    assert!(
        changed.stderr.contains("team.services:2:"),
        "{}",
        changed.stderr
    );
}

#[test]
fn a_local_name_covers_the_unassigned_row_of_its_port() {
    let config = Config::new("covers", &[("team.services", "zq-covers\t47017/tcp\n")]);
    let records = config.run(&["47017", "-f", "json"]).json();
    let statuses: Vec<&str> = records
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["status"].as_str())
        .collect();
    assert_eq!(statuses, ["assigned"], "{records}");
    // Without the local name, the port is Unassigned.
    let bare = portreg(&["47017", "-f", "json"]);
    assert!(bare.stdout.contains("unassigned"), "{}", bare.stdout);
}
