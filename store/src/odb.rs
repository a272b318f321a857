//! The object database: loose objects under `objects/xx/yyyy…`, each one
//! file with a small header and a raw or zstd-compressed payload. Writes go
//! through a [`Batch`] (temp files, one file-system sync, renames, one more
//! sync) so a crash never leaves a named but incomplete object; every read
//! is checked against the id it was asked for.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::id::{self, ObjectId};
use crate::object::{Commit, ObjectKind, Tree};

const MAGIC: &[u8; 4] = b"PVO1";
const HEADER_LEN: usize = 14;
const ENC_RAW: u8 = b'R';
const ENC_ZSTD: u8 = b'Z';

/// zstd level for compressible objects (trees, commits, config files).
pub const ZSTD_LEVEL: i32 = 3;
/// Bytes of a blob compressed as a trial before deciding raw or zstd.
const SAMPLE: usize = 64 * 1024;
/// A blob is stored raw unless its sample compresses below this ratio.
const WORTH_IT: f64 = 0.92;
/// Trees and commits larger than this are treated as corrupt.
const MAX_META_OBJECT: u64 = 256 << 20;

pub struct Odb {
    objects: PathBuf,
    tmp: PathBuf,
}

/// How a stored object is encoded, as read from its header.
#[derive(Debug, Clone, Copy)]
pub struct StoredInfo {
    pub kind: ObjectKind,
    pub size: u64,
    pub compressed: bool,
    pub stored_bytes: u64,
}

impl Odb {
    pub fn new(store: &Path) -> Odb {
        Odb {
            objects: store.join("objects"),
            tmp: store.join("tmp"),
        }
    }

    pub fn path_of(&self, id: &ObjectId) -> PathBuf {
        let hex = id.to_hex();
        self.objects.join(&hex[..2]).join(&hex[2..])
    }

    pub fn contains(&self, id: &ObjectId) -> bool {
        fs::symlink_metadata(self.path_of(id)).is_ok()
    }

