//! The object database: loose objects under `objects/xx/yyyy…`, each one
//! file with a small header and a raw, zstd-compressed or zstd-delta
//! payload. Writes go through a [`Batch`] (temp files, one file-system
//! sync, renames, one more sync) so a crash never leaves a named but
//! incomplete object; every read is checked against the id it was asked
//! for. A new version of a file is stored as a zstd delta against its
//! previous version (that blob as reference prefix) when that is smaller,
//! with chains bounded by [`MAX_DELTA_DEPTH`].

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use zstd::zstd_safe;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::id::{self, Content, ObjectId};
use crate::object::{Commit, ObjectKind, Tree};

const MAGIC: &[u8; 4] = b"PVO1";
const HEADER_LEN: usize = 14;
const DELTA_HEADER_LEN: usize = HEADER_LEN + 33;
const ENC_RAW: u8 = b'R';
const ENC_ZSTD: u8 = b'Z';
const ENC_DELTA: u8 = b'D';
/// Compressed and delta objects end with the first bytes of the BLAKE3 of
/// everything before: any change to their stored bytes is detected, even
/// one the decoder would not notice.
const TRAILER_LEN: usize = 8;

struct HashingWriter<'a, W: Write> {
    inner: &'a mut W,
    hasher: blake3::Hasher,
}

impl<W: Write> Write for HashingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Reads through, hashing every byte read.
struct HashingReader<R: Read> {
    inner: R,
    hasher: blake3::Hasher,
    enabled: bool,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if self.enabled {
            self.hasher.update(&buf[..n]);
        }
        Ok(n)
    }
}

/// zstd level for compressible objects (trees, commits, config files).
pub const ZSTD_LEVEL: i32 = 3;
/// zstd level for deltas. Measured on a patched 14 MB jar (`cargo bench -p
/// patchvault-bench --bench micro -- zstd_level`): level 1 gives 87 KB in
/// 13 ms, level 3 107 KB in 32 ms, level 9 87 KB in 245 ms. A jar itself
/// stays at 99.8% of its size at any level, so jars are stored raw.
pub const DELTA_LEVEL: i32 = 1;
/// Longest chain of deltas (a delta's base may itself be a delta).
pub const MAX_DELTA_DEPTH: u8 = 8;
/// Blobs smaller than this are never stored as deltas.
const DELTA_MIN: usize = 4 * 1024;
/// Largest blob a delta may decode to (the format's limit: base and
/// result live in memory while it is read).
const DELTA_MAX: u64 = 1 << 30;
/// Largest blob (and base) this version stores as a delta. Base, new
/// version and delta are all in memory while it is made, so this bounds a
/// commit's memory whatever the file sizes (the biggest Carbon jars are
/// under 20 MiB); larger files are stored whole, streamed.
const DELTA_WRITE_MAX: u64 = 64 << 20;
/// A delta is kept only if it is smaller than this share of the blob.
const DELTA_WORTH: f64 = 0.5;
/// Bytes of a blob compressed as a trial before deciding raw or zstd.
const SAMPLE: usize = 16 * 1024;
/// A blob is stored raw unless its sample compresses below this ratio.
const WORTH_IT: f64 = 0.92;
/// Trees and commits larger than this are treated as corrupt.
const MAX_META_OBJECT: u64 = 256 << 20;

/// When object data is made durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncMode {
    /// One file-system sync for a whole batch, before any ref moves (default).
    Batch,
    /// Also fsync every object file as it is written.
    Each,
    /// No syncs (throwaway stores, tests of speed only).
    Off,
}

