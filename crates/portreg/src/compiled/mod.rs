//! The compiled registry: one versioned, checksummed binary form that is read in place.
//!
//! The embedded registry and any registry installed later are both kept in this form, so
//! that a lookup costs the same whichever is active; a registry read from a text file is
//! compiled in memory and answers through the same code ([`CompiledRegistry::compile`]).
//!
//! # Layout
//!
//! Little-endian `u32` words throughout. Every row below is a `#[repr(C)]` struct of
//! words ([`Header`], [`RecordRow`], ...), read and written through the same definition.
//! A string is a string id (an index into the pool); `NONE` (`u32::MAX`) marks an absent
//! value; a *list* is an offset into the `Lists` section, where a count is followed by
//! that many words.
//!
//! | words | what |
//! |---|---|
//! | 8 | [`Header`]: magic `PORTREG\0`, format version, total words, CRC-32 of everything after the header, section count, record count |
//! | 2 × 16 | the section table: start word and length in words of each [`Section`] |
//! | ... | the sections, in table order |
//!
//! | section | rows | what |
//! |---|---|---|
//! | `StringBytes` | bytes | the string pool, UTF-8, packed four to a word |
//! | `StringOffsets` | `u32` | where string *n* starts; string *n* ends where *n + 1* starts |
//! | `Records` | [`RecordRow`] (6) | one a record: top-level records, then history entries |
//! | `Details` | [`DetailRow`] (16) | the rarer fields of a record, shared by index |
//! | `Lists` | `u32` | counted lists of string ids, reference rows or record indices |
//! | `References` | [`ReferenceRow`] (3) | typed references |
//! | `PortIndex` | `u32` × 65,537 | where each port's postings start (and end, at the next port) |
//! | `PortPostings` | `u32` | record indices per port, the canonical assignment first |
//! | `NameEntries` | [`NameEntry`] (3) | (lower-cased name, record, kind), sorted by name |
//! | `NameSlots` | `u32` | open-addressing hash table (FNV-1a) of first entry + 1 per name; 0 is empty |
//! | `NameText` | bytes | the distinct lower-cased names, one a line, for search |
//! | `NameTextIndex` | `u32` × 2 | per distinct name: its offset in `NameText` and its first entry |
//! | `ServiceEntries` | [`ServiceEntry`] (2) | (exact name or alias, record) per record with a name and a port, grouped by name in record order |
//! | `ServiceSlots` | `u32` | open-addressing hash table (FNV-1a of the exact bytes) of first entry + 1 per name; 0 is empty |
//! | `DescText` | bytes | lower-cased descriptions, one a line, in record order |
//! | `DescOffsets` | `u32` | where each record's description line starts |
//! | `People` | [`PersonRow`] (5) | the people table |
//! | `Meta` | [`MetaRow`] (16) | registry metadata and provenance |
//!
//! Reading never trusts the data: every index is bounds-checked, so damaged data gives an
//! error when opened or empty answers, never a crash or a read out of bounds.

mod build;
mod read;

pub use read::{CompiledRegistry, RecordRef};

use crate::record::{ReferenceKind, Source, Status};
use crate::transport::Transport;

/// The version of the binary form; a reader refuses any other.
pub const FORMAT_VERSION: u32 = 3;

/// `PORTREG\0` as two little-endian words.
const MAGIC: [u32; 2] = [u32::from_le_bytes(*b"PORT"), u32::from_le_bytes(*b"REG\0")];
/// The absent marker of a string id, list or row index.
const NONE: u32 = u32::MAX;
/// One entry of the port index per port, plus the end.
const PORT_INDEX_WORDS: usize = 65_537;

/// The header: the first eight words.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct Header {
    magic: [u32; 2],
    version: u32,
    total_words: u32,
    checksum: u32,
    section_count: u32,
    records: u32,
    reserved: u32,
}

const HEADER_WORDS: usize = size_words::<Header>();

/// The sections, in their order in the section table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Section {
    /// The string pool's bytes.
    StringBytes,
    /// Where each string starts.
    StringOffsets,
    /// Record rows.
    Records,
    /// Detail rows.
    Details,
    /// Counted lists.
    Lists,
    /// Reference rows.
    References,
    /// The dense port index.
    PortIndex,
    /// Record indices per port.
    PortPostings,
    /// Name entries sorted by name.
    NameEntries,
    /// The name hash table.
    NameSlots,
    /// Distinct names, one a line.
    NameText,
    /// Offsets and first entries of the distinct names.
    NameTextIndex,
    /// Services by exact name, for `getservbyname`.
    ServiceEntries,
    /// The exact-name hash table of the services.
    ServiceSlots,
    /// Descriptions, one a line.
    DescText,
    /// Where each description starts.
    DescOffsets,
    /// People rows.
    People,
    /// The metadata row.
    Meta,
}

