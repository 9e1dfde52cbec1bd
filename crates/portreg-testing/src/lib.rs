//! Where tests find the real registry files: `../shared` beside the repository. Tests
//! skip, saying why, when it is absent; `PORTREG_REQUIRE_SHARED=1` (set by CI) makes that
//! a failure.

use std::path::PathBuf;

/// A path under `../shared`, or `None` after printing why the test skips.
///
/// # Panics
///
/// When `PORTREG_REQUIRE_SHARED=1` and the folder is missing.
pub fn shared(relative: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if dir.join("data").is_dir() {
        return Some(dir.join(relative));
    }
    if std::env::var("PORTREG_REQUIRE_SHARED").is_ok_and(|v| v == "1") {
        panic!("PORTREG_REQUIRE_SHARED=1 but {} is missing", dir.display());
    }
    eprintln!(
        "skipped: {} is missing (the shared registry files)",
        dir.display()
    );
    None
}
