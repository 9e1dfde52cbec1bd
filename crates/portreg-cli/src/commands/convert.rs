//! `portreg convert`: read a registry in any format, write it in another.

use std::io::{Read, Write};
use std::path::Path;

use anyhow::{Context, Result};
use portreg::format::{self, Format, ReadOptions};
use portreg::{CompiledRegistry, Provenance, Registry};

use crate::cli::{ConvertArgs, ConvertTarget};
use crate::{CommandResult, Exit, Failure};

/// Runs the command; Parquet is `portreg-admin`'s.
pub fn run(args: &ConvertArgs) -> CommandResult {
    let format = match args.to {
        ConvertTarget::Parquet => return super::hand_over(),
        ConvertTarget::Registry(format) => Some(format),
        ConvertTarget::Zeek | ConvertTarget::Logstash => None,
    };
    let registry = read_registry(args)?;
    let text = match format {
        Some(format) => {
            let dropped = registry
                .records
                .iter()
                .filter(|r| !format.can_hold(r))
                .count();
            if dropped > 0 && !args.quiet {
                eprintln!(
                    "portreg: {dropped} record(s) without a port or transport cannot be written as {format}"
                );
            }
            format::write(&registry, format)
        }
        None => {
            let compiled = CompiledRegistry::compile(&registry, &Provenance::default());
            match args.to {
                ConvertTarget::Zeek => portreg::export::zeek_table(&compiled),
                _ => portreg::export::logstash_dictionary(&compiled),
            }
        }
    };
    write_output(args.output.as_deref(), text.as_bytes())?;
    Ok(Exit::Success)
}

/// The registry `convert` reads: the input in its format (detected unless given), lines
/// skipped reported unless `--quiet`.
pub fn read_registry(args: &ConvertArgs) -> Result<Registry, Failure> {
    let (bytes, source_name) = read_input(args.input.as_deref())?;
    let from = match args.from {
        Some(format) => format,
        None => match Format::detect(&bytes) {
            Some(format) => format,
            None => {
                return Err(Failure::usage(format!(
                    "{source_name}: cannot tell the format; give it with --from"
                )))
            }
        },
    };
    let options = ReadOptions {
        strict: args.strict,
        source_name: source_name.clone(),
    };
    let outcome = format::read(&bytes, from, &options)?;
    if !args.quiet {
        for warning in &outcome.warnings {
            eprintln!(
                "{}",
                crate::output::visible(&format!("{source_name}:{warning} (line skipped)"))
            );
        }
        if !outcome.warnings.is_empty() {
            eprintln!(
                "portreg: {} line(s) skipped in {source_name}",
                outcome.warnings.len()
            );
        }
    }
    Ok(outcome.registry)
}

/// Writes to the file, or standard output (a closed pipe is no failure).
pub fn write_output(path: Option<&Path>, bytes: &[u8]) -> Result<(), Failure> {
    match path {
        Some(path) => std::fs::write(path, bytes)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut stdout = std::io::stdout().lock();
            if let Err(error) = stdout.write_all(bytes) {
                if error.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(Failure::from(
                        anyhow::Error::from(error).context("cannot write to standard output"),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Reads a file, or standard input for `-` or no path.
pub fn read_input(path: Option<&Path>) -> Result<(Vec<u8>, String)> {
    match path {
        Some(path) if path != Path::new("-") => {
            let bytes = crate::active::read_capped(path)?;
            Ok((bytes, path.display().to_string()))
        }
        _ => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .take(portreg::MAX_REGISTRY_BYTES + 1)
                .read_to_end(&mut bytes)
                .context("cannot read standard input")?;
            if bytes.len() as u64 > portreg::MAX_REGISTRY_BYTES {
                anyhow::bail!(
                    "standard input is larger than {} MiB, the most portreg reads as a registry",
                    portreg::MAX_REGISTRY_BYTES / (1024 * 1024)
                );
            }
            Ok((bytes, "<stdin>".to_owned()))
        }
    }
}
