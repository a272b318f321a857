//! `patchvault-compare`: patchvault side by side with git, ostree (bare-user
//! and archive) and restic on the same generated product home and the same
//! 12 patches, with the floors `b3sum` (hashing) and `cp -a` (copying).
//! Several repetitions, medians; prints a markdown table with ratios and
//! the targets, and writes the same as JSON.
//!
//! Run it through `scripts/bench.sh`, which builds the release binaries.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use patchvault_sample::{Options, Sample};
use serde::Serialize;

#[derive(Parser)]
#[command(about = "Compare patchvault with git, ostree and restic on a generated Carbon home")]
struct Args {
    /// Jars in the generated home.
    #[arg(long, default_value_t = 750)]
    jars: usize,
    /// Patches applied one commit each.
    #[arg(long, default_value_t = 12)]
    patches: u32,
    /// Repetitions (medians are reported).
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Working directory (default: a new one under /tmp, removed after).
    #[arg(long)]
    work: Option<PathBuf>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "target/bench/compare.json")]
    json: PathBuf,
    /// Only patchvault and the floors.
    #[arg(long)]
    only_patchvault: bool,
    /// Also run patchvault on a home this many times larger, to show how
    /// costs grow (0: skip).
    #[arg(long, default_value_t = 4)]
    scale: usize,
    /// Size in MiB of the single large file whose commit, re-commit and
    /// checkout show that memory does not grow with file size (0: skip).
    #[arg(long, default_value_t = 512)]
    large_file_mib: usize,
    /// Do not install missing peers with apt-get.
    #[arg(long)]
    no_install: bool,
}

/// One timed command: wall seconds and the child's peak RSS.
#[derive(Clone, Copy, Debug, Default, Serialize)]
struct Measure {
    secs: f64,
    rss_kib: u64,
}

/// Runs a command and measures it. The command is started by a fresh,
/// small copy of this program (`__measure` mode): a child forked straight
/// from this process would count this process's memory in its peak RSS.
fn run(cmd: &mut Command) -> Result<Measure> {
    let shown = format!("{cmd:?}");
    let mut wrapped = Command::new(std::env::current_exe()?);
    wrapped
        .arg("__measure")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    if let Some(d) = cmd.get_current_dir() {
        wrapped.current_dir(d);
    }
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    let start = Instant::now();
    let out = wrapped
        .stderr(std::process::Stdio::piped())
        .output()
        .with_context(|| format!("starting {shown}"))?;
    let secs = start.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("{shown} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let rss_kib = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Ok(Measure { secs, rss_kib })
}

/// `__measure PROGRAM ARGS...`: runs it, prints its peak RSS in KiB.
fn measure_mode(args: &[String]) -> ! {
    let child = Command::new(&args[0])
        .args(&args[1..])
        .stdout(std::process::Stdio::null())
        .spawn();
    let Ok(child) = child else {
        eprintln!("cannot start {}", args[0]);
        std::process::exit(127)
    };
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value to be filled in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child; status and usage are valid out-pointers.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if rc != pid || !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        eprintln!("{} exited with status {status}", args[0]);
        std::process::exit(1)
    }
    println!("{}", usage.ru_maxrss);
    std::process::exit(0)
}

fn sh(script: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(script);
    c
}

fn sync() {
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
}

fn du(p: &Path) -> u64 {
    let mut total = 0;
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => total += du(&e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn copy_home(src: &Path, dst: &Path) -> Result<()> {
    if dst.exists() {
        fs::remove_dir_all(dst)?;
    }
    run(Command::new("cp").arg("-a").arg(src).arg(dst))?;
    sync();
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    Patchvault,
    Git,
    OstreeBareUser,
    OstreeArchive,
    Restic,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Patchvault => "patchvault",
            Tool::Git => "git",
            Tool::OstreeBareUser => "ostree (bare-user)",
            Tool::OstreeArchive => "ostree (archive)",
            Tool::Restic => "restic",
        }
    }
    fn binary(self) -> &'static str {
        match self {
            Tool::Patchvault => "patchvault",
            Tool::Git => "git",
            Tool::OstreeBareUser | Tool::OstreeArchive => "ostree",
            Tool::Restic => "restic",
        }
    }
}

