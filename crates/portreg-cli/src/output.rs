//! Printing results: aligned tables for people (coloured on a terminal), and JSON,
//! JSON lines, IANA CSV or services(5) lines for programs.

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use portreg::format::{self, Format};
use portreg::{MatchTier, Role, Source};
use portreg::{Record, Registry, Status};
use serde_json::Value;

use crate::cli::{ColorChoice, Common, OutputFormat};

/// A record to print, with how it answers: its `role` in a lookup, its `match` tier in a
/// search (JSON keys added to the record's).
pub struct Item {
    /// The record.
    pub record: Record,
    /// How it answers a lookup.
    pub role: Option<Role>,
    /// How well it matches a search.
    pub tier: Option<MatchTier>,
}

impl From<Record> for Item {
    fn from(record: Record) -> Self {
        Item {
            record,
            role: None,
            tier: None,
        }
    }
}

impl Item {
    /// The record's JSON object with `role` and `match` where known.
    pub fn to_json(&self) -> Value {
        let mut value = format::record_to_json(&self.record);
        if let Value::Object(map) = &mut value {
            if let Some(role) = self.role {
                map.insert("role".to_owned(), Value::from(role.as_str()));
            }
            if let Some(tier) = self.tier {
                map.insert("match".to_owned(), Value::from(tier.as_str()));
            }
        }
        value
    }
}

/// Where and how output goes.
pub struct Output {
    /// The chosen format.
    pub format: OutputFormat,
    stream: anstream::AutoStream<io::Stdout>,
    /// Columns available for a table, when wrapping.
    width: Option<usize>,
}

/// Table cell styles.
pub const HEADER: Style = Style::new().bold();
/// A service name.
pub const NAME: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)))
    .bold();
/// A port.
pub const PORT: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Cyan)));
/// Reserved, unassigned, historic: not in use.
pub const DIM: Style = Style::new().dimmed();
/// Warnings inside a table (unauthorized use).
pub const WARN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));
/// No style.
pub const PLAIN: Style = Style::new();

impl Output {
    /// Output to standard output as `common` asks.
    pub fn new(common: &Common) -> Self {
        let choice = match common.color {
            ColorChoice::Auto => anstream::ColorChoice::Auto,
            ColorChoice::Always => anstream::ColorChoice::Always,
            ColorChoice::Never => anstream::ColorChoice::Never,
        };
        let stdout = io::stdout();
        let width = if stdout.is_terminal() {
            terminal_size::terminal_size().map(|(w, _)| usize::from(w.0))
        } else {
            std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
        };
        Output {
            format: common.format,
            stream: anstream::AutoStream::new(stdout, choice),
            width,
        }
    }

    /// Writes text as it is.
    pub fn text(&mut self, text: &str) -> io::Result<()> {
        self.stream.write_all(text.as_bytes())
    }

    /// Prints records: a table of port, transport, name, status and description (records
    /// that differ only in transport on one row), or the chosen machine format.
    pub fn records(&mut self, items: &[Item]) -> io::Result<()> {
        self.records_limited(items, usize::MAX).map(|_| ())
    }

    /// Prints at most `limit` of the records' rows (table rows, which merge transports, or
    /// records in the machine formats); returns how many more there were.
    pub fn records_limited(&mut self, items: &[Item], limit: usize) -> io::Result<usize> {
        if self.format != OutputFormat::Table {
            self.machine(&items[..limit.min(items.len())])?;
            return Ok(items.len().saturating_sub(limit));
        }
        // Where another layer answers too, say which answer comes from where.
        let layered = items.iter().any(|i| i.record.source != Source::Iana);
        let mut header = vec!["PORT", "TRANSPORT", "NAME", "STATUS", "DESCRIPTION"];
        if layered {
            header.insert(4, "SOURCE");
        }
        let rows = table_rows(items, layered);
        self.table(&header, &rows[..limit.min(rows.len())])?;
        Ok(rows.len().saturating_sub(limit))
    }

