//! Requests: filed with IANA's form, checked at once against RFC 6335 and the registry.

use portreg::rules::{self, check_service_name};
use portreg::{PortSpan, RangeClass, Status, Transport};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use crate::{check_person, check_text, Actor, AuthorityError, NewRequest, Result, Role};

use super::{covering, named, now, Authority};

/// Where a request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestState {
    /// Waiting for review.
    Pending,
    /// Approved: its records exist.
    Approved,
    /// Turned down.
    Denied,
    /// Sent back: its requester amends it, which puts it back in the queue.
    ChangesRequested,
    /// Withdrawn by its requester.
    Withdrawn,
}

impl RequestState {
    /// Every state.
    pub const ALL: [RequestState; 5] = [
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Denied,
        RequestState::ChangesRequested,
        RequestState::Withdrawn,
    ];

    /// `pending`, `approved`, `denied`, `changes-requested`, `withdrawn`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::ChangesRequested => "changes-requested",
            RequestState::Withdrawn => "withdrawn",
        }
    }

    /// The state a word names.
    pub fn parse(text: &str) -> Option<RequestState> {
        RequestState::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether the request is still open (its requester may amend or withdraw it).
    pub fn is_open(self) -> bool {
        matches!(self, RequestState::Pending | RequestState::ChangesRequested)
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
    /// Who filed it (an identity, or `local:NAME`).
    pub requester: String,
    /// What it asks for (the port picked for `--any-port` included).
    pub request: NewRequest,
    /// Who decided, why and when.
    pub reviewer: Option<String>,
    /// The reviewer's reason.
    pub reason: Option<String>,
    /// When it was decided.
    pub decided: Option<String>,
    /// Its version: 1 as filed, one more with each amendment. A review names the version
    /// its expert read.
    pub version: i64,
}

impl RequestRecord {
    /// The request as JSON.
    pub fn to_json(&self) -> Value {
        let r = &self.request;
        json!({
            "id": self.id, "filed": self.filed, "state": self.state.as_str(), "requester": self.requester,
            "name": r.name, "transports": r.transports.iter().map(Transport::as_str).collect::<Vec<_>>(),
            "port": r.port.map(|p| if p.is_single() { json!(p.low) } else { json!(p.to_string()) }),
            "description": r.description, "assignee": r.assignee, "contact": r.contact,
            "reference": r.reference, "txt_keys": r.txt_keys, "procedure": r.procedure, "reuse": r.reuse,
            "reviewer": self.reviewer, "reason": self.reason, "decided": self.decided,
            "version": self.version,
        })
    }
}

pub(super) fn reserved_for(name: &str) -> String {
    format!("Reserved for {name}")
}

/// Checks a request against the rules and the registry as it stands.
pub(super) fn check(tx: &Connection, request: &NewRequest) -> Result<()> {
    use crate::limits;
    check_text("description", &request.description, limits::DESCRIPTION)?;
    check_person("assignee", &request.assignee)?;
    check_person("contact", &request.contact)?;
    check_text(
        "reference",
        request.reference.as_deref().unwrap_or(""),
        limits::REFERENCE,
    )?;
    check_text("name", &request.name, limits::PERSON)?;
    check_text(
        "procedure",
        request.procedure.as_deref().unwrap_or(""),
        limits::PERSON,
    )?;
    check_text(
        "txt_keys",
        request.txt_keys.as_deref().unwrap_or(""),
        limits::TXT_KEYS,
    )?;
    if request.transports.is_empty() {
        return Err(AuthorityError::Invalid {
            field: "transport",
            reason: "give at least one transport".into(),
        });
    }
    let problems = check_service_name(&request.name);
    if !problems.is_empty() {
        let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
        return Err(AuthorityError::Invalid {
            field: "name",
            reason: format!(
                "{:?} is not a valid service name: {}",
                request.name,
                reasons.join("; ")
            ),
        });
    }
    let invalid_port = |reason: String| AuthorityError::Invalid {
        field: "port",
        reason,
    };
    // Every reason a port is refused is said at once: the rules it breaks, and who holds
    // it (collected below).
    let mut broken = Vec::new();
    if let Some(span) = request.port {
        if RangeClass::of(span.high) == RangeClass::Dynamic {
            broken.push(format!(
                "port {span} reaches into the Dynamic range (49152-65535), which is never assigned"
            ));
        }
        if RangeClass::of(span.low) != RangeClass::of(span.high) {
            broken.push(format!(
                "ports {span} cross from the System into the User range"
            ));
        }
        if let Some(port) = (span.low..=span.high).find(|&p| rules::is_reserved(p)) {
            broken.push(format!("port {port} is reserved by RFC 6335"));
        }
        let procedure_ok = matches!(
            request.procedure.as_deref(),
            Some("ietf-review" | "iesg-approval")
        );
        if RangeClass::of(span.low) == RangeClass::System && !procedure_ok {
            broken.push(format!(
                "port {span} is a System port, assigned by IETF Review or IESG Approval: give the procedure ietf-review or iesg-approval"
            ));
        }
    }
    // The name: free, or held by this same service on the same port (adding a transport).
    for (_, record) in named(tx, &request.name)? {
        let same_port = record.ports.is_some() && record.ports == request.port;
        let same_transport = record
            .transport
            .as_ref()
            .is_some_and(|t| request.transports.contains(t));
        if !same_port || same_transport {
            let place = record.place();
            return Err(AuthorityError::Taken {
                field: "name",
                reason: format!(
                    "the name {:?} is taken by {} ({place})",
                    request.name,
                    record.name.as_deref().unwrap_or("-")
                ),
            });
        }
    }
    let Some(span) = request.port else {
        return Ok(());
    };
    let mut held = Vec::new();
    for transport in &request.transports {
        for (_, record) in covering(tx, span, transport)? {
            let for_this = record
                .notes
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&reserved_for(&request.name)));
            let place = record.ports.map_or(span.to_string(), |p| p.to_string());
            match record.status {
                Status::Unassigned => {}
                Status::Reserved | Status::Deassigned if for_this || request.reuse => {}
                Status::Reserved | Status::Deassigned => held.push(format!(
                    "port {place}/{transport} is Reserved: an administrator may assign it again (reuse)"
                )),
                _ => held.push(format!(
                    "port {place}/{transport} is taken by {}",
                    record.name.as_deref().unwrap_or("a nameless record")
                )),
            }
        }
    }
    if !broken.is_empty() {
        broken.extend(held);
        return Err(invalid_port(broken.join("; ")));
    }
    if !held.is_empty() {
        return Err(AuthorityError::Taken {
            field: "port",
            reason: held.join("; "),
        });
    }
    Ok(())
}

