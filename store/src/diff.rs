//! Tree comparison: walks two trees side by side, skipping every subtree
//! whose id is equal on both sides, and reports leaf changes (files,
//! symlinks and empty directories) with their kinds, sizes and ids.

use std::collections::HashMap;

use serde::Serialize;

use crate::error::Result;
use crate::fsutil::display_bytes;
use crate::id::ObjectId;
use crate::object::{EntryKind, Tree, TreeEntry};
use crate::odb::Odb;

/// Where trees come from: the store, or the store plus trees scanned from
/// the home and held in memory.
pub trait TreeSource: Sync {
    fn tree(&self, id: &ObjectId) -> Result<Tree>;
}

impl TreeSource for Odb {
    fn tree(&self, id: &ObjectId) -> Result<Tree> {
        self.read_tree(id)
    }
}

/// Trees held in memory first (a scanned home), then the store.
pub struct Layered<'a> {
    pub mem: &'a HashMap<ObjectId, Tree>,
    pub odb: &'a Odb,
}

impl TreeSource for Layered<'_> {
    fn tree(&self, id: &ObjectId) -> Result<Tree> {
        match self.mem.get(id) {
            Some(t) => Ok(t.clone()),
            None => self.odb.read_tree(id),
        }
    }
}

/// One side of a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Side {
    pub kind: EntryKind,
    pub size: u64,
    pub id: ObjectId,
}

