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

pub fn delete(repo: &Repository, name: &str) -> Result<ObjectId> {
    let _lock = repo.lock()?;
    let full = format!("{TAGS}{name}");
    let id = repo.refs.read(&full)?.ok_or_else(|| {
        Error::Invalid(format!(
            "no tag named {name}; `patchvault tag --list` shows the tags"
        ))
    })?;
    repo.refs.delete(&full)?;
    Ok(id)
}
