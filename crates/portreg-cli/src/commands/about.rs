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
    // The built-in registry, and any `update` installs, carry netbase's aliases over
    // IANA's records; a `--registry` file has its own.
    let aliases = if common.registry.is_none() {
        format!(
            "from {} (Debian's /etc/services), added to IANA's records by name, port and transport",
            portreg_data::alias_source()
        )
    } else {
        "those of the file".to_owned()
    };
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
                ("aliases", aliases.clone()),
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
            "aliases": aliases,
            "format_version": portreg::COMPILED_FORMAT_VERSION,
        }))?,
    }
    Ok(Exit::Success)
}
