//! The tests' `portreg_shared_absent` (see `crates/portreg/build.rs`); and, for the
//! `portreg` binary, the unwinder linked in (gcc's `libgcc_eh.a`, what `-static-libgcc`
//! links) so that the binary needs no `libgcc_s.so.1`: one library fewer for the loader
//! to find, map and relocate at every start, 7% of `portreg 22`'s instructions and six of
//! its page faults. Where the C compiler has no `libgcc_eh.a` (another toolchain), the
//! binary links libgcc_s as usual.

#[path = "../portreg/build.rs"]
mod shared_files;

use std::path::PathBuf;
use std::process::Command;

fn main() {
    shared_files::main();
    let target = std::env::var("TARGET").unwrap_or_default();
    if !target.ends_with("-linux-gnu") {
        return;
    }
    let compiler = std::env::var("CC").unwrap_or_else(|_| "cc".to_owned());
    let Some(archive) = Command::new(&compiler)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()))
        .filter(|path| path.is_absolute() && path.is_file())
    else {
        return;
    };
    // Whole: every `_Unwind_*` that std calls is then defined in the binary, and the
    // linker's --as-needed drops libgcc_s.
    println!(
        "cargo::rustc-link-arg-bin=portreg=-Wl,--push-state,--whole-archive,{},--pop-state",
        archive.display()
    );
    println!("cargo::rerun-if-env-changed=CC");
}
