//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A problem: what went wrong, with the HTTP status it comes with.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` means the status says it all.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The status's reason phrase.
    pub title: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// What exactly was wrong with this request.
    pub detail: String,
    /// For a name not found, the closest names (`ssh` for `sshh`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suggestions: Option<Vec<String>>,
    /// For an invalid request body, the field at fault (`port`, `name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before asking again (sent as `Retry-After`).
    #[serde(skip)]
    pub retry_after: Option<u32>,
    /// Whether to say how to authenticate (`WWW-Authenticate: Bearer`).
    #[serde(skip)]
    pub challenge: bool,
}

impl Problem {
    /// A problem with `status` and a detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail: detail.into(),
            suggestions: None,
            field: None,
            retry_after: None,
            challenge: false,
        }
    }

    /// The problem, naming the field at fault.
    pub fn with_field(mut self, field: &str) -> Self {
        self.field = Some(field.to_owned());
        self
    }

    /// The problem, saying when to ask again.
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The problem, saying how to authenticate.
    pub fn with_challenge(mut self) -> Self {
        self.challenge = true;
        self
    }

    /// The problem with "did you mean" names attached, when there are any.
    pub fn with_suggestions(mut self, names: Vec<String>) -> Self {
        self.suggestions = (!names.is_empty()).then_some(names);
        self
    }

    /// 400: the request cannot be answered as it is.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404: nothing found.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Problem::new(StatusCode::NOT_FOUND, detail)
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        let headers = response.headers_mut();
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        if self.challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"portreg\""),
            );
        }
        response
    }
}
