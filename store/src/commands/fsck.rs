//! `fsck [--repair]`: re-hashes every object (following delta chains),
//! decodes every reachable commit and tree, checks refs, the journal and
//! the stat cache, and reports missing, corrupt and dangling objects by id
//! and by the paths and commits that use them. `--repair` rewrites a
//! damaged or missing blob from a file in the home with the same content.

use std::collections::{BTreeMap, HashMap, HashSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::diff::{flatten, Layered};
use crate::error::{Error, Result};
use crate::fsutil::{display_bytes, join_rel};
use crate::id::{hash_content, read_content, ObjectId};
use crate::index::Index;
use crate::journal::Journal;
use crate::object::{EntryKind, ObjectKind};
use crate::progress::Progress;
use crate::repo::Repository;
use crate::scan::scan;

#[derive(Debug, Serialize)]
pub struct Problem {
    /// The object concerned, if the problem is an object.
    pub object: Option<ObjectId>,
    pub what: String,
    /// Paths (`commit:path`) and refs that use it.
    pub used_by: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FsckReport {
    pub objects: usize,
    pub reachable: usize,
    pub dangling: Vec<ObjectId>,
    pub problems: Vec<Problem>,
    pub repaired: Vec<String>,
    pub clean: bool,
}

const USES_SHOWN: usize = 5;

pub fn fsck(repo: &Repository, repair: bool, progress: &dyn Progress) -> Result<FsckReport> {
    let _lock = if repair { Some(repo.lock()?) } else { None };
    let all = repo.odb.all_ids()?;
    progress.begin("verifying", all.len() as u64);
    let bad: HashMap<ObjectId, String> = all
        .par_iter()
        .filter_map(|id| {
            let r = repo.odb.copy_to(id, &mut std::io::sink());
            progress.advance(1);
            r.err().map(|e| (*id, e.to_string()))
        })
        .collect();
    progress.end();
    let present: HashSet<ObjectId> = all.iter().copied().collect();

    let mut problems = Vec::new();
    let mut uses: BTreeMap<ObjectId, Vec<String>> = BTreeMap::new();
    let mut note_use = |id: ObjectId, by: String| {
        let v = uses.entry(id).or_default();
        if v.len() < USES_SHOWN {
            v.push(by);
        }
    };

    // Refs and what they name.
    let mut roots: Vec<(ObjectId, String)> = Vec::new();
    match repo.refs.head_commit() {
        Ok(h) => roots.extend(h.map(|h| (h, "HEAD".to_string()))),
        Err(e) => problems.push(Problem {
            object: None,
            what: format!("HEAD: {e}"),
            used_by: vec![],
        }),
    }
    for prefix in ["refs/heads/", "refs/tags/", "refs/autosave/"] {
        match repo.refs.list(prefix) {
            Ok(list) => roots.extend(list.into_iter().map(|(n, id)| (id, n))),
            Err(e) => problems.push(Problem {
                object: None,
                what: format!("{prefix}: {e}"),
                used_by: vec![],
            }),
        }
    }
    let mut trees: Vec<(ObjectId, String)> = Vec::new();
    match Journal::read(&repo.store) {
        Ok(Some(j)) => {
            roots.extend(j.old_head.map(|h| (h, "journal".to_string())));
            roots.extend(j.new_head.map(|h| (h, "journal".to_string())));
            trees.push((j.target_tree, "journal target".into()));
        }
        Ok(None) => {}
        Err(e) => problems.push(Problem {
            object: None,
            what: e.to_string(),
            used_by: vec![],
        }),
    }

    // Walk history: commits, then trees with their paths, then blobs.
    let mut seen = HashSet::new();
    let mut blobs: Vec<ObjectId> = Vec::new();
    while let Some((c, by)) = roots.pop() {
        note_use(c, by.clone());
        if !seen.insert(c) || bad.contains_key(&c) || !present.contains(&c) {
            continue;
        }
        match repo.odb.read_commit(&c) {
            Ok(commit) => {
                roots.extend(
                    commit
                        .parents
                        .iter()
                        .map(|p| (*p, format!("parent of commit {}", c.short()))),
                );
                trees.push((commit.tree, format!("commit {}", c.short())));
            }
            Err(e) => problems.push(Problem {
                object: Some(c),
                what: e.to_string(),
                used_by: vec![],
            }),
        }
    }
    while let Some((t, path)) = trees.pop() {
        note_use(t, path.clone());
        if !seen.insert(t) || bad.contains_key(&t) || !present.contains(&t) {
            continue;
        }
        match repo.odb.read_tree(&t) {
            Ok(tree) => {
                for e in tree.entries {
                    let p = format!("{path}/{}", display_bytes(&e.name));
                    if e.kind == EntryKind::Dir {
                        trees.push((e.id, p));
                    } else {
                        note_use(e.id, p);
                        blobs.push(e.id);
                    }
                }
            }
            Err(e) => problems.push(Problem {
                object: Some(t),
                what: e.to_string(),
                used_by: vec![],
            }),
        }
    }
    while let Some(b) = blobs.pop() {
        if !seen.insert(b) || bad.contains_key(&b) || !present.contains(&b) {
            continue;
        }
        if let Ok(info) = repo.odb.info(&b) {
            if info.kind != ObjectKind::Blob {
                problems.push(Problem {
                    object: Some(b),
                    what: format!(
                        "a tree entry names it as a file, but it is a {}",
                        info.kind.name()
                    ),
                    used_by: vec![],
                });
            }
            if let Some((base, _)) = info.delta {
                note_use(base, format!("delta base of {}", b.short()));
                blobs.push(base);
            }
        }
    }
    for id in &seen {
        if !present.contains(id) {
            problems.push(Problem {
                object: Some(*id),
                what: format!("object {id} is missing"),
                used_by: vec![],
            });
        }
    }
    for (id, why) in &bad {
        let what = if seen.contains(id) {
            why.clone()
        } else {
            format!("{why} (not reachable from any ref)")
        };
        problems.push(Problem {
            object: Some(*id),
            what,
            used_by: vec![],
        });
    }
    for p in &mut problems {
        if let Some(id) = p.object {
            p.used_by = uses.get(&id).cloned().unwrap_or_default();
        }
    }
    if Index::check_file(&repo.index_path()) == Some(false) {
        problems.push(Problem {
            object: None,
            what: format!(
                "{} (the stat cache) is damaged; it is ignored and rebuilt by the next command",
                repo.index_path().display()
            ),
            used_by: vec![],
        });
    }

    let mut repaired = Vec::new();
    if repair {
        repaired = repair_from_home(repo, &mut problems, progress)?;
    }
    let dangling: Vec<ObjectId> = all
        .iter()
        .filter(|id| !seen.contains(id) && !bad.contains_key(id))
        .copied()
        .collect();
    problems.sort_by(|a, b| a.what.cmp(&b.what));
    Ok(FsckReport {
        objects: all.len(),
        reachable: seen.len(),
        dangling,
        clean: problems.is_empty(),
        problems,
        repaired,
    })
}

/// Rewrites damaged or missing blobs from files in the home with the same
/// content; removes the problems it fixed.
fn repair_from_home(
    repo: &Repository,
    problems: &mut Vec<Problem>,
    progress: &dyn Progress,
) -> Result<Vec<String>> {
    let wanted: HashSet<ObjectId> = problems.iter().filter_map(|p| p.object).collect();
    if wanted.is_empty() {
        if Index::check_file(&repo.index_path()) == Some(false) {
            let _ = std::fs::remove_file(repo.index_path());
            problems.retain(|p| !p.what.contains("stat cache"));
            return Ok(vec!["removed the damaged stat cache".into()]);
        }
        return Ok(Vec::new());
    }
    let mut index = Index::default();
    let snap = scan(repo, &mut index, None, progress)?;
    let src = Layered {
        mem: &snap.trees,
        odb: &repo.odb,
    };
    let mut found: HashMap<ObjectId, Vec<u8>> = HashMap::new();
    for (path, e) in flatten(&src, snap.root)? {
        if matches!(e.kind, EntryKind::File | EntryKind::Executable) && wanted.contains(&e.id) {
            found.entry(e.id).or_insert(path);
        }
    }
    let mut repaired = Vec::new();
    let batch = repo.batch();
    let mut fixed = HashSet::new();
    for (id, rel) in &found {
        let abs = join_rel(&repo.home, rel);
        let md = std::fs::metadata(&abs).map_err(|e| Error::io(&abs, e))?;
        let content = read_content(&abs, md.len())?;
        if hash_content(&content) != *id {
            continue; // changed since the scan
        }
        let obj = repo.odb.path_of(id);
        if obj.exists() {
            std::fs::remove_file(&obj).map_err(|e| Error::io(&obj, e))?;
        }
        repo.odb.write(&batch, ObjectKind::Blob, *id, &content)?;
        repaired.push(format!("{id} from {}", display_bytes(rel)));
        fixed.insert(*id);
    }
    batch.finish()?;
    problems.retain(|p| p.object.is_none_or(|o| !fixed.contains(&o)));
    Ok(repaired)
}
