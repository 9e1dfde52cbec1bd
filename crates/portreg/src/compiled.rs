//! The compiled registry: one versioned, checksummed binary form that is read in place.
//!
//! The embedded registry and any registry installed later are both kept in this form,
//! so that a lookup costs the same whichever is active; a registry read from a text
//! file is compiled in memory and answers through the same code.
//!
//! The form is a sequence of little-endian `u32` words: a header, a section table, then
//! the sections. Strings are deduplicated into one pool and named by index; records are
//! fixed rows with their rarer fields in a separate detail row; a dense table maps every
//! port to the records that cover it; an open-addressing hash table maps lower-cased
//! names to records; and lower-cased name and description texts serve literal search.

use std::collections::HashMap;
use std::fmt;

use crate::port_range::PortSpan;
use crate::record::{Record, RecordExtra, Reference, ReferenceKind, RegistryDate, Status};
use crate::registry::{Footnote, Metadata, Note, Person, Prose, Registry};
use crate::transport::Transport;

/// `PORTREG\0` as two little-endian words.
const MAGIC: [u32; 2] = [u32::from_le_bytes(*b"PORT"), u32::from_le_bytes(*b"REG\0")];
/// The version of the binary form; a reader refuses any other.
pub const FORMAT_VERSION: u32 = 1;
const NONE: u32 = u32::MAX;
const HEADER_WORDS: usize = 8;
const PORTS: usize = 65_536;

/// Header words.
const H_VERSION: usize = 2;
const H_TOTAL_WORDS: usize = 3;
const H_CHECKSUM: usize = 4;
const H_SECTIONS: usize = 5;
const H_TOP_RECORDS: usize = 6;

/// The sections, in their order in the section table.
#[derive(Clone, Copy)]
enum Section {
    StringBytes,
    StringOffsets,
    Records,
    Details,
    Lists,
    References,
    PortIndex,
    PortPostings,
    NameEntries,
    NameSlots,
    NameText,
    NameTextIndex,
    DescText,
    DescOffsets,
    People,
    Meta,
}
const SECTION_COUNT: usize = 16;

const RECORD_WORDS: usize = 6;
const DETAIL_WORDS: usize = 16;
const REFERENCE_WORDS: usize = 3;
const PERSON_WORDS: usize = 5;
const META_WORDS: usize = 16;
const NAME_ENTRY_WORDS: usize = 3;

/// How a name entry relates to its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// The record's own service name.
    Name,
    /// One of the record's aliases (services(5) aliases).
    Alias,
    /// The name of an earlier assignment kept in a record's history.
    Previous,
}

/// Where a registry came from, kept inside its compiled form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// What the file is and where it came from (`Debian package libwireshark-data`).
    pub source: String,
    /// The source's version (`4.0.17-0+deb12u3`).
    pub version: String,
    /// The SHA-256 of the source file, hex.
    pub sha256: String,
}

/// Why a compiled registry cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompiledError {
    /// Too short, or not a compiled registry at all.
    #[error("not a compiled portreg registry (bad magic or too short)")]
    NotCompiled,
    /// A different version of the binary form.
    #[error(
        "compiled registry format version {found}, this portreg reads version {FORMAT_VERSION}"
    )]
    Version {
        /// The version found.
        found: u32,
    },
    /// Cut short.
    #[error("compiled registry is truncated: {found} bytes of {expected}")]
    Truncated {
        /// Bytes present.
        found: usize,
        /// Bytes the header announces.
        expected: usize,
    },
    /// The checksum does not match.
    #[error("compiled registry is damaged: checksum mismatch")]
    Checksum,
    /// A section lies outside the data.
    #[error("compiled registry is damaged: section {0} out of bounds")]
    Section(usize),
}

/// A compiled registry, borrowed (the embedded one) or owned (installed or compiled in memory).
pub struct CompiledRegistry {
    words: Words,
    sections: [(usize, usize); SECTION_COUNT],
    top_records: usize,
}

enum Words {
    Static(&'static [u32]),
    Owned(Vec<u32>),
    /// Bytes kept as they came (a memory-mapped file), four-byte aligned.
    Shared(Box<dyn AsRef<[u8]> + Send + Sync>),
}

impl Words {
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
            bytemuck::try_cast_slice(bytes).map_err(|_| CompiledError::NotCompiled)?;
        Self::open(Words::Static(words), verify)
    }

