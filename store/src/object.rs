//! Objects and their canonical encodings: blobs (file bytes), trees
//! (sorted directory listings) and commits (a tree plus history and
//! metadata). FORMAT.md describes the byte layouts; `decode` rejects
//! anything `encode` would not have produced, so one content has one id.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::id::ObjectId;

/// What an object is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Blob,
    Tree,
    Commit,
}

impl ObjectKind {
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Blob => "blob",
            ObjectKind::Tree => "tree",
            ObjectKind::Commit => "commit",
        }
    }
    pub fn code(self) -> u8 {
        match self {
            ObjectKind::Blob => b'B',
            ObjectKind::Tree => b'T',
            ObjectKind::Commit => b'C',
        }
    }
    pub fn from_code(c: u8) -> Option<ObjectKind> {
        match c {
            b'B' => Some(ObjectKind::Blob),
            b'T' => Some(ObjectKind::Tree),
            b'C' => Some(ObjectKind::Commit),
            _ => None,
        }
    }
}

/// The kind of a tree entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Executable,
    Symlink,
    Dir,
}

impl EntryKind {
    pub fn code(self) -> u8 {
        match self {
            EntryKind::File => b'F',
            EntryKind::Executable => b'X',
            EntryKind::Symlink => b'L',
            EntryKind::Dir => b'D',
        }
    }
    pub fn from_code(c: u8) -> Option<EntryKind> {
        match c {
            b'F' => Some(EntryKind::File),
            b'X' => Some(EntryKind::Executable),
            b'L' => Some(EntryKind::Symlink),
            b'D' => Some(EntryKind::Dir),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Executable => "executable",
            EntryKind::Symlink => "symlink",
            EntryKind::Dir => "dir",
        }
    }
    /// Unix permission bits used when writing this kind to disk.
    pub fn mode(self) -> u32 {
        match self {
            EntryKind::Executable | EntryKind::Dir => 0o755,
            EntryKind::File => 0o644,
            EntryKind::Symlink => 0o777,
        }
    }
}

/// One entry of a tree. For a symlink, `id` names a blob holding the link
/// target; for a directory, `id` names a tree and `size` is the total size
/// of the files below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TreeEntry {
    pub name: Vec<u8>,
    pub kind: EntryKind,
    pub size: u64,
    pub id: ObjectId,
}

/// A directory listing, sorted by name bytes, names unique.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub entries: Vec<TreeEntry>,
}

const TREE_MAGIC: &[u8; 8] = b"PVTREE1\n";
const COMMIT_HEADER: &str = "patchvault commit 1\n";
/// Longest file name a tree may hold (Linux allows 255 bytes).
pub const MAX_NAME_LEN: usize = 4096;

/// Checks that a name is safe to join onto a directory path.
pub fn validate_name(name: &[u8]) -> Result<()> {
    let why = if name.is_empty() {
        "empty"
    } else if name == b"." || name == b".." {
        "a relative directory reference"
    } else if name.contains(&b'/') {
        "contains '/'"
    } else if name.contains(&0) {
        "contains NUL"
    } else if name.len() > MAX_NAME_LEN {
        "too long"
    } else {
        return Ok(());
    };
    Err(Error::InvalidName(
        String::from_utf8_lossy(name).into_owned(),
        why,
    ))
}

