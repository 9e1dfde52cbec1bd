//! `portreg serve`: the HTTP API and the web page; with `--authority`, the assignment
//! authority over HTTP; with `--follow`, a read-only replica of another registry.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use portreg::{CompiledRegistry, Provenance};
use portreg_server::authority::{AuthorityService, RateLimit};
use portreg_server::metrics::FollowStatus;
use portreg_server::{AppState, Snapshot};
use sha2::{Digest, Sha256};
use tracing_subscriber::EnvFilter;

use portreg_authority::log::{Checkpoint, LogKey};
use portreg_cli::active::Active;
use portreg_cli::cli::{Common, ServeArgs};
use portreg_cli::store::{ServerState, Store};
use portreg_cli::{CommandResult, Exit, Failure};

use super::update::{download, read_fetched, Fetched};

/// How long one fetch of a followed registry may take.
const FETCH_TIMEOUT: u64 = 30;

/// Runs the command.
pub fn run(args: &ServeArgs, common: &Common) -> CommandResult {
    // A socket passed by systemd (socket activation, `LISTEN_FDS`) is served instead of
    // binding `--listen`: systemd may own a privileged port for an unprivileged server.
    // Taken first, while this is the process's only thread (the variables are removed).
    let passed = listenfd::ListenFd::from_env()
        .take_tcp_listener(0)
        .context("the socket passed in LISTEN_FDS is not a TCP listener")?;
    if args.follow.is_some() && args.authority.is_some() {
        return Err(Failure::usage(
            "--follow and --authority do not combine: a follower serves another server's registry read-only; run the authority on the server it follows",
        ));
    }
    if !(args.rate_limit > 0.0 && args.rate_limit.is_finite()) {
        return Err(Failure::usage("--rate-limit must be a positive number"));
    }
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: a log file gets no escape codes. Lines are written by a
    // thread of their own, so that a request never waits on standard error.
    let (writer, _flush_on_exit) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(std::io::stderr());
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(writer);
    if args.log_json {
        subscriber.json().init();
    } else {
        subscriber.init();
    }
    let mut state = match &args.authority {
        Some(db) => {
            let limit = RateLimit {
                per_second: args.rate_limit,
                burst: args.rate_limit * 4.0,
            };
            let mut authority = AuthorityService::open(db, limit, args.signing_key.as_deref())
                .map_err(|e| {
                    let text = e.to_string();
                    Failure::usage(format!("cannot run the authority: {text}"))
                })?;
            if let Some(url) = &args.public_url {
                authority.set_public_url(url);
            }
            let snapshot = authority.snapshot().map_err(|e| {
                Failure::usage(format!("cannot read the authority's registry: {e}"))
            })?;
            let mut state = AppState::from_snapshot(snapshot);
            state.authority = Some(authority);
            state
        }
        None => {
            let (registry, origin) = Active::load(common.registry.as_deref())?.into_shared();
            AppState::new(registry, origin)
        }
    };
    let mut witness = None;
    if let Some(url) = &args.follow {
        let url = registry_url(url);
        let given = match &args.authority_key {
            Some(path) => Some(read_given_key(path)?),
            None => None,
        };
        witness = Some(Witness::load(&url, given, args.max_age)?);
        state.follower = Some(FollowStatus::new(url, Duration::from_secs(args.interval)));
    }
    state.max_connections = args.max_connections as usize;
    let state = Arc::new(state);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = match passed {
            Some(listener) => {
                listener.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(listener)
                    .context("cannot serve the socket passed in LISTEN_FDS")?
            }
            None => tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {}", args.listen))?,
        };
        let address = listener.local_addr()?;
        let snapshot = state.snapshot();
        tracing::info!(%address, registry = %snapshot.origin, records = snapshot.registry().len(), "serving http://{address}/");
        if let Some(witness) = witness {
            tokio::spawn(follow(state.clone(), witness));
        } else if state.authority.is_some() {
            tokio::spawn(portreg_server::authority::watch(state.clone()));
        } else {
            tokio::spawn(reload(state.clone(), common.registry.clone()));
        }
        portreg_server::serve(listener, state, portreg_server::shutdown_signal()).await.context("server failed")
    })?;
    Ok(Exit::Success)
}

