//! Refs: `HEAD` (a branch or a detached commit), branches under
//! `refs/heads/`, tags under `refs/tags/`, autosaves under `refs/autosave/`.
//! Each ref is one small file written atomically; a ref is only ever moved
//! after the objects it names are durable (the caller's `Batch::finish`).

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::id::ObjectId;

pub const DEFAULT_BRANCH: &str = "refs/heads/main";
pub const TAGS: &str = "refs/tags/";
pub const HEADS: &str = "refs/heads/";
pub const AUTOSAVE: &str = "refs/autosave/";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Head {
    /// HEAD follows a branch (full ref name), which may not exist yet.
    Branch(String),
    /// HEAD names a commit directly.
    Detached(ObjectId),
}

pub struct Refs {
    root: PathBuf,
}

/// Checks a short ref name (a tag or branch name).
pub fn validate_ref_name(name: &str) -> Result<()> {
    let why = if name.is_empty() {
        "empty"
    } else if name.len() > 200 {
        "longer than 200 bytes"
    } else if name
        .split('/')
        .any(|c| c.is_empty() || c.starts_with('.') || c.ends_with(".lock"))
    {
        "has an empty part, a part starting with '.' or ending in '.lock'"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+' | b'@' | b'/'))
    {
        "may only hold letters, digits and . _ - + @ /"
    } else if name == "HEAD" {
        "HEAD is reserved"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName(name.to_string(), why))
}

impl Refs {
    pub fn new(store: &Path) -> Refs {
        Refs {
            root: store.to_path_buf(),
        }
    }

    fn path(&self, full: &str) -> PathBuf {
        self.root.join(full)
    }

    pub fn read_head(&self) -> Result<Head> {
        let p = self.path("HEAD");
        let text = fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        let text = text.trim_end();
        if let Some(r) = text.strip_prefix("ref: ") {
            if r.strip_prefix(HEADS)
                .map(validate_ref_name)
                .transpose()
                .is_err()
                || !r.starts_with(HEADS)
            {
                return Err(Error::BadStore {
                    path: p,
                    reason: format!("HEAD names an invalid branch {r:?}"),
                });
            }
            Ok(Head::Branch(r.to_string()))
        } else {
            ObjectId::from_hex(text)
                .map(Head::Detached)
                .ok_or_else(|| Error::BadStore {
                    path: p,
                    reason: "HEAD holds neither a ref nor an id".into(),
                })
        }
    }

    pub fn set_head(&self, head: &Head) -> Result<()> {
        let text = match head {
            Head::Branch(r) => format!("ref: {r}\n"),
            Head::Detached(id) => format!("{id}\n"),
        };
        fsutil::atomic_write(&self.path("HEAD"), text.as_bytes())
    }

    /// The commit HEAD resolves to, or None on an unborn branch.
    pub fn head_commit(&self) -> Result<Option<ObjectId>> {
        match self.read_head()? {
            Head::Branch(r) => self.read(&r),
            Head::Detached(id) => Ok(Some(id)),
        }
    }

    /// Moves HEAD (its branch, or HEAD itself when detached) to `id`.
    pub fn update_head(&self, id: ObjectId) -> Result<()> {
        match self.read_head()? {
            Head::Branch(r) => self.write(&r, id),
            Head::Detached(_) => self.set_head(&Head::Detached(id)),
        }
    }

    /// Moves HEAD to `new` only if it still names `expected` (or already
    /// names `new`): a compare-and-swap under the store lock.
    pub fn update_head_checked(&self, expected: Option<ObjectId>, new: ObjectId) -> Result<()> {
        let current = self.head_commit()?;
        if current != expected && current != Some(new) {
            return Err(Error::Refused(format!(
                "HEAD moved from {} to {} while this command ran; HEAD was left as it is",
                expected.map_or("nothing".into(), |i| i.short()),
                current.map_or("nothing".into(), |i| i.short())
            )));
        }
        self.update_head(new)
    }

    /// Reads a full ref name such as `refs/tags/patch0000`.
    pub fn read(&self, full: &str) -> Result<Option<ObjectId>> {
        if !full.starts_with("refs/") || validate_ref_name(&full["refs/".len()..]).is_err() {
            return Ok(None);
        }
        let p = self.path(full);
        match fs::read_to_string(&p) {
            Ok(t) => ObjectId::from_hex(t.trim_end())
                .map(Some)
                .ok_or_else(|| Error::BadStore {
                    path: p,
                    reason: damaged_ref_advice(full),
                }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::IsADirectory => Ok(None),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    pub fn write(&self, full: &str, id: ObjectId) -> Result<()> {
        let short = full
            .strip_prefix("refs/")
            .ok_or_else(|| Error::InvalidName(full.into(), "must start with refs/"))?;
        validate_ref_name(short)?;
        let p = self.path(full);
        if let Some(dir) = p.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        fsutil::atomic_write(&p, format!("{id}\n").as_bytes())
    }

    pub fn delete(&self, full: &str) -> Result<bool> {
        let p = self.path(full);
        match fs::remove_file(&p) {
            Ok(()) => {
                if let Some(dir) = p.parent() {
                    fsutil::fsync_dir(dir)?;
                }
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    /// All refs under `prefix` (e.g. `refs/tags/`), sorted by name.
    pub fn list(&self, prefix: &str) -> Result<Vec<(String, ObjectId)>> {
        let mut out = Vec::new();
        let dir = self.path(prefix.trim_end_matches('/'));
        self.list_into(&dir, prefix.trim_end_matches('/'), &mut out)?;
        out.sort();
        Ok(out)
    }

    fn list_into(&self, dir: &Path, name: &str, out: &mut Vec<(String, ObjectId)>) -> Result<()> {
        let rd = match fs::read_dir(dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(dir, e)),
        };
        for ent in rd {
            let ent = ent.map_err(|e| Error::io(dir, e))?;
            let Some(fname) = ent.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if fname.starts_with('.') {
                continue; // temp files of an atomic write in progress
            }
            let full = format!("{name}/{fname}");
            let ft = ent.file_type().map_err(|e| Error::io(ent.path(), e))?;
            if ft.is_dir() {
                self.list_into(&ent.path(), &full, out)?;
            } else if let Some(id) = self.read(&full)? {
                out.push((full, id));
            }
        }
        Ok(())
    }
}

/// What to do about a ref file that does not hold an object id.
fn damaged_ref_advice(full: &str) -> String {
    let what = "does not hold an object id (damaged)";
    match full.strip_prefix(TAGS) {
        Some(tag) => format!(
            "{what}; remove it with `patchvault tag -d {tag}` and set it again with `patchvault tag {tag} REV` (`patchvault log --all` shows the commits)"
        ),
        None => format!(
            "{what}; write the right commit id into it (`patchvault log --all` and `patchvault fsck` show the commits), or restore the store from a backup"
        ),
    }
}
