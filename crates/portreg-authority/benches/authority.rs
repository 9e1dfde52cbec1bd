//! Requests approved per second with durable commits, and publishing the 2026 IANA
//! registry (14,499 records) as IANA XML from the store. Needs `../shared`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use portreg::format::{self, Format, ReadOptions};
use portreg::Transport;
use portreg_authority::{Actor, Authority, Decision, NewRequest};

fn store(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "portreg-bench-{name}-{}.sqlite",
        std::process::id()
    ));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

fn authority(c: &mut Criterion) {
    let xml = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/iana/service-names-port-numbers.xml");
    let Ok(bytes) = std::fs::read(&xml) else {
        eprintln!("skipped: {} is missing", xml.display());
        return;
    };
    let registry = format::read(&bytes, Format::IanaXml, &ReadOptions::default())
        .map(|o| o.registry)
        .unwrap_or_default();
    let path = store("approve");
    let Ok(mut authority) = Authority::init(&path, Some(&registry), &Actor::local("bench")) else {
        return;
    };
    let mut group = c.benchmark_group("authority");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    // Each iteration files and approves a request for a fresh name and port: two durable
    // transactions (and the audit rows inside them).
    let mut next = 0u32;
    group.bench_function("request + approve (durable)", |b| {
        b.iter_custom(|iterations| {
            let start = Instant::now();
            for _ in 0..iterations {
                next += 1;
                let port = 30_000 + (next % 10_000) as u16;
                let request = NewRequest {
                    name: format!("zq-bench-{next}"),
                    transports: vec![Transport::Tcp],
                    port: Some(portreg::PortSpan::single(port)),
                    description: "bench".into(),
                    assignee: "B".into(),
                    contact: "B".into(),
                    reuse: true,
                    ..NewRequest::default()
                };
                // A port already taken is refused: that costs a transaction too.
                if let Ok(id) = authority.request(&request, &Actor::local("bench")) {
                    let _ = authority.review(id, Decision::Approve, None, &Actor::local("bench"));
                }
            }
            start.elapsed()
        })
    });
    group.bench_function("publish 2026 registry as iana-xml", |b| {
        b.iter(|| {
            authority
                .registry()
                .map(|r| format::write(&r, Format::IanaXml).len())
        })
    });
    group.finish();
    drop(authority);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

criterion_group!(benches, authority);
criterion_main!(benches);
