//! A model of Carbon's PatchInstaller, computed over a tree: which service
//! pack and patch folders the server applies and in what order (the latest
//! `servicepacks/servicepackNNN/lib/` first, then every `patches/patch*`
//! folder in lexicographic order, skipping `patch0000` and the patches the
//! service pack lists), the plugin file name of every jar (from its
//! manifest), the "latest" jar for each plugin name, and the server's
//! metadata files (`prePatchedDir.txt`, `prePatchedJARs.txt`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use md5::{Digest, Md5};

use crate::carbon::package::{folder_kind, PackageKind};
use crate::carbon::{Staging, BACKUP, METADATA, PATCHES, PLUGINS, SERVICEPACKS};
use crate::diff::{lookup, TreeSource};
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::jar;
use crate::object::EntryKind;
use crate::treeedit::{Node, TreeEditor};

/// One file of a patch or service pack folder.
#[derive(Debug, Clone)]
pub struct BundleFile {
    /// Its name in the folder.
    pub file: String,
    /// The name Carbon gives it in `plugins/`.
    pub plugin_name: String,
    pub node: Node,
}

#[derive(Debug, Clone)]
pub struct Folder {
    pub name: String,
    pub files: Vec<BundleFile>,
}

/// What the server sees in `repository/components/`.
#[derive(Debug, Default)]
pub struct CarbonState {
    /// `patches/patch0000/`, the server's backup of the unpatched plugins.
    pub backup: Option<BTreeMap<String, Node>>,
    /// The latest service pack (its `lib/` files).
    pub servicepack: Option<Folder>,
    /// Patches the service pack lists (skipped by the server).
    pub servicepack_patches: BTreeSet<String>,
    /// Patch folders the server applies, in its order.
    pub patches: Vec<Folder>,
    /// Patch folders present but skipped because the service pack has them.
    pub skipped: Vec<String>,
}

/// Caches plugin names by blob id (reading a manifest costs a blob read).
#[derive(Default)]
pub struct Names(HashMap<(ObjectId, String), String>);

impl Names {
    pub fn plugin_name(&mut self, staging: &Staging, file: &str, node: &Node) -> Result<String> {
        if let Some(n) = self.0.get(&(node.id, file.to_string())) {
            return Ok(n.clone());
        }
        let name = if file.ends_with(".jar") {
            let bytes = staging.blob(&node.id)?;
            jar::plugin_file_name(file, &bytes)
                .map_err(|e| Error::Invalid(format!("{file} ({}): {e}", node.id.short())))?
        } else {
            file.to_string()
        };
        self.0.insert((node.id, file.to_string()), name.clone());
        Ok(name)
    }
}

fn dir_files(staging: &Staging, root: ObjectId, path: &str) -> Result<Option<Vec<(String, Node)>>> {
    let Some(e) = lookup(staging, root, path.as_bytes())? else {
        return Ok(None);
    };
    if e.kind != EntryKind::Dir {
        return Ok(None);
    }
    let tree = staging.tree(&e.id)?;
    Ok(Some(
        tree.entries
            .iter()
            .filter(|e| e.kind != EntryKind::Dir && e.kind != EntryKind::Symlink)
            .map(|e| (String::from_utf8_lossy(&e.name).into_owned(), Node::from(e)))
            .collect(),
    ))
}

fn subdirs(staging: &Staging, root: ObjectId, path: &str) -> Result<Vec<String>> {
    let Some(e) = lookup(staging, root, path.as_bytes())? else {
        return Ok(Vec::new());
    };
    if e.kind != EntryKind::Dir {
        return Ok(Vec::new());
    }
    let mut v: Vec<String> = staging
        .tree(&e.id)?
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::Dir)
        .map(|e| String::from_utf8_lossy(&e.name).into_owned())
        .collect();
    v.sort();
    Ok(v)
}

fn folder(
    staging: &Staging,
    names: &mut Names,
    root: ObjectId,
    dir: &str,
    name: &str,
) -> Result<Folder> {
    let mut files = Vec::new();
    for (file, node) in dir_files(staging, root, dir)?.unwrap_or_default() {
        let plugin_name = names.plugin_name(staging, &file, &node)?;
        files.push(BundleFile {
            file,
            plugin_name,
            node,
        });
    }
    Ok(Folder {
        name: name.to_string(),
        files,
    })
}

