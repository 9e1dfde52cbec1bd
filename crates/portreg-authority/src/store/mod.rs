//! The authority's SQLite store: records (as portreg JSON records, with the columns the
//! checks query), requests, people, metadata and the append-only audit trail.

mod audit;
mod log;
mod records;
mod requests;
mod review;
mod schema;
mod users;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use portreg::Registry;
use rusqlite::{params, Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::{Actor, AuthorityError, Result};

pub use audit::{AuditEntry, ChainReport};
pub use log::{proofs, SharedTree};
pub use requests::{RequestRecord, RequestState};
pub use users::UserRecord;

use audit::{audit, touch};
use records::{columns, covering, insert, metadata_from_json, metadata_to_json, named};
use requests::{check, load_request, reserved_for};
use schema::SCHEMA_VERSION;

/// An open store.
pub struct Authority {
    connection: Connection,
    path: PathBuf,
    /// The log's Merkle tree, extended by entries whose chain and signature check.
    tree: SharedTree,
    /// The key entries and checkpoints are signed with, once in use.
    signer: Option<crate::log::LogSigner>,
    /// The key the log must be signed with, known apart from what the store names: its
    /// signing key's (the file beside it), or one given ([`Authority::expect_key`]).
    expected_key: Option<ed25519_dalek::VerifyingKey>,
    /// Refused attempts by actor in the current minute (its number, and the count).
    refusals: std::collections::HashMap<String, (u64, u32)>,
}

/// Refused attempts of one actor logged one by one in a minute; past them, they are
/// counted, and one entry says how many (the log grows by a bounded amount).
pub const LOGGED_REFUSALS_PER_MINUTE: u32 = 10;

/// The current time, `YYYY-MM-DDTHH:MM:SSZ`.
pub(super) fn now() -> String {
    portreg::utc_timestamp(SystemTime::now())
}

/// The current time, seconds since the Unix epoch.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The time `seconds` from now, as the store writes times (`YYYY-MM-DDTHH:MM:SSZ`).
pub fn time_after(seconds: u64) -> String {
    portreg::utc_timestamp(SystemTime::now() + Duration::from_secs(seconds.min(100 * 365 * 86_400)))
}

pub(super) fn store_error(path: &Path, what: impl std::fmt::Display) -> AuthorityError {
    AuthorityError::Store {
        path: path.to_owned(),
        what: what.to_string(),
        source: None,
    }
}

/// Whether an action that succeeded changed the registry (and so moves its date).
pub(super) fn registry_changes(action: &str) -> bool {
    matches!(action, "approve" | "deassign" | "revoke" | "transfer")
}

/// Writes, for each actor whose refused attempts of a past minute went past
/// [`LOGGED_REFUSALS_PER_MINUTE`], one entry saying how many were not logged one by one,
/// and forgets the minutes past.
fn count_refusals(
    tx: &Connection,
    writer: &audit::LogWriter<'_>,
    refusals: &mut std::collections::HashMap<String, (u64, u32)>,
    minute: u64,
) -> Result<()> {
    let mut past: Vec<(String, u64, u32)> = refusals
        .iter()
        .filter(|(_, (at, _))| *at != minute)
        .map(|(actor, (at, count))| (actor.clone(), *at, *count))
        .collect();
    past.sort();
    for (actor, at, count) in past {
        refusals.remove(&actor);
        if count > LOGGED_REFUSALS_PER_MINUTE {
            let from =
                portreg::utc_timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(at * 60));
            audit(
                tx,
                writer,
                &actor,
                "refusals",
                &actor,
                "refused",
                &format!(
                    "{} more refused attempts in the minute from {from}, counted, not logged one by one",
                    count - LOGGED_REFUSALS_PER_MINUTE
                ),
            )?;
        }
    }
    Ok(())
}

/// Creates an empty file that only its owner can read and write, and the journal files
/// SQLite will put beside it the same way (SQLite gives them the database's mode).
fn create_private(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|e| store_error(path, format!("cannot create: {e}")))
}