impl Section {
    const ALL: [Section; 18] = [
        Section::StringBytes,
        Section::StringOffsets,
        Section::Records,
        Section::Details,
        Section::Lists,
        Section::References,
        Section::PortIndex,
        Section::PortPostings,
        Section::NameEntries,
        Section::NameSlots,
        Section::NameText,
        Section::NameTextIndex,
        Section::ServiceEntries,
        Section::ServiceSlots,
        Section::DescText,
        Section::DescOffsets,
        Section::People,
        Section::Meta,
    ];
    const COUNT: usize = Section::ALL.len();

    /// The size of one row of the section, in words: its length must be a multiple.
    fn row_words(self) -> usize {
        match self {
            Section::Records => size_words::<RecordRow>(),
            Section::Details => size_words::<DetailRow>(),
            Section::References => size_words::<ReferenceRow>(),
            Section::NameEntries => size_words::<NameEntry>(),
            Section::NameTextIndex => 2,
            Section::ServiceEntries => size_words::<ServiceEntry>(),
            Section::People => size_words::<PersonRow>(),
            Section::Meta => size_words::<MetaRow>(),
            _ => 1,
        }
    }
}

/// Why a compiled registry cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CompiledError {
    /// Too short, or not a compiled registry at all.
    #[error("not a compiled portreg registry (bad magic or too short)")]
    NotCompiled,
    /// Not aligned to whole words.
    #[error("not a compiled portreg registry: {0} bytes is not a whole number of words")]
    Unaligned(usize),
    /// A different version of the binary form.
    #[error(
        "compiled registry format version {found}, this portreg reads version {FORMAT_VERSION}"
    )]
    Version {
        /// The version found.
        found: u32,
    },
    /// Cut short, or with bytes after its end.
    #[error("compiled registry is truncated: {found} bytes of {expected}")]
    Truncated {
        /// Bytes present.
        found: usize,
        /// Bytes the header announces.
        expected: usize,
    },
    /// The section table has the wrong number of sections.
    #[error("compiled registry is damaged: {found} sections, expected {expected}")]
    SectionCount {
        /// Sections announced.
        found: u32,
        /// Sections this version has.
        expected: usize,
    },
    /// The checksum does not match.
    #[error("compiled registry is damaged: checksum mismatch")]
    Checksum,
    /// A section lies outside the data.
    #[error("compiled registry is damaged: section {0:?} lies outside the data")]
    SectionBounds(Section),
    /// A section's length is not a whole number of its rows.
    #[error("compiled registry is damaged: section {0:?} is not a whole number of rows")]
    SectionRows(Section),
    /// The port index does not have one entry a port.
    #[error("compiled registry is damaged: the port index has {0} entries, expected 65537")]
    PortIndex(usize),
    /// The metadata section is not one row.
    #[error("compiled registry is damaged: the metadata section is {0} words")]
    Meta(usize),
    /// The header counts more records than the records section holds.
    #[error("compiled registry is damaged: {announced} records announced, {present} present")]
    RecordCount {
        /// Records the header announces.
        announced: usize,
        /// Rows the section holds.
        present: usize,
    },
}

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

impl NameKind {
    const ALL: [NameKind; 3] = [NameKind::Name, NameKind::Alias, NameKind::Previous];
}

/// Where a registry came from, kept inside its compiled form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// What the file is and where it came from (`IANA service-names-port-numbers.xml`).
    pub source: String,
    /// The source's version (its date, or a package version).
    pub version: String,
    /// The SHA-256 of the source files, hex.
    pub sha256: String,
}

/// A record: the fields every lookup reads.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct RecordRow {
    /// Service name (string).
    name: u32,
    /// Low port in the low half, high port in the high half.
    ports: u32,
    /// [`Flags`].
    flags: u32,
    /// Description (string).
    description: u32,
    /// Index of the [`DetailRow`], or `NONE`.
    detail: u32,
    /// The transport's token (string) when it is none of the four.
    other_transport: u32,
}

impl RecordRow {
    const ABSENT: RecordRow = RecordRow {
        name: NONE,
        ports: 0,
        flags: 0,
        description: NONE,
        detail: NONE,
        other_transport: NONE,
    };
}

/// The rarer fields of a record.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct DetailRow {
    aliases: u32,
    assignees: u32,
    contacts: u32,
    registered: u32,
    modified: u32,
    references: u32,
    service_code: u32,
    unauthorized_use: u32,
    notes: u32,
    description_markup: u32,
    notes_markup: u32,
    banners: u32,
    history: u32,
    frequency: u32,
    ports_as_written: u32,
    reserved: u32,
}

impl DetailRow {
    const ABSENT: DetailRow = DetailRow {
        aliases: NONE,
        assignees: NONE,
        contacts: NONE,
        registered: NONE,
        modified: NONE,
        references: NONE,
        service_code: NONE,
        unauthorized_use: NONE,
        notes: NONE,
        description_markup: NONE,
        notes_markup: NONE,
        banners: NONE,
        history: NONE,
        frequency: NONE,
        ports_as_written: NONE,
        reserved: NONE,
    };
}

/// A typed reference.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct ReferenceRow {
    kind: u32,
    data: u32,
    title: u32,
}

/// A person of the people table.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct PersonRow {
    id: u32,
    name: u32,
    org: u32,
    uri: u32,
    updated: u32,
}

