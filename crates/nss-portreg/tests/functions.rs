//! The module's C functions called directly, as glibc calls them, on the built-in
//! registry; and what it answers from (installed, damaged, local, changed) through
//! `Answers::load`.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::Once;

mod common;

use common::{newer_registry_with, write_registry};

use nss_portreg::answers::{Answers, Origin, Paths};
use nss_portreg::{
    _nss_portreg_endservent, _nss_portreg_getservbyname_r, _nss_portreg_getservbyport_r,
    _nss_portreg_getservent_r, _nss_portreg_setservent, NssStatus, Servent,
};
use portreg::{CompiledRegistry, RegistryDate};

/// Every test's module state reads an empty machine: the built-in registry, no local names.
fn built_in_only() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let empty = std::env::temp_dir().join(format!("nss-portreg-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).expect("temporary folder");
        // Set once, before any call reads it.
        std::env::set_var(portreg::SYSTEM_DATA_DIR_VARIABLE, &empty);
        std::env::set_var(portreg::SYSTEM_LOCAL_DIR_VARIABLE, &empty);
    });
}

/// An answer, copied out of the caller's buffer.
#[derive(Debug, PartialEq, Eq)]
struct Found {
    name: String,
    aliases: Vec<String>,
    port: u16,
    protocol: String,
}

fn empty_servent() -> Servent {
    Servent {
        s_name: std::ptr::null_mut(),
        s_aliases: std::ptr::null_mut(),
        s_port: 0,
        s_proto: std::ptr::null_mut(),
    }
}

fn copy_out(result: &Servent) -> Found {
    // SAFETY: a successful call filled every pointer with C strings in the buffer.
    unsafe {
        let text = |p: *const c_char| CStr::from_ptr(p).to_string_lossy().into_owned();
        let mut aliases = Vec::new();
        let mut slot = result.s_aliases;
        while !(*slot).is_null() {
            aliases.push(text(*slot));
            slot = slot.add(1);
        }
        Found {
            name: text(result.s_name),
            aliases,
            port: u16::from_be(result.s_port as u16),
            protocol: text(result.s_proto),
        }
    }
}

fn by_port_with(
    port: u16,
    protocol: Option<&str>,
    buffer: &mut [c_char],
) -> (NssStatus, c_int, Option<Found>) {
    built_in_only();
    let protocol = protocol.map(|p| CString::new(p).expect("protocol"));
    let mut result = empty_servent();
    let mut errno = 0;
    // SAFETY: valid pointers and length.
    let status = unsafe {
        _nss_portreg_getservbyport_r(
            c_int::from(port.to_be() as i16),
            protocol.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
            &mut result,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut errno,
        )
    };
    let found = (status == NssStatus::Success).then(|| copy_out(&result));
    (status, errno, found)
}

fn by_port(port: u16, protocol: Option<&str>) -> Option<Found> {
    by_port_with(port, protocol, &mut [0; 1024]).2
}

fn by_name(name: &str, protocol: Option<&str>) -> Option<Found> {
    built_in_only();
    let name = CString::new(name).expect("name");
    let protocol = protocol.map(|p| CString::new(p).expect("protocol"));
    let mut buffer = [0 as c_char; 1024];
    let mut result = empty_servent();
    let mut errno = 0;
    // SAFETY: valid pointers and length.
    let status = unsafe {
        _nss_portreg_getservbyname_r(
            name.as_ptr(),
            protocol.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
            &mut result,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut errno,
        )
    };
    (status == NssStatus::Success).then(|| copy_out(&result))
}

