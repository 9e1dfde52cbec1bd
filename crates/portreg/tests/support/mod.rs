//! Access to the shared real registry files, which tests skip without (or fail without,
//! when `PORTREG_REQUIRE_SHARED=1`).

#![allow(dead_code)]

use std::path::PathBuf;

use portreg::format::{self, Format, ReadOptions};
use portreg::Registry;

/// The `../shared` folder beside the repository, if present.
pub fn shared() -> Option<PathBuf> {
    portreg_testing::shared("")
}

/// A file under `../shared`, or `None` (the test then returns early, having said why).
pub fn shared_file(relative: &str) -> Option<PathBuf> {
    let path = shared()?.join(relative);
    assert!(
        path.is_file(),
        "{} is missing from the shared folder",
        path.display()
    );
    Some(path)
}

/// Reads a shared file strictly in `format`.
pub fn read_strict(relative: &str, format: Format) -> Option<Registry> {
    let path = shared_file(relative)?;
    let bytes = std::fs::read(&path).expect("readable shared file");
    let options = ReadOptions {
        strict: true,
        source_name: path.display().to_string(),
    };
    Some(
        format::read(&bytes, format, &options)
            .unwrap_or_else(|e| panic!("{e}"))
            .registry,
    )
}

/// Reads text strictly in `format`.
pub fn read_text(text: &str, format: Format) -> Registry {
    let options = ReadOptions {
        strict: true,
        source_name: "<test>".into(),
    };
    format::read(text.as_bytes(), format, &options)
        .unwrap_or_else(|e| panic!("{e}"))
        .registry
}

pub const XML: &str = "data/iana/service-names-port-numbers.xml";
pub const NEWEST_XML: &str = "data/iana/newest/service-names-port-numbers.xml";
pub const CSV: &str = "data/iana/service-names-port-numbers.csv";
pub const TXT: &str = "data/iana/service-names-port-numbers.txt";
pub const LEGACY: &str = "data/legacy/port-numbers";
pub const SEED: &str = "seeds/000_e3c441be08ae7963.txt";
pub const NETBASE: &str = "data/netbase/services";
pub const WIRESHARK: &str = "data/wireshark/services";
pub const NMAP: &str = "data/nmap/nmap-services";