    /// Prints records in a machine format (everything but the table).
    pub fn machine(&mut self, items: &[Item]) -> io::Result<()> {
        let text = match self.format {
            OutputFormat::Json => {
                let values: Vec<Value> = items.iter().map(Item::to_json).collect();
                let mut text = serde_json::to_string_pretty(&values).map_err(io::Error::other)?;
                text.push('\n');
                text
            }
            OutputFormat::Jsonl => items.iter().map(|i| format!("{}\n", i.to_json())).collect(),
            OutputFormat::Csv | OutputFormat::Services | OutputFormat::Table => {
                let registry = Registry {
                    records: items.iter().map(|i| i.record.clone()).collect(),
                    ..Registry::default()
                };
                let format = if self.format == OutputFormat::Csv {
                    Format::IanaCsv
                } else {
                    Format::Services
                };
                format::write(&registry, format)
            }
        };
        self.text(&text)
    }

    /// Prints a JSON value (for commands whose JSON is not a list of records).
    pub fn json(&mut self, value: &Value) -> io::Result<()> {
        let text = match self.format {
            OutputFormat::Jsonl => value.to_string(),
            _ => serde_json::to_string_pretty(value).map_err(io::Error::other)?,
        };
        self.text(&text)?;
        self.text("\n")
    }

    /// Prints an aligned table; the last column is wrapped to the terminal width. Cells
    /// are shown with [`visible`]: data never reaches the terminal as control sequences.
    pub fn table(&mut self, headers: &[&str], rows: &[Vec<(String, Style)>]) -> io::Result<()> {
        let styled = self.stream.current_choice() != anstream::ColorChoice::Never;
        render_table(&mut self.stream, headers, rows, self.width, styled)
    }

    /// Prints `label  value` lines, aligned, for `info` and `about`; a value's line breaks
    /// are laid out as lines, everything else is shown with [`visible`].
    pub fn fields(&mut self, fields: &[(&str, String)]) -> io::Result<()> {
        let width = fields
            .iter()
            .map(|(label, _)| label.chars().count())
            .max()
            .unwrap_or(0);
        // Values wrap at the terminal's width, as table cells do.
        let value_width = self.width.map(|w| w.saturating_sub(width + 4).max(20));
        for (label, value) in fields {
            let mut lines = value
                .lines()
                .flat_map(|line| wrap(&visible(line), value_width));
            let first = lines.next().unwrap_or_default();
            let pad = " ".repeat(width - label.chars().count());
            writeln!(self.stream, "  {HEADER}{label}{HEADER:#}{pad}  {first}")?;
            let indent = " ".repeat(width);
            for more in lines {
                writeln!(self.stream, "  {indent}  {more}")?;
            }
        }
        Ok(())
    }

    /// Writes a line with a style, shown with [`visible`].
    pub fn styled_line(&mut self, text: &str, style: Style) -> io::Result<()> {
        // A long line wraps at the terminal's width, its continuation indented.
        let width = self.width.map(|w| w.saturating_sub(4).max(20));
        for (index, part) in wrap(&visible(text), width).iter().enumerate() {
            let indent = if index > 0 { "    " } else { "" };
            writeln!(self.stream, "{indent}{style}{part}{style:#}")?;
        }
        Ok(())
    }
}

