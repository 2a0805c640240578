//! The store dsar keeps inside each database: requests (with their wrapped data keys, for
//! crypto-shredding) and quarantined rows, beside the data so a row moves into quarantine in one
//! local transaction.

use super::on_source;
use crate::config::TableName;
use crate::error::UserError;
use crate::source::backend::{Backend, List, StoreTable, Value};
use crate::source::erasure::{ExpiredRequest, StoredRequest};

/// Create the store's tables if they are missing (needs CREATE the first time).
pub async fn ensure_store(db: &dyn Backend) -> Result<(), UserError> {
    let grant = |e| {
        on_source(db, "cannot create the dsar tables")(e)
            .with_hint("grant dsar's database user CREATE on the database (README: Grants)")
    };
    for ddl in db.dialect().kind_sql().ddl {
        let mut st = db.dialect().statement();
        st.push(ddl);
        db.execute(st).await.map_err(grant)?;
    }
    for (present, ddl) in db.dialect().kind_sql().migrations {
        let mut check = db.dialect().statement();
        check.push(present);
        if first(db.query(check).await.map_err(grant)?).and_then(|v| v.int()) == Some(0) {
            let mut st = db.dialect().statement();
            st.push(ddl);
            db.execute(st).await.map_err(grant)?;
        }
    }
    Ok(())
}

/// Whether this database has ever been erased from (so has the store).
pub async fn has_store(db: &dyn Backend) -> Result<bool, UserError> {
    let mut st = db.dialect().statement();
    st.push(db.dialect().kind_sql().exists);
    let rows = db
        .query(st)
        .await
        .map_err(on_source(db, "cannot look for the dsar tables"))?;
    Ok(first(rows).is_some_and(|v| v.bool()))
}

/// How many requests this database's store records (0 without a store).
pub async fn request_count(db: &dyn Backend) -> Result<i64, UserError> {
    if !has_store(db).await? {
        return Ok(0);
    }
    let mut st = db.dialect().statement();
    st.push(&format!(
        "SELECT COUNT(*) FROM {}",
        db.dialect().store_table(StoreTable::Requests)
    ));
    let rows = db
        .query(st)
        .await
        .map_err(on_source(db, "cannot count the requests it records"))?;
    Ok(first(rows).and_then(|v| v.int()).unwrap_or(0))
}

/// Record a new request with its wrapped data key; its window closes `window_secs` from now by
/// the database's clock.
pub async fn register_request(
    db: &dyn Backend,
    request_id: &str,
    window_secs: f64,
    wrapped_key: &[u8],
) -> Result<(), UserError> {
    let mut st = db.dialect().statement();
    st.push("INSERT INTO ")
        .push(db.dialect().store_table(StoreTable::Requests))
        .push(" (request_id, source, created_at, restore_until, wrapped_key) VALUES (")
        .bind(request_id)
        .push(", ")
        .bind(db.dialect().source().name.as_str())
        .push(", ")
        .push(db.dialect().now_sql())
        .push(", ");
    db.dialect().push_now_plus(&mut st, window_secs);
    st.push(", ").bind(wrapped_key.to_vec()).push(")");
    db.execute(st)
        .await
        .map(|_| ())
        .map_err(on_source(db, "cannot record the request"))
}

pub async fn stored_request(db: &dyn Backend, request_id: &str) -> Result<Option<StoredRequest>, UserError> {
    if !has_store(db).await? {
        return Ok(None);
    }
    let mut st = db.dialect().statement();
    st.push(&format!(
        "SELECT {}, restore_until > {} AND purged_at IS NULL, wrapped_key FROM {} WHERE request_id = ",
        db.dialect().utc_text("restore_until"),
        db.dialect().now_sql(),
        db.dialect().store_table(StoreTable::Requests)
    ))
    .bind(request_id);
    let rows = db.query(st).await.map_err(on_source(db, "cannot read the request"))?;
    Ok(rows.into_iter().next().map(|row| {
        let mut values = row.into_iter();
        StoredRequest {
            restore_until: values.next().and_then(Value::text).unwrap_or_default(),
            window_open: values.next().is_some_and(|v| v.bool()),
            wrapped_key: values.next().and_then(Value::bytes),
        }
    }))
}

/// The tables a request left rows of in quarantine, with the strategy and how many.
pub async fn quarantined_tables(
    db: &dyn Backend,
    request_id: &str,
) -> Result<Vec<(TableName, String, i64)>, UserError> {
    let mut st = db.dialect().statement();
    st.push(&format!(
        "SELECT table_schema, table_name, strategy, {} FROM {} WHERE request_id = ",
        db.dialect().kind_sql().entry_rows,
        db.dialect().store_table(StoreTable::Quarantine)
    ))
    .bind(request_id)
    .push(" GROUP BY table_schema, table_name, strategy ORDER BY table_schema, table_name, strategy");
    let rows = db
        .query(st)
        .await
        .map_err(on_source(db, "cannot read the quarantine"))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut values = row.into_iter();
            let schema = values.next().and_then(Value::text).unwrap_or_default();
            let name = values.next().and_then(Value::text).unwrap_or_default();
            let strategy = values.next().and_then(Value::text).unwrap_or_default();
            let count = values.next().and_then(|v| v.int()).unwrap_or_default();
            (TableName { schema, name }, strategy, count)
        })
        .collect())
}

