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

use portreg_cli::active::Active;
use portreg_cli::cli::{Common, ServeArgs};
use portreg_cli::store::ServerState;
use portreg_cli::{CommandResult, Exit, Failure};

use super::update::{download, read_fetched, Fetched};

/// How long one fetch of a followed registry may take.
const FETCH_TIMEOUT: u64 = 30;

/// Runs the command.
pub fn run(args: &ServeArgs, common: &Common) -> CommandResult {
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
            let authority = AuthorityService::open(db, limit).map_err(|e| {
                let text = e.to_string();
                Failure::usage(format!("cannot run the authority: {text}"))
            })?;
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
    if let Some(url) = &args.follow {
        state.follower = Some(FollowStatus::new(
            url.clone(),
            Duration::from_secs(args.interval),
        ));
    }
    let state = Arc::new(state);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        let snapshot = state.snapshot();
        tracing::info!(%address, registry = %snapshot.origin, records = snapshot.registry().len(), "serving http://{address}/");
        if state.follower.is_some() {
            tokio::spawn(follow(state.clone()));
        }
        portreg_server::serve(listener, state, portreg_server::shutdown_signal()).await.context("server failed")
    })?;
    Ok(Exit::Success)
}

/// Fetches the followed registry every interval, conditionally, and swaps in what
/// passes `update`'s checks; on any failure the last good registry goes on serving.
async fn follow(state: Arc<AppState>) {
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
        let fetched = tokio::task::spawn_blocking(move || {
            fetch(&fetch_url, &since, current.registry(), strict)
        })
        .await
        .unwrap_or_else(|error| Err(format!("the fetch's worker failed: {error}")));
        match fetched {
            Ok(None) => status.succeeded(false),
            Ok(Some((snapshot, server_state))) => {
                tracing::info!(source = %url, records = snapshot.registry().len(), "a new registry swapped in");
                state.swap(snapshot);
                last = server_state;
                taken_one = true;
                status.succeeded(true);
            }
            Err(error) => {
                tracing::warn!(source = %url, %error, "fetch failed; the last good registry goes on serving");
                status.failed(error);
            }
        }
    }
}

/// One conditional fetch: `None` when not modified, else the new snapshot and the
/// server's validators.
fn fetch(
    url: &str,
    last: &ServerState,
    current: &CompiledRegistry,
    strict: bool,
) -> Result<Option<(Snapshot, ServerState)>, String> {
    let fetched: Fetched = match download(url, last, FETCH_TIMEOUT, false) {
        Ok(Some(fetched)) => fetched,
        Ok(None) => return Ok(None),
        Err(error) => return Err(format!("{error:#}")),
    };
    let sha256 = format!("{:x}", Sha256::digest(&fetched.bytes));
    if sha256 == current.provenance().sha256 {
        return Ok(None);
    }
    let registry = read_fetched(&fetched)?;
    portreg::check_replacement(&registry, current, !strict)
        .map_err(|refusal| format!("{url}: refused as `portreg update` refuses it: {refusal}"))?;
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
    Ok(Some((snapshot, fetched.state)))
}
