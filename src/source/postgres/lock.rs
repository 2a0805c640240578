//! The erasure lock of a PostgreSQL source: delete, restore and purge on one database take
//! turns, whichever machine runs them.

use super::PgSource;
use crate::error::UserError;

/// The advisory lock that serialises delete, restore and purge on one database.
const ERASURE_LOCK: i64 = 0x6473_6172_0001;

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
}
