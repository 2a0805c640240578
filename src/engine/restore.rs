//! One restore batch: bring quarantined rows of a table back, never over a live row.

use std::collections::{HashMap, HashSet};

use super::erase::{BUNDLE_PLACE, update};
use super::payload::{SealedRow, decode_rows, encode_rows, key_texts};
use super::transaction::in_transaction;
use super::{on_source, on_table};
use crate::config::{AnonRule, OnDelete};
use crate::envelope::DataKey;
use crate::error::UserError;
use crate::source::backend::{Backend, List, Statement, StoreTable, Value};
use crate::source::cell::Cell;
use crate::source::erasure::{RestoreBatch, anonymized, require_primary_key};

/// A key's (or some columns') values in their text form.
type KeyText = Vec<Option<String>>;

/// What one restore run is about: the request, its key, and which rows it may write.
#[derive(Clone, Copy)]
pub struct Restoring<'a> {
    pub request_id: &'a str,
    pub key: &'a DataKey,
    /// To recompute what anonymize wrote, so a value changed since is never overwritten.
    pub installation_key: &'a [u8],
    /// Only the entries with these key hashes (`restore --key`).
    pub only: Option<&'a [Vec<u8>]>,
}

/// Rows a restore holds back because a row they belong to (their parent by a foreign key or
/// the map's `via`) was not restored: per relation, this table's columns, whether they compare
/// ignoring case, and the held values. No row changes owner: a child follows its parent back,
/// or stays in quarantine with it.
#[derive(Debug, Default, Clone)]
pub struct Held(Vec<(Vec<String>, bool, HeldValues)>);

/// The text forms of held rows' values, one entry per row.
type HeldValues = HashSet<Vec<Option<String>>>;

impl Held {
    /// Hold back rows whose `columns` equal `values` (ignoring case with `fold`, as a column
    /// matched with `ignore_case` found them; folding more than the database does holds more
    /// back, never less).
    pub fn hold(&mut self, columns: &[String], fold: bool, values: Vec<Option<String>>) {
        let values = if fold { folded(values) } else { values };
        match self.0.iter_mut().find(|(c, f, _)| c == columns && *f == fold) {
            Some((_, _, set)) => {
                set.insert(values);
            }
            None => self.0.push((columns.to_vec(), fold, HashSet::from([values]))),
        }
    }

    fn holds(&self, row: &SealedRow) -> bool {
        self.0.iter().any(|(columns, fold, set)| {
            let values: Vec<Option<String>> = columns.iter().map(|c| row.get(c).and_then(Cell::key_text)).collect();
            set.contains(&if *fold { folded(values) } else { values })
        })
    }
}

fn folded(values: Vec<Option<String>>) -> Vec<Option<String>> {
    values.into_iter().map(|v| v.map(|v| v.to_lowercase())).collect()
}

/// `request_id = ? AND table_schema = ? AND table_name = ? AND strategy = ? AND id > ?` (and
/// `id <= ?`, for a range one session of several restores), and the key-hash filter when only
/// some rows are wanted.
fn entries_of(
    db: &dyn Backend,
    st: &mut Statement,
    table: usize,
    strategy: OnDelete,
    request_id: &str,
    (after_id, until): (i64, Option<i64>),
    only: Option<&[Vec<u8>]>,
) {
    let name = &db.dialect().source().tables[table].name;
    st.push(" FROM ")
        .push(db.dialect().store_table(StoreTable::Quarantine))
        .push(" WHERE request_id = ")
        .bind(request_id)
        .push(" AND table_schema = ")
        .bind(name.schema.as_str())
        .push(" AND table_name = ")
        .bind(name.name.as_str())
        .push(" AND strategy = ")
        .bind(strategy.name())
        .push(" AND id > ")
        .bind(after_id);
    if let Some(until) = until {
        st.push(" AND id <= ").bind(until);
    }
    if let Some(hashes) = only {
        // A bundle's rows are picked out by their own key hashes once it is opened.
        st.push(" AND (");
        db.dialect().in_list(st, "key_hash", List::Bytes(hashes.to_vec()));
        st.push(" OR sealed_rows IS NOT NULL)");
    }
}

