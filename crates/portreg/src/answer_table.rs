//! The record that answers every (transport, port) at once: what `portreg enrich`, the
//! exports and the Python package look a flow's port up in, so that they answer alike.
//!
//! A table holds, for each of five transport slots (tcp, udp, sctp, dccp, then any: no
//! transport known) and each of the 65,536 ports, the record that speaks for it
//! ([`CompiledRegistry::canonical_record`]). Building one is 327,680 lookups (about
//! 13 ms); a line or a row then costs one load.

use std::collections::HashMap;
use std::str::FromStr;

use crate::{CompiledRegistry, RangeClass, RecordRef};

/// The transport slots of an [`AnswerTable`]: tcp, udp, sctp, dccp, any.
pub const SLOTS: usize = 5;
/// The slot of a flow whose transport is not known: any transport answers.
pub const ANY_SLOT: usize = 4;
const PORTS: usize = 65536;
const PROTOCOLS: [Option<&[u8]>; SLOTS] = [
    Some(b"tcp"),
    Some(b"udp"),
    Some(b"sctp"),
    Some(b"dccp"),
    None,
];

/// The transport slot of a log's value: `tcp`, `udp`, `sctp`, `dccp` in any case, or
/// their protocol numbers (6, 17, 132, 33), a JSON string's quotes allowed; `None` for
/// any other (icmp: no ports).
pub fn transport_slot(value: &[u8]) -> Option<usize> {
    let value = value.strip_prefix(b"\"").unwrap_or(value);
    let value = value.strip_suffix(b"\"").unwrap_or(value);
    if !(1..=4).contains(&value.len()) {
        return None;
    }
    let mut lower = [0u8; 4];
    for (slot, byte) in lower.iter_mut().zip(value) {
        *slot = byte.to_ascii_lowercase();
    }
    match &lower[..value.len()] {
        b"tcp" | b"6" => Some(0),
        b"udp" | b"17" => Some(1),
        b"sctp" | b"132" => Some(2),
        b"dccp" | b"33" => Some(3),
        _ => None,
    }
}

/// The transport slot of an IP protocol number (6, 17, 132, 33).
pub fn protocol_slot(number: i64) -> Option<usize> {
    match number {
        6 => Some(0),
        17 => Some(1),
        132 => Some(2),
        33 => Some(3),
        _ => None,
    }
}

/// A port number in a log: 1 to 5 ASCII digits, at most 65535 (a JSON string's quotes
/// allowed).
pub fn port_number(value: &[u8]) -> Option<u16> {
    let value = value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value);
    if value.is_empty() || value.len() > 5 {
        return None;
    }
    let mut port: u32 = 0;
    for &byte in value {
        if !byte.is_ascii_digit() {
            return None;
        }
        port = port * 10 + u32::from(byte - b'0');
    }
    u16::try_from(port).ok()
}

/// What a flow is given about its port: the columns `portreg enrich` adds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Column {
    /// `port_name`: the service name.
    Name,
    /// `port_description`, its line breaks as spaces.
    Description,
    /// `port_status`: assigned, reserved, unassigned...
    Status,
    /// `port_range_class`: system, user, dynamic.
    RangeClass,
    /// `port_source`: iana, local, nmap.
    Source,
}

impl Column {
    /// Every column, in the order of their names.
    pub const ALL: [Column; 5] = [
        Column::Name,
        Column::Description,
        Column::Status,
        Column::RangeClass,
        Column::Source,
    ];

    /// The short name (`name`, `range_class`), as `--add` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Description => "description",
            Column::Status => "status",
            Column::RangeClass => "range_class",
            Column::Source => "source",
        }
    }

    /// The added column's name (`port_name`).
    pub fn header(self) -> &'static str {
        match self {
            Column::Name => "port_name",
            Column::Description => "port_description",
            Column::Status => "port_status",
            Column::RangeClass => "port_range_class",
            Column::Source => "port_source",
        }
    }

    /// The column's value for `record` answering `port`.
    pub fn value(self, record: &RecordRef<'_>, port: u16) -> Option<String> {
        match self {
            Column::Name => record.name().map(str::to_owned),
            Column::Description => record.description().map(|d| d.replace(['\n', '\r'], " ")),
            Column::Status => Some(record.status().as_str().to_owned()),
            Column::RangeClass => Some(RangeClass::of(port).as_str().to_owned()),
            Column::Source => Some(record.source().as_str().to_owned()),
        }
    }
}

/// A name that is not a [`Column`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a column: name, description, status, range_class or source")]
pub struct UnknownColumn(pub String);

impl FromStr for Column {
    type Err = UnknownColumn;

    fn from_str(text: &str) -> Result<Column, UnknownColumn> {
        Column::ALL
            .into_iter()
            .find(|column| column.as_str() == text || column.header() == text)
            .ok_or_else(|| UnknownColumn(text.to_owned()))
    }
}

