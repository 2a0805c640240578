//! The quarantine inside a MySQL/MariaDB source: tables `dsar_requests` and `dsar_quarantine`
//! (InnoDB) in the same database, so a row moves into quarantine in one local transaction.
//! Times are UTC (`UTC_TIMESTAMP(6)`), by the server's clock.

use std::sync::atomic::Ordering;

use mysql_async::Value as SqlValue;

use super::MySqlSource;
use crate::config::TableName;
use crate::error::UserError;
use crate::source::erasure::{ExpiredRequest, StoredRequest};

const REQUESTS: &str = "CREATE TABLE IF NOT EXISTS dsar_requests (
    request_id    VARCHAR(64) PRIMARY KEY,
    source        VARCHAR(255) NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    restore_until DATETIME(6) NOT NULL,
    wrapped_key   BLOB,
    purged_at     DATETIME(6) NULL
) ENGINE = InnoDB";

const QUARANTINE: &str = "CREATE TABLE IF NOT EXISTS dsar_quarantine (
    id            BIGINT AUTO_INCREMENT PRIMARY KEY,
    request_id    VARCHAR(64) NOT NULL,
    source        VARCHAR(255) NOT NULL,
    table_schema  VARCHAR(64) NOT NULL,
    table_name    VARCHAR(64) NOT NULL,
    strategy      VARCHAR(16) NOT NULL,
    key_hash      VARBINARY(64) NOT NULL,
    sealed        LONGBLOB NOT NULL,
    flag_key      TEXT,
    deleted_at    DATETIME(6) NOT NULL,
    restore_until DATETIME(6) NOT NULL,
    KEY dsar_quarantine_by_request (request_id, table_schema, table_name, id),
    FOREIGN KEY (request_id) REFERENCES dsar_requests (request_id)
) ENGINE = InnoDB";

