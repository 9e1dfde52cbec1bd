//! Review: an approval checks the request again inside the transaction that creates
//! its records.

use portreg::{PortSpan, Record, Reference, RegistryDate, Status, Transport};
use rusqlite::{params, Connection};

use crate::{check_lines, Actor, AuthorityError, Decision, NewRequest, Result, Role};

use super::{
    check, covering, insert, load_request, now, reserved_for, Authority, RequestRecord,
    RequestState,
};

/// Creates the records of an approved request: one per transport, and on the other of
/// tcp and udp, if free, a Reserved record for the service, as IANA does. Unassigned
/// ranges around the port are split.
pub(super) fn assign(tx: &Connection, request: &NewRequest) -> Result<Vec<Record>> {
    let today = RegistryDate::today();
    let position: i64 = tx.query_row(
        "SELECT coalesce(max(position), 0) + 1 FROM records",
        [],
        |row| row.get(0),
    )?;
    let mut created = Vec::new();
    let base = Record {
        name: Some(request.name.clone()),
        description: Some(request.description.clone()),
        status: Status::Assigned,
        assignees: if request.assignee == request.contact {
            Vec::new()
        } else {
            vec![request.assignee.clone()]
        },
        contacts: vec![request.contact.clone()],
        registered: Some(today.clone()),
        references: request
            .reference
            .iter()
            .map(|r| Reference::from_label(r))
            .collect(),
        notes: request
            .txt_keys
            .as_ref()
            .map(|keys| format!("Defined TXT keys: {keys}")),
        ..Record::default()
    };
    let Some(span) = request.port else {
        for transport in &request.transports {
            let record = Record {
                transport: Some(transport.clone()),
                ..base.clone()
            };
            insert(tx, &record, position)?;
            created.push(record);
        }
        return Ok(created);
    };
    let mut others: Vec<Transport> = [Transport::Tcp, Transport::Udp]
        .into_iter()
        .filter(|t| !request.transports.contains(t))
        .collect();
    if !request
        .transports
        .iter()
        .any(|t| matches!(t, Transport::Tcp | Transport::Udp))
    {
        others.clear();
    }
    for transport in request.transports.iter().chain(&others) {
        for (id, record) in covering(tx, span, transport)? {
            match record.status {
                Status::Unassigned => split(tx, id, &record, span)?,
                Status::Reserved | Status::Deassigned if request.transports.contains(transport) => {
                    tx.execute("DELETE FROM records WHERE id = ?1", [id])?;
                }
                _ => {}
            }
        }
    }
    for transport in &request.transports {
        let record = Record {
            ports: Some(span),
            transport: Some(transport.clone()),
            ..base.clone()
        };
        insert(tx, &record, position)?;
        created.push(record);
    }
    for transport in &others {
        if covering(tx, span, transport)?
            .iter()
            .any(|(_, r)| r.status != Status::Unassigned)
        {
            continue;
        }
        let record = Record {
            ports: Some(span),
            transport: Some(transport.clone()),
            description: Some("Reserved".into()),
            status: Status::Reserved,
            notes: Some(reserved_for(&request.name)),
            modified: Some(today.clone()),
            ..Record::default()
        };
        insert(tx, &record, position)?;
        created.push(record);
    }
    Ok(created)
}

/// Cuts `cut` out of an Unassigned record.
pub(super) fn split(tx: &Connection, id: i64, record: &Record, cut: PortSpan) -> Result<()> {
    let Some(span) = record.ports else {
        return Ok(());
    };
    let position: i64 =
        tx.query_row("SELECT position FROM records WHERE id = ?1", [id], |row| {
            row.get(0)
        })?;
    tx.execute("DELETE FROM records WHERE id = ?1", [id])?;
    let parts = [
        (span.low < cut.low).then(|| PortSpan {
            low: span.low,
            high: cut.low - 1,
        }),
        (cut.high < span.high).then(|| PortSpan {
            low: cut.high + 1,
            high: span.high,
        }),
    ];
    for part in parts.into_iter().flatten() {
        let mut piece = record.clone();
        piece.ports = Some(part);
        piece.extra.ports_as_written = None;
        insert(tx, &piece, position)?;
    }
    Ok(())
}

