//! Enriches arbitrary bytes as a log of each format, leniently and strictly, with every
//! column: nothing may panic, and lenient output keeps every input line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portreg::CompiledRegistry;
use std::sync::OnceLock;

use portreg_cli::enrich::{Column, Enricher, LogFormat, Settings};

fuzz_target!(|data: &[u8]| {
    static ENRICHER: OnceLock<Enricher<'static>> = OnceLock::new();
    let enricher = ENRICHER.get_or_init(|| Enricher::new(CompiledRegistry::embedded()));
    // The format detected, or one the first byte picks.
    let formats = [
        None,
        Some(LogFormat::Zeek),
        Some(LogFormat::Csv),
        Some(LogFormat::Tsv),
        Some(LogFormat::Jsonl),
    ];
    let format = formats[data.first().map_or(0, |b| *b as usize % formats.len())];
    for strict in [false, true] {
        let settings = Settings {
            format,
            port_field: None,
            transport_field: None,
            transport: None,
            columns: vec![
                Column::Name,
                Column::Description,
                Column::Status,
                Column::RangeClass,
                Column::Source,
            ],
            strict,
            threads: 1,
        };
        let mut out = Vec::new();
        let outcome = enricher.run(&settings, data, &mut out, "fuzz");
        if outcome.is_ok() && !strict {
            let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
            assert_eq!(lines(&out), lines(data), "a line lost or added");
        }
    }
});
