//! WSO2 Carbon patches: intake of patch zips and folders ([`package`]),
//! their READMEs ([`readme`]), the product a home holds ([`product`]), and
//! [`server`], a model of what Carbon's PatchInstaller does with
//! `repository/components/patches/` at start-up, computed over trees.
//!
//! [`Staging`] holds the trees and blobs an operation builds before any of
//! them is stored, so a dry run shows the result without writing anything.

pub mod package;
pub mod product;
pub mod readme;
pub mod server;

use std::collections::HashMap;

use crate::diff::TreeSource;
use crate::error::Result;
use crate::id::ObjectId;
use crate::object::{EntryKind, ObjectKind, Tree};
use crate::odb::{Batch, Odb};
use crate::treeedit::Node;

pub const PLUGINS: &str = "repository/components/plugins";
pub const PATCHES: &str = "repository/components/patches";
pub const SERVICEPACKS: &str = "repository/components/servicepacks";
pub const METADATA: &str = "repository/components/patches/.metadata";
pub const BACKUP: &str = "patch0000";
pub const PID_FILE: &str = "wso2carbon.pid";

/// Trees and blobs built in memory, over the store.
pub struct Staging<'a> {
    pub odb: &'a Odb,
    pub trees: HashMap<ObjectId, Tree>,
    pub blobs: HashMap<ObjectId, Vec<u8>>,
}

impl TreeSource for Staging<'_> {
    fn tree(&self, id: &ObjectId) -> Result<Tree> {
        match self.trees.get(id) {
            Some(t) => Ok(t.clone()),
            None => self.odb.read_tree(id),
        }
    }
}

impl<'a> Staging<'a> {
    pub fn new(odb: &'a Odb) -> Staging<'a> {
        Staging {
            odb,
            trees: HashMap::new(),
            blobs: HashMap::new(),
        }
    }

    /// Adds file content; returns the node naming it.
    pub fn add_blob(&mut self, bytes: Vec<u8>, executable: bool) -> Node {
        let id = ObjectId::for_blob(&bytes);
        let node = Node {
            kind: if executable {
                EntryKind::Executable
            } else {
                EntryKind::File
            },
            size: bytes.len() as u64,
            id,
        };
        self.blobs.entry(id).or_insert(bytes);
        node
    }

    /// A blob's bytes, from memory or the store (verified).
    pub fn blob(&self, id: &ObjectId) -> Result<std::borrow::Cow<'_, [u8]>> {
        match self.blobs.get(id) {
            Some(b) => Ok(std::borrow::Cow::Borrowed(b)),
            None => Ok(std::borrow::Cow::Owned(self.odb.read_blob(id)?)),
        }
    }

    /// Stages into `batch` the trees and blobs built here that `root`
    /// reaches (intermediate trees of an operation are left out); a blob
    /// listed in `bases` is stored as a delta against that blob when it pays.
    pub fn persist(
        &self,
        batch: &Batch,
        bases: &HashMap<ObjectId, ObjectId>,
        root: ObjectId,
    ) -> Result<()> {
        let mut stack = vec![root];
        let mut seen = std::collections::HashSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Some(tree) = self.trees.get(&id) else {
                continue;
            };
            self.odb.write_tree(batch, tree)?;
            for e in &tree.entries {
                if e.kind == EntryKind::Dir {
                    stack.push(e.id);
                } else if let Some(bytes) = self.blobs.get(&e.id) {
                    if seen.insert(e.id) {
                        self.odb.write_with_base(
                            batch,
                            ObjectKind::Blob,
                            e.id,
                            bytes,
                            bases.get(&e.id).copied(),
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether `wso2carbon.pid` in the home names a live process.
pub fn running_server(home: &std::path::Path) -> Option<i32> {
    let text = std::fs::read_to_string(home.join(PID_FILE)).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    if pid <= 0 {
        return None;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    let alive = rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    alive.then_some(pid)
}
