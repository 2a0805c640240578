//! One erase batch: take the next captured keys of a table, change their live rows by the
//! table's strategy, seal the old values into quarantine, all in one transaction.

use super::payload::{SealedRow, TextBundles, encode_key, encode_rows, key_texts};
use super::plan::{Chunk, mark_done, next_chunk};
use super::transaction::in_transaction;
use super::{on_source, on_table};
use crate::config::{AnonRule, OnDelete};
use crate::envelope::DataKey;
use crate::error::UserError;
use crate::source::backend::{
    Backend, QUARANTINE_COLUMNS, QuarantineBatch, RowUpdates, SealedEntry, Statement, StoreTable, Value,
};
use crate::source::cell::Cell;
use crate::source::erasure::{ErasedBatch, anonymized, check_sealed_all, require_primary_key, sealed_columns};
use crate::source::quote::qualified;

/// Change the rows of `first` of `table`'s plan according to the table's strategy and mark it
/// done, then, up to `chunks` chunks in all, the chunks of the plan after it, all in one
/// transaction (a chunk already done, by a run that raced this one, rolls it all back).
/// Returns what each chunk did, in order, and the position of the last.
pub async fn erase_chunks(
    db: &dyn Backend,
    table: usize,
    first: Chunk,
    chunks: usize,
    request_id: &str,
    key: &DataKey,
    installation_key: &[u8],
) -> Result<(Vec<ErasedBatch>, i64), UserError> {
    in_transaction(db, async {
        let mut chunk = first;
        let mut batches = Vec::new();
        loop {
            let position = chunk.position;
            batches.push(body(db, table, chunk, request_id, key, installation_key).await?);
            if batches.len() >= chunks {
                return Ok((batches, position));
            }
            match next_chunk(db, table, request_id, key, position).await? {
                Some(next) => chunk = next,
                None => return Ok((batches, position)),
            }
        }
    })
    .await
}

