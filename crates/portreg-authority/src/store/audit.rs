//! The append-only log: who did what, when, how it ended, and every row of every table
//! the change wrote. Each entry carries `hash = SHA-256(hash of the entry before, "\n",
//! [id, at, actor, action, subject, outcome, detail] as JSON, "\n", changes)`, and the
//! store keeps the last entry's id and hash (the chain's head), so that an entry changed,
//! removed or inserted behind the store's back breaks the chain.
//!
//! The changes are caught by temporary triggers of the store's own connection (an
//! editor opening the file has none): each insert, update or delete of identities,
//! requests, records, people and metadata is `[table, key, row]` (`row` null for a
//! delete), and [`Authority::verify`] replays them and compares the result with every
//! table, so that a role or a record edited in the database is seen.

use std::collections::BTreeMap;

use portreg::RegistryDate;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::log::{check_entry, sign_entry, Checkpoint, LogKey, LogSigner, LogTree};
use crate::{AuthorityError, Result};

use super::{metadata_from_json, metadata_to_json, now, Authority};

/// The tables whose every row is in the log, with their keys. The meta row `audit_head`
/// follows from the log and is not in it.
const TRACKED: [(&str, &str); 5] = [
    ("users", "name"),
    ("requests", "id"),
    ("records", "id"),
    ("people", "id"),
    ("meta", "key"),
];

/// The meta rows outside the log: what the log itself determines (its head, its last
/// checkpoint, the first entry that had to be signed).
const UNTRACKED_META: &str = "'audit_head', 'checkpoint', 'signed_from'";

/// A table's columns, in order.
fn columns_of(connection: &Connection, table: &str) -> Result<Vec<String>> {
    let mut statement = connection.prepare(&format!("PRAGMA main.table_info({table})"))?;
    let names = statement
        .query_map([], |row| row.get::<_, String>(1))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}

/// `json_array(P.c1, P.c2, ...)`: a row as the log holds it.
fn row_expression(columns: &[String], prefix: &str) -> String {
    let list: Vec<String> = columns.iter().map(|c| format!("{prefix}\"{c}\"")).collect();
    format!("json_array({})", list.join(", "))
}

/// Installs the connection's temporary triggers that catch every change to the tracked
/// tables into `temp.pending_changes`, which the next log entry takes.
pub(super) fn capture_changes(connection: &Connection) -> Result<()> {
    let mut sql = String::from(
        "CREATE TEMP TABLE IF NOT EXISTS pending_changes (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);",
    );
    for (table, key) in TRACKED {
        let columns = columns_of(connection, table)?;
        let (new_row, when_new, when_old) = (
            row_expression(&columns, "NEW."),
            if table == "meta" {
                format!("WHEN NEW.key NOT IN ({UNTRACKED_META})")
            } else {
                String::new()
            },
            if table == "meta" {
                format!("WHEN OLD.key NOT IN ({UNTRACKED_META})")
            } else {
                String::new()
            },
        );
        let put = format!(
            "INSERT INTO pending_changes (entry) VALUES (json_array('{table}', CAST(NEW.\"{key}\" AS TEXT), {new_row}));"
        );
        let remove = format!(
            "INSERT INTO pending_changes (entry) VALUES (json_array('{table}', CAST(OLD.\"{key}\" AS TEXT), NULL));"
        );
        sql.push_str(&format!(
            "CREATE TEMP TRIGGER IF NOT EXISTS log_{table}_insert AFTER INSERT ON main.{table} {when_new} BEGIN {put} END;
             CREATE TEMP TRIGGER IF NOT EXISTS log_{table}_delete AFTER DELETE ON main.{table} {when_old} BEGIN {remove} END;
             CREATE TEMP TRIGGER IF NOT EXISTS log_{table}_update AFTER UPDATE ON main.{table} {when_new} BEGIN {remove} {put} END;"
        ));
    }
    connection.execute_batch(&sql)?;
    Ok(())
}

/// What the tables hold, keyed by table and key, as the log writes rows.
pub(super) type State = BTreeMap<(String, String), Value>;

/// Every row of the tracked tables.
pub(super) fn table_state(connection: &Connection) -> Result<State> {
    let mut state = State::new();
    for (table, key) in TRACKED {
        let columns = columns_of(connection, table)?;
        let filter = if table == "meta" {
            format!("WHERE key NOT IN ({UNTRACKED_META})")
        } else {
            String::new()
        };
        let mut statement = connection.prepare(&format!(
            "SELECT CAST(\"{key}\" AS TEXT), {} FROM main.{table} {filter}",
            row_expression(&columns, "")
        ))?;
        let mut rows = statement.query([])?;
        while let Some(row) = rows.next()? {
            let key: String = row.get(0)?;
            let data: String = row.get(1)?;
            let value = serde_json::from_str(&data)
                .map_err(|e| AuthorityError::DamagedRecord(format!("{table} {key}: {e}")))?;
            state.insert((table.to_owned(), key), value);
        }
    }
    Ok(state)
}

