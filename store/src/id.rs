//! Object ids and hashing: BLAKE3-256 ids, their hex form, and the two
//! hashing domains (plain BLAKE3 for blobs, keyed contexts for trees and
//! commits) described in FORMAT.md.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Files at least this large are hashed through a memory map; smaller ones
/// with one read. Measured (`cargo bench -p patchvault-bench --bench micro
/// -- read_then_hash`): a read is faster up to 256 KiB (57 µs against 68 µs),
/// the two meet at 1 MiB, and the map wins at 4 MiB (0.75 ms against 0.94).
pub const MMAP_THRESHOLD: u64 = 1024 * 1024;

/// Files at least this large are hashed with BLAKE3's multi-threaded
/// `update_rayon`; below it, one thread per file is faster.
pub const PARALLEL_HASH_THRESHOLD: u64 = 4 * 1024 * 1024;

/// BLAKE3 key-derivation context for tree ids (domain separation: no tree
/// can have the id of a blob).
pub const TREE_CONTEXT: &str = "patchvault 2026-12 tree v1";
/// BLAKE3 key-derivation context for commit ids.
pub const COMMIT_CONTEXT: &str = "patchvault 2026-12 commit v1";

/// A 32-byte BLAKE3 object id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(pub [u8; 32]);

impl ObjectId {
    /// Length of the hex form.
    pub const HEX_LEN: usize = 64;

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first `n` hex digits, for display.
    pub fn short(&self) -> String {
        let mut h = self.to_hex();
        h.truncate(12);
        h
    }

    /// Parses a full 64-digit hex id.
    pub fn from_hex(s: &str) -> Option<ObjectId> {
        if s.len() != Self::HEX_LEN {
            return None;
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(ObjectId(out))
    }

    /// The id of an in-memory blob.
    pub fn for_blob(bytes: &[u8]) -> ObjectId {
        ObjectId(*blake3::hash(bytes).as_bytes())
    }

    /// The id of an encoded tree.
    pub fn for_tree(encoded: &[u8]) -> ObjectId {
        let mut h = blake3::Hasher::new_derive_key(TREE_CONTEXT);
        h.update(encoded);
        ObjectId(*h.finalize().as_bytes())
    }

    /// The id of an encoded commit.
    pub fn for_commit(encoded: &[u8]) -> ObjectId {
        let mut h = blake3::Hasher::new_derive_key(COMMIT_CONTEXT);
        h.update(encoded);
        ObjectId(*h.finalize().as_bytes())
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.short())
    }
}

/// File content, either read into memory (small files) or memory-mapped
/// (large files), so large files are never copied onto the heap.
pub enum Content {
    Bytes(Vec<u8>),
    Mapped(memmap2::Mmap),
}

/// Size of the windows in which a mapped file is hashed or compressed.
/// Each window's pages are dropped from this process once it is done (the
/// kernel's page cache keeps them), so memory does not grow with file size.
pub const MAP_WINDOW: usize = 32 << 20;

impl Content {
    /// Tells the kernel this process is done with `len` bytes from
    /// `offset` of a mapped file; nothing happens for bytes read into
    /// memory. Reading them again afterwards is correct, just slower.
    pub fn release(&self, offset: usize, len: usize) {
        if let Content::Mapped(m) = self {
            let start = offset - offset % page_size();
            let len = (offset + len).min(m.len()).saturating_sub(start);
            if len > 0 {
                // SAFETY: the map is a read-only, shared map of a file
                // (memmap2's `Mmap::map`): dropping its pages only makes
                // later reads fault them in again from the page cache, with
                // the same bytes; no private copy is lost.
                let _ = unsafe {
                    m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, len)
                };
            }
        }
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// Hashes file content as a blob, window by window, releasing each
/// window of a mapped file once it is hashed.
pub fn hash_content(content: &Content) -> ObjectId {
    if content.len() <= MAP_WINDOW {
        // Unmapped as a whole when the caller drops it.
        return hash_blob(content);
    }
    let mut h = blake3::Hasher::new();
    for (i, window) in content.chunks(MAP_WINDOW).enumerate() {
        h.update_rayon(window);
        content.release(i * MAP_WINDOW, window.len());
    }
    ObjectId(*h.finalize().as_bytes())
}

impl std::ops::Deref for Content {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Content::Bytes(b) => b,
            Content::Mapped(m) => m,
        }
    }
}

/// Opens a regular file's content: a plain read below [`MMAP_THRESHOLD`],
/// a read-only memory map above it.
pub fn read_content(path: &Path, size_hint: u64) -> Result<Content> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    if size_hint >= MMAP_THRESHOLD {
        // SAFETY: the map is read-only and private to this process; a file
        // changed underneath while mapped yields bytes whose hash is then
        // checked again by the caller (the content is hashed from the map).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
        Ok(Content::Mapped(map))
    } else {
        let mut buf = Vec::with_capacity(size_hint as usize);
        file.read_to_end(&mut buf).map_err(|e| Error::io(path, e))?;
        Ok(Content::Bytes(buf))
    }
}

/// Hashes content as a blob, using several threads for very large files.
pub fn hash_blob(bytes: &[u8]) -> ObjectId {
    if bytes.len() as u64 >= PARALLEL_HASH_THRESHOLD {
        let mut h = blake3::Hasher::new();
        h.update_rayon(bytes);
        ObjectId(*h.finalize().as_bytes())
    } else {
        ObjectId::for_blob(bytes)
    }
}

impl serde::Serialize for ObjectId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_domains_differ() {
        let data = b"hello";
        let blob = ObjectId::for_blob(data);
        assert_eq!(
            blob.to_hex(),
            "ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f"
        );
        assert_eq!(ObjectId::from_hex(&blob.to_hex()), Some(blob));
        assert_ne!(ObjectId::for_tree(data), blob);
        assert_ne!(ObjectId::for_commit(data), ObjectId::for_tree(data));
        assert!(ObjectId::from_hex("zz").is_none());
    }

    #[test]
    fn parallel_hash_equals_plain_hash() {
        let big: Vec<u8> = (0..(5 * 1024 * 1024u32)).map(|i| (i % 251) as u8).collect();
        assert_eq!(hash_blob(&big), ObjectId::for_blob(&big));
    }

    #[test]
    fn windowed_hash_of_a_mapped_file_equals_plain_hash() {
        use std::io::Write;
        let len = MAP_WINDOW * 2 + 12_345;
        let data: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        let content = read_content(f.path(), len as u64).unwrap();
        assert!(matches!(content, Content::Mapped(_)));
        assert_eq!(hash_content(&content), ObjectId::for_blob(&data));
        // Released windows read back the same bytes.
        assert!(content[..] == data[..]);
    }
}
