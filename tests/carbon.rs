//! Carbon patches end to end: apply, revert, patches and adopt through the
//! real binary, checked against a reference model of the server's
//! PatchInstaller, plus every hostile or broken patch we refuse.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::carbon_model::{files, install_patch_folder, server_start};
use common::{assert_same, picture, Home};
use patchvault_sample::{Options, Rng, Sample};
use serde_json::Value;

const PLUGINS: &str = "repository/components/plugins";
const META: &str = "repository/components/patches/.metadata";

fn zips(h: &Home, count: u32) -> Vec<PathBuf> {
    let dir = h.tmp.path().join("zips");
    (1..=count)
        .map(|n| h.sample.write_patch_zip(n, &dir).unwrap())
        .collect()
}

/// A second, plain copy of the same sample home (for the server model).
fn plain_copy(h: &Home, name: &str) -> PathBuf {
    let dir = h.tmp.path().join(name);
    Sample::new(h.sample.options.clone())
        .write_home(&dir)
        .unwrap();
    dir
}

fn line_set(p: &Path) -> BTreeSet<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Everything in the store, with sizes (to show a refusal wrote nothing).
fn store_listing(h: &Home) -> Vec<(String, u64)> {
    let root = h.path(".patchvault");
    let mut v: Vec<(String, u64)> = picture(&root, &[])
        .into_iter()
        .map(|(k, n)| {
            let size = match n {
                common::Node::File { bytes, .. } => bytes.len() as u64,
                _ => 0,
            };
            (String::from_utf8_lossy(&k).into_owned(), size)
        })
        .collect();
    v.sort();
    v
}

fn folder(n: u32) -> String {
    format!("patch{n:04}")
}

