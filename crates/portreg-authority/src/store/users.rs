//! Identities and their API tokens. A token is shown once, when made; the store keeps
//! only its SHA-256 (a token is 256 random bits, so a plain hash is as good as a slow one).

use rusqlite::{params, OptionalExtension};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::party::{check_identifier, fold_email, Party};
use crate::{Actor, AuthorityError, Identity, Result, Role};

use super::{now, Authority};

/// What the store knows of an identity (never its token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// Its address.
    pub email: Option<String>,
    /// When it was made.
    pub created: String,
    /// When its token stops working, if ever.
    pub expires: Option<String>,
    /// When it was revoked, if it was.
    pub revoked: Option<String>,
}

impl UserRecord {
    /// The identity as JSON.
    pub fn to_json(&self) -> Value {
        json!({"name": self.name, "role": self.role.as_str(), "email": self.email,
               "created": self.created, "expires": self.expires, "revoked": self.revoked})
    }
}

/// The prefix of every token: a scanner for leaked secrets can recognise one.
const TOKEN_PREFIX: &str = "portreg_";

fn token_hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// A name for an identity: what a login name may be (letters of one script, digits,
/// `-`, `_`, `.`), and never `local:...`, which names the local administrator in the
/// audit trail.
fn check_user_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.chars().count() <= 64
        && name.starts_with(char::is_alphanumeric)
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "-_.".contains(c));
    if !valid {
        return Err(AuthorityError::Invalid {
            field: "name",
            reason: format!(
                "{name:?} is not an identity's name: 1 to 64 letters, digits, '-', '_' or '.', starting with a letter or digit"
            ),
        });
    }
    check_identifier("name", name)
}

/// An identity's address: one `@`, no spaces, one script a part, nothing invisible.
fn check_user_email(email: &str) -> Result<()> {
    crate::check_person("email", email)?;
    if email.contains(char::is_whitespace) || fold_email(email).is_none() {
        return Err(AuthorityError::Invalid {
            field: "email",
            reason: format!("{email:?} is not an address: expected LOCAL@DOMAIN"),
        });
    }
    check_identifier("email", email)
}

/// The party an identity is (its name and address), for the self-review rule; a
/// requester that is no identity of the store (`local:NAME`, or one of an old store) is
/// its name alone.
pub(super) fn party_of(tx: &rusqlite::Connection, requester: &str) -> Result<Party> {
    let email: Option<Option<String>> = tx
        .query_row(
            "SELECT email FROM users WHERE name = ?1",
            [requester],
            |row| row.get(0),
        )
        .optional()?;
    let name = requester.strip_prefix("local:").unwrap_or(requester);
    Ok(Party::new(name, email.flatten().as_deref()))
}

/// The identity that made identity `name`, where the store knows it.
pub(super) fn creator_of(tx: &rusqlite::Connection, name: &str) -> Result<Option<String>> {
    Ok(tx
        .query_row(
            "SELECT created_by FROM users WHERE name = ?1",
            [name],
            |row| row.get(0),
        )
        .optional()?
        .flatten())
}

fn read_user(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    let role: String = row.get(1)?;
    Ok(UserRecord {
        name: row.get(0)?,
        role: role.parse().unwrap_or(Role::Requester),
        email: row.get(2)?,
        created: row.get(3)?,
        expires: row.get(4)?,
        revoked: row.get(5)?,
    })
}

