//! Log enrichment: a service name (and more) added to every line of a flow log, at the
//! speed of reading it.
//!
//! Every answer is computed before the first line is read: for each transport and each
//! of the 65,536 ports, the bytes to append (already encoded for the log's format). A
//! line then costs finding two fields, parsing a number and one copy. Input is read in
//! blocks of whole lines, enriched by worker threads, and written in input order; memory
//! stays constant whatever the input's size.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use memchr::{memchr, memchr_iter, memrchr};
use portreg::answer_table::{port_number, transport_slot, AnswerTable, ANY_SLOT, SLOTS};
use portreg::history::History;
use portreg::{CompiledRegistry, RangeClass, RegistryDate};

/// A log's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Zeek's TSV logs (`#separator`, `#fields`, `#types` headers).
    Zeek,
    /// Comma-separated values with a header line.
    Csv,
    /// Tab-separated values with a header line.
    Tsv,
    /// One JSON object a line.
    Jsonl,
}

pub use portreg::answer_table::Column;

/// The default port fields of CSV, TSV and JSON lines, the first present wins.
pub const PORT_FIELDS: [&str; 5] = [
    "id.resp_p",
    "dst_port",
    "dport",
    "dest_port",
    "destination.port",
];
/// The default transport fields, likewise.
pub const TRANSPORT_FIELDS: [&str; 3] = ["proto", "transport", "network.transport"];

/// What to do, as the command line says it.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The log's format; detected from the first lines when not given.
    pub format: Option<LogFormat>,
    /// The port field; else the format's default.
    pub port_field: Option<String>,
    /// The transport field; else the format's default, when present.
    pub transport_field: Option<String>,
    /// One transport for every line, instead of a field.
    pub transport: Option<String>,
    /// The columns to add.
    pub columns: Vec<Column>,
    /// Stop at the first line that cannot be enriched.
    pub strict: bool,
    /// Worker threads.
    pub threads: usize,
    /// The field whose time picks the registry a line is answered by (`--as-of-field`).
    pub as_of_field: Option<String>,
}

/// Counts, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Data lines read (headers and comments not counted).
    pub lines: u64,
    /// Lines written with the columns added.
    pub enriched: u64,
    /// Of those, lines whose port has no record (the columns are empty).
    pub no_record: u64,
    /// Lines passed through unchanged: no port number, or too few fields.
    pub passed_through: u64,
}

/// Why enrichment stopped.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// A line that cannot be enriched, with `--strict`; or a header that cannot be used.
    #[error("{source_name}:{line}: {message}")]
    Line {
        /// The input's name.
        source_name: String,
        /// The line number, from 1.
        line: u64,
        /// Expected and found.
        message: String,
    },
    /// The header names no such field.
    #[error("{0}")]
    Header(String),
    /// Reading or writing.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

const BLOCK: usize = 1 << 20;

/// The bytes appended for every (transport, port): computed once.
struct Table {
    /// Cell id per slot and port; 0 is the "no record" cell.
    cells: Vec<u32>,
    /// Cell bytes: `offsets[id]..offsets[id + 1]` of `bytes`.
    offsets: Vec<u32>,
    bytes: Vec<u8>,
}

/// The record that answers each transport slot and port ([`AnswerTable`]): the costly
/// part of the answers, the same whatever the log's format.
pub struct Enricher<'r> {
    answers: AnswerTable<'r>,
    /// With `--as-of-field`: the history whose snapshots answer each line by its time.
    history: Option<&'r History>,
}

impl<'r> Enricher<'r> {
    /// Looks every port up once, on each transport and on any.
    pub fn new(registry: &'r CompiledRegistry) -> Enricher<'r> {
        Enricher {
            answers: AnswerTable::new(registry),
            history: None,
        }
    }

    /// Answers each line by the snapshot of `history` in force at its time (the field
    /// `--as-of-field` names); a line without a time is answered by `registry`.
    pub fn with_history(registry: &'r CompiledRegistry, history: &'r History) -> Enricher<'r> {
        Enricher {
            history: Some(history),
            ..Enricher::new(registry)
        }
    }
}

/// The answers of each snapshot of a history, built the first time a line needs them.
struct Dated<'a> {
    history: &'a History,
    /// Each snapshot's first moment, seconds since 1970.
    starts: Vec<i64>,
    tables: Vec<OnceLock<Table>>,
    columns: &'a [Column],
    encoding: &'a Encoding,
}

