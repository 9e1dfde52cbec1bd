//! Registries the tests install as `portreg update --system` would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use portreg::{CompiledRegistry, Provenance, Record, RegistryDate};

/// Writes `registry`, compiled, as `dir/registry.bin`: a new file renamed over the old.
pub fn write_registry(dir: &Path, registry: &portreg::Registry) -> PathBuf {
    let bytes = CompiledRegistry::compile(registry, &Provenance::default()).to_bytes();
    std::fs::create_dir_all(dir).expect("folder");
    let path = dir.join("registry.bin");
    // As installs do: a new file renamed over the old one.
    let temporary = dir.join(".registry.tmp");
    std::fs::write(&temporary, bytes).expect("write");
    std::fs::rename(&temporary, &path).expect("rename");
    path
}

/// The built-in registry dated 2099, with one more tcp service.
pub fn newer_registry_with(name: &str, port: u16) -> portreg::Registry {
    let mut registry = CompiledRegistry::embedded().to_registry();
    let later = "2099-01-01".parse::<RegistryDate>().expect("date");
    registry.meta.updated = Some(later);
    registry.records.push(Record {
        name: Some(name.into()),
        ports: Some(portreg::PortSpan {
            low: port,
            high: port,
        }),
        transport: Some(portreg::Transport::Tcp),
        ..Record::default()
    });
    registry
}
