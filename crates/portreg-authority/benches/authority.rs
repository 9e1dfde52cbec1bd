//! Requests approved per second with durable commits, publishing the 2026 IANA registry
//! (14,499 records) as IANA XML from the store, and `verify` and a signed head over a log
//! of 300,000 entries. Needs `../shared`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use portreg::format::{self, Format, ReadOptions};
use portreg::Transport;
use portreg_authority::{Actor, Authority, Decision, NewRequest};

fn store(name: &str) -> PathBuf {
    store_in(&std::env::temp_dir(), name)
}

fn store_in(dir: &std::path::Path, name: &str) -> PathBuf {
    let path = dir.join(format!(
        "portreg-bench-{name}-{}.sqlite",
        std::process::id()
    ));
    remove(&path);
    path
}

fn remove(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", ".key"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

fn iana() -> Option<portreg::Registry> {
    let xml = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/iana/service-names-port-numbers.xml");
    let Ok(bytes) = std::fs::read(&xml) else {
        eprintln!("skipped: {} is missing", xml.display());
        return None;
    };
    format::read(&bytes, Format::IanaXml, &ReadOptions::default())
        .map(|o| o.registry)
        .ok()
}

fn request(name: String, port: Option<u16>) -> NewRequest {
    NewRequest {
        name,
        transports: vec![Transport::Tcp],
        port: port.map(portreg::PortSpan::single),
        description: "bench".into(),
        assignee: "B".into(),
        contact: "B".into(),
        reuse: true,
        ..NewRequest::default()
    }
}

fn authority(c: &mut Criterion) {
    let Some(registry) = iana() else { return };
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
                let request = request(format!("zq-bench-{next}"), Some(port));
                // A port already taken is refused: that costs a transaction too.
                if let Ok(id) = authority.request(&request, &Actor::local("bench")) {
                    let _ =
                        authority.review(id, Decision::Approve, None, None, &Actor::local("bench"));
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
    remove(&path);
}

/// A store holding IANA's registry and a log of 300,000 entries (requests filed and
/// withdrawn, each carrying its rows), made in memory-backed storage where the machine
/// has it so that the setup's 300,000 commits are quick; then `verify` (the chain walked,
/// every change replayed, every table compared), a signed head (the Merkle tree built
/// from the entries' hashes), and a request + approval on that store.
fn long_log(c: &mut Criterion) {
    const ENTRIES: usize = 300_000;
    let Some(registry) = iana() else { return };
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    };
    let path = store_in(&dir, "long-log");
    let local = Actor::local("bench");
    let Ok(mut authority) = Authority::init(&path, Some(&registry), &local) else {
        return;
    };
    let made = Instant::now();
    let mut next = 0usize;
    while authority.log_size().unwrap_or(0) < ENTRIES as u64 {
        next += 1;
        if let Ok(id) = authority.request(&request(format!("zq-log-{next}"), None), &local) {
            let _ = authority.withdraw(id, &local);
        }
    }
    eprintln!(
        "a log of {} entries made in {:.1?}",
        authority.log_size().unwrap_or(0),
        made.elapsed()
    );
    let key = portreg_authority::log::default_key_path(&path);
    let _ = authority.use_signing_key(&key);
    let mut group = c.benchmark_group("log of 300,000 entries");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("verify", |b| {
        b.iter(|| {
            authority
                .verify(None)
                .map(|report| report.problem.is_none())
        })
    });
    group.bench_function(
        "checkpoint, the store opened anew (its entries loaded under its last checkpoint)",
        |b| {
            b.iter(|| {
                Authority::open(&path)
                    .and_then(|mut fresh| {
                        fresh.use_signing_key(&key)?;
                        fresh.checkpoint(None)
                    })
                    .map(|note| note.map(|n| n.len()))
            })
        },
    );
    let tree = authority.shared_tree();
    let size = authority.log_size().unwrap_or(1);
    group.bench_function("consistency proof from half the log", |b| {
        b.iter(|| portreg_authority::proofs::consistency(&tree, size / 2, size))
    });
    group.bench_function("checkpoint of the log as it stands", |b| {
        b.iter(|| authority.checkpoint(None))
    });
    let mut port = 30_000u16;
    group.bench_function("request + approve", |b| {
        b.iter(|| {
            port += 1;
            let id = authority.request(&request(format!("zq-long-{port}"), Some(port)), &local)?;
            authority.review(id, Decision::Approve, None, None, &local)
        })
    });
    group.finish();
    drop(authority);
    remove(&path);
}

criterion_group!(benches, authority, long_log);
criterion_main!(benches);
