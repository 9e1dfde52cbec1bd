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

use portreg_authority::log::SignedHead;
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
        let pinned = match &args.authority_key {
            Some(path) => Some(read_public_key(path)?),
            None => None,
        };
        witness = Some(Witness::load(&url, pinned));
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
        } else if state.authority.is_none() {
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

/// A public key from `--authority-key`: a file holding its hex, or the hex itself.
fn read_public_key(path: &std::path::Path) -> Result<String, Failure> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| path.display().to_string());
    portreg_authority::log::verifying_key(&text)
        .map(|_| text.trim().to_ascii_lowercase())
        .map_err(|e| Failure::usage(format!("--authority-key {}: {e}", path.display())))
}

/// What a follower witnessed of its source's log: the key its heads are signed with and
/// the heads it accepted, kept in portreg's data directory so that a restart remembers
/// them.
#[derive(Clone, Debug, Default)]
struct Witness {
    /// The authority's public key: given, or pinned on the first signed head.
    key: Option<String>,
    /// Heads accepted, oldest first (the last few hundred).
    heads: Vec<SignedHead>,
    /// Where they are kept.
    file: Option<std::path::PathBuf>,
}

/// Heads a follower keeps.
const HEADS_KEPT: usize = 500;

impl Witness {
    fn load(source: &str, given: Option<String>) -> Witness {
        let file = Store::locate().map(|store| {
            let digest = format!("{:x}", Sha256::digest(source.as_bytes()));
            store
                .dir()
                .join("follow")
                .join(format!("{}.json", &digest[..16]))
        });
        let kept: Option<serde_json::Value> = file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|text| serde_json::from_str(&text).ok());
        let mut witness = Witness {
            file,
            ..Witness::default()
        };
        if let Some(kept) = kept {
            witness.key = kept["key"].as_str().map(str::to_owned);
            witness.heads = kept["heads"]
                .as_array()
                .map(|heads| {
                    heads
                        .iter()
                        .filter_map(|h| SignedHead::from_json(h).ok())
                        .collect()
                })
                .unwrap_or_default();
        }
        if let Some(given) = given {
            if witness.key.as_ref().is_some_and(|kept| *kept != given) {
                tracing::warn!(source, key = %given, "--authority-key differs from the key pinned before; the given key is used and the heads kept are dropped");
                witness.heads.clear();
            }
            witness.key = Some(given);
        }
        witness
    }

    fn save(&self, source: &str) {
        let Some(file) = &self.file else { return };
        let heads: Vec<serde_json::Value> = self.heads.iter().map(SignedHead::to_json).collect();
        let body = serde_json::json!({"source": source, "key": self.key, "heads": heads});
        let written = file
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| {
                let temporary = file.with_extension("json.new");
                std::fs::write(&temporary, body.to_string())?;
                std::fs::rename(&temporary, file)
            });
        if let Err(error) = written {
            tracing::warn!(file = %file.display(), %error, "the heads seen could not be kept");
        }
    }

    /// Checks the signed head a fetched registry carries: signed by the authority's
    /// key (pinned now if none is), and extending the last head accepted (a consistency
    /// proof from the source). A registry without a signed head is taken only while no
    /// key is pinned (a plain registry file, IANA's).
    fn check(
        &mut self,
        source: &str,
        registry: &portreg::Registry,
    ) -> Result<Option<SignedHead>, String> {
        let head = registry
            .meta
            .audit_head
            .as_deref()
            .and_then(SignedHead::from_audit_head);
        let Some(head) = head else {
            return match &self.key {
                Some(key) => Err(format!(
                    "the registry carries no signed head, but the authority's key {key} is pinned"
                )),
                None => Ok(None),
            };
        };
        head.verify(self.key.as_deref())?;
        if let Some(last) = self.heads.last() {
            super::log::check_extends(source, last, &head)?;
        }
        if self.key.is_none() {
            tracing::info!(source, key = %head.key, "pinned the authority's key on the first signed head fetched (give --authority-key to pin it beforehand)");
            self.key = Some(head.key.clone());
        }
        Ok(Some(head))
    }

    fn accept(&mut self, source: &str, head: SignedHead) {
        self.heads.push(head);
        if self.heads.len() > HEADS_KEPT {
            self.heads.drain(..self.heads.len() - HEADS_KEPT);
        }
        self.save(source);
    }
}

