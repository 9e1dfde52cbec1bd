//! The registry installed by `portreg update`, kept in the user's data directory in the
//! compiled form: the one in use, the one before it, and what the server said.
//!
//! Installs never leave a half-written registry: the new file is written beside the
//! old one, flushed to disk and renamed over it. A lock file serialises updates.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use portreg::CompiledRegistry;
use serde_json::{json, Value};

const CURRENT: &str = "registry.bin";
const PREVIOUS: &str = "registry.previous.bin";
const STATE: &str = "state.json";
const LOCK: &str = "update.lock";
/// The stamp of a damaged registry already reported, so that it is reported once.
const DAMAGE_REPORTED: &str = "damage-reported";
/// The fingerprint of the local names whose warnings were last said.
const LOCAL_WARNED: &str = "local-warned";

/// The data directory and the files in it.
pub struct Store {
    dir: PathBuf,
    /// Files every user reads (the machine's registry, mapped by the name service in
    /// every process), rather than the owner's alone.
    shared: bool,
}

/// What the last update learnt from the server, for conditional requests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// Where the installed registry came from.
    pub source: Option<String>,
    /// The server's `ETag`.
    pub etag: Option<String>,
    /// The server's `Last-Modified`.
    pub last_modified: Option<String>,
    /// Size and modification time of the registry file as installed and verified.
    pub stamp: Option<String>,
}

