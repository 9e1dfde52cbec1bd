//! The store's schema and its migrations: each moves a store one version up.

use rusqlite::TransactionBehavior;

use crate::Result;

use super::Authority;

/// The schema this code writes; each entry of [`MIGRATIONS`] moves a store one version up.
pub(super) const SCHEMA_VERSION: i64 = 2;

pub(super) const MIGRATIONS: [&str; 2] = [
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
            tx.execute_batch(migration)?;
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
}
