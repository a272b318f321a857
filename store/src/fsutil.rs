//! Small file-system helpers shared by the store and the checkout: atomic
//! replacement of a file (temp file, fsync, rename, fsync of the directory)
//! and a whole-file-system sync for batches of new objects.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temp file name unique within this process and among processes.
pub fn temp_name(prefix: &str) -> String {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{prefix}-{}-{n}.tmp", std::process::id())
}

/// Creates a new file that did not exist (never follows or replaces anything).
pub fn create_new(path: &Path, mode: u32) -> Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| Error::io(path, e))
}

/// Replaces `path` with `bytes` atomically: readers see the old or the new
/// content, never a mix, and after return the new content is durable.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(temp_name("write"));
    let result = (|| {
        let mut f = create_new(&tmp, 0o644)?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        crate::fault::point();
        fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        fsync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes a directory's entries (new names, renames) durable.
pub fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Flushes every dirty page of the file system holding `path` in one call:
/// one sync for a whole batch of objects instead of one per file.
pub fn syncfs(path: &Path) -> Result<()> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: syncfs takes a valid open file descriptor and touches no memory.
    let rc = unsafe { libc::syncfs(std::os::unix::io::AsRawFd::as_raw_fd(&f)) };
    if rc != 0 {
        return Err(Error::io(path, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// `path` relative to `base` as raw bytes joined with '/'.
pub fn path_bytes(p: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

/// Turns repository-relative path bytes into a path below `root`.
pub fn join_rel(root: &Path, rel: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    root.join(std::ffi::OsStr::from_bytes(rel))
}

/// Shows path bytes to a person: UTF-8 as is, other bytes escaped.
pub fn display_bytes(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_string(),
        Err(_) => b
            .utf8_chunks()
            .flat_map(|c| {
                let mut s = c.valid().to_string();
                for byte in c.invalid() {
                    s.push_str(&format!("\\x{byte:02x}"));
                }
                s.chars().collect::<Vec<_>>()
            })
            .collect(),
    }
}
