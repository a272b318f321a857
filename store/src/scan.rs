//! Tree scanning: walks the product home (minus ignored paths and the
//! store), stats every entry, hashes new or changed files in parallel
//! (memory-mapped when large, using the stat cache to skip unchanged ones),
//! optionally stores new blobs, and builds the tree objects bottom-up.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::fsutil::{display_bytes, join_rel, path_bytes};
use crate::id::{hash_content, read_content, ObjectId};
use crate::index::{Index, Stat};
use crate::object::{EntryKind, ObjectKind, Tree, TreeEntry};
use crate::odb::Batch;
use crate::progress::Progress;
use crate::repo::Repository;

/// The scanned state of the home: its root tree and every tree below it,
/// held in memory (and also written to the store when scanning to commit).
pub struct Snapshot {
    pub root: ObjectId,
    pub trees: HashMap<ObjectId, Tree>,
    /// Files (and symlinks) seen.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
    /// Files that had to be read and hashed (the rest came from the stat cache).
    pub hashed: usize,
    pub hashed_bytes: u64,
    /// Sockets, FIFOs and devices, which are not recorded.
    pub skipped: Vec<String>,
}

struct Leaf {
    rel: Vec<u8>,
    entry: TreeEntry,
    hashed: bool,
    /// The stat to cache, when the bytes hashed match it.
    cache: Option<Stat>,
}

struct Found {
    rel: Vec<u8>,
    abs: PathBuf,
    md: fs::Metadata,
}

/// Walks the home and returns every tracked entry (files, symlinks,
/// directories), unsorted.
fn walk(repo: &Repository) -> Result<Vec<Found>> {
    let rules = Arc::new(repo.ignore_rules()?);
    let store_rel = repo.store_in_home();
    let home = repo.home.clone();
    let filter_home = home.clone();
    let walker = ignore::WalkBuilder::new(&home)
        .standard_filters(false)
        .hidden(false)
        .follow_links(false)
        .filter_entry(move |e| {
            let Ok(rel) = e.path().strip_prefix(&filter_home) else {
                return true;
            };
            if rel.as_os_str().is_empty() {
                return true;
            }
            if store_rel.as_deref() == Some(rel) {
                return false;
            }
            let is_dir = e.file_type().is_some_and(|t| t.is_dir());
            !rules.matched(rel, is_dir).is_ignore()
        })
        .build();
    let mut out = Vec::new();
    for ent in walker {
        let ent = ent.map_err(|e| walk_error(&home, e))?;
        if ent.depth() == 0 {
            continue;
        }
        let abs = ent.path().to_path_buf();
        let md = ent.metadata().map_err(|e| walk_error(&home, e))?;
        let rel = path_bytes(abs.strip_prefix(&home).unwrap_or(&abs)).to_vec();
        out.push(Found { rel, abs, md });
    }
    Ok(out)
}

fn walk_error(home: &std::path::Path, e: ignore::Error) -> Error {
    match e.io_error() {
        Some(io) => {
            let path = match &e {
                ignore::Error::WithPath { path, .. } => path.clone(),
                _ => home.to_path_buf(),
            };
            Error::io(path, std::io::Error::new(io.kind(), io.to_string()))
        }
        None => Error::Invalid(format!("walking {}: {e}", home.display())),
    }
}

/// Where a scan stores what it finds: new objects go into `batch`; a new
/// version of a path listed in `bases` is stored as a delta against the
/// blob listed there (its version in the parent commit) when that pays.
pub struct WriteTo<'a> {
    pub batch: &'a Batch,
    pub bases: &'a HashMap<Vec<u8>, ObjectId>,
}

