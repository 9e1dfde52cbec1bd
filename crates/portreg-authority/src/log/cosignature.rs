//! Cosignatures (`c2sp.org/tlog-cosignature`, version 1, Ed25519): a witness's timestamped
//! statement that a checkpoint is the largest consistent one it has seen of its log. The
//! signature line is `— NAME BASE64(KEYID || TIMESTAMP || SIGNATURE)`, the key ID
//! `SHA-256(NAME || 0x0A || 0x04 || KEY)[:4]`, and the signed message
//! `cosignature/v1\ntime TIMESTAMP\n` followed by the checkpoint's whole body.

use base64::prelude::{Engine, BASE64_STANDARD};
use ed25519_dalek::{Signer as _, SigningKey, Verifier as _, VerifyingKey};
use signed_note::{Note, VerifierList};

use super::checkpoint::parse_verifier_key;

/// The signature type of a cosignature's key ID.
const COSIGNATURE_TYPE: u8 = 4;

fn message(body: &[u8], time: u64) -> Vec<u8> {
    [format!("cosignature/v1\ntime {time}\n").as_bytes(), body].concat()
}

/// A witness's public key and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignerKey {
    /// The witness's name.
    pub name: String,
    /// Its Ed25519 key.
    pub key: VerifyingKey,
}

impl CosignerKey {
    fn encoded(&self) -> Vec<u8> {
        [&[COSIGNATURE_TYPE][..], self.key.as_bytes()].concat()
    }

    /// The key ID.
    pub fn id(&self) -> u32 {
        signed_note::key_id(&self.name, &self.encoded())
    }

    /// The verifier key, `NAME+ID+BASE64(0x04 || key)`.
    pub fn verifier_key(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.id(),
            BASE64_STANDARD.encode(self.encoded())
        )
    }

    /// A key from its verifier key (type 0x04).
    pub fn from_verifier_key(text: &str) -> Result<CosignerKey, String> {
        let (name, key) = parse_verifier_key(text, COSIGNATURE_TYPE)?;
        Ok(CosignerKey { name, key })
    }

    /// When this witness cosigned `note` (a signed checkpoint), if a valid cosignature of
    /// its is there.
    pub fn cosigned_at(&self, note: &str) -> Option<u64> {
        let parsed = Note::from_bytes(note.as_bytes()).ok()?;
        let verifiers = VerifierList::new(vec![Box::new(self.clone())]);
        let (verified, _) = parsed.verify(&verifiers).ok()?;
        let signature = verified.first()?.signature();
        Some(u64::from_be_bytes(signature.get(..8)?.try_into().ok()?))
    }
}

impl signed_note::Verifier for CosignerKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id()
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let (Some(time), Some(signature)) = (sig.get(..8), sig.get(8..)) else {
            return false;
        };
        let Ok(time) = <[u8; 8]>::try_from(time).map(u64::from_be_bytes) else {
            return false;
        };
        ed25519_dalek::Signature::from_slice(signature)
            .is_ok_and(|signature| self.key.verify(&message(msg, time), &signature).is_ok())
    }
}

/// A witness's signing key and name.
pub struct Cosigner {
    /// The witness's name.
    pub name: String,
    /// Its secret key.
    pub key: SigningKey,
}

impl Cosigner {
    /// The public half.
    pub fn public(&self) -> CosignerKey {
        CosignerKey {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The cosignature line of the checkpoint whose note body is `body`, made at `time`.
    pub fn cosign(&self, body: &str, time: u64) -> String {
        let signature = self.key.sign(&message(body.as_bytes(), time));
        let mut bytes = self.public().id().to_be_bytes().to_vec();
        bytes.extend_from_slice(&time.to_be_bytes());
        bytes.extend_from_slice(&signature.to_bytes());
        format!("— {} {}\n", self.name, BASE64_STANDARD.encode(bytes))
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::{Cosigner, CosignerKey};

    /// A checkpoint of the staging log `arche2025h1.staging.ct.transparency.dev`, as
    /// published with the cosignature of the witness `remora.n621.de` (a public test
    /// vector of the tlog ecosystem: its verifier key and signature line, transcribed).
    const REAL: &str = "arche2025h1.staging.ct.transparency.dev\n1432088532\nU7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=\n\n— remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==\n";
    const REMORA: &str = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2";

    #[test]
    fn a_published_cosignature_verifies_and_a_changed_checkpoint_does_not() {
        let remora = CosignerKey::from_verifier_key(REMORA).unwrap();
        assert_eq!(remora.verifier_key(), REMORA);
        let time = remora.cosigned_at(REAL).unwrap();
        assert_eq!(time, 0x6a12_2120);
        assert_eq!(
            remora.cosigned_at(&REAL.replace("1432088532", "1432088533")),
            None
        );
        // A type 0x01 key is no cosigner's.
        assert!(CosignerKey::from_verifier_key(
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_err());
    }

    #[test]
    fn a_cosignature_made_here_verifies_with_its_time() {
        let witness = Cosigner {
            name: "witness.example/w1".into(),
            key: SigningKey::from_bytes(&[9; 32]),
        };
        let body = "example.com/log\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\ntime 5\n";
        let line = witness.cosign(body, 1_679_315_147);
        assert!(line.starts_with("— witness.example/w1 "), "{line}");
        let note = format!("{body}\n{line}");
        assert_eq!(witness.public().cosigned_at(&note), Some(1_679_315_147));
        let other = Cosigner {
            name: "witness.example/w1".into(),
            key: SigningKey::from_bytes(&[8; 32]),
        };
        assert_eq!(other.public().cosigned_at(&note), None);
        let key = CosignerKey::from_verifier_key(&witness.public().verifier_key()).unwrap();
        assert_eq!(key, witness.public());
    }
}