impl Store {
    /// `$PORTREG_DATA_DIR`, else `$XDG_DATA_HOME/portreg`, else `~/.local/share/portreg`.
    pub fn locate() -> Option<Store> {
        let env = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let dir = env("PORTREG_DATA_DIR")
            .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("portreg")))
            .or_else(|| env("HOME").map(|h| h.join(".local/share/portreg")))?;
        Some(Store { dir, shared: false })
    }

    /// The machine's registry, read by the name service: `$PORTREG_SYSTEM_DATA_DIR`, else
    /// [`portreg::SYSTEM_DATA_DIR`]; its files readable by every user.
    pub fn system() -> Store {
        let dir = std::env::var_os(portreg::SYSTEM_DATA_DIR_VARIABLE)
            .filter(|v| !v.is_empty())
            .map_or_else(|| PathBuf::from(portreg::SYSTEM_DATA_DIR), PathBuf::from);
        Store { dir, shared: true }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The installed registry's file.
    pub fn current_path(&self) -> PathBuf {
        self.dir.join(CURRENT)
    }

    /// The installed registry, mapped in place; `Ok(None)` when none is installed.
    ///
    /// Its checksum reads every page, so it is verified only when the file is not the one
    /// the last install (or rollback) wrote, by size and modification time: a file
    /// changed on disk since is always verified.
    pub fn load_current(&self) -> Result<Option<CompiledRegistry>> {
        let path = self.current_path();
        let opened = File::open(&path).or_else(|error| {
            if error.kind() == std::io::ErrorKind::NotFound && self.recover() {
                File::open(&path)
            } else {
                Err(error)
            }
        });
        let file = match opened {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot open {}", path.display()))
            }
        };
        let verify =
            portreg::file_stamp(&file).is_none_or(|stamp| Some(stamp) != self.state().stamp);
        // SAFETY: installs replace the file by renaming a new one over it, never by
        // writing into it, so the mapped pages do not change under us.
        let map = unsafe { memmap2::Mmap::map(&file) }
            .with_context(|| format!("cannot map {}", path.display()))?;
        // A lookup reads a few scattered pages: no read-ahead around them, and no huge
        // mappings that would bring megabytes in for one page.
        let _ = map.advise(memmap2::Advice::Random);
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::NoHugePage);
        let registry = CompiledRegistry::from_shared(map, verify)
            .with_context(|| format!("{}", path.display()))?;
        Ok(Some(registry))
    }

    /// The merged registry (built-in or installed, with local names) cached under `key`,
    /// mapped in place; `None` when there is none, or it cannot be used.
    pub fn load_layered(&self, key: &str) -> Option<CompiledRegistry> {
        let file = File::open(self.dir.join(format!("layered.{key}.bin"))).ok()?;
        // SAFETY: cached files are replaced by rename, never written in place.
        let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
        let _ = map.advise(memmap2::Advice::Random);
        // The key names its contents; reading is bounds-checked whatever the bytes.
        CompiledRegistry::from_shared(map, false).ok()
    }

    /// Keeps a merged registry under `key`, in place of any other.
    pub fn save_layered(&self, key: &str, bytes: &[u8]) -> Result<()> {
        fs::create_dir_all(&self.dir)?;
        if let Ok(entries) = fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with("layered.") && name.ends_with(".bin") {
                    let _ = fs::remove_file(entry.path());
                }
            }
        }
        self.write_atomically(&self.dir.join(format!("layered.{key}.bin")), bytes)
    }

    /// An update killed before this version left no current registry but the previous
    /// one: put it back in use, and say so (once: the file is then there again). Whether
    /// there is a current registry now.
    fn recover(&self) -> bool {
        let (current, previous) = (self.current_path(), self.dir.join(PREVIOUS));
        if !previous.exists() {
            return false;
        }
        match fs::hard_link(&previous, &current) {
            Ok(()) => {
                eprintln!(
                    "portreg: warning: no installed registry but the previous one in {} (an \
                     interrupted update); it is back in use",
                    self.dir.display()
                );
                true
            }
            // Installed meanwhile.
            Err(error) => error.kind() == std::io::ErrorKind::AlreadyExists,
        }
    }

    /// Whether the damage of the installed file (by its stamp) was already reported, and
    /// notes that it now is.
    pub fn damage_reported(&self) -> bool {
        let Some(stamp) = File::open(self.current_path())
            .ok()
            .and_then(|f| portreg::file_stamp(&f))
        else {
            return false;
        };
        self.said_before(DAMAGE_REPORTED, &stamp)
    }

    /// Whether the warnings about the local names of this `fingerprint` (and the registry
    /// they were checked against) were already said, and notes that they now are: they
    /// are said once per change, not on every command.
    pub fn local_warned(&self, fingerprint: &str) -> bool {
        self.said_before(LOCAL_WARNED, fingerprint)
    }

    /// Whether `marker` already holds `stamp`; writes it there if not.
    fn said_before(&self, marker: &str, stamp: &str) -> bool {
        let marker = self.dir.join(marker);
        if fs::read_to_string(&marker).ok().as_deref() == Some(stamp) {
            return true;
        }
        let _ = fs::create_dir_all(&self.dir);
        let _ = self.write_atomically(&marker, stamp.as_bytes());
        false
    }

    /// Takes the update lock, waiting (and saying so) while another update holds it.
    /// The lock file is never a link: a planted symlink is refused, not followed.
    pub fn lock(&self) -> Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let path = self.dir.join(LOCK);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("cannot open {} (it must not be a link)", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                eprintln!(
                    "portreg: another update is running ({}); waiting for it",
                    path.display()
                );
                file.lock()
                    .with_context(|| format!("cannot lock {}", path.display()))?;
            }
            Err(fs::TryLockError::Error(error)) => {
                return Err(error).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
        Ok(file)
    }

    /// Installs compiled registry bytes: the current registry becomes the previous one.
    /// Call with the lock held.
    ///
    /// There is never a moment without a current registry: the current file is linked
    /// (or copied) as the previous one, then the new one is renamed over it.
    pub fn install(&self, bytes: &[u8], state: &ServerState) -> Result<()> {
        let (current, previous) = (self.current_path(), self.dir.join(PREVIOUS));
        let temporary = self.temporary(bytes)?;
        if current.exists() {
            let _ = fs::remove_file(&previous);
            if fs::hard_link(&current, &previous).is_err() {
                fs::copy(&current, &previous).context("cannot keep the previous registry")?;
            }
        }
        temporary
            .persist(&current)
            .with_context(|| format!("cannot install {}", current.display()))?;
        let stamp = File::open(&current)
            .ok()
            .and_then(|f| portreg::file_stamp(&f));
        self.write_state(&ServerState {
            stamp,
            ..state.clone()
        })?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// Puts the previous registry back in use (and the current one aside as previous).
    /// Call with the lock held.
    pub fn rollback(&self) -> Result<()> {
        let (current, previous) = (self.current_path(), self.dir.join(PREVIOUS));
        if !previous.exists() {
            bail!(
                "no previous registry to go back to in {}",
                self.dir.display()
            );
        }
        // The previous registry is checked as an update checks a new one: a regular file
        // of this folder (never a link planted to another file), a compiled registry
        // whose checksum holds, with at least 90% of the entries of the one in use (the
        // built-in one when the installed one is no regular, sound file).
        let bytes = read_regular(&previous)?;
        let in_use_bytes = read_regular(&current).ok();
        let in_use = in_use_bytes
            .as_deref()
            .and_then(|bytes| CompiledRegistry::from_bytes(bytes).ok());
        let compiled = CompiledRegistry::from_bytes(&bytes).map_err(|error| {
            anyhow::anyhow!(
                "{} is not a registry portreg installed ({error}); nothing was changed",
                previous.display()
            )
        })?;
        portreg::check_replacement(
            &compiled.to_registry(),
            in_use.as_ref().unwrap_or(CompiledRegistry::embedded()),
            true,
        )
        .map_err(|refusal| {
            anyhow::anyhow!(
                "{} is refused as `portreg update` refuses a registry: {refusal}; nothing was changed",
                previous.display()
            )
        })?;
        // Swapped without a moment with no current registry: the previous one is copied
        // in beside, the current one linked aside, then renamed into place.
        let back = self.temporary(&bytes)?;
        let current_is_link =
            fs::symlink_metadata(&current).is_ok_and(|m| m.file_type().is_symlink());
        if current_is_link {
            // A link is never kept as the previous registry: it is replaced, not moved.
            back.persist(&current)
                .with_context(|| format!("cannot restore {}", current.display()))?;
            fs::remove_file(&previous).context("cannot remove the registry put back")?;
        } else if current.exists() {
            let aside = tempfile::Builder::new()
                .prefix(".registry.aside.")
                .make_in(&self.dir, |path| fs::hard_link(&current, path))
                .context("cannot set the current registry aside")?;
            back.persist(&current)
                .with_context(|| format!("cannot restore {}", current.display()))?;
            aside
                .persist(&previous)
                .context("cannot keep the registry set aside")?;
        } else {
            back.persist(&current)
                .with_context(|| format!("cannot restore {}", current.display()))?;
        }
        // The server's validators describe the registry now set aside; the one back in use
        // is verified on its next load.
        self.write_state(&ServerState::default())?;
        sync_dir(&self.dir);
        Ok(())
    }

    /// What the last update learnt from the server.
    pub fn state(&self) -> ServerState {
        let value: Value = fs::read(self.dir.join(STATE))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or(Value::Null);
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        ServerState {
            source: text("source"),
            etag: text("etag"),
            last_modified: text("last_modified"),
            stamp: text("stamp"),
        }
    }

    fn write_state(&self, state: &ServerState) -> Result<()> {
        let value = json!({
            "source": state.source,
            "etag": state.etag,
            "last_modified": state.last_modified,
            "stamp": state.stamp,
        });
        self.write_atomically(&self.dir.join(STATE), value.to_string().as_bytes())
            .context("cannot save the update state")
    }

    /// A new file in the data folder with `bytes`, flushed: created exclusively under a
    /// random name (never following a planted link), removed unless persisted.
    fn temporary(&self, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
        let mut file = tempfile::Builder::new()
            .prefix(".portreg.")
            .suffix(".tmp")
            .tempfile_in(&self.dir)
            .with_context(|| format!("cannot write in {}", self.dir.display()))?;
        if self.shared {
            use std::os::unix::fs::PermissionsExt;
            file.as_file()
                .set_permissions(fs::Permissions::from_mode(0o644))
                .with_context(|| format!("cannot share {}", file.path().display()))?;
        }
        file.write_all(bytes)
            .and_then(|()| file.as_file().sync_all())
            .with_context(|| format!("cannot write {}", file.path().display()))?;
        Ok(file)
    }

    fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        self.temporary(bytes)?
            .persist(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(())
    }
}

/// Makes the renames durable; a directory that cannot be opened is left to the system.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// The bytes of `path`, a regular file: a symbolic link (to a file elsewhere that the
/// user may not even mean to expose) is refused, not followed.
fn read_regular(path: &Path) -> Result<Vec<u8>> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    let mut file = options.open(path).with_context(|| {
        format!(
            "{} is not a regular file portreg wrote (a link?); nothing was changed",
            path.display()
        )
    })?;
    if !file.metadata()?.is_file() {
        bail!(
            "{} is not a regular file; nothing was changed",
            path.display()
        );
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes)?;
    Ok(bytes)
}