/// The lowest port of the request's range free on every requested transport: the
/// ports taken in the range are read once, through the port index, not port by port.
pub(super) fn pick_port(tx: &Connection, request: &NewRequest) -> Result<u16> {
    let span = request.range.unwrap_or(RangeClass::User.span());
    if RangeClass::of(span.low) == RangeClass::Dynamic {
        return Err(AuthorityError::Refused(
            "the Dynamic range (49152-65535) is never assigned".into(),
        ));
    }
    let high = span.high.min(49151);
    let transports: Vec<&str> = request.transports.iter().map(Transport::as_str).collect();
    let mut taken = vec![false; usize::from(high - span.low) + 1];
    let mut statement = tx.prepare_cached(
        "SELECT port_low, port_high, transport FROM records
         WHERE port_low <= ?2 AND port_high >= ?1 AND status <> 'unassigned'",
    )?;
    let mut rows = statement.query(params![i64::from(span.low), i64::from(high)])?;
    while let Some(row) = rows.next()? {
        let (low, top): (i64, i64) = (row.get(0)?, row.get(1)?);
        let transport: Option<String> = row.get(2)?;
        if transport.is_some_and(|t| !transports.contains(&t.as_str())) {
            continue;
        }
        let from = low.max(i64::from(span.low)) - i64::from(span.low);
        let to = top.min(i64::from(high)) - i64::from(span.low);
        for slot in from..=to {
            taken[slot as usize] = true;
        }
    }
    (span.low..=high)
        .zip(taken)
        .find(|&(port, taken)| !taken && !rules::is_reserved(port))
        .map(|(port, _)| port)
        .ok_or_else(|| AuthorityError::Invalid {
            field: "port",
            reason: format!("no port in {span} is free on every requested transport"),
        })
}

/// A request as it is kept: each transport once; a port or any port, not both.
fn normalise(request: &NewRequest) -> Result<NewRequest> {
    if request.any_port && request.port.is_some() {
        return Err(AuthorityError::Invalid {
            field: "any_port",
            reason: "give a port or ask for any port, not both".into(),
        });
    }
    let mut request = request.clone();
    let mut seen = Vec::new();
    request.transports.retain(|t| {
        let new = !seen.contains(t);
        seen.push(t.clone());
        new
    });
    Ok(request)
}

