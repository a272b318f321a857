//! Git export: writes patchvault's history into a bare git repository
//! through gix — blobs as blobs, trees with git's modes and order, commits
//! with the same author, time and message plus a `Patchvault-Commit:`
//! trailer, branches, tags and autosaves as refs. Conversion is
//! deterministic (the same history gives the same git ids) and incremental:
//! a map of what was exported is kept beside the git objects.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use gix::refs::transaction::PreviousValue;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::id::ObjectId;
use crate::object::{Commit, EntryKind};
use crate::progress::Progress;
use crate::refs::{AUTOSAVE, HEADS, TAGS};
use crate::repo::Repository;

/// Name of the export map inside the git directory.
pub const MAP_FILE: &str = "patchvault-export";

#[derive(Debug, Serialize)]
pub struct ExportReport {
    pub dir: PathBuf,
    pub new_commits: usize,
    pub known_commits: usize,
    pub refs: Vec<String>,
}

fn git_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("git export: {what}: {e}"))
}

#[derive(Default)]
struct ExportMap {
    commits: HashMap<ObjectId, gix::ObjectId>,
    trees: HashMap<ObjectId, gix::ObjectId>,
    blobs: HashMap<ObjectId, gix::ObjectId>,
}

impl ExportMap {
    fn load(path: &Path) -> ExportMap {
        let mut m = ExportMap::default();
        let Ok(text) = std::fs::read_to_string(path) else {
            return m;
        };
        for line in text.lines() {
            let mut it = line.split(' ');
            let (Some(k), Some(pv), Some(g)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let (Some(pv), Ok(g)) = (
                ObjectId::from_hex(pv),
                gix::ObjectId::from_hex(g.as_bytes()),
            ) else {
                continue;
            };
            match k {
                "c" => m.commits.insert(pv, g),
                "t" => m.trees.insert(pv, g),
                "b" => m.blobs.insert(pv, g),
                _ => None,
            };
        }
        m
    }

    fn save(&self, path: &Path) -> Result<()> {
        let mut lines: Vec<String> = Vec::new();
        for (k, m) in [("c", &self.commits), ("t", &self.trees), ("b", &self.blobs)] {
            lines.extend(m.iter().map(|(pv, g)| format!("{k} {pv} {g}")));
        }
        lines.sort();
        fsutil::atomic_write(path, (lines.join("\n") + "\n").as_bytes())
    }
}

/// "Name <email>" → (name, email); anything else is a name without email.
fn split_author(author: &str) -> (String, String) {
    match (author.rfind('<'), author.rfind('>')) {
        (Some(a), Some(b)) if a < b => (
            author[..a].trim().to_string(),
            author[a + 1..b].trim().to_string(),
        ),
        _ => (author.trim().to_string(), String::new()),
    }
}

struct Exporter<'a> {
    repo: &'a Repository,
    git: gix::Repository,
    map: ExportMap,
}

impl Exporter<'_> {
    fn has(&self, id: gix::ObjectId) -> bool {
        self.git.has_object(id)
    }

    fn blob(&mut self, id: ObjectId) -> Result<gix::ObjectId> {
        if let Some(g) = self.map.blobs.get(&id).copied().filter(|g| self.has(*g)) {
            return Ok(g);
        }
        let bytes = self.repo.odb.read_blob(&id)?;
        let g = self
            .git
            .write_blob(&bytes)
            .map_err(|e| git_err("writing a blob", e))?
            .detach();
        self.map.blobs.insert(id, g);
        Ok(g)
    }

    fn tree(&mut self, id: ObjectId) -> Result<gix::ObjectId> {
        if let Some(g) = self.map.trees.get(&id).copied().filter(|g| self.has(*g)) {
            return Ok(g);
        }
        let tree = self.repo.odb.read_tree(&id)?;
        let mut entries = Vec::with_capacity(tree.entries.len());
        for e in &tree.entries {
            let (kind, oid) = match e.kind {
                EntryKind::Dir => (gix::objs::tree::EntryKind::Tree, self.tree(e.id)?),
                EntryKind::File => (gix::objs::tree::EntryKind::Blob, self.blob(e.id)?),
                EntryKind::Executable => {
                    (gix::objs::tree::EntryKind::BlobExecutable, self.blob(e.id)?)
                }
                EntryKind::Symlink => (gix::objs::tree::EntryKind::Link, self.blob(e.id)?),
            };
            entries.push(gix::objs::tree::Entry {
                mode: kind.into(),
                filename: e.name.clone().into(),
                oid,
            });
        }
        // Git orders directories as if their names ended in '/'.
        entries.sort();
        let g = self
            .git
            .write_object(gix::objs::Tree { entries })
            .map_err(|e| git_err("writing a tree", e))?
            .detach();
        self.map.trees.insert(id, g);
        Ok(g)
    }

    fn commit(&mut self, id: ObjectId, c: &Commit) -> Result<gix::ObjectId> {
        let tree = self.tree(c.tree)?;
        let mut parents = Vec::new();
        for p in &c.parents {
            let g = self.map.commits.get(p).copied().ok_or_else(|| {
                git_err(
                    "history order",
                    format!("parent {} not exported first", p.short()),
                )
            })?;
            parents.push(g);
        }
        let (name, email) = split_author(&c.author);
        let sig = gix::actor::Signature {
            name: name.into(),
            email: email.into(),
            time: gix::date::Time {
                seconds: c.time,
                offset: i32::from(c.tz_minutes) * 60,
            },
        };
        let message = format!("{}\n\nPatchvault-Commit: {id}\n", c.message.trim_end());
        let obj = gix::objs::Commit {
            tree,
            parents: parents.into_iter().collect(),
            author: sig.clone(),
            committer: sig,
            encoding: None,
            message: message.into(),
            extra_headers: Vec::new(),
        };
        let g = self
            .git
            .write_object(obj)
            .map_err(|e| git_err("writing a commit", e))?
            .detach();
        self.map.commits.insert(id, g);
        Ok(g)
    }
}

