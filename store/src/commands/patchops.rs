//! What `apply`, `revert`, `patches` and adopting share: the applied
//! patches and the commits that applied them, the checks that guard every
//! patch operation, and moving the home to a built tree and recording it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::carbon::server::{CarbonState, Names};
use crate::carbon::{running_server, Staging};
use crate::checkout::move_home;
use crate::commands::commit::make_commit;
use crate::commands::status::working_changes;
use crate::commands::ChangeView;
use crate::diff::{diff_trees, Change, PathFilter};
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::index::Index;
use crate::journal::Journal;
use crate::object::Commit;
use crate::progress::Progress;
use crate::repo::Repository;

/// An applied patch as history recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedPatch {
    pub folder: String,
    pub patch_id: Option<String>,
    /// The commit that applied it (None if it predates patchvault's history).
    pub commit: Option<ObjectId>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub jira: Vec<String>,
    /// `file -> plugin name` pairs.
    pub jars: Vec<(String, String)>,
    /// Home paths it placed outside `plugins/`.
    pub placed: Vec<String>,
    /// Skipped by the server because the latest service pack includes it.
    pub skipped: bool,
}

/// The newest commit on HEAD's first-parent line that applied each folder.
pub fn apply_commits(
    repo: &Repository,
    head: ObjectId,
) -> Result<BTreeMap<String, (ObjectId, Commit)>> {
    let mut found = BTreeMap::new();
    let mut reverted = std::collections::BTreeSet::new();
    let mut cur = Some(head);
    while let Some(id) = cur {
        let c = repo.odb.read_commit(&id)?;
        if let Some(folder) = c.meta.get("patch") {
            match c.kind() {
                "patch" | "servicepack"
                    if !found.contains_key(folder) && !reverted.contains(folder) =>
                {
                    found.insert(folder.clone(), (id, c.clone()));
                }
                "revert" => {
                    reverted.insert(folder.clone());
                }
                _ => {}
            }
        }
        cur = c.parents.first().copied();
    }
    Ok(found)
}

