//! Adopting a home that was patched by hand: when `init` finds
//! `patches/patch0000` and `patchNNNN` folders, it rebuilds the history —
//! a baseline with `plugins/` as in `patch0000`, one commit per patch in
//! the server's order (metadata from a README found in the folder), and,
//! where the home differs from what the server would produce, one more
//! commit of kind `manual` holding that difference.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::carbon::readme;
use crate::carbon::server::{CarbonState, Names};
use crate::carbon::{Staging, BACKUP, METADATA, PATCHES, PLUGINS, SERVICEPACKS};
use crate::commands::commit::{make_commit, snapshot_to_store};
use crate::commands::patchops::set_tag;
use crate::diff::{diff_trees, lookup, PathFilter};
use crate::error::Result;
use crate::id::ObjectId;
use crate::index::Index;
use crate::object::EntryKind;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::treeedit::{Node, TreeEditor};

#[derive(Debug, Serialize)]
pub struct AdoptReport {
    pub baseline: ObjectId,
    /// (folder, commit) in the server's order.
    pub patches: Vec<(String, ObjectId)>,
    /// The commit holding what differs from the server's result, if any.
    pub manual: Option<ObjectId>,
    pub differences: Vec<String>,
    pub notes: Vec<String>,
}

/// Whether the home holds patch folders to adopt.
pub fn needs_adopt(repo: &Repository) -> bool {
    std::fs::read_dir(repo.home.join(PATCHES)).is_ok_and(|rd| {
        rd.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("patch") && e.path().is_dir())
    })
}

fn commit_tree(
    repo: &Repository,
    staging: &Staging,
    parent: Option<ObjectId>,
    tree: ObjectId,
    meta: BTreeMap<String, String>,
    message: &str,
    author: Option<String>,
) -> Result<ObjectId> {
    let batch = repo.batch();
    staging.persist(&batch, &HashMap::new(), tree)?;
    let c = make_commit(tree, parent.into_iter().collect(), author, meta, message);
    let id = repo.odb.write_commit(&batch, &c)?;
    batch.finish()?;
    repo.refs.update_head(id)?;
    Ok(id)
}

fn dir_node(staging: &Staging, root: ObjectId, path: &str) -> Result<Option<Node>> {
    Ok(lookup(staging, root, path.as_bytes())?
        .filter(|e| e.kind == EntryKind::Dir)
        .map(|e| Node::from(&e)))
}