/// How often the registry's file is looked at for a change.
const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// Serves the registry again from its file when it changes (`portreg update` installs a
/// new one, or `--registry FILE` is rewritten), checked every [`RELOAD_CHECK`], and on
/// SIGHUP (`systemctl reload portreg`). Requests under way finish on the registry they
/// started with; one that cannot be read leaves the last one serving.
async fn reload(state: Arc<AppState>, file: Option<std::path::PathBuf>) {
    let watched = file
        .clone()
        .or_else(|| Store::locate().map(|store| store.current_path()));
    let stamp = |path: &Option<std::path::PathBuf>| {
        let file = std::fs::File::open(path.as_ref()?).ok()?;
        portreg::file_stamp(&file)
    };
    let mut seen = stamp(&watched);
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut ticks = tokio::time::interval(RELOAD_CHECK);
    loop {
        let asked = tokio::select! {
            Some(()) = async {
                match hangup.as_mut() {
                    Some(signal) => signal.recv().await,
                    None => std::future::pending().await,
                }
            } => true,
            _ = ticks.tick() => false,
        };
        let now = stamp(&watched);
        if !asked && now == seen {
            continue;
        }
        seen = now;
        let from = file.clone();
        match tokio::task::spawn_blocking(move || Active::load(from.as_deref())).await {
            Ok(Ok(active)) => {
                let (registry, origin) = active.into_shared();
                let records = registry.len();
                tracing::info!(registry = %origin, records, signal = asked, "serving the registry loaded again");
                state.swap(Snapshot::new(registry, origin));
            }
            Ok(Err(failure)) => {
                tracing::warn!(error = %failure, "the registry could not be loaded again; the one loaded before goes on serving");
            }
            Err(error) => tracing::warn!(%error, "the registry could not be loaded again"),
        }
    }
}

/// The URL of a followed server's registry: a portreg server's base URL
/// (`http://host:port`, with or without `/`) means its `/v1/registry.bin`.
fn registry_url(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.find('/') {
        None => format!("{url}/v1/registry.bin"),
        Some(slash) if rest[slash..] == *"/" => format!("{url}v1/registry.bin"),
        Some(_) => url.to_owned(),
    }
}

/// The key `--authority-key` names: a file holding a verifier key or a public key's hex,
/// or the text itself.
enum GivenKey {
    /// A verifier key: the log's origin and key.
    Log(LogKey),
    /// A public key, hex: the origin is the source's.
    Hex(String),
}

fn read_given_key(path: &std::path::Path) -> Result<GivenKey, Failure> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| path.display().to_string());
    let text = text.trim();
    if text.contains('+') {
        return LogKey::from_verifier_key(text)
            .map(GivenKey::Log)
            .map_err(|e| Failure::usage(format!("--authority-key {}: {e}", path.display())));
    }
    portreg_authority::log::verifying_key(text)
        .map(|_| GivenKey::Hex(text.to_ascii_lowercase()))
        .map_err(|e| Failure::usage(format!("--authority-key {}: {e}", path.display())))
}

/// What a follower witnessed of its source's log: the key its checkpoints are signed
/// with and the checkpoints it accepted. They are kept in portreg's data directory by the
/// log (its origin and key), not by the URL it was reached at, so that another spelling
/// of the same server, or a restart, remembers them.
struct Witness {
    /// The key given, or pinned on the first fetch.
    key: Option<LogKey>,
    /// A public key given without its origin.
    given_hex: Option<String>,
    /// Checkpoints accepted (signed notes), oldest first (the last few hundred).
    accepted: Vec<String>,
    /// The oldest a checkpoint may be.
    max_age: Option<u64>,
}

/// Checkpoints a follower keeps.
const KEPT: usize = 500;

/// The folder of what followers witnessed.
fn witness_dir() -> Option<std::path::PathBuf> {
    Store::locate().map(|store| store.dir().join("follow"))
}

fn short_digest(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))[..16].to_owned()
}

