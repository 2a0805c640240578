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
