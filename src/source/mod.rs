//! The databases personal data is read from. One module per kind of database.

pub mod postgres;