/// Entries [`next_entries`] reads first.
const PROBE: i64 = 64;

/// Bundles a range brings back at most. A bundle holds up to 1 MiB of rows, and a batch holds
/// its bundles, their rows and the INSERT of them in memory, on each session: by rows alone, a
/// range of 2,500 rows of 50 KB documents was 125 bundles, and the restore took 578 MiB of RSS.
/// A bundle of small rows holds a whole batch's (2,500 rows of 200 bytes are half a MiB).
const RANGE_BUNDLES: usize = 2;

/// The sealed bytes of entries of one row (anonymized and flagged rows) a range brings back at
/// most, about as much as [`RANGE_BUNDLES`] bundles: `batch_rows` of them were a batch however
/// wide the anonymized columns were.
const RANGE_BYTES: i64 = 2 << 20;

/// The ids of `table`'s next entries in `range` whose rows add up to at most `limit` (at least
/// one entry): a batch of entries of one row, or the bundles of about as many rows. Read
/// without the sealed data, so a bundle is fetched only by the batch that brings it back.
async fn next_entries(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    range: (i64, Option<i64>),
    limit: i64,
) -> Result<Vec<i64>, UserError> {
    // Bundles first: a few of them hold a batch, and reading `limit` entries of them each
    // batch would read the rest of the table's entries over and over. Only entries of one row
    // (of an earlier release) read on.
    let mut ids = Vec::new();
    for probe in [PROBE.min(limit), limit] {
        let mut st = db.dialect().statement();
        st.push("SELECT id, sealed_rows, length(sealed)");
        entries_of(db, &mut st, table, strategy, run.request_id, range, run.only);
        st.push(" ORDER BY id LIMIT ").bind(probe);
        let rows = db
            .query(st)
            .await
            .map_err(on_source(db, "cannot read the quarantine"))?;
        ids.clear();
        let (mut total, mut bundles, mut bytes) = (0, 0, 0);
        for row in &rows {
            let n = super::store::entry_rows(row.get(1));
            let bundle = row.get(1).and_then(Value::int).is_some();
            let size = if bundle {
                0
            } else {
                row.get(2).and_then(Value::int).unwrap_or(0)
            };
            if !ids.is_empty()
                && (total + n > limit || (bundle && bundles == RANGE_BUNDLES) || bytes + size > RANGE_BYTES)
            {
                break;
            }
            total += n;
            bytes += size;
            bundles += usize::from(bundle);
            ids.push(row.first().and_then(Value::int).unwrap_or_default());
        }
        // Done once the batch is full, or every entry left was read.
        if total >= limit || bytes >= RANGE_BYTES || ids.len() < rows.len() || (rows.len() as i64) < probe {
            break;
        }
    }
    Ok(ids)
}

/// Bring back the next quarantine entries of `table` for the request after entry `after_id`
/// (and up to `until`) that hold up to `limit` rows (at least one entry), optionally only the
/// rows whose key hash is in `only`. A row whose key exists again in the live table (or, for
/// anonymize and flag, no longer exists) is never overwritten: it stays in quarantine (in its
/// bundle, sealed again without the rows that came back) and is reported. A row the table
/// refuses fails the batch with an error whose kind says so ([`UserError::is_refusal`]); the
/// caller then goes row by row.
pub async fn restore_batch(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    held: &Held,
    range: (i64, Option<i64>),
    limit: i64,
) -> Result<RestoreBatch, UserError> {
    let mut done = restore_batches(db, table, strategy, run, held, range, limit, 1).await?;
    Ok(done.remove(0))
}

/// [`restore_batch`] of `range`, then of the ranges after it (up to the same end), up to
/// `batches` in all, in one transaction (a session alone, whose kind's commit is dear): what
/// each did, in order; the last saw nothing when the entries ran out.
#[allow(clippy::too_many_arguments)]
pub async fn restore_batches(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    held: &Held,
    range: (i64, Option<i64>),
    limit: i64,
    batches: usize,
) -> Result<Vec<RestoreBatch>, UserError> {
    in_transaction(db, async {
        let mut done: Vec<RestoreBatch> = Vec::new();
        let mut from = range.0;
        loop {
            let batch = body(db, table, strategy, run, held, (from, range.1), limit).await?;
            let (seen, last) = (batch.seen, batch.last_id);
            done.push(batch);
            if seen == 0 || done.len() >= batches {
                return Ok(done);
            }
            from = last;
        }
    })
    .await
}