impl Authority {
    /// Makes an identity and returns its new API token, the only time it is shown.
    /// `expires` is a time `YYYY-MM-DDTHH:MM:SSZ` (or a date, meaning its midnight UTC).
    pub fn add_user(
        &mut self,
        name: &str,
        role: Role,
        email: Option<&str>,
        expires: Option<&str>,
        actor: &Actor,
    ) -> Result<String> {
        let token = format!("{TOKEN_PREFIX}{}", crate::random_secret()?);
        let hash = token_hash(&token);
        self.change(actor, "user-add", name, |tx| {
            actor.require(Role::Admin, "adding an identity")?;
            check_user_name(name)?;
            if let Some(email) = email {
                check_user_email(email)?;
            }
            let expires = expires.map(normalise_time).transpose()?;
            if let Some(expires) = &expires {
                if *expires <= now() {
                    return Err(AuthorityError::Invalid {
                        field: "expires",
                        reason: format!("{expires} has passed: give a time to come"),
                    });
                }
            }
            // Another identity that is the same person by any spelling of the name or
            // the address would let one person file and review.
            let new = Party::new(name, email);
            let mut others = tx.prepare("SELECT name, email FROM users")?;
            let others = others
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, Option<String>>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for (other, other_email) in others {
                if new.same_as(&Party::new(&other, other_email.as_deref())) {
                    return Err(AuthorityError::Conflict(format!(
                        "{name:?} is the identity {other:?} by its name or address (compared as people are: case, width, look-alike letters and invisible characters aside); choose another"
                    )));
                }
            }
            tx.execute(
                "INSERT INTO users (name, role, email, token_hash, created, expires, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![name, role.as_str(), email, hash, now(), expires, actor.name()],
            )?;
            let until = expires
                .as_ref()
                .map_or(String::new(), |e| format!(", until {e}"));
            Ok(((), format!("{name}: {role}{until}")))
        })?;
        Ok(token)
    }

    /// Every identity, revoked ones too.
    pub fn users(&self) -> Result<Vec<UserRecord>> {
        let mut statement = self.connection.prepare(
            "SELECT name, role, email, created, expires, revoked FROM users ORDER BY name",
        )?;
        let users = statement
            .query_map([], read_user)?
            .collect::<rusqlite::Result<_>>()?;
        Ok(users)
    }

    /// Revokes an identity: its token stops working at once. The row stays, for the
    /// history that names it.
    pub fn revoke_user(&mut self, name: &str, actor: &Actor) -> Result<()> {
        self.change(actor, "user-revoke", name, |tx| {
            actor.require(Role::Admin, "revoking an identity")?;
            let changed = tx.execute(
                "UPDATE users SET revoked = ?1 WHERE name = ?2 AND revoked IS NULL",
                params![now(), name],
            )?;
            if changed == 0 {
                return Err(AuthorityError::NotFound(format!(
                    "no identity {name:?} that is not revoked already"
                )));
            }
            Ok(((), format!("{name}: revoked")))
        })
    }

    /// Gives an identity another role.
    pub fn set_role(&mut self, name: &str, role: Role, actor: &Actor) -> Result<()> {
        self.change(actor, "user-role", name, |tx| {
            actor.require(Role::Admin, "changing a role")?;
            let changed = tx.execute(
                "UPDATE users SET role = ?1 WHERE name = ?2 AND revoked IS NULL",
                params![role.as_str(), name],
            )?;
            if changed == 0 {
                return Err(AuthorityError::NotFound(format!(
                    "no identity {name:?} that is not revoked"
                )));
            }
            Ok(((), format!("{name}: {role}")))
        })
    }

    /// The identity holding `token`; a token that is unknown, revoked or expired is
    /// refused, with one message for all three.
    pub fn authenticate(&self, token: &str) -> Result<Identity> {
        let refused =
            || AuthorityError::Unauthenticated("the token is unknown, revoked or expired".into());
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(refused());
        }
        let user = self
            .connection
            .prepare_cached(
                "SELECT name, role, email, created, expires, revoked FROM users WHERE token_hash = ?1",
            )?
            .query_row([token_hash(token)], read_user)
            .optional()?
            .ok_or_else(refused)?;
        let expired = user.expires.as_ref().is_some_and(|e| *e <= now());
        if user.revoked.is_some() || expired {
            return Err(refused());
        }
        Ok(Identity {
            name: user.name,
            role: user.role,
            email: user.email,
        })
    }
}