/// Scans the home. With `write`, blobs the store lacks are staged in that
/// batch, and so are all trees. The index is updated with every hashed file.
pub fn scan(
    repo: &Repository,
    index: &mut Index,
    write: Option<&WriteTo>,
    progress: &dyn Progress,
) -> Result<Snapshot> {
    let found = walk(repo)?;
    let mut dirs: Vec<Vec<u8>> = vec![Vec::new()];
    let mut leaves = Vec::with_capacity(found.len());
    let mut skipped = Vec::new();
    for f in found {
        let ft = f.md.file_type();
        if ft.is_dir() {
            dirs.push(f.rel);
        } else if ft.is_file() || ft.is_symlink() {
            let stat = Stat::of(&f.md);
            let cached = if ft.is_file() {
                index.lookup(&f.rel, &stat)
            } else {
                None
            };
            leaves.push((f, stat, cached));
        } else {
            let what = if ft.is_fifo() {
                "FIFO"
            } else if ft.is_socket() {
                "socket"
            } else {
                "device"
            };
            skipped.push(format!("{} ({what})", display_bytes(&f.rel)));
        }
    }

    let to_hash: u64 = leaves
        .iter()
        .filter(|(_, _, c)| c.is_none())
        .map(|(f, _, _)| f.md.len())
        .sum();
    progress.begin("hashing", to_hash);
    let hashed: Vec<Leaf> = leaves
        .into_par_iter()
        .map(|(f, stat, cached)| -> Result<_> {
            let name = f
                .rel
                .rsplit(|b| *b == b'/')
                .next()
                .unwrap_or(&f.rel)
                .to_vec();
            if f.md.file_type().is_symlink() {
                let target = fs::read_link(&f.abs).map_err(|e| Error::io(&f.abs, e))?;
                let target = path_bytes(&target).to_vec();
                let id = ObjectId::for_blob(&target);
                if let Some(w) = write {
                    repo.odb.write(w.batch, ObjectKind::Blob, id, &target)?;
                }
                let entry = TreeEntry {
                    name,
                    kind: EntryKind::Symlink,
                    size: target.len() as u64,
                    id,
                };
                return Ok(Leaf {
                    rel: f.rel,
                    entry,
                    hashed: false,
                    cache: None,
                });
            }
            let kind = if f.md.permissions().mode() & 0o111 != 0 {
                EntryKind::Executable
            } else {
                EntryKind::File
            };
            let reuse = cached.filter(|id| write.is_none_or(|_| repo.odb.contains(id)));
            let (id, size, hashed, cache) = match reuse {
                Some(id) => (id, stat.size, false, Some(stat)),
                None => {
                    let content = read_content(&f.abs, stat.size)?;
                    let id = hash_content(&content);
                    if let Some(w) = write {
                        let base = w.bases.get(&f.rel).copied();
                        repo.odb
                            .write_file_blob(w.batch, id, &content, &f.abs, base)?;
                    }
                    progress.advance(content.len() as u64);
                    // Cache only what matches the stat we took before reading.
                    let cache = (content.len() as u64 == stat.size).then_some(stat);
                    (id, content.len() as u64, true, cache)
                }
            };
            Ok(Leaf {
                rel: f.rel,
                entry: TreeEntry {
                    name,
                    kind,
                    size,
                    id,
                },
                hashed,
                cache,
            })
        })
        .collect::<Result<_>>()?;
    progress.end();

    let mut snapshot = Snapshot {
        root: ObjectId([0; 32]),
        trees: HashMap::new(),
        files: hashed.len(),
        bytes: hashed.iter().map(|l| l.entry.size).sum(),
        hashed: hashed.iter().filter(|l| l.hashed).count(),
        hashed_bytes: hashed
            .iter()
            .filter(|l| l.hashed)
            .map(|l| l.entry.size)
            .sum(),
        skipped,
    };

    // The new cache holds exactly the files seen now.
    index.clear();
    let mut entries = Vec::with_capacity(hashed.len());
    for Leaf {
        rel, entry, cache, ..
    } in hashed
    {
        if let Some(stat) = cache {
            index.insert(rel.clone(), stat, entry.id);
        }
        entries.push((rel, entry));
    }
    // A directory is recorded when it has tracked entries or is truly
    // empty; one holding only ignored things (caches, logs) is not.
    let (root, trees) = build_trees(dirs, entries, |dir| {
        is_empty_dir(&join_rel(&repo.home, dir))
    })?;
    if let Some(w) = write {
        for tree in trees.values() {
            repo.odb.write_tree(w.batch, tree)?;
        }
    }
    snapshot.root = root;
    snapshot.trees = trees;
    Ok(snapshot)
}

/// Builds every tree for `dirs` (relative paths, "" the root) and the leaf
/// `entries` below them (path, entry named by its last component), deepest
/// first. A directory with nothing in it is kept only if `keep_empty` says
/// so. Returns the root tree id and all trees.
pub fn build_trees(
    mut dirs: Vec<Vec<u8>>,
    entries: Vec<(Vec<u8>, TreeEntry)>,
    keep_empty: impl Fn(&[u8]) -> bool,
) -> Result<(ObjectId, HashMap<ObjectId, Tree>)> {
    let mut children: HashMap<Vec<u8>, Vec<TreeEntry>> = HashMap::new();
    for (rel, entry) in entries {
        children
            .entry(parent_of(&rel).to_vec())
            .or_default()
            .push(entry);
    }
    if !dirs.iter().any(|d| d.is_empty()) {
        dirs.push(Vec::new());
    }
    // Deepest directories first, so each subtree is built before its parent.
    dirs.sort_by_key(|d| {
        std::cmp::Reverse(d.iter().filter(|b| **b == b'/').count() + usize::from(!d.is_empty()))
    });
    dirs.dedup();
    let mut trees = HashMap::new();
    let mut root = Tree::default().id();
    for dir in dirs {
        let list = children.remove(&dir).unwrap_or_default();
        if list.is_empty() && !dir.is_empty() && !keep_empty(&dir) {
            continue;
        }
        let tree = Tree::new(list)?;
        let id = tree.id();
        if dir.is_empty() {
            root = id;
        } else {
            let name = dir.rsplit(|b| *b == b'/').next().unwrap_or(&dir).to_vec();
            children
                .entry(parent_of(&dir).to_vec())
                .or_default()
                .push(TreeEntry {
                    name,
                    kind: EntryKind::Dir,
                    size: tree.total_size(),
                    id,
                });
        }
        trees.insert(id, tree);
    }
    Ok((root, trees))
}

/// The directory part of a relative path ("" at the top).
pub fn parent_of(rel: &[u8]) -> &[u8] {
    match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => &rel[..i],
        None => b"",
    }
}

fn is_empty_dir(p: &std::path::Path) -> bool {
    fs::read_dir(p).is_ok_and(|mut rd| rd.next().is_none())
}
