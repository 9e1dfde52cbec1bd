//! Everything about records for a person: people resolved through the registry's people
//! table, references as links, and what the rules and this machine say about a port.
//! The same for `portreg info` and the HTTP API.

use serde_json::{json, Value};

use crate::compiled::CompiledRegistry;
use crate::format::record_to_json;
use crate::free::Machine;
use crate::lookup::{answer, Answer, PortClass, Query};
use crate::record::{Record, Reference, ReferenceKind};
use crate::transport::Transport;

/// A person as `Name (Org) <mail>`, from the people table where it has the id; `&` in
/// addresses (the registry's spam guard) shown as `@`. Inline legacy contacts pass through.
pub fn person_label(registry: &CompiledRegistry, id: &str) -> String {
    match registry.person(id) {
        Some(person) => {
            let mut text = person
                .name
                .clone()
                .or_else(|| person.org.clone())
                .unwrap_or_else(|| id.to_owned());
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
    }
}

/// Labels of several people.
pub fn person_labels(registry: &CompiledRegistry, ids: &[String]) -> Vec<String> {
    ids.iter().map(|id| person_label(registry, id)).collect()
}

/// A reference as a link where it has one (`https://www.rfc-editor.org/rfc/rfc6335`),
/// a footnote with its text, a person with their label, or the text.
pub fn reference_link(registry: &CompiledRegistry, reference: &Reference) -> String {
    match reference.kind {
        ReferenceKind::Rfc => format!(
            "https://www.rfc-editor.org/rfc/{}",
            reference.data.to_lowercase()
        ),
        ReferenceKind::Draft => {
            let name = match reference.data.strip_prefix("RFC-") {
                // An RFC-to-be names its draft without the `draft-` and with a version.
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
        ReferenceKind::Person => person_label(registry, &reference.data),
    }
}

/// Links of several references.
pub fn reference_links(registry: &CompiledRegistry, references: &[Reference]) -> Vec<String> {
    references
        .iter()
        .map(|r| reference_link(registry, r))
        .collect()
}

/// The answers to an info query and the ports they concern.
pub struct Info {
    /// The records, with their roles.
    pub answers: Vec<Answer>,
    /// The ports to describe: the queried port, or the first port of each record.
    pub ports: Vec<u16>,
    /// Whether a range has more records than [`Info::LIMIT`].
    pub more: bool,
}

impl Info {
    /// Everything about `query`.
    ///
    /// At most [`Info::LIMIT`] records: a wide range is listed by a lookup, page by page.
    pub fn gather(registry: &CompiledRegistry, query: &Query, transports: &[Transport]) -> Info {
        let mut answers: Vec<Answer> = match query {
            Query::Ports { span, .. } if !span.is_single() => {
                crate::lookup::answers(registry, query, transports, true)
                    .take(Self::LIMIT + 1)
                    .collect()
            }
            _ => answer(registry, query, transports, true),
        };
        let more = answers.len() > Self::LIMIT;
        answers.truncate(Self::LIMIT);
        let mut ports: Vec<u16> = match query {
            Query::Ports { span, .. } => vec![span.low],
            Query::Name { .. } => answers
                .iter()
                .filter_map(|a| a.record.ports.map(|s| s.low))
                .collect(),
        };
        ports.sort_unstable();
        ports.dedup();
        Info {
            answers,
            ports,
            more,
        }
    }

    /// The most records an answer holds.
    pub const LIMIT: usize = 100;

    /// The JSON of `portreg info --format json` and `GET /v1/info/{query}`:
    /// `{"records": [record + role, people, links], "ports": [facts]}`.
    pub fn to_json(&self, registry: &CompiledRegistry, machine: &Machine) -> Value {
        let records: Vec<Value> = self
            .answers
            .iter()
            .map(|answer| {
                let mut value = answer_to_json(answer);
                if let Value::Object(map) = &mut value {
                    map.insert("people".into(), people_json(registry, &answer.record));
                    map.insert(
                        "links".into(),
                        json!(reference_links(registry, &answer.record.references)),
                    );
                }
                value
            })
            .collect();
        let ports: Vec<Value> = self
            .ports
            .iter()
            .map(|&port| port_json(port, machine))
            .collect();
        json!({"records": records, "ports": ports, "more": self.more})
    }
}

fn people_json(registry: &CompiledRegistry, record: &Record) -> Value {
    json!({
        "assignees": person_labels(registry, record.effective_assignees()),
        "contacts": person_labels(registry, &record.contacts),
    })
}

/// Why a port is not offered, as JSON: `[{"kind", "reason", "live"}]`.
pub fn exclusions_json(reasons: &[crate::free::Exclusion]) -> Value {
    Value::Array(
        reasons
            .iter()
            .map(|r| json!({"kind": r.kind(), "reason": r.to_string(), "live": r.is_live()}))
            .collect(),
    )
}

/// `portreg free --explain PORT -f json` and `/v1/free/explain/{port}`.
pub fn explain_json(port: u16, reasons: &[crate::free::Exclusion]) -> Value {
    json!({"port": port, "free": reasons.is_empty(), "reasons": exclusions_json(reasons)})
}

/// `portreg free --for NAME -f json` and `/v1/free/for/{name}`.
pub fn stable_json(name: &str, pick: &crate::free::StablePick) -> Value {
    json!({
        "name": name,
        "port": pick.port,
        "busy_here": exclusions_json(&pick.busy_here),
        "next": pick.next,
    })
}

/// A record that answers a query, as JSON: the record with its `role`.
pub fn answer_to_json(answer: &Answer) -> Value {
    let mut value = record_to_json(&answer.record);
    if let Value::Object(map) = &mut value {
        map.insert("role".into(), Value::from(answer.role.as_str()));
    }
    value
}

/// What the rules and this machine say about a port, as JSON.
pub fn port_json(port: u16, machine: &Machine) -> Value {
    let class = PortClass::of(port);
    json!({
        "port": port,
        "range_class": class.class,
        "procedure": class.procedure,
        "reserved": class.reserved,
        "privileged": machine.privileged(port),
        "ephemeral": machine.ephemeral(port),
        "kernel_reserved": machine.kernel_reserves(port),
        "listening": machine.listening_on(port).iter().map(Transport::as_str).collect::<Vec<_>>(),
    })
}

/// A service name checked against RFC 6335 and the registry.
pub struct NameCheck {
    /// The name as given.
    pub name: String,
    /// Every way it breaks the syntax.
    pub problems: Vec<crate::rules::NameProblem>,
    /// The records that already carry it (any case), with their roles.
    pub taken_by: Vec<Answer>,
}

impl NameCheck {
    /// Checks `name`.
    pub fn run(registry: &CompiledRegistry, name: &str) -> NameCheck {
        let taken_by = registry
            .lookup_name(name, None)
            .into_iter()
            .map(|hit| Answer {
                record: hit.record.to_record(),
                role: hit.role,
            })
            .collect();
        NameCheck {
            name: name.to_owned(),
            problems: crate::rules::check_service_name(name),
            taken_by,
        }
    }

    /// Valid and free: the name can be requested.
    pub fn usable(&self) -> bool {
        self.problems.is_empty() && self.taken_by.is_empty()
    }

    /// `{"name", "valid", "free", "problems": [{"code", "message"}], "taken_by": [records]}`.
    pub fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "valid": self.problems.is_empty(),
            "free": self.taken_by.is_empty(),
            "problems": self.problems.iter().map(|p| json!({"code": p.code(), "message": p.to_string()})).collect::<Vec<_>>(),
            "taken_by": self.taken_by.iter().map(answer_to_json).collect::<Vec<_>>(),
        })
    }
}
