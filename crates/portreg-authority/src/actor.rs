//! Who acts: an identity with a role (over HTTP, by its API token), or the local
//! administrator (the user of the process that opened the store's file).

use std::fmt;

use crate::party::Party;
use crate::{AuthorityError, Result};

/// What an identity may do. Each role may do what the ones before it may.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[schema(as = IdentityRole)]
pub enum Role {
    /// Submits requests, sees and withdraws their own, amends them when asked to.
    Requester,
    /// Sees the queue; approves, denies or asks for changes, with a comment.
    Expert,
    /// Manages identities; de-assigns, revokes, transfers, reuses Reserved ports, publishes.
    Admin,
}

impl Role {
    /// Every role, in order of rights.
    pub const ALL: [Role; 3] = [Role::Requester, Role::Expert, Role::Admin];

    /// `requester`, `expert`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Requester => "requester",
            Role::Expert => "expert",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a role: requester, expert or admin"))
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An identity that proved itself with its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// Its name (`ada`), unique in the store.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// Its address, if given: a request naming it as assignee or contact is its own.
    pub email: Option<String>,
}

/// Who makes a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The administrator at the store's file, named by the process's user
    /// (`local:NAME`): every right, and not bound by the self-review rule.
    Local(String),
    /// An identity (over HTTP): its role's rights, and never a review of its own request.
    User(Identity),
}

impl Actor {
    /// The local administrator, by user name.
    pub fn local(user: &str) -> Actor {
        Actor::Local(user.to_owned())
    }

    /// The name the audit trail records: `local:NAME` or the identity's name.
    pub fn name(&self) -> String {
        match self {
            Actor::Local(user) => format!("local:{user}"),
            Actor::User(identity) => identity.name.clone(),
        }
    }

    /// Refuses unless the actor has `role` (the local administrator has every role).
    pub fn require(&self, role: Role, what: &str) -> Result<()> {
        match self {
            Actor::User(identity) if identity.role < role => {
                Err(AuthorityError::Forbidden(format!(
                    "{what} needs the {role} role; {} is a {}",
                    identity.name, identity.role
                )))
            }
            _ => Ok(()),
        }
    }

    /// Whether the actor may see and act on every request, not only its own.
    pub fn sees_all_requests(&self) -> bool {
        match self {
            Actor::Local(_) => true,
            Actor::User(identity) => identity.role >= Role::Expert,
        }
    }

    /// The party the actor is, for the self-review rule: an identity's name and
    /// address; the local administrator is nobody's party.
    pub fn party(&self) -> Option<Party> {
        match self {
            Actor::Local(_) => None,
            Actor::User(identity) => Some(Party::new(&identity.name, identity.email.as_deref())),
        }
    }

    /// Whether a request filed by `requester` (the identity that filed it), for
    /// `assignee` with `contact`, is this identity's own: filed by it or by an identity
    /// that is the same person, or naming it (by any spelling of its name or address)
    /// as either person.
    pub fn is_party_to(&self, requester: &Party, assignee: &str, contact: &str) -> bool {
        let Some(me) = self.party() else {
            return false;
        };
        me.same_as(requester) || me.is_named_in(assignee) || me.is_named_in(contact)
    }
}

#[cfg(test)]
mod tests {
    use super::{Actor, Identity, Role};
    use crate::party::Party;

    fn user(name: &str, role: Role, email: Option<&str>) -> Actor {
        Actor::User(Identity {
            name: name.into(),
            role,
            email: email.map(str::to_owned),
        })
    }

    #[test]
    fn roles_are_ordered_and_the_local_administrator_has_all() {
        let expert = user("eve", Role::Expert, None);
        assert!(expert.require(Role::Expert, "review").is_ok());
        assert!(expert.require(Role::Admin, "revoke").is_err());
        assert!(Actor::local("root").require(Role::Admin, "revoke").is_ok());
        assert_eq!(Actor::local("root").name(), "local:root");
    }

    #[test]
    fn a_request_naming_the_identity_is_its_own() {
        let ada = user("ada", Role::Expert, Some("Ada@Example.org"));
        let bob = Party::new("bob", None);
        assert!(ada.is_party_to(&Party::new("ADA", None), "x", "y"));
        assert!(ada.is_party_to(&Party::new("ada2", Some("ada@example.org")), "x", "y"));
        assert!(ada.is_party_to(&bob, "Ada Lovelace", "y"));
        assert!(ada.is_party_to(&bob, "x", "<ada@example.org>"));
        assert!(!ada.is_party_to(&bob, "Adam", "adams@example.org"));
        assert!(!Actor::local("ada").is_party_to(&Party::new("ada", None), "ada", "ada"));
    }
}
