//! The records of the registry as the store keeps them, and the changes that end an
//! assignment (de-assign, revoke, transfer).

use portreg::format::{record_from_json_text, record_to_json};
use portreg::{Footnote, Note, Prose};
use portreg::{Metadata, Person, PortSpan, Record, Registry, RegistryDate, Transport};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::{check_text, limits, Actor, AuthorityError, Result, Role};

use super::Authority;

/// "previously NAME by [Person]", as IANA notes a de-assignment.
pub(super) fn previously(record: &Record) -> String {
    let by = record
        .effective_assignees()
        .first()
        .map_or(String::new(), |p| format!(" by [{p}]"));
    format!("previously {}{by}", record.name.as_deref().unwrap_or("-"))
}

pub(super) type Columns = (
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    &'static str,
    String,
);

pub(super) fn columns(record: &Record) -> Columns {
    (
        record.name.as_ref().map(|n| n.to_lowercase()),
        record.ports.map(|s| i64::from(s.low)),
        record.ports.map(|s| i64::from(s.high)),
        record.transport.as_ref().map(|t| t.as_str().to_owned()),
        record.status.as_str(),
        record_to_json(record).to_string(),
    )
}

pub(super) fn parse_record(data: &str) -> Result<Record> {
    record_from_json_text(data).map_err(AuthorityError::DamagedRecord)
}

pub(super) fn insert(tx: &Connection, record: &Record, position: i64) -> Result<()> {
    let (name, low, high, transport, status, data) = columns(record);
    tx.execute(
        "INSERT INTO records (position, name_key, port_low, port_high, transport, status, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![position, name, low, high, transport, status, data],
    )?;
    Ok(())
}

pub(super) fn update(tx: &Connection, id: i64, record: &Record) -> Result<()> {
    let (name, low, high, transport, status, data) = columns(record);
    tx.execute(
        "UPDATE records SET name_key = ?1, port_low = ?2, port_high = ?3, transport = ?4, status = ?5, data = ?6 WHERE id = ?7",
        params![name, low, high, transport, status, data, id],
    )?;
    Ok(())
}

pub(super) fn query_records(
    tx: &Connection,
    sql: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<(i64, Record)>> {
    let mut statement = tx.prepare_cached(sql)?;
    let rows = statement.query_map(values, |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
    })?;
    rows.map(|row| {
        let (id, data) = row?;
        Ok((id, parse_record(&data)?))
    })
    .collect()
}

/// Records of a name (any case).
pub(super) fn named(tx: &Connection, name: &str) -> Result<Vec<(i64, Record)>> {
    query_records(
        tx,
        "SELECT id, data FROM records WHERE name_key = ?1 ORDER BY id",
        [name.to_lowercase()],
    )
}

/// Records that overlap `span` on `transport` (records without a transport cover all).
/// The index on `port_low` is read from `low - widest span` on, not from port 0.
pub(super) fn covering(
    tx: &Connection,
    span: PortSpan,
    transport: &Transport,
) -> Result<Vec<(i64, Record)>> {
    query_records(
        tx,
        "SELECT id, data FROM records
         WHERE port_low BETWEEN ?1 - (SELECT coalesce(max(port_high - port_low), 0) FROM records) AND ?2
           AND port_high >= ?1 AND (transport = ?3 OR transport IS NULL) ORDER BY id",
        params![i64::from(span.low), i64::from(span.high), transport.as_str()],
    )
}

/// Turns a service's records (or one record, `#ID`) into Reserved rows with a note;
/// name-only records, which hold no port, are removed.
pub(super) fn release(
    tx: &Connection,
    subject: &str,
    note: &dyn Fn(&Record) -> String,
) -> Result<(usize, String)> {
    let records = match subject
        .strip_prefix('#')
        .and_then(|id| id.parse::<i64>().ok())
    {
        Some(id) => query_records(tx, "SELECT id, data FROM records WHERE id = ?1", [id])?,
        None => named(tx, subject)?,
    };
    let records: Vec<(i64, Record)> = records
        .into_iter()
        .filter(|(_, r)| r.name.is_some())
        .collect();
    if records.is_empty() {
        return Err(AuthorityError::NotFound(format!(
            "no assigned service {subject:?}"
        )));
    }
    let today = RegistryDate::today();
    for (id, record) in &records {
        if record.ports.is_none() {
            tx.execute("DELETE FROM records WHERE id = ?1", [id])?;
            continue;
        }
        let mut reserved = Record {
            ports: record.ports,
            transport: record.transport.clone(),
            description: Some("Reserved".into()),
            modified: Some(today.clone()),
            notes: Some(note(record)),
            ..Record::default()
        };
        // As the registry's readers will see it: a de-assigned note makes it de-assigned.
        reserved.status = reserved.derive_status();
        update(tx, *id, &reserved)?;
    }
    let places: Vec<String> = records.iter().map(|(_, r)| r.place()).collect();
    Ok((records.len(), places.join(", ")))
}

