//! `portreg serve`: the HTTP API and the web page.

use std::sync::Arc;

use anyhow::Context;
use portreg_server::AppState;
use tracing_subscriber::EnvFilter;

use portreg_cli::active::Active;
use portreg_cli::cli::{Common, ServeArgs};
use portreg_cli::{CommandResult, Exit};

/// Runs the command.
pub fn run(args: &ServeArgs, common: &Common) -> CommandResult {
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
    let (registry, origin) = Active::load(common.registry.as_deref())?.into_shared();
    let state = Arc::new(AppState::new(registry, origin));
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        tracing::info!(%address, registry = %state.origin, records = state.registry().len(), "serving http://{address}/");
        portreg_server::serve(listener, state, portreg_server::shutdown_signal()).await.context("server failed")
    })?;
    Ok(Exit::Success)
}