#[test]
fn apply_and_revert_match_the_server_model_over_random_sequences() {
    for seed in [3u64, 17, 29] {
        let h = Home::new(30);
        h.ok(&["init"]);
        let z = zips(&h, 8);
        let model = plain_copy(&h, "model");
        let mut rng = Rng::new(seed);
        let mut applied = BTreeSet::new();
        for step in 0..9 {
            let n = 1 + rng.below(8) as u32;
            if applied.contains(&n) {
                h.ok(&["revert", &folder(n)]);
                fs::remove_dir_all(model.join("repository/components/patches").join(folder(n)))
                    .unwrap();
                applied.remove(&n);
            } else {
                h.ok(&["apply", z[n as usize - 1].to_str().unwrap()]);
                install_patch_folder(&z[n as usize - 1], &model);
                applied.insert(n);
            }
            server_start(&model);

            let ours = files(&h.path(PLUGINS));
            let mut theirs = files(&model.join(PLUGINS));
            // The one deliberate correction: the server never deletes a jar
            // that only a removed patch brought (patch 7's new bundle).
            let hotfix = h.sample.new_bundle(7).unwrap().file_name();
            if !applied.contains(&7) && theirs.contains_key(&hotfix) {
                assert!(
                    !ours.contains_key(&hotfix),
                    "patchvault removes {hotfix} once patch0007 is reverted"
                );
                theirs.remove(&hotfix);
            }
            assert!(ours == theirs, "seed {seed} step {step}: plugins/ differs from the server model (applied {applied:?})");
            assert_eq!(
                fs::read_to_string(h.path(META).join("prePatchedDir.txt")).unwrap(),
                fs::read_to_string(model.join(META).join("prePatchedDir.txt")).unwrap()
            );
            assert_eq!(
                line_set(&h.path(META).join("prePatchedJARs.txt")),
                line_set(&model.join(META).join("prePatchedJARs.txt"))
            );
            let p = h.json(&["patches", "--json"]);
            assert_eq!(p["verified"], true, "{p}");
            let folders: Vec<String> = p["patches"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["folder"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(
                folders,
                applied.iter().map(|n| folder(*n)).collect::<Vec<_>>()
            );
        }
        let log = h.json(&["log", "--json"]);
        assert_eq!(
            log.as_array().unwrap().last().unwrap()["kind"],
            "baseline",
            "the first apply committed the baseline"
        );
    }
}

#[test]
fn a_jar_only_the_reverted_patch_brought_is_removed() {
    let h = Home::committed(12);
    let z = zips(&h, 7);
    let hotfix = h.sample.new_bundle(7).unwrap().file_name();
    let r = h.json(&["apply", z[6].to_str().unwrap(), "--json"]);
    assert!(
        r["jars"]
            .as_array()
            .unwrap()
            .iter()
            .any(|j| j["plugin_name"] == hotfix.as_str() && j["action"] == "adds"),
        "{r}"
    );
    assert!(h.path(PLUGINS).join(&hotfix).exists());
    let r = h.json(&["revert", "7", "--json"]);
    assert_eq!(r["removed"], serde_json::json!([hotfix]));
    assert!(!h.path(PLUGINS).join(&hotfix).exists());
    // The server would have kept it.
    let model = plain_copy(&h, "model");
    install_patch_folder(&z[6], &model);
    server_start(&model);
    fs::remove_dir_all(model.join("repository/components/patches/patch0007")).unwrap();
    server_start(&model);
    assert!(model.join(PLUGINS).join(&hotfix).exists());
}

#[test]
fn files_outside_plugins_are_placed_and_restored() {
    let h = Home::committed(10);
    let z = zips(&h, 5);
    let identity = fs::read(h.path("repository/conf/identity/identity.xml")).unwrap();
    let out = h.ok(&["apply", z[4].to_str().unwrap()]);
    assert!(
        out.contains("placed: lib/patch5-support_1.0.jar")
            && out.contains("placed: repository/conf/identity/identity.xml"),
        "{out}"
    );
    assert!(out.contains("placed: bin/wso2carbon-version.txt"), "{out}");
    assert!(
        out.contains("Run the script dbscripts/patch5.sql"),
        "manual steps are printed: {out}"
    );
    assert!(
        fs::read_to_string(h.path("repository/conf/identity/identity.xml"))
            .unwrap()
            .contains("40325")
    );
    assert!(h.path("lib/patch5-support_1.0.jar").exists());
    let show = h.json(&["show", "patch0005", "--json"]);
    assert_eq!(show["commit"]["kind"], "patch");
    assert_eq!(
        show["commit"]["meta"]["patch-id"],
        "WSO2-CARBON-PATCH-4.9.0-0005"
    );
    assert!(show["commit"]["meta"]["jira"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    assert_eq!(
        h.json(&["show", "WSO2-CARBON-PATCH-4.9.0-0005", "--json"])["commit"]["id"],
        show["commit"]["id"]
    );

    h.ok(&["revert", "WSO2-CARBON-PATCH-4.9.0-0005"]);
    assert_eq!(
        fs::read(h.path("repository/conf/identity/identity.xml")).unwrap(),
        identity
    );
    assert!(!h.path("lib/patch5-support_1.0.jar").exists());
    assert!(!h.path("bin/wso2carbon-version.txt").exists());
    assert_eq!(
        h.json(&["show", "HEAD", "--json"])["commit"]["kind"],
        "revert"
    );
    // Tags stay on the commit that applied it.
    assert_eq!(
        h.json(&["show", "patch0005", "--json"])["commit"]["kind"],
        "patch"
    );
    // Re-applying is allowed after a revert.
    h.ok(&["apply", z[4].to_str().unwrap()]);
}

#[test]
fn maven_named_jars_are_renamed_like_the_server_does() {
    let h = Home::committed(10);
    let z = zips(&h, 4);
    let r = h.json(&["apply", z[3].to_str().unwrap(), "--json"]);
    let p = h.sample.patch(4);
    for &j in &p.jars {
        let spec = &h.sample.jars[j];
        let entry = r["jars"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["plugin_name"] == spec.file_name().as_str())
            .expect("jar reported under its bundle name");
        assert_eq!(
            entry["file"],
            format!("{}-{}.jar", spec.symbolic_name, spec.version).as_str()
        );
        let patched = h.sample.patched_jar(&p, j).unwrap();
        assert_eq!(
            fs::read(h.path(PLUGINS).join(spec.file_name())).unwrap(),
            patched
        );
    }
}

#[test]
fn dry_run_lists_everything_and_changes_nothing() {
    let h = Home::committed(10);
    let z = zips(&h, 5);
    let before = h.picture();
    let store = store_listing(&h);
    let r = h.json(&["apply", "--dry-run", z[4].to_str().unwrap(), "--json"]);
    let paths: Vec<&str> = r["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"lib/patch5-support_1.0.jar")
            && paths.contains(&"repository/components/patches/.metadata/prePatchedDir.txt"),
        "{paths:?}"
    );
    assert!(r["commit"].is_null());
    assert_same(&before, &h.picture());
    assert_eq!(store, store_listing(&h));
}

#[test]
fn refusals_name_the_reason_and_change_nothing() {
    let h = Home::committed(10);
    let z = zips(&h, 2);
    let z1 = z[0].to_str().unwrap();
    h.ok(&["apply", z1]);

    // Already applied, by number.
    let err = h.fails(&["apply", z1], 3);
    assert!(err.contains("patch0001 is already applied"), "{err}");

    // The same Patch ID under another folder number.
    let other = h.tmp.path().join("renumbered");
    fs::create_dir_all(other.join("patch0101")).unwrap();
    fs::write(
        other.join("README.txt"),
        h.sample.readme(&h.sample.patch(1)),
    )
    .unwrap();
    let jar = h.sample.jars[h.sample.patch(1).jars[0]].file_name();
    fs::copy(
        h.path("repository/components/patches/patch0001").join(&jar),
        other.join("patch0101").join(&jar),
    )
    .unwrap();
    let err = h.fails(&["apply", other.to_str().unwrap()], 3);
    assert!(
        err.contains("WSO2-CARBON-PATCH-4.9.0-0001 is already applied as patch0001"),
        "{err}"
    );

    // A running server (this test process is alive).
    fs::write(
        h.path("wso2carbon.pid"),
        format!("{}\n", std::process::id()),
    )
    .unwrap();
    let before = h.picture();
    let err = h.fails(&["apply", z[1].to_str().unwrap()], 3);
    assert!(
        err.contains("server is running") && err.contains("--force"),
        "{err}"
    );
    assert_same(&before, &h.picture());
    h.ok(&["apply", "--force", z[1].to_str().unwrap()]);
    fs::remove_file(h.path("wso2carbon.pid")).unwrap();
    h.ok(&["revert", "2"]);

    // Uncommitted changes.
    fs::write(h.path("repository/conf/carbon.xml"), "<edited/>").unwrap();
    let err = h.fails(&["apply", z[1].to_str().unwrap()], 3);
    assert!(
        err.contains("uncommitted") && err.contains("repository/conf/carbon.xml"),
        "{err}"
    );
    h.ok(&["commit", "-m", "edit"]);

    // Wrong product version.
    fs::write(h.path("bin/version.txt"), "WSO2 API Manager v4.1.0\n").unwrap();
    h.ok(&["commit", "-m", "pretend 4.1.0"]);
    let err = h.fails(&["apply", z[1].to_str().unwrap()], 3);
    assert!(
        err.contains("WSO2 API Manager 4.2.0") && err.contains("4.1.0"),
        "names both: {err}"
    );

    // Unknown patch to revert.
    let err = h.fails(&["revert", "patch0042"], 1);
    assert!(
        err.contains("no applied patch is named 'patch0042'") && err.contains("patch0001"),
        "{err}"
    );
}

#[test]
fn a_patch_without_readme_needs_force() {
    let h = Home::committed(8);
    let dir = h.tmp.path().join("bare");
    fs::create_dir_all(dir.join("patch0003")).unwrap();
    let jar = h.sample.jars[2].file_name();
    fs::write(
        dir.join("patch0003").join(&jar),
        patchvault_sample::jar_bytes(&h.sample.jars[2], &[(0, 99)]).unwrap(),
    )
    .unwrap();
    let err = h.fails(&["apply", dir.to_str().unwrap()], 1);
    assert!(
        err.contains("no README.txt") && err.contains("--force"),
        "{err}"
    );
    let out = h.run(&["apply", "--force", dir.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning"),
        "says what it skipped"
    );
    assert_eq!(
        h.json(&["show", "--json"])["commit"]["meta"]["patch"],
        "patch0003"
    );
}

/// Writes a zip with the given (name, bytes, unix mode) entries.
fn write_zip(path: &Path, entries: &[(&str, &[u8], Option<u32>)]) {
    let f = fs::File::create(path).unwrap();
    let mut z = zip::ZipWriter::new(f);
    for (name, bytes, mode) in entries {
        let mut o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        if let Some(m) = mode {
            o = o.unix_permissions(*m);
        }
        z.start_file(*name, o).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap();
}

#[test]
fn hostile_and_broken_patches_change_nothing() {
    let h = Home::committed(8);
    let good_jar = patchvault_sample::jar_bytes(&h.sample.jars[1], &[(0, 5)]).unwrap();
    let readme = h.sample.readme(&h.sample.patch(9));
    let dir = h.tmp.path().join("hostile");
    fs::create_dir_all(&dir).unwrap();
    let mut cases: Vec<(PathBuf, &str)> = Vec::new();

    let p = dir.join("dotdot.zip");
    write_zip(
        &p,
        &[
            ("README.txt", readme.as_bytes(), None),
            ("patch0009/x.jar", &good_jar, None),
            ("../../evil.sh", b"rm -rf /", None),
        ],
    );
    cases.push((p, "'..' component"));

    let p = dir.join("absolute.zip");
    write_zip(
        &p,
        &[
            ("README.txt", readme.as_bytes(), None),
            ("patch0009/x.jar", &good_jar, None),
            ("/etc/cron.d/evil", b"x", None),
        ],
    );
    cases.push((p, "absolute path"));

    let p = dir.join("symlink.zip");
    {
        let mut z = zip::ZipWriter::new(fs::File::create(&p).unwrap());
        let o = zip::write::SimpleFileOptions::default();
        z.start_file("README.txt", o).unwrap();
        z.write_all(readme.as_bytes()).unwrap();
        z.start_file("patch0009/x.jar", o).unwrap();
        z.write_all(&good_jar).unwrap();
        z.add_symlink("lib/link.jar", "/etc/passwd", o).unwrap();
        z.finish().unwrap();
    }
    cases.push((p, "symbolic link"));

    let p = dir.join("duplicate.zip");
    write_zip(
        &p,
        &[
            ("README.txt", readme.as_bytes(), None),
            ("patch0009/aaaa.jar", &good_jar, None),
            ("patch0009/bbbb.jar", &good_jar, None),
        ],
    );
    let bytes = fs::read(&p).unwrap();
    let replaced: Vec<u8> = String::from_utf8_lossy(&bytes)
        .len()
        .eq(&0)
        .then(Vec::new)
        .unwrap_or_else(|| {
            let mut b = bytes.clone();
            let pat = b"bbbb.jar";
            let mut i = 0;
            while i + pat.len() <= b.len() {
                if &b[i..i + pat.len()] == pat {
                    b[i..i + 4].copy_from_slice(b"aaaa");
                }
                i += 1;
            }
            b
        });
    fs::write(&p, replaced).unwrap();
    cases.push((p, "appears twice"));

    let p = dir.join("bomb.zip");
    let zeros = vec![0u8; 64 << 20];
    write_zip(
        &p,
        &[
            ("README.txt", readme.as_bytes(), None),
            ("patch0009/x.jar", &good_jar, None),
            ("lib/zeros.bin", &zeros, None),
        ],
    );
    cases.push((p, "decompression bomb"));

    let p = dir.join("truncated.zip");
    let full = h.sample.write_patch_zip(9, &dir.join("full")).unwrap();
    let bytes = fs::read(&full).unwrap();
    fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    cases.push((p, "truncated"));

    let p = dir.join("notajar.zip");
    write_zip(
        &p,
        &[
            ("README.txt", readme.as_bytes(), None),
            ("patch0009/x.jar", b"this is not a zip", None),
        ],
    );
    cases.push((p, "not a valid zip"));

    let p = dir.join("latin1.zip");
    let mut latin1 = readme.clone().into_bytes();
    latin1.extend_from_slice(b"Fix for caf\xe9 users\n");
    write_zip(
        &p,
        &[
            ("README.txt", &latin1, None),
            ("patch0009/x.jar", &good_jar, None),
        ],
    );
    cases.push((p, "not UTF-8"));

    let p = dir.join("traversal-folder");
    fs::create_dir_all(p.join("patch0009")).unwrap();
    fs::write(p.join("README.txt"), &readme).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.join("patch0009/x.jar")).unwrap();
    cases.push((p, "symbolic link"));

    let before = h.picture();
    let store = store_listing(&h);
    for (path, want) in &cases {
        let err = h.fails(&["apply", path.to_str().unwrap()], 1);
        assert!(
            err.contains(want),
            "{}: expected {want:?} in: {err}",
            path.display()
        );
        assert!(err.contains("nothing was changed"), "{err}");
        assert_same(&before, &h.picture());
        assert_eq!(
            store,
            store_listing(&h),
            "{} touched the store",
            path.display()
        );
    }
    assert!(!h.tmp.path().join("evil.sh").exists());
}

#[test]
fn lexicographic_folder_order_wins_like_on_the_server() {
    let h = Home::committed(8);
    let spec = &h.sample.jars[3];
    let mk = |name: &str, seed: u64| -> PathBuf {
        let d = h.tmp.path().join(name);
        fs::create_dir_all(d.join(name)).unwrap();
        let readme = format!(
            "Patch ID : WSO2-CARBON-PATCH-4.9.0-{name}\nApplies To : WSO2 API Manager 4.2.0\n"
        );
        fs::write(d.join("README.txt"), readme).unwrap();
        fs::write(
            d.join(name).join(spec.file_name()),
            patchvault_sample::jar_bytes(spec, &[(0, seed)]).unwrap(),
        )
        .unwrap();
        d
    };
    let a = mk("patch9999", 1);
    let b = mk("patch10000", 2);
    h.ok(&["apply", a.to_str().unwrap()]);
    let out = h.run(&["apply", b.to_str().unwrap()]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("name order") && err.contains("patch10000, patch9999"),
        "{err}"
    );
    // "patch9999" sorts after "patch10000", so its jar is the one in plugins.
    let want = patchvault_sample::jar_bytes(spec, &[(0, 1)]).unwrap();
    assert_eq!(
        fs::read(h.path(PLUGINS).join(spec.file_name())).unwrap(),
        want
    );
    let r = h.json(&["show", "--json"]);
    assert_eq!(r["commit"]["meta"]["patch"], "patch10000");
}

#[test]
fn service_packs_apply_first_and_skip_the_patches_they_hold() {
    let h = Home::committed(10);
    let z = zips(&h, 2);
    h.ok(&["apply", z[0].to_str().unwrap()]);
    h.ok(&["apply", z[1].to_str().unwrap()]);
    let p1 = h.sample.patch(1);
    let spec = &h.sample.jars[p1.jars[0]];
    let sp = h.tmp.path().join("sp");
    fs::create_dir_all(sp.join("servicepack001/lib")).unwrap();
    fs::write(
        sp.join("servicepack001/servicepack_patches.txt"),
        "patch0001\n",
    )
    .unwrap();
    fs::write(
        sp.join("servicepack001/lib").join(spec.file_name()),
        patchvault_sample::jar_bytes(spec, &[(1, 777)]).unwrap(),
    )
    .unwrap();
    fs::write(
        sp.join("README.txt"),
        "Patch ID : WSO2-CARBON-SERVICEPACK-001\nApplies To : WSO2 API Manager 4.2.0\n",
    )
    .unwrap();
    h.ok(&["apply", sp.to_str().unwrap()]);

    let model = plain_copy(&h, "model");
    install_patch_folder(&z[0], &model);
    install_patch_folder(&z[1], &model);
    server_start(&model);
    fs::create_dir_all(model.join("repository/components/servicepacks")).unwrap();
    common::copy_tree(
        &sp.join("servicepack001"),
        &model.join("repository/components/servicepacks/servicepack001"),
    );
    server_start(&model);
    assert!(
        files(&h.path(PLUGINS)) == files(&model.join(PLUGINS)),
        "plugins differ from the server with a service pack"
    );
    assert_eq!(
        fs::read_to_string(h.path(META).join("prePatchedDir.txt")).unwrap(),
        fs::read_to_string(model.join(META).join("prePatchedDir.txt")).unwrap()
    );
    let p = h.json(&["patches", "--json"]);
    assert_eq!(p["servicepack"], "servicepack001");
    assert!(
        p["patches"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["folder"] == "patch0001" && x["skipped"] == true),
        "{p}"
    );
    assert_eq!(p["verified"], true);
}

#[test]
fn adopt_rebuilds_history_of_a_home_patched_by_hand() {
    let h = Home::new(12);
    let z = zips(&h, 3);
    for zp in &z {
        install_patch_folder(zp, &h.dir);
        server_start(&h.dir);
    }
    let before = h.picture();
    let out = h.ok(&["init"]);
    assert!(out.contains("exactly what Carbon produces"), "{out}");
    assert_same(&before, &h.picture());
    assert_eq!(h.log_kinds(&[]), ["patch", "patch", "patch", "baseline"]);
    assert!(h.json(&["status", "--json"])["clean"].as_bool().unwrap());
    assert_eq!(h.json(&["patches", "--json"])["verified"], true);
    // The baseline's plugins are patch0000's.
    h.ok(&["checkout", "patch0000"]);
    let base = Sample::new(Options {
        jars: 12,
        seed: 11,
        small: true,
    });
    let fresh = h.tmp.path().join("fresh");
    base.write_home(&fresh).unwrap();
    assert!(files(&h.path(PLUGINS)) == files(&fresh.join(PLUGINS)));
}

#[test]
fn adopt_records_local_differences_separately() {
    let h = Home::new(10);
    let z = zips(&h, 2);
    for zp in &z {
        install_patch_folder(zp, &h.dir);
    }
    server_start(&h.dir);
    let jar = h.sample.jars[5].file_name();
    fs::write(h.path(PLUGINS).join(&jar), b"hand-edited jar").unwrap();
    let out = h.ok(&["init"]);
    assert!(
        out.contains("differs from what Carbon would produce") && out.contains(&jar),
        "{out}"
    );
    let log = h.json(&["log", "--json"]);
    assert_eq!(log[0]["kind"], "manual");
    let p = h.run(&["patches"]);
    assert_eq!(
        p.status.code(),
        Some(0),
        "the hand-edited jar is not a patched one"
    );
}

#[test]
fn the_server_verification_names_a_jar_not_in_place() {
    let h = Home::committed(8);
    let z = zips(&h, 1);
    h.ok(&["apply", z[0].to_str().unwrap()]);
    let name = h.sample.jars[h.sample.patch(1).jars[0]].file_name();
    fs::write(h.path(PLUGINS).join(&name), b"overwritten").unwrap();
    let out = h.run(&["patches"]);
    assert_eq!(out.status.code(), Some(5));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("{name}(MD5: "))
            && text.contains("has been patched with patch0001, but not applied"),
        "{text}"
    );
    assert!(text.contains("modified"), "{text}");
    let _: Value = h.json(&["log", "--json"]);
}