impl Dated<'_> {
    /// The table of the snapshot in force at `seconds` (the earliest before the first).
    fn table(&self, seconds: i64) -> &Table {
        let at = self
            .starts
            .partition_point(|&start| start <= seconds)
            .saturating_sub(1);
        self.tables[at].get_or_init(|| {
            let registry = self.history.compiled_at(at);
            Table::build(&Enricher::new(&registry), self.columns, self.encoding)
        })
    }
}

/// A time in a log, in seconds since 1970: epoch seconds (Zeek's `ts`, `1700000000.25`)
/// or an ISO date, with or without its time of day (`2016-05-01T12:00:00Z`).
fn seconds_of(value: &[u8]) -> Option<i64> {
    let value = value.strip_prefix(b"\"").unwrap_or(value);
    let value = value.strip_suffix(b"\"").unwrap_or(value);
    let whole = value.split(|&b| b == b'.').next()?;
    if !whole.is_empty() && whole.iter().all(u8::is_ascii_digit) {
        return std::str::from_utf8(whole).ok()?.parse().ok();
    }
    let date: RegistryDate = std::str::from_utf8(value.get(..10)?).ok()?.parse().ok()?;
    let since = date
        .to_system_time()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(since.as_secs()).ok()
}

impl Table {
    /// The bytes to append per slot and port, encoded for the log's format.
    fn build(enricher: &Enricher<'_>, columns: &[Column], encoding: &Encoding) -> Table {
        let mut bytes = Vec::new();
        let mut offsets = vec![0u32];
        let none: Vec<Option<String>> = columns.iter().map(|_| None).collect();
        encoding.cell(&none, &mut bytes);
        offsets.push(bytes.len() as u32);
        // A record's cell is the same on every port, but for the range class.
        let mut known: HashMap<(u32, RangeClass), u32> = HashMap::new();
        let mut cells = vec![0u32; SLOTS * 65536];
        for (slot, port, record) in enricher.answers.entries() {
            let key = (record.index() as u32, RangeClass::of(port));
            cells[slot * 65536 + usize::from(port)] = *known.entry(key).or_insert_with(|| {
                let values: Vec<Option<String>> =
                    columns.iter().map(|c| c.value(&record, port)).collect();
                encoding.cell(&values, &mut bytes);
                offsets.push(bytes.len() as u32);
                offsets.len() as u32 - 2
            });
        }
        Table {
            cells,
            offsets,
            bytes,
        }
    }

    /// The bytes for `port` on a transport slot, and whether a record answers.
    fn cell(&self, slot: usize, port: u16) -> (&[u8], bool) {
        let id = self.cells[slot * 65536 + port as usize] as usize;
        (
            &self.bytes[self.offsets[id] as usize..self.offsets[id + 1] as usize],
            id != 0,
        )
    }

    fn empty(&self) -> &[u8] {
        &self.bytes[self.offsets[0] as usize..self.offsets[1] as usize]
    }
}

/// How added values are written in the log's format.
#[derive(Clone, Debug)]
enum Encoding {
    /// A separator before each value; `unset` for none, `empty` for "", escaping as Zeek does.
    Zeek {
        separator: Vec<u8>,
        unset: Vec<u8>,
        empty: Vec<u8>,
    },
    /// A separator before each value, quoted as CSV needs.
    Csv,
    /// A tab before each value; tabs in values become spaces.
    Tsv,
    /// `,"key":value` pairs.
    Json { keys: Vec<&'static str> },
}

impl Encoding {
    fn cell(&self, values: &[Option<String>], out: &mut Vec<u8>) {
        for (index, value) in values.iter().enumerate() {
            match self {
                Encoding::Zeek {
                    separator,
                    unset,
                    empty,
                } => {
                    out.extend_from_slice(separator);
                    match value.as_deref() {
                        None => out.extend_from_slice(unset),
                        Some("") => out.extend_from_slice(empty),
                        Some(text) => zeek_escape(text, separator, out),
                    }
                }
                Encoding::Csv => {
                    out.push(b',');
                    if let Some(text) = value {
                        if text.contains([',', '"', '\n', '\r']) {
                            out.push(b'"');
                            out.extend_from_slice(text.replace('"', "\"\"").as_bytes());
                            out.push(b'"');
                        } else {
                            out.extend_from_slice(text.as_bytes());
                        }
                    }
                }
                Encoding::Tsv => {
                    out.push(b'\t');
                    if let Some(text) = value {
                        out.extend_from_slice(text.replace(['\t', '\n', '\r'], " ").as_bytes());
                    }
                }
                Encoding::Json { keys } => {
                    out.push(b',');
                    out.extend_from_slice(
                        serde_json::to_string(keys[index])
                            .unwrap_or_default()
                            .as_bytes(),
                    );
                    out.push(b':');
                    let json = match value {
                        Some(text) => serde_json::to_string(text).unwrap_or_default(),
                        None => "null".to_owned(),
                    };
                    out.extend_from_slice(json.as_bytes());
                }
            }
        }
    }
}

/// Zeek's escaping: the separator, backslash and non-printable bytes as `\xHH`.
fn zeek_escape(text: &str, separator: &[u8], out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if bytes[index..].starts_with(separator) || byte == b'\\' || byte < 0x20 || byte == 0x7f {
            out.extend_from_slice(format!("\\x{byte:02x}").as_bytes());
        } else {
            out.push(byte);
        }
        index += 1;
    }
}

