//! `export-git DIR`: the history into a bare git repository (see
//! [`crate::gitexport`]).

use std::path::Path;

use crate::error::Result;
use crate::gitexport::{export, ExportReport};
use crate::progress::Progress;
use crate::repo::Repository;

pub fn export_git(repo: &Repository, dir: &Path, progress: &dyn Progress) -> Result<ExportReport> {
    export(repo, dir, progress)
}