pub fn lines(v: Option<&String>) -> Vec<String> {
    v.map(|s| {
        s.lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// A folder, its `(file, plugin name)` pairs, and whether the server skips it.
type FolderRow = (String, Vec<(String, String)>, bool);

/// The applied patches in the server's order, with what history says of them.
pub fn applied(
    repo: &Repository,
    staging: &Staging,
    names: &mut Names,
    head: ObjectId,
    tree: ObjectId,
) -> Result<(CarbonState, Vec<AppliedPatch>)> {
    let state = CarbonState::read(staging, names, tree)?;
    let commits = apply_commits(repo, head)?;
    let mut out = Vec::new();
    let mut all: Vec<FolderRow> = state
        .servicepack
        .iter()
        .chain(state.patches.iter())
        .map(|f| {
            (
                f.name.clone(),
                f.files
                    .iter()
                    .map(|b| (b.file.clone(), b.plugin_name.clone()))
                    .collect(),
                false,
            )
        })
        .collect();
    all.extend(state.skipped.iter().map(|s| (s.clone(), Vec::new(), true)));
    for (folder, jars, skipped) in all {
        let c = commits.get(&folder);
        let meta = |k: &str| c.and_then(|(_, c)| c.meta.get(k).cloned());
        out.push(AppliedPatch {
            patch_id: meta("patch-id"),
            commit: c.map(|(id, _)| *id),
            author: c.map(|(_, c)| c.author.clone()),
            date: c.map(|(_, c)| crate::commands::format_time(c.time)),
            jira: meta("jira")
                .map(|j| j.split(", ").map(str::to_string).collect())
                .unwrap_or_default(),
            jars,
            placed: lines(c.and_then(|(_, c)| c.meta.get("placed"))),
            folder,
            skipped,
        });
    }
    Ok((state, out))
}

/// Refuses while the server runs (unless forced) and while the home has
/// uncommitted changes. Returns HEAD, if any.
pub fn preflight(
    repo: &Repository,
    force: bool,
    what: &str,
    progress: &dyn Progress,
) -> Result<(Option<ObjectId>, Vec<String>)> {
    let mut warnings = Vec::new();
    if let Some(pid) = running_server(&repo.home) {
        if !force {
            return Err(Error::Refused(format!(
                "the server is running (pid {pid} in {}); stop it before you {what}, or pass --force",
                crate::carbon::PID_FILE
            )));
        }
        warnings.push(format!(
            "the server is running (pid {pid}); it applies the change at its next start"
        ));
    }
    let head = repo.refs.head_commit()?;
    if head.is_some() {
        let (_, _, changes, _) = working_changes(repo, &PathFilter::default(), progress)?;
        if !changes.is_empty() {
            let shown: Vec<String> = changes
                .iter()
                .take(10)
                .map(|c| format!("  {} {}", c.status().letter(), c.display_path()))
                .collect();
            return Err(Error::Refused(format!(
                "the home has {} uncommitted change(s):\n{}\ncommit them first (`patchvault commit -m ...`) so that the {what} commit holds only its own change",
                changes.len(),
                shown.join("\n")
            )));
        }
    }
    Ok((head, warnings))
}

/// A commit to record on top of HEAD.
pub struct Recording {
    pub head: ObjectId,
    /// HEAD's tree (the home equals it).
    pub base: ObjectId,
    pub target: ObjectId,
    pub author: Option<String>,
    pub meta: BTreeMap<String, String>,
    pub message: String,
    /// Tags set to the new commit (as part of the journaled move).
    pub tags: Vec<String>,
}

/// Stores the staged objects and the commit, moves the home from the base
/// tree to the target, then moves HEAD. Returns the commit id.
pub fn record(
    repo: &Repository,
    staging: &Staging,
    r: Recording,
    progress: &dyn Progress,
) -> Result<ObjectId> {
    let changes = diff_trees(
        staging,
        Some(r.base),
        Some(r.target),
        &PathFilter::default(),
    )?;
    let batch = repo.batch();
    staging.persist(&batch, &delta_bases(&changes), r.target)?;
    let op = r
        .meta
        .get("kind")
        .map_or("apply", |k| if k == "revert" { "revert" } else { "apply" })
        .to_string();
    let c = make_commit(r.target, vec![r.head], r.author, r.meta, &r.message);
    let id = repo.odb.write_commit(&batch, &c)?;
    batch.finish()?;
    let mut index = Index::load(&repo.index_path());
    let journal = Journal {
        op,
        old_head: Some(r.head),
        new_head: Some(id),
        branch: None,
        target_tree: r.target,
        paths: Vec::new(),
        tags: r.tags,
    };
    move_home(repo, staging, &changes, &journal, &mut index, progress)?;
    let _ = index.save(&repo.index_path());
    Ok(id)
}

/// New blob → the blob it replaces at the same path (a delta base).
pub fn delta_bases(changes: &[Change]) -> std::collections::HashMap<ObjectId, ObjectId> {
    changes
        .iter()
        .filter_map(|c| match (c.old, c.new) {
            (Some(o), Some(n))
                if o.kind != crate::object::EntryKind::Dir
                    && n.kind != crate::object::EntryKind::Dir =>
            {
                Some((n.id, o.id))
            }
            _ => None,
        })
        .collect()
}

pub fn change_views(
    staging: &Staging,
    base: ObjectId,
    target: ObjectId,
) -> Result<Vec<ChangeView>> {
    let changes: Vec<Change> =
        diff_trees(staging, Some(base), Some(target), &PathFilter::default())?;
    Ok(changes.iter().map(ChangeView::from).collect())
}

/// Which of `names` can be tags, with notes for those that cannot and
/// for those that will move from another commit.
pub fn plan_tags(repo: &Repository, names: &[String]) -> Result<(Vec<String>, Vec<String>)> {
    let mut ok = Vec::new();
    let mut notes = Vec::new();
    for name in names {
        if crate::refs::validate_ref_name(name).is_err() {
            notes.push(format!("{name} is not a valid tag name; not tagged"));
            continue;
        }
        if let Some(old) = repo.refs.read(&format!("{}{name}", crate::refs::TAGS))? {
            notes.push(format!("tag {name} moved from {}", old.short()));
        }
        ok.push(name.clone());
    }
    Ok((ok, notes))
}

/// Sets a tag, returning a note when it moved from another commit.
pub fn set_tag(repo: &Repository, name: &str, id: ObjectId) -> Result<Option<String>> {
    if crate::refs::validate_ref_name(name).is_err() {
        return Ok(Some(format!("{name} is not a valid tag name; not tagged")));
    }
    let full = format!("{}{name}", crate::refs::TAGS);
    let old = repo.refs.read(&full)?;
    repo.refs.write(&full, id)?;
    Ok(old
        .filter(|o| *o != id)
        .map(|o| format!("tag {name} moved from {} to {}", o.short(), id.short())))
}
