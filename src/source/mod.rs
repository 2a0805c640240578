//! The databases personal data is read from: one module per kind of database, and
//! [`Database`], the one handle the commands use whatever the kind.

pub mod backend;
pub mod cell;
pub mod command;
mod database;
pub mod discovery;
pub mod erasure;
pub mod field;
pub mod foreign_key;
mod held_locks;
pub mod kind_sql;
pub mod mysql;
pub mod password;
pub mod postgres;
pub mod quote;
pub mod select;
pub mod shape;
pub mod sqlite;
pub mod tls;
pub mod values;

pub use database::Database;

use field::Field;

/// One row of an export query: which subjects of the batch it belongs to (`None`: the batch has a
/// single subject, so all of them), and one value per exported column.
pub struct ExportRow {
    pub owners: Option<Vec<i32>>,
    pub values: Vec<Field>,
}

/// The values of rows the archive writer is done with, for the reader to fill again. Read into
/// new memory, a large export's rows cost a vector and a string per text value each, allocated
/// by the reader and freed as many times (with the reading of each value, a third of the
/// reader's time). Strings longer than [`field::SPARE_BYTES`] are not kept, and at most
/// [`Spares::ROWS`] rows are: what waits here stays small whatever passed through it. Only the
/// reading task uses it (the writer hands rows back through a channel), so its lock is never
/// contended. Kinds whose driver hands over owned values (MySQL, SQLite) do not use it.
#[derive(Clone, Default)]
pub struct Spares(std::sync::Arc<std::sync::Mutex<Vec<Vec<Field>>>>);

impl Spares {
    pub const ROWS: usize = 1024;

    /// Keep the values of `rows` (as many as there is room for).
    pub fn keep(&self, rows: impl Iterator<Item = ExportRow>) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for row in rows.take(Self::ROWS.saturating_sub(kept.len())) {
            kept.push(row.values);
        }
    }

    /// Every row kept so far.
    pub fn take(&self) -> Vec<Vec<Field>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}
