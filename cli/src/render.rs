//! Human-readable output of command results.

use patchvault::commands::checkout::CheckoutReport;
use patchvault::commands::commit::CommitResult;
use patchvault::commands::diff::DiffReport;
use patchvault::commands::show::ShowReport;
use patchvault::commands::status::StatusReport;
use patchvault::commands::{ChangeView, CommitView};
use patchvault::diff::Status;
use patchvault::Repository;

/// Bytes as B, KiB, MiB or GiB.
pub fn size(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn short(id: &patchvault::ObjectId) -> String {
    id.short()
}

pub fn commit(repo: &Repository, r: &CommitResult) {
    let branch = match repo.refs.read_head() {
        Ok(patchvault::refs::Head::Branch(b)) => b.trim_start_matches("refs/heads/").to_string(),
        _ => "detached HEAD".to_string(),
    };
    println!("[{branch} {}] {} commit", short(&r.id), r.kind);
    println!(
        "  {} files, {}; {} read and hashed ({}), {} new objects stored",
        r.files,
        size(r.bytes),
        r.hashed,
        size(r.hashed_bytes),
        r.new_objects
    );
    for t in &r.tags {
        println!("  tagged {t}");
    }
    for s in &r.skipped {
        println!("  not recorded: {s}");
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
}

fn change_line(c: &ChangeView) -> String {
    let what = match c.status {
        Status::Added => "added",
        Status::Deleted => "deleted",
        Status::Modified => "modified",
        Status::TypeChanged => "typechange",
    };
    let detail = match (c.status, c.old_kind, c.new_kind) {
        (Status::TypeChanged, Some(o), Some(n)) => format!(" ({} -> {})", o.name(), n.name()),
        (_, _, Some(k)) | (_, Some(k), None) if k.name() == "dir" => {
            " (empty directory)".to_string()
        }
        (_, _, Some(k)) | (_, Some(k), None) if k.name() == "symlink" => " (symlink)".to_string(),
        _ => String::new(),
    };
    format!("  {what:<11} {}{detail}", c.path)
}

pub fn status(r: &StatusReport) {
    match (&r.branch, &r.head) {
        (Some(b), Some(h)) => println!("On branch {b}, HEAD {}", short(h)),
        (Some(b), None) => println!("On branch {b}, no commits yet"),
        (None, Some(h)) => println!("HEAD detached at {}", short(h)),
        (None, None) => {}
    }
    if r.clean {
        println!("Clean: the home matches HEAD.");
    } else {
        println!("Changes not committed ({}):", r.changes.len());
        for c in &r.changes {
            println!("{}", change_line(c));
        }
    }
    for s in &r.skipped {
        println!("  not tracked: {s}");
    }
}

fn refs_suffix(c: &CommitView) -> String {
    if c.refs.is_empty() {
        String::new()
    } else {
        format!(" ({})", c.refs.join(", "))
    }
}

pub fn log(commits: &[CommitView], oneline: bool) {
    for c in commits {
        let summary = c.message.lines().next().unwrap_or("");
        if oneline {
            println!("{}{} {}", short(&c.id), refs_suffix(c), summary);
        } else {
            commit_header(c);
            println!();
        }
    }
}

fn commit_header(c: &CommitView) {
    println!("commit {}{}", c.id, refs_suffix(c));
    if c.parents.len() > 1 {
        let ps: Vec<String> = c.parents.iter().map(short).collect();
        println!("Merge:  {}", ps.join(" "));
    }
    println!("Author: {}", c.author);
    println!("Date:   {}", c.date);
    println!("Kind:   {}", c.kind);
    for (k, v) in &c.meta {
        if k != "kind" {
            let v = v.replace('\n', "\n          ");
            println!("  {k}: {v}");
        }
    }
    println!();
    for l in c.message.lines() {
        println!("    {l}");
    }
}

pub fn show(r: &ShowReport) {
    commit_header(&r.commit);
    println!();
    println!(
        "Tree {}: {} files, {}",
        short(&r.commit.tree),
        r.files,
        size(r.bytes)
    );
    if r.commit.parents.is_empty() {
        println!("Root commit: every file above is new.");
    } else if r.changes.is_empty() {
        println!("No changes from its parent.");
    } else {
        println!("Changes from {}:", short(&r.commit.parents[0]));
        for c in &r.changes {
            println!("{}", change_line(c));
        }
    }
}

pub fn diff(r: &DiffReport, stat: bool, name_only: bool) {
    if name_only {
        for c in &r.changes {
            println!("{}", c.path);
        }
        return;
    }
    let side = |s: &patchvault::commands::diff::SideInfo| match s.commit {
        Some(c) if s.kind != "home" => format!("{} [{}, {}]", s.label, s.kind, short(&c)),
        _ => format!("{} [{}]", s.label, s.kind),
    };
    println!("diff {} .. {}", side(&r.from), side(&r.to));
    let p = &r.patches;
    if !(p.only_left.is_empty() && p.only_right.is_empty() && p.both.is_empty()) {
        let list = |v: &[patchvault::commands::diff::PatchRef]| -> String {
            if v.is_empty() {
                return "none".into();
            }
            v.iter()
                .map(|x| match &x.patch_id {
                    Some(id) => format!("{} ({id})", x.folder),
                    None => x.folder.clone(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("Patches only in {}: {}", r.from.label, list(&p.only_left));
        println!("Patches only in {}: {}", r.to.label, list(&p.only_right));
        println!("Patches in both: {}", list(&p.both));
        println!();
    }
    if stat {
        let (mut old, mut new) = (0u64, 0u64);
        for c in &r.changes {
            let o = c.old_size.unwrap_or(0);
            let n = c.new_size.unwrap_or(0);
            old += o;
            new += n;
            println!(
                " {} {:<60} {:>10} -> {:>10}",
                c.status.letter(),
                c.path,
                size(o),
                size(n)
            );
        }
        println!(
            " {} paths changed, {} -> {}",
            r.changes.len(),
            size(old),
            size(new)
        );
        return;
    }
    if r.changes.is_empty() {
        println!("No differences.");
    }
    for c in &r.changes {
        let ids = match (&c.old_id, &c.new_id) {
            (Some(o), Some(n)) => format!("{} -> {}", short(o), short(n)),
            (Some(o), None) => short(o),
            (None, Some(n)) => short(n),
            (None, None) => String::new(),
        };
        let sizes = match (c.old_size, c.new_size) {
            (Some(o), Some(n)) => format!("{} -> {}", size(o), size(n)),
            (Some(o), None) => size(o),
            (None, Some(n)) => size(n),
            (None, None) => String::new(),
        };
        println!("{}  [{sizes}; {ids}]", change_line(c));
    }
    for j in &r.jars {
        println!();
        let d = &j.diff;
        match (&d.old_version, &d.new_version) {
            (Some(a), Some(b)) if a != b => println!("{}: Bundle-Version {a} -> {b}", j.path),
            _ => println!("{}:", j.path),
        }
        for e in &d.added {
            println!("    added    {e}");
        }
        for e in &d.removed {
            println!("    removed  {e}");
        }
        for e in &d.changed {
            println!("    changed  {e}");
        }
    }
    for p in &r.text_patches {
        println!();
        print!("{}", p.unified);
    }
    for n in &r.notes {
        println!("note: {n}");
    }
}

pub fn manifest_check(r: &patchvault::commands::manifest::CheckReport) {
    if r.equal {
        println!(
            "The home matches the manifest of {} exactly.",
            short(&r.manifest_commit)
        );
    } else {
        println!(
            "The home differs from the manifest of {} in {} path(s):",
            short(&r.manifest_commit),
            r.changes.len()
        );
        for c in &r.changes {
            println!("{}", change_line(c));
        }
    }
}

pub fn which(r: &patchvault::commands::which::WhichReport) {
    println!("{}: {}", r.path, r.state);
    let show = |what: &str, c: &patchvault::commands::which::CommitRef| {
        let patch = match (&c.patch, &c.patch_id) {
            (Some(f), Some(id)) => format!(" — patch {f} ({id})"),
            (Some(f), None) => format!(" — patch {f}"),
            _ => String::new(),
        };
        println!(
            "  {what}: {} {} commit \"{}\"{patch}, {} by {}",
            short(&c.id),
            c.kind,
            c.summary,
            c.date,
            c.author
        );
    };
    if let Some(c) = &r.last_set_by {
        show("content set by", c);
    }
    if let Some(c) = &r.first_recorded_by {
        if r.last_set_by.as_ref().map(|l| l.id) != Some(c.id) {
            show("first recorded by", c);
        }
    }
}

pub fn checkout(rev: &str, r: &CheckoutReport) {
    if let Some((name, id)) = &r.autosave {
        println!(
            "Saved uncommitted changes as {} ({name}); `patchvault checkout {}` brings them back.",
            short(id),
            name.trim_start_matches("refs/")
        );
    }
    println!(
        "Checked out {rev} ({}): {} files written ({}), {} removed, {} mode changes.",
        short(&r.target),
        r.applied.written,
        size(r.applied.written_bytes),
        r.applied.removed,
        r.applied.mode_changed
    );
    if let Some(id) = r.recorded {
        println!(
            "Recorded as checkout commit {} on the current branch.",
            short(&id)
        );
    }
    if let Some(b) = &r.switched_to {
        println!("HEAD now follows branch {b}.");
    }
}

fn changes_block(changes: &[ChangeView], verb: &str) {
    if changes.is_empty() {
        println!("No file in the home {verb}.");
        return;
    }
    println!("Files in the home that {verb} ({}):", changes.len());
    // Carbon's backup of plugins/ is a copy of hundreds of jars: one line.
    const BACKUP: &str = "repository/components/patches/patch0000/";
    let backup: Vec<&ChangeView> = changes
        .iter()
        .filter(|c| c.path.starts_with(BACKUP))
        .collect();
    for c in changes.iter().filter(|c| !c.path.starts_with(BACKUP)) {
        println!("{}", change_line(c));
    }
    if !backup.is_empty() {
        let bytes: u64 = backup
            .iter()
            .map(|c| c.new_size.or(c.old_size).unwrap_or(0))
            .sum();
        println!(
            "  {:<11} {BACKUP} ({} jars, {}: Carbon's backup of plugins/, stored once)",
            if backup[0].status == Status::Added {
                "added"
            } else {
                "changed"
            },
            backup.len(),
            size(bytes)
        );
    }
}

pub fn apply(r: &patchvault::commands::apply::ApplyReport) {
    if let Some(b) = r.baseline {
        println!(
            "No history yet: recorded the home as the baseline {} (tagged patch0000).",
            short(&b)
        );
    }
    let id = r.patch_id.as_deref().unwrap_or("(no Patch ID)");
    println!(
        "{} {id} ({})",
        if r.dry_run { "Would apply" } else { "Applied" },
        r.folder
    );
    if let Some(a) = &r.applies_to {
        println!("  applies to: {a}");
    }
    for j in &r.jira {
        println!("  JIRA: {j}");
    }
    for j in &r.jars {
        let renamed = if j.file != j.plugin_name {
            format!(" (as {})", j.plugin_name)
        } else {
            String::new()
        };
        println!("  plugins: {} {}{renamed}", j.action, j.file);
    }
    for p in &r.placed {
        println!("  placed: {p}");
    }
    changes_block(
        &r.changes,
        if r.dry_run { "would change" } else { "changed" },
    );
    if !r.manual_steps.is_empty() {
        println!("Manual steps from the README that patchvault did not perform:");
        for s in &r.manual_steps {
            println!("  - {s}");
        }
    }
    if let Some(c) = r.commit {
        println!(
            "Recorded as commit {}, tagged {}.",
            short(&c),
            r.tags.join(" and ")
        );
    } else if r.dry_run {
        println!("Dry run: nothing was changed.");
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
}

pub fn revert(r: &patchvault::commands::revert::RevertReport) {
    let id = r.patch_id.as_deref().unwrap_or("");
    println!(
        "{} {} {id}",
        if r.dry_run {
            "Would revert"
        } else {
            "Reverted"
        },
        r.folder
    );
    for p in &r.restored {
        println!("  plugins: restored {p} to the jar from before the patch");
    }
    for p in &r.removed {
        println!("  plugins: removed {p} (only this patch brought it)");
    }
    for p in &r.unplaced {
        println!("  restored: {p}");
    }
    changes_block(
        &r.changes,
        if r.dry_run { "would change" } else { "changed" },
    );
    if let Some(c) = r.commit {
        println!(
            "Recorded as revert commit {}; the patch's tags stay on the commit that applied it.",
            short(&c)
        );
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
}

pub fn patches(r: &patchvault::commands::patches::PatchesReport) {
    if let Some(sp) = &r.servicepack {
        println!("Service pack: {sp}");
    }
    if r.patches.is_empty() {
        println!("No patches applied.");
    }
    for p in &r.patches {
        let skipped = if p.skipped {
            " (skipped: in the service pack)"
        } else {
            ""
        };
        println!(
            "{} {}{skipped}",
            p.folder,
            p.patch_id.as_deref().unwrap_or("(no Patch ID)")
        );
        if let (Some(a), Some(d)) = (&p.author, &p.date) {
            println!(
                "    applied {d} by {a}{}",
                p.commit
                    .map(|c| format!(" in {}", short(&c)))
                    .unwrap_or_default()
            );
        }
        for j in &p.jira {
            println!("    JIRA: {j}");
        }
        for (f, n) in &p.jars {
            if f == n {
                println!("    jar: {f}");
            } else {
                println!("    jar: {f} -> {n}");
            }
        }
    }
    println!();
    if r.server_warnings.is_empty() {
        println!("Carbon's verification: every patched jar is in plugins/ (MD5 match).");
    } else {
        println!("Carbon's verification found problems:");
        for w in &r.server_warnings {
            println!("  WARN {w}");
        }
    }
    if r.home_changes.is_empty() {
        println!("patchvault's verification: the home equals HEAD.");
    } else {
        println!(
            "patchvault's verification: the home differs from HEAD in {} path(s):",
            r.home_changes.len()
        );
        for c in &r.home_changes {
            println!("{}", change_line(c));
        }
    }
}

pub fn adopt(r: &patchvault::commands::adopt::AdoptReport) {
    println!(
        "  baseline {} (tagged patch0000): plugins/ as in patches/patch0000",
        short(&r.baseline)
    );
    for (f, c) in &r.patches {
        println!("  {f}: commit {}", short(c));
    }
    match r.manual {
        Some(m) => {
            println!(
                "  The home differs from what Carbon would produce; recorded as manual commit {}:",
                short(&m)
            );
            for d in &r.differences {
                println!("    {d}");
            }
        }
        None => println!("  The home is exactly what Carbon produces from these patches."),
    }
    for n in &r.notes {
        println!("  note: {n}");
    }
}

pub fn fsck(r: &patchvault::commands::fsck::FsckReport) {
    println!(
        "{} objects, {} reachable, {} dangling (unreachable; `gc` removes them).",
        r.objects,
        r.reachable,
        r.dangling.len()
    );
    for rep in &r.repaired {
        println!("repaired: {rep}");
    }
    if r.clean {
        println!("No problems found.");
        return;
    }
    println!("{} problem(s):", r.problems.len());
    for p in &r.problems {
        println!("  {}", p.what);
        for u in &p.used_by {
            println!("      used by {u}");
        }
    }
    println!("`patchvault fsck --repair` restores damaged file contents from the home where it has them.");
}

pub fn verify(r: &patchvault::commands::verify::VerifyReport) {
    if r.equal {
        println!("The home is exactly {} ({}).", r.rev, short(&r.commit));
    } else {
        println!(
            "The home differs from {} ({}) in {} path(s):",
            r.rev,
            short(&r.commit),
            r.changes.len()
        );
        for c in &r.changes {
            println!("{}", change_line(c));
        }
    }
}