/// What one run of one tool measured.
#[derive(Clone, Debug, Default, Serialize)]
struct ToolRun {
    first_commit: f64,
    patch_commits: f64,
    status: f64,
    rollback: f64,
    diff: f64,
    hash_only: Option<f64>,
    first_commit_nosync: Option<f64>,
    store_after_baseline: u64,
    store_after_patches: u64,
    peak_rss_kib: u64,
}

struct Ctx<'a> {
    pv: PathBuf,
    sample: &'a Sample,
    patches: u32,
    src: PathBuf,
    work: PathBuf,
}

fn write_patch(home: &Path, sample: &Sample, n: u32) -> Result<()> {
    for (rel, bytes) in sample.patch_files(n)? {
        let p = home.join(rel);
        if let Some(d) = p.parent() {
            fs::create_dir_all(d)?;
        }
        fs::write(&p, bytes)?;
    }
    sync();
    Ok(())
}

fn measure_tool(ctx: &Ctx, tool: Tool) -> Result<ToolRun> {
    let home = ctx.work.join(format!("home-{}", tool.binary()));
    copy_home(&ctx.src, &home)?;
    let repo = ctx.work.join(format!("repo-{tool:?}"));
    let _ = fs::remove_dir_all(&repo);
    let mut r = ToolRun::default();
    let mut peak = 0u64;
    let mut t = |m: Measure| -> f64 {
        peak = peak.max(m.rss_kib);
        m.secs
    };
    let pv = |args: &[&str]| -> Command {
        let mut c = Command::new(&ctx.pv);
        c.arg("-q")
            .args(args)
            .current_dir(&home)
            .env("PATCHVAULT_AUTHOR", "Bench <bench@example.com>");
        c
    };
    let git = |args: &[&str]| -> Command {
        let mut c = Command::new("git");
        c.args(args)
            .current_dir(&home)
            .env("GIT_AUTHOR_NAME", "b")
            .env("GIT_AUTHOR_EMAIL", "b@e")
            .env("GIT_COMMITTER_NAME", "b")
            .env("GIT_COMMITTER_EMAIL", "b@e");
        c
    };
    let ostree = |args: &[&str]| -> Command {
        let mut c = Command::new("ostree");
        c.arg(format!("--repo={}", repo.display())).args(args);
        c
    };
    let restic = |args: &[&str]| -> Command {
        let mut c = Command::new("restic");
        c.arg("-r")
            .arg(&repo)
            .arg("-q")
            .args(args)
            .env("RESTIC_PASSWORD", "bench")
            .env("RESTIC_CACHE_DIR", ctx.work.join("restic-cache"));
        c
    };
    let home_s = home.display().to_string();
    let rollback_dir = ctx.work.join("rollback");
    let _ = fs::remove_dir_all(&rollback_dir);
    match tool {
        Tool::Patchvault => {
            run(&mut pv(&["init"]))?;
            r.first_commit = t(run(&mut pv(&["commit", "-m", "baseline"]))?);
            r.store_after_baseline = du(&home.join(".patchvault"));
            for n in 1..=ctx.patches {
                write_patch(&home, ctx.sample, n)?;
                r.patch_commits += t(run(&mut pv(&["commit", "-m", &format!("patch {n}")]))?);
            }
            r.store_after_patches = du(&home.join(".patchvault"));
            r.status = t(run(&mut pv(&["status"]))?);
            r.diff = t(run(&mut pv(&["diff", "--stat", "patch0000", "HEAD"]))?);
            fs::remove_file(home.join(".patchvault/index"))?;
            r.hash_only = Some(t(run(&mut pv(&["status"]))?));
            r.rollback = t(run(&mut pv(&["checkout", "patch0000"]))?);
            // The same first commit without durability (core.fsync = off),
            // to compare with cp -a, which does not sync either.
            let nosync = ctx.work.join("home-nosync");
            copy_home(&ctx.src, &nosync)?;
            let mut init = Command::new(&ctx.pv);
            init.arg("-q").arg("init").current_dir(&nosync);
            run(&mut init)?;
            let mut c = Command::new(&ctx.pv);
            c.args(["-q", "commit", "-m", "baseline"])
                .current_dir(&nosync)
                .env("PATCHVAULT_FSYNC", "off");
            r.first_commit_nosync = Some(t(run(&mut c)?));
            let _ = fs::remove_dir_all(&nosync);
        }
        Tool::Git => {
            run(&mut git(&["init", "-q"]))?;
            r.first_commit = t(run(sh("git add -A && git commit -q -m baseline")
                .current_dir(&home)
                .env("GIT_AUTHOR_NAME", "b")
                .env("GIT_AUTHOR_EMAIL", "b@e")
                .env("GIT_COMMITTER_NAME", "b")
                .env("GIT_COMMITTER_EMAIL", "b@e"))?);
            run(&mut git(&["tag", "base"]))?;
            r.store_after_baseline = du(&home.join(".git"));
            for n in 1..=ctx.patches {
                write_patch(&home, ctx.sample, n)?;
                r.patch_commits += t(run(sh(&format!(
                    "git add -A && git commit -q -m 'patch {n}'"
                ))
                .current_dir(&home)
                .env("GIT_AUTHOR_NAME", "b")
                .env("GIT_AUTHOR_EMAIL", "b@e")
                .env("GIT_COMMITTER_NAME", "b")
                .env("GIT_COMMITTER_EMAIL", "b@e"))?);
            }
            r.store_after_patches = du(&home.join(".git"));
            r.status = t(run(&mut git(&["status", "--porcelain"]))?);
            r.diff = t(run(&mut git(&["diff", "--stat", "base", "HEAD"]))?);
            r.rollback = t(run(&mut git(&["checkout", "-q", "-f", "base"]))?);
        }
        Tool::OstreeBareUser | Tool::OstreeArchive => {
            let mode = if tool == Tool::OstreeArchive {
                "archive"
            } else {
                "bare-user"
            };
            run(&mut ostree(&["init", &format!("--mode={mode}")]))?;
            let tree = format!("--tree=dir={home_s}");
            r.first_commit = t(run(&mut ostree(&[
                "commit",
                "--branch=main",
                "-s",
                "baseline",
                &tree,
            ]))?);
            let base = String::from_utf8(ostree(&["rev-parse", "main"]).output()?.stdout)?
                .trim()
                .to_string();
            r.store_after_baseline = du(&repo);
            for n in 1..=ctx.patches {
                write_patch(&home, ctx.sample, n)?;
                r.patch_commits += t(run(&mut ostree(&[
                    "commit",
                    "--branch=main",
                    "-s",
                    &format!("patch {n}"),
                    &tree,
                ]))?);
            }
            r.store_after_patches = du(&repo);
            r.status = t(run(&mut ostree(&["diff", "main", &home_s]))?);
            r.diff = t(run(&mut ostree(&["diff", &base, "main"]))?);
            let rb = rollback_dir.display().to_string();
            let mut args = vec!["checkout", "-U"];
            if tool == Tool::OstreeBareUser {
                args.push("-H");
            }
            args.extend([base.as_str(), rb.as_str()]);
            r.rollback = t(run(&mut ostree(&args))?);
        }
        Tool::Restic => {
            run(&mut restic(&["init"]))?;
            r.first_commit = t(run(&mut restic(&["backup", &home_s]))?);
            r.store_after_baseline = du(&repo);
            for n in 1..=ctx.patches {
                write_patch(&home, ctx.sample, n)?;
                r.patch_commits += t(run(&mut restic(&["backup", &home_s]))?);
            }
            r.store_after_patches = du(&repo);
            r.status = t(run(&mut restic(&["backup", "--dry-run", &home_s]))?);
            let snaps: serde_json::Value =
                serde_json::from_slice(&restic(&["snapshots", "--json"]).output()?.stdout)?;
            let ids: Vec<String> = snaps
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s["short_id"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let (first, last) = (
                ids.first().cloned().unwrap_or_default(),
                ids.last().cloned().unwrap_or_default(),
            );
            r.diff = t(run(&mut restic(&["diff", &first, &last]))?);
            let rb = rollback_dir.display().to_string();
            r.rollback = t(run(&mut restic(&["restore", &first, "--target", &rb]))?);
        }
    }
    r.peak_rss_kib = peak;
    let _ = fs::remove_dir_all(&home);
    let _ = fs::remove_dir_all(&repo);
    let _ = fs::remove_dir_all(&rollback_dir);
    Ok(r)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn ensure_peer(tool: Tool, install: bool, notes: &mut Vec<String>) -> bool {
    let bin = tool.binary();
    let have = |b: &str| {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {b}"))
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    };
    if have(bin) {
        return true;
    }
    // SAFETY: geteuid has no preconditions.
    if install && unsafe { libc::geteuid() } == 0 && have("apt-get") {
        eprintln!("installing {bin} with apt-get ...");
        let ok = Command::new("apt-get")
            .args(["install", "-y", "-qq", bin])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok && have(bin) {
            return true;
        }
    }
    notes.push(format!(
        "{} skipped: `{bin}` is not installed (apt-get install {bin})",
        tool.name()
    ));
    false
}

#[derive(Serialize)]
struct Report {
    machine: String,
    jars: usize,
    patches: u32,
    reps: usize,
    home_bytes: u64,
    floors: BTreeMap<String, f64>,
    tools: BTreeMap<String, BTreeMap<String, f64>>,
    ratios: BTreeMap<String, BTreeMap<String, f64>>,
    targets: Vec<(String, String, bool)>,
    scale: Option<BTreeMap<String, f64>>,
    /// Peak RSS (MiB) of patchvault commands on a home holding one large file.
    large_file: Option<BTreeMap<String, f64>>,
    notes: Vec<String>,
}

/// patchvault on a home holding one incompressible file of `mib` MiB and
/// one compressible file of half that: first commit, a commit after a
/// 4-byte change of each, and a checkout back. Returns peak RSS per step.
fn large_file_run(pv: &Path, work: &Path, mib: usize) -> Result<BTreeMap<String, f64>> {
    let home = work.join("large-file-home");
    let _ = fs::remove_dir_all(&home);
    fs::create_dir_all(home.join("repository/components/lib"))?;
    fs::create_dir_all(home.join("repository/conf"))?;
    let big = home.join("repository/components/lib/large.bin");
    let text = home.join("repository/conf/large.txt");
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(fs::File::create(&big)?);
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..mib {
            for b in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&block)?;
        }
        f.flush()?;
        let line = b"<property name=\"carbon.large\">value</property>\n";
        let mut t = std::io::BufWriter::new(fs::File::create(&text)?);
        for _ in 0..(mib << 19) / line.len() {
            t.write_all(line)?;
        }
        t.flush()?;
    }
    sync();
    let pv_cmd = |args: &[&str]| -> Command {
        let mut c = Command::new(pv);
        c.arg("-q")
            .args(args)
            .current_dir(&home)
            .env("PATCHVAULT_AUTHOR", "Bench <bench@example.com>");
        c
    };
    let mut out = BTreeMap::new();
    out.insert("file_mib".into(), mib as f64);
    run(&mut pv_cmd(&["init"]))?;
    let m = run(&mut pv_cmd(&["commit", "-m", "large"]))?;
    out.insert("first_commit_rss_mib".into(), m.rss_kib as f64 / 1024.0);
    for p in [&big, &text] {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::OpenOptions::new().write(true).open(p)?;
        f.seek(SeekFrom::Start(4096))?;
        f.write_all(b"PVPV")?;
    }
    let m = run(&mut pv_cmd(&["commit", "-m", "changed"]))?;
    out.insert("second_commit_rss_mib".into(), m.rss_kib as f64 / 1024.0);
    let m = run(&mut pv_cmd(&["checkout", "HEAD~1"]))?;
    out.insert("checkout_rss_mib".into(), m.rss_kib as f64 / 1024.0);
    let m = run(&mut pv_cmd(&["fsck"]))?;
    out.insert("fsck_rss_mib".into(), m.rss_kib as f64 / 1024.0);
    let _ = fs::remove_dir_all(&home);
    Ok(out)
}

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<u64>()
                    .unwrap_or(0)
                    / 1024
                    / 1024
            })
        })
        .unwrap_or(0);
    format!("{cores} cores ({cpu}), {mem} GiB RAM")
}

