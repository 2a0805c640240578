//! The persisted plan. Before any row moves, the keys of every row a request will change are
//! written beside the quarantine in chunks, each chunk sealed under the request's data key, so
//! the database never holds a readable key. A chunk is one erase batch: the batch that changes
//! its rows marks it done in the same transaction; so `resume` reloads exactly the planned rows
//! that are not done. Nothing is re-derived from live rows, where a parent that has already left
//! would hide its children, and nothing already changed is sealed again.
//!
//! One row per chunk (not per key) keeps the plan's cost to a few statements per thousand rows.
//! Plans recorded by earlier releases hold one key per row (their `key_hash` is set); `reload`
//! turns what is left of them into chunks before the erasure goes on.

use std::collections::HashSet;

use super::erase::take_pending;
use super::payload::{decode_key, decode_keys, encode_keys, key_texts};
use super::transaction::in_transaction;
use super::{on_source, on_table};
use crate::envelope::DataKey;
use crate::error::UserError;
use crate::source::backend::{Backend, List, Statement, StoreTable, Value};
use crate::source::cell::Cell;
use crate::source::erasure::{require_primary_key, sealed_columns};

/// Entries read per statement while reloading a plan.
const CHUNK: i64 = 1000;

/// Where a legacy plan entry's sealed key belongs (one key per entry, found by its hash).
fn legacy_place(request_id: &str, table: &str, key_hash: &[u8]) -> Vec<u8> {
    DataKey::place(request_id, table, "plan", key_hash)
}

/// Where a plan chunk belongs: its request, table and position, so a chunk moved to another
/// place does not open.
fn chunk_place(request_id: &str, table: &str, position: i64) -> Vec<u8> {
    DataKey::place(request_id, table, "plan chunk", &position.to_be_bytes())
}

/// One chunk of a table's plan: the keys one erase batch takes.
#[derive(Clone)]
pub struct Chunk {
    pub position: i64,
    pub keys: Vec<Vec<Cell>>,
}

/// Append the captured keys of `tables` (their pending lists) to the request's plan, in chunks
/// of `chunk_rows` keys, in one transaction: either the whole plan of this source is recorded or
/// none of it.
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
    let mut position = next_position(db, table, request_id).await?;
    // A key still planned in a chunk not done yet (a completion check finds it again after a
    // batch was refused) is planned once: it leaves the pending list, a chunk at a time.
    if position > 0 {
        let mut after = -1;
        while let Some(chunk) = next_chunk(db, table, request_id, key, after).await? {
            after = chunk.position;
            drop_pending(db, table, &pk, &chunk.keys).await?;
        }
    }
    // Many chunks per read and per INSERT: a plan of a million keys is a few dozen statements,
    // not two thousand round trips.
    let limit = chunk_rows(db, table)?;
    let per_read = (READ_KEYS / limit).max(1);
    let mut after: Option<Vec<Cell>> = None;
    loop {
        let keys = take_pending(db, table, &pk, after.as_deref(), limit * per_read).await?;
        let Some(last) = keys.last().cloned() else { break };
        after = Some(last);
        let sizes = sampled_sizes(db, table, &pk, &keys).await?;
        let chunks = cut_chunks(&keys, &sizes, limit as usize, BATCH_BYTES);
        write_chunks(db, table, request_id, key, position, &chunks).await?;
        position += chunks.len() as i64;
    }
    Ok(())
}

/// Keys read from a pending list per statement while a plan is recorded (rounded down to whole
/// chunks; at least one chunk).
const READ_KEYS: i64 = 50_000;

/// The sealed bytes one INSERT of plan chunks carries at most (a chunk larger than that goes
/// alone): well under MariaDB's default packet limit of 16 MiB.
const PLAN_STATEMENT_BYTES: usize = 4 << 20;

/// Append one chunk of `keys` at `position` to the table's plan.
async fn write_chunk(
    db: &dyn Backend,
    table: usize,
    request_id: &str,
    key: &DataKey,
    position: i64,
    keys: &[Vec<Cell>],
) -> Result<(), UserError> {
    write_chunks(db, table, request_id, key, position, &[keys]).await
}

