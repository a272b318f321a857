//! The stat cache ("index"): path → (device, inode, size, mtime, ctime,
//! mode, id) as last hashed. A file whose stat matches its entry is not
//! read again. An entry whose mtime is not older than the index file itself
//! is "racy" (the file may have changed within the same clock tick after it
//! was hashed) and is hashed again, as git does.
//!
//! The index is only a cache: a missing, unreadable or corrupt index is
//! ignored (every file is hashed) and rewritten.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::Result;
use crate::fsutil;
use crate::id::ObjectId;

const MAGIC: &[u8; 8] = b"PVINDEX1";
/// Entries are bounded so a crafted index cannot exhaust memory.
const MAX_ENTRIES: usize = 10_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub mode: u32,
}

impl Stat {
    pub fn of(md: &fs::Metadata) -> Stat {
        Stat {
            dev: md.dev(),
            ino: md.ino(),
            size: md.size(),
            mtime_ns: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
            ctime_ns: md.ctime() * 1_000_000_000 + md.ctime_nsec(),
            mode: md.mode(),
        }
    }
}

#[derive(Default)]
pub struct Index {
    entries: HashMap<Vec<u8>, (Stat, ObjectId)>,
    /// mtime of the index file when loaded; entries not older are racy.
    stamp_ns: i64,
}

impl Index {
    /// Loads the index, or an empty one if it is missing or damaged.
    pub fn load(path: &Path) -> Index {
        let Ok(data) = fs::read(path) else {
            return Index::default();
        };
        let stamp_ns = fs::metadata(path)
            .map(|m| m.mtime() * 1_000_000_000 + m.mtime_nsec())
            .unwrap_or(i64::MIN);
        match Self::decode(&data) {
            Some(entries) => Index { entries, stamp_ns },
            None => Index::default(),
        }
    }

    /// Whether the index file decodes and its checksum holds (None: no index).
    pub fn check_file(path: &Path) -> Option<bool> {
        let data = fs::read(path).ok()?;
        Some(Self::decode(&data).is_some())
    }

    /// Decodes index bytes (None when damaged); for tests and fuzzing.
    pub fn decode_bytes(data: &[u8]) -> Option<usize> {
        Self::decode(data).map(|m| m.len())
    }

    fn decode(data: &[u8]) -> Option<HashMap<Vec<u8>, (Stat, ObjectId)>> {
        if data.len() < 8 + 4 + 32 || &data[..8] != MAGIC {
            return None;
        }
        let (body, sum) = data.split_at(data.len() - 32);
        if blake3::hash(body).as_bytes() != sum {
            return None;
        }
        let mut pos: usize = 8;
        let mut take = |n: usize| -> Option<&[u8]> {
            let s = body.get(pos..pos.checked_add(n)?)?;
            pos += n;
            Some(s)
        };
        let count = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
        if count > MAX_ENTRIES {
            return None;
        }
        let mut entries = HashMap::with_capacity(count.min(body.len() / 90));
        for _ in 0..count {
            let len = u16::from_le_bytes(take(2)?.try_into().ok()?) as usize;
            let path = take(len)?.to_vec();
            let u = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
            let dev = u(take(8)?);
            let ino = u(take(8)?);
            let size = u(take(8)?);
            let mtime_ns = u(take(8)?) as i64;
            let ctime_ns = u(take(8)?) as i64;
            let mode = u32::from_le_bytes(take(4)?.try_into().ok()?);
            let id = ObjectId(take(32)?.try_into().ok()?);
            let stat = Stat {
                dev,
                ino,
                size,
                mtime_ns,
                ctime_ns,
                mode,
            };
            entries.insert(path, (stat, id));
        }
        if pos != body.len() {
            return None;
        }
        Some(entries)
    }

    /// The cached id for `path` if its stat is unchanged and not racy.
    pub fn lookup(&self, path: &[u8], stat: &Stat) -> Option<ObjectId> {
        let (s, id) = self.entries.get(path)?;
        (s == stat && s.mtime_ns < self.stamp_ns).then_some(*id)
    }

    pub fn insert(&mut self, path: Vec<u8>, stat: Stat, id: ObjectId) {
        self.entries.insert(path, (stat, id));
    }

    /// Drops every entry (keeping the racy-time stamp of the loaded file).
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Writes the index atomically (it is a cache, so no directory fsync is
    /// needed for correctness; atomic replacement is).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut keys: Vec<&Vec<u8>> = self
            .entries
            .keys()
            .filter(|k| k.len() <= u16::MAX as usize)
            .collect();
        keys.sort();
        let mut out = Vec::with_capacity(44 + keys.len() * 120);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(keys.len() as u32).to_le_bytes());
        for k in keys {
            let (s, id) = &self.entries[k];
            out.extend_from_slice(&(k.len() as u16).to_le_bytes());
            out.extend_from_slice(k);
            for v in [s.dev, s.ino, s.size, s.mtime_ns as u64, s.ctime_ns as u64] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            out.extend_from_slice(&s.mode.to_le_bytes());
            out.extend_from_slice(&id.0);
        }
        let sum = blake3::hash(&out);
        out.extend_from_slice(sum.as_bytes());
        fsutil::atomic_write(path, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("index");
        let mut ix = Index::default();
        let st = Stat {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_ns: 4,
            ctime_ns: 5,
            mode: 0o100644,
        };
        ix.insert(b"a/b".to_vec(), st, ObjectId([7; 32]));
        ix.save(&p).unwrap();
        let back = Index::load(&p);
        assert_eq!(back.lookup(b"a/b", &st), Some(ObjectId([7; 32])));
        let racy = Stat {
            mtime_ns: i64::MAX,
            ..st
        };
        let mut ix2 = Index::default();
        ix2.insert(b"r".to_vec(), racy, ObjectId([1; 32]));
        ix2.save(&p).unwrap();
        assert_eq!(
            Index::load(&p).lookup(b"r", &racy),
            None,
            "racy entries are re-hashed"
        );
        let mut bytes = fs::read(&p).unwrap();
        bytes[12] ^= 1;
        fs::write(&p, &bytes).unwrap();
        assert!(Index::load(&p).is_empty());
    }
}
