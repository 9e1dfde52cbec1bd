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

/// The data directory and the files in it.
pub struct Store {
    dir: PathBuf,
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
        Some(Store { dir })
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
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot open {}", path.display()))
            }
        };
        let verify = stamp(&file).is_none_or(|stamp| Some(stamp) != self.state().stamp);
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

    /// Takes the update lock, waiting (and saying so) while another update holds it.
    pub fn lock(&self) -> Result<File> {
        fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let path = self.dir.join(LOCK);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
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
    pub fn install(&self, bytes: &[u8], state: &ServerState) -> Result<()> {
        let current = self.current_path();
        let temporary = self
            .dir
            .join(format!(".{CURRENT}.{}.tmp", std::process::id()));
        write_synced(&temporary, bytes)?;
        if current.exists() {
            fs::rename(&current, self.dir.join(PREVIOUS))
                .context("cannot keep the previous registry")?;
        }
        fs::rename(&temporary, &current)
            .with_context(|| format!("cannot install {}", current.display()))?;
        let stamp = File::open(&current).ok().and_then(|f| stamp(&f));
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
        let aside = self
            .dir
            .join(format!(".{CURRENT}.{}.rollback", std::process::id()));
        if current.exists() {
            fs::rename(&current, &aside)?;
        }
        fs::rename(&previous, &current)?;
        if aside.exists() {
            fs::rename(&aside, &previous)?;
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
        let temporary = self
            .dir
            .join(format!(".{STATE}.{}.tmp", std::process::id()));
        write_synced(&temporary, value.to_string().as_bytes())?;
        fs::rename(&temporary, self.dir.join(STATE)).context("cannot save the update state")
    }
}

/// A file's size and modification time, in nanoseconds.
fn stamp(file: &File) -> Option<String> {
    let metadata = file.metadata().ok()?;
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some(format!("{} {}", metadata.len(), modified.as_nanos()))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file =
        File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("cannot flush {}", path.display()))?;
    Ok(())
}

/// Makes the renames durable; a directory that cannot be opened is left to the system.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = File::open(dir) {
        let _ = handle.sync_all();
    }
}
