//! The pre-2010 IANA `port-numbers` text, the seed's format.
//!
//! ```text
//! (last updated 2008-02-29)
//! ...prose...
//! Keyword         Decimal    Description                     References
//! -------         -------    -----------                     ----------
//! tcpmux            1/tcp    TCP Port Service Multiplexer
//! #                          Mark Lottor <MKL&nisc.sri.com>
//! #                 4/tcp    Unassigned
//! ########### PORT 90 also being used unofficially by Pointcast #########
//! ```
//!
//! `#` lines under entries are their contacts; `#` lines shaped like entries are
//! commented entries (Unassigned rows, earlier assignments); `###` lines are banners,
//! attached to the records of the port they name; a "Previously assigned" banner pair
//! encloses the history of a port. Anything before the `(last updated` line is page
//! junk, reported and skipped.

use std::fmt::Write as _;

use super::services::one_line;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::port_range::PortSpan;
use crate::record::{Record, Reference, ReferenceKind, RegistryDate, Status};
use crate::registry::{Prose, Registry};
use crate::transport::Transport;

/// How far, in records, a banner may stand from the records of the port it names.
const BANNER_REACH: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Region {
    /// Before the `(last updated` line: web-page junk.
    Junk,
    /// Header paragraphs and section prose.
    Prose,
    /// The assignment table.
    Table,
}

/// An entry line split up.
struct Entry<'a> {
    name: Option<&'a str>,
    ports: PortSpan,
    ports_text: &'a str,
    transport: Option<&'a str>,
    transport_column: usize,
    description: &'a str,
}

struct Banner {
    lines: Vec<String>,
    before_record: usize,
}

struct HistoryBlock {
    port: Option<u16>,
    opening: String,
    closing: String,
    records: Vec<Record>,
}

#[derive(Default)]
struct Reader {
    records: Vec<Record>,
    /// Index of the first record of the group that `#` contact lines attach to.
    group_start: usize,
    /// Whether the records of the current group were commented entries.
    group_commented: bool,
    /// Whether contact lines were the last thing read (an entry then starts a new group).
    after_contacts: bool,
    banners: Vec<Banner>,
    history: Vec<HistoryBlock>,
    open_history: Option<HistoryBlock>,
    prose: Vec<Prose>,
    prose_lines: Vec<String>,
}

pub(super) fn read(text: &str, diagnostics: &mut Diagnostics) -> Result<Registry, Diagnostic> {
    let mut registry = Registry::default();
    let mut reader = Reader::default();
    let has_date_line = text.contains("(last updated");
    let mut region = if has_date_line {
        Region::Junk
    } else {
        Region::Prose
    };
    for (number, raw) in super::numbered_lines(text) {
        let line = raw.replace('\u{a0}', " ");
        let trimmed = line.trim();
        if region == Region::Junk {
            if let Some(at) = line.find("(last updated") {
                registry.meta.legacy_updated = Some(trimmed.to_owned());
                registry.meta.updated =
                    written_date(line[at + "(last updated".len()..].trim_end_matches([')', ' ']));
                region = Region::Prose;
            } else if !trimmed.is_empty() {
                let column = line.len() - line.trim_start().len() + 1;
                diagnostics.skip(Diagnostic::new(
                    number,
                    column,
                    "the \"(last updated ...)\" line that opens the list",
                    trimmed,
                ))?;
            }
            continue;
        }
        if is_table_header(trimmed) {
            reader.flush_prose();
            region = Region::Table;
            continue;
        }
        if region == Region::Prose {
            reader.prose_lines.push(line.trim_end().to_owned());
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        if is_section_title(trimmed) {
            region = Region::Prose;
            reader.prose_lines.push(line.trim_end().to_owned());
            continue;
        }
        reader.table_line(&line, number, diagnostics)?;
    }
    reader.flush_prose();
    reader.close_history();
    registry.meta.prose = std::mem::take(&mut reader.prose);
    registry.records = reader.finish();
    Ok(registry)
}

fn is_table_header(trimmed: &str) -> bool {
    let words: Vec<&str> = trimmed.split_whitespace().collect();
    words.starts_with(&["Keyword", "Decimal"])
        || (words.len() >= 2 && words.iter().all(|w| w.bytes().all(|b| b == b'-')))
}

fn is_section_title(trimmed: &str) -> bool {
    trimmed.len() >= 4
        && trimmed
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b' ' || b == b'/')
        && trimmed.bytes().filter(u8::is_ascii_uppercase).count() >= 4
}

