//! Lookups on the embedded registry and on the 2026 IANA registry compiled.

mod support;

use std::collections::BTreeSet;

use portreg::format::Format;
use portreg::rules::{self, NameProblem};
use portreg::{CompiledRegistry, Provenance};
use portreg::{MatchTier, PortClass, Query, Role};
use portreg::{PortSpan, RangeClass, Status, Transport};
use support::*;

#[cfg(feature = "embedded")]
fn embedded() -> &'static CompiledRegistry {
    CompiledRegistry::embedded()
}

fn first_name(registry: &CompiledRegistry, query: &str) -> Option<String> {
    let query: Query = query.parse().unwrap();
    registry
        .lookup(&query)
        .first()
        .and_then(|hit| hit.record.name())
        .map(str::to_owned)
}

#[cfg(feature = "embedded")]
#[test]
fn embedded_registry_is_valid_and_says_where_it_comes_from() {
    let verified =
        CompiledRegistry::from_static(portreg_data::compiled(), true).expect("checksum holds");
    assert_eq!(verified.len(), portreg_data::RECORDS);
    let provenance = verified.provenance();
    assert_eq!(provenance.source, portreg_data::SOURCE);
    assert_eq!(provenance.version, portreg_data::SOURCE_VERSION);
    assert_eq!(provenance.sha256, portreg_data::SOURCE_SHA256);
    assert_eq!(
        verified.updated().map(|d| d.to_string()).as_deref(),
        Some(portreg_data::UPDATED)
    );
    assert_eq!(
        portreg_data::FORMAT_VERSION,
        portreg::COMPILED_FORMAT_VERSION
    );
}

#[cfg(feature = "embedded")]
#[test]
fn embedded_lookups() {
    let registry = embedded();
    assert_eq!(first_name(registry, "22/tcp").as_deref(), Some("ssh"));
    let x11 = registry.lookup(&"6010/tcp".parse().unwrap());
    assert_eq!(x11[0].record.name(), Some("x11"));
    assert_eq!(
        x11[0].record.ports(),
        Some(PortSpan {
            low: 6000,
            high: 6063
        })
    );
    assert_eq!(x11[0].role, Role::Canonical);
    let http = registry.lookup(&"HTTP".parse().unwrap());
    assert!(http
        .iter()
        .all(|hit| hit.record.ports() == Some(PortSpan::single(80))));
    assert!(!http.is_empty());
    let ssh = registry.lookup(&"_ssh._tcp".parse().unwrap());
    // IANA also lists ssh as a name-only (DNS-SD) record; the port comes first.
    assert!(ssh.len() >= 2);
    assert_eq!(
        (ssh[0].record.ports(), ssh[0].record.transport()),
        (Some(PortSpan::single(22)), Some(Transport::Tcp))
    );
    assert!(registry.lookup_port(49152, None).is_empty());
    assert_eq!(PortClass::of(49152).class, RangeClass::Dynamic);
    assert!(PortClass::of(1024).reserved && PortClass::of(0).reserved);
    let rules_only =
        portreg::FreePorts::new(registry, &[], None, portreg::Exclusions::registry_only());
    assert!(!rules_only.explain(0).is_empty() && !rules_only.explain(1024).is_empty());
    // netbase's aliases are merged into the record of the same name, port and transport.
    let www = registry.lookup_name("www", Some(&Transport::Tcp));
    assert_eq!(
        (www[0].record.name(), www[0].role),
        (Some("http"), Role::Alias)
    );
    assert_eq!(registry.getservbyname("ssh", "tcp"), Some(22));
    assert_eq!(registry.getservbyport(443, "tcp"), Some("https"));
    assert_eq!(registry.getservbyport(49152, "tcp"), None);
}

#[cfg(feature = "embedded")]
#[test]
fn embedded_search_ranks_names_before_descriptions() {
    let hits = embedded().search("sql", &[], 200);
    assert!(!hits.is_empty());
    assert!(hits.windows(2).all(|w| w[0].tier <= w[1].tier), "ranked");
    let mysql = hits
        .iter()
        .find(|h| h.record.name() == Some("mysql"))
        .expect("mysql found");
    assert_eq!(mysql.tier, MatchTier::NameSubstring);
    let exact = embedded().search("SSH", &[], 5);
    assert_eq!(
        (exact[0].record.name(), exact[0].tier),
        (Some("ssh"), MatchTier::ExactName)
    );
    // Literal: regex syntax means nothing.
    assert!(embedded().search(".*", &[], 5).iter().all(|h| {
        h.record.name().is_some_and(|n| n.contains(".*"))
            || h.record.description().is_some_and(|d| d.contains(".*"))
    }));
    assert!(embedded().search("", &[], 5).is_empty());
}

