//! `portreg nss install|uninstall|status`: the name service module put where glibc finds
//! it, and `portreg` on the `services:` line of nsswitch.conf.
//!
//! Files are replaced by rename, never rewritten in place: a program that has the library
//! (or nsswitch.conf) mapped keeps the old one, whole.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::json;

use crate::active::{system_local_dir, Active};
use crate::cli::{
    Common, NssAction, NssArgs, NssInstallArgs, NssPlaces, NssStatusArgs, OutputFormat,
};
use crate::output::Output;
use crate::store::Store;
use crate::{CommandResult, Exit, Failure};

/// The library as cargo builds it.
pub const BUILT_LIBRARY: &str = "libnss_portreg.so";
/// The library as glibc loads it for `services: portreg`.
pub const INSTALLED_LIBRARY: &str = "libnss_portreg.so.2";
/// The source's name on the services line.
const SOURCE: &str = "portreg";
/// The copy of nsswitch.conf kept before the first change.
const BACKUP_SUFFIX: &str = ".portreg-backup";

/// Runs the command.
pub fn run(args: &NssArgs) -> CommandResult {
    match &args.action {
        NssAction::Install(install) => run_install(install),
        NssAction::Uninstall(places) => run_uninstall(places),
        NssAction::Status(status) => run_status(status),
    }
}

fn run_install(args: &NssInstallArgs) -> CommandResult {
    let places = &args.places;
    let library = match &args.library {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .ok()
            .map(|exe| exe.with_file_name(BUILT_LIBRARY))
            .filter(|path| path.is_file())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "no {BUILT_LIBRARY} beside portreg: build it with `cargo build --release` in \
                     portreg's source tree (target/release/{BUILT_LIBRARY}), or give --library PATH"
                ))
            })?,
    };
    let bytes = fs::read(&library).with_context(|| format!("cannot read {}", library.display()))?;
    let symbol = b"_nss_portreg_getservbyname_r";
    if !bytes.windows(symbol.len()).any(|window| window == symbol) {
        return Err(Failure::usage(format!(
            "{} is not portreg's name service library (it has no _nss_portreg_getservbyname_r)",
            library.display()
        )));
    }
    let target = lib_dir(places.lib_dir.as_deref())?.join(INSTALLED_LIBRARY);
    let same = fs::read(&target).is_ok_and(|installed| installed == bytes);
    let config = read_config(&places.nsswitch)?;
    let edited = with_source(&config, args.last);
    if places.dry_run {
        if same {
            println!("library: {} is already this one", target.display());
        } else {
            println!(
                "library: would copy {} to {}",
                library.display(),
                target.display()
            );
        }
        print_change(&places.nsswitch, &config, &edited);
        return Ok(Exit::Success);
    }
    if same {
        println!("library: {} is already this one", target.display());
    } else {
        replace(&target, &bytes, 0o644)?;
        println!("library: installed {}", target.display());
    }
    write_config(&places.nsswitch, &config, &edited)?;
    Ok(Exit::Success)
}

fn run_uninstall(places: &NssPlaces) -> CommandResult {
    let target = lib_dir(places.lib_dir.as_deref())?.join(INSTALLED_LIBRARY);
    let config = read_config(&places.nsswitch)?;
    let edited = without_source(&config);
    if places.dry_run {
        if target.exists() {
            println!("library: would remove {}", target.display());
        }
        print_change(&places.nsswitch, &config, &edited);
        return Ok(Exit::Success);
    }
    // The services line first: no program may be told to load a library that is gone.
    write_config(&places.nsswitch, &config, &edited)?;
    match fs::remove_file(&target) {
        Ok(()) => println!("library: removed {}", target.display()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            println!("library: {} was not installed", target.display())
        }
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot remove {}", target.display()))
                .map_err(Failure::from)
        }
    }
    Ok(Exit::Success)
}

