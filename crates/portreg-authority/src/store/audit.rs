//! The append-only audit trail: who did what, when, and how it ended.

use portreg::RegistryDate;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::Result;

use super::{metadata_from_json, metadata_to_json, now, Authority};

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
    tx.execute(
        "INSERT INTO audit (at, actor, action, subject, outcome, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![now(), actor, action, subject, outcome, detail],
    )?;
    Ok(())
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
    use super::super::testing::{request, store};

    #[test]
    fn every_attempt_is_audited_and_the_trail_is_append_only() {
        let mut test = store("audit");
        test.authority
            .request(&request("zq-ok", Some(40800)))
            .unwrap();
        let _ = test.authority.request(&request("zq-no", Some(22)));
        let history = test.authority.history(None, None).unwrap();
        let outcomes: Vec<&str> = history.iter().map(|e| e.outcome.as_str()).collect();
        assert!(outcomes.ends_with(&["ok", "refused"]), "{outcomes:?}");
        let deleted = test.authority.connection.execute("DELETE FROM audit", []);
        assert!(deleted.is_err(), "the trigger refuses deletes");
        let edited = test
            .authority
            .connection
            .execute("UPDATE audit SET actor = 'x'", []);
        assert!(edited.is_err(), "the trigger refuses updates");
    }
}
