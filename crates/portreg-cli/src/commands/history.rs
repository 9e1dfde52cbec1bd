//! `portreg history QUERY...`: every record a port, a range or a name has had across the
//! snapshots of the history, oldest first; `portreg history build FILES... -o FILE`.

use portreg::history::{Change, Event, History};
use portreg::Query;
use serde_json::{json, Value};

use crate::cli::{Common, HistoryArgs, OutputFormat};
use crate::output::{Output, DIM, NAME, PLAIN, PORT};
use crate::{CommandResult, Exit, Failure};

/// Runs the command.
pub fn run(args: &HistoryArgs) -> CommandResult {
    if args.queries.first().map(String::as_str) == Some("build") {
        return build(args);
    }
    let history = crate::history::load(args.history.as_deref())?;
    let common = Common {
        format: args.report.format.into(),
        color: args.report.color,
        ..Common::default()
    };
    let mut out = Output::new(&common);
    let table = out.format == OutputFormat::Table;
    let (mut found, mut rows, mut named) = (Vec::new(), Vec::new(), 0);
    for text in &args.queries {
        let query = text.parse::<Query>().map_err(Failure::usage)?;
        let entries = history.entries_for(&query, &args.transport);
        if entries.is_empty() {
            eprintln!(
                "portreg: {} has no record in the history ({} snapshots, {} to {})",
                crate::output::visible(text),
                history.snapshots.len(),
                history.snapshots.first().map_or("-", |s| s.date.as_str()),
                history.snapshots.last().map_or("-", |s| s.date.as_str()),
            );
        }
        named += entries.len();
        if !table {
            found.extend(entries.iter().map(|entry| {
                let mut value = history.entry_json(entry);
                if let Some(map) = value.as_object_mut() {
                    map.insert("query".to_owned(), json!(text));
                }
                value
            }));
            continue;
        }
        let mut events: Vec<(usize, Event<'_>)> = entries
            .iter()
            .enumerate()
            .flat_map(|(order, entry)| history.events(entry).into_iter().map(move |e| (order, e)))
            .collect();
        // Oldest first (a removal after the last snapshot at the end); one snapshot's
        // events in the order of their records.
        events
            .sort_by_key(|(order, event)| (event.by.is_none(), event.by.map(|s| &s.date), *order));
        rows.extend(events.iter().map(|(_, event)| row(event)));
    }
    if table {
        if !rows.is_empty() {
            out.table(
                &["PUBLISHED", "CHANGE", "PORT", "TRANSPORT", "NAME", "WHAT"],
                &rows,
            )?;
        }
    } else {
        out.json(&json!({
            "snapshots": history.summary_json(),
            "records": found,
        }))?;
    }
    Ok(if named == 0 {
        Exit::NotFound
    } else {
        Exit::Success
    })
}

/// When a change was published: between the snapshot before and the one that shows it.
fn published(event: &Event<'_>) -> String {
    match (event.after, event.by) {
        (Some(after), Some(by)) => format!("{} .. {}", after.date, by.date),
        (None, Some(by)) => format!("by {}", by.date),
        (Some(after), None) => format!("after {}", after.date),
        (None, None) => "-".to_owned(),
    }
}

fn row(event: &Event<'_>) -> Vec<(String, anstyle::Style)> {
    let record = event.record;
    let (change, what) = match &event.change {
        Change::Added => (
            "added",
            format!(
                "{}{}: {}",
                event
                    .renamed_from
                    .and_then(|old| old.name.as_deref())
                    .map(|old| format!("renamed from {old}, "))
                    .into_iter()
                    .chain(portreg::history::links(record).iter().map(|link| {
                        format!("{} {}, ", link.relation.replace('_', " "), link.name)
                    }))
                    .collect::<String>(),
                record.status.as_str(),
                record
                    .description
                    .as_deref()
                    .unwrap_or("")
                    .replace('\n', " ")
            ),
        ),
        Change::Removed => ("removed", String::new()),
        Change::Changed(fields) => (
            "changed",
            fields
                .iter()
                .map(|(field, old, new)| format!("{field}: {} -> {}", short(old), short(new)))
                .collect::<Vec<_>>()
                .join("; "),
        ),
    };
    vec![
        (published(event), PLAIN),
        (
            change.to_owned(),
            if change == "removed" { DIM } else { PLAIN },
        ),
        (
            record
                .ports
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            PORT,
        ),
        (
            record
                .transport
                .as_ref()
                .map_or("any", |t| t.as_str())
                .to_owned(),
            PLAIN,
        ),
        (record.name.clone().unwrap_or_else(|| "-".to_owned()), NAME),
        (what, PLAIN),
    ]
}

/// A JSON value in a line: text as it is, at most 60 characters.
fn short(value: &Value) -> String {
    let text = match value {
        Value::String(text) => text.replace('\n', " "),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    };
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(57).collect::<String>())
    } else {
        text
    }
}

/// `history build FILES... -o FILE`.
fn build(args: &HistoryArgs) -> CommandResult {
    let Some(output) = &args.output else {
        return Err(Failure::usage(
            "history build needs -o FILE, where the history is written",
        ));
    };
    let paths: Vec<std::path::PathBuf> = args.queries[1..].iter().map(Into::into).collect();
    if paths.is_empty() {
        return Err(Failure::usage(
            "give the snapshot files (or folders of them) to build a history of",
        ));
    }
    let (snapshots, mut warnings) = crate::history::read_snapshots(&paths);
    let (history, more) = History::build(snapshots);
    warnings.extend(more);
    for warning in &warnings {
        eprintln!("portreg: warning: {}", crate::output::visible(warning));
    }
    if history.snapshots.is_empty() {
        return Err(Failure::usage("no snapshot could be read"));
    }
    std::fs::write(output, history.to_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    eprintln!(
        "portreg: {} snapshots ({} to {}), {} records, written to {}",
        history.snapshots.len(),
        history.snapshots[0].date,
        history.snapshots[history.snapshots.len() - 1].date,
        history.entries.len(),
        output.display()
    );
    Ok(Exit::Success)
}
