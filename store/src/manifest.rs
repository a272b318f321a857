//! Manifests: a compact, canonical, versioned text file listing every path
//! of a commit's tree (kind, size, BLAKE3 id) with the commit id and the
//! applied patches — small enough to mail, checkable anywhere. The tree id
//! is recomputed from the entries when a manifest is read, so a manifest
//! that was edited is detected, and it can stand in for a home in `diff`.
//! FORMAT.md describes the layout.

use std::collections::HashMap;

use serde::Serialize;

use crate::diff::{flatten, TreeSource};
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::object::{EntryKind, Tree, TreeEntry};

pub const HEADER: &str = "patchvault manifest 1";
/// Largest manifest read.
pub const MAX_LEN: u64 = 256 << 20;

/// A patch as a manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestPatch {
    pub folder: String,
    pub patch_id: Option<String>,
    pub date: Option<String>,
    pub author: Option<String>,
    pub jira: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestEntry {
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    pub id: ObjectId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub commit: ObjectId,
    pub tree: ObjectId,
    pub patches: Vec<ManifestPatch>,
    pub entries: Vec<ManifestEntry>,
}

/// Escapes a path or field: `\\`, tab, newline, CR and bytes that are not
/// printable UTF-8 become escapes, so every record is one line.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

pub fn unescape(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            match b.get(i + 1)? {
                b'\\' => out.push(b'\\'),
                b't' => out.push(b'\t'),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b'x' => {
                    let h = s.get(i + 2..i + 4)?;
                    out.push(u8::from_str_radix(h, 16).ok()?);
                    i += 2;
                }
                _ => return None,
            }
            i += 2;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

fn kind_letter(k: EntryKind) -> char {
    k.code() as char
}

impl Manifest {
    /// Builds the manifest of a tree.
    pub fn of_tree(
        src: &dyn TreeSource,
        commit: ObjectId,
        tree: ObjectId,
        patches: Vec<ManifestPatch>,
    ) -> Result<Manifest> {
        let entries = flatten(src, tree)?
            .into_iter()
            .map(|(p, e)| ManifestEntry {
                path: escape(&p),
                kind: e.kind,
                size: e.size,
                id: e.id,
            })
            .collect();
        Ok(Manifest {
            commit,
            tree,
            patches,
            entries,
        })
    }

    pub fn encode(&self) -> String {
        let mut s = format!("{HEADER}\ncommit {}\ntree {}\n", self.commit, self.tree);
        let opt = |v: &Option<String>| {
            v.as_deref()
                .map_or("-".to_string(), |x| escape(x.as_bytes()))
        };
        for p in &self.patches {
            s.push_str(&format!(
                "patch {}\t{}\t{}\t{}\t{}\n",
                escape(p.folder.as_bytes()),
                opt(&p.patch_id),
                opt(&p.date),
                opt(&p.author),
                if p.jira.is_empty() {
                    "-".to_string()
                } else {
                    escape(p.jira.join(" ").as_bytes())
                }
            ));
        }
        for e in &self.entries {
            s.push_str(&format!(
                "{} {} {} {}\n",
                kind_letter(e.kind),
                e.size,
                e.id,
                e.path
            ));
        }
        let sum = blake3::hash(s.as_bytes()).to_hex().to_string();
        s.push_str(&format!("sum {sum}\n"));
        s
    }

    /// Parses and checks a manifest: header, checksum, entry syntax, and
    /// that the entries rebuild the tree it names. Returns the manifest and
    /// its trees (to diff against).
    pub fn decode(text: &str) -> std::result::Result<(Manifest, HashMap<ObjectId, Tree>), String> {
        let body_end = text.trim_end_matches('\n').rfind('\n').ok_or("truncated")? + 1;
        let (body, sum_line) = text.split_at(body_end);
        let sum = sum_line
            .trim_end()
            .strip_prefix("sum ")
            .ok_or("no checksum line")?;
        if blake3::hash(body.as_bytes()).to_hex().as_str() != sum {
            return Err("checksum does not match: the manifest was changed or damaged".into());
        }
        let mut lines = body.lines();
        if lines.next() != Some(HEADER) {
            return Err("not a patchvault manifest (or an unknown version)".into());
        }
        let id_of = |l: Option<&str>, key: &str| -> std::result::Result<ObjectId, String> {
            l.and_then(|l| l.strip_prefix(key))
                .and_then(ObjectId::from_hex)
                .ok_or(format!("bad {key}line"))
        };
        let commit = id_of(lines.next(), "commit ")?;
        let tree = id_of(lines.next(), "tree ")?;
        let mut patches = Vec::new();
        let mut entries = Vec::new();
        let field = |v: &str| -> std::result::Result<Option<String>, String> {
            if v == "-" {
                return Ok(None);
            }
            let b = unescape(v).ok_or("bad escape")?;
            String::from_utf8(b)
                .map(Some)
                .map_err(|_| "field is not UTF-8".to_string())
        };
        for line in lines {
            if let Some(rest) = line.strip_prefix("patch ") {
                let f: Vec<&str> = rest.split('\t').collect();
                if f.len() != 5 {
                    return Err(format!("bad patch line: {line}"));
                }
                patches.push(ManifestPatch {
                    folder: field(f[0])?.ok_or("patch without folder")?,
                    patch_id: field(f[1])?,
                    date: field(f[2])?,
                    author: field(f[3])?,
                    jira: field(f[4])?
                        .map(|j| j.split(' ').map(str::to_string).collect())
                        .unwrap_or_default(),
                });
                continue;
            }
            let mut parts = line.splitn(4, ' ');
            let (Some(k), Some(size), Some(id), Some(path)) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(format!("bad entry line: {line}"));
            };
            let kind = k
                .bytes()
                .next()
                .and_then(EntryKind::from_code)
                .filter(|_| k.len() == 1)
                .ok_or(format!("bad kind in: {line}"))?;
            entries.push(ManifestEntry {
                path: path.to_string(),
                kind,
                size: size.parse().map_err(|_| format!("bad size in: {line}"))?,
                id: ObjectId::from_hex(id).ok_or(format!("bad id in: {line}"))?,
            });
        }
        let trees = build_trees(&entries)?;
        let root = trees.1;
        if root != tree {
            return Err(format!(
                "its entries make tree {}, not the tree {} it names",
                root.short(),
                tree.short()
            ));
        }
        Ok((
            Manifest {
                commit,
                tree,
                patches,
                entries,
            },
            trees.0,
        ))
    }
}

