//! `portreg QUERY...`: what a port, a range or a name is.

use anyhow::Result;
use portreg::compiled::CompiledRegistry;
use portreg::lookup::{Hit, PortClass, Query, Role};
use portreg::{PortSpan, Record, Reference, ReferenceKind, Status, Transport};
use serde_json::Value;

use crate::active::Active;
use crate::cli::{Common, LookupArgs, OutputFormat};
use crate::output::{Item, Output, DIM, NAME, PLAIN, PORT};
use crate::Exit;

pub fn run(args: &LookupArgs, common: &Common) -> Result<Exit> {
    if args.queries.is_empty() {
        eprintln!("portreg: give a port, a range or a name to look up; see `portreg --help`");
        return Ok(Exit::Error);
    }
    let mut queries = Vec::new();
    for text in &args.queries {
        match text.parse::<Query>() {
            Ok(query) => queries.push((text, query)),
            Err(error) => {
                eprintln!("portreg: {error}");
                return Ok(Exit::Error);
            }
        }
    }
    let active = Active::load(common.registry.as_deref())?;
    let registry = active.registry();
    let mut items = Vec::new();
    for (text, query) in &queries {
        let found = answer(registry, query, &common.transport, args.all);
        if found.is_empty() {
            eprintln!("portreg: no record for {text}{}", why_none(query));
        }
        items.extend(found);
    }
    let mut out = Output::new(common);
    if !items.is_empty() {
        match out.format {
            OutputFormat::Table => out.table(
                &["PORT", "TRANSPORT", "NAME", "STATUS", "DESCRIPTION"],
                &table_rows(&items),
            )?,
            _ => out.machine(&items)?,
        }
    }
    Ok(if items.is_empty() {
        Exit::NotFound
    } else {
        Exit::Success
    })
}

/// The records that answer one query, with their roles.
pub fn answer(
    registry: &CompiledRegistry,
    query: &Query,
    transports: &[Transport],
    all: bool,
) -> Vec<Item> {
    let is_range = matches!(query, Query::Ports { span, .. } if !span.is_single());
    let hits: Vec<Hit<'_>> = registry
        .lookup(query)
        .into_iter()
        .filter(|hit| {
            transports.is_empty() || transports.iter().any(|t| hit.record.covers_transport(t))
        })
        .filter(|hit| all || !is_range || hit.role != Role::Unnamed)
        .collect();
    let mut items: Vec<Item> = hits
        .iter()
        .map(|hit| item(hit.record.to_record(), hit.role))
        .collect();
    if let Query::Ports { span, transport } = query {
        if items.is_empty() && span.is_single() && PortClass::of(span.low).reserved {
            let wanted: Vec<Transport> = match (transport, transports.is_empty()) {
                (Some(t), _) => vec![t.clone()],
                (None, false) => transports.to_vec(),
                (None, true) => vec![Transport::Tcp, Transport::Udp],
            };
            items.extend(
                wanted
                    .into_iter()
                    .map(|t| item(reserved_by_rule(span.low, t), Role::Unnamed)),
            );
        }
    }
    items
}

/// RFC 6335 reserves ports 0, 1024 and 49151 even where a source does not list them.
fn reserved_by_rule(port: u16, transport: Transport) -> Record {
    Record {
        ports: Some(PortSpan::single(port)),
        transport: Some(transport),
        description: Some("Reserved".to_owned()),
        status: Status::Reserved,
        references: vec![Reference::new(ReferenceKind::Rfc, "rfc6335")],
        ..Record::default()
    }
}

fn item(record: Record, role: Role) -> Item {
    Item {
        record,
        extra: vec![("role", Value::from(role.as_str()))],
    }
}

fn why_none(query: &Query) -> String {
    match query {
        Query::Ports { span, .. } => {
            let class = PortClass::of(span.low);
            format!(" (port {}: {class})", span.low)
        }
        Query::Name { .. } => String::new(),
    }
}

/// Table rows, one per record, with records that differ only in transport merged
/// (`tcp,udp`).
pub fn table_rows(items: &[Item]) -> Vec<Vec<(String, anstyle::Style)>> {
    let mut rows: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for item in items {
        let record = &item.record;
        let role = item
            .extra
            .iter()
            .find(|(k, _)| *k == "role")
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("");
        let key = vec![
            record.ports.map_or("-".to_owned(), |s| s.to_string()),
            name_cell(record),
            status_cell(record, role),
            description_cell(record),
        ];
        let transport = record
            .transport
            .as_ref()
            .map_or("any".to_owned(), |t| t.to_string());
        match rows.iter_mut().find(|(k, _)| *k == key) {
            Some((_, transports)) if !transports.contains(&transport) => transports.push(transport),
            Some(_) => rows.push((key, vec![transport])),
            None => rows.push((key, vec![transport])),
        }
    }
    rows.into_iter()
        .map(|(key, transports)| {
            let quiet = matches!(
                key[2].as_str(),
                "reserved" | "unassigned" | "historic" | "deassigned"
            );
            vec![
                (key[0].clone(), PORT),
                (transports.join(","), PLAIN),
                (key[1].clone(), if quiet { DIM } else { NAME }),
                (key[2].clone(), if quiet { DIM } else { PLAIN }),
                (key[3].clone(), PLAIN),
            ]
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

fn status_cell(record: &Record, role: &str) -> String {
    if role == Role::Alias.as_str() && record.status == Status::Assigned {
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
