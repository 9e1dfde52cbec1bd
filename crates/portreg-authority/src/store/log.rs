//! The store's side of the signed log: its Merkle tree over the entries' chain hashes
//! (kept in memory, extended only by entries whose chain and signature check), its
//! signing key, its checkpoints, proofs and entries.

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::log::{
    default_origin, load_or_create_key, verifying_key, Checkpoint, LogKey, LogSigner, LogTree,
};
use crate::{Actor, AuthorityError, Result};

use super::{store_error, Authority};

/// The log's tree, shared with whoever serves proofs and tiles without the store.
pub type SharedTree = Arc<RwLock<LogTree>>;

/// The most entries one `/v1/log/entries` answer holds: a tile's width (each costs the
/// server about 9 µs).
const MAX_ENTRIES: u64 = 256;

/// One entry of the log, as served: whole (with the rows its change wrote) for those who
/// see every request; for the public, the registry's changes without their rows, and of
/// every other entry only its id, time and hash (a follower needs no more).
fn entry_json(row: &rusqlite::Row<'_>, whole: bool) -> rusqlite::Result<Value> {
    let (action, outcome): (String, String) = (row.get(3)?, row.get(5)?);
    let id: i64 = row.get(0)?;
    let (at, hash): (String, String) = (row.get(1)?, row.get(7)?);
    let signature: Option<String> = row.get(9)?;
    let public = super::registry_changes(&action) && outcome == "ok";
    if !(whole || public) {
        return Ok(json!({"id": id, "at": at, "hash": hash, "signature": signature}));
    }
    let changes: Value = if whole {
        row.get::<_, Option<String>>(8)?
            .as_deref()
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    Ok(json!({
        "id": id, "at": at, "actor": row.get::<_, String>(2)?, "action": action,
        "subject": row.get::<_, String>(4)?, "outcome": outcome,
        "detail": row.get::<_, String>(6)?, "hash": hash, "signature": signature,
        "changes": changes,
    }))
}

/// A meta row's value.
pub(super) fn meta(connection: &Connection, key: &str) -> Result<Option<String>> {
    Ok(connection
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()?)
}

/// The first entry that must be signed: entries before it were written before the log's
/// entries were signed (a store migrated from an earlier portreg).
pub(super) fn signed_from(connection: &Connection) -> Result<u64> {
    Ok(meta(connection, "signed_from")?
        .and_then(|v| v.parse().ok())
        .unwrap_or(1))
}

/// The log's key as the store names it (its public key and origin), if it has one.
pub(super) fn recorded_key(connection: &Connection) -> Result<Option<LogKey>> {
    let Some(hex) = meta(connection, "signing_key")? else {
        return Ok(None);
    };
    let key = verifying_key(&hex)
        .map_err(|e| AuthorityError::DamagedRecord(format!("the store's signing key: {e}")))?;
    let name = meta(connection, "log_origin")?.unwrap_or_else(|| default_origin(&key));
    Ok(Some(LogKey { name, key }))
}

/// The last entry's id and chain hash.
pub(super) fn last_entry(connection: &Connection) -> Result<Option<(u64, String)>> {
    Ok(connection
        .query_row(
            "SELECT id, coalesce(hash, '') FROM audit ORDER BY id DESC LIMIT 1",
            [],
            |row| Ok((row.get::<_, i64>(0)? as u64, row.get(1)?)),
        )
        .optional()?)
}

/// Entry `id`'s chain hash (hex) as its tree leaf.
pub(super) fn leaf_of(id: u64, hash: &str) -> Result<[u8; 32]> {
    hex::decode(hash)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| AuthorityError::Tampered(format!("log entry {id} has no chain hash")))
}

