//! The JSON API, version 1. Every answer comes from the same library calls as the
//! command line's; errors are problem details.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use portreg::format::record_to_json;
use portreg::{answer, Query as Lookup};
use portreg::{Info, Machine, NameCheck};
use portreg::{PortSpan, RangeClass, Transport};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::history::{AsOfParams, Served};
use crate::problem::Problem;
use crate::AppState;

type Answer = Result<Response, Problem>;

/// `?transport=tcp,udp&all=true&limit=&cursor=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LookupParams {
    /// Only these transports, comma-separated.
    #[param(
        pattern = "^(tcp|udp|sctp|dccp)(,(tcp|udp|sctp|dccp))*$",
        example = "tcp,udp"
    )]
    pub transport: Option<String>,
    /// With a range, also the Unassigned and Reserved rows.
    pub all: Option<bool>,
    /// At most this many records a page (default 100; more than 1000 is 1000).
    #[param(minimum = 0, maximum = 18446744073709551615_u64, example = 100)]
    pub limit: Option<usize>,
    /// Where the page starts: the `cursor` of the previous page's `Link: rel="next"`.
    #[param(pattern = "^[0-9]{1,18}$", example = "100")]
    pub cursor: Option<String>,
    /// The registry as published on this date (the latest snapshot of the history on or
    /// before it, named in the `X-Portreg-As-Of` header).
    #[param(
        pattern = "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])(-(0[1-9]|1[0-9]|2[0-8]))?$",
        example = "2016-06-01"
    )]
    pub as_of: Option<String>,
}

/// `?transport=tcp,udp`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ServiceParams {
    /// Only these transports, comma-separated.
    #[param(
        pattern = "^(tcp|udp|sctp|dccp)(,(tcp|udp|sctp|dccp))*$",
        example = "tcp"
    )]
    pub transport: Option<String>,
    /// The registry as published on this date (the latest snapshot of the history on or
    /// before it, named in the `X-Portreg-As-Of` header).
    #[param(
        pattern = "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])(-(0[1-9]|1[0-9]|2[0-8]))?$",
        example = "2016-06-01"
    )]
    pub as_of: Option<String>,
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
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The text to find, literally, in any case.
    #[param(required = true, pattern = "\\S", example = "sql")]
    pub q: Option<String>,
    /// At most this many results a page (default 20; more than 1000 is 1000).
    #[param(minimum = 0, maximum = 18446744073709551615_u64, example = 20)]
    pub limit: Option<usize>,
    /// Where the page starts: the `cursor` of the previous page's `Link: rel="next"`.
    #[param(pattern = "^[0-9]{1,18}$", example = "20")]
    pub cursor: Option<String>,
    /// Only these transports, comma-separated.
    #[param(
        pattern = "^(tcp|udp|sctp|dccp)(,(tcp|udp|sctp|dccp))*$",
        example = "tcp"
    )]
    pub transport: Option<String>,
    /// The registry as published on this date (the latest snapshot of the history on or
    /// before it, named in the `X-Portreg-As-Of` header).
    #[param(
        pattern = "^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])(-(0[1-9]|1[0-9]|2[0-8]))?$",
        example = "2016-06-01"
    )]
    pub as_of: Option<String>,
}

/// `?transport=&range=&count=`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FreeParams {
    /// Free on every one of these transports (default `tcp,udp`).
    #[param(
        pattern = "^(tcp|udp|sctp|dccp)(,(tcp|udp|sctp|dccp))*$",
        example = "tcp,udp"
    )]
    pub transport: Option<String>,
    /// `user` (default), `system`, `dynamic`, or `LO-HI`.
    #[param(
        pattern = "^(user|registered|system|well-known|dynamic|private|(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})(-(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?)$",
        example = "8000-8999"
    )]
    pub range: Option<String>,
    /// Only the first N free ports.
    #[param(minimum = 0, maximum = 18446744073709551615_u64, example = 10)]
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

