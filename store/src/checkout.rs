//! Writing trees into the home: given the changes from the home's current
//! state to a target tree, stages every new file (verified against its id)
//! before touching anything, syncs, then removes what the target lacks and
//! renames the staged files into place. Files are replaced atomically, so
//! each one is wholly old or wholly new; only paths that differ are touched.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::diff::{lookup, Change, TreeSource};
use crate::error::{Error, Result};
use crate::fault;
use crate::fsutil::{self, join_rel};
use crate::id::ObjectId;
use crate::index::{Index, Stat};
use crate::journal::Journal;
use crate::object::EntryKind;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::scan::parent_of;

/// Name of the staging directory used when the store is on another file
/// system than the home (never scanned, removed when empty).
pub const STAGING_DIR: &str = ".patchvault-staging";

#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Applied {
    pub written: usize,
    pub written_bytes: u64,
    pub removed: usize,
    pub mode_changed: usize,
}

struct Staged {
    rel: Vec<u8>,
    tmp: PathBuf,
    id: ObjectId,
}

/// Picks a staging directory on the home's file system.
fn staging_dir(repo: &Repository) -> Result<(PathBuf, bool)> {
    let home_dev = fs::metadata(&repo.home)
        .map_err(|e| Error::io(&repo.home, e))?
        .dev();
    let tmp = repo.store.join("tmp");
    fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let tmp_dev = fs::metadata(&tmp).map_err(|e| Error::io(&tmp, e))?.dev();
    if tmp_dev == home_dev {
        return Ok((tmp, false));
    }
    let dir = repo.home.join(STAGING_DIR);
    fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok((dir, true))
}

fn is_dir_kind(k: Option<EntryKind>) -> bool {
    k == Some(EntryKind::Dir)
}

/// Files staged for a checkout, verified and synced, not yet in place.
/// Dropping it removes whatever was not moved into the home.
pub struct Prepared {
    staged: Vec<Staged>,
    stage_dir: PathBuf,
    own_staging: bool,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        for s in &self.staged {
            let _ = fs::remove_file(&s.tmp);
        }
        if self.own_staging {
            let _ = fs::remove_dir(&self.stage_dir);
        }
    }
}

/// Makes the home match the target for the given changes (old = home now,
/// new = target). `target_root` is consulted to keep directories the target
/// still has. Updates `index` for every file written.
pub fn apply(
    repo: &Repository,
    src: &dyn TreeSource,
    changes: &[Change],
    target_root: ObjectId,
    index: &mut Index,
    progress: &dyn Progress,
) -> Result<Applied> {
    let prepared = prepare(repo, changes, progress)?;
    place(repo, src, changes, target_root, prepared, index)
}

