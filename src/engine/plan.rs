//! The persisted plan. Before any row moves, the keys of every row a request will change are
//! written beside the quarantine, each sealed under the request's data key and found by a keyed
//! hash, so the database never holds a readable key. A row is done once its quarantine entry
//! exists, and both are written by the same batch transaction; so `resume` reloads exactly the
//! planned rows that are not done. Nothing is re-derived from live rows, where a parent that has
//! already left would hide its children, and nothing already changed is sealed again.

use std::collections::HashSet;

use super::erase::take_pending;
use super::payload::{decode_key, encode_key, key_texts};
use super::transaction::in_transaction;
use super::{on_source, on_table};
use crate::envelope::DataKey;
use crate::error::UserError;
use crate::source::backend::{Backend, List, Statement, StoreTable, Value};
use crate::source::cell::Cell;
use crate::source::erasure::require_primary_key;

/// Rows read or written per statement while recording or reloading a plan.
const CHUNK: i64 = 1000;

/// Where a plan entry's sealed key belongs: bound to the request, table and position in the
/// plan, so an entry moved to another table or request does not open.
fn place(request_id: &str, table: &str, key_hash: &[u8]) -> Vec<u8> {
    DataKey::place(request_id, table, "plan", key_hash)
}

/// Append the captured keys of `tables` (their pending lists) to the request's plan, in one
/// transaction: either the whole plan of this source is recorded or none of it.
pub async fn record_plan(db: &dyn Backend, tables: &[usize], request_id: &str, key: &DataKey) -> Result<(), UserError> {
    in_transaction(db, async {
        for &t in tables {
            record_table(db, t, request_id, key).await?;
        }
        Ok(())
    })
    .await
}

async fn record_table(db: &dyn Backend, table: usize, request_id: &str, key: &DataKey) -> Result<(), UserError> {
    let d = db.dialect();
    let config = &d.source().tables[table];
    let pk = require_primary_key(config, &d.shapes()[table])?.to_vec();
    let typed = d.typed_payload();
    let name = config.name.to_string();
    let mut position = next_position(db, table, request_id).await?;
    // Nothing of this table is planned yet (the first capture): the pending keys are unique, so
    // there is nothing to look up. Looking anyway costs a scan of the rows this very transaction
    // inserted (the plan table's statistics cannot see them): quadratic in the rows planned.
    let first = position == 0;
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let keys = take_pending(db, table, &pk, after.as_deref(), CHUNK).await?;
        let Some(last) = keys.last().cloned() else { break };
        after = Some(last);
        // A key planned already (a completion check finds it again) is planned once.
        let hashes: Vec<Vec<u8>> = keys.iter().map(|k| key.key_hash(&key_texts(k))).collect();
        let planned = if first {
            HashSet::new()
        } else {
            hashes_in(db, StoreTable::Plan, &config.name, request_id, hashes.clone()).await?
        };
        let keys: Vec<(&Vec<Cell>, Vec<u8>)> = keys.iter().zip(hashes).filter(|(_, h)| !planned.contains(h)).collect();
        if keys.is_empty() {
            continue;
        }
        let mut insert = d.statement();
        insert.push(&format!(
            "INSERT INTO {} (request_id, table_schema, table_name, position, strategy, key_hash, sealed_key) VALUES ",
            d.store_table(StoreTable::Plan)
        ));
        for (i, (row_key, hash)) in keys.into_iter().enumerate() {
            let sealed = key.seal(encode_key(row_key, typed).as_bytes(), &place(request_id, &name, &hash));
            insert
                .push(if i == 0 { "(" } else { ", (" })
                .bind(request_id)
                .push(", ")
                .bind(config.name.schema.as_str())
                .push(", ")
                .bind(config.name.name.as_str())
                .push(", ")
                .bind(position)
                .push(", ")
                .bind(config.on_delete.name())
                .push(", ")
                .bind(hash)
                .push(", ")
                .bind(sealed)
                .push(")");
            position += 1;
        }
        db.execute(insert)
            .await
            .map_err(on_source(db, "cannot record the plan"))?;
    }
    Ok(())
}