async fn body(
    db: &dyn Backend,
    table: usize,
    chunk: Chunk,
    request_id: &str,
    key: &DataKey,
    installation_key: &[u8],
) -> Result<ErasedBatch, UserError> {
    let config = &db.dialect().source().tables[table];
    let pk = require_primary_key(config, &db.dialect().shapes()[table])?.to_vec();
    let strategy = config.on_delete;
    let name = db.dialect().table_sql(&config.name);

    let Chunk { position, keys } = chunk;

    // The old values of what changes: every column for quarantine; the key and the changed
    // columns for anonymize and flag.
    let columns: std::sync::Arc<[String]> = sealed_columns(config, &db.dialect().shapes()[table], &pk)?.into();
    let read = |st: &mut crate::source::backend::Statement, alias: &str| {
        st.join(&columns, ", ", |st, c| {
            st.push(&db.dialect().read_cell(table, alias, c));
        });
    };
    // Quarantined rows are read by the DELETE that removes them where the database can: one
    // statement, and one lookup of each key, instead of a locking read and a delete.
    let delete_returning = match strategy {
        OnDelete::Quarantine => db.dialect().delete_returning(&config.name),
        _ => None,
    };
    let returning = delete_returning.is_some();
    let mut select = db.dialect().statement();
    let mut literals = 0;
    if let Some((delete, alias)) = delete_returning {
        select.push(&delete).push(" WHERE ");
        db.dialect().key_set(&mut select, table, &alias, &pk, &keys);
        select.push(" RETURNING ");
        read(&mut select, &alias);
    } else {
        select.push("SELECT ");
        read(&mut select, "t0");
        if strategy == OnDelete::Anonymize {
            literals = push_literal_checks(db, &mut select, table, "t0");
        }
        select.push(" FROM ").push(&name).push(" t0 WHERE ");
        db.dialect().key_set(&mut select, table, "t0", &pk, &keys);
        select.push(db.dialect().lock_rows_sql());
    }
    // A quarantined batch read as text (PostgreSQL, MariaDB) is encoded as its rows arrive.
    let typed = db.dialect().typed_payload();
    let (moved, entries) = if returning && !typed {
        returned_bundles(db, table, select, &columns, pk.len(), keys.len(), request_id, key).await?
    } else {
        let mut rows = Vec::new();
        let fetched = db.query_exact(select).await.map_err(on_table(db, table))?;
        // A key singles out one row (a primary key, or the map's `key`, checked when planned): a key
        // met twice, or more rows than keys, means a row was given a planned key since, and would be
        // taken unplanned. A primary key cannot repeat: only the map's `key` is checked row by row.
        let mut met = std::collections::HashSet::new();
        let repeated = db.dialect().shapes()[table].key_from_map
            && fetched.iter().any(|row| {
                let cells: Vec<Cell> = row[..pk.len()].iter().cloned().map(Cell::from_value).collect();
                !met.insert(key_texts(&cells))
            });
        if repeated || fetched.len() > keys.len() {
            return Err(unplanned_rows(request_id, &config.name, fetched.len(), keys.len()));
        }
        for mut row in fetched {
            let holds_literals: Vec<bool> = row.split_off(row.len() - literals).iter().map(Value::bool).collect();
            let row = SealedRow {
                columns: columns.clone(),
                values: row.into_iter().map(Cell::from_value).collect(),
            };
            // A row that already holds what the rules write (anonymized by an earlier request) has
            // nothing left to change: sealing it would keep an anonymized copy that a restore could
            // write over the original.
            if strategy == OnDelete::Anonymize && already_anonymized(db, table, &row, &holds_literals, installation_key)
            {
                continue;
            }
            rows.push(row);
        }
        // The rows' keys, for the statements that change rows by key and for the entries of rows
        // changed in place; a bundle needs only its first row's.
        let row_keys: Vec<Vec<Cell>> = if strategy == OnDelete::Quarantine && returning {
            Vec::new()
        } else {
            rows.iter().map(|r| r.values[..pk.len()].to_vec()).collect()
        };

        match strategy {
            OnDelete::Quarantine if !returning && !rows.is_empty() => {
                let mut delete = db.dialect().statement();
                delete.push(&db.dialect().delete_from(&name, "t0")).push(" WHERE ");
                db.dialect().key_set(&mut delete, table, "t0", &pk, &row_keys);
                let deleted = db.execute(delete).await.map_err(on_table(db, table))?;
                // What left the table is exactly what is sealed below.
                check_sealed_all(request_id, &config.name, deleted as usize, rows.len() as u64)?;
            }
            OnDelete::Anonymize => anonymize(db, table, &pk, &rows, installation_key).await?,
            OnDelete::Flag if !rows.is_empty() => {
                if let Some(column) = &config.flag_column {
                    let value = if db.dialect().is_boolean(table, column) {
                        db.dialect().true_sql().to_string()
                    } else {
                        db.dialect().flag_time_sql(table, column)
                    };
                    let mut flag = db.dialect().statement();
                    flag.push(&format!(
                        "UPDATE {name} AS t0 SET {} = {value} WHERE ",
                        crate::source::quote::ident(column)
                    ));
                    db.dialect().key_set(&mut flag, table, "t0", &pk, &row_keys);
                    db.execute(flag).await.map_err(on_table(db, table))?;
                }
            }
            _ => {}
        }

        // Seal the old rows under the request's data key, bound to where they belong: a
        // quarantined batch as bundles (one entry for many rows: the quarantine's cost per row was
        // most of an erasure's), a row changed in place on its own (a completion check finds it by
        // its key's hash, and purge deletes a flagged row by its key).
        let place_name = config.name.to_string();
        let entries: Vec<SealedEntry> = if strategy == OnDelete::Quarantine {
            bundles(&rows, typed)
                .into_iter()
                .map(|range| {
                    let values: Vec<&[Cell]> = rows[range.clone()].iter().map(|r| r.values.as_slice()).collect();
                    bundle_entry(
                        key,
                        request_id,
                        &place_name,
                        &key_texts(&rows[range.start].values[..pk.len()]),
                        &encode_rows(&columns, &values, typed),
                        range.len(),
                    )
                })
                .collect()
        } else {
            rows.iter()
                .zip(&row_keys)
                .map(|(row, row_key)| {
                    let key_hash = key.key_hash(&key_texts(row_key));
                    let sealed = key.seal(
                        &row.encode(typed),
                        &DataKey::place(request_id, &place_name, strategy.name(), &key_hash),
                    );
                    SealedEntry {
                        key_hash,
                        sealed,
                        flag_key: (strategy == OnDelete::Flag).then(|| encode_key(row_key, typed)),
                        rows: None,
                    }
                })
                .collect()
        };
        (rows.len() as u64, entries)
    };
    let mut written = 0;
    for chunk in statement_chunks(&entries, (db.dialect().max_binds() / 10).max(1)) {
        let mut insert = db.dialect().statement();
        insert.push(&format!(
            "INSERT INTO {} {QUARANTINE_COLUMNS} ",
            db.dialect().store_table(StoreTable::Quarantine)
        ));
        db.dialect().push_quarantine_rows(
            &mut insert,
            &QuarantineBatch {
                request_id,
                table: &config.name,
                strategy: strategy.name(),
                entries: chunk,
            },
        );
        let inserted = db
            .execute(insert)
            .await
            .map_err(on_source(db, "cannot write to the quarantine"))?;
        // Rows, not entries: a bundle holds many. An insert that wrote fewer entries than it
        // was given (the request is not registered) counts what it wrote, and fails below.
        written += if inserted == chunk.len() as u64 {
            chunk.iter().map(|e| e.rows.unwrap_or(1) as u64).sum()
        } else {
            inserted
        };
    }
    check_sealed_all(request_id, &config.name, moved as usize, written)?;
    mark_done(db, table, request_id, position).await?;
    Ok(ErasedBatch { moved })
}

