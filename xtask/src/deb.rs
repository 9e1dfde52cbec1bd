//! `cargo xtask deb`: the Debian package, built from the `dist` profile.
//!
//! What it holds, and where (`packaging/` has the units, the maintainer scripts and the
//! configuration example):
//! - `/usr/bin/portreg`, `/usr/bin/portreg-admin`;
//! - the name service at the multiarch path, `/usr/lib/TRIPLET/libnss_portreg.so.2`;
//! - a man page per command (`portreg-free(1)` ...), from `portreg man --dir`;
//! - bash, zsh and fish completions at their vendor paths;
//! - the systemd units and the system user (`sysusers.d`);
//! - `/etc/portreg/local.d/local.services`, a commented example (a conffile);
//! - the maintainer scripts: the name service in `/etc/nsswitch.conf` after `files`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The package's name.
const PACKAGE: &str = "portreg";

/// What `cargo xtask deb` was asked.
#[derive(Debug, Default)]
pub struct DebOptions {
    /// Use the binaries already in the target folder's `dist` profile, without building.
    pub no_build: bool,
}

/// Builds the package; returns the path of the `.deb`.
pub fn build(options: &DebOptions) -> Result<PathBuf> {
    let root = workspace_root();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|dir| {
            if dir.is_absolute() {
                dir
            } else {
                root.join(dir)
            }
        })
        .unwrap_or_else(|| root.join("target"));
    if !options.no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        run(Command::new(cargo).current_dir(&root).args([
            "build",
            "--profile",
            "dist",
            "--locked",
            "-p",
            "portreg-cli",
            "-p",
            "portreg-admin",
            "-p",
            "nss-portreg",
        ]))?;
    }
    let built = target.join("dist");
    let version = env!("CARGO_PKG_VERSION");
    let architecture = output(Command::new("dpkg").arg("--print-architecture"))?;
    let triplet = output(Command::new("dpkg-architecture").args(["-qDEB_HOST_MULTIARCH"]))?;
    let name = format!("{PACKAGE}_{version}_{architecture}");
    let stage = target.join("deb").join(&name);
    if stage.exists() {
        std::fs::remove_dir_all(&stage)?;
    }
    let packaging = root.join("packaging");

    let portreg = built.join("portreg");
    install(&portreg, &stage.join("usr/bin/portreg"), 0o755)?;
    install(
        &built.join("portreg-admin"),
        &stage.join("usr/bin/portreg-admin"),
        0o755,
    )?;
    install(
        &built.join("libnss_portreg.so"),
        &stage.join(format!("usr/lib/{triplet}/libnss_portreg.so.2")),
        0o644,
    )?;

    // Man pages, compressed as Debian keeps them; portreg-admin runs the same commands.
    let scratch = target.join("deb").join(format!("{name}.man"));
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    run(Command::new(&portreg).arg("man").arg("--dir").arg(&scratch))?;
    let man = stage.join("usr/share/man/man1");
    for entry in std::fs::read_dir(&scratch)? {
        let path = entry?.path();
        let file = path.file_name().context("a man page's name")?;
        let page = std::fs::read(&path)?;
        write_gzip(&man.join(format!("{}.gz", file.to_string_lossy())), &page)?;
    }
    write_gzip(&man.join("portreg-admin.1.gz"), b".so man1/portreg.1\n")?;
    std::fs::remove_dir_all(&scratch)?;

    for (shell, path) in [
        ("bash", "usr/share/bash-completion/completions/portreg"),
        ("zsh", "usr/share/zsh/vendor-completions/_portreg"),
        ("fish", "usr/share/fish/vendor_completions.d/portreg.fish"),
    ] {
        let script = Command::new(&portreg)
            .args(["completions", shell])
            .output()?;
        if !script.status.success() {
            bail!("portreg completions {shell} failed");
        }
        write(&stage.join(path), &script.stdout, 0o644)?;
    }

    for unit in [
        "portreg.socket",
        "portreg.service",
        "portreg-authority.service",
        "portreg-update.service",
        "portreg-update.timer",
    ] {
        install(
            &packaging.join("systemd").join(unit),
            &stage.join("lib/systemd/system").join(unit),
            0o644,
        )?;
    }
    let debian = packaging.join("debian");
    install(
        &debian.join("portreg.sysusers"),
        &stage.join("usr/lib/sysusers.d/portreg.conf"),
        0o644,
    )?;
    install(
        &debian.join("local.services"),
        &stage.join("etc/portreg/local.d/local.services"),
        0o644,
    )?;
    install(
        &debian.join("copyright"),
        &stage.join("usr/share/doc/portreg/copyright"),
        0o644,
    )?;
    let changelog = std::fs::read(debian.join("changelog"))?;
    write_gzip(
        &stage.join("usr/share/doc/portreg/changelog.gz"),
        &changelog,
    )?;

    let control = stage.join("DEBIAN");
    for script in ["postinst", "prerm", "postrm"] {
        install(&debian.join(script), &control.join(script), 0o755)?;
    }
    // The name service is a shared library: the linker cache learns of it.
    write(
        &control.join("triggers"),
        b"activate-noawait ldconfig\n",
        0o644,
    )?;
    write(
        &control.join("conffiles"),
        b"/etc/portreg/local.d/local.services\n",
        0o644,
    )?;
    let depends = shared_library_depends(&stage, &triplet)?;
    let installed_size = directory_size(&stage)?.div_ceil(1024);
    let mut fields = String::new();
    writeln!(fields, "Package: {PACKAGE}")?;
    writeln!(fields, "Version: {version}")?;
    writeln!(fields, "Architecture: {architecture}")?;
    writeln!(
        fields,
        "Maintainer: portreg developers <portreg@example.org>"
    )?;
    writeln!(fields, "Installed-Size: {installed_size}")?;
    writeln!(fields, "Depends: {depends}")?;
    writeln!(fields, "Section: net")?;
    writeln!(fields, "Priority: optional")?;
    writeln!(fields, "Homepage: https://example.org/portreg")?;
    fields.push_str(
        "Description: port number registry: lookups, name service, HTTP API, authority\n \
         portreg answers what a port or a service name is, from IANA's Service Name and\n \
         Transport Protocol Port Number Registry built into it (no file, no network):\n \
         `portreg 8443/udp`, `portreg ldaps`, free ports, RFC 6335 name checks.\n \
         .\n \
         This package also installs the name service (`services: portreg` in\n \
         /etc/nsswitch.conf, after `files`), so that every program's getservbyname()\n \
         sees the whole registry; the HTTP API as a socket-activated systemd service;\n \
         a weekly update of the registry from IANA; and an assignment authority\n \
         service for an organisation's own registry (not enabled by default).\n",
    );
    write(&control.join("control"), fields.as_bytes(), 0o644)?;
    write(&control.join("md5sums"), md5sums(&stage)?.as_bytes(), 0o644)?;

    let deb = target.join("deb").join(format!("{name}.deb"));
    run(Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zxz", "--build"])
        .arg(&stage)
        .arg(&deb))?;
    Ok(deb)
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed: {status}");
    }
    Ok(())
}

