//! `diff [FROM [TO]]`: compare two states of a product home. Each side is
//! a revision of this store, a revision of another store (`--from-store` /
//! `--to-store`), another product home (a directory, scanned through its
//! own store's stat cache when it has one, hashed in parallel otherwise),
//! or a manifest file. With no TO the right side is this home. The report
//! leads with the patch picture (only left, only right, both), then the
//! files; text files get unified diffs and, with `deep`, changed jars,
//! wars and zips are compared entry by entry.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::carbon::{PATCHES, SERVICEPACKS};
use crate::commands::patchops::apply_commits;
use crate::commands::ChangeView;
use crate::diff::{diff_trees, lookup, Change, PathFilter, TreeSource};
use crate::error::{Error, Result};
use crate::fsutil::join_rel;
use crate::id::ObjectId;
use crate::index::Index;
use crate::jar::{diff_archives, ArchiveDiff};
use crate::manifest::read_file;
use crate::object::{EntryKind, Tree};
use crate::odb::Odb;
use crate::progress::Progress;
use crate::repo::{Repository, STORE_DIR};
use crate::revision::resolve;
use crate::scan::scan;

/// Text files up to this size get a unified diff.
pub const TEXT_DIFF_LIMIT: u64 = 1 << 20;

#[derive(Default)]
pub struct DiffOptions {
    pub from: Option<String>,
    pub to: Option<String>,
    /// Resolve FROM (default HEAD) in this store instead.
    pub from_store: Option<PathBuf>,
    /// Resolve TO (default HEAD) in this store instead.
    pub to_store: Option<PathBuf>,
    pub paths: Vec<Vec<u8>>,
    /// Compute unified diffs of text files.
    pub text: bool,
    /// Compare changed archives entry by entry.
    pub deep: bool,
}

/// A patch folder and its Patch ID, where known.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PatchRef {
    pub folder: String,
    pub patch_id: Option<String>,
}

#[derive(Debug, Default, Serialize)]
pub struct PatchPicture {
    pub only_left: Vec<PatchRef>,
    pub only_right: Vec<PatchRef>,
    pub both: Vec<PatchRef>,
}

/// What one side of the comparison is.
#[derive(Debug, Serialize)]
pub struct SideInfo {
    pub label: String,
    /// "revision", "store", "home" or "manifest".
    pub kind: String,
    pub commit: Option<ObjectId>,
    pub tree: ObjectId,
}

#[derive(Debug, Serialize)]
pub struct TextPatch {
    pub path: String,
    pub unified: String,
}

#[derive(Debug, Serialize)]
pub struct JarDiff {
    pub path: String,
    #[serde(flatten)]
    pub diff: ArchiveDiff,
}

#[derive(Debug, Serialize)]
pub struct DiffReport {
    pub from: SideInfo,
    pub to: SideInfo,
    pub patches: PatchPicture,
    pub changes: Vec<ChangeView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub text_patches: Vec<TextPatch>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub jars: Vec<JarDiff>,
    /// Things that could not be compared (e.g. contents of a manifest side).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Where a side's file contents come from.
enum Content {
    Store(usize),
    Dir(PathBuf),
    None,
}

struct Side {
    info: SideInfo,
    trees: HashMap<ObjectId, Tree>,
    patches: Vec<PatchRef>,
    content: Content,
}

/// Trees from memory (scans, manifests) and any of several stores.
struct Sources<'a> {
    mems: Vec<&'a HashMap<ObjectId, Tree>>,
    odbs: Vec<&'a Odb>,
}