/// The refusal of a batch whose keys found more rows than it has keys, or a key twice.
fn unplanned_rows(request_id: &str, table: &crate::config::TableName, rows: usize, keys: usize) -> UserError {
    UserError::runtime(format!(
        "request {request_id}, table {table}: {rows} rows have the {keys} keys of this batch; the batch was rolled back, nothing changed"
    ))
    .with_hint("another row was given the key of a planned row since the plan was made; make the key single out each row again, then run dsar resume")
}

/// Run `delete` (a `DELETE … RETURNING` of the batch's `planned` keys) and seal the rows it
/// returns as bundles of the text form, encoded as they arrive ([`TextBundles`]); how many
/// rows, and the entries. The checks are those of a batch read as cells: no more rows than
/// keys, and no key met twice where the map's `key` is not unique by constraint.
#[allow(clippy::too_many_arguments)]
async fn returned_bundles(
    db: &dyn Backend,
    table: usize,
    delete: Statement,
    columns: &[String],
    key_width: usize,
    planned: usize,
    request_id: &str,
    key: &DataKey,
) -> Result<(u64, Vec<SealedEntry>), UserError> {
    let config = &db.dialect().source().tables[table];
    let check_keys = db.dialect().shapes()[table].key_from_map;
    let mut writer = TextBundles::new(columns, key_width, BUNDLE_BYTES);
    let mut met = std::collections::HashSet::new();
    let mut repeated = false;
    let count = db
        .text_rows(delete, &mut |row| {
            if check_keys {
                let texts: Vec<Option<String>> = row[..key_width].iter().map(|v| v.map(str::to_string)).collect();
                repeated |= !met.insert(texts);
            }
            writer.push(row);
        })
        .await
        .map_err(on_table(db, table))?;
    if repeated || count as usize > planned {
        return Err(unplanned_rows(request_id, &config.name, count as usize, planned));
    }
    let place_name = config.name.to_string();
    let entries = writer
        .finish()
        .into_iter()
        .map(|bundle| {
            bundle_entry(
                key,
                request_id,
                &place_name,
                &bundle.first_key,
                &bundle.encoded,
                bundle.rows,
            )
        })
        .collect();
    Ok((count, entries))
}