async fn body(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    held: &Held,
    range: (i64, Option<i64>),
    limit: i64,
) -> Result<RestoreBatch, UserError> {
    let request_id = run.request_id;
    let config = &db.dialect().source().tables[table];
    let shape = &db.dialect().shapes()[table];
    let pk = require_primary_key(config, shape)?.to_vec();
    let table_name = &config.name;
    let ids = next_entries(db, table, strategy, run, range, limit).await?;
    let Some(&last_id) = ids.last() else {
        return Ok(RestoreBatch::default());
    };
    let mut outcome = RestoreBatch {
        seen: ids.len(),
        last_id,
        ..Default::default()
    };
    let mut read = db.dialect().statement();
    read.push("SELECT id, key_hash, sealed, sealed_rows FROM ")
        .push(db.dialect().store_table(StoreTable::Quarantine))
        .push(" WHERE ");
    db.dialect().in_list(&mut read, "id", List::Ints(ids));
    read.push(" ORDER BY id").push(db.dialect().lock_rows_sql());
    let entries = db
        .query(read)
        .await
        .map_err(on_source(db, "cannot read the quarantine"))?;
    // Each entry read, and the rows of it that stay in quarantine (a bundle's: rows left out
    // by `--key`, or held back).
    let mut read_entries: Vec<(Opened, Vec<SealedRow>)> = Vec::with_capacity(entries.len());
    let mut rows: Vec<(usize, SealedRow)> = Vec::new();
    for entry in entries {
        let mut opened = open_entry(db, table, strategy, run, entry);
        let mut left = Vec::new();
        // A row that does not decrypt (damaged, or sealed under another key) holds back no
        // other: it stays in quarantine and is flagged with its id, so a re-run meets it again
        // and says so again rather than stopping there.
        match opened.rows.take() {
            Some(opened_rows) => {
                for row in opened_rows {
                    if opened.bundle && !wanted(run, &pk, &row) {
                        left.push(row);
                    } else {
                        rows.push((read_entries.len(), row));
                    }
                }
            }
            None => outcome.conflicts.push(format!(
                "{table_name} (quarantine row {}{}): does not decrypt under request {request_id}'s key; left in quarantine",
                opened.id,
                if opened.bundle {
                    format!(", {} rows", opened.count)
                } else {
                    String::new()
                }
            )),
        }
        read_entries.push((opened, left));
    }
    if rows.is_empty() {
        return Ok(outcome);
    }

    // Which keys are live right now decides what may be written; for anonymize, also what the
    // anonymized columns hold now.
    let keys: Vec<Vec<Cell>> = rows.iter().map(|(_, r)| r.cells(&pk)).collect();
    let rules: &[(String, crate::config::AnonRule)] = if strategy == OnDelete::Anonymize {
        &config.anonymize
    } else {
        &[]
    };
    let mut live_query = db.dialect().statement();
    live_query.push("SELECT ").join(&pk, ", ", |st, c| {
        st.push(&db.dialect().read_cell(table, "t0", c));
    });
    let literal_rules = if strategy == OnDelete::Anonymize {
        super::erase::push_literal_checks(db, &mut live_query, table, "t0")
    } else {
        0
    };
    for (column, _) in rules.iter().filter(|(_, r)| !matches!(r, AnonRule::Literal(_))) {
        live_query.push(", ").push(&db.dialect().read_cell(table, "t0", column));
    }
    live_query
        .push(" FROM ")
        .push(&db.dialect().table_sql(table_name))
        .push(" t0 WHERE ");
    db.dialect().key_set(&mut live_query, table, "t0", &pk, &keys);
    live_query.push(db.dialect().lock_rows_sql());
    // Per live key: whether it holds each literal, then the other rule columns' text. A key
    // that several live rows have (the map's `key`, given again since the delete) is not
    // written to: the update would land on all of them.
    let mut live: HashMap<KeyText, (Vec<bool>, KeyText)> = HashMap::new();
    let mut shared_keys: std::collections::HashSet<KeyText> = std::collections::HashSet::new();
    for mut row in db.query(live_query).await.map_err(on_table(db, table))? {
        let rest = row.split_off(pk.len());
        let key = key_texts(&row.into_iter().map(Cell::from_value).collect::<Vec<_>>());
        let (literals, others) = rest.split_at(literal_rules.min(rest.len()));
        let others: Vec<Cell> = others.iter().cloned().map(Cell::from_value).collect();
        let value = (literals.iter().map(Value::bool).collect(), key_texts(&others));
        if live.insert(key.clone(), value).is_some() {
            shared_keys.insert(key);
        }
    }

    let mut restore = Vec::new();
    let mut restored_rows = vec![false; rows.len()];
    for (i, ((id, row), row_key)) in rows.iter().zip(&keys).enumerate() {
        let row_key_texts = key_texts(row_key);
        let now = live.get(&row_key_texts);
        let problem = if held.holds(row) {
            Some("a row it belongs to was not restored")
        } else if shared_keys.contains(&row_key_texts) {
            Some("several live rows have its key")
        } else {
            match (strategy, now) {
                (OnDelete::Quarantine, Some(_)) => Some("its key is in use again"),
                (OnDelete::Quarantine, None) => None,
                (_, None) => Some("the row no longer exists"),
                (OnDelete::Anonymize, Some((literals, values))) => {
                    // Written back only over exactly what this request wrote: a value changed
                    // since (by the application, or a later request) is newer than ours.
                    let mut literals = literals.iter();
                    let mut values = values.iter();
                    let (mut exact, mut shaped) = (Vec::new(), Vec::new());
                    for (column, rule) in rules {
                        let max_len = shape.column(column).and_then(|c| c.max_len);
                        if matches!(rule, AnonRule::Literal(_)) {
                            exact.push(literals.next().copied().unwrap_or(false));
                            shaped.push(false);
                            continue;
                        }
                        let value = values.next().cloned().flatten();
                        exact.push(match row.get(column) {
                            Some(old) => anonymized(rule, old.key_text(), max_len, run.installation_key) == value,
                            // Not sealed (the map changed since): nothing of ours to compare.
                            None => true,
                        });
                        shaped.push(*rule == AnonRule::Hash && super::erase::hash_shaped(&value, max_len));
                    }
                    let ours = rules.is_empty() || super::erase::anonymized_by_us(rules, &exact, &shaped);
                    (!ours).then_some("its anonymized values were changed since")
                }
                (_, Some(_)) => None,
            }
        };
        match problem {
            None => {
                restored_rows[i] = true;
                restore.push((*id, row));
            }
            Some(why) => {
                outcome.conflicts.push(format!(
                    "{table_name} ({}): {why}; left in quarantine",
                    key_shown(&pk, row_key)
                ));
                outcome.kept.push(texts(row));
            }
        }
    }
    if restore.is_empty() {
        return Ok(outcome);
    }
    // A sealed column the table no longer has cannot be written back.
    if let Some(missing) = restore
        .iter()
        .flat_map(|(_, r)| r.columns.iter())
        .find(|c| shape.column(c).is_none())
    {
        return Err(UserError::runtime(format!(
            "table `{table_name}` no longer has column `{missing}`; restore it or map the data by hand"
        )));
    }
    // Rows sealed under another column set (the table changed between batches of one request)
    // are written by their own statement.
    let mut start = 0;
    while start < restore.len() {
        let sealed = &restore[start].1.columns;
        let end = start
            + restore[start..]
                .iter()
                .take_while(|(_, r)| &r.columns == sealed)
                .count();
        write_back(db, table, strategy, &pk, &restore[start..end]).await?;
        start = end;
    }
    // An entry whose every row came back goes; a bundle with rows left keeps them, sealed
    // again in its place (same id, same key hash), in this transaction.
    let mut touched = vec![false; read_entries.len()];
    for ((entry, _), &restored) in rows.iter().zip(&restored_rows) {
        touched[*entry] |= restored;
    }
    for ((entry, row), &restored) in rows.iter().zip(&restored_rows) {
        if touched[*entry] && !restored {
            read_entries[*entry].1.push(row.clone());
        }
    }
    let mut cleared = Vec::new();
    for ((opened, left), &touched) in read_entries.iter().zip(&touched) {
        if !touched {
            continue;
        }
        if left.is_empty() {
            cleared.push(opened.id);
        } else {
            reseal(db, table, run, opened, left).await?;
        }
    }
    super::store::clear_entries(db, cleared, "cannot clear restored rows from the quarantine").await?;
    outcome.restored = restore.len() as u64;
    Ok(outcome)
}