/// Rebuilds the trees a list of entries describes, and checks the entries
/// are exactly that tree's listing (directories' ids and sizes included).
fn build_trees(
    entries: &[ManifestEntry],
) -> std::result::Result<(HashMap<ObjectId, Tree>, ObjectId), String> {
    let mut dirs = Vec::new();
    let mut leaves = Vec::new();
    for e in entries {
        let p = unescape(&e.path).ok_or_else(|| format!("bad escape in path {}", e.path))?;
        if e.kind == EntryKind::Dir {
            dirs.push(p);
        } else {
            let name = p.rsplit(|b| *b == b'/').next().unwrap_or(&p).to_vec();
            leaves.push((
                p.clone(),
                TreeEntry {
                    name,
                    kind: e.kind,
                    size: e.size,
                    id: e.id,
                },
            ));
        }
    }
    let (root, trees) =
        crate::scan::build_trees(dirs, leaves, |_| true).map_err(|e| e.to_string())?;
    let mem = trees;
    let listed = flatten(&MemTrees(&mem), root).map_err(|e| e.to_string())?;
    let same = listed.len() == entries.len()
        && listed.iter().zip(entries).all(|((p, t), e)| {
            escape(p) == e.path && t.kind == e.kind && t.size == e.size && t.id == e.id
        });
    if !same {
        return Err("its entries do not form one consistent tree (a directory line disagrees with the files below it)".into());
    }
    Ok((mem, root))
}

struct MemTrees<'a>(&'a HashMap<ObjectId, Tree>);

impl TreeSource for MemTrees<'_> {
    fn tree(&self, id: &ObjectId) -> Result<Tree> {
        self.0.get(id).cloned().ok_or(Error::Missing(*id))
    }
}

/// Reads a manifest file, naming it in errors.
pub fn read_file(path: &std::path::Path) -> Result<(Manifest, HashMap<ObjectId, Tree>)> {
    let md = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if md.len() > MAX_LEN {
        return Err(Error::Invalid(format!(
            "{}: too large for a manifest",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    Manifest::decode(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        for s in [&b"plain/path.jar"[..], b"caf\xe9\tx\ny\\z", b"\x01"] {
            assert_eq!(unescape(&escape(s)).unwrap(), s);
            assert!(!escape(s).contains(['\n', '\t']));
        }
    }
}
