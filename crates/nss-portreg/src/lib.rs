//! `libnss_portreg.so.2`: a glibc name service for services. With `services: portreg` in
//! `/etc/nsswitch.conf`, every program's `getservbyname`, `getservbyport`, `getservent`
//! (and `getaddrinfo` with a service name) answers from the whole port registry.
//!
//! The answers are those glibc's `files` backend would give for a services file holding
//! the same registry: names compared byte for byte, aliases in `s_aliases`, the canonical
//! name of a port first, a null protocol meaning any. Beyond it: a range answers for every
//! port in it (`4250/udp` is `vrml-multi-use`), which a services file cannot say.
//! Enumeration lists every named record once, at the first port of its range, then the
//! local names. Nameless rows (Reserved, Unassigned) are not services.
//!
//! The registry is the machine's (`portreg update --system`, in
//! [`portreg::SYSTEM_DATA_DIR`]) when there is one not older than the built-in one, with
//! the local names of [`portreg::SYSTEM_LOCAL_DIR`]; it is mapped once per process,
//! checked, and loaded again (at most once a second) when the files change.
//!
//! The module never writes to stdout or stderr, reads the environment only through
//! `secure_getenv`, and does not allocate on a lookup (answers are read in place and
//! written into the caller's buffer). Nothing unwinds into C: every entry point catches
//! panics where the build unwinds; release builds abort instead (the workspace's
//! profile: unwinding tables cost `portreg 22` 0.15 ms), so the lookup paths are kept
//! free of panics: every read of the registry is bounds-checked (and fuzzed), and a
//! damaged file is refused when it is loaded, for the built-in registry.

#![deny(missing_docs)]

pub mod answers;

use std::ffi::{c_char, c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

use answers::{Answers, Enumerated, Service};

/// glibc's `enum nss_status`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NssStatus {
    /// Try again: the buffer is too small (`ERANGE`), or a resource ran out.
    TryAgain = -2,
    /// The service is unavailable.
    Unavailable = -1,
    /// No such entry.
    NotFound = 0,
    /// Found.
    Success = 1,
}

/// The layout of glibc's `struct servent`.
#[repr(C)]
#[derive(Debug)]
pub struct Servent {
    /// The official name.
    pub s_name: *mut c_char,
    /// A null-terminated list of aliases.
    pub s_aliases: *mut *mut c_char,
    /// The port, in network byte order.
    pub s_port: c_int,
    /// The protocol.
    pub s_proto: *mut c_char,
}

/// The most aliases a service is given (the registry's records have a few at most).
const MAX_ALIASES: usize = 32;

/// Runs `body`, turning a panic into `NSS_STATUS_UNAVAIL`: nothing unwinds into C.
fn guarded(errnop: *mut c_int, body: impl FnOnce() -> NssStatus) -> NssStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(status) => status,
        Err(_) => {
            set_errno(errnop, libc::EAGAIN);
            NssStatus::Unavailable
        }
    }
}

fn set_errno(errnop: *mut c_int, value: c_int) {
    if !errnop.is_null() {
        // SAFETY: glibc passes a valid pointer to the caller's errno.
        unsafe { *errnop = value };
    }
}

/// The bytes of a C string argument; `None` for a null pointer.
///
/// # Safety
/// `text` is null or a valid C string.
unsafe fn c_bytes<'a>(text: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: the caller's promise.
    (!text.is_null()).then(|| unsafe { CStr::from_ptr(text) }.to_bytes())
}

/// Writes `service` into `result`, its strings and alias list into `buffer`; `ERANGE` and
/// `NSS_STATUS_TRYAGAIN` when they do not fit, so that the caller retries with more.
///
/// # Safety
/// `result` points to a writable `servent`, `buffer` to `length` writable bytes.
unsafe fn fill(
    service: &Service<'_>,
    result: *mut Servent,
    buffer: *mut c_char,
    length: usize,
    errnop: *mut c_int,
) -> NssStatus {
    if result.is_null() || buffer.is_null() {
        set_errno(errnop, libc::EINVAL);
        return NssStatus::Unavailable;
    }
    // The aliases walked twice (to size, then to write) rather than gathered: nothing
    // to allocate or clear on a lookup. A record with more than MAX_ALIASES gives the
    // first ones.
    let mut alias_count = 0;
    let mut alias_bytes = 0;
    service.aliases.each(|alias| {
        if alias_count < MAX_ALIASES {
            alias_count += 1;
            alias_bytes += alias.len() + 1;
        }
    });
    let pointer = std::mem::size_of::<*mut c_char>();
    let padding = (pointer - (buffer as usize) % pointer) % pointer;
    let strings = service.name.len() + 1 + service.protocol.len() + 1 + alias_bytes;
    let needed = padding + (alias_count + 1) * pointer + strings;
    if needed > length {
        set_errno(errnop, libc::ERANGE);
        return NssStatus::TryAgain;
    }
    // SAFETY: everything written lies in buffer[..needed], needed <= length; the alias
    // list starts at a pointer-aligned address.
    unsafe {
        let list = buffer.add(padding) as *mut *mut c_char;
        let mut next = buffer.add(padding + (alias_count + 1) * pointer);
        let mut put = |text: &str| {
            let start = next;
            std::ptr::copy_nonoverlapping(text.as_ptr(), start as *mut u8, text.len());
            *start.add(text.len()) = 0;
            next = start.add(text.len() + 1);
            start
        };
        let mut slot = 0;
        service.aliases.each(|alias| {
            if slot < alias_count {
                *list.add(slot) = put(alias);
                slot += 1;
            }
        });
        *list.add(slot) = std::ptr::null_mut();
        let name = put(service.name);
        let protocol = put(service.protocol);
        result.write(Servent {
            s_name: name,
            s_aliases: list,
            s_port: c_int::from(service.port.to_be() as i16),
            s_proto: protocol,
        });
    }
    NssStatus::Success
}

