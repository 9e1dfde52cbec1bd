//! portreg's own JSON record (DESIGN §4): a stable interface, every key always present.

use serde::{Deserialize, Serialize};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::port_range::{PortSpan, RangeClass};
use crate::record::{Record, RecordExtra, Reference, RegistryDate, Source, Status};
use crate::registry::Registry;
use crate::transport::Transport;

/// The JSON shape of a record (`docs/record.md`). Keys after `source` carry format detail
/// that lets a record round-trip; keys may be added, never changed in meaning.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "json-schema", schemars(title = "portreg record"))]
#[serde(default)]
pub struct JsonRecord {
    /// Service name; null for Reserved, Unassigned and nameless private-use rows.
    pub name: Option<String>,
    /// First port; null for a name-only record.
    pub port_low: Option<u16>,
    /// Last port; equal to `port_low` for one port.
    pub port_high: Option<u16>,
    /// `tcp`, `udp`, `sctp`, `dccp` (services files may name others); null when none.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub transport: Option<Transport>,
    /// Plain-text description, lines separated by `\n`.
    pub description: Option<String>,
    /// What the entry is.
    pub status: Status,
    /// Other names of the entry.
    pub aliases: Vec<String>,
    /// Assignees: the registry's explicit ones, else the contacts.
    pub assignees: Vec<String>,
    /// Contacts: person ids, or inline `Name <mail>` lines of the legacy list.
    pub contacts: Vec<String>,
    /// Registration date, `YYYY-MM` or `YYYY-MM-DD`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub registered: Option<RegistryDate>,
    /// Last modification date.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub modified: Option<RegistryDate>,
    /// Typed references.
    pub references: Vec<Reference>,
    /// DCCP service code.
    pub service_code: Option<String>,
    /// Reported unauthorized use.
    pub unauthorized_use: Option<String>,
    /// Assignment notes.
    pub notes: Option<String>,
    /// `system`, `user` or `dynamic`, from `port_low`.
    pub range_class: Option<RangeClass>,
    /// The layer the record comes from: `iana`, `local` or `nmap`.
    pub source: Source,
    /// IANA XML inner markup of the description, where it has elements.
    pub description_markup: Option<String>,
    /// IANA XML inner markup of the notes, where they have elements.
    pub notes_markup: Option<String>,
    /// Legacy banner lines about the entry.
    pub banners: Vec<String>,
    /// Earlier assignments of the port (legacy "Previously assigned" blocks).
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub history: Vec<JsonRecord>,
    /// nmap-services open frequency, as written.
    pub frequency: Option<String>,
    /// The port span as the source wrote it, where unusual (`4748-4748`).
    pub ports_as_written: Option<String>,
    /// Whether the legacy list wrote the entry as a comment.
    pub commented: Option<bool>,
}

impl From<&Record> for JsonRecord {
    fn from(record: &Record) -> Self {
        JsonRecord {
            name: record.name.clone(),
            port_low: record.ports.map(|span| span.low),
            port_high: record.ports.map(|span| span.high),
            transport: record.transport.clone(),
            description: record.description.clone(),
            status: record.status,
            aliases: record.aliases.clone(),
            assignees: record.effective_assignees().to_vec(),
            contacts: record.contacts.clone(),
            registered: record.registered.clone(),
            modified: record.modified.clone(),
            references: record.references.clone(),
            service_code: record.service_code.clone(),
            unauthorized_use: record.unauthorized_use.clone(),
            notes: record.notes.clone(),
            range_class: record.range_class(),
            source: record.source,
            description_markup: record.extra.description_markup.clone(),
            notes_markup: record.extra.notes_markup.clone(),
            banners: record.extra.banners.clone(),
            history: record.extra.history.iter().map(JsonRecord::from).collect(),
            frequency: record.extra.frequency.clone(),
            ports_as_written: record.extra.ports_as_written.clone(),
            commented: record.extra.commented,
        }
    }
}

impl JsonRecord {
    pub(crate) fn into_record(self) -> Result<Record, String> {
        let ports = match (self.port_low, self.port_high) {
            (None, None) => None,
            (Some(low), high) => Some(
                PortSpan::new(low, high.unwrap_or(low)).ok_or("port_high not below port_low")?,
            ),
            (None, Some(_)) => return Err("port_low beside port_high".into()),
        };
        // Assignees equal to the contacts are the CSV's implicit default, not explicit ones.
        let assignees = if self.assignees == self.contacts {
            Vec::new()
        } else {
            self.assignees
        };
        Ok(Record {
            name: self.name,
            aliases: self.aliases,
            ports,
            transport: self.transport,
            description: self.description,
            status: self.status,
            assignees,
            contacts: self.contacts,
            registered: self.registered,
            modified: self.modified,
            references: self.references,
            service_code: self.service_code,
            unauthorized_use: self.unauthorized_use,
            notes: self.notes,
            source: self.source,
            extra: RecordExtra {
                description_markup: self.description_markup,
                notes_markup: self.notes_markup,
                banners: self.banners,
                history: self
                    .history
                    .into_iter()
                    .map(JsonRecord::into_record)
                    .collect::<Result<_, _>>()?,
                frequency: self.frequency,
                ports_as_written: self.ports_as_written,
                commented: self.commented,
            },
        })
    }
}

/// A record as a JSON value of DESIGN §4.
pub fn record_to_json(record: &Record) -> serde_json::Value {
    // Serializing plain data with string keys cannot fail.
    serde_json::to_value(JsonRecord::from(record)).unwrap_or(serde_json::Value::Null)
}

