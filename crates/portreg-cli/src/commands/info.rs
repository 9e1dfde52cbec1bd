//! `portreg info PORT|NAME`: every field of every record, people resolved, references
//! as links, the range and its procedure, and what this machine says about the port.

use anyhow::Result;
use portreg::compiled::CompiledRegistry;
use portreg::info::{person_labels, reference_links, Info, Machine};
use portreg::lookup::{PortClass, Query, Role};
use portreg::Record;

use crate::active::Active;
use crate::cli::{Common, InfoArgs, OutputFormat};
use crate::output::{Output, NAME, WARN};
use crate::Exit;

pub fn run(args: &InfoArgs, common: &Common) -> Result<Exit> {
    let query: Query = match args.subject.parse() {
        Ok(query) => query,
        Err(error) => {
            eprintln!("portreg: {error}");
            return Ok(Exit::Error);
        }
    };
    let mut out = Output::new(common);
    if let Some(exit) = out.records_only_refused("info") {
        return Ok(exit);
    }
    let active = Active::load(common.registry.as_deref())?;
    let registry = active.registry();
    let info = Info::gather(registry, &query, &common.transport);
    let machine = Machine::read();
    if out.format == OutputFormat::Table {
        for answer in &info.answers {
            print_record(&mut out, registry, &answer.record, answer.role)?;
        }
        for &port in &info.ports {
            let class = PortClass::of(port);
            out.styled_line(&format!("port {port}: {class}"), NAME)?;
            let reserved = if class.reserved {
                "yes, by RFC 6335"
            } else {
                "no"
            };
            out.fields(&[
                ("reserved", reserved.to_owned()),
                ("privileged", privileged(&machine, port)),
                ("ephemeral", ephemeral(&machine, port)),
            ])?;
        }
    } else {
        out.json(&info.to_json(registry, &machine))?;
    }
    if info.answers.is_empty() {
        eprintln!("portreg: no record for {}", args.subject);
        return Ok(Exit::NotFound);
    }
    Ok(Exit::Success)
}

fn print_record(
    out: &mut Output,
    registry: &CompiledRegistry,
    record: &Record,
    role: Role,
) -> Result<()> {
    let place = record.place();
    let name = record.name.as_deref().unwrap_or("(no name)");
    out.styled_line(
        &format!(
            "{name} {place}: {} ({})",
            record.status.as_str(),
            role.as_str()
        ),
        NAME,
    )?;
    let mut fields: Vec<(&str, String)> = Vec::new();
    let mut add = |label, value: String| {
        if !value.is_empty() {
            fields.push((label, value));
        }
    };
    add(
        "description",
        record.description.clone().unwrap_or_default(),
    );
    add("aliases", record.aliases.join(", "));
    add(
        "assignee",
        person_labels(registry, record.effective_assignees()).join("\n"),
    );
    add(
        "contact",
        person_labels(registry, &record.contacts).join("\n"),
    );
    add(
        "registered",
        record
            .registered
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    add(
        "modified",
        record
            .modified
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    );
    add(
        "references",
        reference_links(registry, &record.references).join("\n"),
    );
    add(
        "service code",
        record.service_code.clone().unwrap_or_default(),
    );
    add("notes", record.notes.clone().unwrap_or_default());
    add("banners", record.extra.banners.join("\n"));
    let history: Vec<String> = record
        .extra
        .history
        .iter()
        .map(|h| {
            format!(
                "{} {}",
                h.name.as_deref().unwrap_or("-"),
                h.description.as_deref().unwrap_or("")
            )
        })
        .collect();
    add("earlier", history.join("\n"));
    out.fields(&fields)?;
    if let Some(unauthorized) = &record.unauthorized_use {
        out.styled_line(&format!("  unauthorized use: {unauthorized}"), WARN)?;
    }
    Ok(())
}

fn privileged(machine: &Machine, port: u16) -> String {
    match (machine.privileged(port), machine.unprivileged_start) {
        (Some(true), Some(start)) => {
            format!("yes: binding it needs privileges here (unprivileged ports start at {start})")
        }
        (Some(false), Some(start)) => {
            format!("no: any user may bind it here (unprivileged ports start at {start})")
        }
        _ => "unknown on this system".to_owned(),
    }
}

fn ephemeral(machine: &Machine, port: u16) -> String {
    match (machine.ephemeral(port), machine.ephemeral) {
        (Some(true), Some((low, high))) => {
            format!("yes: in this machine's ephemeral range {low}-{high}")
        }
        (Some(false), Some((low, high))) => {
            format!("no: outside this machine's ephemeral range {low}-{high}")
        }
        _ => "unknown on this system".to_owned(),
    }
}