/// Step 1: stages every file and symlink to write, verified against its
/// id, and syncs them — before anything in the home changes.
pub fn prepare(repo: &Repository, changes: &[Change], progress: &dyn Progress) -> Result<Prepared> {
    let (stage_dir, own_staging) = staging_dir(repo)?;
    let to_stage: Vec<&Change> = changes
        .iter()
        .filter(|c| {
            c.new.is_some_and(|n| {
                n.kind != EntryKind::Dir
                    && !c.old.is_some_and(|o| {
                        o.id == n.id
                            && o.kind != EntryKind::Symlink
                            && n.kind != EntryKind::Symlink
                            && o.kind != EntryKind::Dir
                    })
            })
        })
        .collect();
    progress.begin("writing", to_stage.len() as u64);
    let staged: Vec<Result<Staged>> = to_stage
        .par_iter()
        .map(|c| {
            let new = c.new.as_ref().ok_or_else(|| {
                Error::Invalid("internal: staged change without a new side".into())
            })?;
            let tmp = stage_dir.join(fsutil::temp_name("checkout"));
            let r = stage_one(repo, &tmp, &c.path, new.kind, &new.id);
            progress.advance(1);
            fault::point();
            r.map(|()| Staged {
                rel: c.path.clone(),
                tmp,
                id: new.id,
            })
        })
        .collect();
    progress.end();
    let mut prepared = Prepared {
        staged: Vec::with_capacity(staged.len()),
        stage_dir,
        own_staging,
    };
    let mut first_err = None;
    for s in staged {
        match s {
            Ok(s) => prepared.staged.push(s),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    fsutil::syncfs(&prepared.stage_dir)?;
    Ok(prepared)
}

/// Steps 2 and 3: removes what the target lacks, moves the staged files
/// into place (each by one rename) and fixes modes.
pub fn place(
    repo: &Repository,
    src: &dyn TreeSource,
    changes: &[Change],
    target_root: ObjectId,
    prepared: Prepared,
    index: &mut Index,
) -> Result<Applied> {
    let mut report = Applied::default();
    // 2. Remove what the target does not have (deepest first).
    let mut removals: Vec<&Change> = changes
        .iter()
        .filter(|c| {
            c.old.is_some()
                && match (c.old.map(|o| o.kind), c.new.map(|n| n.kind)) {
                    (_, None) => true,
                    (o, n) => {
                        is_dir_kind(o) != is_dir_kind(n)
                            || (o == Some(EntryKind::Symlink)) != (n == Some(EntryKind::Symlink))
                    }
                }
        })
        .collect();
    removals.sort_by(|a, b| b.path.cmp(&a.path));
    let mut parents = BTreeSet::new();
    for c in &removals {
        let abs = join_rel(&repo.home, &c.path);
        let r = if is_dir_kind(c.old.map(|o| o.kind)) {
            fs::remove_dir(&abs)
        } else {
            fs::remove_file(&abs)
        };
        match r {
            Ok(()) => report.removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&abs, e)),
        }
        fault::point();
        parents.insert(parent_of(&c.path).to_vec());
    }
    // Directories emptied by the removals and absent from the target go too;
    // a directory still holding ignored files stays.
    let mut prune: Vec<Vec<u8>> = Vec::new();
    for p in parents {
        let mut d = p.as_slice();
        while !d.is_empty() {
            prune.push(d.to_vec());
            d = parent_of(d);
        }
    }
    prune.sort_by(|a, b| b.cmp(a));
    prune.dedup();
    for d in prune {
        if lookup(src, target_root, &d)?.is_none() {
            let abs = join_rel(&repo.home, &d);
            let _ = fs::remove_dir(&abs);
        }
    }

    // 3. Create directories, move staged files into place, fix modes.
    for c in changes {
        if let Some(n) = c.new {
            if n.kind == EntryKind::Dir {
                let abs = join_rel(&repo.home, &c.path);
                fs::create_dir_all(&abs).map_err(|e| Error::io(&abs, e))?;
            }
        }
    }
    let mut dirs_touched = BTreeSet::new();
    for s in &prepared.staged {
        let abs = join_rel(&repo.home, &s.rel);
        if let Some(parent) = abs.parent() {
            if dirs_touched.insert(parent.to_path_buf()) {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
        }
        if fs::symlink_metadata(&abs).is_ok_and(|m| m.is_dir()) {
            return Err(Error::Refused(format!(
                "{} is a directory holding files patchvault does not track (ignored ones); move them away and run the checkout again",
                abs.display()
            )));
        }
        fs::rename(&s.tmp, &abs).map_err(|e| Error::io(&abs, e))?;
        fault::point();
        let md = fs::symlink_metadata(&abs).map_err(|e| Error::io(&abs, e))?;
        report.written += 1;
        report.written_bytes += md.len();
        if md.file_type().is_file() {
            index.insert(s.rel.clone(), Stat::of(&md), s.id);
        }
    }
    for c in changes {
        if let (Some(o), Some(n)) = (c.old, c.new) {
            if o.id == n.id
                && o.kind != n.kind
                && matches!(n.kind, EntryKind::File | EntryKind::Executable)
                && matches!(o.kind, EntryKind::File | EntryKind::Executable)
            {
                let abs = join_rel(&repo.home, &c.path);
                fs::set_permissions(&abs, fs::Permissions::from_mode(n.kind.mode()))
                    .map_err(|e| Error::io(&abs, e))?;
                report.mode_changed += 1;
            }
        }
    }
    fsutil::syncfs(&repo.home)?;
    Ok(report)
}

/// Writes one object to `tmp` with the mode its kind needs.
fn stage_one(
    repo: &Repository,
    tmp: &Path,
    rel: &[u8],
    kind: EntryKind,
    id: &ObjectId,
) -> Result<()> {
    if let Some(e) = fault::write_error() {
        return Err(Error::io(tmp, e));
    }
    if kind == EntryKind::Symlink {
        let target = repo.odb.read_blob(id)?;
        if !link_stays_inside(rel, &target) {
            return Err(Error::Refused(format!(
                "{} would be a symbolic link to {:?}, outside the home; patchvault does not create links that leave the home (nothing was changed)",
                fsutil::display_bytes(rel),
                String::from_utf8_lossy(&target)
            )));
        }
        let target = std::ffi::OsStr::from_bytes(&target);
        return std::os::unix::fs::symlink(target, tmp).map_err(|e| Error::io(tmp, e));
    }
    let mut f = fsutil::create_new(tmp, kind.mode())?;
    let copied = {
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, &mut f);
        repo.odb
            .copy_to(id, &mut w)
            .and_then(|_| w.flush().map_err(|e| Error::io(tmp, e)))
    };
    // create_new's mode is filtered by the umask; set it exactly.
    let r = copied.and_then(|_| {
        f.set_permissions(fs::Permissions::from_mode(kind.mode()))
            .map_err(|e| Error::io(tmp, e))
    });
    if r.is_err() {
        let _ = fs::remove_file(tmp);
    }
    r
}

