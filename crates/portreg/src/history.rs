//! The registry's history: every record of every snapshot held, as runs of versions.
//!
//! IANA keeps only the present. Snapshots of the registry (IANA's releases, the legacy
//! lists, the 2001 copy) are read with portreg's own readers; each record is identified
//! across them (by name and transport; a nameless row by its status, ports and
//! transport), and its content kept once per run of snapshots that published it. What
//! changed between two snapshots, and the registry as published at any date, follow from
//! the runs. Two kinds of time are kept apart: when a snapshot published a version (an
//! interval between two snapshots for a change) and the dates IANA states in the record.

use std::collections::HashMap;
use std::io::{Read, Write};

use serde_json::{json, Value};

use crate::format::{record_to_json, JsonRecord};
use crate::{CompiledRegistry, Provenance, Query, Record, Registry, RegistryDate, Transport};

/// The version of the history's serialized form.
pub const HISTORY_FORMAT_VERSION: u64 = 1;

/// One snapshot of the registry: when it was published, from what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The date its content states (IANA's `<updated>`, the list's "last updated").
    pub date: RegistryDate,
    /// The file or release it was read from.
    pub source: String,
    /// The sha256 of that file, hex.
    pub sha256: String,
    /// Its number of records.
    pub records: usize,
    /// The highest port it lists: the 2001 copy lists ports 0-145 only, so a record
    /// above them is first seen later without being new then.
    pub covers: u16,
}

/// One content of a record, and the snapshots that published it: `first..=last`
/// (indexes into [`History::snapshots`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Version {
    /// The record as published.
    pub record: Record,
    /// The first snapshot that published it.
    pub first: usize,
    /// The last snapshot that published it.
    pub last: usize,
}

/// A record across snapshots: its versions, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The versions, oldest first; a gap between two is a removal and a return.
    pub versions: Vec<Version>,
}

/// The history of a registry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// The snapshots, oldest first.
    pub snapshots: Vec<Snapshot>,
    /// Every record seen, in the order first seen.
    pub entries: Vec<Entry>,
}

/// Why a history cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Not a history portreg wrote (or damaged).
    #[error("not a portreg history: {0}")]
    Malformed(String),
    /// Written by a newer portreg.
    #[error("history format {found}; this portreg reads format {HISTORY_FORMAT_VERSION}")]
    Version {
        /// The version found.
        found: u64,
    },
}

/// What happened to a record between two snapshots.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// It appeared.
    Added,
    /// It disappeared.
    Removed,
    /// Fields changed: each field's name, old and new JSON value.
    Changed(Vec<(String, Value, Value)>),
}

/// An event of a record's timeline, published between two snapshots.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<'h> {
    /// What happened.
    pub change: Change,
    /// The last snapshot before it (`None`: it was there in the first snapshot held).
    pub after: Option<&'h Snapshot>,
    /// The first snapshot that shows it (`None` for a removal after the last one).
    pub by: Option<&'h Snapshot>,
    /// The record after the event (before it, for a removal).
    pub record: &'h Record,
    /// For an addition: the record it replaced, a name that left the same ports and
    /// transport between the same two snapshots (`work-sol` became `osb-sd` on 400/tcp).
    pub renamed_from: Option<&'h Record>,
}

/// The key that follows the snapshots in the serialized form.
const ENTRIES_KEY: &[u8] = b",\"entries\":";

/// A snapshot as the serialized form holds it.
#[derive(serde::Deserialize)]
struct SnapshotJson {
    date: String,
    source: String,
    sha256: String,
    records: usize,
    covers: u16,
}

impl SnapshotJson {
    fn into_snapshot(self) -> Result<Snapshot, HistoryError> {
        Ok(Snapshot {
            date: self.date.parse().map_err(|_| {
                HistoryError::Malformed(format!("a snapshot dated {:?}", self.date))
            })?,
            source: self.source,
            sha256: self.sha256,
            records: self.records,
            covers: self.covers,
        })
    }
}

