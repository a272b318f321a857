//! Fault injection for patchvault's own crash tests, driven by environment
//! variables a user never sets:
//!
//! - `PATCHVAULT_FAULT_KILL_AT=N`: the process kills itself with SIGKILL at
//!   the N-th crash point (each object staged, each object or file renamed
//!   into place, each file removed, each ref or journal write). A real
//!   SIGKILL: nothing is flushed or unwound.
//! - `PATCHVAULT_FAULT_ENOSPC_AT=N`: the N-th object or file write fails as
//!   if the disk were full.
//! - `PATCHVAULT_FAULT_COUNT=1`: print the number of crash points passed to
//!   stderr at exit (to size the tests).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

struct Config {
    kill_at: Option<u64>,
    enospc_at: Option<u64>,
    count: bool,
}

static CONFIG: OnceLock<Config> = OnceLock::new();
static POINTS: AtomicU64 = AtomicU64::new(0);
static WRITES: AtomicU64 = AtomicU64::new(0);

fn config() -> &'static Config {
    CONFIG.get_or_init(|| {
        let num = |k: &str| std::env::var(k).ok().and_then(|v| v.parse().ok());
        Config {
            kill_at: num("PATCHVAULT_FAULT_KILL_AT"),
            enospc_at: num("PATCHVAULT_FAULT_ENOSPC_AT"),
            count: std::env::var_os("PATCHVAULT_FAULT_COUNT").is_some(),
        }
    })
}

/// A place where a crash must leave the store and home consistent.
pub fn point() {
    let c = config();
    if c.kill_at.is_none() && !c.count {
        return;
    }
    let n = POINTS.fetch_add(1, Ordering::SeqCst) + 1;
    if c.kill_at == Some(n) {
        // SAFETY: kill(getpid(), SIGKILL) only ends this process.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}

/// An injected "disk full" for the next write, if configured.
pub fn write_error() -> Option<std::io::Error> {
    let at = config().enospc_at?;
    let n = WRITES.fetch_add(1, Ordering::SeqCst) + 1;
    (n >= at).then(|| std::io::Error::from_raw_os_error(libc::ENOSPC))
}

/// Called at exit by the command line: reports the crash points passed.
pub fn report() {
    if config().count {
        eprintln!("patchvault-fault-points: {}", POINTS.load(Ordering::SeqCst));
    }
}
