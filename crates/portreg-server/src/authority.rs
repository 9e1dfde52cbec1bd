//! The assignment authority over HTTP (`portreg serve --authority DB`): requests, review,
//! records, identities and history, JSON in and out. Every caller is an identity proved
//! by its API token (`Authorization: Bearer TOKEN`, or the web page's session cookie with
//! its CSRF token); the store checks what its role allows. Every change runs in the
//! store's own transaction on a blocking thread, one at a time, and a change to the
//! registry is served by the public routes before its answer is sent.

use std::collections::HashMap;
use std::path::Path as FilePath;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use portreg::{CompiledRegistry, PortSpan, Provenance, RangeClass, Transport};
use portreg_authority::{
    Actor, Authority, AuthorityError, Decision, Identity, NewRequest, RequestState, Role,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest as _;

use crate::problem::Problem;
use crate::{AppState, Snapshot};

/// The largest JSON body taken.
pub const MAX_BODY: usize = 16 * 1024;

/// Path prefixes of the authority's routes (in the OpenAPI document only when the server
/// runs one).
const ROUTES: [&str; 6] = [
    "/v1/authority",
    "/v1/log",
    "/v1/requests",
    "/v1/records",
    "/v1/users",
    "/v1/session",
];
/// The authority's events; `/v1/history/{query}` below it is the registry's history,
/// public.
const HISTORY: &str = "/v1/history";

/// Whether a path is one of the authority's routes.
pub fn is_authority_route(path: &str) -> bool {
    path == HISTORY || ROUTES.iter().any(|prefix| path.starts_with(prefix))
}

/// Whether the answers at a path depend on who asks: the authority's routes, its queue
/// page and `/metrics`; never cached or tagged.
pub fn is_private(path: &str) -> bool {
    is_authority_route(path) || path == "/queue" || path == "/metrics"
}

/// How many requests an identity may make: `per_second` on average, `burst` at once.
#[derive(Clone, Copy, Debug)]
pub struct RateLimit {
    /// Sustained rate.
    pub per_second: f64,
    /// Bucket size.
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: 20.0,
            burst: 80.0,
        }
    }
}

/// A token bucket per key (an identity, or the address of a caller without one).
struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Limiter {
    /// Takes a token for `key`, or says how long until one is there.
    fn take(&self, key: &str) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        if buckets.len() > 100_000 {
            // Bounded: full buckets carry no information, so the map starts anew.
            buckets.clear();
        }
        let (tokens, at) = buckets
            .entry(key.to_owned())
            .or_insert((self.limit.burst, now));
        let refilled = (*tokens + now.duration_since(*at).as_secs_f64() * self.limit.per_second)
            .min(self.limit.burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            let wait = (1.0 - refilled) / self.limit.per_second.max(f64::MIN_POSITIVE);
            Err(Duration::from_secs_f64(wait.min(3600.0)))
        }
    }
}

/// A signed-in browser: the token it signed in with (checked again on every request, so
/// that revocation works at once) and the CSRF token its forms carry.
#[derive(Clone)]
pub(crate) struct Session {
    pub(crate) token: String,
    pub(crate) csrf: String,
    pub(crate) until: Instant,
}

/// How long a session lasts.
pub(crate) const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// The session cookie's name; `__Host-` prefixed when the server is reached over https
/// (the browser then takes it only from a secure origin, for the whole host, with no
/// `Domain`).
pub(crate) const SESSION_COOKIE: &str = "portreg_session";
const SECURE_SESSION_COOKIE: &str = "__Host-portreg_session";

/// The authority a server runs.
pub struct AuthorityService {
    store: Arc<Mutex<Authority>>,
    /// The log's tree, as the store verified it: proofs and tiles read it without the
    /// store.
    pub(crate) tree: portreg_authority::SharedTree,
    /// The log as last checked and signed: its checkpoint, or why none is signed.
    pub(crate) signed: Arc<Mutex<Signed>>,
    /// The log's key, as the store names it.
    pub(crate) log_key: Option<portreg_authority::log::LogKey>,
    limiter: Limiter,
    pub(crate) sessions: Mutex<HashMap<String, Session>>,
    /// Whether clients reach the server over https (`--public-url https://...`).
    secure: bool,
}

/// The log as the server last checked it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Signed {
    /// The checkpoint signed then, with the served registry's digest.
    pub(crate) checkpoint: Option<String>,
    /// Why no checkpoint is signed: the log does not verify (an entry written by
    /// someone without the key, the store cut or replaced under the server).
    pub(crate) refused: Option<String>,
    /// The SHA-256 of the registry served (its compiled form's bytes).
    pub(crate) registry: Option<[u8; 32]>,
    /// The log's size and the registry the checkpoint signed, and when.
    signed_for: Option<(u64, Option<[u8; 32]>, Instant)>,
    /// The checkpoint with its witnesses' cosignatures, while it is the one signed last.
    cosigned: Option<(String, String)>,
}

impl Signed {
    /// The checkpoint to publish: with its witnesses' cosignatures once they are in.
    pub(crate) fn published(&self) -> Option<String> {
        let checkpoint = self.checkpoint.as_ref()?;
        Some(match &self.cosigned {
            Some((plain, cosigned)) if plain == checkpoint => cosigned.clone(),
            _ => checkpoint.clone(),
        })
    }
}

/// How often the server checks the store's log and signs a fresh checkpoint when
/// nothing else has: a store cut or an entry written behind the server's back is found
/// within it, and a checkpoint is never older.
pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(10);

/// Checks the store's log and signs its checkpoint every [`CHECKPOINT_INTERVAL`].
pub async fn watch(state: Arc<AppState>) {
    let mut ticks = tokio::time::interval(CHECKPOINT_INTERVAL);
    loop {
        ticks.tick().await;
        if let Some(authority) = &state.authority {
            let _ = authority.run(|_| Ok(())).await;
        }
    }
}