/// The position after the last entry of `table` in the request's plan (0 for a new plan).
async fn next_position(db: &dyn Backend, table: usize, request_id: &str) -> Result<i64, UserError> {
    let d = db.dialect();
    let name = &d.source().tables[table].name;
    let mut st = d.statement();
    st.push(&format!(
        "SELECT COALESCE(max(position), -1) + 1 FROM {}",
        d.store_table(StoreTable::Plan)
    ));
    of_request_table(&mut st, request_id, name);
    let rows = db.query(st).await.map_err(on_source(db, "cannot read the plan"))?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .and_then(|v| v.int())
        .unwrap_or(0))
}

/// Whether the request recorded a plan in this database (so its erasure may have begun).
pub async fn has_plan(db: &dyn Backend, request_id: &str) -> Result<bool, UserError> {
    let d = db.dialect();
    let mut st = d.statement();
    st.push(&format!(
        "SELECT count(*) FROM {} WHERE request_id = ",
        d.store_table(StoreTable::Plan)
    ))
    .bind(request_id);
    let rows = db.query(st).await.map_err(on_source(db, "cannot read the plan"))?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .and_then(|v| v.int())
        .unwrap_or(0)
        > 0)
}

/// Refill the pending lists of `tables` with the planned rows the request has not changed yet
/// (a row is changed once its quarantine entry exists). Returns how many per table. An entry
/// that does not open under the request's key stops the run naming it: a planned row is never
/// skipped.
pub async fn reload_plan(
    db: &dyn Backend,
    tables: &[usize],
    request_id: &str,
    key: &DataKey,
) -> Result<Vec<u64>, UserError> {
    let d = db.dialect();
    let plan = d.store_table(StoreTable::Plan);
    let typed = d.typed_payload();
    let mut counts = Vec::with_capacity(tables.len());
    for &t in tables {
        let config = &d.source().tables[t];
        let pk = require_primary_key(config, &d.shapes()[t])?.to_vec();
        let name = config.name.to_string();
        for sql in d.create_pending(t, &pk) {
            let mut st = d.statement();
            st.push(&sql);
            db.execute(st).await.map_err(on_table(db, t))?;
        }
        let mut count = 0u64;
        let mut after = -1i64;
        loop {
            let mut read = d.statement();
            read.push(&format!("SELECT position, key_hash, sealed_key FROM {plan}"));
            of_request_table(&mut read, request_id, &config.name);
            read.push(" AND position > ")
                .bind(after)
                .push(" ORDER BY position LIMIT ")
                .bind(CHUNK);
            let entries = db.query(read).await.map_err(on_source(db, "cannot read the plan"))?;
            if entries.is_empty() {
                break;
            }
            // Which of them are done: one indexed look-up per chunk (an anti-join over the
            // whole quarantine can go badly wrong on fresh statistics).
            let hashes: Vec<Vec<u8>> = entries
                .iter()
                .filter_map(|e| e.get(1).cloned().and_then(Value::bytes))
                .collect();
            let done = hashes_in(db, StoreTable::Quarantine, &config.name, request_id, hashes).await?;
            let mut keys = Vec::with_capacity(entries.len());
            let mut seen = HashSet::new();
            for entry in entries {
                let mut values = entry.into_iter();
                let position = values.next().and_then(|v| v.int()).unwrap_or_default();
                let hash = values.next().and_then(Value::bytes).unwrap_or_default();
                let sealed = values.next().and_then(Value::bytes).unwrap_or_default();
                after = position;
                if done.contains(&hash) {
                    continue;
                }
                let row_key = key
                    .open(&sealed, &place(request_id, &name, &hash))
                    .ok()
                    .and_then(|plain| String::from_utf8(plain).ok())
                    .and_then(|text| decode_key(Some(&text), typed, pk.len()))
                    .filter(|k| key.key_hash(&key_texts(k)) == hash)
                    .ok_or_else(|| {
                        UserError::runtime(format!(
                            "request {request_id}: the plan entry for `{name}` at position {position} does not open \
                             under the request's key; nothing was changed by this run"
                        ))
                        .with_hint("the dsar tables were altered by hand; restore them from a backup, then resume")
                    })?;
                // A key planned twice (it came back live and was planned again) is taken once.
                if seen.insert(key_texts(&row_key)) {
                    keys.push(row_key);
                }
            }
            if keys.is_empty() {
                continue;
            }
            let mut insert = d.statement();
            let columns: Vec<String> = pk.iter().map(|c| crate::source::quote::ident(c)).collect();
            insert.push(&format!(
                "INSERT INTO {} ({}) VALUES ",
                d.pending_table(t),
                columns.join(", ")
            ));
            d.push_rows(&mut insert, t, &pk, &keys);
            count += db.execute(insert).await.map_err(on_table(db, t))?;
        }
        for sql in d.index_pending(t, &pk) {
            let mut st = d.statement();
            st.push(&sql);
            db.execute(st).await.map_err(on_table(db, t))?;
        }
        counts.push(count);
    }
    Ok(counts)
}

