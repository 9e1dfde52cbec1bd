//! `portreg about`: portreg's version and the registry in use.

use serde_json::json;

use crate::active::Active;
use crate::cli::{Common, OutputFormat};
use crate::output::Output;
use crate::{CommandResult, Exit};

/// Runs the command.
pub fn run(common: &Common) -> CommandResult {
    let active = Active::load(common.registry.as_deref())?;
    let registry = active.registry();
    let provenance = registry.provenance();
    let updated = registry.updated().map(|d| d.to_string());
    let aliases = aliases(common.registry.is_none());
    let mut out = Output::new(common);
    match out.format {
        OutputFormat::Table => {
            out.text(&format!("portreg {}\n", env!("CARGO_PKG_VERSION")))?;
            out.fields(&[
                ("registry", active.origin.clone()),
                ("source", provenance.source.clone()),
                ("version", provenance.version.clone()),
                ("sha256", provenance.sha256.clone()),
                ("updated", updated.unwrap_or_else(|| "unknown".into())),
                ("records", registry.len().to_string()),
                ("names", registry.name_count().to_string()),
                ("people", registry.people_count().to_string()),
                ("aliases", aliases),
                (
                    "format",
                    format!(
                        "compiled registry version {}",
                        portreg::COMPILED_FORMAT_VERSION
                    ),
                ),
                ("history", history_summary()),
            ])?;
        }
        _ => out.json(&about_json(&active, common.registry.is_none()))?,
    }
    Ok(Exit::Success)
}

/// `about`'s JSON: portreg's version and the registry `active` (the installed or built-in
/// one where `default`, else a file given).
pub fn about_json(active: &Active, default: bool) -> serde_json::Value {
    let registry = active.registry();
    let provenance = registry.provenance();
    json!({
        "portreg": env!("CARGO_PKG_VERSION"),
        "registry": active.origin,
        "source": provenance.source,
        "version": provenance.version,
        "sha256": provenance.sha256,
        "updated": registry.updated().map(|d| d.to_string()),
        "records": registry.len(),
        "names": registry.name_count(),
        "people": registry.people_count(),
        "aliases": aliases(default),
        "format_version": portreg::COMPILED_FORMAT_VERSION,
        "history": crate::history::built_in_snapshots().ok().map(|snapshots| {
            snapshots
                .iter()
                .map(portreg::history::snapshot_json)
                .collect::<Vec<_>>()
        }),
    })
}

/// The snapshots of the built-in history, by year: `2001 (1), 2008 (1), ... 2017 (41)`.
fn history_summary() -> String {
    let Ok(snapshots) = crate::history::built_in_snapshots() else {
        return "cannot be read".to_owned();
    };
    let mut years: Vec<(&str, usize)> = Vec::new();
    for snapshot in &snapshots {
        let year = snapshot.date.as_str().get(..4).unwrap_or("?");
        match years.last_mut() {
            Some((last, count)) if *last == year => *count += 1,
            _ => years.push((year, 1)),
        }
    }
    let years: Vec<String> = years
        .iter()
        .map(|(year, count)| format!("{year} ({count})"))
        .collect();
    format!(
        "{} snapshots held, {} to {}: {} (`portreg about -f json` lists each, with its sha256)",
        snapshots.len(),
        snapshots.first().map_or("-", |s| s.date.as_str()),
        snapshots.last().map_or("-", |s| s.date.as_str()),
        years.join(", ")
    )
}

/// Where the records' aliases come from.
fn aliases(default: bool) -> String {
    // The built-in registry, and any `update` installs, carry netbase's aliases over
    // IANA's records; a `--registry` file has its own.
    if default {
        format!(
            "from {} (Debian's /etc/services), added to IANA's records by name, port and transport",
            portreg_data::alias_source()
        )
    } else {
        "those of the file".to_owned()
    }
}