impl Reader {
    fn flush_prose(&mut self) {
        while self.prose_lines.last().is_some_and(|l| l.trim().is_empty()) {
            self.prose_lines.pop();
        }
        let first = self
            .prose_lines
            .iter()
            .position(|l| !l.trim().is_empty())
            .unwrap_or(self.prose_lines.len());
        if first < self.prose_lines.len() {
            self.prose.push(Prose {
                before_record: self.records.len(),
                text: self.prose_lines[first..].join("\n"),
            });
        }
        self.prose_lines.clear();
    }

    fn table_line(
        &mut self,
        line: &str,
        number: usize,
        diagnostics: &mut Diagnostics,
    ) -> Result<(), Diagnostic> {
        if !self.prose_lines.is_empty()
            && (line.starts_with('#') || parse_entry(line, false).is_some())
        {
            self.flush_prose();
        }
        if line.starts_with("###") {
            return self.banner_line(line);
        }
        if let Some(body) = line.strip_prefix('#') {
            if let Some(entry) = parse_entry(body, true) {
                let record = entry_record(&entry, true, number)?;
                if let Some(block) = &mut self.open_history {
                    block.records.push(record);
                } else {
                    self.push_record(record, true);
                }
                return Ok(());
            }
            let contact = body.trim();
            if contact.is_empty() {
                // A bare `#` closes a group that has no contacts.
                self.after_contacts = true;
            } else {
                self.contact_line(contact);
            }
            return Ok(());
        }
        match parse_entry(line, false) {
            Some(entry) => {
                let record = entry_record(&entry, false, number)?;
                self.push_record(record, false);
                Ok(())
            }
            None if looks_like_entry(line) => {
                let column = line.len() - line.trim_start().len() + 1;
                diagnostics.skip(Diagnostic::new(
                    number,
                    column,
                    "an entry \"keyword port/protocol description\"",
                    line.trim(),
                ))
            }
            None => {
                // A note inside the table, such as the "(*)" footnote of the 2008 list.
                self.prose_lines.push(line.trim_end().to_owned());
                Ok(())
            }
        }
    }

    fn push_record(&mut self, record: Record, commented: bool) {
        if self.after_contacts || commented != self.group_commented {
            self.group_start = self.records.len();
            self.group_commented = commented;
            self.after_contacts = false;
        }
        self.records.push(record);
    }

    fn contact_line(&mut self, contact: &str) {
        let group: &mut [Record] = match &mut self.open_history {
            Some(block) => {
                let start = block
                    .records
                    .iter()
                    .rposition(|r| !r.contacts.is_empty())
                    .map_or(0, |i| i + 1);
                let start = start.min(block.records.len().saturating_sub(1));
                &mut block.records[start..]
            }
            None => &mut self.records[self.group_start..],
        };
        let references = references_only(contact);
        for record in group.iter_mut() {
            match &references {
                Some(references) => record.references.extend(references.iter().cloned()),
                None => record.contacts.push(contact.to_owned()),
            }
        }
        self.after_contacts = true;
    }