/// A new session id or CSRF token.
fn random_hex() -> Result<String, Problem> {
    portreg_authority::random_secret()
        .map_err(|e| Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))
}

impl AuthorityService {
    /// Opens the store at `path`, signing its log with the key at `signing_key` (beside
    /// the store unless given; made there if absent, for a store that has none yet).
    pub fn open(
        path: &FilePath,
        limit: RateLimit,
        signing_key: Option<&FilePath>,
    ) -> Result<Self, AuthorityError> {
        let mut store = Authority::open(path)?;
        let key = signing_key.map_or_else(
            || portreg_authority::log::default_key_path(path),
            FilePath::to_owned,
        );
        store.use_signing_key(&key)?;
        let service = AuthorityService {
            tree: store.shared_tree(),
            log_key: store.log_key()?,
            signed: Arc::default(),
            store: Arc::new(Mutex::new(store)),
            limiter: Limiter {
                limit,
                buckets: Mutex::new(HashMap::new()),
            },
            sessions: Mutex::new(HashMap::new()),
            secure: false,
        };
        // Refused at start, as before every checkpoint, when the log does not verify.
        if let Ok(store) = service.store.lock() {
            store.sync_log()?;
        }
        Ok(service)
    }

    /// The checkpoint signed last, without cosignatures, if one is.
    pub fn checkpoint(&self) -> Option<String> {
        self.signed().checkpoint
    }

    /// Publishes `checkpoint` with the witnesses' cosignature lines appended, while it is
    /// the one signed last.
    pub fn set_cosigned(&self, checkpoint: &str, cosignatures: &str) {
        if let Ok(mut signed) = self.signed.lock() {
            signed.cosigned = Some((checkpoint.to_owned(), format!("{checkpoint}{cosignatures}")));
        }
    }

    /// The log's tree as the server verified it.
    pub fn tree(&self) -> &portreg_authority::SharedTree {
        &self.tree
    }

    /// The log as last checked: its checkpoint, or why none is signed.
    pub(crate) fn signed(&self) -> Signed {
        self.signed
            .lock()
            .map(|signed| signed.clone())
            .unwrap_or_default()
    }

    /// The address clients reach the server at: with https, the session cookie is
    /// `__Host-` prefixed and `Secure`.
    pub fn set_public_url(&mut self, url: &str) {
        self.secure = url.to_ascii_lowercase().starts_with("https://");
    }

