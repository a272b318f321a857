//! A reference model of Carbon's PatchInstaller, written from its
//! documented behaviour and run on real directories: at start-up it backs
//! up `plugins/` into `patches/patch0000` (first time) or copies that
//! backup back over `plugins/` (deleting nothing), applies the latest
//! service pack's `lib/`, then every `patches/patch*` folder in
//! lexicographic order (skipping patch0000 and the service pack's
//! patches), renaming each jar to `Bundle-SymbolicName_Bundle-Version.jar`,
//! and writes `.metadata/prePatchedDir.txt` and `prePatchedJARs.txt`.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::io::{Cursor, Read};
use std::path::Path;

use md5::{Digest, Md5};

fn sorted_dirs(dir: &Path, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(prefix))
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// The name the server copies a file to.
pub fn bundle_name(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    if !name.ends_with(".jar") {
        return name;
    }
    let bytes = fs::read(path).unwrap();
    let mut z = zip::ZipArchive::new(Cursor::new(bytes)).expect("jar is a zip");
    let Ok(mut m) = z.by_name("META-INF/MANIFEST.MF") else {
        return name;
    };
    let mut text = String::new();
    m.read_to_string(&mut text).unwrap();
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in text.split("\r\n").flat_map(|l| l.split('\n')) {
        if line.is_empty() {
            break;
        }
        if let Some(c) = line.strip_prefix(' ') {
            headers.last_mut().unwrap().1.push_str(c);
        } else if let Some((k, v)) = line.split_once(':') {
            headers.push((k.to_string(), v.trim().to_string()));
        }
    }
    let get = |k: &str| headers.iter().find(|(h, _)| h == k).map(|(_, v)| v.clone());
    match (get("Bundle-SymbolicName"), get("Bundle-Version")) {
        (Some(n), Some(v)) => format!("{}_{v}.jar", n.split(';').next().unwrap()),
        _ => name,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn md5_hex(p: &Path) -> String {
    hex::encode(Md5::digest(fs::read(p).unwrap()))
}

/// One server start.
pub fn server_start(home: &Path) {
    let comp = home.join("repository/components");
    let plugins = comp.join("plugins");
    let patches = comp.join("patches");
    let sps = comp.join("servicepacks");
    let backup = patches.join("patch0000");
    if backup.exists() {
        copy_dir(&backup, &plugins);
    } else {
        copy_dir(&plugins, &backup);
    }
    let mut order = Vec::new();
    let mut latest: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    let mut skip = Vec::new();
    if let Some(sp) = sorted_dirs(&sps, "servicepack").last() {
        order.push(sp.clone());
        let lib = sps.join(sp).join("lib");
        for e in fs::read_dir(&lib).into_iter().flatten().flatten() {
            let n = bundle_name(&e.path());
            fs::copy(e.path(), plugins.join(&n)).unwrap();
            latest.insert(n, e.path());
        }
        if let Ok(t) = fs::read_to_string(sps.join(sp).join("servicepack_patches.txt")) {
            skip = t.lines().map(|l| l.trim().to_string()).collect();
        }
    }
    for p in sorted_dirs(&patches, "patch") {
        if skip.contains(&p) {
            continue;
        }
        order.push(p.clone());
        if p == "patch0000" {
            continue;
        }
        for e in fs::read_dir(patches.join(&p)).unwrap().flatten() {
            let n = bundle_name(&e.path());
            fs::copy(e.path(), plugins.join(&n)).unwrap();
            latest.insert(n, e.path());
        }
    }
    let meta = patches.join(".metadata");
    fs::create_dir_all(&meta).unwrap();
    fs::write(
        meta.join("prePatchedDir.txt"),
        order.iter().map(|o| format!("{o}\n")).collect::<String>(),
    )
    .unwrap();
    fs::write(
        meta.join("prePatchedJARs.txt"),
        latest
            .iter()
            .map(|(n, p)| format!("{n}:{}\n", md5_hex(p)))
            .collect::<String>(),
    )
    .unwrap();
}

/// Unpacks a patch zip's `patchNNNN/` folder into the home's `patches/`, as
/// an operator does by hand.
pub fn install_patch_folder(zip_path: &Path, home: &Path) -> String {
    let mut z = zip::ZipArchive::new(fs::File::open(zip_path).unwrap()).unwrap();
    let mut folder = String::new();
    for i in 0..z.len() {
        let mut f = z.by_index(i).unwrap();
        let name = f.name().unwrap().to_string();
        let parts: Vec<&str> = name.split('/').collect();
        if parts.len() == 3 && parts[1].starts_with("patch") {
            folder = parts[1].to_string();
            let dir = home.join("repository/components/patches").join(parts[1]);
            fs::create_dir_all(&dir).unwrap();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            fs::write(dir.join(parts[2]), bytes).unwrap();
        }
    }
    folder
}

/// The files of a directory: name → bytes.
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.path().is_file())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