fn run_status(args: &NssStatusArgs) -> CommandResult {
    let target = lib_dir(args.lib_dir.as_deref())?.join(INSTALLED_LIBRARY);
    let installed = target.is_file();
    let config = fs::read_to_string(&args.nsswitch).unwrap_or_default();
    let line = services_line(&config).map(|(_, line)| line.trim().to_owned());
    let sources = line.as_deref().map(sources_of).unwrap_or_default();
    let listed = sources.iter().any(|s| s == SOURCE);
    let store = Store::system();
    let answers = Active::in_store(&store);
    let registry = answers.registry();
    let local = portreg::LocalLayer::read(&[system_local_dir()]);
    let active = installed && listed;
    let common = Common::report(&args.output, None);
    let mut out = Output::new(&common);
    let updated = registry.updated().map(|d| d.to_string());
    match out.format {
        OutputFormat::Table => out.fields(&[
            ("in use", if active { "yes" } else { "no" }.to_owned()),
            (
                "library",
                format!(
                    "{} ({})",
                    target.display(),
                    if installed {
                        "installed"
                    } else {
                        "not installed"
                    }
                ),
            ),
            (
                "services line",
                line.clone()
                    .unwrap_or_else(|| format!("none in {}", args.nsswitch.display())),
            ),
            ("registry", answers.origin.clone()),
            (
                "updated",
                updated.clone().unwrap_or_else(|| "unknown".into()),
            ),
            ("records", registry.len().to_string()),
            (
                "local names",
                format!(
                    "{} from {}",
                    local.records.len(),
                    system_local_dir().display()
                ),
            ),
        ])?,
        _ => out.json(&json!({
            "in_use": active,
            "library": target,
            "library_installed": installed,
            "nsswitch": args.nsswitch,
            "services_line": line,
            "sources": sources,
            "registry": answers.origin,
            "updated": updated,
            "records": registry.len(),
            "local_names": local.records.len(),
        }))?,
    }
    Ok(if active {
        Exit::Success
    } else {
        Exit::NotFound
    })
}

/// The folder of the machine's NSS modules: `dir`, else the first library folder that
/// holds libc.so.6 (glibc loads `libnss_*.so.2` from the same search path).
fn lib_dir(dir: Option<&Path>) -> Result<PathBuf, Failure> {
    if let Some(dir) = dir {
        return Ok(dir.to_owned());
    }
    let triple = format!("{}-linux-gnu", std::env::consts::ARCH);
    let candidates = [
        format!("/lib/{triple}"),
        format!("/usr/lib/{triple}"),
        "/lib64".to_owned(),
        "/usr/lib64".to_owned(),
        "/lib".to_owned(),
        "/usr/lib".to_owned(),
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|dir| dir.join("libc.so.6").exists())
        .ok_or_else(|| {
            Failure::usage(
                "cannot find the folder of the machine's libc.so.6 (is this glibc?); give --lib-dir DIR",
            )
        })
}

fn read_config(path: &Path) -> Result<String, Failure> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(text),
        // glibc reads no file as `services: files`.
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(Failure::from(
            anyhow::Error::from(error).context(format!("cannot read {}", path.display())),
        )),
    }
}

/// The `services:` line: its index and text.
fn services_line(config: &str) -> Option<(usize, &str)> {
    config.lines().enumerate().find(|(_, line)| {
        line.trim_start()
            .strip_prefix("services")
            .is_some_and(|rest| rest.trim_start().starts_with(':'))
    })
}

/// The sources of a services line (`files`, `portreg`), without actions (`[NOTFOUND=return]`).
fn sources_of(line: &str) -> Vec<String> {
    let list = line.split_once(':').map_or("", |(_, list)| list);
    let list = list.split('#').next().unwrap_or("");
    list.split_whitespace()
        .filter(|word| !word.starts_with('['))
        .map(str::to_owned)
        .collect()
}

/// The configuration with `portreg` on its services line: first (else last), added to
/// the line there is, or a new line `services: portreg files` where there is none.
fn with_source(config: &str, last: bool) -> String {
    let Some((index, line)) = services_line(config) else {
        let mut text = config.to_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(if last {
            "services:       files portreg\n"
        } else {
            "services:       portreg files\n"
        });
        return text;
    };
    if sources_of(line).iter().any(|s| s == SOURCE) {
        return config.to_owned();
    }
    let (head, list, comment) = parts(line);
    let list = list.trim();
    let new_list = match (list.is_empty(), last) {
        (true, _) => SOURCE.to_owned(),
        (false, true) => format!("{list} {SOURCE}"),
        (false, false) => format!("{SOURCE} {list}"),
    };
    replace_line(config, index, &joined(head, &new_list, comment))
}