    /// The session cookie's name.
    pub(crate) fn cookie_name(&self) -> &'static str {
        if self.secure {
            SECURE_SESSION_COOKIE
        } else {
            SESSION_COOKIE
        }
    }

    /// The session cookie's `Secure` attribute, when it has one.
    pub(crate) fn cookie_secure(&self) -> &'static str {
        if self.secure {
            "; Secure"
        } else {
            ""
        }
    }

    /// The registry as the store publishes it, compiled for serving, its checkpoint
    /// signed.
    pub fn snapshot(&self) -> Result<Snapshot, AuthorityError> {
        let store = self
            .store
            .lock()
            .map_err(|_| AuthorityError::Refused("the store's lock is poisoned".into()))?;
        let snapshot = snapshot_of(&store, &self.signed)?;
        sign(&store, &self.signed);
        Ok(snapshot)
    }

    /// Runs `work` on the store on a blocking thread, one at a time: after the store's
    /// log is checked up to its last entry (an entry the server cannot verify stops every
    /// change and every checkpoint, 503), and followed by a checkpoint signed anew.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Authority) -> Result<T, AuthorityError> + Send + 'static,
    ) -> Result<T, Problem> {
        let store = self.store.clone();
        let signed = self.signed.clone();
        tokio::task::spawn_blocking(move || {
            let mut store = store
                .lock()
                .map_err(|_| AuthorityError::Refused("the store's lock is poisoned".into()))?;
            if let Err(error) = store.sync_log() {
                refuse(&signed, &error);
                return Err(error);
            }
            let outcome = work(&mut store);
            sign(&store, &signed);
            outcome
        })
        .await
        .map_err(|_| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the store's worker failed",
            )
        })?
        .map_err(problem)
    }

    /// Reads the store on a blocking thread.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Authority) -> Result<T, AuthorityError> + Send + 'static,
    ) -> Result<T, Problem> {
        self.run(move |store| work(store)).await
    }

    /// The identity of a bearer token, if the request carries a valid one.
    pub async fn identify_bearer(&self, headers: &HeaderMap) -> Result<Identity, Problem> {
        let token =
            bearer(headers)?.ok_or_else(|| unauthorized("give Authorization: Bearer TOKEN"))?;
        self.identify_token(token).await
    }

    /// The identity holding `token`.
    pub(crate) async fn identify_token(&self, token: String) -> Result<Identity, Problem> {
        self.run(move |store| store.authenticate(&token)).await
    }

    /// Who is calling: a bearer token, or a session cookie (with its CSRF token on
    /// anything but a read). Rate-limited per identity, and per address for callers
    /// that fail to prove one.
    async fn caller(&self, parts: &Parts) -> Result<Identity, Problem> {
        let token = match bearer(&parts.headers)? {
            Some(token) => Some(token),
            None => self.session_token(parts)?,
        };
        let Some(token) = token else {
            self.limit(&anonymous(parts))?;
            return Err(unauthorized(
                "give Authorization: Bearer TOKEN (or sign in on the web page)",
            ));
        };
        match self.identify_token(token).await {
            Ok(identity) => {
                self.limit(&identity.name)?;
                Ok(identity)
            }
            Err(refused) => {
                self.limit(&anonymous(parts))?;
                Err(refused)
            }
        }
    }

    /// The caller, if it proves an identity; nobody otherwise (for public reads).
    pub(crate) async fn optional_caller(&self, parts: &Parts) -> Result<Option<Identity>, Problem> {
        let has_credentials = parts.headers.contains_key(header::AUTHORIZATION)
            || self.session_id(&parts.headers).is_some();
        if has_credentials {
            self.caller(parts).await.map(Some)
        } else {
            Ok(None)
        }
    }

    fn limit(&self, key: &str) -> Result<(), Problem> {
        self.limiter.take(key).map_err(|wait| {
            let seconds = u32::try_from(wait.as_secs() + 1).unwrap_or(u32::MAX);
            Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("too many requests from {key}: try again in {seconds} s"),
            )
            .with_retry_after(seconds)
        })
    }

    /// The token of the request's session; a session's non-read without its CSRF token
    /// is refused.
    fn session_token(&self, parts: &Parts) -> Result<Option<String>, Problem> {
        let Some(id) = self.session_id(&parts.headers) else {
            return Ok(None);
        };
        let session = {
            let Ok(mut sessions) = self.sessions.lock() else {
                return Ok(None);
            };
            let now = Instant::now();
            sessions.retain(|_, s| s.until > now);
            sessions.get(&id).cloned()
        };
        let Some(session) = session else {
            return Err(unauthorized("the session ended: sign in again"));
        };
        if parts.method != Method::GET && parts.method != Method::HEAD {
            let sent = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !constant_time_eq(sent.as_bytes(), session.csrf.as_bytes()) {
                return Err(Problem::new(
                    StatusCode::FORBIDDEN,
                    "the form's CSRF token is missing or wrong: reload the page",
                ));
            }
        }
        Ok(Some(session.token))
    }

    /// Starts a session for a valid token; returns its id and CSRF token.
    pub(crate) async fn sign_in(
        &self,
        parts: &Parts,
        token: String,
    ) -> Result<(String, Session, Identity), Problem> {
        self.limit(&anonymous(parts))?;
        let identity = self.identify_token(token.clone()).await?;
        let session = Session {
            token,
            csrf: random_hex()?,
            until: Instant::now() + SESSION_LIFETIME,
        };
        let id = random_hex()?;
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.insert(id.clone(), session.clone());
        }
        Ok((id, session, identity))
    }

    /// The session of a request (for its CSRF token), if any.
    pub(crate) fn session(&self, headers: &HeaderMap) -> Option<Session> {
        let id = self.session_id(headers)?;
        let sessions = self.sessions.lock().ok()?;
        sessions
            .get(&id)
            .filter(|s| s.until > Instant::now())
            .cloned()
    }

    /// Ends a session: asked with its CSRF token, as every change is.
    pub(crate) fn sign_out(&self, parts: &Parts) -> Result<(), Problem> {
        self.session_token(parts)?;
        if let (Some(id), Ok(mut sessions)) =
            (self.session_id(&parts.headers), self.sessions.lock())
        {
            sessions.remove(&id);
        }
        Ok(())
    }

    /// The session a request names: its one cookie of the name this server sets (the
    /// `__Host-` one behind https, never the plain one then). Two cookies of that name
    /// (one tossed in by another site of the domain) name none.
    fn session_id(&self, headers: &HeaderMap) -> Option<String> {
        let wanted = self.cookie_name();
        let mut values = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .filter(|(name, _)| *name == wanted)
            .map(|(_, value)| value.to_owned());
        let first = values.next()?;
        values.all(|other| other == first).then_some(first)
    }
}

/// The rate limit's key for a caller without a valid token: its address.
fn anonymous(parts: &Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or("anonymous".to_owned(), |info| {
            format!("address {}", info.0.ip())
        })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Signs a checkpoint of the store's log with the served registry's digest, or records
/// why it cannot be.
/// A checkpoint of the same log and registry signed less than half an interval ago is
/// kept: a read signs nothing.
fn sign(store: &Authority, signed: &Mutex<Signed>) {
    let size = match store.log_size() {
        Ok(size) => size,
        Err(error) => return refuse(signed, &error),
    };
    let (registry, fresh) = signed.lock().map_or((None, false), |s| {
        let fresh = s.checkpoint.is_some()
            && s.signed_for.is_some_and(|(n, r, at)| {
                n == size && r == s.registry && at.elapsed() < CHECKPOINT_INTERVAL / 2
            });
        (s.registry, fresh)
    });
    if fresh {
        return;
    }
    match store.checkpoint(registry) {
        Ok(checkpoint) => {
            if let Ok(mut signed) = signed.lock() {
                signed.checkpoint = checkpoint;
                signed.refused = None;
                signed.signed_for = Some((size, registry, Instant::now()));
            }
        }
        Err(error) => refuse(signed, &error),
    }
}

/// The log does not verify: no checkpoint is signed until it does.
fn refuse(signed: &Mutex<Signed>, error: &AuthorityError) {
    tracing::error!(%error, "the authority's log does not verify: no checkpoint is signed and no change is made");
    if let Ok(mut signed) = signed.lock() {
        signed.checkpoint = None;
        signed.signed_for = None;
        signed.refused = Some(error.to_string());
    }
}

/// The registry the store publishes, compiled, named by its audit head; its digest is
/// what the next checkpoint signs.
fn snapshot_of(store: &Authority, signed: &Mutex<Signed>) -> Result<Snapshot, AuthorityError> {
    let path = store.path();
    let registry = store.published()?;
    let head = registry.meta.audit_head.clone().unwrap_or_default();
    let chain = head.split_whitespace().next().unwrap_or("");
    let (id, hash) = chain.split_once(':').unwrap_or(("0", ""));
    let provenance = Provenance {
        source: format!("authority {}", path.display()),
        version: format!("audit row {id}"),
        sha256: hash.to_owned(),
    };
    let compiled = CompiledRegistry::compile(&registry, &provenance);
    let snapshot = Snapshot::new(
        Box::new(Box::new(compiled)),
        format!("authority ({})", path.display()),
    );
    let digest: [u8; 32] = sha2::Sha256::digest(&snapshot.compiled().0).into();
    if let Ok(mut signed) = signed.lock() {
        signed.registry = Some(digest);
    }
    Ok(snapshot)
}

fn bearer(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    // The scheme's name is case-insensitive (RFC 7235).
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized("the Authorization header must be `Bearer TOKEN`"))?;
    Ok(Some(token.to_owned()))
}

