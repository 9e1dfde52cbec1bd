//! The registry a command answers from: the embedded one, the installed one, or
//! `--registry FILE`; with the local names of `local.d` and, on request, nmap's names
//! layered over it.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use portreg::format::{self, Format, ReadOptions};
use portreg::{CompiledRegistry, Provenance, Record, Registry, Source, Status};
use portreg::{LocalLayer, LocalRecord};

use crate::cli::{AsOfArgs, Common};
use crate::store::Store;

/// The registry in use and what to call it.
pub struct Active {
    registry: Held,
    /// `embedded`, `installed (PATH)`, or the file's path.
    pub origin: String,
}

enum Held {
    Embedded(&'static CompiledRegistry),
    Loaded(Box<CompiledRegistry>),
}

impl Active {
    /// The registry `--registry` names; else the one `portreg update` installed, when it
    /// is not older than the embedded one; else the embedded one. An installed registry
    /// that cannot be used is reported and passed over.
    pub fn load(file: Option<&Path>) -> Result<Active> {
        match file {
            None => Ok(Store::locate()
                .and_then(|store| Self::installed(&store))
                .unwrap_or_else(Self::embedded)),
            Some(path) => {
                let bytes = read_capped(path)?;
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
                    registry: Held::Loaded(Box::new(compiled)),
                    origin: name,
                })
            }
        }
    }

    /// The registry in use with its layers, as lookups see it: local names (always, where
    /// a `local.d` folder has files) and nmap's names (with `--unofficial`). Bad local lines
    /// are warned about with their place, and collisions with the registry once.
    pub fn layered(common: &Common) -> Result<Active> {
        let base = Active::load(common.registry.as_deref())?;
        let local = LocalLayer::read(&local_dirs());
        // Said once per change of the local files (or of the registry they meet);
        // `check-local` says them always.
        // Nothing of this on a lookup without local names: it is on `portreg 22`'s path.
        let say = (!local.warnings.is_empty() || !local.records.is_empty()) && {
            let sha256 = base.registry().provenance().sha256;
            let fingerprint = format!("{:08x} {sha256}", local.fingerprint);
            !Store::locate().is_some_and(|store| store.local_warned(&fingerprint))
        };
        if say {
            for warning in &local.warnings {
                eprintln!("portreg: warning: {}", crate::output::visible(warning));
            }
        }
        let nmap = if common.unofficial {
            let nmap = read_nmap(common.nmap.as_deref())?;
            if nmap.is_none() {
                eprintln!("portreg: warning: no nmap services table at {NMAP_SERVICES}; give one with --nmap FILE");
            }
            nmap
        } else {
            None
        };
        if local.records.is_empty() && nmap.is_none() {
            return Ok(base);
        }
        let collided = collisions(base.registry(), &local.records).len();
        if collided > 0 && say {
            eprintln!(
                "portreg: warning: {collided} local name(s) collide with the registry's assignments \
                 (`portreg check-local` lists them)"
            );
        }
        let layers: Vec<&str> = [
            (!local.records.is_empty()).then_some("local names"),
            nmap.is_some().then_some("nmap's names"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let origin = format!("{} with {}", base.origin, layers.join(" and "));
        // The merged registry is compiled once and kept in the data folder, keyed by what
        // it is made of: later commands map it as they map an installed registry.
        let key = layered_key(base.registry(), &local, nmap.as_ref(), common);
        let store = Store::locate();
        if let Some(cached) = store.as_ref().and_then(|s| s.load_layered(&key)) {
            return Ok(Active {
                registry: Held::Loaded(Box::new(cached)),
                origin,
            });
        }
        let mut registry = base.registry().to_registry();
        registry
            .records
            .extend(local.records.into_iter().map(|l| l.record));
        if let Some(nmap) = nmap {
            registry.records.extend(nmap.records);
        }
        let provenance = base.registry().provenance();
        let compiled = CompiledRegistry::compile(&registry, &provenance);
        if let Some(store) = &store {
            // A cache that cannot be written is only slower next time.
            let _ = store.save_layered(&key, &compiled.to_bytes());
        }
        Ok(Active {
            registry: Held::Loaded(Box::new(compiled)),
            origin,
        })
    }

    /// The registry built into portreg.
    pub fn embedded() -> Active {
        Active {
            registry: Held::Embedded(CompiledRegistry::embedded()),
            origin: "embedded".into(),
        }
    }

    /// The registry installed in `store` when it is usable and not older than the
    /// embedded one; else the embedded one.
    pub fn in_store(store: &Store) -> Active {
        Self::installed(store).unwrap_or_else(Self::embedded)
    }

    fn installed(store: &Store) -> Option<Active> {
        match store.load_current() {
            Ok(Some(installed)) => portreg::supersedes_built_in(&installed).then(|| Active {
                registry: Held::Loaded(Box::new(installed)),
                origin: format!("installed ({})", store.current_path().display()),
            }),
            Ok(None) => None,
            Err(error) => {
                if !store.damage_reported() {
                    eprintln!(
                        "portreg: warning: the installed registry cannot be used ({error:#}); using the built-in one \
                         (`portreg update` installs a fresh one)"
                    );
                }
                None
            }
        }
    }

    /// The registry a question is asked of: as of `--as-of` where given, else the one in
    /// use with its layers.
    pub fn asked(common: &Common, as_of: &AsOfArgs) -> Result<Active, crate::Failure> {
        match &as_of.as_of {
            Some(date) => Active::as_of(date, as_of.history.as_deref()),
            None => Ok(Active::layered(common)?),
        }
    }

    /// The registry as the history's latest snapshot on or before `date` published it,
    /// named on standard error.
    pub fn as_of(
        date: &portreg::RegistryDate,
        history: Option<&Path>,
    ) -> Result<Active, crate::Failure> {
        let history = crate::history::load(history)?;
        let at = crate::history::snapshot_on(&history, date)?;
        let snapshot = &history.snapshots[at];
        eprintln!(
            "portreg: as published on {} ({}){}",
            snapshot.date,
            snapshot.source,
            if snapshot.covers < u16::MAX / 2 {
                format!(", which lists ports 0-{} only", snapshot.covers)
            } else {
                String::new()
            }
        );
        Ok(Active::from_compiled(
            history.compiled_at(at),
            format!("as of {date}: the snapshot of {}", snapshot.date),
        ))
    }

    /// A registry compiled here (a snapshot of the history, a merged one), and where it
    /// comes from.
    pub fn from_compiled(registry: CompiledRegistry, origin: String) -> Active {
        Active {
            registry: Held::Loaded(Box::new(registry)),
            origin,
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
                Held::Embedded(registry) => Box::new(registry),
                Held::Loaded(registry) => Box::new(registry),
            };
        (registry, self.origin)
    }

    /// The compiled registry.
    pub fn registry(&self) -> &CompiledRegistry {
        match &self.registry {
            Held::Embedded(registry) => registry,
            Held::Loaded(registry) => registry,
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
    let bytes = read_capped(path)?;
    read_any(&bytes, &path.display().to_string())
}

/// What a merged registry is made of, as a short key: the base registry's identity, the
/// local files' names and contents, and the nmap table used.
fn layered_key(
    base: &CompiledRegistry,
    local: &LocalLayer,
    nmap: Option<&Registry>,
    common: &Common,
) -> String {
    let provenance = base.provenance();
    let mut hasher = crc32fast::Hasher::new();
    for part in [
        provenance.sha256.as_str(),
        provenance.version.as_str(),
        &base.len().to_string(),
        &portreg::COMPILED_FORMAT_VERSION.to_string(),
        &format!("{:08x}", local.fingerprint),
    ] {
        hasher.update(part.as_bytes());
        hasher.update(b"\0");
    }
    if nmap.is_some() {
        let path = common.nmap.as_deref().unwrap_or(Path::new(NMAP_SERVICES));
        let stamp = std::fs::metadata(path)
            .ok()
            .and_then(|m| Some((m.len(), m.modified().ok()?)));
        hasher.update(format!("nmap {} {stamp:?}", path.display()).as_bytes());
    }
    format!("{:08x}", hasher.finalize())
}

/// The folders local names are read from: `$PORTREG_CONFIG_DIR/local.d` when that is set,
/// else both `$XDG_CONFIG_HOME/portreg/local.d` (`~/.config/portreg/local.d`) and
/// `/etc/portreg/local.d`.
pub fn local_dirs() -> Vec<PathBuf> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("PORTREG_CONFIG_DIR") {
        return vec![dir.join("local.d")];
    }
    let user = env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|home| home.join(".config")));
    let mut dirs: Vec<PathBuf> = user
        .map(|d| d.join("portreg/local.d"))
        .into_iter()
        .collect();
    dirs.push(system_local_dir());
    dirs
}

