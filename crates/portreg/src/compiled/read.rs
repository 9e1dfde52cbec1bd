//! Reading the compiled form in place: opening and checking it, and the typed views of
//! its rows. The questions asked of a registry (ports, names, search, free ports) are
//! in `lookup`.

use std::fmt;

use super::{
    checksum, hash, CompiledError, DetailRow, Flags, Header, MetaRow, NameEntry, NameKind,
    PersonRow, Provenance, RecordRow, ReferenceRow, Section, ServiceEntry, FORMAT_VERSION,
    HEADER_WORDS, MAGIC, NONE, OTHER_TRANSPORT, PORT_INDEX_WORDS, REFERENCE_KINDS, TRANSPORT_CODES,
};
use crate::port_range::PortSpan;
use crate::record::{Record, RecordExtra, Reference, ReferenceKind, RegistryDate, Source, Status};
use crate::registry::{Footnote, Metadata, Note, Person, Prose, Registry};
use crate::transport::Transport;

/// A compiled registry, borrowed (the embedded one) or owned (installed or compiled in
/// memory). Its questions — [`lookup_port`](Self::lookup_port),
/// [`lookup_name`](Self::lookup_name), [`search`](Self::search),
/// [`getservbyport`](Self::getservbyport) and the rest — are answered in place; free
/// ports are [`FreePorts`](crate::FreePorts)'.
pub struct CompiledRegistry {
    words: Words,
    sections: [(usize, usize); Section::COUNT],
    top_records: usize,
}

enum Words {
    Static(&'static [u32]),
    Owned(Vec<u32>),
    /// Bytes kept as they came (a memory-mapped file), four-byte aligned.
    Shared(Box<dyn AsRef<[u8]> + Send + Sync>),
}

impl Words {
    #[inline]
    fn as_slice(&self) -> &[u32] {
        match self {
            Words::Static(words) => words,
            Words::Owned(words) => words,
            // Alignment and length were checked when the buffer was taken.
            Words::Shared(bytes) => bytemuck::try_cast_slice((**bytes).as_ref()).unwrap_or(&[]),
        }
    }
}

impl fmt::Debug for CompiledRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledRegistry")
            .field("bytes", &(self.words().len() * 4))
            .field("records", &self.top_records)
            .finish()
    }
}

impl CompiledRegistry {
    /// Opens compiled data in place. The checksum is verified when `verify` is set;
    /// data compiled into the binary skips that, as its tests check it.
    pub fn from_static(bytes: &'static [u8], verify: bool) -> Result<Self, CompiledError> {
        let words: &'static [u32] =
            bytemuck::try_cast_slice(bytes).map_err(|_| CompiledError::Unaligned(bytes.len()))?;
        Self::open(Words::Static(words), verify)
    }

    /// Whether `bytes` begin as the compiled form does (damaged or not): what to read them
    /// as, before reading.
    pub fn looks_compiled(bytes: &[u8]) -> bool {
        bytes.starts_with(b"PORTREG\0")
    }