impl Tree {
    /// Sorts entries into canonical order and checks names are valid and unique.
    pub fn new(mut entries: Vec<TreeEntry>) -> Result<Tree> {
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for e in &entries {
            validate_name(&e.name)?;
        }
        if let Some(w) = entries.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(Error::InvalidName(
                String::from_utf8_lossy(&w[0].name).into_owned(),
                "appears twice in one directory",
            ));
        }
        Ok(Tree { entries })
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(12 + self.entries.len() * 64);
        out.extend_from_slice(TREE_MAGIC);
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for e in &self.entries {
            out.push(e.kind.code());
            out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&e.name);
            out.extend_from_slice(&e.size.to_le_bytes());
            out.extend_from_slice(&e.id.0);
        }
        out
    }

    pub fn id(&self) -> ObjectId {
        ObjectId::for_tree(&self.encode())
    }

    /// Decodes a tree, rejecting bad lengths, invalid or unsorted names and
    /// trailing bytes. `id` is used in error messages only.
    pub fn decode(id: ObjectId, data: &[u8]) -> Result<Tree> {
        let bad = |why: &str| Error::corrupt(id, format!("tree: {why}"));
        let mut r = Reader { data, pos: 0 };
        if r.take(8).ok_or_else(|| bad("truncated header"))? != TREE_MAGIC {
            return Err(bad("bad header (unknown tree format)"));
        }
        let count = r.u32().ok_or_else(|| bad("truncated count"))? as usize;
        // Each entry takes at least 1 + 2 + 1 + 8 + 32 bytes.
        if count > data.len() / 44 {
            return Err(bad("entry count larger than the object"));
        }
        let mut entries: Vec<TreeEntry> = Vec::with_capacity(count);
        for _ in 0..count {
            let kind = r
                .u8()
                .and_then(EntryKind::from_code)
                .ok_or_else(|| bad("bad entry kind"))?;
            let len = r.u16().ok_or_else(|| bad("truncated name length"))? as usize;
            let name = r.take(len).ok_or_else(|| bad("truncated name"))?.to_vec();
            validate_name(&name).map_err(|e| bad(&e.to_string()))?;
            let size = r.u64().ok_or_else(|| bad("truncated size"))?;
            let oid = r.take(32).ok_or_else(|| bad("truncated id"))?;
            if let Some(prev) = entries.last() {
                if prev.name >= name {
                    return Err(bad("entries not in strictly increasing name order"));
                }
            }
            let mut raw = [0u8; 32];
            raw.copy_from_slice(oid);
            entries.push(TreeEntry {
                name,
                kind,
                size,
                id: ObjectId(raw),
            });
        }
        if r.pos != data.len() {
            return Err(bad("trailing bytes"));
        }
        Ok(Tree { entries })
    }

    pub fn get(&self, name: &[u8]) -> Option<&TreeEntry> {
        self.entries
            .binary_search_by(|e| e.name.as_slice().cmp(name))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Total size of the files below this tree.
    pub fn total_size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Option<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(u64::from_le_bytes(a))
    }
}

/// A commit: one state of the home, its parents, who made it, when, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    pub tree: ObjectId,
    pub parents: Vec<ObjectId>,
    /// `Name <email>` or any single line.
    pub author: String,
    /// Seconds since the Unix epoch, UTC.
    pub time: i64,
    /// The author's offset from UTC in minutes (recorded, not applied to `time`).
    pub tz_minutes: i16,
    /// Sorted key → value pairs: `kind`, `patch`, `patch-id`, `applies-to`, `jira`, ...
    pub meta: BTreeMap<String, String>,
    pub message: String,
}

fn valid_meta_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= 64
        && k.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        })
}

fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            c => s.push(c),
        }
    }
    s
}

fn unescape(v: &str) -> Option<String> {
    let mut s = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.next()? {
                '\\' => s.push('\\'),
                'n' => s.push('\n'),
                'r' => s.push('\r'),
                _ => return None,
            }
        } else {
            s.push(c);
        }
    }
    Some(s)
}

impl Commit {
    /// Checks the fields can be encoded canonically.
    pub fn validate(&self) -> Result<()> {
        if self.author.contains(['\n', '\r']) || self.author.is_empty() {
            return Err(Error::Invalid(format!(
                "author {:?} must be one non-empty line",
                self.author
            )));
        }
        for k in self.meta.keys() {
            if !valid_meta_key(k) {
                return Err(Error::Invalid(format!(
                    "metadata key {k:?} must be 1-64 of [a-z0-9._-]"
                )));
            }
        }
        Ok(())
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut s = String::with_capacity(256 + self.message.len());
        s.push_str(COMMIT_HEADER);
        s.push_str(&format!("tree {}\n", self.tree));
        for p in &self.parents {
            s.push_str(&format!("parent {p}\n"));
        }
        s.push_str(&format!("author {}\n", self.author));
        let sign = if self.tz_minutes < 0 { '-' } else { '+' };
        let tz = self.tz_minutes.unsigned_abs();
        s.push_str(&format!(
            "time {} {}{:02}{:02}\n",
            self.time,
            sign,
            tz / 60,
            tz % 60
        ));
        for (k, v) in &self.meta {
            s.push_str(&format!("meta {k} {}\n", escape(v)));
        }
        s.push('\n');
        s.push_str(&self.message);
        s.into_bytes()
    }

    pub fn id(&self) -> ObjectId {
        ObjectId::for_commit(&self.encode())
    }

