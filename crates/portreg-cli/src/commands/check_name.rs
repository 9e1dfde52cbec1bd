//! `portreg check-name NAME`: RFC 6335 syntax, and whether the name is taken.

use anyhow::Result;
use portreg::rules;
use serde_json::{json, Value};

use crate::active::Active;
use crate::cli::{CheckNameArgs, Common, OutputFormat};
use crate::output::{Output, DIM, NAME, WARN};
use crate::Exit;

pub fn run(args: &CheckNameArgs, common: &Common) -> Result<Exit> {
    let problems = rules::check_service_name(&args.name);
    let active = Active::load(common.registry.as_deref())?;
    let taken: Vec<_> = active.registry().lookup_name(&args.name, None);
    let usable = problems.is_empty() && taken.is_empty();
    let mut out = Output::new(common);
    if let Some(exit) = out.records_only_refused("check-name") {
        return Ok(exit);
    }
    match out.format {
        OutputFormat::Table => {
            let verdict = match (problems.is_empty(), taken.is_empty()) {
                (true, true) => "valid and free",
                (true, false) => "valid, but taken",
                (false, true) => "not valid",
                (false, false) => "not valid, and taken",
            };
            out.styled_line(
                &format!("{}: {verdict}", args.name),
                if usable { NAME } else { WARN },
            )?;
            for problem in &problems {
                out.text(&format!("  - {problem}\n"))?;
            }
            for hit in &taken {
                let record = hit.record;
                let place = match (record.ports(), record.transport()) {
                    (Some(ports), Some(t)) => format!("{ports}/{t}"),
                    (Some(ports), None) => ports.to_string(),
                    (None, Some(t)) => format!("name only, {t}"),
                    (None, None) => "name only".to_owned(),
                };
                let line = format!(
                    "  taken by {} ({place}, {}): {}\n",
                    record.name().unwrap_or("-"),
                    hit.role.as_str(),
                    record.description().unwrap_or("")
                );
                out.styled_line(line.trim_end(), DIM)?;
            }
        }
        _ => {
            let value = json!({
                "name": args.name,
                "valid": problems.is_empty(),
                "free": taken.is_empty(),
                "problems": problems.iter().map(|p| json!({"code": p.code(), "message": p.to_string()})).collect::<Vec<_>>(),
                "taken_by": taken.iter().map(|h| {
                    let mut value = portreg::format::record_to_json(&h.record.to_record());
                    if let Value::Object(map) = &mut value {
                        map.insert("role".into(), Value::from(h.role.as_str()));
                    }
                    value
                }).collect::<Vec<_>>(),
            });
            out.json(&value)?;
        }
    }
    Ok(if usable {
        Exit::Success
    } else {
        Exit::NotFound
    })
}
