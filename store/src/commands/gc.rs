//! `gc`: remove objects nothing reaches — not HEAD, a branch, a tag, an
//! autosave, a pending journal, nor (for deltas) another reachable object
//! built on them — once they are older than a grace period. Holds the
//! store lock, so it never races a commit.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::journal::Journal;
use crate::object::EntryKind;
use crate::repo::Repository;

/// Unreachable objects younger than this are kept (an operation may still
/// be about to name them).
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

#[derive(Debug, Serialize)]
pub struct GcReport {
    pub objects: usize,
    pub reachable: usize,
    pub removed: usize,
    pub freed_bytes: u64,
    /// Unreachable but within the grace period.
    pub kept_recent: usize,
    pub dry_run: bool,
}

/// Every commit, tree and blob reachable from the refs, HEAD and a pending
/// journal, with the delta bases they need.
pub fn reachable(repo: &Repository) -> Result<HashSet<ObjectId>> {
    let mut roots: Vec<ObjectId> = Vec::new();
    roots.extend(repo.refs.head_commit()?);
    for prefix in ["refs/heads/", "refs/tags/", "refs/autosave/"] {
        roots.extend(repo.refs.list(prefix)?.into_iter().map(|(_, id)| id));
    }
    let mut trees = Vec::new();
    if let Some(j) = Journal::read(&repo.store)? {
        roots.extend(j.old_head);
        roots.extend(j.new_head);
        trees.push(j.target_tree);
    }
    let mut seen = HashSet::new();
    let mut blobs = Vec::new();
    while let Some(c) = roots.pop() {
        if !seen.insert(c) {
            continue;
        }
        let commit = repo.odb.read_commit(&c)?;
        roots.extend(commit.parents.iter().copied());
        trees.push(commit.tree);
    }
    while let Some(t) = trees.pop() {
        if !seen.insert(t) {
            continue;
        }
        for e in repo.odb.read_tree(&t)?.entries {
            if e.kind == EntryKind::Dir {
                trees.push(e.id);
            } else {
                blobs.push(e.id);
            }
        }
    }
    while let Some(b) = blobs.pop() {
        if !seen.insert(b) {
            continue;
        }
        match repo.odb.info(&b) {
            Ok(info) => blobs.extend(info.delta.map(|(base, _)| base)),
            Err(Error::Missing(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(seen)
}

pub fn gc(repo: &Repository, grace: Duration, dry_run: bool) -> Result<GcReport> {
    let _lock = repo.lock()?;
    let keep = reachable(repo)?;
    let all = repo.odb.all_ids()?;
    let now = SystemTime::now();
    let mut report = GcReport {
        objects: all.len(),
        reachable: keep.len(),
        removed: 0,
        freed_bytes: 0,
        kept_recent: 0,
        dry_run,
    };
    for id in all {
        if keep.contains(&id) {
            continue;
        }
        let path = repo.odb.path_of(&id);
        let Ok(md) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let age = md
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or_default();
        if age < grace {
            report.kept_recent += 1;
            continue;
        }
        if !dry_run {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            crate::fault::point();
        }
        report.removed += 1;
        report.freed_bytes += md.len();
    }
    Ok(report)
}
