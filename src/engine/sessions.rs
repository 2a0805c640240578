//! A table's batches on several sessions of one database at once (the caller says how many:
//! an erasure three, a restore two).
//!
//! A batch is a round of turns: the server deletes and returns the rows, the client seals them,
//! the server writes them to quarantine and commits. On one session the server waits while the
//! client seals and the client waits while the server works; on several, each session takes
//! the next chunk of the plan when its batch is over, so one's server work runs while
//! another's rows are sealed. Each batch is still one transaction of its own that marks its
//! own chunk done: the crash guarantees do not depend on which session, or in which order, batches
//! commit (a run that stops with chunks 4 and 6 done and 5 not done resumes with 5). A session
//! alone takes up to its kind's `chunks_per_commit` chunks in one transaction (SQLite five: a
//! commit there is a rollback journal written, synced and deleted), each marked done in it;
//! its restore likewise brings back that many ranges per transaction. A paced source takes one
//! at a time, and a cancel takes effect once the transaction under way commits.
//!
//! Chunks are handed out under a lock, in plan order, each to exactly one session; after a
//! failure, or when the caller asks to stop, no session takes another, and the batches under way
//! on the other sessions are let finish (committed or rolled back) before the caller hears.
//!
//! Two sessions can wait for each other's locks (a table that refers to itself: one batch
//! deletes a parent whose child the other's batch holds); the server then rolls one back. That
//! batch changed nothing and runs again, up to [`DEADLOCK_RETRIES`] times.
//!
//! A restore goes the same way over the quarantine: each session takes the next range of
//! `batch_rows` entries (by id) and brings it back in a transaction of its own; a range whose
//! batch the table refuses is gone through one entry at a time, on that session.

use std::cell::{Cell, RefCell};

use super::erase::erase_chunks;
use super::plan::next_chunk;
use super::restore::{Held, Restoring, one_by_one, range_end, restore_batch, restore_batches};
use crate::config::OnDelete;
use crate::envelope::DataKey;
use crate::error::UserError;
use crate::source::backend::Backend;
use crate::source::erasure::{ErasedBatch, RestoreBatch};

/// How many times a batch the server rolled back to break a deadlock runs again.
const DEADLOCK_RETRIES: usize = 3;

/// Run the batch `attempt` makes, again while the server rolls it back to break a deadlock.
pub(super) async fn retried<T, Fut: std::future::Future<Output = Result<T, UserError>>>(
    mut attempt: impl FnMut() -> Fut,
) -> Result<T, UserError> {
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(e) if e.db == Some(crate::error::DbErrorKind::Deadlock) && tries < DEADLOCK_RETRIES => tries += 1,
            other => return other,
        }
    }
}

/// What the caller says after each committed batch.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

impl Flow {
    /// `Stop` when `stop` (a cancel was asked for), else `Continue`.
    pub fn stop_if(stop: bool) -> Flow {
        if stop { Flow::Stop } else { Flow::Continue }
    }
}

/// One table of one request: what every batch of it needs.
pub struct TableRun<'a> {
    pub table: usize,
    pub request_id: &'a str,
    pub key: &'a DataKey,
    pub installation_key: &'a [u8],
    /// The source's `max_rows_per_second`: every session waits after its batch while the
    /// table's rows so far run ahead of it.
    pub max_rows_per_second: Option<u32>,
}

/// Erase the chunks of `run.table`'s plan that are not done, in plan order, on every session
/// of `sessions` at once (one session, or several of the same database). `each` hears of
/// every committed batch and may stop the run; the first error is returned once every session
/// has stopped.
pub async fn erase_table(
    sessions: &[&dyn Backend],
    run: &TableRun<'_>,
    each: impl FnMut(&ErasedBatch) -> Flow,
) -> Result<(), UserError> {
    let shared = Shared::new(-1, each);
    let chunks = match sessions {
        [one] => chunks_per_commit(*one, run.max_rows_per_second),
        _ => 1,
    };
    futures_util::future::join_all(sessions.iter().map(|db| erase_session(*db, run, chunks, &shared))).await;
    shared.outcome()
}