    /// Opens compiled data from bytes read from a file, always verifying the checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CompiledError> {
        if !bytes.len().is_multiple_of(4) {
            return Err(CompiledError::Unaligned(bytes.len()));
        }
        let words = bytes
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Self::open(Words::Owned(words), true)
    }

    /// Opens compiled data from a buffer kept as it is (a memory-mapped file, say).
    /// Aligned data on a little-endian machine is read in place, and then only the pages
    /// a lookup touches are read; otherwise it is copied. The checksum, which reads every
    /// page, is verified when `verify` is set (always for copied data).
    pub fn from_shared<B: AsRef<[u8]> + Send + Sync + 'static>(
        bytes: B,
        verify: bool,
    ) -> Result<Self, CompiledError> {
        let in_place = cfg!(target_endian = "little")
            && bytemuck::try_cast_slice::<u8, u32>(bytes.as_ref()).is_ok();
        if in_place {
            Self::open(Words::Shared(Box::new(bytes)), verify)
        } else {
            Self::from_bytes(bytes.as_ref())
        }
    }

    /// Compiles a registry in memory.
    pub fn compile(registry: &Registry, provenance: &Provenance) -> Self {
        let words = super::build::build(registry, provenance);
        // What was just built is well-formed; open only computes the section table.
        Self::open(Words::Owned(words), false)
            .unwrap_or_else(|e| unreachable!("freshly compiled registry: {e}"))
    }

    fn open(words: Words, verify: bool) -> Result<Self, CompiledError> {
        let data = words.as_slice();
        let table_words = Section::COUNT * 2;
        if data.len() < HEADER_WORDS + table_words {
            return Err(CompiledError::NotCompiled);
        }
        let header: Header =
            bytemuck::pod_read_unaligned(bytemuck::cast_slice(&data[..HEADER_WORDS]));
        if header.magic != MAGIC {
            return Err(CompiledError::NotCompiled);
        }
        if header.version != FORMAT_VERSION {
            return Err(CompiledError::Version {
                found: header.version,
            });
        }
        let total = header.total_words as usize;
        if data.len() != total {
            return Err(CompiledError::Truncated {
                found: data.len() * 4,
                expected: total * 4,
            });
        }
        if header.section_count as usize != Section::COUNT {
            return Err(CompiledError::SectionCount {
                found: header.section_count,
                expected: Section::COUNT,
            });
        }
        if verify && checksum(&data[HEADER_WORDS..]) != header.checksum {
            return Err(CompiledError::Checksum);
        }
        let mut sections = [(0, 0); Section::COUNT];
        for (index, section) in Section::ALL.into_iter().enumerate() {
            let start = data[HEADER_WORDS + index * 2] as usize;
            let len = data[HEADER_WORDS + index * 2 + 1] as usize;
            if start < HEADER_WORDS + table_words
                || start.checked_add(len).is_none_or(|end| end > total)
            {
                return Err(CompiledError::SectionBounds(section));
            }
            if !len.is_multiple_of(section.row_words()) {
                return Err(CompiledError::SectionRows(section));
            }
            sections[index] = (start, len);
        }
        let registry = CompiledRegistry {
            words,
            sections,
            top_records: header.records as usize,
        };
        let port_index = registry.section(Section::PortIndex).len();
        if port_index != PORT_INDEX_WORDS {
            return Err(CompiledError::PortIndex(port_index));
        }
        let meta = registry.section(Section::Meta).len();
        if meta != super::size_words::<MetaRow>() {
            return Err(CompiledError::Meta(meta));
        }
        let present = registry.rows::<RecordRow>(Section::Records).len();
        if present < registry.top_records {
            return Err(CompiledError::RecordCount {
                announced: registry.top_records,
                present,
            });
        }
        Ok(registry)
    }

    /// The compiled data as bytes, as written to a file.
    pub fn to_bytes(&self) -> Vec<u8> {
        bytemuck::cast_slice(self.words()).to_vec()
    }

    #[inline]
    fn words(&self) -> &[u32] {
        self.words.as_slice()
    }

    #[inline]
    pub(crate) fn section(&self, section: Section) -> &[u32] {
        let (start, len) = self.sections[section as usize];
        self.words().get(start..start + len).unwrap_or(&[])
    }

    #[inline]
    pub(crate) fn bytes_of(&self, section: Section) -> &[u8] {
        bytemuck::cast_slice(self.section(section))
    }

    /// A section as rows; its length was checked to be whole rows when opened.
    #[inline]
    fn rows<T: bytemuck::Pod>(&self, section: Section) -> &[T] {
        bytemuck::try_cast_slice(self.section(section)).unwrap_or(&[])
    }

    /// A pooled string's bytes; `None` for the absent marker or a damaged index.
    #[inline]
    pub(crate) fn string_bytes(&self, id: u32) -> Option<&[u8]> {
        if id == NONE {
            return None;
        }
        let offsets = self.section(Section::StringOffsets);
        let (start, end) = (
            *offsets.get(id as usize)? as usize,
            *offsets.get(id as usize + 1)? as usize,
        );
        self.bytes_of(Section::StringBytes).get(start..end)
    }

    /// A pooled string; `None` for the absent marker or a damaged index.
    #[inline]
    fn string(&self, id: u32) -> Option<&str> {
        let bytes = self.string_bytes(id)?;
        // Nearly every string is ASCII: checked inline, where the general check is a
        // call (measurable on the name service's path).
        if bytes.is_ascii() {
            // SAFETY: ASCII bytes are UTF-8.
            return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
        }
        std::str::from_utf8(bytes).ok()
    }

    fn owned(&self, id: u32) -> Option<String> {
        self.string(id).map(str::to_owned)
    }

    fn date(&self, id: u32) -> Option<RegistryDate> {
        self.string(id).and_then(|d| d.parse().ok())
    }

    fn list(&self, at: u32) -> &[u32] {
        if at == NONE {
            return &[];
        }
        let lists = self.section(Section::Lists);
        let at = at as usize;
        let len = lists.get(at).copied().unwrap_or(0) as usize;
        at.checked_add(1 + len)
            .and_then(|end| lists.get(at + 1..end))
            .unwrap_or(&[])
    }

    fn pairs(&self, at: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.list(at).chunks_exact(2).map(|p| (p[0], p[1]))
    }

    fn strings(&self, at: u32) -> Vec<String> {
        self.list(at)
            .iter()
            .filter_map(|&id| self.owned(id))
            .collect()
    }

    #[inline]
    fn record_row(&self, index: u32) -> &RecordRow {
        self.rows::<RecordRow>(Section::Records)
            .get(index as usize)
            .unwrap_or(&RecordRow::ABSENT)
    }

    fn detail_row(&self, index: u32) -> &DetailRow {
        if index == NONE {
            return &DetailRow::ABSENT;
        }
        self.rows::<DetailRow>(Section::Details)
            .get(index as usize)
            .unwrap_or(&DetailRow::ABSENT)
    }

    fn meta(&self) -> &MetaRow {
        self.rows::<MetaRow>(Section::Meta)
            .first()
            .unwrap_or(&MetaRow::ABSENT)
    }

    /// How many records the registry has (history entries aside).
    pub fn len(&self) -> usize {
        self.top_records
    }

    /// Whether the registry has no records.
    pub fn is_empty(&self) -> bool {
        self.top_records == 0
    }

    /// The record at `index`, in registry order.
    pub fn record(&self, index: usize) -> Option<RecordRef<'_>> {
        (index < self.top_records).then(|| self.record_at(index as u32))
    }

    /// Every record, in registry order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> + '_ {
        (0..self.top_records as u32).map(move |index| self.record_at(index))
    }

    #[inline]
    pub(crate) fn record_at(&self, index: u32) -> RecordRef<'_> {
        RecordRef {
            registry: self,
            index,
            row: self.record_row(index),
        }
    }

    /// The record indices that cover `port`, in posting order (canonical first).
    pub(crate) fn port_postings(&self, port: u16) -> &[u32] {
        let index = self.section(Section::PortIndex);
        let bounds = (
            index.get(port as usize).copied(),
            index.get(port as usize + 1).copied(),
        );
        match bounds {
            (Some(start), Some(end)) => self
                .section(Section::PortPostings)
                .get(start as usize..end as usize)
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    /// The name entries of the group starting at entry `first`, as records and kinds.
    pub(crate) fn name_group_records(
        &self,
        first: usize,
    ) -> impl Iterator<Item = (RecordRef<'_>, NameKind)> + '_ {
        let entries = self.rows::<NameEntry>(Section::NameEntries);
        let name = entries.get(first).map_or(NONE, |e| e.name);
        entries
            .get(first..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |e| e.name == name && name != NONE)
            .map(move |e| {
                let kind = NameKind::ALL
                    .get(e.kind as usize)
                    .copied()
                    .unwrap_or(NameKind::Previous);
                (self.record_at(e.record), kind)
            })
    }

    /// The first name entry of `name`'s group (any case), through the hash table.
    pub(crate) fn name_group(&self, name: &str) -> Option<usize> {
        let mut buffer = [0u8; 64];
        let lower: std::borrow::Cow<'_, [u8]> = if name.len() <= buffer.len() && name.is_ascii() {
            for (slot, byte) in buffer.iter_mut().zip(name.bytes()) {
                *slot = byte.to_ascii_lowercase();
            }
            std::borrow::Cow::Borrowed(&buffer[..name.len()])
        } else {
            std::borrow::Cow::Owned(name.to_lowercase().into_bytes())
        };
        let slots = self.section(Section::NameSlots);
        if slots.is_empty() || !slots.len().is_power_of_two() {
            return None;
        }
        let entries = self.rows::<NameEntry>(Section::NameEntries);
        let mask = slots.len() - 1;
        let mut slot = hash(&lower) as usize & mask;
        for _ in 0..slots.len() {
            let first = slots[slot];
            if first == 0 {
                return None;
            }
            let start = first as usize - 1;
            // Bytes against bytes: no UTF-8 check on the hot path.
            if self.string_bytes(entries.get(start)?.name) == Some(&*lower) {
                return Some(start);
            }
            slot = (slot + 1) & mask;
        }
        None
    }

    /// The records with a name and a port called exactly `name` (bytes against bytes, as
    /// libc compares), in record order, through the exact-name hash table.
    pub(crate) fn services_named(&self, name: &[u8]) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        let entries = self.rows::<ServiceEntry>(Section::ServiceEntries);
        let first = self.service_group(entries, name);
        let group = first.and_then(|first| entries.get(first..)).unwrap_or(&[]);
        let key = group.first().map_or(NONE, |e| e.name);
        group
            .iter()
            .take_while(move |e| e.name == key)
            .map(move |e| self.record_at(e.record))
    }

    fn service_group(&self, entries: &[ServiceEntry], name: &[u8]) -> Option<usize> {
        let slots = self.section(Section::ServiceSlots);
        if slots.is_empty() || !slots.len().is_power_of_two() {
            return None;
        }
        let mask = slots.len() - 1;
        let mut slot = hash(name) as usize & mask;
        for _ in 0..slots.len() {
            let first = slots[slot];
            if first == 0 {
                return None;
            }
            let start = first as usize - 1;
            if self.string_bytes(entries.get(start)?.name) == Some(name) {
                return Some(start);
            }
            slot = (slot + 1) & mask;
        }
        None
    }

    /// The distinct lower-cased names, one a line, and per name its offset and first
    /// entry, for search.
    pub(crate) fn name_text(&self) -> (&[u8], &[u32]) {
        (
            self.bytes_of(Section::NameText),
            self.section(Section::NameTextIndex),
        )
    }

    /// The lower-cased descriptions, one a line in record order, and where each starts.
    pub(crate) fn description_text(&self) -> (&[u8], &[u32]) {
        (
            self.bytes_of(Section::DescText),
            self.section(Section::DescOffsets),
        )
    }

    /// How many distinct names (service names, aliases and earlier names, any case).
    pub fn name_count(&self) -> usize {
        self.section(Section::NameTextIndex).len() / 2
    }

    /// The people table.
    pub fn people(&self) -> Vec<Person> {
        self.rows::<PersonRow>(Section::People)
            .iter()
            .map(|row| self.person_row(row))
            .collect()
    }

    fn person_row(&self, row: &PersonRow) -> Person {
        Person {
            id: self.owned(row.id).unwrap_or_default(),
            name: self.owned(row.name),
            org: self.owned(row.org),
            uri: self.owned(row.uri),
            updated: self.date(row.updated),
        }
    }

    /// The person with this id.
    pub fn person(&self, id: &str) -> Option<Person> {
        self.rows::<PersonRow>(Section::People)
            .iter()
            .find(|row| self.string_bytes(row.id) == Some(id.as_bytes()))
            .map(|row| self.person_row(row))
    }

    /// How many people the people table has.
    pub fn people_count(&self) -> usize {
        self.rows::<PersonRow>(Section::People).len()
    }

    /// Where the registry came from.
    pub fn provenance(&self) -> Provenance {
        let meta = self.meta();
        Provenance {
            source: self.owned(meta.source).unwrap_or_default(),
            version: self.owned(meta.version).unwrap_or_default(),
            sha256: self.owned(meta.sha256).unwrap_or_default(),
        }
    }

    /// When the registry was last updated.
    pub fn updated(&self) -> Option<RegistryDate> {
        self.date(self.meta().updated)
    }

    /// The registry's metadata.
    pub fn metadata(&self) -> Metadata {
        let meta = self.meta();
        Metadata {
            id: self.owned(meta.id),
            title: self.owned(meta.title),
            category: self.owned(meta.category),
            updated: self.updated(),
            references: self.references(meta.references),
            expert: self.owned(meta.expert),
            notes: self
                .pairs(meta.notes)
                .map(|(title, markup)| Note {
                    title: self.owned(title),
                    markup: self.owned(markup).unwrap_or_default(),
                })
                .collect(),
            footnotes: self
                .pairs(meta.footnotes)
                .map(|(anchor, text)| Footnote {
                    anchor: self.owned(anchor).unwrap_or_default(),
                    text: self.owned(text).unwrap_or_default(),
                })
                .collect(),
            legacy_updated: self.owned(meta.legacy_updated),
            audit_head: self.owned(meta.audit_head),
            prose: self
                .pairs(meta.prose)
                .map(|(before, text)| Prose {
                    before_record: before as usize,
                    text: self.owned(text).unwrap_or_default(),
                })
                .collect(),
        }
    }

    fn references(&self, at: u32) -> Vec<Reference> {
        let table = self.rows::<ReferenceRow>(Section::References);
        self.list(at)
            .iter()
            .filter_map(|&index| table.get(index as usize))
            .map(|r| Reference {
                kind: REFERENCE_KINDS
                    .get(r.kind as usize)
                    .copied()
                    .unwrap_or(ReferenceKind::Text),
                data: self.owned(r.data).unwrap_or_default(),
                title: self.owned(r.title),
            })
            .collect()
    }

    /// The whole registry back in its model: records, metadata and people.
    pub fn to_registry(&self) -> Registry {
        Registry {
            meta: self.metadata(),
            records: self.records().map(|r| r.to_record()).collect(),
            people: self.people(),
        }
    }
}

