//! The library's error type: every variant names the path, object or
//! revision involved and says what the user can do about it.

use std::path::{Path, PathBuf};

use crate::id::ObjectId;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no patchvault store found at or above {}; run `patchvault init` in the product home, or pass --store PATH", .0.display())]
    NoStore(PathBuf),

    #[error("{} already holds a patchvault store; use it as it is, or remove it first", .0.display())]
    StoreExists(PathBuf),

    #[error("store {}: {reason}", path.display())]
    BadStore { path: PathBuf, reason: String },

    #[error("object {id} is corrupt: {reason}; run `patchvault fsck` to see what uses it")]
    Corrupt { id: ObjectId, reason: String },

    #[error("object {0} is missing from the store; run `patchvault fsck` to see what uses it")]
    Missing(ObjectId),

    #[error("object {id} is a {actual}, not a {expected}")]
    WrongKind {
        id: ObjectId,
        expected: &'static str,
        actual: &'static str,
    },

    #[error("unknown revision '{0}': not a tag, branch, HEAD expression or object id; `patchvault tag --list` and `patchvault log --all` show what exists")]
    UnknownRevision(String),

    #[error("revision '{rev}' is ambiguous; candidates:\n{}", candidates.join("\n"))]
    AmbiguousRevision {
        rev: String,
        candidates: Vec<String>,
    },

    #[error("revision '{rev}': {reason}")]
    BadRevision { rev: String, reason: String },

    #[error("{0}")]
    Refused(String),

    #[error("the home has uncommitted changes that this would overwrite:\n{}\ncommit them, or pass --force to save them under refs/autosave/ first", list_paths(.0))]
    Dirty(Vec<String>),

    #[error("invalid name {0:?}: {1}")]
    InvalidName(String, &'static str),

    #[error("{0}")]
    Invalid(String),

    #[error("the store is locked by {0}; wait for that command to finish (a lock left by a process that died is released by the system)")]
    Locked(String),

    #[error("patch {}: {reason}; nothing was changed", patch.display())]
    BadPatch { patch: PathBuf, reason: String },
}

fn list_paths(paths: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut s: Vec<String> = paths.iter().take(SHOWN).map(|p| format!("  {p}")).collect();
    if paths.len() > SHOWN {
        s.push(format!("  ... and {} more", paths.len() - SHOWN));
    }
    s.join("\n")
}

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub fn corrupt(id: ObjectId, reason: impl Into<String>) -> Error {
        Error::Corrupt {
            id,
            reason: reason.into(),
        }
    }

    /// The process exit code the command line uses for this error
    /// (documented in the README).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Dirty(_) | Error::Refused(_) | Error::Locked(_) => 3,
            Error::Corrupt { .. } | Error::Missing(_) | Error::BadStore { .. } => 4,
            _ => 1,
        }
    }
}