fn unauthorized(detail: &str) -> Problem {
    Problem::new(StatusCode::UNAUTHORIZED, detail).with_challenge()
}

/// The problem an authority error is to a client.
pub(crate) fn problem(error: AuthorityError) -> Problem {
    let detail = error.to_string();
    match error {
        AuthorityError::Invalid { field, .. } | AuthorityError::Taken { field, .. } => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail).with_field(field)
        }
        AuthorityError::Refused(_) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail),
        AuthorityError::Forbidden(_) => Problem::new(StatusCode::FORBIDDEN, detail),
        AuthorityError::Unauthenticated(_) => unauthorized(&detail),
        AuthorityError::Conflict(_) => Problem::new(StatusCode::CONFLICT, detail),
        AuthorityError::NotFound(_) => Problem::not_found(detail),
        AuthorityError::Tampered(_) => Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail),
        AuthorityError::Store { .. }
        | AuthorityError::DamagedRecord(_)
        | AuthorityError::Database(_) => {
            tracing::error!(error = %detail, "the authority's store failed");
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the authority's store failed; the change was not made",
            )
        }
    }
}

/// A JSON body: `application/json` (else 415), at most [`MAX_BODY`] bytes (else 413),
/// well-formed (else 400), and of the documented shape, unknown fields refused (else 422
/// naming the field).
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
        if !json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                let status = rejection.status();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::new(status, format!("the body is over {MAX_BODY} bytes"))
                } else {
                    Problem::bad_request(format!(
                        "the body could not be read: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        let mut deserializer = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Problem::bad_request(format!("the body is not JSON: {inner}"));
            }
            let message = inner.to_string();
            // An unknown or missing field is named in the message, not in the path.
            let field = message
                .split('`')
                .nth(1)
                .filter(|_| {
                    message.starts_with("unknown field") || message.starts_with("missing field")
                })
                .map(str::to_owned)
                .unwrap_or(path);
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("{field}: {message}"),
            )
            .with_field(&field)
        })?;
        deserializer
            .end()
            .map_err(|e| Problem::bad_request(format!("the body is not one JSON value: {e}")))?;
        Ok(JsonBody(value))
    }
}

/// A port, or a range `LO-HI`, as text.
const PORT_TEXT: &str = "^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})(-(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?$";
/// Transports as text: `tcp`, `tcp,udp`.
const TRANSPORT_TEXT: &str = "^(tcp|udp|sctp|dccp)(,(tcp|udp|sctp|dccp))*$";

/// The schema of a transport field: `"tcp"`, `"tcp,udp"` or `["tcp", "udp"]`; `null` too
/// when `nullable`.
fn transport_schema(nullable: bool) -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    let mut one_of = OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(TRANSPORT_TEXT)),
        )
        .item(
            ArrayBuilder::new()
                .items(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["tcp", "udp", "sctp", "dccp"])),
                )
                .min_items(Some(1)),
        )
        .examples([json!("tcp")]);
    if nullable {
        one_of = one_of.item(ObjectBuilder::new().schema_type(Type::Null));
    }
    one_of.into()
}

/// The schema of a port field: `40403`, `"40403"` or `"40403-40405"`, or `null`.
fn port_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(65_535)),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(PORT_TEXT)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .examples([json!(40403)])
        .into()
}

fn required_transport_schema() -> utoipa::openapi::Schema {
    transport_schema(false)
}

fn nullable_transport_schema() -> utoipa::openapi::Schema {
    transport_schema(true)
}

/// Transports as one string (`"tcp"`, `"tcp,udp"`) or a list.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum TransportField {
    /// `"tcp"` or `"tcp,udp"`.
    Text(String),
    /// `["tcp", "udp"]`.
    List(Vec<String>),
}

impl TransportField {
    /// The transports named.
    fn transports(self) -> Result<Vec<Transport>, Problem> {
        let names: Vec<String> = match self {
            TransportField::Text(text) => text.split(',').map(|t| t.trim().to_owned()).collect(),
            TransportField::List(list) => list,
        };
        names
            .iter()
            .map(|name| {
                Transport::REGISTRY
                    .into_iter()
                    .find(|t| t.as_str().eq_ignore_ascii_case(name))
                    .ok_or_else(|| {
                        invalid(
                            "transport",
                            format!("transport: {name:?} is not tcp, udp, sctp or dccp"),
                        )
                    })
            })
            .collect()
    }
}

/// A port (`40403`) or a range (`"40403-40405"`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PortField {
    /// One port.
    Number(u16),
    /// A port or a range, as text.
    Text(String),
}