/// A quarantine entry of `rows` rows whose encoded bundle is `encoded`: sealed under the hash
/// of its first row's key texts, in its request and table.
fn bundle_entry(
    key: &DataKey,
    request_id: &str,
    table: &str,
    first_key: &[Option<String>],
    encoded: &[u8],
    rows: usize,
) -> SealedEntry {
    let key_hash = key.key_hash(first_key);
    let sealed = key.seal(encoded, &DataKey::place(request_id, table, BUNDLE_PLACE, &key_hash));
    SealedEntry {
        key_hash,
        sealed,
        flag_key: None,
        rows: Some(rows as i64),
    }
}

/// Where a bundle is sealed: its request, table and first key hash, under a name of its own, so
/// an entry of one row cannot be passed off as a bundle or the other way round.
pub(super) const BUNDLE_PLACE: &str = "quarantine rows";

/// The plaintext a bundle holds at most (about; a row larger than this is a bundle of its own):
/// a few of them fit in one statement whatever the server's packet limit (MariaDB's default is
/// 16 MiB), and a restore that must rewrite one (a row left behind) rewrites little.
const BUNDLE_BYTES: usize = 1 << 20;

/// The sealed bytes one INSERT carries at most.
const STATEMENT_BYTES: usize = 8 << 20;

/// `rows` cut into bundles of consecutive rows of at most [`BUNDLE_BYTES`] each (by their
/// encoded size).
fn bundles(rows: &[SealedRow], typed: bool) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        // A row's values as the bundle encodes them, plus its brackets and commas.
        let len: usize = row
            .values
            .iter()
            .map(|c| {
                let text = match c {
                    Cell::Text(t) | Cell::Blob(t) => t.len(),
                    Cell::Null => 4,
                    Cell::Integer(_) | Cell::Real(_) => 24,
                };
                text + if typed { 16 } else { 3 }
            })
            .sum::<usize>()
            + 3;
        if i > start && size + len > BUNDLE_BYTES {
            out.push(start..i);
            (start, size) = (i, 0);
        }
        size += len;
    }
    if start < rows.len() {
        out.push(start..rows.len());
    }
    out
}

/// `entries` in groups of at most `max` that carry at most [`STATEMENT_BYTES`] of sealed data
/// (an entry larger than that goes alone).
fn statement_chunks(entries: &[SealedEntry], max: usize) -> Vec<&[SealedEntry]> {
    let mut out = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (i, entry) in entries.iter().enumerate() {
        if i > start && (i - start >= max || size + entry.sealed.len() > STATEMENT_BYTES) {
            out.push(&entries[start..i]);
            (start, size) = (i, 0);
        }
        size += entry.sealed.len();
    }
    if start < entries.len() {
        out.push(&entries[start..]);
    }
    out
}

/// Append, for each literal rule of `table`, whether the row aliased `alias` holds that literal
/// as the database compares values of the column's type (an inet `192.0.2.1` reads back as
/// `192.0.2.1/32`; a decimal `0` as `0.00`). Returns how many columns were appended.
pub(super) fn push_literal_checks(db: &dyn Backend, st: &mut Statement, table: usize, alias: &str) -> usize {
    let d = db.dialect();
    let mut n = 0;
    for (column, rule) in &d.source().tables[table].anonymize {
        if let AnonRule::Literal(text) = rule {
            st.push(", ");
            d.push_same_value(st, table, alias, column, text);
            n += 1;
        }
    }
    n
}

