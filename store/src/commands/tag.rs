//! `tag`: name a commit (`tag NAME [REV]`), list names, delete a name.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::refs::{validate_ref_name, TAGS};
use crate::repo::Repository;
use crate::revision::resolve;

#[derive(Debug, Serialize)]
pub struct TagInfo {
    pub name: String,
    pub commit: ObjectId,
    pub summary: String,
}

pub fn create(repo: &Repository, name: &str, rev: Option<&str>, force: bool) -> Result<ObjectId> {
    validate_ref_name(name)?;
    let _lock = repo.lock()?;
    let id = resolve(repo, rev.unwrap_or("HEAD"))?;
    let full = format!("{TAGS}{name}");
    if let Some(old) = repo.refs.read(&full)? {
        if old != id && !force {
            return Err(Error::Refused(format!(
                "tag {name} already names {}; pass --force to move it",
                old.short()
            )));
        }
    }
    repo.refs.write(&full, id)?;
    Ok(id)
}

pub fn list(repo: &Repository) -> Result<Vec<TagInfo>> {
    repo.refs
        .list(TAGS)?
        .into_iter()
        .map(|(name, id)| {
            let summary = repo.odb.read_commit(&id)?.summary().to_string();
            Ok(TagInfo {
                name: name[TAGS.len()..].to_string(),
                commit: id,
                summary,
            })
        })
        .collect()
}

/// What a deleted tag named: a commit, or (for a damaged tag file) the
/// bytes it held, shown so that nothing is lost without the user seeing it.
#[derive(Debug)]
pub enum Deleted {
    Commit(ObjectId),
    Damaged(String),
}

/// Deletes a tag. A damaged tag file (not an object id) can be deleted
/// too: that is how `fsck`'s report of it is acted on.
pub fn delete(repo: &Repository, name: &str) -> Result<Deleted> {
    validate_ref_name(name)?;
    let _lock = repo.lock()?;
    let full = format!("{TAGS}{name}");
    let was = match repo.refs.read(&full) {
        Ok(Some(id)) => Deleted::Commit(id),
        Ok(None) => {
            return Err(Error::Invalid(format!(
                "no tag named {name}; `patchvault tag --list` shows the tags"
            )))
        }
        Err(Error::BadStore { path, .. }) => {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            Deleted::Damaged(String::from_utf8_lossy(&bytes).escape_debug().to_string())
        }
        Err(e) => return Err(e),
    };
    repo.refs.delete(&full)?;
    Ok(was)
}
