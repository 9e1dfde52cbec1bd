//! IANA's plain-text rendering: a fixed-width table whose cells wrap onto several
//! lines, each row centred vertically on the line that holds its name, port and protocol.
//!
//! Column bounds come from the header labels and from the blank columns of the data;
//! a line that holds a name, a port or a protocol anchors a row, and the lines between
//! two anchors are shared out column by column (a cell always covers its anchor line).

use std::fmt::Write as _;

use super::iana_csv::record_from_columns;
use super::services::one_line;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::record::{Record, Reference};
use crate::registry::{Footnote, Note, Person, Registry};

const RECORD_LABELS: [&str; 12] = [
    "Service Name",
    "Port Number",
    "Protocol",
    "Description",
    "Assignee",
    "Contact",
    "Date",
    "Date",
    "Reference",
    "Code",
    "Unauthorized",
    "Assignment Notes",
];
/// The header line above the main one, and the one below it.
const RECORD_LABELS_ABOVE: [(usize, &str); 4] = [
    (2, "Transport"),
    (6, "Registration"),
    (7, "Modification"),
    (9, "Service"),
];
const RECORD_LABELS_BELOW: [(usize, &str); 1] = [(10, "Uses")];
const PEOPLE_LABELS: [&str; 5] = ["ID", "Name", "Organization", "Contact URI", "Last"];

type Lines = Vec<Vec<char>>;

pub(super) fn read(text: &str, diagnostics: &mut Diagnostics) -> Result<Registry, Diagnostic> {
    let lines: Lines = super::numbered_lines(text)
        .map(|(_, line)| line.replace('\u{a0}', " ").chars().collect())
        .collect();
    let trimmed = |index: usize| lines[index].iter().collect::<String>().trim().to_owned();
    let mut registry = Registry::default();
    let header = (0..lines.len())
        .find(|&i| {
            let line = trimmed(i);
            line.starts_with("Service Name") && line.contains("Description")
        })
        .ok_or_else(|| {
            Diagnostic::new(
                1,
                1,
                "the table header \"Service Name  Port Number ...\"",
                &trimmed(0),
            )
        })?;
    // The header's first line (`Transport`, `Registration`, ...) stands above it.
    let above = if header > 0 && trimmed(header - 1).starts_with("Transport") {
        header - 1
    } else {
        header
    };
    read_preamble(&lines[..above], &mut registry);
    let people_title = (header..lines.len())
        .find(|&i| trimmed(i) == "People")
        .unwrap_or(lines.len());
    let footnote_title = (header..lines.len())
        .find(|&i| trimmed(i) == "Footnote")
        .unwrap_or(lines.len());
    let table_end = people_title.min(footnote_title);
    let body_start = header
        + 1
        + usize::from(header + 1 < table_end && trimmed(header + 1) == RECORD_LABELS_BELOW[0].1);
    let table = Table::new(&lines, header, body_start..table_end, &RECORD_LABELS)?;
    // A port or a protocol anchors a row; so does a name with more on its line (a
    // name-only record), but not a name alone (the wrapped rest of a long name).
    let record_anchor = |cells: &[String]| {
        !cells[1].is_empty()
            || !cells[2].is_empty()
            || (!cells[0].is_empty() && cells[3..].iter().any(|c| !c.is_empty()))
    };
    for row in table.rows(&lines, record_anchor) {
        match record(&row.cells) {
            Ok(record) => registry.records.push(record),
            Err((column, expected)) => {
                let found = row.cells[column].clone();
                diagnostics.skip(Diagnostic::new(
                    row.anchor + 1,
                    table.starts[column] + 1,
                    expected,
                    &found,
                ))?;
            }
        }
    }
    if people_title < lines.len() {
        let people_header = (people_title..lines.len()).find(|&i| {
            let line = trimmed(i);
            line.starts_with("ID") && line.contains("Contact URI")
        });
        if let Some(people_header) = people_header {
            let end = if footnote_title > people_title {
                footnote_title
            } else {
                lines.len()
            };
            let body_start = people_header
                + 1
                + usize::from(people_header + 1 < end && trimmed(people_header + 1) == "Updated");
            let table = Table::new(&lines, people_header, body_start..end, &PEOPLE_LABELS)?;
            for row in table.rows(&lines, |cells| !cells[0].is_empty()) {
                let cell = |i: usize| Some(row.cells[i].clone()).filter(|c| !c.is_empty());
                let id = row.cells[0]
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned();
                let updated = match cell(4).map(|d| d.parse()) {
                    Some(Ok(date)) => Some(date),
                    Some(Err(_)) => {
                        let found = row.cells[4].clone();
                        diagnostics.skip(Diagnostic::new(
                            row.anchor + 1,
                            table.starts[4] + 1,
                            "a date YYYY-MM or YYYY-MM-DD",
                            &found,
                        ))?;
                        continue;
                    }
                    None => None,
                };
                registry.people.push(Person {
                    id,
                    name: cell(1),
                    org: cell(2),
                    uri: cell(3),
                    updated,
                });
            }
        }
    }
    if footnote_title < lines.len() {
        read_footnotes(&lines[footnote_title + 1..], &mut registry);
    }
    Ok(registry)
}

