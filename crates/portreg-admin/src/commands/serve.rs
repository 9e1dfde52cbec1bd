//! `portreg serve`: the HTTP API and the web page; with `--authority`, the assignment
//! authority over HTTP; with `--follow`, a read-only replica of another registry.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use portreg_authority::log::{Cosigner, CosignerKey};
use portreg_server::authority::{AuthorityService, RateLimit};
use portreg_server::metrics::FollowStatus;
use portreg_server::{AppState, Snapshot};
use tracing_subscriber::EnvFilter;

use portreg_cli::active::Active;
use portreg_cli::cli::{Common, ServeArgs};
use portreg_cli::store::Store;
use portreg_cli::{CommandResult, Exit, Failure};

use super::cosign::Asked;
use super::follow::{follow, read_given_key, ReplicaWitness, Witness};

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
    super::authority::set_address_rules(&args.address_rules)?;
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
    let mut asked = Vec::new();
    if let Some(url) = &args.follow {
        let url = registry_url(url);
        let given = match &args.authority_key {
            Some(path) => Some(read_given_key(path)?),
            None => None,
        };
        let required = args
            .witnesses
            .iter()
            .map(|key| CosignerKey::from_verifier_key(key))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::usage(format!("--witness: {e}")))?;
        let shared = Arc::new(std::sync::Mutex::new(Witness::load(
            &url,
            given,
            args.max_age,
            required,
        )?));
        if let Some(path) = &args.cosign_key {
            let key = portreg_authority::log::load_or_create_key(path)
                .map_err(|e| Failure::usage(format!("--cosign-key: {e}")))?;
            let name = format!(
                "portreg-witness/{}",
                &portreg_authority::log::default_origin(&key.verifying_key())["portreg/".len()..]
            );
            let cosigner = Cosigner { name, key };
            tracing::info!(key = %cosigner.public().verifier_key(), "witnessing the followed log");
            state.witness = Some(Arc::new(ReplicaWitness {
                witness: shared.clone(),
                cosigner,
                source: url.clone(),
            }));
        }
        witness = Some(shared);
        state.follower = Some(FollowStatus::new(url, Duration::from_secs(args.interval)));
    } else if state.authority.is_some() {
        asked = args
            .witnesses
            .iter()
            .map(|text| Asked::parse(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::usage)?;
    } else if !args.witnesses.is_empty() {
        return Err(Failure::usage(
            "--witness names the witnesses of a log: give it with --follow (cosignatures required) or --authority (witnesses asked)",
        ));
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
            if !asked.is_empty() {
                tokio::spawn(super::cosign::collect(state.clone(), asked));
            }
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
