//! `log`: commits reachable from a revision (or from every ref), newest
//! first, optionally only those that changed given paths.

use std::collections::{BinaryHeap, HashMap, HashSet};

use crate::commands::{decorations, CommitView};
use crate::diff::{diff_trees, PathFilter};
use crate::error::Result;
use crate::id::ObjectId;
use crate::repo::Repository;
use crate::revision::resolve;

#[derive(Default)]
pub struct LogOptions {
    pub rev: Option<String>,
    pub all: bool,
    pub limit: Option<usize>,
    pub paths: Vec<Vec<u8>>,
}

pub fn log(repo: &Repository, opts: &LogOptions) -> Result<Vec<CommitView>> {
    let mut starts: Vec<ObjectId> = Vec::new();
    if opts.all {
        starts.extend(repo.refs.head_commit()?);
        for prefix in ["refs/heads/", "refs/tags/", "refs/autosave/"] {
            starts.extend(repo.refs.list(prefix)?.into_iter().map(|(_, id)| id));
        }
    }
    match &opts.rev {
        Some(r) => starts.push(resolve(repo, r)?),
        None if !opts.all => starts.extend(repo.refs.head_commit()?),
        None => {}
    }
    let deco = decorations(repo)?;
    let filter = PathFilter::new(opts.paths.clone());
    let mut heap = BinaryHeap::new();
    let mut pending = HashMap::new();
    let mut seen = HashSet::new();
    for s in starts {
        if seen.insert(s) {
            let c = repo.odb.read_commit(&s)?;
            heap.push((c.time, s));
            pending.insert(s, c);
        }
    }
    let mut out = Vec::new();
    while let Some((_, id)) = heap.pop() {
        let Some(c) = pending.remove(&id) else {
            continue;
        };
        if opts.limit.is_some_and(|n| out.len() >= n) {
            break;
        }
        for p in &c.parents {
            if seen.insert(*p) {
                let pc = repo.odb.read_commit(p)?;
                heap.push((pc.time, *p));
                pending.insert(*p, pc);
            }
        }
        if !filter.is_all() {
            let parent_tree = match c.parents.first() {
                Some(p) => Some(repo.odb.read_commit(p)?.tree),
                None => None,
            };
            if diff_trees(&repo.odb, parent_tree, Some(c.tree), &filter)?.is_empty() {
                continue;
            }
        }
        out.push(CommitView::new(
            id,
            &c,
            deco.get(&id).cloned().unwrap_or_default(),
        ));
    }
    Ok(out)
}
