//! portreg's HTTP API (version 1), its OpenAPI document and its web page, on tokio and
//! axum. `portreg serve` runs it; tests build the [`router`] directly.

mod api;
pub mod authority;
pub mod cache;
mod history;
mod log;
pub mod metrics;
mod problem;
pub mod schema;
mod web;
pub mod witness;

use std::collections::HashMap;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use portreg::CompiledRegistry;
use tower::limit::ConcurrencyLimitLayer;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use utoipa::OpenApi;

pub use problem::Problem;

/// The longest request URI answered (path and query).
pub const MAX_URI_LENGTH: usize = 2048;
/// Requests served at once; more wait.
pub const MAX_CONCURRENT: usize = 1024;
/// A request not answered by then gets 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection that sends no byte for this long is closed: a request's headers must
/// arrive within it, and an idle keep-alive connection ends after it.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections open at once, unless told (`serve --max-connections`); past it, a
/// connection is answered only at `/healthz` (a few at a time) and closed.
pub const MAX_CONNECTIONS: usize = 4096;
/// The share of the connections one client address may hold open at once (256 of the
/// default 4,096): one client's idle sockets cannot take the server's.
pub const CLIENT_SHARE: usize = 16;
/// Connections past [`MAX_CONNECTIONS`] answered at `/healthz` at once; one client
/// network holds a [`CLIENT_SHARE`]th of them.
const OVERFLOW_CONNECTIONS: usize = 64;
/// Connections past those, kept for `/healthz`: one a client network, each answered once
/// and closed, its request's headers due within [`RESERVED_TIMEOUT`].
const RESERVED_CONNECTIONS: usize = 16;
/// How long a reserved connection may take to send its request.
const RESERVED_TIMEOUT: Duration = Duration::from_secs(2);

/// A registry being served, with what is computed from it: its ETag, its compiled bytes
/// (for replicas) and the answers kept. A registry swapped in comes as a new snapshot;
/// a request keeps the snapshot it started with to its end.
pub struct Snapshot {
    registry: Box<dyn Deref<Target = CompiledRegistry> + Send + Sync>,
    /// `embedded`, `installed (PATH)`, a file, a store or a followed URL.
    pub origin: String,
    etag: HeaderValue,
    /// The answers computed from this registry.
    answers: cache::AnswerCache,
    /// The compiled form, made the first time a replica asks for it.
    bytes: std::sync::OnceLock<(axum::body::Bytes, HeaderValue)>,
}

impl Snapshot {
    /// A snapshot of a registry (`&'static` for the embedded one, boxed otherwise).
    pub fn new(
        registry: Box<dyn Deref<Target = CompiledRegistry> + Send + Sync>,
        origin: String,
    ) -> Self {
        let provenance = registry.provenance();
        let updated = registry
            .updated()
            .map(|d| d.to_string())
            .unwrap_or_default();
        let identity = format!(
            "{} {} {} {} {}",
            env!("CARGO_PKG_VERSION"),
            provenance.sha256,
            provenance.version,
            updated,
            registry.len()
        );
        let etag = HeaderValue::from_str(&format!(
            "W/\"{:08x}\"",
            crc32fast::hash(identity.as_bytes())
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("W/\"0\""));
        Snapshot {
            registry,
            origin,
            etag,
            answers: cache::AnswerCache::default(),
            bytes: std::sync::OnceLock::new(),
        }
    }

    /// The registry answering.
    pub fn registry(&self) -> &CompiledRegistry {
        &self.registry
    }

    /// The compiled form and its strong ETag (its CRC-32 and length).
    pub fn compiled(&self) -> &(axum::body::Bytes, HeaderValue) {
        self.bytes.get_or_init(|| {
            let bytes = self.registry.to_bytes();
            let digest = crc32fast::hash(&bytes);
            let tag = format!("\"{:08x}-{:x}\"", digest, bytes.len());
            let tag =
                HeaderValue::from_str(&tag).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
            (axum::body::Bytes::from(bytes), tag)
        })
    }
}

/// What every handler shares: the registry being served (swapped whole when it changes),
/// and, when the server runs one, the authority and a replica's follower status.
pub struct AppState {
    current: arc_swap::ArcSwap<Snapshot>,
    /// The assignment authority, for `serve --authority`.
    pub authority: Option<authority::AuthorityService>,
    /// A replica's fetches, for `serve --follow`.
    pub follower: Option<metrics::FollowStatus>,
    /// A replica that witnesses its source's log (`serve --follow --cosign-key`).
    pub witness: Option<Arc<dyn witness::CheckpointWitness>>,
    /// Counters for `/metrics`.
    pub metrics: metrics::Metrics,
    /// Connections served at once ([`MAX_CONNECTIONS`] unless told); a client address
    /// holds a sixteenth of them at most.
    pub max_connections: usize,
}

impl AppState {
    /// State over a registry (`&'static` for the embedded one, boxed otherwise).
    pub fn new(
        registry: Box<dyn Deref<Target = CompiledRegistry> + Send + Sync>,
        origin: String,
    ) -> Self {
        AppState::from_snapshot(Snapshot::new(registry, origin))
    }

