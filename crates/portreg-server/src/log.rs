//! The authority's signed log over HTTP: its public key, its signed head, its entries and
//! the proofs that let a follower check that each new head extends the last it accepted
//! (RFC 9162's `get-sth`, `get-entries`, `get-sth-consistency` and `get-proof-by-hash`,
//! in this API's words).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portreg_authority::Role;
use serde::Deserialize;
use serde_json::json;

use crate::authority::{no_store, service};
use crate::problem::Problem;
use crate::AppState;

type Answer = Result<Response, Problem>;

/// A signed tree head.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SignedHeadBody {
    /// Entries in the log.
    size: u64,
    /// The Merkle tree's root (RFC 9162), 64 hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    root: String,
    /// When it was signed, UTC.
    #[schema(example = "2026-12-06T10:00:00Z")]
    time: String,
    /// The authority's Ed25519 public key, 64 hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    key: String,
    /// Ed25519 over `portreg-log-head/1\nSIZE\nROOT\nTIME\n`, 128 hex digits.
    #[schema(pattern = "^[0-9a-f]{128}$")]
    signature: String,
}

/// Entries `start` to `end`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntriesParams {
    /// The first entry, from 1.
    #[param(minimum = 1)]
    pub start: i64,
    /// The last entry; at most 1,000 entries a call.
    #[param(minimum = 1)]
    pub end: i64,
}

/// A consistency proof between two sizes of the log.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConsistencyParams {
    /// The size a follower accepted, from 1.
    #[param(minimum = 1)]
    pub from: i64,
    /// The size it is shown now (at most the log's size).
    #[param(minimum = 1)]
    pub to: i64,
}

/// An entry's inclusion proof.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InclusionParams {
    /// The entry, from 1.
    #[param(minimum = 1)]
    pub entry: i64,
}

fn query<T>(query: Result<Query<T>, QueryRejection>) -> Result<T, Problem> {
    query
        .map(|Query(q)| q)
        .map_err(|e| Problem::bad_request(format!("bad query string: {}", e.body_text())))
}

/// An entry number or a size, from 1 (its schema says so; a JSON integer of the API is at
/// most 2^63 - 1).
fn positive(name: &str, value: i64) -> Result<u64, Problem> {
    u64::try_from(value)
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| Problem::bad_request(format!("{name}: expected a number from 1")))
}

/// The authority's public key, with which its heads are signed.
#[utoipa::path(get, path = "/v1/authority/key",
    responses((status = 200, description = "`{\"algorithm\": \"ed25519\", \"key\": HEX}`", body = Value),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn key(State(state): State<Arc<AppState>>) -> Answer {
    let authority = service(&state)?;
    let key = authority.read(|store| store.public_key()).await?;
    let key = key.ok_or_else(|| Problem::not_found("the authority signs with no key yet"))?;
    Ok(no_store(
        Json(json!({"algorithm": "ed25519", "key": key})).into_response(),
    ))
}

/// The log's signed tree head.
#[utoipa::path(get, path = "/v1/log/head",
    responses((status = 200, description = "The signed head", body = SignedHeadBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn head(State(state): State<Arc<AppState>>) -> Answer {
    let authority = service(&state)?;
    let head = authority.read(|store| store.signed_head()).await?;
    let head = head.ok_or_else(|| Problem::not_found("the authority signs with no key yet"))?;
    Ok(no_store(Json(head.to_json()).into_response()))
}

/// Entries of the log, oldest first. The public sees the registry's changes and, of
/// every other entry, its id, time and hash; an expert's token shows every entry whole,
/// with the rows its change wrote.
#[utoipa::path(get, path = "/v1/log/entries", params(EntriesParams),
    responses((status = 200, description = "Entries", body = [Value]),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A range outside the rules", body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn entries(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    params: Result<Query<EntriesParams>, QueryRejection>,
) -> Answer {
    let authority = service(&state)?;
    let params = query(params)?;
    let (start, end) = (
        positive("start", params.start)?,
        positive("end", params.end)?,
    );
    let whole = authority
        .optional_caller(&parts)
        .await?
        .is_some_and(|identity| identity.role >= Role::Expert);
    let entries = authority
        .read(move |store| store.entries(start, end, whole))
        .await?;
    Ok(no_store(Json(entries).into_response()))
}

/// The consistency proof that the log of `to` entries extends the one of `from`.
#[utoipa::path(get, path = "/v1/log/proof/consistency", params(ConsistencyParams),
    responses((status = 200, description = "`{\"from\", \"to\", \"proof\": [HEX]}`", body = Value),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Sizes outside the log", body = Problem, content_type = "application/problem+json")))]
pub async fn consistency(
    State(state): State<Arc<AppState>>,
    params: Result<Query<ConsistencyParams>, QueryRejection>,
) -> Answer {
    let authority = service(&state)?;
    let ConsistencyParams { from, to } = query(params)?;
    let (from, to) = (positive("from", from)?, positive("to", to)?);
    let proof = authority
        .read(move |store| store.consistency_proof(from, to))
        .await?;
    Ok(no_store(
        Json(json!({"from": from, "to": to, "proof": proof})).into_response(),
    ))
}

/// The proof that an entry is in the log as it stands.
#[utoipa::path(get, path = "/v1/log/proof/inclusion", params(InclusionParams),
    responses((status = 200, description = "`{\"entry\", \"size\", \"leaf\": HEX, \"proof\": [HEX]}`", body = Value),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn inclusion(
    State(state): State<Arc<AppState>>,
    params: Result<Query<InclusionParams>, QueryRejection>,
) -> Answer {
    let authority = service(&state)?;
    let InclusionParams { entry } = query(params)?;
    let entry = positive("entry", entry)?;
    let (size, leaf, proof) = authority
        .read(move |store| store.inclusion_proof(entry))
        .await?;
    Ok(no_store(
        Json(json!({"entry": entry, "size": size, "leaf": leaf, "proof": proof})).into_response(),
    ))
}

/// The log's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/authority/key", get(key))
        .route("/v1/log/head", get(head))
        .route("/v1/log/entries", get(entries))
        .route("/v1/log/proof/consistency", get(consistency))
        .route("/v1/log/proof/inclusion", get(inclusion))
}