/// A record inside a compiled registry: its fields read in place, without allocating.
#[derive(Clone, Copy)]
pub struct RecordRef<'a> {
    registry: &'a CompiledRegistry,
    index: u32,
    /// Its row, found once: every field of a record is read through it.
    row: &'a RecordRow,
}

impl fmt::Debug for RecordRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordRef")
            .field("index", &self.index)
            .field("name", &self.name())
            .field("ports", &self.ports())
            .field("transport", &self.transport())
            .finish()
    }
}

impl PartialEq for RecordRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.registry, other.registry) && self.index == other.index
    }
}

impl<'a> RecordRef<'a> {
    /// The record's position in the registry.
    pub fn index(&self) -> usize {
        self.index as usize
    }

    fn row(&self) -> &'a RecordRow {
        self.row
    }

    fn flags(&self) -> Flags {
        Flags::decode(self.row().flags)
    }

    fn detail(&self) -> &'a DetailRow {
        self.registry.detail_row(self.row().detail)
    }

    /// The service name.
    pub fn name(&self) -> Option<&'a str> {
        self.registry.string(self.row().name)
    }

    /// The port span.
    pub fn ports(&self) -> Option<PortSpan> {
        let row = self.row();
        self.flags().has_ports.then_some(PortSpan {
            low: row.ports as u16,
            high: (row.ports >> 16) as u16,
        })
    }

    /// The transport.
    pub fn transport(&self) -> Option<Transport> {
        match self.flags().transport {
            0 => None,
            OTHER_TRANSPORT => self
                .registry
                .string(self.row().other_transport)
                .and_then(|t| t.parse().ok()),
            code => TRANSPORT_CODES.get(code as usize - 1).cloned(),
        }
    }

    /// The transport as written (`tcp`, `udp`, ...), borrowed: no allocation, for callers
    /// such as the name service that must not allocate on a lookup.
    pub fn transport_str(&self) -> Option<&'a str> {
        match self.flags().transport {
            0 => None,
            OTHER_TRANSPORT => self.registry.string(self.row().other_transport),
            1 => Some("tcp"),
            2 => Some("udp"),
            3 => Some("sctp"),
            4 => Some("dccp"),
            _ => None,
        }
    }

    /// Whether the record covers `transport`: a record without a transport covers them all.
    pub fn covers_transport(&self, transport: &Transport) -> bool {
        match (self.flags().transport, super::transport_code(transport)) {
            (0, _) => true,
            (OTHER_TRANSPORT, OTHER_TRANSPORT) => self.transport().as_ref() == Some(transport),
            (code, wanted) => code == wanted,
        }
    }

    /// The status.
    pub fn status(&self) -> Status {
        self.flags().status
    }

    /// The layer the record comes from.
    pub fn source(&self) -> Source {
        self.flags().source
    }

    /// The description.
    pub fn description(&self) -> Option<&'a str> {
        self.registry.string(self.row().description)
    }

    /// The aliases.
    pub fn aliases(&self) -> impl Iterator<Item = &'a str> + 'a {
        let registry = self.registry;
        registry
            .list(self.detail().aliases)
            .iter()
            .filter_map(move |&id| registry.string(id))
    }

    /// The record in full, as the model holds it.
    pub fn to_record(&self) -> Record {
        self.record_at_depth(0)
    }

    /// History entries have no history of their own; damaged data that says otherwise
    /// must not recurse for ever.
    fn record_at_depth(&self, depth: u8) -> Record {
        let registry = self.registry;
        let detail = self.detail();
        let flags = self.flags();
        let history = if depth == 0 {
            registry
                .list(detail.history)
                .iter()
                .map(|&index| registry.record_at(index).record_at_depth(1))
                .collect()
        } else {
            Vec::new()
        };
        Record {
            name: self.name().map(str::to_owned),
            aliases: registry.strings(detail.aliases),
            ports: self.ports(),
            transport: self.transport(),
            description: self.description().map(str::to_owned),
            status: flags.status,
            assignees: registry.strings(detail.assignees),
            contacts: registry.strings(detail.contacts),
            registered: registry.date(detail.registered),
            modified: registry.date(detail.modified),
            references: registry.references(detail.references),
            service_code: registry.owned(detail.service_code),
            unauthorized_use: registry.owned(detail.unauthorized_use),
            notes: registry.owned(detail.notes),
            source: flags.source,
            extra: RecordExtra {
                description_markup: registry.owned(detail.description_markup),
                notes_markup: registry.owned(detail.notes_markup),
                banners: registry.strings(detail.banners),
                history,
                frequency: registry.owned(detail.frequency),
                ports_as_written: registry.owned(detail.ports_as_written),
                commented: flags.commented,
            },
        }
    }
}

#[cfg(feature = "embedded")]
impl CompiledRegistry {
    /// The registry compiled into portreg (crate `portreg-data`), opened on first use
    /// without a copy or a parse.
    pub fn embedded() -> &'static CompiledRegistry {
        static EMBEDDED: std::sync::OnceLock<CompiledRegistry> = std::sync::OnceLock::new();
        EMBEDDED.get_or_init(|| {
            // Built into the binary and checked by the embedded-registry tests: not input.
            CompiledRegistry::from_static(portreg_data::compiled(), false)
                .expect("the embedded registry is valid")
        })
    }
}
