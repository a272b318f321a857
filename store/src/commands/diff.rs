//! `diff [REV [REV]] [-- PATH...]`: revision to revision, or revision (HEAD
//! by default) to the home. Equal subtrees are skipped by id; text files
//! also get a unified diff.

use serde::Serialize;

use crate::commands::status::working_changes;
use crate::commands::ChangeView;
use crate::diff::{diff_trees, Change, PathFilter};
use crate::error::{Error, Result};
use crate::fsutil::join_rel;
use crate::id::ObjectId;
use crate::object::EntryKind;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::revision::resolve;

/// Text files up to this size get a unified diff.
pub const TEXT_DIFF_LIMIT: u64 = 1 << 20;

#[derive(Default)]
pub struct DiffOptions {
    pub from: Option<String>,
    pub to: Option<String>,
    pub paths: Vec<Vec<u8>>,
    /// Compute unified diffs of text files.
    pub text: bool,
}

#[derive(Debug, Serialize)]
pub struct TextPatch {
    pub path: String,
    pub unified: String,
}

#[derive(Debug, Serialize)]
pub struct DiffReport {
    pub from: String,
    pub to: String,
    pub from_commit: ObjectId,
    /// None when the right side is the home.
    pub to_commit: Option<ObjectId>,
    pub changes: Vec<ChangeView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<TextPatch>,
}

pub fn diff(repo: &Repository, opts: &DiffOptions, progress: &dyn Progress) -> Result<DiffReport> {
    let filter = PathFilter::new(opts.paths.clone());
    let from_label = opts.from.clone().unwrap_or_else(|| "HEAD".into());
    let from_commit = resolve(repo, &from_label)?;
    let from_tree = repo.odb.read_commit(&from_commit)?.tree;
    let (changes, to_commit, to_label) = match &opts.to {
        Some(to) => {
            let id = resolve(repo, to)?;
            let tree = repo.odb.read_commit(&id)?.tree;
            (
                diff_trees(&repo.odb, Some(from_tree), Some(tree), &filter)?,
                Some(id),
                to.clone(),
            )
        }
        None => {
            let (snap, _, _, index) = working_changes(repo, &PathFilter::default(), progress)?;
            if snap.hashed > 0 {
                let _ = index.save(&repo.index_path());
            }
            let src = crate::diff::Layered {
                mem: &snap.trees,
                odb: &repo.odb,
            };
            (
                diff_trees(&src, Some(from_tree), Some(snap.root), &filter)?,
                None,
                "home".to_string(),
            )
        }
    };
    let mut patches = Vec::new();
    if opts.text {
        for c in &changes {
            if let Some(p) = text_patch(repo, c, to_commit.is_none())? {
                patches.push(p);
            }
        }
    }
    Ok(DiffReport {
        from: from_label,
        to: to_label,
        from_commit,
        to_commit,
        changes: changes.iter().map(ChangeView::from).collect(),
        patches,
    })
}

fn side_text(repo: &Repository, c: &Change, new: bool, from_home: bool) -> Result<Option<String>> {
    let side = if new { c.new } else { c.old };
    let Some(s) = side else {
        return Ok(Some(String::new()));
    };
    if !matches!(s.kind, EntryKind::File | EntryKind::Executable) || s.size > TEXT_DIFF_LIMIT {
        return Ok(None);
    }
    let bytes = if new && from_home {
        let p = join_rel(&repo.home, &c.path);
        std::fs::read(&p).map_err(|e| Error::io(&p, e))?
    } else {
        repo.odb.read_blob(&s.id)?
    };
    if bytes.contains(&0) {
        return Ok(None);
    }
    Ok(String::from_utf8(bytes).ok())
}

fn text_patch(repo: &Repository, c: &Change, to_home: bool) -> Result<Option<TextPatch>> {
    let (Some(old), Some(new)) = (
        side_text(repo, c, false, to_home)?,
        side_text(repo, c, true, to_home)?,
    ) else {
        return Ok(None);
    };
    if old == new {
        return Ok(None);
    }
    let path = c.display_path();
    let diff = similar::TextDiff::from_lines(&old, &new);
    let unified = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    Ok(Some(TextPatch { path, unified }))
}