/// `2027-01-31` or `2027-01-31T12:00:00Z`, as the store writes times.
fn normalise_time(text: &str) -> Result<String> {
    let invalid = || AuthorityError::Invalid {
        field: "expires",
        reason: format!("{text:?}: expected a date YYYY-MM-DD or a time YYYY-MM-DDTHH:MM:SSZ"),
    };
    let (date, time) = text.split_once('T').unwrap_or((text, "00:00:00Z"));
    date.parse::<portreg::RegistryDate>()
        .map_err(|_| invalid())?;
    let clock = time.strip_suffix('Z').ok_or_else(invalid)?;
    let parts: Vec<&str> = clock.split(':').collect();
    let bounds = [24, 60, 60];
    let valid = parts.len() == 3
        && parts.iter().zip(bounds).all(|(part, bound)| {
            part.len() == 2 && part.parse::<u32>().is_ok_and(|value| value < bound)
        });
    if !valid {
        return Err(invalid());
    }
    Ok(format!("{date}T{clock}Z"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::store;
    use crate::{Actor, AuthorityError, Role};

    #[test]
    fn a_token_is_shown_once_and_works_until_revoked() {
        let mut test = store("users");
        let admin = Actor::local("root");
        let token = test
            .authority
            .add_user("ada", Role::Expert, Some("ada@example.org"), None, &admin)
            .unwrap();
        let identity = test.authority.authenticate(&token).unwrap();
        assert_eq!(
            (identity.name.as_str(), identity.role),
            ("ada", Role::Expert)
        );
        let stored: String = test
            .authority
            .connection
            .query_row("SELECT token_hash FROM users", [], |row| row.get(0))
            .unwrap();
        assert!(!stored.contains(&token[8..]), "only a hash is stored");
        assert!(test.authority.authenticate("portreg_0000").is_err());
        assert!(matches!(
            test.authority
                .add_user("ada", Role::Admin, None, None, &admin),
            Err(AuthorityError::Conflict(_))
        ));
        test.authority
            .set_role("ada", Role::Requester, &admin)
            .unwrap();
        assert_eq!(
            test.authority.authenticate(&token).unwrap().role,
            Role::Requester
        );
        test.authority.revoke_user("ada", &admin).unwrap();
        assert!(matches!(
            test.authority.authenticate(&token),
            Err(AuthorityError::Unauthenticated(_))
        ));
    }

    #[test]
    fn an_expired_token_is_refused_and_names_are_checked() {
        let mut test = store("expiry");
        let admin = Actor::local("root");
        assert!(matches!(
            test.authority
                .add_user("old", Role::Requester, None, Some("2001-01-01"), &admin),
            Err(AuthorityError::Invalid {
                field: "expires",
                ..
            })
        ));
        let token = test
            .authority
            .add_user("old", Role::Requester, None, Some("2999-01-01"), &admin)
            .unwrap();
        test.authority
            .connection
            .execute("UPDATE users SET expires = '2001-01-01T00:00:00Z'", [])
            .unwrap();
        assert!(test.authority.authenticate(&token).is_err());
        for bad in ["", "local:root", "-x", "a b"] {
            assert!(test
                .authority
                .add_user(bad, Role::Requester, None, None, &admin)
                .is_err());
        }
        assert!(test
            .authority
            .add_user("x", Role::Requester, None, Some("2027-13-01"), &admin)
            .is_err());
        let token = test
            .authority
            .add_user(
                "new",
                Role::Requester,
                None,
                Some("2999-01-01T10:00:00Z"),
                &admin,
            )
            .unwrap();
        let requester = Actor::User(test.authority.authenticate(&token).unwrap());
        assert!(matches!(
            test.authority
                .add_user("y", Role::Admin, None, None, &requester),
            Err(AuthorityError::Forbidden(_))
        ));
    }

    #[test]
    fn one_person_has_one_identity() {
        let mut test = store("twins");
        let admin = Actor::local("root");
        test.authority
            .add_user(
                "alice",
                Role::Expert,
                Some("alice@example.org"),
                None,
                &admin,
            )
            .unwrap();
        for (name, email) in [
            ("Alice", None),
            ("ALICE", None),
            ("ａlice", None),
            ("al\u{200b}ice", None),
            ("bob", Some("alice+x@example.org")),
            ("bob", Some("Alice@EXAMPLE.org")),
            ("bob", Some("alice@exаmple.org")),
        ] {
            assert!(
                test.authority
                    .add_user(name, Role::Requester, email, None, &admin)
                    .is_err(),
                "{name:?} {email:?}"
            );
        }
        for bad in ["pаypal", "a\u{202e}b"] {
            assert!(matches!(
                test.authority
                    .add_user(bad, Role::Requester, None, None, &admin),
                Err(AuthorityError::Invalid { field: "name", .. })
            ));
        }
        for (name, email) in [
            ("alicia", Some("alicia@example.org")),
            ("malice", None),
            ("bob", Some("bob@alice.example")),
            ("Ελένη", None),
        ] {
            test.authority
                .add_user(name, Role::Requester, email, None, &admin)
                .unwrap_or_else(|e| panic!("{name:?}: {e}"));
        }
    }
}