/// Table rows, one per record, with records that differ only in transport merged
/// (`tcp,udp`).
fn table_rows(items: &[Item], layered: bool) -> Vec<Vec<(String, Style)>> {
    // Port, name, status, description, source; and the transports, comma-separated.
    let mut rows: Vec<([String; 5], String)> = Vec::new();
    for item in items {
        let record = &item.record;
        let key = [
            record
                .ports
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            name_cell(record),
            status_cell(record, item.role),
            description_cell(record),
            record.source.as_str().to_owned(),
        ];
        let transport = record.transport.as_ref().map_or("any", |t| t.as_str());
        match rows.iter_mut().find(|(k, _)| *k == key) {
            Some((_, transports)) if !transports.split(',').any(|t| t == transport) => {
                transports.push(',');
                transports.push_str(transport);
            }
            _ => rows.push((key, transport.to_owned())),
        }
    }
    rows.into_iter()
        .map(|([port, name, status, description, source], transports)| {
            let quiet = matches!(
                status.as_str(),
                "reserved" | "unassigned" | "historic" | "deassigned"
            );
            let mut row = vec![
                (port, PORT),
                (transports, PLAIN),
                (name, if quiet { DIM } else { NAME }),
                (status, if quiet { DIM } else { PLAIN }),
            ];
            if layered {
                row.push((source, PLAIN));
            }
            row.push((description, PLAIN));
            row
        })
        .collect()
}

fn name_cell(record: &Record) -> String {
    let name = record.name.clone().unwrap_or_else(|| "-".to_owned());
    if record.aliases.is_empty() {
        name
    } else {
        format!("{name} ({})", record.aliases.join(", "))
    }
}

fn status_cell(record: &Record, role: Option<Role>) -> String {
    if role == Some(Role::Alias) && record.status == Status::Assigned {
        "alias".to_owned()
    } else {
        record.status.as_str().to_owned()
    }
}

fn description_cell(record: &Record) -> String {
    let mut text = record
        .description
        .clone()
        .unwrap_or_default()
        .replace('\n', " ");
    if let Some(unauthorized) = &record.unauthorized_use {
        text.push_str(&format!(" [unauthorized use: {unauthorized}]"));
    }
    text.trim().to_owned()
}

/// Writes an aligned table to `out` in one write, the last column wrapped to `width`
/// columns, with the cells' styles where `styled`.
pub fn render_table(
    out: &mut impl Write,
    headers: &[&str],
    rows: &[Vec<(String, Style)>],
    width: Option<usize>,
    styled: bool,
) -> io::Result<()> {
    let columns = headers.len().max(1);
    let rows: Vec<Vec<(Cow<'_, str>, Style)>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|(text, style)| (visible(text), *style))
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    widths.resize(columns, 0);
    for row in &rows {
        for (column, (text, _)) in row.iter().enumerate().take(columns - 1) {
            widths[column] = widths[column].max(text.chars().count());
        }
    }
    let indent: usize = widths[..columns - 1].iter().map(|w| w + 2).sum();
    // Where the other columns leave the last fewer than 20 characters, it goes on lines
    // of its own below them, indented by 4, so that no line runs past the terminal.
    let narrow = width.is_some_and(|w| w < indent + 20);
    let (indent, last_width) = if narrow {
        (4, width.map(|w| w.saturating_sub(4).max(10)))
    } else {
        (indent, width.map(|w| w.saturating_sub(indent)))
    };
    let mut table = Table {
        text: String::with_capacity(128 * (rows.len() + 1)),
        line_start: 0,
        styled,
    };
    for (column, header) in headers.iter().enumerate() {
        if narrow && column + 1 == columns {
            // The last column's header on its own line, as its cells are.
            table.end_line();
            table.pad(indent);
        }
        table.cell(header, HEADER);
        if column + 1 < columns {
            table.pad(widths[column] + 2 - header.chars().count().min(widths[column]));
        }
    }
    table.end_line();
    for row in &rows {
        for (column, (text, style)) in row.iter().enumerate().take(columns - 1) {
            table.cell(text, *style);
            table.pad(widths[column] + 2 - text.chars().count().min(widths[column]));
        }
        let (last, style) = row
            .get(columns - 1)
            .map_or((Cow::Borrowed(""), PLAIN), |(text, style)| {
                (text.clone(), *style)
            });
        if narrow {
            table.end_line();
            table.pad(indent);
        }
        for (index, part) in wrap(&last, last_width).iter().enumerate() {
            if index > 0 {
                table.pad(indent);
            }
            table.cell(part, style);
            table.end_line();
        }
    }
    out.write_all(table.text.as_bytes())
}

/// A table's text as it is laid out, line by line.
struct Table {
    text: String,
    line_start: usize,
    styled: bool,
}

impl Table {
    fn cell(&mut self, text: &str, style: Style) {
        use std::fmt::Write as _;
        if self.styled {
            let _ = write!(self.text, "{style}{text}{style:#}");
        } else {
            self.text.push_str(text);
        }
    }

    // Padding is pushed, not formatted: a width argument above 65,535 would panic.
    fn pad(&mut self, spaces: usize) {
        self.text.extend(std::iter::repeat_n(' ', spaces));
    }

    fn end_line(&mut self) {
        let kept = self.text[self.line_start..].trim_end().len();
        self.text.truncate(self.line_start + kept);
        self.text.push('\n');
        self.line_start = self.text.len();
    }
}

/// Text for people, safe on a terminal: control characters (C0 and C1, line breaks
/// included), bidirectional overrides and isolates, and zero-width characters are shown
/// escaped (`\u{1b}`, `\t`), so data can neither move the cursor, retitle the window,
/// hide text nor reorder it. Machine formats (JSON, CSV, services) stay lossless.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\t' => shown.push_str("\\t"),
            '\r' => shown.push_str("\\r"),
            '\n' => shown.push_str("\\n"),
            c if hidden(c) => shown.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => shown.push(c),
        }
    }
    Cow::Owned(shown)
}

