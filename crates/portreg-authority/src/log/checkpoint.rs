//! The log's signed heads as `c2sp.org/tlog-checkpoint`s in the `c2sp.org/signed-note`
//! format (by `tlog_tiles` and `signed_note`): an origin line naming the log, its size,
//! its root in base64, then portreg's extension lines, signed with Ed25519 (signature
//! type 0x01, the key ID `SHA-256(name || 0x0A || 0x01 || key)[:4]`).
//!
//! Extension lines, each optional:
//! - `time T`: when the checkpoint was signed, seconds since the Unix epoch;
//! - `registry sha256 HEX`: the SHA-256 of the registry served with it, the bytes of
//!   `/v1/registry.bin` (the compiled form) as the server sends them.

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use signed_note::{Note, VerifierList};

/// A log's key as the signed note names it: the log's origin and its Ed25519 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogKey {
    /// The key name: the log's origin.
    pub name: String,
    /// The public key.
    pub key: VerifyingKey,
}

impl LogKey {
    /// The key's ID: the first four bytes of `SHA-256(name || 0x0A || 0x01 || key)`.
    pub fn id(&self) -> u32 {
        signed_note::key_id(&self.name, &self.encoded())
    }

    fn encoded(&self) -> Vec<u8> {
        [&[1u8][..], self.key.as_bytes()].concat()
    }

    /// The verifier key, `NAME+ID+BASE64(0x01 || key)`, as Go's `sumdb/note` writes it.
    pub fn verifier_key(&self) -> String {
        signed_note::new_ed25519_verifier_key(&self.name, &self.key)
    }

    /// A key from its verifier key (`NAME+ID+BASE64`).
    pub fn from_verifier_key(text: &str) -> Result<LogKey, String> {
        let (name, key) = parse_verifier_key(text, 1)?;
        Ok(LogKey { name, key })
    }

    /// The public key, hex.
    pub fn hex(&self) -> String {
        hex::encode(self.key.as_bytes())
    }
}

/// Reads a verifier key `NAME+ID+BASE64(TYPE || KEY)` of signature type `kind` (0x01, a
/// note signature; 0x04, a cosignature): its name and Ed25519 key, the ID checked.
pub(crate) fn parse_verifier_key(text: &str, kind: u8) -> Result<(String, VerifyingKey), String> {
    let text = text.trim();
    let bad = || format!("{text:?} is no verifier key (NAME+KEYID+BASE64)");
    let (name, rest) = text.split_once('+').ok_or_else(bad)?;
    let (id, encoded) = rest.split_once('+').ok_or_else(bad)?;
    let bytes = BASE64_STANDARD.decode(encoded).map_err(|_| bad())?;
    let (Some(found), Ok(key)) = (
        bytes.first().copied(),
        <[u8; 32]>::try_from(bytes.get(1..).unwrap_or_default()),
    ) else {
        return Err(format!(
            "{text:?}: an Ed25519 verifier key (type 0x{kind:02x}) was expected"
        ));
    };
    if found != kind {
        return Err(format!(
            "{text:?}: a verifier key of type 0x{found:02x}, not 0x{kind:02x}"
        ));
    }
    let key = VerifyingKey::from_bytes(&key).map_err(|e| format!("{text:?}: {e}"))?;
    if !signed_note::is_key_name_valid(name)
        || format!("{:08x}", signed_note::key_id(name, &bytes)) != id
    {
        return Err(format!(
            "{text:?}: the key ID does not match its name and key"
        ));
    }
    Ok((name.to_owned(), key))
}

impl signed_note::Verifier for LogKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id()
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        ed25519_dalek::Signature::from_slice(sig)
            .is_ok_and(|signature| self.key.verify(msg, &signature).is_ok())
    }
}

/// A log's signing key and the origin it signs as.
pub struct LogSigner {
    /// The key name: the log's origin.
    pub name: String,
    /// The secret key.
    pub key: SigningKey,
}

impl LogSigner {
    /// The public half.
    pub fn public(&self) -> LogKey {
        LogKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }
}

impl signed_note::Signer for LogSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.public().id()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

/// A checkpoint: the log named `origin` had `size` entries and root `root`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin.
    pub origin: String,
    /// Entries in the log.
    pub size: u64,
    /// The Merkle tree's root (RFC 9162).
    pub root: [u8; 32],
    /// When it was signed, seconds since the Unix epoch.
    pub time: Option<u64>,
    /// The SHA-256 of the registry served with it (its compiled form's bytes).
    pub registry: Option<[u8; 32]>,
}

