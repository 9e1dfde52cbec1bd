//! `portreg update`: install the newest registry, checked before it replaces anything.

use std::io::{IsTerminal, Read};
use std::time::Duration;

use anyhow::{Context, Result};
use portreg::diff;
use portreg::format::{self, Format, ReadOptions};
use portreg::Registry;
use portreg::{CompiledRegistry, Provenance};
use sha2::{Digest, Sha256};

use portreg_cli::active::Active;
use portreg_cli::cli::UpdateArgs;
use portreg_cli::store::{ServerState, Store};
use portreg_cli::{CommandResult, Exit, Failure};

/// The largest registry download accepted.
const MAX_BYTES: u64 = portreg::MAX_REGISTRY_BYTES;

/// Runs the command.
pub fn run(args: &UpdateArgs) -> CommandResult {
    let store = if args.system {
        Store::system()
    } else {
        Store::locate().ok_or_else(|| {
            Failure::usage("no data directory: set PORTREG_DATA_DIR, XDG_DATA_HOME or HOME")
        })?
    };
    let _lock = store.lock()?;
    if args.rollback {
        store.rollback()?;
        let active = Active::in_store(&store);
        let registry = active.registry();
        println!(
            "portreg: back to the registry of {} ({} records), {}",
            date(registry),
            registry.len(),
            active.origin
        );
        return Ok(Exit::Success);
    }
    let in_use = Active::in_store(&store);
    let fetched = match &args.file {
        Some(path) => {
            let bytes = portreg_cli::active::read_capped(path)?;
            let name = path.display().to_string();
            Fetched {
                bytes,
                state: ServerState {
                    source: Some(name.clone()),
                    ..ServerState::default()
                },
                name,
            }
        }
        None => match download(&args.url, &store.state(), args.timeout, true) {
            Ok(Some(fetched)) => fetched,
            Ok(None) => {
                println!(
                    "portreg: already current: {} has not changed since the last update",
                    args.url
                );
                return Ok(Exit::NotFound);
            }
            Err(error) if args.check => {
                return Err(Failure::usage(format!(
                    "cannot check for a new registry: {error:#}"
                )))
            }
            Err(error) => return Err(refuse(error)),
        },
    };
    let checked = read_fetched(&fetched).and_then(|registry| {
        portreg::check_replacement(&registry, in_use.registry(), args.allow_older)
            .map_err(|refusal| format!("{}: {refusal}", fetched.name))?;
        Ok(registry)
    });
    let mut registry = match checked {
        Ok(registry) => registry,
        Err(reason) => return Err(refuse(reason)),
    };
    // The aliases the built-in registry takes from netbase (`www` for `http`, `postgres`
    // for `postgresql`) are a layer over IANA's records: they go on with any registry
    // installed in its place, so that an update never takes away a name IANA did not.
    let aliases = registry.add_aliases_from(CompiledRegistry::embedded());
    let sha256 = format!("{:x}", Sha256::digest(&fetched.bytes));
    let current = in_use.registry();
    if current.provenance().sha256 == sha256 {
        println!(
            "portreg: already current: the registry in use is this one ({})",
            date(current)
        );
        return Ok(Exit::NotFound);
    }
    let new_date = registry
        .meta
        .updated
        .as_ref()
        .map_or("an unknown date".to_owned(), ToString::to_string);
    if args.check {
        println!(
            "portreg: a different registry is available: {new_date}, {} records (in use: {}, {} records)",
            registry.records.len(),
            date(current),
            current.len()
        );
        return Ok(Exit::Success);
    }
    let provenance = Provenance {
        source: fetched.name.clone(),
        version: format!("updated {new_date}"),
        sha256,
    };
    let compiled = CompiledRegistry::compile(&registry, &provenance);
    store.install(&compiled.to_bytes(), &fetched.state)?;
    let changes = diff(&current.to_registry().records, &registry.records);
    println!(
        "portreg: installed the registry of {new_date} ({} records) from {} into {}",
        registry.records.len(),
        fetched.name,
        store.dir().display()
    );
    if aliases > 0 {
        println!(
            "  with {aliases} alias(es) of the built-in registry's alias layer ({})",
            portreg_data::alias_source()
        );
    }
    println!(
        "  since the registry in use before ({}, {}): {} added, {} removed, {} changed",
        in_use.origin,
        date(current),
        changes.added.len(),
        changes.removed.len(),
        changes.changed.len()
    );
    if args.verbose {
        let line = |sign: &str, r: &portreg::Record| {
            let place = r.ports_text().unwrap_or_else(|| "-".into());
            let transport = r
                .transport
                .as_ref()
                .map_or(String::new(), |t| format!("/{t}"));
            println!(
                "  {sign} {} {place}{transport}",
                r.name.as_deref().unwrap_or("-")
            );
        };
        changes.added.iter().for_each(|r| line("+", r));
        changes.removed.iter().for_each(|r| line("-", r));
        for change in &changes.changed {
            line("~", &change.new);
        }
    }
    let system = if args.system { " --system" } else { "" };
    println!("  `portreg update{system} --rollback` goes back to it");
    Ok(Exit::Success)
}

