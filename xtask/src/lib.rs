//! Development tasks. `cargo xtask gen-data` regenerates the embedded registry in
//! `crates/portreg-data` from IANA's XML, with portreg's own reader and compiler, and
//! netbase's aliases from the Debian package; the drift test in `tests/drift.rs` does the
//! same from the shared copy of the pinned XML and fails when the committed data differs.

pub mod deb;
pub mod history;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use portreg::format::{self, Format, ReadOptions};
use portreg::{CompiledRegistry, Provenance, Registry};
use sha2::{Digest, Sha256};

/// IANA's registry in its master form.
pub const IANA_URL: &str =
    "https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.xml";

/// The IANA XML the committed data is generated from: its SHA-256, and its date.
pub const PINNED_IANA_SHA256: &str =
    "4bbf00ef4dd194ea3098d090b42a832c0f8aef704699956a4a7e24576a49631b";

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

/// Debian's `/etc/services`, for its aliases (`www` for `http`).
pub const NETBASE: Package = Package {
    name: "netbase",
    version: "6.4",
    path: "etc/services",
};

/// A source file and where it came from.
pub struct Source {
    /// Where it came from, for people.
    pub origin: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Source {
    /// The SHA-256 of the file, hex.
    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }
}

/// SHA-256, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// Downloads a package with `apt-get download` into `work` and takes the file out of it.
pub fn fetch_package(package: Package, work: &Path) -> Result<Source> {
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
    Ok(Source {
        origin: format!(
            "Debian package {} {} ({})",
            package.name, package.version, package.path
        ),
        bytes,
    })
}

/// Reads IANA's XML from a file.
pub fn iana_from_file(path: &Path) -> Result<Source> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Source {
        origin: "IANA service-names-port-numbers.xml".to_owned(),
        bytes,
    })
}

/// Downloads IANA's published XML.
pub fn iana_from_web() -> Result<Source> {
    let mut response = ureq::get(IANA_URL)
        .call()
        .with_context(|| format!("cannot download {IANA_URL}"))?;
    let bytes = response
        .body_mut()
        .with_config()
        .limit(portreg::MAX_REGISTRY_BYTES)
        .read_to_vec()
        .with_context(|| format!("download of {IANA_URL} broke off"))?;
    Ok(Source {
        origin: "IANA service-names-port-numbers.xml".to_owned(),
        bytes,
    })
}

fn read_strict(source: &Source, format: Format) -> Result<Registry> {
    let options = ReadOptions {
        strict: true,
        source_name: source.origin.clone(),
    };
    Ok(format::read(&source.bytes, format, &options)?.registry)
}

/// The embedded registry: IANA's records, every field, with netbase's aliases added to
/// the record of the same name (any case), port and transport (nothing else is taken
/// from netbase).
pub fn embedded_registry(iana: &Source, netbase: &Source) -> Result<Registry> {
    let mut registry = read_strict(iana, Format::IanaXml)?;
    let aliases = read_strict(netbase, Format::Services)?;
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
    Ok(registry)
}

/// The generated files of `crates/portreg-data`.
pub struct Generated {
    /// `data/registry.bin`.
    pub registry: Vec<u8>,
    /// `src/generated.rs`.
    pub rust: String,
}

/// Generates the embedded registry from IANA's XML and netbase.
pub fn generate(iana: &Source, netbase: &Source) -> Result<Generated> {
    let registry = embedded_registry(iana, netbase)?;
    let updated = registry
        .meta
        .updated
        .as_ref()
        .map_or(String::new(), |d| d.to_string());
    let provenance = Provenance {
        source: format!("{}; aliases from {}", iana.origin, netbase.origin),
        version: format!("IANA {updated}; netbase {}", NETBASE.version),
        sha256: format!("{} {}", iana.sha256(), netbase.sha256()),
    };
    let compiled = CompiledRegistry::compile(&registry, &provenance);
    let rust = format!(
        "// @generated by `cargo xtask gen-data`; do not edit.\n\n\
         /// Where the embedded registry comes from.\n\
         pub const SOURCE: &str = {source:?};\n\
         /// The sources' versions.\n\
         pub const SOURCE_VERSION: &str = {version:?};\n\
         /// SHA-256 of IANA's XML.\n\
         pub const IANA_SHA256: &str = {iana_sha:?};\n\
         /// SHA-256 of the source files, in the order of [`SOURCE`].\n\
         pub const SOURCE_SHA256: &str = {sha:?};\n\
         /// The registry's date, as IANA's XML gives it.\n\
         pub const UPDATED: &str = {updated:?};\n\
         /// How many records the embedded registry holds.\n\
         pub const RECORDS: usize = {records};\n\
         /// How many people its people table holds.\n\
         pub const PEOPLE: usize = {people};\n\
         /// The compiled form's version.\n\
         pub const FORMAT_VERSION: u32 = {version_number};\n",
        source = provenance.source,
        version = provenance.version,
        iana_sha = iana.sha256(),
        sha = provenance.sha256,
        records = registry.records.len(),
        people = registry.people.len(),
        version_number = portreg::COMPILED_FORMAT_VERSION,
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

/// Generates the data from IANA's XML and the netbase package fetched into `work`.
pub fn generate_from(iana: &Source, work: &Path) -> Result<Generated> {
    let netbase = fetch_package(NETBASE, &work.join("netbase"))?;
    generate(iana, &netbase)
}

/// Checks a downloaded registry as `portreg update` checks a new one against the
/// registry in use: here, the one committed.
pub fn check_download(iana: &Source) -> Result<()> {
    let registry = read_strict(iana, Format::IanaXml)?;
    let committed = std::fs::read(data_crate().join("data/registry.bin"))?;
    let current = CompiledRegistry::from_bytes(&committed)?;
    portreg::check_replacement(&registry, &current, false)?;
    Ok(())
}

/// Compiles any registry file (its format detected) into the compiled form.
pub fn compile_file(input: &Path, output: &Path) -> Result<()> {
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let Some(format) = Format::detect(&bytes) else {
        bail!("{}: cannot tell the registry format", input.display());
    };
    let source = Source {
        origin: input.display().to_string(),
        bytes,
    };
    let registry = read_strict(&source, format)?;
    let compiled = CompiledRegistry::compile(&registry, &Provenance::default());
    std::fs::write(output, compiled.to_bytes())
        .with_context(|| format!("cannot write {}", output.display()))
}

/// `docs/record.schema.json` in this workspace.
pub fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/record.schema.json")
}

/// The JSON Schema of portreg's JSON record, generated from the record type itself. Every
/// key is required: the record always carries every key, `null` when absent.
pub fn record_schema() -> String {
    let schema = schemars::schema_for!(portreg::format::JsonRecord);
    let mut value = serde_json::to_value(&schema).unwrap_or_default();
    require_every_key(&mut value);
    if let Some(defs) = value.get_mut("$defs").and_then(|d| d.as_object_mut()) {
        for (name, def) in defs.iter_mut() {
            if name == "JsonRecord" {
                require_every_key(def);
            }
        }
    }
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

fn require_every_key(schema: &mut serde_json::Value) {
    let keys: Vec<serde_json::Value> = schema
        .get("properties")
        .and_then(|p| p.as_object())
        .map(|p| p.keys().cloned().map(serde_json::Value::from).collect())
        .unwrap_or_default();
    if let Some(object) = schema.as_object_mut() {
        object.insert("required".to_owned(), serde_json::Value::Array(keys));
    }
}
