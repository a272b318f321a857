//! `apply PATCH`: apply a WSO2 patch zip or folder exactly as Carbon's
//! PatchInstaller would at the next start (patch folder copied into
//! `patches/`, jars into `plugins/` under their bundle names, in the
//! server's order, `.metadata` written so the server finds nothing to
//! redo), place the patch's other files, and record it all as one commit
//! tagged with the patch folder and the Patch ID.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde::Serialize;

use crate::carbon::package::{self, Package, PackageKind};
use crate::carbon::readme::{self, Readme};
use crate::carbon::server::{order_warnings, CarbonState, Names};
use crate::carbon::{product, Staging, BACKUP, PATCHES, PLUGINS, SERVICEPACKS};
use crate::commands::commit::{commit, CommitOptions};
use crate::commands::patchops::{applied, change_views, plan_tags, preflight, record, Recording};
use crate::commands::ChangeView;
use crate::diff::{lookup, TreeSource};
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::progress::Progress;
use crate::repo::Repository;
use crate::treeedit::{Node, TreeEditor};

#[derive(Default)]
pub struct ApplyOptions {
    pub patch: PathBuf,
    pub dry_run: bool,
    pub force: bool,
    pub author: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct JarAction {
    pub file: String,
    pub plugin_name: String,
    /// "replaces", "adds", or "superseded by patchNNNN" (a later folder by name).
    pub action: String,
}

#[derive(Debug, Serialize)]
pub struct ApplyReport {
    pub dry_run: bool,
    pub folder: String,
    pub patch_id: Option<String>,
    pub applies_to: Option<String>,
    pub jira: Vec<String>,
    pub description: String,
    /// The baseline commit made first, when the history was empty.
    pub baseline: Option<ObjectId>,
    pub commit: Option<ObjectId>,
    pub tags: Vec<String>,
    pub jars: Vec<JarAction>,
    /// Files placed in the home outside `plugins/` and `patches/`.
    pub placed: Vec<String>,
    /// README steps patchvault did not perform.
    pub manual_steps: Vec<String>,
    pub warnings: Vec<String>,
    /// What changes (or, with --dry-run, would change) in the home.
    pub changes: Vec<ChangeView>,
}

fn bad(pkg: &Package, reason: String) -> Error {
    Error::BadPatch {
        patch: pkg.source.clone(),
        reason,
    }
}

/// Reads and checks the README; with `force`, problems become warnings.
fn read_readme(pkg: &Package, force: bool, warnings: &mut Vec<String>) -> Result<Readme> {
    let problem = match &pkg.readme {
        None => "has no README.txt".to_string(),
        Some(bytes) => match readme::decode(bytes) {
            Ok(text) => {
                let r = readme::parse(&text);
                if r.patch_id.is_some() {
                    return Ok(r);
                }
                if force {
                    warnings.push("README.txt has no 'Patch ID' line".into());
                    return Ok(r);
                }
                "README.txt has no 'Patch ID' line".to_string()
            }
            Err(e) => format!("README.txt is {e}"),
        },
    };
    if force {
        warnings.push(format!(
            "the patch {problem}; applied without its metadata (--force)"
        ));
        Ok(Readme::default())
    } else {
        Err(bad(
            pkg,
            format!("{problem}; pass --force to apply it anyway"),
        ))
    }
}

/// Where a file outside the patch folder goes in the home, if known.
fn placement(path: &str, steps: &[String]) -> Option<String> {
    if path == "wso2carbon-version.txt" {
        return Some("bin/wso2carbon-version.txt".into());
    }
    for top in ["lib/", "bin/", "repository/", "dbscripts/", "dropins/"] {
        if path.starts_with(top) {
            return Some(path.to_string());
        }
    }
    // resources/...: only where a README step names the destination.
    let file = path.rsplit('/').next().unwrap_or(path);
    for s in steps {
        if !s.contains(file) {
            continue;
        }
        for token in [
            "<CARBON_SERVER>/",
            "<CARBON_HOME>/",
            "<PRODUCT_HOME>/",
            "<APIM_HOME>/",
            "<IS_HOME>/",
            "<MI_HOME>/",
        ] {
            if let Some(i) = s.rfind(token) {
                let dest: String = s[i + token.len()..]
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_end_matches(['.', ',', ';'])
                    .trim_end_matches('/')
                    .to_string();
                if dest.is_empty() || dest.split('/').any(|c| c == ".." || c.is_empty()) {
                    return None;
                }
                return Some(if dest.ends_with(file) {
                    dest
                } else {
                    format!("{dest}/{file}")
                });
            }
        }
    }
    None
}

pub fn apply(
    repo: &Repository,
    opts: ApplyOptions,
    progress: &dyn Progress,
) -> Result<ApplyReport> {
    let _lock = repo.lock()?;
    let pkg = package::load(&opts.patch)?;
    let mut warnings = Vec::new();
    let readme = read_readme(&pkg, opts.force, &mut warnings)?;

    match (&readme.applies_to, product::detect(&repo.home)) {
        (Some(a), Some(p)) if !product::applies(a, &p) => {
            return Err(Error::Refused(format!(
                "{} applies to '{a}', but this home is {p}; nothing was changed",
                pkg.folder
            )));
        }
        (Some(a), None) if !opts.force => {
            return Err(Error::Refused(format!(
                "{} applies to '{a}', but the home's product cannot be read (no bin/version.txt or repository/conf/carbon.xml); pass --force to apply anyway",
                pkg.folder
            )));
        }
        (None, _) => {
            warnings.push("the README names no product ('Applies To'); not checked".into())
        }
        _ => {}
    }

    let (mut head, pre_warn) = preflight(repo, opts.force, "apply a patch", progress)?;
    warnings.extend(pre_warn);
    let mut staging = Staging::new(&repo.odb);
    let mut names = Names::default();
    let mut baseline = None;
    let base = match head {
        Some(h) => repo.odb.read_commit(&h)?.tree,
        None if opts.dry_run => {
            let mut index = crate::index::Index::load(&repo.index_path());
            let snap = crate::scan::scan(repo, &mut index, None, progress)?;
            staging.trees.extend(snap.trees);
            snap.root
        }
        None => {
            let mut meta = BTreeMap::new();
            meta.insert("kind".to_string(), "baseline".to_string());
            let r = commit(
                repo,
                CommitOptions {
                    message: format!("Baseline: the home before {}", pkg.folder),
                    author: opts.author.clone(),
                    allow_empty: false,
                    meta,
                },
                progress,
            )?;
            baseline = Some(r.id);
            head = Some(r.id);
            r.tree
        }
    };

    // Already applied?
    let (_, before) = match head {
        Some(h) => applied(repo, &staging, &mut names, h, base)?,
        None => (CarbonState::read(&staging, &mut names, base)?, Vec::new()),
    };
    let parent_dir = if pkg.kind == PackageKind::ServicePack {
        SERVICEPACKS
    } else {
        PATCHES
    };
    let dest = format!("{parent_dir}/{}", pkg.folder);
    let exists = lookup(&staging, base, dest.as_bytes())?.is_some();
    if exists && !opts.force {
        return Err(Error::Refused(format!(
            "{} is already applied ({dest} exists); `patchvault revert {}` first, or pass --force to replace it",
            pkg.folder, pkg.folder
        )));
    }
    if let Some(pid) = &readme.patch_id {
        if let Some(other) = before
            .iter()
            .find(|a| a.patch_id.as_deref() == Some(pid) && a.folder != pkg.folder)
        {
            if !opts.force {
                return Err(Error::Refused(format!(
                    "Patch ID {pid} is already applied as {}; pass --force to apply it again",
                    other.folder
                )));
            }
            warnings.push(format!(
                "Patch ID {pid} is also applied as {}",
                other.folder
            ));
        }
    }

    // 1. The patch folder, and Carbon's plugins backup if it has none yet.
    let mut e1 = TreeEditor::new();
    if exists {
        e1.remove(&dest);
    }
    for (rel, f) in pkg.folder_files() {
        let node = staging.add_blob(f.bytes.clone(), f.executable);
        e1.set(&format!("{dest}/{rel}"), node);
    }
    let backup_path = format!("{PATCHES}/{BACKUP}");
    if lookup(&staging, base, backup_path.as_bytes())?.is_none() {
        if let Some(p) = lookup(&staging, base, PLUGINS.as_bytes())? {
            e1.set(&backup_path, Node::from(&p));
        }
    }
    let mut built = HashMap::new();
    let t1 = e1.build(&staging, &mut built, Some(base))?;
    staging.trees.extend(built);

    // 2. plugins/ and .metadata as the server would leave them.
    let state = CarbonState::read(&staging, &mut names, t1)?;
    let mut e2 = TreeEditor::new();
    state.reconcile(&mut e2, &BTreeSet::new());
    state.write_metadata(&mut staging, &mut e2)?;

    // 3. The other files, where the README says.
    let mut placed = Vec::new();
    let mut unplaced = Vec::new();
    for f in pkg.other_files() {
        match placement(&f.path, &readme.steps) {
            Some(to) => {
                let node = staging.add_blob(f.bytes.clone(), f.executable);
                e2.set(&to, node);
                placed.push(to);
            }
            None => unplaced.push(f.path.clone()),
        }
    }
    let mut built = HashMap::new();
    let t2 = e2.build(&staging, &mut built, Some(t1))?;
    staging.trees.extend(built);

    let latest = state.latest_jars();
    let base_plugins: BTreeSet<String> = match lookup(&staging, base, PLUGINS.as_bytes())? {
        Some(e) => staging.tree(&e.id).map(|t| {
            t.entries
                .iter()
                .map(|e| String::from_utf8_lossy(&e.name).into_owned())
                .collect()
        })?,
        None => BTreeSet::new(),
    };
    let folder_state = state
        .servicepack
        .iter()
        .chain(state.patches.iter())
        .find(|f| f.name == pkg.folder);
    let jars: Vec<JarAction> = folder_state
        .map(|f| {
            f.files
                .iter()
                .map(|b| {
                    let action = match latest.get(&b.plugin_name) {
                        Some((winner, _, _)) if *winner != pkg.folder => {
                            format!("superseded by {winner}")
                        }
                        _ if base_plugins.contains(&b.plugin_name) => "replaces".to_string(),
                        _ => "adds".to_string(),
                    };
                    JarAction {
                        file: b.file.clone(),
                        plugin_name: b.plugin_name.clone(),
                        action,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if state.skipped.contains(&pkg.folder) {
        warnings.push(format!(
            "{} is listed by the latest service pack, so the server skips it",
            pkg.folder
        ));
    }
    warnings.extend(order_warnings(
        &state
            .patches
            .iter()
            .map(|p| p.name.clone())
            .collect::<Vec<_>>(),
    ));

    let placed_names: Vec<&str> = placed
        .iter()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .collect();
    let mut manual_steps: Vec<String> = readme
        .steps
        .iter()
        .filter(|s| !readme::is_automatic_step(s, &pkg.folder))
        .filter(|s| {
            !(s.to_ascii_lowercase().contains("copy") && placed_names.iter().any(|n| s.contains(n)))
        })
        .cloned()
        .collect();
    for u in &unplaced {
        manual_steps.push(format!(
            "place {u} from the patch as its README says (patchvault could not tell where)"
        ));
    }

    let changes = change_views(&staging, base, t2)?;
    let mut report = ApplyReport {
        dry_run: opts.dry_run,
        folder: pkg.folder.clone(),
        patch_id: readme.patch_id.clone(),
        applies_to: readme.applies_to.clone(),
        jira: readme.jira.clone(),
        description: readme.description.clone(),
        baseline,
        commit: None,
        tags: Vec::new(),
        jars,
        placed,
        manual_steps,
        warnings,
        changes,
    };
    if opts.dry_run {
        return Ok(report);
    }
    let head =
        head.ok_or_else(|| Error::Invalid("internal: no HEAD after the baseline commit".into()))?;

    let mut meta = BTreeMap::new();
    meta.insert(
        "kind".into(),
        if pkg.kind == PackageKind::ServicePack {
            "servicepack"
        } else {
            "patch"
        }
        .to_string(),
    );
    meta.insert("patch".into(), pkg.folder.clone());
    if let Some(p) = &readme.patch_id {
        meta.insert("patch-id".into(), p.clone());
    }
    if let Some(a) = &readme.applies_to {
        meta.insert("applies-to".into(), a.clone());
    }
    if !readme.jira.is_empty() {
        meta.insert("jira".into(), readme.jira.join(", "));
    }
    if !readme.description.is_empty() {
        meta.insert("description".into(), readme.description.clone());
    }
    let jar_lines: Vec<String> = report
        .jars
        .iter()
        .map(|j| format!("{} -> {}", j.file, j.plugin_name))
        .collect();
    meta.insert("jars".into(), jar_lines.join("\n"));
    if !report.placed.is_empty() {
        meta.insert("placed".into(), report.placed.join("\n"));
    }
    let title = readme
        .patch_id
        .clone()
        .unwrap_or_else(|| pkg.folder.clone());
    let mut message = format!("Apply {title} ({})", pkg.folder);
    if !readme.description.is_empty() {
        message.push_str("\n\n");
        message.push_str(&readme.description);
    }
    let mut tag_names = vec![pkg.folder.clone()];
    tag_names.extend(readme.patch_id.clone());
    let (tags, notes) = plan_tags(repo, &tag_names)?;
    let id = record(
        repo,
        &staging,
        Recording {
            head,
            base,
            target: t2,
            author: opts.author,
            meta,
            message,
            tags: tags.clone(),
        },
        progress,
    )?;
    report.commit = Some(id);
    report.tags = tags;
    report.warnings.extend(notes);
    Ok(report)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placement_rules() {
        let steps = vec!["(iv) Copy resources/authenticationendpoint.war to <CARBON_SERVER>/repository/deployment/server/webapps/.".to_string()];
        assert_eq!(
            super::placement("wso2carbon-version.txt", &steps).as_deref(),
            Some("bin/wso2carbon-version.txt")
        );
        assert_eq!(
            super::placement("lib/x.jar", &steps).as_deref(),
            Some("lib/x.jar")
        );
        assert_eq!(
            super::placement("resources/authenticationendpoint.war", &steps).as_deref(),
            Some("repository/deployment/server/webapps/authenticationendpoint.war")
        );
        assert_eq!(super::placement("resources/other.xml", &steps), None);
        let evil = vec!["Copy resources/x.txt to <CARBON_HOME>/../../etc".to_string()];
        assert_eq!(super::placement("resources/x.txt", &evil), None);
    }
}