/// A downloaded or read registry file.
pub(crate) struct Fetched {
    pub(crate) bytes: Vec<u8>,
    pub(crate) state: ServerState,
    pub(crate) name: String,
}

fn refuse(reason: impl std::fmt::Display) -> Failure {
    Failure::usage(format!(
        "update refused: {reason:#}; the registry in use is unchanged"
    ))
}

fn date(registry: &CompiledRegistry) -> String {
    registry
        .updated()
        .map_or("an unknown date".to_owned(), |d| d.to_string())
}

/// Downloads `url`, conditionally when the last update came from it; `None` when the
/// server says it has not changed. A progress bar on a terminal when `progress`.
pub(crate) fn download(
    url: &str,
    last: &ServerState,
    timeout: u64,
    progress: bool,
) -> Result<Option<Fetched>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(timeout)))
        .http_status_as_error(false)
        .user_agent(concat!("portreg/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut request = agent.get(url);
    if last.source.as_deref() == Some(url) {
        if let Some(etag) = &last.etag {
            request = request.header("If-None-Match", etag);
        }
        if let Some(modified) = &last.last_modified {
            request = request.header("If-Modified-Since", modified);
        }
    }
    let mut response = request
        .call()
        .with_context(|| format!("cannot download {url}"))?;
    let status = response.status().as_u16();
    if status == 304 {
        return Ok(None);
    }
    if status != 200 {
        anyhow::bail!("{url} answered HTTP {status}");
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let state = ServerState {
        source: Some(url.to_owned()),
        etag: header("etag"),
        last_modified: header("last-modified"),
        stamp: None,
    };
    let length = header("content-length").and_then(|l| l.parse::<u64>().ok());
    let progress = if progress && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(length.unwrap_or(0))
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut bytes = Vec::with_capacity(length.unwrap_or(0).min(MAX_BYTES) as usize);
    let reader = response.body_mut().with_config().limit(MAX_BYTES).reader();
    progress
        .wrap_read(reader)
        .read_to_end(&mut bytes)
        .with_context(|| format!("download of {url} broke off"))?;
    progress.finish_and_clear();
    if length.is_some_and(|l| l != bytes.len() as u64) {
        anyhow::bail!(
            "download of {url} is incomplete: {} of {} bytes",
            bytes.len(),
            length.unwrap_or(0)
        );
    }
    Ok(Some(Fetched {
        bytes,
        state,
        name: url.to_owned(),
    }))
}

/// Reads a fetched registry strictly: any registry format, or the compiled form (as a
/// portreg server publishes it at `/v1/registry.bin`), its checksum verified.
pub(crate) fn read_fetched(fetched: &Fetched) -> Result<Registry, String> {
    let name = &fetched.name;
    if CompiledRegistry::looks_compiled(&fetched.bytes) {
        return CompiledRegistry::from_bytes(&fetched.bytes)
            .map(|compiled| compiled.to_registry())
            .map_err(|error| format!("{name}: a damaged compiled registry: {error}"));
    }
    let format =
        Format::detect(&fetched.bytes).ok_or_else(|| format!("{name} is not a registry file"))?;
    let options = ReadOptions {
        strict: true,
        source_name: name.clone(),
    };
    Ok(format::read(&fetched.bytes, format, &options)
        .map_err(|e| format!("{name} does not read: {e}"))?
        .registry)
}