fn line_text(line: &[char]) -> String {
    line.iter().collect::<String>().trim().to_owned()
}

/// Title, last-updated date, experts and note, from the lines above the table.
fn read_preamble(lines: &[Vec<char>], registry: &mut Registry) {
    let texts: Vec<String> = lines.iter().map(|l| line_text(l)).collect();
    registry.meta.title = texts.iter().find(|t| !t.is_empty()).cloned();
    let section_at = |start: usize| -> Option<String> {
        let end = (start..texts.len())
            .find(|&i| {
                matches!(
                    texts[i].as_str(),
                    "Last Updated" | "Expert(s)" | "Note" | "Alternative Formats" | "Reference"
                )
            })
            .unwrap_or(texts.len());
        let body: Vec<String> = lines[start..end]
            .iter()
            .map(|l| {
                let text: String = l.iter().collect();
                let text = text.trim_end();
                text.strip_prefix(' ').unwrap_or(text).to_owned()
            })
            .collect();
        let joined = body.join("\n");
        Some(joined.trim_matches('\n').to_owned()).filter(|t| !t.trim().is_empty())
    };
    // Every section with this title (the registry has several notes); a section ends at
    // the next title or at the first line of the table's two-line header (`Transport`).
    let sections = |name: &str| -> Vec<String> {
        texts
            .iter()
            .enumerate()
            .filter(|(_, t)| *t == name)
            .filter_map(|(at, _)| section_at(at + 1))
            .collect()
    };
    let first = |name: &str| sections(name).into_iter().next();
    registry.meta.updated = first("Last Updated").and_then(|d| d.trim().parse().ok());
    registry.meta.expert = first("Expert(s)");
    for note in sections("Note") {
        registry.meta.notes.push(Note {
            title: None,
            markup: quick_xml::escape::escape(note.as_str()).into_owned(),
        });
    }
}

fn read_footnotes(lines: &[Vec<char>], registry: &mut Registry) {
    for line in lines {
        let text = line_text(line);
        if let Some(rest) = text.strip_prefix('[') {
            if let Some((anchor, body)) = rest.split_once(']') {
                registry.meta.footnotes.push(Footnote {
                    anchor: anchor.to_owned(),
                    text: body.trim().to_owned(),
                });
                continue;
            }
        }
        if let (false, Some(footnote)) = (text.is_empty(), registry.meta.footnotes.last_mut()) {
            footnote.text.push('\n');
            footnote.text.push_str(&text);
        }
    }
}

fn record(cells: &[String]) -> Result<Record, (usize, &'static str)> {
    let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
    record_from_columns(&cells)
}

/// A fixed-width table: where each column starts.
struct Table {
    starts: Vec<usize>,
    body: std::ops::Range<usize>,
}

/// A row: its anchor line and its cells, wrapped lines joined by spaces.
struct Row {
    anchor: usize,
    cells: Vec<String>,
}