/// Requests past their window that still hold a key or quarantined rows, oldest first.
pub async fn expired_requests(db: &dyn Backend) -> Result<Vec<ExpiredRequest>, UserError> {
    let (requests, quarantine, rows) = (
        db.dialect().store_table(StoreTable::Requests),
        db.dialect().store_table(StoreTable::Quarantine),
        db.dialect().kind_sql().entry_rows,
    );
    let mut st = db.dialect().statement();
    st.push(&format!(
        "SELECT r.request_id, \
                (SELECT {rows} FROM {quarantine} q WHERE q.request_id = r.request_id), \
                (SELECT count(*) FROM {quarantine} q WHERE q.request_id = r.request_id AND q.strategy = 'flag') \
         FROM {requests} r \
         WHERE r.restore_until <= {} \
           AND (r.purged_at IS NULL OR EXISTS (SELECT 1 FROM {quarantine} q WHERE q.request_id = r.request_id)) \
         ORDER BY r.restore_until",
        db.dialect().now_sql()
    ));
    let rows = db
        .query(st)
        .await
        .map_err(on_source(db, "cannot list expired requests"))?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mut values = row.into_iter();
            ExpiredRequest {
                request_id: values.next().and_then(Value::text).unwrap_or_default(),
                rows: values.next().and_then(|v| v.int()).unwrap_or_default(),
                flagged_rows: values.next().and_then(|v| v.int()).unwrap_or_default(),
            }
        })
        .collect())
}

/// Destroy the request's wrapped key: from this commit on, none of its rows can be decrypted.
pub async fn shred_key(db: &dyn Backend, request_id: &str) -> Result<(), UserError> {
    let mut st = db.dialect().statement();
    st.push(&format!(
        "UPDATE {} SET wrapped_key = NULL, purged_at = COALESCE(purged_at, {}) WHERE request_id = ",
        db.dialect().store_table(StoreTable::Requests),
        db.dialect().now_sql()
    ))
    .bind(request_id);
    db.execute(st)
        .await
        .map(|_| ())
        .map_err(on_source(db, "cannot destroy the request key"))
}

/// Delete up to `limit` quarantine entries of the request (not `flag` entries, which purge
/// handles with their live rows); returns how many rows went (a bundle holds many).
pub async fn delete_quarantined(db: &dyn Backend, request_id: &str, limit: i64) -> Result<u64, UserError> {
    let quarantine = db.dialect().store_table(StoreTable::Quarantine);
    let mut read = db.dialect().statement();
    read.push(&format!("SELECT id, sealed_rows FROM {quarantine} WHERE request_id = "))
        .bind(request_id)
        .push(" AND strategy <> 'flag' ORDER BY id LIMIT ")
        .bind(limit);
    let entries: Vec<(i64, u64)> = db
        .query(read)
        .await
        .map_err(on_source(db, "cannot read the quarantine"))?
        .into_iter()
        .filter_map(|row| Some((row.first().and_then(Value::int)?, entry_rows(row.get(1)) as u64)))
        .collect();
    let rows = entries.iter().map(|(_, n)| n).sum();
    let ids: Vec<i64> = entries.into_iter().map(|(id, _)| id).collect();
    let deleted = clear_entries(db, ids.clone(), "cannot delete quarantined rows").await?;
    Ok(if deleted == ids.len() as u64 { rows } else { deleted })
}

/// The rows a quarantine entry holds, from its `sealed_rows` as read: a bundle says how many,
/// any other entry (NULL) is one row.
pub(super) fn entry_rows(sealed_rows: Option<&Value>) -> i64 {
    sealed_rows.and_then(Value::int).unwrap_or(1).max(1)
}

/// Delete the quarantine entries `ids` (restored, or purged with their flagged rows).
pub(super) async fn clear_entries(db: &dyn Backend, ids: Vec<i64>, what: &str) -> Result<u64, UserError> {
    if ids.is_empty() {
        return Ok(0);
    }
    let mut clear = db.dialect().statement();
    clear
        .push("DELETE FROM ")
        .push(db.dialect().store_table(StoreTable::Quarantine))
        .push(" WHERE ");
    db.dialect().in_list(&mut clear, "id", List::Ints(ids));
    db.execute(clear).await.map_err(on_source(db, what))
}

fn first(rows: Vec<Vec<Value>>) -> Option<Value> {
    rows.into_iter().next().and_then(|r| r.into_iter().next())
}
