//! `checkout REV [-- PATH...]`: make the tracked home exactly REV (or just
//! the given paths). Uncommitted changes make it refuse, or with `force`
//! are first saved as a commit under `refs/autosave/`. A whole-tree
//! checkout of anything but a branch is recorded as a commit of kind
//! `checkout` on the current branch, so history shows every rollback.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::checkout::{move_home, Applied};
use crate::commands::commit::{make_commit, snapshot_to_store};
use crate::commands::status::working_changes;
use crate::commands::{format_time, now};
use crate::diff::{diff_trees, lookup, Layered, PathFilter};
use crate::error::{Error, Result};
use crate::fsutil::display_bytes;
use crate::id::ObjectId;
use crate::journal::Journal;
use crate::progress::{Progress, Silent};
use crate::refs::{AUTOSAVE, HEADS, TAGS};
use crate::repo::Repository;
use crate::revision::resolve;

#[derive(Default)]
pub struct CheckoutOptions {
    pub rev: String,
    pub paths: Vec<Vec<u8>>,
    pub force: bool,
    pub author: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CheckoutReport {
    pub target: ObjectId,
    pub applied: Applied,
    /// `(ref, commit)` where uncommitted changes were saved first.
    pub autosave: Option<(String, ObjectId)>,
    /// The `checkout` commit recorded on the branch, if any.
    pub recorded: Option<ObjectId>,
    /// The branch HEAD now follows, when REV was a branch.
    pub switched_to: Option<String>,
}

/// Saves the home as it is now under `refs/autosave/<time>`, parented on
/// HEAD, without moving HEAD. Returns the ref and commit.
pub fn autosave(
    repo: &Repository,
    author: Option<String>,
    reason: &str,
) -> Result<(String, ObjectId)> {
    let mut index = crate::index::Index::load(&repo.index_path());
    let (snap, batch) = snapshot_to_store(repo, &mut index, &Silent)?;
    let head = repo.refs.head_commit()?;
    let mut meta = BTreeMap::new();
    meta.insert("kind".to_string(), "autosave".to_string());
    let c = make_commit(
        snap.root,
        head.into_iter().collect(),
        author,
        meta,
        &format!("Autosave before {reason}"),
    );
    let id = repo.odb.write_commit(&batch, &c)?;
    batch.finish()?;
    let stamp: String = format_time(now())
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let mut name = format!("{AUTOSAVE}{stamp}");
    let mut n = 1;
    while repo.refs.read(&name)?.is_some() {
        n += 1;
        name = format!("{AUTOSAVE}{stamp}-{n}");
    }
    repo.refs.write(&name, id)?;
    let _ = index.save(&repo.index_path());
    Ok((name, id))
}

pub fn checkout(
    repo: &Repository,
    opts: CheckoutOptions,
    progress: &dyn Progress,
) -> Result<CheckoutReport> {
    let _lock = repo.lock()?;
    let target = resolve(repo, &opts.rev)?;
    let target_commit = repo.odb.read_commit(&target)?;
    let filter = PathFilter::new(opts.paths.clone());
    let whole = filter.is_all();

    let (mut snap, head, dirty, mut index) = working_changes(repo, &filter, progress)?;
    let head = head.ok_or_else(|| {
        Error::Refused("nothing is committed yet: run `patchvault commit` first".into())
    })?;
    let mut saved = None;
    if !dirty.is_empty() {
        if !opts.force {
            return Err(Error::Dirty(
                dirty
                    .iter()
                    .map(|c| format!("{} {}", c.status().letter(), c.display_path()))
                    .collect(),
            ));
        }
        saved = Some(autosave(
            repo,
            opts.author.clone(),
            &format!("checkout {}", opts.rev),
        )?);
        // The autosave refreshed the stat cache; rescan cheaply to get the trees.
        let again = working_changes(repo, &filter, &Silent)?;
        snap = again.0;
        index = again.3;
    }

    let src = Layered {
        mem: &snap.trees,
        odb: &repo.odb,
    };
    let changes = diff_trees(&src, Some(snap.root), Some(target_commit.tree), &filter)?;
    // A path that names nothing on either side is a typo, not a no-op.
    for path in &opts.paths {
        if lookup(&src, target_commit.tree, path)?.is_none()
            && lookup(&src, snap.root, path)?.is_none()
        {
            return Err(Error::Invalid(format!(
                "path {} is in neither {} nor the home (paths are relative to the product home); nothing was changed",
                display_bytes(path),
                opts.rev
            )));
        }
    }

    // Where HEAD goes: a branch named by REV, or a `checkout` commit on the
    // current branch recording the rollback (stored before the home moves).
    let mut recorded = None;
    let mut switched_to = None;
    let mut branch = None;
    let branch_ref = format!("{HEADS}{}", opts.rev);
    let is_branch = repo.refs.read(&branch_ref)?.is_some()
        && repo.refs.read(&format!("{TAGS}{}", opts.rev))?.is_none();
    if whole && is_branch {
        branch = Some(branch_ref);
        switched_to = Some(opts.rev.clone());
    } else if whole {
        let head_tree = repo.odb.read_commit(&head)?.tree;
        if head_tree != target_commit.tree {
            let mut meta = BTreeMap::new();
            meta.insert("kind".to_string(), "checkout".to_string());
            meta.insert("checkout-of".to_string(), target.to_hex());
            let msg = format!(
                "Check out {} ({})\n\nThe home was returned to the state of commit {}:\n{}",
                opts.rev,
                target.short(),
                target,
                target_commit.summary()
            );
            let c = make_commit(target_commit.tree, vec![head], opts.author, meta, &msg);
            let batch = repo.batch();
            let id = repo.odb.write_commit(&batch, &c)?;
            batch.finish()?;
            recorded = Some(id);
        }
    }
    let journal = Journal {
        op: "checkout".into(),
        old_head: Some(head),
        new_head: recorded,
        branch,
        target_tree: target_commit.tree,
        paths: if whole {
            Vec::new()
        } else {
            opts.paths.clone()
        },
        tags: Vec::new(),
    };
    let applied = move_home(repo, &src, &changes, &journal, &mut index, progress)?;
    let _ = index.save(&repo.index_path());
    Ok(CheckoutReport {
        target,
        applied,
        autosave: saved,
        recorded,
        switched_to,
    })
}