/// Why a fetch did not give a registry to serve.
enum FetchError {
    /// The source could not be fetched, or what it sent is no registry `update` takes.
    Failed(String),
    /// Its log does not extend the one accepted before, or is not the authority's.
    Refused(String),
}

/// Fetches the followed registry every interval, conditionally, and swaps in what
/// passes `update`'s checks and, for an authority's registry, the log's; on any failure
/// the last good registry goes on serving.
async fn follow(state: Arc<AppState>, mut witness: Witness) {
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
    // A fetch every interval, whatever one takes (a slow one delays the next).
    let mut ticks = tokio::time::interval(status.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let current = state.snapshot();
        let fetch_url = url.clone();
        let since = last.clone();
        let strict = taken_one;
        let seen = witness.clone();
        let fetched = tokio::task::spawn_blocking(move || {
            let mut seen = seen;
            let outcome = fetch(&fetch_url, &since, current.registry(), strict, &mut seen);
            (outcome, seen)
        })
        .await
        .unwrap_or_else(|error| {
            let failed = FetchError::Failed(format!("the fetch's worker failed: {error}"));
            (Err(failed), witness.clone())
        });
        match fetched {
            (Ok(None), _) => status.succeeded(false),
            (Ok(Some((snapshot, server_state, head))), mut seen) => {
                tracing::info!(source = %url, records = snapshot.registry().len(), "a new registry swapped in");
                state.swap(snapshot);
                if let Some(head) = head {
                    seen.accept(&url, head);
                }
                witness = seen;
                last = server_state;
                taken_one = true;
                status.succeeded(true);
            }
            (Err(FetchError::Refused(reason)), _) => {
                tracing::error!(source = %url, %reason, "the followed log was refused; the last good registry goes on serving");
                // Asked again from the start, not "not modified": the source may mend.
                last = ServerState {
                    source: Some(url.clone()),
                    ..ServerState::default()
                };
                status.refused(reason);
            }
            (Err(FetchError::Failed(error)), _) => {
                tracing::warn!(source = %url, %error, "fetch failed; the last good registry goes on serving");
                status.failed(error);
            }
        }
    }
}

/// A registry fetched, its server's validators and the signed head it carries.
type Taken = (Snapshot, ServerState, Option<SignedHead>);

/// One conditional fetch: `None` when not modified, else the new snapshot and the
/// server's validators.
fn fetch(
    url: &str,
    last: &ServerState,
    current: &CompiledRegistry,
    strict: bool,
    witness: &mut Witness,
) -> Result<Option<Taken>, FetchError> {
    let fetched: Fetched = match download(url, last, FETCH_TIMEOUT, false) {
        Ok(Some(fetched)) => fetched,
        Ok(None) => return Ok(None),
        Err(error) => return Err(FetchError::Failed(format!("{error:#}"))),
    };
    let sha256 = format!("{:x}", Sha256::digest(&fetched.bytes));
    if sha256 == current.provenance().sha256 {
        return Ok(None);
    }
    let registry = read_fetched(&fetched).map_err(FetchError::Failed)?;
    portreg::check_replacement(&registry, current, !strict).map_err(|refusal| {
        FetchError::Failed(format!(
            "{url}: refused as `portreg update` refuses it: {refusal}"
        ))
    })?;
    let head = witness.check(url, &registry).map_err(FetchError::Refused)?;
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
    Ok(Some((snapshot, fetched.state, head)))
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