/// How many chunks (or restore ranges) a session alone takes per transaction: its kind's
/// `chunks_per_commit` where a commit is dear, but one when the source is paced
/// (`max_rows_per_second`): a paced run is there to spare the database, and holding its write
/// lock over several chunks (SQLite's is the whole file's) is what pacing must not do. Two
/// sessions take a chunk each, so that neither waits long for the other's locks.
fn chunks_per_commit(db: &dyn Backend, max_rows_per_second: Option<u32>) -> usize {
    match max_rows_per_second {
        Some(_) => 1,
        None => db.dialect().kind_sql().chunks_per_commit.max(1),
    }
}

/// What the sessions of one table share (they run in one task: no thread sees it).
struct Shared<F> {
    /// The position of the last chunk handed out.
    after: tokio::sync::Mutex<i64>,
    started: std::time::Instant,
    /// Rows moved by every session so far, for pacing.
    moved: Cell<u64>,
    stop: Cell<bool>,
    failed: RefCell<Option<UserError>>,
    each: RefCell<F>,
}

impl<F> Shared<F> {
    fn new(after: i64, each: F) -> Shared<F> {
        Shared {
            after: tokio::sync::Mutex::new(after),
            started: std::time::Instant::now(),
            moved: Cell::new(0),
            stop: Cell::new(false),
            failed: RefCell::new(None),
            each: RefCell::new(each),
        }
    }

    fn fail(&self, e: UserError) {
        self.stop.set(true);
        self.failed.borrow_mut().get_or_insert(e);
    }

    /// Wait as the source's pace asks, after a batch.
    async fn pace(&self, max_rows_per_second: Option<u32>) {
        if let Some(limit) = max_rows_per_second {
            crate::pace::throttle(self.started, self.moved.get(), limit).await;
        }
    }

