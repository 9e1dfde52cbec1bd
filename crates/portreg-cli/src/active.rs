//! The registry a command answers from: the embedded one, or `--registry FILE`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use portreg::compiled::{CompiledRegistry, Provenance};
use portreg::{format, Format, ReadOptions, Registry};

use crate::store::Store;

/// The registry in use and what to call it.
pub struct Active {
    registry: Source,
    /// `embedded`, `installed (PATH)`, or the file's path.
    pub origin: String,
}

enum Source {
    Embedded(&'static CompiledRegistry),
    Loaded(Box<CompiledRegistry>),
}

impl Active {
    /// The registry `--registry` names; else the one `portreg update` installed, when it
    /// is not older than the embedded one; else the embedded one. An installed registry
    /// that cannot be used is reported and passed over.
    pub fn load(file: Option<&Path>) -> Result<Active> {
        match file {
            None => Ok(Self::installed().unwrap_or_else(Self::embedded)),
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                let name = path.display().to_string();
                let compiled = match CompiledRegistry::from_bytes(&bytes) {
                    Ok(compiled) => compiled,
                    Err(_) => {
                        let registry = read_any(&bytes, &name)?;
                        let provenance = Provenance {
                            source: name.clone(),
                            ..Provenance::default()
                        };
                        CompiledRegistry::compile(&registry, &provenance)
                    }
                };
                Ok(Active {
                    registry: Source::Loaded(Box::new(compiled)),
                    origin: name,
                })
            }
        }
    }

    /// The registry built into portreg.
    pub fn embedded() -> Active {
        Active {
            registry: Source::Embedded(CompiledRegistry::embedded()),
            origin: "embedded".into(),
        }
    }

    fn installed() -> Option<Active> {
        let store = Store::locate()?;
        match store.load_current() {
            Ok(Some(installed)) => {
                let embedded = CompiledRegistry::embedded();
                let not_older = match (installed.updated(), embedded.updated()) {
                    (Some(installed), Some(embedded)) => installed >= embedded,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                not_older.then(|| Active {
                    registry: Source::Loaded(Box::new(installed)),
                    origin: format!("installed ({})", store.current_path().display()),
                })
            }
            Ok(None) => None,
            Err(error) => {
                eprintln!(
                    "portreg: warning: the installed registry cannot be used ({error:#}); using the built-in one \
                     (`portreg update` installs a fresh one)"
                );
                None
            }
        }
    }

    /// The registry, owned or `'static`, for a server to keep.
    pub fn into_shared(
        self,
    ) -> (
        Box<dyn std::ops::Deref<Target = CompiledRegistry> + Send + Sync>,
        String,
    ) {
        let registry: Box<dyn std::ops::Deref<Target = CompiledRegistry> + Send + Sync> =
            match self.registry {
                Source::Embedded(registry) => Box::new(registry),
                Source::Loaded(registry) => Box::new(registry),
            };
        (registry, self.origin)
    }

    /// The compiled registry.
    pub fn registry(&self) -> &CompiledRegistry {
        match &self.registry {
            Source::Embedded(registry) => registry,
            Source::Loaded(registry) => registry,
        }
    }
}

/// Reads a registry file of any format, detected; skipped lines are counted on stderr.
pub fn read_any(bytes: &[u8], name: &str) -> Result<Registry> {
    let Some(format) = Format::detect(bytes) else {
        bail!("{name}: cannot tell the registry format");
    };
    let options = ReadOptions {
        strict: false,
        source_name: name.to_owned(),
    };
    let outcome = format::read(bytes, format, &options)?;
    if !outcome.warnings.is_empty() {
        eprintln!(
            "portreg: {} line(s) skipped in {name} (see `portreg convert {name} --to jsonl`)",
            outcome.warnings.len()
        );
    }
    Ok(outcome.registry)
}

/// Reads a registry file of any format from a path.
pub fn read_file(path: &Path) -> Result<Registry> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    read_any(&bytes, &path.display().to_string())
}