impl Witness {
    /// A witness of `source`; the checkpoints kept for the key given (or pinned before
    /// for this source). A file kept that cannot be read stops the replica: it is never
    /// dropped and a key pinned afresh.
    fn load(
        source: &str,
        given: Option<GivenKey>,
        max_age: Option<u64>,
    ) -> Result<Witness, Failure> {
        let mut witness = Witness {
            key: None,
            given_hex: None,
            accepted: Vec::new(),
            max_age,
        };
        match given {
            Some(GivenKey::Log(key)) => witness.pin(key)?,
            Some(GivenKey::Hex(hex)) => witness.given_hex = Some(hex),
            None => {
                let pinned =
                    witness_dir().map(|d| d.join(format!("source-{}.json", short_digest(source))));
                if let Some(kept) = read_kept(pinned.as_deref())? {
                    let key = kept["verifier_key"].as_str().map(LogKey::from_verifier_key);
                    match key {
                        Some(Ok(key)) => witness.pin(key)?,
                        _ => return Err(damaged(pinned.as_deref(), "no verifier key")),
                    }
                }
            }
        }
        Ok(witness)
    }

    /// Takes `key` as the log's, with the checkpoints kept for it.
    fn pin(&mut self, key: LogKey) -> Result<(), Failure> {
        let file = self.file_of(&key);
        self.accepted = match read_kept(file.as_deref())? {
            Some(kept) => {
                let notes = kept["checkpoints"]
                    .as_array()
                    .ok_or_else(|| damaged(file.as_deref(), "no checkpoints"))?;
                let mut accepted = Vec::new();
                for note in notes {
                    let note = note
                        .as_str()
                        .ok_or_else(|| damaged(file.as_deref(), "a checkpoint that is no text"))?;
                    Checkpoint::open(note, &key).map_err(|e| damaged(file.as_deref(), &e))?;
                    accepted.push(note.to_owned());
                }
                accepted
            }
            None => Vec::new(),
        };
        self.key = Some(key);
        Ok(())
    }

    fn file_of(&self, key: &LogKey) -> Option<std::path::PathBuf> {
        witness_dir().map(|d| d.join(format!("log-{}.json", short_digest(&key.verifier_key()))))
    }

    fn save(&self, source: &str) {
        let (Some(key), Some(dir)) = (&self.key, witness_dir()) else {
            return;
        };
        let body =
            serde_json::json!({"verifier_key": key.verifier_key(), "checkpoints": self.accepted});
        let pin = serde_json::json!({"source": source, "verifier_key": key.verifier_key()});
        let write = |file: std::path::PathBuf, body: String| -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let temporary = file.with_extension("json.new");
            std::fs::write(&temporary, body)?;
            std::fs::rename(&temporary, file)
        };
        let written = self
            .file_of(key)
            .map_or(Ok(()), |file| write(file, body.to_string()))
            .and_then(|()| {
                write(
                    dir.join(format!("source-{}.json", short_digest(source))),
                    pin.to_string(),
                )
            });
        if let Err(error) = written {
            tracing::warn!(dir = %dir.display(), %error, "the checkpoints seen could not be kept");
        }
    }

    /// The key to check `base`'s checkpoints with: given, pinned, or (the first time,
    /// without `--authority-key`) the one the source names, pinned now. `None` for a
    /// source that names none while no key is given or pinned: a server of a plain
    /// registry file, followed as it is.
    fn key_for(&mut self, base: &str) -> Result<Option<LogKey>, FetchError> {
        if let Some(key) = &self.key {
            return Ok(Some(key.clone()));
        }
        let named = match super::log::fetch_key(base) {
            Ok(named) => named,
            Err(_) if self.given_hex.is_none() => return Ok(None),
            Err(error) => return Err(FetchError::Failed(error)),
        };
        if let Some(hex) = &self.given_hex {
            if named.hex() != *hex {
                return Err(FetchError::Refused(format!(
                    "the source signs with key {}, not the authority's key {hex}",
                    named.hex()
                )));
            }
        } else {
            tracing::info!(source = base, key = %named.verifier_key(), "pinned the authority's key on the first fetch (give --authority-key to pin it beforehand)");
        }
        self.pin(named.clone())
            .map_err(|e| FetchError::Fatal(format!("{:#}", e.error)))?;
        Ok(Some(named))
    }

    /// Checks `base`'s checkpoint: signed by the log's key, extending the last one
    /// accepted (a consistency proof from the source), not older than `--max-age`.
    fn check(&mut self, base: &str) -> Result<Option<(Checkpoint, String)>, FetchError> {
        let Some(key) = self.key_for(base)? else {
            return Ok(None);
        };
        let (checkpoint, note) = super::log::fetch_checkpoint(base, &key)
            .map_err(|e| {
                if e.contains("HTTP 503") {
                    FetchError::Refused(e)
                } else {
                    FetchError::Failed(e)
                }
            })?
            .ok_or_else(|| {
                FetchError::Refused(format!(
                    "{base} keeps no log, but the authority's key {} is pinned",
                    key.verifier_key()
                ))
            })?;
        if let Some(last) = self
            .accepted
            .last()
            .and_then(|n| Checkpoint::open(n, &key).ok())
        {
            super::log::check_extends(base, &last, &checkpoint).map_err(FetchError::Refused)?;
        }
        if let Some(max_age) = self.max_age {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let age = now.saturating_sub(checkpoint.time.unwrap_or(0));
            if age > max_age {
                return Err(FetchError::Refused(format!(
                    "stale: the source's checkpoint is {age} s old, older than --max-age {max_age}"
                )));
            }
        }
        Ok(Some((checkpoint, note)))
    }

    fn accept(&mut self, source: &str, note: String) {
        if self.accepted.last() == Some(&note) {
            return;
        }
        self.accepted.push(note);
        if self.accepted.len() > KEPT {
            self.accepted.drain(..self.accepted.len() - KEPT);
        }
        self.save(source);
    }
}

