//! The authority's SQLite store: records (as portreg JSON records, with the columns the
//! checks query), requests, people, metadata and the append-only audit trail.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use portreg::format::{record_from_json, record_to_json};
use portreg::rules::{self, check_service_name};
use portreg::{Footnote, Note, Prose};
use portreg::{
    Metadata, Person, PortSpan, RangeClass, Record, Reference, Registry, RegistryDate, Status,
    Transport,
};
use rusqlite::{
    params, Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior,
};
use serde_json::{json, Value};

use crate::{AuthorityError, Decision, NewRequest, Result};

/// The schema this code writes; each entry of [`MIGRATIONS`] moves a store one version up.
const SCHEMA_VERSION: i64 = 2;

const MIGRATIONS: [&str; 2] = [
    r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT, org TEXT, uri TEXT, updated TEXT);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    position INTEGER NOT NULL,
    name_key TEXT,
    port_low INTEGER,
    port_high INTEGER,
    transport TEXT,
    status TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX records_by_name ON records (name_key);
CREATE INDEX records_by_port ON records (port_low, port_high);
CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    filed TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'rejected')),
    name TEXT NOT NULL,
    transports TEXT NOT NULL,
    port INTEGER,
    description TEXT NOT NULL,
    assignee TEXT NOT NULL,
    contact TEXT NOT NULL,
    reference TEXT,
    txt_keys TEXT,
    procedure TEXT,
    reuse INTEGER NOT NULL DEFAULT 0,
    reviewer TEXT,
    reason TEXT,
    decided TEXT
);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
"#,
    // Version 2: the widest span, read through an index, bounds the port lookups.
    "CREATE INDEX records_by_span ON records (port_high - port_low);",
];

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting for review.
    Pending,
    /// Approved: its records exist.
    Approved,
    /// Turned down.
    Rejected,
}

impl RequestState {
    fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
        }
    }

    fn parse(text: &str) -> RequestState {
        match text {
            "approved" => RequestState::Approved,
            "rejected" => RequestState::Rejected,
            _ => RequestState::Pending,
        }
    }
}

/// A filed request.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    /// Its id.
    pub id: i64,
    /// When it was filed.
    pub filed: String,
    /// Where it stands.
    pub state: RequestState,
    /// What it asks for (the port picked for `--any-port` included).
    pub request: NewRequest,
    /// Who decided, why and when.
    pub reviewer: Option<String>,
    /// The reviewer's reason.
    pub reason: Option<String>,
    /// When it was decided.
    pub decided: Option<String>,
}

impl RequestRecord {
    /// The request as JSON.
    pub fn to_json(&self) -> Value {
        let r = &self.request;
        json!({
            "id": self.id, "filed": self.filed, "state": self.state.as_str(),
            "name": r.name, "transports": r.transports.iter().map(Transport::as_str).collect::<Vec<_>>(),
            "port": r.port, "description": r.description, "assignee": r.assignee, "contact": r.contact,
            "reference": r.reference, "txt_keys": r.txt_keys, "procedure": r.procedure, "reuse": r.reuse,
            "reviewer": self.reviewer, "reason": self.reason, "decided": self.decided,
        })
    }
}

/// One line of the audit trail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, UTC.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What (`request`, `approve`, `reject`, `deassign`, `revoke`, `transfer`, `init`).
    pub action: String,
    /// On what (a name, `request 12`).
    pub subject: String,
    /// `ok`, `refused`, `conflict`.
    pub outcome: String,
    /// Why, or what it did.
    pub detail: String,
}

impl AuditEntry {
    /// The entry as JSON.
    pub fn to_json(&self) -> Value {
        json!({"at": self.at, "actor": self.actor, "action": self.action, "subject": self.subject,
               "outcome": self.outcome, "detail": self.detail})
    }
}

/// An open store.
pub struct Authority {
    connection: Connection,
    path: PathBuf,
}

