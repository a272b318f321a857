//! Revision expressions: `HEAD`, tag and branch names, full refs, full or
//! abbreviated (4+ hex digits) commit ids, each followed by any number of
//! `~N` (N-th first-parent ancestor), `^` and `^N` (N-th parent).

use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::object::ObjectKind;
use crate::refs::{AUTOSAVE, HEADS, TAGS};
use crate::repo::Repository;

/// Shortest abbreviated id accepted.
pub const MIN_ABBREV: usize = 4;

/// Resolves `rev` to a commit id.
pub fn resolve(repo: &Repository, rev: &str) -> Result<ObjectId> {
    let split = rev.find(['~', '^']).unwrap_or(rev.len());
    let (base, mut ops) = rev.split_at(split);
    let mut id = resolve_base(repo, rev, base)?;
    while !ops.is_empty() {
        let op = ops.as_bytes()[0];
        let digits_end = ops[1..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(ops.len(), |i| i + 1);
        let n: usize = if digits_end == 1 {
            1
        } else {
            ops[1..digits_end].parse().map_err(|_| Error::BadRevision {
                rev: rev.into(),
                reason: "number too large".into(),
            })?
        };
        ops = &ops[digits_end..];
        if op == b'~' {
            for step in 0..n {
                let c = repo.odb.read_commit(&id)?;
                id = *c.parents.first().ok_or_else(|| Error::BadRevision {
                    rev: rev.into(),
                    reason: format!("history has only {step} commit(s) before {}", id.short()),
                })?;
            }
        } else if n > 0 {
            let c = repo.odb.read_commit(&id)?;
            id = *c.parents.get(n - 1).ok_or_else(|| Error::BadRevision {
                rev: rev.into(),
                reason: format!("commit {} has no parent number {n}", id.short()),
            })?;
        }
    }
    Ok(id)
}

fn resolve_base(repo: &Repository, rev: &str, base: &str) -> Result<ObjectId> {
    if base.is_empty() {
        return Err(Error::UnknownRevision(rev.into()));
    }
    if base == "HEAD" || base == "@" {
        return repo.refs.head_commit()?.ok_or_else(|| Error::BadRevision {
            rev: rev.into(),
            reason: "HEAD has no commit yet; run `patchvault commit` first".into(),
        });
    }
    let candidates = [
        format!("{TAGS}{base}"),
        format!("{HEADS}{base}"),
        format!("{AUTOSAVE}{base}"),
        format!("refs/{base}"),
        base.to_string(),
    ];
    for full in &candidates {
        if let Some(id) = repo.refs.read(full)? {
            return Ok(id);
        }
    }
    if base.len() >= MIN_ABBREV
        && base.len() <= ObjectId::HEX_LEN
        && base.bytes().all(|b| b.is_ascii_hexdigit())
    {
        let mut commits = Vec::new();
        let mut others = Vec::new();
        for id in repo.odb.find_prefix(base)? {
            match repo.odb.info(&id) {
                Ok(i) if i.kind == ObjectKind::Commit => commits.push(id),
                Ok(i) => others.push((id, i.kind)),
                Err(_) => others.push((id, ObjectKind::Blob)),
            }
        }
        match commits.len() {
            1 => return Ok(commits[0]),
            0 if others.is_empty() => {}
            0 => {
                return Err(Error::BadRevision {
                    rev: rev.into(),
                    reason: format!("{} is a {}, not a commit", others[0].0, others[0].1.name()),
                })
            }
            _ => {
                let list = commits
                    .iter()
                    .map(|id| match repo.odb.read_commit(id) {
                        Ok(c) => format!("  {} commit {}", id.short(), c.summary()),
                        Err(_) => format!("  {} commit (unreadable)", id.short()),
                    })
                    .collect();
                return Err(Error::AmbiguousRevision {
                    rev: rev.into(),
                    candidates: list,
                });
            }
        }
    }
    Err(Error::UnknownRevision(rev.into()))
}
