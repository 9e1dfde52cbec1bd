//! The authority's whole life cycle on a store loaded from IANA's 2026 registry, and
//! every refusal with its message.

use portreg::format::{self, Format, ReadOptions};
use portreg::{Registry, Status, Transport};
use portreg_authority::{Actor, Authority, AuthorityError, Decision, NewRequest};
use portreg_testing::shared;

use portreg_testing::TempDb;

fn iana() -> Option<Registry> {
    let path = shared("data/iana/service-names-port-numbers.xml")?;
    let bytes = std::fs::read(path).unwrap();
    Some(
        format::read(&bytes, Format::IanaXml, &ReadOptions::default())
            .unwrap()
            .registry,
    )
}

fn request(name: &str, transports: &[Transport], port: Option<u16>) -> NewRequest {
    NewRequest {
        name: name.into(),
        transports: transports.to_vec(),
        port: port.map(portreg::PortSpan::single),
        description: format!("{name} service"),
        assignee: "Ada Lovelace".into(),
        contact: "ada@example.org".into(),
        ..NewRequest::default()
    }
}

fn local() -> Actor {
    Actor::local("tester")
}

fn refused(result: Result<impl std::fmt::Debug, AuthorityError>, expected: &str) {
    match result {
        Err(
            AuthorityError::Refused(message)
            | AuthorityError::Conflict(message)
            | AuthorityError::Invalid {
                reason: message, ..
            }
            | AuthorityError::Taken {
                reason: message, ..
            },
        ) => {
            assert!(
                message.contains(expected),
                "{message:?} does not say {expected:?}"
            )
        }
        other => panic!("expected a refusal saying {expected:?}, got {other:?}"),
    }
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn whole_life_cycle() {
    let Some(iana) = iana() else { return };
    let db = TempDb::new("life");
    let mut authority = Authority::init(&db.0, Some(&iana), &local()).unwrap();
    assert_eq!(authority.registry().unwrap().records.len(), 14_499);
    assert_eq!(authority.registry().unwrap().people.len(), 5_588);
    let tcp = [Transport::Tcp];

    // Request and approve: the udp side is Reserved for the service, as IANA does.
    let id = authority
        .request(&request("zq-billing", &tcp, Some(40405)), &local())
        .unwrap();
    let (_, created) = authority
        .review(id, Decision::Approve, Some("looks fine"), None, &local())
        .unwrap();
    assert_eq!(created.len(), 2);
    assert_eq!(
        (created[0].name.as_deref(), created[0].transport.clone()),
        (Some("zq-billing"), Some(Transport::Tcp))
    );
    assert_eq!(
        (created[1].status, created[1].transport.clone()),
        (Status::Reserved, Some(Transport::Udp))
    );
    assert_eq!(created[1].notes.as_deref(), Some("Reserved for zq-billing"));
    // The Unassigned range around the port was split.
    let registry = authority.registry().unwrap();
    let around: Vec<_> = registry
        .records
        .iter()
        .filter(|r| r.ports.is_some_and(|s| s.contains(40405)))
        .collect();
    assert_eq!(around.len(), 2, "{around:?}");

    // The same service adds udp: the normal way, through its Reserved port.
    let udp = authority
        .request(
            &request("ZQ-Billing", &[Transport::Udp], Some(40405)),
            &local(),
        )
        .unwrap();
    assert_eq!(
        authority
            .review(udp, Decision::Approve, None, None, &local())
            .unwrap()
            .1
            .len(),
        1
    );

    // De-assign: Reserved with the note; the port can only be reused with --reuse.
    assert_eq!(
        authority
            .deassign("zq-billing", Some("retired"), &local())
            .unwrap(),
        2
    );
    let registry = authority.registry().unwrap();
    let reserved: Vec<_> = registry
        .records
        .iter()
        .filter(|r| r.ports.is_some_and(|s| s.contains(40405)))
        .collect();
    assert!(reserved
        .iter()
        .all(|r| r.status == Status::Deassigned && r.name.is_none()));
    assert!(reserved[0]
        .notes
        .as_deref()
        .unwrap()
        .starts_with("De-assigned on "));
    assert!(reserved[0]
        .notes
        .as_deref()
        .unwrap()
        .contains("previously zq-billing by [Ada Lovelace]"));
    refused(
        authority.request(&request("zq-newcomer", &tcp, Some(40405)), &local()),
        "Reserved: an administrator may assign it again",
    );
    let reuse = authority
        .request(
            &NewRequest {
                reuse: true,
                ..request("zq-newcomer", &tcp, Some(40405))
            },
            &local(),
        )
        .unwrap();
    authority
        .review(reuse, Decision::Approve, None, None, &local())
        .unwrap();

    // Transfer, then revoke.
    assert_eq!(
        authority
            .transfer("zq-newcomer", "Grace Hopper", &local())
            .unwrap(),
        1
    );
    let transferred = &authority.records_named("zq-newcomer").unwrap()[0];
    assert_eq!(transferred.contacts, ["Grace Hopper"]);
    assert!(transferred
        .notes
        .as_deref()
        .unwrap()
        .contains("Transferred on "));
    assert_eq!(
        authority.revoke("zq-newcomer", "abuse", &local()).unwrap(),
        1
    );
    assert!(authority.records_named("zq-newcomer").unwrap().is_empty());

    // A name-only request, and a rejection.
    let name_only = authority
        .request(&request("zq-dnssd", &tcp, None), &local())
        .unwrap();
    authority
        .review(name_only, Decision::Approve, None, None, &local())
        .unwrap();
    let rejected = authority
        .request(&request("zq-rejected", &tcp, Some(40500)), &local())
        .unwrap();
    authority
        .review(rejected, Decision::Deny, Some("no need"), None, &local())
        .unwrap();
    refused(
        authority.review(rejected, Decision::Approve, None, None, &local()),
        "is denied, not pending",
    );

    // Publish in every format that holds it all, and read it back: the same records.
    let store = authority.registry().unwrap();
    for to in [Format::IanaXml, Format::Json] {
        let text = format::write(&store, to);
        let back = format::read(
            text.as_bytes(),
            to,
            &ReadOptions {
                strict: true,
                ..ReadOptions::default()
            },
        )
        .unwrap();
        assert_eq!(
            back.registry.records.len(),
            store.records.len(),
            "publish as {to}"
        );
        let differing = back
            .registry
            .records
            .iter()
            .zip(&store.records)
            .find(|(a, b)| a != b);
        assert!(
            differing.is_none(),
            "publish as {to} reads back into the same records: {differing:#?}"
        );
    }
    // CSV carries fewer fields (no markup): what it carries reads back the same.
    let csv = format::write(&store, Format::IanaCsv);
    let back = format::read(
        csv.as_bytes(),
        Format::IanaCsv,
        &ReadOptions {
            strict: true,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(format::write(&back.registry, Format::IanaCsv), csv);
    assert_eq!(store.meta.updated, Some(portreg::RegistryDate::today()));

    // History: every attempt, refusals included.
    let history = authority.history(Some("zq-newcomer"), None).unwrap();
    let actions: Vec<(&str, &str)> = history
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("request", "refused"),
            ("request", "ok"),
            ("approve", "ok"),
            ("transfer", "ok"),
            ("revoke", "ok")
        ]
    );
    assert!(!authority
        .history(None, Some("2000-01-01"))
        .unwrap()
        .is_empty());
    assert!(authority
        .history(None, Some("2999-01-01"))
        .unwrap()
        .is_empty());
    assert_eq!(authority.integrity().unwrap(), "ok");
}

#[test]
fn every_refusal_says_why() {
    let db = TempDb::new("refusals");
    let mut authority = Authority::init(&db.0, None, &local()).unwrap();
    let tcp = [Transport::Tcp];
    refused(
        authority.request(&request("bad--name", &tcp, Some(40000)), &local()),
        "two hyphens side by side",
    );
    refused(
        authority.request(&request("way-too-long-a-name", &tcp, Some(40000)), &local()),
        "at most 15",
    );
    refused(
        authority.request(&request("zq-dynamic", &tcp, Some(50000)), &local()),
        "Dynamic range",
    );
    refused(
        authority.request(&request("zq-system", &tcp, Some(80)), &local()),
        "the procedure ietf-review or iesg-approval",
    );
    refused(
        authority.request(&request("zq-reserved", &tcp, Some(1024)), &local()),
        "reserved by RFC 6335",
    );
    refused(
        authority.request(&request("zq-none", &[], Some(40000)), &local()),
        "at least one transport",
    );
    let system = NewRequest {
        procedure: Some("ietf-review".into()),
        ..request("zq-system", &tcp, Some(80))
    };
    let id = authority.request(&system, &local()).unwrap();
    authority
        .review(id, Decision::Approve, None, None, &local())
        .unwrap();
    refused(
        authority.request(&request("zq-system", &tcp, Some(40001)), &local()),
        "taken by zq-system",
    );
    refused(
        authority.request(
            &request("ZQ-SYSTEM", &[Transport::Sctp], Some(40003)),
            &local(),
        ),
        "taken by zq-system",
    );
    let system_clash = NewRequest {
        procedure: Some("iesg-approval".into()),
        ..request("zq-clash", &tcp, Some(80))
    };
    refused(
        authority.request(&system_clash, &local()),
        "port 80/tcp is taken by zq-system",
    );
    let udp_clash = NewRequest {
        transports: vec![Transport::Udp],
        ..system_clash
    };
    refused(authority.request(&udp_clash, &local()), "Reserved");

    // Checks run again at approval: the first approval wins, the second is a conflict.
    let first = authority
        .request(&request("zq-race", &tcp, Some(40002)), &local())
        .unwrap();
    let second = authority
        .request(&request("zq-race", &tcp, Some(40002)), &local())
        .unwrap();
    authority
        .review(first, Decision::Approve, None, None, &local())
        .unwrap();
    match authority.review(second, Decision::Approve, None, None, &local()) {
        Err(AuthorityError::Conflict(message)) => {
            assert!(message.contains("taken by zq-race"), "{message}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        authority.review(999, Decision::Approve, None, None, &local()),
        Err(AuthorityError::NotFound(_))
    ));
    assert!(matches!(
        authority.deassign("zq-nobody", None, &local()),
        Err(AuthorityError::NotFound(_))
    ));
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn any_port_picks_the_lowest_free_one() {
    let Some(iana) = iana() else { return };
    let db = TempDb::new("any");
    let mut authority = Authority::init(&db.0, Some(&iana), &local()).unwrap();
    let ask = NewRequest {
        any_port: true,
        range: portreg::PortSpan::new(40000, 40999),
        ..request("zq-any", &[Transport::Tcp, Transport::Udp], None)
    };
    let id = authority.request(&ask, &local()).unwrap();
    let port = authority
        .request_by_id(id, &local())
        .unwrap()
        .request
        .port
        .unwrap()
        .low;
    // Independently: the lowest port of the range no record but an Unassigned one covers.
    let expected = (40000..=40999u16)
        .find(|&p| {
            !iana
                .records
                .iter()
                .any(|r| r.status != Status::Unassigned && r.ports.is_some_and(|s| s.contains(p)))
        })
        .unwrap();
    assert_eq!(port, expected);
}

#[test]
fn bad_stores_are_refused_and_left_as_they_were() {
    let garbage = TempDb::new("garbage");
    std::fs::write(
        &garbage.0,
        b"this is not a database, not at all, not even close....",
    )
    .unwrap();
    let before = std::fs::read(&garbage.0).unwrap();
    match Authority::open(&garbage.0) {
        Err(error @ AuthorityError::Store { .. }) => assert!(
            format!("{error:#}").contains("not a portreg authority store"),
            "{error}"
        ),
        other => panic!("expected a store error, got {:?}", other.map(|_| ())),
    }
    assert_eq!(std::fs::read(&garbage.0).unwrap(), before);

    let newer = TempDb::new("newer");
    drop(Authority::init(&newer.0, None, &local()).unwrap());
    {
        let connection = rusqlite::Connection::open(&newer.0).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = std::fs::read(&newer.0).unwrap();
    match Authority::open(&newer.0) {
        Err(error @ AuthorityError::Store { .. }) => {
            assert!(error.to_string().contains("schema version 99"), "{error}")
        }
        other => panic!("expected a store error, got {:?}", other.map(|_| ())),
    }
    assert_eq!(std::fs::read(&newer.0).unwrap(), before);

    let missing = std::path::Path::new("/no/such/dir/authority.sqlite");
    assert!(matches!(
        Authority::open(missing),
        Err(AuthorityError::Store { .. })
    ));
    assert!(matches!(
        Authority::init(missing, None, &local()),
        Err(AuthorityError::Store { .. })
    ));
    let directory = std::env::temp_dir();
    assert!(matches!(
        Authority::open(&directory),
        Err(AuthorityError::Store { .. })
    ));
}
