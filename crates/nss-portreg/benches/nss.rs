//! The module's own functions, called directly (no glibc in between): ns per call.
//! glibc's whole path (`getservbyport` through nsswitch) is measured by bench/nss.sh.

use std::ffi::{c_char, c_int};

use criterion::{criterion_group, criterion_main, Criterion};
use nss_portreg::{_nss_portreg_getservbyname_r, _nss_portreg_getservbyport_r, Servent};

fn servent() -> Servent {
    Servent {
        s_name: std::ptr::null_mut(),
        s_aliases: std::ptr::null_mut(),
        s_port: 0,
        s_proto: std::ptr::null_mut(),
    }
}

fn calls(c: &mut Criterion) {
    let mut buffer = [0 as c_char; 1024];
    let mut result = servent();
    let mut errno: c_int = 0;
    // Random ports 0-1023, as the glibc benchmark asks.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let ports: Vec<u16> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 1024) as u16
        })
        .collect();
    let mut next = 0;
    c.bench_function("getservbyport_r random 0-1023 tcp", |b| {
        b.iter(|| {
            next = (next + 1) % ports.len();
            // SAFETY: valid servent, buffer, errno.
            unsafe {
                _nss_portreg_getservbyport_r(
                    c_int::from(ports[next].to_be() as i16),
                    c"tcp".as_ptr(),
                    &mut result,
                    buffer.as_mut_ptr(),
                    buffer.len(),
                    &mut errno,
                )
            }
        })
    });
    c.bench_function("getservbyname_r ldaps tcp", |b| {
        b.iter(|| {
            // SAFETY: valid servent, buffer, errno.
            unsafe {
                _nss_portreg_getservbyname_r(
                    c"ldaps".as_ptr(),
                    c"tcp".as_ptr(),
                    &mut result,
                    buffer.as_mut_ptr(),
                    buffer.len(),
                    &mut errno,
                )
            }
        })
    });
}

/// The parts: the lookup alone, on answers already loaded (no reload check, no buffer).
fn parts(c: &mut Criterion) {
    let empty = std::env::temp_dir().join("nss-portreg-bench-empty");
    let answers = nss_portreg::answers::Answers::load(&nss_portreg::answers::Paths::new(
        empty.clone(),
        empty,
    ));
    c.bench_function("Answers::by_name ldaps tcp (lookup alone)", |b| {
        b.iter(|| {
            answers
                .by_name(criterion::black_box(b"ldaps"), Some(b"tcp"))
                .map(|s| s.port)
        })
    });
    c.bench_function(
        "answers::with_current (reload check and this thread's answers)",
        |b| b.iter(|| nss_portreg::answers::with_current(|answers| answers.local_count())),
    );
}

criterion_group!(benches, calls, parts);
criterion_main!(benches);
