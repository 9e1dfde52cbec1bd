//! `portreg search TEXT...`: ranked, literal search over names and descriptions.

use crate::active::Active;
use crate::cli::{Common, SearchArgs};
use crate::output::{Item, Output};
use crate::{CommandResult, Exit, Failure};

/// Runs the command.
pub fn run(args: &SearchArgs, common: &Common) -> CommandResult {
    let text = args.text.join(" ");
    if text.trim().is_empty() {
        return Err(Failure::usage("give some text to search for"));
    }
    let active = Active::asked(common, &args.as_of)?;
    let registry = active.registry();
    let items: Vec<Item> = registry
        .search(&text, &common.transport, usize::MAX)
        .iter()
        .map(|hit| Item {
            record: hit.record.to_record(),
            role: None,
            tier: Some(hit.tier),
        })
        .collect();
    if items.is_empty() {
        let suggestions = super::lookup::suggestions(registry, text.trim());
        eprintln!("portreg: nothing matches {text:?}{suggestions}");
        return Ok(Exit::NotFound);
    }
    let more = Output::new(common).records_limited(&items, args.limit)?;
    if more > 0 {
        eprintln!(
            "portreg: {more} more; --limit {} shows them",
            args.limit + more
        );
    }
    Ok(Exit::Success)
}
