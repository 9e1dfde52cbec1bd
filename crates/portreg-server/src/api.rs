//! The JSON API, version 1. Every answer comes from the same library calls as the
//! command line's; errors are problem details.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use portreg::format::{record_to_json, JsonRecord};
use portreg::{answer, Query as Lookup};
use portreg::{Info, Machine, NameCheck};
use portreg::{PortSpan, RangeClass, Transport};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::problem::Problem;
use crate::AppState;

type Answer = Result<Response, Problem>;

/// `?transport=tcp,udp&all=true&limit=&cursor=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupParams {
    /// Only these transports, comma-separated.
    pub transport: Option<String>,
    /// With a range, also the Unassigned and Reserved rows.
    pub all: Option<bool>,
    /// At most this many records a page (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Where the page starts: the `cursor` of the previous page's `Link: rel="next"`.
    pub cursor: Option<String>,
}

/// The default and the largest page.
const PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// One page of `items`: at most `limit` from `cursor` on, with a `Link` to the next page
/// when there is more. Only the page (and one item more) is ever built.
fn paged(
    items: impl Iterator<Item = Value>,
    limit: Option<usize>,
    cursor: Option<&str>,
    uri: &axum::http::Uri,
    what: &str,
) -> Answer {
    let limit = limit.unwrap_or(PAGE).clamp(1, MAX_PAGE);
    let offset: usize = match cursor {
        None => 0,
        Some(text) => text.parse().map_err(|_| {
            Problem::bad_request(format!("cursor {text:?}: expected one from a Link header"))
        })?,
    };
    let mut page: Vec<Value> = items.skip(offset).take(limit + 1).collect();
    let more = page.len() > limit;
    page.truncate(limit);
    if page.is_empty() {
        return Err(Problem::not_found(format!("no record for {what}")));
    }
    let mut response = Json(page).into_response();
    if more {
        let query: Vec<String> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|pair| {
                !pair.is_empty() && !pair.starts_with("cursor=") && !pair.starts_with("limit=")
            })
            .map(str::to_owned)
            .chain([
                format!("limit={limit}"),
                format!("cursor={}", offset + limit),
            ])
            .collect();
        let link = format!("<{}?{}>; rel=\"next\"", uri.path(), query.join("&"));
        if let Ok(value) = axum::http::HeaderValue::from_str(&link) {
            response
                .headers_mut()
                .insert(axum::http::header::LINK, value);
        }
    }
    Ok(response)
}

/// `?q=&limit=&transport=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The text to find, literally, in any case.
    pub q: Option<String>,
    /// At most this many results a page (default 20, at most 1000).
    pub limit: Option<usize>,
    /// Where the page starts: the `cursor` of the previous page's `Link: rel="next"`.
    pub cursor: Option<String>,
    /// Only these transports, comma-separated.
    pub transport: Option<String>,
}

/// `?transport=&range=&count=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FreeParams {
    /// Free on every one of these transports (default `tcp,udp`).
    pub transport: Option<String>,
    /// `user` (default), `system`, `dynamic`, or `LO-HI`.
    pub range: Option<String>,
    /// Only the first N free ports.
    pub count: Option<usize>,
    /// Offer ports in the server machine's ephemeral range.
    pub include_ephemeral: Option<bool>,
    /// Offer ports in the server machine's `ip_local_reserved_ports`.
    pub include_kernel_reserved: Option<bool>,
    /// Offer ports something listens on, on the server's machine, now.
    pub include_listening: Option<bool>,
    /// Offer the ports browsers block (tcp).
    pub include_browser_blocked: Option<bool>,
}

/// A span of free ports.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Span {
    /// First port.
    pub port_low: u16,
    /// Last port.
    pub port_high: u16,
}

/// The registry in use.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistryInfo {
    /// `embedded`, `installed (PATH)` or a file.
    pub registry: String,
    /// Where the data came from.
    pub source: String,
    /// The source's version.
    pub version: String,
    /// SHA-256 of the source file(s).
    pub sha256: String,
    /// The registry's date.
    pub updated: Option<String>,
    /// How many records.
    pub records: usize,
    /// How many distinct names and aliases.
    pub names: usize,
    /// How many people.
    pub people: usize,
}

