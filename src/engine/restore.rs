//! One restore batch: bring quarantined rows of a table back, never over a live row.

use std::collections::{HashMap, HashSet};

use super::erase::update;
use super::payload::{SealedRow, key_texts};
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
        st.push(" AND ");
        db.dialect().in_list(st, "key_hash", List::Bytes(hashes.to_vec()));
    }
}

/// Bring back up to `limit` quarantine entries of `table` for the request, after entry
/// `after_id` (and up to `until`), optionally only those whose key hash is in `only`. A row whose key exists again in
/// the live table (or, for anonymize and flag, no longer exists) is never overwritten: it stays
/// in quarantine and is reported. A row the table refuses fails the batch with an error whose
/// kind says so ([`UserError::is_refusal`]); the caller then goes row by row.
pub async fn restore_batch(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    held: &Held,
    range: (i64, Option<i64>),
    limit: i64,
) -> Result<RestoreBatch, UserError> {
    in_transaction(db, body(db, table, strategy, run, held, range, limit)).await
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
    let (request_id, only) = (run.request_id, run.only);
    let config = &db.dialect().source().tables[table];
    let shape = &db.dialect().shapes()[table];
    let pk = require_primary_key(config, shape)?.to_vec();
    let table_name = &config.name;
    let mut read = db.dialect().statement();
    read.push("SELECT id, key_hash, sealed");
    entries_of(db, &mut read, table, strategy, request_id, range, only);
    read.push(" ORDER BY id LIMIT ")
        .bind(limit)
        .push(db.dialect().lock_rows_sql());
    let entries = db
        .query(read)
        .await
        .map_err(on_source(db, "cannot read the quarantine"))?;
    let mut outcome = RestoreBatch {
        seen: entries.len(),
        ..Default::default()
    };
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let (id, opened) = open_entry(db, table, strategy, run, entry);
        outcome.last_id = id;
        // A row that does not decrypt (damaged, or sealed under another key) holds back no
        // other: it stays in quarantine and is flagged with its id, so a re-run meets it again
        // and says so again rather than stopping there.
        match opened {
            Some(row) => rows.push((id, row)),
            None => outcome.conflicts.push(format!(
                "{table_name} (quarantine row {id}): does not decrypt under request {request_id}'s key; left in quarantine"
            )),
        }
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
    for ((id, row), row_key) in rows.iter().zip(&keys) {
        let now = live.get(&key_texts(row_key));
        let problem = if held.holds(row) {
            Some("a row it belongs to was not restored")
        } else if shared_keys.contains(&key_texts(row_key)) {
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
            None => restore.push((*id, row)),
            Some(why) => {
                let parts: Vec<String> = pk
                    .iter()
                    .zip(row_key)
                    .map(|(c, v)| format!("{c}={}", v.key_text().unwrap_or_else(|| "NULL".into())))
                    .collect();
                outcome.conflicts.push(format!(
                    "{table_name} ({}): {why}; left in quarantine",
                    parts.join(", ")
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
    let ids: Vec<i64> = restore.iter().map(|(id, _)| *id).collect();
    super::store::clear_entries(db, ids, "cannot clear restored rows from the quarantine").await?;
    outcome.restored = restore.len() as u64;
    Ok(outcome)
}

/// Write sealed rows that share one column set back: INSERT for quarantine, UPDATE of the
/// changed columns for anonymize and flag. Generated columns are the server's to compute; an
/// anonymized or flagged row keeps its key.
async fn write_back(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    pk: &[String],
    rows: &[(i64, &SealedRow)],
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
        let cells: Vec<Vec<Cell>> = rows.iter().map(|(_, r)| r.cells(&columns)).collect();
        for chunk in cells.chunks((db.dialect().max_binds() / columns.len().max(1)).max(1)) {
            let mut insert = db.dialect().statement();
            db.dialect().insert_rows(&mut insert, table, &columns, chunk);
            db.execute(insert).await.map_err(on_table(db, table))?;
        }
        Ok(())
    } else {
        let updates: Vec<(Vec<Cell>, Vec<Cell>)> = rows.iter().map(|(_, r)| (r.cells(pk), r.cells(&columns))).collect();
        update(db, table, pk, &columns, &updates).await
    }
}

/// The next quarantine entry of `table` in `range` (to flag one the table refuses): its id
/// and, when it decrypts, its old values, so the rows that belong to it can be held back too.
async fn next_quarantined(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    range: (i64, Option<i64>),
) -> Result<Option<(i64, Option<HashMap<String, Option<String>>>)>, UserError> {
    let mut st = db.dialect().statement();
    st.push("SELECT id, key_hash, sealed");
    entries_of(db, &mut st, table, strategy, run.request_id, range, run.only);
    st.push(" ORDER BY id LIMIT 1");
    let rows = db
        .query(st)
        .await
        .map_err(on_source(db, "cannot read the quarantine"))?;
    let Some(entry) = rows.into_iter().next() else {
        return Ok(None);
    };
    let (id, row) = open_entry(db, table, strategy, run, entry);
    let row = row.as_ref().map(texts);
    Ok(Some((id, row)))
}

/// A quarantine entry as read (`id, key_hash, sealed`): its id, and its old row when it opens
/// under the request's key at its place (request, table, strategy, key hash).
fn open_entry(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    entry: Vec<Value>,
) -> (i64, Option<SealedRow>) {
    let mut values = entry.into_iter();
    let id = values.next().and_then(|v| v.int()).unwrap_or_default();
    let hash = values.next().and_then(Value::bytes).unwrap_or_default();
    let sealed = values.next().and_then(Value::bytes).unwrap_or_default();
    let name = db.dialect().source().tables[table].name.to_string();
    let row = run
        .key
        .open(&sealed, &DataKey::place(run.request_id, &name, strategy.name(), &hash))
        .ok()
        .and_then(|plain| SealedRow::decode(&plain, db.dialect().typed_payload()).ok());
    (id, row)
}

/// A row's old values in their text form, by column (what holding its children compares).
fn texts(row: &SealedRow) -> HashMap<String, Option<String>> {
    row.columns
        .iter()
        .cloned()
        .zip(row.values.iter().map(Cell::key_text))
        .collect()
}

/// The id of the `limit`-th quarantine entry of `table` after `after` (the last one when fewer
/// are left; `None` when none is): the end of the next range a session of several restores.
pub(super) async fn range_end(
    db: &dyn Backend,
    table: usize,
    strategy: OnDelete,
    run: &Restoring<'_>,
    after: i64,
    limit: i64,
) -> Result<Option<i64>, UserError> {
    let mut st = db.dialect().statement();
    st.push("SELECT max(id) FROM (SELECT id");
    entries_of(db, &mut st, table, strategy, run.request_id, (after, None), run.only);
    st.push(" ORDER BY id LIMIT ").bind(limit).push(") AS next_range");
    let rows = db
        .query(st)
        .await
        .map_err(on_source(db, "cannot read the quarantine"))?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next())
        .and_then(|v| v.int()))
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
                let Some((id, row)) = next_quarantined(db, table, strategy, run, (after, until)).await? else {
                    break;
                };
                // Its children stay with it (when its values are known).
                total.kept.extend(row);
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
