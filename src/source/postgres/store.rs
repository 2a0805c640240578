//! The `dsar` schema inside each PostgreSQL source: requests (with their wrapped data keys) and
//! quarantined rows. It lives in the same database as the data so a row moves from the live
//! table into quarantine in one local transaction.

use super::PgSource;
use crate::config::TableName;
use crate::error::UserError;
pub use crate::source::erasure::{ExpiredRequest, StoredRequest};

/// The advisory lock that serialises delete, restore and purge on one database.
const ERASURE_LOCK: i64 = 0x6473_6172_0001;

const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS dsar;
CREATE TABLE IF NOT EXISTS dsar.requests (
    request_id    text PRIMARY KEY,
    source        text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    restore_until timestamptz NOT NULL,
    wrapped_key   bytea,
    purged_at     timestamptz
);
CREATE TABLE IF NOT EXISTS dsar.quarantine (
    id            bigserial PRIMARY KEY,
    request_id    text NOT NULL REFERENCES dsar.requests,
    source        text NOT NULL,
    table_schema  text NOT NULL,
    table_name    text NOT NULL,
    strategy      text NOT NULL,
    key_hash      bytea NOT NULL,
    sealed        bytea NOT NULL,
    flag_key      jsonb,
    deleted_at    timestamptz NOT NULL DEFAULT now(),
    restore_until timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS quarantine_by_request ON dsar.quarantine (request_id, table_schema, table_name, id);
";

impl PgSource<'_> {
    /// Take the source's erasure lock for this session; waits at most `lock_timeout`.
    pub async fn lock_for_erasure(&self) -> Result<(), UserError> {
        self.client
            .execute("SELECT pg_advisory_lock($1)", &[&ERASURE_LOCK])
            .await
            .map(|_| ())
            .map_err(|e| {
                UserError::runtime(format!(
                    "source `{}`: another dsar delete, restore or purge holds this database's lock ({})",
                    self.config.name,
                    super::error_text(&e)
                ))
                .with_hint("wait for it to finish, or raise lock_timeout for this source")
            })
    }

    /// Create the `dsar` schema and its tables if they are missing (needs CREATE on the database
    /// the first time; see the README for the grants).
    pub async fn ensure_store(&self) -> Result<(), UserError> {
        self.client.batch_execute(SCHEMA).await.map_err(|e| {
            UserError::runtime(format!(
                "source `{}`: cannot create the dsar schema: {}",
                self.config.name,
                super::error_text(&e)
            ))
            .with_hint("grant the dsar role CREATE on the database, or create schema dsar owned by it (README: Grants)")
        })
    }

    /// Whether this database has ever been erased from (so has a `dsar` schema).
    pub async fn has_store(&self) -> Result<bool, UserError> {
        let row = self
            .client
            .query_one(
                "SELECT to_regclass('dsar.quarantine') IS NOT NULL AND to_regclass('dsar.requests') IS NOT NULL",
                &[],
            )
            .await
            .map_err(|e| self.failure("cannot look for the dsar schema", &e))?;
        Ok(row.get(0))
    }

    /// Record a new request with its wrapped data key; its window closes `window_secs` from now
    /// by the database's clock.
    pub async fn register_request(
        &self,
        request_id: &str,
        window_secs: f64,
        wrapped_key: &[u8],
    ) -> Result<(), UserError> {
        self.client
            .execute(
                "INSERT INTO dsar.requests (request_id, source, restore_until, wrapped_key) \
                 VALUES ($1, $2, now() + make_interval(secs => $3), $4)",
                &[&request_id, &self.config.name, &window_secs, &wrapped_key],
            )
            .await
            .map(|_| ())
            .map_err(|e| self.failure("cannot record the request", &e))
    }

    pub async fn stored_request(&self, request_id: &str) -> Result<Option<StoredRequest>, UserError> {
        if !self.has_store().await? {
            return Ok(None);
        }
        let row = self
            .client
            .query_opt(
                "SELECT to_char(restore_until AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                        restore_until > now() AND purged_at IS NULL, wrapped_key \
                 FROM dsar.requests WHERE request_id = $1",
                &[&request_id],
            )
            .await
            .map_err(|e| self.failure("cannot read the request", &e))?;
        Ok(row.map(|r| StoredRequest {
            restore_until: r.get(0),
            window_open: r.get(1),
            wrapped_key: r.get(2),
        }))
    }

    /// The tables a request left rows of in quarantine, with the strategy and how many.
    pub async fn quarantined_tables(&self, request_id: &str) -> Result<Vec<(TableName, String, i64)>, UserError> {
        let rows = self
            .client
            .query(
                "SELECT table_schema, table_name, strategy, count(*) FROM dsar.quarantine \
                 WHERE request_id = $1 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                &[&request_id],
            )
            .await
            .map_err(|e| self.failure("cannot read dsar.quarantine", &e))?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    TableName {
                        schema: r.get(0),
                        name: r.get(1),
                    },
                    r.get(2),
                    r.get(3),
                )
            })
            .collect())
    }

    /// Requests past their window that still hold a key or quarantined rows.
    pub async fn expired_requests(&self) -> Result<Vec<ExpiredRequest>, UserError> {
        let rows = self
            .client
            .query(
                "SELECT r.request_id, \
                        (SELECT count(*) FROM dsar.quarantine q WHERE q.request_id = r.request_id), \
                        (SELECT count(*) FROM dsar.quarantine q WHERE q.request_id = r.request_id AND q.strategy = 'flag') \
                 FROM dsar.requests r \
                 WHERE r.restore_until <= now() \
                   AND (r.purged_at IS NULL OR EXISTS (SELECT 1 FROM dsar.quarantine q WHERE q.request_id = r.request_id)) \
                 ORDER BY r.restore_until",
                &[],
            )
            .await
            .map_err(|e| self.failure("cannot list expired requests", &e))?;
        Ok(rows
            .iter()
            .map(|r| ExpiredRequest {
                request_id: r.get(0),
                rows: r.get(1),
                flagged_rows: r.get(2),
            })
            .collect())
    }

    /// Destroy the request's wrapped key: from this commit on, none of its rows can be decrypted.
    pub async fn shred_key(&self, request_id: &str) -> Result<(), UserError> {
        self.client
            .execute(
                "UPDATE dsar.requests SET wrapped_key = NULL, purged_at = COALESCE(purged_at, now()) WHERE request_id = $1",
                &[&request_id],
            )
            .await
            .map(|_| ())
            .map_err(|e| self.failure("cannot destroy the request key", &e))
    }

    /// Delete up to `limit` quarantined rows of the request (not `flag` entries, which purge
    /// handles with their live rows); returns how many went.
    pub async fn delete_quarantined(&self, request_id: &str, limit: i64) -> Result<u64, UserError> {
        self.client
            .execute(
                "DELETE FROM dsar.quarantine WHERE id IN \
                   (SELECT id FROM dsar.quarantine WHERE request_id = $1 AND strategy <> 'flag' LIMIT $2)",
                &[&request_id, &limit],
            )
            .await
            .map_err(|e| self.failure("cannot delete quarantined rows", &e))
    }
}
