use super::*;
use crate::port_range::PortSpan;
use crate::record::Record;
use crate::registry::Registry;

fn sample() -> Registry {
    let record = |name: &str, port: u16, transport: Transport| Record {
        name: Some(name.to_owned()),
        ports: Some(PortSpan::single(port)),
        transport: Some(transport),
        description: Some(format!("{name} service")),
        ..Record::default()
    };
    let mut x11 = record("x11", 6000, Transport::Tcp);
    x11.ports = Some(PortSpan {
        low: 6000,
        high: 6063,
    });
    let mut http = record("http", 80, Transport::Tcp);
    http.aliases = vec!["www".into()];
    let mut local = record("billing", 40000, Transport::Other("ddp".into()));
    local.source = Source::Local;
    local.extra.commented = Some(true);
    local.status = Status::Temporary;
    Registry {
        records: vec![record("ssh", 22, Transport::Tcp), http, x11, local],
        ..Registry::default()
    }
}

/// Aligned bytes, as a memory map gives them.
struct WordBytes(Vec<u32>);

impl AsRef<[u8]> for WordBytes {
    fn as_ref(&self) -> &[u8] {
        bytemuck::cast_slice(&self.0)
    }
}

#[test]
fn compiles_and_reads_back() {
    let registry = sample();
    let compiled = CompiledRegistry::compile(&registry, &Provenance::default());
    assert_eq!(compiled.to_registry(), registry);
    let reopened = CompiledRegistry::from_bytes(&compiled.to_bytes()).unwrap();
    assert_eq!(reopened.to_registry(), registry);
    let words: Vec<u32> = bytemuck::cast_slice(&compiled.to_bytes()).to_vec();
    let shared = CompiledRegistry::from_shared(WordBytes(words), true).unwrap();
    assert_eq!(shared.to_registry(), registry);
}

#[test]
fn flags_round_trip() {
    for status in Flags::STATUSES {
        for source in Flags::SOURCES {
            for commented in [None, Some(false), Some(true)] {
                for transport in 0..=OTHER_TRANSPORT {
                    let flags = Flags {
                        transport,
                        status,
                        has_ports: transport % 2 == 0,
                        commented,
                        source,
                    };
                    assert_eq!(Flags::decode(flags.encode()), flags);
                }
            }
        }
    }
}

#[test]
fn rows_are_whole_words() {
    assert_eq!(HEADER_WORDS, 8);
    assert_eq!(size_words::<RecordRow>(), 6);
    assert_eq!(size_words::<DetailRow>(), 16);
    assert_eq!(size_words::<MetaRow>(), 16);
    assert_eq!(size_words::<PersonRow>(), 5);
}

/// The words of the sample, to damage one check at a time.
fn words() -> Vec<u32> {
    bytemuck::cast_slice(&CompiledRegistry::compile(&sample(), &Provenance::default()).to_bytes())
        .to_vec()
}

fn open(words: &[u32]) -> Result<CompiledRegistry, CompiledError> {
    CompiledRegistry::from_bytes(bytemuck::cast_slice(words))
}

/// Rewrites the header's checksum so that a later check is reached.
fn reseal(words: &mut [u32]) {
    words[4] = checksum(&words[HEADER_WORDS..]);
}

#[test]
fn each_check_has_its_own_error() {
    let good = words();
    let bytes: &[u8] = bytemuck::cast_slice(&good);
    assert_eq!(
        CompiledRegistry::from_bytes(&bytes[..bytes.len() - 1]).unwrap_err(),
        CompiledError::Unaligned(bytes.len() - 1)
    );
    assert_eq!(
        open(&good[..good.len() - 1]).unwrap_err(),
        CompiledError::Truncated {
            found: bytes.len() - 4,
            expected: bytes.len()
        }
    );
    assert_eq!(open(&good[..4]).unwrap_err(), CompiledError::NotCompiled);
    let mut flipped = good.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(open(&flipped).unwrap_err(), CompiledError::Checksum);
    let mut version = good.clone();
    version[2] = 9;
    assert_eq!(
        open(&version).unwrap_err(),
        CompiledError::Version { found: 9 }
    );
    let mut count = good.clone();
    count[5] = 3;
    assert_eq!(
        open(&count).unwrap_err(),
        CompiledError::SectionCount {
            found: 3,
            expected: 18
        }
    );
    let records = HEADER_WORDS + Section::Records as usize * 2;
    let mut bounds = good.clone();
    bounds[records + 1] = u32::MAX - 1;
    reseal(&mut bounds);
    assert_eq!(
        open(&bounds).unwrap_err(),
        CompiledError::SectionBounds(Section::Records)
    );
    let mut rows = good.clone();
    rows[records + 1] -= 1;
    reseal(&mut rows);
    assert_eq!(
        open(&rows).unwrap_err(),
        CompiledError::SectionRows(Section::Records)
    );
    let mut few = good.clone();
    few[records + 1] -= 6;
    reseal(&mut few);
    assert_eq!(
        open(&few).unwrap_err(),
        CompiledError::RecordCount {
            announced: 4,
            present: 3
        }
    );
    let ports = HEADER_WORDS + Section::PortIndex as usize * 2;
    let mut index = good.clone();
    index[ports + 1] -= 1;
    reseal(&mut index);
    assert_eq!(open(&index).unwrap_err(), CompiledError::PortIndex(65_536));
    let meta = HEADER_WORDS + Section::Meta as usize * 2;
    let mut short_meta = good;
    short_meta[meta + 1] = 0;
    reseal(&mut short_meta);
    assert_eq!(open(&short_meta).unwrap_err(), CompiledError::Meta(0));
}

#[test]
fn damaged_rows_answer_without_crashing() {
    // Every word of the data, once set to a hostile value: opening may fail, but
    // reading whatever opens must not panic or loop.
    let good = words();
    let ports = HEADER_WORDS + Section::PortIndex as usize * 2;
    let (start, len) = (good[ports] as usize, good[ports + 1] as usize);
    let sampled = (HEADER_WORDS..good.len())
        .filter(|&at| !(start..start + len).contains(&at) || at % 4_099 == 0 || at < start + 100);
    for at in sampled {
        for value in [0, 1, NONE, NONE - 1, 65_536] {
            let mut damaged = good.clone();
            damaged[at] = value;
            reseal(&mut damaged);
            if let Ok(registry) = open(&damaged) {
                let _ = registry.to_registry();
                let _ = registry.lookup_port(6010, None);
                let _ = registry.lookup_name("www", None);
                let _ = registry.search("s", &[], 10);
            }
        }
    }
}

#[test]
fn compiled_bytes_are_told_from_registry_files_and_the_audit_head_is_kept() {
    let mut registry = sample();
    registry.meta.audit_head = Some("42:ab".into());
    let compiled = CompiledRegistry::compile(&registry, &Provenance::default());
    let bytes = compiled.to_bytes();
    assert!(CompiledRegistry::looks_compiled(&bytes));
    assert!(CompiledRegistry::looks_compiled(&bytes[..bytes.len() / 2]));
    assert!(!CompiledRegistry::looks_compiled(
        b"<?xml version=\"1.0\"?>"
    ));
    assert_eq!(
        CompiledRegistry::from_bytes(&bytes)
            .unwrap()
            .metadata()
            .audit_head
            .as_deref(),
        Some("42:ab")
    );
}
