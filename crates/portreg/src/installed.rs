//! What an installed registry file is checked against, by the command line and the name
//! service alike.

use std::fs::File;

#[cfg(feature = "embedded")]
use crate::CompiledRegistry;

/// A file's size and modification time (nanoseconds), as `portreg update` records them
/// for the file it verified: the same stamp later means the same file, and its checksum
/// need not be read again.
pub fn file_stamp(file: &File) -> Option<String> {
    let metadata = file.metadata().ok()?;
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{} {}", metadata.len(), modified.as_nanos()))
}

/// Whether an installed registry is used instead of the built-in one: when it is not
/// older (a registry without a date never is).
#[cfg(feature = "embedded")]
pub fn supersedes_built_in(installed: &CompiledRegistry) -> bool {
    match (installed.updated(), CompiledRegistry::embedded().updated()) {
        (Some(installed), Some(built_in)) => installed >= built_in,
        (Some(_), None) => true,
        (None, _) => false,
    }
}
