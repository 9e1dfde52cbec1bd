//! services(5) (`name port/proto [aliases] [# comment]`) and Wireshark's dialect, which
//! merges transports (`9/tcp/udp/sctp/dccp`) and allows ranges.

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::port_range::PortSpan;
use crate::record::Record;
use crate::registry::Registry;
use crate::transport::Transport;

pub(super) fn read(text: &str, diagnostics: &mut Diagnostics) -> Result<Registry, Diagnostic> {
    let mut registry = Registry::default();
    for (number, line) in super::numbered_lines(text) {
        match parse_line(line) {
            Ok(records) => registry.records.extend(records),
            Err((column, expected, found)) => {
                diagnostics.skip(Diagnostic::new(number, column, expected, &found))?
            }
        }
    }
    Ok(registry)
}

/// A line split into its fields, with each field's 1-based character column.
pub(super) struct Fields<'a> {
    pub fields: Vec<(usize, &'a str)>,
    pub comment: Option<&'a str>,
}

/// Splits a services-style line: whitespace-separated fields, then a `#` comment
/// (which may be glued to the last field). NBSP counts as whitespace.
pub(super) fn split_fields(line: &str) -> Fields<'_> {
    let (data, comment) = match line.find('#') {
        Some(hash) => (&line[..hash], Some(line[hash + 1..].trim())),
        None => (line, None),
    };
    let mut fields = Vec::new();
    let mut start = None;
    for (index, (byte, c)) in data.char_indices().enumerate() {
        let blank = c.is_whitespace();
        match (blank, start) {
            (false, None) => start = Some((index, byte)),
            (true, Some((column, from))) => {
                fields.push((column + 1, &data[from..byte]));
                start = None;
            }
            _ => {}
        }
    }
    if let Some((column, from)) = start {
        fields.push((column + 1, &data[from..]));
    }
    Fields { fields, comment }
}

/// Parses `port[-port]/proto[/proto...]` into a span and its transports.
pub(super) fn port_and_transports(field: &str) -> Result<(PortSpan, Vec<Transport>), &'static str> {
    let mut parts = field.split('/');
    let span = parts
        .next()
        .unwrap_or("")
        .parse()
        .map_err(|_| "a port or range before '/'")?;
    let transports = parts
        .map(|p| p.parse().map_err(|_| "a protocol name after '/'"))
        .collect::<Result<Vec<_>, _>>()?;
    if transports.is_empty() {
        return Err("port/protocol");
    }
    Ok((span, transports))
}

type LineError = (usize, &'static str, String);

fn parse_line(line: &str) -> Result<Vec<Record>, LineError> {
    let Fields { fields, comment } = split_fields(line);
    let Some(&(first_column, first)) = fields.first() else {
        return Ok(Vec::new());
    };
    // A line may lack the name: its first field is then the port.
    let (name, rest) = match port_and_transports(first) {
        Ok(_) => (None, &fields[..]),
        Err(_) => (Some(first.to_owned()), &fields[1..]),
    };
    let Some(&(column, port_field)) = rest.first() else {
        return Err((
            first_column + first.chars().count(),
            "port/protocol after the name",
            String::new(),
        ));
    };
    let (span, transports) =
        port_and_transports(port_field).map_err(|e| (column, e, port_field.to_owned()))?;
    let aliases: Vec<String> = rest[1..]
        .iter()
        .map(|(_, alias)| (*alias).to_owned())
        .collect();
    let description = comment.filter(|c| !c.is_empty()).map(str::to_owned);
    Ok(transports
        .into_iter()
        .map(|transport| {
            let mut record = Record {
                name: name.clone(),
                aliases: aliases.clone(),
                ports: Some(span),
                transport: Some(transport),
                description: description.clone(),
                ..Record::default()
            };
            record.status = record.derive_status();
            record
        })
        .collect())
}

pub(super) fn write(registry: &Registry, merge_transports: bool) -> String {
    let mut out = String::new();
    let records: Vec<&Record> = registry
        .records
        .iter()
        .filter(|r| r.ports.is_some() && r.transport.is_some())
        .collect();
    let mut index = 0;
    while index < records.len() {
        let record = records[index];
        let mut transports = vec![record.transport.as_ref().map_or("", |t| t.as_str())];
        let mut next = index + 1;
        while merge_transports && next < records.len() && same_line(record, records[next]) {
            transports.push(records[next].transport.as_ref().map_or("", |t| t.as_str()));
            next += 1;
        }
        index = next;
        out.push_str(record.name.as_deref().unwrap_or(""));
        out.push('\t');
        if let Some(span) = record.ports {
            out.push_str(&span.to_string());
        }
        for transport in transports {
            out.push('/');
            out.push_str(transport);
        }
        for alias in &record.aliases {
            out.push('\t');
            out.push_str(alias);
        }
        if let Some(description) = &record.description {
            out.push_str("\t# ");
            out.push_str(&one_line(description));
        }
        out.push('\n');
    }
    out
}

fn same_line(a: &Record, b: &Record) -> bool {
    a.name == b.name
        && a.ports == b.ports
        && a.aliases == b.aliases
        && a.description.as_deref().map(one_line) == b.description.as_deref().map(one_line)
        && a.transport != b.transport
}

/// A description on one line, as line formats need it: a multi-line text has its
/// white space folded; a one-line text is kept as it is.
pub(super) fn one_line(text: &str) -> String {
    if text.contains(['\n', '\r']) {
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_classic_and_wireshark_lines() {
        let records = parse_line("discard\t9/tcp/udp\tsink null\t# Discard").unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].transport, Some(Transport::Udp));
        assert_eq!(records[0].aliases, ["sink", "null"]);
        assert_eq!(records[0].description.as_deref(), Some("Discard"));
        let glued = parse_line("foo 1/tcp bar#note").unwrap();
        assert_eq!(glued[0].aliases, ["bar"]);
        assert_eq!(glued[0].description.as_deref(), Some("note"));
        let nameless = parse_line("\t6000-6063/tcp").unwrap();
        assert_eq!(nameless[0].name, None);
        assert_eq!(parse_line("foo 1/t@p").unwrap_err().0, 5);
        assert!(parse_line("# only a comment").unwrap().is_empty());
    }
}