    /// Opens compiled data from bytes read from a file, always verifying the checksum.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CompiledError> {
        if !bytes.len().is_multiple_of(4) {
            return Err(CompiledError::NotCompiled);
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
        let words = Builder::build(registry, provenance);
        // What was just built is well-formed; open only computes the section table.
        Self::open(Words::Owned(words), false)
            .unwrap_or_else(|e| unreachable!("freshly compiled registry: {e}"))
    }

    fn open(words: Words, verify: bool) -> Result<Self, CompiledError> {
        let data = words.as_slice();
        if data.len() < HEADER_WORDS + SECTION_COUNT * 2 || data[..2] != MAGIC {
            return Err(CompiledError::NotCompiled);
        }
        if data[H_VERSION] != FORMAT_VERSION {
            return Err(CompiledError::Version {
                found: data[H_VERSION],
            });
        }
        let total = data[H_TOTAL_WORDS] as usize;
        if data.len() != total {
            return Err(CompiledError::Truncated {
                found: data.len() * 4,
                expected: total * 4,
            });
        }
        if data[H_SECTIONS] as usize != SECTION_COUNT {
            return Err(CompiledError::NotCompiled);
        }
        if verify && checksum(&data[HEADER_WORDS..]) != data[H_CHECKSUM] {
            return Err(CompiledError::Checksum);
        }
        let mut sections = [(0, 0); SECTION_COUNT];
        for (index, section) in sections.iter_mut().enumerate() {
            let start = data[HEADER_WORDS + index * 2] as usize;
            let len = data[HEADER_WORDS + index * 2 + 1] as usize;
            if start.checked_add(len).is_none_or(|end| end > total) {
                return Err(CompiledError::Section(index));
            }
            *section = (start, len);
        }
        let top_records = data[H_TOP_RECORDS] as usize;
        let registry = CompiledRegistry {
            words,
            sections,
            top_records,
        };
        if registry.section(Section::PortIndex).len() != PORTS + 1
            || registry.section(Section::Records).len() < top_records * RECORD_WORDS
            || registry.section(Section::Meta).len() != META_WORDS
        {
            return Err(CompiledError::Section(Section::PortIndex as usize));
        }
        Ok(registry)
    }