/// Remove from `table`'s pending list the rows this request has already changed (their
/// quarantine entry exists): an anonymized or flagged row still matches the subject, and must
/// not be sealed again with its new values. Returns how many were removed.
pub async fn drop_done(db: &dyn Backend, table: usize, request_id: &str, key: &DataKey) -> Result<u64, UserError> {
    let d = db.dialect();
    let config = &d.source().tables[table];
    let pk = require_primary_key(config, &d.shapes()[table])?.to_vec();
    let mut dropped = 0;
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let keys = take_pending(db, table, &pk, after.as_deref(), CHUNK).await?;
        let Some(last) = keys.last().cloned() else { break };
        let hashes: Vec<Vec<u8>> = keys.iter().map(|k| key.key_hash(&key_texts(k))).collect();
        let done = hashes_in(db, StoreTable::Quarantine, &config.name, request_id, hashes.clone()).await?;
        let gone: Vec<Vec<Cell>> = keys
            .into_iter()
            .zip(&hashes)
            .filter(|(_, h)| done.contains(*h))
            .map(|(k, _)| k)
            .collect();
        if !gone.is_empty() {
            let mut delete = d.statement();
            delete
                .push(&d.delete_from(&d.pending_table(table), "p"))
                .push(" WHERE ");
            d.key_set(&mut delete, table, "p", &pk, &gone);
            dropped += db.execute(delete).await.map_err(on_table(db, table))?;
        }
        after = Some(last);
    }
    Ok(dropped)
}

/// Which of `hashes` have an entry of the request for `table` in `store` (the quarantine: done;
/// the plan: planned), by the store's (request, table, key_hash) index.
async fn hashes_in(
    db: &dyn Backend,
    store: StoreTable,
    table: &crate::config::TableName,
    request_id: &str,
    hashes: Vec<Vec<u8>>,
) -> Result<HashSet<Vec<u8>>, UserError> {
    let d = db.dialect();
    let mut read = d.statement();
    read.push(&format!("SELECT key_hash FROM {}", d.store_table(store)));
    of_request_table(&mut read, request_id, table);
    read.push(" AND ");
    d.in_list(&mut read, "key_hash", List::Bytes(hashes));
    Ok(db
        .query(read)
        .await
        .map_err(on_source(db, "cannot read the dsar tables"))?
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Value::bytes))
        .collect())
}

/// ` WHERE` the entry is the request's, for `table`.
fn of_request_table(st: &mut Statement, request_id: &str, table: &crate::config::TableName) {
    st.push(" WHERE request_id = ")
        .bind(request_id)
        .push(" AND table_schema = ")
        .bind(table.schema.as_str())
        .push(" AND table_name = ")
        .bind(table.name.as_str());
}

/// Forget the request's plan (its rows were restored, or the request was purged).
pub async fn clear_plan(db: &dyn Backend, request_id: &str) -> Result<(), UserError> {
    // A store made before plans were recorded gains the table here.
    super::ensure_store(db).await?;
    let d = db.dialect();
    let mut st = d.statement();
    st.push(&format!(
        "DELETE FROM {} WHERE request_id = ",
        d.store_table(StoreTable::Plan)
    ))
    .bind(request_id);
    db.execute(st)
        .await
        .map(|_| ())
        .map_err(on_source(db, "cannot clear the plan"))
}