fn run_all(args: &Args, work: &Path, pv: &Path) -> Result<Report> {
    let mut notes = Vec::new();
    for b in ["b3sum"] {
        if Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {b}"))
            .output()?
            .status
            .success()
        {
            continue;
        }
        if !args.no_install {
            let _ = Command::new("apt-get")
                .args(["install", "-y", "-qq", b])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status();
        }
    }
    let sample = Sample::new(Options {
        jars: args.jars,
        seed: 42,
        small: false,
    });
    let src = work.join("src");
    eprintln!("generating a home with {} jars ...", args.jars);
    sample.write_home(&src)?;
    sync();
    let home_bytes = du(&src);
    let ctx = Ctx {
        pv: pv.to_path_buf(),
        sample: &sample,
        patches: args.patches,
        src: src.clone(),
        work: work.to_path_buf(),
    };
    let mut tools = vec![Tool::Patchvault];
    if !args.only_patchvault {
        for t in [
            Tool::Git,
            Tool::OstreeBareUser,
            Tool::OstreeArchive,
            Tool::Restic,
        ] {
            if ensure_peer(t, !args.no_install, &mut notes) {
                tools.push(t);
            }
        }
    }
    let mut runs: BTreeMap<&str, Vec<ToolRun>> = BTreeMap::new();
    let mut b3 = Vec::new();
    let mut cp = Vec::new();
    let mut cp_sync = Vec::new();
    for rep in 0..args.reps {
        for &tool in &tools {
            eprintln!("rep {}/{}: {} ...", rep + 1, args.reps, tool.name());
            let r =
                measure_tool(&ctx, tool).with_context(|| format!("measuring {}", tool.name()))?;
            runs.entry(tool.name()).or_default().push(r);
        }
        let has_b3 = Command::new("sh")
            .arg("-c")
            .arg("command -v b3sum")
            .output()?
            .status
            .success();
        if has_b3 {
            b3.push(
                run(&mut sh(&format!(
                    "find '{}' -type f -print0 | xargs -0 b3sum > /dev/null",
                    src.display()
                )))?
                .secs,
            );
        }
        let dst = work.join("cp-dst");
        let _ = fs::remove_dir_all(&dst);
        cp.push(run(Command::new("cp").arg("-a").arg(&src).arg(&dst))?.secs);
        let _ = fs::remove_dir_all(&dst);
        sync();
        cp_sync.push(
            run(&mut sh(&format!(
                "cp -a '{}' '{}' && sync",
                src.display(),
                dst.display()
            )))?
            .secs,
        );
        let _ = fs::remove_dir_all(&dst);
    }
    let mut floors = BTreeMap::new();
    if !b3.is_empty() {
        floors.insert("b3sum".to_string(), median(b3));
    } else {
        notes.push("b3sum floor skipped: b3sum is not installed".into());
    }
    floors.insert("cp -a".to_string(), median(cp));
    floors.insert("cp -a + sync".to_string(), median(cp_sync));

    let mut table: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for (name, rs) in &runs {
        let m = |f: &dyn Fn(&ToolRun) -> f64| median(rs.iter().map(f).collect());
        let mut row = BTreeMap::new();
        row.insert("first_commit_s".into(), m(&|r| r.first_commit));
        row.insert("patch_commits_s".into(), m(&|r| r.patch_commits));
        row.insert("status_s".into(), m(&|r| r.status));
        row.insert("rollback_s".into(), m(&|r| r.rollback));
        row.insert("diff_s".into(), m(&|r| r.diff));
        row.insert(
            "store_after_baseline_mib".into(),
            m(&|r| r.store_after_baseline as f64 / 1048576.0),
        );
        row.insert(
            "store_after_patches_mib".into(),
            m(&|r| r.store_after_patches as f64 / 1048576.0),
        );
        row.insert(
            "peak_rss_mib".into(),
            m(&|r| r.peak_rss_kib as f64 / 1024.0),
        );
        if rs.iter().all(|r| r.first_commit_nosync.is_some()) {
            row.insert(
                "first_commit_nosync_s".into(),
                m(&|r| r.first_commit_nosync.unwrap_or(f64::NAN)),
            );
        }
        if rs.iter().all(|r| r.hash_only.is_some()) {
            row.insert(
                "hash_only_s".into(),
                m(&|r| r.hash_only.unwrap_or(f64::NAN)),
            );
        }
        table.insert(name.to_string(), row);
    }
    let pvrow = table.get("patchvault").cloned().unwrap_or_default();
    let mut ratios: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for (name, row) in &table {
        if name == "patchvault" {
            continue;
        }
        let mut r = BTreeMap::new();
        for (k, v) in row {
            if let Some(p) = pvrow.get(k) {
                r.insert(k.clone(), p / v);
            }
        }
        ratios.insert(name.clone(), r);
    }
    let get = |t: &str, k: &str| table.get(t).and_then(|r| r.get(k)).copied();
    let mut targets = Vec::new();
    let mut target = |what: &str, value: Option<f64>, limit: f64, text: String| {
        if let Some(v) = value {
            targets.push((
                what.to_string(),
                format!("{v:.3} {text} (target {limit})"),
                v <= limit,
            ));
        }
    };
    let pvf = pvrow.get("first_commit_s").copied();
    target(
        "first commit / cp -a",
        pvf.zip(floors.get("cp -a").copied()).map(|(a, b)| a / b),
        2.0,
        "×".into(),
    );
    target(
        "first commit, core.fsync=off / cp -a (neither syncs)",
        pvrow
            .get("first_commit_nosync_s")
            .copied()
            .zip(floors.get("cp -a").copied())
            .map(|(a, b)| a / b),
        2.0,
        "×".into(),
    );
    target(
        "first commit / (cp -a + sync) (both durable)",
        pvf.zip(floors.get("cp -a + sync").copied())
            .map(|(a, b)| a / b),
        2.0,
        "×".into(),
    );
    target(
        "first commit / git",
        pvf.zip(get("git", "first_commit_s")).map(|(a, b)| a / b),
        0.1,
        "×".into(),
    );
    target(
        "hashing / b3sum",
        pvrow
            .get("hash_only_s")
            .copied()
            .zip(floors.get("b3sum").copied())
            .map(|(a, b)| a / b),
        1.5,
        "×".into(),
    );
    target(
        "12 patch commits / git",
        pvrow
            .get("patch_commits_s")
            .copied()
            .zip(get("git", "patch_commits_s"))
            .map(|(a, b)| a / b),
        0.3,
        "×".into(),
    );
    target(
        "status / git status",
        pvrow
            .get("status_s")
            .copied()
            .zip(get("git", "status_s"))
            .map(|(a, b)| a / b),
        1.5,
        "×".into(),
    );
    target(
        "rollback / git checkout",
        pvrow
            .get("rollback_s")
            .copied()
            .zip(get("git", "rollback_s"))
            .map(|(a, b)| a / b),
        1.0,
        "×".into(),
    );
    target(
        "store after patches / after baseline",
        pvrow
            .get("store_after_patches_mib")
            .copied()
            .zip(pvrow.get("store_after_baseline_mib").copied())
            .map(|(a, b)| a / b),
        1.02,
        "×".into(),
    );
    target(
        "peak RSS",
        pvrow.get("peak_rss_mib").copied(),
        150.0,
        "MiB".into(),
    );

    let scale = if args.scale > 1 {
        eprintln!("scaling: patchvault on {}× the jars ...", args.scale);
        let big = Sample::new(Options {
            jars: args.jars * args.scale,
            seed: 42,
            small: false,
        });
        let bsrc = work.join("src-big");
        big.write_home(&bsrc)?;
        sync();
        let bctx = Ctx {
            pv: pv.to_path_buf(),
            sample: &big,
            patches: args.patches,
            src: bsrc.clone(),
            work: work.to_path_buf(),
        };
        let r = measure_tool(&bctx, Tool::Patchvault)?;
        let _ = fs::remove_dir_all(&bsrc);
        let mut s = BTreeMap::new();
        let base = &runs["patchvault"];
        let med = |f: &dyn Fn(&ToolRun) -> f64| median(base.iter().map(f).collect());
        s.insert("bytes_factor".into(), args.scale as f64);
        s.insert(
            "first_commit_growth".into(),
            r.first_commit / med(&|r| r.first_commit),
        );
        s.insert("status_growth".into(), r.status / med(&|r| r.status));
        s.insert(
            "patch_commits_growth".into(),
            r.patch_commits / med(&|r| r.patch_commits),
        );
        s.insert("rollback_growth".into(), r.rollback / med(&|r| r.rollback));
        s.insert("peak_rss_mib".into(), r.peak_rss_kib as f64 / 1024.0);
        Some(s)
    } else {
        None
    };
    let large_file = if args.large_file_mib > 0 {
        eprintln!(
            "large file: patchvault on one {} MiB file ...",
            args.large_file_mib
        );
        Some(large_file_run(pv, work, args.large_file_mib)?)
    } else {
        None
    };
    Ok(Report {
        machine: machine(),
        jars: args.jars,
        patches: args.patches,
        reps: args.reps,
        home_bytes,
        floors,
        tools: table,
        ratios,
        targets,
        scale,
        large_file,
        notes,
    })
}