    /// Encodes and stages an object in `batch` unless the store already has it.
    /// Returns whether it was new.
    pub fn write(
        &self,
        batch: &Batch,
        kind: ObjectKind,
        id: ObjectId,
        data: &[u8],
    ) -> Result<bool> {
        let dest = self.path_of(&id);
        if fs::symlink_metadata(&dest).is_ok() || batch.has(&id) {
            return Ok(false);
        }
        let compressed = if kind != ObjectKind::Blob || data.len() <= SAMPLE {
            compress_if_worth(data)?
        } else {
            let sample = zstd::bulk::compress(&data[..SAMPLE], ZSTD_LEVEL)
                .map_err(|e| Error::io(&dest, e))?;
            if (sample.len() as f64) < WORTH_IT * SAMPLE as f64 {
                compress_if_worth(data)?
            } else {
                None
            }
        };
        let tmp = self.tmp.join(fsutil::temp_name("obj"));
        let mut f = fsutil::create_new(&tmp, 0o444)?;
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.push(kind.code());
        header.push(if compressed.is_some() {
            ENC_ZSTD
        } else {
            ENC_RAW
        });
        header.extend_from_slice(&(data.len() as u64).to_le_bytes());
        let payload = compressed.as_deref().unwrap_or(data);
        let written = f
            .write_all(&header)
            .and_then(|_| f.write_all(payload))
            .and_then(|_| {
                if batch.fsync_each {
                    f.sync_data()
                } else {
                    Ok(())
                }
            });
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(Error::io(&tmp, e));
        }
        batch.push(id, tmp, dest);
        Ok(true)
    }

    pub fn write_tree(&self, batch: &Batch, tree: &Tree) -> Result<ObjectId> {
        let enc = tree.encode();
        let id = ObjectId::for_tree(&enc);
        self.write(batch, ObjectKind::Tree, id, &enc)?;
        Ok(id)
    }

    pub fn write_commit(&self, batch: &Batch, commit: &Commit) -> Result<ObjectId> {
        commit.validate()?;
        let enc = commit.encode();
        let id = ObjectId::for_commit(&enc);
        self.write(batch, ObjectKind::Commit, id, &enc)?;
        Ok(id)
    }

    fn open(&self, id: &ObjectId) -> Result<(File, StoredInfo)> {
        let path = self.path_of(id);
        let mut f = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::Missing(*id)),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let stored_bytes = f.metadata().map_err(|e| Error::io(&path, e))?.len();
        let mut h = [0u8; HEADER_LEN];
        f.read_exact(&mut h)
            .map_err(|_| Error::corrupt(*id, "truncated header"))?;
        if &h[..4] != MAGIC {
            return Err(Error::corrupt(
                *id,
                "bad magic (not a patchvault object, or an unknown format)",
            ));
        }
        let kind = ObjectKind::from_code(h[4])
            .ok_or_else(|| Error::corrupt(*id, "unknown object kind"))?;
        let compressed = match h[5] {
            ENC_RAW => false,
            ENC_ZSTD => true,
            _ => return Err(Error::corrupt(*id, "unknown encoding")),
        };
        let mut sz = [0u8; 8];
        sz.copy_from_slice(&h[6..14]);
        let size = u64::from_le_bytes(sz);
        if !compressed && stored_bytes != HEADER_LEN as u64 + size {
            return Err(Error::corrupt(
                *id,
                "stored length differs from the header (truncated?)",
            ));
        }
        if kind != ObjectKind::Blob && size > MAX_META_OBJECT {
            return Err(Error::corrupt(*id, "implausibly large tree or commit"));
        }
        Ok((
            f,
            StoredInfo {
                kind,
                size,
                compressed,
                stored_bytes,
            },
        ))
    }

    /// Header information without reading the payload.
    pub fn info(&self, id: &ObjectId) -> Result<StoredInfo> {
        self.open(id).map(|(_, i)| i)
    }

    /// Streams an object's decoded bytes into `out`, checking length and id
    /// as they pass. On error `out` may hold partial data: the caller must
    /// discard it.
    pub fn copy_to(&self, id: &ObjectId, out: &mut dyn Write) -> Result<StoredInfo> {
        let (f, info) = self.open(id)?;
        let mut hasher = match info.kind {
            ObjectKind::Blob => blake3::Hasher::new(),
            ObjectKind::Tree => blake3::Hasher::new_derive_key(id::TREE_CONTEXT),
            ObjectKind::Commit => blake3::Hasher::new_derive_key(id::COMMIT_CONTEXT),
        };
        let mut reader: Box<dyn Read> = if info.compressed {
            let dec = zstd::stream::read::Decoder::new(f)
                .map_err(|e| Error::corrupt(*id, format!("zstd: {e}")))?;
            Box::new(dec)
        } else {
            Box::new(f)
        };
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::corrupt(*id, format!("cannot decode payload: {e}"))),
            };
            total += n as u64;
            if total > info.size {
                return Err(Error::corrupt(*id, "payload longer than its header says"));
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| Error::io(Path::new("<output>"), e))?;
        }
        if total != info.size {
            return Err(Error::corrupt(
                *id,
                "payload shorter than its header says (truncated?)",
            ));
        }
        if hasher.finalize().as_bytes() != &id.0 {
            return Err(Error::corrupt(
                *id,
                "content does not match its id (bit rot or tampering)",
            ));
        }
        Ok(info)
    }

    /// Reads and verifies a whole object.
    pub fn read(&self, id: &ObjectId) -> Result<(ObjectKind, Vec<u8>)> {
        let mut v = Vec::new();
        let info = self.copy_to(id, &mut v)?;
        Ok((info.kind, v))
    }

    fn read_kind(&self, id: &ObjectId, want: ObjectKind) -> Result<Vec<u8>> {
        let (kind, data) = self.read(id)?;
        if kind != want {
            return Err(Error::WrongKind {
                id: *id,
                expected: want.name(),
                actual: kind.name(),
            });
        }
        Ok(data)
    }

    pub fn read_tree(&self, id: &ObjectId) -> Result<Tree> {
        Tree::decode(*id, &self.read_kind(id, ObjectKind::Tree)?)
    }

    pub fn read_commit(&self, id: &ObjectId) -> Result<Commit> {
        Commit::decode(*id, &self.read_kind(id, ObjectKind::Commit)?)
    }

    pub fn read_blob(&self, id: &ObjectId) -> Result<Vec<u8>> {
        self.read_kind(id, ObjectKind::Blob)
    }

    /// Ids whose hex form starts with `prefix` (at least 2 hex digits).
    pub fn find_prefix(&self, prefix: &str) -> Result<Vec<ObjectId>> {
        let prefix = prefix.to_ascii_lowercase();
        if prefix.len() < 2 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Vec::new());
        }
        let dir = self.objects.join(&prefix[..2]);
        let mut out = Vec::new();
        let rd = match fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for ent in rd {
            let ent = ent.map_err(|e| Error::io(&dir, e))?;
            let name = ent.file_name();
            let Some(rest) = name.to_str() else { continue };
            let full = format!("{}{}", &prefix[..2], rest);
            if full.starts_with(&prefix) {
                if let Some(id) = ObjectId::from_hex(&full) {
                    out.push(id);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

fn compress_if_worth(data: &[u8]) -> Result<Option<Vec<u8>>> {
    if data.len() < 64 {
        return Ok(None);
    }
    let c =
        zstd::bulk::compress(data, ZSTD_LEVEL).map_err(|e| Error::io(Path::new("<zstd>"), e))?;
    Ok(if (c.len() as f64) < WORTH_IT * data.len() as f64 {
        Some(c)
    } else {
        None
    })
}

/// Objects written but not yet visible under their names. `finish` makes
/// them durable and visible; dropping an unfinished batch removes them.
pub struct Batch {
    store: PathBuf,
    pending: Mutex<HashMap<ObjectId, (PathBuf, PathBuf)>>,
    fsync_each: bool,
    sync: bool,
}

impl Batch {
    /// `sync`: make the batch durable on finish (off only for throwaway
    /// stores, e.g. in tests).
    pub fn new(store: &Path, sync: bool) -> Batch {
        Batch {
            store: store.to_path_buf(),
            pending: Mutex::new(HashMap::new()),
            fsync_each: false,
            sync,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectId, (PathBuf, PathBuf)>> {
        // A panic while holding this lock leaves only a list of paths behind.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn has(&self, id: &ObjectId) -> bool {
        self.lock().contains_key(id)
    }

    fn push(&self, id: ObjectId, tmp: PathBuf, dest: PathBuf) {
        // Two threads may stage the same content at once: keep one copy.
        if let Some((dup, _)) = self.lock().insert(id, (tmp, dest)) {
            let _ = fs::remove_file(dup);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Data durable, then names visible, then names durable.
    pub fn finish(self) -> Result<usize> {
        let pending = std::mem::take(&mut *self.lock());
        if pending.is_empty() {
            return Ok(0);
        }
        if self.sync {
            fsutil::syncfs(&self.store)?;
        }
        for (tmp, dest) in pending.values() {
            if let Some(dir) = dest.parent() {
                if !dir.exists() {
                    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                }
            }
            fs::rename(tmp, dest).map_err(|e| Error::io(dest, e))?;
        }
        if self.sync {
            fsutil::syncfs(&self.store)?;
        }
        Ok(pending.len())
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        for (_, (tmp, _)) in self.lock().drain() {
            let _ = fs::remove_file(tmp);
        }
    }
}