/// `?transport=&include_*=` of `/v1/free/explain` and `/v1/free/for`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LiveParams {
    /// Free on every one of these transports (default `tcp,udp`).
    #[param(
        pattern = "^(tcp|udp|sctp|dccp)(,(tcp|udp|sctp|dccp))*$",
        example = "tcp,udp"
    )]
    pub transport: Option<String>,
    /// Offer ports in the server machine's ephemeral range.
    pub include_ephemeral: Option<bool>,
    /// Offer ports in the server machine's `ip_local_reserved_ports`.
    pub include_kernel_reserved: Option<bool>,
    /// Offer ports something listens on, on the server's machine, now.
    pub include_listening: Option<bool>,
    /// Offer the ports browsers block (tcp).
    pub include_browser_blocked: Option<bool>,
}

/// How long what this machine says of its ports (its settings, the sockets listening)
/// is taken as it was read: reading `/proc/net` costs milliseconds, and every `/v1/free`
/// or `/v1/info` would pay them.
const MACHINE_READ_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// What this machine says of its ports, read at most every [`MACHINE_READ_EVERY`].
fn machine_now() -> std::sync::Arc<Machine> {
    type Read = Option<(std::time::Instant, std::sync::Arc<Machine>)>;
    static LAST: std::sync::Mutex<Read> = std::sync::Mutex::new(None);
    let mut last = LAST
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*last {
        Some((at, machine)) if at.elapsed() < MACHINE_READ_EVERY => std::sync::Arc::clone(machine),
        _ => {
            let machine = std::sync::Arc::new(Machine::read().with_listening());
            *last = Some((std::time::Instant::now(), std::sync::Arc::clone(&machine)));
            machine
        }
    }
}

/// The free-port finder over the registry served and the server's machine.
fn finder<'a>(
    snapshot: &'a crate::Snapshot,
    machine: &'a Machine,
    transports: &[Transport],
    include: [Option<bool>; 4],
) -> portreg::FreePorts<'a> {
    let [ephemeral, kernel_reserved, listening, browser_blocked] =
        include.map(|flag| !flag.unwrap_or(false));
    let exclusions = portreg::Exclusions {
        ephemeral,
        kernel_reserved,
        listening,
        browser_blocked,
        popular: false,
    };
    portreg::FreePorts::new(snapshot.registry(), transports, Some(machine), exclusions)
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
    /// Whether the server runs an assignment authority (its queue is at `/queue`).
    pub authority: bool,
}

/// `tcp,udp`: the registry's four transports, as the document's pattern says.
pub(crate) fn transports(text: Option<&str>) -> Result<Vec<Transport>, Problem> {
    let Some(text) = text else {
        return Ok(Vec::new());
    };
    text.split(',')
        .map(|t| {
            Transport::REGISTRY
                .into_iter()
                .find(|known| known.as_str() == t)
                .ok_or_else(|| {
                    Problem::bad_request(format!(
                        "{t:?} is not a transport protocol: tcp, udp, sctp or dccp"
                    ))
                })
        })
        .collect()
}

/// A range written backwards (`9-8`) is the same range.
fn forwards(text: &str) -> String {
    let (subject, rest) = text
        .split_once('/')
        .map_or((text, None), |(s, r)| (s, Some(r)));
    let swapped = subject.split_once('-').and_then(|(low, high)| {
        let (low_port, high_port) = (low.parse::<u16>().ok()?, high.parse::<u16>().ok()?);
        (low_port > high_port).then(|| format!("{high}-{low}"))
    });
    match (swapped, rest) {
        (Some(span), Some(rest)) => format!("{span}/{rest}"),
        (Some(span), None) => span,
        (None, _) => text.to_owned(),
    }
}

pub(crate) fn params<T: Default>(params: Result<Query<T>, QueryRejection>) -> Result<T, Problem> {
    params
        .map(|Query(p)| p)
        .map_err(|e| Problem::bad_request(format!("bad query string: {}", e.body_text())))
}

pub(crate) fn path(path: Result<Path<String>, PathRejection>) -> Result<String, Problem> {
    path.map(|Path(p)| p)
        .map_err(|e| Problem::bad_request(format!("bad path: {}", e.body_text())))
}

