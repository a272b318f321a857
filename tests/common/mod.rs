//! Shared helpers for the integration tests: generated product homes, a
//! runner for the real `patchvault` binary, and a byte-exact picture of a
//! directory tree.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use patchvault_sample::{Options, Sample};

pub const BIN: &str = env!("CARGO_BIN_EXE_patchvault");

/// A product home in a temporary directory.
pub struct Home {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub sample: Sample,
}

impl Home {
    /// A small generated home (`jars` small jars), not yet under patchvault.
    pub fn new(jars: usize) -> Home {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("wso2am-4.2.0");
        let sample = Sample::new(Options {
            jars,
            seed: 11,
            small: true,
        });
        sample.write_home(&dir).expect("write sample home");
        Home { tmp, dir, sample }
    }

    /// A home with a store and its baseline commit.
    pub fn committed(jars: usize) -> Home {
        let h = Home::new(jars);
        h.ok(&["init"]);
        h.ok(&["commit", "-m", "Baseline"]);
        h
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// Runs patchvault in the home.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Output {
        Command::new(BIN)
            .args(args)
            .current_dir(&self.dir)
            .env("PATCHVAULT_AUTHOR", "Test Operator <ops@example.com>")
            .env_remove("PATCHVAULT_STORE")
            .output()
            .expect("run patchvault")
    }

    /// Runs patchvault and requires success; returns stdout.
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let out = self.run(args);
        let shown: Vec<_> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        assert!(
            out.status.success(),
            "patchvault {shown:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs patchvault and requires failure with `code`; returns stderr.
    pub fn fails<S: AsRef<OsStr>>(&self, args: &[S], code: i32) -> String {
        let out = self.run(args);
        let shown: Vec<_> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            out.status.code(),
            Some(code),
            "patchvault {shown:?}: expected exit {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn json<S: AsRef<OsStr>>(&self, args: &[S]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("valid JSON")
    }

    /// The `kind` of each commit `log --json ARGS` lists, newest first.
    pub fn log_kinds(&self, args: &[&str]) -> Vec<String> {
        let mut full = vec!["log", "--json"];
        full.extend_from_slice(args);
        self.json(&full)
            .as_array()
            .expect("log --json is an array")
            .iter()
            .map(|c| c["kind"].as_str().expect("kind is a string").to_string())
            .collect()
    }

    /// The tracked picture of the home (the store and runtime state left out).
    pub fn picture(&self) -> Picture {
        picture(
            &self.dir,
            &[
                ".patchvault",
                "repository/logs",
                "tmp",
                "work",
                "repository/database",
                "repository/components/default",
                "wso2carbon.pid",
            ],
        )
    }
}

/// What a path is, exactly: kind, permission bits, bytes or link target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    File { mode: u32, bytes: Vec<u8> },
    Link(Vec<u8>),
    Dir,
}

pub type Picture = BTreeMap<Vec<u8>, Node>;

/// Every entry below `root` except the `skip` paths (relative).
pub fn picture(root: &Path, skip: &[&str]) -> Picture {
    let mut out = BTreeMap::new();
    walk(root, root, skip, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut Picture) {
    for e in fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("dir entry");
        let p = e.path();
        let rel = p.strip_prefix(root).expect("below root");
        if skip.iter().any(|s| rel == Path::new(s)) {
            continue;
        }
        let key = rel.as_os_str().as_bytes().to_vec();
        let md = fs::symlink_metadata(&p).expect("lstat");
        if md.file_type().is_symlink() {
            out.insert(
                key,
                Node::Link(
                    fs::read_link(&p)
                        .expect("readlink")
                        .as_os_str()
                        .as_bytes()
                        .to_vec(),
                ),
            );
        } else if md.is_dir() {
            out.insert(key, Node::Dir);
            walk(root, &p, skip, out);
        } else {
            out.insert(
                key,
                Node::File {
                    mode: md.permissions().mode() & 0o777,
                    bytes: fs::read(&p).expect("read"),
                },
            );
        }
    }
}

/// Asserts two pictures are equal, naming the first differences.
pub fn assert_same(a: &Picture, b: &Picture) {
    let mut diffs = Vec::new();
    for (k, v) in a {
        match b.get(k) {
            None => diffs.push(format!("only before: {}", String::from_utf8_lossy(k))),
            Some(w) if w != v => diffs.push(format!("differs: {}", String::from_utf8_lossy(k))),
            _ => {}
        }
    }
    for k in b.keys() {
        if !a.contains_key(k) {
            diffs.push(format!("only after: {}", String::from_utf8_lossy(k)));
        }
    }
    assert!(diffs.is_empty(), "trees differ:\n{}", diffs.join("\n"));
}

pub mod carbon_model;

/// Copies a directory tree (files and folders).
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for e in fs::read_dir(from).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            fs::copy(&p, to.join(e.file_name())).expect("copy");
        }
    }
}
