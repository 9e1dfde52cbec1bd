//! `portreg serve`, `update` and `authority` run `portreg-admin`: found beside `portreg`,
//! with the same arguments, its exit status passed through; when it is missing, the
//! message says how to get it.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use portreg_testing::run;

/// A folder holding a copy of `portreg` and, optionally, a `portreg-admin` script.
struct Install(PathBuf);

impl Install {
    fn new(name: &str, admin: Option<&str>) -> Install {
        let dir =
            std::env::temp_dir().join(format!("portreg-handover-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(env!("CARGO_BIN_EXE_portreg"), dir.join("portreg")).unwrap();
        if let Some(script) = admin {
            let path = dir.join("portreg-admin");
            std::fs::write(&path, script).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Install(dir)
    }

    fn portreg(&self) -> String {
        self.0.join("portreg").display().to_string()
    }
}

impl Drop for Install {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// One test, not two: a file being written while another thread forks can be "busy" when
// run (ETXTBSY), so the installs are made and run one after the other.
#[test]
fn the_admin_binary_beside_portreg_is_run_or_its_absence_explained() {
    admin_runs_with_the_same_arguments_and_status();
    a_missing_admin_binary_says_how_to_get_it();
}

fn admin_runs_with_the_same_arguments_and_status() {
    let install = Install::new("beside", Some("#!/bin/sh\necho \"admin: $*\"\nexit 7\n"));
    let out = run(
        &install.portreg(),
        &["serve", "--listen", "127.0.0.1:1"],
        None,
    );
    assert_eq!(out.code, 7, "{}", out.stderr);
    assert_eq!(out.stdout, "admin: serve --listen 127.0.0.1:1\n");
    let out = run(&install.portreg(), &["update", "--check"], None);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (7, "admin: update --check\n")
    );
}

fn a_missing_admin_binary_says_how_to_get_it() {
    let install = Install::new("missing", None);
    let out = portreg_testing::run_with(
        &install.portreg(),
        &["authority", "list"],
        None,
        &[("PATH", "/nonexistent")],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("portreg-admin"), "{}", out.stderr);
    assert!(
        out.stderr.contains("cargo build --release"),
        "{}",
        out.stderr
    );
    // Lookups never need it.
    assert_eq!(run(&install.portreg(), &["22"], None).code, 0);
}
