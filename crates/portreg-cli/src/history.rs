//! The registry's history as the CLI uses it: snapshots read from files, and the history
//! in use (built into portreg, or `--history FILE`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use portreg::history::{History, Snapshot};
use portreg::Registry;
use sha2::{Digest, Sha256};

use crate::active::{read_any, read_capped};

/// Snapshots read from `paths` (a folder: the files in it, by name): each with any
/// reader portreg has, dated by its content (IANA's `<updated>`, the list's "last
/// updated"). A file that cannot be read, or states no date, is left out with a warning
/// naming it.
pub fn read_snapshots(paths: &[PathBuf]) -> (Vec<(Snapshot, Registry)>, Vec<String>) {
    let mut files = Vec::new();
    for path in paths {
        match std::fs::read_dir(path) {
            Ok(entries) => {
                let mut inside: Vec<PathBuf> = entries
                    .filter_map(|entry| entry.ok().map(|e| e.path()))
                    .filter(|path| path.is_file())
                    .collect();
                inside.sort();
                files.extend(inside);
            }
            Err(_) => files.push(path.clone()),
        }
    }
    let mut snapshots = Vec::new();
    let mut warnings = Vec::new();
    for file in files {
        match read_snapshot(&file) {
            Ok(snapshot) => snapshots.push(snapshot),
            Err(error) => warnings.push(format!("{}: left out: {error:#}", file.display())),
        }
    }
    (snapshots, warnings)
}

fn read_snapshot(file: &Path) -> Result<(Snapshot, Registry)> {
    let bytes = read_capped(file)?;
    let name = file.display().to_string();
    let registry = read_any(&bytes, &name)?;
    let date = registry
        .meta
        .updated
        .clone()
        .context("it states no date (IANA's <updated>, or the list's \"last updated\")")?;
    let snapshot = Snapshot {
        date,
        source: file
            .file_name()
            .map_or(name.clone(), |n| n.to_string_lossy().into_owned()),
        sha256: format!("{:x}", Sha256::digest(&bytes)),
        records: registry.records.len(),
        // What it lists is known once read: `History::build` sets it.
        covers: 0,
    };
    Ok((snapshot, registry))
}

/// The history in use: `file` (one `portreg history build` wrote), else the one built
/// into portreg.
pub fn load(file: Option<&Path>) -> Result<History> {
    match file {
        Some(path) => {
            let bytes = read_capped(path)?;
            History::from_bytes(&bytes).with_context(|| path.display().to_string())
        }
        None => History::from_bytes(portreg_history::bytes())
            .context("the built-in history cannot be read"),
    }
}

/// The snapshot in force on `date`, or a usage error saying the earliest held.
pub fn snapshot_on(
    history: &History,
    date: &portreg::RegistryDate,
) -> Result<usize, crate::Failure> {
    history.snapshot_on(date).map_err(crate::Failure::usage)
}

/// The snapshots of the built-in history, without reading its records.
pub fn built_in_snapshots() -> Result<Vec<Snapshot>> {
    History::snapshots_from_bytes(portreg_history::bytes())
        .context("the built-in history cannot be read")
}
