//! `portreg QUERY...`: what a port, a range or a name is.

use anyhow::Result;
use portreg::compiled::CompiledRegistry;
use portreg::lookup::{self, PortClass, Query, Role};
use portreg::{Record, Status, Transport};
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

/// The records that answer one query, as items with their roles.
pub fn answer(
    registry: &CompiledRegistry,
    query: &Query,
    transports: &[Transport],
    all: bool,
) -> Vec<Item> {
    lookup::answer(registry, query, transports, all)
        .into_iter()
        .map(|a| Item {
            record: a.record,
            extra: vec![("role", Value::from(a.role.as_str()))],
        })
        .collect()
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
