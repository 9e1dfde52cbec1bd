//! What the server tells its operators: `/healthz` (the registry's date, a replica's last
//! fetch and staleness) and `/metrics` (Prometheus counters: requests by route and
//! status, the registry's age, a replica's fetches).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::problem::Problem;
use crate::AppState;

/// Requests counted by route (the route's pattern, never the raw path, so that the
/// number of series stays bounded) and status.
/// A counter is found under a shared lock and counted atomically: a request allocates
/// nothing and waits for nobody, except the first of its route and status.
#[derive(Default)]
pub struct Metrics {
    requests: RwLock<HashMap<String, HashMap<u16, AtomicU64>>>,
}

impl Metrics {
    /// Counts one request answered on `route` with `status`.
    pub(crate) fn count(&self, route: &str, status: u16) {
        if let Ok(requests) = self.requests.read() {
            if let Some(counter) = requests
                .get(route)
                .and_then(|by_status| by_status.get(&status))
            {
                counter.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        if let Ok(mut requests) = self.requests.write() {
            requests
                .entry(route.to_owned())
                .or_default()
                .entry(status)
                .or_default()
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Counts every answer under its route.
pub async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    state.metrics.count(route, response.status().as_u16());
    response
}

/// A replica's fetches of the registry it follows.
pub struct FollowStatus {
    /// The URL followed.
    pub source: String,
    /// How often it is fetched.
    pub interval: Duration,
    fetched: Mutex<Fetches>,
    failures: AtomicU64,
    swaps: AtomicU64,
    refusals: AtomicU64,
}

#[derive(Default)]
struct Fetches {
    last_attempt: Option<SystemTime>,
    last_success: Option<SystemTime>,
    last_error: Option<String>,
    /// Why the last registry fetched was refused as not extending the log accepted
    /// before (a rewritten or truncated log, a head not signed by the authority's key):
    /// the replica is unhealthy until a good one comes.
    refused: Option<String>,
}

fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl FollowStatus {
    /// A follower of `source`, fetched every `interval`.
    pub fn new(source: String, interval: Duration) -> Self {
        FollowStatus {
            source,
            interval,
            fetched: Mutex::new(Fetches::default()),
            failures: AtomicU64::new(0),
            swaps: AtomicU64::new(0),
            refusals: AtomicU64::new(0),
        }
    }

    /// A registry refused because its signed head does not extend the log accepted
    /// before, or is not the authority's: counted, and the replica unhealthy until a
    /// registry is accepted again.
    pub fn refused(&self, reason: String) {
        self.refusals.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut fetched) = self.fetched.lock() {
            fetched.refused = Some(reason.clone());
        }
        self.failed(reason);
    }

    /// Why the replica is not healthy: never fetched, or its source's log refused.
    fn unhealthy(&self) -> Option<String> {
        let fetched = self.fetched.lock().ok()?;
        if let Some(refused) = &fetched.refused {
            return Some(format!("the followed log was refused: {refused}"));
        }
        if fetched.last_success.is_none() {
            return Some(match &fetched.last_error {
                Some(error) => format!("no registry fetched from {} yet: {error}", self.source),
                None => format!("no registry fetched from {} yet", self.source),
            });
        }
        None
    }

    /// A fetch that ended well: the registry is current (swapped in or not modified).
    pub fn succeeded(&self, swapped: bool) {
        if swapped {
            self.swaps.fetch_add(1, Ordering::Relaxed);
        }
        if let Ok(mut fetched) = self.fetched.lock() {
            let now = SystemTime::now();
            fetched.last_attempt = Some(now);
            fetched.last_success = Some(now);
            fetched.last_error = None;
            if swapped {
                fetched.refused = None;
            }
        }
    }

    /// A fetch that failed (the source down, or what it sent refused): the last good
    /// registry goes on being served.
    pub fn failed(&self, error: String) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut fetched) = self.fetched.lock() {
            fetched.last_attempt = Some(SystemTime::now());
            fetched.last_error = Some(error);
        }
    }

    fn report(&self) -> Value {
        let Ok(fetched) = self.fetched.lock() else {
            return Value::Null;
        };
        let stale = fetched
            .last_success
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map(|d| d.as_secs());
        json!({
            "source": self.source,
            "interval_seconds": self.interval.as_secs(),
            "last_fetch": fetched.last_attempt.map(portreg::utc_timestamp),
            "last_successful_fetch": fetched.last_success.map(portreg::utc_timestamp),
            "staleness_seconds": stale,
            // Stale: no successful fetch in three intervals.
            "stale": stale.is_none_or(|s| s > 3 * self.interval.as_secs().max(1)),
            "last_error": fetched.last_error,
            "refused": fetched.refused,
            "refusals": self.refusals.load(Ordering::Relaxed),
            "failures": self.failures.load(Ordering::Relaxed),
            "swaps": self.swaps.load(Ordering::Relaxed),
        })
    }
}

/// Liveness, with the registry served and, on a replica, its fetches. A replica that
/// has never fetched its source, or whose source's log was refused, answers 503.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "Alive: the registry's date and size; on a replica, the last fetch and staleness", body = crate::schema::Health), (status = 503, description = "A replica that has fetched nothing yet, or refused its source's log: `status` is `unhealthy`, `reason` says why", body = crate::schema::Health), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    let snapshot = state.snapshot();
    let registry = snapshot.registry();
    let mut body = json!({
        "status": "ok",
        "registry": {
            "origin": snapshot.origin,
            "updated": registry.updated().map(|d| d.to_string()),
            "records": registry.len(),
        },
    });
    let mut status = StatusCode::OK;
    if let Some(refused) = state.authority.as_ref().and_then(|a| a.signed().refused) {
        body["status"] = json!("unhealthy");
        body["reason"] = json!(format!("no checkpoint is signed: {refused}"));
        status = StatusCode::SERVICE_UNAVAILABLE;
    }
    if let Some(follower) = &state.follower {
        body["follow"] = follower.report();
        if let Some(reason) = follower.unhealthy() {
            body["status"] = json!("unhealthy");
            body["reason"] = json!(reason);
            status = StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

/// Prometheus counters: open to clients on the loopback interface, and to any identity
/// of the authority elsewhere (`Authorization: Bearer TOKEN`); refused otherwise.
#[utoipa::path(get, path = "/metrics", security((), ("bearer" = [])), responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"), (status = 401, description = "Asked from another machine without a token", body = Problem, content_type = "application/problem+json")))]
pub async fn metrics(
    State(state): State<Arc<AppState>>,
    ConnectInfo(remote): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if !remote.ip().is_loopback() {
        let allowed = match &state.authority {
            Some(authority) => authority.identify_bearer(&headers).await.is_ok(),
            None => false,
        };
        if !allowed {
            return Problem::new(
                StatusCode::UNAUTHORIZED,
                "/metrics is open on the loopback interface; elsewhere it needs an identity's token",
            )
            .into_response();
        }
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP portreg_http_requests_total Requests answered, by route and status."
    );
    let _ = writeln!(out, "# TYPE portreg_http_requests_total counter");
    if let Ok(requests) = state.metrics.requests.read() {
        let mut rows: Vec<(&String, u16, u64)> = requests
            .iter()
            .flat_map(|(route, by_status)| {
                by_status
                    .iter()
                    .map(move |(status, count)| (route, *status, count.load(Ordering::Relaxed)))
            })
            .collect();
        rows.sort();
        for (route, status, count) in rows {
            let route = route.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "portreg_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
    }
    let snapshot = state.snapshot();
    let registry = snapshot.registry();
    if let Some(updated) = registry.updated() {
        let age = SystemTime::now()
            .duration_since(updated.to_system_time())
            .map_or(0, |d| d.as_secs());
        let _ = writeln!(
            out,
            "# HELP portreg_registry_age_seconds Time since the registry's date."
        );
        let _ = writeln!(out, "# TYPE portreg_registry_age_seconds gauge");
        let _ = writeln!(out, "portreg_registry_age_seconds {age}");
    }
    let _ = writeln!(
        out,
        "# HELP portreg_registry_records Records in the registry served."
    );
    let _ = writeln!(out, "# TYPE portreg_registry_records gauge");
    let _ = writeln!(out, "portreg_registry_records {}", registry.len());
    if let Some(follower) = &state.follower {
        let _ = writeln!(out, "# HELP portreg_follow_fetch_failures_total Fetches of the followed registry that failed or were refused.");
        let _ = writeln!(out, "# TYPE portreg_follow_fetch_failures_total counter");
        let _ = writeln!(
            out,
            "portreg_follow_fetch_failures_total {}",
            follower.failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(out, "# HELP portreg_follow_refusals_total Registries refused because their signed head did not extend the log accepted before, or was not the authority's.");
        let _ = writeln!(out, "# TYPE portreg_follow_refusals_total counter");
        let _ = writeln!(
            out,
            "portreg_follow_refusals_total {}",
            follower.refusals.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP portreg_follow_swaps_total Registries swapped in."
        );
        let _ = writeln!(out, "# TYPE portreg_follow_swaps_total counter");
        let _ = writeln!(
            out,
            "portreg_follow_swaps_total {}",
            follower.swaps.load(Ordering::Relaxed)
        );
        if let Some(success) = follower.fetched.lock().ok().and_then(|f| f.last_success) {
            let _ = writeln!(out, "# HELP portreg_follow_last_success_timestamp_seconds When the last fetch succeeded.");
            let _ = writeln!(
                out,
                "# TYPE portreg_follow_last_success_timestamp_seconds gauge"
            );
            let _ = writeln!(
                out,
                "portreg_follow_last_success_timestamp_seconds {}",
                seconds(success)
            );
        }
    }
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        out,
    )
        .into_response()
}