/// Whether a link at `rel` (relative to the home) pointing to `target`
/// resolves, lexically, to a place inside the home.
pub fn link_stays_inside(rel: &[u8], target: &[u8]) -> bool {
    if target.is_empty() || target.starts_with(b"/") || target.contains(&0) {
        return false;
    }
    // Start from the link's directory and walk the target's components.
    let mut depth: i64 = rel.split(|b| *b == b'/').count() as i64 - 1;
    for c in target.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => depth += 1,
        }
    }
    true
}

/// Moves the home under the operation journal: stage everything (nothing
/// changed yet, so a failure here leaves no journal), write the journal,
/// put the files in place, move HEAD as the journal says, remove it.
pub fn move_home(
    repo: &Repository,
    src: &dyn TreeSource,
    changes: &[Change],
    journal: &Journal,
    index: &mut Index,
    progress: &dyn Progress,
) -> Result<Applied> {
    let prepared = prepare(repo, changes, progress)?;
    journal.write(&repo.store)?;
    let applied = place(repo, src, changes, journal.target_tree, prepared, index)?;
    finish(repo, journal)?;
    Ok(applied)
}

/// The last step of a journaled move: HEAD, then the journal goes.
pub fn finish(repo: &Repository, j: &Journal) -> Result<()> {
    if let Some(b) = &j.branch {
        repo.refs.set_head(&crate::refs::Head::Branch(b.clone()))?;
    } else if let Some(new) = j.new_head {
        repo.refs.update_head_checked(j.old_head, new)?;
        for t in &j.tags {
            repo.refs.write(&format!("{}{t}", crate::refs::TAGS), new)?;
        }
    }
    Journal::remove(&repo.store)
}

#[cfg(test)]
mod tests {
    #[test]
    fn links_that_leave_the_home_are_detected() {
        use super::link_stays_inside as ok;
        assert!(ok(b"repository/components/lib/a.jar", b"../plugins/a.jar"));
        assert!(ok(b"bin/x", b"../repository/conf"));
        assert!(!ok(b"bin/x", b"../../etc/passwd"));
        assert!(!ok(b"x", b"/etc/passwd"));
        assert!(!ok(b"x", b".."));
        assert!(ok(b"a/b", b"./c/../d"));
    }
}