/// The changes the current transaction made, as the log entry's text, and clears them.
fn take_changes(tx: &Connection) -> Result<String> {
    let mut statement = tx.prepare_cached("SELECT entry FROM temp.pending_changes ORDER BY seq")?;
    let entries = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.execute("DELETE FROM temp.pending_changes", [])?;
    Ok(format!("[{}]", entries.join(",")))
}

/// The whole state as one entry's changes: what a checkpoint records.
fn state_changes(state: &State) -> String {
    let entries: Vec<String> = state
        .iter()
        .map(|((table, key), row)| json!([table, key, row]).to_string())
        .collect();
    format!("[{}]", entries.join(","))
}

/// What walking the chain found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Rows walked.
    pub rows: usize,
    /// The head: `ID:HASH` of the last row (`0:` for an empty trail).
    pub head: String,
    /// The first break, if any: which row was changed, removed or inserted.
    pub problem: Option<String>,
}

/// The hash of an entry, chained to the one before; `changes`, where the entry has them
/// (entries of stores made before the log held changes have none).
pub(super) fn row_hash(
    previous: &str,
    fields: [&str; 6],
    changes: Option<&str>,
    id: i64,
) -> String {
    let [at, actor, action, subject, outcome, detail] = fields;
    let content = json!([id, at, actor, action, subject, outcome, detail]).to_string();
    let mut hasher = Sha256::new();
    hasher.update(previous.as_bytes());
    hasher.update(b"\n");
    hasher.update(content.as_bytes());
    if let Some(changes) = changes {
        hasher.update(b"\n");
        hasher.update(changes.as_bytes());
    }
    format!("{:x}", hasher.finalize())
}

/// An entry's hashed fields, `at` to `detail`, from columns 1 to 6 of a row that
/// selects `id, at, actor, action, subject, outcome, detail, ...`.
pub(super) fn entry_fields(row: &rusqlite::Row<'_>) -> rusqlite::Result<[String; 6]> {
    Ok([
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
    ])
}

/// The last row's id and hash, as the trail holds them.
fn last_row(tx: &Connection) -> Result<(i64, String)> {
    Ok(tx
        .query_row(
            "SELECT id, coalesce(hash, '') FROM audit ORDER BY id DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?
        .unwrap_or((0, String::new())))
}

/// Sets the head the store keeps.
pub(super) fn set_head(tx: &Connection, id: i64, hash: &str) -> Result<()> {
    tx.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('audit_head', ?1)",
        [format!("{id}:{hash}")],
    )?;
    Ok(())
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

/// What writes the log: the authority's key and the tree of the entries verified so far.
pub(super) struct LogWriter<'a> {
    pub(super) signer: &'a LogSigner,
    pub(super) tree: &'a std::sync::RwLock<LogTree>,
}

/// Appends an entry, with the changes the transaction made, signed.
pub(super) fn audit(
    tx: &Connection,
    log: &LogWriter<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    outcome: &str,
    detail: &str,
) -> Result<()> {
    let changes = take_changes(tx)?;
    append(
        tx,
        Some(log),
        [&now(), actor, action, subject, outcome, detail],
        &changes,
    )
}

/// Appends an entry. With a writer (always, but for a migration run before any key is
/// at hand), the entry is signed and the store keeps a checkpoint covering it, signed
/// too: the tree is first brought up to the log's last entry, each entry checked.
fn append(
    tx: &Connection,
    log: Option<&LogWriter<'_>>,
    fields: [&str; 6],
    changes: &str,
) -> Result<()> {
    let (last, previous) = last_row(tx)?;
    let id = last + 1;
    let hash = row_hash(&previous, fields, Some(changes), id);
    let [at, actor, action, subject, outcome, detail] = fields;
    let signature = match log {
        Some(log) => {
            let public = log.signer.public();
            let mut tree = log
                .tree
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            super::log::sync(tx, &mut tree, Some(&public))?;
            let leaf = super::log::leaf_of(id as u64, &hash)?;
            let checkpoint = Checkpoint {
                origin: log.signer.name.clone(),
                size: id as u64,
                root: tree.root_with(leaf).map_err(AuthorityError::Tampered)?,
                time: Some(super::unix_now()),
                registry: None,
            };
            let note = checkpoint
                .sign(log.signer)
                .map_err(AuthorityError::Refused)?;
            tx.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('checkpoint', ?1)",
                [note],
            )?;
            Some(sign_entry(log.signer, id as u64, &hash))
        }
        None => None,
    };
    match signature {
        Some(signature) => tx.execute(
            "INSERT INTO audit (id, at, actor, action, subject, outcome, detail, hash, changes, signature) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![id, at, actor, action, subject, outcome, detail, hash, changes, signature],
        )?,
        // A migration's entry, written before the column of signatures exists.
        None => tx.execute(
            "INSERT INTO audit (id, at, actor, action, subject, outcome, detail, hash, changes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![id, at, actor, action, subject, outcome, detail, hash, changes],
        )?,
    };
    set_head(tx, id, &hash)
}

