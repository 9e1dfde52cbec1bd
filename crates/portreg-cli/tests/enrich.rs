//! `portreg enrich` on generated logs: every added value against an independent lookup,
//! headers that Zeek's tools still read, malformed lines passed through and counted.

mod harness;

use harness::portreg_with_input;
use portreg::{CompiledRegistry, Transport};

/// The name an independent lookup gives: the first record on the port, in the order
/// lookups list them, that is named and on that transport (or on none, for tcp and udp).
fn expected_name(port: u16, transport: &str) -> Option<String> {
    let registry = CompiledRegistry::embedded();
    let wanted: Transport = transport.parse().ok()?;
    if !Transport::REGISTRY.contains(&wanted) {
        return None;
    }
    registry
        .lookup_port(port, Some(&wanted))
        .into_iter()
        .find(|hit| {
            hit.record.name().is_some()
                && match hit.record.transport() {
                    Some(own) => own == wanted,
                    None => matches!(wanted, Transport::Tcp | Transport::Udp),
                }
        })
        .and_then(|hit| hit.record.name().map(str::to_owned))
}

/// A deterministic generator of ports across the three ranges and transports.
struct Flows(u64);

impl Iterator for Flows {
    type Item = (u16, &'static str);
    fn next(&mut self) -> Option<Self::Item> {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let port = match self.0 % 4 {
            0 => (self.0 >> 8) % 1024,
            1 => 1024 + (self.0 >> 8) % 48128,
            2 => 49152 + (self.0 >> 8) % 16384,
            _ => [22, 53, 80, 443, 4200, 4299, 8443][((self.0 >> 8) % 7) as usize],
        } as u16;
        let transport = ["tcp", "udp", "tcp", "icmp", "sctp"][((self.0 >> 40) % 5) as usize];
        Some((port, transport))
    }
}

fn summary(stderr: &str) -> Vec<u64> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("portreg: enrich:"))
        .unwrap_or_else(|| panic!("no summary: {stderr}"));
    line.split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .map(|w| w.parse().unwrap())
        .collect()
}