fn output(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !out.status.success() {
        bail!(
            "{command:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

fn install(from: &Path, to: &Path, mode: u32) -> Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    write(to, &bytes, mode)
}

/// Compressed as Debian wants: best compression, no name or time in the header (`gzip -9n`).
fn write_gzip(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut child = Command::new("gzip")
        .args(["-9n", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    child
        .stdin
        .take()
        .context("gzip's input")?
        .write_all(bytes)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("gzip failed on {}", path.display());
    }
    write(path, &out.stdout, 0o644)
}

/// The packages the binaries' shared libraries come from, with the versions their symbols
/// need (dpkg-shlibdeps, as debhelper runs it).
fn shared_library_depends(stage: &Path, triplet: &str) -> Result<String> {
    let work = stage.with_extension("shlibs");
    std::fs::create_dir_all(work.join("debian"))?;
    std::fs::write(
        work.join("debian/control"),
        format!("Source: {PACKAGE}\n\nPackage: {PACKAGE}\nArchitecture: any\n"),
    )?;
    let found = output(
        Command::new("dpkg-shlibdeps")
            .current_dir(&work)
            .arg("-O")
            .arg(stage.join("usr/bin/portreg"))
            .arg(stage.join("usr/bin/portreg-admin"))
            .arg(stage.join(format!("usr/lib/{triplet}/libnss_portreg.so.2"))),
    );
    std::fs::remove_dir_all(&work)?;
    let found = found?;
    found
        .lines()
        .find_map(|line| line.strip_prefix("shlibs:Depends="))
        .map(str::to_owned)
        .context("dpkg-shlibdeps named no dependency")
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files_under(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn directory_size(stage: &Path) -> Result<u64> {
    let mut files = Vec::new();
    files_under(stage, &mut files)?;
    files
        .iter()
        .filter(|p| !p.starts_with(stage.join("DEBIAN")))
        .map(|p| Ok(std::fs::metadata(p)?.len()))
        .sum()
}

/// `DEBIAN/md5sums`: every file but the control files and conffiles, sorted.
fn md5sums(stage: &Path) -> Result<String> {
    let mut files = Vec::new();
    files_under(stage, &mut files)?;
    let mut relative: Vec<String> = files
        .iter()
        .filter(|p| !p.starts_with(stage.join("DEBIAN")) && !p.starts_with(stage.join("etc")))
        .filter_map(|p| p.strip_prefix(stage).ok())
        .map(|p| p.display().to_string())
        .collect();
    relative.sort();
    if relative.is_empty() {
        return Ok(String::new());
    }
    output(Command::new("md5sum").current_dir(stage).args(&relative)).map(|sums| sums + "\n")
}
