//! Requests: filed with IANA's form, checked at once against RFC 6335 and the registry.

use portreg::rules::{self, check_service_name};
use portreg::{PortSpan, RangeClass, Status, Transport};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::{check_length, AuthorityError, NewRequest, Result};

use super::{covering, named, now, Authority};

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting for review.
    Pending,
    /// Approved: its records exist.
    Approved,
    /// Turned down.
    Rejected,
}

impl RequestState {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Rejected => "rejected",
        }
    }

    pub(super) fn parse(text: &str) -> RequestState {
        match text {
            "approved" => RequestState::Approved,
            "rejected" => RequestState::Rejected,
            _ => RequestState::Pending,
        }
    }
}

/// A filed request.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestRecord {
    /// Its id.
    pub id: i64,
    /// When it was filed.
    pub filed: String,
    /// Where it stands.
    pub state: RequestState,
    /// What it asks for (the port picked for `--any-port` included).
    pub request: NewRequest,
    /// Who decided, why and when.
    pub reviewer: Option<String>,
    /// The reviewer's reason.
    pub reason: Option<String>,
    /// When it was decided.
    pub decided: Option<String>,
}

impl RequestRecord {
    /// The request as JSON.
    pub fn to_json(&self) -> Value {
        let r = &self.request;
        json!({
            "id": self.id, "filed": self.filed, "state": self.state.as_str(),
            "name": r.name, "transports": r.transports.iter().map(Transport::as_str).collect::<Vec<_>>(),
            "port": r.port, "description": r.description, "assignee": r.assignee, "contact": r.contact,
            "reference": r.reference, "txt_keys": r.txt_keys, "procedure": r.procedure, "reuse": r.reuse,
            "reviewer": self.reviewer, "reason": self.reason, "decided": self.decided,
        })
    }
}

pub(super) fn refused(error: AuthorityError) -> AuthorityError {
    match error {
        AuthorityError::Conflict(message) => AuthorityError::Refused(message),
        other => other,
    }
}

pub(super) fn reserved_for(name: &str) -> String {
    format!("Reserved for {name}")
}

/// Checks a request against the rules and the registry as it stands.
pub(super) fn check(tx: &Connection, request: &NewRequest) -> Result<()> {
    use crate::limits;
    check_length("description", &request.description, limits::DESCRIPTION)?;
    check_length("assignee", &request.assignee, limits::PERSON)?;
    check_length("contact", &request.contact, limits::PERSON)?;
    check_length(
        "reference",
        request.reference.as_deref().unwrap_or(""),
        limits::REFERENCE,
    )?;
    check_length(
        "TXT keys",
        request.txt_keys.as_deref().unwrap_or(""),
        limits::TXT_KEYS,
    )?;
    let problems = check_service_name(&request.name);
    if !problems.is_empty() {
        let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(AuthorityError::Refused(format!(
            "{:?} is not a valid service name: {}",
            request.name,
            reasons.join("; ")
        )));
    }
    if let Some(port) = request.port {
        let class = RangeClass::of(port);
        if class == RangeClass::Dynamic {
            return Err(AuthorityError::Refused(format!(
                "port {port} is in the Dynamic range (49152-65535), which is never assigned"
            )));
        }
        if rules::is_reserved(port) {
            return Err(AuthorityError::Refused(format!(
                "port {port} is reserved by RFC 6335"
            )));
        }
        let procedure_ok = matches!(
            request.procedure.as_deref(),
            Some("ietf-review" | "iesg-approval")
        );
        if class == RangeClass::System && !procedure_ok {
            return Err(AuthorityError::Refused(format!(
                "port {port} is a System port, assigned by IETF Review or IESG Approval: give --procedure ietf-review or iesg-approval"
            )));
        }
    }
    // The name: free, or held by this same service on the same port (adding a transport).
    for (_, record) in named(tx, &request.name)? {
        let same_port =
            record.ports.is_some() && record.ports == request.port.map(PortSpan::single);
        let same_transport = record
            .transport
            .as_ref()
            .is_some_and(|t| request.transports.contains(t));
        if !same_port || same_transport {
            let place = record.place();
            return Err(AuthorityError::Conflict(format!(
                "the name {:?} is taken by {} ({place})",
                request.name,
                record.name.as_deref().unwrap_or("-")
            )));
        }
    }
    let Some(port) = request.port else {
        return Ok(());
    };
    for transport in &request.transports {
        for (_, record) in covering(tx, port, transport)? {
            let for_this = record
                .notes
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&reserved_for(&request.name)));
            match record.status {
                Status::Unassigned => {}
                Status::Reserved | Status::Deassigned if for_this || request.reuse => {}
                Status::Reserved | Status::Deassigned => {
                    return Err(AuthorityError::Conflict(format!(
                        "port {port}/{transport} is Reserved: give --reuse to assign it again"
                    )))
                }
                _ => {
                    return Err(AuthorityError::Conflict(format!(
                        "port {port}/{transport} is taken by {}",
                        record.name.as_deref().unwrap_or("a nameless record")
                    )))
                }
            }
        }
    }
    Ok(())
}