/// A new request: `name`, `transport`, `description`, `assignee` and `contact` needed.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    /// The service name (RFC 6335).
    #[schema(example = "billing-api")]
    pub name: String,
    /// `tcp`, `udp`, `sctp`, `dccp`: one, comma-separated, or a list.
    #[schema(schema_with = required_transport_schema)]
    pub transport: TransportField,
    /// A port or a range `LO-HI`; absent for a name-only request.
    #[schema(schema_with = port_schema)]
    pub port: Option<PortField>,
    /// Let the authority pick a free port in `range`.
    pub any_port: Option<bool>,
    /// Where `any_port` picks: `user` (default), `system` or `LO-HI`.
    #[schema(
        pattern = "^(user|registered|system|well-known|(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})(-(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?)$"
    )]
    pub range: Option<String>,
    /// What the service does.
    pub description: String,
    /// Who the assignment is to.
    pub assignee: String,
    /// Who to contact about it.
    pub contact: String,
    /// A reference: RFC6335, a URI, a draft.
    pub reference: Option<String>,
    /// DNS-SD TXT keys.
    pub txt_keys: Option<String>,
    /// For a System port: `ietf-review` or `iesg-approval`.
    pub procedure: Option<String>,
    /// Take a Reserved port again (administrators only).
    pub reuse: Option<bool>,
}

impl From<NewRequestBody> for RequestFields {
    fn from(body: NewRequestBody) -> Self {
        RequestFields {
            name: Some(body.name),
            transport: Some(body.transport),
            port: body.port,
            any_port: body.any_port,
            range: body.range,
            description: Some(body.description),
            assignee: Some(body.assignee),
            contact: Some(body.contact),
            reference: body.reference,
            txt_keys: body.txt_keys,
            procedure: body.procedure,
            reuse: body.reuse,
        }
    }
}

/// A request's fields as amended (`PATCH`): the fields given replace the request's.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestFields {
    /// The service name (RFC 6335).
    #[schema(example = "billing-api")]
    pub name: Option<String>,
    /// `tcp`, `udp`, `sctp`, `dccp`: one, comma-separated, or a list.
    #[schema(schema_with = nullable_transport_schema)]
    pub transport: Option<TransportField>,
    /// A port or a range `LO-HI`.
    #[schema(schema_with = port_schema)]
    pub port: Option<PortField>,
    /// Let the authority pick a free port in `range`.
    pub any_port: Option<bool>,
    /// Where `any_port` picks: `user` (default), `system` or `LO-HI`.
    #[schema(
        pattern = "^(user|registered|system|well-known|(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})(-(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?)$"
    )]
    pub range: Option<String>,
    /// What the service does.
    pub description: Option<String>,
    /// Who the assignment is to.
    pub assignee: Option<String>,
    /// Who to contact about it.
    pub contact: Option<String>,
    /// A reference: RFC6335, a URI, a draft.
    pub reference: Option<String>,
    /// DNS-SD TXT keys.
    pub txt_keys: Option<String>,
    /// For a System port: `ietf-review` or `iesg-approval`.
    pub procedure: Option<String>,
    /// Take a Reserved port again (administrators only).
    pub reuse: Option<bool>,
}

fn invalid(field: &str, detail: String) -> Problem {
    Problem::new(StatusCode::UNPROCESSABLE_ENTITY, detail).with_field(field)
}

impl RequestFields {
    /// The request these fields make over `base` (an empty request, or the one amended).
    fn apply(self, mut base: NewRequest) -> Result<NewRequest, Problem> {
        base.name = self.name.unwrap_or(base.name);
        base.description = self.description.unwrap_or(base.description);
        base.assignee = self.assignee.unwrap_or(base.assignee);
        base.contact = self.contact.unwrap_or(base.contact);
        if let Some(field) = self.transport {
            base.transports = field.transports()?;
        }
        let port_given = self.port.is_some();
        if let Some(port) = self.port {
            let span = match port {
                PortField::Number(n) => Some(PortSpan::single(n)),
                PortField::Text(text) => text.trim().parse::<PortSpan>().ok(),
            };
            base.port = Some(span.ok_or_else(|| {
                invalid(
                    "port",
                    "port: expected a port 0-65535 or a range LO-HI".into(),
                )
            })?);
            base.any_port = false;
        }
        if let Some(any) = self.any_port {
            // Asked alone (an amendment), any port replaces the port asked before; asked
            // with a port, the store refuses the two together.
            if any && !port_given {
                base.port = None;
            }
            base.any_port = any;
        }
        if let Some(range) = self.range {
            base.range = Some(RangeClass::parse_range(&range).ok_or_else(|| {
                invalid(
                    "range",
                    format!("range: {range:?} is not user, system or LO-HI"),
                )
            })?);
        }
        base.reference = self.reference.or(base.reference);
        base.txt_keys = self.txt_keys.or(base.txt_keys);
        base.procedure = self.procedure.or(base.procedure);
        base.reuse = self.reuse.unwrap_or(base.reuse);
        Ok(base)
    }
}

/// A review.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewBody {
    /// `approve`, `deny` or `changes`.
    pub decision: Decision,
    /// Why, for the requester and the history.
    #[schema(max_length = 1000)]
    pub comment: Option<String>,
    /// The version of the request decided on (the request's `version`, also its ETag
    /// `"vN"`, which `If-Match` may name instead); without either, the request as first
    /// filed. A request amended since is 409.
    #[schema(minimum = 1)]
    pub version: Option<i64>,
}

/// The version an `If-Match: "vN"` names.
fn if_match_version(parts: &Parts) -> Result<Option<i64>, Problem> {
    let Some(value) = parts.headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.trim()
                .strip_prefix("\"v")?
                .strip_suffix('"')?
                .parse()
                .ok()
        })
        .filter(|v: &i64| *v >= 1)
        .map(Some)
        .ok_or_else(|| Problem::bad_request("If-Match: expected a request's ETag, \"vN\""))
}

/// A request's answer, with its version as its ETag.
fn request_answer(request: &portreg_authority::RequestRecord, body: Value) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(tag) = HeaderValue::from_str(&format!("\"v{}\"", request.version)) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    no_store(response)
}

/// A new identity.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserBody {
    /// Its name: letters, digits, `-`, `_`, `.`.
    #[schema(pattern = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", example = "ada")]
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Its address.
    #[schema(max_length = 200)]
    pub email: Option<String>,
    /// When its token stops working (`YYYY-MM-DD`, midnight UTC).
    #[schema(
        pattern = "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        example = "2027-01-31"
    )]
    pub expires: Option<String>,
}

