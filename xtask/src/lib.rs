//! Development tasks. `cargo xtask gen-data` regenerates the embedded registry in
//! `crates/portreg-data` from Debian packages, with portreg's own readers; the drift test
//! in `tests/drift.rs` does the same and fails when the committed data differs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use anyhow::{bail, Context, Result};
use portreg::compiled::{CompiledRegistry, Provenance};
use portreg::{format, Format, ReadOptions, Registry};
use sha2::{Digest, Sha256};

/// A file inside a Debian package, at a pinned version.
#[derive(Clone, Copy, Debug)]
pub struct Package {
    /// The package name.
    pub name: &'static str,
    /// The pinned version.
    pub version: &'static str,
    /// The file's path inside the package.
    pub path: &'static str,
}

/// Wireshark's services file: IANA's registry up to 2024-08, ranges kept, one name per
/// port and transport, with descriptions.
pub const WIRESHARK: Package = Package {
    name: "libwireshark-data",
    version: "4.0.17-0+deb12u3",
    path: "usr/share/wireshark/services",
};

/// Debian's `/etc/services`, for its aliases (`www` for `http`).
pub const NETBASE: Package = Package {
    name: "netbase",
    version: "6.4",
    path: "etc/services",
};

/// A fetched file.
pub struct Source {
    /// Where it came from.
    pub package: Package,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its modification time inside the package.
    pub modified: Option<SystemTime>,
}

impl Source {
    /// The SHA-256 of the file, hex.
    pub fn sha256(&self) -> String {
        Sha256::digest(&self.bytes)
            .iter()
            .fold(String::new(), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            })
    }
}

/// Downloads a package with `apt-get download` into `work` and takes the file out of it.
pub fn fetch(package: Package, work: &Path) -> Result<Source> {
    std::fs::create_dir_all(work)?;
    let spec = format!("{}={}", package.name, package.version);
    let status = Command::new("apt-get")
        .args(["download", "-q", &spec])
        .current_dir(work)
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!("apt-get download {spec} failed ({status})");
    }
    let deb = std::fs::read_dir(work)?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.starts_with(&format!("{}_", package.name)) && name.ends_with(".deb")
        })
        .with_context(|| format!("apt-get download left no .deb of {}", package.name))?;
    let unpacked = work.join(package.name);
    let status = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&unpacked)
        .status()
        .context("cannot run dpkg-deb")?;
    if !status.success() {
        bail!("dpkg-deb -x {} failed ({status})", deb.display());
    }
    let file = unpacked.join(package.path);
    let bytes = std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?;
    let modified = std::fs::metadata(&file).and_then(|m| m.modified()).ok();
    Ok(Source {
        package,
        bytes,
        modified,
    })
}

/// The embedded registry: Wireshark's records, with netbase's aliases added to the
/// record of the same name, port and transport (nothing else is taken from netbase).
/// Its date is that of Wireshark's file inside the package.
pub fn embedded_registry(wireshark: &Source, netbase: &Source) -> Result<Registry> {
    let read = |source: &Source, format: Format| {
        let options = ReadOptions {
            strict: true,
            source_name: format!("{}:{}", source.package.name, source.package.path),
        };
        format::read(&source.bytes, format, &options)
            .map(|o| o.registry)
            .map_err(anyhow::Error::from)
    };
    let mut registry = read(wireshark, Format::Wireshark)?;
    let aliases = read(netbase, Format::Services)?;
    for entry in aliases.records.iter().filter(|r| !r.aliases.is_empty()) {
        let same = registry.records.iter_mut().filter(|r| {
            r.ports == entry.ports
                && r.transport == entry.transport
                && r.name
                    .as_deref()
                    .zip(entry.name.as_deref())
                    .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        });
        for record in same {
            for alias in &entry.aliases {
                if !record.aliases.iter().any(|a| a.eq_ignore_ascii_case(alias)) {
                    record.aliases.push(alias.clone());
                }
            }
        }
    }
    registry.meta.title = Some(
        "Service Name and Transport Protocol Port Number Registry (Wireshark's copy)".to_owned(),
    );
    registry.meta.updated = wireshark.modified.map(portreg::RegistryDate::of);
    Ok(registry)
}

/// The generated files of `crates/portreg-data`.
pub struct Generated {
    /// `data/registry.bin`.
    pub registry: Vec<u8>,
    /// `src/generated.rs`.
    pub rust: String,
}

/// Generates the embedded registry from its two sources.
pub fn generate(wireshark: &Source, netbase: &Source) -> Result<Generated> {
    let registry = embedded_registry(wireshark, netbase)?;
    let provenance = Provenance {
        source: format!(
            "Debian package {} ({}), aliases from Debian package {} ({})",
            wireshark.package.name,
            wireshark.package.path,
            netbase.package.name,
            netbase.package.path
        ),
        version: format!(
            "{} {}; {} {}",
            wireshark.package.name,
            wireshark.package.version,
            netbase.package.name,
            netbase.package.version
        ),
        sha256: format!("{} {}", wireshark.sha256(), netbase.sha256()),
    };
    let compiled = CompiledRegistry::compile(&registry, &provenance);
    let updated = registry
        .meta
        .updated
        .as_ref()
        .map_or(String::new(), |d| d.to_string());
    let rust = format!(
        "// @generated by `cargo xtask gen-data`; do not edit.\n\n\
         /// Where the embedded registry comes from.\n\
         pub const SOURCE: &str = {source:?};\n\
         /// The packages' versions.\n\
         pub const SOURCE_VERSION: &str = {version:?};\n\
         /// SHA-256 of the source files, in the order of [`SOURCE`].\n\
         pub const SOURCE_SHA256: &str = {sha:?};\n\
         /// The registry's date: that of Wireshark's file inside its package.\n\
         pub const UPDATED: &str = {updated:?};\n\
         /// How many records the embedded registry holds.\n\
         pub const RECORDS: usize = {records};\n\
         /// The compiled form's version.\n\
         pub const FORMAT_VERSION: u32 = {version_number};\n",
        source = provenance.source,
        version = provenance.version,
        sha = provenance.sha256,
        records = registry.records.len(),
        version_number = portreg::compiled::FORMAT_VERSION,
    );
    Ok(Generated {
        registry: compiled.to_bytes(),
        rust,
    })
}

/// `crates/portreg-data` in this workspace.
pub fn data_crate() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/portreg-data")
}

/// Fetches both packages into `work` and generates the data.
pub fn fetch_and_generate(work: &Path) -> Result<Generated> {
    let wireshark = fetch(WIRESHARK, &work.join("wireshark"))?;
    let netbase = fetch(NETBASE, &work.join("netbase"))?;
    generate(&wireshark, &netbase)
}
