//! IANA's 12-column CSV, derived from the XML.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::port_range::PortSpan;
use crate::record::{Record, RecordExtra, Reference};
use crate::registry::Registry;

const HEADER: [&str; 12] = [
    "Service Name",
    "Port Number",
    "Transport Protocol",
    "Description",
    "Assignee",
    "Contact",
    "Registration Date",
    "Modification Date",
    "Reference",
    "Service Code",
    "Unauthorized Use Reported",
    "Assignment Notes",
];

pub(super) fn read(text: &str, diagnostics: &mut Diagnostics) -> Result<Registry, Diagnostic> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut registry = Registry::default();
    let mut row = csv::StringRecord::new();
    let mut first = true;
    // csv counts CRLF-ended lines late, so lines are found from byte offsets, and only
    // when there is something to report.
    let line_at = |offset: u64| {
        let offset = (offset as usize).min(text.len());
        let start = offset
            + text[offset..]
                .bytes()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
        text.as_bytes()[..start]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    };
    loop {
        let before = reader.position().byte();
        let offset = match reader.read_record(&mut row) {
            Ok(false) => break,
            Ok(true) => row.position().map_or(before, |p| p.byte()),
            Err(error) => {
                let line = line_at(error.position().map_or(before, |p| p.byte()));
                diagnostics.skip(Diagnostic::new(
                    line,
                    1,
                    format!("a CSV record ({error})"),
                    "",
                ))?;
                continue;
            }
        };
        if first {
            first = false;
            if row.iter().eq(HEADER) {
                continue;
            }
            return Err(Diagnostic::new(
                line_at(offset),
                1,
                "the IANA CSV header",
                row.as_slice(),
            ));
        }
        if row.len() != HEADER.len() {
            let found = format!("{} fields", row.len());
            diagnostics.skip(Diagnostic::new(line_at(offset), 1, "12 fields", &found))?;
            continue;
        }
        match record(&row) {
            Ok(record) => registry.records.push(record),
            Err((column, expected)) => {
                let found = row.get(column).unwrap_or("");
                diagnostics.skip(Diagnostic::new(
                    line_at(offset),
                    field_column(&row, column),
                    expected,
                    found,
                ))?;
            }
        }
    }
    Ok(registry)
}

fn field_column(row: &csv::StringRecord, column: usize) -> usize {
    row.iter()
        .take(column)
        .map(|field| field.chars().count() + 1)
        .sum::<usize>()
        + 1
}

fn record(row: &csv::StringRecord) -> Result<Record, (usize, &'static str)> {
    let cells: Vec<&str> = row.iter().collect();
    record_from_columns(&cells)
}

/// A record from IANA's 12 columns (the CSV's, and the plain-text table's); an error
/// names the column and what it should hold.
pub(super) fn record_from_columns(row: &[&str]) -> Result<Record, (usize, &'static str)> {
    let field = |index: usize| Some(row[index].to_owned()).filter(|value| !value.is_empty());
    let contacts = brackets(row[5]).ok_or((5, "person ids in brackets"))?;
    let assignees = brackets(row[4]).ok_or((4, "person ids in brackets"))?;
    let mut record = Record {
        name: field(0),
        ports: field(1)
            .map(|p| p.parse())
            .transpose()
            .map_err(|_| (1, "a port or range"))?,
        extra: RecordExtra {
            ports_as_written: field(1)
                .filter(|p| p.parse::<PortSpan>().is_ok_and(|s| s.to_string() != *p)),
            ..RecordExtra::default()
        },
        transport: field(2)
            .map(|t| t.parse())
            .transpose()
            .map_err(|_| (2, "a transport protocol"))?,
        description: field(3),
        assignees: if assignees == contacts {
            Vec::new()
        } else {
            assignees
        },
        contacts,
        registered: field(6)
            .map(|d| d.parse())
            .transpose()
            .map_err(|_| (6, "a date YYYY-MM or YYYY-MM-DD"))?,
        modified: field(7)
            .map(|d| d.parse())
            .transpose()
            .map_err(|_| (7, "a date YYYY-MM or YYYY-MM-DD"))?,
        references: brackets(row[8])
            .ok_or((8, "references in brackets"))?
            .iter()
            .map(|label| Reference::from_label(label))
            .collect(),
        service_code: field(9),
        unauthorized_use: field(10),
        notes: field(11),
        ..Record::default()
    };
    record.status = record.derive_status();
    Ok(record)
}

/// Splits `[A][B]` into `A`, `B`; brackets may nest inside an item, and white space
/// between items (from a wrapped table cell) is ignored.
pub(super) fn brackets(text: &str) -> Option<Vec<String>> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '[' if depth == 0 => depth = 1,
            '[' => {
                depth += 1;
                current.push(c);
            }
            ']' if depth == 1 => {
                depth = 0;
                items.push(std::mem::take(&mut current));
            }
            ']' if depth > 1 => {
                depth -= 1;
                current.push(c);
            }
            _ if depth > 0 => current.push(c),
            _ if c.is_whitespace() => {}
            _ => return None,
        }
    }
    (depth == 0).then_some(items)
}

pub(super) fn write(registry: &Registry) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let bracketed = |items: &[String]| {
        items
            .iter()
            .map(|item| super::bracketed(item))
            .collect::<String>()
    };
    // Writing to a Vec cannot fail.
    let _ = writer.write_record(HEADER);
    for record in &registry.records {
        let references: Vec<String> = record.references.iter().map(Reference::label).collect();
        let _ = writer.write_record([
            record.name.as_deref().unwrap_or(""),
            &record.ports_text().unwrap_or_default(),
            record.transport.as_ref().map_or("", |t| t.as_str()),
            record.description.as_deref().unwrap_or(""),
            &bracketed(record.effective_assignees()),
            &bracketed(&record.contacts),
            record.registered.as_ref().map_or("", |d| d.as_str()),
            record.modified.as_ref().map_or("", |d| d.as_str()),
            &bracketed(&references),
            record.service_code.as_deref().unwrap_or(""),
            record.unauthorized_use.as_deref().unwrap_or(""),
            record.notes.as_deref().unwrap_or(""),
        ]);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_bracket_lists() {
        assert_eq!(
            brackets("[A][B]"),
            Some(vec!["A".to_owned(), "B".to_owned()])
        );
        assert_eq!(brackets(""), Some(vec![]));
        assert_eq!(brackets("[a [b]]"), Some(vec!["a [b]".to_owned()]));
        assert_eq!(brackets("x[A]"), None);
        assert_eq!(brackets("[A"), None);
    }
}
