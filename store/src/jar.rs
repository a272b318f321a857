//! Jars: reading an OSGi bundle's manifest (`Bundle-SymbolicName`,
//! `Bundle-Version`) from a jar's bytes, and the file name Carbon gives a
//! bundle in `plugins/`: `SymbolicName_Version.jar`.

use std::io::{Cursor, Read};

/// Largest manifest read (a crafted jar cannot make us read more).
const MAX_MANIFEST: u64 = 1 << 20;

/// The main-section headers of a manifest that matter here.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    pub symbolic_name: Option<String>,
    pub version: Option<String>,
}

/// Checks that bytes are a readable zip archive; returns its entry count.
pub fn check_zip(bytes: &[u8]) -> Result<usize, String> {
    zip::ZipArchive::new(Cursor::new(bytes))
        .map(|z| z.len())
        .map_err(|e| format!("not a valid zip archive ({e})"))
}

/// Reads `META-INF/MANIFEST.MF` from a jar. A jar without one yields empty info.
pub fn bundle_info(bytes: &[u8]) -> Result<BundleInfo, String> {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("not a valid zip archive ({e})"))?;
    let idx = (0..z.len()).find(|&i| {
        z.name_for_index(i)
            .is_some_and(|n| n.is_ok_and(|n| n.eq_ignore_ascii_case("META-INF/MANIFEST.MF")))
    });
    let Some(idx) = idx else {
        return Ok(BundleInfo::default());
    };
    let entry = z
        .by_index(idx)
        .map_err(|e| format!("unreadable manifest ({e})"))?;
    let mut text = Vec::new();
    entry
        .take(MAX_MANIFEST)
        .read_to_end(&mut text)
        .map_err(|e| format!("unreadable manifest ({e})"))?;
    Ok(parse_manifest(&String::from_utf8_lossy(&text)))
}

/// Parses a manifest's main section (continuation lines start with a space).
pub fn parse_manifest(text: &str) -> BundleInfo {
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break; // end of the main section
        }
        if let Some(cont) = line.strip_prefix(' ') {
            if let Some(last) = headers.last_mut() {
                last.1.push_str(cont);
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim_start().to_string()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    BundleInfo {
        symbolic_name: get("Bundle-SymbolicName"),
        version: get("Bundle-Version"),
    }
}

/// The name Carbon copies a patch file to in `plugins/`: for a `.jar`
/// with both headers, `SymbolicName_Version.jar` (directives such as
/// `;singleton:=true` stripped); otherwise the file's own name.
pub fn plugin_file_name(file_name: &str, bytes: &[u8]) -> Result<String, String> {
    if !file_name.ends_with(".jar") {
        return Ok(file_name.to_string());
    }
    let info = bundle_info(bytes)?;
    Ok(match (info.symbolic_name, info.version) {
        (Some(n), Some(v)) => {
            let n = n.split(';').next().unwrap_or(&n).trim().to_string();
            format!("{n}_{v}.jar")
        }
        _ => file_name.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_with_continuations_and_directives() {
        let m = "Manifest-Version: 1.0\r\nBundle-SymbolicName: org.wso2.carbon.identity.oauth;sin\r\n gleton:=true\r\nBundle-Version: 6.4.111\r\n\r\nName: x\r\nBundle-Version: 9\r\n";
        let info = parse_manifest(m);
        assert_eq!(
            info.symbolic_name.as_deref(),
            Some("org.wso2.carbon.identity.oauth;singleton:=true")
        );
        assert_eq!(info.version.as_deref(), Some("6.4.111"));
    }

    #[test]
    fn non_jars_keep_their_name_and_garbage_is_an_error() {
        assert_eq!(plugin_file_name("readme.txt", b"x").unwrap(), "readme.txt");
        assert!(plugin_file_name("a.jar", b"not a zip").is_err());
    }
}

/// One entry of a jar's central directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JarEntry {
    pub name: String,
    pub crc32: u32,
    pub size: u64,
}

/// The entries of a zip/jar/war, from its central directory only (nothing
/// is decompressed).
pub fn entries(bytes: &[u8]) -> Result<Vec<JarEntry>, String> {
    let mut z = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| format!("not a valid zip archive ({e})"))?;
    let mut out = Vec::with_capacity(z.len());
    for i in 0..z.len() {
        let f = z.by_index_raw(i).map_err(|e| format!("entry {i}: {e}"))?;
        if f.is_dir() {
            continue;
        }
        out.push(JarEntry {
            name: f.name().map_err(|e| format!("entry {i}: {e}"))?.to_string(),
            crc32: f.crc32(),
            size: f.size(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// What changed inside an archive.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ArchiveDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    pub old_version: Option<String>,
    pub new_version: Option<String>,
}

/// Compares two archives by their central directories (CRC and size) and
/// their `Bundle-Version`.
pub fn diff_archives(old: &[u8], new: &[u8]) -> Result<ArchiveDiff, String> {
    let a = entries(old)?;
    let b = entries(new)?;
    let mut d = ArchiveDiff::default();
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.name == y.name => {
                if x.crc32 != y.crc32 || x.size != y.size {
                    d.changed.push(x.name.clone());
                }
                i += 1;
                j += 1;
            }
            (Some(x), Some(y)) if x.name < y.name => {
                d.removed.push(x.name.clone());
                i += 1;
            }
            (Some(_), Some(y)) => {
                d.added.push(y.name.clone());
                j += 1;
            }
            (Some(x), None) => {
                d.removed.push(x.name.clone());
                i += 1;
            }
            (None, Some(y)) => {
                d.added.push(y.name.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    d.old_version = bundle_info(old).ok().and_then(|b| b.version);
    d.new_version = bundle_info(new).ok().and_then(|b| b.version);
    Ok(d)
}