/// A record from a JSON value of DESIGN §4.
pub fn record_from_json(value: serde_json::Value) -> Result<Record, String> {
    serde_json::from_value::<JsonRecord>(value)
        .map_err(|e| e.to_string())?
        .into_record()
}

/// A record from the text of a JSON record of DESIGN §4 (read straight into its fields,
/// without a `Value` between).
pub fn record_from_json_text(text: &str) -> Result<Record, String> {
    serde_json::from_str::<JsonRecord>(text)
        .map_err(|e| e.to_string())?
        .into_record()
}

/// A serde_json error as a diagnostic: its message without the position it appends,
/// and the line it points into as what was found.
fn json_diagnostic(
    text: &str,
    line: usize,
    error: &serde_json::Error,
    expected: &str,
) -> Diagnostic {
    let message = error.to_string();
    let message = message.split(" at line ").next().unwrap_or(&message);
    let found = text
        .lines()
        .nth(error.line().max(1) - 1)
        .unwrap_or("")
        .trim();
    Diagnostic::new(
        line,
        error.column().max(1),
        format!("{expected} ({message})"),
        found,
    )
}

/// What a published registry says of itself, before its records.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct JsonMeta {
    title: Option<String>,
    updated: Option<RegistryDate>,
    /// The head of the audit chain it was published from.
    audit_head: Option<String>,
}

/// A registry with its metadata: `{"registry": {...}, "records": [...]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct JsonDocument {
    registry: JsonMeta,
    records: Vec<JsonRecord>,
}

/// Whether a JSON text is a document (an object whose first key is `registry`) rather
/// than an array or lines of records.
pub(super) fn is_document(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with("\"registry\""))
}

pub(super) fn read_array(text: &str) -> Result<Registry, Diagnostic> {
    let located = |error: serde_json::Error| {
        json_diagnostic(text, error.line().max(1), &error, "a JSON array of records")
    };
    let (records, meta) = if is_document(text) {
        let document: JsonDocument = serde_json::from_str(text).map_err(|error| {
            json_diagnostic(
                text,
                error.line().max(1),
                &error,
                "a JSON registry document",
            )
        })?;
        (document.records, document.registry)
    } else {
        let records: Vec<JsonRecord> = serde_json::from_str(text).map_err(located)?;
        (records, JsonMeta::default())
    };
    let records = records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            record.into_record().map_err(|e| {
                Diagnostic::new(
                    1,
                    1,
                    format!("a valid record (record {}: {e})", index + 1),
                    "",
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let mut registry = Registry {
        records,
        ..Registry::default()
    };
    registry.meta.title = meta.title;
    registry.meta.updated = meta.updated;
    registry.meta.audit_head = meta.audit_head;
    Ok(registry)
}

/// A registry as a JSON document: its title, date and audit head, then its records.
pub fn write_document(registry: &Registry) -> String {
    let document = JsonDocument {
        registry: JsonMeta {
            title: registry.meta.title.clone(),
            updated: registry.meta.updated.clone(),
            audit_head: registry.meta.audit_head.clone(),
        },
        records: registry.records.iter().map(JsonRecord::from).collect(),
    };
    let mut out = serde_json::to_string_pretty(&document).unwrap_or_default();
    out.push('\n');
    out
}

pub(super) fn read_lines(
    text: &str,
    diagnostics: &mut Diagnostics,
) -> Result<Registry, Diagnostic> {
    let mut registry = Registry::default();
    for (number, line) in super::numbered_lines(text) {
        if line.trim().is_empty() {
            continue;
        }
        let parsed = serde_json::from_str::<JsonRecord>(line)
            .map_err(|e| json_diagnostic(line, number, &e, "a JSON record"))
            .and_then(|record| {
                record
                    .into_record()
                    .map_err(|e| Diagnostic::new(number, 1, format!("a valid record ({e})"), line))
            });
        match parsed {
            Ok(record) => registry.records.push(record),
            Err(problem) => diagnostics.skip(problem)?,
        }
    }
    Ok(registry)
}

pub(super) fn write_array(records: &[Record]) -> String {
    let values: Vec<JsonRecord> = records.iter().map(JsonRecord::from).collect();
    let mut out = serde_json::to_string_pretty(&values).unwrap_or_default();
    out.push('\n');
    out
}

pub(super) fn write_lines(records: &[Record]) -> String {
    let mut out = String::new();
    for record in records {
        out.push_str(&serde_json::to_string(&JsonRecord::from(record)).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::format::{self, Format, ReadOptions};
    use crate::record::Record;
    use crate::registry::Registry;

    #[test]
    fn a_document_carries_its_date_and_audit_head() {
        let mut registry = Registry {
            records: vec![Record {
                name: Some("zq-doc".into()),
                ..Record::default()
            }],
            ..Registry::default()
        };
        registry.meta.updated = "2026-11-26".parse().ok();
        registry.meta.audit_head = Some("7:abc".into());
        let text = super::write_document(&registry);
        assert_eq!(Format::detect(text.as_bytes()), Some(Format::Json));
        let read = format::read(text.as_bytes(), Format::Json, &ReadOptions::default()).unwrap();
        assert_eq!(read.registry.meta.audit_head.as_deref(), Some("7:abc"));
        assert_eq!(read.registry.meta.updated, registry.meta.updated);
        assert_eq!(read.registry.records, registry.records);
        // Lines of records still read as lines.
        assert_eq!(
            Format::detect(b"{\"name\": \"ssh\"}\n"),
            Some(Format::Jsonl)
        );
    }
}
