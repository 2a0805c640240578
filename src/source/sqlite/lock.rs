//! The erasure lock of a SQLite source (a lock file beside the database: SQLite's own locks last
//! one transaction, this one the whole run), and the scrub after a delete.

use crate::source::backend::Dialect;
use std::fs::{File, OpenOptions};
use std::time::{Duration, Instant};

use super::SqliteSource;
use crate::error::UserError;
use crate::source::erasure::erasure_under_way;
use crate::source::held_locks;

impl SqliteSource<'_> {
    /// Serialise delete, restore and purge on this file with a lock file beside it (SQLite's
    /// own locks last one transaction; this one lasts the whole run). Waits up to
    /// `lock_timeout`.
    pub fn lock_for_erasure(&self) -> Result<(), UserError> {
        let mut held = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if held.is_some() {
            return Ok(());
        }
        let database = self.identity();
        // Another source of this map on the same file shares the lock this process holds.
        if held_locks::is_held(&database) {
            return Ok(());
        }
        *held = Some(self.take_lock_file().map_err(|lock_path| {
            UserError::runtime(format!(
                "source `{}`: another dsar delete, restore or purge holds this database's lock ({lock_path})",
                self.source().name
            ))
            .with_hint("wait for it to finish, or raise lock_timeout for this source")
        })?);
        held_locks::mark_held(&database);
        Ok(())
    }

    /// Wait until no delete, restore or purge holds the lock file (up to `lock_timeout`), and
    /// hold it while the returned guard lives: an export starts its snapshot under it.
    pub fn wait_for_erasures(&self) -> Result<Option<File>, UserError> {
        if held_locks::is_held(&self.identity()) {
            return Ok(None);
        }
        self.take_lock_file()
            .map(Some)
            .map_err(|_| erasure_under_way(&self.source().name, "waited lock_timeout"))
    }

    /// The database file's canonical path: what tells two sources on one file apart.
    fn identity(&self) -> String {
        let path = self.source().path.clone().unwrap_or_default();
        std::fs::canonicalize(&path).unwrap_or(path).display().to_string()
    }

    /// The lock file beside the database, locked; waits up to `lock_timeout`. Fails with the
    /// lock file's path.
    fn take_lock_file(&self) -> Result<File, String> {
        let path = self.source().path.clone().unwrap_or_default();
        let lock_path = path.with_file_name(format!(
            "{}.dsar-lock",
            path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()
        ));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| format!("{}: {e}", lock_path.display()))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < self.source().lock_timeout => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(_) => return Err(lock_path.display().to_string()),
            }
        }
    }

    /// Rebuild the file so its free space holds no copy of a deleted row (see
    /// [`crate::source::Database::scrub_free_space`]). In WAL mode the rebuilt pages (and the old
    /// ones) sit in the `-wal` file until a checkpoint: copy them into the main file and truncate
    /// the log. When another connection keeps the log in use, say so: rows may still be readable
    /// in it.
    pub fn vacuum(&self) -> Result<Option<String>, UserError> {
        let conn = self.conn();
        conn.execute_batch("VACUUM")
            .map_err(|e| self.failure("cannot VACUUM after the delete", &e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(|e| self.failure("cannot read the journal mode", &e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Ok(None);
        }
        let (busy, log, done): (i64, i64, i64) = conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(|e| self.failure("cannot checkpoint the write-ahead log after the delete", &e))?;
        if busy != 0 || done < log {
            let path = self.source().path.clone().unwrap_or_default();
            return Ok(Some(format!(
                "source `{}`: another connection keeps {}-wal in use, so it was not checkpointed and may still hold \
                 copies of the erased rows; close the other connections, then run `sqlite3 {} \"PRAGMA wal_checkpoint(TRUNCATE)\"`",
                self.source().name,
                path.display(),
                path.display()
            )));
        }
        Ok(None)
    }
}
