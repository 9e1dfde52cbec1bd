//! The administrative commands, one module each.

pub mod authority;
pub mod parquet;
pub mod serve;
pub mod update;