impl Table {
    fn new(
        lines: &Lines,
        header: usize,
        body: std::ops::Range<usize>,
        labels: &[&str],
    ) -> Result<Table, Diagnostic> {
        let header_line: String = lines[header].iter().collect();
        let mut spans = Vec::new();
        let mut from = 0;
        for label in labels {
            let Some(at) = header_line.get(from..).and_then(|rest| rest.find(label)) else {
                return Err(Diagnostic::new(
                    header + 1,
                    1,
                    format!("the column label {label:?}"),
                    header_line.trim(),
                ));
            };
            let start = header_line[..from + at].chars().count();
            spans.push((start, start + label.chars().count()));
            from += at + label.len();
        }
        let width = lines[body.clone()]
            .iter()
            .map(Vec::len)
            .max()
            .unwrap_or(0)
            .max(spans.last().map_or(0, |s| s.1))
            + 1;
        let mut occupied = vec![0usize; width];
        for line in &lines[body.clone()] {
            for (column, c) in line.iter().enumerate() {
                if !c.is_whitespace() {
                    occupied[column] += 1;
                }
            }
        }
        let mut starts = vec![0];
        for pair in spans.windows(2) {
            let (left_end, right_start) = (pair[0].1, pair[1].0.max(pair[0].1));
            // A label with a blank column before it starts its column (portreg writes
            // labels so). Otherwise, as IANA centres labels, the gap between two columns
            // is the least occupied position between their labels: the rightmost one,
            // since a long cell can hold blanks of its own.
            let occupancy = |p: usize| occupied.get(p).copied().unwrap_or(0);
            let gap = if right_start > 0 && occupancy(right_start - 1) == 0 {
                right_start - 1
            } else {
                (left_end..=right_start)
                    .rev()
                    .min_by_key(|&p| occupancy(p))
                    .unwrap_or(right_start)
            };
            starts.push(gap + 1);
        }
        Ok(Table { starts, body })
    }

    /// The cells of one line; text that runs over a column start keeps going to the next blank.
    fn cells(&self, line: &[char]) -> Vec<String> {
        let mut bounds = Vec::with_capacity(self.starts.len() + 1);
        for &start in &self.starts {
            let mut start = start.max(bounds.last().copied().unwrap_or(0));
            while start > 0
                && start < line.len()
                && !line[start - 1].is_whitespace()
                && !line[start].is_whitespace()
            {
                start += 1;
            }
            bounds.push(start.min(line.len()));
        }
        bounds.push(line.len());
        bounds
            .windows(2)
            .map(|w| {
                line[w[0]..w[1].max(w[0])]
                    .iter()
                    .collect::<String>()
                    .trim()
                    .to_owned()
            })
            .collect()
    }

    /// How many times, in these lines of one row, a cell goes on to the next line although
    /// that line's first word would have fitted on it: a word wrapper never does that, so
    /// such lines belong to different rows (`datusorb` / `Apple Remote`, the start of the
    /// next row's long name). Independent of trailing whitespace.
    fn needless_wraps(
        grid: &[Vec<String>],
        widths: &[usize],
        lines: std::ops::Range<usize>,
    ) -> usize {
        let mut count = 0;
        for (column, &width) in widths.iter().enumerate() {
            let parts: Vec<&str> = lines
                .clone()
                .map(|line| grid[line][column].as_str())
                .filter(|cell| !cell.is_empty())
                .collect();
            for pair in parts.windows(2) {
                let next_word = pair[1].split_whitespace().next().unwrap_or("");
                if pair[0].chars().count() + 1 + next_word.chars().count() <= width {
                    count += 1;
                }
            }
        }
        count
    }

