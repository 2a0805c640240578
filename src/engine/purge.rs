//! Purge of flagged rows: once a request's window has closed, the rows its `flag` tables kept
//! (marked deleted) are deleted for good, with their quarantine entries.

use std::collections::BTreeMap;

use super::payload::decode_key;
use super::transaction::in_transaction;
use super::{on_source, on_table};
use crate::error::UserError;
use crate::source::backend::{Backend, StoreTable};
use crate::source::cell::Cell;
use crate::source::erasure::{flagged_table, require_primary_key};

/// Hard-delete up to `limit` flagged rows of an expired request, with their quarantine entries,
/// in one transaction. Rows unflagged meanwhile are left alone. Returns the entries done.
pub async fn purge_flagged_batch(db: &dyn Backend, request_id: &str, limit: i64) -> Result<u64, UserError> {
    in_transaction(db, body(db, request_id, limit)).await
}

async fn body(db: &dyn Backend, request_id: &str, limit: i64) -> Result<u64, UserError> {
    let mut read = db.dialect().statement();
    read.push("SELECT id, table_schema, table_name, ")
        .push(db.dialect().flag_key_sql())
        .push(" FROM ")
        .push(db.dialect().store_table(StoreTable::Quarantine))
        .push(" WHERE request_id = ")
        .bind(request_id)
        .push(" AND strategy = 'flag' ORDER BY id LIMIT ")
        .bind(limit)
        .push(db.dialect().lock_rows_sql());
    let entries = db
        .query(read)
        .await
        .map_err(on_source(db, "cannot read the quarantine"))?;
    let tables = &db.dialect().source().tables;
    let mut by_table: BTreeMap<usize, Vec<Vec<Cell>>> = BTreeMap::new();
    let mut ids = Vec::with_capacity(entries.len());
    for entry in entries {
        let mut values = entry.into_iter();
        let id = values.next().and_then(|v| v.int()).unwrap_or_default();
        let schema = values.next().and_then(|v| v.text()).unwrap_or_default();
        let name = values.next().and_then(|v| v.text()).unwrap_or_default();
        let stored = values.next().and_then(|v| v.text());
        let table = flagged_table(tables, request_id, &schema, &name)?;
        let width = require_primary_key(&tables[table], &db.dialect().shapes()[table])?.len();
        // A key that does not parse would leave its flagged row live for good: stop, and say
        // which entry it is.
        let key = decode_key(stored.as_deref(), db.dialect().typed_payload(), width).ok_or_else(|| {
            UserError::runtime(format!(
                "request {request_id}, table {}: quarantine row {id} holds a flag key that is not a key of the table; purge stopped, nothing of this batch was changed",
                tables[table].name
            ))
            .with_hint("the quarantine was edited by hand: restore it from backup, or delete that flagged row yourself and then its quarantine row")
        })?;
        by_table.entry(table).or_default().push(key);
        ids.push(id);
    }
    for (table, keys) in by_table {
        let config = &tables[table];
        let pk = require_primary_key(config, &db.dialect().shapes()[table])?.to_vec();
        for chunk in keys.chunks((db.dialect().max_binds() / pk.len()).max(1)) {
            let mut delete = db.dialect().statement();
            delete
                .push(&db.dialect().delete_from(&db.dialect().table_sql(&config.name), "t0"))
                .push(" WHERE ");
            db.dialect().key_set(&mut delete, table, "t0", &pk, chunk);
            if let Some(flagged) = db.dialect().flagged_sql(table) {
                delete.push(&format!(" AND {flagged}"));
            }
            db.execute(delete).await.map_err(on_table(db, table))?;
        }
    }
    let done = ids.len() as u64;
    super::store::clear_entries(db, ids, "cannot clear the quarantine").await?;
    Ok(done)
}