#[test]
fn ports_names_ranges_and_protocols() {
    let ssh = by_port(22, Some("tcp")).expect("22/tcp");
    assert_eq!(
        (ssh.name.as_str(), ssh.port, ssh.protocol.as_str()),
        ("ssh", 22, "tcp")
    );
    let http = by_port(80, Some("tcp")).expect("80/tcp");
    assert_eq!(http.name, "http");
    assert!(http.aliases.iter().any(|a| a == "www"), "{http:?}");
    // A range answers for every port in it; a record without a transport serves tcp and udp.
    for port in [4200, 4250, 4299] {
        let found = by_port(port, Some("udp")).expect("in the range");
        assert_eq!((found.name.as_str(), found.port), ("vrml-multi-use", port));
    }
    assert_eq!(by_port(4200, Some("sctp")), None);
    // A null protocol means any: the port's first service.
    assert_eq!(by_port(53, None).map(|f| f.protocol), Some("tcp".into()));
    // Nameless rows are not services; dynamic ports have none.
    assert_eq!(by_port(4, Some("tcp")), None);
    assert_eq!(by_port(49152, Some("tcp")), None);
    assert_eq!(
        by_port(22, Some("TCP")),
        None,
        "protocols compared as glibc does"
    );

    assert_eq!(by_name("ldaps", Some("tcp")).map(|f| f.port), Some(636));
    assert_eq!(
        by_name("www", Some("tcp")).map(|f| f.name),
        Some("http".into()),
        "an alias finds its service"
    );
    assert_eq!(
        by_name("vrml-multi-use", Some("udp")).map(|f| f.port),
        Some(4200)
    );
    assert_eq!(by_name("ssh", None).map(|f| f.protocol), Some("tcp".into()));
    assert_eq!(
        by_name("SSH", Some("tcp")),
        None,
        "names compared byte for byte, as glibc does"
    );
    assert_eq!(by_name("zq-no-such-service", Some("tcp")), None);
    assert_eq!(by_name(&"x".repeat(5000), Some("tcp")), None);
    assert_eq!(by_name("sshé", None), None);
}

#[test]
fn a_small_buffer_is_erange_and_a_bigger_one_succeeds() {
    let whole = by_port(80, Some("tcp")).expect("80/tcp");
    let mut succeeded_at = None;
    for length in 0..256 {
        let mut buffer = vec![0 as c_char; length];
        let (status, errno, found) = by_port_with(80, Some("tcp"), &mut buffer);
        match status {
            NssStatus::TryAgain => {
                assert_eq!(errno, libc::ERANGE, "length {length}");
                assert!(
                    succeeded_at.is_none(),
                    "a larger buffer failed after a smaller one worked"
                );
            }
            NssStatus::Success => {
                assert_eq!(found.as_ref(), Some(&whole), "length {length}");
                succeeded_at.get_or_insert(length);
            }
            other => panic!("length {length}: {other:?}"),
        }
    }
    // Strings and a null-terminated list of pointers, nothing more.
    let needed = succeeded_at.expect("256 bytes are enough");
    let strings: usize = [&whole.name, &whole.protocol]
        .iter()
        .chain(whole.aliases.iter().collect::<Vec<_>>().iter())
        .map(|s| s.len() + 1)
        .sum();
    assert!(
        needed <= strings + (whole.aliases.len() + 1) * 8 + 7,
        "{needed}"
    );
}

#[test]
fn many_threads_answer_alike() {
    let expected: Vec<Option<Found>> = (0..1024).map(|p| by_port(p, Some("tcp"))).collect();
    let expected = &expected;
    std::thread::scope(|scope| {
        for thread in 0..8u16 {
            scope.spawn(move || {
                for round in 0..4u16 {
                    for port in 0..1024u16 {
                        let port = (port + thread * 97 + round) % 1024;
                        assert_eq!(&by_port(port, Some("tcp")), &expected[port as usize]);
                    }
                }
            });
        }
    });
}

#[test]
fn enumeration_lists_every_service_once_per_name_and_protocol() {
    built_in_only();
    let registry = CompiledRegistry::embedded();
    let mut expected: Vec<(String, String, u16)> = registry
        .records()
        .flat_map(|record| {
            record.service_protocols().map(move |p| {
                (
                    record.name().unwrap_or_default().to_owned(),
                    p.to_owned(),
                    record.ports().map_or(0, |s| s.low),
                )
            })
        })
        .collect();
    let mut listed = Vec::new();
    let mut buffer = [0 as c_char; 4096];
    let mut result = empty_servent();
    let mut errno = 0;
    _nss_portreg_setservent(0);
    loop {
        // SAFETY: valid pointers and length.
        let status = unsafe {
            _nss_portreg_getservent_r(&mut result, buffer.as_mut_ptr(), buffer.len(), &mut errno)
        };
        if status != NssStatus::Success {
            assert_eq!(status, NssStatus::NotFound);
            break;
        }
        let found = copy_out(&result);
        listed.push((found.name, found.protocol, found.port));
    }
    _nss_portreg_endservent();
    assert!(listed.len() > 11_000, "{}", listed.len());
    assert!(listed
        .iter()
        .any(|(n, p, port)| n == "vrml-multi-use" && p == "udp" && *port == 4200));
    assert_eq!(
        listed
            .iter()
            .filter(|(n, p, _)| n == "vrml-multi-use" && p == "udp")
            .count(),
        1,
        "a range once"
    );
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);
}

