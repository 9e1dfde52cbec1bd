//! A replica's side of `portreg serve --follow`: fetching its source every interval, the
//! log it witnesses (the source's checkpoints: signed by its key, each extending the last,
//! fresh, cosigned by the witnesses required, committing to the registry sent), and, with
//! `--cosign-key`, its cosignatures for the source (`c2sp.org/tlog-witness`).

use std::sync::{Arc, Mutex, PoisonError};

use portreg::{CompiledRegistry, Provenance};
use portreg_authority::log::witness::{AddCheckpoint, Refusal};
use portreg_authority::log::{note_body, Checkpoint, Cosigner, CosignerKey, LogKey};
use portreg_server::witness::CheckpointWitness;
use portreg_server::{AppState, Snapshot};
use sha2::{Digest, Sha256};

use portreg_cli::store::{ServerState, Store};
use portreg_cli::Failure;

use super::update::{download, read_fetched, Fetched};

/// How long one fetch of a followed registry may take.
const FETCH_TIMEOUT: u64 = 30;

/// The key `--authority-key` names: a file holding a verifier key or a public key's hex,
/// or the text itself.
pub enum GivenKey {
    /// A verifier key: the log's origin and key.
    Log(LogKey),
    /// A public key, hex: the origin is the source's.
    Hex(String),
}

pub fn read_given_key(path: &std::path::Path) -> Result<GivenKey, Failure> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| path.display().to_string());
    let text = text.trim();
    if text.contains('+') {
        return LogKey::from_verifier_key(text)
            .map(GivenKey::Log)
            .map_err(|e| Failure::usage(format!("--authority-key {}: {e}", path.display())));
    }
    portreg_authority::log::verifying_key(text)
        .map(|_| GivenKey::Hex(text.to_ascii_lowercase()))
        .map_err(|e| Failure::usage(format!("--authority-key {}: {e}", path.display())))
}

/// What a follower witnessed of its source's log: the key its checkpoints are signed
/// with and the checkpoints it accepted. They are kept in portreg's data directory by the
/// log (its origin and key), not by the URL it was reached at, so that another spelling
/// of the same server, or a restart, remembers them.
pub struct Witness {
    /// The key given, or pinned on the first fetch.
    key: Option<LogKey>,
    /// A public key given without its origin.
    given_hex: Option<String>,
    /// Checkpoints accepted (signed notes), oldest first (the last few hundred).
    accepted: Vec<String>,
    /// The oldest a checkpoint may be.
    max_age: Option<u64>,
    /// The witnesses whose cosignatures every checkpoint must carry.
    required: Vec<CosignerKey>,
}

/// Checkpoints a follower keeps.
const KEPT: usize = 500;

/// The folder of what followers witnessed.
fn witness_dir() -> Option<std::path::PathBuf> {
    Store::locate().map(|store| store.dir().join("follow"))
}

fn short_digest(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))[..16].to_owned()
}

impl Witness {
    /// A witness of `source`; the checkpoints kept for the key given (or pinned before
    /// for this source). A file kept that cannot be read stops the replica: it is never
    /// dropped and a key pinned afresh.
    pub fn load(
        source: &str,
        given: Option<GivenKey>,
        max_age: Option<u64>,
        required: Vec<CosignerKey>,
    ) -> Result<Witness, Failure> {
        let mut witness = Witness {
            key: None,
            given_hex: None,
            accepted: Vec::new(),
            max_age,
            required,
        };
        match given {
            Some(GivenKey::Log(key)) => witness.pin(key)?,
            Some(GivenKey::Hex(hex)) => witness.given_hex = Some(hex),
            None => {
                let pinned =
                    witness_dir().map(|d| d.join(format!("source-{}.json", short_digest(source))));
                if let Some(kept) = read_kept(pinned.as_deref())? {
                    let key = kept["verifier_key"].as_str().map(LogKey::from_verifier_key);
                    match key {
                        Some(Ok(key)) => witness.pin(key)?,
                        _ => return Err(damaged(pinned.as_deref(), "no verifier key")),
                    }
                }
            }
        }
        Ok(witness)
    }

