//! The registry embedded in portreg, compiled by `cargo xtask gen-data` from files that
//! come through Debian's package archive; see `PROVENANCE.md` beside this crate.
//!
//! The data is portreg's compiled registry form, read in place by
//! `portreg::compiled::CompiledRegistry`; nothing is parsed at start-up.

#![no_std]

mod generated;

pub use generated::{FORMAT_VERSION, RECORDS, SOURCE, SOURCE_SHA256, SOURCE_VERSION, UPDATED};

#[repr(C, align(4))]
struct Aligned<B: ?Sized>(B);

static REGISTRY: &Aligned<[u8]> = &Aligned(*include_bytes!("../data/registry.bin"));

/// The compiled registry, four-byte aligned so that it can be read as words in place.
pub fn compiled() -> &'static [u8] {
    &REGISTRY.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn data_is_aligned_and_whole_words() {
        let bytes = super::compiled();
        assert_eq!(bytes.as_ptr() as usize % 4, 0);
        assert_eq!(bytes.len() % 4, 0);
    }
}
