//! The erasure lock of a SQLite source (a lock file beside the database: SQLite's own locks last
//! one transaction, this one the whole run), and the scrub after a delete.

use std::fs::OpenOptions;
use std::time::{Duration, Instant};

use super::SqliteSource;
use crate::error::UserError;

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
}
