//! Laying a registry out in the compiled form.

use std::collections::HashMap;

use super::{
    checksum, hash, size_words, transport_code, DetailRow, Flags, Header, MetaRow, NameEntry,
    NameKind, PersonRow, Provenance, RecordRow, ReferenceRow, Section, ServiceEntry,
    FORMAT_VERSION, HEADER_WORDS, MAGIC, NONE, PORT_INDEX_WORDS, REFERENCE_KINDS,
};
use crate::record::{Record, Reference, RegistryDate, Status};
use crate::registry::{Metadata, Registry};
use crate::transport::Transport;

/// The registry as compiled words.
pub(super) fn build(registry: &Registry, provenance: &Provenance) -> Vec<u32> {
    let mut b = Builder {
        string_offsets: vec![0],
        ..Builder::default()
    };
    // History records follow the top-level ones; their indices are known up front.
    let top = registry.records.len();
    let mut history_at = Vec::with_capacity(top);
    let mut next_history = top as u32;
    for record in &registry.records {
        history_at.push(next_history);
        next_history += record.extra.history.len() as u32;
    }
    for (index, record) in registry.records.iter().enumerate() {
        let history: Vec<u32> = (0..record.extra.history.len() as u32)
            .map(|i| history_at[index] + i)
            .collect();
        b.record(record, &history);
    }
    for record in &registry.records {
        for entry in &record.extra.history {
            b.record(entry, &[]);
        }
    }
    let (port_index, port_postings) = port_tables(registry);
    let names = b.name_tables(registry, &history_at);
    let (service_entries, service_slots) = b.service_tables(registry);
    let (desc_text, desc_offsets) = description_text(registry);
    let people: Vec<PersonRow> = registry
        .people
        .iter()
        .map(|p| PersonRow {
            id: b.string(&p.id),
            name: b.optional(p.name.as_deref()),
            org: b.optional(p.org.as_deref()),
            uri: b.optional(p.uri.as_deref()),
            updated: b.optional(p.updated.as_ref().map(RegistryDate::as_str)),
        })
        .collect();
    let meta = b.meta(&registry.meta, provenance);
    let sections: [(Section, Vec<u32>); Section::COUNT] = [
        (Section::StringBytes, pack_bytes(&b.string_bytes)),
        (Section::StringOffsets, b.string_offsets),
        (Section::Records, words_of(&b.records)),
        (Section::Details, words_of(&b.details)),
        (Section::Lists, b.lists),
        (Section::References, words_of(&b.references)),
        (Section::PortIndex, port_index),
        (Section::PortPostings, port_postings),
        (Section::NameEntries, words_of(&names.entries)),
        (Section::NameSlots, names.slots),
        (Section::NameText, pack_bytes(&names.text)),
        (Section::NameTextIndex, names.text_index),
        (Section::ServiceEntries, words_of(&service_entries)),
        (Section::ServiceSlots, service_slots),
        (Section::DescText, pack_bytes(&desc_text)),
        (Section::DescOffsets, desc_offsets),
        (Section::People, words_of(&people)),
        (Section::Meta, words_of(&[meta])),
    ];
    let mut words = vec![0u32; HEADER_WORDS + Section::COUNT * 2];
    for (index, (section, content)) in sections.iter().enumerate() {
        debug_assert_eq!(*section, Section::ALL[index]);
        words[HEADER_WORDS + index * 2] = words.len() as u32;
        words[HEADER_WORDS + index * 2 + 1] = content.len() as u32;
        words.extend_from_slice(content);
    }
    let header = Header {
        magic: MAGIC,
        version: FORMAT_VERSION,
        total_words: words.len() as u32,
        checksum: checksum(&words[HEADER_WORDS..]),
        section_count: Section::COUNT as u32,
        records: top as u32,
        reserved: 0,
    };
    words[..HEADER_WORDS].copy_from_slice(bytemuck::cast_slice(&[header]));
    words
}

