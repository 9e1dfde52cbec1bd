//! The module loaded by glibc itself: `getent services` and Python's socket module, with
//! `services: portreg` bind-mounted over /etc/nsswitch.conf in a private mount namespace
//! (`unshare -m`, as root), so the machine's files are never touched.
//!
//! Skipped with a reason where namespaces cannot be made; `PORTREG_REQUIRE_NSS=1` (set by
//! `.ci/run`) turns the skip into a failure.

use std::path::PathBuf;
use std::process::{Command, Output};

mod common;

use common::{newer_registry_with, write_registry};
use portreg::CompiledRegistry;

struct Namespace {
    root: tempfile::TempDir,
}

impl Namespace {
    fn new() -> Option<Namespace> {
        let root = tempfile::tempdir().expect("temporary folder");
        // `cargo test` builds the library into the test's own folder (deps/); `cargo
        // build` puts it one folder up.
        let exe = std::env::current_exe().expect("the test's path");
        let built = exe
            .ancestors()
            .skip(1)
            .take(2)
            .map(|dir| dir.join("libnss_portreg.so"))
            .find(|path| path.is_file())
            .expect("cargo builds libnss_portreg.so beside the test or one folder up");
        let lib = root.path().join("lib");
        std::fs::create_dir_all(&lib).expect("lib");
        std::fs::copy(&built, lib.join("libnss_portreg.so.2")).expect("copy the library");
        std::fs::write(root.path().join("nsswitch.conf"), "services: portreg\n").expect("conf");
        std::fs::create_dir_all(root.path().join("data")).expect("data");
        std::fs::create_dir_all(root.path().join("local.d")).expect("local.d");
        let namespace = Namespace { root };
        let works = namespace.run(&["true"]).status.success();
        if !works {
            let reason = "cannot bind-mount nsswitch.conf in a private mount namespace (needs root and unshare -m)";
            if std::env::var_os("PORTREG_REQUIRE_NSS").is_some() {
                panic!("{reason}, and PORTREG_REQUIRE_NSS is set");
            }
            eprintln!("skipped: {reason}");
            return None;
        }
        Some(namespace)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// `command` in a mount namespace of its own, with `services: portreg`.
    fn command(&self, command: &[&str]) -> Command {
        let mut unshare = Command::new("unshare");
        unshare
            .args([
                "-m",
                "sh",
                "-c",
                r#"mount --bind "$0" /etc/nsswitch.conf && exec "$@""#,
            ])
            .arg(self.path("nsswitch.conf"))
            .args(command)
            .env("LD_LIBRARY_PATH", self.path("lib"))
            .env(portreg::SYSTEM_DATA_DIR_VARIABLE, self.path("data"))
            .env(portreg::SYSTEM_LOCAL_DIR_VARIABLE, self.path("local.d"));
        unshare
    }

    fn run(&self, command: &[&str]) -> Output {
        self.command(command).output().expect("unshare runs")
    }

    fn stdout(&self, command: &[&str]) -> String {
        let output = self.run(command);
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn python(&self, script: &str) -> String {
        let output = self.run(&["python3", "-c", script]);
        assert!(
            output.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

fn first_words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

#[test]
fn glibc_answers_through_the_module() {
    let Some(ns) = Namespace::new() else {
        return;
    };
    std::fs::write(
        ns.path("local.d/ours.services"),
        "zq-nss-local 47013/tcp zq-alias\n",
    )
    .expect("local");

    let line = |query: &str| {
        first_words(
            ns.stdout(&["getent", "services", query])
                .lines()
                .next()
                .unwrap_or(""),
        )
    };
    assert_eq!(line("22"), ["ssh", "22/tcp"]);
    assert_eq!(line("ssh/tcp"), ["ssh", "22/tcp"]);
    assert_eq!(line("4200/udp"), ["vrml-multi-use", "4200/udp"]);
    assert_eq!(line("4250/udp"), ["vrml-multi-use", "4250/udp"]);
    assert_eq!(line("ldaps"), ["ldaps", "636/tcp"]);
    assert_eq!(line("www")[..2], ["http", "80/tcp"]);
    assert_eq!(line("zq-alias"), ["zq-nss-local", "47013/tcp", "zq-alias"]);
    assert!(
        !ns.run(&["getent", "services", "49152/tcp"])
            .status
            .success(),
        "no service, exit 2"
    );

    assert_eq!(
        ns.python("import socket; print(socket.getservbyname('ldaps', 'tcp'))"),
        "636"
    );
    assert_eq!(
        ns.python("import socket; print(socket.getservbyport(8443, 'tcp'))"),
        "pcsync-https"
    );
    assert_eq!(
        ns.python("import socket; print(socket.getaddrinfo('127.0.0.1', 'ldaps', type=socket.SOCK_STREAM)[0][4][1])"),
        "636"
    );

    // Enumeration: every service of the registry once, then the local name.
    let listed = ns.stdout(&["getent", "services"]);
    let services: usize = CompiledRegistry::embedded()
        .records()
        .map(|r| r.service_protocols().count())
        .sum();
    assert_eq!(listed.lines().count(), services + 1);
    assert_eq!(
        listed.lines().last().map(first_words).unwrap_or_default()[..2],
        ["zq-nss-local", "47013/tcp"]
    );

    // An installed registry is used; a damaged one is passed over for the built-in one.
    write_registry(
        &ns.path("data"),
        &newer_registry_with("zq-nss-installed", 47002),
    );
    assert_eq!(line("zq-nss-installed"), ["zq-nss-installed", "47002/tcp"]);
    std::fs::write(ns.path("data/registry.bin"), b"not a registry").expect("damage");
    assert_eq!(line("22"), ["ssh", "22/tcp"]);
    assert!(line("zq-nss-installed").is_empty());

    // A running program sees a registry installed after it started (checked once a second).
    let script = format!(
        r#"
import os, socket, time, sys
def port(name):
    try:
        return socket.getservbyname(name, 'tcp')
    except OSError:
        return None
before = port('zq-nss-later')
# The install happens here, by rename, while this process has the old file mapped.
open({ready:?}, 'w').close()
while not os.path.exists({done:?}):
    time.sleep(0.05)
time.sleep(1.2)
print(before, port('zq-nss-later'), port('ssh'))
"#,
        ready = ns.path("ready").display().to_string(),
        done = ns.path("done").display().to_string(),
    );
    let waiting = ns
        .command(&["python3", "-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python");
    while !ns.path("ready").exists() {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    write_registry(
        &ns.path("data"),
        &newer_registry_with("zq-nss-later", 47003),
    );
    std::fs::write(ns.path("done"), "").expect("done");
    let output = waiting.wait_with_output().expect("python ends");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "None 47003 22"
    );
}