impl Checkpoint {
    /// The checkpoint's text, the note's body.
    pub fn body(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64_STANDARD.encode(self.root)
        );
        if let Some(time) = self.time {
            text.push_str(&format!("time {time}\n"));
        }
        if let Some(registry) = self.registry {
            text.push_str(&format!("registry sha256 {}\n", hex::encode(registry)));
        }
        text
    }

    /// The checkpoint signed by `signer`: a signed note.
    pub fn sign(&self, signer: &LogSigner) -> Result<String, String> {
        let mut note =
            Note::new(self.body().as_bytes(), &[]).map_err(|e| format!("not a checkpoint: {e}"))?;
        note.add_sigs(&[signer])
            .map_err(|e| format!("cannot sign the checkpoint: {e}"))?;
        String::from_utf8(note.to_bytes()).map_err(|e| e.to_string())
    }

    /// Reads a checkpoint from its text (the note's body), without any signature.
    pub fn parse(body: &str) -> Result<Checkpoint, String> {
        let parsed = tlog_tiles::Checkpoint::from_bytes(body.as_bytes()).map_err(|_| {
            "malformed checkpoint: expected origin, size and base64 root lines".to_owned()
        })?;
        let mut checkpoint = Checkpoint {
            origin: parsed.origin().to_owned(),
            size: parsed.size(),
            root: parsed.hash().0,
            time: None,
            registry: None,
        };
        for line in parsed.extension().lines() {
            if let Some(time) = line.strip_prefix("time ") {
                checkpoint.time = Some(
                    time.parse()
                        .map_err(|_| format!("checkpoint line {line:?}: expected time SECONDS"))?,
                );
            } else if let Some(digest) = line.strip_prefix("registry sha256 ") {
                checkpoint.registry = Some(
                    hex::decode(digest)
                        .ok()
                        .and_then(|d| d.try_into().ok())
                        .ok_or_else(|| {
                            format!("checkpoint line {line:?}: expected registry sha256 HEX")
                        })?,
                );
            }
            // Other extension lines are another tool's: kept in the signed text, not read.
        }
        Ok(checkpoint)
    }

    /// Opens a signed note: checks that `key` signed it, and reads the checkpoint.
    pub fn open(note: &str, key: &LogKey) -> Result<Checkpoint, String> {
        let parsed =
            Note::from_bytes(note.as_bytes()).map_err(|e| format!("not a signed note: {e}"))?;
        let verifiers = VerifierList::new(vec![Box::new(key.clone())]);
        parsed.verify(&verifiers).map_err(|e| match e {
            signed_note::NoteError::UnverifiedNote => format!(
                "the checkpoint is not signed by the log's key {}",
                key.verifier_key()
            ),
            other => format!("the checkpoint's signature does not verify: {other}"),
        })?;
        let body = std::str::from_utf8(parsed.text()).map_err(|e| e.to_string())?;
        let checkpoint = Checkpoint::parse(body)?;
        if checkpoint.origin != key.name {
            return Err(format!(
                "the checkpoint is of the log {:?}, not of {:?}",
                checkpoint.origin, key.name
            ));
        }
        Ok(checkpoint)
    }

    /// The root, hex.
    pub fn root_hex(&self) -> String {
        hex::encode(self.root)
    }
}

/// A signed note's text: everything before its signature lines, with its last newline.
pub fn note_body(note: &str) -> String {
    note.split("\n\n").next().unwrap_or_default().to_owned() + "\n"
}

/// The origin of a log signed by `key` when none is given: `portreg/` and the first 16
/// hex digits of the key's SHA-256, so that two authorities never share one.
pub fn default_origin(key: &VerifyingKey) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    format!("portreg/{}", &hex::encode(digest)[..16])
}

#[cfg(test)]
mod tests {
    use base64::prelude::{Engine, BASE64_STANDARD};
    use ed25519_dalek::SigningKey;

    use super::{Checkpoint, LogKey, LogSigner};

    /// The example of Go's `sumdb/note` (`golang.org/x/mod`, `note.go`): its signer key
    /// `PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz`
    /// signs its two-line text into exactly this note.
    const PETER_VERIFIER: &str =
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SECRET: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_TEXT: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_NOTE_SIGNATURE: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn peter() -> LogSigner {
        let secret = BASE64_STANDARD.decode(PETER_SECRET).unwrap();
        LogSigner {
            name: "PeterNeumann".into(),
            key: SigningKey::from_bytes(&secret[1..].try_into().unwrap()),
        }
    }

    #[test]
    fn go_sumdb_notes_example_signs_and_verifies_byte_for_byte() {
        let signer = peter();
        assert_eq!(signer.public().verifier_key(), PETER_VERIFIER);
        let key = LogKey::from_verifier_key(PETER_VERIFIER).unwrap();
        assert_eq!(key, signer.public());
        let mut note = signed_note::Note::new(PETER_TEXT.as_bytes(), &[]).unwrap();
        note.add_sigs(&[&signer]).unwrap();
        let signed = String::from_utf8(note.to_bytes()).unwrap();
        assert_eq!(signed, format!("{PETER_TEXT}\n{PETER_NOTE_SIGNATURE}"));
        // A changed key ID, name or key is no verifier key.
        for bad in [
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeuman+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3+AhpC2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "PeterNeumann+c74f20a3",
        ] {
            assert!(LogKey::from_verifier_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_checkpoint_is_signed_opened_and_refused_when_changed() {
        let signer = LogSigner {
            name: "example.com/log".into(),
            key: SigningKey::from_bytes(&[3; 32]),
        };
        let checkpoint = Checkpoint {
            origin: "example.com/log".into(),
            size: 20852163,
            root: [5; 32],
            time: Some(1_765_152_000),
            registry: Some([6; 32]),
        };
        let note = checkpoint.sign(&signer).unwrap();
        let lines: Vec<&str> = note.lines().collect();
        assert_eq!(lines[0], "example.com/log");
        assert_eq!(lines[1], "20852163");
        assert_eq!(BASE64_STANDARD.decode(lines[2]).unwrap(), [5; 32]);
        assert!(lines[6].starts_with("— example.com/log "), "{note}");
        assert_eq!(
            Checkpoint::open(&note, &signer.public()),
            Ok(checkpoint.clone())
        );
        let edited = note.replace("20852163", "20852164");
        assert!(Checkpoint::open(&edited, &signer.public()).is_err());
        let other = LogSigner {
            name: "example.com/log".into(),
            key: SigningKey::from_bytes(&[4; 32]),
        };
        let error = Checkpoint::open(&note, &other.public()).unwrap_err();
        assert!(error.contains("not signed"), "{error}");
        // The spec's own example checkpoint reads (its signatures are other keys').
        let example =
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let parsed = Checkpoint::parse(example).unwrap();
        assert_eq!((parsed.size, parsed.time), (20852163, None));
        assert!(Checkpoint::parse("example.com\nten\nAAAA\n").is_err());
    }
}