    /// Shares the lines out among rows. A row of height h stands `floor((h-1)/2)` lines
    /// above its anchor and `ceil((h-1)/2)` below, so the part below is the part above or
    /// one more. Of the two, the split wins that breaks fewer of these, in order: a row
    /// neither starts nor ends with a blank line; brackets in a cell balance; a centred
    /// cell covers its anchor line. Left equal, the even height wins.
    fn rows(&self, lines: &Lines, is_anchor: fn(&[String]) -> bool) -> Vec<Row> {
        let grid: Vec<Vec<String>> = lines[self.body.clone()]
            .iter()
            .map(|line| self.cells(line))
            .collect();
        let anchors: Vec<usize> = (0..grid.len()).filter(|&i| is_anchor(&grid[i])).collect();
        let blank = |line: usize| grid[line].iter().all(String::is_empty);
        let misplaced = |anchor: usize, lines: std::ops::Range<usize>| {
            lines
                .flat_map(|line| (0..grid[line].len()).map(move |c| (line, c)))
                .filter(|&(line, c)| !grid[line][c].is_empty() && grid[anchor][c].is_empty())
                .count()
        };
        let columns = self.starts.len();
        // The wrapper's width: at least the column's span, and no less than its longest line.
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                let span = self
                    .starts
                    .get(c + 1)
                    .map_or(0, |next| next.saturating_sub(self.starts[c] + 1));
                let longest = grid.iter().map(|cells| cells[c].chars().count()).max();
                span.max(longest.unwrap_or(0))
            })
            .collect();
        let mut owner: Vec<Option<usize>> = vec![None; grid.len()];
        let first = (0..grid.len()).find(|&l| !blank(l)).unwrap_or(0);
        let mut above = anchors.first().map_or(0, |&a| a.saturating_sub(first));
        for (row, &anchor) in anchors.iter().enumerate() {
            for slot in &mut owner[anchor - above..=anchor] {
                *slot = Some(row);
            }
            let below = match anchors.get(row + 1) {
                Some(&next) => {
                    let gap = next - anchor - 1;
                    let cost = |b: usize| {
                        let blank_edges = usize::from(b > 0 && blank(anchor + b))
                            + usize::from(b < gap && blank(anchor + 1 + b));
                        let unbalanced = (0..columns)
                            .filter(|&c| {
                                let depth = |range: std::ops::Range<usize>| {
                                    range.map(|l| bracket_depth(&grid[l][c])).sum::<isize>()
                                };
                                depth(anchor - above..anchor + 1 + b) != 0
                            })
                            .count();
                        let odd = usize::from(b == above);
                        // IANA lists a service once per transport, the rows alike: twin
                        // rows (same name and port on their anchor lines) get one shape.
                        let twins = grid[anchor][..2] == grid[next][..2];
                        let unlike_twin = usize::from(twins && gap - b != above);
                        blank_edges * 1000
                            + unbalanced * 100
                            + Self::needless_wraps(&grid, &widths, anchor - above..anchor + 1 + b)
                                * 50
                            + unlike_twin * 10
                            + (misplaced(anchor, anchor + 1..anchor + 1 + b)
                                + misplaced(next, anchor + 1 + b..next))
                                * 2
                            + odd
                    };
                    let below = [above, above + 1]
                        .into_iter()
                        .filter(|&b| b <= gap)
                        .min_by_key(|&b| cost(b))
                        .unwrap_or(gap);
                    above = gap - below;
                    below
                }
                None => (anchor + 1..grid.len())
                    .rev()
                    .find(|&l| !blank(l))
                    .map_or(0, |last| last - anchor),
            };
            for slot in &mut owner[anchor + 1..=anchor + below] {
                *slot = Some(row);
            }
        }
        let mut rows: Vec<Vec<Vec<&str>>> =
            anchors.iter().map(|_| vec![Vec::new(); columns]).collect();
        for (line, row) in owner.iter().enumerate() {
            if let Some(row) = row {
                for (column, cell) in grid[line].iter().enumerate() {
                    if !cell.is_empty() {
                        rows[*row][column].push(cell);
                    }
                }
            }
        }
        anchors
            .iter()
            .zip(rows)
            .map(|(&anchor, cells)| Row {
                anchor: anchor + self.body.start,
                cells: cells.into_iter().map(|parts| parts.join(" ")).collect(),
            })
            .collect()
    }
}

/// Opening minus closing brackets.
fn bracket_depth(text: &str) -> isize {
    text.chars()
        .map(|c| match c {
            '[' => 1,
            ']' => -1,
            _ => 0,
        })
        .sum()
}