/// The current time, `YYYY-MM-DDTHH:MM:SSZ`.
fn now() -> String {
    let time = SystemTime::now();
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        RegistryDate::of(time),
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

fn store_error(path: &Path, what: impl std::fmt::Display) -> AuthorityError {
    AuthorityError::Store {
        path: path.to_owned(),
        what: what.to_string(),
        source: None,
    }
}

/// A store error that keeps SQLite's error as its source.
fn sqlite_error<'a>(
    path: &'a Path,
    what: &'a str,
) -> impl FnOnce(rusqlite::Error) -> AuthorityError + 'a {
    move |source| AuthorityError::Store {
        path: path.to_owned(),
        what: what.to_owned(),
        source: Some(source),
    }
}

impl Authority {
    /// Opens an existing store, migrating it to the current schema. A file that is no
    /// store, or one of a newer schema, is refused and left as it was.
    pub fn open(path: &Path) -> Result<Authority> {
        if !path.exists() {
            return Err(store_error(
                path,
                "no such store; create it with `portreg authority init`",
            ));
        }
        Self::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
    }

    /// Creates a store, loaded with `registry` when given. An existing store is refused.
    pub fn init(path: &Path, registry: Option<&Registry>, actor: &str) -> Result<Authority> {
        if path.exists() {
            return Err(store_error(path, "already exists; it was left as it was"));
        }
        let mut authority = Self::connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        let empty = Registry::default();
        let registry = registry.unwrap_or(&empty);
        let tx = authority
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO records (position, name_key, port_low, port_high, transport, status, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for (position, record) in registry.records.iter().enumerate() {
                let (name, low, high, transport, status, data) = columns(record);
                insert.execute(params![
                    position as i64,
                    name,
                    low,
                    high,
                    transport,
                    status,
                    data
                ])?;
            }
            let mut person = tx.prepare("INSERT OR REPLACE INTO people (id, name, org, uri, updated) VALUES (?1, ?2, ?3, ?4, ?5)")?;
            for p in &registry.people {
                person.execute(params![
                    p.id,
                    p.name,
                    p.org,
                    p.uri,
                    p.updated.as_ref().map(|d| d.to_string())
                ])?;
            }
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('metadata', ?1)",
            [metadata_to_json(&registry.meta).to_string()],
        )?;
        let detail = format!(
            "{} records, {} people",
            registry.records.len(),
            registry.people.len()
        );
        audit(
            &tx,
            actor,
            "init",
            &path.display().to_string(),
            "ok",
            &detail,
        )?;
        tx.commit()?;
        Ok(authority)
    }

    fn connect(path: &Path, flags: OpenFlags) -> Result<Authority> {
        let connection =
            Connection::open_with_flags(path, flags).map_err(sqlite_error(path, "cannot open"))?;
        connection
            .busy_timeout(Duration::from_secs(60))
            .map_err(sqlite_error(path, "cannot open"))?;
        // Reading the schema version is the first read: a file that is no database fails
        // here, before anything is written to it.
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(sqlite_error(path, "not a portreg authority store"))?;
        if version > SCHEMA_VERSION {
            return Err(store_error(
                path,
                format!("the store has schema version {version}; this portreg knows up to {SCHEMA_VERSION}: use a newer portreg"),
            ));
        }
        if version == 0 {
            let tables: i64 = connection
                .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
                .map_err(sqlite_error(path, "cannot read"))?;
            if tables > 0 {
                return Err(store_error(
                    path,
                    "a SQLite database, but not a portreg authority store",
                ));
            }
        }
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .and_then(|()| connection.pragma_update(None, "synchronous", "FULL"))
            .and_then(|()| connection.pragma_update(None, "foreign_keys", "ON"))
            .map_err(sqlite_error(path, "cannot set up"))?;
        let mut authority = Authority {
            connection,
            path: path.to_owned(),
        };
        authority.migrate(version)?;
        Ok(authority)
    }