    /// The compiled data as bytes, as written to a file.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.words().iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    fn words(&self) -> &[u32] {
        self.words.as_slice()
    }

    fn section(&self, section: Section) -> &[u32] {
        let (start, len) = self.sections[section as usize];
        &self.words()[start..start + len]
    }

    fn bytes_of(&self, section: Section) -> &[u8] {
        bytemuck::cast_slice(self.section(section))
    }

    /// A pooled string's bytes; `None` for the absent marker or a damaged index.
    fn string_bytes(&self, id: u32) -> Option<&[u8]> {
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
    fn string(&self, id: u32) -> Option<&str> {
        std::str::from_utf8(self.string_bytes(id)?).ok()
    }

    fn list(&self, at: u32) -> &[u32] {
        if at == NONE {
            return &[];
        }
        let lists = self.section(Section::Lists);
        let at = at as usize;
        let len = lists.get(at).copied().unwrap_or(0) as usize;
        lists.get(at + 1..at + 1 + len).unwrap_or(&[])
    }

    fn strings(&self, at: u32) -> Vec<String> {
        self.list(at)
            .iter()
            .filter_map(|&id| self.string(id))
            .map(str::to_owned)
            .collect()
    }

    fn row(&self, index: usize) -> &[u32] {
        self.section(Section::Records)
            .get(index * RECORD_WORDS..(index + 1) * RECORD_WORDS)
            .unwrap_or(&[NONE; RECORD_WORDS])
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
        (index < self.top_records).then_some(RecordRef {
            registry: self,
            index: index as u32,
        })
    }

    /// Every record, in registry order.
    pub fn records(&self) -> impl ExactSizeIterator<Item = RecordRef<'_>> + '_ {
        (0..self.top_records as u32).map(move |index| RecordRef {
            registry: self,
            index,
        })
    }

    /// The records that cover `port`, the canonical assignment first.
    pub fn records_on_port(&self, port: u16) -> impl Iterator<Item = RecordRef<'_>> + '_ {
        let index = self.section(Section::PortIndex);
        let (start, end) = (
            index[port as usize] as usize,
            index[port as usize + 1] as usize,
        );
        self.section(Section::PortPostings)
            .get(start..end)
            .unwrap_or(&[])
            .iter()
            .map(move |&index| RecordRef {
                registry: self,
                index,
            })
    }

    /// The records named `name` (any case), with how each carries it: as its name, an
    /// alias, or the name of an earlier assignment.
    pub fn records_named<'a>(
        &'a self,
        name: &str,
    ) -> impl Iterator<Item = (RecordRef<'a>, NameKind)> + 'a {
        let entries = self.section(Section::NameEntries);
        let group = self.name_group(name);
        let (start, name_id) = group.unwrap_or((0, NONE));
        entries
            .chunks_exact(NAME_ENTRY_WORDS)
            .skip(start)
            .take_while(move |entry| group.is_some() && entry[0] == name_id)
            .map(move |entry| {
                let kind = match entry[2] {
                    0 => NameKind::Name,
                    1 => NameKind::Alias,
                    _ => NameKind::Previous,
                };
                (
                    RecordRef {
                        registry: self,
                        index: entry[1],
                    },
                    kind,
                )
            })
    }

    /// The first name entry of `name`'s group and the lower-cased name's string id.
    fn name_group(&self, name: &str) -> Option<(usize, u32)> {
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
        if slots.is_empty() {
            return None;
        }
        let entries = self.section(Section::NameEntries);
        let mask = slots.len() - 1;
        let mut slot = hash(&lower) as usize & mask;
        for _ in 0..slots.len() {
            let entry = slots[slot];
            if entry == 0 {
                return None;
            }
            let start = entry as usize - 1;
            let name_id = *entries.get(start * NAME_ENTRY_WORDS)?;
            // Bytes against bytes: no UTF-8 check on the hot path.
            if self.string_bytes(name_id) == Some(&*lower) {
                return Some((start, name_id));
            }
            slot = (slot + 1) & mask;
        }
        None
    }

    /// The distinct lower-cased names with their first entry, and the text they are
    /// joined into (one a line), for search.
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

    /// The records of a name entry group starting at `entry`.
    pub(crate) fn name_group_records(
        &self,
        entry: usize,
    ) -> impl Iterator<Item = (RecordRef<'_>, NameKind)> + '_ {
        let entries = self.section(Section::NameEntries);
        let name_id = entries
            .get(entry * NAME_ENTRY_WORDS)
            .copied()
            .unwrap_or(NONE);
        entries
            .chunks_exact(NAME_ENTRY_WORDS)
            .skip(entry)
            .take_while(move |e| e[0] == name_id)
            .map(move |e| {
                let kind = match e[2] {
                    0 => NameKind::Name,
                    1 => NameKind::Alias,
                    _ => NameKind::Previous,
                };
                (
                    RecordRef {
                        registry: self,
                        index: e[1],
                    },
                    kind,
                )
            })
    }

    /// How many distinct names (service names, aliases and earlier names, any case).
    pub fn name_count(&self) -> usize {
        self.section(Section::NameTextIndex).len() / 2
    }

    /// The people table.
    pub fn people(&self) -> Vec<Person> {
        self.section(Section::People)
            .chunks_exact(PERSON_WORDS)
            .map(|row| self.person_row(row))
            .collect()
    }

    fn person_row(&self, row: &[u32]) -> Person {
        Person {
            id: self.string(row[0]).unwrap_or_default().to_owned(),
            name: self.string(row[1]).map(str::to_owned),
            org: self.string(row[2]).map(str::to_owned),
            uri: self.string(row[3]).map(str::to_owned),
            updated: self.string(row[4]).and_then(|d| d.parse().ok()),
        }
    }

    /// The person with this id.
    pub fn person(&self, id: &str) -> Option<Person> {
        self.section(Section::People)
            .chunks_exact(PERSON_WORDS)
            .find(|row| self.string_bytes(row[0]) == Some(id.as_bytes()))
            .map(|row| self.person_row(row))
    }

    /// How many people the people table has.
    pub fn people_count(&self) -> usize {
        self.section(Section::People).len() / PERSON_WORDS
    }

    fn meta_word(&self, index: usize) -> u32 {
        self.section(Section::Meta)
            .get(index)
            .copied()
            .unwrap_or(NONE)
    }

    /// Where the registry came from.
    pub fn provenance(&self) -> Provenance {
        let text = |i| {
            self.string(self.meta_word(i))
                .unwrap_or_default()
                .to_owned()
        };
        Provenance {
            source: text(10),
            version: text(11),
            sha256: text(12),
        }
    }

    /// When the registry was last updated.
    pub fn updated(&self) -> Option<RegistryDate> {
        self.string(self.meta_word(3)).and_then(|d| d.parse().ok())
    }

    /// The registry's metadata.
    pub fn metadata(&self) -> Metadata {
        let text = |i| self.string(self.meta_word(i)).map(str::to_owned);
        let pairs = |i| -> Vec<(u32, u32)> {
            self.list(self.meta_word(i))
                .chunks_exact(2)
                .map(|p| (p[0], p[1]))
                .collect()
        };
        Metadata {
            id: text(0),
            title: text(1),
            category: text(2),
            updated: self.updated(),
            references: self.references(self.meta_word(4)),
            expert: text(5),
            notes: pairs(6)
                .into_iter()
                .map(|(title, markup)| Note {
                    title: self.string(title).map(str::to_owned),
                    markup: self.string(markup).unwrap_or_default().to_owned(),
                })
                .collect(),
            footnotes: pairs(7)
                .into_iter()
                .map(|(anchor, text)| Footnote {
                    anchor: self.string(anchor).unwrap_or_default().to_owned(),
                    text: self.string(text).unwrap_or_default().to_owned(),
                })
                .collect(),
            legacy_updated: text(8),
            prose: pairs(9)
                .into_iter()
                .map(|(before, text)| Prose {
                    before_record: before as usize,
                    text: self.string(text).unwrap_or_default().to_owned(),
                })
                .collect(),
        }
    }

    fn references(&self, at: u32) -> Vec<Reference> {
        let table = self.section(Section::References);
        self.list(at)
            .iter()
            .filter_map(|&index| {
                table.get(index as usize * REFERENCE_WORDS..(index as usize + 1) * REFERENCE_WORDS)
            })
            .map(|r| Reference {
                kind: reference_kind(r[0]),
                data: self.string(r[1]).unwrap_or_default().to_owned(),
                title: self.string(r[2]).map(str::to_owned),
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

/// A record inside a compiled registry.
#[derive(Clone, Copy)]
pub struct RecordRef<'a> {
    registry: &'a CompiledRegistry,
    index: u32,
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

    fn row(&self) -> &'a [u32] {
        self.registry.row(self.index as usize)
    }

    /// The service name.
    pub fn name(&self) -> Option<&'a str> {
        self.registry.string(self.row()[0])
    }

    /// The port span.
    pub fn ports(&self) -> Option<PortSpan> {
        let row = self.row();
        (row[2] & FLAG_HAS_PORTS != 0).then(|| PortSpan {
            low: row[1] as u16,
            high: (row[1] >> 16) as u16,
        })
    }

    /// The transport.
    pub fn transport(&self) -> Option<Transport> {
        let row = self.row();
        match row[2] & TRANSPORT_MASK {
            0 => None,
            1 => Some(Transport::Tcp),
            2 => Some(Transport::Udp),
            3 => Some(Transport::Sctp),
            4 => Some(Transport::Dccp),
            _ => self.registry.string(row[5]).and_then(|t| t.parse().ok()),
        }
    }

    /// Whether the record covers `transport`: a record without a transport covers them all.
    pub fn covers_transport(&self, transport: &Transport) -> bool {
        let code = self.row()[2] & TRANSPORT_MASK;
        match (code, transport_code(transport)) {
            (0, _) => true,
            (OTHER_TRANSPORT, OTHER_TRANSPORT) => self.transport().as_ref() == Some(transport),
            (code, wanted) => code == wanted,
        }
    }

    /// The status.
    pub fn status(&self) -> Status {
        status_from_code((self.row()[2] >> 4) & 0xf)
    }

    /// The description.
    pub fn description(&self) -> Option<&'a str> {
        self.registry.string(self.row()[3])
    }

    fn detail(&self, field: usize) -> u32 {
        let at = self.row()[4];
        if at == NONE {
            return NONE;
        }
        let details = self.registry.section(Section::Details);
        details
            .get(at as usize * DETAIL_WORDS + field)
            .copied()
            .unwrap_or(NONE)
    }

    /// The aliases.
    pub fn aliases(&self) -> impl Iterator<Item = &'a str> + 'a {
        let registry = self.registry;
        registry
            .list(self.detail(0))
            .iter()
            .filter_map(move |&id| registry.string(id))
    }

    /// The record in full, as the model holds it.
    pub fn to_record(&self) -> Record {
        let registry = self.registry;
        let text = |field| registry.string(self.detail(field)).map(str::to_owned);
        let date = |field| {
            registry
                .string(self.detail(field))
                .and_then(|d| d.parse().ok())
        };
        let commented = match (self.row()[2] >> 9) & 0b11 {
            1 => Some(false),
            2 => Some(true),
            _ => None,
        };
        Record {
            name: self.name().map(str::to_owned),
            aliases: registry.strings(self.detail(0)),
            ports: self.ports(),
            transport: self.transport(),
            description: self.description().map(str::to_owned),
            status: self.status(),
            assignees: registry.strings(self.detail(1)),
            contacts: registry.strings(self.detail(2)),
            registered: date(3),
            modified: date(4),
            references: registry.references(self.detail(5)),
            service_code: text(6),
            unauthorized_use: text(7),
            notes: text(8),
            extra: RecordExtra {
                description_markup: text(9),
                notes_markup: text(10),
                banners: registry.strings(self.detail(11)),
                history: registry
                    .list(self.detail(12))
                    .iter()
                    .map(|&index| RecordRef { registry, index }.to_record())
                    .collect(),
                frequency: text(13),
                ports_as_written: text(14),
                commented,
            },
        }
    }
}

const TRANSPORT_MASK: u32 = 0xf;
const OTHER_TRANSPORT: u32 = 15;
const FLAG_HAS_PORTS: u32 = 1 << 8;

fn transport_code(transport: &Transport) -> u32 {
    match transport {
        Transport::Tcp => 1,
        Transport::Udp => 2,
        Transport::Sctp => 3,
        Transport::Dccp => 4,
        Transport::Other(_) => OTHER_TRANSPORT,
    }
}

const STATUSES: [Status; 7] = [
    Status::Assigned,
    Status::Reserved,
    Status::Unassigned,
    Status::Deassigned,
    Status::Historic,
    Status::Private,
    Status::Temporary,
];

fn status_from_code(code: u32) -> Status {
    STATUSES.get(code as usize).copied().unwrap_or_default()
}

const REFERENCE_KINDS: [ReferenceKind; 6] = [
    ReferenceKind::Rfc,
    ReferenceKind::Draft,
    ReferenceKind::Uri,
    ReferenceKind::Text,
    ReferenceKind::Note,
    ReferenceKind::Person,
];

fn reference_kind(code: u32) -> ReferenceKind {
    REFERENCE_KINDS
        .get(code as usize)
        .copied()
        .unwrap_or(ReferenceKind::Text)
}

/// FNV-1a over the lower-cased name: short keys, no allocation.
fn hash(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn checksum(words: &[u32]) -> u32 {
    crc32fast::hash(bytemuck::cast_slice(words))
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

/// Lays out a registry as compiled words.
#[derive(Default)]
struct Builder {
    string_ids: HashMap<String, u32>,
    string_bytes: Vec<u8>,
    string_offsets: Vec<u32>,
    records: Vec<u32>,
    details: Vec<u32>,
    lists: Vec<u32>,
    references: Vec<u32>,
}

impl Builder {
    fn build(registry: &Registry, provenance: &Provenance) -> Vec<u32> {
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
        let (name_entries, name_slots, name_text, name_text_index) =
            b.name_tables(registry, &history_at);
        let (desc_text, desc_offsets) = description_text(registry);
        let people: Vec<u32> = registry
            .people
            .iter()
            .flat_map(|p| {
                [
                    b.string(&p.id),
                    b.optional(p.name.as_deref()),
                    b.optional(p.org.as_deref()),
                    b.optional(p.uri.as_deref()),
                    b.optional(p.updated.as_ref().map(RegistryDate::as_str)),
                ]
            })
            .collect();
        let meta = b.meta(&registry.meta, provenance);
        let sections: [Vec<u32>; SECTION_COUNT] = [
            pack_bytes(&b.string_bytes),
            b.string_offsets,
            b.records,
            b.details,
            b.lists,
            b.references,
            port_index,
            port_postings,
            name_entries,
            name_slots,
            pack_bytes(&name_text),
            name_text_index,
            pack_bytes(&desc_text),
            desc_offsets,
            people,
            meta,
        ];
        let mut words = vec![0u32; HEADER_WORDS + SECTION_COUNT * 2];
        words[..2].copy_from_slice(&MAGIC);
        words[H_VERSION] = FORMAT_VERSION;
        words[H_SECTIONS] = SECTION_COUNT as u32;
        words[H_TOP_RECORDS] = top as u32;
        for (index, section) in sections.iter().enumerate() {
            words[HEADER_WORDS + index * 2] = words.len() as u32;
            words[HEADER_WORDS + index * 2 + 1] = section.len() as u32;
            words.extend_from_slice(section);
        }
        words[H_TOTAL_WORDS] = words.len() as u32;
        words[H_CHECKSUM] = checksum(&words[HEADER_WORDS..]);
        words
    }

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
                let id = (self.references.len() / REFERENCE_WORDS) as u32;
                let kind = REFERENCE_KINDS
                    .iter()
                    .position(|k| *k == r.kind)
                    .unwrap_or(3) as u32;
                let (data, title) = (self.string(&r.data), self.optional(r.title.as_deref()));
                self.references.extend_from_slice(&[kind, data, title]);
                id
            })
            .collect();
        self.list(&ids)
    }

    fn record(&mut self, record: &Record, history: &[u32]) {
        let transport = record.transport.as_ref().map_or(0, transport_code);
        let status = STATUSES
            .iter()
            .position(|s| *s == record.status)
            .unwrap_or(0) as u32;
        let commented = match record.extra.commented {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        let flags =
            transport | status << 4 | u32::from(record.ports.is_some()) << 8 | commented << 9;
        let ports = record
            .ports
            .map_or(0, |s| u32::from(s.low) | u32::from(s.high) << 16);
        let name = self.optional(record.name.as_deref());
        let description = self.optional(record.description.as_deref());
        let other = match &record.transport {
            Some(Transport::Other(token)) => self.string(token),
            _ => NONE,
        };
        let e = &record.extra;
        let detail = [
            self.string_list(&record.aliases),
            self.string_list(&record.assignees),
            self.string_list(&record.contacts),
            self.optional(record.registered.as_ref().map(RegistryDate::as_str)),
            self.optional(record.modified.as_ref().map(RegistryDate::as_str)),
            self.reference_list(&record.references),
            self.optional(record.service_code.as_deref()),
            self.optional(record.unauthorized_use.as_deref()),
            self.optional(record.notes.as_deref()),
            self.optional(e.description_markup.as_deref()),
            self.optional(e.notes_markup.as_deref()),
            self.string_list(&e.banners),
            self.list(history),
            self.optional(e.frequency.as_deref()),
            self.optional(e.ports_as_written.as_deref()),
            NONE,
        ];
        let detail_at = if detail.iter().all(|&w| w == NONE) {
            NONE
        } else {
            let at = (self.details.len() / DETAIL_WORDS) as u32;
            self.details.extend_from_slice(&detail);
            at
        };
        self.records
            .extend_from_slice(&[name, ports, flags, description, detail_at, other]);
    }

    /// Name entries sorted by lower-cased name, the hash table over them, and the
    /// search text of the distinct names.
    fn name_tables(
        &mut self,
        registry: &Registry,
        history_at: &[u32],
    ) -> (Vec<u32>, Vec<u32>, Vec<u8>, Vec<u32>) {
        let mut entries: Vec<(String, u32, u32)> = Vec::new();
        for (index, record) in registry.records.iter().enumerate() {
            if let Some(name) = &record.name {
                entries.push((name.to_lowercase(), index as u32, 0));
            }
            for alias in &record.aliases {
                entries.push((alias.to_lowercase(), index as u32, 1));
            }
            for (offset, entry) in record.extra.history.iter().enumerate() {
                if let Some(name) = &entry.name {
                    entries.push((name.to_lowercase(), history_at[index] + offset as u32, 2));
                }
            }
        }
        entries.sort();
        entries.dedup();
        let mut words = Vec::with_capacity(entries.len() * NAME_ENTRY_WORDS);
        let mut groups: Vec<(String, u32)> = Vec::new();
        for (position, (name, record, kind)) in entries.iter().enumerate() {
            if groups.last().is_none_or(|g| &g.0 != name) {
                groups.push((name.clone(), position as u32));
            }
            let id = self.string(name);
            words.extend_from_slice(&[id, *record, *kind]);
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
        (words, slots, text, text_index)
    }

    fn meta(&mut self, meta: &Metadata, provenance: &Provenance) -> Vec<u32> {
        let notes: Vec<u32> = meta
            .notes
            .iter()
            .flat_map(|n| {
                [
                    n.title.as_deref().map_or(NONE, |t| self.string(t)),
                    self.string(&n.markup),
                ]
            })
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
        let mut words = vec![
            self.optional(meta.id.as_deref()),
            self.optional(meta.title.as_deref()),
            self.optional(meta.category.as_deref()),
            self.optional(meta.updated.as_ref().map(RegistryDate::as_str)),
            self.reference_list(&meta.references),
            self.optional(meta.expert.as_deref()),
            self.list(&notes),
            self.list(&footnotes),
            self.optional(meta.legacy_updated.as_deref()),
            self.list(&prose),
            self.string(&provenance.source),
            self.string(&provenance.version),
            self.string(&provenance.sha256),
        ];
        words.resize(META_WORDS, NONE);
        words
    }
}

/// The dense port table: for every port, where its records start in the postings.
fn port_tables(registry: &Registry) -> (Vec<u32>, Vec<u32>) {
    let mut counts = vec![0u32; PORTS];
    for record in &registry.records {
        if let Some(span) = record.ports {
            for port in span.low..=span.high {
                counts[port as usize] += 1;
            }
        }
    }
    let mut index = Vec::with_capacity(PORTS + 1);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Registry {
        let record = |name: &str, port: u16, transport: Transport| Record {
            name: Some(name.to_owned()),
            ports: Some(PortSpan::single(port)),
            transport: Some(transport),
            description: Some(format!("{name} service")),
            ..Record::default()
        };
        let mut x11 = record("x11", 6000, Transport::Tcp);
        x11.ports = Some(PortSpan {
            low: 6000,
            high: 6063,
        });
        let mut http = record("http", 80, Transport::Tcp);
        http.aliases = vec!["www".into()];
        Registry {
            records: vec![record("ssh", 22, Transport::Tcp), http, x11],
            ..Registry::default()
        }
    }

    #[test]
    fn compiles_and_reads_back() {
        let registry = sample();
        let compiled = CompiledRegistry::compile(&registry, &Provenance::default());
        assert_eq!(compiled.to_registry(), registry);
        let reopened = CompiledRegistry::from_bytes(&compiled.to_bytes()).unwrap();
        assert_eq!(reopened.to_registry(), registry);
        let words: Vec<u32> = compiled.words().to_vec();
        let shared = CompiledRegistry::from_shared(WordBytes(words), true).unwrap();
        assert_eq!(shared.to_registry(), registry);
        assert_eq!(
            compiled.records_on_port(6010).next().and_then(|r| r.name()),
            Some("x11")
        );
        let www: Vec<_> = compiled.records_named("WWW").collect();
        assert_eq!(www.len(), 1);
        assert_eq!((www[0].0.name(), www[0].1), (Some("http"), NameKind::Alias));
        assert_eq!(compiled.records_named("nope").count(), 0);
    }

    /// Aligned bytes, as a memory map gives them.
    struct WordBytes(Vec<u32>);

    impl AsRef<[u8]> for WordBytes {
        fn as_ref(&self) -> &[u8] {
            bytemuck::cast_slice(&self.0)
        }
    }

    #[test]
    fn damaged_data_is_refused() {
        let bytes = CompiledRegistry::compile(&sample(), &Provenance::default()).to_bytes();
        assert_eq!(
            CompiledRegistry::from_bytes(&bytes[..bytes.len() - 4]).unwrap_err(),
            CompiledError::Truncated {
                found: bytes.len() - 4,
                expected: bytes.len()
            }
        );
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            CompiledRegistry::from_bytes(&flipped).unwrap_err(),
            CompiledError::Checksum
        );
        assert_eq!(
            CompiledRegistry::from_bytes(b"hello world!").unwrap_err(),
            CompiledError::NotCompiled
        );
        let mut version = bytes;
        version[8] = 9;
        assert_eq!(
            CompiledRegistry::from_bytes(&version).unwrap_err(),
            CompiledError::Version { found: 9 }
        );
    }
}
