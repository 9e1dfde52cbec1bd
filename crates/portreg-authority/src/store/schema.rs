//! The store's schema and its migrations: each moves a store one version up.

use rusqlite::{Transaction, TransactionBehavior};

use crate::Result;

use super::Authority;

/// The schema this code writes; each entry of [`MIGRATIONS`] moves a store one version up.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// One step up.
pub(super) enum Migration {
    /// Statements.
    Sql(&'static str),
    /// Statements, with work between them that SQL cannot do.
    Code(fn(&Transaction<'_>) -> Result<()>),
}

pub(super) const MIGRATIONS: [Migration; 5] = [
    Migration::Sql(
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
    ),
    // Version 2: the widest span, read through an index, bounds the port lookups.
    Migration::Sql("CREATE INDEX records_by_span ON records (port_high - port_low);"),
    // Version 3: identities, a request's requester and its review states, the audit chain.
    Migration::Code(identities_and_chain),
    // Version 4: every entry carries the rows its change wrote; the tables of an existing
    // store are taken into the log as found (a checkpoint). Entries already hashed are
    // never hashed again.
    Migration::Code(log_of_changes),
    // Version 5: every entry is signed by the authority's key when it is written (the
    // entries of an existing store were written before and stay unsigned); a request has
    // a version, which a review names; an identity records who made it.
    Migration::Code(signed_entries),
];

const IDENTITIES: &str = r#"
CREATE TABLE users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('requester', 'expert', 'admin')),
    email TEXT,
    token_hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    expires TEXT,
    revoked TEXT
);
CREATE TABLE requests_3 (
    id INTEGER PRIMARY KEY,
    filed TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'denied', 'changes-requested', 'withdrawn')),
    requester TEXT NOT NULL,
    name TEXT NOT NULL,
    transports TEXT NOT NULL,
    port INTEGER,
    port_high INTEGER,
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
INSERT INTO requests_3 (id, filed, state, requester, name, transports, port, port_high, description, assignee,
                        contact, reference, txt_keys, procedure, reuse, reviewer, reason, decided)
SELECT r.id, r.filed, CASE r.state WHEN 'rejected' THEN 'denied' ELSE r.state END,
       coalesce((SELECT actor FROM audit WHERE action = 'request' AND outcome = 'ok'
                 AND detail LIKE 'request ' || r.id || ':%' ORDER BY id LIMIT 1), ''),
       r.name, r.transports, r.port, r.port, r.description, r.assignee, r.contact, r.reference, r.txt_keys,
       r.procedure, r.reuse, r.reviewer, r.reason, r.decided
FROM requests r;
DROP TABLE requests;
ALTER TABLE requests_3 RENAME TO requests;
CREATE INDEX requests_by_state ON requests (state);
CREATE INDEX requests_by_requester ON requests (requester);
DROP TRIGGER audit_is_append_only_update;
ALTER TABLE audit ADD COLUMN hash TEXT;
"#;

fn identities_and_chain(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(IDENTITIES)?;
    // The rows made before the chain are hashed as they are, then the trail closes again.
    super::audit::rechain(tx)?;
    tx.execute_batch(
        "CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;",
    )?;
    Ok(())
}

fn log_of_changes(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch("ALTER TABLE audit ADD COLUMN changes TEXT;")?;
    let entries: i64 = tx.query_row("SELECT count(*) FROM audit", [], |row| row.get(0))?;
    if entries > 0 {
        super::audit::checkpoint(
            tx,
            "the tables as found when the log began to carry every change",
        )?;
    }
    Ok(())
}

fn signed_entries(tx: &Transaction<'_>) -> Result<()> {
    tx.execute_batch(
        "ALTER TABLE requests ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
         ALTER TABLE users ADD COLUMN created_by TEXT;
         CREATE INDEX IF NOT EXISTS audit_by_action ON audit (action, outcome);",
    )?;
    let entries: i64 = tx.query_row("SELECT count(*) FROM audit", [], |row| row.get(0))?;
    if entries > 0 {
        // The rows with their new columns, taken into the log.
        super::audit::checkpoint(
            tx,
            "the tables as found when requests gained versions and identities their makers",
        )?;
    }
    tx.execute_batch(
        "ALTER TABLE audit ADD COLUMN signature TEXT;
         INSERT OR IGNORE INTO meta (key, value) VALUES ('signed_from', (SELECT coalesce(max(id), 0) + 1 FROM audit));",
    )?;
    Ok(())
}

impl Authority {
    pub(super) fn migrate(&mut self, from: i64) -> Result<()> {
        for (index, migration) in MIGRATIONS.iter().enumerate().skip(from as usize) {
            let tx = self
                .connection
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Another process may have migrated while this one waited for the lock.
            let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
            if version > index as i64 {
                continue;
            }
            match migration {
                Migration::Sql(statements) => tx.execute_batch(statements)?,
                Migration::Code(steps) => steps(&tx)?,
            }
            tx.pragma_update(None, "user_version", index as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::store;
    use super::SCHEMA_VERSION;

    #[test]
    fn a_new_store_has_the_current_schema() {
        let test = store("schema");
        let version: i64 = test
            .authority
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        assert_eq!(test.authority.integrity().unwrap(), "ok");
    }

    #[test]
    fn a_version_1_store_gains_the_span_index_requesters_states_and_a_chain() {
        let path =
            std::env::temp_dir().join(format!("portreg-schema-v2-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&path);
        {
            let c = rusqlite::Connection::open(&path).unwrap();
            for migration in &super::MIGRATIONS[..1] {
                let super::Migration::Sql(statements) = migration else {
                    unreachable!()
                };
                c.execute_batch(statements).unwrap();
            }
            c.execute_batch(
                "INSERT INTO requests (filed, state, name, transports, port, description, assignee, contact)
                   VALUES ('2026-01-01T00:00:00Z', 'rejected', 'zq-old', 'tcp', 40001, 'd', 'a', 'c');
                 INSERT INTO audit (at, actor, action, subject, outcome, detail)
                   VALUES ('2026-01-01T00:00:00Z', 'alice', 'request', 'zq-old', 'ok', 'request 1: zq-old port 40001/tcp');
                 INSERT INTO audit (at, actor, action, subject, outcome, detail)
                   VALUES ('2026-01-02T00:00:00Z', 'bob', 'reject', 'request 1', 'ok', 'rejected');
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let authority = super::Authority::open(&path).unwrap();
        let request = authority
            .request_by_id(1, &crate::Actor::local("root"))
            .unwrap();
        assert_eq!(
            (request.state, request.requester.as_str()),
            (crate::RequestState::Denied, "alice")
        );
        // Two entries hashed as found, then the checkpoints taking the tables into the log
        // (version 4's, and version 5's with the columns it added): a chain rebuilt is
        // taken only against a head published before.
        let report = authority.verify(None).unwrap();
        assert_eq!(report.rows, 4);
        assert!(
            report.problem.as_deref().unwrap_or("").contains("rebuilt"),
            "{report:?}"
        );
        let against = authority.verify(Some(&report.head)).unwrap();
        assert_eq!(against.problem, None);
        assert!(authority
            .connection
            .execute("UPDATE audit SET actor = 'x'", [])
            .is_err());
        drop(authority);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}