/// Whether every anonymized column of `row` already holds what its rule writes;
/// `holds_literals` answers for the literal rules, in order (see [`push_literal_checks`]).
fn already_anonymized(
    db: &dyn Backend,
    table: usize,
    row: &SealedRow,
    holds_literals: &[bool],
    installation_key: &[u8],
) -> bool {
    let rules: &[(String, AnonRule)] = &db.dialect().source().tables[table].anonymize;
    let mut literal = holds_literals.iter();
    let (mut exact, mut shaped) = (Vec::new(), Vec::new());
    for (column, rule) in rules {
        let max_len = db.dialect().shapes()[table].column(column).and_then(|c| c.max_len);
        let now = row.get(column).and_then(Cell::key_text);
        exact.push(match rule {
            AnonRule::Literal(_) => literal.next().copied().unwrap_or(false),
            // The hash of the original cannot be recomputed from the hash.
            AnonRule::Hash => false,
            _ => anonymized(rule, now.clone(), max_len, installation_key) == now,
        });
        shaped.push(*rule == AnonRule::Hash && hash_shaped(&now, max_len));
    }
    anonymized_by_us(rules, &exact, &shaped)
}

/// Whether a row holds what the rules write: every rule's column exactly, except that a `hash`
/// (which cannot always be recomputed: the original is gone, or another installation key wrote
/// it) may match by its shape — but only when a `redact` column of the same row proves that
/// dsar anonymized it. A hash's shape alone proves nothing: a card or phone number has it.
pub(super) fn anonymized_by_us(rules: &[(String, AnonRule)], exact: &[bool], shaped: &[bool]) -> bool {
    let proven = rules
        .iter()
        .zip(exact)
        .any(|((_, rule), &e)| *rule == AnonRule::Redact && e);
    !rules.is_empty()
        && rules
            .iter()
            .zip(exact.iter().zip(shaped))
            .all(|((_, rule), (&e, &s))| e || (*rule == AnonRule::Hash && s && proven))
}