/// What the name tables of the form hold.
struct NameTables {
    entries: Vec<NameEntry>,
    slots: Vec<u32>,
    text: Vec<u8>,
    text_index: Vec<u32>,
}

/// Lays out a registry as compiled words.
#[derive(Default)]
struct Builder {
    string_ids: HashMap<String, u32>,
    string_bytes: Vec<u8>,
    string_offsets: Vec<u32>,
    records: Vec<RecordRow>,
    details: Vec<DetailRow>,
    lists: Vec<u32>,
    references: Vec<ReferenceRow>,
}

impl Builder {
    fn string(&mut self, text: &str) -> u32 {
        if let Some(&id) = self.string_ids.get(text) {
            return id;
        }
        let id = self.string_offsets.len() as u32 - 1;
        self.string_bytes.extend_from_slice(text.as_bytes());
        self.string_offsets.push(self.string_bytes.len() as u32);
        self.string_ids.insert(text.to_owned(), id);
        id
    }

    fn optional(&mut self, text: Option<&str>) -> u32 {
        text.map_or(NONE, |t| self.string(t))
    }

    fn list(&mut self, items: &[u32]) -> u32 {
        if items.is_empty() {
            return NONE;
        }
        let at = self.lists.len() as u32;
        self.lists.push(items.len() as u32);
        self.lists.extend_from_slice(items);
        at
    }

    fn string_list(&mut self, items: &[String]) -> u32 {
        let ids: Vec<u32> = items.iter().map(|s| self.string(s)).collect();
        self.list(&ids)
    }

    fn reference_list(&mut self, references: &[Reference]) -> u32 {
        let ids: Vec<u32> = references
            .iter()
            .map(|r| {
                let id = self.references.len() as u32;
                let kind = REFERENCE_KINDS
                    .iter()
                    .position(|k| *k == r.kind)
                    .unwrap_or(3) as u32;
                let row = ReferenceRow {
                    kind,
                    data: self.string(&r.data),
                    title: self.optional(r.title.as_deref()),
                };
                self.references.push(row);
                id
            })
            .collect();
        self.list(&ids)
    }

    fn record(&mut self, record: &Record, history: &[u32]) {
        let flags = Flags {
            transport: record.transport.as_ref().map_or(0, transport_code),
            status: record.status,
            has_ports: record.ports.is_some(),
            commented: record.extra.commented,
            source: record.source,
        };
        let e = &record.extra;
        let detail = DetailRow {
            aliases: self.string_list(&record.aliases),
            assignees: self.string_list(&record.assignees),
            contacts: self.string_list(&record.contacts),
            registered: self.optional(record.registered.as_ref().map(RegistryDate::as_str)),
            modified: self.optional(record.modified.as_ref().map(RegistryDate::as_str)),
            references: self.reference_list(&record.references),
            service_code: self.optional(record.service_code.as_deref()),
            unauthorized_use: self.optional(record.unauthorized_use.as_deref()),
            notes: self.optional(record.notes.as_deref()),
            description_markup: self.optional(e.description_markup.as_deref()),
            notes_markup: self.optional(e.notes_markup.as_deref()),
            banners: self.string_list(&e.banners),
            history: self.list(history),
            frequency: self.optional(e.frequency.as_deref()),
            ports_as_written: self.optional(e.ports_as_written.as_deref()),
            reserved: NONE,
        };
        let empty = bytemuck::cast_slice::<DetailRow, u32>(&[detail])
            .iter()
            .all(|&w| w == NONE);
        let detail = if empty {
            NONE
        } else {
            self.details.push(detail);
            self.details.len() as u32 - 1
        };
        let row = RecordRow {
            name: self.optional(record.name.as_deref()),
            ports: record
                .ports
                .map_or(0, |s| u32::from(s.low) | u32::from(s.high) << 16),
            flags: flags.encode(),
            description: self.optional(record.description.as_deref()),
            detail,
            other_transport: match &record.transport {
                Some(Transport::Other(token)) => self.string(token),
                _ => NONE,
            },
        };
        self.records.push(row);
    }

