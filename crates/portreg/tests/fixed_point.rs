//! For every real file and every format portreg writes: write -> read -> write gives the
//! same bytes, and what a written file reads back to keeps every record the format can
//! hold.

mod support;

use std::thread;

use portreg::format::{self, Format, ReadOptions};
use support::*;

const FILES: [&str; 9] = [
    XML,
    NEWEST_XML,
    CSV,
    TXT,
    LEGACY,
    SEED,
    NETBASE,
    WIRESHARK,
    "data/nmap/nmap-services",
];

fn lenient(text: &str, format: Format) -> portreg::Registry {
    format::read(text.as_bytes(), format, &ReadOptions::default())
        .unwrap_or_else(|e| panic!("{format}: {e}"))
        .registry
}

#[test]
#[cfg_attr(
    portreg_shared_absent,
    ignore = "needs ../shared/data, the real registry files"
)]
fn every_writer_reaches_a_fixed_point_on_every_real_file() {
    if shared().is_none() {
        return;
    }
    // One thread a file: the work is independent and the files are large.
    let handles: Vec<_> = FILES
        .iter()
        .map(|file| {
            thread::spawn(move || {
                let path = shared_file(file).unwrap();
                let bytes = std::fs::read(&path).unwrap();
                let source = Format::detect(&bytes).unwrap();
                let registry = format::read(&bytes, source, &ReadOptions::default())
                    .unwrap()
                    .registry;
                let mut failures = Vec::new();
                for target in Format::ALL {
                    let first = format::write(&registry, target);
                    let read = lenient(&first, target);
                    let second = format::write(&read, target);
                    if first != second {
                        let line = first
                            .lines()
                            .zip(second.lines())
                            .position(|(a, b)| a != b)
                            .map_or(0, |l| l + 1);
                        failures.push(format!("{file} as {target}: differs from line {line}"));
                    }
                    let held = registry
                        .records
                        .iter()
                        .filter(|r| target.can_hold(r))
                        .count();
                    if read.records.len() != held {
                        failures.push(format!(
                            "{file} as {target}: {} records read back of {held} written",
                            read.records.len()
                        ));
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}