fn fmt_s(v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.3} s"),
        _ => "–".into(),
    }
}

fn print_markdown(r: &Report) {
    println!(
        "Machine: {}; home: {} jars, {:.0} MiB; {} patches; median of {} runs.\n",
        r.machine,
        r.jars,
        r.home_bytes as f64 / 1048576.0,
        r.patches,
        r.reps
    );
    let order = [
        "patchvault",
        "git",
        "ostree (bare-user)",
        "ostree (archive)",
        "restic",
    ];
    let cols: Vec<&str> = order
        .iter()
        .copied()
        .filter(|t| r.tools.contains_key(*t))
        .collect();
    print!("| operation |");
    for c in &cols {
        print!(" {c} |");
    }
    println!(" floor |");
    print!("|---|");
    for _ in &cols {
        print!("---|");
    }
    println!("---|");
    let rows = [
        (
            "first commit",
            "first_commit_s",
            format!(
                "cp -a {}; cp -a + sync {}",
                fmt_s(r.floors.get("cp -a").copied()),
                fmt_s(r.floors.get("cp -a + sync").copied())
            ),
        ),
        (
            "first commit, core.fsync=off",
            "first_commit_nosync_s",
            String::new(),
        ),
        (
            &*format!("{} patch commits", r.patches),
            "patch_commits_s",
            String::new(),
        ),
        ("status, nothing changed", "status_s", String::new()),
        ("rollback to baseline", "rollback_s", String::new()),
        ("diff baseline..HEAD", "diff_s", String::new()),
        (
            "hash every file (no stat cache)",
            "hash_only_s",
            format!("b3sum {}", fmt_s(r.floors.get("b3sum").copied())),
        ),
    ];
    for (label, key, floor) in rows.iter() {
        print!("| {label} |");
        for c in &cols {
            let v = r.tools[*c].get(*key).copied();
            let ratio = if *c != "patchvault" {
                r.ratios
                    .get(*c)
                    .and_then(|x| x.get(*key))
                    .map(|x| format!(" (pv {x:.2}×)"))
                    .unwrap_or_default()
            } else {
                String::new()
            };
            print!(" {}{ratio} |", fmt_s(v));
        }
        println!(" {floor} |");
    }
    for (label, key) in [
        ("store after baseline", "store_after_baseline_mib"),
        ("store after patches", "store_after_patches_mib"),
        ("peak RSS", "peak_rss_mib"),
    ] {
        print!("| {label} |");
        for c in &cols {
            match r.tools[*c].get(key) {
                Some(v) => print!(" {v:.1} MiB |"),
                None => print!(" – |"),
            }
        }
        println!(" |");
    }
    println!("\n| target | measured | met |\n|---|---|---|");
    for (what, measured, ok) in &r.targets {
        println!(
            "| {what} | {measured} | {} |",
            if *ok { "yes" } else { "**no**" }
        );
    }
    if let Some(s) = &r.scale {
        println!("\nAt {}× the jars, patchvault's costs grow: first commit {:.2}×, 12 patch commits {:.2}×, status {:.2}×, rollback {:.2}×; peak RSS {:.1} MiB.", s["bytes_factor"], s["first_commit_growth"], s["patch_commits_growth"], s["status_growth"], s["rollback_growth"], s["peak_rss_mib"]);
    }
    if let Some(l) = &r.large_file {
        println!("\nOne {:.0} MiB incompressible file and one {:.0} MiB text file: peak RSS {:.1} MiB for the first commit, {:.1} MiB for a commit after a 4-byte change of each, {:.1} MiB for the checkout back, {:.1} MiB for fsck.", l["file_mib"], l["file_mib"] / 2.0, l["first_commit_rss_mib"], l["second_commit_rss_mib"], l["checkout_rss_mib"], l["fsck_rss_mib"]);
    }
    for n in &r.notes {
        println!("\nNote: {n}");
    }
}

fn main() -> Result<()> {
    let raw: Vec<String> = std::env::args().collect();
    if raw.len() > 2 && raw[1] == "__measure" {
        measure_mode(&raw[2..]);
    }
    let args = Args::parse();
    let exe = std::env::current_exe()?;
    let pv = exe.with_file_name("patchvault");
    if !pv.exists() {
        bail!("{} not found: build it first (`cargo build --release --bins`, or use scripts/bench.sh)", pv.display());
    }
    let (work, temp) = match &args.work {
        Some(w) => (w.clone(), false),
        None => (
            std::env::temp_dir().join(format!("patchvault-bench-{}", std::process::id())),
            true,
        ),
    };
    fs::create_dir_all(&work)?;
    let result = run_all(&args, &work, &pv);
    if temp {
        let _ = fs::remove_dir_all(&work);
    }
    let report = result?;
    print_markdown(&report);
    if let Some(d) = args.json.parent() {
        fs::create_dir_all(d)?;
    }
    fs::write(&args.json, serde_json::to_string_pretty(&report)?)?;
    eprintln!("JSON written to {}", args.json.display());
    Ok(())
}