    fn banner_line(&mut self, line: &str) -> Result<(), Diagnostic> {
        let text = line.trim_end().to_owned();
        let lower = text.to_ascii_lowercase();
        if lower.contains("previously assigned") {
            if lower.contains("above") {
                if let Some(mut block) = self.open_history.take() {
                    block.closing = text;
                    self.history.push(block);
                    return Ok(());
                }
            } else {
                self.close_history();
                self.open_history = Some(HistoryBlock {
                    port: first_number(&text),
                    opening: text,
                    closing: String::new(),
                    records: Vec::new(),
                });
                return Ok(());
            }
        }
        match self.banners.last_mut() {
            Some(banner) if banner.before_record == self.records.len() => banner.lines.push(text),
            _ => self.banners.push(Banner {
                lines: vec![text],
                before_record: self.records.len(),
            }),
        }
        Ok(())
    }

    fn close_history(&mut self) {
        if let Some(block) = self.open_history.take() {
            self.history.push(block);
        }
    }

    /// Attaches banners and history blocks to the records they concern.
    fn finish(mut self) -> Vec<Record> {
        for banner in std::mem::take(&mut self.banners) {
            let port = banner.lines.iter().find_map(|l| first_number(l));
            let near = |index: usize| {
                index + BANNER_REACH >= banner.before_record
                    && index < banner.before_record + BANNER_REACH
            };
            let mut carriers: Vec<usize> = match port {
                Some(port) => (0..self.records.len())
                    .filter(|&i| {
                        near(i)
                            && self.records[i]
                                .ports
                                .is_some_and(|span| span.contains(port))
                    })
                    .collect(),
                None => Vec::new(),
            };
            if carriers.is_empty() {
                let next = banner
                    .before_record
                    .min(self.records.len().saturating_sub(1));
                carriers.extend((next < self.records.len()).then_some(next));
            }
            let text = banner.lines.join("\n");
            for index in carriers {
                self.records[index].extra.banners.push(text.clone());
            }
        }
        for block in std::mem::take(&mut self.history) {
            for mut entry in block.records {
                entry.extra.banners = vec![block.opening.clone(), block.closing.clone()];
                entry.status = Status::Deassigned;
                let port = entry.ports.map(|span| span.low).or(block.port);
                let on_port =
                    |r: &Record| port.is_some_and(|p| r.ports.is_some_and(|span| span.contains(p)));
                let mut carriers: Vec<usize> = (0..self.records.len())
                    .filter(|&i| {
                        on_port(&self.records[i]) && self.records[i].transport == entry.transport
                    })
                    .collect();
                if carriers.is_empty() {
                    carriers = (0..self.records.len())
                        .filter(|&i| on_port(&self.records[i]))
                        .collect();
                }
                if carriers.is_empty() {
                    // Nothing holds that port any more: keep the entry as a record of its own.
                    self.records.push(entry);
                    continue;
                }
                for index in carriers {
                    self.records[index].extra.history.push(entry.clone());
                }
            }
        }
        self.records
    }
}

/// A line that tries to be an entry: its port column starts with a digit.
fn looks_like_entry(line: &str) -> bool {
    let mut fields = line.split_whitespace();
    let port_field = if line.starts_with(char::is_whitespace) {
        fields.next()
    } else {
        fields.nth(1)
    };
    port_field.is_some_and(|field| field.starts_with(|c: char| c.is_ascii_digit()))
}

/// The first number of 1 to 5 digits in a banner, if it is a port.
fn first_number(text: &str) -> Option<u16> {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|part| !part.is_empty())
        .and_then(|part| part.parse().ok())
}

/// A contact line made only of bracketed references (`[RFC4960]`).
fn references_only(contact: &str) -> Option<Vec<Reference>> {
    let mut rest = contact.trim();
    let mut references = Vec::new();
    while !rest.is_empty() {
        let body = rest.strip_prefix('[')?;
        let close = body.find(']')?;
        references.push(typed_reference(&body[..close])?);
        rest = body[close + 1..].trim_start();
    }
    (!references.is_empty()).then_some(references)
}