/// Where the fields of a line are.
#[derive(Clone, Debug)]
struct Layout {
    format: LogFormat,
    separator: Vec<u8>,
    /// The port's field: its index (delimited) or key path (JSON).
    port: Field,
    transport: Option<Field>,
    /// A transport slot for every line (`--log-transport`).
    fixed_slot: Option<usize>,
    /// Zeek: the `#fields` line as read, to recognise a repeated header.
    zeek_fields: Option<Vec<u8>>,
    added_headers: Vec<&'static str>,
    /// The field whose time picks the registry (`--as-of-field`).
    timestamp: Option<Field>,
}

#[derive(Clone, Debug)]
enum Field {
    Index(usize, String),
    /// JSON keys: the first present in a line (lines may differ in shape).
    Keys(Vec<String>),
}

impl Field {
    fn name(&self) -> String {
        match self {
            Field::Index(_, name) => name.clone(),
            Field::Keys(keys) => keys.join(" or "),
        }
    }
}

/// The `index`th field of a delimited line (CSV quotes understood when the line has any).
fn delimited_field<'a>(
    line: &'a [u8],
    separator: &[u8],
    index: usize,
    csv: bool,
) -> Option<&'a [u8]> {
    if csv && memchr(b'"', line).is_some() {
        return csv_field(line, index);
    }
    if separator.len() == 1 {
        let mut start = 0;
        let mut count = 0;
        for at in memchr_iter(separator[0], line) {
            if count == index {
                return Some(&line[start..at]);
            }
            count += 1;
            start = at + 1;
        }
        return (count == index).then(|| &line[start..]);
    }
    let finder = memchr::memmem::Finder::new(separator);
    let mut rest = line;
    for _ in 0..index {
        let at = finder.find(rest)?;
        rest = &rest[at + separator.len()..];
    }
    Some(&rest[..finder.find(rest).unwrap_or(rest.len())])
}

/// A CSV field with quotes; `None` past the last field or in an unclosed quote.
fn csv_field(line: &[u8], index: usize) -> Option<&[u8]> {
    let mut field = 0;
    let mut start = 0;
    let mut quoted = false;
    for (at, &byte) in line.iter().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                if field == index {
                    return Some(trim_quotes(&line[start..at]));
                }
                field += 1;
                start = at + 1;
            }
            _ => {}
        }
    }
    (!quoted && field == index).then(|| trim_quotes(&line[start..]))
}

fn trim_quotes(field: &[u8]) -> &[u8] {
    field
        .strip_prefix(b"\"")
        .and_then(|f| f.strip_suffix(b"\""))
        .unwrap_or(field)
}

/// The header's field names (CSV quotes removed).
fn header_names(line: &[u8], separator: &[u8], csv: bool) -> Vec<String> {
    let mut names = Vec::new();
    let mut index = 0;
    while let Some(field) = delimited_field(line, separator, index, csv) {
        names.push(String::from_utf8_lossy(field).trim().to_owned());
        index += 1;
    }
    names
}

/// The value of a JSON object's key: the literal key at the top level (`"id.resp_p"`),
/// else the dotted path through nested objects (`destination` then `port`).
fn json_value<'a>(line: &'a [u8], key: &str) -> Option<&'a [u8]> {
    if let Some(value) = json_member(line, key.as_bytes()) {
        return Some(value);
    }
    let mut object = line;
    for part in key.split('.') {
        object = json_member(object, part.as_bytes())?;
    }
    Some(object)
}