pub fn adopt(
    repo: &Repository,
    author: Option<String>,
    progress: &dyn Progress,
) -> Result<AdoptReport> {
    let _lock = repo.lock()?;
    let mut index = Index::load(&repo.index_path());
    let (snap, batch) = snapshot_to_store(repo, &mut index, progress)?;
    batch.finish()?;
    let _ = index.save(&repo.index_path());
    let now = snap.root;
    let mut staging = Staging::new(&repo.odb);
    let mut names = Names::default();
    let current = CarbonState::read(&staging, &mut names, now)?;
    let mut notes = Vec::new();

    // The baseline: no patch folders, no metadata, plugins from patch0000.
    let mut e = TreeEditor::new();
    let order = current.applying_order();
    for f in &order {
        if f.starts_with("servicepack") {
            e.remove(&format!("{SERVICEPACKS}/{f}"));
        } else {
            e.remove(&format!("{PATCHES}/{f}"));
        }
    }
    for s in &current.skipped {
        e.remove(&format!("{PATCHES}/{s}"));
    }
    e.remove(METADATA);
    let backup = dir_node(&staging, now, &format!("{PATCHES}/{BACKUP}"))?;
    match backup {
        Some(b) => e.set(PLUGINS, b),
        None => notes.push(
            "no patches/patch0000 backup: the baseline's plugins/ are the current ones".into(),
        ),
    }
    let mut built = HashMap::new();
    let base_tree = e.build(&staging, &mut built, Some(now))?;
    staging.trees.extend(built);
    let mut meta = BTreeMap::new();
    meta.insert("kind".to_string(), "baseline".to_string());
    meta.insert("adopted".to_string(), "true".to_string());
    let baseline = commit_tree(
        repo,
        &staging,
        None,
        base_tree,
        meta,
        "Baseline (reconstructed from patches/patch0000 by patchvault init)",
        author.clone(),
    )?;
    if let Some(note) = set_tag(repo, crate::commands::commit::BASELINE_TAG, baseline)? {
        notes.push(note);
    }

    // One commit per folder in the server's order.
    let mut head = baseline;
    let mut tree = base_tree;
    let mut patches = Vec::new();
    let folders: Vec<String> = current
        .servicepack
        .iter()
        .map(|s| s.name.clone())
        .chain(current.patches.iter().map(|p| p.name.clone()))
        .collect();
    for (i, folder) in folders.iter().enumerate() {
        let parent_dir = if folder.starts_with("servicepack") {
            SERVICEPACKS
        } else {
            PATCHES
        };
        let path = format!("{parent_dir}/{folder}");
        let mut e1 = TreeEditor::new();
        if let Some(n) = dir_node(&staging, now, &path)? {
            e1.set(&path, n);
        }
        if let Some(b) = backup {
            e1.set(&format!("{PATCHES}/{BACKUP}"), b);
        }
        if i == 0 {
            for s in &current.skipped {
                if let Some(n) = dir_node(&staging, now, &format!("{PATCHES}/{s}"))? {
                    e1.set(&format!("{PATCHES}/{s}"), n);
                }
            }
        }
        let mut built = HashMap::new();
        let t1 = e1.build(&staging, &mut built, Some(tree))?;
        staging.trees.extend(built);
        let state = CarbonState::read(&staging, &mut names, t1)?;
        let mut e2 = TreeEditor::new();
        state.reconcile(&mut e2, &BTreeSet::new());
        state.write_metadata(&mut staging, &mut e2)?;
        if i + 1 == folders.len() {
            keep_equivalent_metadata(&staging, now, &mut e2)?;
        }
        let mut built = HashMap::new();
        tree = e2.build(&staging, &mut built, Some(t1))?;
        staging.trees.extend(built);

        let mut meta = BTreeMap::new();
        meta.insert(
            "kind".to_string(),
            if folder.starts_with("servicepack") {
                "servicepack"
            } else {
                "patch"
            }
            .to_string(),
        );
        meta.insert("patch".to_string(), folder.clone());
        meta.insert("adopted".to_string(), "true".to_string());
        let mut title = folder.clone();
        if let Some(r) = lookup(&staging, now, format!("{path}/README.txt").as_bytes())? {
            if let Ok(text) = readme::decode(&staging.blob(&r.id)?) {
                let r = readme::parse(&text);
                if let Some(p) = &r.patch_id {
                    meta.insert("patch-id".into(), p.clone());
                    title = p.clone();
                }
                if let Some(a) = r.applies_to {
                    meta.insert("applies-to".into(), a);
                }
                if !r.jira.is_empty() {
                    meta.insert("jira".into(), r.jira.join(", "));
                }
            }
        }
        let jars: Vec<String> = state
            .servicepack
            .iter()
            .chain(state.patches.iter())
            .filter(|f| &f.name == folder)
            .flat_map(|f| {
                f.files
                    .iter()
                    .map(|b| format!("{} -> {}", b.file, b.plugin_name))
            })
            .collect();
        meta.insert("jars".into(), jars.join("\n"));
        let patch_id = meta.get("patch-id").cloned();
        head = commit_tree(
            repo,
            &staging,
            Some(head),
            tree,
            meta,
            &format!("Apply {title} ({folder}), adopted from the home"),
            author.clone(),
        )?;
        for t in std::iter::once(folder.clone()).chain(patch_id) {
            if let Some(note) = set_tag(repo, &t, head)? {
                notes.push(note);
            }
        }
        patches.push((folder.clone(), head));
    }

    // What the home has beyond the server's result.
    let changes = diff_trees(&staging, Some(tree), Some(now), &PathFilter::default())?;
    let mut manual = None;
    let differences: Vec<String> = changes
        .iter()
        .map(|c| format!("{} {}", c.status().letter(), c.display_path()))
        .collect();
    if !changes.is_empty() {
        let mut meta = BTreeMap::new();
        meta.insert("kind".to_string(), "manual".to_string());
        let msg = format!(
            "Local differences found when adopting the home\n\nThe home differs from what Carbon's patch installer would produce in {} path(s).",
            changes.len()
        );
        manual = Some(commit_tree(
            repo,
            &staging,
            Some(head),
            now,
            meta,
            &msg,
            author,
        )?);
    }
    Ok(AdoptReport {
        baseline,
        patches,
        manual,
        differences,
        notes,
    })
}

/// The server writes `prePatchedJARs.txt` in hash-map order: when the
/// home's metadata files hold the same lines as ours, keep the home's.
fn keep_equivalent_metadata(
    staging: &Staging,
    now: ObjectId,
    editor: &mut TreeEditor,
) -> Result<()> {
    for f in ["prePatchedDir.txt", "prePatchedJARs.txt"] {
        let path = format!("{METADATA}/{f}");
        let Some(have) = lookup(staging, now, path.as_bytes())? else {
            continue;
        };
        let Some(ours) = editor.get(&path) else {
            continue;
        };
        let a = staging.blob(&have.id)?;
        let b = staging.blob(&ours.id)?;
        let set = |x: &[u8]| -> BTreeSet<String> {
            String::from_utf8_lossy(x)
                .lines()
                .map(|l| l.trim().to_string())
                .filter(|l| !l.is_empty())
                .collect()
        };
        if set(&a) == set(&b) {
            editor.set(&path, Node::from(&have));
        }
    }
    Ok(())
}