/// The lowest port of the request's range free on every requested transport.
pub(super) fn pick_port(tx: &Connection, request: &NewRequest) -> Result<u16> {
    let span = request.range.unwrap_or(RangeClass::User.span());
    if RangeClass::of(span.low) == RangeClass::Dynamic {
        return Err(AuthorityError::Refused(
            "the Dynamic range (49152-65535) is never assigned".into(),
        ));
    }
    for port in span.low..=span.high.min(49151) {
        if rules::is_reserved(port) {
            continue;
        }
        let mut free = true;
        for transport in &request.transports {
            if covering(tx, port, transport)?
                .iter()
                .any(|(_, r)| r.status != Status::Unassigned)
            {
                free = false;
                break;
            }
        }
        if free {
            return Ok(port);
        }
    }
    Err(AuthorityError::Refused(format!(
        "no port in {span} is free on every requested transport"
    )))
}

pub(super) fn load_request(tx: &Connection, id: i64) -> Result<RequestRecord> {
    tx.query_row(
        "SELECT id, filed, state, name, transports, port, description, assignee, contact, reference, txt_keys,
                procedure, reuse, reviewer, reason, decided FROM requests WHERE id = ?1",
        [id],
        |row| {
            let transports: String = row.get(4)?;
            Ok(RequestRecord {
                id: row.get(0)?,
                filed: row.get(1)?,
                state: RequestState::parse(&row.get::<_, String>(2)?),
                request: NewRequest {
                    name: row.get(3)?,
                    transports: transports.split(',').filter_map(|t| t.parse().ok()).collect(),
                    port: row.get::<_, Option<i64>>(5)?.and_then(|p| u16::try_from(p).ok()),
                    any_port: false,
                    range: None,
                    description: row.get(6)?,
                    assignee: row.get(7)?,
                    contact: row.get(8)?,
                    reference: row.get(9)?,
                    txt_keys: row.get(10)?,
                    procedure: row.get(11)?,
                    reuse: row.get(12)?,
                    actor: String::new(),
                },
                reviewer: row.get(13)?,
                reason: row.get(14)?,
                decided: row.get(15)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| AuthorityError::NotFound(format!("no request {id}")))
}

impl Authority {
    /// Files a request after checking it; returns its id. A `--any-port` request gets its
    /// port now (and keeps it, if still free, at approval).
    pub fn request(&mut self, request: &NewRequest) -> Result<i64> {
        let mut request = request.clone();
        if request.transports.is_empty() {
            return Err(AuthorityError::Refused(
                "give at least one transport".into(),
            ));
        }
        let actor = request.actor.clone();
        let subject = request.name.clone();
        self.change(&actor, "request", &subject, |tx| {
            if request.any_port {
                request.port = Some(pick_port(tx, &request)?);
            }
            check(tx, &request).map_err(refused)?;
            let transports: Vec<&str> = request.transports.iter().map(Transport::as_str).collect();
            tx.execute(
                "INSERT INTO requests (filed, state, name, transports, port, description, assignee, contact,
                                       reference, txt_keys, procedure, reuse)
                 VALUES (?1, 'pending', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    now(),
                    request.name,
                    transports.join(","),
                    request.port,
                    request.description,
                    request.assignee,
                    request.contact,
                    request.reference,
                    request.txt_keys,
                    request.procedure,
                    request.reuse
                ],
            )?;
            let id = tx.last_insert_rowid();
            let place = request.port.map_or("name only".to_owned(), |p| format!("port {p}"));
            Ok((id, format!("request {id}: {} {place}/{}", request.name, transports.join(","))))
        })
    }

    /// The requests, all or in one state.
    pub fn requests(&self, state: Option<RequestState>) -> Result<Vec<RequestRecord>> {
        let mut statement = self
            .connection
            .prepare("SELECT id FROM requests WHERE (?1 IS NULL OR state = ?1) ORDER BY id")?;
        let ids: Vec<i64> = statement
            .query_map([state.map(RequestState::as_str)], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        ids.into_iter()
            .map(|id| load_request(&self.connection, id))
            .collect()
    }

    /// One request.
    pub fn request_by_id(&self, id: i64) -> Result<RequestRecord> {
        load_request(&self.connection, id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{request, store};
    use crate::AuthorityError;

    #[test]
    fn requests_are_checked_when_filed() {
        let mut test = store("requests");
        let id = test
            .authority
            .request(&request("zq-one", Some(40001)))
            .unwrap();
        assert_eq!(test.authority.requests(None).unwrap()[0].id, id);
        for (bad, why) in [
            (request("zq--bad", Some(40002)), "not a valid service name"),
            (request("zq-dyn", Some(50000)), "Dynamic range"),
            (request("zq-sys", Some(100)), "System port"),
            (request("zq-rfc", Some(1024)), "reserved by RFC 6335"),
            (request("zq-taken", Some(22)), "System port"),
            (request("SSH", Some(40003)), "is taken by ssh"),
        ] {
            match test.authority.request(&bad) {
                Err(AuthorityError::Refused(message)) => {
                    assert!(message.contains(why), "{message}")
                }
                other => panic!("{} should be refused: {:?}", bad.name, other.map(|_| ())),
            }
        }
    }

    #[test]
    fn typed_fields_have_limits() {
        let mut test = store("limits");
        let mut long = request("zq-long", Some(40004));
        long.assignee = "a".repeat(65_000);
        match test.authority.request(&long) {
            Err(AuthorityError::Refused(message)) => {
                assert!(
                    message.contains("assignee is 65000 characters"),
                    "{message}"
                )
            }
            other => panic!("should be refused: {:?}", other.map(|_| ())),
        }
        let id = test
            .authority
            .request(&request("zq-ok", Some(40005)))
            .unwrap();
        let reason = "r".repeat(crate::limits::REASON + 1);
        assert!(test
            .authority
            .review(id, crate::Decision::Reject, "expert", Some(&reason))
            .is_err());
    }

    #[test]
    fn a_system_port_needs_a_procedure_and_a_free_port() {
        let mut test = store("system");
        let mut taken = request("zq-taken", Some(22));
        taken.procedure = Some("ietf-review".into());
        match test.authority.request(&taken) {
            Err(AuthorityError::Refused(message)) => {
                assert!(message.contains("taken by ssh"), "{message}")
            }
            other => panic!("should be refused: {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn any_port_picks_the_lowest_free_one() {
        let mut test = store("any-port");
        let mut wanted = request("zq-any", None);
        wanted.any_port = true;
        wanted.range = portreg::PortSpan::new(40000, 40999);
        let id = test.authority.request(&wanted).unwrap();
        assert_eq!(
            test.authority.request_by_id(id).unwrap().request.port,
            Some(40000)
        );
    }
}