/// The serialized form's JSON, its format version checked; with `until`, only up to
/// where those bytes first appear.
fn inflate(bytes: &[u8], until: Option<&[u8]>) -> Result<Vec<u8>, HistoryError> {
    let malformed = |what: String| HistoryError::Malformed(what);
    let mut decoder = flate2::read::DeflateDecoder::new(bytes);
    let mut text = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let read = decoder
            .read(&mut chunk)
            .map_err(|e| malformed(e.to_string()))?;
        if read == 0 {
            break;
        }
        text.extend_from_slice(&chunk[..read]);
        if let Some(at) = until.and_then(|until| memchr::memmem::find(&text, until)) {
            text.truncate(at);
            break;
        }
    }
    // The version is the document's first key: read before the rest, whose shape may be
    // another version's.
    let version = text
        .strip_prefix(b"{\"portreg_history\":")
        .and_then(|rest| {
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            std::str::from_utf8(&rest[..digits])
                .ok()?
                .parse::<u64>()
                .ok()
        })
        .ok_or_else(|| malformed("no format version".to_owned()))?;
    if version != HISTORY_FORMAT_VERSION {
        return Err(HistoryError::Version { found: version });
    }
    Ok(text)
}

/// A date before the first snapshot held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no snapshot of the registry is held from before {date}: the earliest is {earliest}")]
pub struct BeforeHistory {
    /// The date asked.
    pub date: RegistryDate,
    /// The first snapshot's date.
    pub earliest: String,
}

/// When something was published: after one snapshot, by the next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval<'h> {
    /// The last snapshot without it (`None`: the first snapshot held has it).
    pub after: Option<&'h Snapshot>,
    /// The first snapshot with it.
    pub by: Option<&'h Snapshot>,
}

impl std::fmt::Display for Interval<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.after, self.by) {
            (Some(after), Some(by)) => write!(f, "between {} and {}", after.date, by.date),
            (None, Some(by)) => write!(f, "by {} (the earliest snapshot held)", by.date),
            (Some(after), None) => write!(f, "after {}", after.date),
            (None, None) => f.write_str("unknown"),
        }
    }
}

/// What the snapshots show of a record: when it was first published, last changed (none
/// where it never changed) and last published.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observed<'h> {
    /// Its first version's publication.
    pub first_published: Interval<'h>,
    /// Its last version's publication, where it had more than one.
    pub last_changed: Option<Interval<'h>>,
    /// The last snapshot that published it.
    pub last_published: Option<&'h Snapshot>,
}

impl Observed<'_> {
    /// As JSON: each interval's `after` and `by` dates.
    pub fn to_json(&self) -> Value {
        let interval = |i: &Interval<'_>| json!({"after": i.after.map(|s| s.date.as_str()), "by": i.by.map(|s| s.date.as_str())});
        json!({
            "first_published": interval(&self.first_published),
            "last_changed": self.last_changed.as_ref().map(interval),
            "last_published": self.last_published.map(|s| s.date.as_str()),
        })
    }
}

/// A name a record's own text links it to: IANA's "This entry is a replacement for
/// \"udt_os\"" and "an alias to \"udt-os\"", the legacy list's "[was name]".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link<'r> {
    /// `replacement_for`, `alias_to` or `was`.
    pub relation: &'static str,
    /// The other name.
    pub name: &'r str,
}

/// The names `record`'s description and notes link it to.
pub fn links(record: &Record) -> Vec<Link<'_>> {
    const PATTERNS: [(&str, &str, char); 3] = [
        ("replacement for \"", "replacement_for", '"'),
        ("alias to \"", "alias_to", '"'),
        ("[was ", "was", ']'),
    ];
    let mut found = Vec::new();
    for text in [&record.description, &record.notes].into_iter().flatten() {
        for (opening, relation, closing) in PATTERNS {
            let mut rest = text.as_str();
            while let Some(at) = rest.find(opening) {
                let after = &rest[at + opening.len()..];
                let Some(end) = after.find(closing) else {
                    break;
                };
                let name = after[..end].trim();
                if !name.is_empty() && !name.contains(char::is_whitespace) {
                    found.push(Link { relation, name });
                }
                rest = &after[end..];
            }
        }
    }
    found
}