/// Why entry `id`'s signature does not hold, if it does not: from `first_signed` on
/// every entry must be signed by the log's key.
pub(super) fn signature_problem(
    key: Option<&LogKey>,
    id: i64,
    first_signed: u64,
    hash: &str,
    signature: Option<&str>,
) -> Option<String> {
    let id = id as u64;
    if id < first_signed && signature.is_none() {
        return None;
    }
    match (key, signature) {
        (Some(key), Some(signature)) if check_entry(key, id, hash, signature) => None,
        (_, None) => Some(format!(
            "row {id} is not signed: it was written by someone without the authority's key"
        )),
        _ => Some(format!(
            "row {id}'s signature is not the authority's key's: it was written or re-signed by someone else"
        )),
    }
}

/// The action of an entry that takes the tables as they are into the log: a store
/// migrated from before the log held changes.
pub(super) const CHECKPOINT: &str = "checkpoint";

/// Appends a checkpoint: every row of every tracked table, as found.
pub(super) fn checkpoint(tx: &Connection, detail: &str) -> Result<()> {
    let state = table_state(tx)?;
    append(
        tx,
        None,
        [&now(), "portreg", CHECKPOINT, "store", "ok", detail],
        &state_changes(&state),
    )
}

/// Hashes every row of a trail that has none yet (a store made before the chain), in
/// order, and records the head. A trail that had rows says so in the store's metadata,
/// for good: a chain rebuilt from rows as they were found proves nothing about them, so
/// `verify` takes such a store only against a head published before.
pub(super) fn rechain(tx: &Connection) -> Result<()> {
    let rows: Vec<(i64, [String; 6])> = {
        let mut statement = tx.prepare(
            "SELECT id, at, actor, action, subject, outcome, detail FROM audit ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, entry_fields(row)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut previous = String::new();
    let mut last = 0;
    for (id, fields) in &rows {
        let fields = fields.each_ref().map(String::as_str);
        previous = row_hash(&previous, fields, None, *id);
        last = *id;
        tx.execute(
            "UPDATE audit SET hash = ?1 WHERE id = ?2",
            params![previous, id],
        )?;
    }
    if last > 0 {
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('chain_rebuilt', ?1)",
            [format!(
                "{}: entries 1 to {last} hashed as found by a migration",
                now()
            )],
        )?;
    }
    set_head(tx, last, &previous)
}

/// The registry's date moves to today with every change.
pub(super) fn touch(tx: &Connection) -> Result<()> {
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

/// The tables as the log's changes build them.
#[derive(Default)]
struct Replay {
    state: State,
    /// Whether an entry has carried changes yet: before one has, a checkpoint starts the
    /// state; after, it must find the state the log built.
    started: bool,
}

impl Replay {
    fn apply(&mut self, id: i64, checkpoint: bool, changes: &str) -> Result<(), String> {
        let entries: Vec<(String, String, Value)> = serde_json::from_str(changes)
            .map_err(|e| format!("row {id} carries changes that do not read: {e}"))?;
        if checkpoint {
            let found: State = entries
                .into_iter()
                .map(|(table, key, row)| ((table, key), row))
                .collect();
            if self.started {
                // A migration's checkpoint finds the rows with the columns it added: the
                // log's rows must be what they begin with.
                let comparable: State = found
                    .iter()
                    .map(|(key, row)| {
                        let row = match (self.state.get(key), row) {
                            (Some(Value::Array(logged)), Value::Array(now))
                                if now.len() > logged.len() =>
                            {
                                Value::Array(now[..logged.len()].to_vec())
                            }
                            _ => row.clone(),
                        };
                        (key.clone(), row)
                    })
                    .collect();
                if let Some(difference) = first_difference(&self.state, &comparable) {
                    return Err(format!(
                        "row {id}, a checkpoint, found the tables changed outside the log before it: {difference}"
                    ));
                }
            }
            self.state = found;
        } else {
            for (table, key, row) in entries {
                if row.is_null() {
                    self.state.remove(&(table, key));
                } else {
                    self.state.insert((table, key), row);
                }
            }
        }
        self.started = true;
        Ok(())
    }

    /// The first row where the tables differ from the log, if any.
    fn compare(&self, tables: &State) -> Option<String> {
        if !self.started && tables.is_empty() {
            return None;
        }
        first_difference(&self.state, tables).map(|difference| {
            format!("the tables differ from the log (a change made outside portreg): {difference}")
        })
    }
}

/// The first row that `log` and `tables` hold differently, in table and key order.
fn first_difference(log: &State, tables: &State) -> Option<String> {
    let short = |row: &Value| {
        let text = row.to_string();
        if text.chars().count() > 160 {
            format!("{}...", text.chars().take(160).collect::<String>())
        } else {
            text
        }
    };
    let mut keys: Vec<&(String, String)> = log.keys().chain(tables.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter().find_map(|key| {
        let (table, name) = key;
        match (log.get(key), tables.get(key)) {
            (Some(a), Some(b)) if a == b => None,
            (Some(a), Some(b)) => Some(format!(
                "{table} row {name:?} is {} in the table, {} in the log",
                short(b),
                short(a)
            )),
            (Some(_), None) => Some(format!(
                "{table} row {name:?} is in the log but not in the table (removed)"
            )),
            (None, Some(b)) => Some(format!(
                "{table} row {name:?} is in the table but not in the log (inserted): {}",
                short(b)
            )),
            (None, None) => None,
        }
    })
}

impl Authority {
    /// Walks the log from its first entry, replaying the changes each carries, then
    /// compares what the replay built with every table. `expected` is a head written
    /// elsewhere (in a published registry, `ID:HASH`): the log must still contain that
    /// entry with that hash. The head the store keeps must be the last entry's. A store
    /// whose chain was rebuilt by a migration is refused without `expected`.
    pub fn verify(&self, expected: Option<&str>) -> Result<ChainReport> {
        let key = super::log::recorded_key(&self.connection)?;
        if let (Some(named), Some(kept)) = (&key, &self.expected_key) {
            if named.key != *kept {
                return Ok(ChainReport {
                    rows: 0,
                    head: String::new(),
                    problem: Some(format!(
                        "the store names the Ed25519 key {}, not the log's key {}: its key was replaced",
                        named.hex(),
                        hex::encode(kept.as_bytes())
                    )),
                });
            }
        }
        let first_signed = super::log::signed_from(&self.connection)?;
        let mut tree = LogTree::default();
        let mut statement = self.connection.prepare(
            "SELECT id, at, actor, action, subject, outcome, detail, coalesce(hash, ''), changes, signature FROM audit ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        let mut previous = String::new();
        // The hash the row before the one before had: a row chained to it means the row
        // between was inserted.
        let mut before_previous = String::new();
        let (mut last, mut count) = (0_i64, 0_usize);
        let mut problem = None;
        let mut seen_expected = false;
        let expected = expected.map(|head| head.split_whitespace().next().unwrap_or(""));
        let expected_pair = expected.and_then(|head| head.split_once(':'));
        let mut replay = Replay::default();
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let fields = entry_fields(row)?;
            let stored: String = row.get(7)?;
            let changes: Option<String> = row.get(8)?;
            let signature: Option<String> = row.get(9)?;
            let fields = fields.each_ref().map(String::as_str);
            count += 1;
            if id != last + 1 {
                let gap = if id == last + 2 {
                    format!("row {} was removed", last + 1)
                } else {
                    format!("rows {} to {} were removed", last + 1, id - 1)
                };
                problem = Some(gap);
                break;
            }
            let changes = changes.as_deref();
            let computed = row_hash(&previous, fields, changes, id);
            if computed != stored {
                let inserted = last > 0
                    && row_hash(&before_previous, fields, changes, id - 1) == stored
                    || row_hash(&before_previous, fields, changes, id) == stored;
                problem = Some(if inserted {
                    format!("row {last} was inserted (row {id} is chained to the row before it)")
                } else {
                    format!("row {id} was changed (its hash does not match its content and the row before it)")
                });
                break;
            }
            if let Some((head_id, head_hash)) = expected_pair {
                if head_id == id.to_string() {
                    if head_hash != stored {
                        problem = Some(format!(
                            "row {id} is not the one the head {} names: the trail was rewritten up to it",
                            expected.unwrap_or_default()
                        ));
                        break;
                    }
                    seen_expected = true;
                }
            }
            if let Some(found) = signature_problem(
                key.as_ref(),
                id,
                first_signed,
                &stored,
                signature.as_deref(),
            ) {
                problem = Some(found);
                break;
            }
            if let Some(changes) = changes {
                if let Err(found) = replay.apply(id, fields[2] == CHECKPOINT, changes) {
                    problem = Some(found);
                    break;
                }
            }
            match super::log::leaf_of(id as u64, &stored) {
                Ok(leaf) => tree.push(leaf),
                Err(error) => {
                    problem = Some(error.to_string());
                    break;
                }
            }
            before_previous = std::mem::replace(&mut previous, stored);
            last = id;
        }
        drop(rows);
        let head = format!("{last}:{previous}");
        if problem.is_none() {
            let kept = super::log::meta(&self.connection, "audit_head")?;
            match kept {
                Some(kept) if kept != head => {
                    let kept_id = kept.split(':').next().unwrap_or("?");
                    problem = Some(format!(
                        "the store's head is row {kept_id} ({kept}), but the trail ends at row {last}: rows at the end were removed or changed"
                    ));
                }
                None if count > 0 => {
                    problem = Some("the store keeps no head for a trail that has rows".into());
                }
                _ => {}
            }
        }
        if problem.is_none() {
            problem = replay.compare(&table_state(&self.connection)?);
        }
        if problem.is_none() && (tree.size() >= first_signed || self.stored_checkpoint()?.is_some())
        {
            problem = self.checkpoint_problem(key.as_ref(), &tree)?;
        }
        if problem.is_none() && expected.is_none() {
            let rebuilt = super::log::meta(&self.connection, "chain_rebuilt")?;
            if let Some(rebuilt) = rebuilt {
                problem = Some(format!(
                    "the chain was rebuilt ({rebuilt}): it proves nothing about those entries; verify it against a head published before, with --head ID:HASH"
                ));
            }
        }
        if problem.is_none() && expected_pair.is_some() && !seen_expected {
            problem = Some(match expected_pair {
                Some((id, _)) if id.parse::<i64>().is_err() => format!(
                    "{:?} is no head: expected ID:HASH",
                    expected.unwrap_or_default()
                ),
                _ => format!(
                    "the trail holds no row {}: rows were removed",
                    expected_pair.map_or("?", |(id, _)| id)
                ),
            });
        }
        if problem.is_none() && expected.is_some_and(|e| !e.contains(':')) {
            problem = Some(format!(
                "{:?} is no head: expected ID:HASH",
                expected.unwrap_or_default()
            ));
        }
        Ok(ChainReport {
            rows: count,
            head,
            problem,
        })
    }

    /// Whether the last checkpoint the store keeps is signed by the log's key and covers
    /// exactly the entries present: entries added by someone without the key, or removed
    /// from the end, are found here even when the chain was hashed anew.
    fn checkpoint_problem(&self, key: Option<&LogKey>, tree: &LogTree) -> Result<Option<String>> {
        let Some(key) = key else {
            return Ok(Some(
                "the log's entries are signed, but the store names no key".into(),
            ));
        };
        let Some(note) = self.stored_checkpoint()? else {
            return Ok(Some(
                "the store keeps no signed checkpoint of its log: it was removed".into(),
            ));
        };
        let checkpoint = match Checkpoint::open(&note, key) {
            Ok(checkpoint) => checkpoint,
            Err(why) => return Ok(Some(format!("the store's last checkpoint: {why}"))),
        };
        if checkpoint.size != tree.size() {
            return Ok(Some(format!(
                "the last checkpoint signed covers {} entries, the log has {}: entries were {} without the authority's key",
                checkpoint.size,
                tree.size(),
                if checkpoint.size < tree.size() { "added" } else { "removed" }
            )));
        }
        let root = tree.root(tree.size()).map_err(AuthorityError::Tampered)?;
        if root != checkpoint.root {
            return Ok(Some(format!(
                "the log's root {} is not the root {} its last checkpoint signed: the log was rewritten",
                hex::encode(root),
                checkpoint.root_hex()
            )));
        }
        Ok(None)
    }

    /// Checks a checkpoint kept elsewhere (a signed note a replica or a witness saw):
    /// signed by the log's key, and its root this log's root at its size.
    pub fn check_checkpoint(&self, note: &str) -> Result<Result<Checkpoint, String>> {
        let Some(key) = self.log_key()? else {
            return Ok(Err("the store signs with no key".into()));
        };
        let checkpoint = match Checkpoint::open(note, &key) {
            Ok(checkpoint) => checkpoint,
            Err(why) => return Ok(Err(why)),
        };
        let size = self.log_size()?;
        if checkpoint.size > size {
            return Ok(Err(format!(
                "the checkpoint covers {} entries, the log has {size}: entries were removed (the store was rolled back)",
                checkpoint.size
            )));
        }
        let root = self.root_at(checkpoint.size)?;
        if root != checkpoint.root {
            return Ok(Err(format!(
                "the log at {} entries has root {}, the checkpoint says {}: the log was rewritten",
                checkpoint.size,
                hex::encode(root),
                checkpoint.root_hex()
            )));
        }
        Ok(Ok(checkpoint))
    }

    /// The chain's head as the store keeps it (`ID:HASH`), written into what `publish`
    /// writes.
    pub fn head(&self) -> Result<String> {
        let head = super::log::meta(&self.connection, "audit_head")?;
        head.ok_or_else(|| AuthorityError::DamagedRecord("the store keeps no audit head".into()))
    }

    /// The audit trail, oldest first: all of it, or what concerns a name or a port, or
    /// what happened since a date.
    pub fn history(&self, subject: Option<&str>, since: Option<&str>) -> Result<Vec<AuditEntry>> {
        self.history_of(subject, since, false, None)
    }

    /// As [`Authority::history`]; `public`, only the changes to the registry (what anyone
    /// may see, read through the index of actions); at most `limit` entries.
    pub fn history_of(
        &self,
        subject: Option<&str>,
        since: Option<&str>,
        public: bool,
        limit: Option<usize>,
    ) -> Result<Vec<AuditEntry>> {
        let mut statement = self.connection.prepare_cached(
            "SELECT at, actor, action, subject, outcome, detail FROM audit
             WHERE (?1 IS NULL OR lower(subject) = lower(?1) OR detail LIKE '%' || ?1 || '%') AND (?2 IS NULL OR at >= ?2)
               AND (NOT ?3 OR (action IN ('init', 'approve', 'deassign', 'revoke', 'transfer') AND outcome = 'ok'))
             ORDER BY id LIMIT ?4",
        )?;
        let limit = limit.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let rows = statement.query_map(params![subject, since, public, limit], |row| {
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
}

#[cfg(test)]
mod tests {
    use super::super::testing::{local, request, store};

    #[test]
    fn every_attempt_is_audited_and_the_trail_is_append_only() {
        let mut test = store("audit");
        test.authority
            .request(&request("zq-ok", Some(40800)), &local())
            .unwrap();
        let _ = test
            .authority
            .request(&request("zq-no", Some(22)), &local());
        let history = test.authority.history(None, None).unwrap();
        let outcomes: Vec<&str> = history.iter().map(|e| e.outcome.as_str()).collect();
        assert!(outcomes.ends_with(&["ok", "refused"]), "{outcomes:?}");
        assert!(history.iter().all(|e| e.actor == "local:tester"));
        let deleted = test.authority.connection.execute("DELETE FROM audit", []);
        assert!(deleted.is_err(), "the trigger refuses deletes");
        let edited = test
            .authority
            .connection
            .execute("UPDATE audit SET actor = 'x'", []);
        assert!(edited.is_err(), "the trigger refuses updates");
    }

    /// A store with five audit rows and its triggers dropped, as an attacker would.
    fn tampered(name: &str) -> (super::super::testing::TestStore, String) {
        let mut test = store(name);
        for (index, name) in ["zq-a", "zq-b", "zq-c", "zq-d"].into_iter().enumerate() {
            test.authority
                .request(&request(name, Some(40900 + index as u16)), &local())
                .unwrap();
        }
        let report = test.authority.verify(None).unwrap();
        assert_eq!((report.rows, report.problem.as_deref()), (5, None));
        assert_eq!(test.authority.head().unwrap(), report.head);
        test.authority
            .connection
            .execute_batch("DROP TRIGGER audit_is_append_only_update; DROP TRIGGER audit_is_append_only_delete;")
            .unwrap();
        (test, report.head)
    }

    fn problem(test: &super::super::testing::TestStore, head: Option<&str>) -> String {
        test.authority
            .verify(head)
            .unwrap()
            .problem
            .unwrap_or_default()
    }

    #[test]
    fn verify_names_the_row_changed_removed_or_inserted() {
        let (test, _) = tampered("chain-edit");
        test.authority
            .connection
            .execute("UPDATE audit SET actor = 'mallory' WHERE id = 3", [])
            .unwrap();
        assert!(
            problem(&test, None).starts_with("row 3 was changed"),
            "{}",
            problem(&test, None)
        );

        let (test, _) = tampered("chain-delete");
        test.authority
            .connection
            .execute("DELETE FROM audit WHERE id = 2", [])
            .unwrap();
        assert_eq!(problem(&test, None), "row 2 was removed");

        let (test, _) = tampered("chain-tail");
        test.authority
            .connection
            .execute("DELETE FROM audit WHERE id = 5", [])
            .unwrap();
        assert!(
            problem(&test, None).contains("rows at the end were removed"),
            "{}",
            problem(&test, None)
        );

        // Rows shifted up to make room, and a well-formed row chained in at 3.
        let (test, head) = tampered("chain-insert");
        let c = &test.authority.connection;
        c.execute("UPDATE audit SET id = id + 10 WHERE id >= 3", [])
            .unwrap();
        c.execute("UPDATE audit SET id = id - 9 WHERE id >= 13", [])
            .unwrap();
        let previous: String = c
            .query_row("SELECT hash FROM audit WHERE id = 2", [], |r| r.get(0))
            .unwrap();
        let fields = [
            "2026-01-01T00:00:00Z",
            "mallory",
            "approve",
            "request 9",
            "ok",
            "forged",
        ];
        let hash = super::row_hash(&previous, fields, Some("[]"), 3);
        c.execute(
            "INSERT INTO audit (id, at, actor, action, subject, outcome, detail, hash, changes) VALUES (3, ?1, ?2, ?3, ?4, ?5, ?6, ?7, '[]')",
            rusqlite::params![fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], hash],
        )
        .unwrap();
        // Chained in, but not signed by the authority's key.
        assert!(
            problem(&test, None).starts_with("row 3 is not signed"),
            "{}",
            problem(&test, None)
        );

        // The whole trail rewritten, head and all: the entries' signatures tell, and so
        // does a head kept elsewhere.
        let (test, head_before) = tampered("chain-rewrite");
        let c = &test.authority.connection;
        c.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2", [])
            .unwrap();
        rehash(c);
        assert!(
            problem(&test, None).contains("row 2's signature is not the authority's"),
            "{}",
            problem(&test, None)
        );
        assert!(
            !problem(&test, Some(&head_before)).is_empty(),
            "{}",
            problem(&test, Some(&head_before))
        );
        assert_ne!(head, "");
    }

    /// Hashes the whole chain again as it now stands, head and all: what an attacker
    /// holding the file does after an edit.
    fn rehash(c: &rusqlite::Connection) {
        let rows: Vec<(i64, [String; 6], Option<String>)> = c
            .prepare("SELECT id, at, actor, action, subject, outcome, detail, changes FROM audit ORDER BY id")
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?],
                    r.get(7)?,
                ))
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let mut previous = String::new();
        let mut last = 0;
        for (id, fields, changes) in rows {
            previous = super::row_hash(
                &previous,
                fields.each_ref().map(String::as_str),
                changes.as_deref(),
                id,
            );
            last = id;
            c.execute(
                "UPDATE audit SET hash = ?1 WHERE id = ?2",
                rusqlite::params![previous, id],
            )
            .unwrap();
        }
        super::set_head(c, last, &previous).unwrap();
    }

    #[test]
    fn a_rewrite_by_a_holder_of_the_file_without_the_key_is_found() {
        // The last entries cut, their effects undone, the chain's head set back: the
        // checkpoint signed covers more than the log has.
        let (test, _) = tampered("cut-tail");
        let c = &test.authority.connection;
        c.execute_batch("DELETE FROM audit WHERE id > 3; DELETE FROM requests WHERE id > 2;")
            .unwrap();
        let (last, hash): (i64, String) = c
            .query_row(
                "SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        super::set_head(c, last, &hash).unwrap();
        let found = problem(&test, None);
        assert!(!found.is_empty(), "a cut log verifies");

        // Two entries swapped, the chain hashed anew: their signatures name their ids.
        let (test, _) = tampered("swap");
        let c = &test.authority.connection;
        c.execute_batch(
            "UPDATE audit SET id = 100 WHERE id = 3; UPDATE audit SET id = 3 WHERE id = 4; UPDATE audit SET id = 4 WHERE id = 100;",
        )
        .unwrap();
        rehash(c);
        assert!(
            problem(&test, None).contains("signature"),
            "{}",
            problem(&test, None)
        );

        // The key row replaced and every entry signed anew with the attacker's key: the
        // key beside the store (or one given) is not the key the store names.
        let (mut test, _) = tampered("key-row");
        let mallory = crate::log::LogSigner {
            name: "portreg/mallory".into(),
            key: ed25519_dalek::SigningKey::from_bytes(&[66; 32]),
        };
        let c = &test.authority.connection;
        c.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'signing_key'",
            [hex::encode(mallory.key.verifying_key().as_bytes())],
        )
        .unwrap();
        c.execute(
            "UPDATE meta SET value = 'portreg/mallory' WHERE key = 'log_origin'",
            [],
        )
        .unwrap();
        let ids: Vec<(i64, String)> = c
            .prepare("SELECT id, hash FROM audit")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for (id, hash) in ids {
            c.execute(
                "UPDATE audit SET signature = ?1 WHERE id = ?2",
                rusqlite::params![crate::log::sign_entry(&mallory, id as u64, &hash), id],
            )
            .unwrap();
        }
        let real = test.authority.log_key().unwrap().unwrap().key;
        test.authority.expect_key(real);
        assert!(
            problem(&test, None).contains("key was replaced"),
            "{}",
            problem(&test, None)
        );
    }

    #[test]
    fn verify_sees_every_table_edited_behind_the_store() {
        let edits = [
            ("UPDATE users SET role = 'admin' WHERE name = 'rita'", "users row \"rita\""),
            (
                "INSERT INTO users (name, role, token_hash, created) VALUES ('ghost', 'admin', 'ab', '2026-01-01T00:00:00Z')",
                "users row \"ghost\" is in the table but not in the log",
            ),
            ("UPDATE users SET token_hash = 'cd' WHERE name = 'rita'", "users row \"rita\""),
            ("UPDATE users SET expires = NULL, revoked = NULL WHERE name = 'rita'", "users row \"rita\""),
            ("UPDATE records SET data = replace(data, 'Secure Shell', 'Insecure Shell')", "records row \"1\""),
            ("DELETE FROM records WHERE id = 2", "records row \"2\" is in the log but not in the table"),
            ("UPDATE requests SET state = 'approved' WHERE id = 1", "requests row \"1\""),
            ("INSERT INTO people (id, name) VALUES ('Mallory', 'Mallory')", "people row \"Mallory\""),
            ("UPDATE meta SET value = '{}' WHERE key = 'metadata'", "meta row \"metadata\""),
        ];
        for (index, (edit, named)) in edits.into_iter().enumerate() {
            let mut test = store(&format!("tables-{index}"));
            test.authority
                .add_user(
                    "rita",
                    crate::Role::Requester,
                    None,
                    Some("2999-01-01"),
                    &local(),
                )
                .unwrap();
            test.authority
                .request(&request("zq-t", Some(40950)), &local())
                .unwrap();
            assert_eq!(
                problem(&test, None),
                "",
                "a store as portreg left it is whole"
            );
            test.authority.connection.execute_batch(edit).unwrap();
            test.authority
                .connection
                .execute_batch("DROP TRIGGER audit_is_append_only_update; DROP TRIGGER audit_is_append_only_delete;")
                .unwrap();
            let found = problem(&test, None);
            assert!(found.contains(named), "{edit}: {found}");
            // An edit the log did not see stays visible when the chain is hashed anew.
            rehash(&test.authority.connection);
            assert!(
                problem(&test, None).contains(named),
                "{edit} after a rehash"
            );
        }
    }

    #[test]
    fn a_migration_run_again_does_not_launder_an_edit() {
        let (test, _) = tampered("migrate-again");
        let path = test.authority.path().to_owned();
        // Drop the column of changes and set the version back: the migration runs again,
        // but the entries hashed with their changes no longer match. (The store's own
        // connection catches changes with triggers over the columns it knew: dropped.)
        test.authority
            .connection
            .execute_batch(
                "DROP TRIGGER temp.log_requests_insert; DROP TRIGGER temp.log_requests_update; DROP TRIGGER temp.log_users_insert; DROP TRIGGER temp.log_users_update; UPDATE users SET role = role; ALTER TABLE audit DROP COLUMN changes; ALTER TABLE audit DROP COLUMN signature; ALTER TABLE requests DROP COLUMN version; ALTER TABLE users DROP COLUMN created_by; DELETE FROM meta WHERE key = 'signed_from'; PRAGMA user_version = 3;",
            )
            .unwrap();
        let reopened = super::super::Authority::open(&path).unwrap();
        let found = reopened.verify(None).unwrap().problem.unwrap_or_default();
        assert!(found.contains("was changed"), "{found}");
        drop(reopened);
        // The chain's column dropped and the version set back further: the store refuses
        // to open, or verify refuses the chain rebuilt.
        test.authority
            .connection
            .execute_batch("ALTER TABLE audit DROP COLUMN hash; PRAGMA user_version = 2;")
            .unwrap();
        match super::super::Authority::open(&path) {
            Err(_) => {}
            Ok(reopened) => {
                let found = reopened.verify(None).unwrap().problem.unwrap_or_default();
                assert!(
                    found.contains("rebuilt") || found.contains("changed"),
                    "{found}"
                );
            }
        }
    }
}