/// The raw value of member `key` of the object `text` starts with (after spaces).
fn json_member<'a>(text: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut at = skip_space(text, 0);
    if text.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    loop {
        at = skip_space(text, at);
        match text.get(at)? {
            b'}' => return None,
            b',' => {
                at += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(text, at)?;
        let name = &text[at + 1..key_end - 1];
        at = skip_space(text, key_end);
        if text.get(at) != Some(&b':') {
            return None;
        }
        at = skip_space(text, at + 1);
        let value_end = value_end(text, at)?;
        if name == key {
            return Some(&text[at..value_end]);
        }
        at = value_end;
    }
}

fn skip_space(text: &[u8], mut at: usize) -> usize {
    while matches!(text.get(at), Some(b' ' | b'\t' | b'\r' | b'\n')) {
        at += 1;
    }
    at
}

/// Past the closing quote of the string opening at `at`.
fn string_end(text: &[u8], at: usize) -> Option<usize> {
    let mut index = at + 1;
    loop {
        let found = index + memchr::memchr2(b'"', b'\\', text.get(index..)?)?;
        if text[found] == b'\\' {
            index = found + 2;
        } else {
            return Some(found + 1);
        }
    }
}

/// Past the value starting at `at` (string, object, array, number, literal).
fn value_end(text: &[u8], at: usize) -> Option<usize> {
    match text.get(at)? {
        b'"' => string_end(text, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut index = at;
            while index < text.len() {
                match text[index] {
                    b'"' => {
                        index = string_end(text, index)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(index + 1);
                        }
                    }
                    _ => {}
                }
                index += 1;
            }
            None
        }
        _ => {
            let rest = &text[at..];
            Some(
                at + rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                    .unwrap_or(rest.len()),
            )
        }
    }
}

/// What a block of lines came to.
#[derive(Default)]
struct Done {
    output: Vec<u8>,
    lines: u64,
    summary: Summary,
    /// With `--strict`, or for a header that cannot be used: the line (in the block,
    /// from 0) and why. Output stops before it.
    stop: Option<(u64, String)>,
}

struct Engine<'a> {
    layout: Layout,
    table: Table,
    /// With `--as-of-field`: the table of each line's time.
    dated: Option<Dated<'a>>,
    strict: bool,
}

impl Engine<'_> {
    fn block(&self, input: &[u8], mut output: Vec<u8>) -> Done {
        output.clear();
        output.reserve(input.len() + input.len() / 4);
        let mut done = Done::default();
        let mut start = 0;
        while start < input.len() {
            let end = memchr(b'\n', &input[start..]).map_or(input.len(), |at| start + at);
            let line = &input[start..end];
            let newline = end < input.len();
            if let Err(message) = self.line(line, &mut output, &mut done.summary) {
                done.stop = Some((done.lines, message));
                break;
            }
            if newline {
                output.push(b'\n');
            }
            done.lines += 1;
            start = end + 1;
        }
        done.output = output;
        done
    }

    /// Writes the line, enriched or as it was; an error stops (strict, bad header).
    fn line(&self, line: &[u8], out: &mut Vec<u8>, summary: &mut Summary) -> Result<(), String> {
        let layout = &self.layout;
        let (body, cr) = match line.strip_suffix(b"\r") {
            Some(body) => (body, &b"\r"[..]),
            None => (line, &b""[..]),
        };
        if layout.format == LogFormat::Zeek && body.first() == Some(&b'#') {
            return self.zeek_header(body, cr, out);
        }
        if body.is_empty() {
            out.extend_from_slice(line);
            return Ok(());
        }
        summary.lines += 1;
        let csv = layout.format == LogFormat::Csv;
        let json = layout.format == LogFormat::Jsonl;
        let field = |field: &Field| match field {
            Field::Index(index, _) => delimited_field(body, &layout.separator, *index, csv),
            Field::Keys(keys) => keys.iter().find_map(|key| json_value(body, key)),
        };
        let table = match (&self.dated, &layout.timestamp) {
            (Some(dated), Some(time)) => field(time)
                .and_then(seconds_of)
                .map_or(&self.table, |seconds| dated.table(seconds)),
            _ => &self.table,
        };
        let port = field(&layout.port);
        let Some(port) = port.and_then(port_number) else {
            if self.strict {
                let found = match port {
                    Some(value) => format!("{:?}", String::from_utf8_lossy(value)),
                    None => "no such field".to_owned(),
                };
                return Err(format!(
                    "expected a port number (0-65535) in field {}, found {found}",
                    layout.port.name()
                ));
            }
            summary.passed_through += 1;
            if json {
                out.extend_from_slice(line);
            } else {
                // The added columns, unset, so that every line has the header's width
                // and strict readers (zeek-cut, pandas, DuckDB) take the file.
                out.extend_from_slice(body);
                out.extend_from_slice(table.empty());
                out.extend_from_slice(cr);
            }
            return Ok(());
        };
        let slot = match (&layout.fixed_slot, &layout.transport) {
            (Some(slot), _) => Some(*slot),
            // A line without the field is asked of any transport; an unknown value
            // (icmp) of none.
            (None, Some(transport)) => field(transport).map_or(Some(ANY_SLOT), transport_slot),
            (None, None) => Some(ANY_SLOT),
        };
        let (cell, found) = match slot {
            Some(slot) => table.cell(slot, port),
            None => (table.empty(), false),
        };
        if json {
            let Some(close) = memrchr(b'}', body) else {
                summary.passed_through += 1;
                out.extend_from_slice(line);
                return Ok(());
            };
            let before = &body[..close];
            out.extend_from_slice(before);
            // `{}` takes the pairs without their leading comma.
            let cell = if before.trim_ascii_end().ends_with(b"{") {
                &cell[1..]
            } else {
                cell
            };
            out.extend_from_slice(cell);
            out.extend_from_slice(&body[close..]);
        } else {
            out.extend_from_slice(body);
            out.extend_from_slice(cell);
        }
        out.extend_from_slice(cr);
        summary.enriched += 1;
        if !found {
            summary.no_record += 1;
        }
        Ok(())
    }

    /// Zeek's `#fields` and `#types` gain the new columns; other header lines pass.
    fn zeek_header(&self, body: &[u8], cr: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let layout = &self.layout;
        let separator = &layout.separator;
        out.extend_from_slice(body);
        if body.starts_with(b"#fields") {
            if layout.zeek_fields.as_deref() != Some(body) {
                return Err(
                    "a #fields header with other fields than the first: enrich each log on its own"
                        .to_owned(),
                );
            }
            for name in &layout.added_headers {
                out.extend_from_slice(separator);
                out.extend_from_slice(name.as_bytes());
            }
        } else if body.starts_with(b"#types") {
            for _ in &layout.added_headers {
                out.extend_from_slice(separator);
                out.extend_from_slice(b"string");
            }
        }
        out.extend_from_slice(cr);
        Ok(())
    }
}