#[test]
fn a_tiny_buffer_in_enumeration_keeps_the_position() {
    built_in_only();
    let mut result = empty_servent();
    let mut errno = 0;
    let mut tiny = [0 as c_char; 4];
    let mut big = [0 as c_char; 4096];
    _nss_portreg_setservent(0);
    // SAFETY: valid pointers and lengths.
    unsafe {
        assert_eq!(
            _nss_portreg_getservent_r(&mut result, tiny.as_mut_ptr(), tiny.len(), &mut errno),
            NssStatus::TryAgain
        );
        assert_eq!(errno, libc::ERANGE);
        assert_eq!(
            _nss_portreg_getservent_r(&mut result, big.as_mut_ptr(), big.len(), &mut errno),
            NssStatus::Success
        );
    }
    let first = copy_out(&result);
    _nss_portreg_endservent();
    let registry = CompiledRegistry::embedded();
    let expected = registry
        .records()
        .find_map(|r| r.service_protocols().next().and(r.name()))
        .expect("a service");
    assert_eq!(first.name, expected);
}

/// netbase's `/etc/services` against the module: every line of a name IANA knows gives
/// the same name and port, but for these, where the registry differs from netbase.
const NETBASE_DIFFERENCES: &[(&str, &str, &str)] = &[
    // IANA's name for the port is another (netbase keeps an older or local one).
    ("port", "whois", "tcp"), // IANA: nicname
    ("name", "whois", "tcp"),
    ("port", "auth", "tcp"),  // IANA: ident first on 113
    ("port", "imap2", "tcp"), // IANA: imap
    ("name", "imap2", "tcp"),
    ("port", "snmp-trap", "tcp"), // IANA: snmptrap
    ("name", "snmp-trap", "tcp"),
    ("port", "snmp-trap", "udp"),
    ("name", "snmp-trap", "udp"),
    ("port", "submissions", "tcp"), // IANA: urd first on 465
    ("port", "biff", "udp"),        // IANA: comsat first on 512
    ("port", "route", "udp"),       // IANA: router
    ("name", "route", "udp"),
    ("name", "routed", "udp"),
    ("port", "nfs", "tcp"), // IANA: shilp first on 2049
    ("port", "nfs", "udp"),
    ("name", "x11-0", "tcp"), // IANA: x11, a range 6000-6063
    // IANA assigns the name at a lower port as well; the first wins, as in a file.
    ("name", "icp", "udp"),      // 1112 (icp) before 3130 (icpv2, alias icp)
    ("name", "http-alt", "tcp"), // 591 before 8080
    ("name", "dicom", "tcp"),    // 104 before 11112
    // Kerberos IV at 750: IANA names the port rfile (tcp) and loadav (udp).
    ("name", "kerberos4", "tcp"),
    ("name", "kerberos4", "udp"),
    ("port", "kerberos4", "tcp"),
    ("port", "kerberos4", "udp"),
    ("name", "kerberos-iv", "tcp"),
    ("name", "kdc", "tcp"),
    ("name", "kdc", "udp"),
];

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn equal_to_the_files_backend_on_netbase() {
    let Some(path) = portreg_testing::shared("data/netbase/services") else {
        return;
    };
    let text = std::fs::read_to_string(&path).expect("netbase services");
    let registry = CompiledRegistry::embedded();
    let known = |name: &str| {
        registry
            .records_named(name)
            .any(|(_, kind)| kind != portreg::NameKind::Previous)
    };
    let mut differences = Vec::new();
    let mut compared = 0;
    for line in text.lines() {
        let words: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let [name, place, aliases @ ..] = words.as_slice() else {
            continue;
        };
        let Some((port, protocol)) = place.split_once('/') else {
            continue;
        };
        let port: u16 = port.parse().expect("netbase port");
        // AppleTalk (ddp) is not IANA's; Debian's own additions are names IANA never had.
        if protocol == "ddp" || !std::iter::once(name).chain(aliases).any(|n| known(n)) {
            continue;
        }
        compared += 1;
        for each in std::iter::once(name).chain(aliases) {
            if by_name(each, Some(protocol)).map(|f| f.port) != Some(port) {
                differences.push(("name", each.to_string(), protocol.to_owned()));
            }
        }
        if by_port(port, Some(protocol)).map(|f| f.name).as_deref() != Some(*name) {
            differences.push(("port", name.to_string(), protocol.to_owned()));
        }
    }
    let listed: Vec<(&str, String, String)> = NETBASE_DIFFERENCES
        .iter()
        .map(|(k, n, p)| (*k, n.to_string(), p.to_string()))
        .collect();
    assert!(compared > 200, "{compared}");
    differences.sort();
    let mut listed = listed;
    listed.sort();
    assert_eq!(
        differences, listed,
        "differences from netbase other than those listed"
    );
}

