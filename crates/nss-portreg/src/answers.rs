//! What the module answers from: the machine's installed registry (`portreg update
//! --system`) or the built-in one, with the machine's local names; loaded once per
//! process and loaded again when the files change.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;
use portreg::{
    CompiledRegistry, LocalLayer, RecordRef, SYSTEM_DATA_DIR, SYSTEM_DATA_DIR_VARIABLE,
    SYSTEM_LOCAL_DIR, SYSTEM_LOCAL_DIR_VARIABLE,
};

/// The installed registry's file in the data folder.
pub const REGISTRY_FILE: &str = "registry.bin";
/// How often, at most, the files are looked at again for a change.
const CHECK_EVERY_SECONDS: u64 = 1;
/// The most bytes of local names the module reads: they are parsed in every process.
const MAX_LOCAL_BYTES: u64 = 1 << 20;

/// A service as `struct servent` carries it, borrowed from the registry.
#[derive(Clone, Copy, Debug)]
pub struct Service<'a> {
    /// The name.
    pub name: &'a str,
    /// The aliases.
    pub aliases: Aliases<'a>,
    /// The port, in host order.
    pub port: u16,
    /// The protocol (`tcp`, ...).
    pub protocol: &'a str,
}

/// A service's aliases, wherever they are kept.
#[derive(Clone, Copy, Debug)]
pub enum Aliases<'a> {
    /// A record's of the compiled registry.
    Record(RecordRef<'a>),
    /// A local name's.
    Local(&'a [String]),
}

impl<'a> Aliases<'a> {
    /// Calls `f` with each alias in order: a plain loop, for the lookup's hot path.
    pub fn each(self, mut f: impl FnMut(&'a str)) {
        match self {
            Aliases::Record(record) => record.aliases().for_each(f),
            Aliases::Local(list) => list.iter().for_each(|alias| f(alias)),
        }
    }
}

/// A local name, as the module keeps it.
#[derive(Debug)]
struct LocalService {
    name: String,
    aliases: Vec<String>,
    low: u16,
    high: u16,
    protocol: String,
}

/// Where the answers come from, for `portreg nss status` and the tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The registry built into the module.
    BuiltIn,
    /// The machine's installed registry, at this path.
    Installed(PathBuf),
}

/// The files answers come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Paths {
    /// The installed registry's folder.
    pub data_dir: PathBuf,
    /// The local names' folder.
    pub local_dir: PathBuf,
    /// The two as C strings, made once: the change check allocates nothing.
    registry_file: CString,
    local_dir_c: CString,
}

impl Paths {
    /// The installed registry's folder and the local names' folder.
    pub fn new(data_dir: PathBuf, local_dir: PathBuf) -> Paths {
        use std::os::unix::ffi::OsStrExt;
        let c = |path: &Path| CString::new(path.as_os_str().as_bytes()).unwrap_or_default();
        Paths {
            registry_file: c(&data_dir.join(REGISTRY_FILE)),
            local_dir_c: c(&local_dir),
            data_dir,
            local_dir,
        }
    }

    /// The machine's folders, or those the environment names (read with
    /// `secure_getenv`: never in setuid programs).
    pub fn from_environment() -> Paths {
        Paths::new(
            secure_env(SYSTEM_DATA_DIR_VARIABLE).unwrap_or_else(|| SYSTEM_DATA_DIR.into()),
            secure_env(SYSTEM_LOCAL_DIR_VARIABLE).unwrap_or_else(|| SYSTEM_LOCAL_DIR.into()),
        )
    }