    /// State over a snapshot made elsewhere (an authority's registry).
    pub fn from_snapshot(snapshot: Snapshot) -> Self {
        AppState {
            current: arc_swap::ArcSwap::from_pointee(snapshot),
            authority: None,
            follower: None,
            witness: None,
            metrics: metrics::Metrics::default(),
            max_connections: MAX_CONNECTIONS,
        }
    }

    /// The registry being served now, for the whole of one request.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Runs `read` on the registry being served now, without taking a reference to it:
    /// for what is read at once, not across an await.
    pub fn peek<R>(&self, read: impl FnOnce(&Snapshot) -> R) -> R {
        read(&self.current.load())
    }

    /// Serves `snapshot` from now on; requests under way finish on the one they had.
    pub fn swap(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "portreg",
        description = "The port-number registry: what a port or a service name is.",
        version = "1"
    ),
    paths(
        api::ports,
        api::services,
        api::search,
        api::free,
        api::explain,
        api::stable,
        api::check_name,
        api::info,
        api::registry,
        api::registry_bin,
        history::timeline,
        metrics::healthz,
        metrics::metrics,
        authority::submit,
        authority::list,
        authority::show,
        authority::amend,
        authority::review,
        authority::withdraw,
        authority::deassign,
        authority::revoke,
        authority::transfer,
        authority::users,
        authority::add_user,
        authority::revoke_user,
        authority::history,
        log::key,
        log::head,
        log::checkpoint,
        log::tile,
        log::entries,
        log::consistency,
        log::inclusion,
        witness::add_checkpoint,
        witness::key,
        web::sign_in,
        web::current,
        web::sign_out
    ),
    modifiers(&BearerScheme, &UriLimit),
    components(schemas(
        portreg::format::JsonRecord,
        portreg::Status,
        portreg::Reference,
        portreg::ReferenceKind,
        portreg::RangeClass,
        portreg::Source,
        Problem,
        api::Span,
        api::RegistryInfo,
        schema::LookupRecord,
        schema::SearchRecord,
        schema::InfoBody,
        schema::InfoRecord,
        schema::People,
        schema::PortFacts,
        schema::NameCheckBody,
        schema::NameProblemBody,
        schema::Health,
        schema::ExplainBody,
        schema::StableBody,
        schema::ExclusionBody,
        schema::Role,
        schema::Tier,
        schema::HistoryBody,
        schema::SnapshotsHeld,
        schema::SnapshotBody,
        schema::HistoryEntry,
        schema::HistoryVersion,
        schema::HistoryEvent,
        schema::FieldChange,
        schema::HistoryLink,
        authority::RequestFields,
        authority::TransportField,
        authority::PortField,
        authority::NewRequestBody,
        authority::ReviewBody,
        portreg_authority::Decision,
        authority::DeassignBody,
        authority::RevokeBody,
        authority::TransferBody,
        portreg_authority::Role,
        authority::UserBody,
        log::SignedHeadBody,
        web::SignIn
    ))
)]
struct ApiDoc;