/// Whether `value` has the shape `hash` writes: 16 hex digits, cut to the column's length, as
/// [`anonymized`] writes them.
pub(super) fn hash_shaped(value: &Option<String>, max_len: Option<usize>) -> bool {
    let len = max_len.map_or(16, |n| n.min(16));
    value
        .as_ref()
        .is_some_and(|v| v.len() == len && v.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// Write each rule's value over the rows' old ones: one UPDATE per chunk of rows.
async fn anonymize(
    db: &dyn Backend,
    table: usize,
    pk: &[String],
    rows: &[SealedRow],
    installation_key: &[u8],
) -> Result<(), UserError> {
    let rules: &[(String, AnonRule)] = &db.dialect().source().tables[table].anonymize;
    if rows.is_empty() || rules.is_empty() {
        return Ok(());
    }
    let columns: Vec<String> = rules.iter().map(|(c, _)| c.clone()).collect();
    let updates: Vec<(Vec<Cell>, Vec<Cell>)> = rows
        .iter()
        .map(|row| {
            let new = rules
                .iter()
                .map(|(column, rule)| {
                    let max_len = db.dialect().shapes()[table].column(column).and_then(|c| c.max_len);
                    let old = row.get(column).and_then(Cell::key_text);
                    Cell::from_text(anonymized(rule, old, max_len, installation_key))
                })
                .collect();
            (row.values[..pk.len()].to_vec(), new)
        })
        .collect();
    update(db, table, pk, &columns, &updates).await.map(|_| ())
}

/// `update_rows` in chunks that fit the database's limit on bound values and hold about
/// [`UPDATE_BYTES`] of values each; the rows the database counted as updated (MySQL counts
/// only those whose values changed).
pub(super) async fn update(
    db: &dyn Backend,
    table: usize,
    pk: &[String],
    columns: &[String],
    rows: &[(Vec<Cell>, Vec<Cell>)],
) -> Result<u64, UserError> {
    if rows.is_empty() || columns.is_empty() {
        return Ok(rows.len() as u64);
    }
    let mut updated = 0;
    let most = (db.dialect().max_binds() / (pk.len() + columns.len())).max(1);
    for chunk in update_chunks(rows, most, UPDATE_BYTES) {
        let mut st = db.dialect().statement();
        db.dialect().update_rows(
            &mut st,
            &RowUpdates {
                table,
                key: pk,
                columns,
                rows: chunk,
            },
        );
        updated += db.execute(st).await.map_err(on_table(db, table))?;
    }
    Ok(updated)
}

/// The values one UPDATE of many rows writes at most, counted as its rows times its widest row
/// (a row wider than this goes alone). MariaDB (10.11) builds the statement's rows into a
/// temporary table; of values over 16 KiB, 250 rows of 20 KB or 120 of 65 KB (a restore writing
/// back anonymized documents) failed with "Table file is corrupted" where 200 and 60 did not.
const UPDATE_BYTES: usize = 1 << 20;

/// `rows` in order, in groups of at most `most` whose row count times their widest row's
/// values comes to at most `budget` bytes (at least one row a group).
fn update_chunks(rows: &[(Vec<Cell>, Vec<Cell>)], most: usize, budget: usize) -> Vec<&[(Vec<Cell>, Vec<Cell>)]> {
    let width = |(key, values): &(Vec<Cell>, Vec<Cell>)| -> usize {
        key.iter()
            .chain(values)
            .map(|c| match c {
                Cell::Text(t) | Cell::Blob(t) => t.len(),
                _ => 8,
            })
            .sum()
    };
    let mut out = Vec::new();
    let (mut start, mut widest) = (0, 0);
    for (i, row) in rows.iter().enumerate() {
        let w = width(row).max(widest);
        if i > start && (i - start >= most || (i - start + 1) * w > budget) {
            out.push(&rows[start..i]);
            (start, widest) = (i, width(row));
        } else {
            widest = w;
        }
    }
    if start < rows.len() {
        out.push(&rows[start..]);
    }
    out
}

/// The next `limit` captured keys of `table` after `after`, in key order: each batch costs the
/// same however far the erasure has come.
pub(super) async fn take_pending(
    db: &dyn Backend,
    table: usize,
    pk: &[String],
    after: Option<&[Cell]>,
    limit: i64,
) -> Result<Vec<Vec<Cell>>, UserError> {
    let mut take = db.dialect().statement();
    take.push("SELECT ")
        .join(pk, ", ", |st, c| {
            st.push(&db.dialect().read_cell(table, "p", c));
        })
        .push(" FROM ")
        .push(&db.dialect().pending_table(table))
        .push(" p");
    if let Some(after) = after {
        take.push(" WHERE (")
            .push(&qualified("p", pk))
            .push(") > (")
            .join(&pk.iter().zip(after).collect::<Vec<_>>(), ", ", |st, (c, cell)| {
                db.dialect().bind_cell(st, table, c, cell);
            })
            .push(")");
    }
    take.push(" ORDER BY ")
        .push(&qualified("p", pk))
        .push(" LIMIT ")
        .bind(limit);
    Ok(db
        .query(take)
        .await
        .map_err(on_source(db, "cannot take a batch"))?
        .into_iter()
        .map(|row| row.into_iter().map(Cell::from_value).collect())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(width: usize) -> (Vec<Cell>, Vec<Cell>) {
        (vec![Cell::Integer(1)], vec![Cell::Text("x".repeat(width))])
    }

    #[test]
    fn an_update_holds_its_rows_times_its_widest_within_the_budget() {
        let lens = |rows: &[(Vec<Cell>, Vec<Cell>)], most, budget| {
            update_chunks(rows, most, budget)
                .iter()
                .map(|c| c.len())
                .collect::<Vec<_>>()
        };
        // Narrow rows: the bound-value limit decides.
        assert_eq!(lens(&vec![row(2); 7], 3, 1000), [3, 3, 1]);
        // 100-byte rows (108 with the key), 1,000 bytes: nine a statement.
        assert_eq!(lens(&vec![row(100); 20], 100, 1000), [9, 9, 2]);
        // Narrow rows, then a wide one: the wide one counts for every row beside it, so it
        // starts a statement of its own; narrow rows after it join it while they fit.
        let mut mixed = vec![row(10); 5];
        mixed.extend([row(292), row(10), row(10), row(10)]);
        assert_eq!(lens(&mixed, 100, 1000), [5, 3, 1]);
        // A row wider than the budget goes alone.
        assert_eq!(lens(&[row(10), row(5000), row(10)], 100, 1000), [1, 1, 1]);
    }
}