    /// Name entries sorted by lower-cased name, the hash table over them, and the
    /// search text of the distinct names.
    fn name_tables(&mut self, registry: &Registry, history_at: &[u32]) -> NameTables {
        let kind = |k: NameKind| NameKind::ALL.iter().position(|x| *x == k).unwrap_or(0) as u32;
        let mut named: Vec<(String, u32, u32)> = Vec::new();
        for (index, record) in registry.records.iter().enumerate() {
            if let Some(name) = &record.name {
                named.push((name.to_lowercase(), index as u32, kind(NameKind::Name)));
            }
            for alias in &record.aliases {
                named.push((alias.to_lowercase(), index as u32, kind(NameKind::Alias)));
            }
            for (offset, entry) in record.extra.history.iter().enumerate() {
                if let Some(name) = &entry.name {
                    let at = history_at[index] + offset as u32;
                    named.push((name.to_lowercase(), at, kind(NameKind::Previous)));
                }
            }
        }
        named.sort();
        named.dedup();
        let mut entries = Vec::with_capacity(named.len());
        let mut groups: Vec<(&str, u32)> = Vec::new();
        for (position, (name, record, kind)) in named.iter().enumerate() {
            if groups.last().is_none_or(|g| g.0 != name) {
                groups.push((name, position as u32));
            }
            entries.push(NameEntry {
                name: self.string(name),
                record: *record,
                kind: *kind,
            });
        }
        let size = (groups.len() * 2).next_power_of_two().max(2);
        let mut slots = vec![0u32; size];
        let mut text = Vec::new();
        let mut text_index = Vec::with_capacity(groups.len() * 2);
        for (name, first) in &groups {
            let mut slot = hash(name.as_bytes()) as usize & (size - 1);
            while slots[slot] != 0 {
                slot = (slot + 1) & (size - 1);
            }
            slots[slot] = first + 1;
            text_index.extend_from_slice(&[text.len() as u32, *first]);
            text.extend_from_slice(name.as_bytes());
            text.push(b'\n');
        }
        NameTables {
            entries,
            slots,
            text,
            text_index,
        }
    }

    /// The services by exact name: each record with a name and a port is a service under
    /// its name and each alias. A name's entries keep record order, so the first that
    /// serves a protocol is what a services file of the registry answers.
    fn service_tables(&mut self, registry: &Registry) -> (Vec<ServiceEntry>, Vec<u32>) {
        let mut services: Vec<(&str, u32)> = Vec::new();
        for (index, record) in registry.records.iter().enumerate() {
            let (Some(name), Some(_)) = (&record.name, record.ports) else {
                continue;
            };
            let first = services.len();
            for key in std::iter::once(name).chain(&record.aliases) {
                if !services[first..].iter().any(|(seen, _)| seen == key) {
                    services.push((key, index as u32));
                }
            }
        }
        // Stable: within a name, record order stays.
        services.sort_by(|a, b| a.0.cmp(b.0));
        let mut entries = Vec::with_capacity(services.len());
        let mut firsts: Vec<(&str, u32)> = Vec::new();
        for (position, (name, record)) in services.iter().enumerate() {
            if firsts.last().is_none_or(|f| f.0 != *name) {
                firsts.push((name, position as u32));
            }
            entries.push(ServiceEntry {
                name: self.string(name),
                record: *record,
            });
        }
        let size = (firsts.len() * 2).next_power_of_two().max(2);
        let mut slots = vec![0u32; size];
        for (name, first) in &firsts {
            let mut slot = hash(name.as_bytes()) as usize & (size - 1);
            while slots[slot] != 0 {
                slot = (slot + 1) & (size - 1);
            }
            slots[slot] = first + 1;
        }
        (entries, slots)
    }