/// Every route answers 414 to a URI over 2048 bytes (checked before routing): said once
/// here for the operations that do not say it themselves.
struct UriLimit;

impl utoipa::Modify for UriLimit {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let too_long = ResponseBuilder::new()
            .description("The URI is over 2048 bytes")
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry("414".to_owned())
                    .or_insert_with(|| too_long.clone().into());
            }
        }
    }
}

/// The authority's routes take an identity's API token.
struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An identity's API token, from `portreg authority user add`",
                    ))
                    .build(),
            ),
        );
    }
}

/// The OpenAPI document of the API, as served at `/openapi.json`: the document generated
/// from the handlers' types, with the links between operations (from a port's or a
/// search's records to their names and details), for clients that follow them. The
/// authority's operations are in it when the server runs one.
pub fn openapi(with_authority: bool, with_witness: bool) -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(paths) = document.get_mut("paths").and_then(|p| p.as_object_mut()) {
        paths.retain(|path, _| {
            (with_authority || !authority::is_authority_route(path))
                && (with_witness || !witness::is_witness_route(path))
        });
    }
    // (path, method and status of the answer, link, operation, its parameter, value)
    let links: [(&str, &str, &str, &str, &str); 8] = [
        (
            "/v1/ports/{ports}",
            "ServiceOfFirstRecord",
            "services",
            "name",
            "$response.body#/0/name",
        ),
        (
            "/v1/ports/{ports}",
            "InfoOfPort",
            "info",
            "query",
            "$request.path.ports",
        ),
        (
            "/v1/search",
            "ServiceOfBestMatch",
            "services",
            "name",
            "$response.body#/0/name",
        ),
        (
            "/v1/services/{name}",
            "InfoOfService",
            "info",
            "query",
            "$request.path.name",
        ),
        (
            "/v1/requests",
            "TheRequest",
            "show",
            "id",
            "$response.body#/id",
        ),
        (
            "/v1/requests",
            "AmendTheRequest",
            "amend",
            "id",
            "$response.body#/id",
        ),
        (
            "/v1/requests",
            "ReviewTheRequest",
            "review",
            "id",
            "$response.body#/id",
        ),
        (
            "/v1/requests",
            "WithdrawTheRequest",
            "withdraw",
            "id",
            "$response.body#/id",
        ),
    ];
    for (path, name, target, parameter, expression) in links {
        // A read's links hang on its 200; a filed request's on its 201.
        let (method, status) = if path == "/v1/requests" {
            ("post", "201")
        } else {
            ("get", "200")
        };
        let response = document
            .pointer_mut(&format!(
                "/paths/{}/{method}/responses/{status}",
                path.replace('/', "~1")
            ))
            .and_then(|r| r.as_object_mut());
        if let Some(response) = response {
            let links = response
                .entry("links")
                .or_insert_with(|| serde_json::json!({}));
            links[name] = serde_json::json!({
                "operationId": target,
                "parameters": {parameter: expression},
            });
        }
    }
    document
}