#[test]
fn a_large_zeek_log_is_enriched_line_for_line() {
    let flows: Vec<(u16, &str)> = Flows(0x9e37_79b9_7f4a_7c15).take(300_000).collect();
    let mut log = String::from(
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tconn\n\
         #fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\n\
         #types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\n",
    );
    for (i, (port, transport)) in flows.iter().enumerate() {
        log.push_str(&format!(
            "1700000000.{i:06}\tC{i:x}\t10.0.0.1\t{}\t192.0.2.1\t{port}\t{transport}\t-\n",
            40000 + i % 20000
        ));
    }
    log.push_str("#close\t2026-11-26-00-00-00\n");
    assert!(log.len() > 3 << 20, "several blocks");
    let run = portreg_with_input(
        &["enrich", "--add", "name,status,range_class"],
        Some(log.as_bytes()),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        summary(&run.stderr)[..4],
        [300_000, 300_000, summary(&run.stderr)[2], 0]
    );

    // Read it as zeek-cut does: names from #fields, the separator from #separator.
    let mut fields: Vec<String> = Vec::new();
    let mut types: Vec<String> = Vec::new();
    let mut rows = 0;
    for line in run.stdout.lines() {
        if let Some(rest) = line.strip_prefix("#fields\t") {
            fields = rest.split('\t').map(str::to_owned).collect();
            continue;
        }
        if let Some(rest) = line.strip_prefix("#types\t") {
            types = rest.split('\t').map(str::to_owned).collect();
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let values: Vec<&str> = line.split('\t').collect();
        assert_eq!(values.len(), fields.len(), "{line}");
        let get = |name: &str| values[fields.iter().position(|f| f == name).unwrap()];
        let (port, transport) = flows[rows];
        assert_eq!(
            get("id.resp_p"),
            port.to_string(),
            "output order is input order"
        );
        let name = expected_name(port, transport);
        assert_eq!(
            get("port_name"),
            name.as_deref().unwrap_or("-"),
            "{port}/{transport}"
        );
        if transport == "icmp" {
            assert_eq!(get("port_status"), "-");
        }
        rows += 1;
    }
    assert_eq!(rows, flows.len());
    assert_eq!(
        &fields[fields.len() - 3..],
        ["port_name", "port_status", "port_range_class"]
    );
    assert_eq!(types.len(), fields.len());
    assert_eq!(&types[types.len() - 3..], ["string", "string", "string"]);
    assert!(run.stdout.ends_with("#close\t2026-11-26-00-00-00\n"));
}

#[test]
fn csv_and_json_lines_with_malformed_lines_counted() {
    let csv = "time,src,dst_port,proto,note\r\n\
               1,a,22,tcp,x\r\n\
               2,b,\"443\",TCP,\"quoted, comma\"\r\n\
               3,c,not-a-port,tcp,bad\r\n\
               4,d,4250,17,udp by number\r\n\
               short\r\n\
               5,e,49999,tcp,dynamic\r\n\
               6,f,70000,udp,too big";
    let run = portreg_with_input(
        &["enrich", "--add", "name,description"],
        Some(csv.as_bytes()),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "time,src,dst_port,proto,note,port_name,port_description"
    );
    assert_eq!(lines[1], "1,a,22,tcp,x,ssh,The Secure Shell (SSH) Protocol");
    assert!(
        lines[2].ends_with(",https,http protocol over TLS/SSL"),
        "{}",
        lines[2]
    );
    assert_eq!(
        lines[3], "3,c,not-a-port,tcp,bad,,",
        "passed through with the added columns empty"
    );
    assert_eq!(
        lines[4],
        "4,d,4250,17,udp by number,vrml-multi-use,VRML Multi User Systems"
    );
    assert_eq!(lines[5], "short,,");
    assert_eq!(
        lines[6], "5,e,49999,tcp,dynamic,,",
        "no record: empty fields"
    );
    assert_eq!(
        lines[7], "6,f,70000,udp,too big,,",
        "the last line keeps its lack of a newline"
    );
    assert_eq!(summary(&run.stderr), [7, 4, 1, 3]);

    let json = "{\"ts\":1,\"id.resp_p\":22,\"proto\":\"tcp\"}\n\
                {\"destination\":{\"port\":53},\"network\":{\"transport\":\"udp\"}}\n\
                {\"dst_port\":\"8443\"}\n\
                not json\n\
                {\"id.resp_p\":50000,\"proto\":\"tcp\",\"note\":\"a } in a string\"}\n";
    let run = portreg_with_input(&["enrich", "--add", "name,status"], Some(json.as_bytes()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(lines[0]["port_name"], "ssh");
    assert_eq!(lines[1]["port_name"], "domain");
    assert_eq!(lines[2]["port_name"], "pcsync-https", "no transport: any");
    assert_eq!(lines[3]["port_name"], serde_json::Value::Null);
    assert_eq!(lines[3]["port_status"], serde_json::Value::Null);
    assert_eq!(lines[3]["note"], "a } in a string");
    assert!(run.stdout.contains("\nnot json\n"));
    assert_eq!(summary(&run.stderr), [5, 4, 1, 1]);
}

#[test]
fn strict_stops_at_the_line_and_names_it() {
    let log = "dport\tproto\n22\ttcp\n443\ttcp\nx\ttcp\n80\ttcp\n";
    let run = portreg_with_input(&["enrich", "--strict", "-"], Some(log.as_bytes()));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("<stdin>:4: expected a port number (0-65535) in field dport, found \"x\""),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.stdout,
        "dport\tproto\tport_name\n22\ttcp\tssh\n443\ttcp\thttps\n"
    );
}

#[test]
fn fields_chosen_by_name_and_errors_that_say_what_is_there() {
    let log = "a,b,where,how\n1,2,22,udp\n";
    let run = portreg_with_input(
        &[
            "enrich",
            "--port-field",
            "where",
            "--transport-field",
            "how",
        ],
        Some(log.as_bytes()),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "a,b,where,how,port_name\n1,2,22,udp,ssh\n");
    let fixed = portreg_with_input(
        &[
            "enrich",
            "--port-field",
            "where",
            "--log-transport",
            "tcp",
            "--log-format",
            "csv",
        ],
        Some(log.as_bytes()),
    );
    assert_eq!(fixed.stdout, "a,b,where,how,port_name\n1,2,22,udp,ssh\n");
    let missing = portreg_with_input(&["enrich"], Some(log.as_bytes()));
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("no port field") && missing.stderr.contains("where"),
        "{}",
        missing.stderr
    );
    let bad = portreg_with_input(&["enrich", "--port-field", "nope"], Some(log.as_bytes()));
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("\"nope\""), "{}", bad.stderr);
}

