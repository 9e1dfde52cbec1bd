//! Reading the real registry files (DESIGN §5 aims: XML <= 100 ms, CSV <= 30 ms).
//! Needs `../shared` beside the repository; without it there is nothing to measure.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use portreg::format::{self, Format, ReadOptions};

fn shared(relative: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared")
        .join(relative);
    std::fs::read(&path)
        .map_err(|_| eprintln!("skipped: {} is missing", path.display()))
        .ok()
}

fn read(c: &mut Criterion) {
    let files = [
        (
            "iana-xml 2026-02-13",
            "data/iana/service-names-port-numbers.xml",
            Format::IanaXml,
        ),
        (
            "iana-csv 2026-02-13",
            "data/iana/service-names-port-numbers.csv",
            Format::IanaCsv,
        ),
        (
            "iana-txt 2013-06-26",
            "data/iana/service-names-port-numbers.txt",
            Format::IanaTxt,
        ),
        (
            "legacy 2008-02-29",
            "data/legacy/port-numbers",
            Format::Legacy,
        ),
        ("nmap-services", "data/nmap/nmap-services", Format::Nmap),
    ];
    let mut group = c.benchmark_group("read");
    group.sample_size(20);
    for (label, file, format) in files {
        let Some(bytes) = shared(file) else { continue };
        let options = ReadOptions::default();
        group.bench_function(label, |b| {
            b.iter(|| format::read(&bytes, format, &options).map(|o| o.registry.records.len()))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("write");
    group.sample_size(20);
    if let Some(bytes) = shared("data/iana/service-names-port-numbers.xml") {
        let registry =
            format::read(&bytes, Format::IanaXml, &ReadOptions::default()).map(|o| o.registry);
        if let Ok(registry) = registry {
            for format in [Format::IanaXml, Format::IanaCsv, Format::Json] {
                group.bench_function(format.id(), |b| {
                    b.iter(|| format::write(&registry, format).len())
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, read);
criterion_main!(benches);
