//! `portreg enrich`: service names added to every line of a flow log.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::Path;

use anyhow::Context;

use crate::active::Active;
use crate::cli::{Common, EnrichArgs};
use crate::enrich::{EnrichError, Enricher, Settings};
use crate::{CommandResult, Exit, Failure};

/// Runs the command.
pub fn run(args: &EnrichArgs) -> CommandResult {
    let common = Common {
        registry: args.registry.registry.clone(),
        unofficial: args.layers.unofficial,
        nmap: args.layers.nmap.clone(),
        ..Common::default()
    };
    let active = match &args.as_of {
        Some(date) => Active::as_of(date, args.history.as_deref())?,
        None => Active::layered(&common)?,
    };
    let history = match &args.as_of_field {
        Some(_) => Some(crate::history::load(args.history.as_deref())?),
        None => None,
    };
    let settings = Settings {
        format: args.log_format,
        port_field: args.port_field.clone(),
        transport_field: args.transport_field.clone(),
        transport: args.log_transport.clone(),
        columns: dedup(&args.add),
        strict: args.strict,
        threads: args.threads.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(2, std::num::NonZero::get)
        }),
        as_of_field: args.as_of_field.clone(),
    };
    let (input, source_name): (Box<dyn Read + Send>, String) = match args.input.as_deref() {
        Some(path) if path != Path::new("-") => (
            Box::new(File::open(path).with_context(|| format!("cannot read {}", path.display()))?),
            path.display().to_string(),
        ),
        _ => (Box::new(std::io::stdin()), "<stdin>".to_owned()),
    };
    let enricher = match &history {
        Some(history) => Enricher::with_history(active.registry(), history),
        None => Enricher::new(active.registry()),
    };
    let summary = match &args.output {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
            let mut out = BufWriter::with_capacity(1 << 16, file);
            enricher.run(&settings, input, &mut out, &source_name)
        }
        None => {
            let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            enricher.run(&settings, input, &mut out, &source_name)
        }
    };
    let summary = match summary {
        Ok(summary) => summary,
        Err(EnrichError::Io(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => {
            return Ok(Exit::Success)
        }
        Err(error @ (EnrichError::Line { .. } | EnrichError::Header(_))) => {
            return Err(Failure::usage(crate::output::visible(&error.to_string())))
        }
        Err(EnrichError::Io(error)) => {
            return Err(Failure::from(
                anyhow::Error::from(error).context(format!("enriching {source_name}")),
            ))
        }
    };
    if !args.quiet {
        eprintln!(
            "portreg: enrich: {} lines, {} enriched ({} with no record), {} passed through",
            summary.lines, summary.enriched, summary.no_record, summary.passed_through
        );
    }
    Ok(Exit::Success)
}

fn dedup(columns: &[crate::enrich::Column]) -> Vec<crate::enrich::Column> {
    let mut seen = Vec::new();
    for column in columns {
        if !seen.contains(column) {
            seen.push(*column);
        }
    }
    seen
}