impl Authority {
    /// Decides a pending request: approve, deny, or send it back for changes, with a
    /// comment. Only an expert decides, and never on a request it filed or that names it
    /// as assignee or contact (the local administrator excepted). An approval checks the
    /// request again, inside the transaction that creates the records, and is a conflict
    /// when the name or the port was taken since. The decision is on `version` of the
    /// request (its first, as filed, when not given): a request amended since is a
    /// conflict, so that an approval never creates what its expert did not read. Returns
    /// the request as it now stands and the records created.
    pub fn review(
        &mut self,
        id: i64,
        decision: Decision,
        comment: Option<&str>,
        version: Option<i64>,
        actor: &Actor,
    ) -> Result<(RequestRecord, Vec<Record>)> {
        self.change(actor, decision.as_str(), &format!("request {id}"), |tx| {
            actor.require(Role::Expert, "reviewing a request")?;
            check_lines("comment", comment.unwrap_or(""), crate::limits::REASON)?;
            let filed = load_request(tx, id)?;
            let r = &filed.request;
            let requester = super::users::party_of(tx, &filed.requester)?;
            // An identity's maker stands behind it: approving what it files is self-review.
            let made_by_reviewer = actor.party().is_some()
                && super::users::creator_of(tx, &filed.requester)?.as_deref()
                    == Some(actor.name().as_str());
            if made_by_reviewer || actor.is_party_to(&requester, &r.assignee, &r.contact) {
                return Err(AuthorityError::Forbidden(format!(
                    "request {id} is {}'s own (filed by {}, for {} / {}): another expert reviews it",
                    actor.name(),
                    filed.requester,
                    r.assignee,
                    r.contact
                )));
            }
            if filed.state != RequestState::Pending {
                return Err(AuthorityError::Conflict(format!(
                    "request {id} is {}, not pending",
                    filed.state.as_str()
                )));
            }
            let read = version.unwrap_or(1);
            if read != filed.version {
                return Err(AuthorityError::Conflict(format!(
                    "request {id} is at version {}, not the version {read} this decision is on: it was amended since; read it again and name its version",
                    filed.version
                )));
            }
            let (created, state) = match decision {
                Decision::Deny => (Vec::new(), RequestState::Denied),
                Decision::Changes => (Vec::new(), RequestState::ChangesRequested),
                Decision::Approve => {
                    // A name or port taken since the request was filed is a conflict.
                    check(tx, &filed.request).map_err(|error| match error {
                        AuthorityError::Taken { reason, .. } => AuthorityError::Conflict(reason),
                        other => other,
                    })?;
                    (assign(tx, &filed.request)?, RequestState::Approved)
                }
            };
            tx.execute(
                "UPDATE requests SET state = ?1, reviewer = ?2, reason = ?3, decided = ?4 WHERE id = ?5",
                params![state.as_str(), actor.name(), comment, now(), id],
            )?;
            let why = comment.map_or(String::new(), |c| format!("; {c}"));
            // The name and the port, so that the history of either finds the decision.
            let detail = format!(
                "{} {}: {} record(s){why}",
                state.as_str(),
                super::requests::summary(&filed.request),
                created.len()
            );
            Ok(((load_request(tx, id)?, created), detail))
        })
    }
}

#[cfg(test)]
mod tests {
    use portreg::{Status, Transport};

    use super::super::testing::{local, request, store};
    use crate::{AuthorityError, Decision};

