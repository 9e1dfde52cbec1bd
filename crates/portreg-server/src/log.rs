//! The authority's signed log over HTTP: its public key, its signed head, its entries and
//! the proofs that let a follower check that each new head extends the last it accepted
//! (RFC 9162's `get-sth`, `get-entries`, `get-sth-consistency` and `get-proof-by-hash`,
//! in this API's words), and the log as `c2sp.org/tlog-checkpoint` and `tlog-tiles`. The
//! checkpoint, proofs and tiles are read from what the server verified and signed last,
//! never from the store: a reader waits on no change.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portreg_authority::log::{note_body, Checkpoint, LogKey};
use portreg_authority::{proofs, Role};
use serde::Deserialize;
use serde_json::json;
use std::sync::PoisonError;

use crate::authority::{no_store, service};
use crate::problem::Problem;
use crate::AppState;

type Answer = Result<Response, Problem>;

/// The log's head: its checkpoint and what it says.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct SignedHeadBody {
    /// The log's origin, the checkpoint's first line and its key's name.
    origin: String,
    /// Entries in the log.
    size: u64,
    /// The Merkle tree's root (RFC 9162), 64 hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    root: String,
    /// When it was signed, seconds since the Unix epoch.
    time: u64,
    /// The SHA-256 of the registry served with it (`/v1/registry.bin`'s bytes), hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    registry: Option<String>,
    /// The authority's Ed25519 public key, 64 hex digits.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    key: String,
    /// The checkpoint itself, a `c2sp.org/tlog-checkpoint` signed note, as
    /// `/v1/log/checkpoint` serves it.
    checkpoint: String,
}

/// Entries `start` to `end`.
#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntriesParams {
    /// The first entry, from 1.
    #[param(minimum = 1)]
    pub start: i64,
    /// The last entry; at most 256 entries a call.
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
    responses((status = 200, description = "`{\"algorithm\": \"ed25519\", \"key\": HEX, \"origin\", \"verifier_key\"}`: the verifier key as Go's `sumdb/note` writes it, `ORIGIN+KEYID+BASE64`", body = Value),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn key(State(state): State<Arc<AppState>>) -> Answer {
    let key = service(&state)?
        .log_key
        .as_ref()
        .ok_or_else(|| Problem::not_found("the authority signs with no key yet"))?;
    Ok(no_store(
        Json(
            json!({"algorithm": "ed25519", "key": key.hex(), "origin": key.name,
                    "verifier_key": key.verifier_key()}),
        )
        .into_response(),
    ))
}

/// The checkpoint the server signed last, or the problem of a log that does not verify.
fn current(authority: &crate::authority::AuthorityService) -> Result<String, Problem> {
    let signed = authority.signed();
    match (signed.published(), signed.refused) {
        (Some(checkpoint), _) => Ok(checkpoint),
        (None, Some(refused)) => Err(Problem::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("no checkpoint is signed: {refused}"),
        )),
        (None, None) => Err(Problem::not_found("the authority signs with no key yet")),
    }
}