    fn migrate(&mut self, from: i64) -> Result<()> {
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process may have migrated while this one waited for the lock.
            let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            if version > index as i64 {
                continue;
            }
            tx.execute_batch(migration)?;
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `change` in one immediate transaction; an attempt that fails is still audited.
    fn change<T>(
        &mut self,
        actor: &str,
        action: &str,
        subject: &str,
        change: impl FnOnce(&Transaction<'_>) -> Result<(T, String)>,
    ) -> Result<T> {
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        match change(&tx) {
            Ok((value, detail)) => {
                audit(&tx, actor, action, subject, "ok", &detail)?;
                touch(&tx)?;
                tx.commit()?;
                Ok(value)
            }
            Err(error) => {
                drop(tx);
                let outcome = match &error {
                    AuthorityError::Refused(_) => "refused",
                    AuthorityError::Conflict(_) => "conflict",
                    AuthorityError::NotFound(_) => "not found",
                    AuthorityError::Store { .. }
                    | AuthorityError::DamagedRecord(_)
                    | AuthorityError::Database(_) => "error",
                };
                let tx = self
                    .connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                audit(&tx, actor, action, subject, outcome, &error.to_string())?;
                tx.commit()?;
                Err(error)
            }
        }
    }

    /// Files a request after checking it; returns its id. A `--any-port` request gets its
    /// port now (and keeps it, if still free, at approval).
    pub fn request(&mut self, request: &NewRequest) -> Result<i64> {
        let mut request = request.clone();
        if request.transports.is_empty() {
            return Err(AuthorityError::Refused(
                "give at least one transport".into(),
            ));
        }
        let actor = request.actor.clone();
        let subject = request.name.clone();
        self.change(&actor, "request", &subject, |tx| {
            if request.any_port {
                request.port = Some(pick_port(tx, &request)?);
            }
            check(tx, &request).map_err(refused)?;
            let transports: Vec<&str> = request.transports.iter().map(Transport::as_str).collect();
            tx.execute(
                "INSERT INTO requests (filed, state, name, transports, port, description, assignee, contact,
                                       reference, txt_keys, procedure, reuse)
                 VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    now(), request.name, transports.join(","), request.port, request.description, request.assignee,
                    request.contact, request.reference, request.txt_keys, request.procedure, request.reuse
                ],
            )?;
            let id = tx.last_insert_rowid();
            let place = request.port.map_or("name only".to_owned(), |p| format!("port {p}"));
            Ok((id, format!("request {id}: {} {place}/{}", request.name, transports.join(","))))
        })
    }

    /// Approves or rejects a pending request. Approval checks again, inside the
    /// transaction that creates the records, and fails with a conflict when the name or
    /// the port was taken since. Returns the records created.
    pub fn review(
        &mut self,
        id: i64,
        decision: Decision,
        reviewer: &str,
        reason: Option<&str>,
    ) -> Result<Vec<Record>> {
        let action = decision.to_string();
        self.change(reviewer, &action, &format!("request {id}"), |tx| {
            let filed = load_request(tx, id)?;
            if filed.state != RequestState::Pending {
                return Err(AuthorityError::Conflict(format!("request {id} is already {}", filed.state.as_str())));
            }
            let created = match decision {
                Decision::Reject => Vec::new(),
                Decision::Approve => {
                    // A name or port taken since the request was filed is a conflict.
                    check(tx, &filed.request)?;
                    assign(tx, &filed.request)?
                }
            };
            let state = if decision == Decision::Approve { "approved" } else { "rejected" };
            tx.execute(
                "UPDATE requests SET state = ?1, reviewer = ?2, reason = ?3, decided = ?4 WHERE id = ?5",
                params![state, reviewer, reason, now(), id],
            )?;
            let detail = format!("{state} {}: {} record(s){}", filed.request.name, created.len(), reason.map_or(String::new(), |r| format!("; {r}")));
            Ok((created, detail))
        })
    }

    /// De-assigns a service (by name, or a record by `#ID`): its records become Reserved
    /// with the note "De-assigned on DATE, previously NAME by [Person]".
    pub fn deassign(&mut self, subject: &str, actor: &str, reason: Option<&str>) -> Result<usize> {
        let today = RegistryDate::today();
        self.change(actor, "deassign", subject, |tx| {
            let note = |r: &Record| {
                let why = reason.map_or(String::new(), |r| format!(" ({r})"));
                format!("De-assigned on {today}, {}{why}", previously(r))
            };
            let count = release(tx, subject, &note)?;
            Ok((
                count,
                format!(
                    "{count} record(s) de-assigned{}",
                    reason.map_or(String::new(), |r| format!(": {r}"))
                ),
            ))
        })
    }

