//! The module's soname is the name glibc loads it by, `libnss_portreg.so.2` (Debian's
//! policy and lintian ask for one); and the tests' `portreg_shared_absent` (see
//! `crates/portreg/build.rs`).

#[path = "../portreg/build.rs"]
mod shared_files;

fn main() {
    println!("cargo::rustc-cdylib-link-arg=-Wl,-soname,libnss_portreg.so.2");
    shared_files::main();
}