impl Enricher<'_> {
    /// Reads `input` and writes it enriched to `output`; `source_name` names it in errors.
    pub fn run(
        &self,
        settings: &Settings,
        mut input: impl Read,
        output: &mut impl Write,
        source_name: &str,
    ) -> Result<Summary, EnrichError> {
        // The header: the first line (CSV, TSV) or the `#` lines (Zeek).
        let mut buffer = Vec::with_capacity(BLOCK + BLOCK / 2);
        fill(&mut input, &mut buffer, BLOCK)?;
        while memchr(b'\n', &buffer).is_none() {
            let before = buffer.len();
            fill(&mut input, &mut buffer, before + BLOCK)?;
            if buffer.len() == before {
                break;
            }
        }
        let format = settings.format.unwrap_or_else(|| detect(&buffer));
        let (layout, header_end) = layout(&buffer, format, settings)?;
        let encoding = match format {
            LogFormat::Zeek => {
                let header = &buffer[..header_end];
                let value = |name: &[u8], default: &[u8]| {
                    header
                        .split(|&b| b == b'\n')
                        .find_map(|line| line.strip_prefix(name))
                        .map(|rest| {
                            rest.strip_prefix(layout.separator.as_slice())
                                .unwrap_or(rest)
                        })
                        .map(|v| v.strip_suffix(b"\r").unwrap_or(v).to_vec())
                        .unwrap_or_else(|| default.to_vec())
                };
                Encoding::Zeek {
                    separator: layout.separator.clone(),
                    unset: value(b"#unset_field", b"-"),
                    empty: value(b"#empty_field", b"(empty)"),
                }
            }
            LogFormat::Csv => Encoding::Csv,
            LogFormat::Tsv => Encoding::Tsv,
            LogFormat::Jsonl => Encoding::Json {
                keys: settings.columns.iter().map(|c| c.header()).collect(),
            },
        };
        let table = Table::build(self, &settings.columns, &encoding);
        let dated = self.history.map(|history| Dated {
            history,
            starts: history
                .snapshots
                .iter()
                .map(|snapshot| {
                    let since = snapshot
                        .date
                        .to_system_time()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    i64::try_from(since).unwrap_or(i64::MAX)
                })
                .collect(),
            tables: history.snapshots.iter().map(|_| OnceLock::new()).collect(),
            columns: &settings.columns,
            encoding: &encoding,
        });
        let engine = Engine {
            layout,
            table,
            dated,
            strict: settings.strict,
        };
        // The header as it becomes.
        let summary = Summary::default();
        let mut line_number: u64 = 0;
        if matches!(format, LogFormat::Csv | LogFormat::Tsv) && header_end > 0 {
            let line = &buffer[..header_end];
            let (body, ending) = split_ending(line);
            output.write_all(body)?;
            for column in &settings.columns {
                output.write_all(if format == LogFormat::Csv {
                    b","
                } else {
                    b"\t"
                })?;
                output.write_all(column.header().as_bytes())?;
            }
            output.write_all(ending)?;
            line_number += 1;
            buffer.drain(..header_end);
        }
        let mut writer = InOrder {
            output,
            pending: std::collections::BTreeMap::new(),
            spare_outputs: Vec::new(),
            next: 0,
            line_number,
            summary,
            failure: None,
            source_name,
        };
        let threads = settings.threads.max(1);
        std::thread::scope(|scope| -> Result<Summary, EnrichError> {
            let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Vec<u8>, Vec<u8>)>(threads);
            let work_rx = Arc::new(Mutex::new(work_rx));
            let (done_tx, done_rx) = mpsc::channel::<(u64, Vec<u8>, Done)>();
            for _ in 0..threads {
                let work_rx = Arc::clone(&work_rx);
                let done_tx = done_tx.clone();
                let engine = &engine;
                scope.spawn(move || loop {
                    let next = work_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((sequence, input, spare))) = next else {
                        return;
                    };
                    let done = engine.block(&input, spare);
                    if done_tx.send((sequence, input, done)).is_err() {
                        return;
                    }
                });
            }
            drop(done_tx);
            let mut spare_inputs: Vec<Vec<u8>> = Vec::new();
            let mut sent = 0u64;
            let mut carry = buffer;
            loop {
                let (block, rest, ended) = match next_block(&mut input, carry, spare_inputs.pop()) {
                    Ok(read) => read,
                    Err(error) => {
                        writer.fail(error.into());
                        break;
                    }
                };
                if !block.is_empty() {
                    let spare = writer.spare_outputs.pop().unwrap_or_default();
                    if work_tx.send((sent, block, spare)).is_err() {
                        break;
                    }
                    sent += 1;
                }
                carry = rest;
                // Memory stays bounded: with enough blocks out, wait for one to come back.
                while sent - writer.next > threads as u64 * 2 || (ended && writer.next < sent) {
                    let Ok((sequence, input, done)) = done_rx.recv() else {
                        break;
                    };
                    spare_inputs.push(input);
                    writer.take(sequence, done);
                    if writer.failure.is_some() {
                        break;
                    }
                }
                while let Ok((sequence, input, done)) = done_rx.try_recv() {
                    spare_inputs.push(input);
                    writer.take(sequence, done);
                }
                if ended || writer.failure.is_some() {
                    break;
                }
            }
            drop(work_tx);
            writer.output.flush()?;
            match writer.failure {
                Some(error) => Err(error),
                None => Ok(writer.summary),
            }
        })
    }
}