/// Asks the answers in use and writes the service found into the caller's buffer.
///
/// # Safety
/// As [`fill`].
unsafe fn answer(
    find: impl for<'a> FnOnce(&'a Answers) -> Option<Service<'a>>,
    result: *mut Servent,
    buffer: *mut c_char,
    length: usize,
    errnop: *mut c_int,
) -> NssStatus {
    let answered = answers::with_current(|answers| match find(answers) {
        // SAFETY: the caller's promise.
        Some(service) => unsafe { fill(&service, result, buffer, length, errnop) },
        None => not_found(errnop),
    });
    answered.unwrap_or_else(|| out_of_memory(errnop))
}

fn out_of_memory(errnop: *mut c_int) -> NssStatus {
    set_errno(errnop, libc::ENOMEM);
    NssStatus::TryAgain
}

fn not_found(errnop: *mut c_int) -> NssStatus {
    set_errno(errnop, libc::ENOENT);
    NssStatus::NotFound
}

/// glibc's `getservbyname_r` for this module: the service `name` on `proto` (any when null).
///
/// # Safety
/// glibc's contract: `name` a C string, `proto` null or a C string, `result` a writable
/// `servent`, `buffer` `buflen` writable bytes, `errnop` a writable int.
#[no_mangle]
pub unsafe extern "C" fn _nss_portreg_getservbyname_r(
    name: *const c_char,
    proto: *const c_char,
    result: *mut Servent,
    buffer: *mut c_char,
    buflen: usize,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        // SAFETY: glibc's contract.
        let (Some(name), protocol) = (unsafe { c_bytes(name) }, unsafe { c_bytes(proto) }) else {
            return not_found(errnop);
        };
        // SAFETY: glibc's contract.
        unsafe {
            answer(
                |answers| answers.by_name(name, protocol),
                result,
                buffer,
                buflen,
                errnop,
            )
        }
    })
}

/// glibc's `getservbyport_r` for this module: the service on `port` (network byte order)
/// and `proto` (any when null).
///
/// # Safety
/// As [`_nss_portreg_getservbyname_r`].
#[no_mangle]
pub unsafe extern "C" fn _nss_portreg_getservbyport_r(
    port: c_int,
    proto: *const c_char,
    result: *mut Servent,
    buffer: *mut c_char,
    buflen: usize,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        let port = u16::from_be(port as u16);
        // SAFETY: glibc's contract.
        let protocol = unsafe { c_bytes(proto) };
        // SAFETY: glibc's contract.
        unsafe {
            answer(
                |answers| answers.by_port(port, protocol),
                result,
                buffer,
                buflen,
                errnop,
            )
        }
    })
}

/// Where an enumeration is: the answers it started with, and the next position.
static ENUMERATION: Mutex<Option<(Arc<Answers>, usize)>> = Mutex::new(None);

fn enumeration() -> std::sync::MutexGuard<'static, Option<(Arc<Answers>, usize)>> {
    // A panic cannot leave the position half-written: take it as it is.
    ENUMERATION
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// glibc's `setservent`: start (or restart) the enumeration.
#[no_mangle]
pub extern "C" fn _nss_portreg_setservent(_stayopen: c_int) -> NssStatus {
    guarded(std::ptr::null_mut(), || {
        match answers::with_current(Arc::clone) {
            Some(answers) => {
                *enumeration() = Some((answers, 0));
                NssStatus::Success
            }
            None => NssStatus::TryAgain,
        }
    })
}

/// glibc's `endservent`: end the enumeration.
#[no_mangle]
pub extern "C" fn _nss_portreg_endservent() -> NssStatus {
    guarded(std::ptr::null_mut(), || {
        *enumeration() = None;
        NssStatus::Success
    })
}

/// glibc's `getservent_r`: the next service of the enumeration. A buffer too small
/// leaves the position where it is, so the retry gets the same service.
///
/// # Safety
/// As [`_nss_portreg_getservbyname_r`].
#[no_mangle]
pub unsafe extern "C" fn _nss_portreg_getservent_r(
    result: *mut Servent,
    buffer: *mut c_char,
    buflen: usize,
    errnop: *mut c_int,
) -> NssStatus {
    guarded(errnop, || {
        let mut state = enumeration();
        if state.is_none() {
            let Some(answers) = answers::with_current(Arc::clone) else {
                return out_of_memory(errnop);
            };
            *state = Some((answers, 0));
        }
        let Some((answers, position)) = state.as_mut() else {
            return out_of_memory(errnop);
        };
        loop {
            match answers.nth(*position) {
                Enumerated::End => return not_found(errnop),
                Enumerated::Skip => *position += 1,
                Enumerated::Service(service) => {
                    // SAFETY: glibc's contract.
                    let status = unsafe { fill(&service, result, buffer, buflen, errnop) };
                    if status == NssStatus::Success {
                        *position += 1;
                    }
                    return status;
                }
            }
        }
    })
}
