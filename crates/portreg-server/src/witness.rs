//! A replica as a witness of the log it follows (`c2sp.org/tlog-witness`):
//! `POST /add-checkpoint` cosigns a checkpoint that extends the latest one the replica
//! verified, and `GET /v1/witness` names the witness's key. The witness's state is the
//! replica's: what it answers is a [`CheckpointWitness`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use portreg_authority::log::witness::Refusal;
use serde_json::json;

use crate::problem::Problem;
use crate::AppState;

/// What a witness does with an `add-checkpoint` request.
pub trait CheckpointWitness: Send + Sync {
    /// Cosigns the request's checkpoint (the cosignature lines), or refuses it. The
    /// check against the latest checkpoint and its record are one step.
    fn add_checkpoint(&self, body: &str) -> Result<String, Refusal>;
    /// The witness's verifier key (`NAME+ID+BASE64`, type 0x04).
    fn verifier_key(&self) -> String;
}

/// The paths a witness serves.
pub fn is_witness_route(path: &str) -> bool {
    path == "/add-checkpoint" || path == "/v1/witness"
}

/// Cosign a checkpoint (`c2sp.org/tlog-witness`): the body is `old SIZE`, the consistency
/// proof's hashes in base64 a line, an empty line and the signed checkpoint.
#[utoipa::path(post, path = "/add-checkpoint", request_body(content = String, content_type = "text/plain"),
    responses((status = 200, description = "The cosignature lines", body = String, content_type = "text/plain"),
        (status = 400, description = "No add-checkpoint request, or an old size past the checkpoint's", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not signed by the log's key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "A log this witness does not follow", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The old size is not the size last cosigned (the body says it, `text/x.tlog.size`), or a fork", body = String, content_type = "text/x.tlog.size"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The consistency proof does not verify", body = Problem, content_type = "application/problem+json")))]
pub async fn add_checkpoint(State(state): State<Arc<AppState>>, body: String) -> Response {
    let Some(witness) = state.witness.clone() else {
        return Problem::not_found("this server is no witness").into_response();
    };
    let answer = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body)).await;
    let refusal = match answer {
        Ok(Ok(lines)) => {
            return ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], lines).into_response()
        }
        Ok(Err(refusal)) => refusal,
        Err(_) => {
            return Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the witness failed")
                .into_response()
        }
    };
    let (status, detail) = match refusal {
        Refusal::Conflict(size) => {
            return (
                StatusCode::CONFLICT,
                [(header::CONTENT_TYPE, "text/x.tlog.size")],
                format!("{size}\n"),
            )
                .into_response()
        }
        Refusal::BadRequest(why) => (StatusCode::BAD_REQUEST, why),
        Refusal::Forbidden(why) => (StatusCode::FORBIDDEN, why),
        Refusal::UnknownLog(why) => (StatusCode::NOT_FOUND, why),
        Refusal::Fork(why) => (StatusCode::CONFLICT, why),
        Refusal::BadProof(why) => (StatusCode::UNPROCESSABLE_ENTITY, why),
    };
    Problem::new(status, detail).into_response()
}

/// The witness's key.
#[utoipa::path(get, path = "/v1/witness",
    responses((status = 200, description = "`{\"verifier_key\"}`: the key its cosignatures verify with", body = Value),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn key(State(state): State<Arc<AppState>>) -> Response {
    match &state.witness {
        Some(witness) => Json(json!({"verifier_key": witness.verifier_key()})).into_response(),
        None => Problem::not_found("this server is no witness").into_response(),
    }
}

/// The witness's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/v1/witness", get(key))
}
