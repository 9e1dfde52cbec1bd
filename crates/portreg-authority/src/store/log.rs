//! The store's side of the signed log: its Merkle tree over the entries' hashes (kept in
//! memory and extended as entries are added), its signing key, its signed head, proofs
//! and entries.

use std::path::Path;

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::log::{load_or_create_key, SignedHead};
use crate::{Actor, AuthorityError, Result};

use super::{now, store_error, Authority};

/// The log's Merkle tree: one leaf an entry, its hash.
pub(super) type Tree = MemoryBackedTree<Sha256, [u8; 32]>;

/// The most entries one `/v1/log/entries` answer holds.
const MAX_ENTRIES: u64 = 1_000;

/// One entry of the log, as served: whole (with the rows its change wrote) for those who
/// see every request; for the public, the registry's changes without their rows, and of
/// every other entry only its id, time and hash (a follower needs no more).
fn entry_json(row: &rusqlite::Row<'_>, whole: bool) -> rusqlite::Result<Value> {
    let (action, outcome): (String, String) = (row.get(3)?, row.get(5)?);
    let id: i64 = row.get(0)?;
    let (at, hash): (String, String) = (row.get(1)?, row.get(7)?);
    let public = super::registry_changes(&action) && outcome == "ok";
    if !(whole || public) {
        return Ok(json!({"id": id, "at": at, "hash": hash}));
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
        "detail": row.get::<_, String>(6)?, "hash": hash, "changes": changes,
    }))
}

/// The tree of the log's first `size` entries (at most the tree's size).
fn prefix(tree: &Tree, size: u64) -> Tree {
    let mut smaller = Tree::new();
    for leaf in &tree.items()[..size as usize] {
        smaller.push(*leaf);
    }
    smaller
}

fn hex_digests(bytes: &[u8]) -> Vec<String> {
    bytes.chunks(32).map(hex::encode).collect()
}

impl Authority {
    /// Brings the tree up to the log's last entry.
    fn sync_tree(&self) -> Result<()> {
        let mut tree = self.tree.borrow_mut();
        let mut statement = self
            .connection
            .prepare_cached("SELECT id, coalesce(hash, '') FROM audit WHERE id > ?1 ORDER BY id")?;
        let mut rows = statement.query([tree.len() as i64])?;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            let hash: String = row.get(1)?;
            let leaf: [u8; 32] = hex::decode(&hash)
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| {
                    AuthorityError::DamagedRecord(format!("log entry {id} has no hash"))
                })?;
            if id as u64 != tree.len() + 1 {
                return Err(AuthorityError::DamagedRecord(format!(
                    "log entry {} is missing",
                    tree.len() + 1
                )));
            }
            tree.push(leaf);
        }
        Ok(())
    }

    /// Signs with the key at `path`: read if it exists, else made there (0600). The
    /// store records the public key of the first key it signs with, and refuses any
    /// other (a new store can take over an old store's key by being given its file).
    /// Returns the public key, hex.
    pub fn use_signing_key(&mut self, path: &Path) -> Result<String> {
        if self.public_key()?.is_some() && !path.exists() {
            return Err(store_error(
                path,
                "no such signing key, and the store signs with one: give its file with --signing-key",
            ));
        }
        let key = load_or_create_key(path)?;
        let public = hex::encode(key.verifying_key().as_bytes());
        match self.public_key()? {
            Some(recorded) if recorded != public => {
                return Err(store_error(
                    path,
                    format!(
                        "this key ({public}) is not the one the store signs with ({recorded}); give the store's key with --signing-key"
                    ),
                ))
            }
            Some(_) => {}
            None => {
                let recorded = public.clone();
                self.change(&Actor::local("portreg"), "key", "signing key", |tx| {
                    tx.execute(
                        "INSERT INTO meta (key, value) VALUES ('signing_key', ?1)",
                        [&recorded],
                    )?;
                    Ok(((), format!("the log is signed by Ed25519 key {recorded}")))
                })?;
            }
        }
        self.signing = Some(key);
        Ok(public)
    }

    /// The public key the store's heads are signed with (hex), once one is in use.
    pub fn public_key(&self) -> Result<Option<String>> {
        Ok(self
            .connection
            .query_row(
                "SELECT value FROM meta WHERE key = 'signing_key'",
                [],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// The log's head, signed now; `None` while no signing key is in use.
    pub fn signed_head(&self) -> Result<Option<SignedHead>> {
        let Some(key) = &self.signing else {
            return Ok(None);
        };
        self.sync_tree()?;
        let tree = self.tree.borrow();
        let root = hex::encode(tree.root().as_bytes());
        Ok(Some(SignedHead::sign(key, tree.len(), &root, &now())))
    }

    /// The log's head when it had `size` entries (at most its size now), unsigned: what
    /// a check of another copy of the log compares with.
    pub fn head_at(&self, size: u64) -> Result<SignedHead> {
        self.sync_tree()?;
        let tree = self.tree.borrow();
        if size > tree.len() {
            return Err(AuthorityError::Invalid {
                field: "size",
                reason: format!("the log has {} entries, not {size}", tree.len()),
            });
        }
        let root = if size == tree.len() {
            tree.root()
        } else {
            prefix(&tree, size).root()
        };
        Ok(SignedHead {
            size,
            root: hex::encode(root.as_bytes()),
            time: String::new(),
            key: String::new(),
            signature: String::new(),
        })
    }

    /// The log's size: its entries.
    pub fn log_size(&self) -> Result<u64> {
        self.sync_tree()?;
        Ok(self.tree.borrow().len())
    }

    /// The consistency proof from the log of `from` entries to the one of `to` (RFC 9162
    /// `PROOF(from, D[to])`), hex digests.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<String>> {
        self.sync_tree()?;
        let tree = self.tree.borrow();
        let size = tree.len();
        if from == 0 || from > to || to > size {
            return Err(AuthorityError::Invalid {
                field: "from",
                reason: format!(
                    "a consistency proof needs 1 <= from <= to <= {size} (the log's size); got from={from}, to={to}"
                ),
            });
        }
        if to == size {
            return Ok(hex_digests(
                tree.prove_consistency((to - from) as usize).as_bytes(),
            ));
        }
        Ok(hex_digests(
            prefix(&tree, to)
                .prove_consistency((to - from) as usize)
                .as_bytes(),
        ))
    }

    /// Entry `entry`'s hash and its inclusion proof in the log as it stands (its size).
    pub fn inclusion_proof(&self, entry: u64) -> Result<(u64, String, Vec<String>)> {
        self.sync_tree()?;
        let tree = self.tree.borrow();
        let size = tree.len();
        if entry == 0 || entry > size {
            return Err(AuthorityError::NotFound(format!(
                "no entry {entry}: the log has entries 1 to {size}"
            )));
        }
        let leaf = hex::encode(tree.items()[entry as usize - 1]);
        let proof = hex_digests(tree.prove_inclusion(entry as usize - 1).as_bytes());
        Ok((size, leaf, proof))
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
            "SELECT id, at, actor, action, subject, outcome, detail, coalesce(hash, ''), changes
             FROM audit WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
        )?;
        let rows = statement.query_map(params![start as i64, end as i64], |row| {
            entry_json(row, whole)
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