fn transports(text: Option<&str>) -> Result<Vec<Transport>, Problem> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|t| {
            t.trim()
                .parse()
                .map_err(|_| Problem::bad_request(format!("{t:?} is not a transport protocol")))
        })
        .collect()
}

fn params<T: Default>(params: Result<Query<T>, QueryRejection>) -> Result<T, Problem> {
    params
        .map(|Query(p)| p)
        .map_err(|e| Problem::bad_request(format!("bad query string: {}", e.body_text())))
}

fn path(path: Result<Path<String>, PathRejection>) -> Result<String, Problem> {
    path.map(|Path(p)| p)
        .map_err(|e| Problem::bad_request(format!("bad path: {}", e.body_text())))
}

fn with_role(answer: &portreg::Answer) -> Value {
    let mut value = record_to_json(&answer.record);
    if let Value::Object(map) = &mut value {
        map.insert("role".into(), Value::from(answer.role.as_str()));
    }
    value
}

fn found(values: Vec<Value>, what: &str) -> Answer {
    if values.is_empty() {
        return Err(Problem::not_found(format!("no record for {what}")));
    }
    Ok(Json(values).into_response())
}

/// Records on a port or a range.
#[utoipa::path(get, path = "/v1/ports/{ports}", params(("ports" = String, Path, description = "A port (`22`) or a range (`6000-6010`)"), LookupParams),
    responses((status = 200, description = "The records, each with a `role`", body = [JsonRecord]), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn ports(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
    spec: Result<Path<String>, PathRejection>,
    query: Result<Query<LookupParams>, QueryRejection>,
) -> Answer {
    let spec = path(spec)?;
    let query = params(query)?;
    let span: PortSpan = spec
        .parse()
        .map_err(|e| Problem::bad_request(format!("{spec:?}: expected {e}")))?;
    let transports = transports(query.transport.as_deref())?;
    let lookup = Lookup::Ports {
        span,
        transport: None,
    };
    let all = query.all.unwrap_or(false);
    if span.is_single() {
        // One port: its few records, and RFC 6335's Reserved row where none is listed.
        let values = answer(state.registry(), &lookup, &transports, all);
        return paged(
            values.iter().map(with_role),
            query.limit,
            query.cursor.as_deref(),
            &uri,
            &spec,
        );
    }
    let values =
        portreg::answers(state.registry(), &lookup, &transports, all).map(|a| with_role(&a));
    paged(values, query.limit, query.cursor.as_deref(), &uri, &spec)
}

/// Records of a service name.
#[utoipa::path(get, path = "/v1/services/{name}", params(("name" = String, Path, description = "A name, any case; `_ssh._tcp` too"), LookupParams),
    responses((status = 200, description = "The records, each with a `role`", body = [JsonRecord]), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn services(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<LookupParams>, QueryRejection>,
) -> Answer {
    let name = path(name)?;
    let query = params(query)?;
    let lookup: Lookup = name
        .parse()
        .map_err(|e| Problem::bad_request(format!("{e}")))?;
    if matches!(lookup, Lookup::Ports { .. }) {
        return Err(Problem::bad_request(format!(
            "{name:?} is a port: ask /v1/ports/{name}"
        )));
    }
    let transports = transports(query.transport.as_deref())?;
    let values: Vec<Value> = answer(state.registry(), &lookup, &transports, true)
        .iter()
        .map(with_role)
        .collect();
    if values.is_empty() {
        let suggestions = match &lookup {
            Lookup::Name { name, .. } => state.registry().suggest(name, 3),
            Lookup::Ports { .. } => Vec::new(),
        };
        return Err(
            Problem::not_found(format!("no record for {name}")).with_suggestions(suggestions)
        );
    }
    found(values, &name)
}

/// Ranked search over names and descriptions.
#[utoipa::path(get, path = "/v1/search", params(SearchParams),
    responses((status = 200, description = "Records, best first, each with a `match` tier", body = [JsonRecord]), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn search(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
    query: Result<Query<SearchParams>, QueryRejection>,
) -> Answer {
    let query = params(query)?;
    let text = query.q.as_deref().unwrap_or("").trim().to_owned();
    if text.is_empty() {
        return Err(Problem::bad_request("give the text to search for as ?q="));
    }
    let transports = transports(query.transport.as_deref())?;
    // The ranking holds a slot per record (bounded by the registry); only the page is
    // turned into JSON.
    let hits = state.registry().search(&text, &transports, usize::MAX);
    let values = hits.iter().map(|hit| {
        let mut value = record_to_json(&hit.record.to_record());
        if let Value::Object(map) = &mut value {
            map.insert("match".into(), Value::from(hit.tier.as_str()));
        }
        value
    });
    paged(
        values,
        Some(query.limit.unwrap_or(20)),
        query.cursor.as_deref(),
        &uri,
        &format!("{text:?}"),
    )
}

/// Ports free on every given transport. Besides the registry, the live exclusions (the
/// ephemeral range, `ip_local_reserved_ports`, listening sockets) are those of the machine
/// the server runs on: they answer for that machine only.
#[utoipa::path(get, path = "/v1/free", params(FreeParams),
    responses((status = 200, description = "Free ports as compact spans", body = [Span]), (status = 400, body = Problem)))]
pub async fn free(
    State(state): State<Arc<AppState>>,
    query: Result<Query<FreeParams>, QueryRejection>,
) -> Answer {
    let query = params(query)?;
    let range = query.range.as_deref().unwrap_or("user");
    let span = RangeClass::parse_range(range).ok_or_else(|| {
        Problem::bad_request(format!(
            "range {range:?}: expected user, system, dynamic or LO-HI"
        ))
    })?;
    let transports = transports(query.transport.as_deref())?;
    let machine = portreg::Machine::read();
    let exclusions = portreg::Exclusions {
        ephemeral: !query.include_ephemeral.unwrap_or(false),
        kernel_reserved: !query.include_kernel_reserved.unwrap_or(false),
        listening: !query.include_listening.unwrap_or(false),
        browser_blocked: !query.include_browser_blocked.unwrap_or(false),
        popular: false,
    };
    let finder = portreg::FreePorts::new(state.registry(), &transports, Some(&machine), exclusions);
    let spans: Vec<Span> = finder
        .spans(span, query.count)
        .into_iter()
        .map(|s| Span {
            port_low: s.low,
            port_high: s.high,
        })
        .collect();
    Ok(Json(spans).into_response())
}

/// A service name against RFC 6335 and the registry.
#[utoipa::path(get, path = "/v1/check-name/{name}", params(("name" = String, Path, description = "The name to check")),
    responses((status = 200, description = "`{name, valid, free, problems, taken_by}`"), (status = 400, body = Problem)))]