/// A bracketed label that names an RFC, a draft, a URI or a footnote; free text in
/// brackets stays where it is.
fn typed_reference(label: &str) -> Option<Reference> {
    let reference = Reference::from_label(label);
    (reference.kind != ReferenceKind::Text).then_some(reference)
}

/// Splits an entry line. `commented` lines (after their `#`) need a `/protocol`, so that
/// contact lines are never taken for entries.
fn parse_entry(line: &str, commented: bool) -> Option<Entry<'_>> {
    let mut rest = line;
    let name = if line.starts_with(|c: char| !c.is_whitespace()) {
        let end = line.find(char::is_whitespace)?;
        rest = &line[end..];
        Some(&line[..end])
    } else {
        None
    };
    let start = rest.len() - rest.trim_start().len();
    let after = &rest[start..];
    let field_end = after.find(char::is_whitespace).unwrap_or(after.len());
    let field = &after[..field_end];
    let (ports_text, transport) = match field.split_once('/') {
        Some((ports, transport)) => (ports, Some(transport)),
        None => (field, None),
    };
    let offset = line.len() - after.len();
    // A commented line without a protocol is a contact, unless it is a nameless row whose
    // port stands in the port column (`#                81         Unassigned`, as the
    // writer lays out a row for every transport); contacts start at column 27.
    if transport.is_none() && commented && (name.is_some() || offset > 20) {
        return None;
    }
    let ports: PortSpan = ports_text.parse().ok()?;
    // The protocol starts after the port text and its '/'.
    let transport_column = line[..offset + ports_text.len()].chars().count() + 2;
    Some(Entry {
        name,
        ports,
        ports_text,
        transport,
        transport_column,
        description: after[field_end..].trim(),
    })
}

fn entry_record(entry: &Entry<'_>, commented: bool, number: usize) -> Result<Record, Diagnostic> {
    let transport = match entry.transport {
        Some(token) => match token.parse::<Transport>() {
            Ok(transport) => Some(transport),
            Err(_) => {
                let column = entry.transport_column + usize::from(commented);
                return Err(Diagnostic::new(
                    number,
                    column,
                    "a protocol name after '/'",
                    token,
                ));
            }
        },
        None => None,
    };
    let (description, tags) = split_tags(entry.description);
    let mut record = Record {
        name: entry.name.map(str::to_owned),
        ports: Some(entry.ports),
        transport,
        description: Some(description.to_owned()).filter(|d| !d.is_empty()),
        ..Record::default()
    };
    for tag in tags {
        if let Some(was) = tag.strip_prefix("was ") {
            record.notes = Some(format!("was {was}"));
        } else if is_unauthorized(tag) {
            record.unauthorized_use = Some(tag.to_owned());
        }
    }
    if entry.ports.to_string() != entry.ports_text {
        record.extra.ports_as_written = Some(entry.ports_text.to_owned());
    }
    record.extra.commented = Some(commented);
    record.status = record.derive_status();
    Ok(record)
}

fn is_unauthorized(tag: &str) -> bool {
    tag.to_ascii_lowercase().contains("unauthorized")
}

/// Splits trailing bracketed tags that carry a field (`[was netstat]`, `[unauthorized
/// use]`, `[RFC4340]`) off a description; other bracketed text stays in it.
fn split_tags(description: &str) -> (&str, Vec<&str>) {
    let mut rest = description.trim_end();
    let mut tags = Vec::new();
    while let Some(body) = rest.strip_suffix(']') {
        let Some(open) = body.rfind('[') else { break };
        let tag = &body[open + 1..];
        // References stand on `#` lines of their own in the list; a bracket on an entry
        // line (`IPX [RFC1234]`) is description.
        let carries_field = tag.starts_with("was ") || is_unauthorized(tag);
        if !carries_field || tag.contains(']') {
            break;
        }
        tags.push(tag);
        rest = body[..open].trim_end();
    }
    tags.reverse();
    (rest, tags)
}