impl FsyncMode {
    pub fn parse(s: &str) -> Option<FsyncMode> {
        match s {
            "batch" => Some(FsyncMode::Batch),
            "each" => Some(FsyncMode::Each),
            "off" => Some(FsyncMode::Off),
            _ => None,
        }
    }
}

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
    /// For deltas: the base blob and this object's depth in the chain.
    pub delta: Option<(ObjectId, u8)>,
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

    /// Stages an object in `batch` unless the store already has it.
    /// Returns whether it was new.
    pub fn write(
        &self,
        batch: &Batch,
        kind: ObjectKind,
        id: ObjectId,
        data: &[u8],
    ) -> Result<bool> {
        self.write_from(batch, kind, id, data, None, None)
    }

    /// Like [`Odb::write`], trying a delta against `base` (the previous
    /// version of the same file) for blobs.
    pub fn write_with_base(
        &self,
        batch: &Batch,
        kind: ObjectKind,
        id: ObjectId,
        data: &[u8],
        base: Option<ObjectId>,
    ) -> Result<bool> {
        self.write_from(batch, kind, id, data, base, None)
    }

    /// The one write path; `mapped` is the file content `data` comes from,
    /// whose windows are released as they are compressed.
    fn write_from(
        &self,
        batch: &Batch,
        kind: ObjectKind,
        id: ObjectId,
        data: &[u8],
        base: Option<ObjectId>,
        mapped: Option<&Content>,
    ) -> Result<bool> {
        let dest = self.path_of(&id);
        if fs::symlink_metadata(&dest).is_ok() || batch.has(&id) {
            return Ok(false);
        }
        self.stage(batch, id, |tmp_path| {
            let tmp = tmp_path.to_path_buf();
            let delta = match base {
                Some(b) if kind == ObjectKind::Blob && b != id => self.try_delta(data, b)?,
                _ => None,
            };
            let mut f = BufWriter::with_capacity(256 * 1024, fsutil::create_new(&tmp, 0o444)?);
            let io = |e| Error::io(&tmp, e);
            let mut header = Vec::with_capacity(DELTA_HEADER_LEN);
            header.extend_from_slice(MAGIC);
            header.push(kind.code());
            if let Some((base_id, depth, payload)) = &delta {
                header.push(ENC_DELTA);
                header.extend_from_slice(&(data.len() as u64).to_le_bytes());
                header.extend_from_slice(&base_id.0);
                header.push(*depth);
                let mut h = blake3::Hasher::new();
                h.update(&header);
                h.update(payload);
                f.write_all(&header).map_err(io)?;
                f.write_all(payload).map_err(io)?;
                f.write_all(&h.finalize().as_bytes()[..TRAILER_LEN])
                    .map_err(io)?;
            } else if should_compress(kind, data)? {
                header.push(ENC_ZSTD);
                header.extend_from_slice(&(data.len() as u64).to_le_bytes());
                // Streamed: no second copy of a large file in memory; the
                // stored bytes are hashed on the way for the trailer.
                let mut hw = HashingWriter {
                    inner: &mut f,
                    hasher: blake3::Hasher::new(),
                };
                hw.write_all(&header).map_err(io)?;
                let mut enc = zstd::stream::write::Encoder::new(&mut hw, ZSTD_LEVEL).map_err(io)?;
                for (i, window) in data.chunks(id::MAP_WINDOW).enumerate() {
                    enc.write_all(window).map_err(io)?;
                    if let Some(c) = mapped {
                        c.release(i * id::MAP_WINDOW, window.len());
                    }
                }
                enc.finish().map_err(io)?;
                let sum = hw.hasher.finalize();
                f.write_all(&sum.as_bytes()[..TRAILER_LEN]).map_err(io)?;
            } else {
                header.push(ENC_RAW);
                header.extend_from_slice(&(data.len() as u64).to_le_bytes());
                f.write_all(&header).map_err(io)?;
                f.write_all(data).map_err(io)?;
            }
            let f = f
                .into_inner()
                .map_err(|e| Error::io(&tmp, e.into_error()))?;
            batch.written(&f).map_err(io)
        })
    }

    /// Writes a new object into a temp file through `fill` and stages it in
    /// `batch` under `id`; the temp file goes away on any error.
    fn stage(
        &self,
        batch: &Batch,
        id: ObjectId,
        fill: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<bool> {
        let tmp = self.tmp.join(fsutil::temp_name("obj"));
        let result = match crate::fault::write_error() {
            Some(e) => Err(Error::io(&tmp, e)),
            None => fill(&tmp),
        };
        if let Err(e) = result {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        batch.push(id, tmp, self.path_of(&id));
        crate::fault::point();
        Ok(true)
    }

    /// A zstd delta of `data` against blob `base`, if the base is usable
    /// and the delta pays: (base, depth, payload).
    fn try_delta(&self, data: &[u8], base: ObjectId) -> Result<Option<(ObjectId, u8, Vec<u8>)>> {
        if data.len() < DELTA_MIN || data.len() as u64 > DELTA_WRITE_MAX {
            return Ok(None);
        }
        let info = match self.info(&base) {
            Ok(i) if i.kind == ObjectKind::Blob && i.size <= DELTA_WRITE_MAX => i,
            _ => return Ok(None),
        };
        let depth = info.delta.map_or(0, |(_, d)| d) + 1;
        if depth > MAX_DELTA_DEPTH {
            return Ok(None);
        }
        let base_bytes = self.read_blob(&base)?;
        let payload = delta_compress(data, &base_bytes)
            .map_err(|e| Error::Invalid(format!("delta against {}: {e}", base.short())))?;
        Ok(((payload.len() as f64) < DELTA_WORTH * data.len() as f64)
            .then_some((base, depth, payload)))
    }

    /// Stores a blob read from the file at `src` (whose bytes, `data`, were
    /// just hashed to `id`). A blob stored raw is copied file to file by the
    /// kernel (`copy_file_range`) instead of through this process; the copy
    /// is checked to have the expected length, and every read re-checks
    /// the content against the id.
    pub fn write_file_blob(
        &self,
        batch: &Batch,
        id: ObjectId,
        content: &Content,
        src: &Path,
        base: Option<ObjectId>,
    ) -> Result<bool> {
        let data: &[u8] = content;
        let dest = self.path_of(&id);
        if fs::symlink_metadata(&dest).is_ok() || batch.has(&id) {
            return Ok(false);
        }
        let raw = base.is_none_or(|b| {
            b == id || data.len() < DELTA_MIN || data.len() as u64 > DELTA_WRITE_MAX
        }) && !should_compress(ObjectKind::Blob, data)?;
        if !raw {
            return self.write_from(batch, ObjectKind::Blob, id, data, base, Some(content));
        }
        self.stage(batch, id, |tmp_path| {
            let tmp = tmp_path.to_path_buf();
            let mut out = fsutil::create_new(&tmp, 0o444)?;
            let mut header = Vec::with_capacity(HEADER_LEN);
            header.extend_from_slice(MAGIC);
            header.push(ObjectKind::Blob.code());
            header.push(ENC_RAW);
            header.extend_from_slice(&(data.len() as u64).to_le_bytes());
            out.write_all(&header).map_err(|e| Error::io(&tmp, e))?;
            let input = File::open(src).map_err(|e| Error::io(src, e))?;
            let copied =
                copy_range(&input, &out, data.len() as u64).map_err(|e| Error::io(&tmp, e))?;
            if copied != data.len() as u64 {
                // The file changed size while it was stored: write what was hashed.
                out.set_len(HEADER_LEN as u64)
                    .map_err(|e| Error::io(&tmp, e))?;
                out.seek(SeekFrom::Start(HEADER_LEN as u64))
                    .map_err(|e| Error::io(&tmp, e))?;
                out.write_all(data).map_err(|e| Error::io(&tmp, e))?;
            }
            batch.written(&out).map_err(|e| Error::io(&tmp, e))
        })
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

    fn open(&self, id: &ObjectId) -> Result<(File, StoredInfo, Vec<u8>)> {
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
        let mut sz = [0u8; 8];
        sz.copy_from_slice(&h[6..14]);
        let size = u64::from_le_bytes(sz);
        let mut header = h.to_vec();
        let (compressed, delta) = match h[5] {
            ENC_RAW => (false, None),
            ENC_ZSTD => (true, None),
            ENC_DELTA => {
                let mut d = [0u8; 33];
                f.read_exact(&mut d)
                    .map_err(|_| Error::corrupt(*id, "truncated delta header"))?;
                header.extend_from_slice(&d);
                let mut b = [0u8; 32];
                b.copy_from_slice(&d[..32]);
                if kind != ObjectKind::Blob
                    || size > DELTA_MAX
                    || d[32] == 0
                    || d[32] > MAX_DELTA_DEPTH
                {
                    return Err(Error::corrupt(*id, "invalid delta header"));
                }
                (true, Some((ObjectId(b), d[32])))
            }
            _ => return Err(Error::corrupt(*id, "unknown encoding")),
        };
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
                delta,
                stored_bytes,
            },
            header,
        ))
    }

    /// Header information without reading the payload.
    pub fn info(&self, id: &ObjectId) -> Result<StoredInfo> {
        self.open(id).map(|(_, i, _)| i)
    }

    /// Streams an object's decoded bytes into `out`, checking length and id
    /// as they pass. On error `out` may hold partial data: the caller must
    /// discard it.
    pub fn copy_to(&self, id: &ObjectId, out: &mut dyn Write) -> Result<StoredInfo> {
        self.copy_to_depth(id, out, MAX_DELTA_DEPTH + 1)
    }

    fn copy_to_depth(&self, id: &ObjectId, out: &mut dyn Write, budget: u8) -> Result<StoredInfo> {
        let (mut f, info, header) = self.open(id)?;
        let damaged = || {
            Error::corrupt(
                *id,
                "stored bytes do not match their checksum (bit rot or tampering)",
            )
        };
        let mut hasher = match info.kind {
            ObjectKind::Blob => blake3::Hasher::new(),
            ObjectKind::Tree => blake3::Hasher::new_derive_key(id::TREE_CONTEXT),
            ObjectKind::Commit => blake3::Hasher::new_derive_key(id::COMMIT_CONTEXT),
        };
        if let Some((base, _)) = info.delta {
            if budget == 0 || base == *id {
                return Err(Error::corrupt(*id, "delta chain too long or circular"));
            }
            let mut base_bytes = Vec::new();
            let base_info = self.copy_to_depth(&base, &mut base_bytes, budget - 1)?;
            if base_info.kind != ObjectKind::Blob {
                return Err(Error::corrupt(
                    *id,
                    format!("delta base {} is not a blob", base.short()),
                ));
            }
            let mut payload = Vec::new();
            f.seek(SeekFrom::Start(DELTA_HEADER_LEN as u64))
                .map_err(|e| Error::io(self.path_of(id), e))?;
            f.read_to_end(&mut payload)
                .map_err(|e| Error::io(self.path_of(id), e))?;
            let trailer = payload.split_off(payload.len().saturating_sub(TRAILER_LEN));
            let mut sum = blake3::Hasher::new();
            sum.update(&header);
            sum.update(&payload);
            if sum.finalize().as_bytes()[..TRAILER_LEN] != trailer[..] {
                return Err(damaged());
            }
            let data = delta_decompress(&payload, &base_bytes, info.size)
                .map_err(|e| Error::corrupt(*id, format!("cannot decode delta: {e}")))?;
            hasher.update(&data);
            if hasher.finalize().as_bytes() != &id.0 {
                return Err(Error::corrupt(
                    *id,
                    "content does not match its id (bit rot or tampering)",
                ));
            }
            out.write_all(&data)
                .map_err(|e| Error::io(Path::new("<output>"), e))?;
            return Ok(info);
        }
        let trailer_len = if info.compressed { TRAILER_LEN } else { 0 };
        let payload_len = info
            .stored_bytes
            .saturating_sub((header.len() + trailer_len) as u64);
        let mut stored = HashingReader {
            inner: (&mut f).take(payload_len),
            hasher: blake3::Hasher::new(),
            enabled: info.compressed,
        };
        stored.hasher.update(&header);
        let mut reader: Box<dyn Read + '_> = if info.compressed {
            let dec = zstd::stream::read::Decoder::new(&mut stored)
                .map_err(|e| Error::corrupt(*id, format!("zstd: {e}")))?;
            Box::new(dec)
        } else {
            Box::new(&mut stored)
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
        drop(reader);
        if total != info.size {
            return Err(Error::corrupt(
                *id,
                "payload shorter than its header says (truncated?)",
            ));
        }
        if info.compressed {
            std::io::copy(&mut stored, &mut std::io::sink())
                .map_err(|e| Error::io(self.path_of(id), e))?;
            let sum = stored.hasher.finalize();
            let mut trailer = [0u8; TRAILER_LEN];
            stored
                .inner
                .into_inner()
                .read_exact(&mut trailer)
                .map_err(|_| damaged())?;
            if sum.as_bytes()[..TRAILER_LEN] != trailer {
                return Err(damaged());
            }
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
        let mut out = self.ids_in(&prefix[..2])?;
        out.retain(|id| id.to_hex().starts_with(&prefix));
        Ok(out)
    }

    fn ids_in(&self, fan: &str) -> Result<Vec<ObjectId>> {
        let dir = self.objects.join(fan);
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
            if let Some(id) = ObjectId::from_hex(&format!("{fan}{rest}")) {
                out.push(id);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Every object id in the store.
    pub fn all_ids(&self) -> Result<Vec<ObjectId>> {
        let mut out = Vec::new();
        for b in 0..=255u8 {
            out.extend(self.ids_in(&format!("{b:02x}"))?);
        }
        Ok(out)
    }
}

/// Whether to zstd-compress: trees and commits when it saves 8%; blobs when
/// a trial of their first 64 KiB does (jars, already deflated, do not).
fn should_compress(kind: ObjectKind, data: &[u8]) -> Result<bool> {
    if data.len() < 64 {
        return Ok(false);
    }
    // Jars, wars and zips are deflated already: no trial needed.
    if kind == ObjectKind::Blob && data.starts_with(b"PK\x03\x04") {
        return Ok(false);
    }
    let trial = if kind == ObjectKind::Blob && data.len() > SAMPLE {
        &data[..SAMPLE]
    } else {
        data
    };
    let c =
        zstd::bulk::compress(trial, ZSTD_LEVEL).map_err(|e| Error::io(Path::new("<zstd>"), e))?;
    Ok((c.len() as f64) < WORTH_IT * trial.len() as f64)
}

/// Copies up to `len` bytes from the start of `input` to the end of
/// `output` inside the kernel; falls back to a plain copy where the file
/// systems do not support it. Returns the bytes copied.
fn copy_range(input: &File, output: &File, len: u64) -> std::io::Result<u64> {
    use std::os::unix::io::AsRawFd;
    let mut done = 0u64;
    let mut off_in: libc::loff_t = 0;
    while done < len {
        let want = (len - done).min(1 << 30) as usize;
        // SAFETY: both descriptors are open; off_in points to a live loff_t;
        // a null output offset means the output file position is used.
        let n = unsafe {
            libc::copy_file_range(
                input.as_raw_fd(),
                &mut off_in,
                output.as_raw_fd(),
                std::ptr::null_mut(),
                want,
                0,
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EXDEV)
                | Some(libc::ENOSYS)
                | Some(libc::EOPNOTSUPP)
                | Some(libc::EINVAL)
                    if done == 0 =>
                {
                    let mut r = input.take(len);
                    let mut w = output;
                    return std::io::copy(&mut r, &mut w);
                }
                Some(libc::EINTR) => continue,
                _ => return Err(e),
            }
        }
        if n == 0 {
            break;
        }
        done += n as u64;
    }
    Ok(done)
}

fn window_log(total: usize) -> u32 {
    let mut w = 10;
    while w < 30 && (1usize << w) < total {
        w += 1;
    }
    w
}

fn zerr(code: usize) -> String {
    zstd_safe::get_error_name(code).to_string()
}

/// zstd-compresses `data` with `base` as reference prefix.
pub fn delta_compress(data: &[u8], base: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut cctx = zstd_safe::CCtx::create();
    cctx.set_parameter(zstd_safe::CParameter::CompressionLevel(DELTA_LEVEL))
        .map_err(zerr)?;
    cctx.set_parameter(zstd_safe::CParameter::WindowLog(window_log(
        base.len() + data.len(),
    )))
    .map_err(zerr)?;
    cctx.set_parameter(zstd_safe::CParameter::EnableLongDistanceMatching(true))
        .map_err(zerr)?;
    cctx.ref_prefix(base).map_err(zerr)?;
    let mut out = Vec::with_capacity(zstd_safe::compress_bound(data.len()));
    cctx.compress2(&mut out, data).map_err(zerr)?;
    Ok(out)
}

/// Inverse of [`delta_compress`]; `size` is the expected result length.
pub fn delta_decompress(
    payload: &[u8],
    base: &[u8],
    size: u64,
) -> std::result::Result<Vec<u8>, String> {
    if size > DELTA_MAX {
        return Err("delta result too large".into());
    }
    let mut dctx = zstd_safe::DCtx::create();
    dctx.set_parameter(zstd_safe::DParameter::WindowLogMax(31))
        .map_err(zerr)?;
    dctx.ref_prefix(base).map_err(zerr)?;
    let mut out = Vec::with_capacity(size as usize);
    let n = dctx.decompress(&mut out, payload).map_err(zerr)?;
    if n as u64 != size {
        return Err(format!("decoded {n} bytes, header says {size}"));
    }
    Ok(out)
}

/// Objects written but not yet visible under their names. `finish` makes
/// them durable and visible; dropping an unfinished batch removes them.
pub struct Batch {
    store: PathBuf,
    pending: Mutex<HashMap<ObjectId, (PathBuf, PathBuf)>>,
    mode: FsyncMode,
}

impl Batch {
    pub fn new(store: &Path, mode: FsyncMode) -> Batch {
        Batch {
            store: store.to_path_buf(),
            pending: Mutex::new(HashMap::new()),
            mode,
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

    /// Called when an object file of this batch is completely written.
    /// `Each` makes it durable now. `Batch` asks the kernel to start writing
    /// it back (`sync_file_range`, not waiting), so the disk works while the
    /// scan goes on and the one sync in [`Batch::finish`] mostly waits for
    /// writes already under way; `finish`'s sync is still what guarantees
    /// durability.
    fn written(&self, f: &File) -> std::io::Result<()> {
        match self.mode {
            FsyncMode::Each => f.sync_data(),
            FsyncMode::Batch => {
                use std::os::unix::io::AsRawFd;
                // SAFETY: the descriptor is open; offset 0 and length 0 mean
                // the whole file; the call touches no memory of ours.
                let rc = unsafe {
                    libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE)
                };
                // Only a hint: where it is unsupported, finish's sync does it all.
                let _ = rc;
                Ok(())
            }
            FsyncMode::Off => Ok(()),
        }
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
        let sync = self.mode != FsyncMode::Off;
        if sync {
            fsutil::syncfs(&self.store)?;
        }
        // A delta's base is always an object already visible (see
        // `try_delta`), so the order of renames does not matter.
        for (tmp, dest) in pending.values() {
            if let Some(dir) = dest.parent() {
                if !dir.exists() {
                    fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                }
            }
            fs::rename(tmp, dest).map_err(|e| Error::io(dest, e))?;
            crate::fault::point();
        }
        if sync {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_round_trip_is_small() {
        let base: Vec<u8> = (0..200_000u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        let mut new = base.clone();
        new[1000..1100].fill(7);
        let d = delta_compress(&new, &base).unwrap();
        assert!(d.len() < 2_000, "delta {} bytes", d.len());
        assert_eq!(delta_decompress(&d, &base, new.len() as u64).unwrap(), new);
        // Against another base the result is wrong (the caller's hash check catches it).
        let other: Vec<u8> = base.iter().rev().copied().collect();
        assert!(delta_decompress(&d, &other, new.len() as u64)
            .map(|v| v != new)
            .unwrap_or(true));
    }
}