/// Append `chunks` to the table's plan at `first` and the positions after it, several to an
/// INSERT.
async fn write_chunks(
    db: &dyn Backend,
    table: usize,
    request_id: &str,
    key: &DataKey,
    first: i64,
    chunks: &[&[Vec<Cell>]],
) -> Result<(), UserError> {
    let d = db.dialect();
    let config = &d.source().tables[table];
    let name = config.name.to_string();
    let sealed: Vec<Vec<u8>> = chunks
        .iter()
        .enumerate()
        .map(|(i, keys)| {
            key.seal(
                &encode_keys(keys, d.typed_payload()),
                &chunk_place(request_id, &name, first + i as i64),
            )
        })
        .collect();
    // Eight bound values a chunk.
    let per_statement = (d.max_binds() / 8).max(1);
    let mut start = 0;
    while start < sealed.len() {
        let (mut end, mut bytes) = (start, 0);
        while end < sealed.len()
            && (end == start || (end - start < per_statement && bytes + sealed[end].len() <= PLAN_STATEMENT_BYTES))
        {
            bytes += sealed[end].len();
            end += 1;
        }
        let mut insert = d.statement();
        insert.push(&format!(
            "INSERT INTO {} (request_id, table_schema, table_name, position, strategy, key_hash, sealed_key, done) VALUES ",
            d.store_table(StoreTable::Plan)
        ));
        for (i, sealed) in sealed[start..end].iter().enumerate() {
            insert
                .push(if i == 0 { "(" } else { ", (" })
                .bind(request_id)
                .push(", ")
                .bind(config.name.schema.as_str())
                .push(", ")
                .bind(config.name.name.as_str())
                .push(", ")
                .bind(first + (start + i) as i64)
                .push(", ")
                .bind(config.on_delete.name())
                .push(", ")
                .bind(Value::Bytes(Vec::new()))
                .push(", ")
                .bind(sealed.clone())
                .push(", ")
                .bind(Value::Bool(false))
                .push(")");
        }
        db.execute(insert)
            .await
            .map_err(on_source(db, "cannot record the plan"))?;
        start = end;
    }
    Ok(())
}

/// The table's next chunk not done yet after position `after`, opened; `None` when none is
/// left. A chunk that does not open under the request's key stops the run naming it: a planned
/// row is never skipped.
pub async fn next_chunk(
    db: &dyn Backend,
    table: usize,
    request_id: &str,
    key: &DataKey,
    after: i64,
) -> Result<Option<Chunk>, UserError> {
    let d = db.dialect();
    let config = &d.source().tables[table];
    let pk = require_primary_key(config, &d.shapes()[table])?;
    let rows = entries_not_done(db, &config.name, request_id, Entries::Chunks, after, 1).await?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let mut values = row.into_iter();
    let position = values.next().and_then(|v| v.int()).unwrap_or_default();
    let sealed = values.next().and_then(Value::bytes).unwrap_or_default();
    let name = config.name.to_string();
    let keys = key
        .open(&sealed, &chunk_place(request_id, &name, position))
        .ok()
        .and_then(|plain| decode_keys(&plain, d.typed_payload(), pk.len()))
        .ok_or_else(|| unopened(request_id, &name, position))?;
    Ok(Some(Chunk { position, keys }))
}

/// Rows per chunk of `table`: one erase batch. `batch_rows`, but never more rows than one of
/// the batch's statements can name: on MySQL and SQLite a batch binds each key column of each
/// row (SQLite allows 32,766 values a statement), so a wide key takes fewer rows a batch. The
/// margin leaves room for what else a batch's statements bind (an anonymize rule's literals).
fn chunk_rows(db: &dyn Backend, table: usize) -> Result<i64, UserError> {
    let d = db.dialect();
    let key_columns = require_primary_key(&d.source().tables[table], &d.shapes()[table])?.len();
    let fits = d.max_binds().saturating_sub(BIND_MARGIN) / key_columns.max(1);
    Ok(i64::from(d.source().batch_rows).min(fits as i64).max(1))
}

/// Bound values a batch's statements keep free of keys.
const BIND_MARGIN: usize = 1000;