    fn meta(&mut self, meta: &Metadata, provenance: &Provenance) -> MetaRow {
        let notes: Vec<u32> = meta
            .notes
            .iter()
            .flat_map(|n| [self.optional(n.title.as_deref()), self.string(&n.markup)])
            .collect();
        let footnotes: Vec<u32> = meta
            .footnotes
            .iter()
            .flat_map(|f| [self.string(&f.anchor), self.string(&f.text)])
            .collect();
        let prose: Vec<u32> = meta
            .prose
            .iter()
            .flat_map(|p| [p.before_record as u32, self.string(&p.text)])
            .collect();
        MetaRow {
            id: self.optional(meta.id.as_deref()),
            title: self.optional(meta.title.as_deref()),
            category: self.optional(meta.category.as_deref()),
            updated: self.optional(meta.updated.as_ref().map(RegistryDate::as_str)),
            references: self.reference_list(&meta.references),
            expert: self.optional(meta.expert.as_deref()),
            notes: self.list(&notes),
            footnotes: self.list(&footnotes),
            legacy_updated: self.optional(meta.legacy_updated.as_deref()),
            prose: self.list(&prose),
            source: self.string(&provenance.source),
            version: self.string(&provenance.version),
            sha256: self.string(&provenance.sha256),
            audit_head: self.optional(meta.audit_head.as_deref()),
            reserved: [NONE; 2],
        }
    }
}

/// Ranks records on a port: assigned names first, then historic names, other named
/// records, and nameless rows (Reserved, Unassigned) last.
fn port_rank(record: &Record) -> u8 {
    match (record.name.is_some(), record.status) {
        (true, Status::Assigned | Status::Private | Status::Temporary) => 0,
        (true, Status::Historic) => 1,
        (true, _) => 2,
        (false, _) => 3,
    }
}

/// The dense port table: for every port, where its records start in the postings.
fn port_tables(registry: &Registry) -> (Vec<u32>, Vec<u32>) {
    let mut counts = vec![0u32; PORT_INDEX_WORDS - 1];
    for record in &registry.records {
        if let Some(span) = record.ports {
            for port in span.low..=span.high {
                counts[port as usize] += 1;
            }
        }
    }
    let mut index = Vec::with_capacity(PORT_INDEX_WORDS);
    let mut total = 0u32;
    for count in &counts {
        index.push(total);
        total += count;
    }
    index.push(total);
    let mut postings = vec![0u32; total as usize];
    let mut fill = index.clone();
    let mut order: Vec<usize> = (0..registry.records.len()).collect();
    order.sort_by_key(|&i| (port_rank(&registry.records[i]), i));
    for i in order {
        if let Some(span) = registry.records[i].ports {
            for port in span.low..=span.high {
                postings[fill[port as usize] as usize] = i as u32;
                fill[port as usize] += 1;
            }
        }
    }
    (index, postings)
}

fn description_text(registry: &Registry) -> (Vec<u8>, Vec<u32>) {
    let mut text = Vec::new();
    let mut offsets = Vec::with_capacity(registry.records.len() + 1);
    for record in &registry.records {
        offsets.push(text.len() as u32);
        if let Some(description) = &record.description {
            // One line each, so that a match never runs from one record into the next.
            text.extend(
                description
                    .to_lowercase()
                    .bytes()
                    .map(|b| if b == b'\n' { b' ' } else { b }),
            );
        }
        text.push(b'\n');
    }
    offsets.push(text.len() as u32);
    (text, offsets)
}

fn words_of<T: bytemuck::Pod>(rows: &[T]) -> Vec<u32> {
    debug_assert_eq!(std::mem::size_of::<T>() % 4, 0);
    let words: &[u32] = bytemuck::cast_slice(rows);
    debug_assert_eq!(words.len(), rows.len() * size_words::<T>());
    words.to_vec()
}

fn pack_bytes(bytes: &[u8]) -> Vec<u32> {
    bytes
        .chunks(4)
        .map(|chunk| {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            u32::from_le_bytes(word)
        })
        .collect()
}
