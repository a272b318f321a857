//! `manifest [REV] [-o FILE]` writes a commit's manifest (every path,
//! kind, size and id, the commit id and the applied patches);
//! `manifest --check FILE` verifies the live home against one.

use serde::Serialize;

use crate::carbon::server::Names;
use crate::carbon::Staging;
use crate::commands::patchops::applied;
use crate::commands::ChangeView;
use crate::diff::{diff_trees, Layered, PathFilter};
use crate::error::Result;
use crate::id::ObjectId;
use crate::index::Index;
use crate::manifest::{read_file, Manifest, ManifestPatch};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::revision::resolve;
use crate::scan::scan;

/// The patches applied in a commit, as a manifest records them.
pub fn manifest_patches(
    repo: &Repository,
    commit: ObjectId,
    tree: ObjectId,
) -> Result<Vec<ManifestPatch>> {
    let staging = Staging::new(&repo.odb);
    let mut names = Names::default();
    let (_, list) = applied(repo, &staging, &mut names, commit, tree)?;
    Ok(list
        .into_iter()
        .map(|a| ManifestPatch {
            folder: a.folder,
            patch_id: a.patch_id,
            date: a.date,
            author: a.author,
            jira: a.jira,
        })
        .collect())
}

pub fn manifest(repo: &Repository, rev: Option<&str>) -> Result<Manifest> {
    let commit = resolve(repo, rev.unwrap_or("HEAD"))?;
    let tree = repo.odb.read_commit(&commit)?.tree;
    let patches = manifest_patches(repo, commit, tree)?;
    Manifest::of_tree(&repo.odb, commit, tree, patches)
}

#[derive(Debug, Serialize)]
pub struct CheckReport {
    pub manifest_commit: ObjectId,
    pub equal: bool,
    pub changes: Vec<ChangeView>,
}

/// Compares the home with a manifest file (old = manifest, new = home).
pub fn check(
    repo: &Repository,
    file: &std::path::Path,
    progress: &dyn Progress,
) -> Result<CheckReport> {
    let (m, mut trees) = read_file(file)?;
    let mut index = Index::load(&repo.index_path());
    let snap = scan(repo, &mut index, None, progress)?;
    trees.extend(snap.trees);
    let src = Layered {
        mem: &trees,
        odb: &repo.odb,
    };
    let changes = diff_trees(&src, Some(m.tree), Some(snap.root), &PathFilter::default())?;
    Ok(CheckReport {
        manifest_commit: m.commit,
        equal: changes.is_empty(),
        changes: changes.iter().map(ChangeView::from).collect(),
    })
}
