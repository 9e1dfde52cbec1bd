//! `portreg free`: ports free on every given transport.

use anyhow::{bail, Result};
use portreg::{format, Format, PortSpan, RangeClass, ReadOptions, Transport};
use serde_json::json;

use crate::active::Active;
use crate::cli::{Common, FreeArgs, OutputFormat};
use crate::output::{Output, PLAIN, PORT};
use crate::Exit;

pub fn run(args: &FreeArgs, common: &Common) -> Result<Exit> {
    let span = match RangeClass::parse_range(&args.range) {
        Some(span) => span,
        None => {
            eprintln!(
                "portreg: --range takes user, system, dynamic or LO-HI, not {:?}",
                args.range
            );
            return Ok(Exit::Error);
        }
    };
    let transports = if common.transport.is_empty() {
        vec![Transport::Tcp, Transport::Udp]
    } else {
        common.transport.clone()
    };
    let active = Active::load(common.registry.as_deref())?;
    let mut free = vec![false; 65_536];
    for found in active.registry().free_ports(&transports, span) {
        for port in found.low..=found.high {
            free[usize::from(port)] = true;
        }
    }
    if args.avoid_ephemeral {
        match portreg::info::Machine::read().ephemeral {
            Some((low, high)) => free[usize::from(low)..=usize::from(high)].fill(false),
            None => bail!("cannot read this machine's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range)"),
        }
    }
    if let Some(path) = &args.avoid_nmap {
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let options = ReadOptions {
            strict: false,
            source_name: path.display().to_string(),
        };
        let nmap = format::read(&bytes, Format::Nmap, &options)?.registry;
        for record in &nmap.records {
            let used = record
                .extra
                .frequency
                .as_deref()
                .and_then(|f| f.parse::<f64>().ok())
                .is_some_and(|f| f > 0.0);
            let ours = record
                .transport
                .as_ref()
                .is_some_and(|t| transports.contains(t));
            if let (true, true, Some(ports)) = (used, ours, record.ports) {
                free[usize::from(ports.low)..=usize::from(ports.high)].fill(false);
            }
        }
    }
    let spans = PortSpan::compact(
        (span.low..=span.high).filter(|&port| free[usize::from(port)]),
        args.count,
    );
    let total: usize = spans.iter().map(|s| usize::from(s.high - s.low) + 1).sum();
    let mut out = Output::new(common);
    if let Some(exit) = out.records_only_refused("free") {
        return Ok(exit);
    }
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
            out.table(&["PORTS", "COUNT"], &rows)?;
            let names: Vec<&str> = transports.iter().map(Transport::as_str).collect();
            eprintln!(
                "portreg: {total} port(s) free on {} in {span}",
                names.join(" and ")
            );
        }
        OutputFormat::Jsonl => {
            for span in &spans {
                out.json(&json!({"port_low": span.low, "port_high": span.high}))?;
            }
        }
        _ => {
            let value = json!(spans
                .iter()
                .map(|s| json!({"port_low": s.low, "port_high": s.high}))
                .collect::<Vec<_>>());
            out.json(&value)?;
        }
    }
    Ok(if spans.is_empty() {
        Exit::NotFound
    } else {
        Exit::Success
    })
}