    /// A hash of the identity, size and modification time of every file answers are
    /// read from (the registry, the local folder and each file in it): when it changes,
    /// the answers are loaded again. Made with system calls alone, no allocation.
    fn fingerprint(&self) -> u64 {
        let mut hash = Fnv::default();
        // SAFETY: valid C strings; `stat` is plain data, written by the calls; the
        // directory stream is used by this thread alone and closed.
        unsafe {
            for path in [&self.registry_file, &self.local_dir_c] {
                let mut stat: libc::stat = std::mem::zeroed();
                if libc::stat(path.as_ptr(), &mut stat) == 0 {
                    hash.stat(&stat);
                }
                hash.word(0);
            }
            let dir = libc::opendir(self.local_dir_c.as_ptr());
            if !dir.is_null() {
                loop {
                    let entry = libc::readdir(dir);
                    if entry.is_null() {
                        break;
                    }
                    let name = CStr::from_ptr((*entry).d_name.as_ptr());
                    let mut stat: libc::stat = std::mem::zeroed();
                    if libc::fstatat(libc::dirfd(dir), name.as_ptr(), &mut stat, 0) == 0 {
                        hash.bytes(name.to_bytes());
                        hash.stat(&stat);
                    }
                }
                libc::closedir(dir);
            }
        }
        hash.0
    }
}

/// FNV-1a, 64 bits: enough to notice a change.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0 ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn word(&mut self, word: i64) {
        self.bytes(&word.to_le_bytes());
    }

    fn stat(&mut self, stat: &libc::stat) {
        for word in [
            stat.st_dev as i64,
            stat.st_ino as i64,
            stat.st_size,
            stat.st_mtime,
            stat.st_mtime_nsec,
        ] {
            self.word(word);
        }
    }
}

extern "C" {
    /// glibc's `getenv` that answers null in setuid and setgid programs.
    fn secure_getenv(name: *const std::ffi::c_char) -> *mut std::ffi::c_char;
}

fn secure_env(name: &str) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let key = std::ffi::CString::new(name).ok()?;
    // SAFETY: `key` is a valid C string; secure_getenv returns null or a pointer into the
    // environment, read at once, before anything can change it in this call.
    let value = unsafe { secure_getenv(key.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: non-null, so a valid C string.
    let bytes = unsafe { std::ffi::CStr::from_ptr(value) }.to_bytes();
    (!bytes.is_empty()).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
}

enum Base {
    BuiltIn(&'static CompiledRegistry),
    Installed(Box<CompiledRegistry>),
}

/// The registry and the local names, as read at one time.
pub struct Answers {
    base: Base,
    local: Vec<LocalService>,
    origin: Origin,
    fingerprint: u64,
}

impl Answers {
    /// Reads the installed registry (when it can be used and is not older than the
    /// built-in one) and the local names. Never fails: what cannot be read is passed over.
    pub fn load(paths: &Paths) -> Answers {
        let fingerprint = paths.fingerprint();
        let registry_path = paths.data_dir.join(REGISTRY_FILE);
        let (base, origin) = match installed(paths) {
            Some(registry) => (
                Base::Installed(Box::new(registry)),
                Origin::Installed(registry_path),
            ),
            None => (Base::BuiltIn(CompiledRegistry::embedded()), Origin::BuiltIn),
        };
        Answers {
            base,
            local: local_services(&paths.local_dir),
            origin,
            fingerprint,
        }
    }

    /// The compiled registry answers come from first.
    pub fn registry(&self) -> &CompiledRegistry {
        match &self.base {
            Base::BuiltIn(registry) => registry,
            Base::Installed(registry) => registry,
        }
    }

    /// Where the registry comes from.
    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// How many local names are served.
    pub fn local_count(&self) -> usize {
        self.local.len()
    }

    /// The service on `port` ([`CompiledRegistry::service_by_port`]), then the local
    /// names'. `protocol` none means any.
    pub fn by_port(&self, port: u16, protocol: Option<&[u8]>) -> Option<Service<'_>> {
        if let Some(found) = self.registry().service_by_port(port, protocol) {
            return Some(found.into());
        }
        self.local
            .iter()
            .find(|l| l.low <= port && port <= l.high && wanted(protocol, &l.protocol))
            .map(|l| l.service(port))
    }

    /// The service called `name` ([`CompiledRegistry::service_by_name`]), then the local
    /// names'.
    pub fn by_name(&self, name: &[u8], protocol: Option<&[u8]>) -> Option<Service<'_>> {
        let name = std::str::from_utf8(name).ok()?;
        if let Some(found) = self.registry().service_by_name(name, protocol) {
            return Some(found.into());
        }
        self.local
            .iter()
            .find(|l| {
                (l.name == name || l.aliases.iter().any(|a| a == name))
                    && wanted(protocol, &l.protocol)
            })
            .map(|l| l.service(l.low))
    }

    /// The service at `position` of the enumeration (`getservent`): every service of
    /// every record, once, at the first port of its span, then the local names. `Skip`
    /// marks a position that is not a service.
    pub fn nth(&self, position: usize) -> Enumerated<'_> {
        let registry = self.registry();
        // Two positions a record: a record without a transport serves tcp and udp.
        let (index, slot) = (position / 2, position % 2);
        if index < registry.len() {
            let Some(record) = registry.record(index) else {
                return Enumerated::Skip;
            };
            let service = (|| {
                Some(Service {
                    name: record.name()?,
                    aliases: Aliases::Record(record),
                    port: record.ports()?.low,
                    protocol: record.service_protocols().nth(slot)?,
                })
            })();
            return service.map_or(Enumerated::Skip, Enumerated::Service);
        }
        match self.local.get(position - 2 * registry.len()) {
            Some(local) => Enumerated::Service(local.service(local.low)),
            None => Enumerated::End,
        }
    }

    fn stale(&self, paths: &Paths) -> bool {
        paths.fingerprint() != self.fingerprint
    }
}