impl From<&TreeEntry> for Side {
    fn from(e: &TreeEntry) -> Side {
        Side {
            kind: e.kind,
            size: e.size,
            id: e.id,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Added,
    Deleted,
    Modified,
    /// File ↔ executable ↔ symlink ↔ directory.
    TypeChanged,
}

impl Status {
    pub fn letter(self) -> char {
        match self {
            Status::Added => 'A',
            Status::Deleted => 'D',
            Status::Modified => 'M',
            Status::TypeChanged => 'T',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Path relative to the home, '/'-separated bytes.
    pub path: Vec<u8>,
    pub old: Option<Side>,
    pub new: Option<Side>,
}

impl Change {
    pub fn status(&self) -> Status {
        match (&self.old, &self.new) {
            (None, _) => Status::Added,
            (_, None) => Status::Deleted,
            (Some(o), Some(n)) if o.kind != n.kind => Status::TypeChanged,
            _ => Status::Modified,
        }
    }

    pub fn display_path(&self) -> String {
        display_bytes(&self.path)
    }
}

/// Limits a diff to some paths (each path and everything below it).
#[derive(Clone, Debug, Default)]
pub struct PathFilter {
    paths: Vec<Vec<u8>>,
}

impl PathFilter {
    pub fn new(paths: Vec<Vec<u8>>) -> PathFilter {
        let paths = paths
            .into_iter()
            .map(|mut p| {
                while p.last() == Some(&b'/') {
                    p.pop();
                }
                while p.starts_with(b"./") {
                    p.drain(..2);
                }
                p
            })
            .collect();
        PathFilter { paths }
    }

    pub fn is_all(&self) -> bool {
        self.paths.is_empty() || self.paths.iter().any(|p| p.is_empty() || p == b".")
    }

    /// The path is selected (it is, or is below, a filter path).
    pub fn selects(&self, path: &[u8]) -> bool {
        self.is_all() || self.paths.iter().any(|p| under(path, p))
    }

    /// A directory must be entered: it is selected, or holds a filter path.
    fn enters(&self, dir: &[u8]) -> bool {
        self.is_all() || self.paths.iter().any(|p| under(dir, p) || under(p, dir))
    }
}

/// `path` is `base` or below it.
pub fn under(path: &[u8], base: &[u8]) -> bool {
    path == base || (path.len() > base.len() && path.starts_with(base) && path[base.len()] == b'/')
}

pub fn empty_tree_id() -> ObjectId {
    Tree::default().id()
}

fn join(prefix: &[u8], name: &[u8]) -> Vec<u8> {
    if prefix.is_empty() {
        name.to_vec()
    } else {
        let mut p = Vec::with_capacity(prefix.len() + 1 + name.len());
        p.extend_from_slice(prefix);
        p.push(b'/');
        p.extend_from_slice(name);
        p
    }
}

/// Changes from tree `a` to tree `b` (None = empty), sorted by path.
pub fn diff_trees(
    src: &dyn TreeSource,
    a: Option<ObjectId>,
    b: Option<ObjectId>,
    filter: &PathFilter,
) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    diff_into(src, a, b, b"", filter, &mut out)?;
    out.sort_by(|x, y| x.path.cmp(&y.path));
    Ok(out)
}

fn load(src: &dyn TreeSource, id: Option<ObjectId>) -> Result<Tree> {
    match id {
        Some(id) => src.tree(&id),
        None => Ok(Tree::default()),
    }
}

fn diff_into(
    src: &dyn TreeSource,
    a: Option<ObjectId>,
    b: Option<ObjectId>,
    prefix: &[u8],
    filter: &PathFilter,
    out: &mut Vec<Change>,
) -> Result<()> {
    if a == b {
        return Ok(());
    }
    let ta = load(src, a)?;
    let tb = load(src, b)?;
    let (mut i, mut j) = (0, 0);
    while i < ta.entries.len() || j < tb.entries.len() {
        let ea = ta.entries.get(i);
        let eb = tb.entries.get(j);
        let order = match (ea, eb) {
            (Some(x), Some(y)) => x.name.cmp(&y.name),
            (Some(_), None) => std::cmp::Ordering::Less,
            _ => std::cmp::Ordering::Greater,
        };
        let (old, new) = match order {
            std::cmp::Ordering::Less => {
                i += 1;
                (ea, None)
            }
            std::cmp::Ordering::Greater => {
                j += 1;
                (None, eb)
            }
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
                (ea, eb)
            }
        };
        let name = old.or(new).map(|e| e.name.as_slice()).unwrap_or_default();
        let path = join(prefix, name);
        entry_change(src, old, new, path, filter, out)?;
    }
    Ok(())
}

fn entry_change(
    src: &dyn TreeSource,
    old: Option<&TreeEntry>,
    new: Option<&TreeEntry>,
    path: Vec<u8>,
    filter: &PathFilter,
    out: &mut Vec<Change>,
) -> Result<()> {
    let is_dir = |e: Option<&TreeEntry>| e.is_some_and(|e| e.kind == EntryKind::Dir);
    if !filter.enters(&path) {
        return Ok(());
    }
    match (is_dir(old), is_dir(new)) {
        (true, true) => {
            // A directory that became (or stopped being) empty stays a
            // directory: only the entries below it changed.
            diff_into(
                src,
                old.map(|e| e.id),
                new.map(|e| e.id),
                &path,
                filter,
                out,
            )
        }
        (od, nd) => {
            if od {
                dir_leaves(src, old, &path, true, filter, out)?;
            }
            if nd {
                dir_leaves(src, new, &path, false, filter, out)?;
            }
            let o = old.filter(|_| !od).map(Side::from);
            let n = new.filter(|_| !nd).map(Side::from);
            if (o.is_some() || n.is_some()) && o != n && filter.selects(&path) {
                out.push(Change {
                    path,
                    old: o,
                    new: n,
                });
            }
            Ok(())
        }
    }
}

/// All leaves of a directory present on one side only; an empty directory
/// is itself a leaf.
fn dir_leaves(
    src: &dyn TreeSource,
    dir: Option<&TreeEntry>,
    path: &[u8],
    deleted: bool,
    filter: &PathFilter,
    out: &mut Vec<Change>,
) -> Result<()> {
    let Some(dir) = dir else { return Ok(()) };
    if dir.id == empty_tree_id() {
        if filter.selects(path) {
            let side = Some(Side::from(dir));
            let (old, new) = if deleted { (side, None) } else { (None, side) };
            out.push(Change {
                path: path.to_vec(),
                old,
                new,
            });
        }
        return Ok(());
    }
    let (a, b) = if deleted {
        (Some(dir.id), None)
    } else {
        (None, Some(dir.id))
    };
    diff_into(src, a, b, path, filter, out)
}

/// Every entry below `root` with its path (directories included), sorted.
pub fn flatten(src: &dyn TreeSource, root: ObjectId) -> Result<Vec<(Vec<u8>, TreeEntry)>> {
    let mut out = Vec::new();
    flatten_into(src, root, b"", &mut out)?;
    Ok(out)
}

fn flatten_into(
    src: &dyn TreeSource,
    id: ObjectId,
    prefix: &[u8],
    out: &mut Vec<(Vec<u8>, TreeEntry)>,
) -> Result<()> {
    let tree = src.tree(&id)?;
    for e in tree.entries {
        let path = join(prefix, &e.name);
        let sub = (e.kind == EntryKind::Dir).then_some(e.id);
        out.push((path.clone(), e));
        if let Some(sub) = sub {
            flatten_into(src, sub, &path, out)?;
        }
    }
    Ok(())
}

/// The entry at `path` below `root`, if any.
pub fn lookup(src: &dyn TreeSource, root: ObjectId, path: &[u8]) -> Result<Option<TreeEntry>> {
    let mut current = root;
    let mut parts = path
        .split(|b| *b == b'/')
        .filter(|p| !p.is_empty())
        .peekable();
    while let Some(part) = parts.next() {
        let tree = src.tree(&current)?;
        let Some(e) = tree.get(part) else {
            return Ok(None);
        };
        if parts.peek().is_none() {
            return Ok(Some(e.clone()));
        }
        if e.kind != EntryKind::Dir {
            return Ok(None);
        }
        current = e.id;
    }
    Ok(None)
}
