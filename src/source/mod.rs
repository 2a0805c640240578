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
/// reader's time). At most [`Spares::ROWS`] rows are kept (a chunk's worth), and as many again
/// may have been taken to be filled; each holds at most [`Spares::ROW_BYTES`] (its strings and
/// its vector of values): what waits is at most a megabyte, whatever passed through it. Only
/// the reading task uses it (the writer hands rows back through a channel), so its lock is
/// never contended. Kinds whose driver hands over values it allocated (MySQL, SQLite) do not
/// use it, and their rows are not kept (`Database::reads_into_spares`).
#[derive(Clone, Default)]
pub struct Spares(std::sync::Arc<std::sync::Mutex<Vec<Vec<Field>>>>);

impl Spares {
    pub const ROWS: usize = 256;
    pub const ROW_BYTES: usize = 2048;

    /// Keep the values of `rows` (as many as there is room for; a row holding more than
    /// [`Spares::ROW_BYTES`] is freed instead).
    pub fn keep(&self, rows: impl Iterator<Item = ExportRow>) {
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for row in rows {
            if kept.len() >= Self::ROWS {
                break;
            }
            if Self::bytes(&row.values) <= Self::ROW_BYTES {
                kept.push(row.values);
            }
        }
    }

    /// What a row's values hold on to: their vector and their strings.
    pub fn bytes(values: &Vec<Field>) -> usize {
        values.capacity() * std::mem::size_of::<Field>() + values.iter().map(Field::text_capacity).sum::<usize>()
    }

    /// Every row kept so far.
    pub fn take(&self) -> Vec<Vec<Field>> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &str) -> ExportRow {
        ExportRow {
            owners: None,
            values: vec![Field::Int(1), Field::Text(text.to_string())],
        }
    }

    /// What waits to be read into stays small: at most `ROWS` rows, none holding more than
    /// `ROW_BYTES` (a row that held a long value, or too many, is freed, not kept).
    #[test]
    fn spares_keep_a_bounded_number_of_short_rows() {
        let spares = Spares::default();
        spares.keep((0..Spares::ROWS + 100).map(|_| row("short")));
        spares.keep(std::iter::once(row("one more")));
        assert_eq!(spares.take().len(), Spares::ROWS);
        assert!(spares.take().is_empty(), "taken once");
        let long = "x".repeat(Spares::ROW_BYTES + 1);
        spares.keep([row("a"), row(&long), row("b")].into_iter());
        let kept = spares.take();
        assert_eq!(kept.len(), 2);
        assert!(kept.iter().all(|values| Spares::bytes(values) <= Spares::ROW_BYTES));
        // A row too wide to keep, whatever its strings.
        let wide = ExportRow {
            owners: None,
            values: vec![Field::Null; Spares::ROW_BYTES / std::mem::size_of::<Field>() + 1],
        };
        spares.keep(std::iter::once(wide));
        assert!(spares.take().is_empty());
    }
}
