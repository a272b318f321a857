//! A repository: a product home and the store that versions it. Owns the
//! store layout (`config`, `ignore`, `HEAD`, `refs/`, `objects/`, `index`,
//! `tmp/`), finding a store from a working directory, and the ignore rules.

use std::fs;
use std::path::{Path, PathBuf};

use ignore::gitignore::{Gitignore, GitignoreBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::lock::{LockState, StoreLock};
use crate::odb::{Batch, FsyncMode, Odb};
use crate::refs::{Head, Refs, DEFAULT_BRANCH};
use std::sync::{Arc, Mutex};

/// The store format this build reads and writes (see FORMAT.md).
pub const FORMAT_VERSION: u32 = 1;
/// Name of the store directory inside a home when no `--store` is given.
pub const STORE_DIR: &str = ".patchvault";

/// The ignore rules written by `init`: runtime state a Carbon server
/// creates while it runs, which must neither be tracked nor touched.
pub const DEFAULT_IGNORE: &str = "\
# patchvault ignore rules, gitignore syntax, relative to the product home.
# Paths matched here are never recorded, never reported by `status` and
# never touched by `checkout`. Edit freely; the next command uses them.

# Runtime state of a running Carbon server
/repository/logs/
/tmp/
/work/
/repository/database/
# OSGi caches the server rebuilds at start
/repository/components/*/configuration/org.eclipse.*
# Process ids
*.pid
";

#[derive(Serialize, Deserialize)]
struct Config {
    format: u32,
    home: PathBuf,
    #[serde(default)]
    core: Core,
}

#[derive(Serialize, Deserialize, Default, Clone)]
pub struct Core {
    /// "batch" (default): one file-system sync per batch of objects before
    /// refs move. "each": also fsync every object file. "off": no syncs
    /// (throwaway stores only). `PATCHVAULT_FSYNC` overrides it.
    #[serde(default)]
    pub fsync: Option<String>,
}

pub struct Repository {
    pub home: PathBuf,
    pub store: PathBuf,
    pub odb: Odb,
    pub refs: Refs,
    pub core: Core,
    pub fsync: FsyncMode,
    lock_state: Arc<Mutex<LockState>>,
}

impl Repository {
    /// Creates a store for `home` (at `store`, or `home/.patchvault`).
    pub fn init(home: &Path, store: Option<&Path>) -> Result<Repository> {
        let home = fs::canonicalize(home).map_err(|e| Error::io(home, e))?;
        if !home.is_dir() {
            return Err(Error::Invalid(format!(
                "{} is not a directory",
                home.display()
            )));
        }
        let store = match store {
            Some(s) => absolute(s)?,
            None => home.join(STORE_DIR),
        };
        if store.join("config").exists() {
            return Err(Error::StoreExists(store));
        }
        for d in ["objects", "refs/heads", "refs/tags", "tmp"] {
            let p = store.join(d);
            fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        }
        let ignore = store.join("ignore");
        if !ignore.exists() {
            fsutil::atomic_write(&ignore, DEFAULT_IGNORE.as_bytes())?;
        }
        let refs = Refs::new(&store);
        refs.set_head(&Head::Branch(DEFAULT_BRANCH.to_string()))?;
        let config = Config {
            format: FORMAT_VERSION,
            home: home.clone(),
            core: Core::default(),
        };
        let text = toml::to_string(&config).map_err(|e| Error::Invalid(format!("config: {e}")))?;
        // The config is written last: a store without one is not a store.
        fsutil::atomic_write(&store.join("config"), text.as_bytes())?;
        Self::open_store(&store)
    }

    /// Opens the store at `store` and the home its config names.
    pub fn open_store(store: &Path) -> Result<Repository> {
        let store = absolute(store)?;
        let cfg_path = store.join("config");
        let text = match fs::read_to_string(&cfg_path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NoStore(store))
            }
            Err(e) => return Err(Error::io(&cfg_path, e)),
        };
        let config: Config = toml::from_str(&text).map_err(|e| Error::BadStore {
            path: cfg_path.clone(),
            reason: format!("unreadable config: {e}"),
        })?;
        if config.format != FORMAT_VERSION {
            return Err(Error::BadStore {
                path: store.clone(),
                reason: format!(
                    "store format {} is not supported by this patchvault (format {FORMAT_VERSION}); use a matching patchvault version",
                    config.format
                ),
            });
        }
        let setting = std::env::var("PATCHVAULT_FSYNC")
            .ok()
            .or(config.core.fsync.clone());
        let fsync = match setting.as_deref() {
            None => FsyncMode::Batch,
            Some(s) => FsyncMode::parse(s).ok_or_else(|| Error::BadStore {
                path: cfg_path.clone(),
                reason: format!(
                    "core.fsync (or PATCHVAULT_FSYNC) is {s:?}; use \"batch\", \"each\" or \"off\""
                ),
            })?,
        };
        // A store inside a home (`<home>/.patchvault`) versions that home,
        // wherever it now is: a home copied or moved with its store must
        // not act on the original. A store elsewhere names its home.
        let home = match (store.file_name(), store.parent()) {
            (Some(n), Some(parent)) if n == STORE_DIR => parent.to_path_buf(),
            _ => config.home,
        };
        Ok(Repository {
            lock_state: Arc::default(),
            fsync,
            home,
            odb: Odb::new(&store),
            refs: Refs::new(&store),
            store,
            core: config.core,
        })
    }

    /// Finds the store: `store` if given, else `.patchvault` in `start` or
    /// the nearest parent that has one.
    pub fn discover(start: &Path, store: Option<&Path>) -> Result<Repository> {
        if let Some(s) = store {
            return Self::open_store(s);
        }
        let start = absolute(start)?;
        let mut dir = Some(start.as_path());
        while let Some(d) = dir {
            if d.join(STORE_DIR).join("config").is_file() {
                return Self::open_store(&d.join(STORE_DIR));
            }
            dir = d.parent();
        }
        Err(Error::NoStore(start))
    }

    /// Takes the store lock (re-entrant within this repository). On first
    /// taking it, temp files left by an interrupted writer are removed:
    /// no other writer can be running.
    pub fn lock(&self) -> Result<StoreLock> {
        let (guard, fresh) = crate::lock::acquire(&self.store, &self.lock_state)?;
        if fresh {
            for dir in [
                self.store.join("tmp"),
                self.home.join(crate::checkout::STAGING_DIR),
            ] {
                if let Ok(rd) = fs::read_dir(&dir) {
                    for e in rd.flatten() {
                        let _ = fs::remove_file(e.path());
                    }
                }
            }
        }
        Ok(guard)
    }

    /// A view of another directory with this store's ignore rules, for
    /// scanning a home that has no store of its own (nothing is written).
    pub fn for_other_home(&self, dir: &Path) -> Result<Repository> {
        let home = fs::canonicalize(dir).map_err(|e| Error::io(dir, e))?;
        Ok(Repository {
            home,
            store: self.store.clone(),
            odb: Odb::new(&self.store),
            refs: Refs::new(&self.store),
            core: self.core.clone(),
            fsync: self.fsync,
            lock_state: Arc::default(),
        })
    }

    pub fn index_path(&self) -> PathBuf {
        self.store.join("index")
    }

    /// A new batch for objects, syncing as the config says.
    pub fn batch(&self) -> Batch {
        Batch::new(&self.store, self.fsync)
    }

    /// The ignore rules from `<store>/ignore`.
    pub fn ignore_rules(&self) -> Result<Gitignore> {
        let path = self.store.join("ignore");
        let mut b = GitignoreBuilder::new(&self.home);
        if path.exists() {
            if let Some(err) = b.add(&path) {
                return Err(Error::Invalid(format!(
                    "{}: {err}; fix the rule",
                    path.display()
                )));
            }
        }
        b.build()
            .map_err(|e| Error::Invalid(format!("{}: {e}; fix the rule", path.display())))
    }

    /// The store directory relative to the home, when it lies inside it
    /// (it is never tracked).
    pub fn store_in_home(&self) -> Option<PathBuf> {
        self.store
            .strip_prefix(&self.home)
            .ok()
            .map(Path::to_path_buf)
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io(p, e))
}

/// `Name <user@host>` from `PATCHVAULT_AUTHOR`, or the login and host name.
pub fn default_author() -> String {
    if let Ok(a) = std::env::var("PATCHVAULT_AUTHOR") {
        let a = a.trim();
        if !a.is_empty() && !a.contains('\n') {
            return a.to_string();
        }
    }
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{user} <{user}@{host}>")
}
