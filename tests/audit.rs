//! Auditors and environments: diffs across homes, stores and manifests
//! led by the patch picture, jar-deep diffs, manifests and their check,
//! file history with `which`, and the export to git checked with git.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{Cursor, Read};
use std::path::Path;
use std::process::Command;

use common::Home;
use serde_json::Value;

const PLUGINS: &str = "repository/components/plugins";

fn zip_arg(h: &Home, n: u32) -> String {
    h.sample
        .write_patch_zip(n, &h.tmp.path().join("zips"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}

fn folders(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|p| p["folder"].as_str().unwrap().to_string())
        .collect()
}

/// Entries whose bytes differ between two jars, found by decompressing.
fn changed_entries(a: &[u8], b: &[u8]) -> BTreeSet<String> {
    let read = |bytes: &[u8]| -> Vec<(String, Vec<u8>)> {
        let mut z = zip::ZipArchive::new(Cursor::new(bytes.to_vec())).unwrap();
        (0..z.len())
            .map(|i| {
                let mut f = z.by_index(i).unwrap();
                let mut v = Vec::new();
                f.read_to_end(&mut v).unwrap();
                (f.name().unwrap().to_string(), v)
            })
            .collect()
    };
    let (x, y) = (read(a), read(b));
    x.iter()
        .filter(|(n, d)| y.iter().any(|(m, e)| m == n && e != d))
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn environment_diff_names_patches_jars_and_the_classes_inside() {
    // Production: patches 1, 2, 3. Staging: the same baseline, patches 2
    // and 4, and a local config edit.
    let prod = Home::committed(14);
    for n in [1, 2, 3] {
        prod.ok(&["apply", &zip_arg(&prod, n)]);
    }
    let staging_dir = prod.tmp.path().join("staging");
    prod.sample.write_home(&staging_dir).unwrap();
    let staging = Home {
        tmp: tempfile::tempdir().unwrap(),
        dir: staging_dir.clone(),
        sample: patchvault_sample::Sample::new(prod.sample.options.clone()),
    };
    staging.ok(&["init"]);
    staging.ok(&["commit", "-m", "Baseline"]);
    for n in [2, 4] {
        staging.ok(&["apply", &zip_arg(&prod, n)]);
    }
    fs::write(
        staging_dir.join("repository/conf/identity/identity.xml"),
        "<Server>edited in staging</Server>\n",
    )
    .unwrap();

    let d = prod.json(&[
        "diff",
        "--deep",
        "--json",
        "HEAD",
        staging_dir.to_str().unwrap(),
    ]);
    assert_eq!(
        folders(&d["patches"]["only_left"]),
        ["patch0001", "patch0003"]
    );
    assert_eq!(folders(&d["patches"]["only_right"]), ["patch0004"]);
    assert_eq!(folders(&d["patches"]["both"]), ["patch0002"]);
    assert_eq!(
        d["patches"]["only_right"][0]["patch_id"], "WSO2-CARBON-PATCH-4.9.0-0004",
        "Patch IDs come from the other home's store"
    );
    assert_eq!(d["to"]["kind"], "home");

    // Exactly the jars the differing patches replaced differ in plugins/.
    let mut want = BTreeSet::new();
    for n in [1, 3, 4] {
        for j in prod.sample.patch(n).jars {
            want.insert(format!("{PLUGINS}/{}", prod.sample.jars[j].file_name()));
        }
    }
    for j in prod.sample.patch(2).jars {
        // A jar patch 2 sets last on both sides is equal again.
        let name = format!("{PLUGINS}/{}", prod.sample.jars[j].file_name());
        let later_prod = [3].iter().any(|n| prod.sample.patch(*n).jars.contains(&j));
        let later_stag = [4].iter().any(|n| prod.sample.patch(*n).jars.contains(&j));
        if !later_prod && !later_stag {
            want.remove(&name);
        }
    }
    let changes = d["changes"].as_array().unwrap();
    let got: BTreeSet<String> = changes
        .iter()
        .map(|c| c["path"].as_str().unwrap().to_string())
        .filter(|p| p.starts_with(PLUGINS))
        .collect();
    assert_eq!(got, want);
    assert!(
        changes
            .iter()
            .any(|c| c["path"] == "repository/conf/identity/identity.xml"
                && c["status"] == "modified"),
        "the local edit"
    );

    // Inside each differing jar: the changed classes, from the central directory.
    let jars = d["jars"].as_array().unwrap();
    assert!(!jars.is_empty());
    for j in jars {
        let path = j["path"].as_str().unwrap();
        let a = fs::read(prod.path(path)).unwrap();
        let b = fs::read(staging_dir.join(path)).unwrap();
        let listed: BTreeSet<String> = j["changed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_string())
            .collect();
        assert_eq!(listed, changed_entries(&a, &b), "{path}");
        assert!(
            !listed.is_empty() && listed.iter().all(|e| e.ends_with(".class")),
            "{path}: {listed:?}"
        );
        assert_eq!(j["old_version"], j["new_version"]);
    }
    let text = prod.ok(&["diff", "--deep", "HEAD", staging_dir.to_str().unwrap()]);
    assert!(
        text.starts_with("diff HEAD") && text.contains("Patches only in HEAD: patch0001"),
        "{text}"
    );
    assert!(text.contains("    changed  "), "{text}");

    // The same with the other side given as a store and a revision.
    let s = prod.json(&[
        "diff",
        "--json",
        "--to-store",
        staging_dir.join(".patchvault").to_str().unwrap(),
        "HEAD",
        "HEAD",
    ]);
    assert_eq!(s["to"]["kind"], "store");
    assert_eq!(folders(&s["patches"]["only_right"]), ["patch0004"]);
    // Two homes directly.
    let hh = prod.json(&[
        "diff",
        "--json",
        prod.dir.to_str().unwrap(),
        staging_dir.to_str().unwrap(),
    ]);
    assert_eq!(hh["from"]["kind"], "home");
    assert_eq!(hh["changes"], d["changes"]);
}

#[test]
fn manifest_round_trip_and_check() {
    let h = Home::committed(10);
    h.ok(&["apply", &zip_arg(&h, 1)]);
    let m = h.tmp.path().join("prod.manifest");
    let out = h.run(&["manifest", "-o", m.to_str().unwrap()]);
    assert!(out.status.success());
    let text = fs::read_to_string(&m).unwrap();
    assert!(text.starts_with("patchvault manifest 1\ncommit "), "{text}");
    assert!(
        text.contains("patch patch0001\tWSO2-CARBON-PATCH-4.9.0-0001\t"),
        "{text}"
    );
    assert!(text.len() < 64 * 1024, "small enough to mail");
    // Canonical: the same commit gives the same bytes.
    assert_eq!(h.ok(&["manifest"]), text);
    let j = h.json(&["manifest", "--json"]);
    assert_eq!(j["patches"][0]["patch_id"], "WSO2-CARBON-PATCH-4.9.0-0001");

    assert_eq!(
        h.run(&["manifest", "--check", m.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    // One byte changed in one jar.
    let jar = h.path(PLUGINS).join(h.sample.jars[3].file_name());
    let mut bytes = fs::read(&jar).unwrap();
    bytes[100] ^= 1;
    fs::write(&jar, bytes).unwrap();
    let o = h.run(&["manifest", "--check", m.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(5));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["changes"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["changes"][0]["path"],
        format!("{PLUGINS}/{}", h.sample.jars[3].file_name()).as_str()
    );

    // A manifest is a side for diff too.
    let d = h.json(&["diff", "--json", m.to_str().unwrap()]);
    assert_eq!(d["from"]["kind"], "manifest");
    assert_eq!(folders(&d["patches"]["both"]), ["patch0001"]);

    // An edited manifest is refused.
    fs::write(&m, text.replacen(" 1", " 2", 1)).unwrap();
    let err = h.fails(&["manifest", "--check", m.to_str().unwrap()], 1);
    assert!(err.contains("checksum does not match"), "{err}");
}

#[test]
fn which_names_the_commit_and_patch_after_apply_and_revert() {
    let h = Home::committed(10);
    let p = h.sample.patch(1);
    let jar = format!("{PLUGINS}/{}", h.sample.jars[p.jars[0]].file_name());
    let w = h.json(&["which", &jar, "--json"]);
    assert_eq!(w["state"], "committed");
    assert_eq!(w["last_set_by"]["kind"], "baseline");

    h.ok(&["apply", &zip_arg(&h, 1)]);
    let w = h.json(&["which", &jar, "--json"]);
    assert_eq!(w["last_set_by"]["kind"], "patch");
    assert_eq!(w["last_set_by"]["patch"], "patch0001");
    assert_eq!(w["last_set_by"]["patch_id"], "WSO2-CARBON-PATCH-4.9.0-0001");
    let text = h.ok(&["which", &jar]);
    assert!(
        text.contains("patch patch0001 (WSO2-CARBON-PATCH-4.9.0-0001)"),
        "{text}"
    );

    h.ok(&["revert", "1"]);
    let w = h.json(&["which", &jar, "--json"]);
    assert_eq!(w["last_set_by"]["kind"], "revert");
    assert_eq!(
        w["first_recorded_by"]["kind"], "baseline",
        "the content is the baseline's again"
    );

    fs::write(h.path(&jar), b"hand edit").unwrap();
    assert_eq!(
        h.json(&["which", &jar, "--json"])["state"],
        "locally modified"
    );
    // File history.
    assert_eq!(h.log_kinds(&["--", &jar]), ["revert", "patch", "baseline"]);
}

fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("git");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn export_to_git_is_faithful_incremental_and_stable() {
    let h = Home::committed(10);
    h.ok(&["apply", &zip_arg(&h, 1)]);
    h.ok(&["apply", &zip_arg(&h, 5)]);
    let gitdir = h.tmp.path().join("history.git");
    let r = h.json(&["export-git", gitdir.to_str().unwrap(), "--json"]);
    assert_eq!(r["new_commits"], 3);
    let fsck = Command::new("git")
        .arg("--git-dir")
        .arg(&gitdir)
        .args(["fsck", "--strict"])
        .output()
        .unwrap();
    assert!(
        fsck.status.success(),
        "git fsck --strict: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );

    // Same messages, authors and times, with the trailer.
    let ours = h.json(&["log", "--json"]);
    let theirs = git(&gitdir, &["log", "--format=%an <%ae>|%at|%s", "main"]);
    let lines: Vec<&str> = theirs.lines().collect();
    assert_eq!(lines.len(), ours.as_array().unwrap().len());
    for (c, l) in ours.as_array().unwrap().iter().zip(&lines) {
        assert_eq!(
            *l,
            format!(
                "{}|{}|{}",
                c["author"].as_str().unwrap(),
                c["time"],
                c["message"].as_str().unwrap().lines().next().unwrap()
            )
        );
    }
    let head_id = ours[0]["id"].as_str().unwrap();
    assert!(git(&gitdir, &["log", "-1", "--format=%B", "main"])
        .contains(&format!("Patchvault-Commit: {head_id}")));

    // Tags for the baseline and every patch; git's diff agrees with ours.
    let tags = git(&gitdir, &["tag", "--list"]);
    for t in [
        "patch0000",
        "patch0001",
        "patch0005",
        "WSO2-CARBON-PATCH-4.9.0-0005",
    ] {
        assert!(tags.lines().any(|l| l == t), "tag {t} missing: {tags}");
    }
    let mut git_names: Vec<String> =
        git(&gitdir, &["diff", "--name-only", "patch0000", "patch0005"])
            .lines()
            .map(str::to_string)
            .collect();
    let mut pv_names: Vec<String> = h
        .ok(&["diff", "--name-only", "patch0000", "patch0005"])
        .lines()
        .map(str::to_string)
        .collect();
    git_names.sort();
    pv_names.sort();
    assert_eq!(git_names, pv_names);

    // Re-exporting gives the same ids and adds nothing; a new commit adds one.
    let main = git(&gitdir, &["rev-parse", "main"]);
    let again = h.json(&["export-git", gitdir.to_str().unwrap(), "--json"]);
    assert_eq!(again["new_commits"], 0);
    assert_eq!(git(&gitdir, &["rev-parse", "main"]), main);
    let fresh = h.tmp.path().join("fresh.git");
    h.ok(&["export-git", fresh.to_str().unwrap()]);
    assert_eq!(
        git(&fresh, &["rev-parse", "main"]),
        main,
        "re-exporting from scratch gives the same git ids"
    );
    h.ok(&["revert", "1"]);
    let more = h.json(&["export-git", gitdir.to_str().unwrap(), "--json"]);
    assert_eq!(more["new_commits"], 1);
    assert_eq!(git(&gitdir, &["rev-parse", "main~1"]), main);
}