/// The machine's local names: `$PORTREG_SYSTEM_LOCAL_DIR`, else
/// [`portreg::SYSTEM_LOCAL_DIR`] (as the name service reads them).
pub fn system_local_dir() -> PathBuf {
    std::env::var_os(portreg::SYSTEM_LOCAL_DIR_VARIABLE)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from(portreg::SYSTEM_LOCAL_DIR), PathBuf::from)
}

/// nmap's services table where the machine has one.
pub const NMAP_SERVICES: &str = "/usr/share/nmap/nmap-services";

/// A local name that disagrees with the registry.
#[derive(Clone, Debug)]
pub struct Collision {
    /// The local record.
    pub local: LocalRecord,
    /// The registry's record it collides with.
    pub registry: Record,
    /// How: `port` (the registry assigns the port on that transport to another name) or
    /// `name` (the registry assigns the name elsewhere).
    pub kind: &'static str,
}

/// Where local names collide with the registry's assignments.
pub fn collisions(base: &CompiledRegistry, local: &[LocalRecord]) -> Vec<Collision> {
    let mut found = Vec::new();
    for entry in local {
        let record = &entry.record;
        let same_place =
            |other: &Record| other.ports == record.ports && other.transport == record.transport;
        if let Some(name) = &record.name {
            if let Some(other) = base
                .lookup_name(name, None)
                .into_iter()
                .map(|hit| hit.record.to_record())
                .find(|other| {
                    other
                        .name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(name))
                        && !same_place(other)
                })
            {
                found.push(Collision {
                    local: entry.clone(),
                    registry: other,
                    kind: "name",
                });
                continue;
            }
        }
        let (Some(span), Some(transport)) = (record.ports, record.transport.as_ref()) else {
            continue;
        };
        let taken = (span.low..=span.high).find_map(|port| {
            base.records_on_port(port).find(|other| {
                other.name().is_some()
                    && other.status() != Status::Unassigned
                    && other.covers_transport(transport)
                    && !other
                        .name()
                        .zip(record.name.as_deref())
                        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
            })
        });
        if let Some(other) = taken {
            found.push(Collision {
                local: entry.clone(),
                registry: other.to_record(),
                kind: "port",
            });
        }
    }
    found
}