pub(super) fn write(registry: &Registry) -> String {
    let mut out = String::new();
    let meta = &registry.meta;
    let date_line = match (&meta.legacy_updated, &meta.updated) {
        (Some(line), _) => line.clone(),
        (None, Some(date)) => format!("(last updated {date})"),
        (None, None) => "(last updated)".to_owned(),
    };
    out.push_str(&date_line);
    out.push_str("\n\n");
    let mut prose = meta.prose.iter().peekable();
    let mut written_banners: Vec<&str> = Vec::new();
    let records = &registry.records;
    let mut in_table = false;
    let mut index = 0;
    while index < records.len() || prose.peek().is_some() {
        while let Some(block) = prose.next_if(|p| p.before_record <= index) {
            out.push_str(&block.text);
            out.push_str("\n\n");
            in_table = false;
        }
        if index >= records.len() {
            continue;
        }
        if !in_table {
            out.push_str("Keyword         Decimal    Description                     References\n");
            out.push_str("-------         -------    -----------                     ----------\n");
            in_table = true;
        }
        // A group: records that share their contacts, up to the next prose block.
        let next_prose = prose
            .peek()
            .map_or(records.len(), |p| p.before_record.max(index + 1));
        let mut end = index + 1;
        while end < records.len().min(next_prose) && same_group(&records[index], &records[end]) {
            end += 1;
        }
        for record in &records[index..end] {
            for banner in &record.extra.banners {
                if !written_banners.contains(&banner.as_str()) {
                    written_banners.push(banner);
                    out.push_str(banner);
                    out.push('\n');
                }
            }
            write_entry(&mut out, record);
        }
        write_contacts(&mut out, &records[index]);
        let mut history: Vec<&Record> = Vec::new();
        for entry in records[index..end].iter().flat_map(|r| &r.extra.history) {
            if !history.contains(&entry) {
                history.push(entry);
            }
        }
        write_history(&mut out, &history);
        index = end;
    }
    out
}

fn same_group(a: &Record, b: &Record) -> bool {
    is_commented(a) == is_commented(b)
        && a.contacts == b.contacts
        && a.references == b.references
        && a.extra.history.is_empty()
}

fn is_commented(record: &Record) -> bool {
    record
        .extra
        .commented
        .unwrap_or(record.status == Status::Unassigned)
}

fn write_entry(out: &mut String, record: &Record) {
    let ports = record.ports_text().unwrap_or_default();
    let column = match &record.transport {
        Some(transport) => format!("{ports}/{transport}"),
        None => ports,
    };
    let name = record.name.as_deref().unwrap_or("");
    let prefix = if is_commented(record) { "#" } else { "" };
    let width = 16usize.saturating_sub(prefix.len());
    let mut line = format!("{prefix}{name:<width$}");
    let slash = column.find('/').unwrap_or(column.len());
    let pad = 18usize.saturating_sub(line.len() + slash).max(1);
    let _ = write!(line, "{:pad$}{column:<9}  ", "");
    // The description, then the fields written as tags, one space apart.
    let mut tail: Vec<String> = record
        .description
        .as_deref()
        .map(one_line)
        .filter(|d| !d.is_empty())
        .into_iter()
        .collect();
    if let Some(notes) = record.notes.as_deref().filter(|n| n.starts_with("was ")) {
        tail.push(super::bracketed(&one_line(notes)));
    }
    if let Some(unauthorized) = &record.unauthorized_use {
        tail.push(super::bracketed(&one_line(unauthorized)));
    }
    line.push_str(&tail.join(" "));
    out.push_str(line.trim_end());
    out.push('\n');
}

