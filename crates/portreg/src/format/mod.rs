//! Every form of the registry, read and written.
//!
//! Readers take the raw bytes (UTF-8, or Latin-1 where they are not UTF-8), CRLF or LF,
//! with or without a final newline. In lenient mode every line a reader cannot use is
//! reported as a warning and skipped; in strict mode the first one is an error.

mod iana_csv;
mod iana_txt;
mod iana_xml;
mod json;
mod legacy;
mod nmap;
mod services;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::diagnostic::Diagnostics;
use crate::registry::Registry;

pub use crate::diagnostic::{Diagnostic, ParseError};
pub use json::{
    record_from_json, record_from_json_text, record_to_json, write_document as write_json_document,
    JsonRecord,
};

/// A registry format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// IANA's XML, the master form.
    IanaXml,
    /// IANA's 12-column CSV.
    IanaCsv,
    /// IANA's fixed-width plain-text table.
    IanaTxt,
    /// The pre-2010 `port-numbers` text (the seed's format).
    Legacy,
    /// services(5), one transport a line.
    Services,
    /// services(5) in Wireshark's dialect: transports merged (`9/tcp/udp`) and ranges.
    Wireshark,
    /// nmap-services, with open frequencies.
    Nmap,
    /// A JSON array of records.
    Json,
    /// One JSON record a line.
    Jsonl,
}

impl Format {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [Format; 9] = [
        Format::IanaXml,
        Format::IanaCsv,
        Format::IanaTxt,
        Format::Legacy,
        Format::Services,
        Format::Wireshark,
        Format::Nmap,
        Format::Json,
        Format::Jsonl,
    ];

    /// The format's id on the command line.
    pub fn id(self) -> &'static str {
        match self {
            Format::IanaXml => "iana-xml",
            Format::IanaCsv => "iana-csv",
            Format::IanaTxt => "iana-txt",
            Format::Legacy => "legacy",
            Format::Services => "services",
            Format::Wireshark => "wireshark",
            Format::Nmap => "nmap",
            Format::Json => "json",
            Format::Jsonl => "jsonl",
        }
    }

    /// Whether a record can be written in this format: the line formats need a port
    /// and a transport, and services(5) a name (glibc ignores a nameless line); the
    /// legacy list has no place for a record without a port.
    ///
    /// In the whitespace-separated formats a name or an alias with a space cannot be
    /// written (the 2013 plain text has `Apple Remote Desktop (Net Assistant)`).
    pub fn can_hold(self, record: &crate::record::Record) -> bool {
        // A name is one word, and never starts a comment.
        let one_word = |name: &String| {
            !name.is_empty()
                && !name.contains(|c: char| c.is_whitespace() || c == '#' || breaks_lines(c))
        };
        let words = record.name.iter().chain(&record.aliases).all(one_word);
        match self {
            Format::Services | Format::Wireshark => {
                record.ports.is_some()
                    && record.transport.is_some()
                    && record.name.is_some()
                    && words
            }
            Format::Nmap => record.ports.is_some() && record.transport.is_some() && words,
            Format::Legacy => record.ports.is_some() && words,
            _ => true,
        }
    }

    /// The characters a field of this format cannot hold, where there are any.
    fn unwritable(self) -> Option<fn(char) -> bool> {
        match self {
            Format::Json | Format::Jsonl | Format::IanaXml => None,
            Format::IanaCsv => Some(|c| c.is_control() && !matches!(c, '\n' | '\r')),
            _ => Some(breaks_lines),
        }
    }

    /// Guesses the format from the content.
    pub fn detect(bytes: &[u8]) -> Option<Format> {
        let text = decode(bytes);
        let head: String = text.chars().take(4096).collect();
        let trimmed = head.trim_start_matches('\u{feff}').trim_start();
        if trimmed.starts_with("<?xml") || trimmed.starts_with("<registry") {
            return Some(Format::IanaXml);
        }
        if trimmed.starts_with("Service Name,Port Number") {
            return Some(Format::IanaCsv);
        }
        if trimmed.starts_with('[') || json::is_document(trimmed) {
            return Some(Format::Json);
        }
        if trimmed.starts_with('{') {
            return Some(Format::Jsonl);
        }
        if head.contains("Service Name and Transport Protocol Port Number Registry") {
            return Some(Format::IanaTxt);
        }
        if text.contains("(last updated") || text.contains("Keyword         Decimal") {
            return Some(Format::Legacy);
        }
        let data_lines = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .take(50)
            .collect::<Vec<_>>();
        if data_lines.is_empty() {
            return None;
        }
        let nmap_like = data_lines.iter().all(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() >= 3 && fields[1].contains('/') && fields[2].parse::<f64>().is_ok()
        });
        if nmap_like {
            return Some(Format::Nmap);
        }
        let services_like = data_lines
            .iter()
            .filter(|line| {
                line.split_whitespace()
                    .nth(1)
                    .is_some_and(|f| f.contains('/'))
            })
            .count();
        if services_like * 2 >= data_lines.len() {
            let merged = data_lines.iter().any(|line| {
                line.split_whitespace()
                    .nth(1)
                    .is_some_and(|f| f.matches('/').count() > 1)
            });
            return Some(if merged {
                Format::Wireshark
            } else {
                Format::Services
            });
        }
        None
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// An unknown format id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}; expected one of iana-xml, iana-csv, iana-txt, legacy, services, wireshark, nmap, json, jsonl")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.id().eq_ignore_ascii_case(id))
            .ok_or_else(|| UnknownFormat(id.to_owned()))
    }
}

