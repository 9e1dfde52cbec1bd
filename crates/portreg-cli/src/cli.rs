//! Command-line definitions: one place for every flag, feeding help, man page and completions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use portreg::Format;

/// The port-number registry: what a port or a service name is, in every registry format.
#[derive(Debug, Parser)]
#[command(name = "portreg", version, about, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert a registry file from one format to another.
    #[command(after_help = CONVERT_EXAMPLES)]
    Convert(ConvertArgs),
}

const CONVERT_EXAMPLES: &str = "\
Formats: iana-xml, iana-csv, iana-txt, legacy, services, wireshark, nmap, json, jsonl

Examples:
  portreg convert service-names-port-numbers.xml --to iana-csv -o ports.csv
  portreg convert port-numbers --from legacy --to json
  portreg convert /etc/services --to jsonl
  cat ports.csv | portreg convert - --to services --strict";

/// `portreg convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The registry file to read; `-` or nothing reads standard input.
    pub input: Option<PathBuf>,
    /// The input's format; detected from the content when not given.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub from: Option<Format>,
    /// The output's format.
    #[arg(long, value_name = "FORMAT", value_parser = parse_format)]
    pub to: Format,
    /// Where to write; standard output when not given.
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: Option<PathBuf>,
    /// Stop at the first line that cannot be read (exit code 2) instead of warning.
    #[arg(long)]
    pub strict: bool,
    /// Print no warnings for skipped lines.
    #[arg(short, long)]
    pub quiet: bool,
}

fn parse_format(id: &str) -> Result<Format, String> {
    id.parse()
        .map_err(|e: portreg::format::UnknownFormat| e.to_string())
}
