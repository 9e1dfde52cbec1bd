//! Lookups on the embedded registry (DESIGN §5 aims: port <= 5 ns, name <= 20 ns,
//! search <= 200 us), beside libc's getservbyport/getservbyname and a HashMap.

use std::collections::HashMap;
use std::ffi::CString;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use portreg::CompiledRegistry;
use portreg::{Exclusions, FreePorts, RangeClass, Transport};

fn lookups(c: &mut Criterion) {
    let registry = CompiledRegistry::embedded();
    let mut group = c.benchmark_group("port");
    group.bench_function("portreg records_on_port(22).first", |b| {
        b.iter(|| {
            registry
                .records_on_port(black_box(22))
                .next()
                .map(|r| r.index())
        })
    });
    group.bench_function("portreg getservbyport(22, tcp)", |b| {
        b.iter(|| registry.getservbyport(black_box(22), "tcp"))
    });
    group.bench_function("portreg getservbyport miss (49152)", |b| {
        b.iter(|| registry.getservbyport(black_box(49152), "tcp"))
    });
    let by_port: HashMap<(u16, u8), &str> = registry
        .records()
        .filter_map(|r| {
            Some((
                (r.ports()?.low, u8::from(r.transport()? == Transport::Udp)),
                r.name()?,
            ))
        })
        .collect();
    group.bench_function("HashMap<(port, proto), name>", |b| {
        b.iter(|| by_port.get(&(black_box(22), 0)).copied())
    });
    let tcp = CString::new("tcp").unwrap_or_default();
    group.bench_function("libc getservbyport(22, tcp)", |b| {
        // SAFETY: a valid NUL-terminated protocol; the result is only tested for null.
        b.iter(|| unsafe {
            !libc::getservbyport(black_box(22u16.to_be() as i32), tcp.as_ptr()).is_null()
        })
    });
    group.bench_function("libc getservbyport miss (49152)", |b| {
        // SAFETY: as above.
        b.iter(|| unsafe {
            !libc::getservbyport(black_box(49152u16.to_be() as i32), tcp.as_ptr()).is_null()
        })
    });
    group.finish();

    let mut group = c.benchmark_group("name");
    group.bench_function("portreg records_named(ssh).first", |b| {
        b.iter(|| {
            registry
                .records_named(black_box("ssh"))
                .next()
                .map(|(r, _)| r.index())
        })
    });
    group.bench_function("portreg records_named(SSH).first", |b| {
        b.iter(|| {
            registry
                .records_named(black_box("SSH"))
                .next()
                .map(|(r, _)| r.index())
        })
    });
    group.bench_function("portreg getservbyname(ssh, tcp)", |b| {
        b.iter(|| registry.getservbyname(black_box("ssh"), "tcp"))
    });
    let by_name: HashMap<String, u16> = registry
        .records()
        .filter_map(|r| Some((r.name()?.to_lowercase(), r.ports()?.low)))
        .collect();
    group.bench_function("HashMap<String, port> (lower-cased key)", |b| {
        b.iter(|| by_name.get(black_box("ssh")).copied())
    });
    let ssh = CString::new("ssh").unwrap_or_default();
    group.bench_function("libc getservbyname(ssh, tcp)", |b| {
        // SAFETY: valid NUL-terminated strings; the result is only tested for null.
        b.iter(|| unsafe { !libc::getservbyname(black_box(ssh.as_ptr()), tcp.as_ptr()).is_null() })
    });
    group.finish();

    let mut group = c.benchmark_group("search");
    for text in ["sql", "ssh", "remote desktop"] {
        group.bench_function(format!("search {text:?}"), |b| {
            b.iter(|| registry.search(black_box(text), &[], 20).len())
        });
    }
    group.finish();

    let mut group = c.benchmark_group("free");
    group.bench_function("free user ports on tcp+udp", |b| {
        b.iter(|| {
            FreePorts::new(registry, &[], None, Exclusions::registry_only())
                .spans(RangeClass::User.span(), None)
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, lookups);
criterion_main!(benches);
