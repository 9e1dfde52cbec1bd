//! Reads arbitrary bytes as this format, strictly and leniently, then writes what was
//! read in every format: nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portreg::format::Format;

fuzz_target!(|data: &[u8]| {
    portreg_fuzz::exercise(data, Format::IanaCsv);
});
