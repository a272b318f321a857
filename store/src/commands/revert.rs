//! `revert PATCH`: take one patch out — the state the server would reach
//! if its folder were removed (baseline plus the remaining patches in its
//! order), corrected where the server is not: a jar only that patch brought
//! is removed, and files it placed outside `plugins/` get their earlier
//! content back. Recorded as a commit of kind `revert`; the patch's tags
//! stay on the commit that applied it.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::carbon::package::{folder_kind, PackageKind};
use crate::carbon::server::{CarbonState, Names};
use crate::carbon::{Staging, PATCHES, SERVICEPACKS};
use crate::commands::patchops::{
    applied, change_views, lines, preflight, record, AppliedPatch, Recording,
};
use crate::commands::ChangeView;
use crate::diff::lookup;
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::treeedit::{Node, TreeEditor};

#[derive(Default)]
pub struct RevertOptions {
    /// `patch0003`, `0003`, `3`, or a Patch ID.
    pub patch: String,
    pub force: bool,
    pub dry_run: bool,
    pub author: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RevertReport {
    pub dry_run: bool,
    pub folder: String,
    pub patch_id: Option<String>,
    pub commit: Option<ObjectId>,
    /// Plugins restored to an earlier patch's or the baseline's jar.
    pub restored: Vec<String>,
    /// Plugins removed because only this patch brought them.
    pub removed: Vec<String>,
    /// Files outside `plugins/` given their earlier content back.
    pub unplaced: Vec<String>,
    pub warnings: Vec<String>,
    pub changes: Vec<ChangeView>,
}

/// Finds the applied patch a user means.
pub fn find<'a>(list: &'a [AppliedPatch], want: &str) -> Option<&'a AppliedPatch> {
    let number = folder_kind(want)
        .map(|k| k.1)
        .or_else(|| want.parse::<u64>().ok());
    list.iter().find(|a| {
        a.folder == want
            || a.patch_id.as_deref() == Some(want)
            || number.is_some_and(|n| {
                folder_kind(&a.folder).is_some_and(|(k, m)| k == PackageKind::Patch && m == n)
                    && !want.starts_with("servicepack")
            })
    })
}

pub fn revert(
    repo: &Repository,
    opts: RevertOptions,
    progress: &dyn Progress,
) -> Result<RevertReport> {
    let _lock = repo.lock()?;
    let (head, warnings) = preflight(repo, opts.force, "revert a patch", progress)?;
    let head = head
        .ok_or_else(|| Error::Refused("nothing is committed yet, so no patch is applied".into()))?;
    let base = repo.odb.read_commit(&head)?.tree;
    let mut staging = Staging::new(&repo.odb);
    let mut names = Names::default();
    let (state0, list) = applied(repo, &staging, &mut names, head, base)?;
    let target = find(&list, &opts.patch).ok_or_else(|| {
        let known: Vec<&str> = list.iter().map(|a| a.folder.as_str()).collect();
        Error::Invalid(format!(
            "no applied patch is named '{}' (applied: {}); `patchvault patches` lists them",
            opts.patch,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
    })?;
    let folder = target.folder.clone();
    let is_sp = folder.starts_with("servicepack");
    let dir = format!("{}/{folder}", if is_sp { SERVICEPACKS } else { PATCHES });

    let mut e1 = TreeEditor::new();
    e1.remove(&dir);
    let mut built = HashMap::new();
    let t1 = e1.build(&staging, &mut built, Some(base))?;
    staging.trees.extend(built);
    let state = CarbonState::read(&staging, &mut names, t1)?;

    let brought: BTreeSet<String> = state0
        .servicepack
        .iter()
        .chain(state0.patches.iter())
        .filter(|f| f.name == folder)
        .flat_map(|f| f.files.iter().map(|b| b.plugin_name.clone()))
        .collect();
    let mut e2 = TreeEditor::new();
    state.reconcile(&mut e2, &brought);
    state.write_metadata(&mut staging, &mut e2)?;

    // Files the patch placed get their content from before it, unless a
    // patch still applied placed them too.
    let still_placed: BTreeSet<String> = list
        .iter()
        .filter(|a| a.folder != folder)
        .flat_map(|a| a.placed.iter().cloned())
        .collect();
    let mut unplaced = Vec::new();
    if let Some(cid) = target.commit {
        let c = repo.odb.read_commit(&cid)?;
        let before_tree = match c.parents.first() {
            Some(p) => Some(repo.odb.read_commit(p)?.tree),
            None => None,
        };
        for p in lines(c.meta.get("placed")) {
            if still_placed.contains(&p) {
                continue;
            }
            match before_tree
                .map(|t| lookup(&staging, t, p.as_bytes()))
                .transpose()?
                .flatten()
            {
                Some(e) => e2.set(&p, Node::from(&e)),
                None => e2.remove(&p),
            }
            unplaced.push(p);
        }
    }
    let mut built = HashMap::new();
    let t2 = e2.build(&staging, &mut built, Some(t1))?;
    staging.trees.extend(built);

    let latest = state.latest_jars();
    let backup = state.backup.clone().unwrap_or_default();
    let (mut restored, mut removed) = (Vec::new(), Vec::new());
    for name in &brought {
        if latest.contains_key(name) || backup.contains_key(name) {
            restored.push(name.clone());
        } else {
            removed.push(name.clone());
        }
    }
    let mut report = RevertReport {
        dry_run: opts.dry_run,
        folder: folder.clone(),
        patch_id: target.patch_id.clone(),
        commit: None,
        restored,
        removed,
        unplaced,
        warnings,
        changes: change_views(&staging, base, t2)?,
    };
    if opts.dry_run {
        return Ok(report);
    }
    let mut meta = BTreeMap::new();
    meta.insert("kind".into(), "revert".into());
    meta.insert("patch".into(), folder.clone());
    if let Some(p) = &target.patch_id {
        meta.insert("patch-id".into(), p.clone());
    }
    if let Some(c) = target.commit {
        meta.insert("reverts".into(), c.to_hex());
    }
    let title = target.patch_id.clone().unwrap_or_else(|| folder.clone());
    let message = format!("Revert {title} ({folder})");
    report.commit = Some(record(
        repo,
        &staging,
        Recording {
            head,
            base,
            target: t2,
            author: opts.author,
            meta,
            message,
            tags: Vec::new(),
        },
        progress,
    )?);
    Ok(report)
}