/// A record's identity across snapshots.
fn identity(record: &Record) -> String {
    let transport = record.transport.as_ref().map_or("", Transport::as_str);
    match &record.name {
        Some(name) => format!("{}/{transport}", name.to_ascii_lowercase()),
        None => format!(
            "{}:{}/{transport}",
            record.status.as_str(),
            record
                .ports
                .map(|span| span.to_string())
                .unwrap_or_default()
        ),
    }
}

impl History {
    /// The history of `snapshots` (in the order they were published): sorted by date; of
    /// two snapshots stating the same date the later given is kept (a release republished
    /// under its date), and the other said in the warnings returned.
    pub fn build(snapshots: Vec<(Snapshot, Registry)>) -> (History, Vec<String>) {
        let mut snapshots = snapshots;
        snapshots.sort_by(|a, b| a.0.date.cmp(&b.0.date));
        let mut warnings = Vec::new();
        let mut kept: Vec<(Snapshot, Registry)> = Vec::with_capacity(snapshots.len());
        for (snapshot, registry) in snapshots {
            if let Some((previous, _)) = kept.last() {
                if previous.date == snapshot.date {
                    warnings.push(format!(
                        "{}: the same date as {} ({}); left out for the later",
                        previous.source, snapshot.source, snapshot.date
                    ));
                    kept.pop();
                }
            }
            kept.push((snapshot, registry));
        }
        let mut history = History::default();
        // The entry of each identity, with the occurrence within one snapshot.
        let mut by_identity: HashMap<(String, usize), usize> = HashMap::new();
        for (snapshot, registry) in kept {
            let at = history.snapshots.len();
            let mut snapshot = snapshot;
            snapshot.covers = registry
                .records
                .iter()
                .filter_map(|record| record.ports.map(|span| span.high))
                .max()
                .unwrap_or(0);
            let mut seen: HashMap<String, usize> = HashMap::new();
            for record in registry.records {
                let identity = identity(&record);
                let occurrence = seen.entry(identity.clone()).or_insert(0);
                let key = (identity, *occurrence);
                *occurrence += 1;
                let entry = *by_identity.entry(key).or_insert_with(|| {
                    history.entries.push(Entry {
                        versions: Vec::new(),
                    });
                    history.entries.len() - 1
                });
                let versions = &mut history.entries[entry].versions;
                match versions.last_mut() {
                    Some(last) if last.last + 1 == at && last.record == record => last.last = at,
                    _ => versions.push(Version {
                        record,
                        first: at,
                        last: at,
                    }),
                }
            }
            history.snapshots.push(snapshot);
        }
        (history, warnings)
    }

    /// The serialized form: JSON, deflated.
    pub fn to_bytes(&self) -> Vec<u8> {
        let snapshots: Vec<Value> = self
            .snapshots
            .iter()
            .map(|s| {
                json!({"date": s.date.as_str(), "source": s.source, "sha256": s.sha256,
                       "records": s.records, "covers": s.covers})
            })
            .collect();
        let entries: Vec<Value> = self
            .entries
            .iter()
            .map(|entry| {
                Value::Array(
                    entry
                        .versions
                        .iter()
                        .map(|v| json!([v.first, v.last, record_to_json(&v.record)]))
                        .collect(),
                )
            })
            .collect();
        let document = json!({"portreg_history": HISTORY_FORMAT_VERSION,
                              "snapshots": snapshots, "entries": entries});
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing into memory cannot fail.
        let _ = encoder.write_all(document.to_string().as_bytes());
        encoder.finish().unwrap_or_default()
    }

