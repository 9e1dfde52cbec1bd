//! The body shared by every fuzz target.

use portreg::format::{self, Format, ReadOptions};

/// Reads `data` as `format` in both modes and writes any result in every format.
pub fn exercise(data: &[u8], format: Format) {
    let _ = Format::detect(data);
    let _ = format::read(data, format, &ReadOptions { strict: true, ..ReadOptions::default() });
    if let Ok(outcome) = format::read(data, format, &ReadOptions::default()) {
        for target in Format::ALL {
            let _ = format::write(&outcome.registry, target);
        }
    }
}

/// Walks a compiled registry: every record in full, every name back through the name
/// table, every port, a search, the metadata and the people.
pub fn walk(registry: &portreg::CompiledRegistry) {
    let _ = registry.metadata();
    let _ = registry.people();
    let _ = registry.provenance();
    for record in registry.records() {
        let full = record.to_record();
        if let Some(name) = &full.name {
            let _ = registry.lookup_name(name, None);
            let _ = registry.getservbyname(name, "tcp");
        }
        let _ = record.aliases().count();
    }
    for port in (0..=u16::MAX).step_by(97).chain([0, 22, 80, 65_535]) {
        for hit in registry.lookup_port(port, None) {
            let _ = hit.record.to_record();
        }
        let _ = registry.getservbyport(port, "udp");
    }
    let _ = registry.search("a", &[], 50);
    let _ = registry.search("ss", &[portreg::Transport::Tcp], 50);
}