/// The next block of whole lines from `carry` and the input: the block, what follows
/// its last line, and whether the input has ended.
fn next_block(
    input: &mut impl Read,
    mut block: Vec<u8>,
    spare: Option<Vec<u8>>,
) -> std::io::Result<(Vec<u8>, Vec<u8>, bool)> {
    let mut rest = spare.unwrap_or_default();
    rest.clear();
    let mut searched = 0;
    loop {
        let before = block.len();
        fill(input, &mut block, before.max(BLOCK).max(searched + BLOCK))?;
        if block.len() < before.max(BLOCK).max(searched + BLOCK) {
            return Ok((block, rest, true));
        }
        // A line longer than a block grows the block until it ends.
        if let Some(at) = memrchr(b'\n', &block[searched..]) {
            rest.extend_from_slice(&block[searched + at + 1..]);
            block.truncate(searched + at + 1);
            return Ok((block, rest, false));
        }
        searched = block.len();
    }
}

/// Writes blocks in input order as they come back from the workers.
struct InOrder<'a, W: Write> {
    output: &'a mut W,
    pending: std::collections::BTreeMap<u64, Done>,
    spare_outputs: Vec<Vec<u8>>,
    next: u64,
    line_number: u64,
    summary: Summary,
    failure: Option<EnrichError>,
    source_name: &'a str,
}

impl<W: Write> InOrder<'_, W> {
    fn take(&mut self, sequence: u64, done: Done) {
        self.pending.insert(sequence, done);
        while let Some(done) = self.pending.remove(&self.next) {
            self.next += 1;
            if self.failure.is_some() {
                continue;
            }
            if let Err(error) = self.output.write_all(&done.output) {
                self.fail(error.into());
                continue;
            }
            add(&mut self.summary, &done.summary);
            if let Some((line, message)) = done.stop {
                self.fail(EnrichError::Line {
                    source_name: self.source_name.to_owned(),
                    line: self.line_number + line + 1,
                    message,
                });
                continue;
            }
            self.line_number += done.lines;
            self.spare_outputs.push(done.output);
        }
    }

    fn fail(&mut self, error: EnrichError) {
        self.failure.get_or_insert(error);
    }
}