pub(super) fn load_request(tx: &Connection, id: i64) -> Result<RequestRecord> {
    tx.query_row(
        "SELECT id, filed, state, name, transports, port, port_high, description, assignee, contact, reference,
                txt_keys, procedure, reuse, reviewer, reason, decided, requester, version FROM requests WHERE id = ?1",
        [id],
        |row| {
            let transports: String = row.get(4)?;
            let port = |index| {
                row.get::<_, Option<i64>>(index)
                    .map(|p| p.and_then(|p| u16::try_from(p).ok()))
            };
            let (low, high) = (port(5)?, port(6)?);
            Ok(RequestRecord {
                id: row.get(0)?,
                filed: row.get(1)?,
                state: RequestState::parse(&row.get::<_, String>(2)?)
                    .unwrap_or(RequestState::Pending),
                requester: row.get(17)?,
                request: NewRequest {
                    name: row.get(3)?,
                    transports: transports.split(',').filter_map(|t| t.parse().ok()).collect(),
                    port: low.and_then(|low| PortSpan::new(low, high.unwrap_or(low))),
                    any_port: false,
                    range: None,
                    description: row.get(7)?,
                    assignee: row.get(8)?,
                    contact: row.get(9)?,
                    reference: row.get(10)?,
                    txt_keys: row.get(11)?,
                    procedure: row.get(12)?,
                    reuse: row.get(13)?,
                },
                reviewer: row.get(14)?,
                reason: row.get(15)?,
                decided: row.get(16)?,
                version: row.get(18)?,
            })
        },
    )
    .optional()?
    .ok_or_else(|| AuthorityError::NotFound(format!("no request {id}")))
}

/// Refuses what `actor` may not ask for: a Reserved port is taken again only by an
/// administrator.
fn check_rights(actor: &Actor, request: &NewRequest) -> Result<()> {
    if request.reuse {
        actor.require(Role::Admin, "assigning a Reserved port again (reuse)")?;
    }
    Ok(())
}

/// Writes a request's fields into its row.
fn store_fields(tx: &Connection, id: i64, request: &NewRequest) -> Result<()> {
    let transports: Vec<&str> = request.transports.iter().map(Transport::as_str).collect();
    tx.execute(
        "UPDATE requests SET name = ?1, transports = ?2, port = ?3, port_high = ?4, description = ?5,
                assignee = ?6, contact = ?7, reference = ?8, txt_keys = ?9, procedure = ?10, reuse = ?11
         WHERE id = ?12",
        params![
            request.name,
            transports.join(","),
            request.port.map(|p| p.low),
            request.port.map(|p| p.high),
            request.description,
            request.assignee,
            request.contact,
            request.reference,
            request.txt_keys,
            request.procedure,
            request.reuse,
            id
        ],
    )?;
    Ok(())
}

/// What a request asks for, for the audit trail: `NAME port P/tcp`.
pub(super) fn summary(request: &NewRequest) -> String {
    let transports: Vec<&str> = request.transports.iter().map(Transport::as_str).collect();
    let place = request
        .port
        .map_or("name only".to_owned(), |p| format!("port {p}"));
    format!("{} {place}/{}", request.name, transports.join(","))
}

/// A request `actor` may see: its own, or any for an expert. Another's is "not found",
/// so that ids do not tell who asked for what.
fn visible(tx: &Connection, id: i64, actor: &Actor) -> Result<RequestRecord> {
    let filed = load_request(tx, id)?;
    if actor.sees_all_requests() || filed.requester == actor.name() {
        Ok(filed)
    } else {
        Err(AuthorityError::NotFound(format!("no request {id}")))
    }
}

impl Authority {
    /// Files a request after checking it; returns its id. A `--any-port` request gets its
    /// port now (and keeps it, if still free, at approval).
    pub fn request(&mut self, request: &NewRequest, actor: &Actor) -> Result<i64> {
        let subject = request.name.clone();
        let requester = actor.name();
        self.change(actor, "request", &subject, |tx| {
            let mut request = normalise(request)?;
            check_rights(actor, &request)?;
            if request.any_port {
                request.port = Some(PortSpan::single(pick_port(tx, &request)?));
                request.any_port = false;
            }
            check(tx, &request)?;
            tx.execute(
                "INSERT INTO requests (filed, state, requester, name, transports, description, assignee, contact)
                 VALUES (?1, 'pending', ?2, '', '', '', '', '')",
                params![now(), requester],
            )?;
            let id = tx.last_insert_rowid();
            store_fields(tx, id, &request)?;
            Ok((id, format!("request {id}: {}", summary(&request))))
        })
    }

