//! `portreg diff OLD NEW`: records added, removed and changed between two registry files.

use portreg::diff;
use portreg::format::record_to_json;
use std::path::{Path, PathBuf};

use portreg::{Record, Registry, RegistryDate};
use serde_json::json;

use crate::active::read_file;
use crate::cli::{Common, DiffArgs, OutputFormat};
use crate::output::{Output, DIM, NAME, WARN};
use crate::{CommandResult, Exit, Failure};

/// Runs the command.
pub fn run(args: &DiffArgs, common: &Common) -> CommandResult {
    let mut files = args.files.iter();
    let (old, old_name) = side(args.from.as_ref(), files.next(), args.history.as_deref())?;
    let (new, new_name) = side(args.to.as_ref(), files.next(), args.history.as_deref())?;
    if files.next().is_some() {
        return Err(Failure::usage(
            "give two registries: OLD and NEW files, or --from DATE and --to DATE in their places",
        ));
    }
    let changes = diff(&old.records, &new.records);
    let mut out = Output::new(common);
    match out.format {
        OutputFormat::Table => {
            out.text(&format!(
                "{} added, {} removed, {} changed ({} records in {}, {} in {})\n",
                changes.added.len(),
                changes.removed.len(),
                changes.changed.len(),
                old.records.len(),
                old_name,
                new.records.len(),
                new_name
            ))?;
            for record in &changes.added {
                out.styled_line(&format!("+ {}", summary(record)), NAME)?;
            }
            for record in &changes.removed {
                out.styled_line(&format!("- {}", summary(record)), WARN)?;
            }
            for change in &changes.changed {
                out.styled_line(&format!("~ {}", summary(&change.new)), DIM)?;
                let (old, new) = (record_to_json(&change.old), record_to_json(&change.new));
                let fields: Vec<(&str, String)> = change
                    .fields
                    .iter()
                    .map(|field| (*field, format!("{} -> {}", old[*field], new[*field])))
                    .collect();
                out.fields(&fields)?;
            }
        }
        _ => {
            let value = json!({
                "summary": {"added": changes.added.len(), "removed": changes.removed.len(), "changed": changes.changed.len()},
                "added": changes.added.iter().map(record_to_json).collect::<Vec<_>>(),
                "removed": changes.removed.iter().map(record_to_json).collect::<Vec<_>>(),
                "changed": changes.changed.iter().map(|c| json!({
                    "old": record_to_json(&c.old),
                    "new": record_to_json(&c.new),
                    "fields": c.fields,
                })).collect::<Vec<_>>(),
            });
            out.json(&value)?;
        }
    }
    // As diff(1): 0 the same, 1 different (2, trouble, is a failure).
    Ok(if changes.is_empty() {
        Exit::Success
    } else {
        Exit::NotFound
    })
}

fn summary(record: &Record) -> String {
    let place = record.place();
    format!(
        "{} {place} {}",
        record.name.as_deref().unwrap_or("-"),
        record
            .description
            .as_deref()
            .unwrap_or("")
            .replace('\n', " ")
    )
}

/// One side of the comparison: the registry as published on `date` (the history's
/// snapshot then), else the `file`; and its name for the summary.
fn side(
    date: Option<&RegistryDate>,
    file: Option<&PathBuf>,
    history: Option<&Path>,
) -> Result<(Registry, String), Failure> {
    match (date, file) {
        (Some(date), _) => {
            let history = crate::history::load(history)?;
            let at = crate::history::snapshot_on(&history, date)?;
            let snapshot = &history.snapshots[at];
            Ok((
                history.registry_at(at),
                format!("the snapshot of {} ({})", snapshot.date, snapshot.source),
            ))
        }
        (None, Some(file)) => Ok((read_file(file)?, file.display().to_string())),
        (None, None) => Err(Failure::usage(
            "give two registries: OLD and NEW files, or --from DATE and --to DATE in their places",
        )),
    }
}