/// The text of the rows one batch holds, about (one bundle's worth). A batch holds its rows,
/// their sealed bundles, and the bundles again as the INSERT's bound values and as the message
/// sent (four copies, measured with massif), until it commits, on each session that runs one
/// (three on PostgreSQL). Rows of a few hundred bytes take `batch_rows` a batch; a table of
/// 50 KB documents took 314 MiB of RSS in batches of 2,500, 80 MiB in batches of 4 MiB, 34
/// MiB in batches of 1 MiB.
const BATCH_BYTES: usize = 1 << 20;

/// Rows of each read of keys whose size is measured, spread evenly over it.
const SAMPLE_ROWS: usize = 256;

/// About how many bytes each of `keys` (captured keys of `table`, in key order) takes in a
/// batch: the text size of [`SAMPLE_ROWS`] rows spread evenly over them (the first and the
/// last among them), read as a batch reads the columns it seals, and for the rows between two
/// measured ones the larger of the two. Measured
/// across the whole read, not only at its start: a table's rows can grow along its key (older
/// rows without attachments, newer ones with), and a stretch of wide rows longer than the
/// spacing of the sample is seen. One statement per read of keys; `None` for a row with no
/// measured row near it (all of them gone since the capture).
async fn sampled_sizes(
    db: &dyn Backend,
    table: usize,
    pk: &[String],
    keys: &[Vec<Cell>],
) -> Result<Vec<Option<usize>>, UserError> {
    let d = db.dialect();
    // Every sampled row's key is bound: a key of many columns samples fewer rows on MySQL and
    // SQLite.
    let most = (d.max_binds().saturating_sub(BIND_MARGIN) / pk.len().max(1)).clamp(2, SAMPLE_ROWS);
    let step = (keys.len() - 1).div_ceil(most - 1).max(1);
    let mut at: Vec<usize> = (0..keys.len()).step_by(step).collect();
    if at.last() != Some(&(keys.len() - 1)) {
        at.push(keys.len() - 1);
    }
    let sample: Vec<Vec<Cell>> = at.iter().map(|&i| keys[i].clone()).collect();
    let config = &d.source().tables[table];
    let columns = sealed_columns(config, &d.shapes()[table], pk)?;
    let mut st = d.statement();
    st.push("SELECT ").join(&columns, ", ", |st, c| {
        st.push(&d.read_cell(table, "t0", c));
    });
    st.push(" FROM ").push(&d.table_sql(&config.name)).push(" t0 WHERE ");
    d.key_set(&mut st, table, "t0", pk, &sample);
    let rows = db.query(st).await.map_err(on_table(db, table))?;
    let measured: std::collections::HashMap<Vec<Option<String>>, usize> = rows
        .iter()
        .map(|row| {
            let key: Vec<Cell> = row[..pk.len()].iter().cloned().map(Cell::from_value).collect();
            (key_texts(&key), row.iter().map(text_bytes).sum())
        })
        .collect();
    let found: Vec<Option<usize>> = sample.iter().map(|k| measured.get(&key_texts(k)).copied()).collect();
    Ok(spread(keys.len(), &at, &found))
}

/// The sizes of `len` rows from those measured at positions `at` (ascending, the first 0):
/// each row between two measured ones takes the larger of the two. A sampled row that is gone
/// counts as the nearest one measured before it, else after it.
fn spread(len: usize, at: &[usize], found: &[Option<usize>]) -> Vec<Option<usize>> {
    let mut known = found.to_vec();
    let mut seen = None;
    for size in known.iter_mut() {
        *size = size.or(seen);
        seen = *size;
    }
    seen = None;
    for size in known.iter_mut().rev() {
        *size = size.or(seen);
        seen = *size;
    }
    let mut sizes = vec![None; len];
    for (j, &start) in at.iter().enumerate() {
        let end = at.get(j + 1).copied().unwrap_or(len);
        let here = known[j].max(known.get(j + 1).copied().flatten());
        sizes[start..end].fill(here);
    }
    sizes
}

