//! Tree editing: a new tree from an existing one plus a set of path edits
//! (set an entry, remove an entry), writing only the trees that change.
//! Trees are built in memory first, so a patch operation's result can be
//! shown (`--dry-run`) or stored, and the home then moved to it like any
//! checkout.

use std::collections::{BTreeMap, HashMap};

use crate::diff::TreeSource;
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::object::{validate_name, EntryKind, Tree, TreeEntry};

/// What goes at a path: kind, size and object id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    pub kind: EntryKind,
    pub size: u64,
    pub id: ObjectId,
}

impl From<&TreeEntry> for Node {
    fn from(e: &TreeEntry) -> Node {
        Node {
            kind: e.kind,
            size: e.size,
            id: e.id,
        }
    }
}

#[derive(Default)]
pub struct TreeEditor {
    /// path → Some(node) to set, None to remove.
    edits: BTreeMap<Vec<u8>, Option<Node>>,
}

impl TreeEditor {
    pub fn new() -> TreeEditor {
        TreeEditor::default()
    }

    pub fn set(&mut self, path: &str, node: Node) {
        self.edits
            .insert(path.trim_matches('/').as_bytes().to_vec(), Some(node));
    }

    pub fn remove(&mut self, path: &str) {
        self.edits
            .insert(path.trim_matches('/').as_bytes().to_vec(), None);
    }

    /// The node set at `path`, if any.
    pub fn get(&self, path: &str) -> Option<Node> {
        self.edits
            .get(path.trim_matches('/').as_bytes())
            .copied()
            .flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.edits.is_empty()
    }

    /// Applies the edits to `base` (None = empty tree), reading trees from
    /// `src` and adding every new tree to `out` (nothing is written to the
    /// store here). Returns the new root tree id.
    pub fn build(
        &self,
        src: &dyn TreeSource,
        out: &mut HashMap<ObjectId, Tree>,
        base: Option<ObjectId>,
    ) -> Result<ObjectId> {
        let edits: Vec<(&[u8], Option<Node>)> =
            self.edits.iter().map(|(k, v)| (k.as_slice(), *v)).collect();
        Ok(build_level(src, out, base, &edits)?.0)
    }
}

/// A path (relative to the tree being built) and what to put there.
type Edit<'a> = (&'a [u8], Option<Node>);

/// Returns (tree id, total size).
fn build_level(
    src: &dyn TreeSource,
    out: &mut HashMap<ObjectId, Tree>,
    base: Option<ObjectId>,
    edits: &[(&[u8], Option<Node>)],
) -> Result<(ObjectId, u64)> {
    let base_tree = match base {
        Some(id) => match out.get(&id) {
            Some(t) => t.clone(),
            None => src.tree(&id)?,
        },
        None => Tree::default(),
    };
    let mut entries: BTreeMap<Vec<u8>, TreeEntry> = base_tree
        .entries
        .into_iter()
        .map(|e| (e.name.clone(), e))
        .collect();
    let mut deeper: BTreeMap<Vec<u8>, Vec<Edit>> = BTreeMap::new();
    for (path, node) in edits {
        match path.iter().position(|b| *b == b'/') {
            None => {
                validate_name(path)?;
                match node {
                    Some(n) => {
                        entries.insert(
                            path.to_vec(),
                            TreeEntry {
                                name: path.to_vec(),
                                kind: n.kind,
                                size: n.size,
                                id: n.id,
                            },
                        );
                    }
                    None => {
                        entries.remove(*path);
                    }
                }
            }
            Some(i) => deeper
                .entry(path[..i].to_vec())
                .or_default()
                .push((&path[i + 1..], *node)),
        }
    }
    for (name, sub_edits) in deeper {
        validate_name(&name)?;
        let sub_base = match entries.get(&name) {
            Some(e) if e.kind == EntryKind::Dir => Some(e.id),
            Some(_) if sub_edits.iter().all(|(_, n)| n.is_none()) => continue,
            Some(e) => {
                return Err(Error::Refused(format!(
                    "cannot place files below {}: it is a {} in the home",
                    String::from_utf8_lossy(&name),
                    e.kind.name()
                )))
            }
            None if sub_edits.iter().all(|(_, n)| n.is_none()) => continue,
            None => None,
        };
        let (id, size) = build_level(src, out, sub_base, &sub_edits)?;
        entries.insert(
            name.clone(),
            TreeEntry {
                name,
                kind: EntryKind::Dir,
                size,
                id,
            },
        );
    }
    let tree = Tree::new(entries.into_values().collect())?;
    let size = tree.total_size();
    let id = tree.id();
    out.insert(id, tree);
    Ok((id, size))
}