fn read_kept(file: Option<&std::path::Path>) -> Result<Option<serde_json::Value>, Failure> {
    let Some(file) = file else { return Ok(None) };
    match std::fs::read_to_string(file) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| damaged(Some(file), &e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(damaged(Some(file), &e.to_string())),
    }
}

fn damaged(file: Option<&std::path::Path>, why: &str) -> Failure {
    Failure::usage(format!(
        "{}: the checkpoints this replica witnessed cannot be read ({why}); it will not forget them silently: mend the file, or remove it to trust the source afresh",
        file.map_or("?".into(), |f| f.display().to_string())
    ))
}

/// Why a fetch did not give a registry to serve.
enum FetchError {
    /// The source could not be fetched, or what it sent is no registry `update` takes.
    Failed(String),
    /// Its log does not extend the one accepted before, is not the authority's, is
    /// stale, or does not commit to the registry sent.
    Refused(String),
    /// What the replica witnessed cannot be read: it stops.
    Fatal(String),
}

/// Fetches the followed registry every interval, conditionally, and swaps in what
/// passes `update`'s checks and, for an authority's registry, the log's; on any failure
/// the last good registry goes on serving.
async fn follow(state: Arc<AppState>, witness: Witness) {
    let Some(status) = state.follower.as_ref() else {
        return;
    };
    let url = status.source.clone();
    let mut last = ServerState {
        source: Some(url.clone()),
        ..ServerState::default()
    };
    // Every registry fetched passes `update`'s checks against the one served. The first
    // may be older than the registry the replica started with (that one is no earlier
    // version of the source); from then on, none may go back in time.
    let mut taken_one = false;
    let witness = Arc::new(std::sync::Mutex::new(witness));
    // A fetch every interval, whatever one takes (a slow one delays the next).
    let mut ticks = tokio::time::interval(status.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let current = state.snapshot();
        let fetch_url = url.clone();
        let since = last.clone();
        let strict = taken_one;
        let seen = Arc::clone(&witness);
        let fetched = tokio::task::spawn_blocking(move || {
            let mut seen = seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            fetch(&fetch_url, &since, current.registry(), strict, &mut seen)
        })
        .await
        .unwrap_or_else(|error| {
            Err(FetchError::Failed(format!(
                "the fetch's worker failed: {error}"
            )))
        });
        match fetched {
            Ok(None) => status.succeeded(false),
            Ok(Some((snapshot, server_state))) => {
                tracing::info!(source = %url, records = snapshot.registry().len(), "a new registry swapped in");
                state.swap(snapshot);
                last = server_state;
                taken_one = true;
                status.succeeded(true);
            }
            Err(FetchError::Refused(reason)) => {
                tracing::error!(source = %url, %reason, "the followed log was refused; the last good registry goes on serving");
                // Asked again from the start, not "not modified": the source may mend.
                last = ServerState {
                    source: Some(url.clone()),
                    ..ServerState::default()
                };
                status.refused(reason);
            }
            Err(FetchError::Failed(error)) => {
                tracing::warn!(source = %url, %error, "fetch failed; the last good registry goes on serving");
                status.failed(error);
            }
            Err(FetchError::Fatal(error)) => {
                tracing::error!(source = %url, %error, "the replica stops");
                eprintln!("portreg: {error}");
                std::process::exit(2);
            }
        }
    }
}

