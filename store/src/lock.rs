//! The store lock: commands that change the store or the home hold an
//! exclusive `flock` on `<store>/lock`, which names the holder ("pid N
//! since T"). A second writer waits briefly, then fails naming the holder.
//! The kernel drops the lock when its process dies, so a lock left by a
//! crashed process is free again; only its text remains, and is replaced.
//! The lock is re-entrant within one [`Repository`](crate::Repository).

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long a second writer waits (`PATCHVAULT_LOCK_WAIT` in seconds overrides).
pub const DEFAULT_WAIT: Duration = Duration::from_secs(3);

#[derive(Default)]
pub struct LockState {
    file: Option<File>,
    depth: usize,
}

/// Held while a command changes the store or the home.
pub struct StoreLock {
    state: Arc<Mutex<LockState>>,
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        st.depth = st.depth.saturating_sub(1);
        if st.depth == 0 {
            // Closing the file releases the flock.
            st.file = None;
        }
    }
}

fn wait_time() -> Duration {
    std::env::var("PATCHVAULT_LOCK_WAIT")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .unwrap_or(DEFAULT_WAIT)
}

/// Takes (or re-enters) the lock of the store at `store`; the flag says
/// whether it was newly taken.
pub fn acquire(store: &Path, state: &Arc<Mutex<LockState>>) -> Result<(StoreLock, bool)> {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    if st.depth > 0 {
        st.depth += 1;
        return Ok((
            StoreLock {
                state: state.clone(),
            },
            false,
        ));
    }
    let path = store.join("lock");
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let deadline = Instant::now() + wait_time();
    loop {
        match f.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = f.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Locked(if holder.is_empty() {
                    "another patchvault process".into()
                } else {
                    holder.to_string()
                }));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
    }
    let stamp = crate::commands::format_time(crate::commands::now());
    let text = format!("pid {} since {stamp}\n", std::process::id());
    let _ = f
        .set_len(0)
        .and_then(|_| f.seek(SeekFrom::Start(0)))
        .and_then(|_| f.write_all(text.as_bytes()));
    st.file = Some(f);
    st.depth = 1;
    Ok((
        StoreLock {
            state: state.clone(),
        },
        true,
    ))
}