/// One step of the enumeration.
pub enum Enumerated<'a> {
    /// A service.
    Service(Service<'a>),
    /// A position that is not a service (a nameless row).
    Skip,
    /// The end.
    End,
}

impl<'a> From<portreg::Service<'a>> for Service<'a> {
    fn from(service: portreg::Service<'a>) -> Self {
        Service {
            name: service.name,
            aliases: Aliases::Record(service.record),
            port: service.port,
            protocol: service.protocol,
        }
    }
}

fn wanted(asked: Option<&[u8]>, protocol: &str) -> bool {
    asked.is_none_or(|asked| asked == protocol.as_bytes())
}

impl LocalService {
    fn service(&self, port: u16) -> Service<'_> {
        Service {
            name: &self.name,
            aliases: Aliases::Local(&self.aliases),
            port,
            protocol: &self.protocol,
        }
    }
}

/// The installed registry, mapped and checked, when it is usable and not older than the
/// built-in one.
fn installed(paths: &Paths) -> Option<CompiledRegistry> {
    let path = paths.data_dir.join(REGISTRY_FILE);
    let file = File::open(&path).ok()?;
    // The checksum reads every page: skipped when the file is exactly the one `portreg
    // update --system` verified and recorded (size and modification time).
    let verify = portreg::file_stamp(&file)
        .is_none_or(|stamp| Some(stamp) != recorded_stamp(&paths.data_dir));
    // SAFETY: installs replace the file by rename, never write into it, so the mapped
    // pages do not change under us.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    let _ = map.advise(memmap2::Advice::Random);
    let registry = CompiledRegistry::from_shared(map, verify).ok()?;
    portreg::supersedes_built_in(&registry).then_some(registry)
}

fn recorded_stamp(dir: &Path) -> Option<String> {
    let bytes = portreg::read_capped(&dir.join("state.json")).ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    value.get("stamp")?.as_str().map(str::to_owned)
}

/// The local names with a port and a transport; a folder larger than [`MAX_LOCAL_BYTES`]
/// is not read (every process would parse it).
fn local_services(dir: &Path) -> Vec<LocalService> {
    let total: u64 = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0);
    if total == 0 || total > MAX_LOCAL_BYTES {
        return Vec::new();
    }
    LocalLayer::read(&[dir.to_owned()])
        .records
        .into_iter()
        .filter_map(|local| {
            let record = local.record;
            let span = record.ports?;
            Some(LocalService {
                name: record.name?,
                aliases: record.aliases,
                low: span.low,
                high: span.high,
                protocol: record.transport?.as_str().to_owned(),
            })
        })
        .collect()
}

