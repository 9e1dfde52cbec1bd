//! portreg: the service-name and port-number registry.
//!
//! The registry assigns service names and port numbers per transport (tcp, udp, sctp,
//! dccp) in the three ranges of RFC 6335. This crate holds its model ([`Registry`],
//! [`Record`], [`PortSpan`], [`Transport`]), a compiled form answered in place
//! ([`CompiledRegistry`]: the registry built into portreg, an installed one, or one read
//! from a file), RFC 6335's [`rules`], and, with the `formats` feature, every textual form
//! of the registry read and written without losing a field ([`format`]).
//!
//! # Look a port up
//!
//! ```
//! use portreg::{CompiledRegistry, Transport};
//!
//! let registry = CompiledRegistry::embedded();
//! let hits = registry.lookup_port(22, Some(&Transport::Tcp));
//! assert_eq!(hits[0].record.name(), Some("ssh"));
//! // Ranges answer for every port inside them.
//! let x11 = registry.lookup_port(6010, Some(&Transport::Tcp));
//! assert_eq!(x11[0].record.name(), Some("x11"));
//! ```
//!
//! # Look a name up, any case, aliases and DNS-SD forms too
//!
//! ```
//! use portreg::{CompiledRegistry, Query};
//!
//! let registry = CompiledRegistry::embedded();
//! let query: Query = "_LDAPS._tcp".parse()?;
//! let hits = registry.lookup(&query);
//! assert_eq!(hits[0].record.ports().map(|span| span.low), Some(636));
//! // As libc answers it, without allocating:
//! assert_eq!(registry.getservbyname("https", "tcp"), Some(443));
//! let name: Option<&'static str> = registry.getservbyport(53, "udp");
//! assert_eq!(name, Some("domain"));
//! # Ok::<(), portreg::QueryError>(())
//! ```
//!
//! # Search names and descriptions
//!
//! ```
//! use portreg::{CompiledRegistry, MatchTier};
//!
//! let hits = CompiledRegistry::embedded().search("postgres", &[], 5);
//! assert_eq!(hits[0].tier, MatchTier::ExactName);
//! assert!(hits.iter().any(|hit| hit.record.name() == Some("postgresql")));
//! ```
//!
//! # Read a file and convert it
//!
//! ```
//! # #[cfg(feature = "formats")] {
//! use portreg::format::{self, Format, ReadOptions};
//! use portreg::{CompiledRegistry, Provenance};
//!
//! let services = b"ssh\t22/tcp\t\t# The Secure Shell\nhttp\t80/tcp\twww\n";
//! let outcome = format::read(services, Format::Services, &ReadOptions::default())?;
//! assert_eq!(outcome.registry.records.len(), 2);
//! let csv = format::write(&outcome.registry, Format::IanaCsv);
//! assert!(csv.contains("http,80,tcp"));
//! // Any registry answers through the same code once compiled.
//! let compiled = CompiledRegistry::compile(&outcome.registry, &Provenance::default());
//! assert_eq!(compiled.getservbyname("www", "tcp"), Some(80));
//! # }
//! # Ok::<(), portreg::format::ParseError>(())
//! ```
//!
//! # A lookups-only build
//!
//! Tools that only ask what a port or a name is depend on
//! `portreg = { version = "0.1", default-features = false, features = ["embedded"] }`:
//! the compiled registry and its questions, with no text-format parser (quick-xml, csv,
//! serde, serde_json) in the dependency tree. Answers borrow from the embedded data as
//! `&'static str`.
//!
//! # Features
//!
//! | feature | what |
//! |---|---|
//! | `embedded` (default) | [`CompiledRegistry::embedded`]: IANA's registry compiled into the binary |
//! | `formats` (default) | [`format`]: every registry format read and written; [`Info`], [`NameCheck`] |
//! | `json-schema` | a JSON Schema of the JSON record ([`format::JsonRecord`]) through schemars |
//! | `openapi` | OpenAPI schemas of the JSON types, for the HTTP API |

#![deny(missing_docs)]

pub mod answer_table;
mod compiled;
#[cfg(feature = "formats")]
mod diagnostic;
mod diff;
#[cfg(feature = "formats")]
pub mod export;
#[cfg(feature = "formats")]
pub mod format;
mod free;
#[cfg(feature = "history")]
pub mod history;
#[cfg(feature = "formats")]
mod info;
mod installed;
#[cfg(feature = "formats")]
mod local;
mod lookup;
mod port_range;
mod record;
mod registry;
mod replace;
pub mod rules;
mod transport;

pub use compiled::{
    CompiledError, CompiledRegistry, NameKind, Provenance, RecordRef, Section,
    FORMAT_VERSION as COMPILED_FORMAT_VERSION,
};
pub use diff::{changed_fields, diff, Change, RegistryDiff};
pub use free::{
    Exclusion, Exclusions, FreePorts, Machine, Popular, StablePick, BROWSER_BAD_PORTS, STABLE_SPAN,
};
#[cfg(feature = "formats")]
pub use info::{
    answer_to_json, exclusions_json, explain_json, person_label, person_labels, port_json,
    reference_link, reference_links, stable_json, Info, NameCheck,
};
pub use installed::file_stamp;
#[cfg(feature = "embedded")]
pub use installed::supersedes_built_in;
#[cfg(feature = "formats")]
pub use local::{
    read_capped, LocalLayer, LocalRecord, SYSTEM_DATA_DIR, SYSTEM_DATA_DIR_VARIABLE,
    SYSTEM_LOCAL_DIR, SYSTEM_LOCAL_DIR_VARIABLE,
};
pub use lookup::{
    answer, answers, Answer, Hit, MatchTier, PortClass, Query, QueryError, Role, SearchHit, Service,
};
pub use port_range::{InvalidPortSpan, PortSpan, RangeClass};
pub use record::{
    utc_timestamp, InvalidDate, Record, RecordExtra, Reference, ReferenceKind, RegistryDate,
    Source, Status,
};
pub use registry::{Footnote, Metadata, Note, Person, Prose, Registry};
pub use replace::{check_replacement, ReplacementRefused, MAX_REGISTRY_BYTES};
pub use transport::{InvalidTransport, Transport};

/// The crate's README, its examples run as tests.
#[cfg(all(doctest, feature = "embedded"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeExamples;
