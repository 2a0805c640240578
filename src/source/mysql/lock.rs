//! The erasure lock of a MySQL/MariaDB source: a named server lock held by this session, so
//! delete, restore and purge on one database take turns, whichever machine runs them.

use crate::source::backend::Dialect;
use std::sync::atomic::Ordering;

use mysql_async::Value as SqlValue;

use super::MySqlSource;
use crate::error::UserError;
use crate::source::held_locks;

impl MySqlSource<'_> {
    /// Wait until no delete, restore or purge holds the erasure lock (up to `lock_timeout`), and
    /// hold it: an export starts its snapshot under it, then releases it.
    pub async fn wait_for_erasures(&self) -> Result<(), UserError> {
        if self.get_lock().await? {
            Ok(())
        } else {
            Err(crate::source::erasure::erasure_under_way(
                &self.source().name,
                "waited lock_timeout",
            ))
        }
    }

    /// `GET_LOCK` of this database's erasure lock: whether it was granted within `lock_timeout`.
    async fn get_lock(&self) -> Result<bool, UserError> {
        let rows = self
            .rows(
                "SELECT GET_LOCK(CONCAT('dsar-erasure:', DATABASE()), ?)",
                vec![SqlValue::from(self.source().lock_timeout.as_secs_f64())],
            )
            .await
            .map_err(|e| self.failure("cannot take the erasure lock", &e))?;
        Ok(rows.first().and_then(|r| r.get::<Option<i64>, _>(0)).flatten() == Some(1))
    }

    /// Serialise delete, restore and purge on this database with a named server lock held by
    /// this session; waits up to `lock_timeout`. Another source of this map on the same database
    /// shares the lock this process holds.
    pub async fn lock_for_erasure(&self) -> Result<(), UserError> {
        if self.locked.load(Ordering::SeqCst) {
            return Ok(());
        }
        let database = self
            .rows("SELECT CONCAT(@@hostname, ':', @@port, '/', DATABASE())", Vec::new())
            .await
            .map_err(|e| self.failure("cannot name the database", &e))?
            .first()
            .and_then(|r| r.get::<Option<String>, _>(0))
            .flatten()
            .unwrap_or_default();
        if held_locks::is_held(&database) {
            self.locked.store(true, Ordering::SeqCst);
            return Ok(());
        }
        if !self.get_lock().await? {
            return Err(UserError::runtime(format!(
                "source `{}`: another dsar delete, restore or purge holds this database's lock",
                self.source().name
            ))
            .with_hint("wait for it to finish, or raise lock_timeout for this source"));
        }
        self.locked.store(true, Ordering::SeqCst);
        held_locks::mark_held(&database);
        Ok(())
    }
}