#[test]
fn installed_damaged_older_and_local_registries() {
    let root = tempfile::tempdir().expect("temporary folder");
    let paths = Paths::new(root.path().join("data"), root.path().join("local.d"));
    // Nothing installed: the built-in registry.
    let answers = Answers::load(&paths);
    assert_eq!(answers.origin(), &Origin::BuiltIn);

    // A newer installed registry is used.
    let installed = write_registry(
        &paths.data_dir,
        &newer_registry_with("zq-nss-installed", 47001),
    );
    let answers = Answers::load(&paths);
    assert_eq!(answers.origin(), &Origin::Installed(installed.clone()));
    assert_eq!(
        answers
            .by_name(b"zq-nss-installed", Some(b"tcp"))
            .map(|s| s.port),
        Some(47001)
    );

    // Damaged (one byte changed, then cut short): the built-in one answers.
    let mut bytes = std::fs::read(&installed).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&installed, &bytes).expect("write");
    let answers = Answers::load(&paths);
    assert_eq!(answers.origin(), &Origin::BuiltIn);
    assert_eq!(
        answers.by_port(22, Some(b"tcp")).map(|s| s.name),
        Some("ssh")
    );
    std::fs::write(&installed, &bytes[..100]).expect("write");
    assert_eq!(Answers::load(&paths).origin(), &Origin::BuiltIn);

    // Older than the built-in one: passed over.
    let mut older = CompiledRegistry::embedded().to_registry();
    older.meta.updated = Some("2001-01-01".parse::<RegistryDate>().expect("date"));
    write_registry(&paths.data_dir, &older);
    assert_eq!(Answers::load(&paths).origin(), &Origin::BuiltIn);

    // Local names, after the registry's.
    std::fs::create_dir_all(&paths.local_dir).expect("local.d");
    std::fs::write(
        paths.local_dir.join("ours.services"),
        "zq-nss-local\t47013/tcp\tzq-alias\nssh-mine 22/tcp\nbad line\n",
    )
    .expect("write");
    let answers = Answers::load(&paths);
    assert_eq!(answers.local_count(), 2);
    let local = answers
        .by_name(b"zq-alias", Some(b"tcp"))
        .expect("local alias");
    assert_eq!((local.name, local.port), ("zq-nss-local", 47013));
    assert_eq!(
        answers.by_port(47013, None).map(|s| s.name),
        Some("zq-nss-local")
    );
    assert_eq!(
        answers.by_port(22, Some(b"tcp")).map(|s| s.name),
        Some("ssh"),
        "the registry's name first"
    );
    assert_eq!(
        answers.by_name(b"ssh-mine", Some(b"tcp")).map(|s| s.port),
        Some(22)
    );
}
