//! `commit`: record the home as a new commit. The first commit is the
//! baseline and is tagged `patch0000`.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use crate::commands::now;
use crate::diff::flatten;
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::index::Index;
use crate::object::Commit;
use crate::object::EntryKind;
use crate::odb::Batch;
use crate::progress::Progress;
use crate::refs::TAGS;
use crate::repo::{default_author, Repository};
use crate::scan::{scan, Snapshot, WriteTo};

/// Tag given to the first commit of a store.
pub const BASELINE_TAG: &str = "patch0000";

#[derive(Default)]
pub struct CommitOptions {
    pub message: String,
    pub author: Option<String>,
    pub allow_empty: bool,
    /// Extra metadata (`kind` defaults to `baseline` for the first commit,
    /// `manual` otherwise).
    pub meta: BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct CommitResult {
    pub id: ObjectId,
    pub tree: ObjectId,
    pub parent: Option<ObjectId>,
    pub kind: String,
    pub files: usize,
    pub bytes: u64,
    pub hashed: usize,
    pub hashed_bytes: u64,
    pub new_objects: usize,
    pub tags: Vec<String>,
    pub skipped: Vec<String>,
    pub warnings: Vec<String>,
}

/// Scans the home storing new objects; returns the snapshot and the
/// still-open batch (the caller finishes it before moving any ref).
pub fn snapshot_to_store(
    repo: &Repository,
    index: &mut Index,
    progress: &dyn Progress,
) -> Result<(Snapshot, Batch)> {
    let batch = repo.batch();
    let bases = head_blobs(repo)?;
    let snap = scan(
        repo,
        index,
        Some(&WriteTo {
            batch: &batch,
            bases: &bases,
        }),
        progress,
    )?;
    Ok((snap, batch))
}

/// Path → blob id of every file in HEAD's tree (delta bases for new versions).
pub fn head_blobs(repo: &Repository) -> Result<HashMap<Vec<u8>, ObjectId>> {
    let Some(head) = repo.refs.head_commit()? else {
        return Ok(HashMap::new());
    };
    let tree = repo.odb.read_commit(&head)?.tree;
    Ok(flatten(&repo.odb, tree)?
        .into_iter()
        .filter(|(_, e)| matches!(e.kind, EntryKind::File | EntryKind::Executable))
        .map(|(p, e)| (p, e.id))
        .collect())
}

/// Builds a commit object for `tree` on top of `parents`.
pub fn make_commit(
    tree: ObjectId,
    parents: Vec<ObjectId>,
    author: Option<String>,
    meta: BTreeMap<String, String>,
    message: &str,
) -> Commit {
    let mut message = message.trim_end().to_string();
    message.push('\n');
    Commit {
        tree,
        parents,
        author: author.unwrap_or_else(default_author),
        time: now(),
        tz_minutes: 0,
        meta,
        message,
    }
}

pub fn commit(
    repo: &Repository,
    opts: CommitOptions,
    progress: &dyn Progress,
) -> Result<CommitResult> {
    if opts.message.trim().is_empty() {
        return Err(Error::Invalid(
            "a commit needs a message: pass -m MESSAGE".into(),
        ));
    }
    let _lock = repo.lock()?;
    let mut index = Index::load(&repo.index_path());
    let (snap, batch) = snapshot_to_store(repo, &mut index, progress)?;
    let parent = repo.refs.head_commit()?;
    if let Some(p) = parent {
        let pc = repo.odb.read_commit(&p)?;
        if pc.tree == snap.root && !opts.allow_empty {
            // Keep the fresh stat cache even though nothing is committed.
            let _ = index.save(&repo.index_path());
            return Err(Error::Refused(format!(
                "nothing to commit: the home equals HEAD ({}); pass --allow-empty to record it anyway",
                p.short()
            )));
        }
    }
    let mut meta = opts.meta;
    let default_kind = if parent.is_none() {
        "baseline"
    } else {
        "manual"
    };
    meta.entry("kind".into())
        .or_insert_with(|| default_kind.into());
    let kind = meta["kind"].clone();
    let c = make_commit(
        snap.root,
        parent.into_iter().collect(),
        opts.author,
        meta,
        &opts.message,
    );
    let id = repo.odb.write_commit(&batch, &c)?;
    // The sync can take a while after a large first commit: say so.
    progress.begin("syncing", batch.len() as u64);
    let finished = batch.finish();
    progress.end();
    let new_objects = finished?;
    repo.refs.update_head_checked(parent, id)?;
    let mut tags = Vec::new();
    if parent.is_none() && repo.refs.read(&format!("{TAGS}{BASELINE_TAG}"))?.is_none() {
        repo.refs.write(&format!("{TAGS}{BASELINE_TAG}"), id)?;
        tags.push(BASELINE_TAG.to_string());
    }
    let mut warnings = Vec::new();
    if let Err(e) = index.save(&repo.index_path()) {
        warnings.push(format!(
            "could not update the stat cache ({e}); the next command hashes every file again"
        ));
    }
    Ok(CommitResult {
        id,
        tree: snap.root,
        parent,
        kind,
        files: snap.files,
        bytes: snap.bytes,
        hashed: snap.hashed,
        hashed_bytes: snap.hashed_bytes,
        new_objects,
        tags,
        skipped: snap.skipped,
        warnings,
    })
}
