//! patchvault's library: a content-addressed, deduplicated, versioned store
//! for software install trees (WSO2 Carbon product homes first).
//!
//! Layers, bottom up: [`id`] (BLAKE3 ids), [`object`] (canonical encodings),
//! [`odb`] (the object database), [`refs`], [`index`] (the stat cache),
//! [`scan`] (walking and hashing the home), [`diff`], [`checkout`], then
//! [`repo`] tying a home to its store, [`revision`] parsing, and one module
//! per user verb in [`commands`]. The `patchvault` binary is a front end.

pub mod carbon;
pub mod checkout;
pub mod commands;
pub mod diff;
pub mod error;
pub mod fault;
pub mod fsutil;
pub mod fuzzing;
pub mod gitexport;
pub mod id;
pub mod index;
pub mod jar;
pub mod journal;
pub mod lock;
pub mod manifest;
pub mod object;
pub mod odb;
pub mod progress;
pub mod refs;
pub mod repo;
pub mod revision;
pub mod scan;
pub mod treeedit;

pub use error::{Error, Result};
pub use id::ObjectId;
pub use repo::Repository;