/// A store error that keeps SQLite's error as its source.
pub(super) fn sqlite_error<'a>(
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
        let mut authority = Self::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        // The key beside the store signs what this process writes, where it can be read
        // and is the store's; a reader needs none.
        let key = crate::log::default_key_path(path);
        if key.exists() {
            if let Ok(secret) = crate::log::load_or_create_key(&key) {
                authority.expected_key = Some(secret.verifying_key());
            }
            if log::recorded_key(&authority.connection)?.is_some() {
                let _ = authority.use_signing_key(&key);
            }
        }
        Ok(authority)
    }

    /// Creates a store, loaded with `registry` when given, its log signed with the key
    /// beside it (`STORE.key`, made there). An existing store is refused.
    /// The file (and SQLite's journal files beside it) can be read and written by its
    /// owner only: it holds the identities' token hashes and the requests.
    pub fn init(path: &Path, registry: Option<&Registry>, actor: &Actor) -> Result<Authority> {
        Self::init_with_key(path, registry, actor, &crate::log::default_key_path(path))
    }

    /// Creates a store as [`Authority::init`] does, its log signed with the key at
    /// `key` (read if it exists, else made there): its first entry is signed.
    pub fn init_with_key(
        path: &Path,
        registry: Option<&Registry>,
        actor: &Actor,
        key: &Path,
    ) -> Result<Authority> {
        if path.exists() {
            return Err(store_error(path, "already exists; it was left as it was"));
        }
        let secret = crate::log::load_or_create_key(key)?;
        create_private(path)?;
        let mut authority = Self::connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let public = secret.verifying_key();
        authority.expected_key = Some(public);
        let origin = crate::log::default_origin(&public);
        authority.signer = Some(crate::log::LogSigner {
            name: origin.clone(),
            key: secret,
        });
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
            let mut person = tx.prepare(
                "INSERT OR REPLACE INTO people (id, name, org, uri, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
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
            "INSERT INTO meta (key, value) VALUES ('metadata', ?1), ('signing_key', ?2), ('log_origin', ?3)",
            params![
                metadata_to_json(&registry.meta).to_string(),
                hex::encode(public.as_bytes()),
                origin
            ],
        )?;
        let detail = format!(
            "{} records, {} people; the log {origin} is signed by Ed25519 key {}",
            registry.records.len(),
            registry.people.len(),
            hex::encode(public.as_bytes())
        );
        let Some(signer) = &authority.signer else {
            return Err(store_error(path, "no signing key"));
        };
        let writer = audit::LogWriter {
            signer,
            tree: &authority.tree,
        };
        audit(
            &tx,
            &writer,
            &actor.name(),
            "init",
            &path.display().to_string(),
            "ok",
            &detail,
        )?;
        tx.commit()?;
        Ok(authority)
    }

    pub(super) fn connect(path: &Path, flags: OpenFlags) -> Result<Authority> {
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
                format!(
                    "the store has schema version {version}; this portreg knows up to \
                     {SCHEMA_VERSION}: use a newer portreg"
                ),
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
            tree: SharedTree::default(),
            signer: None,
            expected_key: None,
            refusals: std::collections::HashMap::new(),
        };
        authority.migrate(version)?;
        audit::capture_changes(&authority.connection)?;
        Ok(authority)
    }

    /// Checks the log against `key`, known apart from the store (a key its holder kept):
    /// [`Authority::verify`] then refuses a store that names another.
    pub fn expect_key(&mut self, key: ed25519_dalek::VerifyingKey) {
        self.expected_key = Some(key);
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `change` in one immediate transaction; an attempt that fails is still audited.
    /// A success that changes the registry moves its date to today.
    pub(super) fn change<T>(
        &mut self,
        actor: &Actor,
        action: &str,
        subject: &str,
        change: impl FnOnce(&Transaction<'_>) -> Result<(T, String)>,
    ) -> Result<T> {
        let actor = actor.name();
        if self.signer.is_none() {
            if log::recorded_key(&self.connection)?.is_some() {
                return Err(store_error(
                    &crate::log::default_key_path(&self.path),
                    "the store's log is signed: a change needs its signing key (this file, or --signing-key)",
                ));
            }
            // A store from before its log was signed: it is signed from now on.
            self.use_signing_key(&crate::log::default_key_path(&self.path))?;
        }
        let Some(signer) = &self.signer else {
            return Err(store_error(&self.path, "no signing key"));
        };
        let writer = audit::LogWriter {
            signer,
            tree: &self.tree,
        };
        let minute = unix_now() / 60;
        let tx = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        match change(&tx) {
            Ok((value, detail)) => {
                if registry_changes(action) {
                    touch(&tx)?;
                }
                count_refusals(&tx, &writer, &mut self.refusals, minute)?;
                audit(&tx, &writer, &actor, action, subject, "ok", &detail)?;
                tx.commit()?;
                Ok(value)
            }
            Err(error) => {
                drop(tx);
                let tx = self
                    .connection
                    .transaction_with_behavior(TransactionBehavior::Immediate)?;
                count_refusals(&tx, &writer, &mut self.refusals, minute)?;
                let count = self.refusals.entry(actor.clone()).or_insert((minute, 0));
                count.1 += 1;
                if count.1 <= LOGGED_REFUSALS_PER_MINUTE {
                    audit(
                        &tx,
                        &writer,
                        &actor,
                        action,
                        subject,
                        error.outcome(),
                        &error.to_string(),
                    )?;
                }
                tx.commit()?;
                Err(error)
            }
        }
    }

    /// Copies the store to `destination` with SQLite's online backup, a file of mode 0600.
    pub fn backup(&self, destination: &Path) -> Result<()> {
        if destination.exists() {
            return Err(store_error(
                destination,
                "already exists; choose a new file",
            ));
        }
        // Readable by its owner only, as the store is: it holds the same secrets.
        create_private(destination)?;
        self.connection
            .backup(rusqlite::MAIN_DB, destination, None)
            .map_err(sqlite_error(destination, "cannot back up into"))
    }

    /// The registry to publish: as it stands, with the audit chain's head in its
    /// metadata, so that the published file names the history it came from.
    pub fn published(&self) -> Result<Registry> {
        let mut registry = self.registry()?;
        registry.meta.audit_head = Some(self.head()?);
        Ok(registry)
    }

    /// `PRAGMA integrity_check`: `ok` for a sound database.
    pub fn integrity(&self) -> Result<String> {
        Ok(self
            .connection
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }
}

/// A store in the temporary directory for the unit tests of each concern, removed when
/// dropped.
#[cfg(test)]
pub(crate) mod testing {
    use std::path::PathBuf;

    use portreg::{PortSpan, Record, Registry, Status, Transport};

    use super::Authority;
    use crate::{Actor, NewRequest};

    /// A temporary store.
    pub(crate) struct TestStore {
        pub(crate) authority: Authority,
        path: PathBuf,
    }

    impl Drop for TestStore {
        fn drop(&mut self) {
            for suffix in ["", "-wal", "-shm", ".key"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
            }
        }
    }

    /// A store holding ssh 22/tcp and an Unassigned range 40000-40999 (no transport).
    pub(crate) fn store(name: &str) -> TestStore {
        let path = std::env::temp_dir().join(format!(
            "portreg-authority-unit-{name}-{}.sqlite",
            std::process::id()
        ));
        for suffix in ["", "-wal", "-shm", ".key"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        let registry = Registry {
            records: vec![
                Record {
                    name: Some("ssh".into()),
                    ports: Some(PortSpan::single(22)),
                    transport: Some(Transport::Tcp),
                    description: Some("The Secure Shell (SSH) Protocol".into()),
                    ..Record::default()
                },
                Record {
                    ports: PortSpan::new(40000, 40999),
                    description: Some("Unassigned".into()),
                    status: Status::Unassigned,
                    ..Record::default()
                },
            ],
            ..Registry::default()
        };
        let authority = Authority::init(&path, Some(&registry), &Actor::local("tester")).unwrap();
        TestStore { authority, path }
    }

    /// The local administrator.
    pub(crate) fn local() -> Actor {
        Actor::local("tester")
    }

    /// A request for `name` on `port`/tcp.
    pub(crate) fn request(name: &str, port: Option<u16>) -> NewRequest {
        NewRequest {
            name: name.into(),
            transports: vec![Transport::Tcp],
            port: port.map(PortSpan::single),
            description: "test service".into(),
            assignee: "Ada".into(),
            contact: "ada@example.org".into(),
            ..NewRequest::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{local, request, store};

    #[test]
    fn refused_attempts_past_ten_a_minute_are_counted_not_logged() {
        let mut test = store("refusals");
        let before = test.authority.log_size().unwrap();
        for _ in 0..25 {
            assert!(test
                .authority
                .request(&request("zq-taken", Some(22)), &local())
                .is_err());
        }
        let logged = test.authority.log_size().unwrap() - before;
        assert_eq!(logged, u64::from(super::LOGGED_REFUSALS_PER_MINUTE));
        // The minute over, the next entry is preceded by one that counts the rest.
        for (minute, _) in test.authority.refusals.values_mut() {
            *minute -= 1;
        }
        test.authority
            .request(&request("zq-fresh", Some(40123)), &local())
            .unwrap();
        let history = test.authority.history(None, None).unwrap();
        let summary = &history[history.len() - 2];
        assert_eq!(summary.action, "refusals");
        assert!(
            summary.detail.starts_with("15 more refused attempts"),
            "{}",
            summary.detail
        );
        assert_eq!(test.authority.verify(None).unwrap().problem, None);
    }

    #[test]
    #[cfg(unix)]
    fn a_backup_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let test = store("backup-mode");
        let copy =
            std::env::temp_dir().join(format!("portreg-backup-mode-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&copy);
        test.authority.backup(&copy).unwrap();
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        let _ = std::fs::remove_file(&copy);
        assert_eq!(mode, 0o600);
    }
}