impl CarbonState {
    pub fn read(staging: &Staging, names: &mut Names, root: ObjectId) -> Result<CarbonState> {
        let mut st = CarbonState::default();
        let sps: Vec<String> = subdirs(staging, root, SERVICEPACKS)?
            .into_iter()
            .filter(|d| d.starts_with("servicepack"))
            .collect();
        if let Some(latest) = sps.last() {
            let base = format!("{SERVICEPACKS}/{latest}");
            st.servicepack = Some(folder(
                staging,
                names,
                root,
                &format!("{base}/lib"),
                latest,
            )?);
            if let Some(e) = lookup(
                staging,
                root,
                format!("{base}/servicepack_patches.txt").as_bytes(),
            )? {
                let text = staging.blob(&e.id)?;
                st.servicepack_patches = String::from_utf8_lossy(&text)
                    .lines()
                    .map(|l| l.trim().to_string())
                    .filter(|l| !l.is_empty())
                    .collect();
            }
        }
        for d in subdirs(staging, root, PATCHES)? {
            if !d.starts_with("patch") {
                continue;
            }
            if d == BACKUP {
                st.backup = Some(
                    dir_files(staging, root, &format!("{PATCHES}/{d}"))?
                        .unwrap_or_default()
                        .into_iter()
                        .collect(),
                );
                continue;
            }
            if st.servicepack_patches.contains(&d) {
                st.skipped.push(d);
                continue;
            }
            st.patches
                .push(folder(staging, names, root, &format!("{PATCHES}/{d}"), &d)?);
        }
        Ok(st)
    }

    /// Plugin name → (folder, file, node) of the jar the server copies last.
    pub fn latest_jars(&self) -> BTreeMap<String, (String, String, Node)> {
        let mut m = BTreeMap::new();
        for f in self.servicepack.iter().chain(self.patches.iter()) {
            for b in &f.files {
                m.insert(
                    b.plugin_name.clone(),
                    (f.name.clone(), b.file.clone(), b.node),
                );
            }
        }
        m
    }

    /// The folder names the server writes to `prePatchedDir.txt`.
    pub fn applying_order(&self) -> Vec<String> {
        let mut v: Vec<String> = self.servicepack.iter().map(|s| s.name.clone()).collect();
        let mut patches: Vec<String> = self.patches.iter().map(|p| p.name.clone()).collect();
        if self.backup.is_some() {
            patches.push(BACKUP.to_string());
        }
        patches.sort();
        v.extend(patches);
        v
    }

    /// The `plugins/` content the server produces, as edits: every backed-up
    /// jar restored, then the latest jars. `also` names plugins to remove
    /// when neither has them (the server would leave them; patchvault
    /// removes a jar only a removed patch brought).
    pub fn reconcile(&self, editor: &mut TreeEditor, also: &BTreeSet<String>) {
        let latest = self.latest_jars();
        if let Some(b) = &self.backup {
            for (name, node) in b {
                if !latest.contains_key(name) {
                    editor.set(&format!("{PLUGINS}/{name}"), *node);
                }
            }
        }
        for (name, (_, _, node)) in &latest {
            editor.set(&format!("{PLUGINS}/{name}"), *node);
        }
        for name in also {
            let in_backup = self.backup.as_ref().is_some_and(|b| b.contains_key(name));
            if !in_backup && !latest.contains_key(name) {
                editor.remove(&format!("{PLUGINS}/{name}"));
            }
        }
    }

    /// The server's metadata files, so its next start finds nothing to do.
    pub fn write_metadata(&self, staging: &mut Staging, editor: &mut TreeEditor) -> Result<()> {
        let mut dirs = String::new();
        for d in self.applying_order() {
            dirs.push_str(&d);
            dirs.push('\n');
        }
        let mut jars = String::new();
        for (name, (_, _, node)) in self.latest_jars() {
            let bytes = staging.blob(&node.id)?;
            let md5 = hex::encode(Md5::digest(&bytes[..]));
            jars.push_str(&format!("{name}:{md5}\n"));
        }
        let d = staging.add_blob(dirs.into_bytes(), false);
        editor.set(&format!("{METADATA}/prePatchedDir.txt"), d);
        let j = staging.add_blob(jars.into_bytes(), false);
        editor.set(&format!("{METADATA}/prePatchedJARs.txt"), j);
        Ok(())
    }
}

/// Folders whose lexicographic (server) order differs from numeric order.
pub fn order_warnings(folders: &[String]) -> Vec<String> {
    let mut numeric: Vec<(u64, &String)> = folders
        .iter()
        .filter_map(|f| {
            folder_kind(f)
                .filter(|k| k.0 == PackageKind::Patch)
                .map(|k| (k.1, f))
        })
        .collect();
    numeric.sort();
    let lexical: Vec<&String> = {
        let mut v: Vec<&String> = numeric.iter().map(|(_, f)| *f).collect();
        v.sort();
        v
    };
    let by_number: Vec<&String> = numeric.iter().map(|(_, f)| *f).collect();
    if lexical == by_number {
        return Vec::new();
    }
    vec![format!(
        "Carbon applies patch folders in name order ({}), not in number order ({}): a jar in several patches ends up from the last one by name",
        lexical.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
        by_number.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    )]
}
