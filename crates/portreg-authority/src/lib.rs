//! Run a port registry as an assignment authority, the way IANA runs its own: requests
//! with the fields of IANA's application form, checked at once against RFC 6335 and the
//! registry; review; de-assignment, revocation, transfer; an append-only audit trail;
//! and publication in every registry format.
//!
//! The store is one SQLite file (WAL, durable commits, versioned migrations). Every
//! change is one `BEGIN IMMEDIATE` transaction, so concurrent processes are serialised
//! and the checks that decide a change run inside the transaction that makes it.
//!
//! Every change is made by an [`Actor`]: an identity holding an API token and a
//! [`Role`], whose rights the store checks, or the local administrator at the store's
//! own file. Each audit row is chained to the one before by a SHA-256 hash, so that
//! [`Authority::verify`] finds a row changed, removed or inserted behind the store's back.

mod actor;
pub mod log;
pub mod party;
mod store;

use std::fmt;

pub use actor::{Actor, Identity, Role};
pub use store::{
    proofs, time_after, AuditEntry, Authority, ChainReport, RequestRecord, RequestState,
    SharedTree, UserRecord,
};

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

/// 256 random bits as hex: an API token's secret, a web session's id or CSRF token.
pub fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AuthorityError::Refused(format!("no random numbers: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Refuses `value` longer than `max` characters, or holding a control character (C0 or
/// C1) or a non-character that no registry format can carry, naming the field.
pub(crate) fn check_text(field: &'static str, value: &str, max: usize) -> Result<()> {
    check_characters(field, value, false)?;
    check_size(field, value, max)
}

/// As [`check_text`], with line feeds allowed: a comment or a reason of several lines.
pub(crate) fn check_lines(field: &'static str, value: &str, max: usize) -> Result<()> {
    check_characters(field, value, true)?;
    check_size(field, value, max)
}

fn check_characters(field: &'static str, value: &str, lines: bool) -> Result<()> {
    let refused =
        |c: char| (c.is_control() && !(lines && c == '\n')) || matches!(c, '\u{fffe}' | '\u{ffff}');
    if let Some((at, c)) = value.char_indices().find(|&(_, c)| refused(c)) {
        return Err(AuthorityError::Invalid {
            field,
            reason: format!(
                "the {} holds the control character U+{:04X} at byte {at}: {}",
                field.replace('_', " "),
                c as u32,
                if lines {
                    "only line feeds are taken"
                } else {
                    "a field of one line takes no control characters"
                }
            ),
        });
    }
    Ok(())
}

/// As [`check_text`] for a person (a name, an address, or both), at most
/// [`limits::PERSON`] characters, refusing bidirectional controls too: they make a name
/// show in another order than it is written (`\u{202e}ecila` shows as "alice").
pub(crate) fn check_person(field: &'static str, value: &str) -> Result<()> {
    check_text(field, value, limits::PERSON)?;
    let bidi = |c: char| matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if let Some((at, c)) = value.char_indices().find(|&(_, c)| bidi(c)) {
        return Err(AuthorityError::Invalid {
            field,
            reason: format!(
                "the {} holds the bidirectional control U+{:04X} at byte {at}: a person is shown in the order it is written",
                field.replace('_', " "),
                c as u32
            ),
        });
    }
    Ok(())
}

fn check_size(field: &'static str, value: &str, max: usize) -> Result<()> {
    let length = value.chars().count();
    if length > max {
        return Err(AuthorityError::Invalid {
            field,
            reason: format!(
                "the {} is {length} characters long, over the limit of {max}",
                field.replace('_', " ")
            ),
        });
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
    /// A port or a range; `None` with `any_port` picks one, and without it asks for the
    /// name only.
    pub port: Option<portreg::PortSpan>,
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
}

/// Why the authority says no.
#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    /// A rule forbids it; the request is not filed or not approved.
    #[error("refused: {0}")]
    Refused(String),
    /// A field of a request breaks a rule (RFC 6335, the range rules, a limit).
    #[error("refused: {reason}")]
    Invalid {
        /// The request's field (`name`, `port`, `transport`, `description`, ...).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A request asks for a name or a port the registry holds.
    #[error("refused: {reason}")]
    Taken {
        /// `name` or `port`.
        field: &'static str,
        /// Who holds it.
        reason: String,
    },
    /// The actor's role does not allow it, or an identity would review its own request.
    #[error("forbidden: {0}")]
    Forbidden(String),
    /// No identity holds this token, or its identity is revoked or expired.
    #[error("unauthenticated: {0}")]
    Unauthenticated(String),
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
    /// The log does not verify: an entry written, changed or removed by someone without
    /// the authority's key. Nothing is signed over it.
    #[error("the log does not verify: {0}")]
    Tampered(String),
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
            AuthorityError::Refused(_)
                | AuthorityError::Invalid { .. }
                | AuthorityError::Taken { .. }
                | AuthorityError::Forbidden(_)
                | AuthorityError::Unauthenticated(_)
                | AuthorityError::Conflict(_)
                | AuthorityError::NotFound(_)
        )
    }

    /// The word the audit trail records for an attempt that ended in this error.
    pub fn outcome(&self) -> &'static str {
        match self {
            AuthorityError::Refused(_)
            | AuthorityError::Invalid { .. }
            | AuthorityError::Taken { .. } => "refused",
            AuthorityError::Forbidden(_) | AuthorityError::Unauthenticated(_) => "forbidden",
            AuthorityError::Conflict(_) => "conflict",
            AuthorityError::NotFound(_) => "not found",
            AuthorityError::Store { .. }
            | AuthorityError::DamagedRecord(_)
            | AuthorityError::Tampered(_)
            | AuthorityError::Database(_) => "error",
        }
    }
}

/// Results of the authority.
pub type Result<T, E = AuthorityError> = std::result::Result<T, E>;

/// A review's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    /// Create the assignment.
    Approve,
    /// Turn it down.
    Deny,
    /// Send it back to its requester, who amends it and so puts it back in the queue.
    Changes,
}

impl Decision {
    /// `approve`, `deny`, `changes`: the words of the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
            Decision::Changes => "changes",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::{check_person, AuthorityError};

    #[test]
    fn a_person_holds_no_bidirectional_control() {
        assert!(check_person("assignee", "Alice <alice@example.org>").is_ok());
        assert!(check_person("assignee", "أليس").is_ok());
        for bad in [
            "\u{202e}ecila",
            "alice\u{2066}",
            "a\u{200f}lice",
            "\u{061c}x",
        ] {
            match check_person("assignee", bad) {
                Err(AuthorityError::Invalid { field, reason }) => {
                    assert_eq!(field, "assignee");
                    assert!(reason.contains("bidirectional"), "{reason}");
                }
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
