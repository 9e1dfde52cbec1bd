//! Property tests: what a writer writes, its reader reads back into the same records.

mod support;

use portreg::format::{self, Format};
use portreg::{PortSpan, Record, RecordExtra, Reference, ReferenceKind, Registry, Transport};
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use support::read_text;

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9-]{0,12}"
}

fn text() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]([A-Za-z0-9 ,.()/&<>\"'-]{0,30}[A-Za-z0-9.)])?"
        .prop_filter("no double blanks", |t| !t.contains("  "))
}

fn date() -> impl Strategy<Value = portreg::RegistryDate> {
    "20[0-2][0-9]-(0[1-9]|1[0-2])(-(0[1-9]|1[0-9]|2[0-8]))?".prop_map(|d| d.parse().unwrap())
}

fn transport() -> impl Strategy<Value = Transport> {
    prop_oneof![
        Just(Transport::Tcp),
        Just(Transport::Udp),
        Just(Transport::Sctp),
        Just(Transport::Dccp)
    ]
}

fn ports() -> impl Strategy<Value = PortSpan> {
    (any::<u16>(), 0u16..64).prop_map(|(low, extra)| PortSpan {
        low,
        high: low.saturating_add(extra),
    })
}

fn person_id() -> impl Strategy<Value = String> {
    "[A-Z][a-z]{1,8}_[A-Z][a-z]{1,8}"
}

fn reference() -> impl Strategy<Value = Reference> {
    prop_oneof![
        "rfc[1-9][0-9]{2,3}".prop_map(|d| Reference::new(ReferenceKind::Rfc, d)),
        "draft-[a-z]{3,10}-0[0-9]".prop_map(|d| Reference::new(ReferenceKind::Draft, d)),
        "https://[a-z]{3,8}\\.org/[a-z]{1,5}".prop_map(|d| Reference::new(ReferenceKind::Uri, d)),
    ]
}

/// A record of the IANA formats: every common field, person ids, no aliases.
fn iana_record() -> impl Strategy<Value = Record> {
    (
        (
            option::of(name()),
            option::of(ports()),
            option::of(transport()),
            option::of(text()),
        ),
        (
            vec(person_id(), 0..3),
            vec(person_id(), 0..3),
            option::of(date()),
            option::of(date()),
        ),
        (
            vec(reference(), 0..3),
            option::of("[0-9]{4,10}"),
            option::of(text()),
            option::of(text()),
        ),
    )
        .prop_map(|(a, b, c)| {
            let mut record = Record {
                name: a.0,
                ports: a.1,
                transport: a.2,
                description: a.3,
                assignees: b.0,
                contacts: b.1,
                registered: b.2,
                modified: b.3,
                references: c.0,
                service_code: c.1,
                unauthorized_use: c.2,
                notes: c.3,
                ..Record::default()
            };
            if record.assignees == record.contacts {
                record.assignees.clear();
            }
            record.status = record.derive_status();
            record
        })
}

/// A record of the services(5) family: name, port, transport, aliases, comment.
fn services_record() -> impl Strategy<Value = Record> {
    (
        option::of(name()),
        ports(),
        transport(),
        vec(name(), 0..3),
        option::of(text()),
    )
        .prop_map(|(name, ports, transport, aliases, description)| {
            let mut record = Record {
                name,
                aliases,
                ports: Some(ports),
                transport: Some(transport),
                description,
                ..Record::default()
            };
            record.status = record.derive_status();
            record
        })
}

fn nmap_record() -> impl Strategy<Value = Record> {
    (
        option::of(name()),
        ports(),
        transport(),
        "0\\.[0-9]{6}",
        option::of(text()),
    )
        .prop_map(|(name, ports, transport, frequency, description)| {
            let mut record = Record {
                name,
                ports: Some(ports),
                transport: Some(transport),
                description,
                extra: RecordExtra {
                    frequency: Some(frequency),
                    ..RecordExtra::default()
                },
                ..Record::default()
            };
            record.status = record.derive_status();
            record
        })
}

/// A record of the legacy text: inline contacts, typed references, `[was ...]` notes.
fn legacy_record() -> impl Strategy<Value = Record> {
    let contact = "[A-Z][a-z]{1,8} [A-Z][a-z]{1,8} <[a-z]{1,8}&[a-z]{1,8}\\.org>";
    (
        (
            option::of(name()),
            ports(),
            option::of(transport()),
            option::of(text()),
        ),
        (
            vec(contact, 0..3),
            vec(reference(), 0..2),
            option::of("was [a-z]{2,8}"),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(|(a, b)| {
            let mut record = Record {
                name: a.0,
                ports: Some(a.1),
                transport: a.2,
                description: a.3,
                contacts: b.0,
                references: b.1,
                notes: b.2,
                unauthorized_use: b.3.then(|| "unauthorized use".to_owned()),
                ..Record::default()
            };
            // Only a line with a protocol can be commented out and still read as an entry.
            record.extra.commented = Some(b.4 && record.transport.is_some());
            record.status = record.derive_status();
            record
        })
}

fn round_trip(records: Vec<Record>, format: Format) -> Result<(), TestCaseError> {
    let registry = Registry {
        records,
        ..Registry::default()
    };
    let written = format::write(&registry, format);
    let back = read_text(&written, format);
    // Every record the format can hold comes back whole (services(5) has no nameless line).
    let held: Vec<Record> = registry
        .records
        .iter()
        .filter(|r| format.can_hold(r))
        .cloned()
        .collect();
    prop_assert_eq!(back.records, held, "written:\n{}", written);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn iana_xml_round_trips(records in vec(iana_record(), 0..8)) {
        round_trip(records, Format::IanaXml)?;
    }

    #[test]
    fn iana_csv_round_trips(records in vec(iana_record(), 0..8)) {
        round_trip(records, Format::IanaCsv)?;
    }

    #[test]
    fn iana_txt_round_trips(records in vec(iana_record(), 0..8)) {
        // A row is anchored by its port or protocol, or by a name with more on its line.
        let records = records
            .into_iter()
            .map(|mut r| {
                if r.ports.is_none() && r.transport.is_none() {
                    r.name.get_or_insert_with(|| "x".into());
                    r.description.get_or_insert_with(|| "x".into());
                    r.status = r.derive_status();
                }
                r
            })
            .collect();
        round_trip(records, Format::IanaTxt)?;
    }

    #[test]
    fn json_round_trips(records in vec(iana_record(), 0..8), legacy in vec(legacy_record(), 0..4)) {
        let all: Vec<Record> = records.into_iter().chain(legacy).collect();
        round_trip(all.clone(), Format::Json)?;
        round_trip(all, Format::Jsonl)?;
    }

    #[test]
    fn legacy_round_trips(records in vec(legacy_record(), 0..8)) {
        round_trip(records, Format::Legacy)?;
    }

    #[test]
    fn services_round_trip(records in vec(services_record(), 0..8)) {
        round_trip(records.clone(), Format::Services)?;
        round_trip(records, Format::Wireshark)?;
    }

    #[test]
    fn nmap_round_trips(records in vec(nmap_record(), 0..8)) {
        round_trip(records, Format::Nmap)?;
    }
}

/// Text as hostile as a file can hold: any character, control characters (C0 and C1),
/// line breaks and non-characters often.
fn hostile_text() -> impl Strategy<Value = String> {
    let character = prop_oneof![
        3 => any::<char>(),
        2 => (0u32..0x20).prop_map(|c| char::from_u32(c).unwrap_or('?')),
        1 => (0x7fu32..0xa0).prop_map(|c| char::from_u32(c).unwrap_or('?')),
        1 => prop_oneof![Just('\u{fffe}'), Just('\u{ffff}'), Just('\u{2028}'), Just('#'), Just(' '), Just('"'), Just(',')],
        3 => proptest::char::range('a', 'z'),
    ];
    vec(character, 0..16).prop_map(String::from_iter)
}

/// A record whose every text field may hold anything.
fn hostile_record() -> impl Strategy<Value = Record> {
    (
        (
            option::of(hostile_text()),
            option::of(ports()),
            option::of(transport()),
            option::of(hostile_text()),
        ),
        (
            vec(hostile_text(), 0..2),
            vec(hostile_text(), 0..2),
            vec(hostile_text(), 0..2),
            option::of(hostile_text()),
            option::of(hostile_text()),
        ),
    )
        .prop_map(|(a, b)| {
            let mut record = Record {
                name: a.0,
                ports: a.1,
                transport: a.2,
                description: a.3,
                aliases: b.0,
                assignees: b.1,
                contacts: b.2,
                notes: b.3,
                unauthorized_use: b.4,
                ..Record::default()
            };
            record.status = record.derive_status();
            record
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// No writer produces a file its own format's reader refuses in strict mode,
    /// whatever the records hold.
    #[test]
    fn every_writer_writes_what_its_reader_takes(records in vec(hostile_record(), 0..6)) {
        let registry = Registry { records, ..Registry::default() };
        for format in Format::ALL {
            let written = format::write(&registry, format);
            let options = format::ReadOptions { strict: true, source_name: "written".into() };
            if let Err(error) = format::read(written.as_bytes(), format, &options) {
                prop_assert!(false, "{format}: {error}\nwritten:\n{written:?}");
            }
            if format == Format::IanaXml {
                // Any XML 1.0 reader, not only portreg's, takes it.
                prop_assert!(written.chars().all(format::is_xml_char), "{written:?}");
            }
        }
    }
}