    /// Takes `key` as the log's, with the checkpoints kept for it.
    fn pin(&mut self, key: LogKey) -> Result<(), Failure> {
        let file = self.file_of(&key);
        self.accepted = match read_kept(file.as_deref())? {
            Some(kept) => {
                let notes = kept["checkpoints"]
                    .as_array()
                    .ok_or_else(|| damaged(file.as_deref(), "no checkpoints"))?;
                let mut accepted = Vec::new();
                for note in notes {
                    let note = note
                        .as_str()
                        .ok_or_else(|| damaged(file.as_deref(), "a checkpoint that is no text"))?;
                    Checkpoint::open(note, &key).map_err(|e| damaged(file.as_deref(), &e))?;
                    accepted.push(note.to_owned());
                }
                accepted
            }
            None => Vec::new(),
        };
        self.key = Some(key);
        Ok(())
    }

    fn file_of(&self, key: &LogKey) -> Option<std::path::PathBuf> {
        witness_dir().map(|d| d.join(format!("log-{}.json", short_digest(&key.verifier_key()))))
    }

    fn save(&self, source: &str) {
        let (Some(key), Some(dir)) = (&self.key, witness_dir()) else {
            return;
        };
        let body =
            serde_json::json!({"verifier_key": key.verifier_key(), "checkpoints": self.accepted});
        let pin = serde_json::json!({"source": source, "verifier_key": key.verifier_key()});
        let write = |file: std::path::PathBuf, body: String| -> std::io::Result<()> {
            std::fs::create_dir_all(&dir)?;
            let temporary = file.with_extension("json.new");
            std::fs::write(&temporary, body)?;
            std::fs::rename(&temporary, file)
        };
        let written = self
            .file_of(key)
            .map_or(Ok(()), |file| write(file, body.to_string()))
            .and_then(|()| {
                write(
                    dir.join(format!("source-{}.json", short_digest(source))),
                    pin.to_string(),
                )
            });
        if let Err(error) = written {
            tracing::warn!(dir = %dir.display(), %error, "the checkpoints seen could not be kept");
        }
    }

    /// The key to check `base`'s checkpoints with: given, pinned, or (the first time,
    /// without `--authority-key`) the one the source names, pinned now. `None` for a
    /// source that names none while no key is given or pinned: a server of a plain
    /// registry file, followed as it is.
    fn key_for(&mut self, base: &str) -> Result<Option<LogKey>, FetchError> {
        if let Some(key) = &self.key {
            return Ok(Some(key.clone()));
        }
        let named = match super::log::fetch_key(base) {
            Ok(named) => named,
            Err(_) if self.given_hex.is_none() => return Ok(None),
            Err(error) => return Err(FetchError::Failed(error)),
        };
        if let Some(hex) = &self.given_hex {
            if named.hex() != *hex {
                return Err(FetchError::Refused(format!(
                    "the source signs with key {}, not the authority's key {hex}",
                    named.hex()
                )));
            }
        } else {
            tracing::info!(source = base, key = %named.verifier_key(), "pinned the authority's key on the first fetch (give --authority-key to pin it beforehand)");
        }
        self.pin(named.clone())
            .map_err(|e| FetchError::Fatal(format!("{:#}", e.error)))?;
        Ok(Some(named))
    }

    /// Checks `base`'s checkpoint: signed by the log's key, extending the last one
    /// accepted (a consistency proof from the source), not older than `--max-age`.
    fn check(&mut self, base: &str) -> Result<Option<(Checkpoint, String)>, FetchError> {
        let Some(key) = self.key_for(base)? else {
            return Ok(None);
        };
        let (checkpoint, note) = super::log::fetch_checkpoint(base, &key)
            .map_err(|e| {
                if e.contains("HTTP 503") {
                    FetchError::Refused(e)
                } else {
                    FetchError::Failed(e)
                }
            })?
            .ok_or_else(|| {
                FetchError::Refused(format!(
                    "{base} keeps no log, but the authority's key {} is pinned",
                    key.verifier_key()
                ))
            })?;
        if let Some(last) = self
            .accepted
            .last()
            .and_then(|n| Checkpoint::open(n, &key).ok())
        {
            super::log::check_extends(base, &last, &checkpoint).map_err(FetchError::Refused)?;
        }
        for witness in &self.required {
            if witness.cosigned_at(&note).is_none() {
                return Err(FetchError::Refused(format!(
                    "the source's checkpoint carries no cosignature of the witness {}",
                    witness.verifier_key()
                )));
            }
        }
        if let Some(max_age) = self.max_age {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let age = now.saturating_sub(checkpoint.time.unwrap_or(0));
            if age > max_age {
                return Err(FetchError::Refused(format!(
                    "stale: the source's checkpoint is {age} s old, older than --max-age {max_age}"
                )));
            }
        }
        Ok(Some((checkpoint, note)))
    }