    #[test]
    fn an_approval_creates_the_records_and_splits_the_unassigned_range() {
        let mut test = store("review");
        let id = test
            .authority
            .request(&request("zq-web", Some(40500)), &local())
            .unwrap();
        let (_, created) = test
            .authority
            .review(id, Decision::Approve, None, None, &local())
            .unwrap();
        assert_eq!(created.len(), 2, "the tcp record and a Reserved udp record");
        assert_eq!(created[0].transport, Some(Transport::Tcp));
        assert_eq!(created[1].status, Status::Reserved);
        let registry = test.authority.registry().unwrap();
        let unassigned: Vec<String> = registry
            .records
            .iter()
            .filter(|r| r.status == Status::Unassigned)
            .filter_map(|r| r.ports.map(|p| p.to_string()))
            .collect();
        assert_eq!(unassigned, ["40000-40499", "40501-40999"]);
        // A decided request is not decided again.
        assert!(matches!(
            test.authority
                .review(id, Decision::Deny, None, None, &local()),
            Err(AuthorityError::Conflict(_))
        ));
    }

    /// An identity made by the local administrator, as it acts over HTTP.
    fn identity(
        test: &mut super::super::testing::TestStore,
        name: &str,
        role: crate::Role,
        email: Option<&str>,
    ) -> crate::Actor {
        let token = test
            .authority
            .add_user(name, role, email, None, &local())
            .unwrap();
        crate::Actor::User(test.authority.authenticate(&token).unwrap())
    }

    #[test]
    fn an_approval_is_of_the_version_its_expert_read() {
        let mut test = store("versions");
        let ada = identity(&mut test, "ada", crate::Role::Requester, None);
        let eve = identity(&mut test, "eve", crate::Role::Expert, None);
        let id = test
            .authority
            .request(&request("zq-read", Some(40901)), &ada)
            .unwrap();
        let read = test.authority.request_by_id(id, &eve).unwrap();
        assert_eq!(read.version, 1);
        // Amended after the expert read it: port, description, assignee.
        let mut changed = request("zq-read", Some(40902));
        changed.description = "something else".into();
        changed.assignee = "Mallory".into();
        let amended = test.authority.amend(id, &changed, &ada).unwrap();
        assert_eq!(amended.version, 2);
        for version in [None, Some(1)] {
            assert!(
                matches!(
                    test.authority
                        .review(id, Decision::Approve, None, version, &eve),
                    Err(AuthorityError::Conflict(ref m)) if m.contains("amended")
                ),
                "{version:?}"
            );
        }
        let (decided, created) = test
            .authority
            .review(id, Decision::Approve, None, Some(2), &eve)
            .unwrap();
        assert_eq!(decided.version, 2);
        assert_eq!(created[0].ports.map(|p| p.low), Some(40902));
    }

    #[test]
    fn an_admin_never_approves_for_an_identity_it_made_nor_takes_a_record_itself() {
        let mut test = store("puppet");
        let root = identity(
            &mut test,
            "root-admin",
            crate::Role::Admin,
            Some("boss@example.org"),
        );
        let token = test
            .authority
            .add_user("puppet", crate::Role::Requester, None, None, &root)
            .unwrap();
        let puppet = crate::Actor::User(test.authority.authenticate(&token).unwrap());
        let id = test
            .authority
            .request(&request("zq-puppet", Some(40903)), &puppet)
            .unwrap();
        match test
            .authority
            .review(id, Decision::Approve, None, None, &root)
        {
            Err(AuthorityError::Forbidden(message)) => {
                assert!(message.contains("own"), "{message}")
            }
            other => panic!("should be forbidden: {:?}", other.map(|_| ())),
        }
        let (_, created) = test
            .authority
            .review(id, Decision::Approve, None, None, &local())
            .unwrap();
        assert!(!created.is_empty());
        for to in ["root-admin", "The Boss <boss@example.org>"] {
            assert!(
                matches!(
                    test.authority.transfer("zq-puppet", to, &root),
                    Err(AuthorityError::Forbidden(_))
                ),
                "{to}"
            );
        }
        assert_eq!(
            test.authority.transfer("zq-puppet", "Bob", &root).unwrap(),
            1
        );
    }

