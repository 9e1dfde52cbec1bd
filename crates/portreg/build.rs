//! Tests that read the real registry files in `../shared`, beside the source tree, are
//! ignored with their reason where that folder is absent, so that `cargo test` counts
//! them as not run instead of passing them silently; `PORTREG_REQUIRE_SHARED=1` (CI) never
//! ignores them, so they run or fail. The other crates of the workspace use this script
//! too. It changes nothing else: the library is built the same either way.

use std::path::{Path, PathBuf};

pub fn main() {
    println!("cargo::rustc-check-cfg=cfg(portreg_shared_absent)");
    println!("cargo::rerun-if-env-changed=PORTREG_REQUIRE_SHARED");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    // The source tree's root holds Cargo.lock and crates/; `shared` is its sibling.
    let root = manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file() && dir.join("crates").is_dir());
    let data = root
        .and_then(Path::parent)
        .map(|dir| dir.join("shared/data"));
    if let Some(data) = &data {
        println!("cargo::rerun-if-changed={}", data.display());
    }
    let required = std::env::var("PORTREG_REQUIRE_SHARED").is_ok_and(|v| v == "1");
    if !required && !data.is_some_and(|data| data.is_dir()) {
        println!("cargo::rustc-cfg=portreg_shared_absent");
    }
}
