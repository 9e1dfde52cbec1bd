//! Answers kept once computed. Every answer of a cached route depends only on the
//! registry being served (and the request's path and query), so it is computed once, with
//! its gzip and brotli forms made then too, and sent as it is to every client after. The
//! cache belongs to the [`AppState`](crate::AppState): a registry swapped in comes with an
//! empty one.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// The most bytes the cache holds (every form of every answer); past it, it starts anew.
pub const CACHE_BUDGET: usize = 64 * 1024 * 1024;
/// Bodies smaller than this are sent plain: compressing them saves less than it costs.
pub const COMPRESS_FROM: usize = 1024;
/// The largest answer kept (a page of 1,000 records is about 1.5 MB).
const LARGEST: usize = 8 * 1024 * 1024;

/// One answer in every form it is sent in.
struct Kept {
    /// The route it answers, for the request counters.
    route: String,
    status: StatusCode,
    headers: HeaderMap,
    plain: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
}

impl Kept {
    fn size(&self) -> usize {
        self.plain.len()
            + self.gzip.as_ref().map_or(0, Bytes::len)
            + self.brotli.as_ref().map_or(0, Bytes::len)
    }

    /// The form the client takes best: brotli, then gzip, else plain.
    fn response(&self, accepted: Option<&HeaderValue>) -> Response {
        let accepts = |coding: &str| {
            accepted.and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(',').any(|part| {
                    let mut fields = part.split(';');
                    let name = fields.next().unwrap_or("").trim();
                    let refused = fields.any(|f| {
                        f.trim()
                            .strip_prefix("q=")
                            .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
                    });
                    name.eq_ignore_ascii_case(coding) && !refused
                })
            })
        };
        let (body, coding) = match (&self.brotli, &self.gzip) {
            (Some(brotli), _) if accepts("br") => (brotli.clone(), Some("br")),
            (_, Some(gzip)) if accepts("gzip") => (gzip.clone(), Some("gzip")),
            _ => (self.plain.clone(), None),
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers.clone();
        if let Some(coding) = coding {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
        }
        if self.gzip.is_some() {
            response
                .headers_mut()
                .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        response
    }
}

/// The kept answers of one registry.
#[derive(Default)]
pub struct AnswerCache {
    answers: RwLock<HashMap<String, Arc<Kept>>>,
    bytes: AtomicUsize,
}

impl AnswerCache {
    fn get(&self, key: &str) -> Option<Arc<Kept>> {
        self.answers.read().ok()?.get(key).cloned()
    }

    fn put(&self, key: String, kept: Arc<Kept>) {
        let Ok(mut answers) = self.answers.write() else {
            return;
        };
        let size = kept.size() + key.len();
        if self.bytes.load(Ordering::Relaxed) + size > CACHE_BUDGET {
            // Bounded simply: past the budget, start again (answers are cheap to remake).
            answers.clear();
            self.bytes.store(0, Ordering::Relaxed);
        }
        if answers.insert(key, kept).is_none() {
            self.bytes.fetch_add(size, Ordering::Relaxed);
        }
    }
}

/// Whether a route's answers depend only on the registry (or the built-in history): not
/// `/v1/free` (this machine's live ports), `/v1/info` (this machine's settings) or
/// `/healthz`.
fn cacheable(path: &str) -> bool {
    [
        "/v1/ports/",
        "/v1/services/",
        "/v1/search",
        "/v1/check-name/",
        "/v1/history/",
        "/openapi.json",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
        || path == "/"
        || path == "/v1/registry"
        || path.starts_with("/assets/")
}

/// Whether a request is answered as every other of its URI is: a GET of a cacheable route
/// that is not a revalidation (those go the whole way, to `caching`'s 304).
fn answered_alike(method: &Method, uri: &axum::http::Uri, headers: &HeaderMap) -> bool {
    method == Method::GET && cacheable(uri.path()) && !headers.contains_key(header::IF_NONE_MATCH)
}

/// The kept answer to a request ([`answered_alike`]), and the route it answers.
pub(crate) fn kept_answer(
    state: &AppState,
    method: &Method,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
) -> Option<(Response, impl AsRef<str>)> {
    if !answered_alike(method, uri, headers) {
        return None;
    }
    // Found by the URI as it came, without a copy of it.
    let key = uri.path_and_query().map_or("", |p| p.as_str());
    let kept = state.peek(|snapshot| snapshot.answers.get(key))?;
    Some((
        kept.response(headers.get(header::ACCEPT_ENCODING)),
        KeptRoute(kept),
    ))
}

/// The route of a kept answer, borrowed from it.
struct KeptRoute(Arc<Kept>);

impl AsRef<str> for KeptRoute {
    fn as_ref(&self) -> &str {
        &self.0.route
    }
}

/// Serves kept answers, and keeps new ones. (`serve` sends kept answers before the
/// router: this serves them to a router used alone.)
pub async fn keep_answers(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    if let Some((response, _)) =
        kept_answer(&state, request.method(), request.uri(), request.headers())
    {
        return response;
    }
    if !answered_alike(request.method(), request.uri(), request.headers()) {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let key = request
        .uri()
        .path_and_query()
        .map_or_else(String::new, |p| p.as_str().to_owned());
    let mut request = request;
    // Made plain, kept, then sent in the coding the client takes (kept compressed once).
    let accepted = request.headers_mut().remove(header::ACCEPT_ENCODING);
    let snapshot = state.snapshot();
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let keepable = matches!(parts.status, StatusCode::OK | StatusCode::NOT_FOUND)
        && !parts.headers.contains_key(header::CONTENT_ENCODING);
    let Ok(plain) = axum::body::to_bytes(body, LARGEST).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if !keepable {
        return Response::from_parts(parts, Body::from(plain));
    }
    let compress = plain.len() >= COMPRESS_FROM;
    let kept = Arc::new(Kept {
        route,
        status: parts.status,
        headers: parts.headers,
        gzip: compress.then(|| gzip(&plain)).flatten(),
        brotli: compress.then(|| brotli(&plain)).flatten(),
        plain,
    });
    snapshot.answers.put(key, kept.clone());
    kept.response(accepted.as_ref())
}

fn gzip(bytes: &[u8]) -> Option<Bytes> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

fn brotli(bytes: &[u8]) -> Option<Bytes> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
        writer.write_all(bytes).ok()?;
    }
    Some(Bytes::from(out))
}