pub(super) fn metadata_to_json(meta: &Metadata) -> Value {
    json!({
        "id": meta.id, "title": meta.title, "category": meta.category,
        "updated": meta.updated.as_ref().map(ToString::to_string),
        "references": meta.references, "expert": meta.expert,
        "notes": meta.notes.iter().map(|n| json!({"title": n.title, "markup": n.markup})).collect::<Vec<_>>(),
        "footnotes": meta.footnotes.iter().map(|f| json!({"anchor": f.anchor, "text": f.text})).collect::<Vec<_>>(),
        "legacy_updated": meta.legacy_updated, "audit_head": meta.audit_head,
        "prose": meta.prose.iter().map(|p| json!({"before_record": p.before_record, "text": p.text})).collect::<Vec<_>>(),
    })
}

pub(super) fn metadata_from_json(value: &Value) -> Metadata {
    let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
    let list = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let field = |item: &Value, key: &str| item.get(key).and_then(Value::as_str).map(str::to_owned);
    Metadata {
        id: text("id"),
        title: text("title"),
        category: text("category"),
        updated: text("updated").and_then(|d| d.parse().ok()),
        references: serde_json::from_value(value.get("references").cloned().unwrap_or(Value::Null))
            .unwrap_or_default(),
        expert: text("expert"),
        notes: list("notes")
            .iter()
            .map(|n| Note {
                title: field(n, "title"),
                markup: field(n, "markup").unwrap_or_default(),
            })
            .collect(),
        footnotes: list("footnotes")
            .iter()
            .map(|f| Footnote {
                anchor: field(f, "anchor").unwrap_or_default(),
                text: field(f, "text").unwrap_or_default(),
            })
            .collect(),
        legacy_updated: text("legacy_updated"),
        audit_head: text("audit_head"),
        prose: list("prose")
            .iter()
            .map(|p| Prose {
                before_record: p.get("before_record").and_then(Value::as_u64).unwrap_or(0) as usize,
                text: field(p, "text").unwrap_or_default(),
            })
            .collect(),
    }
}

impl Authority {
    /// De-assigns a service (by name, or a record by `#ID`): its records become Reserved
    /// with the note "De-assigned on DATE, previously NAME by [Person]".
    pub fn deassign(
        &mut self,
        subject: &str,
        reason: Option<&str>,
        actor: &Actor,
    ) -> Result<usize> {
        let today = RegistryDate::today();
        self.change(actor, "deassign", subject, |tx| {
            actor.require(Role::Admin, "de-assigning")?;
            check_text("reason", reason.unwrap_or(""), limits::REASON)?;
            let note = |r: &Record| {
                let why = reason.map_or(String::new(), |r| format!(" ({r})"));
                format!("De-assigned on {today}, {}{why}", previously(r))
            };
            let (count, places) = release(tx, subject, &note)?;
            Ok((
                count,
                format!(
                    "{count} record(s) de-assigned ({places}){}",
                    reason.map_or(String::new(), |r| format!(": {r}"))
                ),
            ))
        })
    }

    /// Revokes a service: as [`Authority::deassign`], naming who revoked it and why.
    pub fn revoke(&mut self, subject: &str, reason: &str, actor: &Actor) -> Result<usize> {
        let today = RegistryDate::today();
        let reviewer = actor.name();
        self.change(actor, "revoke", subject, |tx| {
            actor.require(Role::Admin, "revoking")?;
            check_text("reason", reason, limits::REASON)?;
            let note = |r: &Record| {
                format!(
                    "Revoked on {today} by {reviewer}: {reason}; {}",
                    previously(r)
                )
            };
            let (count, places) = release(tx, subject, &note)?;
            Ok((
                count,
                format!("{count} record(s) revoked ({places}): {reason}"),
            ))
        })
    }

