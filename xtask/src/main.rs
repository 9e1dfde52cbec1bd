//! `cargo xtask gen-data [--check]`: regenerate (or check) the embedded registry.

use anyhow::{bail, Result};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["gen-data", rest @ ..] => gen_data(rest.contains(&"--check")),
        _ => bail!("usage: cargo xtask gen-data [--check]\n  regenerates crates/portreg-data from Debian packages"),
    }
}

fn gen_data(check: bool) -> Result<()> {
    let work = std::env::temp_dir().join(format!("portreg-gen-data-{}", std::process::id()));
    let generated = xtask::fetch_and_generate(&work);
    let _ = std::fs::remove_dir_all(&work);
    let generated = generated?;
    let dir = xtask::data_crate();
    let files = [
        ("data/registry.bin", generated.registry),
        ("src/generated.rs", generated.rust.into_bytes()),
    ];
    for (path, bytes) in files {
        let path = dir.join(path);
        if check {
            if std::fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
                bail!(
                    "{} is out of date: run `cargo xtask gen-data`",
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
