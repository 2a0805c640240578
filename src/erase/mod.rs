//! Erasure with a recovery window: `delete` moves a subject's rows out of the live tables into
//! encrypted quarantine, `restore` brings them back inside the window, `purge` destroys what is
//! past it.

pub mod delete;
pub mod plan;
pub mod purge;
pub mod restore;

use crate::config::{Config, OnDelete};
use crate::error::UserError;
use crate::source::Database;

/// Connect every source of the map and check it against its catalog.
pub async fn open_sources(config: &Config) -> Result<Vec<Database<'_>>, UserError> {
    let mut sources = Vec::with_capacity(config.sources.len());
    for source in config.databases() {
        sources.push(Database::open(source).await?);
    }
    Ok(sources)
}

/// Whether any table of the map changes rows on delete (so quarantine is needed).
pub fn erases_anything(config: &Config) -> bool {
    config
        .sources
        .iter()
        .flat_map(|s| &s.tables)
        .any(|t| t.on_delete != OnDelete::Retain)
}