/// How to read.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    /// Stop at the first line that cannot be read.
    pub strict: bool,
    /// The input's name in messages (a path, or `<stdin>`).
    pub source_name: String,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            strict: false,
            source_name: "<input>".to_owned(),
        }
    }
}

/// A registry read, with the lines that were skipped.
#[derive(Clone, Debug)]
pub struct ReadOutcome {
    /// What was read.
    pub registry: Registry,
    /// Every skipped line, in order (empty in strict mode).
    pub warnings: Vec<Diagnostic>,
}

/// Reads a registry in `format` from raw bytes.
pub fn read(
    bytes: &[u8],
    format: Format,
    options: &ReadOptions,
) -> Result<ReadOutcome, ParseError> {
    let text = decode(bytes);
    let mut diagnostics = Diagnostics::new(options.strict);
    let result = match format {
        Format::IanaXml => iana_xml::read(&text, &mut diagnostics),
        Format::IanaCsv => iana_csv::read(&text, &mut diagnostics),
        Format::IanaTxt => iana_txt::read(&text, &mut diagnostics),
        Format::Legacy => legacy::read(&text, &mut diagnostics),
        Format::Services | Format::Wireshark => services::read(&text, &mut diagnostics),
        Format::Nmap => nmap::read(&text, &mut diagnostics),
        Format::Json => json::read_array(&text),
        Format::Jsonl => json::read_lines(&text, &mut diagnostics),
    };
    match result {
        Ok(registry) => Ok(ReadOutcome {
            registry,
            warnings: diagnostics.into_warnings(),
        }),
        Err(diagnostic) => Err(ParseError {
            source_name: options.source_name.clone(),
            diagnostic,
        }),
    }
}

/// Writes a registry in `format`; records the format cannot hold ([`Format::can_hold`])
/// are left out.
pub fn write(registry: &Registry, format: Format) -> String {
    // Text formats carry no control character inside a field (line formats no line
    // break either; CSV quotes those): such a character becomes a space, so that what is
    // written always reads back. XML is cleaned as a whole, after writing.
    let cleaned;
    let registry = match format.unwritable() {
        Some(unwritable) => {
            let mut copy = registry.clone();
            for record in &mut copy.records {
                record.for_each_text_mut(&mut |text| {
                    if text.contains(unwritable) {
                        *text = text
                            .chars()
                            .map(|c| if unwritable(c) { ' ' } else { c })
                            .collect();
                    }
                });
            }
            cleaned = copy;
            &cleaned
        }
        None => registry,
    };
    if registry.records.iter().all(|r| format.can_hold(r)) {
        return write_held(registry, format);
    }
    let mut held = Registry {
        meta: registry.meta.clone(),
        records: Vec::with_capacity(registry.records.len()),
        people: registry.people.clone(),
    };
    // Prose stands before a record by index: count only the records kept.
    let mut kept_before = Vec::with_capacity(registry.records.len() + 1);
    for record in &registry.records {
        kept_before.push(held.records.len());
        if format.can_hold(record) {
            held.records.push(record.clone());
        }
    }
    kept_before.push(held.records.len());
    for prose in &mut held.meta.prose {
        prose.before_record = kept_before[prose.before_record.min(registry.records.len())];
    }
    write_held(&held, format)
}

/// Whether XML 1.0 holds `c` (its `Char` production).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

fn write_held(registry: &Registry, format: Format) -> String {
    match format {
        // XML 1.0 cannot hold some characters at all, not even as references: each
        // becomes U+FFFD, so that every XML reader takes the file.
        Format::IanaXml => {
            let xml = iana_xml::write(registry);
            if xml.contains(|c| !is_xml_char(c)) {
                xml.chars()
                    .map(|c| if is_xml_char(c) { c } else { '\u{fffd}' })
                    .collect()
            } else {
                xml
            }
        }
        Format::IanaCsv => iana_csv::write(registry),
        Format::IanaTxt => iana_txt::write(registry),
        Format::Legacy => legacy::write(registry),
        Format::Services => services::write(registry, false),
        Format::Wireshark => services::write(registry, true),
        Format::Nmap => nmap::write(registry),
        Format::Json => json::write_array(&registry.records),
        Format::Jsonl => json::write_lines(&registry.records),
    }
}

/// Whether `c` may not stand inside a field of a line format: a control character other
/// than a tab, or a line or paragraph separator.
fn breaks_lines(c: char) -> bool {
    (c.is_control() && c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')
}

/// `[text]`, as the text formats enclose a person, a reference or a note: a bracket
/// inside would end it early, so it becomes a parenthesis.
pub(super) fn bracketed(text: &str) -> String {
    let inner: String = text
        .chars()
        .map(|c| match c {
            '[' => '(',
            ']' => ')',
            c => c,
        })
        .collect();
    format!("[{inner}]")
}

/// Decodes input: UTF-8 when it is valid UTF-8 (a BOM dropped), else Latin-1, byte for
/// byte, so that no byte is ever lost.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}

/// The lines of a text with their 1-based numbers, CR before LF removed; a final
/// newline does not start another line.
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.split('\n')
        .enumerate()
        .map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_input_keeps_every_byte() {
        let text = decode(b"caf\xe9 \xa0x");
        assert_eq!(text, "caf\u{e9} \u{a0}x");
    }

    #[test]
    fn format_ids_parse_back() {
        for format in Format::ALL {
            assert_eq!(format.id().parse(), Ok(format));
        }
        assert!("yaml".parse::<Format>().is_err());
    }
}
