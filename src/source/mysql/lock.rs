//! The erasure lock of a MySQL/MariaDB source: a named server lock held by this session, so
//! delete, restore and purge on one database take turns, whichever machine runs them.

use std::sync::atomic::Ordering;

use mysql_async::Value as SqlValue;

use super::MySqlSource;
use crate::error::UserError;

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
}