/// A row's key as a conflict names it: `col=value, …` (`NULL` for none).
fn key_shown(pk: &[String], key: &[Cell]) -> String {
    let parts: Vec<String> = pk
        .iter()
        .zip(key)
        .map(|(c, v)| format!("{c}={}", v.key_text().unwrap_or_else(|| "NULL".into())))
        .collect();
    parts.join(", ")
}

/// Whether `run` brings `row` back: every row, or (`restore --key`) those whose key hash it
/// names.
fn wanted(run: &Restoring<'_>, pk: &[String], row: &SealedRow) -> bool {
    run.only
        .is_none_or(|only| only.contains(&run.key.key_hash(&key_texts(&row.cells(pk)))))
}

/// Seal `rows`, what is left of bundle `opened`, back in its place.
async fn reseal(
    db: &dyn Backend,
    table: usize,
    run: &Restoring<'_>,
    opened: &Opened,
    rows: &[SealedRow],
) -> Result<(), UserError> {
    let name = db.dialect().source().tables[table].name.to_string();
    let values: Vec<&[Cell]> = rows.iter().map(|r| r.values.as_slice()).collect();
    let sealed = run.key.seal(
        &encode_rows(&rows[0].columns, &values, db.dialect().typed_payload()),
        &DataKey::place(run.request_id, &name, BUNDLE_PLACE, &opened.key_hash),
    );
    let mut st = db.dialect().statement();
    st.push("UPDATE ")
        .push(db.dialect().store_table(StoreTable::Quarantine))
        .push(" SET sealed = ")
        .bind(sealed)
        .push(", sealed_rows = ")
        .bind(rows.len() as i64)
        .push(" WHERE id = ")
        .bind(opened.id);
    db.execute(st)
        .await
        .map(|_| ())
        .map_err(on_source(db, "cannot keep the rows left in quarantine"))
}

