//! What changed between two versions of a registry: records added, removed, and changed
//! field by field.
//!
//! A record's identity is its name (any case), port span and transport; records that
//! share all three (the two name-only `rdp` records) are told apart by their order.

use std::collections::HashMap;

use crate::port_range::PortSpan;
use crate::record::Record;
use crate::transport::Transport;

/// A record present in both versions with different fields.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    /// The record as it was.
    pub old: Record,
    /// The record as it is.
    pub new: Record,
    /// The JSON keys of the fields that differ, in JSON key order.
    pub fields: Vec<&'static str>,
}

/// The differences between two registries.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RegistryDiff {
    /// Records only in the new version, in its order.
    pub added: Vec<Record>,
    /// Records only in the old version, in its order.
    pub removed: Vec<Record>,
    /// Records in both, changed.
    pub changed: Vec<Change>,
}

impl RegistryDiff {
    /// Whether the two versions hold the same records.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Name (lower-cased), ports and transport.
type Key = (Option<String>, Option<PortSpan>, Option<Transport>);
/// A key and which of the records with that key it is.
type Identity = (Option<String>, Option<PortSpan>, Option<Transport>, usize);

fn identities(records: &[Record]) -> Vec<Identity> {
    let mut seen: HashMap<Key, usize> = HashMap::new();
    records
        .iter()
        .map(|record| {
            let key = (
                record.name.as_ref().map(|n| n.to_lowercase()),
                record.ports,
                record.transport.clone(),
            );
            let count = seen.entry(key.clone()).or_default();
            *count += 1;
            (key.0, key.1, key.2, *count - 1)
        })
        .collect()
}

/// The fields of two records that differ, by JSON key.
pub fn changed_fields(old: &Record, new: &Record) -> Vec<&'static str> {
    let checks: [(&'static str, bool); 16] = [
        ("name", old.name == new.name),
        (
            "port_low",
            old.ports.map(|s| s.low) == new.ports.map(|s| s.low),
        ),
        (
            "port_high",
            old.ports.map(|s| s.high) == new.ports.map(|s| s.high),
        ),
        ("transport", old.transport == new.transport),
        ("description", old.description == new.description),
        ("status", old.status == new.status),
        ("aliases", old.aliases == new.aliases),
        (
            "assignees",
            old.effective_assignees() == new.effective_assignees(),
        ),
        ("contacts", old.contacts == new.contacts),
        ("registered", old.registered == new.registered),
        ("modified", old.modified == new.modified),
        ("references", old.references == new.references),
        ("service_code", old.service_code == new.service_code),
        (
            "unauthorized_use",
            old.unauthorized_use == new.unauthorized_use,
        ),
        ("notes", old.notes == new.notes),
        ("source", old.source == new.source),
    ];
    checks
        .iter()
        .filter(|(_, same)| !same)
        .map(|(key, _)| *key)
        .collect()
}

/// Compares two versions of a registry.
pub fn diff(old: &[Record], new: &[Record]) -> RegistryDiff {
    let old_ids = identities(old);
    let new_ids = identities(new);
    let new_index: HashMap<&Identity, usize> =
        new_ids.iter().enumerate().map(|(i, id)| (id, i)).collect();
    let mut matched = vec![false; new.len()];
    let mut result = RegistryDiff::default();
    for (old_position, id) in old_ids.iter().enumerate() {
        match new_index.get(id) {
            Some(&new_position) => {
                matched[new_position] = true;
                let fields = changed_fields(&old[old_position], &new[new_position]);
                if !fields.is_empty() {
                    result.changed.push(Change {
                        old: old[old_position].clone(),
                        new: new[new_position].clone(),
                        fields,
                    });
                }
            }
            None => result.removed.push(old[old_position].clone()),
        }
    }
    result.added = new
        .iter()
        .zip(&matched)
        .filter(|(_, matched)| !**matched)
        .map(|(r, _)| r.clone())
        .collect();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, port: u16, description: &str) -> Record {
        Record {
            name: Some(name.to_owned()),
            ports: Some(PortSpan::single(port)),
            transport: Some(Transport::Tcp),
            description: Some(description.to_owned()),
            ..Record::default()
        }
    }

    #[test]
    fn finds_added_removed_and_changed() {
        let old = vec![
            record("a", 1, "A"),
            record("b", 2, "B"),
            record("c", 3, "C"),
        ];
        let new = vec![
            record("A", 1, "A"),
            record("b", 2, "Bee"),
            record("d", 4, "D"),
        ];
        let diff = diff(&old, &new);
        assert_eq!(diff.added, [record("d", 4, "D")]);
        assert_eq!(diff.removed, [record("c", 3, "C")]);
        assert_eq!(diff.changed.len(), 2);
        assert_eq!(diff.changed[0].fields, ["name"]);
        assert_eq!(diff.changed[1].fields, ["description"]);
    }

    #[test]
    fn repeated_identities_pair_in_order() {
        let twin = |d: &str| Record {
            name: Some("rdp".into()),
            description: Some(d.into()),
            ..Record::default()
        };
        let diff = diff(&[twin("x"), twin("y")], &[twin("x"), twin("y"), twin("z")]);
        assert_eq!(
            (diff.added.len(), diff.removed.len(), diff.changed.len()),
            (1, 0, 0)
        );
    }
}
