//! `portreg check-local`: where local names collide with the registry's assignments.

use serde_json::json;

use crate::active::{collisions, local_dirs, Active};
use crate::cli::{Common, OutputFormat};
use crate::output::{Output, NAME, PLAIN, PORT};
use crate::{CommandResult, Exit};
use portreg::LocalLayer;

/// Runs the command.
pub fn run(common: &Common) -> CommandResult {
    let mut out = Output::new(common);
    let base = Active::load(common.registry.as_deref())?;
    let local = LocalLayer::read(&local_dirs());
    for warning in &local.warnings {
        eprintln!("portreg: warning: {}", crate::output::visible(warning));
    }
    let found = collisions(base.registry(), &local.records);
    match out.format {
        OutputFormat::Table => {
            let rows: Vec<_> = found
                .iter()
                .map(|c| {
                    vec![
                        (
                            c.local.record.name.clone().unwrap_or_else(|| "-".into()),
                            NAME,
                        ),
                        (c.local.record.place(), PORT),
                        (c.local.file.display().to_string(), PLAIN),
                        (c.kind.to_owned(), PLAIN),
                        (
                            format!(
                                "{} {}",
                                c.registry.name.as_deref().unwrap_or("-"),
                                c.registry.place()
                            ),
                            PLAIN,
                        ),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                out.table(&["LOCAL", "PLACE", "FILE", "CLASH", "REGISTRY"], &rows)?;
            }
            let dirs: Vec<String> = local_dirs()
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            eprintln!(
                "portreg: {} local record(s) read from {}; {} collision(s)",
                local.records.len(),
                dirs.join(" and "),
                found.len()
            );
        }
        _ => {
            let values: Vec<_> = found
                .iter()
                .map(|c| {
                    json!({
                        "local": portreg::format::record_to_json(&c.local.record),
                        "file": c.local.file.display().to_string(),
                        "kind": c.kind,
                        "registry": portreg::format::record_to_json(&c.registry),
                    })
                })
                .collect();
            out.json(&serde_json::Value::Array(values))?;
        }
    }
    Ok(if found.is_empty() {
        Exit::Success
    } else {
        Exit::NotFound
    })
}