/// A name and the record that carries it.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct NameEntry {
    /// The lower-cased name (string).
    name: u32,
    /// The record's index.
    record: u32,
    /// [`NameKind`] as its position in [`NameKind::ALL`].
    kind: u32,
}

/// A name of a service as `getservbyname` finds it: a name or alias exactly as written
/// (libc compares bytes), and the record with a name and a port that carries it.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct ServiceEntry {
    /// The name or alias (string).
    name: u32,
    /// The record's index.
    record: u32,
}

/// The registry's metadata and provenance.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub(crate) struct MetaRow {
    id: u32,
    title: u32,
    category: u32,
    updated: u32,
    references: u32,
    expert: u32,
    /// Pairs (title, markup).
    notes: u32,
    /// Pairs (anchor, text).
    footnotes: u32,
    legacy_updated: u32,
    /// Pairs (records before it, text).
    prose: u32,
    source: u32,
    version: u32,
    sha256: u32,
    /// Taken from the words kept spare, so older readers skip it.
    audit_head: u32,
    reserved: [u32; 2],
}

impl MetaRow {
    const ABSENT: MetaRow = MetaRow {
        id: NONE,
        title: NONE,
        category: NONE,
        updated: NONE,
        references: NONE,
        expert: NONE,
        notes: NONE,
        footnotes: NONE,
        legacy_updated: NONE,
        prose: NONE,
        source: NONE,
        version: NONE,
        sha256: NONE,
        audit_head: NONE,
        reserved: [NONE; 2],
    };
}

/// The bit fields of [`RecordRow::flags`]: transport, status, whether there are ports,
/// the legacy comment mark, and the layer the record comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    transport: u32,
    status: Status,
    has_ports: bool,
    commented: Option<bool>,
    source: Source,
}

impl Flags {
    const TRANSPORT: (u32, u32) = (0, 0xf);
    const STATUS: (u32, u32) = (4, 0xf);
    const HAS_PORTS: (u32, u32) = (8, 1);
    const COMMENTED: (u32, u32) = (9, 0b11);
    const SOURCE: (u32, u32) = (11, 0b11);

    const STATUSES: [Status; 7] = [
        Status::Assigned,
        Status::Reserved,
        Status::Unassigned,
        Status::Deassigned,
        Status::Historic,
        Status::Private,
        Status::Temporary,
    ];
    const SOURCES: [Source; 3] = [Source::Iana, Source::Local, Source::Nmap];

    fn encode(self) -> u32 {
        let put = |(shift, mask): (u32, u32), value: u32| (value & mask) << shift;
        let status = Self::STATUSES
            .iter()
            .position(|s| *s == self.status)
            .unwrap_or(0) as u32;
        let commented = match self.commented {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        };
        let source = Self::SOURCES
            .iter()
            .position(|s| *s == self.source)
            .unwrap_or(0) as u32;
        put(Self::TRANSPORT, self.transport)
            | put(Self::STATUS, status)
            | put(Self::HAS_PORTS, u32::from(self.has_ports))
            | put(Self::COMMENTED, commented)
            | put(Self::SOURCE, source)
    }

    fn decode(word: u32) -> Flags {
        let get = |(shift, mask): (u32, u32)| (word >> shift) & mask;
        Flags {
            transport: get(Self::TRANSPORT),
            status: Self::STATUSES
                .get(get(Self::STATUS) as usize)
                .copied()
                .unwrap_or_default(),
            has_ports: get(Self::HAS_PORTS) == 1,
            commented: match get(Self::COMMENTED) {
                1 => Some(false),
                2 => Some(true),
                _ => None,
            },
            source: Self::SOURCES
                .get(get(Self::SOURCE) as usize)
                .copied()
                .unwrap_or_default(),
        }
    }
}

/// Transport codes of [`Flags`]: 0 for none, 1-4 for the registry's four, and
/// [`OTHER_TRANSPORT`] for a token kept as a string (`ddp`).
const TRANSPORT_CODES: [Transport; 4] = [
    Transport::Tcp,
    Transport::Udp,
    Transport::Sctp,
    Transport::Dccp,
];
const OTHER_TRANSPORT: u32 = 15;

fn transport_code(transport: &Transport) -> u32 {
    TRANSPORT_CODES
        .iter()
        .position(|t| t == transport)
        .map_or(OTHER_TRANSPORT, |i| i as u32 + 1)
}

const REFERENCE_KINDS: [ReferenceKind; 6] = [
    ReferenceKind::Rfc,
    ReferenceKind::Draft,
    ReferenceKind::Uri,
    ReferenceKind::Text,
    ReferenceKind::Note,
    ReferenceKind::Person,
];

/// The size of a row type in words.
const fn size_words<T>() -> usize {
    std::mem::size_of::<T>() / 4
}

/// FNV-1a: short keys (names), no allocation.
fn hash(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

fn checksum(words: &[u32]) -> u32 {
    crc32fast::hash(bytemuck::cast_slice(words))
}

#[cfg(test)]
mod tests;