    /// Transfers a service to another person: its assignment ends and a new one to `to`
    /// begins, in one transaction.
    pub fn transfer(&mut self, name: &str, to: &str, actor: &Actor) -> Result<usize> {
        let today = RegistryDate::today();
        self.change(actor, "transfer", name, |tx| {
            actor.require(Role::Admin, "transferring")?;
            crate::check_person("new_assignee", to)?;
            // Approving a request and then taking its records is one person doing both.
            if actor.party().is_some_and(|me| me.is_named_in(to)) {
                return Err(AuthorityError::Forbidden(format!(
                    "{to:?} names {}: a record is never transferred to the one who transfers it",
                    actor.name()
                )));
            }
            let records = named(tx, name)?;
            if records.is_empty() {
                return Err(AuthorityError::NotFound(format!(
                    "no service named {name:?}"
                )));
            }
            for (id, mut record) in records.clone() {
                let from = record.effective_assignees().join(", ");
                record.assignees = Vec::new();
                record.contacts = vec![to.to_owned()];
                record.modified = Some(today.clone());
                let note = format!("Transferred on {today} from [{from}] to [{to}]");
                record.notes = Some(match record.notes.take() {
                    Some(notes) => format!("{notes}\n{note}"),
                    None => note,
                });
                update(tx, id, &record)?;
            }
            Ok((
                records.len(),
                format!("{} record(s) transferred to {to}", records.len()),
            ))
        })
    }

    /// The registry as it stands, in port order, with its date.
    pub fn registry(&self) -> Result<Registry> {
        let mut statement = self.connection.prepare(
            "SELECT data FROM records ORDER BY port_low IS NULL, port_low, position, id",
        )?;
        let records = statement
            .query_map([], |row| row.get::<_, String>(0))?
            .map(|data| parse_record(&data?))
            .collect::<Result<Vec<_>>>()?;
        let meta: Option<String> = self
            .connection
            .query_row("SELECT value FROM meta WHERE key = 'metadata'", [], |row| {
                row.get(0)
            })
            .optional()?;
        let meta = meta
            .and_then(|m| serde_json::from_str(&m).ok())
            .map(|v| metadata_from_json(&v))
            .unwrap_or_default();
        let mut people_statement = self
            .connection
            .prepare("SELECT id, name, org, uri, updated FROM people ORDER BY id")?;
        let people = people_statement
            .query_map([], |row| {
                Ok(Person {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    org: row.get(2)?,
                    uri: row.get(3)?,
                    updated: row
                        .get::<_, Option<String>>(4)?
                        .and_then(|d| d.parse().ok()),
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Registry {
            meta,
            records,
            people,
        })
    }

    /// The records of a service name.
    pub fn records_named(&self, name: &str) -> Result<Vec<Record>> {
        Ok(named(&self.connection, name)?
            .into_iter()
            .map(|(_, r)| r)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use portreg::Status;

    use super::super::testing::{local, request, store};
    use super::{columns, parse_record};
    use crate::Decision;

    #[test]
    fn records_round_trip_through_their_columns() {
        let test = store("records");
        for record in test.authority.registry().unwrap().records {
            let (name, _, _, _, status, data) = columns(&record);
            assert_eq!(name, record.name.as_ref().map(|n| n.to_lowercase()));
            assert_eq!(status, record.status.as_str());
            assert_eq!(parse_record(&data).unwrap(), record);
        }
        assert!(parse_record("{not json").is_err());
    }

    #[test]
    fn deassigned_ports_become_reserved_with_a_note() {
        let mut test = store("deassign");
        let id = test
            .authority
            .request(&request("zq-old", Some(40700)), &local())
            .unwrap();
        test.authority
            .review(id, Decision::Approve, None, None, &local())
            .unwrap();
        assert_eq!(
            test.authority
                .deassign("zq-old", Some("retired"), &local())
                .unwrap(),
            1
        );
        let records = test.authority.registry().unwrap().records;
        let row = records
            .iter()
            .find(|r| r.ports.is_some_and(|p| p.low == 40700) && r.status != Status::Unassigned)
            .unwrap();
        assert_eq!(row.name, None);
        assert!(
            row.notes
                .as_deref()
                .unwrap_or("")
                .contains("previously zq-old"),
            "{row:?}"
        );
        assert!(test.authority.records_named("zq-old").unwrap().is_empty());
    }
}