/// `?state=pending`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only requests in this state.
    #[param(pattern = "^(pending|approved|denied|changes-requested|withdrawn)$")]
    pub state: Option<String>,
    /// Only requests with a greater id (the last id of the page before).
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// At most this many requests (1 to 1000; all when not given).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// `?subject=&since=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryParams {
    /// A service name or a port.
    pub subject: Option<String>,
    /// Only since this date, `YYYY-MM-DD`.
    #[param(
        pattern = "^([0-9]{3}[1-9]|[0-9]{2}[1-9][0-9]|[0-9][1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$",
        example = "2026-01-31"
    )]
    pub since: Option<String>,
}

type Answer = Result<Response, Problem>;

/// What a route that takes a JSON body may answer besides its own statuses (for the
/// OpenAPI document).
#[derive(utoipa::IntoResponses)]
pub enum BodyProblems {
    /// The body is not well-formed JSON.
    #[response(status = 400, content_type = "application/problem+json")]
    BadRequest(Problem),
    /// No token, or a bad, expired or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// The body is over 16 KiB.
    #[response(status = 413, content_type = "application/problem+json")]
    TooLarge(Problem),
    /// The body is not `application/json`.
    #[response(status = 415, content_type = "application/problem+json")]
    NotJson(Problem),
    /// A field breaks a rule, or is unknown or missing; `field` names it.
    #[response(status = 422, content_type = "application/problem+json")]
    Invalid(Problem),
    /// Over the identity's rate limit; `Retry-After` says when to ask again.
    #[response(status = 429, content_type = "application/problem+json")]
    TooMany(Problem),
}

/// What every route that needs an identity may answer besides its own statuses.
#[derive(utoipa::IntoResponses)]
pub enum CallerProblems {
    /// No token, or a bad, expired or revoked one.
    #[response(status = 401, content_type = "application/problem+json")]
    Unauthorized(Problem),
    /// Over the identity's rate limit; `Retry-After` says when to ask again.
    #[response(status = 429, content_type = "application/problem+json")]
    TooMany(Problem),
}

/// The server's authority, or a 404 where it runs none.
pub(crate) fn service(state: &AppState) -> Result<&AuthorityService, Problem> {
    state
        .authority
        .as_ref()
        .ok_or_else(|| Problem::not_found("this server runs no authority (serve --authority DB)"))
}

/// An answer for its caller alone: never stored by a cache.
pub(crate) fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn request_id(id: Result<Path<String>, PathRejection>) -> Result<i64, Problem> {
    let Path(id) = id.map_err(|e| Problem::bad_request(format!("bad path: {}", e.body_text())))?;
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| Problem::not_found(format!("no request {id:?}")))
}

/// Makes a change that touches the registry, then serves the registry as it now stands
/// before answering.
async fn change_registry<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce(&mut Authority, &Actor) -> Result<T, AuthorityError> + Send + 'static,
    actor: Actor,
    touches: impl Fn(&T) -> bool + Send + 'static,
) -> Result<T, Problem> {
    let authority = service(state)?;
    let served = state.clone();
    let signed = authority.signed.clone();
    authority
        .run(move |store| {
            let value = work(store, &actor)?;
            // Swapped while the store is held, so that registries are served in the
            // order their changes were made. The change is made whatever happens here.
            if touches(&value) {
                match snapshot_of(store, &signed) {
                    Ok(snapshot) => served.swap(snapshot),
                    Err(error) => tracing::error!(%error, "the changed registry could not be compiled; the one before is served"),
                }
            }
            Ok(value)
        })
        .await
}

/// File a request.
#[utoipa::path(post, path = "/v1/requests", request_body = NewRequestBody, security(("bearer" = [])),
    responses((status = 201, description = "Filed: the request, `pending`", body = Value),
        (status = 403, description = "`reuse` without the admin role", body = Problem, content_type = "application/problem+json"),
        BodyProblems))]
pub async fn submit(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    JsonBody(body): JsonBody<NewRequestBody>,
) -> Answer {
    let authority = service(&state)?;
    let actor = Actor::User(authority.caller(&parts).await?);
    let request = RequestFields::from(body).apply(NewRequest::default())?;
    let filed = authority
        .run(move |store| {
            let id = store.request(&request, &actor)?;
            store.request_by_id(id, &actor)
        })
        .await?;
    let location = format!("/v1/requests/{}", filed.id);
    let mut response = (StatusCode::CREATED, Json(filed.to_json())).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(no_store(response))
}

/// The requests the caller may see: every one for an expert, its own for a requester.
#[utoipa::path(get, path = "/v1/requests", params(ListParams), security(("bearer" = [])),
    responses((status = 200, description = "Requests, oldest first", body = [Value]),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        CallerProblems))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    query: Result<Query<ListParams>, QueryRejection>,
) -> Answer {
    let authority = service(&state)?;
    let Query(query) =
        query.map_err(|e| Problem::bad_request(format!("bad query string: {}", e.body_text())))?;
    let wanted = match query.state.as_deref() {
        None => None,
        Some(text) => Some(RequestState::parse(text).ok_or_else(|| {
            Problem::bad_request(format!(
                "state {text:?}: expected pending, approved, denied, changes-requested or withdrawn"
            ))
        })?),
    };
    if query
        .limit
        .is_some_and(|limit| !(1..=1000).contains(&limit))
    {
        return Err(Problem::bad_request("limit: expected 1 to 1000"));
    }
    if query.after.is_some_and(|after| after < 0) {
        return Err(Problem::bad_request("after: expected an id, 0 or more"));
    }
    let actor = Actor::User(authority.caller(&parts).await?);
    let requests = authority
        .run(move |store| store.requests(wanted, &actor))
        .await?;
    let after = query.after.unwrap_or(0);
    let limit = query.limit.map_or(usize::MAX, |l| l as usize);
    let body: Vec<Value> = requests
        .iter()
        .filter(|r| r.id > after)
        .take(limit)
        .map(|r| r.to_json())
        .collect();
    Ok(no_store(Json(body).into_response()))
}