    /// Reads the serialized form.
    pub fn from_bytes(bytes: &[u8]) -> Result<History, HistoryError> {
        #[derive(serde::Deserialize)]
        struct Document {
            snapshots: Vec<SnapshotJson>,
            entries: Vec<Vec<(usize, usize, JsonRecord)>>,
        }
        let malformed = |what: String| HistoryError::Malformed(what);
        let text = inflate(bytes, None)?;
        let document: Document =
            serde_json::from_slice(&text).map_err(|e| malformed(e.to_string()))?;
        let snapshots = document
            .snapshots
            .into_iter()
            .map(SnapshotJson::into_snapshot)
            .collect::<Result<Vec<_>, HistoryError>>()?;
        let count = snapshots.len();
        let entries = document
            .entries
            .into_iter()
            .map(|versions| {
                let versions = versions
                    .into_iter()
                    .map(|(first, last, record)| {
                        if first > last || last >= count {
                            return Err(malformed(format!(
                                "a version of snapshots {first}..{last} of {count}"
                            )));
                        }
                        Ok(Version {
                            record: record.into_record().map_err(malformed)?,
                            first,
                            last,
                        })
                    })
                    .collect::<Result<Vec<_>, HistoryError>>()?;
                Ok(Entry { versions })
            })
            .collect::<Result<Vec<_>, HistoryError>>()?;
        Ok(History { snapshots, entries })
    }

    /// The snapshots of the serialized form alone, without reading its records: what
    /// `about` lists.
    pub fn snapshots_from_bytes(bytes: &[u8]) -> Result<Vec<Snapshot>, HistoryError> {
        #[derive(serde::Deserialize)]
        struct Head {
            snapshots: Vec<SnapshotJson>,
        }
        // The snapshots come before the entries: inflated up to them, the object closed.
        let mut text = inflate(bytes, Some(ENTRIES_KEY))?;
        text.push(b'}');
        let head: Head =
            serde_json::from_slice(&text).map_err(|e| HistoryError::Malformed(e.to_string()))?;
        head.snapshots
            .into_iter()
            .map(SnapshotJson::into_snapshot)
            .collect()
    }

    /// The snapshot in force at `date`: the latest published on or before it.
    pub fn snapshot_on(&self, date: &RegistryDate) -> Result<usize, BeforeHistory> {
        self.snapshots
            .iter()
            .rposition(|s| &s.date <= date)
            .ok_or_else(|| BeforeHistory {
                date: date.clone(),
                earliest: self
                    .snapshots
                    .first()
                    .map_or_else(|| "-".to_owned(), |s| s.date.to_string()),
            })
    }

    /// The registry as snapshot `at` published it: its records in port order (the
    /// order of the registry's own listing; records on one port in the order first seen).
    pub fn registry_at(&self, at: usize) -> Registry {
        let mut records: Vec<&Record> = self
            .entries
            .iter()
            .flat_map(|entry| &entry.versions)
            .filter(|version| version.first <= at && at <= version.last)
            .map(|version| &version.record)
            .collect();
        // Stable: records first seen earlier stay first on their port.
        records.sort_by_key(|record| {
            record
                .ports
                .map_or((u32::MAX, 0), |s| (u32::from(s.low), s.high))
        });
        Registry {
            records: records.into_iter().cloned().collect(),
            ..Registry::default()
        }
    }

    /// The registry snapshot `at` published, compiled to be asked, its provenance the
    /// snapshot.
    pub fn compiled_at(&self, at: usize) -> CompiledRegistry {
        let provenance = self
            .snapshots
            .get(at)
            .map_or_else(Provenance::default, |s| Provenance {
                source: format!("history: {} ({})", s.source, s.date),
                sha256: s.sha256.clone(),
                ..Provenance::default()
            });
        CompiledRegistry::compile(&self.registry_at(at), &provenance)
    }

