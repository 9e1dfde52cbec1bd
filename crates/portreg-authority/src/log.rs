//! The authority's log as others check it, after Certificate Transparency (RFC 9162) and
//! Go's checksum database: the entries' hashes are the leaves of a Merkle tree (RFC
//! 9162's hashing, by `ct-merkle`), the authority signs its tree head (size, root, time)
//! with an Ed25519 key, and a client that kept an earlier head checks that a new one
//! extends it with a consistency proof. Nothing here needs the store: a follower holds
//! the authority's public key and the heads it accepted.

use std::io::Write;
use std::path::{Path, PathBuf};

use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::{json, Value};
use sha2::digest::generic_array::GenericArray;
use sha2::Sha256;

use crate::{AuthorityError, Result};

/// What a signature covers: a versioned text, so that a signature over anything else
/// never passes for a tree head.
const HEAD_CONTEXT: &str = "portreg-log-head/1";

/// A signed tree head: the log of `size` entries has Merkle root `root`, said by the
/// holder of `key` at `time`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHead {
    /// Entries in the log (the last entry's id).
    pub size: u64,
    /// The Merkle tree's root, hex.
    pub root: String,
    /// When it was signed, `YYYY-MM-DDTHH:MM:SSZ`.
    pub time: String,
    /// The authority's Ed25519 public key, hex.
    pub key: String,
    /// The signature over the head, hex.
    pub signature: String,
}

impl SignedHead {
    fn message(size: u64, root: &str, time: &str) -> String {
        format!("{HEAD_CONTEXT}\n{size}\n{root}\n{time}\n")
    }

    /// Signs the head of a tree.
    pub fn sign(key: &SigningKey, size: u64, root: &str, time: &str) -> SignedHead {
        let signature = key.sign(Self::message(size, root, time).as_bytes());
        SignedHead {
            size,
            root: root.to_owned(),
            time: time.to_owned(),
            key: hex::encode(key.verifying_key().as_bytes()),
            signature: hex::encode(signature.to_bytes()),
        }
    }

    /// Checks the signature, and that it is `key`'s (hex) when a key is pinned.
    pub fn verify(&self, pinned: Option<&str>) -> Result<(), String> {
        if let Some(pinned) = pinned {
            if !pinned.eq_ignore_ascii_case(&self.key) {
                return Err(format!(
                    "the head is signed by key {}, not by the authority's key {pinned}",
                    self.key
                ));
            }
        }
        let key = verifying_key(&self.key)?;
        let signature: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| format!("{:?} is no Ed25519 signature", self.signature))?;
        key.verify(
            Self::message(self.size, &self.root, &self.time).as_bytes(),
            &Signature::from_bytes(&signature),
        )
        .map_err(|_| "the head's signature does not verify".to_owned())
    }

    /// The head as JSON, as `/v1/log/head` serves it.
    pub fn to_json(&self) -> Value {
        json!({"size": self.size, "root": self.root, "time": self.time, "key": self.key,
               "signature": self.signature})
    }

    /// A head from its JSON.
    pub fn from_json(value: &Value) -> Result<SignedHead, String> {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("a signed head needs {key:?}"))
        };
        Ok(SignedHead {
            size: value
                .get("size")
                .and_then(Value::as_u64)
                .ok_or("a signed head needs \"size\"")?,
            root: text("root")?,
            time: text("time")?,
            key: text("key")?,
            signature: text("signature")?,
        })
    }

    /// One line, `size=N root=HEX time=T key=HEX signature=HEX`, as published registries
    /// carry it after the chain's head.
    pub fn to_text(&self) -> String {
        format!(
            "size={} root={} time={} key={} signature={}",
            self.size, self.root, self.time, self.key, self.signature
        )
    }

    /// The head in a published registry's audit head (`ID:HASH size=... signature=...`),
    /// if it carries one.
    pub fn from_audit_head(text: &str) -> Option<SignedHead> {
        let field = |key: &str| {
            text.split_whitespace()
                .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
                .map(str::to_owned)
        };
        Some(SignedHead {
            size: field("size")?.parse().ok()?,
            root: field("root")?,
            time: field("time")?,
            key: field("key")?,
            signature: field("signature")?,
        })
    }
}

/// A public key from its hex form (or a file `authority key` wrote, trimmed).
pub fn verifying_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| format!("{:?} is no Ed25519 public key (64 hex digits)", text.trim()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
}

fn root_of(head: &SignedHead) -> Result<RootHash<Sha256>, String> {
    let bytes: [u8; 32] = hex::decode(&head.root)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| format!("{:?} is no root (64 hex digits)", head.root))?;
    Ok(RootHash::new(
        GenericArray::clone_from_slice(&bytes),
        head.size,
    ))
}

fn proof_bytes(proof: &[String]) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::with_capacity(proof.len() * 32);
    for hash in proof {
        let digest = hex::decode(hash)
            .ok()
            .filter(|d| d.len() == 32)
            .ok_or_else(|| format!("{hash:?} is no hash in a proof"))?;
        bytes.extend(digest);
    }
    Ok(bytes)
}

