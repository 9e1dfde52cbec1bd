//! The shapes of the API's JSON answers, for the OpenAPI document: the record (the
//! library's [`JsonRecord`]) with what each route adds to it, and the reports. The answers
//! are checked against them by schemathesis in CI.

use portreg::format::JsonRecord;
use portreg::RangeClass;
use serde::Serialize;

/// How a record answers a lookup.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The service assigned there.
    Canonical,
    /// Another name for it.
    Alias,
    /// A historic name or an earlier assignment.
    Historic,
    /// A row without a name: Reserved, Unassigned, private use.
    Unnamed,
}

/// How well a record matches a search.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// The name (or an alias) is the text.
    ExactName,
    /// The name starts with the text.
    NamePrefix,
    /// The name contains the text.
    NameSubstring,
    /// A whole word of the description is the text.
    DescriptionWord,
    /// The description contains the text.
    DescriptionSubstring,
}

/// A record found by a lookup.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LookupRecord {
    /// The record.
    #[serde(flatten)]
    pub record: JsonRecord,
    /// How it answers.
    pub role: Role,
}

/// A record found by a search.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SearchRecord {
    /// The record.
    #[serde(flatten)]
    pub record: JsonRecord,
    /// How well it matches.
    #[serde(rename = "match")]
    pub tier: Tier,
}

/// People of a record, resolved through the registry's people table.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct People {
    /// The assignees, `Name <address>` where known.
    pub assignees: Vec<String>,
    /// The contacts.
    pub contacts: Vec<String>,
}

/// A record of `/v1/info`: with its role, its people and its references as links.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InfoRecord {
    /// The record.
    #[serde(flatten)]
    pub record: JsonRecord,
    /// How it answers.
    pub role: Role,
    /// Its people.
    pub people: People,
    /// Its references, as URLs where they have one.
    pub links: Vec<String>,
}

/// What the rules and the server's machine say about a port.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PortFacts {
    /// The port.
    pub port: u16,
    /// Its range.
    pub range_class: RangeClass,
    /// How ports of that range are assigned.
    pub procedure: String,
    /// Whether RFC 6335 reserves it.
    pub reserved: bool,
    /// Whether binding it needs privileges on the server's machine; null when unknown.
    pub privileged: Option<bool>,
    /// Whether it is in the server machine's ephemeral range; null when unknown.
    pub ephemeral: Option<bool>,
    /// Whether the server machine's kernel reserves it (`ip_local_reserved_ports`).
    pub kernel_reserved: bool,
    /// The transports on which something listens on it on the server's machine now.
    pub listening: Vec<String>,
}

/// `/v1/info`: every field of the records, and the ports' facts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InfoBody {
    /// The records.
    pub records: Vec<InfoRecord>,
    /// The ports they concern.
    pub ports: Vec<PortFacts>,
    /// Whether a range has more than the 100 records given (`/v1/ports` pages them all).
    pub more: bool,
}

/// One reason a name breaks RFC 6335.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NameProblemBody {
    /// A stable token (`adjacent-hyphens`).
    pub code: String,
    /// For people.
    pub message: String,
}

/// `/v1/check-name`: a name against RFC 6335 and the registry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NameCheckBody {
    /// The name as given.
    pub name: String,
    /// Whether RFC 6335 allows it.
    pub valid: bool,
    /// Whether no record has it.
    pub free: bool,
    /// Every reason it breaks RFC 6335.
    pub problems: Vec<NameProblemBody>,
    /// The records that have it.
    pub taken_by: Vec<LookupRecord>,
}

/// One reason a port is not offered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExclusionBody {
    /// `taken`, `reserved-by-rfc`, `ephemeral`, `kernel-reserved`, `listening`,
    /// `browser-blocked` or `popular`.
    pub kind: String,
    /// For people (`taken by x11 on tcp`).
    pub reason: String,
    /// Whether it depends on the server machine's live state.
    pub live: bool,
}

