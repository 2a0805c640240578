//! The erasure engine: the algorithm of delete, restore and purge, written once for every kind
//! of database.
//!
//! Layers, and the only direction they depend in:
//!
//! ```text
//! commands (src/erase/: delete, restore, purge)      what to erase, in which order, the ledger
//!   └─ engine (src/engine/)                           capture; one batch: take, change, seal, check
//!        └─ backend (src/source/backend.rs)           the contract each database implements
//!             ├─ kind_sql (src/source/kind_sql.rs)    what each kind spells as fixed text
//!             └─ postgres/ mysql/ sqlite/             SQL dialect, value round-trips, drivers
//! ```
//!
//! The engine never branches on the kind of database: where kinds differ (placeholders, how a
//! batch of keys or rows is bound, `DELETE … RETURNING`, the erasure lock, how a value is read
//! and written back exactly) it asks the [`Backend`]. Its invariants hold for every kind because
//! they are checked here, once:
//! - every batch is one transaction: a crash at any point leaves each row live or quarantined;
//! - a batch takes one chunk of the persisted plan and marks it done in that transaction, so a
//!   resumed erasure takes exactly the chunks not done (whichever session ran which batch:
//!   a table's batches may run on several sessions at once, see `sessions`);
//! - the rows sealed into quarantine equal the rows taken from the live table in the same
//!   transaction, or the batch rolls back naming the table;
//! - restore never overwrites a live row: a key in use again, or a row the table refuses, is
//!   flagged for review and the others go on;
//! - a stored key that does not parse stops the run naming the request, table and quarantine
//!   row; nothing is ever skipped silently.

mod capture;
mod erase;
mod payload;
mod plan;
mod purge;
mod restore;
mod sessions;
mod store;
mod transaction;

pub use capture::{
    ambiguous_keys, capture, count_path_rows, count_rows, count_statement, references_outside_plan, shared_with_others,
};
pub use plan::{clear_plan, drop_done, has_plan, record_plan, reload_plan, unfinished_plans};
pub use purge::purge_flagged_batch;
pub use restore::{Held, Restoring};
pub use sessions::{Flow, RestoreRun, TableRun, erase_table, restore_table};
pub use store::{
    delete_quarantined, ensure_store, expired_requests, has_store, quarantined_tables, register_request, request_count,
    shred_key, stored_request,
};

use crate::error::UserError;
use crate::source::backend::{Backend, DbError};

/// "source `name`, table `t`" for errors about one table.
fn on_table(db: &dyn Backend, table: usize) -> impl FnOnce(DbError) -> UserError + '_ {
    move |e| {
        e.context(format!(
            "source `{}`, table `{}`",
            db.dialect().source().name,
            db.dialect().source().tables[table].name
        ))
    }
}

/// "source `name`: what" for errors about the store or a step.
fn on_source<'a>(db: &'a dyn Backend, what: &'a str) -> impl FnOnce(DbError) -> UserError + 'a {
    move |e| e.context(format!("source `{}`: {what}", db.dialect().source().name))
}