fn write_contacts(out: &mut String, record: &Record) {
    if record.contacts.is_empty() && record.references.is_empty() {
        out.push_str("#\n");
    }
    for contact in &record.contacts {
        let _ = writeln!(out, "#                          {contact}");
    }
    if !record.references.is_empty() {
        let labels: String = record
            .references
            .iter()
            .map(|r| super::bracketed(&one_line(&r.label())))
            .collect();
        let _ = writeln!(out, "#                          {labels}");
    }
}

fn write_history(out: &mut String, history: &[&Record]) {
    let mut index = 0;
    while index < history.len() {
        let banners = &history[index].extra.banners;
        let (opening, closing) = match banners.as_slice() {
            [opening, closing, ..] => (opening.clone(), closing.clone()),
            _ => {
                let port = history[index].ports.map(|s| s.low).unwrap_or(0);
                (
                    format!(
                        "###########Port {port} Previously assigned to application below#######"
                    ),
                    format!(
                        "###########Port {port} Previously assigned to application above#######"
                    ),
                )
            }
        };
        out.push_str(&opening);
        out.push('\n');
        let mut end = index;
        while end < history.len() && history[end].extra.banners == *banners {
            let mut entry = history[end].clone();
            entry.extra.commented = Some(true);
            write_entry(out, &entry);
            let last_of_group = history.get(end + 1).is_none_or(|next| {
                next.contacts != entry.contacts || next.extra.banners != *banners
            });
            if last_of_group {
                write_contacts(out, &entry);
            }
            end += 1;
        }
        if !closing.is_empty() {
            out.push_str(&closing);
            out.push('\n');
        }
        index = end.max(index + 1);
    }
}

/// The list's date as written: `2008-02-29`, or `2001 Sept 17` in the older copies.
fn written_date(text: &str) -> Option<RegistryDate> {
    let text = text.trim();
    if let Ok(date) = text.parse() {
        return Some(date);
    }
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let mut parts = text.split_whitespace();
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let month = month.get(..3)?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| *m == month)? + 1;
    let day: u32 = day.trim_end_matches(',').parse().ok()?;
    let year: u32 = year.parse().ok()?;
    format!("{year:04}-{month:02}-{day:02}").parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_both_ways_of_writing_the_date() {
        assert_eq!(
            super::written_date("2008-02-29").map(|d| d.to_string()),
            Some("2008-02-29".to_owned())
        );
        assert_eq!(
            super::written_date("2001 Sept 17").map(|d| d.to_string()),
            Some("2001-09-17".to_owned())
        );
        assert_eq!(super::written_date("someday"), None);
    }

    use super::*;

    #[test]
    fn splits_entries() {
        let entry = parse_entry("x11             6000-6063/tcp   X Window System", false).unwrap();
        assert_eq!(entry.name, Some("x11"));
        assert_eq!(
            entry.ports,
            PortSpan {
                low: 6000,
                high: 6063
            }
        );
        assert_eq!(entry.transport, Some("tcp"));
        assert_eq!(entry.description, "X Window System");
        let nameless =
            parse_entry("                 24/tcp    any private mail system", false).unwrap();
        assert_eq!(nameless.name, None);
        assert!(parse_entry(
            "                          Jon Postel <postel@isi.edu>",
            true
        )
        .is_none());
        assert!(parse_entry("RFC 4430, March 2006.", true).is_none());
    }

    #[test]
    fn splits_trailing_tags() {
        assert_eq!(
            split_tags("Unassigned [was netstat]"),
            ("Unassigned", vec!["was netstat"])
        );
        assert_eq!(
            split_tags("[unauthorized use]"),
            ("", vec!["unauthorized use"])
        );
        assert_eq!(split_tags("Echo"), ("Echo", vec![]));
        assert_eq!(
            split_tags("File Transfer [Default Data]"),
            ("File Transfer [Default Data]", vec![])
        );
        // References stand on `#` lines; on an entry line a bracket is description.
        assert_eq!(
            split_tags("Discard [RFC863] [RFC4340]"),
            ("Discard [RFC863] [RFC4340]", vec![])
        );
    }
}
