//! Progress reporting hooks. The library reports; a front end (the CLI's
//! progress bar) decides whether and how to show it.

pub trait Progress: Sync {
    /// A phase starts: `label` ("hashing": `total` bytes; "writing": files;
    /// "syncing": `total` new objects being made durable, no advances).
    fn begin(&self, _label: &str, _total: u64) {}
    /// `n` more units done.
    fn advance(&self, _n: u64) {}
    /// The phase ended.
    fn end(&self) {}
}

/// Reports nothing.
pub struct Silent;
impl Progress for Silent {}