/// The configuration without `portreg` on its services line (`files` when nothing else
/// is left, as glibc's default).
fn without_source(config: &str) -> String {
    let Some((index, line)) = services_line(config) else {
        return config.to_owned();
    };
    if !sources_of(line).iter().any(|s| s == SOURCE) {
        return config.to_owned();
    }
    let (head, list, comment) = parts(line);
    // An action after portreg (`portreg [NOTFOUND=return]`) goes with it.
    let mut words: Vec<&str> = Vec::new();
    let mut dropping = false;
    for word in list.split_whitespace() {
        if word == SOURCE {
            dropping = true;
            continue;
        }
        if dropping && word.starts_with('[') {
            continue;
        }
        dropping = false;
        words.push(word);
    }
    let new_list = if words.is_empty() {
        "files".to_owned()
    } else {
        words.join(" ")
    };
    replace_line(config, index, &joined(head, &new_list, comment))
}

/// A services line's name (`services`), list of sources, and comment.
fn parts(line: &str) -> (&str, &str, Option<&str>) {
    let (head, rest) = line.split_once(':').unwrap_or((line, ""));
    match rest.split_once('#') {
        Some((list, comment)) => (head, list, Some(comment)),
        None => (head, rest, None),
    }
}

/// The line again, the sources at the column of glibc's own file (16).
fn joined(head: &str, list: &str, comment: Option<&str>) -> String {
    let padding = " ".repeat(15usize.saturating_sub(head.len()).max(1));
    let mut line = format!("{head}:{padding}{list}");
    if let Some(comment) = comment {
        line.push_str(" #");
        line.push_str(comment);
    }
    line
}

fn replace_line(config: &str, index: usize, new_line: &str) -> String {
    let mut out = String::with_capacity(config.len() + 16);
    for (i, line) in config.split_inclusive('\n').enumerate() {
        if i == index {
            out.push_str(new_line);
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(line);
        }
    }
    out
}

fn print_change(path: &Path, old: &str, new: &str) {
    if old == new {
        println!("{}: unchanged", path.display());
        return;
    }
    println!("{}:", path.display());
    let old_line = services_line(old).map(|(_, l)| l);
    let new_line = services_line(new).map(|(_, l)| l);
    if let Some(line) = old_line {
        println!("- {line}");
    }
    if let Some(line) = new_line {
        println!("+ {line}");
    }
}

/// Writes the new configuration, keeping the file as it was before portreg's first
/// change beside it.
fn write_config(path: &Path, old: &str, new: &str) -> Result<()> {
    if old == new {
        println!("{}: unchanged", path.display());
        return Ok(());
    }
    let mut backup = path.as_os_str().to_owned();
    backup.push(BACKUP_SUFFIX);
    let backup = PathBuf::from(backup);
    if path.exists() && !backup.exists() {
        fs::copy(path, &backup).with_context(|| format!("cannot keep {}", backup.display()))?;
    }
    let mode = {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777)
    };
    replace(path, new.as_bytes(), mode)?;
    print_change(path, old, new);
    if backup.exists() {
        println!("  (as it was before portreg: {})", backup.display());
    }
    Ok(())
}

/// Writes `bytes` to `path` by rename: a new file beside it, flushed, renamed over it.
fn replace(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".portreg.")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    file.write_all(bytes)
        .and_then(|()| {
            file.as_file()
                .set_permissions(fs::Permissions::from_mode(mode))
        })
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", file.path().display()))?;
    file.persist(path)
        .with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "# /etc/nsswitch.conf\n\npasswd:         files\nservices:       db files\nnetgroup:       nis\n";

    #[test]
    fn portreg_goes_first_once_and_comes_off_again() {
        let added = with_source(DEBIAN, false);
        assert!(
            added.contains("\nservices:       portreg db files\n"),
            "{added}"
        );
        assert_eq!(with_source(&added, false), added, "idempotent");
        assert_eq!(without_source(&added), DEBIAN);
        let last = with_source(DEBIAN, true);
        assert!(
            last.contains("\nservices:       db files portreg\n"),
            "{last}"
        );
    }

    #[test]
    fn a_missing_line_is_added_and_actions_go_with_portreg() {
        assert_eq!(with_source("", false), "services:       portreg files\n");
        let config = "services: portreg [NOTFOUND=return] files # ours\n";
        assert_eq!(without_source(config), "services:       files # ours\n");
        assert_eq!(sources_of(config), ["portreg", "files"]);
        assert_eq!(
            without_source("services: portreg\n"),
            "services:       files\n"
        );
    }

    #[test]
    fn only_the_services_line_is_read() {
        assert!(services_line("servicesx: a\nservices : files\n").is_some_and(|(i, _)| i == 1));
        assert!(services_line("# services: portreg\n").is_none());
    }
}
