//! `recover`: finish an operation that was interrupted (killed, power
//! lost) after it started moving the home. The journal names the target
//! tree, whose objects are all durable, so the move is completed: the home
//! is brought to the target, HEAD moved, the journal removed. Mutating
//! commands run this first on their own.

use serde::Serialize;

use crate::checkout::{finish, Applied};
use crate::diff::{diff_trees, Layered, PathFilter};
use crate::error::Result;
use crate::id::ObjectId;
use crate::index::Index;
use crate::journal::Journal;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::scan::scan;

#[derive(Debug, Serialize)]
pub struct RecoverReport {
    pub op: String,
    pub target_tree: ObjectId,
    pub head: Option<ObjectId>,
    pub applied: Applied,
}

/// Completes a pending journal, if there is one.
pub fn recover(repo: &Repository, progress: &dyn Progress) -> Result<Option<RecoverReport>> {
    let _lock = repo.lock()?;
    let Some(j) = Journal::read(&repo.store)? else {
        return Ok(None);
    };
    let mut index = Index::load(&repo.index_path());
    let snap = scan(repo, &mut index, None, progress)?;
    let src = Layered {
        mem: &snap.trees,
        odb: &repo.odb,
    };
    let filter = PathFilter::new(j.paths.clone());
    let changes = diff_trees(&src, Some(snap.root), Some(j.target_tree), &filter)?;
    let applied =
        crate::checkout::apply(repo, &src, &changes, j.target_tree, &mut index, progress)?;
    finish(repo, &j)?;
    let _ = index.save(&repo.index_path());
    Ok(Some(RecoverReport {
        op: j.op,
        target_tree: j.target_tree,
        head: repo.refs.head_commit()?,
        applied,
    }))
}

/// Whether an interrupted operation waits to be finished.
pub fn pending(repo: &Repository) -> bool {
    Journal::path(&repo.store).exists()
}
