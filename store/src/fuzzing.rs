//! Entry points for fuzzing, shared by the cargo-fuzz targets in `fuzz/`
//! and the test that replays their seed corpora. Each takes arbitrary
//! bytes and must return (with an error or not) without panicking.

use std::path::Path;

use crate::carbon::{package, readme};
use crate::id::ObjectId;
use crate::index::Index;
use crate::journal::Journal;
use crate::object::{Commit, Tree};

/// Tree and commit decoding, and re-encoding what decodes.
pub fn object_decode(data: &[u8]) {
    let id = ObjectId([0; 32]);
    if let Ok(t) = Tree::decode(id, data) {
        assert_eq!(
            t.encode(),
            data,
            "a decoded tree re-encodes to the same bytes"
        );
    }
    if let Ok(c) = Commit::decode(id, data) {
        assert_eq!(
            c.encode(),
            data,
            "a decoded commit re-encodes to the same bytes"
        );
    }
}

/// The stat cache and the journal.
pub fn index_decode(data: &[u8]) {
    let _ = Index::decode_bytes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Journal::decode(text);
    }
}

/// README decoding and parsing.
pub fn readme_parse(data: &[u8]) {
    if let Ok(text) = readme::decode(data) {
        let r = readme::parse(&text);
        for s in &r.steps {
            let _ = readme::is_automatic_step(s, "patch0001");
        }
    }
}

/// Patch intake from a zip.
pub fn patch_intake(data: &[u8]) {
    if let Ok(p) = package::load_zip_bytes(Path::new("fuzz.zip"), data.to_vec()) {
        for (rel, _) in p.folder_files() {
            assert!(
                !rel.split('/').any(|c| c == ".." || c.is_empty()),
                "intake let a '..' path through"
            );
        }
        for f in p.other_files() {
            assert!(!f.path.starts_with('/') && !f.path.split('/').any(|c| c == ".."));
        }
    }
}

#[cfg(test)]
mod seeds {
    /// Writes the seed corpora (run once: `cargo test -p patchvault-store
    /// write_fuzz_seeds -- --ignored`).
    #[test]
    #[ignore]
    fn write_fuzz_seeds() {
        use crate::id::ObjectId;
        use crate::object::{Commit, EntryKind, Tree, TreeEntry};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        let put = |target: &str, name: &str, data: &[u8]| {
            let d = root.join(target);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(name), data).unwrap();
        };
        let tree = Tree::new(vec![
            TreeEntry {
                name: b"plugins".to_vec(),
                kind: EntryKind::Dir,
                size: 10,
                id: ObjectId([3; 32]),
            },
            TreeEntry {
                name: b"wso2server.sh".to_vec(),
                kind: EntryKind::Executable,
                size: 10,
                id: ObjectId([4; 32]),
            },
            TreeEntry {
                name: b"link".to_vec(),
                kind: EntryKind::Symlink,
                size: 3,
                id: ObjectId([5; 32]),
            },
        ])
        .unwrap();
        put("object_decode", "tree", &tree.encode());
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("kind".to_string(), "patch".to_string());
        meta.insert("description".to_string(), "two\nlines".to_string());
        let c = Commit {
            tree: tree.id(),
            parents: vec![ObjectId([9; 32])],
            author: "Ops <ops@example.com>".into(),
            time: 1_796_000_000,
            tz_minutes: 330,
            meta,
            message: "Apply\n".into(),
        };
        put("object_decode", "commit", &c.encode());
        let dir = tempfile::tempdir().unwrap();
        let mut ix = crate::index::Index::default();
        ix.insert(
            b"bin/version.txt".to_vec(),
            crate::index::Stat {
                dev: 1,
                ino: 2,
                size: 3,
                mtime_ns: 4,
                ctime_ns: 5,
                mode: 0o100644,
            },
            ObjectId([1; 32]),
        );
        ix.save(&dir.path().join("index")).unwrap();
        put(
            "index_decode",
            "index",
            &std::fs::read(dir.path().join("index")).unwrap(),
        );
        let j = crate::journal::Journal {
            op: "checkout".into(),
            old_head: Some(ObjectId([1; 32])),
            new_head: None,
            branch: None,
            target_tree: ObjectId([2; 32]),
            paths: vec![b"repository/conf".to_vec()],
            tags: vec!["patch0001".into()],
        };
        j.write(dir.path()).unwrap();
        put(
            "index_decode",
            "journal",
            &std::fs::read(dir.path().join("journal")).unwrap(),
        );
        put("readme_parse", "readme", b"Patch ID         : WSO2-CARBON-PATCH-4.9.0-0001\nApplies To       : WSO2 API Manager 4.2.0\nAssociated JIRA  : https://github.com/wso2/api-manager/issues/1\n\nDESCRIPTION\n-----------\nFix.\n\nINSTALLATION INSTRUCTIONS\n-------------------------\n(i) Shutdown the server.\n(ii) Copy the patch0001 to <CARBON_SERVER>/repository/components/patches/\n");
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let o = zip::write::SimpleFileOptions::default();
        use std::io::Write;
        z.start_file("WSO2-CARBON-PATCH-4.9.0-0001/README.txt", o)
            .unwrap();
        z.write_all(b"Patch ID : X\n").unwrap();
        z.start_file("WSO2-CARBON-PATCH-4.9.0-0001/patch0001/a.txt", o)
            .unwrap();
        z.write_all(b"hello").unwrap();
        put(
            "patch_intake",
            "patch.zip",
            &z.finish().unwrap().into_inner(),
        );
    }
}