impl MySqlSource<'_> {
    /// Serialise delete, restore and purge on this database with a named server lock held by
    /// this session; waits up to `lock_timeout`.
    pub async fn lock_for_erasure(&self) -> Result<(), UserError> {
        if self.locked.load(Ordering::SeqCst) {
            return Ok(());
        }
        let rows = self
            .rows(
                "SELECT GET_LOCK(CONCAT('dsar-erasure:', DATABASE()), ?)",
                vec![SqlValue::from(self.config.lock_timeout.as_secs_f64())],
            )
            .await
            .map_err(|e| self.failure("cannot take the erasure lock", &e))?;
        if rows.first().and_then(|r| r.get::<Option<i64>, _>(0)).flatten() != Some(1) {
            return Err(UserError::runtime(format!(
                "source `{}`: another dsar delete, restore or purge holds this database's lock",
                self.config.name
            ))
            .with_hint("wait for it to finish, or raise lock_timeout for this source"));
        }
        self.locked.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Create the dsar tables if they are missing (needs CREATE on the database the first time).
    pub async fn ensure_store(&self) -> Result<(), UserError> {
        for ddl in [REQUESTS, QUARANTINE] {
            self.run(ddl, Vec::new()).await.map_err(|e| {
                self.failure("cannot create the dsar tables", &e)
                    .with_hint("grant the dsar user CREATE on the database (README: Grants)")
            })?;
        }
        Ok(())
    }

    pub async fn has_store(&self) -> Result<bool, UserError> {
        let rows = self
            .rows(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME IN ('dsar_requests', 'dsar_quarantine')",
                Vec::new(),
            )
            .await
            .map_err(|e| self.failure("cannot look for the dsar tables", &e))?;
        Ok(rows.first().and_then(|r| r.get::<i64, _>(0)) == Some(2))
    }

    pub async fn register_request(
        &self,
        request_id: &str,
        window_secs: f64,
        wrapped_key: &[u8],
    ) -> Result<(), UserError> {
        self.run(
            "INSERT INTO dsar_requests (request_id, source, created_at, restore_until, wrapped_key) \
             VALUES (?, ?, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND, ?)",
            vec![
                request_id.into(),
                self.config.name.as_str().into(),
                SqlValue::from((window_secs * 1_000_000.0) as i64),
                SqlValue::Bytes(wrapped_key.to_vec()),
            ],
        )
        .await
        .map(|_| ())
        .map_err(|e| self.failure("cannot record the request", &e))
    }

    pub async fn stored_request(&self, request_id: &str) -> Result<Option<StoredRequest>, UserError> {
        if !self.has_store().await? {
            return Ok(None);
        }
        let rows = self
            .rows(
                "SELECT DATE_FORMAT(restore_until, '%Y-%m-%dT%H:%i:%sZ'), \
                        restore_until > UTC_TIMESTAMP(6) AND purged_at IS NULL, wrapped_key \
                 FROM dsar_requests WHERE request_id = ?",
                vec![request_id.into()],
            )
            .await
            .map_err(|e| self.failure("cannot read the request", &e))?;
        Ok(rows.first().map(|r| StoredRequest {
            restore_until: r.get::<Option<String>, _>(0).flatten().unwrap_or_default(),
            window_open: r.get::<Option<i64>, _>(1).flatten() == Some(1),
            wrapped_key: r.get::<Option<Vec<u8>>, _>(2).flatten(),
        }))
    }

    pub async fn quarantined_tables(&self, request_id: &str) -> Result<Vec<(TableName, String, i64)>, UserError> {
        let rows = self
            .rows(
                "SELECT table_schema, table_name, strategy, COUNT(*) FROM dsar_quarantine \
                 WHERE request_id = ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                vec![request_id.into()],
            )
            .await
            .map_err(|e| self.failure("cannot read dsar_quarantine", &e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let text = |i: usize| r.get::<Option<String>, _>(i).flatten().unwrap_or_default();
                (
                    TableName {
                        schema: text(0),
                        name: text(1),
                    },
                    text(2),
                    r.get::<i64, _>(3).unwrap_or(0),
                )
            })
            .collect())
    }

    pub async fn expired_requests(&self) -> Result<Vec<ExpiredRequest>, UserError> {
        let rows = self
            .rows(
                "SELECT r.request_id, \
                        (SELECT COUNT(*) FROM dsar_quarantine q WHERE q.request_id = r.request_id), \
                        (SELECT COUNT(*) FROM dsar_quarantine q WHERE q.request_id = r.request_id AND q.strategy = 'flag') \
                 FROM dsar_requests r \
                 WHERE r.restore_until <= UTC_TIMESTAMP(6) \
                   AND (r.purged_at IS NULL OR EXISTS (SELECT 1 FROM dsar_quarantine q WHERE q.request_id = r.request_id)) \
                 ORDER BY r.restore_until",
                Vec::new(),
            )
            .await
            .map_err(|e| self.failure("cannot list expired requests", &e))?;
        Ok(rows
            .iter()
            .map(|r| ExpiredRequest {
                request_id: r.get::<Option<String>, _>(0).flatten().unwrap_or_default(),
                rows: r.get::<i64, _>(1).unwrap_or(0),
                flagged_rows: r.get::<i64, _>(2).unwrap_or(0),
            })
            .collect())
    }

    /// Destroy the request's wrapped key: from this commit on, none of its rows can be decrypted.
    pub async fn shred_key(&self, request_id: &str) -> Result<(), UserError> {
        self.run(
            "UPDATE dsar_requests SET wrapped_key = NULL, purged_at = COALESCE(purged_at, UTC_TIMESTAMP(6)) WHERE request_id = ?",
            vec![request_id.into()],
        )
        .await
        .map(|_| ())
        .map_err(|e| self.failure("cannot destroy the request key", &e))
    }

    pub async fn delete_quarantined(&self, request_id: &str, limit: i64) -> Result<u64, UserError> {
        self.run(
            "DELETE FROM dsar_quarantine WHERE request_id = ? AND strategy <> 'flag' ORDER BY id LIMIT ?",
            vec![request_id.into(), limit.into()],
        )
        .await
        .map_err(|e| self.failure("cannot delete quarantined rows", &e))
    }
}
