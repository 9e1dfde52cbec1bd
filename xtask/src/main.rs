//! `cargo xtask gen-data [--iana FILE] [--check]`: regenerate (or check) the embedded
//! registry.

use std::path::PathBuf;

use anyhow::{bail, Result};

const USAGE: &str = "usage: cargo xtask gen-data [--iana FILE] [--check]
       cargo xtask gen-schema [--check]
       cargo xtask compile FILE OUT
       cargo xtask gen-history [--shared DIR] [--check]
       cargo xtask deb [--no-build]
  regenerates crates/portreg-data from IANA's XML (FILE, else downloaded from iana.org and
  checked as `portreg update` checks a registry) and Debian's netbase aliases;
  --check only compares with what is committed;
  gen-schema writes docs/record.schema.json from the record type;
  gen-history regenerates crates/portreg-history from every snapshot in ../shared (DIR);
  compile writes any registry file in the compiled form (fuzzing seeds, tests);
  deb builds target/deb/portreg_VERSION_ARCH.deb from the dist profile (--no-build: from
  the binaries already built there)";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("gen-data") => {}
        Some("gen-schema") => {
            let check = args.next().as_deref() == Some("--check");
            let path = xtask::schema_path();
            let schema = xtask::record_schema();
            if check {
                if std::fs::read_to_string(&path).ok().as_deref() != Some(schema.as_str()) {
                    bail!(
                        "{} is out of date: run `cargo xtask gen-schema`",
                        path.display()
                    );
                }
            } else {
                std::fs::write(&path, schema)?;
                eprintln!("wrote {}", path.display());
            }
            return Ok(());
        }
        Some("gen-history") => return gen_history(args),
        Some("deb") => {
            let no_build = match args.next().as_deref() {
                None => false,
                Some("--no-build") => true,
                Some(other) => bail!("unknown argument {other:?}\n{USAGE}"),
            };
            let deb = xtask::deb::build(&xtask::deb::DebOptions { no_build })?;
            println!("{}", deb.display());
            return Ok(());
        }
        Some("compile") => {
            let (Some(input), Some(output)) = (args.next(), args.next()) else {
                bail!("{USAGE}");
            };
            return xtask::compile_file(input.as_ref(), output.as_ref());
        }
        _ => bail!("{USAGE}"),
    }
    let (mut iana, mut check) = (None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--iana" => match args.next() {
                Some(path) => iana = Some(PathBuf::from(path)),
                None => bail!("--iana needs a FILE\n{USAGE}"),
            },
            _ => bail!("unknown argument {arg:?}\n{USAGE}"),
        }
    }
    let iana = match iana {
        Some(path) => xtask::iana_from_file(&path)?,
        None => {
            let downloaded = xtask::iana_from_web()?;
            xtask::check_download(&downloaded)?;
            downloaded
        }
    };
    let work = std::env::temp_dir().join(format!("portreg-gen-data-{}", std::process::id()));
    let generated = xtask::generate_from(&iana, &work);
    let _ = std::fs::remove_dir_all(&work);
    let generated = generated?;
    write_or_check(
        &xtask::data_crate(),
        [
            ("data/registry.bin", generated.registry),
            ("src/generated.rs", generated.rust.into_bytes()),
        ],
        check,
        "gen-data",
    )?;
    if !check {
        eprintln!(
            "the pinned SHA-256 is now {}: update PINNED_IANA_SHA256 if it changed",
            iana.sha256()
        );
    }
    Ok(())
}

fn gen_history(mut args: impl Iterator<Item = String>) -> Result<()> {
    let (mut shared, mut check) = (
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
        false,
    );
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--check" => check = true,
            "--shared" => match args.next() {
                Some(path) => shared = PathBuf::from(path),
                None => bail!("--shared needs a DIR\n{USAGE}"),
            },
            _ => bail!("unknown argument {arg:?}\n{USAGE}"),
        }
    }
    let work = std::env::temp_dir().join(format!("portreg-gen-history-{}", std::process::id()));
    let files = xtask::history::snapshot_files(&shared, &work);
    let generated = files.and_then(|files| xtask::history::generate(&files));
    let _ = std::fs::remove_dir_all(&work);
    let generated = generated?;
    for warning in &generated.warnings {
        eprintln!("warning: {warning}");
    }
    write_or_check(
        &xtask::history::history_crate(),
        [
            ("data/history.bin", generated.history),
            ("data/SNAPSHOTS.tsv", generated.snapshots.into_bytes()),
        ],
        check,
        "gen-history",
    )
}

/// Writes the generated files under `dir`, or, with `check`, fails where one differs
/// from what is committed (`task` says how to regenerate them).
fn write_or_check<const N: usize>(
    dir: &std::path::Path,
    files: [(&str, Vec<u8>); N],
    check: bool,
    task: &str,
) -> Result<()> {
    for (path, bytes) in files {
        let path = dir.join(path);
        if check {
            if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
                bail!(
                    "{} is out of date: run `cargo xtask {task}`",
                    path.display()
                );
            }
        } else {
            std::fs::write(&path, &bytes)?;
            eprintln!("wrote {} ({} bytes)", path.display(), bytes.len());
        }
    }
    Ok(())
}