/// Characters that act on a terminal or hide or reorder text instead of showing.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{200b}'..='\u{200f}' // zero-width space, joiners, LRM, RLM
            | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{061c}' // Arabic letter mark
            | '\u{feff}' // zero-width no-break space
            | '\u{00ad}' // soft hyphen
        )
}

/// Word-wraps `text` to `width` columns (no wrapping without a width); line breaks in
/// the text are kept.
pub fn wrap(text: &str, width: Option<usize>) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let Some(width) = width else {
            lines.push(paragraph.to_owned());
            continue;
        };
        let mut current = String::new();
        for word in paragraph.split_whitespace() {
            if !current.is_empty() && current.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        lines.push(current);
    }
    if lines.is_empty() {
        lines.push(String::new());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_cannot_drive_the_terminal() {
        assert_eq!(visible("plain text"), "plain text");
        assert_eq!(visible("a\x1b]0;pwned\x07b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(visible("x\u{202e}y\u{200b}z\r"), "x\\u{202e}y\\u{200b}z\\r");
        assert_eq!(
            visible("mallory\x1b[2K\x1b[1Gadmin"),
            "mallory\\u{1b}[2K\\u{1b}[1Gadmin"
        );
    }

    proptest::proptest! {
        /// No cell, however long or strange, panics the table writer or reaches the
        /// output as a control character.
        #[test]
        fn tables_take_any_text(cells in proptest::collection::vec(".{0,40}|\\PC{0,3}", 1..6), long in 0usize..70_000) {
            let mut cells = cells;
            cells.push("y".repeat(long));
            let rows = vec![cells.iter().map(|c| (c.clone(), PLAIN)).collect::<Vec<_>>(); 2];
            let headers: Vec<&str> = (0..cells.len()).map(|_| "H").collect();
            let mut bytes = Vec::new();
            render_table(&mut bytes, &headers, &rows, Some(80), true).unwrap();
            // Only the header's own bold style is a control sequence.
            let text = String::from_utf8(bytes).unwrap().replace(&HEADER.render().to_string(), "").replace(&HEADER.render_reset().to_string(), "");
            proptest::prop_assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
        }
    }

    #[test]
    fn wraps_words() {
        assert_eq!(wrap("a bb ccc dddd", Some(6)), ["a bb", "ccc", "dddd"]);
        assert_eq!(wrap("one\ntwo", None), ["one", "two"]);
        assert_eq!(wrap("", Some(5)), [""]);
    }
}
