//! The store and its git-like core, end to end through the real binary on
//! generated product homes: init, commit, status, log, show, diff,
//! checkout, tag, revisions.

mod common;

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;

use common::{assert_same, Home};
use serde_json::Value;

fn statuses(v: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v["changes"]
        .as_array()
        .expect("changes array")
        .iter()
        .map(|c| {
            (
                c["status"].as_str().unwrap_or("?").to_string(),
                c["path"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

const NON_UTF8: &[u8] = b"repository/conf/caf\xe9.properties";

/// Makes one change of every kind; returns the expected status lines.
fn change_everything(h: &Home) -> Vec<(String, String)> {
    let plugins = h.path("repository/components/plugins");
    let victim = h.sample.jars[0].file_name();
    let modified = h.sample.jars[1].file_name();
    fs::write(h.path("repository/conf/new-config.xml"), "<new/>\n").unwrap();
    fs::write(plugins.join(&modified), b"not the same jar any more").unwrap();
    fs::remove_file(plugins.join(&victim)).unwrap();
    fs::set_permissions(
        h.path("repository/conf/carbon.xml"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        "../conf/carbon.xml",
        h.path("repository/components/lib/carbon-link.xml"),
    )
    .unwrap();
    fs::write(h.path("repository/conf/empty.properties"), b"").unwrap();
    fs::write(h.dir.join(OsStr::from_bytes(NON_UTF8)), b"key=value\n").unwrap();
    fs::create_dir(h.path("repository/resources")).unwrap();
    let mut want = vec![
        (
            "added".to_string(),
            "repository/conf/new-config.xml".to_string(),
        ),
        (
            "modified".to_string(),
            format!("repository/components/plugins/{modified}"),
        ),
        (
            "deleted".to_string(),
            format!("repository/components/plugins/{victim}"),
        ),
        (
            "type_changed".to_string(),
            "repository/conf/carbon.xml".to_string(),
        ),
        (
            "added".to_string(),
            "repository/components/lib/carbon-link.xml".to_string(),
        ),
        (
            "added".to_string(),
            "repository/conf/empty.properties".to_string(),
        ),
        (
            "added".to_string(),
            "repository/conf/caf\\xe9.properties".to_string(),
        ),
        ("added".to_string(), "repository/resources".to_string()),
    ];
    want.sort();
    want
}

#[test]
fn every_kind_of_change_is_reported_committed_and_rolled_back_exactly() {
    let h = Home::new(24);
    let original = h.picture();
    let out = h.ok(&["init"]);
    assert!(out.contains(".patchvault"), "{out}");
    let out = h.ok(&["commit", "-m", "Baseline"]);
    assert!(out.contains("tagged patch0000"), "{out}");
    assert!(h.json(&["status", "--json"])["clean"].as_bool().unwrap());

    let want = change_everything(&h);
    let st = h.json(&["status", "--json"]);
    assert_eq!(statuses(&st), want);
    assert_eq!(st["clean"], Value::Bool(false));
    let changed = h.picture();

    let c = h.json(&["commit", "-m", "Local changes", "--json"]);
    assert_eq!(c["kind"], "manual");
    assert!(
        h.json(&["status", "--json"])["clean"].as_bool().unwrap(),
        "clean after commit"
    );

    let r = h.json(&["checkout", "patch0000", "--json"]);
    assert!(
        r["recorded"].is_string(),
        "a rollback is recorded as a commit: {r}"
    );
    assert_same(&original, &h.picture());
    assert!(h.json(&["status", "--json"])["clean"].as_bool().unwrap());

    // And forward again to the changed state, by the commit's id.
    let id = c["id"].as_str().unwrap();
    h.ok(&["checkout", &id[..10]]);
    assert_same(&changed, &h.picture());

    assert_eq!(
        h.log_kinds(&[]),
        ["checkout", "checkout", "manual", "baseline"]
    );
}

#[test]
fn server_runtime_state_is_ignored_and_never_touched() {
    let h = Home::committed(8);
    patchvault_sample::simulate_server_start(&h.dir).unwrap();
    let st = h.json(&["status", "--json"]);
    assert!(
        st["clean"].as_bool().unwrap(),
        "server start made status dirty: {st}"
    );
    fs::write(h.path("repository/conf/carbon.xml"), "<changed/>").unwrap();
    h.ok(&["commit", "-m", "edit"]);
    h.ok(&["checkout", "patch0000"]);
    assert!(h.path("repository/logs/wso2carbon.log").exists());
    assert!(h.path("wso2carbon.pid").exists());
    assert!(h
        .path("repository/components/default/configuration/org.eclipse.osgi/.manager.lock")
        .exists());
    assert!(h.path("repository/database/WSO2AM_DB.mv.db").exists());
}

#[test]
fn unchanged_files_are_not_hashed_again() {
    let h = Home::committed(30);
    let st = h.json(&["status", "--json"]);
    assert_eq!(st["hashed"], 0, "stat cache unused: {st}");
    let jar = h.path(&format!(
        "repository/components/plugins/{}",
        h.sample.jars[2].file_name()
    ));
    let mut bytes = fs::read(&jar).unwrap();
    bytes.push(0);
    fs::write(&jar, bytes).unwrap();
    let st = h.json(&["status", "--json"]);
    assert_eq!(st["hashed"], 1, "{st}");
}

#[test]
fn dirty_checkout_is_refused_then_autosaved_with_force() {
    let h = Home::committed(10);
    fs::write(h.path("repository/conf/carbon.xml"), "<v2/>").unwrap();
    h.ok(&["commit", "-m", "v2"]);
    fs::write(h.path("repository/conf/carbon.xml"), "<v3 uncommitted/>").unwrap();
    fs::write(h.path("bin/untracked.sh"), "echo hi").unwrap();
    let before = h.picture();

    let err = h.fails(&["checkout", "patch0000"], 3);
    assert!(
        err.contains("repository/conf/carbon.xml") && err.contains("bin/untracked.sh"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert_same(&before, &h.picture());

    let r = h.json(&["checkout", "--force", "patch0000", "--json"]);
    let (name, id) = (
        r["autosave"][0].as_str().unwrap(),
        r["autosave"][1].as_str().unwrap(),
    );
    assert!(name.starts_with("refs/autosave/"), "{name}");
    assert!(!h.path("bin/untracked.sh").exists());
    let all = h.ok(&["log", "--all", "--oneline"]);
    assert!(
        all.contains(&id[..12]) && all.contains("autosave/"),
        "{all}"
    );
    assert!(
        !h.ok(&["log", "--oneline"]).contains(&id[..12]),
        "autosave is not on the branch"
    );

    // Nothing was lost: the autosave brings back exactly what was there.
    h.ok(&["checkout", &id[..16]]);
    assert_same(&before, &h.picture());
}

#[test]
fn checkout_of_paths_restores_only_them() {
    let h = Home::committed(10);
    fs::write(h.path("repository/conf/carbon.xml"), "<v2/>").unwrap();
    fs::write(h.path("repository/conf/identity/identity.xml"), "<v2/>").unwrap();
    h.ok(&["commit", "-m", "v2"]);
    h.ok(&["checkout", "patch0000", "--", "repository/conf/identity"]);
    assert_eq!(
        fs::read_to_string(h.path("repository/conf/carbon.xml")).unwrap(),
        "<v2/>"
    );
    assert!(
        fs::read_to_string(h.path("repository/conf/identity/identity.xml"))
            .unwrap()
            .contains("OAuth")
    );
    let st = h.json(&["status", "--json"]);
    assert_eq!(
        statuses(&st),
        vec![(
            "modified".into(),
            "repository/conf/identity/identity.xml".into()
        )]
    );

    // A path in neither the revision nor the home is an error, not a no-op.
    let before = h.picture();
    let err = h.fails(
        &["checkout", "patch0000", "--", "repository/conf/no-such.xml"],
        1,
    );
    assert!(
        err.contains("repository/conf/no-such.xml") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_same(&before, &h.picture());
}

#[test]
fn empty_commits_are_refused_unless_allowed() {
    let h = Home::committed(5);
    let err = h.fails(&["commit", "-m", "nothing"], 3);
    assert!(err.contains("nothing to commit"), "{err}");
    h.ok(&["commit", "-m", "marker", "--allow-empty"]);
    assert_eq!(h.json(&["log", "--json"]).as_array().unwrap().len(), 2);
}

#[test]
fn revisions_tags_and_ids() {
    let h = Home::committed(5);
    for i in 1..=3 {
        fs::write(h.path("repository/conf/carbon.xml"), format!("<v{i}/>")).unwrap();
        h.ok(&["commit", "-m", &format!("change {i}")]);
    }
    let log = h.json(&["log", "--json"]);
    let ids: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 4);
    let show = |rev: &str| {
        h.json(&["show", rev, "--json"])["commit"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(show("HEAD"), ids[0]);
    assert_eq!(show("HEAD~1"), ids[1]);
    assert_eq!(show("HEAD^"), ids[1]);
    assert_eq!(show("HEAD~2^"), ids[3]);
    assert_eq!(show("HEAD^1~1"), ids[2]);
    assert_eq!(show("patch0000"), ids[3]);
    assert_eq!(show("main~3"), ids[3]);
    assert_eq!(show(&ids[2][..7]), ids[2]);
    assert_eq!(show(&ids[2].to_uppercase()[..9]), ids[2]);

    let err = h.fails(&["show", "no-such-tag"], 1);
    assert!(err.contains("unknown revision 'no-such-tag'"), "{err}");
    let err = h.fails(&["show", "HEAD~9"], 1);
    assert!(err.contains("HEAD~9"), "{err}");
    let err = h.fails(&["checkout", "nope"], 1);
    assert!(err.contains("unknown revision 'nope'"), "{err}");

    h.ok(&["tag", "before-upgrade", "HEAD~1"]);
    assert_eq!(show("before-upgrade"), ids[1]);
    let tags = h.json(&["tag", "--list", "--json"]);
    let names: Vec<&str> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["before-upgrade", "patch0000"]);
    h.fails(&["tag", "before-upgrade"], 3);
    h.fails(&["tag", "../escape"], 1);
    h.ok(&["tag", "-d", "before-upgrade"]);
    h.fails(&["show", "before-upgrade"], 1);

    // A damaged tag is store damage (exit 4) with the way out in the
    // message, and that way out works.
    h.ok(&["tag", "damaged"]);
    fs::write(h.path(".patchvault/refs/tags/damaged"), "not an id\n").unwrap();
    let err = h.fails(&["log", "--oneline"], 4);
    assert!(err.contains("patchvault tag -d damaged"), "{err}");
    let out = h.ok(&["tag", "-d", "damaged"]);
    assert!(out.contains("not an id"), "{out}");
    h.ok(&["log", "--oneline"]);

    // The oneline log names the baseline tag.
    let one = h.ok(&["log", "--oneline", "-n", "10"]);
    assert!(
        one.lines().last().unwrap().contains("tag: patch0000"),
        "{one}"
    );
    assert_eq!(h.ok(&["log", "--oneline", "-n", "2"]).lines().count(), 2);
}

#[test]
fn ambiguous_abbreviations_list_the_candidates() {
    let h = Home::committed(3);
    // Empty commits until two ids share their first four hex digits.
    let mut seen = std::collections::HashMap::new();
    let mut pair = None;
    for i in 0..2000 {
        let c = h.json(&[
            "commit",
            "--allow-empty",
            "-m",
            &format!("marker {i}"),
            "--json",
        ]);
        let id = c["id"].as_str().unwrap().to_string();
        if let Some(other) = seen.insert(id[..4].to_string(), id.clone()) {
            pair = Some((other, id));
            break;
        }
    }
    let (a, b) = pair.expect("a 4-digit collision within 2000 commits");
    let err = h.fails(&["show", &a[..4]], 1);
    assert!(
        err.contains("ambiguous") && err.contains(&a[..12]) && err.contains(&b[..12]),
        "{err}"
    );
    // A longer prefix tells them apart.
    let common = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    assert_eq!(
        h.json(&["show", &a[..common + 1], "--json"])["commit"]["id"],
        a.as_str()
    );
}

#[test]
fn diff_between_revisions_and_with_the_home() {
    let h = Home::committed(12);
    let jar = h.sample.jars[4].file_name();
    fs::write(
        h.path(&format!("repository/components/plugins/{jar}")),
        b"patched",
    )
    .unwrap();
    fs::write(
        h.path("repository/conf/identity/identity.xml"),
        fs::read_to_string(h.path("repository/conf/identity/identity.xml"))
            .unwrap()
            .replace("3600</Access", "7200</Access"),
    )
    .unwrap();
    h.ok(&["commit", "-m", "patch by hand"]);

    let names = h.ok(&["diff", "patch0000", "HEAD", "--name-only"]);
    let mut names: Vec<&str> = names.lines().collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            format!("repository/components/plugins/{jar}").as_str(),
            "repository/conf/identity/identity.xml"
        ]
    );
    let full = h.ok(&["diff", "patch0000", "HEAD"]);
    assert!(
        full.contains("-        <AccessTokenDefaultValidityPeriod>3600")
            && full.contains("+        <AccessTokenDefaultValidityPeriod>7200"),
        "{full}"
    );
    let stat = h.ok(&["diff", "--stat", "patch0000", "HEAD"]);
    assert!(stat.contains("2 paths changed"), "{stat}");
    let j = h.json(&[
        "diff",
        "--json",
        "patch0000",
        "HEAD",
        "--",
        "repository/components",
    ]);
    assert_eq!(
        statuses(&j),
        vec![(
            "modified".into(),
            format!("repository/components/plugins/{jar}")
        )]
    );
    assert_eq!(j["changes"][0]["new_size"], 7);

    // Revision against the home.
    assert!(h.json(&["diff", "--json"])["changes"]
        .as_array()
        .unwrap()
        .is_empty());
    fs::write(
        h.path("bin/version.txt"),
        "WSO2 API Manager v4.2.0-custom\n",
    )
    .unwrap();
    let j = h.json(&["diff", "--json"]);
    assert_eq!(
        statuses(&j),
        vec![("modified".into(), "bin/version.txt".into())]
    );
    let j = h.json(&["diff", "patch0000", "--json"]);
    assert_eq!(j["changes"].as_array().unwrap().len(), 3);

    // A side that is a path to nothing says so, rather than "unknown revision".
    let err = h.fails(&["diff", "../staging/wso2am-4.2.0"], 1);
    assert!(
        err.contains("../staging/wso2am-4.2.0") && err.contains("no product home or manifest"),
        "{err}"
    );

    // File history.
    let hist = h.json(&[
        "log",
        "--json",
        "--",
        "repository/conf/identity/identity.xml",
    ]);
    assert_eq!(
        hist.as_array().unwrap().len(),
        2,
        "baseline and the hand patch"
    );
}

#[test]
fn corrupt_objects_are_reported_never_used() {
    let h = Home::committed(6);
    fs::write(h.path("repository/conf/carbon.xml"), "<v2/>").unwrap();
    h.ok(&["commit", "-m", "v2"]);
    // Flip one bit in the stored baseline carbon.xml.
    let j = h.json(&["diff", "--json", "patch0000", "HEAD"]);
    let old = j["changes"][0]["old_id"].as_str().unwrap().to_string();
    let obj = h.path(&format!(".patchvault/objects/{}/{}", &old[..2], &old[2..]));
    let mut perms = fs::metadata(&obj).unwrap().permissions();
    perms.set_mode(0o644);
    fs::set_permissions(&obj, perms).unwrap();
    let mut bytes = fs::read(&obj).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x10;
    fs::write(&obj, bytes).unwrap();
    let before = h.picture();
    let err = h.fails(&["checkout", "patch0000"], 4);
    assert!(err.contains(&old) && err.contains("corrupt"), "{err}");
    assert_same(&before, &h.picture());
}

#[test]
fn quiet_output_when_not_a_terminal() {
    let h = Home::new(40);
    h.ok(&["init"]);
    let out = h.run(&["commit", "-m", "Baseline"]);
    assert!(out.status.success());
    assert!(
        out.stderr.is_empty(),
        "no progress bar off a terminal: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn store_outside_the_home() {
    let h = Home::new(5);
    let store = h.tmp.path().join("elsewhere");
    h.ok(&["init", "--store", store.to_str().unwrap()]);
    assert!(!h.path(".patchvault").exists());
    h.fails(&["status"], 1);
    let out = std::process::Command::new(common::BIN)
        .args([
            "--store",
            store.to_str().unwrap(),
            "commit",
            "-m",
            "Baseline",
        ])
        .env("PATCHVAULT_AUTHOR", "Ops <ops@example.com>")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(common::BIN)
        .args(["status", "--json"])
        .env("PATCHVAULT_STORE", &store)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["clean"], true);
}

#[test]
fn init_with_a_relative_dir_and_dash_c() {
    let h = Home::new(4);
    let parent = h.dir.parent().unwrap().to_path_buf();
    let name = h.dir.file_name().unwrap().to_str().unwrap().to_string();
    let run = |args: &[&str]| {
        std::process::Command::new(common::BIN)
            .args(args)
            .current_dir(&parent)
            .env("PATCHVAULT_AUTHOR", "T <t@e>")
            .output()
            .unwrap()
    };
    let o = run(&["init", &name]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        h.path(".patchvault/config").is_file(),
        "store created inside the named home"
    );
    let o = run(&["-C", &name, "commit", "-m", "Baseline"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["-C", &name, "log", "--oneline"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains("tag: patch0000"));
}

#[test]
fn a_home_copied_with_its_store_versions_the_copy() {
    let h = Home::committed(4);
    let copy = h.tmp.path().join("copy");
    let st = std::process::Command::new("cp")
        .arg("-a")
        .arg(&h.dir)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(st.success());
    fs::write(copy.join("repository/conf/carbon.xml"), "<copy/>").unwrap();
    let o = std::process::Command::new(common::BIN)
        .args(["status", "--json"])
        .current_dir(&copy)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        statuses(&v),
        vec![("modified".into(), "repository/conf/carbon.xml".into())]
    );
    assert!(
        h.json(&["status", "--json"])["clean"].as_bool().unwrap(),
        "the original is untouched"
    );
}