impl TreeSource for Sources<'_> {
    fn tree(&self, id: &ObjectId) -> Result<Tree> {
        for m in &self.mems {
            if let Some(t) = m.get(id) {
                return Ok(t.clone());
            }
        }
        let mut last = Error::Missing(*id);
        for o in &self.odbs {
            match o.read_tree(id) {
                Ok(t) => return Ok(t),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

/// Patch and service pack folders in a tree (patch0000 left out).
fn patch_folders(src: &dyn TreeSource, root: ObjectId) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for (dir, prefix) in [(SERVICEPACKS, "servicepack"), (PATCHES, "patch")] {
        if let Some(e) = lookup(src, root, dir.as_bytes())? {
            if e.kind == EntryKind::Dir {
                for c in src.tree(&e.id)?.entries {
                    let n = String::from_utf8_lossy(&c.name).into_owned();
                    if c.kind == EntryKind::Dir
                        && n.starts_with(prefix)
                        && n != crate::carbon::BACKUP
                    {
                        out.push(n);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn with_ids(
    folders: Vec<String>,
    repo: Option<&Repository>,
    commit: Option<ObjectId>,
) -> Vec<PatchRef> {
    let ids: BTreeMap<String, Option<String>> = match (repo, commit) {
        (Some(r), Some(c)) => apply_commits(r, c)
            .map(|m| {
                m.into_iter()
                    .map(|(f, (_, c))| (f, c.meta.get("patch-id").cloned()))
                    .collect()
            })
            .unwrap_or_default(),
        _ => BTreeMap::new(),
    };
    folders
        .into_iter()
        .map(|f| PatchRef {
            patch_id: ids.get(&f).cloned().flatten(),
            folder: f,
        })
        .collect()
}

/// Whether `spec` is meant as a path rather than a revision.
fn looks_like_path(repo: &Repository, spec: &str) -> bool {
    let p = Path::new(spec);
    if !p.exists() {
        return false;
    }
    spec.contains('/') || spec.starts_with('.') || resolve(repo, spec).is_err()
}

struct Resolver<'a> {
    repo: &'a Repository,
    others: Vec<Repository>,
    progress: &'a dyn Progress,
}

impl Resolver<'_> {
    fn revision(&mut self, store: Option<&Path>, spec: &str) -> Result<Side> {
        let (repo_idx, kind) = match store {
            Some(s) => {
                self.others.push(Repository::open_store(s)?);
                (Some(self.others.len() - 1), "store")
            }
            None => (None, "revision"),
        };
        let repo = repo_idx.map_or(self.repo, |i| &self.others[i]);
        let commit = resolve(repo, spec)?;
        let tree = repo.odb.read_commit(&commit)?.tree;
        let folders = patch_folders(&repo.odb, tree)?;
        let label = match store {
            Some(s) => format!("{spec} in {}", s.display()),
            None => spec.to_string(),
        };
        Ok(Side {
            patches: with_ids(folders, Some(repo), Some(commit)),
            info: SideInfo {
                label,
                kind: kind.into(),
                commit: Some(commit),
                tree,
            },
            trees: HashMap::new(),
            content: repo_idx.map_or(Content::Store(usize::MAX), Content::Store),
        })
    }

    fn home(&mut self, dir: &Path, label: String) -> Result<Side> {
        let own = dir.join(STORE_DIR);
        let (snap, patches) = if own.join("config").is_file()
            && std::fs::canonicalize(&own).ok() != std::fs::canonicalize(&self.repo.store).ok()
        {
            let other = Repository::open_store(&own)?;
            let mut index = Index::load(&other.index_path());
            let snap = scan(&other, &mut index, None, self.progress)?;
            let src = Sources {
                mems: vec![&snap.trees],
                odbs: vec![&other.odb],
            };
            let folders = patch_folders(&src, snap.root)?;
            let head = other.refs.head_commit().ok().flatten();
            let patches = with_ids(folders, Some(&other), head);
            (snap, patches)
        } else if std::fs::canonicalize(dir).ok() == std::fs::canonicalize(&self.repo.home).ok() {
            let mut index = Index::load(&self.repo.index_path());
            let snap = scan(self.repo, &mut index, None, self.progress)?;
            if snap.hashed > 0 {
                let _ = index.save(&self.repo.index_path());
            }
            let src = Sources {
                mems: vec![&snap.trees],
                odbs: vec![&self.repo.odb],
            };
            let folders = patch_folders(&src, snap.root)?;
            let head = self.repo.refs.head_commit()?;
            let patches = with_ids(folders, Some(self.repo), head);
            (snap, patches)
        } else {
            let view = self.repo.for_other_home(dir)?;
            let mut index = Index::default();
            let snap = scan(&view, &mut index, None, self.progress)?;
            let src = Sources {
                mems: vec![&snap.trees],
                odbs: vec![],
            };
            let folders = patch_folders(&src, snap.root)?;
            (snap, with_ids(folders, None, None))
        };
        Ok(Side {
            info: SideInfo {
                label,
                kind: "home".into(),
                commit: None,
                tree: snap.root,
            },
            trees: snap.trees,
            patches,
            content: Content::Dir(dir.to_path_buf()),
        })
    }

    fn side(
        &mut self,
        spec: Option<&str>,
        store: Option<&Path>,
        default_home: bool,
    ) -> Result<Side> {
        if let Some(s) = store {
            return self.revision(Some(s), spec.unwrap_or("HEAD"));
        }
        let Some(spec) = spec else {
            return if default_home {
                self.home(&self.repo.home.clone(), "home".into())
            } else {
                self.revision(None, "HEAD")
            };
        };
        if looks_like_path(self.repo, spec) {
            let p = Path::new(spec);
            if p.is_dir() {
                return self.home(p, spec.to_string());
            }
            let (m, trees) = read_file(p)?;
            return Ok(Side {
                info: SideInfo {
                    label: spec.to_string(),
                    kind: "manifest".into(),
                    commit: Some(m.commit),
                    tree: m.tree,
                },
                trees,
                patches: m
                    .patches
                    .into_iter()
                    .map(|p| PatchRef {
                        folder: p.folder,
                        patch_id: p.patch_id,
                    })
                    .collect(),
                content: Content::None,
            });
        }
        match self.revision(None, spec) {
            Err(Error::UnknownRevision(_)) if spec.contains('/') || spec.starts_with('.') => {
                Err(Error::Invalid(format!(
                    "'{spec}' is not a revision, and there is no product home or manifest file at that path"
                )))
            }
            r => r,
        }
    }
}

pub fn diff(repo: &Repository, opts: &DiffOptions, progress: &dyn Progress) -> Result<DiffReport> {
    let filter = PathFilter::new(opts.paths.clone());
    let mut r = Resolver {
        repo,
        others: Vec::new(),
        progress,
    };
    let left = r.side(opts.from.as_deref(), opts.from_store.as_deref(), false)?;
    let right = r.side(opts.to.as_deref(), opts.to_store.as_deref(), true)?;
    let mut odbs = vec![&repo.odb];
    odbs.extend(r.others.iter().map(|o| &o.odb));
    let src = Sources {
        mems: vec![&left.trees, &right.trees],
        odbs,
    };
    let changes = diff_trees(&src, Some(left.info.tree), Some(right.info.tree), &filter)?;

    let mut picture = PatchPicture::default();
    for p in &left.patches {
        if right.patches.iter().any(|q| q.folder == p.folder) {
            let mut b = p.clone();
            b.patch_id = b.patch_id.or_else(|| {
                right
                    .patches
                    .iter()
                    .find(|q| q.folder == p.folder)
                    .and_then(|q| q.patch_id.clone())
            });
            picture.both.push(b);
        } else {
            picture.only_left.push(p.clone());
        }
    }
    picture.only_right = right
        .patches
        .iter()
        .filter(|q| !left.patches.iter().any(|p| p.folder == q.folder))
        .cloned()
        .collect();

    let content = |side: &Side, c: &Change, new: bool| -> Result<Option<Vec<u8>>> {
        let Some(s) = (if new { c.new } else { c.old }) else {
            return Ok(None);
        };
        if !matches!(s.kind, EntryKind::File | EntryKind::Executable) {
            return Ok(None);
        }
        match &side.content {
            Content::Store(i) => {
                let odb = if *i == usize::MAX {
                    &repo.odb
                } else {
                    &r.others[*i].odb
                };
                odb.read_blob(&s.id).map(Some)
            }
            Content::Dir(d) => {
                let p = join_rel(d, &c.path);
                std::fs::read(&p).map(Some).map_err(|e| Error::io(&p, e))
            }
            Content::None => Ok(None),
        }
    };
    let mut text_patches = Vec::new();
    let mut jars = Vec::new();
    let mut notes = Vec::new();
    let manifest_side =
        matches!(left.content, Content::None) || matches!(right.content, Content::None);
    if manifest_side && (opts.deep || opts.text) {
        notes.push(
            "a manifest lists ids, not contents: no text or archive diffs for that side".into(),
        );
    }
    for c in &changes {
        let is_archive = [".jar", ".war", ".zip"]
            .iter()
            .any(|x| c.path.ends_with(x.as_bytes()));
        let small = c.old.is_none_or(|s| s.size <= TEXT_DIFF_LIMIT)
            && c.new.is_none_or(|s| s.size <= TEXT_DIFF_LIMIT);
        if opts.deep && is_archive && c.old.is_some() && c.new.is_some() {
            if let (Some(a), Some(b)) = (content(&left, c, false)?, content(&right, c, true)?) {
                match diff_archives(&a, &b) {
                    Ok(d) => jars.push(JarDiff {
                        path: c.display_path(),
                        diff: d,
                    }),
                    Err(e) => notes.push(format!("{}: {e}", c.display_path())),
                }
            }
        } else if opts.text && !is_archive && small {
            let old = if c.old.is_some() {
                content(&left, c, false)?
            } else {
                Some(Vec::new())
            };
            let new = if c.new.is_some() {
                content(&right, c, true)?
            } else {
                Some(Vec::new())
            };
            if let (Some(a), Some(b)) = (old, new) {
                if let Some(p) = text_patch(&c.display_path(), a, b) {
                    text_patches.push(p);
                }
            }
        }
    }
    Ok(DiffReport {
        from: left.info,
        to: right.info,
        patches: picture,
        changes: changes.iter().map(ChangeView::from).collect(),
        text_patches,
        jars,
        notes,
    })
}

fn text_patch(path: &str, old: Vec<u8>, new: Vec<u8>) -> Option<TextPatch> {
    if old.contains(&0) || new.contains(&0) || old == new {
        return None;
    }
    let (old, new) = (String::from_utf8(old).ok()?, String::from_utf8(new).ok()?);
    let diff = similar::TextDiff::from_lines(&old, &new);
    let unified = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string();
    Some(TextPatch {
        path: path.to_string(),
        unified,
    })
}
