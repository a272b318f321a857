//! `which PATH`: where the current content of a file came from — the
//! commit (and patch) that last set it, the commit that first recorded
//! that same content (e.g. the baseline, when a revert brought it back),
//! or that the home holds a local, uncommitted change.

use std::path::Path;

use serde::Serialize;

use crate::commands::format_time;
use crate::diff::lookup;
use crate::error::{Error, Result};
use crate::fsutil::{display_bytes, join_rel, path_bytes};
use crate::id::{hash_content, read_content, ObjectId};
use crate::object::{Commit, EntryKind};
use crate::repo::Repository;

#[derive(Debug, Serialize)]
pub struct CommitRef {
    pub id: ObjectId,
    pub kind: String,
    pub summary: String,
    pub date: String,
    pub author: String,
    pub patch: Option<String>,
    pub patch_id: Option<String>,
}

impl CommitRef {
    fn new(id: ObjectId, c: &Commit) -> CommitRef {
        CommitRef {
            id,
            kind: c.kind().to_string(),
            summary: c.summary().to_string(),
            date: format_time(c.time),
            author: c.author.clone(),
            patch: c.meta.get("patch").cloned(),
            patch_id: c.meta.get("patch-id").cloned(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct WhichReport {
    pub path: String,
    /// "committed", "locally modified", "deleted locally" or "not tracked".
    pub state: String,
    /// The id recorded in HEAD.
    pub id: Option<ObjectId>,
    /// The id of the file in the home now.
    pub home_id: Option<ObjectId>,
    /// The commit that gave the path its recorded content.
    pub last_set_by: Option<CommitRef>,
    /// The oldest commit on the branch that recorded this same content here.
    pub first_recorded_by: Option<CommitRef>,
}

fn home_id(repo: &Repository, rel: &[u8]) -> Result<Option<ObjectId>> {
    let abs = join_rel(&repo.home, rel);
    let md = match std::fs::symlink_metadata(&abs) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&abs, e)),
    };
    if md.file_type().is_symlink() {
        let t = std::fs::read_link(&abs).map_err(|e| Error::io(&abs, e))?;
        return Ok(Some(ObjectId::for_blob(path_bytes(&t))));
    }
    if md.is_dir() {
        return Err(Error::Invalid(format!(
            "{} is a directory; name a file",
            abs.display()
        )));
    }
    Ok(Some(hash_content(&read_content(&abs, md.len())?)))
}

pub fn which(repo: &Repository, rel: &Path) -> Result<WhichReport> {
    let rel = path_bytes(rel).to_vec();
    let head = repo
        .refs
        .head_commit()?
        .ok_or_else(|| Error::Refused("nothing is committed yet".into()))?;
    let head_commit = repo.odb.read_commit(&head)?;
    let entry = lookup(&repo.odb, head_commit.tree, &rel)?.filter(|e| e.kind != EntryKind::Dir);
    let now = home_id(repo, &rel)?;
    let state = match (&entry, now) {
        (None, None) => {
            return Err(Error::Invalid(format!(
                "{} is neither recorded in HEAD nor present in the home",
                display_bytes(&rel)
            )))
        }
        (None, Some(_)) => "not tracked",
        (Some(_), None) => "deleted locally",
        (Some(e), Some(n)) if e.id != n => "locally modified",
        _ => "committed",
    };
    let mut last_set_by = None;
    let mut first_recorded_by = None;
    if let Some(e) = &entry {
        let mut cur = Some((head, head_commit));
        while let Some((id, c)) = cur {
            let parent = match c.parents.first() {
                Some(p) => Some((*p, repo.odb.read_commit(p)?)),
                None => None,
            };
            let here = lookup(&repo.odb, c.tree, &rel)?.map(|x| x.id);
            let before = match &parent {
                Some((_, pc)) => lookup(&repo.odb, pc.tree, &rel)?.map(|x| x.id),
                None => None,
            };
            if here == Some(e.id) && before != Some(e.id) {
                if last_set_by.is_none() {
                    last_set_by = Some(CommitRef::new(id, &c));
                }
                first_recorded_by = Some(CommitRef::new(id, &c));
            }
            cur = parent;
        }
    }
    Ok(WhichReport {
        path: display_bytes(&rel),
        state: state.to_string(),
        id: entry.map(|e| e.id),
        home_id: now,
        last_set_by,
        first_recorded_by,
    })
}
