//! `portreg QUERY...`: what a port, a range or a name is.

use anyhow::Result;
use portreg::compiled::CompiledRegistry;
use portreg::lookup::{self, PortClass, Query};
use portreg::Transport;
use serde_json::Value;

use crate::active::Active;
use crate::cli::{Common, LookupArgs};
use crate::output::{Item, Output};
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
    if !items.is_empty() {
        Output::new(common).records(&items)?;
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
