//! Every reader and writer on the real registry files in `../shared`.

mod support;

use std::collections::BTreeMap;

use portreg::format::{self, Format};
use portreg::{PortSpan, Record, ReferenceKind, Registry, Status, Transport};
use support::*;

fn records_at(registry: &Registry, port: u16, transport: Transport) -> Vec<&Record> {
    registry
        .records
        .iter()
        .filter(|r| {
            r.ports.is_some_and(|s| s.contains(port)) && r.transport.as_ref() == Some(&transport)
        })
        .collect()
}

fn names(records: &[&Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.name.clone().unwrap_or_default())
        .collect()
}

/// Reads what a writer wrote, strictly, in the same format.
fn reread(registry: &Registry, format: Format) -> Registry {
    read_text(&format::write(registry, format), format)
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn seed_every_entry_line_is_a_record() {
    let Some(path) = shared_file(SEED) else {
        return;
    };
    let text = std::fs::read_to_string(path)
        .unwrap()
        .replace('\u{a0}', " ");
    // Counted independently: lines with a `port/proto` token, commented or not, banners aside.
    let entry_lines = text
        .lines()
        .filter(|line| !line.starts_with("###"))
        .filter(|line| {
            line.split_whitespace().take(3).any(|token| {
                let token = token.trim_start_matches('#');
                token.split_once('/').is_some_and(|(port, proto)| {
                    port.parse::<PortSpan>().is_ok()
                        && !proto.is_empty()
                        && proto.bytes().all(|b| b.is_ascii_lowercase())
                })
            })
        })
        .count();
    let seed = read_lenient(SEED);
    let history: usize = seed.records.iter().map(|r| r.extra.history.len()).sum();
    // Each history entry is attached to the one record of its port and transport.
    assert_eq!(seed.records.len() + history, entry_lines);
}

fn read_lenient(relative: &str) -> Registry {
    let path = shared_file(relative).expect("shared file");
    let bytes = std::fs::read(path).unwrap();
    format::read(&bytes, Format::Legacy, &Default::default())
        .unwrap()
        .registry
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn seed_records_carry_what_the_list_says() {
    if shared().is_none() {
        return;
    }
    let seed = read_lenient(SEED);
    let tcp = |port| records_at(&seed, port, Transport::Tcp);
    assert_eq!(tcp(1)[0].contacts, ["Mark Lottor <MKL@nisc.sri.com>"]);
    assert_eq!(names(&tcp(80)), ["http", "www", "www-http"]);
    assert_eq!(names(&tcp(42)), ["name", "nameserver"]);
    assert_eq!(names(&tcp(105)), ["cso", "csnet-ns"]);
    assert_ne!(
        tcp(105)[0].contacts,
        tcp(105)[1].contacts,
        "two services, two contacts"
    );
    assert_eq!(names(&tcp(113)), ["ident", "auth"]);
    let private = tcp(24);
    assert_eq!(
        (private[0].name.as_deref(), private[0].status),
        (None, Status::Private)
    );
    assert_eq!(
        private[0].description.as_deref(),
        Some("any private mail system")
    );
    assert_eq!(tcp(4)[0].status, Status::Unassigned);
    assert_eq!(
        (tcp(15)[0].status, tcp(15)[0].notes.as_deref()),
        (Status::Unassigned, Some("was netstat"))
    );
    let newacct = tcp(100);
    assert_eq!(newacct[0].name.as_deref(), Some("newacct"));
    assert!(newacct[0].unauthorized_use.is_some());
    assert!(tcp(106)[0]
        .extra
        .banners
        .iter()
        .any(|b| b.contains("poppassd")));
    assert!(tcp(90)[0]
        .extra
        .banners
        .iter()
        .any(|b| b.contains("Pointcast")));
    let nxedit = tcp(126);
    assert_eq!(names(&nxedit), ["nxedit"]);
    let history = &nxedit[0].extra.history;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].name.as_deref(), Some("unitary"));
    assert_eq!(history[0].status, Status::Deassigned);
    assert_eq!(history[0].contacts, ["<feil@kronos.nisd.cam.unisys.com>"]);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn seed_strict_read_stops_at_page_junk() {
    let Some(path) = shared_file(SEED) else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let options = portreg::format::ReadOptions {
        strict: true,
        source_name: "seed.txt".into(),
    };
    let error = format::read(&bytes, Format::Legacy, &options).unwrap_err();
    assert_eq!(
        error.to_string(),
        "seed.txt:1:1: expected the \"(last updated ...)\" line that opens the list, found \"Welcome To Security.Fx-Vista.Com\""
    );
    let lenient = format::read(&bytes, Format::Legacy, &Default::default()).unwrap();
    assert_eq!(
        lenient.warnings.iter().map(|w| w.line).collect::<Vec<_>>(),
        [1, 3, 5, 7, 9]
    );
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn seed_round_trips_through_legacy() {
    if shared().is_none() {
        return;
    }
    let seed = read_lenient(SEED);
    assert_eq!(reread(&seed, Format::Legacy), seed);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn iana_xml_to_csv_is_byte_for_byte() {
    let Some(xml) = read_strict(XML, Format::IanaXml) else {
        return;
    };
    let csv = std::fs::read_to_string(shared_file(CSV).unwrap()).unwrap();
    assert_eq!(format::write(&xml, Format::IanaCsv), csv);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn iana_xml_counts_and_lossless_round_trip() {
    let Some(xml) = read_strict(XML, Format::IanaXml) else {
        return;
    };
    assert_eq!(xml.records.len(), 14_499);
    assert_eq!(xml.people.len(), 5_588);
    assert_eq!(
        xml.meta.updated.as_ref().map(|d| d.as_str()),
        Some("2026-02-13")
    );
    assert_eq!(xml.meta.footnotes.len(), 1);
    assert_eq!(xml.meta.notes.len(), 2);
    assert_eq!(reread(&xml, Format::IanaXml), xml);
    let jon = xml
        .person("Jon_Postel")
        .expect("Jon Postel in the people table");
    assert_eq!(jon.name.as_deref(), Some("Jon Postel"));
    let x11: Vec<_> = xml
        .records
        .iter()
        .filter(|r| r.name.as_deref() == Some("x11"))
        .collect();
    assert_eq!(
        x11[0].ports,
        Some(PortSpan {
            low: 6000,
            high: 6063
        })
    );
    assert_eq!(
        x11[0].unauthorized_use.as_deref(),
        Some("Known Unauthorized Use on port 6003")
    );
    let rdp = xml
        .records
        .iter()
        .filter(|r| r.name.as_deref() == Some("rdp"))
        .count();
    assert_eq!(rdp, 2);
    let pkix = xml
        .records
        .iter()
        .find(|r| r.name.as_deref() == Some("pkix-cmc"))
        .unwrap();
    assert!(pkix
        .references
        .iter()
        .any(|r| r.kind == ReferenceKind::Draft && r.data == "RFC-ietf-lamps-rfc5273bis-10"));
    assert_eq!(pkix.assignees, ["IESG"]);
    assert_eq!(pkix.contacts, ["IETF_Chair"]);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn iana_xml_survives_every_format_that_holds_it_all() {
    let Some(xml) = read_strict(XML, Format::IanaXml) else {
        return;
    };
    let csv = std::fs::read_to_string(shared_file(CSV).unwrap()).unwrap();
    for format in [Format::Json, Format::Jsonl, Format::IanaCsv] {
        let records = Registry {
            records: xml.records.clone(),
            ..Registry::default()
        };
        let back = reread(&records, format);
        assert_eq!(
            format::write(&back, Format::IanaCsv),
            csv,
            "through {format}"
        );
    }
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn iana_csv_reads_and_writes_itself() {
    let Some(csv) = read_strict(CSV, Format::IanaCsv) else {
        return;
    };
    assert_eq!(csv.records.len(), 14_499);
    let text = std::fs::read_to_string(shared_file(CSV).unwrap()).unwrap();
    assert_eq!(format::write(&csv, Format::IanaCsv), text);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn newest_xml_reads() {
    let Some(xml) = read_strict(NEWEST_XML, Format::IanaXml) else {
        return;
    };
    assert_eq!(xml.records.len(), 14_533);
    assert_eq!(
        xml.meta.updated.as_ref().map(|d| d.as_str()),
        Some("2026-08-17")
    );
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn iana_txt_reads_every_port_row() {
    let Some(txt) = read_strict(TXT, Format::IanaTxt) else {
        return;
    };
    let text = std::fs::read_to_string(shared_file(TXT).unwrap()).unwrap();
    // Counted independently: port and protocol as they stand in their columns.
    let mut expected: BTreeMap<(String, String), usize> = BTreeMap::new();
    for line in text.lines() {
        let head: String = line.chars().take(40).collect();
        let tokens: Vec<&str> = head.get(15..).unwrap_or("").split_whitespace().collect();
        if let [port, proto, ..] = tokens.as_slice() {
            if port.parse::<PortSpan>().is_ok() && ["tcp", "udp", "sctp", "dccp"].contains(proto) {
                *expected
                    .entry((port.to_string(), proto.to_string()))
                    .or_default() += 1;
            }
        }
    }
    let mut found: BTreeMap<(String, String), usize> = BTreeMap::new();
    for record in &txt.records {
        if let (Some(port), Some(transport)) = (record.ports_text(), &record.transport) {
            *found.entry((port, transport.to_string())).or_default() += 1;
        }
    }
    assert_eq!(found, expected);
    assert!(txt.people.len() > 4_000);
    assert!(txt
        .records
        .iter()
        .any(|r| r.name.as_deref() == Some("Apple Remote Desktop (Net Assistant)")));
    let whoispp = txt
        .records
        .iter()
        .find(|r| r.name.as_deref() == Some("whoispp"))
        .unwrap();
    assert_eq!(
        whoispp.description.as_deref(),
        Some(
            "whois++ IANA assigned this well-formed service name as a replacement for \"whois++\"."
        )
    );
    assert_eq!(reread(&txt, Format::IanaTxt).records, txt.records);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn legacy_2008_entries_become_records() {
    let Some(legacy) = read_strict(LEGACY, Format::Legacy) else {
        return;
    };
    let text = std::fs::read_to_string(shared_file(LEGACY).unwrap()).unwrap();
    // Counted independently: uncommented lines whose port column holds `port/proto`.
    let mut expected: BTreeMap<(Option<String>, String, String), usize> = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let (name, column) = match (line.starts_with(char::is_whitespace), tokens.as_slice()) {
            (true, [column, ..]) => (None, *column),
            (false, [name, column, ..]) => (Some(name.to_string()), *column),
            _ => continue,
        };
        if let Some((port, proto)) = column.split_once('/') {
            if port.parse::<PortSpan>().is_ok() {
                *expected
                    .entry((name, port.to_owned(), proto.to_owned()))
                    .or_default() += 1;
            }
        }
    }
    assert_eq!(expected.values().sum::<usize>(), 10_332);
    let mut found: BTreeMap<(Option<String>, String, String), usize> = BTreeMap::new();
    for record in legacy
        .records
        .iter()
        .filter(|r| r.extra.commented == Some(false))
    {
        if let Some(transport) = &record.transport {
            let key = (
                record.name.clone(),
                record.ports_text().unwrap(),
                transport.to_string(),
            );
            *found.entry(key).or_default() += 1;
        }
    }
    assert_eq!(found, expected);
    let without_proto = legacy
        .records
        .iter()
        .filter(|r| r.transport.is_none() && r.extra.commented == Some(false))
        .count();
    assert_eq!(without_proto, 16);
    // Commented rows without a protocol (`#                81        Unassigned (Removed on
    // 2007-09-06)`) are rows of their own, never contacts of the group above.
    let unassigned_81 = legacy
        .records
        .iter()
        .find(|r| r.ports.is_some_and(|p| p.low == 81) && r.name.is_none())
        .expect("the 81 row");
    assert_eq!(unassigned_81.status, Status::Unassigned);
    assert!(legacy
        .records
        .iter()
        .flat_map(|r| &r.contacts)
        .all(|c| !c.contains("Unassigned")));
    let sctp = records_at(&legacy, 9, Transport::Sctp);
    assert_eq!(
        sctp[0].contacts,
        ["IETF TSVWG", "Randall Stewart <rrs&cisco.com>"]
    );
    assert!(sctp[0].references.iter().any(|r| r.data == "rfc4960"));
    let echo = records_at(&legacy, 7, Transport::Udp);
    assert_eq!(echo[0].contacts, ["Jon Postel <postel&isi.edu>"]);
    assert_eq!(
        legacy.meta.legacy_updated.as_deref(),
        Some("(last updated 2008-02-29)")
    );
    assert!(legacy
        .meta
        .prose
        .iter()
        .any(|p| p.text.contains("\nREFERENCES\n")));
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn legacy_2008_round_trips() {
    let Some(legacy) = read_strict(LEGACY, Format::Legacy) else {
        return;
    };
    assert_eq!(reread(&legacy, Format::Legacy), legacy);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn netbase_services_read_completely_and_round_trip() {
    let Some(netbase) = read_strict(NETBASE, Format::Services) else {
        return;
    };
    let count = |t: &str| {
        netbase
            .records
            .iter()
            .filter(|r| r.transport.as_ref().map(Transport::as_str) == Some(t))
            .count()
    };
    assert_eq!(netbase.records.len(), 318);
    assert_eq!(
        (count("tcp"), count("udp"), count("sctp"), count("ddp")),
        (218, 95, 1, 4)
    );
    assert_eq!(
        netbase
            .records
            .iter()
            .filter(|r| !r.aliases.is_empty())
            .count(),
        66
    );
    assert_eq!(reread(&netbase, Format::Services), netbase);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn netbase_services_agree_with_glibc() {
    let Some(path) = shared_file(NETBASE) else {
        return;
    };
    if std::fs::read("/etc/services").ok() != std::fs::read(&path).ok() {
        eprintln!(
            "skipped: /etc/services is not the shared netbase file, so getent reads another file"
        );
        return;
    }
    let output = match std::process::Command::new("getent")
        .arg("services")
        .output()
    {
        Ok(output) if output.status.success() => output,
        _ => {
            eprintln!("skipped: getent is not available");
            return;
        }
    };
    let mut glibc: Vec<(String, String, Vec<String>)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            (fields[0].clone(), fields[1].clone(), fields[2..].to_vec())
        })
        .collect();
    let netbase = read_strict(NETBASE, Format::Services).unwrap();
    let mut ours: Vec<(String, String, Vec<String>)> = netbase
        .records
        .iter()
        .map(|r| {
            let port = format!("{}/{}", r.ports.unwrap(), r.transport.as_ref().unwrap());
            (r.name.clone().unwrap(), port, r.aliases.clone())
        })
        .collect();
    glibc.sort();
    ours.sort();
    assert_eq!(ours, glibc);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn wireshark_services_read_completely_and_round_trip() {
    let Some(wireshark) = read_strict(WIRESHARK, Format::Wireshark) else {
        return;
    };
    let count = |t: Transport| {
        wireshark
            .records
            .iter()
            .filter(|r| r.transport.as_ref() == Some(&t))
            .count()
    };
    assert_eq!(wireshark.records.len(), 11_470);
    assert_eq!(
        (
            count(Transport::Tcp),
            count(Transport::Udp),
            count(Transport::Sctp),
            count(Transport::Dccp)
        ),
        (5_881, 5_493, 87, 9)
    );
    let written = format::write(&wireshark, Format::Wireshark);
    assert_eq!(
        written.lines().count(),
        6_221,
        "transports merged back onto one line each"
    );
    assert_eq!(read_text(&written, Format::Wireshark), wireshark);
    assert_eq!(reread(&wireshark, Format::Services), wireshark);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn nmap_services_read_completely_and_round_trip() {
    let Some(nmap) = read_strict(NMAP, Format::Nmap) else {
        return;
    };
    let count = |t: Transport| {
        nmap.records
            .iter()
            .filter(|r| r.transport.as_ref() == Some(&t))
            .count()
    };
    assert_eq!(nmap.records.len(), 27_440);
    assert_eq!(
        (
            count(Transport::Tcp),
            count(Transport::Udp),
            count(Transport::Sctp)
        ),
        (8_366, 19_022, 52)
    );
    assert_eq!(
        nmap.records.iter().filter(|r| r.name.is_none()).count(),
        15_324
    );
    assert_eq!(reread(&nmap, Format::Nmap), nmap);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn formats_are_detected_from_content() {
    if shared().is_none() {
        return;
    }
    for (file, format) in [
        (XML, Format::IanaXml),
        (CSV, Format::IanaCsv),
        (TXT, Format::IanaTxt),
        (LEGACY, Format::Legacy),
        (SEED, Format::Legacy),
        (NETBASE, Format::Services),
        (WIRESHARK, Format::Wireshark),
        (NMAP, Format::Nmap),
    ] {
        let bytes = std::fs::read(shared_file(file).unwrap()).unwrap();
        assert_eq!(Format::detect(&bytes), Some(format), "{file}");
    }
}
