//! The erasure lock of a MySQL/MariaDB source: a named server lock held by this session, so
//! delete, restore and purge on one database take turns, whichever machine runs them.

use crate::source::backend::Dialect;
use std::sync::atomic::Ordering;

use mysql_async::Value as SqlValue;

use super::MySqlSource;
use crate::config::OnDelete;
use crate::error::{ExitKind, UserError};
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

    /// Refuse (exit 4), before anything changes, to change a mapped table that cannot keep the
    /// erasure's promises: one whose storage engine has no transactions (MyISAM, Aria,
    /// MEMORY…), where a batch cannot be rolled back, so a failure after its `DELETE` (a check
    /// on what it removed, the quarantine `INSERT`) would lose rows never sealed; and one with
    /// system versioning (MariaDB), which keeps every deleted or updated row in its history,
    /// readable `FOR SYSTEM_TIME ALL`, so the person's rows would not leave it. A table dsar
    /// only keeps (`retain`) is left alone, and so is a view (its base tables hold the rows).
    async fn refuse_tables_that_cannot_forget(&self) -> Result<(), UserError> {
        for table in &self.source().tables {
            if table.on_delete == OnDelete::Retain {
                continue;
            }
            let rows = self
                .rows(
                    "SELECT t.TABLE_TYPE, t.ENGINE, COALESCE(e.TRANSACTIONS, 'NO') FROM information_schema.TABLES t \
                     LEFT JOIN information_schema.ENGINES e ON e.ENGINE = t.ENGINE \
                     WHERE t.TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND t.TABLE_NAME = ?",
                    vec![
                        SqlValue::from(table.name.schema.as_str()),
                        SqlValue::from(table.name.name.as_str()),
                    ],
                )
                .await
                .map_err(|e| self.failure("cannot read the tables' storage engines", &e))?;
            let Some(row) = rows.first() else { continue };
            let text = |i: usize| row.get::<Option<String>, _>(i).flatten().unwrap_or_default();
            let (kind, engine, transactions) = (text(0), text(1), text(2));
            let (why, hint) = if kind == "SYSTEM VERSIONED" {
                (
                    "has system versioning, which keeps every deleted or changed row in its history: the \
                     person's rows would not leave it"
                        .to_string(),
                    "erase its history by hand (DELETE HISTORY, or ALTER TABLE … DROP SYSTEM VERSIONING), \
                     or set on_delete = \"retain\" for it",
                )
            } else if kind != "VIEW" && transactions != "YES" {
                (
                    format!(
                        "is stored by {engine}, which has no transactions: a batch that failed part-way could \
                         lose rows it had not sealed"
                    ),
                    "convert it (ALTER TABLE … ENGINE = InnoDB), or set on_delete = \"retain\" for it",
                )
            } else {
                continue;
            };
            return Err(UserError {
                kind: ExitKind::Refused,
                message: format!(
                    "{}: table `{}` of source `{}` {why}; nothing changed",
                    table.location,
                    table.name,
                    self.source().name
                ),
                hint: Some(hint.into()),
                db: None,
            });
        }
        Ok(())
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
        self.refuse_tables_that_cannot_forget().await?;
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
