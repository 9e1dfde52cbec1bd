//! `portreg QUERY...`: what a port, a range or a name is.

use portreg::CompiledRegistry;
use portreg::Transport;
use portreg::{PortClass, Query};

use crate::active::Active;
use crate::cli::{Common, LookupArgs};
use crate::output::{Item, Output};
use crate::{CommandResult, Exit, Failure};

/// Runs the command.
pub fn run(args: &LookupArgs, common: &Common) -> CommandResult {
    if args.queries.is_empty() {
        return Err(Failure::usage(
            "give a port, a range or a name to look up; see `portreg --help`",
        ));
    }
    let mut queries = Vec::new();
    for text in &args.queries {
        let query = text.parse::<Query>().map_err(Failure::usage)?;
        queries.push((text, query));
    }
    let active = Active::asked(common, &args.as_of)?;
    let registry = active.registry();
    let mut items = Vec::new();
    for (text, query) in &queries {
        let found = answer(registry, query, &common.transport, args.all);
        if found.is_empty() {
            eprintln!(
                "portreg: no record for {}{}{}",
                crate::output::visible(text),
                why_none(query),
                did_you_mean(registry, query)
            );
        }
        items.extend(found);
    }
    if !items.is_empty() {
        let mut out = Output::new(common);
        if out.format == crate::cli::OutputFormat::Table && !args.all {
            items = fold_other_names(items);
        }
        out.records(&items)?;
    }
    Ok(if items.is_empty() {
        Exit::NotFound
    } else {
        Exit::Success
    })
}

/// A table shows one row per service: another name on the same port and transport (`www`
/// and `www-http` beside `http`) is listed among its aliases, not as a row of its own
/// (`--all` and the machine formats list every record).
fn fold_other_names(items: Vec<Item>) -> Vec<Item> {
    let mut kept: Vec<Item> = Vec::with_capacity(items.len());
    for item in items {
        let name = match (&item.role, &item.record.name) {
            (Some(portreg::Role::Alias), Some(name)) => name.clone(),
            _ => {
                kept.push(item);
                continue;
            }
        };
        let mut folded = false;
        for service in kept.iter_mut().filter(|service| {
            service.role == Some(portreg::Role::Canonical)
                && service.record.ports == item.record.ports
                && (item.record.transport.is_none()
                    || service.record.transport == item.record.transport)
        }) {
            let record = &mut service.record;
            let known = record.name.iter().chain(&record.aliases);
            if !known.into_iter().any(|n| n.eq_ignore_ascii_case(&name)) {
                record.aliases.push(name.clone());
            }
            folded = true;
        }
        if !folded {
            kept.push(item);
        }
    }
    kept
}

/// The records that answer one query, as items with their roles.
pub fn answer(
    registry: &CompiledRegistry,
    query: &Query,
    transports: &[Transport],
    all: bool,
) -> Vec<Item> {
    portreg::answer(registry, query, transports, all)
        .into_iter()
        .map(|a| Item {
            record: a.record,
            role: Some(a.role),
            tier: None,
        })
        .collect()
}

/// `; did you mean ssh?` for a misspelled name.
pub fn did_you_mean(registry: &CompiledRegistry, query: &Query) -> String {
    let Query::Name { name, .. } = query else {
        return String::new();
    };
    suggestions(registry, name)
}

/// `; did you mean http?`: the names closest to `text`, or nothing.
pub fn suggestions(registry: &CompiledRegistry, text: &str) -> String {
    match registry.suggest(text, 3).as_slice() {
        [] => String::new(),
        names => format!("; did you mean {}?", names.join(" or ")),
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
