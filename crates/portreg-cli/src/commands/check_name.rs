//! `portreg check-name NAME`: RFC 6335 syntax, and whether the name is taken.

use portreg::NameCheck;

use crate::active::Active;
use crate::cli::{CheckNameArgs, Common, OutputFormat};
use crate::output::{Output, DIM, NAME, WARN};
use crate::{CommandResult, Exit};

/// Runs the command.
pub fn run(args: &CheckNameArgs, common: &Common) -> CommandResult {
    let mut out = Output::new(common);
    let active = Active::layered(common)?;
    let check = NameCheck::run(active.registry(), &args.name);
    if out.format == OutputFormat::Table {
        let verdict = match (check.problems.is_empty(), check.taken_by.is_empty()) {
            (true, true) => "valid and free",
            (true, false) => "valid, but taken",
            (false, true) => "not valid",
            (false, false) => "not valid, and taken",
        };
        out.styled_line(
            &format!("{}: {verdict}", args.name),
            if check.usable() { NAME } else { WARN },
        )?;
        for problem in &check.problems {
            out.text(&format!("  - {problem}\n"))?;
        }
        for taker in &check.taken_by {
            let record = &taker.record;
            let place = record.place();
            let line = format!(
                "  taken by {} ({place}, {}): {}",
                record.name.as_deref().unwrap_or("-"),
                taker.role.as_str(),
                record.description.as_deref().unwrap_or("")
            );
            out.styled_line(&line, DIM)?;
        }
    } else {
        out.json(&check.to_json())?;
    }
    Ok(if check.usable() {
        Exit::Success
    } else {
        Exit::NotFound
    })
}
