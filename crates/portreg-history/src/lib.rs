//! The registry's history built into portreg: every record of every snapshot held (the
//! 2001 list, the 2008 legacy list, IANA's text of 2013, 352 IANA releases of 2017-2024
//! and those of 2026), written by `cargo xtask gen-history` with portreg's own readers;
//! `portreg::history::History::from_bytes` reads it. The snapshots and their sha256 are
//! listed in `data/SNAPSHOTS.tsv` beside it; see `PROVENANCE.md`.

#![no_std]

static HISTORY: &[u8] = include_bytes!("../data/history.bin");

/// The history, deflated (`portreg::history::History::from_bytes`).
pub fn bytes() -> &'static [u8] {
    HISTORY
}