pub fn export(repo: &Repository, dir: &Path, progress: &dyn Progress) -> Result<ExportReport> {
    let git = if dir.join("HEAD").is_file() && dir.join("objects").is_dir() {
        gix::open(dir).map_err(|e| git_err(&format!("opening {}", dir.display()), e))?
    } else {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        gix::init_bare(dir).map_err(|e| git_err(&format!("creating {}", dir.display()), e))?
    };
    let map_path = dir.join(MAP_FILE);
    let mut ex = Exporter {
        repo,
        map: ExportMap::load(&map_path),
        git,
    };

    // Every ref, then the commits they reach, parents before children.
    let mut refs: Vec<(String, ObjectId)> = Vec::new();
    for prefix in [HEADS, TAGS, AUTOSAVE] {
        refs.extend(repo.refs.list(prefix)?);
    }
    let mut order: Vec<(ObjectId, Commit)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<(ObjectId, bool)> = refs.iter().map(|(_, id)| (*id, false)).collect();
    let mut loaded: HashMap<ObjectId, Commit> = HashMap::new();
    while let Some((id, expanded)) = stack.pop() {
        if expanded {
            if let Some(c) = loaded.remove(&id) {
                order.push((id, c));
            }
            continue;
        }
        if !seen.insert(id) {
            continue;
        }
        let c = repo.odb.read_commit(&id)?;
        stack.push((id, true));
        for p in c.parents.iter().rev() {
            if !seen.contains(p) {
                stack.push((*p, false));
            }
        }
        loaded.insert(id, c);
    }

    let mut new_commits = 0;
    let mut known = 0;
    progress.begin("exporting", order.len() as u64);
    for (id, c) in &order {
        if ex.map.commits.get(id).is_some_and(|g| ex.has(*g)) {
            known += 1;
        } else {
            ex.commit(*id, c)?;
            new_commits += 1;
        }
        progress.advance(1);
    }
    progress.end();

    let mut written = Vec::new();
    for (name, id) in &refs {
        let Some(g) = ex.map.commits.get(id).copied() else {
            continue;
        };
        if let Some(t) = name.strip_prefix(TAGS) {
            ex.git
                .tag_reference(t, g, PreviousValue::Any)
                .map_err(|e| git_err(&format!("tag {t}"), e))?;
        } else {
            ex.git
                .reference(name.as_str(), g, PreviousValue::Any, "patchvault export")
                .map_err(|e| git_err(&format!("ref {name}"), e))?;
        }
        written.push(name.clone());
    }
    if let crate::refs::Head::Branch(b) = repo.refs.read_head()? {
        fsutil::atomic_write(&dir.join("HEAD"), format!("ref: {b}\n").as_bytes())?;
    }
    ex.map.save(&map_path)?;
    Ok(ExportReport {
        dir: dir.to_path_buf(),
        new_commits,
        known_commits: known,
        refs: written,
    })
}
