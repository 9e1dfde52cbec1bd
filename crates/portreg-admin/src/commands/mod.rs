//! The administrative commands, one module each.

pub mod authority;
pub mod cosign;
pub mod follow;
pub mod log;
pub mod parquet;
pub mod serve;
pub mod update;