    /// Revokes a service: as [`Authority::deassign`], with the reviewer and the reason.
    pub fn revoke(&mut self, subject: &str, reviewer: &str, reason: &str) -> Result<usize> {
        let today = RegistryDate::today();
        self.change(reviewer, "revoke", subject, |tx| {
            let note = |r: &Record| {
                format!(
                    "Revoked on {today} by {reviewer}: {reason}; {}",
                    previously(r)
                )
            };
            let count = release(tx, subject, &note)?;
            Ok((count, format!("{count} record(s) revoked: {reason}")))
        })
    }

    /// Transfers a service to another person: its assignment ends and a new one to `to`
    /// begins, in one transaction.
    pub fn transfer(&mut self, name: &str, to: &str, actor: &str) -> Result<usize> {
        let today = RegistryDate::today();
        self.change(actor, "transfer", name, |tx| {
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

    /// The audit trail, oldest first: all of it, or what concerns a name or a port, or
    /// what happened since a date.
    pub fn history(&self, subject: Option<&str>, since: Option<&str>) -> Result<Vec<AuditEntry>> {
        let mut statement = self.connection.prepare(
            "SELECT at, actor, action, subject, outcome, detail FROM audit
             WHERE (?1 IS NULL OR lower(subject) = lower(?1) OR detail LIKE '%' || ?1 || '%') AND (?2 IS NULL OR at >= ?2)
             ORDER BY id",
        )?;
        let rows = statement.query_map(params![subject, since], |row| {
            Ok(AuditEntry {
                at: row.get(0)?,
                actor: row.get(1)?,
                action: row.get(2)?,
                subject: row.get(3)?,
                outcome: row.get(4)?,
                detail: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The requests, all or in one state.
    pub fn requests(&self, state: Option<RequestState>) -> Result<Vec<RequestRecord>> {
        let mut statement = self
            .connection
            .prepare("SELECT id FROM requests WHERE (?1 IS NULL OR state = ?1) ORDER BY id")?;
        let ids: Vec<i64> = statement
            .query_map([state.map(RequestState::as_str)], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.into_iter()
            .map(|id| load_request(&self.connection, id))
            .collect()
    }

    /// One request.
    pub fn request_by_id(&self, id: i64) -> Result<RequestRecord> {
        load_request(&self.connection, id)
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

    /// Copies the store to `destination` with SQLite's online backup.
    pub fn backup(&self, destination: &Path) -> Result<()> {
        if destination.exists() {
            return Err(store_error(
                destination,
                "already exists; choose a new file",
            ));
        }
        self.connection
            .backup(rusqlite::MAIN_DB, destination, None)
            .map_err(sqlite_error(destination, "cannot back up into"))
    }

    /// `PRAGMA integrity_check`: `ok` for a sound database.
    pub fn integrity(&self) -> Result<String> {
        Ok(self
            .connection
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }
}

/// "previously NAME by [Person]", as IANA notes a de-assignment.
fn previously(record: &Record) -> String {
    let by = record
        .effective_assignees()
        .first()
        .map_or(String::new(), |p| format!(" by [{p}]"));
    format!("previously {}{by}", record.name.as_deref().unwrap_or("-"))
}

fn refused(error: AuthorityError) -> AuthorityError {
    match error {
        AuthorityError::Conflict(message) => AuthorityError::Refused(message),
        other => other,
    }
}

fn audit(
    tx: &Connection,
    actor: &str,
    action: &str,
    subject: &str,
    outcome: &str,
    detail: &str,
) -> Result<()> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, subject, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![now(), actor, action, subject, outcome, detail],
    )?;
    Ok(())
}

/// The registry's date moves to today with every change.
fn touch(tx: &Connection) -> Result<()> {
    let meta: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = 'metadata'", [], |row| {
            row.get(0)
        })
        .optional()?;
    let mut meta = meta
        .and_then(|m| serde_json::from_str(&m).ok())
        .map(|v| metadata_from_json(&v))
        .unwrap_or_default();
    meta.updated = Some(RegistryDate::today());
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('metadata', ?1)",
        [metadata_to_json(&meta).to_string()],
    )?;
    Ok(())
}

type Columns = (
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    &'static str,
    String,
);

fn columns(record: &Record) -> Columns {
    (
        record.name.as_ref().map(|n| n.to_lowercase()),
        record.ports.map(|s| i64::from(s.low)),
        record.ports.map(|s| i64::from(s.high)),
        record.transport.as_ref().map(|t| t.as_str().to_owned()),
        record.status.as_str(),
        record_to_json(record).to_string(),
    )
}

fn parse_record(data: &str) -> Result<Record> {
    let value: Value =
        serde_json::from_str(data).map_err(|e| AuthorityError::DamagedRecord(e.to_string()))?;
    record_from_json(value).map_err(AuthorityError::DamagedRecord)
}

fn insert(tx: &Connection, record: &Record, position: i64) -> Result<()> {
    let (name, low, high, transport, status, data) = columns(record);
    tx.execute(
        "INSERT INTO records (position, name_key, port_low, port_high, transport, status, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![position, name, low, high, transport, status, data],
    )?;
    Ok(())
}

fn update(tx: &Connection, id: i64, record: &Record) -> Result<()> {
    let (name, low, high, transport, status, data) = columns(record);
    tx.execute(
        "UPDATE records SET name_key = ?1, port_low = ?2, port_high = ?3, transport = ?4, status = ?5, data = ?6 WHERE id = ?7",
        params![name, low, high, transport, status, data, id],
    )?;
    Ok(())
}

fn query_records(
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
fn named(tx: &Connection, name: &str) -> Result<Vec<(i64, Record)>> {
    query_records(
        tx,
        "SELECT id, data FROM records WHERE name_key = ?1 ORDER BY id",
        [name.to_lowercase()],
    )
}

/// Records that cover `port` on `transport` (records without a transport cover all).
/// The index on `port_low` is read from `port - widest span` on, not from port 0.
fn covering(tx: &Connection, port: u16, transport: &Transport) -> Result<Vec<(i64, Record)>> {
    query_records(
        tx,
        "SELECT id, data FROM records
         WHERE port_low BETWEEN ?1 - (SELECT coalesce(max(port_high - port_low), 0) FROM records) AND ?1
           AND port_high >= ?1 AND (transport = ?2 OR transport IS NULL) ORDER BY id",
        params![i64::from(port), transport.as_str()],
    )
}

fn reserved_for(name: &str) -> String {
    format!("Reserved for {name}")
}

/// Checks a request against the rules and the registry as it stands.
fn check(tx: &Connection, request: &NewRequest) -> Result<()> {
    let problems = check_service_name(&request.name);
    if !problems.is_empty() {
        let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(AuthorityError::Refused(format!(
            "{:?} is not a valid service name: {}",
            request.name,
            reasons.join("; ")
        )));
    }
    if let Some(port) = request.port {
        let class = RangeClass::of(port);
        if class == RangeClass::Dynamic {
            return Err(AuthorityError::Refused(format!(
                "port {port} is in the Dynamic range (49152-65535), which is never assigned"
            )));
        }
        if rules::is_reserved(port) {
            return Err(AuthorityError::Refused(format!(
                "port {port} is reserved by RFC 6335"
            )));
        }
        let procedure_ok = matches!(
            request.procedure.as_deref(),
            Some("ietf-review" | "iesg-approval")
        );
        if class == RangeClass::System && !procedure_ok {
            return Err(AuthorityError::Refused(format!(
                "port {port} is a System port, assigned by IETF Review or IESG Approval: give --procedure ietf-review or iesg-approval"
            )));
        }
    }
    // The name: free, or held by this same service on the same port (adding a transport).
    for (_, record) in named(tx, &request.name)? {
        let same_port =
            record.ports.is_some() && record.ports == request.port.map(PortSpan::single);
        let same_transport = record
            .transport
            .as_ref()
            .is_some_and(|t| request.transports.contains(t));
        if !same_port || same_transport {
            let place = match (record.ports, &record.transport) {
                (Some(p), Some(t)) => format!("{p}/{t}"),
                (Some(p), None) => p.to_string(),
                (None, _) => "name only".to_owned(),
            };
            return Err(AuthorityError::Conflict(format!(
                "the name {:?} is taken by {} ({place})",
                request.name,
                record.name.as_deref().unwrap_or("-")
            )));
        }
    }
    let Some(port) = request.port else {
        return Ok(());
    };
    for transport in &request.transports {
        for (_, record) in covering(tx, port, transport)? {
            let for_this = record
                .notes
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&reserved_for(&request.name)));
            match record.status {
                Status::Unassigned => {}
                Status::Reserved | Status::Deassigned if for_this || request.reuse => {}
                Status::Reserved | Status::Deassigned => {
                    return Err(AuthorityError::Conflict(format!(
                        "port {port}/{transport} is Reserved: give --reuse to assign it again"
                    )))
                }
                _ => {
                    return Err(AuthorityError::Conflict(format!(
                        "port {port}/{transport} is taken by {}",
                        record.name.as_deref().unwrap_or("a nameless record")
                    )))
                }
            }
        }
    }
    Ok(())
}

/// The lowest port of the request's range free on every requested transport.
fn pick_port(tx: &Connection, request: &NewRequest) -> Result<u16> {
    let span = request.range.unwrap_or(RangeClass::User.span());
    if RangeClass::of(span.low) == RangeClass::Dynamic {
        return Err(AuthorityError::Refused(
            "the Dynamic range (49152-65535) is never assigned".into(),
        ));
    }
    for port in span.low..=span.high.min(49151) {
        if rules::is_reserved(port) {
            continue;
        }
        let mut free = true;
        for transport in &request.transports {
            if covering(tx, port, transport)?
                .iter()
                .any(|(_, r)| r.status != Status::Unassigned)
            {
                free = false;
                break;
            }
        }
        if free {
            return Ok(port);
        }
    }
    Err(AuthorityError::Refused(format!(
        "no port in {span} is free on every requested transport"
    )))
}

/// Creates the records of an approved request: one per transport, and on the other of
/// tcp and udp, if free, a Reserved record for the service, as IANA does. Unassigned
/// ranges around the port are split.
fn assign(tx: &Connection, request: &NewRequest) -> Result<Vec<Record>> {
    let today = RegistryDate::today();
    let position: i64 = tx.query_row(
        "SELECT coalesce(max(position), 0) + 1 FROM records",
        [],
        |row| row.get(0),
    )?;
    let mut created = Vec::new();
    let base = Record {
        name: Some(request.name.clone()),
        description: Some(request.description.clone()),
        status: Status::Assigned,
        assignees: if request.assignee == request.contact {
            Vec::new()
        } else {
            vec![request.assignee.clone()]
        },
        contacts: vec![request.contact.clone()],
        registered: Some(today.clone()),
        references: request
            .reference
            .iter()
            .map(|r| Reference::from_label(r))
            .collect(),
        notes: request
            .txt_keys
            .as_ref()
            .map(|keys| format!("Defined TXT keys: {keys}")),
        ..Record::default()
    };
    let Some(port) = request.port else {
        for transport in &request.transports {
            let record = Record {
                transport: Some(transport.clone()),
                ..base.clone()
            };
            insert(tx, &record, position)?;
            created.push(record);
        }
        return Ok(created);
    };
    let mut others: Vec<Transport> = [Transport::Tcp, Transport::Udp]
        .into_iter()
        .filter(|t| !request.transports.contains(t))
        .collect();
    if !request
        .transports
        .iter()
        .any(|t| matches!(t, Transport::Tcp | Transport::Udp))
    {
        others.clear();
    }
    for transport in request.transports.iter().chain(&others) {
        for (id, record) in covering(tx, port, transport)? {
            match record.status {
                Status::Unassigned => split(tx, id, &record, port)?,
                Status::Reserved | Status::Deassigned if request.transports.contains(transport) => {
                    tx.execute("DELETE FROM records WHERE id = ?1", [id])?;
                }
                _ => {}
            }
        }
    }
    for transport in &request.transports {
        let record = Record {
            ports: Some(PortSpan::single(port)),
            transport: Some(transport.clone()),
            ..base.clone()
        };
        insert(tx, &record, position)?;
        created.push(record);
    }
    for transport in &others {
        if covering(tx, port, transport)?
            .iter()
            .any(|(_, r)| r.status != Status::Unassigned)
        {
            continue;
        }
        let record = Record {
            ports: Some(PortSpan::single(port)),
            transport: Some(transport.clone()),
            description: Some("Reserved".into()),
            status: Status::Reserved,
            notes: Some(reserved_for(&request.name)),
            modified: Some(today.clone()),
            ..Record::default()
        };
        insert(tx, &record, position)?;
        created.push(record);
    }
    Ok(created)
}

/// Cuts `port` out of an Unassigned record.
fn split(tx: &Connection, id: i64, record: &Record, port: u16) -> Result<()> {
    let Some(span) = record.ports else {
        return Ok(());
    };
    let position: i64 =
        tx.query_row("SELECT position FROM records WHERE id = ?1", [id], |row| {
            row.get(0)
        })?;
    tx.execute("DELETE FROM records WHERE id = ?1", [id])?;
    let parts = [
        (span.low < port).then(|| PortSpan {
            low: span.low,
            high: port - 1,
        }),
        (port < span.high).then(|| PortSpan {
            low: port + 1,
            high: span.high,
        }),
    ];
    for part in parts.into_iter().flatten() {
        let mut piece = record.clone();
        piece.ports = Some(part);
        piece.extra.ports_as_written = None;
        insert(tx, &piece, position)?;
    }
    Ok(())
}

/// Turns a service's records (or one record, `#ID`) into Reserved rows with a note;
/// name-only records, which hold no port, are removed.
fn release(tx: &Connection, subject: &str, note: &dyn Fn(&Record) -> String) -> Result<usize> {
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
    Ok(records.len())
}

fn load_request(tx: &Connection, id: i64) -> Result<RequestRecord> {
    tx.query_row(
        "SELECT id, filed, state, name, transports, port, description, assignee, contact, reference, txt_keys,
                procedure, reuse, reviewer, reason, decided FROM requests WHERE id = ?1",
        [id],
        |row| {
            let transports: String = row.get(4)?;
            Ok(RequestRecord {
                id: row.get(0)?,
                filed: row.get(1)?,
                state: RequestState::parse(&row.get::<_, String>(2)?),
                request: NewRequest {
                    name: row.get(3)?,
                    transports: transports.split(',').filter_map(|t| t.parse().ok()).collect(),
                    port: row.get::<_, Option<i64>>(5)?.and_then(|p| u16::try_from(p).ok()),
                    any_port: false,
                    range: None,
                    description: row.get(6)?,
                    assignee: row.get(7)?,
                    contact: row.get(8)?,
                    reference: row.get(9)?,
                    txt_keys: row.get(10)?,
                    procedure: row.get(11)?,
                    reuse: row.get(12)?,
                    actor: String::new(),
                },
                reviewer: row.get(13)?,
                reason: row.get(14)?,
                decided: row.get(15)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| AuthorityError::NotFound(format!("no request {id}")))
}

fn metadata_to_json(meta: &Metadata) -> Value {
    json!({
        "id": meta.id, "title": meta.title, "category": meta.category,
        "updated": meta.updated.as_ref().map(ToString::to_string),
        "references": meta.references, "expert": meta.expert,
        "notes": meta.notes.iter().map(|n| json!({"title": n.title, "markup": n.markup})).collect::<Vec<_>>(),
        "footnotes": meta.footnotes.iter().map(|f| json!({"anchor": f.anchor, "text": f.text})).collect::<Vec<_>>(),
        "legacy_updated": meta.legacy_updated,
        "prose": meta.prose.iter().map(|p| json!({"before_record": p.before_record, "text": p.text})).collect::<Vec<_>>(),
    })
}

fn metadata_from_json(value: &Value) -> Metadata {
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
        prose: list("prose")
            .iter()
            .map(|p| Prose {
                before_record: p.get("before_record").and_then(Value::as_u64).unwrap_or(0) as usize,
                text: field(p, "text").unwrap_or_default(),
            })
            .collect(),
    }
}
