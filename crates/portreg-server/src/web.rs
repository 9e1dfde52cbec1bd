//! The authority's web queue (`/queue`): a sign-in with an API token, which starts a
//! session (an HttpOnly, SameSite=Strict cookie; the token itself never reaches the
//! page's script after sign-in), and a CSRF token that every form sends back.

use std::sync::Arc;

use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::authority::{no_store, service, JsonBody, SESSION_LIFETIME};
use crate::problem::Problem;
use crate::AppState;

const QUEUE_PAGE: &str = include_str!("../assets/queue.html");
/// The queue page's script.
pub(crate) const QUEUE_SCRIPT: &str = include_str!("../assets/queue.js");

/// A sign-in.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// An identity's API token.
    pub token: String,
}

/// The queue page.
pub async fn queue(State(state): State<Arc<AppState>>) -> Response {
    if state.authority.is_none() {
        return Problem::not_found("this server runs no authority (serve --authority DB)")
            .into_response();
    }
    Html(crate::assets().queue.as_str()).into_response()
}

/// The page with its assets' names filled in.
pub(crate) fn page(script: &str, style: &str) -> String {
    QUEUE_PAGE
        .replace("/queue.js", &format!("/assets/{script}"))
        .replace("/app.css", &format!("/assets/{style}"))
}

/// Signs in: a valid token starts a session.
#[utoipa::path(post, path = "/v1/session", request_body = SignIn,
    responses((status = 200, description = "Signed in: the identity and the CSRF token forms send as `X-CSRF-Token`; the session is an HttpOnly cookie", body = serde_json::Value),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn sign_in(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, Problem> {
    let service = service(&state)?;
    let (id, session, identity) = service.sign_in(&parts, body.token).await?;
    let cookie = format!(
        "{}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        service.cookie_name(),
        SESSION_LIFETIME.as_secs(),
        service.cookie_secure()
    );
    let mut response = Json(json!({
        "name": identity.name, "role": identity.role.as_str(), "csrf": session.csrf,
    }))
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(no_store(response))
}

/// Who the session is (for a page reloaded), with its CSRF token.
#[utoipa::path(get, path = "/v1/session",
    responses((status = 200, body = serde_json::Value), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn current(
    State(state): State<Arc<AppState>>,
    parts: Parts,
) -> Result<Response, Problem> {
    let service = service(&state)?;
    let session = service
        .session(&parts.headers)
        .ok_or_else(|| Problem::new(StatusCode::UNAUTHORIZED, "not signed in").with_challenge())?;
    let token = session.token.clone();
    let identity = service.identify_token(token).await?;
    Ok(no_store(
        Json(json!({"name": identity.name, "role": identity.role.as_str(), "csrf": session.csrf}))
            .into_response(),
    ))
}

/// Signs out.
#[utoipa::path(delete, path = "/v1/session", responses((status = 204, description = "Signed out"), (status = 401, description = "The session ended", body = Problem, content_type = "application/problem+json"), (status = 403, description = "Without the session's CSRF token (`X-CSRF-Token`)", body = Problem, content_type = "application/problem+json")))]
pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    parts: Parts,
) -> Result<Response, Problem> {
    let service = service(&state)?;
    service.sign_out(&parts)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let cookie = format!(
        "{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        service.cookie_name(),
        service.cookie_secure()
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}