/// One request (its requester's, or any for an expert).
#[utoipa::path(get, path = "/v1/requests/{id}", params(("id" = i64, Path, description = "The request's id", minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = Value),
        (status = 404, description = "No such request, or another's", body = Problem, content_type = "application/problem+json"),
        CallerProblems))]
pub async fn show(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let authority = service(&state)?;
    let id = request_id(id)?;
    let actor = Actor::User(authority.caller(&parts).await?);
    let filed = authority
        .run(move |store| store.request_by_id(id, &actor))
        .await?;
    Ok(request_answer(&filed, filed.to_json()))
}

/// Amend a request (its requester, while it is pending or sent back): the fields given
/// replace the request's, checked as when filed; it goes back to `pending`.
#[utoipa::path(patch, path = "/v1/requests/{id}", params(("id" = i64, Path, minimum = 1)), request_body = RequestFields, security(("bearer" = [])),
    responses((status = 200, body = Value),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The request is decided or withdrawn", body = Problem, content_type = "application/problem+json"),
        BodyProblems))]
pub async fn amend(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    id: Result<Path<String>, PathRejection>,
    JsonBody(fields): JsonBody<RequestFields>,
) -> Answer {
    let authority = service(&state)?;
    let id = request_id(id)?;
    let actor = Actor::User(authority.caller(&parts).await?);
    let current = {
        let actor = actor.clone();
        authority
            .run(move |store| store.request_by_id(id, &actor))
            .await?
    };
    let request = fields.apply(current.request)?;
    let amended = authority
        .run(move |store| store.amend(id, &request, &actor))
        .await?;
    Ok(request_answer(&amended, amended.to_json()))
}

/// Decide a pending request (experts; never one's own).
#[utoipa::path(post, path = "/v1/requests/{id}/review", params(("id" = i64, Path, minimum = 1), ("If-Match" = Option<String>, Header, description = "The request's ETag, `\"vN\"`: the version decided on", example = "\"v1\"")), request_body = ReviewBody, security(("bearer" = [])),
    responses((status = 200, description = "The request in its new state (`approved`, `denied`, `changes-requested`) and the records created", body = Value),
        (status = 403, description = "Not an expert, or the caller's own request", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending, amended since the version decided on, or its name or port was taken since", body = Problem, content_type = "application/problem+json"),
        BodyProblems))]
pub async fn review(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    id: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<ReviewBody>,
) -> Answer {
    let authority = service(&state)?;
    let id = request_id(id)?;
    let decision = body.decision;
    let actor = Actor::User(authority.caller(&parts).await?);
    let comment = body.comment;
    let version = match (body.version, if_match_version(&parts)?) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid(
                "version",
                format!("version {a} and If-Match \"v{b}\" name two versions"),
            ))
        }
        (given, matched) => given.or(matched),
    };
    let (decided, created) = change_registry(
        &state,
        move |store, actor| store.review(id, decision, comment.as_deref(), version, actor),
        actor,
        |(_, created)| !created.is_empty(),
    )
    .await?;
    let mut body = decided.to_json();
    body["records"] = Value::Array(
        created
            .iter()
            .map(portreg::format::record_to_json)
            .collect(),
    );
    Ok(request_answer(&decided, body))
}

/// Withdraw an open request (its requester, or an admin).
#[utoipa::path(post, path = "/v1/requests/{id}/withdraw", params(("id" = i64, Path, minimum = 1)), security(("bearer" = [])),
    responses((status = 200, body = Value),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        CallerProblems))]
pub async fn withdraw(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    id: Result<Path<String>, PathRejection>,
) -> Answer {
    let authority = service(&state)?;
    let id = request_id(id)?;
    let actor = Actor::User(authority.caller(&parts).await?);
    let withdrawn = authority
        .run(move |store| store.withdraw(id, &actor))
        .await?;
    Ok(no_store(Json(withdrawn.to_json()).into_response()))
}

/// An administrator's change to the records of a name: made, served at once, answered
/// with how many records changed.
async fn change_records(
    state: Arc<AppState>,
    parts: Parts,
    name: Result<Path<String>, PathRejection>,
    work: impl FnOnce(&mut Authority, &str, &Actor) -> Result<usize, AuthorityError> + Send + 'static,
) -> Answer {
    let authority = service(&state)?;
    let Path(name) =
        name.map_err(|e| Problem::bad_request(format!("bad path: {}", e.body_text())))?;
    let actor = Actor::User(authority.caller(&parts).await?);
    let count = change_registry(
        &state,
        move |store, actor| work(store, &name, actor),
        actor,
        |_| true,
    )
    .await?;
    Ok(no_store(Json(json!({"records": count})).into_response()))
}

/// A de-assignment.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeassignBody {
    /// Why.
    #[schema(max_length = 1000)]
    pub reason: Option<String>,
}

/// A revocation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeBody {
    /// Why.
    #[schema(max_length = 1000)]
    pub reason: String,
}

/// A transfer.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferBody {
    /// The new assignee and contact.
    #[schema(max_length = 200)]
    pub to: String,
}

/// De-assign a service (or one record, `#ID`): its ports become Reserved (admins).
#[utoipa::path(post, path = "/v1/records/{name}/deassign", params(("name" = String, Path, description = "A service name, or #ID of one record")),
    request_body = DeassignBody, security(("bearer" = [])),
    responses((status = 200, description = "How many records changed", body = Value),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        BodyProblems))]
