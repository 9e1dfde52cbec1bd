//! The append-only audit trail: who did what, when, and how it ended. Each row carries
//! `hash = SHA-256(hash of the row before, "\n", [id, at, actor, action, subject, outcome,
//! detail] as JSON)`, and the store keeps the last row's id and hash (the chain's head),
//! so that a row changed, removed or inserted behind the store's back breaks the chain.

use portreg::RegistryDate;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{AuthorityError, Result};

use super::{metadata_from_json, metadata_to_json, now, Authority};

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

/// The hash of a row, chained to the one before.
pub(super) fn row_hash(previous: &str, fields: [&str; 6], id: i64) -> String {
    let [at, actor, action, subject, outcome, detail] = fields;
    let content = json!([id, at, actor, action, subject, outcome, detail]).to_string();
    let mut hasher = Sha256::new();
    hasher.update(previous.as_bytes());
    hasher.update(b"\n");
    hasher.update(content.as_bytes());
    format!("{:x}", hasher.finalize())
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

pub(super) fn audit(
    tx: &Connection,
    actor: &str,
    action: &str,
    subject: &str,
    outcome: &str,
    detail: &str,
) -> Result<()> {
    let (last, previous) = last_row(tx)?;
    let id = last + 1;
    let at = now();
    let hash = row_hash(
        &previous,
        [&at, actor, action, subject, outcome, detail],
        id,
    );
    tx.execute(
        "INSERT INTO audit (id, at, actor, action, subject, outcome, detail, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, at, actor, action, subject, outcome, detail, hash],
    )?;
    set_head(tx, id, &hash)
}

/// Hashes every row of a trail that has none yet (a store made before the chain), in
/// order, and records the head.
pub(super) fn rechain(tx: &Connection) -> Result<()> {
    let rows: Vec<(i64, [String; 6])> = {
        let mut statement = tx.prepare(
            "SELECT id, at, actor, action, subject, outcome, detail FROM audit ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok((
                row.get(0)?,
                [
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                    row.get(6)?,
                ],
            ))
        })?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut previous = String::new();
    let mut last = 0;
    for (id, fields) in rows {
        let fields = fields.each_ref().map(String::as_str);
        previous = row_hash(&previous, fields, id);
        last = id;
        tx.execute(
            "UPDATE audit SET hash = ?1 WHERE id = ?2",
            params![previous, id],
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

impl Authority {
    /// Walks the audit chain from its first row. `expected` is a head written elsewhere
    /// (in a published registry, `ID:HASH`): the trail must still contain that row with
    /// that hash. The head the store keeps must be the last row's.
    pub fn verify(&self, expected: Option<&str>) -> Result<ChainReport> {
        let mut statement = self.connection.prepare(
            "SELECT id, at, actor, action, subject, outcome, detail, coalesce(hash, '') FROM audit ORDER BY id",
        )?;
        let mut rows = statement.query([])?;
        let mut previous = String::new();
        // The hash the row before the one before had: a row chained to it means the row
        // between was inserted.
        let mut before_previous = String::new();
        let (mut last, mut count) = (0_i64, 0_usize);
        let mut problem = None;
        let mut seen_expected = false;
        let expected_pair = expected.and_then(|head| head.split_once(':'));
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let fields: [String; 6] = [
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ];
            let stored: String = row.get(7)?;
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
            let computed = row_hash(&previous, fields, id);
            if computed != stored {
                let inserted = last > 0 && row_hash(&before_previous, fields, id - 1) == stored
                    || row_hash(&before_previous, fields, id) == stored;
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
            before_previous = std::mem::replace(&mut previous, stored);
            last = id;
        }
        drop(rows);
        let head = format!("{last}:{previous}");
        if problem.is_none() {
            let kept: Option<String> = self
                .connection
                .query_row(
                    "SELECT value FROM meta WHERE key = 'audit_head'",
                    [],
                    |row| row.get(0),
                )
                .optional()?;
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
        Ok(ChainReport {
            rows: count,
            head,
            problem,
        })
    }

    /// The chain's head as the store keeps it (`ID:HASH`), written into what `publish`
    /// writes.
    pub fn head(&self) -> Result<String> {
        let head: Option<String> = self
            .connection
            .query_row(
                "SELECT value FROM meta WHERE key = 'audit_head'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        head.ok_or_else(|| AuthorityError::DamagedRecord("the store keeps no audit head".into()))
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
        let hash = super::row_hash(&previous, fields, 3);
        c.execute(
            "INSERT INTO audit (id, at, actor, action, subject, outcome, detail, hash) VALUES (3, ?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            rusqlite::params![fields[0], fields[1], fields[2], fields[3], fields[4], fields[5], hash],
        )
        .unwrap();
        assert!(
            problem(&test, None).starts_with("row 3 was inserted"),
            "{}",
            problem(&test, None)
        );

        // The whole trail rewritten, head and all: only a head kept elsewhere tells.
        let (test, head_before) = tampered("chain-rewrite");
        let c = &test.authority.connection;
        c.execute("UPDATE audit SET actor = 'mallory' WHERE id = 2", [])
            .unwrap();
        super::rechain(c).unwrap();
        assert_eq!(problem(&test, None), "");
        assert!(
            problem(&test, Some(&head_before)).contains("rewritten"),
            "{}",
            problem(&test, Some(&head_before))
        );
        assert_ne!(head, "");
    }
}