pub(super) fn write(registry: &Registry) -> String {
    let mut out = String::new();
    let meta = &registry.meta;
    let title = meta
        .title
        .as_deref()
        .unwrap_or("Service Name and Transport Protocol Port Number Registry");
    let _ = writeln!(out, "{title:^120}\n");
    if let Some(updated) = &meta.updated {
        let _ = writeln!(out, "   Last Updated\n           {updated}\n");
    }
    // Prose lines are indented one space; their trailing spaces are not kept (the reader
    // cannot tell them from padding), so that a written file reads back to itself.
    let indented = |text: &str| {
        text.lines()
            .map(|line| format!(" {}", line.trim_end()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    if let Some(expert) = &meta.expert {
        let _ = writeln!(out, "   Expert(s)\n\n{}\n", indented(expert));
    }
    for note in &meta.notes {
        let text =
            super::iana_xml::render_markup(&note.markup).unwrap_or_else(|_| note.markup.clone());
        let _ = writeln!(out, "   Note\n\n{}\n", indented(&text));
    }
    let bracketed = |items: &[String]| {
        items
            .iter()
            .map(|item| super::bracketed(item))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rows: Vec<Vec<String>> = registry
        .records
        .iter()
        .map(|record| {
            let references: Vec<String> = record.references.iter().map(Reference::label).collect();
            vec![
                record.name.clone().unwrap_or_default(),
                record.ports_text().unwrap_or_default(),
                record
                    .transport
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                record.description.clone().unwrap_or_default(),
                bracketed(record.effective_assignees()),
                bracketed(&record.contacts),
                record
                    .registered
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                record
                    .modified
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                bracketed(&references),
                record.service_code.clone().unwrap_or_default(),
                record.unauthorized_use.clone().unwrap_or_default(),
                record.notes.clone().unwrap_or_default(),
            ]
        })
        .collect();
    write_table(
        &mut out,
        &RECORD_LABELS,
        &RECORD_LABELS_ABOVE,
        &RECORD_LABELS_BELOW,
        &[12, 11, 9, 11, 8, 7, 12, 12, 9, 7, 12, 16],
        &rows,
    );
    if !registry.people.is_empty() {
        let _ = writeln!(out, "\n{:^120}\n", "People");
        let rows: Vec<Vec<String>> = registry
            .people
            .iter()
            .map(|p| {
                vec![
                    super::bracketed(&p.id),
                    p.name.clone().unwrap_or_default(),
                    p.org.clone().unwrap_or_default(),
                    p.uri.clone().unwrap_or_default(),
                    p.updated
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                ]
            })
            .collect();
        write_table(
            &mut out,
            &PEOPLE_LABELS,
            &[],
            &[(4, "Updated")],
            &[2, 4, 12, 11, 7],
            &rows,
        );
    }
    if !meta.footnotes.is_empty() {
        let _ = writeln!(out, "\n{:^120}\n", "Footnote");
        for footnote in &meta.footnotes {
            let _ = writeln!(
                out,
                "   [{}] {}",
                footnote.anchor,
                footnote.text.replace('\n', "\n       ")
            );
        }
    }
    out
}

/// Writes a table whose cells never wrap: every row is one line, so that no reader has
/// to guess which row a wrapped line belongs to (IANA's own wrapped layout is ambiguous).
/// Line breaks inside a cell become spaces.
/// `text` padded with spaces to `width` characters (built, not formatted: a width over
/// 65,535 must not panic).
fn pad(text: &str, width: usize) -> String {
    let mut cell = text.to_owned();
    cell.push_str(&" ".repeat(width.saturating_sub(text.chars().count())));
    cell
}

fn write_table(
    out: &mut String,
    labels: &[&str],
    above: &[(usize, &str)],
    below: &[(usize, &str)],
    preferred: &[usize],
    rows: &[Vec<String>],
) {
    let widths: Vec<usize> = (0..labels.len())
        .map(|c| {
            let longest = rows
                .iter()
                .map(|r| one_line(&r[c]).trim().chars().count())
                .max()
                .unwrap_or(0);
            let label = [
                Some(labels[c]),
                above.iter().find(|a| a.0 == c).map(|a| a.1),
                below.iter().find(|b| b.0 == c).map(|b| b.1),
            ]
            .into_iter()
            .flatten()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
            preferred[c].max(longest).max(label)
        })
        .collect();
    let header_line = |texts: &dyn Fn(usize) -> String| {
        let cells: Vec<String> = (0..labels.len())
            .map(|c| pad(&texts(c), widths[c]))
            .collect();
        cells.join("  ").trim_end().to_owned()
    };
    if !above.is_empty() {
        let line = header_line(&|c| {
            above
                .iter()
                .find(|a| a.0 == c)
                .map_or(String::new(), |a| a.1.to_owned())
        });
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "{}", header_line(&|c| labels[c].to_owned()));
    if !below.is_empty() {
        let line = header_line(&|c| {
            below
                .iter()
                .find(|b| b.0 == c)
                .map_or(String::new(), |b| b.1.to_owned())
        });
        let _ = writeln!(out, "{line}");
    }
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            // A cell's own leading and trailing spaces cannot be told from padding.
            .map(|(cell, &width)| pad(one_line(cell).trim(), width))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
}
