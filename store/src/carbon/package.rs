//! Patch intake: reads a WSO2 patch (a zip, or the same content unpacked
//! in a folder) fully into memory, refusing anything hostile or broken —
//! `../` or absolute paths, links, duplicate names, decompression bombs,
//! truncated archives, jars that are not zips — before anything is changed.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::jar;

/// Most files a patch may hold.
pub const MAX_FILES: usize = 20_000;
/// Most bytes a patch may unpack to.
pub const MAX_TOTAL: u64 = 4 << 30;
/// Largest expansion accepted for one entry (uncompressed / compressed)
/// once it is bigger than [`BOMB_FLOOR`].
pub const MAX_RATIO: u64 = 200;
pub const BOMB_FLOOR: u64 = 8 << 20;

#[derive(Debug, Clone)]
pub struct PatchFile {
    /// '/'-separated, relative to the patch's root.
    pub path: String,
    pub bytes: Vec<u8>,
    pub executable: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageKind {
    Patch,
    ServicePack,
}

#[derive(Debug)]
pub struct Package {
    pub source: PathBuf,
    /// `patchNNNN` or `servicepackNNN`.
    pub folder: String,
    pub kind: PackageKind,
    pub number: u64,
    pub readme: Option<Vec<u8>>,
    pub files: Vec<PatchFile>,
}

impl Package {
    /// Files inside the patch folder, with paths relative to it.
    pub fn folder_files(&self) -> impl Iterator<Item = (&str, &PatchFile)> {
        let prefix = format!("{}/", self.folder);
        self.files
            .iter()
            .filter_map(move |f| f.path.strip_prefix(prefix.as_str()).map(|rel| (rel, f)))
    }

    /// Files outside the patch folder (to be placed in the home), without
    /// README, license and notice files.
    pub fn other_files(&self) -> impl Iterator<Item = &PatchFile> {
        let prefix = format!("{}/", self.folder);
        self.files.iter().filter(move |f| {
            let upper = f.path.to_ascii_uppercase();
            !f.path.starts_with(&prefix)
                && !(!f.path.contains('/')
                    && (upper.starts_with("LICENSE")
                        || upper.starts_with("NOTICE")
                        || upper == "README.TXT"))
        })
    }
}

fn bad(source: &Path, reason: impl Into<String>) -> Error {
    Error::BadPatch {
        patch: source.to_path_buf(),
        reason: reason.into(),
    }
}

/// Checks an entry path: relative, no `..`, `.`, empty parts, backslashes or NUL.
fn check_path(source: &Path, name: &str) -> Result<String> {
    let trimmed = name.strip_suffix('/').unwrap_or(name);
    let why = if name.starts_with('/') || name.starts_with('\\') || name.get(1..3) == Some(":\\") {
        Some("an absolute path")
    } else if name.contains('\\') {
        Some("a backslash in the path")
    } else if name.contains('\0') {
        Some("a NUL byte in the path")
    } else if trimmed.split('/').any(|c| c == "..") {
        Some("a '..' component (it would write outside the home)")
    } else if trimmed.is_empty() || trimmed.split('/').any(|c| c.is_empty() || c == ".") {
        Some("an empty or '.' component")
    } else {
        None
    };
    match why {
        Some(w) => Err(bad(source, format!("entry {name:?} has {w}"))),
        None => Ok(trimmed.to_string()),
    }
}

/// Reads a patch zip or folder.
pub fn load(source: &Path) -> Result<Package> {
    let md = fs::metadata(source).map_err(|e| Error::io(source, e))?;
    let files = if md.is_dir() {
        read_folder(source)?
    } else {
        read_zip(source)?
    };
    assemble(source, files)
}

fn read_zip(source: &Path) -> Result<Vec<PatchFile>> {
    let data = fs::read(source).map_err(|e| Error::io(source, e))?;
    read_zip_bytes(source, data)
}

/// Reads a patch zip already in memory (`source` names it in errors).
pub fn load_zip_bytes(source: &Path, data: Vec<u8>) -> Result<Package> {
    let files = read_zip_bytes(source, data)?;
    assemble(source, files)
}

fn read_zip_bytes(source: &Path, data: Vec<u8>) -> Result<Vec<PatchFile>> {
    let archive_len = data.len() as u64;
    let mut z = zip::ZipArchive::new(Cursor::new(data)).map_err(|e| {
        bad(
            source,
            format!("not a readable zip archive ({e}); is it truncated?"),
        )
    })?;
    if z.has_duplicate_names() {
        return Err(bad(
            source,
            "an entry name appears twice in the archive (which copy is meant?)",
        ));
    }
    if z.len() > MAX_FILES {
        return Err(bad(
            source,
            format!("{} entries, more than the {MAX_FILES} allowed", z.len()),
        ));
    }
    let mut declared_total = 0u64;
    let mut out = Vec::new();
    for i in 0..z.len() {
        let mut f = z
            .by_index(i)
            .map_err(|e| bad(source, format!("entry {i} unreadable ({e})")))?;
        let raw_name = f
            .name()
            .map_err(|e| bad(source, format!("entry {i} has an unreadable name ({e})")))?
            .to_string();
        let name = check_path(source, &raw_name)?;
        if f.is_symlink() || f.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(bad(
                source,
                format!("entry {raw_name:?} is a symbolic link; patches may only hold files"),
            ));
        }
        if f.is_dir() {
            continue;
        }
        let size = f.size();
        let compressed = f.compressed_size().max(1);
        declared_total = declared_total.saturating_add(size);
        if size > BOMB_FLOOR && size / compressed > MAX_RATIO {
            return Err(bad(source, format!("entry {raw_name:?} expands {size} bytes from {compressed} (a decompression bomb?)")));
        }
        if declared_total > MAX_TOTAL
            || declared_total > BOMB_FLOOR && declared_total / archive_len.max(1) > MAX_RATIO
        {
            return Err(bad(source, format!("unpacks to more than {declared_total} bytes from a {archive_len}-byte archive (a decompression bomb?)")));
        }
        let mut bytes = Vec::with_capacity(size.min(64 << 20) as usize);
        // Declared sizes can lie: never read past them.
        (&mut f)
            .take(size + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(source, format!("entry {raw_name:?} is damaged ({e})")))?;
        if bytes.len() as u64 != size {
            return Err(bad(
                source,
                format!("entry {raw_name:?} holds more or fewer bytes than its header says"),
            ));
        }
        let executable = f.unix_mode().is_some_and(|m| m & 0o111 != 0);
        out.push(PatchFile {
            path: name,
            bytes,
            executable,
        });
    }
    Ok(out)
}

