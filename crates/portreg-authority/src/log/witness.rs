//! The witness protocol (`c2sp.org/tlog-witness`): `add-checkpoint`, by which a log asks a
//! witness to cosign its checkpoint with a consistency proof from the last one the
//! witness cosigned. Parsing, the witness's checks and the client's request body; the
//! witness's state and its HTTP route are its server's.

use base64::prelude::{Engine, BASE64_STANDARD};

use super::{check_consistency, note_body, Checkpoint, LogKey};

/// An `add-checkpoint` request: the old size, the consistency proof, the signed note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the log believes the witness cosigned last.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<[u8; 32]>,
    /// The checkpoint, a signed note.
    pub note: String,
}

/// Why a witness does not cosign, with the status the protocol gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: a body that is no request, or an old size past the checkpoint's.
    BadRequest(String),
    /// 403: not signed by the log's key.
    Forbidden(String),
    /// 404: a log the witness does not follow.
    UnknownLog(String),
    /// 409 with the size the witness cosigned last (`text/x.tlog.size`).
    Conflict(u64),
    /// 409: the same size with another root.
    Fork(String),
    /// 422: the consistency proof does not verify.
    BadProof(String),
}

impl AddCheckpoint {
    /// Reads a request body: `old N`, proof lines (base64), an empty line, the note.
    pub fn parse(body: &str) -> Result<AddCheckpoint, Refusal> {
        let bad = |why: &str| Refusal::BadRequest(format!("not an add-checkpoint request: {why}"));
        let (head, note) = body
            .split_once("\n\n")
            .ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old = lines
            .next()
            .and_then(|line| line.strip_prefix("old "))
            .filter(|n| n == &"0" || !n.starts_with('0'))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad("the first line is not `old SIZE`"))?;
        let proof = lines
            .map(|line| {
                BASE64_STANDARD
                    .decode(line)
                    .ok()
                    .and_then(|hash| <[u8; 32]>::try_from(hash).ok())
                    .ok_or_else(|| bad(&format!("{line:?} is no base64 hash")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if proof.len() > 63 {
            return Err(bad("more than 63 proof lines"));
        }
        Ok(AddCheckpoint {
            old,
            proof,
            note: note.to_owned(),
        })
    }

    /// The request's body, as a log sends it.
    pub fn body(&self) -> String {
        let mut body = format!("old {}\n", self.old);
        for hash in &self.proof {
            body.push_str(&BASE64_STANDARD.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.note);
        body
    }

    /// A witness's checks, against the latest checkpoint it cosigned of the log `key`
    /// (none yet: size 0): the checkpoint to record and cosign.
    pub fn check(&self, key: &LogKey, latest: Option<&Checkpoint>) -> Result<Checkpoint, Refusal> {
        let origin = Checkpoint::parse(&note_body(&self.note))
            .map_err(Refusal::BadRequest)?
            .origin;
        if origin != key.name {
            return Err(Refusal::UnknownLog(format!(
                "this witness follows the log {:?}, not {origin:?}",
                key.name
            )));
        }
        let checkpoint = Checkpoint::open(&self.note, key).map_err(Refusal::Forbidden)?;
        if self.old > checkpoint.size {
            return Err(Refusal::BadRequest(format!(
                "old size {} is past the checkpoint's size {}",
                self.old, checkpoint.size
            )));
        }
        let latest_size = latest.map_or(0, |c| c.size);
        if self.old != latest_size {
            return Err(Refusal::Conflict(latest_size));
        }
        match latest {
            None => {
                if !self.proof.is_empty() {
                    return Err(Refusal::BadRequest(
                        "a proof from size 0 must be empty".into(),
                    ));
                }
            }
            Some(latest) if latest.size == checkpoint.size => {
                if latest.root != checkpoint.root {
                    return Err(Refusal::Fork(format!(
                        "two checkpoints of {} entries with different roots: the log forked",
                        checkpoint.size
                    )));
                }
            }
            Some(latest) => check_consistency(
                &self.proof,
                latest.size,
                latest.root,
                checkpoint.size,
                checkpoint.root,
            )
            .map_err(Refusal::BadProof)?,
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::{AddCheckpoint, Refusal};
    use crate::log::{Checkpoint, LogSigner, LogTree};

    #[test]
    fn a_witness_cosigns_what_extends_what_it_cosigned_and_nothing_else() {
        let signer = LogSigner {
            name: "example.com/log".into(),
            key: SigningKey::from_bytes(&[1; 32]),
        };
        let key = signer.public();
        let mut tree = LogTree::default();
        for i in 0..9u8 {
            tree.push([i; 32]);
        }
        let note = |size: u64| {
            Checkpoint {
                origin: key.name.clone(),
                size,
                root: tree.root(size).unwrap(),
                time: Some(1),
                registry: None,
            }
            .sign(&signer)
            .unwrap()
        };
        let first = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: note(4),
        };
        assert_eq!(AddCheckpoint::parse(&first.body()), Ok(first.clone()));
        let cosigned = first.check(&key, None).unwrap();
        let grown = AddCheckpoint {
            old: 4,
            proof: tree.consistency(4, 9).unwrap(),
            note: note(9),
        };
        assert_eq!(AddCheckpoint::parse(&grown.body()), Ok(grown.clone()));
        assert_eq!(grown.check(&key, Some(&cosigned)).unwrap().size, 9);
        // The witness has cosigned 4: a request from 0 learns it.
        assert_eq!(
            first.check(&key, Some(&cosigned)),
            Err(Refusal::Conflict(4))
        );
        let mut bad = grown.clone();
        bad.proof[0] = [7; 32];
        assert!(matches!(
            bad.check(&key, Some(&cosigned)),
            Err(Refusal::BadProof(_))
        ));
        let mut other = Checkpoint::open(&note(4), &key).unwrap();
        other.root = [3; 32];
        let forked = AddCheckpoint {
            old: 4,
            proof: vec![],
            note: other.sign(&signer).unwrap(),
        };
        assert!(matches!(
            forked.check(&key, Some(&cosigned)),
            Err(Refusal::Fork(_))
        ));
        let stranger = LogSigner {
            name: "example.com/log".into(),
            key: SigningKey::from_bytes(&[2; 32]),
        };
        let forged = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: other.sign(&stranger).unwrap(),
        };
        assert!(matches!(
            forged.check(&key, None),
            Err(Refusal::Forbidden(_))
        ));
        let elsewhere = LogSigner {
            name: "example.org/other".into(),
            key: SigningKey::from_bytes(&[1; 32]),
        };
        let mut foreign = other.clone();
        foreign.origin = "example.org/other".into();
        let unknown = AddCheckpoint {
            old: 0,
            proof: vec![],
            note: foreign.sign(&elsewhere).unwrap(),
        };
        assert!(matches!(
            unknown.check(&key, None),
            Err(Refusal::UnknownLog(_))
        ));
        for body in ["old 01\n\nx", "new 1\n\nx", "old 1\n!!\n\nx", "old 1\nx"] {
            assert!(
                matches!(AddCheckpoint::parse(body), Err(Refusal::BadRequest(_))),
                "{body}"
            );
        }
    }
}