/// Brings `tree` up to the log's last entry, checking each new entry as it is added:
/// ids without a gap, its chain hash from its content and the entry before, its
/// signature by `key` from [`signed_from`] on. First, that the entries the tree holds are
/// still the store's: a log cut or replaced under this process is refused.
pub(super) fn sync(
    connection: &Connection,
    tree: &mut LogTree,
    key: Option<&LogKey>,
) -> Result<()> {
    let size = tree.size();
    let last_id = last_entry(connection)?.map_or(0, |(id, _)| id);
    if last_id < size {
        return Err(AuthorityError::Tampered(format!(
            "the log was cut under this server: it had {size} entries, the store now has {last_id}"
        )));
    }
    if size > 0 {
        let kept: Option<String> = connection
            .query_row(
                "SELECT coalesce(hash, '') FROM audit WHERE id = ?1",
                [size as i64],
                |row| row.get(0),
            )
            .optional()?;
        if kept.map(|h| leaf_of(size, &h)).transpose()? != tree.leaf(size - 1) {
            return Err(AuthorityError::Tampered(format!(
                "log entry {size} is not the one this server verified: the log was replaced under it"
            )));
        }
    }
    if last_id == size {
        return Ok(());
    }
    if size == 0 {
        if let Some(key) = key {
            load_checkpointed(connection, tree, key, last_id)?;
            if tree.size() == last_id {
                return Ok(());
            }
        }
    }
    let size = tree.size();
    let first_signed = signed_from(connection)?;
    let mut previous = match size {
        0 => String::new(),
        n => hex::encode(tree.leaf(n - 1).unwrap_or_default()),
    };
    let mut statement = connection.prepare_cached(
        "SELECT id, at, actor, action, subject, outcome, detail, coalesce(hash, ''), changes, signature
         FROM audit WHERE id > ?1 ORDER BY id",
    )?;
    let mut rows = statement.query([size as i64])?;
    while let Some(row) = rows.next()? {
        let id = row.get::<_, i64>(0)? as u64;
        let fields = super::audit::entry_fields(row)?;
        let (hash, changes, signature): (String, Option<String>, Option<String>) =
            (row.get(7)?, row.get(8)?, row.get(9)?);
        if id != tree.size() + 1 {
            return Err(AuthorityError::Tampered(format!(
                "log entry {} is missing",
                tree.size() + 1
            )));
        }
        let computed = super::audit::row_hash(
            &previous,
            fields.each_ref().map(String::as_str),
            changes.as_deref(),
            id as i64,
        );
        if computed != hash {
            return Err(AuthorityError::Tampered(format!(
                "log entry {id} does not match its chain hash: it was changed or inserted"
            )));
        }
        let unsigned = super::audit::signature_problem(
            key,
            id as i64,
            first_signed,
            &hash,
            signature.as_deref(),
        );
        if unsigned.is_some() {
            return Err(AuthorityError::Tampered(format!(
                "log entry {id} ({} {} by {}) is not signed by the authority's key: it was written by someone else",
                fields[2], fields[3], fields[1]
            )));
        }
        tree.push(leaf_of(id, &hash)?);
        previous = hash;
    }
    Ok(())
}

/// Loads the entries the store's last checkpoint covers without checking each one: its
/// signature by `key` over their root vouches for all of them at once (the entries'
/// content against their hashes is `verify`'s to check). Leaves `tree` empty when the
/// checkpoint is missing, not the key's, or not the root of the entries found.
fn load_checkpointed(
    connection: &Connection,
    tree: &mut LogTree,
    key: &LogKey,
    last: u64,
) -> Result<()> {
    let Some(checkpoint) =
        meta(connection, "checkpoint")?.and_then(|note| Checkpoint::open(&note, key).ok())
    else {
        return Ok(());
    };
    if checkpoint.size > last {
        return Err(AuthorityError::Tampered(format!(
            "the store's last checkpoint covers {} entries, the log has {last}: entries were removed",
            checkpoint.size
        )));
    }
    let mut statement = connection
        .prepare_cached("SELECT id, coalesce(hash, '') FROM audit WHERE id <= ?1 ORDER BY id")?;
    let mut rows = statement.query([checkpoint.size as i64])?;
    let mut loaded = LogTree::default();
    while let Some(row) = rows.next()? {
        let id = row.get::<_, i64>(0)? as u64;
        let hash: String = row.get(1)?;
        if id != loaded.size() + 1 {
            return Ok(());
        }
        loaded.push(leaf_of(id, &hash)?);
    }
    if loaded.size() == checkpoint.size && loaded.root(loaded.size()).ok() == Some(checkpoint.root)
    {
        *tree = loaded;
    }
    Ok(())
}

impl Authority {
    /// The log's tree as this process verified it, brought up to the store's last entry.
    pub fn sync_log(&self) -> Result<()> {
        let key = self.log_key()?;
        let mut tree = self.tree.write().unwrap_or_else(PoisonError::into_inner);
        sync(&self.connection, &mut tree, key.as_ref())
    }

    /// The tree, shared: proofs and tiles read it without the store.
    pub fn shared_tree(&self) -> SharedTree {
        Arc::clone(&self.tree)
    }

