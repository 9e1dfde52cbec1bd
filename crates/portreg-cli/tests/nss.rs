//! `portreg nss install|uninstall|status` on a library folder and an nsswitch.conf of
//! the test's own.

mod harness;

use std::path::Path;

use harness::portreg;

fn args<'a>(action: &'a str, dir: &'a str, extra: &[&'a str]) -> Vec<String> {
    let mut all = vec![
        "nss".to_owned(),
        action.to_owned(),
        "--lib-dir".to_owned(),
        format!("{dir}/lib"),
        "--nsswitch".to_owned(),
        format!("{dir}/nsswitch.conf"),
    ];
    all.extend(extra.iter().map(|s| (*s).to_owned()));
    all
}

fn run(action: &str, dir: &Path, extra: &[&str]) -> portreg_testing::Run {
    let dir = dir.display().to_string();
    let all = args(action, &dir, extra);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    portreg(&all)
}

#[test]
fn install_status_uninstall() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path();
    std::fs::create_dir_all(dir.join("lib")).unwrap();
    let conf = "passwd:         files\nservices:       files # netbase\n";
    std::fs::write(dir.join("nsswitch.conf"), conf).unwrap();
    // A stand-in library: it carries the module's symbol name, as the real one does.
    let library = dir.join("libnss_portreg.so");
    std::fs::write(&library, b"\x7fELF ... _nss_portreg_getservbyname_r ...").unwrap();
    let library = library.display().to_string();

    let status = run("status", dir, &["-f", "json"]);
    assert_eq!(status.code, 1, "{}", status.stderr);
    assert_eq!(status.json()["in_use"], false);

    let dry = run("install", dir, &["--library", &library, "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("+ services:       portreg files # netbase"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("nsswitch.conf")).unwrap(),
        conf,
        "dry run"
    );
    assert!(!dir.join("lib/libnss_portreg.so.2").exists());

    let install = run("install", dir, &["--library", &library]);
    assert_eq!(install.code, 0, "{}", install.stderr);
    let installed = dir.join("lib/libnss_portreg.so.2");
    assert_eq!(
        std::fs::metadata(&installed).unwrap().permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("nsswitch.conf")).unwrap(),
        "passwd:         files\nservices:       portreg files # netbase\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("nsswitch.conf.portreg-backup")).unwrap(),
        conf
    );
    let again = run("install", dir, &["--library", &library]);
    assert!(
        again.stdout.contains("unchanged") && again.stdout.contains("already"),
        "{}",
        again.stdout
    );

    let status = run("status", dir, &["-f", "json"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    let status = status.json();
    assert_eq!(status["in_use"], true);
    assert_eq!(status["sources"], serde_json::json!(["portreg", "files"]));
    assert_eq!(status["registry"], "embedded");

    let uninstall = run("uninstall", dir, &[]);
    assert_eq!(uninstall.code, 0, "{}", uninstall.stderr);
    assert!(!installed.exists());
    assert_eq!(
        std::fs::read_to_string(dir.join("nsswitch.conf")).unwrap(),
        "passwd:         files\nservices:       files # netbase\n"
    );
}

#[test]
fn a_library_that_is_not_the_module_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let other = root.path().join("libother.so");
    std::fs::write(&other, b"\x7fELF not it").unwrap();
    let out = run(
        "install",
        root.path(),
        &["--library", &other.display().to_string()],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("not portreg's name service library"),
        "{}",
        out.stderr
    );
    let missing = run(
        "install",
        root.path(),
        &["--library", "/nonexistent/libnss_portreg.so"],
    );
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("/nonexistent/libnss_portreg.so"),
        "{}",
        missing.stderr
    );
}