static PATHS: OnceLock<Paths> = OnceLock::new();
static CURRENT: OnceLock<ArcSwap<Answers>> = OnceLock::new();
static NEXT_CHECK: AtomicU64 = AtomicU64::new(0);
static CHECKING: Mutex<()> = Mutex::new(());
/// What a load may allocate at most, without local names (they add up to
/// [`MAX_LOCAL_BYTES`] times a few): asked for, and given back, before a load.
const LOAD_ALLOCATION: usize = 64 * 1024 + 16 * MAX_LOCAL_BYTES as usize;

/// Whether the memory a load needs can be had now: a Rust allocation that fails ends
/// the process, so the module asks first and answers `NSS_STATUS_TRYAGAIN` (`ENOMEM`)
/// when the answer is no.
fn memory_for_a_load() -> bool {
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(LOAD_ALLOCATION).is_ok()
}

/// The answers in use, handed to `f`: loaded on first use, looked at again at most once a
/// second, and loaded again when a file changed. A reload replaces the answers for later
/// calls; a call (or an enumeration) under way keeps the ones it started with. `None`
/// when the first load finds no memory for itself.
pub fn with_current<R>(f: impl FnOnce(&Arc<Answers>) -> R) -> Option<R> {
    let answers = checked()?;
    let mut f = Some(f);
    // Each thread keeps the answers it last used (arc_swap's `Cache`): while they stay
    // the same, a call compares one pointer and touches no shared counter.
    let cached = SEEN.try_with(|seen| {
        let mut seen = seen.try_borrow_mut().ok()?;
        let cache = seen.get_or_insert_with(|| arc_swap::Cache::new(answers));
        f.take().map(|f| f(cache.load()))
    });
    match (cached, f) {
        (Ok(Some(answered)), _) => Some(answered),
        // The thread is ending, or a call is under way on it: the shared answers.
        (_, Some(f)) => Some(f(&answers.load_full())),
        (_, None) => None,
    }
}

type SeenAnswers = arc_swap::Cache<&'static ArcSwap<Answers>, Arc<Answers>>;

thread_local! {
    static SEEN: std::cell::RefCell<Option<SeenAnswers>> = const { std::cell::RefCell::new(None) };
}

/// The shared answers, loaded on first use and checked for a change at most once a
/// second.
fn checked() -> Option<&'static ArcSwap<Answers>> {
    let paths = PATHS.get_or_init(Paths::from_environment);
    let answers = match CURRENT.get() {
        Some(answers) => answers,
        None => {
            if !memory_for_a_load() {
                return None;
            }
            CURRENT.get_or_init(|| {
                NEXT_CHECK.store(coarse_seconds() + CHECK_EVERY_SECONDS, Ordering::Relaxed);
                ArcSwap::from_pointee(Answers::load(paths))
            })
        }
    };
    let now = coarse_seconds();
    if now >= NEXT_CHECK.load(Ordering::Relaxed) {
        // One thread looks; the others answer from what is loaded meanwhile.
        if let Ok(_looking) = CHECKING.try_lock() {
            NEXT_CHECK.store(now + CHECK_EVERY_SECONDS, Ordering::Relaxed);
            // Without memory for a reload, the answers loaded before stay.
            if answers.load().stale(paths) && memory_for_a_load() {
                answers.store(Arc::new(Answers::load(paths)));
            }
        }
    }
    Some(answers)
}

/// Seconds of the coarse monotonic clock: a few nanoseconds to read, which is all a
/// once-a-second check needs.
fn coarse_seconds() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut now) };
    now.tv_sec as u64
}
