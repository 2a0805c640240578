//! What a mapped table looks like, as any kind of database's catalog describes it.

use crate::config::{Link, Source};
use crate::error::{UserError, suggestion};

/// How a column's values are read out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Binary: exported as base64 text.
    Bytea,
    /// `json`: read as written, keeping key order and duplicates' last value.
    Json,
    /// Everything else goes through `to_jsonb`, which keeps numerics exact, arrays as arrays and
    /// jsonb as nested JSON.
    Other,
}

#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// The type without modifiers (`character varying`, not `character varying(40)`): casting a
    /// subject value to it never truncates or rounds, so a long value cannot match a prefix.
    pub base_type: String,
    pub kind: ColumnKind,
    /// A text type (`text`, `varchar`, `char`…): what `redact` and `hash` can write into.
    pub text_like: bool,
    /// The declared length limit of a `varchar(n)`/`char(n)` column.
    pub max_len: Option<usize>,
    /// `GENERATED ALWAYS AS (…) STORED`: computed by the server, never written back on restore.
    pub generated: bool,
}

/// A mapped table as the catalog describes it.
#[derive(Debug, Clone)]
pub struct TableShape {
    pub columns: Vec<Column>,
    /// Primary key columns in key order; empty when the table has none. For a table without
    /// one, the map's `key` (see [`apply_map_keys`]).
    pub primary_key: Vec<String>,
    /// `primary_key` is the map's `key`, not a constraint: the delete's plan checks that each
    /// row it takes is the only one with its key.
    pub key_from_map: bool,
    /// Rows can be written back by a bulk load that keeps what an `INSERT` checks (PostgreSQL's
    /// `COPY … FROM STDIN`: a table or partitioned table with no rewrite rule, which `COPY`
    /// would bypass, and no row security, under which `COPY FROM` is refused).
    pub bulk_load: bool,
}

impl TableShape {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The indices of the columns an export writes: all but `excluded`, in catalog order.
    pub fn exported(&self, excluded: &[String]) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !excluded.contains(&c.name))
            .map(|(i, _)| i)
            .collect()
    }
}

/// A table without a primary key is identified by the map's `key`; a table with one keeps it
/// (a `key` that names other columns is an error: the constraint is what the database enforces).
/// Then every column the map names must exist ([`check_columns`]).
pub fn apply_map_keys(source: &Source, shapes: &mut [TableShape]) -> Result<(), UserError> {
    for (table, shape) in source.tables.iter().zip(shapes.iter_mut()) {
        if table.key.is_empty() {
            continue;
        }
        if shape.primary_key.is_empty() {
            // The capture keys its lists by it, and MySQL indexes no TEXT or BLOB column whole.
            if source.kind == crate::config::SourceKind::Mysql
                && let Some(column) = table.key.iter().filter_map(|k| shape.column(k)).find(|c| {
                    c.base_type.contains("text") || c.base_type.contains("blob") || c.max_len.is_some_and(|n| n > 768)
                })
            {
                return Err(UserError::usage(format!(
                    "{}: table `{}`: key column `{}` ({}) cannot be indexed whole by MySQL/MariaDB",
                    table.location, table.name, column.name, column.base_type
                ))
                .with_hint("name shorter columns in `key` (numbers, dates, short varchars), or add a primary key"));
            }
            shape.primary_key = table.key.clone();
            shape.key_from_map = true;
        } else if shape.primary_key != table.key {
            return Err(UserError::usage(format!(
                "{}: table `{}` has a primary key ({}), so `key` must name it or be left out",
                table.location,
                table.name,
                shape.primary_key.join(", ")
            ))
            .with_hint("`key` is for tables without a primary key"));
        }
    }
    check_columns(source, shapes)
}

/// Every column the map names must exist in its table.
pub fn check_columns(source: &Source, shapes: &[TableShape]) -> Result<(), UserError> {
    for (table, shape) in source.tables.iter().zip(shapes) {
        let mut named: Vec<(&str, &TableShape, &crate::config::Table)> = Vec::new();
        match &table.link {
            Link::Match(pairs) => named.extend(pairs.iter().map(|(_, c)| (c.as_str(), shape, table))),
            Link::Via(paths) => {
                for path in paths {
                    named.extend(path.columns.iter().map(|c| (c.as_str(), shape, table)));
                    let parent_table = &source.tables[path.parent];
                    named.extend(
                        path.parent_columns
                            .iter()
                            .map(|c| (c.as_str(), &shapes[path.parent], parent_table)),
                    );
                }
            }
        }
        named.extend(table.key.iter().map(|c| (c.as_str(), shape, table)));
        named.extend(table.exclude_columns.iter().map(|c| (c.as_str(), shape, table)));
        named.extend(table.anonymize.iter().map(|(c, _)| (c.as_str(), shape, table)));
        named.extend(table.flag_column.iter().map(|c| (c.as_str(), shape, table)));
        for (column, in_shape, in_table) in named {
            if in_shape.column(column).is_none() {
                return Err(UserError::usage(format!(
                    "{}: table `{}` has no column `{column}`{}",
                    table.location,
                    in_table.name,
                    suggestion(column, in_shape.columns.iter().map(|c| c.name.as_str()))
                )));
            }
        }
        // Case belongs to text: lower() of a number or a uuid compares its text, so `007` would
        // stop matching `7`.
        if let Some(column) = table
            .ignore_case
            .iter()
            .find(|c| shape.column(c).is_some_and(|c| !c.text_like))
        {
            return Err(UserError::usage(format!(
                "{}: table `{}`: `{column}` is not a text column, so it cannot be matched with ignore_case",
                table.location, table.name
            ))
            .with_hint("drop ignore_case for that key; only text columns have a case"));
        }
    }
    Ok(())
}
