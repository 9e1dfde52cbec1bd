//! `portreg info PORT|NAME`: every field of every record, people resolved, references
//! as links, the range and its procedure, and what this machine says about the port.

use anyhow::Result;
use portreg::CompiledRegistry;
use portreg::Record;
use portreg::{person_labels, reference_links, Info, Machine};
use portreg::{PortClass, Query, Role};

use crate::active::{read_nmap, Active};
use crate::cli::{Common, InfoArgs, OutputFormat};
use crate::output::{Output, NAME, WARN};
use crate::{CommandResult, Exit, Failure};

/// Runs the command.
pub fn run(args: &InfoArgs, common: &Common) -> CommandResult {
    let query: Query = args.subject.parse().map_err(Failure::usage)?;
    let mut out = Output::new(common);
    let active = Active::asked(common, &args.as_of)?;
    let registry = active.registry();
    let info = Info::gather(registry, &query, &common.transport);
    // The same facts of this machine as `free --explain` reads.
    let machine = Machine::read().with_listening();
    // nmap's names for the ports, where the machine has its table: "also seen as".
    let nmap = read_nmap(common.nmap.as_deref())?;
    let seen = |port: u16| -> Vec<(String, String, String)> {
        nmap.iter()
            .flat_map(|n| &n.records)
            .filter(|r| r.ports.is_some_and(|s| s.contains(port)))
            .filter(|r| {
                common.transport.is_empty()
                    || r.transport
                        .as_ref()
                        .is_some_and(|t| common.transport.contains(t))
            })
            .map(|r| {
                (
                    r.name.clone().unwrap_or_default(),
                    r.transport
                        .as_ref()
                        .map_or(String::new(), |t| t.to_string()),
                    r.extra.frequency.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    // What the history's snapshots show of each record (not for a file's own records).
    let history = if common.registry.is_none() {
        crate::history::load(args.as_of.history.as_deref()).ok()
    } else {
        None
    };
    let observed = |record: &Record| {
        let history = history.as_ref()?;
        history.observed(history.entry_of(record)?).map(|o| {
            (
                o.first_published.to_string(),
                o.last_changed.map(|i| i.to_string()),
                o.to_json(),
            )
        })
    };
    if out.format == OutputFormat::Table {
        for answer in &info.answers {
            print_record(
                &mut out,
                registry,
                common.registry.is_none(),
                &answer.record,
                answer.role,
                observed(&answer.record).map(|(first, last, _)| (first, last)),
            )?;
        }
        for &port in &info.ports {
            let class = PortClass::of(port);
            out.styled_line(&format!("port {port}: {class}"), NAME)?;
            let reserved = if class.reserved {
                "yes, by RFC 6335"
            } else {
                "no"
            };
            let also: Vec<String> = seen(port)
                .into_iter()
                .map(|(name, transport, frequency)| {
                    format!("{name} ({transport}, open frequency {frequency}, nmap)")
                })
                .collect();
            let mut fields = vec![
                ("reserved", reserved.to_owned()),
                ("privileged", privileged(&machine, port)),
                ("ephemeral", ephemeral(&machine, port)),
                ("listening here", listening(&machine, port)),
            ];
            if machine.kernel_reserves(port) {
                fields.push((
                    "kernel reserved",
                    "yes: in this machine's ip_local_reserved_ports".to_owned(),
                ));
            }
            if !also.is_empty() {
                fields.push(("also seen as", also.join("\n")));
            }
            out.fields(&fields)?;
        }
    } else {
        let mut value = info.to_json(registry, &machine);
        if let Some(records) = value.get_mut("records").and_then(|r| r.as_array_mut()) {
            for (entry, answer) in records.iter_mut().zip(&info.answers) {
                if let (Some(map), Some((_, _, json))) =
                    (entry.as_object_mut(), observed(&answer.record))
                {
                    map.insert("observed".to_owned(), json);
                }
            }
        }
        if let Some(ports) = value.get_mut("ports").and_then(|p| p.as_array_mut()) {
            for entry in ports {
                let Some(port) = entry.get("port").and_then(|p| p.as_u64()) else {
                    continue;
                };
                let also: Vec<serde_json::Value> = seen(port as u16)
                    .into_iter()
                    .map(|(name, transport, frequency)| {
                        serde_json::json!({"name": name, "transport": transport, "frequency": frequency, "source": "nmap"})
                    })
                    .collect();
                if let Some(map) = entry.as_object_mut() {
                    map.insert("also_seen_as".to_owned(), serde_json::Value::Array(also));
                }
            }
        }
        out.json(&value)?;
    }
    if info.more {
        eprintln!(
            "portreg: only the first {} records; `portreg {} --all` lists them all",
            portreg::Info::LIMIT,
            args.subject
        );
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
    alias_layer: bool,
    record: &Record,
    role: Role,
    observed: Option<(String, Option<String>)>,
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
    add("source", record.source.as_str().to_owned());
    // IANA's records carry no aliases: on the built-in or an installed registry, theirs
    // are the alias layer's.
    let aliases = record.aliases.join(", ");
    if alias_layer && record.source == portreg::Source::Iana && !aliases.is_empty() {
        add(
            "aliases",
            format!("{aliases} (from {})", portreg_data::alias_source()),
        );
    } else {
        add("aliases", aliases);
    }
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
    if let Some((first, last)) = observed {
        // Seen in the snapshots, beside the dates IANA states.
        add("first published", first);
        add(
            "last changed",
            last.unwrap_or_else(|| "never, as the snapshots show".to_owned()),
        );
    }
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

fn listening(machine: &Machine, port: u16) -> String {
    let listening = machine.listening_on(port);
    let transports: Vec<&str> = listening.iter().map(|t| t.as_str()).collect();
    if transports.is_empty() {
        "no".to_owned()
    } else {
        format!(
            "yes, on {}: a socket holds it now",
            transports.join(" and ")
        )
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