    /// The entries that `query` names: a port or range they ever covered, or a name or
    /// alias they ever had (any case), or a name their notes link them to ("replacement
    /// for", "alias to", "[was ...]"); only on `transports` when some are given.
    pub fn entries_for<'h>(&'h self, query: &Query, transports: &[Transport]) -> Vec<&'h Entry> {
        let (span, name, query_transport) = match query {
            Query::Ports { span, transport } => (Some(*span), None, transport.clone()),
            Query::Name { name, transport } => (None, Some(name.as_str()), transport.clone()),
        };
        let transport_ok = |record: &Record| {
            let wanted: Vec<&Transport> = query_transport.iter().chain(transports).collect();
            wanted.is_empty()
                || record
                    .transport
                    .as_ref()
                    .is_none_or(|own| wanted.contains(&own))
        };
        self.entries
            .iter()
            .filter(|entry| {
                entry.versions.iter().any(|version| {
                    let record = &version.record;
                    let hit = match (span, name) {
                        (Some(span), _) => record
                            .ports
                            .is_some_and(|own| own.low <= span.high && span.low <= own.high),
                        (None, Some(name)) => {
                            record
                                .name
                                .iter()
                                .chain(&record.aliases)
                                .any(|own| own.eq_ignore_ascii_case(name))
                                || links(record)
                                    .iter()
                                    .any(|link| link.name.eq_ignore_ascii_case(name))
                        }
                        (None, None) => false,
                    };
                    hit && transport_ok(record)
                })
            })
            .collect()
    }

    /// The entry a record of the registry belongs to: the first with its identity (name
    /// and transport; a nameless row's status, ports and transport) in its last version.
    pub fn entry_of(&self, record: &Record) -> Option<&Entry> {
        let wanted = identity(record);
        self.entries.iter().find(|entry| {
            entry
                .versions
                .last()
                .is_some_and(|version| identity(&version.record) == wanted)
        })
    }

    /// When an entry was first published and last changed, as the snapshots show them.
    pub fn observed<'h>(&'h self, entry: &'h Entry) -> Option<Observed<'h>> {
        let interval = |at: usize| Interval {
            after: at
                .checked_sub(1)
                .and_then(|before| self.snapshots.get(before)),
            by: self.snapshots.get(at),
        };
        let first = entry.versions.first()?;
        let last = entry.versions.last()?;
        Some(Observed {
            first_published: interval(first.first),
            last_changed: (entry.versions.len() > 1).then(|| interval(last.first)),
            last_published: self.snapshots.get(last.last),
        })
    }

    /// An entry as JSON: its `versions` (each with the dates of the first and last
    /// snapshot that published it, and the record) and its `events`.
    pub fn entry_json(&self, entry: &Entry) -> Value {
        let date = |at: usize| self.snapshots.get(at).map(|s| s.date.as_str());
        json!({
            "versions": entry.versions.iter().map(|v| json!({
                "first": date(v.first),
                "last": date(v.last),
                "record": record_to_json(&v.record),
            })).collect::<Vec<_>>(),
            "events": self.events(entry).iter().map(event_json).collect::<Vec<_>>(),
        })
    }

    /// The snapshots held, in short: `count`, and the `first` and `last` snapshots.
    pub fn summary_json(&self) -> Value {
        json!({
            "count": self.snapshots.len(),
            "first": self.snapshots.first().map(snapshot_json),
            "last": self.snapshots.last().map(snapshot_json),
        })
    }

    /// The last snapshot before `at` that lists the record's ports (any, for a record
    /// without ports): before it, the record's absence says nothing.
    fn covering_before(&self, at: usize, record: &Record) -> Option<&Snapshot> {
        let low = record.ports.map_or(0, |span| span.low);
        self.snapshots[..at.min(self.snapshots.len())]
            .iter()
            .rev()
            .find(|snapshot| snapshot.covers >= low)
    }

    /// The named record a new named `version` took the place of: one on the same ports
    /// and transport, under another name, last published by the snapshot before.
    fn replaced(&self, version: &Version) -> Option<&Record> {
        let new = &version.record;
        let name = new.name.as_deref()?;
        let before = version.first.checked_sub(1)?;
        self.entries
            .iter()
            .filter_map(|entry| entry.versions.last())
            .filter(|old| old.last == before)
            .map(|old| &old.record)
            .find(|old| {
                old.ports == new.ports
                    && old.transport == new.transport
                    && old
                        .name
                        .as_deref()
                        .is_some_and(|old| !old.eq_ignore_ascii_case(name))
            })
    }

    /// An entry's events, oldest first.
    pub fn events<'h>(&'h self, entry: &'h Entry) -> Vec<Event<'h>> {
        let snapshot = |at: usize| self.snapshots.get(at);
        let mut events = Vec::new();
        let mut previous: Option<&Version> = None;
        for version in &entry.versions {
            match previous {
                Some(before) if before.last + 1 == version.first => events.push(Event {
                    change: Change::Changed(changed_fields(&before.record, &version.record)),
                    after: snapshot(before.last),
                    by: snapshot(version.first),
                    record: &version.record,
                    renamed_from: None,
                }),
                _ => {
                    if let Some(before) = previous {
                        events.push(Event {
                            change: Change::Removed,
                            after: snapshot(before.last),
                            by: snapshot(before.last + 1),
                            record: &before.record,
                            renamed_from: None,
                        });
                    }
                    events.push(Event {
                        change: Change::Added,
                        after: self.covering_before(version.first, &version.record),
                        by: snapshot(version.first),
                        record: &version.record,
                        renamed_from: self.replaced(version),
                    });
                }
            }
            previous = Some(version);
        }
        if let Some(last) = previous.filter(|v| v.last + 1 < self.snapshots.len()) {
            events.push(Event {
                change: Change::Removed,
                after: snapshot(last.last),
                by: snapshot(last.last + 1),
                record: &last.record,
                renamed_from: None,
            });
        }
        events
    }
}