/// The log's checkpoint (`c2sp.org/tlog-checkpoint`), a signed note: origin, size, root
/// and the lines `time SECONDS` and `registry sha256 HEX` (the registry served with it).
/// Signed at least every 10 seconds, after the server checked every entry up to it.
#[utoipa::path(get, path = "/v1/log/checkpoint",
    responses((status = 200, description = "The signed note", body = String, content_type = "text/plain"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The log does not verify: no checkpoint is signed", body = Problem, content_type = "application/problem+json")))]
pub async fn checkpoint(State(state): State<Arc<AppState>>) -> Answer {
    let note = current(service(&state)?)?;
    Ok(no_store(
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response(),
    ))
}

/// The log's head as JSON: what its checkpoint says, and the checkpoint.
#[utoipa::path(get, path = "/v1/log/head",
    responses((status = 200, description = "The head", body = SignedHeadBody),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The log does not verify: no checkpoint is signed", body = Problem, content_type = "application/problem+json")))]
pub async fn head(State(state): State<Arc<AppState>>) -> Answer {
    let authority = service(&state)?;
    let note = current(authority)?;
    let parsed = Checkpoint::parse(&note_body(&note))
        .map_err(|e| Problem::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e))?;
    let key = authority.log_key.as_ref().map(LogKey::hex);
    Ok(no_store(
        Json(json!({
            "origin": parsed.origin, "size": parsed.size, "root": parsed.root_hex(),
            "time": parsed.time, "registry": parsed.registry.map(hex::encode),
            "key": key, "checkpoint": note,
        }))
        .into_response(),
    ))
}

/// A tile of the log's tree or a bundle of its entries (`c2sp.org/tlog-tiles`):
/// `tile/L/N[.p/W]` (hashes, 32 bytes each; `N` in groups of three digits, `x`-prefixed
/// but the last: `x001/234`), `tile/entries/N[.p/W]` (each entry its 32-byte chain hash
/// after its length as two big-endian bytes). What the log holds is immutable: cached for
/// a year.
#[utoipa::path(get, path = "/v1/log/tile/{path}", params(("path" = String, Path, description = "`L/N[.p/W]` or `entries/N[.p/W]`", example = "0/000")),
    responses((status = 200, description = "The tile", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn tile(
    State(state): State<Arc<AppState>>,
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
) -> Answer {
    let authority = service(&state)?;
    let path = path.map_err(|e| Problem::not_found(e.body_text()))?.0;
    let (kind, width) = parse_tile_path(&path).ok_or_else(|| {
        Problem::not_found(format!(
            "{path:?} is no tile: expected L/N or entries/N, with .p/W for a partial one"
        ))
    })?;
    let tree = authority
        .tree
        .read()
        .unwrap_or_else(PoisonError::into_inner);
    let data = match kind {
        TileKind::Hashes(level, index) => tree.tile(level, index, width),
        TileKind::Entries(index) => tree.entry_bundle(index, width),
    }
    .map_err(Problem::not_found)?;
    drop(tree);
    let mut response = ([(header::CONTENT_TYPE, "application/octet-stream")], data).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    Ok(response)
}

/// What a tile path names.
#[derive(Debug, PartialEq, Eq)]
enum TileKind {
    /// Level and index of a hash tile.
    Hashes(u8, u64),
    /// Index of an entry bundle.
    Entries(u64),
}

/// Reads `L/N[.p/W]` or `entries/N[.p/W]`: what it names and its width (256 when full).
fn parse_tile_path(path: &str) -> Option<(TileKind, u64)> {
    let (path, width) = match path.split_once(".p/") {
        Some((path, width)) => {
            let width: u64 = width.parse().ok().filter(|w| (1..256).contains(w))?;
            (path, width)
        }
        None => (path, 256),
    };
    let (first, rest) = path.split_once('/')?;
    let groups: Vec<&str> = rest.split('/').collect();
    let mut index: u64 = 0;
    for (position, group) in groups.iter().enumerate() {
        let digits = if position + 1 == groups.len() {
            *group
        } else {
            group.strip_prefix('x')?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(digits.parse().ok()?)?;
    }
    let kind = match first {
        "entries" => TileKind::Entries(index),
        level => {
            let level: u8 = level
                .parse()
                .ok()
                .filter(|l: &u8| *l < 8 && level.len() == 1)?;
            TileKind::Hashes(level, index)
        }
    };
    Some((kind, width))
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
    let proof =
        proofs::consistency(&authority.tree, from, to).map_err(crate::authority::problem)?;
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
    let (size, leaf, proof) =
        proofs::inclusion(&authority.tree, entry, None).map_err(crate::authority::problem)?;
    Ok(no_store(
        Json(json!({"entry": entry, "size": size, "leaf": leaf, "proof": proof})).into_response(),
    ))
}

/// The log's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/authority/key", get(key))
        .route("/v1/log/head", get(head))
        .route("/v1/log/checkpoint", get(checkpoint))
        .route("/v1/log/tile/{*path}", get(tile))
        .route("/v1/log/entries", get(entries))
        .route("/v1/log/proof/consistency", get(consistency))
        .route("/v1/log/proof/inclusion", get(inclusion))
}

#[cfg(test)]
mod tests {
    use super::{parse_tile_path, TileKind};

    #[test]
    fn tile_paths_read_as_the_spec_writes_them() {
        assert_eq!(
            parse_tile_path("0/000"),
            Some((TileKind::Hashes(0, 0), 256))
        );
        assert_eq!(
            parse_tile_path("1/x001/234.p/7"),
            Some((TileKind::Hashes(1, 1234), 7))
        );
        assert_eq!(
            parse_tile_path("entries/x001/x234/067"),
            Some((TileKind::Entries(1_234_067), 256))
        );
        for bad in [
            "0/1",
            "0/001/002",
            "0/x001",
            "9/000",
            "0/000.p/256",
            "0/000.p/0",
            "00/000",
            "a/000",
        ] {
            assert_eq!(parse_tile_path(bad), None, "{bad}");
        }
    }
}