fn read_folder(source: &Path) -> Result<Vec<PatchFile>> {
    let mut out = Vec::new();
    let mut total = 0u64;
    let mut stack = vec![source.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for ent in fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
            let ent = ent.map_err(|e| Error::io(&dir, e))?;
            let p = ent.path();
            let md = fs::symlink_metadata(&p).map_err(|e| Error::io(&p, e))?;
            let rel = p.strip_prefix(source).unwrap_or(&p);
            let Some(rel) = rel.to_str() else {
                return Err(bad(
                    source,
                    format!("{} has a name that is not UTF-8", p.display()),
                ));
            };
            if md.file_type().is_symlink() {
                return Err(bad(
                    source,
                    format!("{rel} is a symbolic link; patches may only hold files"),
                ));
            }
            if md.is_dir() {
                stack.push(p);
            } else if md.is_file() {
                total += md.len();
                if total > MAX_TOTAL || out.len() >= MAX_FILES {
                    return Err(bad(source, "too large (more than 4 GiB or 20000 files)"));
                }
                let bytes = fs::read(&p).map_err(|e| Error::io(&p, e))?;
                use std::os::unix::fs::PermissionsExt;
                out.push(PatchFile {
                    path: check_path(source, rel)?,
                    bytes,
                    executable: md.permissions().mode() & 0o111 != 0,
                });
            } else {
                return Err(bad(source, format!("{rel} is not a regular file")));
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// `patch0001` → (Patch, 1); `servicepack003` → (ServicePack, 3).
pub fn folder_kind(name: &str) -> Option<(PackageKind, u64)> {
    let (kind, digits) = if let Some(d) = name.strip_prefix("servicepack") {
        (PackageKind::ServicePack, d)
    } else {
        (PackageKind::Patch, name.strip_prefix("patch")?)
    };
    if digits.is_empty() || digits.len() > 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind, digits.parse().ok()?))
}

fn assemble(source: &Path, mut files: Vec<PatchFile>) -> Result<Package> {
    let mut seen = BTreeSet::new();
    for f in &files {
        if !seen.insert(f.path.clone()) {
            return Err(bad(source, format!("entry {:?} appears twice", f.path)));
        }
    }
    // A single top-level folder that is not itself the patch folder
    // (WSO2-CARBON-PATCH-4.9.0-0001/) is the package root.
    let tops: BTreeSet<&str> = files
        .iter()
        .map(|f| f.path.split('/').next().unwrap_or(""))
        .collect();
    if tops.len() == 1 && files.iter().all(|f| f.path.contains('/')) {
        let top = tops
            .iter()
            .next()
            .map(|s| s.to_string())
            .unwrap_or_default();
        if folder_kind(&top).is_none() {
            for f in &mut files {
                f.path = f.path[top.len() + 1..].to_string();
            }
        }
    }
    let folders: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.path.split_once('/').map(|(d, _)| d.to_string()))
        .filter(|d| folder_kind(d).is_some())
        .collect();
    let folder = match folders.len() {
        1 => folders.into_iter().next().unwrap_or_default(),
        0 => {
            return Err(bad(
                source,
                "no patchNNNN/ or servicepackNNN/ folder inside",
            ))
        }
        _ => {
            return Err(bad(
                source,
                format!(
                    "several patch folders inside: {}",
                    folders.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    };
    let (kind, number) = folder_kind(&folder).ok_or_else(|| bad(source, "bad folder name"))?;
    let readme_pos = files
        .iter()
        .position(|f| f.path.eq_ignore_ascii_case("README.txt"));
    let readme = readme_pos.map(|i| files.remove(i).bytes);
    let pkg = Package {
        source: source.to_path_buf(),
        folder,
        kind,
        number,
        readme,
        files,
    };
    for (rel, f) in pkg.folder_files() {
        if rel.contains('/') && kind == PackageKind::Patch {
            return Err(bad(
                source,
                format!(
                    "{} is in a subfolder of {}; Carbon only applies files directly inside it",
                    f.path, pkg.folder
                ),
            ));
        }
        if rel.ends_with(".jar") {
            jar::check_zip(&f.bytes).map_err(|e| bad(source, format!("{}: {e}", f.path)))?;
        }
    }
    if pkg.folder_files().next().is_none() {
        return Err(bad(source, format!("{} holds no files", pkg.folder)));
    }
    Ok(pkg)
}