/// The fields of the JSON record that differ, with their old and new values.
fn changed_fields(old: &Record, new: &Record) -> Vec<(String, Value, Value)> {
    let (Value::Object(old), Value::Object(new)) = (record_to_json(old), record_to_json(new))
    else {
        return Vec::new();
    };
    let keys: Vec<&String> = new
        .keys()
        .chain(old.keys().filter(|k| !new.contains_key(*k)))
        .collect();
    keys.into_iter()
        .filter_map(|key| {
            let (before, after) = (
                old.get(key).cloned().unwrap_or(Value::Null),
                new.get(key).cloned().unwrap_or(Value::Null),
            );
            (before != after).then(|| (key.clone(), before, after))
        })
        .collect()
}

/// An event as JSON: `change`, `after` and `by` (the snapshots' dates, null where none),
/// the fields changed with their old and new values, and the record.
pub fn event_json(event: &Event<'_>) -> Value {
    let (change, fields) = match &event.change {
        Change::Added => ("added", Value::Null),
        Change::Removed => ("removed", Value::Null),
        Change::Changed(fields) => (
            "changed",
            fields
                .iter()
                .map(|(name, old, new)| json!({"field": name, "old": old, "new": new}))
                .collect(),
        ),
    };
    json!({
        "change": change,
        "after": event.after.map(|s| s.date.as_str()),
        "by": event.by.map(|s| s.date.as_str()),
        "fields": fields,
        "renamed_from": event.renamed_from.and_then(|r| r.name.as_deref()),
        "links": links(event.record)
            .iter()
            .map(|link| json!({"relation": link.relation, "name": link.name}))
            .collect::<Vec<_>>(),
        "record": record_to_json(event.record),
    })
}

