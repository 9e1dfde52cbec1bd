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
    let mut out = Output::new(common);
    match out.format {
        OutputFormat::Table => {
            out.text(&format!("portreg {}\n", env!("CARGO_PKG_VERSION")))?;
            out.fields(&[
                ("registry", active.origin.clone()),
                ("source", provenance.source.clone()),
                ("version", provenance.version.clone()),
                ("sha256", provenance.sha256.clone()),
                (
                    "updated",
                    updated.clone().unwrap_or_else(|| "unknown".into()),
                ),
                ("records", registry.len().to_string()),
                ("names", registry.name_count().to_string()),
                ("people", registry.people_count().to_string()),
                (
                    "format",
                    format!(
                        "compiled registry version {}",
                        portreg::COMPILED_FORMAT_VERSION
                    ),
                ),
            ])?;
        }
        _ => out.json(&json!({
            "portreg": env!("CARGO_PKG_VERSION"),
            "registry": active.origin,
            "source": provenance.source,
            "version": provenance.version,
            "sha256": provenance.sha256,
            "updated": updated,
            "records": registry.len(),
            "names": registry.name_count(),
            "people": registry.people_count(),
            "format_version": portreg::COMPILED_FORMAT_VERSION,
        }))?,
    }
    Ok(Exit::Success)
}
