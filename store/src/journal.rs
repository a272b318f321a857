//! The operation journal: before checkout, apply or revert touch the home,
//! they write `<store>/journal` naming the tree the home is moving to and
//! where HEAD goes afterwards. Every object it names is already durable.
//! If the process dies part-way, the next command that takes the lock (or
//! `patchvault recover`) finds the journal and finishes the move: the home
//! is brought to the target tree (each file wholly old or wholly new until
//! then), HEAD is moved by compare-and-swap, and the journal is removed.

use std::path::Path;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::id::ObjectId;

const HEADER: &str = "patchvault journal 1";
/// A journal larger than this is not ours.
const MAX_LEN: u64 = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    /// checkout, apply, revert.
    pub op: String,
    /// HEAD's commit before the operation.
    pub old_head: Option<ObjectId>,
    /// The commit HEAD moves to, if it moves.
    pub new_head: Option<ObjectId>,
    /// The branch HEAD follows afterwards (full ref name), for a switch.
    pub branch: Option<String>,
    /// The tree the home is moving to.
    pub target_tree: ObjectId,
    /// Only these paths move (empty: the whole home).
    pub paths: Vec<Vec<u8>>,
    /// Tags (short names) set to `new_head` once HEAD has moved.
    pub tags: Vec<String>,
}

fn opt_id(v: &Option<ObjectId>) -> String {
    v.map_or("-".to_string(), |i| i.to_hex())
}

impl Journal {
    fn encode(&self) -> String {
        let mut s = format!(
            "{HEADER}\nop {}\nold-head {}\nnew-head {}\nbranch {}\ntarget-tree {}\n",
            self.op,
            opt_id(&self.old_head),
            opt_id(&self.new_head),
            self.branch.as_deref().unwrap_or("-"),
            self.target_tree
        );
        for p in &self.paths {
            s.push_str(&format!("path {}\n", hex::encode(p)));
        }
        for t in &self.tags {
            s.push_str(&format!("tag {t}\n"));
        }
        let sum = blake3::hash(s.as_bytes()).to_hex().to_string();
        s.push_str(&format!("sum {sum}\n"));
        s
    }

    pub fn path(store: &Path) -> std::path::PathBuf {
        store.join("journal")
    }

    pub fn write(&self, store: &Path) -> Result<()> {
        fsutil::atomic_write(&Self::path(store), self.encode().as_bytes())
    }

    pub fn remove(store: &Path) -> Result<()> {
        let p = Self::path(store);
        match std::fs::remove_file(&p) {
            Ok(()) => fsutil::fsync_dir(store),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&p, e)),
        }
    }

    /// The pending journal, if any. A damaged one is an error naming it.
    pub fn read(store: &Path) -> Result<Option<Journal>> {
        let p = Self::path(store);
        let md = match std::fs::metadata(&p) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&p, e)),
        };
        let bad = |why: &str| {
            Error::BadStore {
            path: p.clone(),
            reason: format!("the operation journal is damaged ({why}); the home may be part-way between two states: run `patchvault status` and check out the state you want with --force"),
        }
        };
        if md.len() > MAX_LEN {
            return Err(bad("too large"));
        }
        let text = std::fs::read_to_string(&p).map_err(|_| bad("not text"))?;
        Self::decode(&text)
            .map(Some)
            .ok_or_else(|| bad("unreadable"))
    }

    pub fn decode(text: &str) -> Option<Journal> {
        let (body, sum_line) = text.trim_end_matches('\n').rsplit_once('\n')?;
        let body = format!("{body}\n");
        if sum_line.strip_prefix("sum ")? != blake3::hash(body.as_bytes()).to_hex().as_str() {
            return None;
        }
        let mut lines = body.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut field = |name: &str| -> Option<String> {
            lines
                .next()?
                .strip_prefix(name)?
                .strip_prefix(' ')
                .map(str::to_string)
        };
        let op = field("op")?;
        let id = |v: String| -> Option<Option<ObjectId>> {
            if v == "-" {
                Some(None)
            } else {
                ObjectId::from_hex(&v).map(Some)
            }
        };
        let old_head = id(field("old-head")?)?;
        let new_head = id(field("new-head")?)?;
        let branch = Some(field("branch")?).filter(|b| b != "-");
        let target_tree = ObjectId::from_hex(&field("target-tree")?)?;
        let mut paths = Vec::new();
        let mut tags = Vec::new();
        for l in lines {
            if let Some(t) = l.strip_prefix("tag ") {
                crate::refs::validate_ref_name(t).ok()?;
                tags.push(t.to_string());
            } else {
                paths.push(hex::decode(l.strip_prefix("path ")?).ok()?);
            }
        }
        if let Some(b) = &branch {
            crate::refs::validate_ref_name(b.strip_prefix(crate::refs::HEADS)?).ok()?;
        }
        if !["checkout", "apply", "revert"].contains(&op.as_str()) {
            return None;
        }
        Some(Journal {
            op,
            old_head,
            new_head,
            branch,
            target_tree,
            paths,
            tags,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let j = Journal {
            op: "apply".into(),
            old_head: Some(ObjectId([1; 32])),
            new_head: None,
            branch: Some("refs/heads/main".into()),
            target_tree: ObjectId([2; 32]),
            paths: vec![b"a/b\xff".to_vec()],
            tags: vec!["patch0001".into(), "WSO2-CARBON-PATCH-4.9.0-0001".into()],
        };
        let t = j.encode();
        assert_eq!(Journal::decode(&t), Some(j));
        assert_eq!(Journal::decode(&t.replace("apply", "revert")), None);
    }
}
