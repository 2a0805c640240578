//! The quarantine inside a SQLite source: tables `dsar_requests` and `dsar_quarantine` in the
//! same file, so a row moves from its live table into quarantine in one local transaction.
//! Times are Unix seconds (REAL) by the local clock, which is the database's clock here.

use std::fs::OpenOptions;
use std::time::{Duration, Instant};

use super::SqliteSource;
use crate::config::TableName;
use crate::error::UserError;
use crate::source::erasure::{ExpiredRequest, StoredRequest};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS dsar_requests (
    request_id    TEXT PRIMARY KEY,
    source        TEXT NOT NULL,
    created_at    REAL NOT NULL,
    restore_until REAL NOT NULL,
    wrapped_key   BLOB,
    purged_at     REAL
);
CREATE TABLE IF NOT EXISTS dsar_quarantine (
    id            INTEGER PRIMARY KEY,
    request_id    TEXT NOT NULL REFERENCES dsar_requests,
    source        TEXT NOT NULL,
    table_schema  TEXT NOT NULL,
    table_name    TEXT NOT NULL,
    strategy      TEXT NOT NULL,
    key_hash      BLOB NOT NULL,
    sealed        BLOB NOT NULL,
    flag_key      TEXT,
    deleted_at    REAL NOT NULL,
    restore_until REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS dsar_quarantine_by_request
    ON dsar_quarantine (request_id, table_schema, table_name, id);
";

/// Now, in Unix seconds with sub-second precision, as SQL.
pub const NOW: &str = "((julianday('now') - 2440587.5) * 86400.0)";

impl SqliteSource<'_> {
    /// Serialise delete, restore and purge on this file with a lock file beside it (SQLite's
    /// own locks last one transaction; this one lasts the whole run). Waits up to
    /// `lock_timeout`.
    pub fn lock_for_erasure(&self) -> Result<(), UserError> {
        let mut held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if held.is_some() {
            return Ok(());
        }
        let path = self.config.path.clone().unwrap_or_default();
        let lock_path = path.with_file_name(format!(
            "{}.dsar-lock",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        ));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                UserError::runtime(format!(
                    "source `{}`: cannot open lock file {}: {e}",
                    self.config.name,
                    lock_path.display()
                ))
            })?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < self.config.lock_timeout => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => {
                    return Err(UserError::runtime(format!(
                        "source `{}`: another dsar delete, restore or purge holds this database's lock ({})",
                        self.config.name,
                        lock_path.display()
                    ))
                    .with_hint("wait for it to finish, or raise lock_timeout for this source"));
                }
            }
        }
        *held = Some(file);
        Ok(())
    }

    /// Rebuild the file so its free space holds no copy of a deleted row (see
    /// [`crate::source::Database::scrub_free_space`]).
    pub fn vacuum(&self) -> Result<(), UserError> {
        self.conn()
            .execute_batch("VACUUM")
            .map_err(|e| self.failure("cannot VACUUM after the delete", &e))
    }

    pub fn ensure_store(&self) -> Result<(), UserError> {
        self.conn()
            .execute_batch(SCHEMA)
            .map_err(|e| self.failure("cannot create the dsar tables", &e))
    }

    pub fn has_store(&self) -> Result<bool, UserError> {
        self.conn()
            .query_row(
                "SELECT count(*) = 2 FROM sqlite_schema WHERE type = 'table' AND name IN ('dsar_requests', 'dsar_quarantine')",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.failure("cannot look for the dsar tables", &e))
    }

    pub fn register_request(&self, request_id: &str, window_secs: f64, wrapped_key: &[u8]) -> Result<(), UserError> {
        self.conn()
            .execute(
                &format!(
                    "INSERT INTO dsar_requests (request_id, source, created_at, restore_until, wrapped_key) \
                     VALUES (?1, ?2, {NOW}, {NOW} + ?3, ?4)"
                ),
                (request_id, &self.config.name, window_secs, wrapped_key),
            )
            .map(|_| ())
            .map_err(|e| self.failure("cannot record the request", &e))
    }

    pub fn stored_request(&self, request_id: &str) -> Result<Option<StoredRequest>, UserError> {
        if !self.has_store()? {
            return Ok(None);
        }
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', restore_until, 'unixepoch'), \
                        restore_until > {NOW} AND purged_at IS NULL, wrapped_key \
                 FROM dsar_requests WHERE request_id = ?1"
            ))
            .map_err(|e| self.failure("cannot read the request", &e))?;
        let mut rows = stmt
            .query_map([request_id], |r| {
                Ok(StoredRequest {
                    restore_until: r.get(0)?,
                    window_open: r.get(1)?,
                    wrapped_key: r.get(2)?,
                })
            })
            .map_err(|e| self.failure("cannot read the request", &e))?;
        rows.next()
            .transpose()
            .map_err(|e| self.failure("cannot read the request", &e))
    }

    pub fn quarantined_tables(&self, request_id: &str) -> Result<Vec<(TableName, String, i64)>, UserError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT table_schema, table_name, strategy, count(*) FROM dsar_quarantine \
                 WHERE request_id = ?1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            )
            .map_err(|e| self.failure("cannot read dsar_quarantine", &e))?;
        let rows = stmt
            .query_map([request_id], |r| {
                Ok((
                    TableName {
                        schema: r.get(0)?,
                        name: r.get(1)?,
                    },
                    r.get(2)?,
                    r.get(3)?,
                ))
            })
            .map_err(|e| self.failure("cannot read dsar_quarantine", &e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.failure("cannot read dsar_quarantine", &e))
    }

    pub fn expired_requests(&self) -> Result<Vec<ExpiredRequest>, UserError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT r.request_id, \
                        (SELECT count(*) FROM dsar_quarantine q WHERE q.request_id = r.request_id), \
                        (SELECT count(*) FROM dsar_quarantine q WHERE q.request_id = r.request_id AND q.strategy = 'flag') \
                 FROM dsar_requests r \
                 WHERE r.restore_until <= {NOW} \
                   AND (r.purged_at IS NULL OR EXISTS (SELECT 1 FROM dsar_quarantine q WHERE q.request_id = r.request_id)) \
                 ORDER BY r.restore_until"
            ))
            .map_err(|e| self.failure("cannot list expired requests", &e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(ExpiredRequest {
                    request_id: r.get(0)?,
                    rows: r.get(1)?,
                    flagged_rows: r.get(2)?,
                })
            })
            .map_err(|e| self.failure("cannot list expired requests", &e))?;
        rows.collect::<Result<_, _>>()
            .map_err(|e| self.failure("cannot list expired requests", &e))
    }

    /// Destroy the request's wrapped key: from this commit on, none of its rows can be decrypted.
    pub fn shred_key(&self, request_id: &str) -> Result<(), UserError> {
        self.conn()
            .execute(
                &format!(
                    "UPDATE dsar_requests SET wrapped_key = NULL, purged_at = COALESCE(purged_at, {NOW}) WHERE request_id = ?1"
                ),
                [request_id],
            )
            .map(|_| ())
            .map_err(|e| self.failure("cannot destroy the request key", &e))
    }

    pub fn delete_quarantined(&self, request_id: &str, limit: i64) -> Result<u64, UserError> {
        self.conn()
            .execute(
                "DELETE FROM dsar_quarantine WHERE id IN \
                   (SELECT id FROM dsar_quarantine WHERE request_id = ?1 AND strategy <> 'flag' LIMIT ?2)",
                (request_id, limit),
            )
            .map(|n| n as u64)
            .map_err(|e| self.failure("cannot delete quarantined rows", &e))
    }
}