fn found(values: Vec<Value>, what: &str) -> Answer {
    if values.is_empty() {
        return Err(Problem::not_found(format!("no record for {what}")));
    }
    Ok(Json(values).into_response())
}

/// Records on a port or a range.
#[utoipa::path(get, path = "/v1/ports/{ports}", params(("ports" = String, Path, description = "A port (`22`) or a range (`6000-6010`)", pattern = "^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})(-(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?$", example = "22"), LookupParams),
    responses((status = 200, description = "The records, each with a `role`; a page of them, with `Link: <...>; rel=\"next\"` when there are more", body = [crate::schema::LookupRecord]), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn ports(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
    spec: Result<Path<String>, PathRejection>,
    query: Result<Query<LookupParams>, QueryRejection>,
) -> Answer {
    let snapshot = state.snapshot();
    let spec = path(spec)?;
    let query = params(query)?;
    let span: PortSpan = forwards(&spec)
        .parse()
        .map_err(|e| Problem::bad_request(format!("{spec:?}: expected {e}")))?;
    let transports = transports(query.transport.as_deref())?;
    let lookup = Lookup::Ports {
        span,
        transport: None,
    };
    let all = query.all.unwrap_or(false);
    let served = Served::pick(snapshot.registry(), query.as_of.as_deref()).await?;
    if span.is_single() {
        // One port: its few records, and RFC 6335's Reserved row where none is listed.
        let values = answer(&served, &lookup, &transports, all);
        return paged(
            values.iter().map(portreg::answer_to_json),
            query.limit,
            query.cursor.as_deref(),
            &uri,
            &spec,
        )
        .map(|response| served.named(response));
    }
    let values =
        portreg::answers(&served, &lookup, &transports, all).map(|a| portreg::answer_to_json(&a));
    paged(values, query.limit, query.cursor.as_deref(), &uri, &spec)
        .map(|response| served.named(response))
}

/// Records of a service name.
#[utoipa::path(get, path = "/v1/services/{name}", params(("name" = String, Path, description = "A name, any case; `_ssh._tcp` too", example = "ssh"), ServiceParams),
    responses((status = 200, description = "The records, each with a `role`", body = [crate::schema::LookupRecord]), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, description = "No record; `suggestions` names the closest names", body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn services(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<ServiceParams>, QueryRejection>,
) -> Answer {
    let snapshot = state.snapshot();
    let name = path(name)?;
    let query = params(query)?;
    // Any text may name a service: what is no name is simply not found.
    let lookup = match name.parse::<Lookup>() {
        Ok(Lookup::Ports { .. }) => {
            return Err(Problem::not_found(format!(
                "no service is named {name:?}; a port is asked of /v1/ports/{name}"
            )))
        }
        Ok(lookup) => lookup,
        Err(_) => return Err(Problem::not_found(format!("no record for {name}"))),
    };
    let transports = transports(query.transport.as_deref())?;
    let served = Served::pick(snapshot.registry(), query.as_of.as_deref()).await?;
    let values: Vec<Value> = answer(&served, &lookup, &transports, true)
        .iter()
        .map(portreg::answer_to_json)
        .collect();
    if values.is_empty() {
        let suggestions = match &lookup {
            Lookup::Name { name, .. } => served.suggest(name, 3),
            Lookup::Ports { .. } => Vec::new(),
        };
        return Err(
            Problem::not_found(format!("no record for {name}")).with_suggestions(suggestions)
        );
    }
    found(values, &name).map(|response| served.named(response))
}

/// Ranked search over names and descriptions.
#[utoipa::path(get, path = "/v1/search", params(SearchParams),
    responses((status = 200, description = "Records, best first, each with a `match` tier; a page of them, with `Link: <...>; rel=\"next\"` when there are more", body = [crate::schema::SearchRecord]), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, description = "Nothing matches; `suggestions` names the closest names", body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn search(
    State(state): State<Arc<AppState>>,
    uri: axum::http::Uri,
    query: Result<Query<SearchParams>, QueryRejection>,
) -> Answer {
    let snapshot = state.snapshot();
    let query = params(query)?;
    let text = query.q.as_deref().unwrap_or("").trim().to_owned();
    if text.is_empty() {
        return Err(Problem::bad_request("give the text to search for as ?q="));
    }
    let transports = transports(query.transport.as_deref())?;
    // The ranking holds a slot per record (bounded by the registry); only the page is
    // turned into JSON.
    let served = Served::pick(snapshot.registry(), query.as_of.as_deref()).await?;
    let hits = served.search(&text, &transports, usize::MAX);
    if hits.is_empty() {
        let suggestions = served.suggest(&text, 3);
        return Err(
            Problem::not_found(format!("nothing matches {text:?}")).with_suggestions(suggestions)
        );
    }
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
    .map(|response| served.named(response))
}

/// Ports free on every given transport. Besides the registry, the live exclusions (the
/// ephemeral range, `ip_local_reserved_ports`, listening sockets) are those of the machine
/// the server runs on: they answer for that machine only.
#[utoipa::path(get, path = "/v1/free", params(FreeParams),
    responses((status = 200, description = "Free ports as compact spans", body = [Span]), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn free(
    State(state): State<Arc<AppState>>,
    query: Result<Query<FreeParams>, QueryRejection>,
) -> Answer {
    let snapshot = state.snapshot();
    let query = params(query)?;
    let range = forwards(query.range.as_deref().unwrap_or("user"));
    let known = range.bytes().all(|b| !b.is_ascii_uppercase());
    let span = RangeClass::parse_range(&range)
        .filter(|_| known)
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "range {range:?}: expected user, system, dynamic or LO-HI"
            ))
        })?;
    let transports = transports(query.transport.as_deref())?;
    let machine = machine_now();
    let include = [
        query.include_ephemeral,
        query.include_kernel_reserved,
        query.include_listening,
        query.include_browser_blocked,
    ];
    let spans: Vec<Span> = finder(&snapshot, &machine, &transports, include)
        .spans(span, query.count)
        .into_iter()
        .map(|s| Span {
            port_low: s.low,
            port_high: s.high,
        })
        .collect();
    Ok(Json(spans).into_response())
}

