//! `status`: how the home differs from HEAD (added, modified, deleted and
//! type-changed paths), hashing only files whose stat changed.

use serde::Serialize;

use crate::commands::ChangeView;
use crate::diff::{diff_trees, Change, Layered, PathFilter};
use crate::error::Result;
use crate::id::ObjectId;
use crate::index::Index;
use crate::progress::Progress;
use crate::refs::Head;
use crate::repo::Repository;
use crate::scan::{scan, Snapshot};

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub head: Option<ObjectId>,
    pub branch: Option<String>,
    pub clean: bool,
    pub changes: Vec<ChangeView>,
    /// Files read and hashed to answer (the rest came from the stat cache).
    pub hashed: usize,
    pub skipped: Vec<String>,
}

/// Scans the home and diffs it against HEAD (or against nothing before the
/// first commit). Saves the refreshed stat cache when it can.
pub fn working_changes(
    repo: &Repository,
    filter: &PathFilter,
    progress: &dyn Progress,
) -> Result<(Snapshot, Option<ObjectId>, Vec<Change>, Index)> {
    let mut index = Index::load(&repo.index_path());
    let snap = scan(repo, &mut index, None, progress)?;
    let head = repo.refs.head_commit()?;
    let head_tree = match head {
        Some(h) => Some(repo.odb.read_commit(&h)?.tree),
        None => None,
    };
    let src = Layered {
        mem: &snap.trees,
        odb: &repo.odb,
    };
    let changes = diff_trees(&src, head_tree, Some(snap.root), filter)?;
    Ok((snap, head, changes, index))
}

pub fn status(repo: &Repository, progress: &dyn Progress) -> Result<StatusReport> {
    let (snap, head, changes, index) = working_changes(repo, &PathFilter::default(), progress)?;
    if snap.hashed > 0 {
        // A cache refresh; failing to save it (read-only store) only costs speed.
        let _ = index.save(&repo.index_path());
    }
    let branch = match repo.refs.read_head()? {
        Head::Branch(b) => Some(b.trim_start_matches(crate::refs::HEADS).to_string()),
        Head::Detached(_) => None,
    };
    Ok(StatusReport {
        head,
        branch,
        clean: changes.is_empty(),
        changes: changes.iter().map(ChangeView::from).collect(),
        hashed: snap.hashed,
        skipped: snap.skipped,
    })
}
