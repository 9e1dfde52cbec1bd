//! `portreg search TEXT...`: ranked, literal search over names and descriptions.

use anyhow::Result;
use serde_json::Value;

use crate::active::Active;
use crate::cli::{Common, SearchArgs};
use crate::output::{Item, Output};
use crate::Exit;

pub fn run(args: &SearchArgs, common: &Common) -> Result<Exit> {
    let text = args.text.join(" ");
    if text.trim().is_empty() {
        eprintln!("portreg: give some text to search for");
        return Ok(Exit::Error);
    }
    let active = Active::load(common.registry.as_deref())?;
    let registry = active.registry();
    let items: Vec<Item> = registry
        .search(&text, &common.transport, args.limit)
        .iter()
        .map(|hit| Item {
            record: hit.record.to_record(),
            extra: vec![("match", Value::from(hit.tier.as_str()))],
        })
        .collect();
    if items.is_empty() {
        eprintln!("portreg: nothing matches {text:?}");
        return Ok(Exit::NotFound);
    }
    Output::new(common).records(&items)?;
    Ok(Exit::Success)
}
