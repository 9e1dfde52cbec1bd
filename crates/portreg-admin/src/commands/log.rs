//! A client of an authority's signed log: its key, its checkpoint and its consistency
//! proofs, over HTTP. `authority verify --against URL` and a follower (`serve --follow`)
//! check with it that a log extends the one they know.

use std::time::Duration;

use portreg_authority::log::{check_consistency, Checkpoint, LogKey};
use portreg_authority::Authority;
use serde_json::Value;

/// How long one call to a server's log may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The base of a portreg server from a URL of it: `http://host:port`,
/// `http://host:port/`, `.../v1/registry.bin` or `.../v1/log/head` all name the same
/// server.
pub fn server_base(url: &str) -> String {
    let url = url.trim_end_matches('/');
    for suffix in ["/v1/registry.bin", "/v1/log/head", "/v1/log/checkpoint"] {
        if let Some(base) = url.strip_suffix(suffix) {
            return base.to_owned();
        }
    }
    url.to_owned()
}

/// An HTTP client of another portreg server: every status is an answer, none an error.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .user_agent(concat!("portreg/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// `GET base + path`: its status and text.
fn get(base: &str, path: &str) -> Result<(u16, String), String> {
    let url = format!("{}{path}", server_base(base));
    let mut response = agent(TIMEOUT)
        .get(&url)
        .call()
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("{url}: the answer broke off: {e}"))?;
    Ok((status, text))
}

/// `GET base + path` as JSON.
pub fn get_json(base: &str, path: &str) -> Result<Value, String> {
    match get(base, path)? {
        (200, text) => serde_json::from_str(&text)
            .map_err(|e| format!("{}{path} answered no JSON: {e}", server_base(base))),
        (status, text) => Err(answered(base, path, status, &text)),
    }
}

fn answered(base: &str, path: &str, status: u16, text: &str) -> String {
    let detail = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_owned))
        .map_or(String::new(), |d| format!(": {d}"));
    format!("{}{path} answered HTTP {status}{detail}", server_base(base))
}

/// The server's log key, as `/v1/authority/key` names it.
pub fn fetch_key(base: &str) -> Result<LogKey, String> {
    let answer = get_json(base, "/v1/authority/key")?;
    let text = answer["verifier_key"]
        .as_str()
        .ok_or_else(|| format!("{base}: the authority names no verifier key"))?;
    LogKey::from_verifier_key(text)
}

/// The server's checkpoint, signed by `key`: what it says and the signed note.
/// `Ok(None)` when the server keeps no log (404).
pub fn fetch_checkpoint(base: &str, key: &LogKey) -> Result<Option<(Checkpoint, String)>, String> {
    match get(base, "/v1/log/checkpoint")? {
        (200, note) => Ok(Some((Checkpoint::open(&note, key)?, note))),
        (404, _) => Ok(None),
        (status, text) => Err(answered(base, "/v1/log/checkpoint", status, &text)),
    }
}

/// The server's consistency proof from `from` entries to `to`.
pub fn fetch_consistency(base: &str, from: u64, to: u64) -> Result<Vec<[u8; 32]>, String> {
    let answer = get_json(
        base,
        &format!("/v1/log/proof/consistency?from={from}&to={to}"),
    )?;
    answer
        .get("proof")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{base}: a consistency proof without \"proof\""))?
        .iter()
        .map(|hash| {
            hash.as_str()
                .and_then(|h| hex::decode(h).ok())
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("{base}: {hash} is no hash in a proof"))
        })
        .collect()
}

/// Checks that the log of `new` extends the log of `old` (a prefix of it, not a
/// rewrite), with the proof the server at `base` gives.
pub fn check_extends(base: &str, old: &Checkpoint, new: &Checkpoint) -> Result<(), String> {
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
                "two checkpoints of {} entries with different roots: the log was rewritten",
                old.size
            ))
        };
    }
    let proof = fetch_consistency(base, old.size, new.size)?;
    check_consistency(&proof, old.size, old.root, new.size, new.root)
}

/// Checks a local store's log against a server's: signed by the store's key, and one
/// log the prefix of the other.
pub fn check_against(authority: &Authority, url: &str) -> Result<(), String> {
    let key = authority.log_key().map_err(|e| e.to_string())?.ok_or(
        "the store signs with no key, so no server's checkpoint can be checked against it",
    )?;
    let (theirs, note) =
        fetch_checkpoint(url, &key)?.ok_or_else(|| format!("{url} keeps no log"))?;
    let size = authority.log_size().map_err(|e| e.to_string())?;
    if theirs.size <= size {
        // The server's log must be a prefix of ours: its root is ours at its size.
        return authority
            .check_checkpoint(&note)
            .map_err(|e| e.to_string())?
            .map(drop)
            .map_err(|why| format!("the server's log and this store's: {why}"));
    }
    let ours = Checkpoint {
        origin: key.name.clone(),
        size,
        root: authority.root_at(size).map_err(|e| e.to_string())?,
        time: None,
        registry: None,
    };
    check_extends(url, &ours, &theirs)
}
