//! Local names: the services an organisation adds beside the registry, one folder of
//! `*.services` and `*.json` files (`/etc/portreg/local.d` for the machine), read by the
//! command line and the name service alike.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::format::{self, Format, ReadOptions};
use crate::{Record, Source, MAX_REGISTRY_BYTES};

/// The machine's local names, read by every portreg command and the name service.
pub const SYSTEM_LOCAL_DIR: &str = "/etc/portreg/local.d";
/// Where `portreg update --system` installs the machine's registry (`registry.bin`), read
/// by the name service.
pub const SYSTEM_DATA_DIR: &str = "/var/lib/portreg";
/// Names another folder than [`SYSTEM_DATA_DIR`] (for tests and packagers).
pub const SYSTEM_DATA_DIR_VARIABLE: &str = "PORTREG_SYSTEM_DATA_DIR";
/// Names another folder than [`SYSTEM_LOCAL_DIR`].
pub const SYSTEM_LOCAL_DIR_VARIABLE: &str = "PORTREG_SYSTEM_LOCAL_DIR";

/// Reads a registry input, refusing one larger than [`MAX_REGISTRY_BYTES`] before reading
/// it all (`/dev/zero` included).
pub fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_REGISTRY_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_REGISTRY_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{} is larger than {} MiB, the most portreg reads as a registry",
                path.display(),
                MAX_REGISTRY_BYTES / (1024 * 1024)
            ),
        ));
    }
    Ok(bytes)
}

/// A local name and the file it comes from.
#[derive(Clone, Debug)]
pub struct LocalRecord {
    /// The record, labelled `local`.
    pub record: Record,
    /// The file.
    pub file: PathBuf,
}

/// The local layer: every `*.services` and `*.json` file of the local folders, in name
/// order, with the lines that could not be read.
#[derive(Debug, Default)]
pub struct LocalLayer {
    /// The records.
    pub records: Vec<LocalRecord>,
    /// `FILE:LINE:COLUMN: expected ..., found ...` for every line skipped.
    pub warnings: Vec<String>,
    /// A checksum of the files read, names and contents.
    pub fingerprint: u32,
}

impl LocalLayer {
    /// Reads the folders in turn; a missing folder is no layer.
    pub fn read(dirs: &[PathBuf]) -> LocalLayer {
        let mut layer = LocalLayer::default();
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for file in files {
                let format = match file.extension().and_then(|e| e.to_str()) {
                    Some("services") => Format::Services,
                    Some("json") => Format::Json,
                    _ => continue,
                };
                layer.read_file(&file, format);
            }
        }
        layer
    }

    fn read_file(&mut self, file: &Path, format: Format) {
        let name = file.display().to_string();
        let bytes = match read_capped(file) {
            Ok(bytes) => bytes,
            Err(error) => {
                self.warnings
                    .push(format!("cannot read {name}: {error} (file skipped)"));
                return;
            }
        };
        let mut hasher = crc32fast::Hasher::new_with_initial(self.fingerprint);
        hasher.update(name.as_bytes());
        hasher.update(&bytes);
        self.fingerprint = hasher.finalize();
        let options = ReadOptions {
            strict: false,
            source_name: name.clone(),
        };
        match format::read(&bytes, format, &options) {
            Ok(outcome) => {
                self.warnings.extend(
                    outcome
                        .warnings
                        .iter()
                        .map(|w| format!("{name}:{w} (line skipped)")),
                );
                self.records
                    .extend(outcome.registry.records.into_iter().map(|mut record| {
                        record.source = Source::Local;
                        LocalRecord {
                            record,
                            file: file.to_owned(),
                        }
                    }));
            }
            Err(error) => self.warnings.push(format!("{error} (file skipped)")),
        }
    }
}