    /// Amends an open request (its requester's, or any for the local administrator),
    /// with the same checks as filing; it goes back to the queue as pending.
    pub fn amend(&mut self, id: i64, request: &NewRequest, actor: &Actor) -> Result<RequestRecord> {
        self.change(actor, "amend", &format!("request {id}"), |tx| {
            let mut request = normalise(request)?;
            let filed = visible(tx, id, actor)?;
            if filed.requester != actor.name() && !matches!(actor, Actor::Local(_)) {
                return Err(AuthorityError::Forbidden(format!(
                    "request {id} is {}'s to amend",
                    filed.requester
                )));
            }
            if !filed.state.is_open() {
                return Err(AuthorityError::Conflict(format!(
                    "request {id} is {}; only a pending request or one sent back for changes is amended",
                    filed.state.as_str()
                )));
            }
            check_rights(actor, &request)?;
            if request.any_port {
                request.port = Some(PortSpan::single(pick_port(tx, &request)?));
                request.any_port = false;
            }
            check(tx, &request)?;
            store_fields(tx, id, &request)?;
            tx.execute(
                "UPDATE requests SET state = 'pending', version = version + 1 WHERE id = ?1",
                [id],
            )?;
            let amended = load_request(tx, id)?;
            Ok((amended, format!("request {id} amended: {}", summary(&request))))
        })
    }

    /// Withdraws an open request: by its requester, an administrator or locally.
    pub fn withdraw(&mut self, id: i64, actor: &Actor) -> Result<RequestRecord> {
        self.change(actor, "withdraw", &format!("request {id}"), |tx| {
            let filed = visible(tx, id, actor)?;
            if filed.requester != actor.name() {
                actor.require(Role::Admin, "withdrawing another's request")?;
            }
            if !filed.state.is_open() {
                return Err(AuthorityError::Conflict(format!(
                    "request {id} is {}, not open",
                    filed.state.as_str()
                )));
            }
            tx.execute(
                "UPDATE requests SET state = 'withdrawn', decided = ?1 WHERE id = ?2",
                params![now(), id],
            )?;
            let withdrawn = load_request(tx, id)?;
            Ok((
                withdrawn,
                format!("request {id} withdrawn: {}", filed.request.name),
            ))
        })
    }

    /// The requests `actor` may see, all or in one state: every one for an expert, an
    /// identity's own otherwise.
    pub fn requests(
        &self,
        state: Option<RequestState>,
        actor: &Actor,
    ) -> Result<Vec<RequestRecord>> {
        let own = (!actor.sees_all_requests()).then(|| actor.name());
        let mut statement = self.connection.prepare(
            "SELECT id FROM requests WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR requester = ?2) ORDER BY id",
        )?;
        let ids: Vec<i64> = statement
            .query_map(params![state.map(RequestState::as_str), own], |row| {
                row.get(0)
            })?
            .collect::<rusqlite::Result<_>>()?;
        ids.into_iter()
            .map(|id| load_request(&self.connection, id))
            .collect()
    }