/// nmap's named entries (not `unknown`), labelled `nmap`, from `path` or the machine's
/// table; `None` when there is none.
pub fn read_nmap(path: Option<&Path>) -> Result<Option<Registry>> {
    let path = path.unwrap_or(Path::new(NMAP_SERVICES));
    let bytes = match read_capped(path) {
        Ok(bytes) => bytes,
        Err(_) if path == Path::new(NMAP_SERVICES) && !path.exists() => return Ok(None),
        Err(error) => return Err(error),
    };
    let options = ReadOptions {
        strict: false,
        source_name: path.display().to_string(),
    };
    let mut registry = format::read(&bytes, Format::Nmap, &options)?.registry;
    registry
        .records
        .retain(|r| r.name.as_deref().is_some_and(|n| n != "unknown"));
    for record in &mut registry.records {
        record.source = Source::Nmap;
    }
    Ok(Some(registry))
}

/// nmap's ports with a non-zero open frequency, for `free --avoid-popular`.
pub fn popular_ports(nmap: &Registry) -> Vec<portreg::Popular> {
    nmap.records
        .iter()
        .filter_map(|record| {
            let frequency = record.extra.frequency.as_deref()?.parse::<f64>().ok()?;
            let span = record.ports?;
            let transport = record.transport.clone()?;
            (frequency > 0.0).then(|| portreg::Popular {
                port: span.low,
                transport,
                name: record.name.clone().unwrap_or_default(),
                frequency,
            })
        })
        .collect()
}

/// Reads a registry input, refusing one larger than [`portreg::MAX_REGISTRY_BYTES`]
/// before reading it all (`/dev/zero` included).
pub fn read_capped(path: &Path) -> Result<Vec<u8>> {
    portreg::read_capped(path).with_context(|| format!("cannot read {}", path.display()))
}