/// `keys` cut into chunks, in order, of at most `limit` keys and about `budget` bytes by
/// `sizes` (a chunk takes at least one key; a row of unknown size counts as nothing: it is
/// gone, and so is every row measured near it).
fn cut_chunks<'a, K>(keys: &'a [K], sizes: &[Option<usize>], limit: usize, budget: usize) -> Vec<&'a [K]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (i, size) in sizes.iter().enumerate().take(keys.len()) {
        let size = size.unwrap_or(0);
        if i > start && (i - start >= limit || bytes + size > budget) {
            chunks.push(&keys[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < keys.len() {
        chunks.push(&keys[start..]);
    }
    chunks
}

/// About how many bytes a value read for sealing takes.
fn text_bytes(value: &Value) -> usize {
    match value {
        Value::Text(t) => t.len(),
        Value::Bytes(b) => b.len(),
        _ => 8,
    }
}

/// Which plan entries to read: chunks, or the one-key rows of earlier releases.
#[derive(Clone, Copy, PartialEq)]
enum Entries {
    Chunks,
    OneKeyPerRow,
}

/// Up to `limit` entries of the request's plan for `table` not done yet, after position
/// `after`, in order: `position, sealed_key` for chunks, `position, key_hash, sealed_key` for
/// one-key rows. Found by the plan's primary key.
async fn entries_not_done(
    db: &dyn Backend,
    table: &crate::config::TableName,
    request_id: &str,
    entries: Entries,
    after: i64,
    limit: i64,
) -> Result<Vec<Vec<Value>>, UserError> {
    let d = db.dialect();
    let (columns, test) = match entries {
        Entries::Chunks => ("position, sealed_key", " AND key_hash = "),
        Entries::OneKeyPerRow => ("position, key_hash, sealed_key", " AND key_hash <> "),
    };
    let mut read = d.statement();
    read.push(&format!("SELECT {columns} FROM {}", d.store_table(StoreTable::Plan)));
    of_request_table(&mut read, request_id, table);
    read.push(test)
        .bind(Value::Bytes(Vec::new()))
        .push(" AND NOT done AND position > ")
        .bind(after)
        .push(" ORDER BY position LIMIT ")
        .bind(limit);
    db.query(read).await.map_err(on_source(db, "cannot read the plan"))
}

/// Mark the chunk at `position` done: part of the batch transaction that changed its rows.
pub async fn mark_done(db: &dyn Backend, table: usize, request_id: &str, position: i64) -> Result<(), UserError> {
    let d = db.dialect();
    let config = &d.source().tables[table];
    let mut st = d.statement();
    st.push(&format!("UPDATE {} SET done = ", d.store_table(StoreTable::Plan)))
        .bind(Value::Bool(true));
    of_request_table(&mut st, request_id, &config.name);
    st.push(" AND position = ").bind(position).push(" AND NOT done");
    let marked = db
        .execute(st)
        .await
        .map_err(on_source(db, "cannot record the batch in the plan"))?;
    if marked != 1 {
        return Err(UserError::runtime(format!(
            "request {request_id}: the plan entry for `{}` at position {position} changed while its batch ran; \
             the batch was rolled back",
            config.name
        ))
        .with_hint("another dsar may be running this request; let it finish, then `dsar jobs` shows where it stands"));
    }
    Ok(())
}

fn unopened(request_id: &str, table: &str, position: i64) -> UserError {
    UserError::runtime(format!(
        "request {request_id}: the plan entry for `{table}` at position {position} does not open under the \
         request's key; nothing was changed by this run"
    ))
    .with_hint("the dsar tables were altered by hand; restore them from a backup, then resume")
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

/// The requests whose plan in this database still holds chunks not done: erasures that did
/// not finish (killed, failed, cancelled). Their key must outlive their window: the plan is
/// sealed under it, and without the plan `resume` could not finish the rows it planned whose
/// links to the person are gone. An entry of an earlier release's plan (one key each, found by
/// its hash, from before plans had `done`) is not done while its row has no quarantine entry,
/// as `resume` reads it.
pub async fn unfinished_plans(db: &dyn Backend) -> Result<Vec<String>, UserError> {
    let d = db.dialect();
    let mut st = d.statement();
    st.push(&format!(
        "SELECT DISTINCT p.request_id FROM {} p WHERE NOT p.done AND (p.key_hash = ",
        d.store_table(StoreTable::Plan)
    ))
    .bind(Value::Bytes(Vec::new()))
    .push(&format!(
        " OR NOT EXISTS (SELECT 1 FROM {} q WHERE q.request_id = p.request_id AND q.table_schema = p.table_schema \
         AND q.table_name = p.table_name AND q.key_hash = p.key_hash)) ORDER BY p.request_id",
        d.store_table(StoreTable::Quarantine)
    ));
    Ok(db
        .query(st)
        .await
        .map_err(on_source(db, "cannot read the plan"))?
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Value::text))
        .collect())
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

/// Make the request's plan of `tables` ready to go on, one transaction per table: entries of
/// earlier releases become chunks, chunks larger than a batch now is are split. Returns how many
/// planned keys are not done yet, per table. An entry that does not open under the request's key
/// stops the run naming it: a planned row is never skipped.
pub async fn reload_plan(
    db: &dyn Backend,
    tables: &[usize],
    request_id: &str,
    key: &DataKey,
) -> Result<Vec<u64>, UserError> {
    let mut counts = Vec::with_capacity(tables.len());
    for &t in tables {
        let count = in_transaction(db, async {
            upgrade_legacy(db, t, request_id, key).await?;
            rechunk(db, t, request_id, key).await
        })
        .await?;
        counts.push(count);
    }
    Ok(counts)
}

/// Split the table's chunks not done yet that hold more keys than a batch now takes (the
/// operator lowered `batch_rows` after a batch failed for its size), in the caller's
/// transaction; the keys left to erase, counted.
async fn rechunk(db: &dyn Backend, table: usize, request_id: &str, key: &DataKey) -> Result<u64, UserError> {
    let limit = chunk_rows(db, table)? as usize;
    let mut position = next_position(db, table, request_id).await?;
    let last = position - 1;
    let mut count = 0;
    let mut after = -1;
    while let Some(chunk) = next_chunk(db, table, request_id, key, after).await? {
        after = chunk.position;
        if after > last {
            break;
        }
        count += chunk.keys.len() as u64;
        if chunk.keys.len() <= limit {
            continue;
        }
        for keys in chunk.keys.chunks(limit) {
            write_chunk(db, table, request_id, key, position, keys).await?;
            position += 1;
        }
        mark_done(db, table, request_id, chunk.position).await?;
    }
    Ok(count)
}

/// Turn what is left of a plan recorded one key per entry (by an earlier release) into chunks:
/// the entries whose rows have no quarantine entry yet become new chunks, and every old entry is
/// marked done, in the caller's transaction. Holds the old entries' key hashes while it runs.
async fn upgrade_legacy(db: &dyn Backend, table: usize, request_id: &str, key: &DataKey) -> Result<(), UserError> {
    let d = db.dialect();
    let config = &d.source().tables[table];
    let pk = require_primary_key(config, &d.shapes()[table])?.to_vec();
    let name = config.name.to_string();
    let typed = d.typed_payload();
    let limit = chunk_rows(db, table)?;
    let mut position = next_position(db, table, request_id).await?;
    let mut seen = HashSet::new();
    let mut keys: Vec<Vec<Cell>> = Vec::new();
    let mut found = false;
    let mut after = -1i64;
    loop {
        let entries = entries_not_done(db, &config.name, request_id, Entries::OneKeyPerRow, after, CHUNK).await?;
        if entries.is_empty() {
            break;
        }
        found = true;
        // Which of them are done: one look-up per chunk.
        let hashes: Vec<Vec<u8>> = entries
            .iter()
            .filter_map(|e| e.get(1).cloned().and_then(Value::bytes))
            .collect();
        let done = hashes_in(db, &config.name, request_id, hashes, false).await?;
        for entry in entries {
            let mut values = entry.into_iter();
            let at = values.next().and_then(|v| v.int()).unwrap_or_default();
            let hash = values.next().and_then(Value::bytes).unwrap_or_default();
            let sealed = values.next().and_then(Value::bytes).unwrap_or_default();
            after = at;
            if done.contains(&hash) {
                continue;
            }
            let row_key = key
                .open(&sealed, &legacy_place(request_id, &name, &hash))
                .ok()
                .and_then(|plain| String::from_utf8(plain).ok())
                .and_then(|text| decode_key(Some(&text), typed, pk.len()))
                .filter(|k| key.key_hash(&key_texts(k)) == hash)
                .ok_or_else(|| unopened(request_id, &name, at))?;
            // A key planned twice (it came back live and was planned again) is taken once.
            if seen.insert(hash) {
                keys.push(row_key);
            }
            if keys.len() as i64 >= limit {
                write_chunk(db, table, request_id, key, position, &std::mem::take(&mut keys)).await?;
                position += 1;
            }
        }
    }
    if !keys.is_empty() {
        write_chunk(db, table, request_id, key, position, &keys).await?;
    }
    if found {
        let mut st = d.statement();
        st.push(&format!("UPDATE {} SET done = ", d.store_table(StoreTable::Plan)))
            .bind(Value::Bool(true));
        of_request_table(&mut st, request_id, &config.name);
        st.push(" AND key_hash <> ").bind(Value::Bytes(Vec::new()));
        db.execute(st).await.map_err(on_source(db, "cannot record the plan"))?;
    }
    Ok(())
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
        let done = hashes_in(db, &config.name, request_id, hashes.clone(), true).await?;
        let gone: Vec<Vec<Cell>> = keys
            .into_iter()
            .zip(&hashes)
            .filter(|(_, h)| done.contains(*h))
            .map(|(k, _)| k)
            .collect();
        dropped += drop_pending(db, table, &pk, &gone).await?;
        after = Some(last);
    }
    Ok(dropped)
}

/// Remove `keys` from `table`'s pending list; how many were there.
async fn drop_pending(db: &dyn Backend, table: usize, pk: &[String], keys: &[Vec<Cell>]) -> Result<u64, UserError> {
    let d = db.dialect();
    let mut dropped = 0;
    for keys in keys.chunks((d.max_binds() / pk.len().max(1)).max(1)) {
        let mut delete = d.statement();
        delete
            .push(&d.delete_from(&d.pending_table(table), "p"))
            .push(" WHERE ");
        d.key_set(&mut delete, table, "p", pk, keys);
        dropped += db.execute(delete).await.map_err(on_table(db, table))?;
    }
    Ok(dropped)
}

/// Which of `hashes` have a quarantine entry of the request for `table` (its rows are done).
/// `changed_only`: only entries of rows changed in place (anonymize, flag), which a partial
/// index covers on the databases that have them; a quarantined row left its table.
async fn hashes_in(
    db: &dyn Backend,
    table: &crate::config::TableName,
    request_id: &str,
    hashes: Vec<Vec<u8>>,
    changed_only: bool,
) -> Result<HashSet<Vec<u8>>, UserError> {
    let d = db.dialect();
    let mut read = d.statement();
    read.push(&format!(
        "SELECT key_hash FROM {}",
        d.store_table(StoreTable::Quarantine)
    ));
    of_request_table(&mut read, request_id, table);
    read.push(" AND ");
    if changed_only {
        // Written as the partial index's own condition, so every database matches it.
        read.push("strategy <> 'quarantine' AND ");
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_between_two_measured_ones_take_the_larger() {
        let sizes = spread(6, &[0, 3, 5], &[Some(10), Some(1000), Some(20)]);
        assert_eq!(sizes, [1000, 1000, 1000, 1000, 1000, 20].map(Some).to_vec());
    }

    #[test]
    fn a_sampled_row_that_is_gone_counts_as_its_nearest_measured_one() {
        let sizes = spread(5, &[0, 2, 4], &[None, Some(7), None]);
        assert_eq!(sizes, [7, 7, 7, 7, 7].map(Some).to_vec());
        assert_eq!(spread(3, &[0, 2], &[None, None]), vec![None; 3]);
    }

    #[test]
    fn chunks_hold_at_most_the_limit_and_about_the_budget() {
        let keys: Vec<u32> = (0..10).collect();
        let narrow = vec![Some(1); 10];
        let lens = |c: Vec<&[u32]>| c.iter().map(|c| c.len()).collect::<Vec<_>>();
        assert_eq!(lens(cut_chunks(&keys, &narrow, 4, 100)), [4, 4, 2]);
        // Small rows, then wide ones: the wide stretch takes chunks of its own size.
        let mixed: Vec<Option<usize>> = (0..10).map(|i| Some(if i < 5 { 1 } else { 40 })).collect();
        assert_eq!(lens(cut_chunks(&keys, &mixed, 100, 100)), [7, 2, 1]);
        // A row larger than the budget goes alone; an unknown size counts as nothing.
        let huge = [Some(500), None, None, Some(500)];
        assert_eq!(lens(cut_chunks(&keys[..4], &huge, 100, 100)), [1, 2, 1]);
    }
}