    /// Signs with the key at `path`: read if it exists, else made there (0600). The
    /// store records the public key of the first key it signs with, and refuses any
    /// other (a new store can take over an old store's key by being given its file).
    /// Returns the public key, hex.
    pub fn use_signing_key(&mut self, path: &Path) -> Result<String> {
        let recorded = recorded_key(&self.connection)?;
        if recorded.is_some() && !path.exists() {
            return Err(store_error(
                path,
                "no such signing key, and the store signs with one: give its file with --signing-key",
            ));
        }
        let key = load_or_create_key(path)?;
        let public = hex::encode(key.verifying_key().as_bytes());
        match recorded {
            Some(recorded) if recorded.key != key.verifying_key() => {
                return Err(store_error(
                    path,
                    format!(
                        "this key ({public}) is not the one the store signs with ({}); give the store's key with --signing-key",
                        recorded.hex()
                    ),
                ))
            }
            Some(recorded) => {
                self.signer = Some(LogSigner {
                    name: recorded.name,
                    key,
                });
            }
            None => {
                let origin = default_origin(&key.verifying_key());
                self.signer = Some(LogSigner {
                    name: origin.clone(),
                    key,
                });
                let recorded = public.clone();
                self.change(&Actor::local("portreg"), "key", "signing key", |tx| {
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES ('signing_key', ?1), ('log_origin', ?2)",
                        params![recorded, origin],
                    )?;
                    Ok(((), format!("the log {origin} is signed by Ed25519 key {recorded}")))
                })?;
            }
        }
        Ok(public)
    }

    /// The public key the store's log is signed with (hex), once one is in use.
    pub fn public_key(&self) -> Result<Option<String>> {
        Ok(self.log_key()?.map(|key| key.hex()))
    }

    /// The log's key: the one this process signs with, else the one the store names.
    pub fn log_key(&self) -> Result<Option<LogKey>> {
        match &self.signer {
            Some(signer) => Ok(Some(signer.public())),
            None => recorded_key(&self.connection),
        }
    }

    /// A checkpoint of the log as it stands, signed now, with the registry's digest when
    /// given; `None` while no signing key is in use. The log is checked first, up to its
    /// last entry: an entry this process cannot verify is never signed over.
    pub fn checkpoint(&self, registry: Option<[u8; 32]>) -> Result<Option<String>> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        self.sync_log()?;
        let tree = self.tree.read().unwrap_or_else(PoisonError::into_inner);
        let checkpoint = Checkpoint {
            origin: signer.name.clone(),
            size: tree.size(),
            root: tree.root(tree.size()).map_err(AuthorityError::Tampered)?,
            time: Some(super::unix_now()),
            registry,
        };
        checkpoint
            .sign(signer)
            .map(Some)
            .map_err(AuthorityError::Refused)
    }

    /// The last checkpoint the store keeps (signed when its last entry was written).
    pub fn stored_checkpoint(&self) -> Result<Option<String>> {
        meta(&self.connection, "checkpoint")
    }

    /// The log's root at `size` entries (at most its size now).
    pub fn root_at(&self, size: u64) -> Result<[u8; 32]> {
        self.sync_log()?;
        let tree = self.tree.read().unwrap_or_else(PoisonError::into_inner);
        tree.root(size).map_err(|reason| AuthorityError::Invalid {
            field: "size",
            reason,
        })
    }

    /// The log's size: its entries.
    pub fn log_size(&self) -> Result<u64> {
        self.sync_log()?;
        Ok(self
            .tree
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .size())
    }

    /// Entries `start` to `end` (ids, both included, at most [`MAX_ENTRIES`]): `whole`
    /// for a caller who sees every request (the rows of identities and requests are
    /// theirs only).
    pub fn entries(&self, start: u64, end: u64, whole: bool) -> Result<Vec<Value>> {
        if start == 0 || end < start || end - start >= MAX_ENTRIES {
            return Err(AuthorityError::Invalid {
                field: "start",
                reason: format!(
                    "give 1 <= start <= end, at most {MAX_ENTRIES} entries; got start={start}, end={end}"
                ),
            });
        }
        let mut statement = self.connection.prepare_cached(
            "SELECT id, at, actor, action, subject, outcome, detail, coalesce(hash, ''), changes, signature
             FROM audit WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
        )?;
        let rows = statement.query_map(params![start as i64, end as i64], |row| {
            entry_json(row, whole)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// Proofs from a shared tree, as the API serves them: entries numbered from 1, hashes hex.
pub mod proofs {
    use super::SharedTree;
    use crate::{AuthorityError, Result};
    use std::sync::PoisonError;

    fn hex_all(hashes: Vec<[u8; 32]>) -> Vec<String> {
        hashes.into_iter().map(hex::encode).collect()
    }

    /// The consistency proof from the log of `from` entries to the one of `to` (RFC 9162
    /// `PROOF(from, D[to])`), hex digests.
    pub fn consistency(tree: &SharedTree, from: u64, to: u64) -> Result<Vec<String>> {
        let tree = tree.read().unwrap_or_else(PoisonError::into_inner);
        let size = tree.size();
        if from == 0 || from > to || to > size {
            return Err(AuthorityError::Invalid {
                field: "from",
                reason: format!(
                    "a consistency proof needs 1 <= from <= to <= {size} (the log's size); got from={from}, to={to}"
                ),
            });
        }
        tree.consistency(from, to)
            .map(hex_all)
            .map_err(AuthorityError::Refused)
    }

    /// Entry `entry`'s chain hash and its inclusion proof in the log of `size` entries
    /// (its whole size when not given): `(size, leaf, proof)`.
    pub fn inclusion(
        tree: &SharedTree,
        entry: u64,
        size: Option<u64>,
    ) -> Result<(u64, String, Vec<String>)> {
        let tree = tree.read().unwrap_or_else(PoisonError::into_inner);
        let size = size.unwrap_or(tree.size());
        if entry == 0 || entry > size || size > tree.size() {
            return Err(AuthorityError::NotFound(format!(
                "no entry {entry} in a log of {size}: the log has entries 1 to {}",
                tree.size()
            )));
        }
        let leaf = hex::encode(tree.leaf(entry - 1).unwrap_or_default());
        let proof = tree
            .inclusion(entry - 1, size)
            .map(hex_all)
            .map_err(AuthorityError::Refused)?;
        Ok((size, leaf, proof))
    }
}