/// A snapshot as JSON.
pub fn snapshot_json(snapshot: &Snapshot) -> Value {
    json!({"date": snapshot.date.as_str(), "source": snapshot.source,
           "sha256": snapshot.sha256, "records": snapshot.records, "covers": snapshot.covers})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{PortSpan, Status};

    fn record(name: Option<&str>, port: u16, description: &str) -> Record {
        Record {
            name: name.map(str::to_owned),
            ports: PortSpan::new(port, port),
            transport: Some(Transport::Tcp),
            description: Some(description.to_owned()),
            status: if name.is_some() {
                Status::Assigned
            } else {
                Status::Unassigned
            },
            ..Record::default()
        }
    }

    fn snapshot(date: &str, records: Vec<Record>) -> (Snapshot, Registry) {
        let snapshot = Snapshot {
            date: date.parse().unwrap(),
            source: format!("{date}.xml"),
            sha256: date.to_owned(),
            records: records.len(),
            covers: 0,
        };
        (
            snapshot,
            Registry {
                records,
                ..Registry::default()
            },
        )
    }

    fn sorted(records: &[Record]) -> Vec<String> {
        let mut texts: Vec<String> = records
            .iter()
            .map(|r| record_to_json(r).to_string())
            .collect();
        texts.sort();
        texts
    }

    proptest::proptest! {
        /// Whatever the snapshots (names coming and going, changing, repeated within one),
        /// the history gives each one's records back, through its serialized form too.
        #[test]
        fn every_snapshot_is_given_back(
            sequence in proptest::collection::vec(
                proptest::collection::vec((0u8..6, 0u16..4, 0u8..3), 0..8), 1..6)
        ) {
            let input: Vec<(Snapshot, Registry)> = sequence
                .iter()
                .enumerate()
                .map(|(i, records)| {
                    let records = records
                        .iter()
                        .map(|&(name, port, text)| {
                            let name = (name < 5).then(|| format!("svc{name}"));
                            record(name.as_deref(), 1000 + port, &format!("text {text}"))
                        })
                        .collect();
                    snapshot(&format!("20{:02}-01-01", 10 + i), records)
                })
                .collect();
            let expected: Vec<Vec<String>> = input.iter().map(|(_, r)| sorted(&r.records)).collect();
            let (history, warnings) = History::build(input);
            proptest::prop_assert!(warnings.is_empty());
            let history = History::from_bytes(&history.to_bytes()).unwrap();
            for (at, records) in expected.iter().enumerate() {
                proptest::prop_assert_eq!(&sorted(&history.registry_at(at).records), records);
            }
        }
    }

    #[test]
    fn events_and_dates() {
        let (history, warnings) = History::build(vec![
            snapshot("2020-01-01", vec![record(Some("a"), 10, "one")]),
            snapshot(
                "2021-01-01",
                vec![record(Some("a"), 10, "two"), record(Some("b"), 11, "b")],
            ),
            snapshot("2021-01-01", vec![record(Some("a"), 10, "two")]),
            snapshot("2022-01-01", vec![record(Some("b"), 11, "b")]),
        ]);
        // The later of two same-dated snapshots is kept.
        assert_eq!(warnings.len(), 1);
        assert_eq!(history.snapshots.len(), 3);
        let a = history.entry_of(&record(Some("A"), 10, "x")).unwrap();
        let events = history.events(a);
        let kinds: Vec<&Change> = events.iter().map(|e| &e.change).collect();
        assert!(matches!(
            kinds[..],
            [Change::Added, Change::Changed(_), Change::Removed]
        ));
        if let Change::Changed(fields) = &events[1].change {
            assert_eq!(fields[0].0, "description");
        }
        assert_eq!(events[2].after.map(|s| s.date.as_str()), Some("2021-01-01"));
        assert_eq!(events[2].by.map(|s| s.date.as_str()), Some("2022-01-01"));
        // b: left out with the same-dated snapshot, so first seen in 2022.
        let b = history.entry_of(&record(Some("b"), 11, "b")).unwrap();
        let observed = history.observed(b).unwrap();
        assert_eq!(
            observed.first_published.to_string(),
            "between 2021-01-01 and 2022-01-01"
        );
        assert!(history.snapshot_on(&"2019-12-31".parse().unwrap()).is_err());
        assert_eq!(history.snapshot_on(&"2099-01-01".parse().unwrap()), Ok(2));
        let bytes = history.to_bytes();
        assert_eq!(
            History::snapshots_from_bytes(&bytes).unwrap(),
            history.snapshots
        );
        assert!(matches!(
            History::from_bytes(b"junk"),
            Err(HistoryError::Malformed(_))
        ));
    }
}