/// `/v1/free/explain/{port}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ExplainBody {
    /// The port.
    pub port: u16,
    /// Whether it is offered.
    pub free: bool,
    /// Why not.
    pub reasons: Vec<ExclusionBody>,
}

/// `/v1/free/for/{name}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StableBody {
    /// The name as given.
    pub name: String,
    /// The stable port.
    pub port: u16,
    /// What makes it busy on the server's machine now (empty when it is free there).
    pub busy_here: Vec<ExclusionBody>,
    /// The next stable choice free on the server's machine, when the port is busy.
    pub next: Option<u16>,
}

/// `/healthz`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `unhealthy` (503).
    #[schema(pattern = "^(ok|unhealthy)$")]
    pub status: String,
    /// Why it is unhealthy.
    pub reason: Option<String>,
    /// The registry served: `origin`, `updated` (its date), `records`.
    pub registry: serde_json::Value,
    /// On a replica (`serve --follow`): `source`, `interval_seconds`, `last_fetch`,
    /// `last_successful_fetch`, `staleness_seconds` (since it), `stale`, `last_error`,
    /// `refused` (why the source's log was refused), `refusals`, `failures`, `swaps`.
    pub follow: Option<serde_json::Value>,
}

/// `/v1/history/{query}`: the snapshots held, and each record the query names.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryBody {
    /// How many snapshots the history holds, the first and the last.
    pub snapshots: SnapshotsHeld,
    /// Each record across the snapshots.
    pub records: Vec<HistoryEntry>,
}

/// The snapshots held.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SnapshotsHeld {
    /// How many.
    pub count: usize,
    /// The earliest.
    pub first: Option<SnapshotBody>,
    /// The latest.
    pub last: Option<SnapshotBody>,
}

/// A snapshot of the registry.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SnapshotBody {
    /// The date its content states.
    pub date: String,
    /// The file or release it was read from.
    pub source: String,
    /// That file's SHA-256, hex.
    pub sha256: String,
    /// Its number of records.
    pub records: usize,
    /// The highest port it lists (the 2001 copy lists 0-145 only).
    pub covers: u16,
}

/// A record across the snapshots.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// Its contents, oldest first, each with the snapshots that published it.
    pub versions: Vec<HistoryVersion>,
    /// What happened to it, oldest first.
    pub events: Vec<HistoryEvent>,
}

/// One content of a record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryVersion {
    /// The date of the first snapshot that published it.
    pub first: String,
    /// The date of the last.
    pub last: String,
    /// The record.
    pub record: JsonRecord,
}

/// What happened to a record between two snapshots.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryEvent {
    /// `added`, `changed` or `removed`.
    #[schema(pattern = "^(added|changed|removed)$")]
    pub change: String,
    /// The date of the last snapshot before it; null where the first snapshot held has it.
    pub after: Option<String>,
    /// The date of the first snapshot that shows it; null for a removal after the last.
    pub by: Option<String>,
    /// The fields a change changed; null for an addition or a removal.
    pub fields: Option<Vec<FieldChange>>,
    /// For an addition: the name it replaced on the same ports and transport.
    pub renamed_from: Option<String>,
    /// The names the record's own text links it to.
    pub links: Vec<HistoryLink>,
    /// The record after the event (before it, for a removal).
    pub record: JsonRecord,
}

/// A name a record's text links it to.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryLink {
    /// `replacement_for` (IANA's "a replacement for"), `alias_to` ("an alias to") or `was`
    /// (the legacy list's "[was ...]").
    #[schema(pattern = "^(replacement_for|alias_to|was)$")]
    pub relation: String,
    /// The other name.
    pub name: String,
}

/// One field of a change.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FieldChange {
    /// The JSON record's key.
    pub field: String,
    /// Its value before.
    pub old: serde_json::Value,
    /// Its value after.
    pub new: serde_json::Value,
}
