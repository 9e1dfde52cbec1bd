//! The body shared by every fuzz target.

use portreg::format::{self, Format, ReadOptions};

/// Reads `data` as `format` in both modes and writes any result in every format.
pub fn exercise(data: &[u8], format: Format) {
    let _ = Format::detect(data);
    let _ = format::read(data, format, &ReadOptions { strict: true, ..ReadOptions::default() });
    if let Ok(outcome) = format::read(data, format, &ReadOptions::default()) {
        for target in Format::ALL {
            let _ = format::write(&outcome.registry, target);
        }
    }
}
