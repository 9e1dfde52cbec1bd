//! The registry embedded in portreg: IANA's XML compiled by `cargo xtask gen-data` with
//! portreg's own code, with Debian netbase's aliases; see `PROVENANCE.md` beside this crate.
//!
//! The data is portreg's compiled registry form, read in place by
//! `portreg::CompiledRegistry`; nothing is parsed at start-up.

#![no_std]

// Written by the generator as it is; the drift test compares it byte for byte.
#[rustfmt::skip]
mod generated;

pub use generated::{
    FORMAT_VERSION, IANA_SHA256, PEOPLE, RECORDS, SOURCE, SOURCE_SHA256, SOURCE_VERSION, UPDATED,
};

#[repr(C, align(4))]
struct Aligned<B: ?Sized>(B);

static REGISTRY: &Aligned<[u8]> = &Aligned(*include_bytes!("../data/registry.bin"));

/// The compiled registry, four-byte aligned so that it can be read as words in place.
pub fn compiled() -> &'static [u8] {
    &REGISTRY.0
}

/// Where the built-in registry's aliases come from (`netbase 6.4`): a layer over IANA's
/// records, which carry none.
pub fn alias_source() -> &'static str {
    SOURCE_VERSION
        .split("; ")
        .find(|part| part.starts_with("netbase"))
        .unwrap_or("netbase")
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