const PAGE: &str = include_str!("../assets/index.html");
const SCRIPT: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/app.css");
/// The page's icon (browsers ask for one; without it, every visit logs a 404).
const ICON: &str = include_str!("../assets/favicon.svg");
/// The page loads nothing but its own script, style and API: no inline code, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The whole application: API, OpenAPI document, page, and the layers around them.
pub fn router(state: Arc<AppState>) -> Router {
    let with_authority = state.authority.is_some();
    let with_witness = state.witness.is_some();
    let mut routes = Router::new();
    if with_witness {
        routes = routes.merge(witness::routes());
    }
    if with_authority {
        routes = routes
            .merge(authority::routes())
            .merge(log::routes())
            .route("/queue", get(web::queue))
            .route(
                "/v1/session",
                get(web::current).post(web::sign_in).delete(web::sign_out),
            );
    }
    routes
        .route("/", get(page))
        .route("/assets/{file}", get(asset))
        .route("/favicon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .route(
            "/openapi.json",
            get(move || async move { Json(openapi(with_authority, with_witness)) }),
        )
        .route("/healthz", get(metrics::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/v1/registry.bin", get(api::registry_bin))
        .route("/v1/ports/{ports}", get(api::ports))
        .route("/v1/services/{name}", get(api::services))
        .route("/v1/search", get(api::search))
        .route("/v1/free", get(api::free))
        .route("/v1/free/explain/{port}", get(api::explain))
        .route("/v1/free/for/{name}", get(api::stable))
        .route("/v1/check-name/{name}", get(api::check_name))
        .route("/v1/info/{query}", get(api::info))
        .route("/v1/registry", get(api::registry))
        .route("/v1/history/{query}", get(history::timeline))
        .fallback(|| async { Problem::not_found("no such resource; see /openapi.json") })
        .method_not_allowed_fallback(|| async {
            Problem::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "this method is not answered here; see /openapi.json",
            )
        })
        // Live answers are compressed here, from the size where it pays (kept answers
        // come compressed already), within the time and concurrency limits.
        .layer(CompressionLayer::new().compress_when(
            tower_http::compression::predicate::SizeAbove::new(cache::COMPRESS_FROM as u16),
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(ConcurrencyLimitLayer::new(MAX_CONCURRENT))
        .layer(middleware::from_fn(check_uri))
        .layer(middleware::from_fn_with_state(state.clone(), caching))
        .layer(middleware::from_fn(security_headers))
        // A kept answer is sent from here, with the headers it was kept with (the
        // security headers, its ETag and lifetime): nothing below runs for it (it was kept
        // for a URI that passed every check).
        .layer(middleware::from_fn_with_state(
            state.clone(),
            cache::keep_answers,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::count,
        ))
        .layer(middleware::from_fn(access_log))
        .with_state(state)
}

/// The page and its assets, named by their content's checksum: an asset's name changes
/// with it, so a browser may keep it for a year.
struct Assets {
    page: String,
    script: String,
    style: String,
    queue: String,
    queue_script: String,
}

fn assets() -> &'static Assets {
    static ASSETS: std::sync::OnceLock<Assets> = std::sync::OnceLock::new();
    ASSETS.get_or_init(|| {
        let script = format!("app.{:08x}.js", crc32fast::hash(SCRIPT.as_bytes()));
        let style = format!("app.{:08x}.css", crc32fast::hash(STYLE.as_bytes()));
        let queue_script = format!(
            "queue.{:08x}.js",
            crc32fast::hash(web::QUEUE_SCRIPT.as_bytes())
        );
        let page = PAGE
            .replace("/app.js", &format!("/assets/{script}"))
            .replace("/app.css", &format!("/assets/{style}"));
        Assets {
            page,
            queue: web::page(&queue_script, &style),
            script,
            style,
            queue_script,
        }
    })
}

async fn page() -> impl IntoResponse {
    Html(assets().page.as_str())
}

async fn icon() -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        ICON,
    )
        .into_response()
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>) -> Response {
    let assets = assets();
    let (kind, body) = if file == assets.script {
        ("text/javascript; charset=utf-8", SCRIPT)
    } else if file == assets.style {
        ("text/css; charset=utf-8", STYLE)
    } else if file == assets.queue_script {
        ("text/javascript; charset=utf-8", web::QUEUE_SCRIPT)
    } else {
        return Problem::not_found(format!("no asset {file}")).into_response();
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}

/// Refuses over-long URIs, and paths or query strings that are not UTF-8 once decoded,
/// before any handler parses them.
async fn check_uri(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if length > MAX_URI_LENGTH {
        let detail = format!("the URI has {length} bytes; at most {MAX_URI_LENGTH}");
        return Problem::new(StatusCode::URI_TOO_LONG, detail).into_response();
    }
    let utf8 = |text: &str| {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8()
            .is_ok()
    };
    if !utf8(request.uri().path()) || !request.uri().query().is_none_or(utf8) {
        let detail = "the path or the query string is not UTF-8 once percent-decoded";
        return Problem::bad_request(detail).into_response();
    }
    next.run(request).await
}

/// Query parameters whose values are secrets: never written to a log. A name is
/// compared percent-decoded, in any case, `-` as `_` and without a `[]` suffix; any name
/// ending in `token` or holding `secret` or `password` is one too.
const SECRET_PARAMETERS: [&str; 11] = [
    "api_key",
    "apikey",
    "key",
    "password",
    "session",
    "csrf",
    "auth",
    "authorization",
    "bearer",
    "client_secret",
    "code",
];

/// The prefix of an identity's API token, wherever it appears in a URI.
const TOKEN_PREFIX: &str = "portreg_";

fn secret_name(name: &str) -> bool {
    let name = percent_encoding::percent_decode_str(name)
        .decode_utf8_lossy()
        .trim()
        .to_ascii_lowercase()
        .replace('-', "_");
    let name = name.strip_suffix("[]").unwrap_or(&name);
    SECRET_PARAMETERS.contains(&name)
        || name.ends_with("token")
        || name.contains("secret")
        || name.contains("password")
}

/// `text` with every API token in it (`portreg_` and its secret) as `portreg_REDACTED`.
fn without_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(TOKEN_PREFIX) {
        let after = &rest[at + TOKEN_PREFIX.len()..];
        let secret = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        out.push_str(&rest[..at + TOKEN_PREFIX.len()]);
        out.push_str(if secret > 0 { "REDACTED" } else { "" });
        rest = &after[secret..];
    }
    out.push_str(rest);
    out
}

