//! A client of an authority's signed log: its head and its consistency proofs, over
//! HTTP. `authority verify --against URL` and a follower (`serve --follow`) check with it
//! that a log extends the one they know.

use std::time::Duration;

use portreg_authority::log::{verify_consistency, SignedHead};
use portreg_authority::Authority;
use serde_json::Value;

/// How long one call to a server's log may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The base of a portreg server from a URL of it: `http://host:port`,
/// `http://host:port/`, `.../v1/registry.bin` or `.../v1/log/head` all name the same
/// server.
pub fn server_base(url: &str) -> String {
    let url = url.trim_end_matches('/');
    for suffix in ["/v1/registry.bin", "/v1/log/head"] {
        if let Some(base) = url.strip_suffix(suffix) {
            return base.to_owned();
        }
    }
    url.to_owned()
}

/// `GET base + path` as JSON.
pub fn get_json(base: &str, path: &str) -> Result<Value, String> {
    let url = format!("{}{path}", server_base(base));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .user_agent(concat!("portreg/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent
        .get(&url)
        .call()
        .map_err(|e| format!("cannot reach {url}: {e}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("{url} answered HTTP {status}"));
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(16 * 1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("{url}: the answer broke off: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{url} answered no JSON: {e}"))
}

/// The server's signed head, its signature checked against `pinned` (hex) if given.
pub fn fetch_head(base: &str, pinned: Option<&str>) -> Result<SignedHead, String> {
    let head = SignedHead::from_json(&get_json(base, "/v1/log/head")?)?;
    head.verify(pinned)?;
    Ok(head)
}

/// The server's consistency proof from `from` entries to `to`.
pub fn fetch_consistency(base: &str, from: u64, to: u64) -> Result<Vec<String>, String> {
    let answer = get_json(
        base,
        &format!("/v1/log/proof/consistency?from={from}&to={to}"),
    )?;
    answer
        .get("proof")
        .and_then(Value::as_array)
        .map(|proof| {
            proof
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .ok_or_else(|| format!("{base}: a consistency proof without \"proof\""))
}

/// Checks `old` -> `new` with the proof the server at `base` gives.
pub fn check_extends(base: &str, old: &SignedHead, new: &SignedHead) -> Result<(), String> {
    let proof = if old.size == 0 || old.size >= new.size {
        Vec::new()
    } else {
        fetch_consistency(base, old.size, new.size)?
    };
    verify_consistency(old, new, &proof)
}

/// Checks a local store's log against a server's: signed by the store's key, and one
/// log the prefix of the other.
pub fn check_against(authority: &Authority, url: &str) -> Result<(), String> {
    let key = authority
        .public_key()
        .map_err(|e| e.to_string())?
        .ok_or("the store signs with no key, so no server's head can be checked against it")?;
    let theirs = fetch_head(url, Some(&key))?;
    let ours = authority
        .head_at(
            theirs
                .size
                .min(authority.log_size().map_err(|e| e.to_string())?),
        )
        .map_err(|e| e.to_string())?;
    if theirs.size <= ours.size {
        // The server's log must be a prefix of ours: its root is ours at its size.
        if ours.root != theirs.root {
            return Err(format!(
                "the server's log of {} entries has root {}, this store's log at that size has {}: one of them was rewritten",
                theirs.size, theirs.root, ours.root
            ));
        }
        return Ok(());
    }
    check_extends(url, &ours, &theirs)
}
