//! `show REV`: one commit, its metadata and what it changed relative to its
//! first parent.

use serde::Serialize;

use crate::commands::{decorations, ChangeView, CommitView};
use crate::diff::{diff_trees, PathFilter};
use crate::error::Result;
use crate::repo::Repository;
use crate::revision::resolve;

#[derive(Debug, Serialize)]
pub struct ShowReport {
    pub commit: CommitView,
    /// Files in the commit's tree and their total size.
    pub files: usize,
    pub bytes: u64,
    pub changes: Vec<ChangeView>,
}

pub fn show(repo: &Repository, rev: &str) -> Result<ShowReport> {
    let id = resolve(repo, rev)?;
    let c = repo.odb.read_commit(&id)?;
    let parent_tree = match c.parents.first() {
        Some(p) => Some(repo.odb.read_commit(p)?.tree),
        None => None,
    };
    let changes = diff_trees(&repo.odb, parent_tree, Some(c.tree), &PathFilter::default())?;
    let all = crate::diff::flatten(&repo.odb, c.tree)?;
    let files = all
        .iter()
        .filter(|(_, e)| e.kind != crate::object::EntryKind::Dir)
        .count();
    let bytes = repo.odb.read_tree(&c.tree)?.total_size();
    let refs = decorations(repo)?.remove(&id).unwrap_or_default();
    Ok(ShowReport {
        commit: CommitView::new(id, &c, refs),
        files,
        bytes,
        changes: changes.iter().map(ChangeView::from).collect(),
    })
}