/// Why a port is or is not offered, as `portreg free --explain` says.
#[utoipa::path(get, path = "/v1/free/explain/{port}", params(("port" = u16, Path, description = "The port", minimum = 0, maximum = 65535, example = 8080), LiveParams),
    responses((status = 200, description = "Whether it is free, and every reason it is not", body = crate::schema::ExplainBody), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn explain(
    State(state): State<Arc<AppState>>,
    port: Result<Path<u16>, PathRejection>,
    query: Result<Query<LiveParams>, QueryRejection>,
) -> Answer {
    let snapshot = state.snapshot();
    let Path(port) =
        port.map_err(|e| Problem::bad_request(format!("bad path: {}", e.body_text())))?;
    let query = params(query)?;
    let transports = transports(query.transport.as_deref())?;
    let machine = machine_now();
    let include = [
        query.include_ephemeral,
        query.include_kernel_reserved,
        query.include_listening,
        query.include_browser_blocked,
    ];
    let reasons = finder(&snapshot, &machine, &transports, include).explain(port);
    Ok(Json(portreg::explain_json(port, &reasons)).into_response())
}

/// One stable port for a service name, as `portreg free --for` picks it: the same on every
/// machine with the same registry; `busy_here` and `next` are about the server's machine.
#[utoipa::path(get, path = "/v1/free/for/{name}", params(("name" = String, Path, description = "The service name", example = "billing-api"), LiveParams),
    responses((status = 200, description = "The stable port, what makes it busy here, the next choice free here", body = crate::schema::StableBody), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn stable(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<LiveParams>, QueryRejection>,
) -> Answer {
    let snapshot = state.snapshot();
    let name = path(name)?;
    let query = params(query)?;
    let transports = transports(query.transport.as_deref())?;
    let machine = machine_now();
    let include = [
        query.include_ephemeral,
        query.include_kernel_reserved,
        query.include_listening,
        query.include_browser_blocked,
    ];
    let pick = finder(&snapshot, &machine, &transports, include)
        .stable(&name)
        .ok_or_else(|| Problem::not_found("no port of 1024-32767 is free in the registry"))?;
    Ok(Json(portreg::stable_json(&name, &pick)).into_response())
}

/// A service name against RFC 6335 and the registry.
#[utoipa::path(get, path = "/v1/check-name/{name}", params(("name" = String, Path, description = "The name to check", example = "my-service")),
    responses((status = 200, description = "The name's problems and the records that have it", body = crate::schema::NameCheckBody), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn check_name(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
) -> Answer {
    let snapshot = state.snapshot();
    let name = path(name)?;
    Ok(Json(NameCheck::run(snapshot.registry(), &name).to_json()).into_response())
}

/// Everything about a port or a name, as `portreg info` shows it.
#[utoipa::path(get, path = "/v1/info/{query}", params(("query" = String, Path, description = "`22`, `22/tcp`, `6000-6010`, `ssh`, `_ssh._tcp`", pattern = "^((6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})(-(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?(/(tcp|udp|sctp|dccp))?|[^/]*[^0-9/-].*)$", example = "ssh"), AsOfParams),
    responses((status = 200, description = "Records with people and links, and the ports' facts", body = crate::schema::InfoBody), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn info(
    State(state): State<Arc<AppState>>,
    subject: Result<Path<String>, PathRejection>,
    as_of: Result<Query<AsOfParams>, QueryRejection>,
) -> Answer {
    let snapshot = state.snapshot();
    let subject = path(subject)?;
    let as_of = params(as_of)?;
    // A port outside 0-65535 is bad input; any other text that does not parse names
    // nothing.
    let query: Lookup = match forwards(&subject).parse() {
        Ok(query) => query,
        Err(error @ portreg::QueryError::Port(_)) => {
            return Err(Problem::bad_request(error.to_string()))
        }
        Err(_) => return Err(Problem::not_found(format!("no record for {subject}"))),
    };
    let served = Served::pick(snapshot.registry(), as_of.as_of.as_deref()).await?;
    let info = Info::gather(&served, &query, &[]);
    if info.answers.is_empty() && info.ports.is_empty() {
        return Err(Problem::not_found(format!("no record for {subject}")));
    }
    let machine = machine_now();
    Ok(served.named(Json(info.to_json(&served, &machine)).into_response()))
}

/// The registry in use.
#[utoipa::path(get, path = "/v1/registry", responses((status = 200, body = RegistryInfo), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn registry(State(state): State<Arc<AppState>>) -> Json<RegistryInfo> {
    let snapshot = state.snapshot();
    let registry = snapshot.registry();
    let provenance = registry.provenance();
    Json(RegistryInfo {
        registry: snapshot.origin.clone(),
        source: provenance.source,
        version: provenance.version,
        sha256: provenance.sha256,
        updated: registry.updated().map(|d| d.to_string()),
        records: registry.len(),
        names: registry.name_count(),
        people: registry.people_count(),
        authority: state.authority.is_some(),
    })
}

/// The registry served, in the compiled form, for replicas (`portreg serve --follow`):
/// a strong ETag from its content, so that a replica's conditional fetch costs a 304.
#[utoipa::path(get, path = "/v1/registry.bin", responses((status = 200, description = "The compiled registry", body = Vec<u8>, content_type = "application/octet-stream"), (status = 304, description = "Not modified since the ETag given in If-None-Match"), (status = 400, body = Problem, content_type = "application/problem+json"), (status = 414, description = "The URI is over 2048 bytes", body = Problem, content_type = "application/problem+json")))]
pub async fn registry_bin(
    State(state): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
) -> Response {
    use axum::http::{header, StatusCode};
    let snapshot = state.snapshot();
    let (bytes, tag) = snapshot.compiled();
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            bytes.clone(),
        )
            .into_response()
    };
    let headers = response.headers_mut();
    headers.insert(header::ETAG, tag.clone());
    headers.insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("public, max-age=5"),
    );
    response
}