    #[test]
    fn only_an_expert_reviews_and_never_their_own_request() {
        let mut test = store("self-review");
        let mut user =
            |name: &str, role, email: Option<&str>| identity(&mut test, name, role, email);
        let ada = user("ada", crate::Role::Requester, None);
        let eve = user("eve", crate::Role::Expert, Some("eve@example.org"));
        let max = user("max", crate::Role::Expert, None);
        let mut named_eve = request("zq-eve", Some(40030));
        named_eve.contact = "Eve <EVE@example.org>".into();
        let id = test.authority.request(&named_eve, &ada).unwrap();
        for (who, why) in [(&ada, "needs the expert role"), (&eve, "own")] {
            match test
                .authority
                .review(id, Decision::Approve, None, None, who)
            {
                Err(AuthorityError::Forbidden(message)) => {
                    assert!(message.contains(why), "{message}")
                }
                other => panic!("should be forbidden: {:?}", other.map(|_| ())),
            }
        }
        let own = test
            .authority
            .request(&request("zq-max", Some(40031)), &max)
            .unwrap();
        assert!(matches!(
            test.authority
                .review(own, Decision::Approve, None, None, &max),
            Err(AuthorityError::Forbidden(_))
        ));
        let (approved, _) = test
            .authority
            .review(id, Decision::Approve, Some("fine"), None, &max)
            .unwrap();
        assert_eq!(
            (approved.reviewer.as_deref(), approved.reason.as_deref()),
            (Some("max"), Some("fine"))
        );
        let history = test.authority.history(Some("request 1"), None).unwrap();
        let outcomes: Vec<(&str, &str)> = history
            .iter()
            .map(|e| (e.actor.as_str(), e.outcome.as_str()))
            .collect();
        assert!(
            outcomes.contains(&("ada", "forbidden")) && outcomes.contains(&("max", "ok")),
            "{outcomes:?}"
        );
    }

    #[test]
    fn a_port_taken_since_the_request_is_a_conflict() {
        let mut test = store("conflict");
        let first = test
            .authority
            .request(&request("zq-a", Some(40600)), &local())
            .unwrap();
        let second = test
            .authority
            .request(&request("zq-b", Some(40600)), &local())
            .unwrap();
        test.authority
            .review(first, Decision::Approve, None, None, &local())
            .unwrap();
        match test
            .authority
            .review(second, Decision::Approve, None, None, &local())
        {
            Err(AuthorityError::Conflict(message)) => {
                assert!(message.contains("taken by zq-a"), "{message}")
            }
            other => panic!("expected a conflict, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn a_look_alike_of_the_reviewer_is_the_reviewer() {
        let mut test = store("look-alikes");
        let mut user =
            |name: &str, role, email: Option<&str>| identity(&mut test, name, role, email);
        let rita = user("rita", crate::Role::Requester, None);
        let alice = user("alice", crate::Role::Expert, Some("alice@example.org"));
        let variants = [
            ("ａlice", "R"),
            ("аlice", "R"),
            ("al\u{200b}ice", "R"),
            ("A\u{200d}lice", "R"),
            ("Alice_Smith", "R"),
            ("R", "alice+portreg@example.org"),
            ("R", "alice@exаmple.org"),
        ];
        for (index, (assignee, contact)) in variants.into_iter().enumerate() {
            let mut wanted = request(&format!("zq-la-{index}"), Some(40100 + index as u16));
            wanted.assignee = assignee.into();
            wanted.contact = contact.into();
            let id = test.authority.request(&wanted, &rita).unwrap();
            assert!(
                matches!(
                    test.authority
                        .review(id, Decision::Approve, None, None, &alice),
                    Err(AuthorityError::Forbidden(_))
                ),
                "{assignee:?} / {contact:?}"
            );
        }
        // Near misses are other people: alice reviews them.
        for (index, person) in ["Alicia", "Malice", "Al Ice", "bob@alice.example"]
            .into_iter()
            .enumerate()
        {
            let mut wanted = request(&format!("zq-nm-{index}"), Some(40200 + index as u16));
            wanted.assignee = person.into();
            let id = test.authority.request(&wanted, &rita).unwrap();
            test.authority
                .review(id, Decision::Approve, None, None, &alice)
                .unwrap_or_else(|e| panic!("{person:?}: {e}"));
        }
    }
}
