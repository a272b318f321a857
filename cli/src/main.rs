//! The `patchvault` command line: parses arguments, calls the library's
//! commands and prints their results (text, or JSON with `--json`).
//! Exit codes: 0 success, 1 error, 2 usage error, 3 refused to protect
//! data (uncommitted changes, nothing to commit, existing tag, applied
//! patch, wrong product, running server), 4 store damage found (corrupt or
//! missing objects), 5 `patches` verification found a difference.

mod progress;
mod render;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use patchvault::commands::{
    self, checkout::CheckoutOptions, commit::CommitOptions, diff::DiffOptions, log::LogOptions,
};
use patchvault::{Error, Repository};

#[derive(Parser)]
#[command(
    name = "patchvault",
    version,
    about = "Versioned, deduplicated store for software install trees (WSO2 Carbon product homes)"
)]
struct Cli {
    /// Store directory (default: .patchvault in the product home, found from
    /// the current directory upwards). Also read from PATCHVAULT_STORE.
    #[arg(long, global = true, value_name = "PATH")]
    store: Option<PathBuf>,
    /// Run as if started in DIR.
    #[arg(short = 'C', global = true, value_name = "DIR")]
    chdir: Option<PathBuf>,
    /// No progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a store for a product home (DIR, default: current directory).
    Init { dir: Option<PathBuf> },
    /// Record the home as a new commit (the first one is tagged patch0000).
    Commit {
        #[arg(short, long)]
        message: String,
        /// "Name <email>" (default: PATCHVAULT_AUTHOR, or user@host).
        #[arg(long)]
        author: Option<String>,
        /// Record a commit even if nothing changed.
        #[arg(long)]
        allow_empty: bool,
        #[arg(long)]
        json: bool,
    },
    /// Show how the home differs from HEAD.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List commits, newest first.
    Log {
        rev: Option<String>,
        #[arg(long)]
        oneline: bool,
        #[arg(long)]
        json: bool,
        /// At most N commits.
        #[arg(short = 'n', value_name = "N")]
        limit: Option<usize>,
        /// Start from every ref (branches, tags, autosaves).
        #[arg(long)]
        all: bool,
        /// Only commits that changed these paths.
        #[arg(last = true)]
        paths: Vec<OsString>,
    },
    /// Show one commit and what it changed.
    Show {
        #[arg(default_value = "HEAD")]
        rev: String,
        #[arg(long)]
        json: bool,
    },
    /// Compare two states: each a revision, another product home (a
    /// directory), or a manifest file; the right side defaults to the home.
    Diff {
        from: Option<String>,
        to: Option<String>,
        /// Resolve FROM (default HEAD) in another store.
        #[arg(long, value_name = "STORE")]
        from_store: Option<PathBuf>,
        /// Resolve TO (default HEAD) in another store.
        #[arg(long, value_name = "STORE")]
        to_store: Option<PathBuf>,
        /// Compare changed jars, wars and zips entry by entry.
        #[arg(long)]
        deep: bool,
        /// Sizes per path and a summary.
        #[arg(long)]
        stat: bool,
        /// Paths only.
        #[arg(long)]
        name_only: bool,
        #[arg(long)]
        json: bool,
        #[arg(last = true)]
        paths: Vec<OsString>,
    },
    /// Make the home exactly REV (or restore only the given paths).
    Checkout {
        rev: String,
        /// Save uncommitted changes under refs/autosave/ first, then proceed.
        #[arg(short, long)]
        force: bool,
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(last = true)]
        paths: Vec<OsString>,
    },
    /// Name a commit, list names, or delete one.
    Tag(TagArgs),
    /// Apply a WSO2 patch (zip or folder) as Carbon would, and record it.
    Apply {
        patch: PathBuf,
        /// Show what would change; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply despite a missing README, an applied number or Patch ID,
        /// or a running server.
        #[arg(short, long)]
        force: bool,
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Take one patch out (by folder, number or Patch ID), and record it.
    Revert {
        patch: String,
        #[arg(long)]
        dry_run: bool,
        /// Revert while the server is running.
        #[arg(short, long)]
        force: bool,
        #[arg(long)]
        author: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List applied patches and verify them as the server does, and stronger.
    Patches {
        #[arg(long)]
        json: bool,
    },
    /// Check every object, ref and the history; --repair restores damaged
    /// files' objects from the home.
    Fsck {
        #[arg(long)]
        repair: bool,
        #[arg(long)]
        json: bool,
    },
    /// Check that the home is exactly HEAD (or REV): exit 0 if so, 5 if not.
    Verify {
        rev: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Remove objects nothing refers to, older than the grace period.
    Gc {
        /// Keep unreachable objects younger than this many seconds.
        #[arg(long, default_value_t = 3600)]
        grace: u64,
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
    },
    /// Write the manifest of a commit (every path, kind, size, id, and the
    /// applied patches), or check the home against one.
    Manifest {
        rev: Option<String>,
        /// Write to FILE instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Verify the home against a manifest file: exit 0 if equal, 5 if not.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["rev", "output"])]
        check: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Which commit and patch brought a file's current content.
    Which {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write the history into a git repository (bare; created if missing).
    ExportGit {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Finish an operation that was interrupted part-way.
    Recover {
        #[arg(long)]
        json: bool,
    },
}

impl Cmd {
    /// Commands that change the store or the home (they finish an
    /// interrupted operation first).
    fn mutates(&self) -> bool {
        matches!(
            self,
            Cmd::Commit { .. }
                | Cmd::Checkout { .. }
                | Cmd::Apply { dry_run: false, .. }
                | Cmd::Revert { dry_run: false, .. }
                | Cmd::Gc { dry_run: false, .. }
                | Cmd::Fsck { repair: true, .. }
        ) || matches!(self, Cmd::Tag(t) if t.delete || (t.name.is_some() && !t.list))
    }
}

#[derive(Args)]
struct TagArgs {
    name: Option<String>,
    rev: Option<String>,
    /// List tags.
    #[arg(short, long, conflicts_with = "delete")]
    list: bool,
    /// Delete the tag NAME.
    #[arg(short, long)]
    delete: bool,
    /// Move an existing tag.
    #[arg(short, long)]
    force: bool,
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli);
    patchvault::fault::report();
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("patchvault: {e}");
            let code = e.downcast_ref::<Error>().map_or(1, Error::exit_code);
            ExitCode::from(code as u8)
        }
    }
}

fn open(cli_store: &Option<PathBuf>, cwd: &Path) -> Result<Repository, Error> {
    let env_store = std::env::var_os("PATCHVAULT_STORE").map(PathBuf::from);
    let store = cli_store.clone().or(env_store);
    Repository::discover(cwd, store.as_deref())
}

/// Turns path arguments (relative to the current directory) into paths
/// relative to the home.
fn rel_paths(repo: &Repository, cwd: &Path, paths: &[OsString]) -> Vec<Vec<u8>> {
    paths
        .iter()
        .map(|p| {
            let abs = std::path::absolute(cwd.join(p)).unwrap_or_else(|_| cwd.join(p));
            match abs.strip_prefix(&repo.home) {
                Ok(rel) => rel.as_os_str().as_bytes().to_vec(),
                Err(_) => p.as_bytes().to_vec(),
            }
        })
        .collect()
}

fn print_json<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    let cwd = match &cli.chdir {
        Some(d) => std::path::absolute(d)?,
        None => std::env::current_dir()?,
    };
    let bar = progress::Bar::new(cli.quiet);
    if let Cmd::Init { dir } = &cli.cmd {
        let home = dir.as_ref().map_or(cwd.clone(), |d| cwd.join(d));
        let repo = commands::init::init(&home, cli.store.as_deref())?;
        println!("Initialized a patchvault store in {}", repo.store.display());
        println!("  product home: {}", repo.home.display());
        println!(
            "  ignore rules: {} (runtime state is not tracked)",
            repo.store.join("ignore").display()
        );
        if commands::adopt::needs_adopt(&repo) {
            println!("The home was already patched by hand: rebuilding its history from repository/components/patches/");
            let r = commands::adopt::adopt(&repo, None, &bar)?;
            render::adopt(&r);
        } else {
            println!(
                "Next: `patchvault commit -m \"Baseline\"` records the baseline, tagged patch0000."
            );
        }
        return Ok(0);
    }
    let repo = open(&cli.store, &cwd)?;
    if commands::recover::pending(&repo) && !matches!(cli.cmd, Cmd::Recover { .. }) {
        if cli.cmd.mutates() {
            if let Some(r) = commands::recover::recover(&repo, &bar)? {
                eprintln!(
                    "patchvault: finished an interrupted {} first ({} files written, {} removed); HEAD is {}",
                    r.op,
                    r.applied.written,
                    r.applied.removed,
                    r.head.map(|h| h.short()).unwrap_or_default()
                );
            }
        } else {
            eprintln!("warning: an interrupted operation is pending; the home may be part-way between two states. Run `patchvault recover`.");
        }
    }
    match cli.cmd {
        Cmd::Init { .. } => unreachable!("handled above"),
        Cmd::Commit {
            message,
            author,
            allow_empty,
            json,
        } => {
            let r = commands::commit::commit(
                &repo,
                CommitOptions {
                    message,
                    author,
                    allow_empty,
                    ..Default::default()
                },
                &bar,
            )?;
            if json {
                print_json(&r)?;
            } else {
                render::commit(&repo, &r);
            }
        }
        Cmd::Status { json } => {
            let r = commands::status::status(&repo, &bar)?;
            if json {
                print_json(&r)?;
            } else {
                render::status(&r);
            }
        }
        Cmd::Log {
            rev,
            oneline,
            json,
            limit,
            all,
            paths,
        } => {
            let opts = LogOptions {
                rev,
                all,
                limit,
                paths: rel_paths(&repo, &cwd, &paths),
            };
            let r = commands::log::log(&repo, &opts)?;
            if json {
                print_json(&r)?;
            } else {
                render::log(&r, oneline);
            }
        }
        Cmd::Show { rev, json } => {
            let r = commands::show::show(&repo, &rev)?;
            if json {
                print_json(&r)?;
            } else {
                render::show(&r);
            }
        }
        Cmd::Diff {
            from,
            to,
            from_store,
            to_store,
            deep,
            stat,
            name_only,
            json,
            paths,
        } => {
            let opts = DiffOptions {
                from,
                to,
                from_store: from_store.map(|p| cwd.join(p)),
                to_store: to_store.map(|p| cwd.join(p)),
                paths: rel_paths(&repo, &cwd, &paths),
                text: !stat && !name_only,
                deep,
            };
            let r = commands::diff::diff(&repo, &opts, &bar)?;
            if json {
                print_json(&r)?;
            } else {
                render::diff(&r, stat, name_only);
            }
        }
        Cmd::Checkout {
            rev,
            force,
            author,
            json,
            paths,
        } => {
            let opts = CheckoutOptions {
                rev: rev.clone(),
                paths: rel_paths(&repo, &cwd, &paths),
                force,
                author,
            };
            let r = commands::checkout::checkout(&repo, opts, &bar)?;
            if json {
                print_json(&r)?;
            } else {
                render::checkout(&rev, &r);
            }
        }
        Cmd::Tag(t) => return tag(&repo, t),
        Cmd::Apply {
            patch,
            dry_run,
            force,
            author,
            json,
        } => {
            let opts = commands::apply::ApplyOptions {
                patch: cwd.join(patch),
                dry_run,
                force,
                author,
            };
            let r = commands::apply::apply(&repo, opts, &bar)?;
            if json {
                print_json(&r)?;
            } else {
                render::apply(&r);
            }
        }
        Cmd::Revert {
            patch,
            dry_run,
            force,
            author,
            json,
        } => {
            let opts = commands::revert::RevertOptions {
                patch,
                force,
                dry_run,
                author,
            };
            let r = commands::revert::revert(&repo, opts, &bar)?;
            if json {
                print_json(&r)?;
            } else {
                render::revert(&r);
            }
        }
        Cmd::Fsck { repair, json } => {
            let r = commands::fsck::fsck(&repo, repair, &bar)?;
            if json {
                print_json(&r)?;
            } else {
                render::fsck(&r);
            }
            return Ok(if r.clean { 0 } else { 4 });
        }
        Cmd::Verify { rev, json } => {
            let r = commands::verify::verify(&repo, rev.as_deref(), &bar)?;
            if json {
                print_json(&r)?;
            } else {
                render::verify(&r);
            }
            return Ok(if r.equal { 0 } else { 5 });
        }
        Cmd::Gc {
            grace,
            dry_run,
            json,
        } => {
            let r = commands::gc::gc(&repo, std::time::Duration::from_secs(grace), dry_run)?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "{} {} unreachable objects ({}); kept {} younger than the grace period; {} objects reachable.",
                    if r.dry_run { "Would remove" } else { "Removed" },
                    r.removed,
                    render::size(r.freed_bytes),
                    r.kept_recent,
                    r.reachable
                );
            }
        }
        Cmd::Manifest {
            rev,
            output,
            check,
            json,
        } => {
            if let Some(file) = check {
                let r = commands::manifest::check(&repo, &cwd.join(file), &bar)?;
                if json {
                    print_json(&r)?;
                } else {
                    render::manifest_check(&r);
                }
                return Ok(if r.equal { 0 } else { 5 });
            }
            let m = commands::manifest::manifest(&repo, rev.as_deref())?;
            let text = if json {
                serde_json::to_string_pretty(&m)? + "\n"
            } else {
                m.encode()
            };
            match output {
                Some(f) => {
                    let f = cwd.join(f);
                    std::fs::write(&f, text).map_err(|e| patchvault::Error::io(&f, e))?;
                    eprintln!(
                        "Wrote the manifest of {} ({} entries, {} patches) to {}",
                        m.commit.short(),
                        m.entries.len(),
                        m.patches.len(),
                        f.display()
                    );
                }
                None => print!("{text}"),
            }
        }
        Cmd::Which { path, json } => {
            let rel = rel_paths(&repo, &cwd, &[path.into_os_string()])
                .pop()
                .unwrap_or_default();
            let r = commands::which::which(
                &repo,
                std::path::Path::new(std::ffi::OsStr::from_bytes(&rel)),
            )?;
            if json {
                print_json(&r)?;
            } else {
                render::which(&r);
            }
        }
        Cmd::ExportGit { dir, json } => {
            let r = commands::export_git::export_git(&repo, &cwd.join(dir), &bar)?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "Exported {} new commit(s) ({} already there) to {}; {} refs written. `git --git-dir {} log --oneline --all` shows them.",
                    r.new_commits,
                    r.known_commits,
                    r.dir.display(),
                    r.refs.len(),
                    r.dir.display()
                );
            }
        }
        Cmd::Recover { json } => {
            let r = commands::recover::recover(&repo, &bar)?;
            if json {
                print_json(&r)?;
            } else {
                match r {
                    Some(r) => println!(
                        "Finished the interrupted {}: {} files written, {} removed; HEAD is {}.",
                        r.op,
                        r.applied.written,
                        r.applied.removed,
                        r.head.map(|h| h.short()).unwrap_or_default()
                    ),
                    None => println!("Nothing to recover."),
                }
            }
        }
        Cmd::Patches { json } => {
            let r = commands::patches::patches(&repo, &bar)?;
            if json {
                print_json(&r)?;
            } else {
                render::patches(&r);
            }
            return Ok(if r.verified { 0 } else { 5 });
        }
    }
    Ok(0)
}

fn tag(repo: &Repository, t: TagArgs) -> anyhow::Result<u8> {
    use commands::tag;
    match (t.list || t.name.is_none(), t.delete, t.name) {
        (_, true, Some(name)) => match tag::delete(repo, &name)? {
            tag::Deleted::Commit(id) => println!("Deleted tag {name} (was {})", id.short()),
            tag::Deleted::Damaged(text) => {
                println!("Deleted damaged tag {name} (it held \"{text}\", not an object id)")
            }
        },
        (_, true, None) => anyhow::bail!("tag -d needs the NAME of the tag to delete"),
        (_, false, None) | (true, false, _) => {
            let tags = tag::list(repo)?;
            if t.json {
                print_json(&tags)?;
            } else {
                for ti in tags {
                    println!("{:<32} {} {}", ti.name, ti.commit.short(), ti.summary);
                }
            }
        }
        (false, false, Some(name)) => {
            let id = tag::create(repo, &name, t.rev.as_deref(), t.force)?;
            println!("Tagged {} as {name}", id.short());
        }
    }
    Ok(0)
}
