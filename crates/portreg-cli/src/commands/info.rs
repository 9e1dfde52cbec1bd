//! `portreg info PORT|NAME`: every field of every record, people resolved, references
//! as links, the range and its procedure, and what this machine says about the port.

use anyhow::Result;
use portreg::compiled::CompiledRegistry;
use portreg::lookup::{PortClass, Query};
use portreg::{Record, Reference, ReferenceKind};
use serde_json::{json, Value};

use super::lookup::answer;
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
    let active = Active::load(common.registry.as_deref())?;
    let registry = active.registry();
    let items = answer(registry, &query, &common.transport, true);
    let mut ports: Vec<u16> = match &query {
        Query::Ports { span, .. } => vec![span.low],
        Query::Name { .. } => items
            .iter()
            .filter_map(|i| i.record.ports.map(|s| s.low))
            .collect(),
    };
    ports.dedup();
    let machine = Machine::read();
    let mut out = Output::new(common);
    if let Some(exit) = out.records_only_refused("info") {
        return Ok(exit);
    }
    if out.format == OutputFormat::Table {
        for item in &items {
            print_record(
                &mut out,
                registry,
                &item.record,
                item.extra.first().and_then(|(_, v)| v.as_str()),
            )?;
        }
        for port in &ports {
            let class = PortClass::of(*port);
            out.styled_line(&format!("port {port}: {class}"), NAME)?;
            let mut facts = vec![(
                "reserved",
                if class.reserved {
                    "yes, by RFC 6335"
                } else {
                    "no"
                }
                .to_owned(),
            )];
            facts.extend(machine.facts(*port));
            out.fields(&facts)?;
        }
    } else {
        let records: Vec<Value> = items
            .iter()
            .map(|item| {
                let mut value = item.to_json();
                if let Value::Object(map) = &mut value {
                    map.insert("people".into(), json!(people(registry, &item.record)));
                    map.insert(
                        "links".into(),
                        json!(links(registry, &item.record.references)),
                    );
                }
                value
            })
            .collect();
        let port_facts: Vec<Value> = ports
            .iter()
            .map(|&port| {
                let class = PortClass::of(port);
                json!({
                    "port": port,
                    "range_class": class.class,
                    "procedure": class.procedure,
                    "reserved": class.reserved,
                    "privileged": machine.privileged(port),
                    "ephemeral": machine.ephemeral(port),
                })
            })
            .collect();
        out.json(&json!({"records": records, "ports": port_facts}))?;
    }
    if items.is_empty() {
        eprintln!("portreg: no record for {}", args.subject);
        return Ok(Exit::NotFound);
    }
    Ok(Exit::Success)
}

fn print_record(
    out: &mut Output,
    registry: &CompiledRegistry,
    record: &Record,
    role: Option<&str>,
) -> Result<()> {
    let place = match (record.ports_text(), &record.transport) {
        (Some(ports), Some(t)) => format!("{ports}/{t}"),
        (Some(ports), None) => ports,
        (None, Some(t)) => format!("name only, {t}"),
        (None, None) => "name only".to_owned(),
    };
    let name = record.name.as_deref().unwrap_or("(no name)");
    out.styled_line(
        &format!(
            "{name} {place}: {} ({})",
            record.status.as_str(),
            role.unwrap_or("")
        ),
        NAME,
    )?;
    let list = |items: &[String]| items.join("\n");
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
        list(&resolve(registry, record.effective_assignees())),
    );
    add("contact", list(&resolve(registry, &record.contacts)));
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
    add("references", list(&links(registry, &record.references)));
    add(
        "service code",
        record.service_code.clone().unwrap_or_default(),
    );
    add("notes", record.notes.clone().unwrap_or_default());
    add("banners", list(&record.extra.banners));
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
    add("earlier", list(&history));
    out.fields(&fields)?;
    if let Some(unauthorized) = &record.unauthorized_use {
        out.styled_line(&format!("  unauthorized use: {unauthorized}"), WARN)?;
    }
    Ok(())
}

