//! `cargo xtask gen-history [--shared DIR] [--check]`: the history built into portreg
//! (crate `portreg-history`), from every snapshot of the registry in `../shared`: the 2001
//! list, the 2008 legacy list, IANA's text of 2013, the IANA releases of 2017-2024 (a git
//! bundle, one commit per release), IANA's XML of 2026-02 and 2026-08. Each is read with
//! portreg's own readers and dated by its content.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use portreg::history::History;

/// The generated files: the history, and the list of its snapshots.
pub struct GeneratedHistory {
    /// `data/history.bin`.
    pub history: Vec<u8>,
    /// `data/SNAPSHOTS.tsv`: date, source, sha256, records.
    pub snapshots: String,
    /// Files left out, and why.
    pub warnings: Vec<String>,
}

/// The crate the history is written into.
pub fn history_crate() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/portreg-history")
}

/// Every snapshot file under `shared` (the releases taken out of the bundle into `work`).
pub fn snapshot_files(shared: &Path, work: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let seeds = shared.join("seeds");
    let mut seed_files: Vec<PathBuf> = std::fs::read_dir(&seeds)
        .with_context(|| seeds.display().to_string())?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    seed_files.sort();
    files.extend(seed_files);
    let data = shared.join("data");
    files.push(data.join("legacy/port-numbers"));
    files.push(data.join("iana/service-names-port-numbers.txt"));
    files.extend(releases(
        &data.join("history/iana-releases-2017-2024.bundle"),
        work,
    )?);
    files.push(data.join("iana/service-names-port-numbers.xml"));
    files.push(data.join("iana/newest/service-names-port-numbers.xml"));
    Ok(files)
}

/// Each release's `service-names-port-numbers.xml` out of the bundle's `iana-numbers`
/// branch, named by its tag.
fn releases(bundle: &Path, work: &Path) -> Result<Vec<PathBuf>> {
    let clone = work.join("releases.git");
    let git = |args: &[&str]| -> Result<Vec<u8>> {
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(&clone)
            .args(args)
            .output()
            .context("git")?;
        if !output.status.success() {
            bail!("git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(output.stdout)
    };
    let status = Command::new("git")
        .args(["clone", "--quiet", "--bare"])
        .arg(bundle)
        .arg(&clone)
        .status()
        .context("git clone")?;
    if !status.success() {
        bail!("cannot read the bundle {}", bundle.display());
    }
    let commits = String::from_utf8(git(&["rev-list", "--reverse", "iana-numbers"])?)?;
    let out = work.join("releases");
    std::fs::create_dir_all(&out)?;
    let mut files = Vec::new();
    for commit in commits.lines().map(str::trim).filter(|c| !c.is_empty()) {
        // The branch's first commits hold the update script alone.
        let Ok(xml) = git(&["show", &format!("{commit}:service-names-port-numbers.xml")]) else {
            continue;
        };
        let tags = String::from_utf8(git(&["tag", "--points-at", commit])?)?;
        let name = tags.lines().next().unwrap_or(&commit[..12]).to_owned();
        let file = out.join(format!("release-{name}.xml"));
        std::fs::write(&file, xml)?;
        files.push(file);
    }
    Ok(files)
}

/// The history of `files`; fails where the history does not give back a snapshot's
/// records exactly (the property `--as-of` rests on: as of a snapshot's date, its records).
pub fn generate(files: &[PathBuf]) -> Result<GeneratedHistory> {
    let (snapshots, mut warnings) = portreg_cli::history::read_snapshots(files);
    let expected: Vec<(String, Vec<String>)> = snapshots
        .iter()
        .map(|(snapshot, registry)| (snapshot.sha256.clone(), sorted_records(&registry.records)))
        .collect();
    let (history, more) = History::build(snapshots);
    warnings.extend(more);
    let history = History::from_bytes(&history.to_bytes())?;
    for (at, snapshot) in history.snapshots.iter().enumerate() {
        let Some((_, records)) = expected.iter().find(|(sha, _)| *sha == snapshot.sha256) else {
            bail!("{}: not among the snapshots read", snapshot.source);
        };
        if sorted_records(&history.registry_at(at).records) != *records {
            bail!(
                "{} ({}): the history does not give its records back",
                snapshot.source,
                snapshot.date
            );
        }
    }
    let mut list = String::from("date\tsource\tsha256\trecords\n");
    for snapshot in &history.snapshots {
        list.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            snapshot.date, snapshot.source, snapshot.sha256, snapshot.records
        ));
    }
    Ok(GeneratedHistory {
        history: history.to_bytes(),
        snapshots: list,
        warnings,
    })
}

/// Records as their JSON texts, sorted: a snapshot's content whatever its order.
fn sorted_records(records: &[portreg::Record]) -> Vec<String> {
    let mut texts: Vec<String> = records
        .iter()
        .map(|record| portreg::format::record_to_json(record).to_string())
        .collect();
    texts.sort();
    texts
}
