//! `portreg`: lookups, search, info, free ports, diff, names, conversion; `serve`,
//! `update` and `authority` are handed over to `portreg-admin`.

// The C `main` directly: std's start-up wrapper would read /proc/self/maps to find the
// main thread's stack (glibc's pthread_getattr_np) for its stack-overflow message, an
// eighth of a lookup's instructions. Arguments and everything else of std work as usual;
// a stack overflow still ends the process (SIGSEGV), only without that message.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    std::ffi::c_int::from(portreg_cli::main())
}
