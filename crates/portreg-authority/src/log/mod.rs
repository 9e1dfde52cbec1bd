//! The authority's log as others check it, after Certificate Transparency (RFC 9162),
//! Go's checksum database and the C2SP specifications: the entries' chain hashes are the
//! leaves of a Merkle tree ([`tree`]), each entry is signed by the authority's Ed25519 key
//! when it is written ([`sign_entry`]), and the log's heads are `c2sp.org/tlog-checkpoint`
//! signed notes ([`checkpoint`]). Nothing here needs the store: a follower holds the
//! authority's verifier key and the checkpoints it accepted.

pub mod checkpoint;
pub mod cosignature;
pub mod tree;
pub mod witness;

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};

pub use checkpoint::{default_origin, note_body, Checkpoint, LogKey, LogSigner};
pub use cosignature::{Cosigner, CosignerKey};
pub use tree::{check_consistency, check_inclusion, LogTree};

use crate::{AuthorityError, Result};

/// What an entry's signature covers: a versioned text naming the log, the entry and its
/// chain hash, so that a signature over anything else never passes for an entry's.
fn entry_message(origin: &str, id: u64, hash: &str) -> String {
    format!("portreg-log-entry/1\n{origin}\n{id}\n{hash}\n")
}

/// Signs entry `id` whose chain hash is `hash` (hex): the signature, hex.
pub fn sign_entry(signer: &LogSigner, id: u64, hash: &str) -> String {
    hex::encode(
        signer
            .key
            .sign(entry_message(&signer.name, id, hash).as_bytes())
            .to_bytes(),
    )
}

/// Checks entry `id`'s signature (hex) against the log's key.
pub fn check_entry(key: &LogKey, id: u64, hash: &str, signature: &str) -> bool {
    let Some(signature) = hex::decode(signature)
        .ok()
        .and_then(|bytes| ed25519_dalek::Signature::from_slice(&bytes).ok())
    else {
        return false;
    };
    key.key
        .verify(entry_message(&key.name, id, hash).as_bytes(), &signature)
        .is_ok()
}

/// A public key from its hex form (or a file `authority key` wrote, trimmed).
pub fn verifying_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| format!("{:?} is no Ed25519 public key (64 hex digits)", text.trim()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| format!("not an Ed25519 public key: {e}"))
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