    /// Decodes a commit and checks it re-encodes to the same bytes.
    pub fn decode(id: ObjectId, data: &[u8]) -> Result<Commit> {
        let bad = |why: &str| Error::corrupt(id, format!("commit: {why}"));
        let text = std::str::from_utf8(data).map_err(|_| bad("not UTF-8"))?;
        let rest = text
            .strip_prefix(COMMIT_HEADER)
            .ok_or_else(|| bad("bad header (unknown commit format)"))?;
        let (head, message) = rest
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before the message"))?;
        let mut tree = None;
        let mut parents = Vec::new();
        let mut author = None;
        let mut time = None;
        let mut meta = BTreeMap::new();
        for line in head.split('\n') {
            let (key, value) = line
                .split_once(' ')
                .ok_or_else(|| bad("header line without value"))?;
            match key {
                "tree" => tree = Some(ObjectId::from_hex(value).ok_or_else(|| bad("bad tree id"))?),
                "parent" => {
                    parents.push(ObjectId::from_hex(value).ok_or_else(|| bad("bad parent id"))?)
                }
                "author" => author = Some(value.to_string()),
                "time" => {
                    let (secs, tz) = value.split_once(' ').ok_or_else(|| bad("bad time"))?;
                    let secs: i64 = secs.parse().map_err(|_| bad("bad time"))?;
                    let tzb = tz.as_bytes();
                    if tzb.len() != 5 || !(tzb[0] == b'+' || tzb[0] == b'-') {
                        return Err(bad("bad time zone"));
                    }
                    let h: i16 = tz[1..3].parse().map_err(|_| bad("bad time zone"))?;
                    let m: i16 = tz[3..5].parse().map_err(|_| bad("bad time zone"))?;
                    if h > 23 || m > 59 {
                        return Err(bad("bad time zone"));
                    }
                    let mut off = h * 60 + m;
                    if tzb[0] == b'-' {
                        off = -off;
                    }
                    time = Some((secs, off));
                }
                "meta" => {
                    let (k, v) = value.split_once(' ').unwrap_or((value, ""));
                    let v = unescape(v).ok_or_else(|| bad("bad escape in metadata"))?;
                    meta.insert(k.to_string(), v);
                }
                _ => return Err(bad("unknown header line")),
            }
        }
        let (time, tz_minutes) = time.ok_or_else(|| bad("no time"))?;
        let commit = Commit {
            tree: tree.ok_or_else(|| bad("no tree"))?,
            parents,
            author: author.ok_or_else(|| bad("no author"))?,
            time,
            tz_minutes,
            meta,
            message: message.to_string(),
        };
        commit.validate().map_err(|e| bad(&e.to_string()))?;
        if commit.encode() != data {
            return Err(bad("not in canonical form"));
        }
        Ok(commit)
    }

    /// The first line of the message.
    pub fn summary(&self) -> &str {
        self.message.lines().next().unwrap_or("")
    }

    /// The `kind` metadata value (baseline, patch, revert, checkout, manual, autosave).
    pub fn kind(&self) -> &str {
        self.meta
            .get("kind")
            .map(String::as_str)
            .unwrap_or("manual")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: EntryKind) -> TreeEntry {
        TreeEntry {
            name: name.as_bytes().to_vec(),
            kind,
            size: 3,
            id: ObjectId::for_blob(name.as_bytes()),
        }
    }

    #[test]
    fn tree_round_trip_sorted() {
        let t = Tree::new(vec![
            entry("b", EntryKind::File),
            entry("a", EntryKind::Executable),
        ])
        .unwrap();
        assert_eq!(t.entries[0].name, b"a");
        let enc = t.encode();
        assert_eq!(Tree::decode(t.id(), &enc).unwrap(), t);
    }

    #[test]
    fn tree_rejects_hostile_names_and_order() {
        for bad in ["..", ".", "", "a/b", "a\0b"] {
            assert!(
                Tree::new(vec![entry(bad, EntryKind::File)]).is_err(),
                "{bad:?}"
            );
            // Also when crafted directly into the bytes.
            let t = Tree {
                entries: vec![entry(bad, EntryKind::File)],
            };
            assert!(Tree::decode(t.id(), &t.encode()).is_err(), "{bad:?}");
        }
        let unsorted = Tree {
            entries: vec![entry("b", EntryKind::File), entry("a", EntryKind::File)],
        };
        assert!(Tree::decode(unsorted.id(), &unsorted.encode()).is_err());
        let mut enc = Tree::new(vec![entry("a", EntryKind::File)])
            .unwrap()
            .encode();
        enc.push(0);
        assert!(Tree::decode(ObjectId([0; 32]), &enc).is_err());
        enc.truncate(20);
        assert!(Tree::decode(ObjectId([0; 32]), &enc).is_err());
    }

    #[test]
    fn commit_round_trip_and_canonical() {
        let mut meta = BTreeMap::new();
        meta.insert("kind".into(), "patch".into());
        meta.insert("description".into(), "line one\nline \\two".into());
        let c = Commit {
            tree: ObjectId([1; 32]),
            parents: vec![ObjectId([2; 32])],
            author: "Ops <ops@example.com>".into(),
            time: 1_700_000_000,
            tz_minutes: -330,
            meta,
            message: "Apply patch\n\nbody\n".into(),
        };
        let enc = c.encode();
        assert_eq!(Commit::decode(c.id(), &enc).unwrap(), c);
        let mut swapped = String::from_utf8(enc).unwrap();
        swapped = swapped.replace("-0530", "-05:30");
        assert!(Commit::decode(c.id(), swapped.as_bytes()).is_err());
    }
}