fn add(total: &mut Summary, more: &Summary) {
    total.lines += more.lines;
    total.enriched += more.enriched;
    total.no_record += more.no_record;
    total.passed_through += more.passed_through;
}

fn split_ending(line: &[u8]) -> (&[u8], &[u8]) {
    let body_end = line
        .iter()
        .rposition(|b| !matches!(b, b'\n' | b'\r'))
        .map_or(0, |at| at + 1);
    (&line[..body_end], &line[body_end..])
}

/// Reads until `buffer` holds `size` bytes or the input ends.
fn fill(input: &mut impl Read, buffer: &mut Vec<u8>, size: usize) -> std::io::Result<()> {
    if buffer.len() >= size {
        return Ok(());
    }
    buffer.reserve(size - buffer.len());
    input
        .by_ref()
        .take((size - buffer.len()) as u64)
        .read_to_end(buffer)?;
    Ok(())
}

/// The format of a log from its first line.
pub fn detect(start: &[u8]) -> LogFormat {
    let first = start.split(|&b| b == b'\n').next().unwrap_or(b"");
    let first = first.trim_ascii_start();
    if first.starts_with(b"#separator") {
        LogFormat::Zeek
    } else if first.starts_with(b"{") {
        LogFormat::Jsonl
    } else if memchr_iter(b'\t', first).count() > memchr_iter(b',', first).count() {
        LogFormat::Tsv
    } else {
        LogFormat::Csv
    }
}

/// The fields to read, from the header; and where the data starts (after the header
/// line of CSV/TSV; 0 for Zeek, whose `#` lines are rewritten as they come, and JSON).
fn layout(
    start: &[u8],
    format: LogFormat,
    settings: &Settings,
) -> Result<(Layout, usize), EnrichError> {
    let fixed_slot = match &settings.transport {
        Some(transport) => Some(transport_slot(transport.as_bytes()).ok_or_else(|| {
            EnrichError::Header(format!(
                "--log-transport {transport:?}: use tcp, udp, sctp or dccp"
            ))
        })?),
        None => None,
    };
    let added_headers: Vec<&'static str> = settings.columns.iter().map(|c| c.header()).collect();
    let pick = |names: &[String], asked: &Option<String>, defaults: &[&str], what: &str| {
        if let Some(asked) = asked {
            return match names.iter().position(|n| n == asked) {
                Some(index) => Ok(Some(Field::Index(index, asked.clone()))),
                None => Err(EnrichError::Header(format!(
                    "the header has no {what} field {asked:?} (it has: {})",
                    names.join(", ")
                ))),
            };
        }
        Ok(defaults.iter().find_map(|d| {
            names
                .iter()
                .position(|n| n == d)
                .map(|index| Field::Index(index, (*d).to_owned()))
        }))
    };
    let need_port = |field: Option<Field>, names: &[String]| {
        field.ok_or_else(|| {
            EnrichError::Header(format!(
                "no port field: the header has none of {} (it has: {}); name it with --port-field",
                PORT_FIELDS.join(", "),
                names.join(", ")
            ))
        })
    };
    match format {
        LogFormat::Zeek => {
            let mut separator = b"\t".to_vec();
            let mut fields_line = None;
            for line in start.split(|&b| b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if !line.starts_with(b"#") {
                    break;
                }
                if let Some(rest) = line.strip_prefix(b"#separator ") {
                    separator = unescape_zeek(rest);
                } else if line.starts_with(b"#fields") {
                    fields_line = Some(line.to_vec());
                }
            }
            let Some(fields_line) = fields_line else {
                return Err(EnrichError::Header(
                    "a Zeek log without a #fields line in its header".to_owned(),
                ));
            };
            let names: Vec<String> = header_names(&fields_line, &separator, false)
                .into_iter()
                .skip(1)
                .collect();
            let port = pick(&names, &settings.port_field, &["id.resp_p"], "port")?;
            let port = need_port(port, &names)?;
            let transport = if fixed_slot.is_some() {
                None
            } else {
                pick(&names, &settings.transport_field, &["proto"], "transport")?
            };
            let timestamp = pick(&names, &settings.as_of_field, &[], "time")?;
            Ok((
                Layout {
                    format,
                    port,
                    transport,
                    separator,
                    fixed_slot,
                    zeek_fields: Some(fields_line),
                    added_headers,
                    timestamp,
                },
                0,
            ))
        }
        LogFormat::Csv | LogFormat::Tsv => {
            let separator = if format == LogFormat::Csv {
                b",".to_vec()
            } else {
                b"\t".to_vec()
            };
            let end = memchr(b'\n', start).map_or(start.len(), |at| at + 1);
            let (header, _) = split_ending(&start[..end]);
            let names = header_names(header, &separator, format == LogFormat::Csv);
            let port = pick(&names, &settings.port_field, &PORT_FIELDS, "port")?;
            let port = need_port(port, &names)?;
            let transport = if fixed_slot.is_some() {
                None
            } else {
                pick(
                    &names,
                    &settings.transport_field,
                    &TRANSPORT_FIELDS,
                    "transport",
                )?
            };
            let timestamp = pick(&names, &settings.as_of_field, &[], "time")?;
            Ok((
                Layout {
                    format,
                    separator,
                    port,
                    transport,
                    fixed_slot,
                    zeek_fields: None,
                    added_headers,
                    timestamp,
                },
                end,
            ))
        }
        LogFormat::Jsonl => {
            let keys = |asked: &Option<String>, defaults: &[&str]| match asked {
                Some(key) => vec![key.clone()],
                None => defaults.iter().map(|k| (*k).to_owned()).collect(),
            };
            Ok((
                Layout {
                    format,
                    separator: Vec::new(),
                    port: Field::Keys(keys(&settings.port_field, &PORT_FIELDS)),
                    transport: fixed_slot
                        .is_none()
                        .then(|| Field::Keys(keys(&settings.transport_field, &TRANSPORT_FIELDS))),
                    fixed_slot,
                    zeek_fields: None,
                    added_headers,
                    timestamp: settings
                        .as_of_field
                        .as_ref()
                        .map(|key| Field::Keys(vec![key.clone()])),
                },
                0,
            ))
        }
    }
}

