//! One module per user verb. Each takes a [`Repository`] and options and
//! returns a plain result (serializable for `--json`); printing is the
//! front end's job.

pub mod adopt;
pub mod apply;
pub mod checkout;
pub mod commit;
pub mod diff;
pub mod export_git;
pub mod fsck;
pub mod gc;
pub mod init;
pub mod log;
pub mod manifest;
pub mod patches;
pub mod patchops;
pub mod recover;
pub mod revert;
pub mod show;
pub mod status;
pub mod tag;
pub mod verify;
pub mod which;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::diff::{Change, Status};
use crate::error::Result;
use crate::id::ObjectId;
use crate::object::{Commit, EntryKind};
use crate::repo::Repository;

/// A change as shown to users and scripts.
#[derive(Clone, Debug, Serialize)]
pub struct ChangeView {
    pub status: Status,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_kind: Option<EntryKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_kind: Option<EntryKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_id: Option<ObjectId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_id: Option<ObjectId>,
}

impl From<&Change> for ChangeView {
    fn from(c: &Change) -> ChangeView {
        ChangeView {
            status: c.status(),
            path: c.display_path(),
            old_kind: c.old.map(|s| s.kind),
            new_kind: c.new.map(|s| s.kind),
            old_size: c.old.map(|s| s.size),
            new_size: c.new.map(|s| s.size),
            old_id: c.old.map(|s| s.id),
            new_id: c.new.map(|s| s.id),
        }
    }
}

/// A commit as shown to users and scripts.
#[derive(Clone, Debug, Serialize)]
pub struct CommitView {
    pub id: ObjectId,
    pub tree: ObjectId,
    pub parents: Vec<ObjectId>,
    pub author: String,
    /// Seconds since the Unix epoch.
    pub time: i64,
    /// RFC 3339 UTC time.
    pub date: String,
    pub kind: String,
    pub meta: BTreeMap<String, String>,
    pub message: String,
    /// Refs naming this commit (`HEAD`, branches, tags, autosaves).
    pub refs: Vec<String>,
}

impl CommitView {
    pub fn new(id: ObjectId, c: &Commit, refs: Vec<String>) -> CommitView {
        CommitView {
            id,
            tree: c.tree,
            parents: c.parents.clone(),
            author: c.author.clone(),
            time: c.time,
            date: format_time(c.time),
            kind: c.kind().to_string(),
            meta: c.meta.clone(),
            message: c.message.clone(),
            refs,
        }
    }
}

/// Every ref name pointing at each commit, for decorating listings.
pub fn decorations(repo: &Repository) -> Result<BTreeMap<ObjectId, Vec<String>>> {
    let mut map: BTreeMap<ObjectId, Vec<String>> = BTreeMap::new();
    if let Some(h) = repo.refs.head_commit()? {
        let label = match repo.refs.read_head()? {
            crate::refs::Head::Branch(b) => {
                format!("HEAD -> {}", b.trim_start_matches(crate::refs::HEADS))
            }
            crate::refs::Head::Detached(_) => "HEAD".to_string(),
        };
        map.entry(h).or_default().push(label);
    }
    for prefix in [crate::refs::HEADS, crate::refs::TAGS, crate::refs::AUTOSAVE] {
        for (name, id) in repo.refs.list(prefix)? {
            let short = match prefix {
                crate::refs::TAGS => format!("tag: {}", &name[prefix.len()..]),
                crate::refs::HEADS => {
                    let b = &name[prefix.len()..];
                    if map
                        .get(&id)
                        .is_some_and(|v| v.iter().any(|x| x == &format!("HEAD -> {b}")))
                    {
                        continue;
                    }
                    b.to_string()
                }
                _ => name.trim_start_matches("refs/").to_string(),
            };
            map.entry(id).or_default().push(short);
        }
    }
    Ok(map)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (UTC).
pub fn format_time(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Seconds since the epoch now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_times() {
        assert_eq!(super::format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_time(1_796_322_586), "2026-12-03T18:29:46Z");
        assert_eq!(super::format_time(951_782_400), "2000-02-29T00:00:00Z");
    }
}