/// The URI as the access log writes it (its path and query): the values of secret-named
/// query parameters (split on `&` and `;`) replaced by `REDACTED`, and any API token in
/// the path or a value too. Borrowed, as the request gave it, when there is none.
fn redacted(uri: &axum::http::Uri) -> std::borrow::Cow<'_, str> {
    let text = uri.path_and_query().map_or("/", |p| p.as_str());
    let secret = |pair: &str| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        !value.is_empty() && secret_name(name)
    };
    let query = uri.query().unwrap_or("");
    let named = query.split(['&', ';']).any(secret);
    if !named && !text.contains(TOKEN_PREFIX) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = without_tokens(uri.path());
    if uri.query().is_some() {
        out.push('?');
        for piece in query.split_inclusive(['&', ';']) {
            let (pair, separator) = match piece.strip_suffix(['&', ';']) {
                Some(pair) => (pair, &piece[pair.len()..]),
                None => (piece, ""),
            };
            match pair.split_once('=') {
                Some((name, _)) if secret(pair) => out.push_str(&format!("{name}=REDACTED")),
                _ => out.push_str(&without_tokens(pair)),
            }
            out.push_str(separator);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// One access-log event a request (method, path, status, microseconds), target `access`:
/// no span, nothing formatted unless the event is enabled.
async fn access_log(request: Request, next: Next) -> Response {
    if !tracing::enabled!(target: "access", tracing::Level::INFO) {
        return next.run(request).await;
    }
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    log_access(&method, &uri, response.status(), started);
    response
}

/// The access-log event of one request answered.
fn log_access(
    method: &Method,
    uri: &axum::http::Uri,
    status: StatusCode,
    started: std::time::Instant,
) {
    tracing::info!(
        target: "access",
        method = %method,
        uri = %redacted(uri),
        status = status.as_u16(),
        micros = started.elapsed().as_micros() as u64,
    );
}

/// A kept answer sent at once, before the router and its layers (every one of which it
/// passed when it was kept), counted and logged as they would: the most asked questions
/// cost a lookup in the cache.
fn send_kept(
    state: &AppState,
    request: &hyper::Request<hyper::body::Incoming>,
) -> Option<Response> {
    let started = std::time::Instant::now();
    let (response, route) =
        cache::kept_answer(state, request.method(), request.uri(), request.headers())?;
    state
        .metrics
        .count(route.as_ref(), response.status().as_u16());
    if tracing::enabled!(target: "access", tracing::Level::INFO) {
        log_access(request.method(), request.uri(), response.status(), started);
    }
    Some(response)
}

/// Headers every answer carries: no content sniffing, no referrer, and the page's content
/// security policy; the read-only API may be called from any origin (CORS).
async fn security_headers(request: Request, next: Next) -> Response {
    let page = matches!(request.uri().path(), "/" | "/queue");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    if page {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// Answers are the same while the registry is: an ETag from its identity, a `304` for a
/// client that has the answer, and a short public cache lifetime.
async fn caching(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    // The authority's answers change with every request: never cached, never tagged.
    let cacheable = request.method() == Method::GET && !authority::is_private(request.uri().path());
    let etag = state.peek(|snapshot| snapshot.etag.clone());
    let matches = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| *tag == etag);
    if cacheable && matches {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(header::ETAG, etag);
        return response;
    }
    let mut response = next.run(request).await;
    if cacheable
        && response.status() == StatusCode::OK
        && !response.headers().contains_key(header::ETAG)
    {
        let headers = response.headers_mut();
        headers.insert(header::ETAG, etag);
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
        }
    }
    response
}

/// The network a client is counted by: its IPv4 address (an IPv4-mapped IPv6 address is
/// its IPv4 one), or its IPv6 /64, which one host may hold whole.
fn client_network(address: std::net::IpAddr) -> std::net::IpAddr {
    use std::net::{IpAddr, Ipv6Addr};
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !u128::from(u64::MAX))),
        },
    }
}

