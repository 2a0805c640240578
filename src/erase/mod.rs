//! Erasure with a recovery window: `delete` moves a subject's rows out of the live tables into
//! encrypted quarantine, `restore` brings them back inside the window, `purge` destroys what is
//! past it.

pub mod delete;
pub mod plan;
pub mod purge;
pub mod reapply;
pub mod restore;

use crate::config::{Config, OnDelete};
use crate::error::UserError;
use crate::source::Database;

/// Connect every source of the map and check it against its catalog.
pub async fn open_sources<'a>(
    config: &'a Config,
    audit: &crate::audit::AuditLog,
) -> Result<Vec<Database<'a>>, UserError> {
    let mut sources = Vec::with_capacity(config.sources.len());
    for source in config.databases() {
        let source = Database::open(source).await?;
        refuse_without_history(audit, &source).await?;
        sources.push(source);
    }
    Ok(sources)
}

/// Refuse to act on `source` from a state dir whose audit log is empty while the database
/// records earlier requests: this is most likely not the state dir those requests were made
/// with (another `--state-dir`, `~/.local/state/dsar` of another user), and a second audit log
/// and installation key would split the record.
pub async fn refuse_without_history(audit: &crate::audit::AuditLog, source: &Database<'_>) -> Result<(), UserError> {
    if !audit.is_empty()? {
        return Ok(());
    }
    let requests = crate::engine::request_count(source.backend()).await?;
    if requests == 0 {
        return Ok(());
    }
    Err(UserError::usage(format!(
        "source `{}` records {requests} earlier request(s), but the audit log in {} is empty: this is not the state dir they were made with",
        source.config().name,
        audit.state().root.display()
    ))
    .with_hint(
        "point --state-dir (or [settings] state_dir in the map) at the state dir of the earlier requests; if it is lost for good, start this one on purpose with `dsar check`",
    ))
}

/// Whether any table of the map changes rows on delete (so quarantine is needed).
pub fn erases_anything(config: &Config) -> bool {
    config
        .sources
        .iter()
        .flat_map(|s| &s.tables)
        .any(|t| t.on_delete != OnDelete::Retain)
}

/// The fingerprint of request `id`'s key as its delete recorded it: in the ledger record (when
/// it verifies), else in the audit log's delete events. `None` for a request made before dsar
/// recorded fingerprints.
pub fn expected_key(audit: &crate::audit::AuditLog, id: &str) -> Result<Option<String>, UserError> {
    let record = crate::ledger::Ledger::open(audit.state())?
        .get(id)?
        .filter(|r| r.damaged.is_none() && r.kind == "delete");
    if let Some(fingerprint) = record.and_then(|r| r.data_key) {
        return Ok(Some(fingerprint));
    }
    let dir = audit.dir()?;
    let events = crate::audit::query::read_all(&dir)
        .map_err(|e| UserError::runtime(format!("cannot read the audit log: {e}")))?;
    Ok(events
        .iter()
        .filter(|e| e.get("request_id").and_then(|v| v.as_str()) == Some(id))
        .filter(|e| {
            e.get("action")
                .and_then(|v| v.as_str())
                .is_some_and(|a| a.starts_with("delete."))
        })
        .find_map(|e| e.get("details")?.get("data_key")?.as_str().map(str::to_string)))
}

/// Refuse a request key that is not the one the delete made: someone who can write the `dsar`
/// tables and knows the public recovery recipient could otherwise swap in a key of their own
/// and have restore write rows they sealed under it.
pub fn check_key(
    request_id: &str,
    source: &str,
    key: &crate::envelope::DataKey,
    expected: Option<&str>,
) -> Result<(), UserError> {
    match expected {
        Some(fingerprint) if fingerprint != key.fingerprint() => Err(UserError::runtime(format!(
            "source `{source}`: the key stored for request {request_id} is not the one dsar made for it \
             (its fingerprint differs from the one the delete recorded): its quarantine cannot be trusted; \
             nothing was changed"
        ))
        .with_hint("the dsar tables were written by someone else: keep them as evidence, restore them from a backup")),
        _ => Ok(()),
    }
}

/// The sessions a table's batches run on (`engine::erase_table`, `engine::restore_table`): the
/// source's own, and up to `more` other sessions of the same database (see [`ERASE_SIBLINGS`]
/// and [`RESTORE_SIBLINGS`]) when the table has more than one batch to do (`rows`), the source
/// is not paced (a `max_rows_per_second` spares its database) and its kind takes writes from several sessions at once (PostgreSQL; see
/// `Database::open_sibling`), unless the table refers to itself (a foreign key or a `via` from
/// the table to itself: one session's batch could delete a parent before another's takes its
/// child, a refusal, or with `ON DELETE CASCADE` a child gone unsealed, that one session in
/// plan order never meets). The other sessions are opened once per source (index
/// `source_index` in `siblings`), when first wanted; those the server will not give leave the
/// work to the sessions it gave.
async fn sessions_for<'s, 'a: 's>(
    source: &'s Database<'a>,
    source_index: usize,
    table: usize,
    rows: u64,
    more: usize,
    siblings: &'s mut std::collections::HashMap<usize, Vec<Database<'a>>>,
) -> Vec<&'s dyn crate::source::backend::Backend> {
    let config = source.config();
    let wanted = rows > u64::from(config.batch_rows)
        && config.max_rows_per_second.is_none()
        && !refers_to_itself(source, table).await;
    if wanted && !siblings.contains_key(&source_index) {
        let mut opened = Vec::new();
        while opened.len() < more {
            match source.open_sibling().await {
                Some(sibling) => opened.push(sibling),
                None => break,
            }
        }
        siblings.insert(source_index, opened);
    }
    let siblings: &'s std::collections::HashMap<_, _> = siblings;
    let mut sessions = vec![source.backend()];
    if let (true, Some(opened)) = (wanted, siblings.get(&source_index)) {
        sessions.extend(opened.iter().map(Database::backend));
    }
    sessions
}

/// Sessions an erasure's batches take beside the source's own. A batch is the server's turn
/// (delete, write the sealed rows, commit) and then the client's (decode and seal the rows, on
/// the one thread that drives every session): with two sessions in all, each often waited for
/// the other's turn on the client; with three, one session's rows are sealed while the other
/// two are at the server (a million-row delete on 2 cores, five interleaved pairs: median
/// 4.57 s on two sessions, 4.28 s on three, every pair faster; four were no faster than three).
const ERASE_SIBLINGS: usize = 2;

/// Sessions a restore's batches take beside the source's own: one. A restore batch is most of
/// it the server's (inserting the rows back, their indexes), and a third session slowed the
/// same million rows from 5.9 s to 6.3-6.5 s.
const RESTORE_SIBLINGS: usize = 1;

/// Whether rows of `table` can refer to other rows of it: a foreign key from the table to
/// itself, or a `via` path whose parent is the table. A catalog that cannot be read counts as
/// yes (one session is always safe).
async fn refers_to_itself(source: &Database<'_>, table: usize) -> bool {
    let config = &source.config().tables[table];
    if config.link.paths().iter().any(|p| p.parent == table) {
        return true;
    }
    match source.foreign_keys().await {
        Ok(fks) => fks.iter().any(|fk| fk.child == config.name && fk.parent == config.name),
        Err(_) => true,
    }
}