    fn accept(&mut self, source: &str, note: String) {
        if self.accepted.last() == Some(&note) {
            return;
        }
        self.accepted.push(note);
        if self.accepted.len() > KEPT {
            self.accepted.drain(..self.accepted.len() - KEPT);
        }
        self.save(source);
    }
}

fn read_kept(file: Option<&std::path::Path>) -> Result<Option<serde_json::Value>, Failure> {
    let Some(file) = file else { return Ok(None) };
    match std::fs::read_to_string(file) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| damaged(Some(file), &e.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(damaged(Some(file), &e.to_string())),
    }
}

fn damaged(file: Option<&std::path::Path>, why: &str) -> Failure {
    Failure::usage(format!(
        "{}: the checkpoints this replica witnessed cannot be read ({why}); it will not forget them silently: mend the file, or remove it to trust the source afresh",
        file.map_or("?".into(), |f| f.display().to_string())
    ))
}

/// Why a fetch did not give a registry to serve.
enum FetchError {
    /// The source could not be fetched, or what it sent is no registry `update` takes.
    Failed(String),
    /// Its log does not extend the one accepted before, is not the authority's, is
    /// stale, or does not commit to the registry sent.
    Refused(String),
    /// What the replica witnessed cannot be read: it stops.
    Fatal(String),
}

/// Fetches the followed registry every interval, conditionally, and swaps in what
/// passes `update`'s checks and, for an authority's registry, the log's; on any failure
/// the last good registry goes on serving.
pub async fn follow(state: Arc<AppState>, witness: Arc<Mutex<Witness>>) {
    let Some(status) = state.follower.as_ref() else {
        return;
    };
    let url = status.source.clone();
    let mut last = ServerState {
        source: Some(url.clone()),
        ..ServerState::default()
    };
    // Every registry fetched passes `update`'s checks against the one served. The first
    // may be older than the registry the replica started with (that one is no earlier
    // version of the source); from then on, none may go back in time.
    let mut taken_one = false;
    // A fetch every interval, whatever one takes (a slow one delays the next).
    let mut ticks = tokio::time::interval(status.interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let current = state.snapshot();
        let fetch_url = url.clone();
        let since = last.clone();
        let strict = taken_one;
        let seen = Arc::clone(&witness);
        let fetched = tokio::task::spawn_blocking(move || {
            let mut seen = seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            fetch(&fetch_url, &since, current.registry(), strict, &mut seen)
        })
        .await
        .unwrap_or_else(|error| {
            Err(FetchError::Failed(format!(
                "the fetch's worker failed: {error}"
            )))
        });
        match fetched {
            Ok(None) => status.succeeded(false),
            Ok(Some((snapshot, server_state))) => {
                tracing::info!(source = %url, records = snapshot.registry().len(), "a new registry swapped in");
                state.swap(snapshot);
                last = server_state;
                taken_one = true;
                status.succeeded(true);
            }
            Err(FetchError::Refused(reason)) => {
                tracing::error!(source = %url, %reason, "the followed log was refused; the last good registry goes on serving");
                // Asked again from the start, not "not modified": the source may mend.
                last = ServerState {
                    source: Some(url.clone()),
                    ..ServerState::default()
                };
                status.refused(reason);
            }
            Err(FetchError::Failed(error)) => {
                tracing::warn!(source = %url, %error, "fetch failed; the last good registry goes on serving");
                status.failed(error);
            }
            Err(FetchError::Fatal(error)) => {
                tracing::error!(source = %url, %error, "the replica stops");
                eprintln!("portreg: {error}");
                std::process::exit(2);
            }
        }
    }
}

/// A registry fetched and its server's validators.
type Taken = (Snapshot, ServerState);