/// A registry fetched and its server's validators.
type Taken = (Snapshot, ServerState);

/// One fetch: the source's checkpoint (when it keeps a log), then, when the registry it
/// commits to is not the one served, the registry, conditionally. `None` when nothing
/// changed, else the new snapshot and the server's validators.
fn fetch(
    url: &str,
    last: &ServerState,
    current: &CompiledRegistry,
    strict: bool,
    witness: &mut Witness,
) -> Result<Option<Taken>, FetchError> {
    let base = super::log::server_base(url);
    let signed = if url.ends_with("/v1/registry.bin") {
        witness.check(&base)?
    } else {
        None
    };
    if let Some((checkpoint, note)) = &signed {
        let Some(committed) = checkpoint.registry else {
            return Err(FetchError::Refused(
                "the source's checkpoint commits to no registry".into(),
            ));
        };
        if hex::encode(committed) == current.provenance().sha256 {
            witness.accept(url, note.clone());
            return Ok(None);
        }
    }
    // A registry the checkpoint does not commit to is asked for whole, not "not modified".
    let since = if signed.is_some() {
        ServerState {
            source: last.source.clone(),
            ..ServerState::default()
        }
    } else {
        last.clone()
    };
    let fetched: Fetched = match download(url, &since, FETCH_TIMEOUT, false) {
        Ok(Some(fetched)) => fetched,
        Ok(None) => return Ok(None),
        Err(error) => return Err(FetchError::Failed(format!("{error:#}"))),
    };
    let digest: [u8; 32] = Sha256::digest(&fetched.bytes).into();
    let sha256 = hex::encode(digest);
    match &signed {
        Some((checkpoint, _)) if checkpoint.registry != Some(digest) => {
            // The registry may have changed between the two answers: asked once more.
            let again = witness.check(&base)?;
            if again.as_ref().and_then(|(c, _)| c.registry) != Some(digest) {
                return Err(FetchError::Refused(format!(
                    "the registry served (sha256 {sha256}) is not the one the authority's checkpoint signs (sha256 {}): it was changed on the way or at the source",
                    checkpoint.registry.map(hex::encode).unwrap_or_default()
                )));
            }
        }
        None if witness.key.is_some() && !url.ends_with("/v1/registry.bin") => {
            return Err(FetchError::Refused(
                "the source keeps no log, but the authority's key is pinned".into(),
            ));
        }
        _ => {}
    }
    if sha256 == current.provenance().sha256 {
        return Ok(None);
    }
    let registry = read_fetched(&fetched).map_err(FetchError::Failed)?;
    portreg::check_replacement(&registry, current, !strict).map_err(|refusal| {
        FetchError::Failed(format!(
            "{url}: refused as `portreg update` refuses it: {refusal}"
        ))
    })?;
    let provenance = Provenance {
        source: url.to_owned(),
        version: registry
            .meta
            .updated
            .as_ref()
            .map_or("undated".to_owned(), |d| format!("fetched {d}")),
        sha256,
    };
    let compiled = CompiledRegistry::compile(&registry, &provenance);
    let snapshot = Snapshot::new(Box::new(Box::new(compiled)), format!("follows {url}"));
    if let Some((_, note)) = signed {
        witness.accept(url, note);
    }
    Ok(Some((snapshot, fetched.state)))
}

#[cfg(test)]
mod tests {
    use super::registry_url;

    #[test]
    fn a_servers_base_url_means_its_compiled_registry() {
        for base in ["http://h:7070", "http://h:7070/"] {
            assert_eq!(registry_url(base), "http://h:7070/v1/registry.bin");
        }
        for full in [
            "http://h:7070/v1/registry.bin",
            "https://www.iana.org/assignments/service-names-port-numbers/service-names-port-numbers.xml",
        ] {
            assert_eq!(registry_url(full), full);
        }
    }
}
