//! `init`: create a store for a product home.

use std::path::Path;

use crate::error::Result;
use crate::repo::Repository;

pub fn init(home: &Path, store: Option<&Path>) -> Result<Repository> {
    Repository::init(home, store)
}