/// `\x09` and the like, as Zeek writes its separator.
fn unescape_zeek(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut index = 0;
    while index < text.len() {
        if text[index..].starts_with(b"\\x") && index + 4 <= text.len() {
            if let Ok(byte) =
                u8::from_str_radix(&String::from_utf8_lossy(&text[index + 2..index + 4]), 16)
            {
                out.push(byte);
                index += 4;
                continue;
            }
        }
        out.push(text[index]);
        index += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_ports_and_transports() {
        assert_eq!(
            delimited_field(b"a\tb\tc", b"\t", 1, false),
            Some(&b"b"[..])
        );
        assert_eq!(
            delimited_field(b"a\tb\tc", b"\t", 2, false),
            Some(&b"c"[..])
        );
        assert_eq!(delimited_field(b"a\tb\tc", b"\t", 3, false), None);
        assert_eq!(
            delimited_field(b"\"x,y\",443,tcp", b",", 1, true),
            Some(&b"443"[..])
        );
        assert_eq!(
            delimited_field(b"\"x,y\",\"443\",tcp", b",", 1, true),
            Some(&b"443"[..])
        );
        assert_eq!(delimited_field(b"\"open,443", b",", 1, true), None);
        assert_eq!(
            delimited_field(b"a||b||c", b"||", 2, false),
            Some(&b"c"[..])
        );
        assert_eq!(port_number(b"443"), Some(443));
        assert_eq!(port_number(b"65536"), None);
        assert_eq!(port_number(b"-"), None);
        assert_eq!(port_number(b"\"22\""), Some(22));
        assert_eq!(transport_slot(b"TCP"), Some(0));
        assert_eq!(transport_slot(b"17"), Some(1));
        assert_eq!(transport_slot(b"icmp"), None);
    }

    #[test]
    fn json_members_flat_and_nested() {
        let line = br#"{"a":"x\"}","id.resp_p":443,"destination":{"port":"22","ip":[1,{"b":2}]}}"#;
        assert_eq!(json_value(line, "id.resp_p"), Some(&b"443"[..]));
        assert_eq!(json_value(line, "destination.port"), Some(&b"\"22\""[..]));
        assert_eq!(json_value(line, "missing"), None);
        assert_eq!(json_value(b"not json", "a"), None);
        assert_eq!(json_value(br#"{"a":"#, "a"), None);
    }

    #[test]
    fn zeek_escapes_its_separator() {
        let mut out = Vec::new();
        zeek_escape("a\tb\\c", b"\t", &mut out);
        assert_eq!(out, b"a\\x09b\\x5cc");
        assert_eq!(unescape_zeek(b"\\x09"), b"\t");
    }
}
