//! The erasure lock of a PostgreSQL source: delete, restore and purge on one database take
//! turns, whichever machine runs them.

use super::PgSource;
use crate::error::UserError;
use crate::source::backend::Dialect;
use crate::source::erasure::erasure_under_way;
use crate::source::held_locks;

/// The advisory lock that serialises delete, restore and purge on one database.
const ERASURE_LOCK: i64 = 0x6473_6172_0001;

impl PgSource<'_> {
    /// Wait until no delete, restore or purge holds the erasure lock, and hold it (to start an
    /// export's snapshot; [`PgSource::release_erasure_lock`] lets go).
    pub async fn wait_for_erasures(&self) -> Result<(), UserError> {
        self.advisory_lock()
            .await
            .map_err(|e| erasure_under_way(&self.source().name, &super::error_text(&e)))
    }

    /// `pg_advisory_lock` of the erasure lock for this session; waits at most `lock_timeout`.
    async fn advisory_lock(&self) -> Result<(), tokio_postgres::Error> {
        self.client
            .execute("SELECT pg_advisory_lock($1)", &[&ERASURE_LOCK])
            .await
            .map(|_| ())
    }

    pub async fn release_erasure_lock(&self) {
        let _ = self
            .client
            .execute("SELECT pg_advisory_unlock($1)", &[&ERASURE_LOCK])
            .await;
    }

    /// Take the source's erasure lock for this session; waits at most `lock_timeout`. Another
    /// source of this map on the same database shares the lock this process holds.
    pub async fn lock_for_erasure(&self) -> Result<(), UserError> {
        let database: String = self
            .client
            .query_one(
                "SELECT current_database() || '@' || coalesce(host(inet_server_addr()), 'socket') || ':' \
                 || coalesce(inet_server_port(), 0)",
                &[],
            )
            .await
            .map_err(|e| self.failure("cannot name the database", &e))?
            .get(0);
        if held_locks::is_held(&database) {
            return Ok(());
        }
        self.advisory_lock()
            .await
            .map(|()| held_locks::mark_held(&database))
            .map_err(|e| {
                UserError::runtime(format!(
                    "source `{}`: another dsar delete, restore or purge holds this database's lock ({})",
                    self.source().name,
                    super::error_text(&e)
                ))
                .with_hint("wait for it to finish, or raise lock_timeout for this source")
            })
    }
}
