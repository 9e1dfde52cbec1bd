//! `portreg free`: ports a new service can take, why a port is not offered, and one
//! stable port for a service name.

use std::path::Path;

use portreg::{CompiledRegistry, Exclusions, FreePorts, Machine, PortSpan, Transport};
use serde_json::{json, Value};

use crate::active::{popular_ports, read_nmap, Active, NMAP_SERVICES};
use crate::cli::{Common, FreeArgs, OutputFormat};
use crate::output::{Output, PLAIN, PORT};
use crate::{CommandResult, Exit, Failure};

/// Runs the command.
pub fn run(args: &FreeArgs, common: &Common) -> CommandResult {
    let mut out = Output::new(common);
    let active = Active::layered(common)?;
    let machine = Machine::read().with_listening();
    let finder = finder(
        active.registry(),
        &common.transport,
        &machine,
        args,
        common.nmap.as_deref(),
    )?;
    if let Some(port) = args.explain {
        return explain(&mut out, &finder, port);
    }
    if let Some(name) = &args.stable_for {
        check_stable_name(active.registry(), name)?;
        return stable(&mut out, &finder, name);
    }
    let span = args.range;
    let spans = finder.spans(span, args.count);
    let total: usize = spans.iter().map(|s| usize::from(s.high - s.low) + 1).sum();
    match out.format {
        OutputFormat::Table => {
            let rows: Vec<_> = spans
                .iter()
                .map(|s| {
                    vec![
                        (s.to_string(), PORT),
                        ((usize::from(s.high - s.low) + 1).to_string(), PLAIN),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                out.table(&["PORTS", "COUNT"], &rows)?;
            }
            let names: Vec<&str> = finder.transports().iter().map(Transport::as_str).collect();
            eprintln!(
                "portreg: {total} port(s) free on {} in {span}",
                names.join(" and ")
            );
        }
        OutputFormat::Jsonl => {
            for span in &spans {
                out.json(&span_json(span))?;
            }
        }
        _ => out.json(&Value::Array(spans.iter().map(span_json).collect()))?,
    }
    Ok(if spans.is_empty() {
        Exit::NotFound
    } else {
        Exit::Success
    })
}

/// The ports `free` offers on `transports` of `registry` and this machine, as `args`
/// exclude them (nmap's popular ports read from `nmap`, else its usual place).
pub fn finder<'r>(
    registry: &'r CompiledRegistry,
    transports: &[Transport],
    machine: &'r Machine,
    args: &FreeArgs,
    nmap: Option<&Path>,
) -> Result<FreePorts<'r>, Failure> {
    let exclusions = Exclusions {
        ephemeral: !args.include_ephemeral,
        kernel_reserved: !args.include_kernel_reserved,
        listening: !args.include_listening,
        browser_blocked: !args.include_browser_blocked,
        popular: args.avoid_popular,
    };
    let mut finder = FreePorts::new(registry, transports, Some(machine), exclusions);
    if args.avoid_popular {
        let Some(nmap) = read_nmap(nmap)? else {
            return Err(Failure::usage(format!(
                "--avoid-popular needs nmap's services table: none at {NMAP_SERVICES}; give one with --nmap FILE"
            )));
        };
        finder = finder.with_popular(popular_ports(&nmap));
    }
    Ok(finder)
}

/// A `--for` name is checked as `check-name` checks it: an invalid one is a usage error,
/// and one already assigned is said (with where), since its port is known.
pub fn check_stable_name(registry: &CompiledRegistry, name: &str) -> Result<(), Failure> {
    let check = portreg::NameCheck::run(registry, name);
    if !check.problems.is_empty() {
        let reasons: Vec<String> = check.problems.iter().map(ToString::to_string).collect();
        return Err(Failure::usage(format!(
            "--for {name:?} is not a valid service name: {}",
            reasons.join("; ")
        )));
    }
    if !check.taken_by.is_empty() {
        let places: Vec<String> = check.taken_by.iter().map(|t| t.record.place()).collect();
        eprintln!(
            "portreg: {name} is already assigned ({}); a stable pick is for a new name",
            places.join(", ")
        );
    }
    Ok(())
}

/// A span's JSON: `{"port_low", "port_high"}`.
pub fn span_json(span: &PortSpan) -> Value {
    json!({"port_low": span.low, "port_high": span.high})
}

fn explain(out: &mut Output, finder: &FreePorts<'_>, port: u16) -> CommandResult {
    let reasons = finder.explain(port);
    if out.format == OutputFormat::Table {
        if reasons.is_empty() {
            out.text(&format!("{port}: free\n"))?;
        }
        for reason in &reasons {
            out.text(&format!("{port}: {reason}\n"))?;
        }
    } else {
        out.json(&portreg::explain_json(port, &reasons))?;
    }
    Ok(if reasons.is_empty() {
        Exit::Success
    } else {
        Exit::NotFound
    })
}

fn stable(out: &mut Output, finder: &FreePorts<'_>, name: &str) -> CommandResult {
    let Some(pick) = finder.stable(name) else {
        return Err(Failure::refused(anyhow::anyhow!(
            "no port of {} is free in the registry",
            portreg::STABLE_SPAN
        )));
    };
    if out.format == OutputFormat::Table {
        out.text(&format!("{}\n", pick.port))?;
        for reason in &pick.busy_here {
            eprintln!("portreg: {} is busy here: {reason}", pick.port);
        }
        if let Some(next) = pick.next {
            eprintln!("portreg: the next stable choice free here is {next}");
        }
    } else {
        out.json(&portreg::stable_json(name, &pick))?;
    }
    Ok(Exit::Success)
}