fn compiled_xml() -> Option<(portreg::Registry, CompiledRegistry)> {
    let registry = read_strict(XML, Format::IanaXml)?;
    let compiled = CompiledRegistry::compile(&registry, &Provenance::default());
    Some((registry, compiled))
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn iana_xml_survives_compilation_whole() {
    let Some((registry, compiled)) = compiled_xml() else {
        return;
    };
    assert_eq!(compiled.to_registry(), registry);
    let reopened = CompiledRegistry::from_bytes(&compiled.to_bytes()).unwrap();
    assert_eq!(reopened.to_registry(), registry);
    assert_eq!(reopened.people_count(), 5_588);
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn iana_xml_lookups() {
    let Some((_, compiled)) = compiled_xml() else {
        return;
    };
    let www = compiled.lookup(&"www".parse().unwrap());
    assert!(www
        .iter()
        .any(|hit| hit.record.ports() == Some(PortSpan::single(80))));
    let rdp = compiled.lookup_name("rdp", None);
    assert_eq!(rdp.len(), 2);
    assert!(rdp
        .iter()
        .all(|hit| hit.record.ports().is_none() && hit.record.transport().is_none()));
    let whois = compiled.lookup_port(63, Some(&Transport::Tcp));
    let roles: Vec<(Option<&str>, Role)> =
        whois.iter().map(|h| (h.record.name(), h.role)).collect();
    assert_eq!(
        roles,
        [
            (Some("whoispp"), Role::Canonical),
            (Some("whois++"), Role::Historic)
        ]
    );
    let zero = compiled.lookup_port(0, Some(&Transport::Tcp));
    assert_eq!(
        (zero[0].record.status(), zero[0].role),
        (Status::Reserved, Role::Unnamed)
    );
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn iana_xml_free_user_ports_match_an_independent_count() {
    let Some((registry, compiled)) = compiled_xml() else {
        return;
    };
    // Independently: mark every port some non-Unassigned record takes, per transport.
    let mut taken = [vec![false; 65_536], vec![false; 65_536]];
    for record in &registry.records {
        let Some(span) = record.ports else { continue };
        if record.status == Status::Unassigned {
            continue;
        }
        for (slot, transport) in [Transport::Tcp, Transport::Udp].iter().enumerate() {
            if record.transport.is_none() || record.transport.as_ref() == Some(transport) {
                for port in span.low..=span.high {
                    taken[slot][port as usize] = true;
                }
            }
        }
    }
    let expected = (1024..=49151usize)
        .filter(|&p| !taken[0][p] && !taken[1][p] && !rules::is_reserved(p as u16))
        .count();
    let spans = portreg::FreePorts::new(&compiled, &[], None, portreg::Exclusions::registry_only())
        .spans(RangeClass::User.span(), None);
    let found: usize = spans.iter().map(|s| usize::from(s.high - s.low) + 1).sum();
    assert_eq!(found, expected);
    assert!(
        spans.windows(2).all(|w| w[0].high + 1 < w[1].low),
        "compact, ordered spans"
    );
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn every_csv_service_name_is_classified() {
    let Some(csv) = read_strict(CSV, Format::IanaCsv) else {
        return;
    };
    let names: BTreeSet<String> = csv.records.iter().filter_map(|r| r.name.clone()).collect();
    let mut invalid = 0;
    for name in &names {
        let problems = rules::check_service_name(name);
        // Independently: the RFC 6335 §5.1 rules, one by one.
        let allowed = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        let valid = (1..=15).contains(&name.chars().count())
            && allowed
            && name.chars().any(|c| c.is_ascii_alphabetic())
            && !name.starts_with('-')
            && !name.ends_with('-')
            && !name.contains("--");
        assert_eq!(problems.is_empty(), valid, "{name}: {problems:?}");
        invalid += usize::from(!valid);
        if !allowed {
            assert!(
                problems
                    .iter()
                    .any(|p| matches!(p, NameProblem::Character { .. })),
                "{name}"
            );
        }
        if name.chars().count() > 15 {
            assert!(
                problems.contains(&NameProblem::TooLong {
                    length: name.chars().count()
                }),
                "{name}"
            );
        }
    }
    // The 2026-02-13 registry: 97 distinct names (on 185 records) break the syntax.
    assert_eq!(invalid, 97);
    let invalid_records = csv.records.iter().filter(|r| {
        r.name
            .as_deref()
            .is_some_and(|n| !rules::check_service_name(n).is_empty())
    });
    assert_eq!(invalid_records.count(), 185);
    let reasons = |name: &str| {
        rules::check_service_name(name)
            .iter()
            .map(|p| p.code())
            .collect::<Vec<_>>()
    };
    assert_eq!(reasons("whois++"), ["character", "character"]);
    assert_eq!(reasons("sql*net"), ["character"]);
    assert_eq!(reasons("z39.50"), ["character"]);
    assert_eq!(reasons("acmaint_dbd"), ["character"]);
    assert_eq!(reasons("914c/g"), ["character"]);
    assert!(names.contains("whois++") && names.contains("sql*net") && names.contains("914c/g"));
}

/// What a services file of `registry` answers for `name` on `protocol`, scanned as libc's
/// files backend scans it: the first line, in order, whose name or an alias is `name`
/// byte for byte. A record without a transport is a line on tcp and one on udp.
/// `lines` are the records carrying each name (in order): the scan skips no other line.
fn scanned_by_name<'a>(
    registry: &'a portreg::Registry,
    lines: &std::collections::HashMap<&str, Vec<usize>>,
    name: &str,
    protocol: Option<&str>,
) -> Option<(&'a str, u16, &'a str)> {
    lines.get(name)?.iter().find_map(|&index| {
        let record = &registry.records[index];
        let (own, span) = (record.name.as_deref()?, record.ports?);
        if own != name && !record.aliases.iter().any(|a| a == name) {
            return None;
        }
        let served: Vec<&str> = match &record.transport {
            Some(transport) => vec![transport.as_str()],
            None => vec!["tcp", "udp"],
        };
        let found = served
            .into_iter()
            .find(|p| protocol.is_none_or(|a| a == *p))?;
        Some((own, span.low, found))
    })
}

/// Every name and alias, as written and in other cases, on every protocol and on none:
/// the exact-name services table answers what a scan of a services file answers.
fn services_by_name_match_a_scan(registry: &portreg::Registry, compiled: &CompiledRegistry) {
    let mut lines: std::collections::HashMap<&str, Vec<usize>> = Default::default();
    for (index, record) in registry.records.iter().enumerate() {
        for name in record.name.iter().chain(&record.aliases) {
            let carrying = lines.entry(name.as_str()).or_default();
            if carrying.last() != Some(&index) {
                carrying.push(index);
            }
        }
    }
    let mut names: BTreeSet<String> = BTreeSet::new();
    for name in lines.keys() {
        names.extend([name.to_string(), name.to_uppercase(), name.to_lowercase()]);
    }
    names.extend(["".to_owned(), "no-such-service".to_owned()]);
    let mut checked = 0;
    for name in &names {
        for protocol in [
            None,
            Some("tcp"),
            Some("udp"),
            Some("sctp"),
            Some("dccp"),
            Some("ddp"),
        ] {
            let found = compiled
                .service_by_name(name, protocol.map(str::as_bytes))
                .map(|s| (s.name, s.port, s.protocol));
            assert_eq!(
                found,
                scanned_by_name(registry, &lines, name, protocol),
                "{name:?} on {protocol:?}"
            );
            checked += 1;
        }
    }
    assert!(checked > 6 * 1000, "{checked}");
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn iana_xml_services_by_name_match_a_scan() {
    let Some((registry, compiled)) = compiled_xml() else {
        return;
    };
    services_by_name_match_a_scan(&registry, &compiled);
}

#[cfg(feature = "embedded")]
#[test]
fn embedded_services_by_name_match_a_scan() {
    services_by_name_match_a_scan(&embedded().to_registry(), embedded());
}