/// Checks that the log of `new` extends the log of `old` (a prefix of it, not a rewrite),
/// with the consistency proof between them.
pub fn verify_consistency(
    old: &SignedHead,
    new: &SignedHead,
    proof: &[String],
) -> Result<(), String> {
    if new.size < old.size {
        return Err(format!(
            "the log shrank from {} to {} entries: it was truncated or rewritten",
            old.size, new.size
        ));
    }
    if old.size == 0 {
        return Ok(());
    }
    if old.size == new.size {
        return if old.root == new.root {
            Ok(())
        } else {
            Err(format!(
                "two heads of {} entries with different roots: the log was rewritten",
                old.size
            ))
        };
    }
    let proof = ConsistencyProof::<Sha256>::try_from_bytes(proof_bytes(proof)?)
        .map_err(|e| format!("a malformed consistency proof: {e}"))?;
    root_of(new)?
        .verify_consistency(&root_of(old)?, &proof)
        .map_err(|e| {
            format!(
                "the log of {} entries does not extend the one of {} entries the follower accepted ({e}): it was rewritten",
                new.size, old.size
            )
        })
}

/// Checks that the entry whose hash is `leaf` (hex) is entry `index` (from 1) of the log
/// of `head`.
pub fn verify_inclusion(
    head: &SignedHead,
    leaf: &str,
    index: u64,
    proof: &[String],
) -> Result<(), String> {
    let leaf: [u8; 32] = hex::decode(leaf)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| format!("{leaf:?} is no entry hash"))?;
    let proof = InclusionProof::<Sha256>::try_from_bytes(proof_bytes(proof)?)
        .map_err(|e| format!("a malformed inclusion proof: {e}"))?;
    root_of(head)?
        .verify_inclusion(&leaf, index.saturating_sub(1), &proof)
        .map_err(|e| {
            format!(
                "entry {index} is not in the log of {} entries: {e}",
                head.size
            )
        })
}

/// Where a store's signing key is kept unless told: beside it, `STORE.key`.
pub fn default_key_path(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The signing key at `path`: read if the file exists, else made (256 random bits) and
/// written there, readable by its owner only.
pub fn load_or_create_key(path: &Path) -> Result<SigningKey> {
    let error = |what: String| AuthorityError::Store {
        path: path.to_owned(),
        what,
        source: None,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes: [u8; 32] = hex::decode(text.trim())
                .ok()
                .and_then(|bytes| bytes.try_into().ok())
                .ok_or_else(|| {
                    error(
                        "not a signing key: expected 64 hex digits (an Ed25519 secret key)".into(),
                    )
                })?;
            Ok(SigningKey::from_bytes(&bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            getrandom::fill(&mut secret).map_err(|e| error(format!("no random numbers: {e}")))?;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options
                .open(path)
                .map_err(|e| error(format!("cannot create the signing key: {e}")))?;
            writeln!(file, "{}", hex::encode(secret))
                .and_then(|()| file.sync_all())
                .map_err(|e| error(format!("cannot write the signing key: {e}")))?;
            Ok(SigningKey::from_bytes(&secret))
        }
        Err(e) => Err(error(format!("cannot read the signing key: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use ct_merkle::mem_backed_tree::MemoryBackedTree;
    use ed25519_dalek::SigningKey;
    use sha2::Sha256;

    use super::{verify_consistency, verify_inclusion, SignedHead};

    fn tree(leaves: &[[u8; 32]]) -> MemoryBackedTree<Sha256, [u8; 32]> {
        let mut tree = MemoryBackedTree::new();
        for leaf in leaves {
            tree.push(*leaf);
        }
        tree
    }

    fn head(key: &SigningKey, tree: &MemoryBackedTree<Sha256, [u8; 32]>) -> SignedHead {
        SignedHead::sign(
            key,
            tree.len(),
            &hex::encode(tree.root().as_bytes()),
            "2026-12-06T00:00:00Z",
        )
    }

    #[test]
    fn a_head_is_signed_and_a_longer_log_proves_it_extends_a_shorter_one() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let leaves: Vec<[u8; 32]> = (0..13u8).map(|i| [i; 32]).collect();
        let old = tree(&leaves[..5]);
        let new = tree(&leaves);
        let (old_head, new_head) = (head(&key, &old), head(&key, &new));
        old_head.verify(Some(&old_head.key)).unwrap();
        assert!(old_head.verify(Some(&"00".repeat(32))).is_err());
        let mut forged = new_head.clone();
        forged.size += 1;
        assert!(forged.verify(None).is_err());
        let text = new_head.to_text();
        assert_eq!(
            SignedHead::from_audit_head(&format!("13:ab {text}")),
            Some(new_head.clone())
        );
        assert_eq!(
            SignedHead::from_json(&new_head.to_json()),
            Ok(new_head.clone())
        );

        let proof: Vec<String> = new
            .prove_consistency(8)
            .as_bytes()
            .chunks(32)
            .map(hex::encode)
            .collect();
        verify_consistency(&old_head, &new_head, &proof).unwrap();
        // A log rewritten below the old head does not extend it.
        let mut rewritten = leaves.clone();
        rewritten[2] = [99; 32];
        let other = tree(&rewritten);
        let other_proof: Vec<String> = other
            .prove_consistency(8)
            .as_bytes()
            .chunks(32)
            .map(hex::encode)
            .collect();
        let error = verify_consistency(&old_head, &head(&key, &other), &other_proof).unwrap_err();
        assert!(error.contains("rewritten"), "{error}");
        assert!(verify_consistency(&new_head, &old_head, &[])
            .unwrap_err()
            .contains("shrank"));

        let inclusion: Vec<String> = new
            .prove_inclusion(3)
            .as_bytes()
            .chunks(32)
            .map(hex::encode)
            .collect();
        verify_inclusion(&new_head, &hex::encode([3u8; 32]), 4, &inclusion).unwrap();
        assert!(verify_inclusion(&new_head, &hex::encode([4u8; 32]), 4, &inclusion).is_err());
    }
}
