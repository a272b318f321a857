//! `verify [REV]`: is the home exactly HEAD (or REV)? A tamper check for
//! cron and CI: exit 0 when equal, 5 when anything differs.

use serde::Serialize;

use crate::commands::ChangeView;
use crate::diff::{diff_trees, Layered, PathFilter};
use crate::error::Result;
use crate::id::ObjectId;
use crate::index::Index;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::revision::resolve;
use crate::scan::scan;

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub rev: String,
    pub commit: ObjectId,
    pub equal: bool,
    pub changes: Vec<ChangeView>,
}

pub fn verify(
    repo: &Repository,
    rev: Option<&str>,
    progress: &dyn Progress,
) -> Result<VerifyReport> {
    let rev = rev.unwrap_or("HEAD").to_string();
    let commit = resolve(repo, &rev)?;
    let tree = repo.odb.read_commit(&commit)?.tree;
    let mut index = Index::load(&repo.index_path());
    let snap = scan(repo, &mut index, None, progress)?;
    let src = Layered {
        mem: &snap.trees,
        odb: &repo.odb,
    };
    let changes = diff_trees(&src, Some(tree), Some(snap.root), &PathFilter::default())?;
    Ok(VerifyReport {
        rev,
        commit,
        equal: changes.is_empty(),
        changes: changes.iter().map(ChangeView::from).collect(),
    })
}