pub async fn deassign(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    name: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<DeassignBody>,
) -> Answer {
    change_records(state, parts, name, move |store, name, actor| {
        store.deassign(name, body.reason.as_deref(), actor)
    })
    .await
}

/// Revoke a service: de-assign it, with a reason (admins).
#[utoipa::path(post, path = "/v1/records/{name}/revoke", params(("name" = String, Path, description = "A service name, or #ID of one record")),
    request_body = RevokeBody, security(("bearer" = [])),
    responses((status = 200, description = "How many records changed", body = Value),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        BodyProblems))]
pub async fn revoke(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    name: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<RevokeBody>,
) -> Answer {
    change_records(state, parts, name, move |store, name, actor| {
        store.revoke(name, &body.reason, actor)
    })
    .await
}

/// Transfer a service to another person (admins).
#[utoipa::path(post, path = "/v1/records/{name}/transfer", params(("name" = String, Path, description = "A service name")),
    request_body = TransferBody, security(("bearer" = [])),
    responses((status = 200, description = "How many records changed", body = Value),
        (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        BodyProblems))]
pub async fn transfer(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    name: Result<Path<String>, PathRejection>,
    JsonBody(body): JsonBody<TransferBody>,
) -> Answer {
    change_records(state, parts, name, move |store, name, actor| {
        store.transfer(name, &body.to, actor)
    })
    .await
}

/// The identities (admins).
#[utoipa::path(get, path = "/v1/users", security(("bearer" = [])),
    responses((status = 200, body = [Value]),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        CallerProblems))]
pub async fn users(State(state): State<Arc<AppState>>, parts: Parts) -> Answer {
    let authority = service(&state)?;
    let actor = Actor::User(authority.caller(&parts).await?);
    actor
        .require(Role::Admin, "listing identities")
        .map_err(problem)?;
    let users = authority.run(|store| store.users()).await?;
    let body: Vec<Value> = users.iter().map(|u| u.to_json()).collect();
    Ok(no_store(Json(body).into_response()))
}

/// Make an identity (admins); the answer holds its token, shown this once.
#[utoipa::path(post, path = "/v1/users", request_body = UserBody, security(("bearer" = [])),
    responses((status = 201, description = "The identity and its `token`", body = Value),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        BodyProblems))]
pub async fn add_user(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    JsonBody(body): JsonBody<UserBody>,
) -> Answer {
    let authority = service(&state)?;
    let actor = Actor::User(authority.caller(&parts).await?);
    let role = body.role;
    let name = body.name.clone();
    let token = authority
        .run(move |store| {
            store.add_user(
                &body.name,
                role,
                body.email.as_deref(),
                body.expires.as_deref(),
                &actor,
            )
        })
        .await?;
    let answer = json!({"name": name, "role": role.as_str(), "token": token});
    Ok(no_store(
        (StatusCode::CREATED, Json(answer)).into_response(),
    ))
}

/// Revoke an identity (admins).
#[utoipa::path(delete, path = "/v1/users/{name}", params(("name" = String, Path)), security(("bearer" = [])),
    responses((status = 200, body = Value),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        CallerProblems))]
pub async fn revoke_user(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    name: Result<Path<String>, PathRejection>,
) -> Answer {
    let authority = service(&state)?;
    let Path(name) =
        name.map_err(|e| Problem::bad_request(format!("bad path: {}", e.body_text())))?;
    let actor = Actor::User(authority.caller(&parts).await?);
    let revoked = name.clone();
    authority
        .run(move |store| store.revoke_user(&revoked, &actor))
        .await?;
    Ok(no_store(
        Json(json!({"name": name, "revoked": true})).into_response(),
    ))
}

/// The most entries one `/v1/history` answer holds (the oldest first; `since` asks for
/// later ones).
const MAX_HISTORY_ENTRIES: usize = 1_000;

/// The history of a name or a port. Public: the changes to the registry; an expert's
/// token shows every attempt (requests, refusals, identities) too.
#[utoipa::path(get, path = "/v1/history", params(HistoryParams),
    responses((status = 200, description = "Audit rows, oldest first", body = [Value]),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        CallerProblems))]
pub async fn history(
    State(state): State<Arc<AppState>>,
    parts: Parts,
    query: Result<Query<HistoryParams>, QueryRejection>,
) -> Answer {
    let authority = service(&state)?;
    let Query(query) =
        query.map_err(|e| Problem::bad_request(format!("bad query string: {}", e.body_text())))?;
    if let Some(since) = &query.since {
        since
            .parse::<portreg::RegistryDate>()
            .map_err(|_| Problem::bad_request(format!("since {since:?}: expected YYYY-MM-DD")))?;
    }
    let everything = authority
        .optional_caller(&parts)
        .await?
        .is_some_and(|identity| identity.role >= Role::Expert);
    let entries = authority
        .run(move |store| {
            store.history_of(
                query.subject.as_deref(),
                query.since.as_deref(),
                !everything,
                Some(MAX_HISTORY_ENTRIES),
            )
        })
        .await?;
    let body: Vec<Value> = entries.iter().map(|e| e.to_json()).collect();
    Ok(no_store(Json(body).into_response()))
}

/// The authority's routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/requests", post(submit).get(list))
        .route("/v1/requests/{id}", get(show).patch(amend))
        .route("/v1/requests/{id}/review", post(review))
        .route("/v1/requests/{id}/withdraw", post(withdraw))
        .route("/v1/records/{name}/deassign", post(deassign))
        .route("/v1/records/{name}/revoke", post(revoke))
        .route("/v1/records/{name}/transfer", post(transfer))
        .route("/v1/users", get(users).post(add_user))
        .route("/v1/users/{name}", axum::routing::delete(revoke_user))
        .route("/v1/history", get(history))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}