    /// One request, if `actor` may see it.
    pub fn request_by_id(&self, id: i64, actor: &Actor) -> Result<RequestRecord> {
        visible(&self.connection, id, actor)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{local, request, store};
    use crate::{Actor, AuthorityError, Decision, Role};

    #[test]
    fn requests_are_checked_when_filed() {
        let mut test = store("requests");
        let id = test
            .authority
            .request(&request("zq-one", Some(40001)), &local())
            .unwrap();
        assert_eq!(test.authority.requests(None, &local()).unwrap()[0].id, id);
        for (bad, field, why) in [
            (
                request("zq--bad", Some(40002)),
                "name",
                "not a valid service name",
            ),
            (request("zq-dyn", Some(50000)), "port", "Dynamic range"),
            (request("zq-sys", Some(100)), "port", "System port"),
            (
                request("zq-rfc", Some(1024)),
                "port",
                "reserved by RFC 6335",
            ),
            (request("zq-taken", Some(22)), "port", "System port"),
            // Every reason at once: the procedure missing, and the port held.
            (request("zq-taken", Some(22)), "port", "taken by ssh"),
            (request("SSH", Some(40003)), "name", "is taken by ssh"),
        ] {
            match test.authority.request(&bad, &local()) {
                Err(
                    AuthorityError::Invalid { field: f, reason }
                    | AuthorityError::Taken { field: f, reason },
                ) => {
                    assert!(reason.contains(why) && f == field, "{f}: {reason}")
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
        match test.authority.request(&long, &local()) {
            Err(AuthorityError::Invalid {
                field: "assignee",
                reason,
            }) => {
                assert!(reason.contains("assignee is 65000 characters"), "{reason}")
            }
            other => panic!("should be refused: {:?}", other.map(|_| ())),
        }
        let id = test
            .authority
            .request(&request("zq-ok", Some(40005)), &local())
            .unwrap();
        let comment = "r".repeat(crate::limits::REASON + 1);
        assert!(test
            .authority
            .review(id, Decision::Deny, Some(&comment), None, &local())
            .is_err());
    }

    #[test]
    fn a_range_is_checked_port_by_port() {
        let mut test = store("range");
        let mut wanted = request("zq-span", None);
        wanted.port = portreg::PortSpan::new(40010, 40012);
        let id = test.authority.request(&wanted, &local()).unwrap();
        let (decided, created) = test
            .authority
            .review(id, Decision::Approve, None, None, &local())
            .unwrap();
        assert_eq!(decided.request.port, wanted.port);
        assert_eq!(created[0].ports, wanted.port);
        let mut overlapping = request("zq-over", None);
        overlapping.port = portreg::PortSpan::new(40012, 40014);
        assert!(matches!(
            test.authority.request(&overlapping, &local()),
            Err(AuthorityError::Taken { field: "port", .. })
        ));
        overlapping.port = portreg::PortSpan::new(1023, 1025);
        assert!(test.authority.request(&overlapping, &local()).is_err());
    }

    #[test]
    fn a_requester_sees_amends_and_withdraws_only_their_own() {
        let mut test = store("own");
        let admin = local();
        let mut user = |name: &str, role| {
            let token = test
                .authority
                .add_user(name, role, None, None, &admin)
                .unwrap();
            Actor::User(test.authority.authenticate(&token).unwrap())
        };
        let (ada, bob, eve) = (
            user("ada", Role::Requester),
            user("bob", Role::Requester),
            user("eve", Role::Expert),
        );
        let id = test
            .authority
            .request(&request("zq-own", Some(40020)), &ada)
            .unwrap();
        assert_eq!(
            test.authority.request_by_id(id, &ada).unwrap().requester,
            "ada"
        );
        assert!(matches!(
            test.authority.request_by_id(id, &bob),
            Err(AuthorityError::NotFound(_))
        ));
        assert!(test.authority.requests(None, &bob).unwrap().is_empty());
        assert_eq!(test.authority.requests(None, &eve).unwrap().len(), 1);
        assert!(matches!(
            test.authority.withdraw(id, &bob),
            Err(AuthorityError::NotFound(_))
        ));
        let (sent_back, _) = test
            .authority
            .review(id, Decision::Changes, Some("say what it is"), None, &eve)
            .unwrap();
        assert_eq!(sent_back.state, super::RequestState::ChangesRequested);
        let mut better = request("zq-own", Some(40020));
        better.description = "the own service".into();
        let amended = test.authority.amend(id, &better, &ada).unwrap();
        assert_eq!(amended.state, super::RequestState::Pending);
        let mut reuse = better.clone();
        reuse.reuse = true;
        assert!(matches!(
            test.authority.amend(id, &reuse, &ada),
            Err(AuthorityError::Forbidden(_))
        ));
        assert_eq!(
            test.authority.withdraw(id, &ada).unwrap().state,
            super::RequestState::Withdrawn
        );
        assert!(matches!(
            test.authority.withdraw(id, &ada),
            Err(AuthorityError::Conflict(_))
        ));
    }

    #[test]
    fn any_port_picks_the_lowest_free_one() {
        let mut test = store("any-port");
        let mut wanted = request("zq-any", None);
        wanted.any_port = true;
        wanted.range = portreg::PortSpan::new(40000, 40999);
        let id = test.authority.request(&wanted, &local()).unwrap();
        assert_eq!(
            test.authority
                .request_by_id(id, &local())
                .unwrap()
                .request
                .port,
            portreg::PortSpan::new(40000, 40000)
        );
    }
}