/// One fetch: the source's checkpoint (when it keeps a log), then, when the registry it
/// commits to is not the one served, the registry, conditionally. `None` when nothing
/// changed, else the new snapshot and the server's validators.
fn fetch(
    url: &str,
    last: &ServerState,
    current: &CompiledRegistry,
    strict: bool,
    witness: &mut Witness,
) -> Result<Option<Taken>, FetchError> {
    let base = super::log::server_base(url);
    let signed = if url.ends_with("/v1/registry.bin") {
        witness.check(&base)?
    } else {
        None
    };
    if let Some((checkpoint, note)) = &signed {
        let Some(committed) = checkpoint.registry else {
            return Err(FetchError::Refused(
                "the source's checkpoint commits to no registry".into(),
            ));
        };
        if hex::encode(committed) == current.provenance().sha256 {
            witness.accept(url, note.clone());
            return Ok(None);
        }
    }
    // A registry the checkpoint does not commit to is asked for whole, not "not modified".
    let since = if signed.is_some() {
        ServerState {
            source: last.source.clone(),
            ..ServerState::default()
        }
    } else {
        last.clone()
    };
    let fetched: Fetched = match download(url, &since, FETCH_TIMEOUT, false) {
        Ok(Some(fetched)) => fetched,
        Ok(None) => return Ok(None),
        Err(error) => return Err(FetchError::Failed(format!("{error:#}"))),
    };
    let digest: [u8; 32] = Sha256::digest(&fetched.bytes).into();
    let sha256 = hex::encode(digest);
    match &signed {
        Some((checkpoint, _)) if checkpoint.registry != Some(digest) => {
            // The registry may have changed between the two answers: asked once more.
            let again = witness.check(&base)?;
            if again.as_ref().and_then(|(c, _)| c.registry) != Some(digest) {
                return Err(FetchError::Refused(format!(
                    "the registry served (sha256 {sha256}) is not the one the authority's checkpoint signs (sha256 {}): it was changed on the way or at the source",
                    checkpoint.registry.map(hex::encode).unwrap_or_default()
                )));
            }
        }
        None if witness.key.is_some() && !url.ends_with("/v1/registry.bin") => {
            return Err(FetchError::Refused(
                "the source keeps no log, but the authority's key is pinned".into(),
            ));
        }
        _ => {}
    }
    if sha256 == current.provenance().sha256 {
        return Ok(None);
    }
    let registry = read_fetched(&fetched).map_err(FetchError::Failed)?;
    portreg::check_replacement(&registry, current, !strict).map_err(|refusal| {
        FetchError::Failed(format!(
            "{url}: refused as `portreg update` refuses it: {refusal}"
        ))
    })?;
    let provenance = Provenance {
        source: url.to_owned(),
        version: registry
            .meta
            .updated
            .as_ref()
            .map_or("undated".to_owned(), |d| format!("fetched {d}")),
        sha256,
    };
    let compiled = CompiledRegistry::compile(&registry, &provenance);
    let snapshot = Snapshot::new(Box::new(Box::new(compiled)), format!("follows {url}"));
    if let Some((_, note)) = signed {
        witness.accept(url, note);
    }
    Ok(Some((snapshot, fetched.state)))
}

/// A replica as a witness of its source's log: it cosigns a checkpoint that extends the
/// latest one it verified (its own fetches' or a cosigned one), and records it as that.
pub struct ReplicaWitness {
    /// What the replica witnessed.
    pub witness: Arc<Mutex<Witness>>,
    /// The key it cosigns with.
    pub cosigner: Cosigner,
    /// The followed source, where the record is kept.
    pub source: String,
}

impl CheckpointWitness for ReplicaWitness {
    fn add_checkpoint(&self, body: &str) -> Result<String, Refusal> {
        let request = AddCheckpoint::parse(body)?;
        let mut witness = self.witness.lock().unwrap_or_else(PoisonError::into_inner);
        let key = witness.key.clone().ok_or_else(|| {
            Refusal::UnknownLog("this witness has not pinned its source's key yet".into())
        })?;
        let latest = witness
            .accepted
            .last()
            .and_then(|note| Checkpoint::open(note, &key).ok());
        request.check(&key, latest.as_ref())?;
        witness.accept(&self.source, request.note.clone());
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Ok(self.cosigner.cosign(&note_body(&request.note), now))
    }

    fn verifier_key(&self) -> String {
        self.cosigner.public().verifier_key()
    }
}