/// Bring back the rows of bundle `id` (`rows`, as opened) one per transaction: each takes its
/// row out of the bundle and seals the rest again in its place (the bundle keeps its id and
/// range, so no entry moves); a row the table refuses stays in the bundle and is flagged with
/// its key and the database's reason, and the rows that belong to it stay too.
async fn bundle_row_by_row(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    held: &Held,
    id: i64,
    rows: &[SealedRow],
) -> Result<RestoreBatch, UserError> {
    let config = &db.dialect().source().tables[table];
    let pk = require_primary_key(config, &db.dialect().shapes()[table])?.to_vec();
    let mut total = RestoreBatch::default();
    for row in rows.iter().filter(|r| wanted(run, &pk, r)) {
        let hash = [run.key.key_hash(&key_texts(&row.cells(&pk)))];
        let single = Restoring {
            only: Some(&hash),
            ..*run
        };
        match super::sessions::retried(|| restore_batch(db, table, strategy, &single, held, (id - 1, Some(id)), 1))
            .await
        {
            Ok(one) => {
                total.restored += one.restored;
                total.conflicts.extend(one.conflicts);
                total.kept.extend(one.kept);
            }
            Err(e) if e.is_refusal() => {
                total.conflicts.push(format!(
                    "{} ({}, quarantined row {id}): the table refused it ({}); left in quarantine",
                    config.name,
                    key_shown(&pk, &row.cells(&pk)),
                    e.message
                ));
                total.kept.push(texts(row));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}

/// Write sealed rows that share one column set back: INSERT for quarantine, UPDATE of the
/// changed columns for anonymize and flag. Generated columns are the server's to compute; an
/// anonymized or flagged row keeps its key.
async fn write_back(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    pk: &[String],
    rows: &[(usize, &SealedRow)],
) -> Result<(), UserError> {
    let shape = &db.dialect().shapes()[table];
    let columns: Vec<String> = rows[0]
        .1
        .columns
        .iter()
        .filter(|c| shape.column(c).is_some_and(|col| !col.generated))
        .filter(|c| strategy == OnDelete::Quarantine || !pk.contains(c))
        .cloned()
        .collect();
    if strategy == OnDelete::Quarantine {
        // A row sealed with exactly the columns written (as rows almost always are) is written
        // from its own cells; only a row sealed otherwise is laid out again.
        let laid_out: Vec<Option<Vec<Cell>>> = rows
            .iter()
            .map(|(_, r)| (*r.columns != columns[..]).then(|| r.cells(&columns)))
            .collect();
        let cells: Vec<&[Cell]> = rows
            .iter()
            .zip(&laid_out)
            .map(|((_, r), own)| own.as_deref().unwrap_or(&r.values))
            .collect();
        let written = match db.bulk_load(table, &columns, &cells) {
            Some(load) => load.await.map_err(on_table(db, table))?,
            None => {
                let mut written = 0;
                for chunk in cells.chunks((db.dialect().max_binds() / columns.len().max(1)).max(1)) {
                    let mut insert = db.dialect().statement();
                    db.dialect().insert_rows(&mut insert, table, &columns, chunk);
                    written += db.execute(insert).await.map_err(on_table(db, table))?;
                }
                written
            }
        };
        if written == cells.len() as u64 {
            return Ok(());
        }
        all_in_table(db, table, pk, rows).await
    } else {
        let updates: Vec<(Vec<Cell>, Vec<Cell>)> = rows.iter().map(|(_, r)| (r.cells(pk), r.cells(&columns))).collect();
        if update(db, table, pk, &columns, &updates).await? == updates.len() as u64 {
            return Ok(());
        }
        all_hold(db, table, pk, &columns, &updates).await
    }
}

/// After a write the table counted other than the rows written: whether every row written
/// back is in the table now, read back by key. A trigger or rule may send a row elsewhere and
/// count nothing (inheritance partitioning's trigger that inserts into a child and returns
/// NULL, a view's `INSTEAD OF` trigger, a conditional `DO INSTEAD` rule): read through the
/// table, which holds its children, such a row is there. One a trigger skipped (PostgreSQL's
/// `BEFORE INSERT` returning NULL, SQLite's `RAISE(IGNORE)`) or a rule sent nowhere is not:
/// that is the table refusing it, so the batch is rolled back and goes a row at a time, and
/// the row left out stays in quarantine, named, where it would have been cleared from it as
/// restored. (No key of the batch was live before the write: the batch checked that first.)
async fn all_in_table(
    db: &dyn Backend,
    table: usize,
    pk: &[String],
    rows: &[(usize, &SealedRow)],
) -> Result<(), UserError> {
    let keys: Vec<Vec<Cell>> = rows.iter().map(|(_, r)| r.cells(pk)).collect();
    let present = read_back(db, table, pk, &[], &keys).await?;
    let missing = keys.iter().filter(|k| !present.contains_key(&key_texts(k))).count();
    if missing == 0 {
        return Ok(());
    }
    Err(UserError::runtime(format!(
        "table `{}` does not hold {missing} of the {} rows written back to it (a trigger or rule kept them out)",
        db.dialect().source().tables[table].name,
        keys.len()
    ))
    .with_db(crate::error::DbErrorKind::CheckViolation))
}

/// After an UPDATE that wrote anonymized or flagged values back and counted other than the rows
/// it was given: whether every row holds what was written, read back by key. A trigger that
/// skips a row's update (PostgreSQL's `BEFORE UPDATE` returning NULL, SQLite's
/// `RAISE(IGNORE)`) leaves it as the delete left it, and its entry would have been cleared as
/// restored, the original values gone: that is the table refusing the row (rolled back, row by
/// row, the entry left in quarantine). MySQL counts only rows whose values changed: a row
/// written back with the values it held reads back the same and is done.
async fn all_hold(
    db: &dyn Backend,
    table: usize,
    pk: &[String],
    columns: &[String],
    updates: &[(Vec<Cell>, Vec<Cell>)],
) -> Result<(), UserError> {
    let keys: Vec<Vec<Cell>> = updates.iter().map(|(k, _)| k.clone()).collect();
    let now = read_back(db, table, pk, columns, &keys).await?;
    let differ = updates
        .iter()
        .filter(|(key, values)| now.get(&key_texts(key)) != Some(&key_texts(values)))
        .count();
    if differ == 0 {
        return Ok(());
    }
    Err(UserError::runtime(format!(
        "table `{}`: {differ} of the {} rows written back do not hold what was written (a trigger kept the update out)",
        db.dialect().source().tables[table].name,
        updates.len()
    ))
    .with_db(crate::error::DbErrorKind::CheckViolation))
}

/// The rows of `table` with `keys` as they are now, read through the table (which holds its
/// children): each key's texts to its `columns`' texts.
async fn read_back(
    db: &dyn Backend,
    table: usize,
    pk: &[String],
    columns: &[String],
    keys: &[Vec<Cell>],
) -> Result<HashMap<KeyText, KeyText>, UserError> {
    let d = db.dialect();
    let mut read = d.statement();
    read.push("SELECT ").join(&[pk, columns].concat(), ", ", |st, c| {
        st.push(&d.read_cell(table, "t0", c));
    });
    read.push(" FROM ")
        .push(&d.table_sql(&d.source().tables[table].name))
        .push(" t0 WHERE ");
    d.key_set(&mut read, table, "t0", pk, keys);
    let texts = |cells: Vec<Value>| key_texts(&cells.into_iter().map(Cell::from_value).collect::<Vec<_>>());
    Ok(db
        .query(read)
        .await
        .map_err(on_table(db, table))?
        .into_iter()
        .map(|mut row| {
            let values = row.split_off(pk.len().min(row.len()));
            (texts(row), texts(values))
        })
        .collect())
}

/// The next quarantine entry of `table` in `range` (to flag one the table refuses), opened.
async fn next_quarantined(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    range: (i64, Option<i64>),
) -> Result<Option<Opened>, UserError> {
    let mut st = db.dialect().statement();
    st.push("SELECT id, key_hash, sealed, sealed_rows");
    entries_of(db, &mut st, table, strategy, run.request_id, range, run.only);
    st.push(" ORDER BY id LIMIT 1");
    let rows = db
        .query(st)
        .await
        .map_err(on_source(db, "cannot read the quarantine"))?;
    Ok(rows
        .into_iter()
        .next()
        .map(|entry| open_entry(db, table, strategy, run, entry)))
}

/// A quarantine entry as read and opened.
struct Opened {
    id: i64,
    key_hash: Vec<u8>,
    /// A bundle: many rows of a quarantined batch in one entry.
    bundle: bool,
    /// The rows the entry says it holds.
    count: i64,
    /// Its rows, when it opens under the request's key at its place.
    rows: Option<Vec<SealedRow>>,
}

/// A quarantine entry as read (`id, key_hash, sealed, sealed_rows`), opened under the request's
/// key at its place (request, table, strategy or bundle, key hash). A bundle whose rows are not
/// as many as it says, or that is filed under another strategy than `quarantine`, does not
/// open either.
fn open_entry(db: &dyn Backend, table: usize, strategy: OnDelete, run: &Restoring<'_>, entry: Vec<Value>) -> Opened {
    let mut values = entry.into_iter();
    let id = values.next().and_then(|v| v.int()).unwrap_or_default();
    let key_hash = values.next().and_then(Value::bytes).unwrap_or_default();
    let sealed = values.next().and_then(Value::bytes).unwrap_or_default();
    let bundle_rows = values.next().and_then(|v| v.int());
    let name = db.dialect().source().tables[table].name.to_string();
    let typed = db.dialect().typed_payload();
    let rows = match bundle_rows {
        // Only `quarantine` seals bundles: one under another strategy's name (an edited
        // quarantine) would have its rows written over live ones by UPDATE.
        Some(_) if strategy != OnDelete::Quarantine => None,
        Some(count) => run
            .key
            .open(&sealed, &DataKey::place(run.request_id, &name, BUNDLE_PLACE, &key_hash))
            .ok()
            .and_then(|plain| decode_rows(&plain, typed).ok())
            .filter(|rows| rows.len() as i64 == count),
        None => run
            .key
            .open(
                &sealed,
                &DataKey::place(run.request_id, &name, strategy.name(), &key_hash),
            )
            .ok()
            .and_then(|plain| SealedRow::decode(&plain, typed).ok())
            .map(|row| vec![row]),
    };
    Opened {
        id,
        key_hash,
        bundle: bundle_rows.is_some(),
        count: bundle_rows.unwrap_or(1),
        rows,
    }
}

/// A row's old values in their text form, by column (what holding its children compares).
fn texts(row: &SealedRow) -> HashMap<String, Option<String>> {
    row.columns
        .iter()
        .cloned()
        .zip(row.values.iter().map(Cell::key_text))
        .collect()
}

/// The id of the last quarantine entry of `table` after `after` whose rows, with those of
/// the entries before it, add up to at most `limit` (the first one's at least; `None` when no
/// entry is left): the end of the next range a session of several restores.
pub(super) async fn range_end(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    after: i64,
    limit: i64,
) -> Result<Option<i64>, UserError> {
    Ok(next_entries(db, table, strategy, run, (after, None), limit)
        .await?
        .last()
        .copied())
}

/// Restore up to `limit` entries of `range` one per transaction, flagging each that the live
/// table refuses (with the database's reason) instead of failing the whole restore.
pub(super) async fn one_by_one(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    held: &Held,
    (mut after, until): (i64, Option<i64>),
    limit: i64,
) -> Result<RestoreBatch, UserError> {
    let mut total = RestoreBatch {
        last_id: after,
        ..Default::default()
    };
    for _ in 0..limit {
        match super::sessions::retried(|| restore_batch(db, table, strategy, run, held, (after, until), 1)).await {
            Ok(single) if single.seen == 0 => break,
            Ok(single) => {
                total.seen += single.seen;
                total.restored += single.restored;
                total.conflicts.extend(single.conflicts);
                total.kept.extend(single.kept);
                after = single.last_id;
            }
            Err(e) if e.is_refusal() => {
                let Some(opened) = next_quarantined(db, table, strategy, run, (after, until)).await? else {
                    break;
                };
                let id = opened.id;
                if let (true, Some(rows)) = (opened.bundle, &opened.rows) {
                    let one = bundle_row_by_row(db, table, strategy, run, held, id, rows).await?;
                    total.seen += 1;
                    total.restored += one.restored;
                    total.conflicts.extend(one.conflicts);
                    total.kept.extend(one.kept);
                    after = id;
                    total.last_id = after;
                    continue;
                }
                // Its children stay with it (when its values are known).
                total.kept.extend(opened.rows.iter().flatten().map(texts));
                total.seen += 1;
                total.conflicts.push(format!(
                    "{} (quarantined row {id}): the table refused it ({}); left in quarantine",
                    db.dialect().source().tables[table].name,
                    e.message
                ));
                after = id;
            }
            Err(e) => return Err(e),
        }
        total.last_id = after;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(email: &str) -> SealedRow {
        SealedRow {
            columns: vec!["email".into()].into(),
            values: vec![Cell::Text(email.into())],
        }
    }

    #[test]
    fn a_column_matched_ignoring_case_holds_every_spelling() {
        let mut held = Held::default();
        held.hold(
            &["email".to_string()],
            true,
            vec![Some("Customer-1@Example.com".into())],
        );
        assert!(held.holds(&row("customer-1@example.com")));
        assert!(held.holds(&row("CUSTOMER-1@EXAMPLE.COM")));
        assert!(!held.holds(&row("customer-2@example.com")));
        let mut exact = Held::default();
        exact.hold(
            &["email".to_string()],
            false,
            vec![Some("Customer-1@Example.com".into())],
        );
        assert!(!exact.holds(&row("customer-1@example.com")));
        assert!(exact.holds(&row("Customer-1@Example.com")));
    }
}
