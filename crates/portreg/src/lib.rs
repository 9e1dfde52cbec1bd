//! portreg: the service-name and port-number registry.
//!
//! The model ([`Registry`], [`Record`], [`PortSpan`], [`Transport`]) and every form of
//! the registry read and written through [`format::read`] and [`format::write`].

#![warn(missing_docs)]

pub mod compiled;
pub mod diagnostic;
pub mod diff;
pub mod format;
pub mod info;
pub mod lookup;
pub mod port_range;
pub mod record;
pub mod registry;
pub mod rules;
pub mod transport;

pub use diagnostic::{Diagnostic, ParseError};
pub use format::{Format, ReadOptions, ReadOutcome};
pub use port_range::{PortSpan, RangeClass};
pub use record::{Record, RecordExtra, Reference, ReferenceKind, RegistryDate, Status};
pub use registry::{Metadata, Person, Registry};
pub use transport::Transport;
