//! Run a port registry as an assignment authority, the way IANA runs its own: requests
//! with the fields of IANA's application form, checked at once against RFC 6335 and the
//! registry; review; de-assignment, revocation, transfer; an append-only audit trail;
//! and publication in every registry format.
//!
//! The store is one SQLite file (WAL, durable commits, versioned migrations). Every
//! change is one `BEGIN IMMEDIATE` transaction, so concurrent processes are serialised
//! and the checks that decide a change run inside the transaction that makes it.

mod store;

use std::fmt;

pub use store::{AuditEntry, Authority, RequestRecord, RequestState};

/// The longest text the authority takes in a field a person types, in characters:
/// enough for any real entry of IANA's registry, and a bound on what every later table,
/// page and published file has to carry.
pub mod limits {
    /// A description.
    pub const DESCRIPTION: usize = 1_000;
    /// An assignee, a contact, a reviewer or a new assignee (a name and an address).
    pub const PERSON: usize = 200;
    /// A reference (an RFC, a draft, a URI).
    pub const REFERENCE: usize = 500;
    /// DNS-SD TXT keys.
    pub const TXT_KEYS: usize = 500;
    /// The reason given for a decision.
    pub const REASON: usize = 1_000;
}

/// Refuses `value` longer than `max` characters, naming the field.
pub(crate) fn check_length(field: &str, value: &str, max: usize) -> Result<()> {
    let length = value.chars().count();
    if length > max {
        return Err(AuthorityError::Refused(format!(
            "the {field} is {length} characters long, over the limit of {max}"
        )));
    }
    Ok(())
}

/// What a request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewRequest {
    /// The service name.
    pub name: String,
    /// The transports, at least one.
    pub transports: Vec<portreg::Transport>,
    /// A port; `None` with `any_port` picks one, and without it asks for the name only.
    pub port: Option<u16>,
    /// Pick a free port in `range`.
    pub any_port: bool,
    /// The range to pick in; the User range when `None`.
    pub range: Option<portreg::PortSpan>,
    /// What the service is.
    pub description: String,
    /// Who the assignment is to.
    pub assignee: String,
    /// Who to ask about it.
    pub contact: String,
    /// A reference (`RFC6335`, a URI, a draft).
    pub reference: Option<String>,
    /// DNS-SD TXT keys.
    pub txt_keys: Option<String>,
    /// `ietf-review` or `iesg-approval`, needed for a System port.
    pub procedure: Option<String>,
    /// Take a port even though it is Reserved.
    pub reuse: bool,
    /// Who files it (for the audit trail).
    pub actor: String,
}

/// Why the authority says no.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// A rule forbids it; the request is not filed or not approved.
    #[error("refused: {0}")]
    Refused(String),
    /// Another change got there first (the name or the port was taken since).
    #[error("conflict: {0}")]
    Conflict(String),
    /// No such request, record or name.
    #[error("not found: {0}")]
    NotFound(String),
    /// The store cannot be used (not a store, a newer schema, an unreadable path); the
    /// file is left as it was.
    #[error("{}: {what}", path.display())]
    Store {
        /// The store's file.
        path: std::path::PathBuf,
        /// What is wrong with it.
        what: String,
        /// SQLite's own error, where it has one.
        #[source]
        source: Option<rusqlite::Error>,
    },
    /// A record in the store does not read back.
    #[error("a damaged record in the store: {0}")]
    DamagedRecord(String),
    /// SQLite failed during an operation.
    #[error("database error")]
    Database(#[from] rusqlite::Error),
}

impl AuthorityError {
    /// Whether the authority said no (a rule, a conflict, nothing found), as opposed to
    /// a store that cannot be used.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            AuthorityError::Refused(_) | AuthorityError::Conflict(_) | AuthorityError::NotFound(_)
        )
    }
}

/// Results of the authority.
pub type Result<T, E = AuthorityError> = std::result::Result<T, E>;

/// A review's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Create the assignment.
    Approve,
    /// Turn it down.
    Reject,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        })
    }
}