#[test]
fn a_line_longer_than_a_block_and_a_changed_zeek_header() {
    let long = "y".repeat(3 << 20);
    let log = format!("dst_port,proto,note\n22,tcp,{long}\n53,udp,short\n");
    let run = portreg_with_input(&["enrich", "-q"], Some(log.as_bytes()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].ends_with(&format!("{long},ssh")));
    assert_eq!(lines[2], "53,udp,short,domain");

    let two = "#separator \\x09\n#fields\tid.resp_p\tproto\n22\ttcp\n#fields\tproto\tid.resp_p\ntcp\t22\n";
    let run = portreg_with_input(&["enrich"], Some(two.as_bytes()));
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("<stdin>:4: a #fields header with other fields"),
        "{}",
        run.stderr
    );
}

#[test]
fn large_csv_and_json_logs_are_enriched_line_for_line() {
    let flows: Vec<(u16, &str)> = Flows(0x2545_f491_4f6c_dd1d).take(100_000).collect();
    let mut csv = String::from("ts,src,dst_port,proto\n");
    let mut jsonl = String::new();
    for (i, (port, transport)) in flows.iter().enumerate() {
        csv.push_str(&format!("{i},10.0.0.1,{port},{transport}\n"));
        jsonl.push_str(&format!(
            "{{\"ts\":{i},\"destination\":{{\"port\":{port}}},\"network\":{{\"transport\":\"{transport}\"}}}}\n"
        ));
    }
    let expected: Vec<Option<String>> = flows.iter().map(|(p, t)| expected_name(*p, t)).collect();

    let run = portreg_with_input(&["enrich", "-q"], Some(csv.as_bytes()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let names: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .map(|line| line.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(names.len(), flows.len());
    for ((name, want), flow) in names.iter().zip(&expected).zip(&flows) {
        assert_eq!(*name, want.as_deref().unwrap_or(""), "{flow:?}");
    }

    let run = portreg_with_input(&["enrich", "-q"], Some(jsonl.as_bytes()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), flows.len());
    for ((line, want), flow) in lines.iter().zip(&expected).zip(&flows) {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(value["port_name"].as_str(), want.as_deref(), "{flow:?}");
    }
}

/// Lines that cannot be enriched keep the header's width, so that strict readers take
/// the file: DuckDB's CSV reader in strict mode, and Zeek's layout (every line as many
/// fields as `#fields` names).
#[test]
fn strict_readers_take_every_line() {
    let dir = std::env::temp_dir().join(format!("portreg-enrich-strict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = "time,dst_port,proto\n1,22,tcp\n2,abc,tcp\n3,,udp\n4,53,udp\n";
    let run = portreg_with_input(&["enrich", "--add", "name,status"], Some(csv.as_bytes()));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let path = dir.join("flows.csv");
    std::fs::write(&path, &run.stdout).unwrap();
    let zeek = "#separator \\x09\n#fields\tts\tid.resp_p\tproto\n#types\ttime\tport\tenum\n\
                1.0\t22\ttcp\n2.0\tabc\ttcp\n3.0\t\tudp\n";
    let enriched = portreg_with_input(&["enrich"], Some(zeek.as_bytes()));
    assert_eq!(enriched.code, 0, "{}", enriched.stderr);
    let width = enriched
        .stdout
        .lines()
        .find(|l| l.starts_with("#fields"))
        .map(|l| l.split('\t').count() - 1)
        .unwrap();
    for line in enriched.stdout.lines().filter(|l| !l.starts_with('#')) {
        assert_eq!(line.split('\t').count(), width, "{line:?}");
    }
    let file = path.display().to_string();
    let Some(rows) = portreg_testing::duckdb(&format!(
        "SELECT dst_port, port_name FROM read_csv('{file}', strict_mode = true, header = true, all_varchar = true) ORDER BY time"
    )) else {
        let _ = std::fs::remove_dir_all(&dir);
        return;
    };
    assert_eq!(
        rows,
        serde_json::json!([["22", "ssh"], ["abc", null], [null, null], ["53", "domain"]])
    );
    let _ = std::fs::remove_dir_all(&dir);
}
