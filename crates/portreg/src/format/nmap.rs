//! nmap-services: `name<TAB>port/proto<TAB>frequency[<TAB># comment]`.

use super::services::{one_line, port_and_transports, split_fields, Fields};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::record::Record;
use crate::registry::Registry;

/// nmap's name for a port it knows no service for.
const UNKNOWN: &str = "unknown";

pub(super) fn read(text: &str, diagnostics: &mut Diagnostics) -> Result<Registry, Diagnostic> {
    let mut registry = Registry::default();
    for (number, line) in super::numbered_lines(text) {
        let Fields { fields, comment } = split_fields(line);
        if fields.is_empty() {
            continue;
        }
        match parse(&fields, comment) {
            Ok(record) => registry.records.push(record),
            Err((column, expected, found)) => {
                diagnostics.skip(Diagnostic::new(number, column, expected, found))?
            }
        }
    }
    Ok(registry)
}

fn parse<'a>(
    fields: &[(usize, &'a str)],
    comment: Option<&str>,
) -> Result<Record, (usize, &'static str, &'a str)> {
    let [(_, name), (port_column, port), (frequency_column, frequency)] = fields else {
        let (column, found) = fields.get(3).or(fields.last()).copied().unwrap_or((1, ""));
        return Err((column, "name, port/protocol and frequency", found));
    };
    let (span, transports) = port_and_transports(port).map_err(|e| (*port_column, e, *port))?;
    let [transport] =
        <[_; 1]>::try_from(transports).map_err(|_| (*port_column, "one protocol", *port))?;
    if !frequency
        .parse::<f64>()
        .is_ok_and(|f| (0.0..=1.0).contains(&f))
    {
        return Err((
            *frequency_column,
            "an open frequency from 0 to 1",
            frequency,
        ));
    }
    let mut record = Record {
        name: Some((*name).to_owned()).filter(|n| n != UNKNOWN),
        ports: Some(span),
        transport: Some(transport),
        description: comment.filter(|c| !c.is_empty()).map(str::to_owned),
        ..Record::default()
    };
    record.extra.frequency = Some((*frequency).to_owned());
    record.status = record.derive_status();
    Ok(record)
}

pub(super) fn write(registry: &Registry) -> String {
    let mut out = String::new();
    for record in &registry.records {
        let (Some(span), Some(transport)) = (record.ports, &record.transport) else {
            continue;
        };
        let frequency = record.extra.frequency.as_deref().unwrap_or("0.000000");
        out.push_str(&format!(
            "{}\t{span}/{transport}\t{frequency}",
            record.name.as_deref().unwrap_or(UNKNOWN)
        ));
        if let Some(description) = &record.description {
            out.push_str("\t# ");
            out.push_str(&one_line(description));
        }
        out.push('\n');
    }
    out
}