    fn outcome(self) -> Result<(), UserError> {
        match self.failed.into_inner() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// One session's loop: take the next chunk not handed out, erase it (with up to `chunks - 1`
/// after it, in one transaction: only when this is the only session), tell the caller of each.
async fn erase_session<F: FnMut(&ErasedBatch) -> Flow>(
    db: &dyn Backend,
    run: &TableRun<'_>,
    chunks: usize,
    shared: &Shared<F>,
) {
    loop {
        let chunk = {
            let mut after = shared.after.lock().await;
            if shared.stop.get() {
                return;
            }
            let next = next_chunk(db, run.table, run.request_id, run.key, *after).await;
            // Another session may have failed, or been told to stop, meanwhile.
            if shared.stop.get() {
                return;
            }
            match next {
                Ok(Some(chunk)) => {
                    *after = chunk.position;
                    chunk
                }
                Ok(None) => return,
                Err(e) => return shared.fail(e),
            }
        };
        // A retry (the server broke a deadlock) starts again from the same first chunk.
        let batch = retried(|| {
            erase_chunks(
                db,
                run.table,
                chunk.clone(),
                chunks,
                run.request_id,
                run.key,
                run.installation_key,
            )
        });
        match batch.await {
            Ok((batches, last)) => {
                // The chunks after the first were taken inside the transaction: the only
                // session's own, handed out now.
                let mut after = shared.after.lock().await;
                *after = (*after).max(last);
                drop(after);
                for batch in &batches {
                    shared.moved.set(shared.moved.get() + batch.moved);
                    if (shared.each.borrow_mut())(batch) == Flow::Stop {
                        shared.stop.set(true);
                    }
                }
            }
            Err(e) => return shared.fail(e),
        }
        shared.pace(run.max_rows_per_second).await;
    }
}

/// One table and strategy of a restore run.
pub struct RestoreRun<'a> {
    pub table: usize,
    pub strategy: OnDelete,
    pub restoring: &'a Restoring<'a>,
    /// Rows of this table held back with a parent left in quarantine.
    pub held: &'a Held,
    pub batch_rows: i64,
    pub max_rows_per_second: Option<u32>,
}

/// Bring back `run.table`'s quarantine entries of `run.strategy`, in id order, on every session
/// of `sessions` at once; `each` hears of every committed batch and may stop the run; the first
/// error is returned once every session has stopped.
pub async fn restore_table(
    sessions: &[&dyn Backend],
    run: &RestoreRun<'_>,
    each: impl FnMut(RestoreBatch) -> Flow,
) -> Result<(), UserError> {
    let shared = Shared::new(0, each);
    let ranged = sessions.len() > 1;
    futures_util::future::join_all(sessions.iter().map(|db| restore_session(*db, run, ranged, &shared))).await;
    shared.outcome()
}

/// One session's loop: take the next range of entries, bring it back, tell the caller. Alone,
/// a session needs no range: its batch takes the next `batch_rows` entries after the last.
async fn restore_session<F: FnMut(RestoreBatch) -> Flow>(
    db: &dyn Backend,
    run: &RestoreRun<'_>,
    ranged: bool,
    shared: &Shared<F>,
) {
    let (table, strategy, restoring, held) = (run.table, run.strategy, run.restoring, run.held);
    loop {
        let mut after = shared.after.lock().await;
        if shared.stop.get() {
            return;
        }
        // Alone, the session keeps the lock over its batch and moves `after` past it.
        let (range, mut alone) = if ranged {
            let end = range_end(db, table, strategy, restoring, *after, run.batch_rows).await;
            if shared.stop.get() {
                return;
            }
            match end {
                Ok(Some(until)) => {
                    let range = (*after, Some(until));
                    *after = until;
                    drop(after);
                    (range, None)
                }
                Ok(None) => return,
                Err(e) => return shared.fail(e),
            }
        } else {
            ((*after, None), Some(after))
        };
        // Alone, a session commits several ranges at once where its kind's commit is dear.
        let chunks = if ranged {
            1
        } else {
            chunks_per_commit(db, run.max_rows_per_second)
        };
        let result = match retried(|| {
            restore_batches(db, table, strategy, restoring, held, range, run.batch_rows, chunks)
        })
        .await
        {
            // A row the table no longer accepts (a new constraint, a missing parent) must not
            // hold back the others: a refused group tries its first range alone (the later
            // ones come again in the next group), and a refused range goes row by row, flagging
            // the row.
            Err(e) if e.is_refusal() => {
                let alone = if chunks > 1 {
                    retried(|| restore_batch(db, table, strategy, restoring, held, range, run.batch_rows)).await
                } else {
                    Err(e)
                };
                match alone {
                    Err(e) if e.is_refusal() => one_by_one(db, table, strategy, restoring, held, range, run.batch_rows)
                        .await
                        .map(|batch| vec![batch]),
                    other => other.map(|batch| vec![batch]),
                }
            }
            other => other,
        };
        let batches = match result {
            Ok(batches) => batches,
            Err(e) => return shared.fail(e),
        };
        if let Some(after) = alone.as_mut() {
            let Some(last) = batches.iter().rev().find(|b| b.seen > 0) else {
                return;
            };
            **after = last.last_id;
        }
        drop(alone);
        // Alone, a batch that saw nothing means the entries ran out.
        let over = !ranged && batches.last().is_some_and(|b| b.seen == 0);
        for batch in batches {
            if !ranged && batch.seen == 0 {
                continue;
            }
            shared.moved.set(shared.moved.get() + batch.restored);
            if (shared.each.borrow_mut())(batch) == Flow::Stop {
                shared.stop.set(true);
            }
        }
        if over {
            return;
        }
        shared.pace(run.max_rows_per_second).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::DbErrorKind;

    fn failing(kind: DbErrorKind) -> UserError {
        UserError {
            db: Some(kind),
            ..UserError::runtime("batch failed")
        }
    }

    /// A batch rolled back to break a deadlock runs again; any other failure is final at once.
    #[test]
    fn only_a_deadlock_is_run_again_and_only_a_few_times() {
        let block = |kind: DbErrorKind, fail_first: usize| {
            let tries = Cell::new(0);
            let result = futures_util::FutureExt::now_or_never(retried(|| {
                tries.set(tries.get() + 1);
                let n = tries.get();
                async move { if n <= fail_first { Err(failing(kind)) } else { Ok(n) } }
            }))
            .expect("no await point blocks");
            (result.map_err(|e| e.db), tries.get())
        };
        assert_eq!(block(DbErrorKind::Deadlock, 2), (Ok(3), 3));
        assert_eq!(
            block(DbErrorKind::Deadlock, 10),
            (Err(Some(DbErrorKind::Deadlock)), DEADLOCK_RETRIES + 1)
        );
        assert_eq!(
            block(DbErrorKind::LockTimeout, 1),
            (Err(Some(DbErrorKind::LockTimeout)), 1)
        );
        assert_eq!(
            block(DbErrorKind::ForeignKeyViolation, 1),
            (Err(Some(DbErrorKind::ForeignKeyViolation)), 1)
        );
    }
}