/// People as `Name (Org) <mail>`, from the registry's people table where it has them;
/// `&` in addresses shown as `@`.
fn resolve(registry: &CompiledRegistry, ids: &[String]) -> Vec<String> {
    ids.iter()
        .map(|id| match registry.person(id) {
            Some(person) => {
                let mut text = person
                    .name
                    .clone()
                    .or_else(|| person.org.clone())
                    .unwrap_or_else(|| id.clone());
                if let (Some(_), Some(org)) = (&person.name, &person.org) {
                    text.push_str(&format!(" ({org})"));
                }
                if let Some(uri) = &person.uri {
                    text.push_str(&format!(
                        " <{}>",
                        uri.trim_start_matches("mailto:").replace('&', "@")
                    ));
                }
                text
            }
            None => id.replace('&', "@"),
        })
        .collect()
}

fn people(registry: &CompiledRegistry, record: &Record) -> Value {
    json!({
        "assignees": resolve(registry, record.effective_assignees()),
        "contacts": resolve(registry, &record.contacts),
    })
}

/// References as links where they have one.
fn links(registry: &CompiledRegistry, references: &[Reference]) -> Vec<String> {
    references
        .iter()
        .map(|reference| match reference.kind {
            ReferenceKind::Rfc => format!(
                "https://www.rfc-editor.org/rfc/{}",
                reference.data.to_lowercase()
            ),
            ReferenceKind::Draft => {
                let name = match reference.data.strip_prefix("RFC-") {
                    Some(rest) => format!(
                        "draft-{}",
                        rest.trim_end_matches(|c: char| c.is_ascii_digit())
                            .trim_end_matches('-')
                    ),
                    None => reference.data.clone(),
                };
                format!("https://datatracker.ietf.org/doc/{name}/")
            }
            ReferenceKind::Uri => reference.data.clone(),
            ReferenceKind::Note => {
                let footnote = registry
                    .metadata()
                    .footnotes
                    .into_iter()
                    .find(|f| f.anchor == reference.data);
                format!(
                    "note {}: {}",
                    reference.data,
                    footnote
                        .map(|f| f.text.replace('\n', " "))
                        .unwrap_or_default()
                )
            }
            ReferenceKind::Text => reference.data.clone(),
            ReferenceKind::Person => {
                resolve(registry, std::slice::from_ref(&reference.data)).join("")
            }
        })
        .collect()
}

/// What this machine (Linux) says about ports.
struct Machine {
    unprivileged_start: Option<u16>,
    ephemeral: Option<(u16, u16)>,
}

impl Machine {
    fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let unprivileged_start = read("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .and_then(|t| t.trim().parse().ok());
        let ephemeral = read("/proc/sys/net/ipv4/ip_local_port_range").and_then(|t| {
            let mut parts = t.split_whitespace().map(|p| p.parse::<u16>().ok());
            Some((parts.next()??, parts.next()??))
        });
        Machine {
            unprivileged_start,
            ephemeral,
        }
    }

    fn privileged(&self, port: u16) -> Option<bool> {
        self.unprivileged_start.map(|start| port < start)
    }

    fn ephemeral(&self, port: u16) -> Option<bool> {
        self.ephemeral
            .map(|(low, high)| (low..=high).contains(&port))
    }

    fn facts(&self, port: u16) -> Vec<(&'static str, String)> {
        let privileged = match (self.privileged(port), self.unprivileged_start) {
            (Some(true), Some(start)) => format!(
                "yes: binding it needs privileges here (unprivileged ports start at {start})"
            ),
            (Some(false), Some(start)) => {
                format!("no: any user may bind it here (unprivileged ports start at {start})")
            }
            _ => "unknown on this system".to_owned(),
        };
        let ephemeral = match (self.ephemeral(port), self.ephemeral) {
            (Some(true), Some((low, high))) => {
                format!("yes: in this machine's ephemeral range {low}-{high}")
            }
            (Some(false), Some((low, high))) => {
                format!("no: outside this machine's ephemeral range {low}-{high}")
            }
            _ => "unknown on this system".to_owned(),
        };
        vec![("privileged", privileged), ("ephemeral", ephemeral)]
    }
}