/// Connections open per client network; a [`ClientSlot`] gives its place back.
#[derive(Clone, Default)]
struct Clients(Arc<std::sync::Mutex<HashMap<std::net::IpAddr, usize>>>);

/// One connection's place in its client's count.
struct ClientSlot {
    clients: Clients,
    address: std::net::IpAddr,
}

impl Clients {
    /// A place for one more connection from `address`, unless it holds its `share`.
    fn enter(&self, address: std::net::IpAddr, share: usize) -> Option<ClientSlot> {
        let mut open = self.0.lock().ok()?;
        let count = open.entry(address).or_default();
        if *count >= share {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            clients: self.clone(),
            address,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut open) = self.clients.0.lock() {
            if let Some(count) = open.get_mut(&self.address) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&self.address);
                }
            }
        }
    }
}

/// What a connection past [`MAX_CONNECTIONS`] is answered: `/healthz` as ever (so that a
/// load balancer's probe sees a live server), anything else 503, and then it is closed.
fn overflow_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(metrics::healthz))
        .fallback(|| async {
            let mut response = Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server holds as many connections as it takes: try again",
            )
            .with_retry_after(1)
            .into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        })
        .with_state(state)
}

/// Serves on `listener` until `shutdown` completes, then finishes the requests in flight.
///
/// Each connection must keep sending: one that sends nothing for [`IDLE_TIMEOUT`] (headers
/// that never come, an idle keep-alive) is closed; at most the state's
/// `max_connections` are served at once, past which a connection is answered only at
/// `/healthz`, and one client network (an IPv4 address, an IPv6 /64) holds at most a
/// [`CLIENT_SHARE`]th of them (more are closed at once) and of the overflow, with slots
/// kept past those for `/healthz`, so that clients that connect and wait cannot starve
/// the others or hide the server's health.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::Service;

    let capacity = state.max_connections.max(1);
    let share = (capacity / CLIENT_SHARE).max(1);
    let app = router(state.clone());
    let overflow = overflow_router(state.clone());
    let slots = Arc::new(tokio::sync::Semaphore::new(capacity));
    let overflow_slots = Arc::new(tokio::sync::Semaphore::new(OVERFLOW_CONNECTIONS));
    let reserved_slots = Arc::new(tokio::sync::Semaphore::new(RESERVED_CONNECTIONS));
    let (clients, overflow_clients, reserved_clients) =
        (Clients::default(), Clients::default(), Clients::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of descriptors, or a connection reset before it was accepted:
                // wait a moment rather than spin, and go on serving.
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let network = client_network(remote.ip());
        let Some(client) = clients.enter(network, share) else {
            // Over its share: closed at once, before a byte is read.
            continue;
        };
        // A connection past the limit is answered by the overflow router alone, within
        // its network's share of the overflow, else from the slots kept for `/healthz`.
        let overflow_share = OVERFLOW_CONNECTIONS / CLIENT_SHARE;
        let taken = match slots.clone().try_acquire_owned() {
            Ok(slot) => Some((app.clone(), slot, None, Some(state.clone()), false)),
            Err(_) => {
                let over = overflow_clients
                    .enter(network, overflow_share)
                    .and_then(|place| {
                        let slot = overflow_slots.clone().try_acquire_owned().ok()?;
                        Some((overflow.clone(), slot, Some(place), None, false))
                    });
                over.or_else(|| {
                    let place = reserved_clients.enter(network, 1)?;
                    let slot = reserved_slots.clone().try_acquire_owned().ok()?;
                    Some((overflow.clone(), slot, Some(place), None, true))
                })
            }
        };
        let Some((app, slot, place, kept_from, reserved)) = taken else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        let idle = if reserved {
            RESERVED_TIMEOUT
        } else {
            IDLE_TIMEOUT
        };
        stream.set_read_timeout(Some(idle));
        stream.set_write_timeout(Some(idle));
        let io = TokioIo::new(Box::pin(stream));
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                let kept = kept_from
                    .as_ref()
                    .and_then(|state| send_kept(state, &request));
                let routed = kept.is_none().then(|| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(remote));
                    app.clone().call(request)
                });
                async move {
                    match (kept, routed) {
                        (Some(response), _) => Ok(response),
                        (None, Some(routed)) => routed.await,
                        (None, None) => Ok(StatusCode::INTERNAL_SERVER_ERROR.into_response()),
                    }
                }
            },
        );
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .keep_alive(!reserved)
            .header_read_timeout(if reserved {
                RESERVED_TIMEOUT
            } else {
                IDLE_TIMEOUT
            });
        let connection = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(slot);
            drop(place);
            drop(client);
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing the requests in flight");
    graceful.shutdown().await;
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::{client_network, redacted};

    #[test]
    fn clients_are_counted_by_their_network() {
        let net = |text: &str| client_network(text.parse().unwrap()).to_string();
        assert_eq!(net("192.0.2.7"), "192.0.2.7");
        assert_eq!(net("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(net("2001:db8:1:2:aaaa:bbbb:cccc:dddd"), "2001:db8:1:2::");
        assert_eq!(net("2001:db8:1:2::1"), net("2001:db8:1:2:ffff::9"));
        assert_ne!(net("2001:db8:1:2::1"), net("2001:db8:1:3::1"));
    }

    #[test]
    fn secrets_in_a_query_are_never_logged() {
        let uri = |text: &str| text.parse::<axum::http::Uri>().unwrap();
        assert_eq!(
            redacted(&uri("/v1/requests?access_token=abc&state=pending")),
            "/v1/requests?access_token=REDACTED&state=pending"
        );
        assert_eq!(
            redacted(&uri("/x?TOKEN=abc&%6Bey=s3cret&q=ssh")),
            "/x?TOKEN=REDACTED&%6Bey=REDACTED&q=ssh"
        );
        assert_eq!(redacted(&uri("/v1/search?q=sql")), "/v1/search?q=sql");
        assert_eq!(redacted(&uri("/v1/ports/22")), "/v1/ports/22");
        for (asked, logged) in [
            ("/x?access_token[]=abc", "/x?access_token[]=REDACTED"),
            ("/x?access-token=abc", "/x?access-token=REDACTED"),
            ("/x?auth=abc&q=1", "/x?auth=REDACTED&q=1"),
            ("/x?bearer=abc", "/x?bearer=REDACTED"),
            ("/x?client_secret=abc", "/x?client_secret=REDACTED"),
            ("/x?q=1;access_token=abc", "/x?q=1;access_token=REDACTED"),
            (
                "/v1/services/portreg_0123abcd",
                "/v1/services/portreg_REDACTED",
            ),
            (
                "/v1/search?q=portreg_0123abcd",
                "/v1/search?q=portreg_REDACTED",
            ),
        ] {
            assert_eq!(redacted(&uri(asked)), logged, "{asked}");
        }
    }
}