/// The record answering each transport slot and port.
pub struct AnswerTable<'r> {
    registry: &'r CompiledRegistry,
    /// Record index + 1 per slot and port; 0 where no record answers.
    records: Vec<u32>,
}

/// One column's values for every slot and port, as a dictionary: the distinct values,
/// and per slot and port the index of its value (`-1`: no record, no value).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ColumnValues {
    /// The distinct values, in the order first met (slot by slot, port by port).
    pub values: Vec<String>,
    /// `keys[slot * 65536 + port]`: an index into `values`, or -1.
    pub keys: Vec<i32>,
}

impl ColumnValues {
    /// The value for `port` on a transport slot.
    pub fn get(&self, slot: usize, port: u16) -> Option<&str> {
        let key = *self.keys.get(slot * PORTS + usize::from(port))?;
        usize::try_from(key)
            .ok()
            .and_then(|key| self.values.get(key))
            .map(String::as_str)
    }
}

impl<'r> AnswerTable<'r> {
    /// Looks every port up once, on each transport and on any.
    pub fn new(registry: &'r CompiledRegistry) -> AnswerTable<'r> {
        let mut records = vec![0u32; SLOTS * PORTS];
        for (slot, protocol) in PROTOCOLS.iter().enumerate() {
            for port in 0..=u16::MAX {
                if let Some(record) = registry.canonical_record(port, *protocol) {
                    records[slot * PORTS + usize::from(port)] = record.index() as u32 + 1;
                }
            }
        }
        AnswerTable { registry, records }
    }

    /// The registry it answers from.
    pub fn registry(&self) -> &'r CompiledRegistry {
        self.registry
    }

    /// The record that speaks for `port` on a transport slot.
    pub fn record(&self, slot: usize, port: u16) -> Option<RecordRef<'r>> {
        let at = slot * PORTS + usize::from(port);
        let index = self.records.get(at)?.checked_sub(1)?;
        self.registry.record(index as usize)
    }

    /// Every (slot, port) with the record answering it, slot by slot, port by port.
    pub fn entries(&self) -> impl Iterator<Item = (usize, u16, RecordRef<'r>)> + '_ {
        self.records.iter().enumerate().filter_map(|(at, &index)| {
            let record = self.registry.record(index.checked_sub(1)? as usize)?;
            Some((at / PORTS, (at % PORTS) as u16, record))
        })
    }

    /// One column's value for every slot and port, as a dictionary.
    pub fn column(&self, column: Column) -> ColumnValues {
        let mut values = Vec::new();
        let mut keys = vec![-1i32; SLOTS * PORTS];
        // A record's value is the same on every port, but for the range class.
        let mut known: HashMap<(usize, RangeClass), i32> = HashMap::new();
        let mut by_value: HashMap<String, i32> = HashMap::new();
        for (slot, port, record) in self.entries() {
            let key = (record.index(), RangeClass::of(port));
            let index = *known.entry(key).or_insert_with(|| {
                let Some(value) = column.value(&record, port) else {
                    return -1;
                };
                *by_value.entry(value).or_insert_with_key(|value| {
                    values.push(value.clone());
                    values.len() as i32 - 1
                })
            });
            keys[slot * PORTS + usize::from(port)] = index;
        }
        ColumnValues { values, keys }
    }
}

#[cfg(all(test, feature = "embedded"))]
mod tests {
    use super::*;

    #[test]
    fn answers_as_the_registry_does() {
        let registry = CompiledRegistry::embedded();
        let table = AnswerTable::new(registry);
        assert_eq!(table.record(0, 22).and_then(|r| r.name()), Some("ssh"));
        assert_eq!(table.record(1, 53).and_then(|r| r.name()), Some("domain"));
        assert!(table.record(0, 60000).is_none());
        let names = table.column(Column::Name);
        for (slot, protocol) in PROTOCOLS.into_iter().enumerate() {
            for port in [0, 22, 80, 443, 1023, 5353, 8443, 49151, 65535] {
                let expected = registry
                    .canonical_record(port, protocol)
                    .and_then(|r| r.name());
                assert_eq!(names.get(slot, port), expected, "{slot} {port}");
            }
        }
        let classes = table.column(Column::RangeClass);
        assert_eq!(classes.get(0, 22), Some("system"));
        assert_eq!(classes.get(0, 8080), Some("user"));
    }

    #[test]
    fn reads_log_values() {
        assert_eq!(transport_slot(b"TCP"), Some(0));
        assert_eq!(transport_slot(b"\"udp\""), Some(1));
        assert_eq!(transport_slot(b"17"), Some(1));
        assert_eq!(transport_slot(b"icmp"), None);
        assert_eq!(protocol_slot(132), Some(2));
        assert_eq!(port_number(b"\"443\""), Some(443));
        assert_eq!(port_number(b"65536"), None);
        assert_eq!("range_class".parse::<Column>(), Ok(Column::RangeClass));
        assert_eq!("port_name".parse::<Column>(), Ok(Column::Name));
        assert!("nope".parse::<Column>().is_err());
    }
}
