//! `patches`: the applied patches in the server's order (number, Patch ID,
//! when, by whom, JIRA, jars), then Carbon's own verification (each latest
//! patch jar equals its jar in `plugins/`, by MD5, with the server's
//! warning text) and a stronger one (the whole home equals HEAD).

use md5::{Digest, Md5};
use serde::Serialize;

use crate::carbon::server::Names;
use crate::carbon::{Staging, PATCHES, PLUGINS, SERVICEPACKS};
use crate::commands::patchops::{applied, AppliedPatch};
use crate::commands::status::working_changes;
use crate::commands::ChangeView;
use crate::diff::PathFilter;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::repo::Repository;

#[derive(Debug, Serialize)]
pub struct PatchesReport {
    pub patches: Vec<AppliedPatch>,
    pub servicepack: Option<String>,
    /// The server's verification: empty when every latest jar is in place.
    pub server_warnings: Vec<String>,
    /// The home against HEAD: empty when they are equal.
    pub home_changes: Vec<ChangeView>,
    pub verified: bool,
}

fn md5_file(path: &std::path::Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(hex::encode(Md5::digest(&b)))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

pub fn patches(repo: &Repository, progress: &dyn Progress) -> Result<PatchesReport> {
    let head = repo.refs.head_commit()?.ok_or_else(|| {
        Error::Refused(
            "nothing is committed yet; run `patchvault commit` or `patchvault apply` first".into(),
        )
    })?;
    let tree = repo.odb.read_commit(&head)?.tree;
    let staging = Staging::new(&repo.odb);
    let mut names = Names::default();
    let (state, list) = applied(repo, &staging, &mut names, head, tree)?;

    // Carbon's check, on the files in the home as they are now.
    let mut server_warnings = Vec::new();
    for (name, (folder, file, _)) in state.latest_jars() {
        let parent = if folder.starts_with("servicepack") {
            format!("{SERVICEPACKS}/{folder}/lib")
        } else {
            format!("{PATCHES}/{folder}")
        };
        let patch_jar = repo.home.join(&parent).join(&file);
        let Some(want) = md5_file(&patch_jar)? else {
            server_warnings.push(format!("{parent}/{file} is missing from the home"));
            continue;
        };
        let have = md5_file(&repo.home.join(PLUGINS).join(&name))?;
        if have.as_deref() != Some(want.as_str()) {
            server_warnings.push(format!(
                "{name}(MD5: {want}) has been patched with {folder}, but not applied"
            ));
        }
    }
    let (_, _, changes, _) = working_changes(repo, &PathFilter::default(), progress)?;
    let home_changes: Vec<ChangeView> = changes.iter().map(ChangeView::from).collect();
    Ok(PatchesReport {
        verified: server_warnings.is_empty() && home_changes.is_empty(),
        servicepack: state.servicepack.as_ref().map(|s| s.name.clone()),
        patches: list,
        server_warnings,
        home_changes,
    })
}
