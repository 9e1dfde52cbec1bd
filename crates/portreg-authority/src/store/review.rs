//! Review: an approval checks the request again inside the transaction that creates
//! its records.

use portreg::{PortSpan, Record, Reference, RegistryDate, Status, Transport};
use rusqlite::{params, Connection};

use crate::{check_length, AuthorityError, Decision, NewRequest, Result};

use super::{check, covering, insert, load_request, now, reserved_for, Authority, RequestState};

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
    let Some(port) = request.port else {
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
        for (id, record) in covering(tx, port, transport)? {
            match record.status {
                Status::Unassigned => split(tx, id, &record, port)?,
                Status::Reserved | Status::Deassigned if request.transports.contains(transport) => {
                    tx.execute("DELETE FROM records WHERE id = ?1", [id])?;
                }
                _ => {}
            }
        }
    }
    for transport in &request.transports {
        let record = Record {
            ports: Some(PortSpan::single(port)),
            transport: Some(transport.clone()),
            ..base.clone()
        };
        insert(tx, &record, position)?;
        created.push(record);
    }
    for transport in &others {
        if covering(tx, port, transport)?
            .iter()
            .any(|(_, r)| r.status != Status::Unassigned)
        {
            continue;
        }
        let record = Record {
            ports: Some(PortSpan::single(port)),
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

/// Cuts `port` out of an Unassigned record.
pub(super) fn split(tx: &Connection, id: i64, record: &Record, port: u16) -> Result<()> {
    let Some(span) = record.ports else {
        return Ok(());
    };
    let position: i64 =
        tx.query_row("SELECT position FROM records WHERE id = ?1", [id], |row| {
            row.get(0)
        })?;
    tx.execute("DELETE FROM records WHERE id = ?1", [id])?;
    let parts = [
        (span.low < port).then(|| PortSpan {
            low: span.low,
            high: port - 1,
        }),
        (port < span.high).then(|| PortSpan {
            low: port + 1,
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
    /// Approves or rejects a pending request. Approval checks again, inside the
    /// transaction that creates the records, and fails with a conflict when the name or
    /// the port was taken since. Returns the records created.
    pub fn review(
        &mut self,
        id: i64,
        decision: Decision,
        reviewer: &str,
        reason: Option<&str>,
    ) -> Result<Vec<Record>> {
        check_length("reason", reason.unwrap_or(""), crate::limits::REASON)?;
        check_length("reviewer", reviewer, crate::limits::PERSON)?;
        let action = decision.to_string();
        self.change(reviewer, &action, &format!("request {id}"), |tx| {
            let filed = load_request(tx, id)?;
            if filed.state != RequestState::Pending {
                let state = filed.state.as_str();
                return Err(AuthorityError::Conflict(format!(
                    "request {id} is already {state}"
                )));
            }
            let created = match decision {
                Decision::Reject => Vec::new(),
                Decision::Approve => {
                    // A name or port taken since the request was filed is a conflict.
                    check(tx, &filed.request)?;
                    assign(tx, &filed.request)?
                }
            };
            let state = if decision == Decision::Approve { "approved" } else { "rejected" };
            tx.execute(
                "UPDATE requests SET state = ?1, reviewer = ?2, reason = ?3, decided = ?4 WHERE id = ?5",
                params![state, reviewer, reason, now(), id],
            )?;
            let why = reason.map_or(String::new(), |r| format!("; {r}"));
            let detail = format!(
                "{state} {}: {} record(s){why}",
                filed.request.name,
                created.len()
            );
            Ok((created, detail))
        })
    }
}

#[cfg(test)]
mod tests {
    use portreg::{Status, Transport};

    use super::super::testing::{request, store};
    use crate::{AuthorityError, Decision};

    #[test]
    fn an_approval_creates_the_records_and_splits_the_unassigned_range() {
        let mut test = store("review");
        let id = test
            .authority
            .request(&request("zq-web", Some(40500)))
            .unwrap();
        let created = test
            .authority
            .review(id, Decision::Approve, "expert", None)
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
            test.authority.review(id, Decision::Reject, "expert", None),
            Err(AuthorityError::Conflict(_))
        ));
    }

    #[test]
    fn a_port_taken_since_the_request_is_a_conflict() {
        let mut test = store("conflict");
        let first = test
            .authority
            .request(&request("zq-a", Some(40600)))
            .unwrap();
        let second = test
            .authority
            .request(&request("zq-b", Some(40600)))
            .unwrap();
        test.authority
            .review(first, Decision::Approve, "expert", None)
            .unwrap();
        match test
            .authority
            .review(second, Decision::Approve, "expert", None)
        {
            Err(AuthorityError::Conflict(message)) => {
                assert!(message.contains("taken by zq-a"), "{message}")
            }
            other => panic!("expected a conflict, got {:?}", other.map(|_| ())),
        }
    }
}
