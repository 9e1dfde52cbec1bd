//! An authority's witnesses (`serve --authority DB --witness VKEY=URL`): each checkpoint
//! the server signs is sent to every witness (`c2sp.org/tlog-witness` `add-checkpoint`,
//! with a consistency proof from the size the witness cosigned last), and the
//! cosignatures that verify with the witnesses' keys are published with it.

use std::sync::Arc;
use std::time::Duration;

use portreg_authority::log::witness::AddCheckpoint;
use portreg_authority::log::{note_body, Checkpoint, CosignerKey};
use portreg_server::AppState;

/// How often the server looks for a checkpoint its witnesses have not cosigned.
const ROUND: Duration = Duration::from_secs(1);

/// How long a witness may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A witness the authority asks.
pub struct Asked {
    /// Its key.
    pub key: CosignerKey,
    /// Its submission prefix: `URL/add-checkpoint` is asked.
    pub url: String,
    /// The size it cosigned last, as far as the authority knows.
    size: u64,
}

impl Asked {
    /// A witness from `VKEY=URL`.
    pub fn parse(text: &str) -> Result<Asked, String> {
        let (key, url) = text
            .split_once('=')
            .ok_or_else(|| format!("--witness {text}: an authority asks witnesses at VKEY=URL"))?;
        Ok(Asked {
            key: CosignerKey::from_verifier_key(key)?,
            url: url.trim_end_matches('/').to_owned(),
            size: 0,
        })
    }

    /// Asks the witness to cosign `note` (of `checkpoint`): its valid cosignature lines.
    /// A witness that says it cosigned another size is asked once more from that size.
    fn ask(
        &mut self,
        agent: &ureq::Agent,
        app: &AppState,
        note: &str,
        checkpoint: &Checkpoint,
    ) -> Result<String, String> {
        for _ in 0..2 {
            let proof = match self.size {
                0 => Vec::new(),
                old if old >= checkpoint.size => Vec::new(),
                old => app
                    .authority
                    .as_ref()
                    .ok_or("no authority")?
                    .tree()
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .consistency(old, checkpoint.size)?,
            };
            let request = AddCheckpoint {
                old: self.size,
                proof,
                note: note.to_owned(),
            };
            let mut answer = agent
                .post(&format!("{}/add-checkpoint", self.url))
                .content_type("text/plain")
                .send(request.body())
                .map_err(|e| format!("{}: {e}", self.url))?;
            let status = answer.status().as_u16();
            let text = answer
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .map_err(|e| format!("{}: {e}", self.url))?;
            match status {
                200 => {
                    let lines: String = text
                        .lines()
                        .filter(|line| self.key.cosigned_at(&format!("{note}{line}\n")).is_some())
                        .map(|line| format!("{line}\n"))
                        .collect();
                    self.size = checkpoint.size;
                    return if lines.is_empty() {
                        Err(format!(
                            "{}: no cosignature of {} in its answer",
                            self.url, self.key.name
                        ))
                    } else {
                        Ok(lines)
                    };
                }
                409 if answer
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    == Some("text/x.tlog.size") =>
                {
                    self.size = text
                        .trim()
                        .parse()
                        .map_err(|_| format!("{}: 409 with no size", self.url))?;
                }
                _ => {
                    return Err(format!(
                        "{} answered HTTP {status}: {}",
                        self.url,
                        text.trim()
                    ))
                }
            }
        }
        Err(format!("{}: the witness's size kept changing", self.url))
    }
}

/// Sends each new checkpoint to the witnesses, and publishes it with their cosignatures.
pub async fn collect(state: Arc<AppState>, witnesses: Vec<Asked>) {
    let agent = super::log::agent(TIMEOUT);
    let witnesses = Arc::new(std::sync::Mutex::new(witnesses));
    let mut last = String::new();
    let mut ticks = tokio::time::interval(ROUND);
    loop {
        ticks.tick().await;
        let Some(note) = state.authority.as_ref().and_then(|a| a.checkpoint()) else {
            continue;
        };
        if note == last {
            continue;
        }
        let Ok(checkpoint) = Checkpoint::parse(&note_body(&note)) else {
            continue;
        };
        let (app, agent, witnesses, asked) = (
            state.clone(),
            agent.clone(),
            witnesses.clone(),
            note.clone(),
        );
        let lines = tokio::task::spawn_blocking(move || {
            let mut witnesses = witnesses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut lines = String::new();
            for witness in witnesses.iter_mut() {
                match witness.ask(&agent, &app, &asked, &checkpoint) {
                    Ok(found) => lines.push_str(&found),
                    Err(error) => {
                        tracing::warn!(witness = %witness.key.name, %error, "no cosignature")
                    }
                }
            }
            lines
        })
        .await
        .unwrap_or_default();
        if let Some(authority) = &state.authority {
            authority.set_cosigned(&note, &lines);
        }
        last = note;
    }
}
