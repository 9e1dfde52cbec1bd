//! The registry's history over HTTP: `GET /v1/history/{query}` (a record's timeline, as
//! `portreg history` gives it) and `?as_of=DATE` on the read routes (the registry as
//! published then). Both read the history built into portreg, whatever registry the
//! server serves.

use std::ops::Deref;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::Json;
use portreg::history::{History, Snapshot};
use portreg::{CompiledRegistry, Query as Lookup, RegistryDate};
use serde::Deserialize;
use serde_json::json;

use crate::problem::Problem;

/// The header that names the snapshot an `as_of` answer comes from.
pub const AS_OF_HEADER: &str = "x-portreg-as-of";
/// The widest port span one history query covers: 8 ports cost about 4 ms of CPU the first
/// time (`bench/anonymous.sh`), the whole range seconds.
pub const MAX_HISTORY_PORTS: u32 = 8;
/// Snapshots kept compiled for `as_of` (each about the registry's size).
const KEPT: usize = 4;

/// `?as_of=DATE`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AsOfParams {
    /// The registry as published on this date (the latest snapshot of the history on or
    /// before it, named in the `X-Portreg-As-Of` header).
    #[param(
        pattern = "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])(-(0[1-9]|1[0-9]|2[0-8]))?$",
        example = "2016-06-01"
    )]
    pub as_of: Option<String>,
}

/// `?transport=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// Only these transports, comma-separated.
    #[param(
        pattern = "^(tcp|udp|sctp|dccp)(,(tcp|udp|sctp|dccp))*$",
        example = "tcp"
    )]
    pub transport: Option<String>,
}

/// The built-in history, read the first time it is asked.
pub fn history() -> Result<&'static History, Problem> {
    static HISTORY: OnceLock<Option<History>> = OnceLock::new();
    HISTORY
        .get_or_init(|| History::from_bytes(portreg_history::bytes()).ok())
        .as_ref()
        .ok_or_else(|| {
            Problem::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "the built-in history cannot be read",
            )
        })
}

/// The registry a read route answers from: the one served, or a snapshot of the history.
pub enum Served<'a> {
    /// The registry served.
    Current(&'a CompiledRegistry),
    /// The registry as a snapshot published it.
    AsOf(Arc<CompiledRegistry>, &'static Snapshot),
}

impl Deref for Served<'_> {
    type Target = CompiledRegistry;

    fn deref(&self) -> &CompiledRegistry {
        match self {
            Served::Current(registry) => registry,
            Served::AsOf(registry, _) => registry,
        }
    }
}

impl Served<'_> {
    /// The registry `as_of` asks for, else `current`. Reading the history and compiling a
    /// snapshot not kept are CPU work: done off the async runtime, one snapshot at a time,
    /// so that requests for many dates wait on each other, not on the server's other work.
    pub async fn pick<'a>(
        current: &'a CompiledRegistry,
        as_of: Option<&str>,
    ) -> Result<Served<'a>, Problem> {
        let Some(text) = as_of else {
            return Ok(Served::Current(current));
        };
        let date: RegistryDate = text.parse().map_err(|_| {
            Problem::bad_request(format!("as_of {text:?}: expected a date, YYYY-MM-DD"))
        })?;
        static COMPILING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);
        static COMPILED: Mutex<Vec<(usize, Arc<CompiledRegistry>)>> = Mutex::new(Vec::new());
        let kept = |at: usize| {
            let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
            let index = compiled.iter().position(|(kept, _)| *kept == at)?;
            let entry = compiled.remove(index);
            let registry = Arc::clone(&entry.1);
            compiled.push(entry);
            Some(registry)
        };
        let worker_failed = |_| {
            Problem::new(
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "the history's worker failed",
            )
        };
        let history = tokio::task::spawn_blocking(history)
            .await
            .map_err(worker_failed)??;
        let at = history
            .snapshot_on(&date)
            .map_err(|before| Problem::not_found(before.to_string()))?;
        if let Some(registry) = kept(at) {
            return Ok(Served::AsOf(registry, &history.snapshots[at]));
        }
        let _turn = COMPILING.acquire().await.map_err(|_| {
            Problem::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "the history is not served",
            )
        })?;
        let registry = match kept(at) {
            Some(registry) => registry,
            None => {
                let registry =
                    tokio::task::spawn_blocking(move || Arc::new(history.compiled_at(at)))
                        .await
                        .map_err(worker_failed)?;
                let mut compiled = COMPILED.lock().unwrap_or_else(PoisonError::into_inner);
                if compiled.len() == KEPT {
                    compiled.remove(0);
                }
                compiled.push((at, Arc::clone(&registry)));
                registry
            }
        };
        Ok(Served::AsOf(registry, &history.snapshots[at]))
    }

    /// `response`, with the snapshot it answers from named where it is one.
    pub fn named(&self, mut response: Response) -> Response {
        if let Served::AsOf(_, snapshot) = self {
            let text = format!("{} ({})", snapshot.date, snapshot.source);
            if let Ok(value) = HeaderValue::from_str(&text) {
                response.headers_mut().insert(AS_OF_HEADER, value);
            }
        }
        response
    }
}

/// A record's timeline across the snapshots of the history, as `portreg history` gives
/// it. (The authority's own events are at `/v1/history?subject=`.)
#[utoipa::path(get, path = "/v1/history/{query}", params(("query" = String, Path, description = "A port (`465`), a range (`6000-6063`) or a name (`nicname`)", example = "465"), HistoryParams),
    responses((status = 200, description = "Every record the query names across the snapshots held: its versions (the first and last snapshot that published each) and its events (added, changed with old and new values, removed), each dated by the snapshots around it", body = crate::schema::HistoryBody), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json"), (status = 422, description = "A span of more than 8 ports", body = Problem, content_type = "application/problem+json")))]
pub async fn timeline(
    query: Result<Path<String>, PathRejection>,
    params: Result<Query<HistoryParams>, QueryRejection>,
) -> Result<Response, Problem> {
    let text = crate::api::path(query)?;
    let params = crate::api::params(params)?;
    let transports = crate::api::transports(params.transport.as_deref())?;
    let lookup: Lookup = match text.parse() {
        Ok(lookup) => lookup,
        Err(error @ portreg::QueryError::Port(_)) => {
            return Err(Problem::bad_request(error.to_string()))
        }
        Err(_) => {
            return Err(Problem::not_found(format!(
                "no record for {text} in the history"
            )))
        }
    };
    if let Lookup::Ports { span, .. } = &lookup {
        let ports = u32::from(span.high) - u32::from(span.low) + 1;
        if ports > MAX_HISTORY_PORTS {
            return Err(Problem::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!(
                    "{text} spans {ports} ports: a history query covers at most {MAX_HISTORY_PORTS} ports or one name"
                ),
            ));
        }
    }
    // Off the async runtime: reading the history and a record's versions is CPU work.
    let answer = tokio::task::spawn_blocking(move || {
        let history = history()?;
        let entries = history.entries_for(&lookup, &transports);
        if entries.is_empty() {
            return Err(Problem::not_found(format!(
                "no record for {text} in the history"
            )));
        }
        let records: Vec<serde_json::Value> =
            entries.iter().map(|e| history.entry_json(e)).collect();
        Ok(json!({"snapshots": history.summary_json(), "records": records}))
    })
    .await
    .map_err(|_| {
        Problem::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "the history's worker failed",
        )
    })??;
    Ok(Json(answer).into_response())
}