pub async fn check_name(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
) -> Answer {
    let name = path(name)?;
    Ok(Json(NameCheck::run(state.registry(), &name).to_json()).into_response())
}

/// Everything about a port or a name, as `portreg info` shows it.
#[utoipa::path(get, path = "/v1/info/{query}", params(("query" = String, Path, description = "`22`, `22/tcp`, `ssh`, `_ssh._tcp`")),
    responses((status = 200, description = "`{records, ports}`: records with people and links, port facts"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn info(
    State(state): State<Arc<AppState>>,
    subject: Result<Path<String>, PathRejection>,
) -> Answer {
    let subject = path(subject)?;
    let query: Lookup = subject
        .parse()
        .map_err(|e| Problem::bad_request(format!("{e}")))?;
    let info = Info::gather(state.registry(), &query, &[]);
    if info.answers.is_empty() && info.ports.is_empty() {
        return Err(Problem::not_found(format!("no record for {subject}")));
    }
    Ok(Json(info.to_json(state.registry(), &Machine::read())).into_response())
}

/// The registry in use.
#[utoipa::path(get, path = "/v1/registry", responses((status = 200, body = RegistryInfo)))]
pub async fn registry(State(state): State<Arc<AppState>>) -> Json<RegistryInfo> {
    let registry = state.registry();
    let provenance = registry.provenance();
    Json(RegistryInfo {
        registry: state.origin.clone(),
        source: provenance.source,
        version: provenance.version,
        sha256: provenance.sha256,
        updated: registry.updated().map(|d| d.to_string()),
        records: registry.len(),
        names: registry.name_count(),
        people: registry.people_count(),
    })
}

/// Liveness.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "`{\"status\": \"ok\"}`")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}
