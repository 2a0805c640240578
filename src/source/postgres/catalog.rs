//! What the database says the mapped tables look like, and the map's names checked against it.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::connect::error_text;
use crate::config::{Link, Source, TableName};
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
    /// Primary key columns in key order; empty when the table has none.
    pub primary_key: Vec<String>,
}

impl TableShape {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Read the columns of every table `source` maps, in one catalog query.
pub async fn load(client: &Client, source: &Source) -> Result<Vec<TableShape>, UserError> {
    let schemas: Vec<&str> = source.tables.iter().map(|t| t.name.schema.as_str()).collect();
    let names: Vec<&str> = source.tables.iter().map(|t| t.name.name.as_str()).collect();
    let rows = client
        .query(
            "SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, NULL), \
                    a.atttypid = 'bytea'::regtype, a.atttypid = 'json'::regtype, \
                    t.typcategory = 'S', \
                    CASE WHEN a.atttypid IN ('varchar'::regtype, 'bpchar'::regtype) AND a.atttypmod > 4 \
                         THEN a.atttypmod - 4 END, \
                    a.attgenerated <> '', \
                    COALESCE(a.attnum = ANY(pk.indkey), false) AS in_pk, \
                    COALESCE(array_position(pk.indkey::int2[], a.attnum), 0) AS pk_pos \
             FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
             LEFT JOIN pg_catalog.pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
               AND (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[])) \
             ORDER BY n.nspname, c.relname, a.attnum",
            &[&schemas, &names],
        )
        .await
        .map_err(|e| {
            UserError::runtime(format!(
                "source `{}`: cannot read the catalog: {}",
                source.name,
                error_text(&e)
            ))
        })?;
    let mut found: HashMap<TableName, TableShape> = HashMap::new();
    let mut key_positions: HashMap<TableName, Vec<(i32, String)>> = HashMap::new();
    for row in rows {
        let name = TableName {
            schema: row.get(0),
            name: row.get(1),
        };
        let kind = if row.get(4) {
            ColumnKind::Bytea
        } else if row.get(5) {
            ColumnKind::Json
        } else {
            ColumnKind::Other
        };
        let column: String = row.get(2);
        if row.get::<_, bool>(9) {
            let position: i32 = row.get(10);
            key_positions
                .entry(name.clone())
                .or_default()
                .push((position, column.clone()));
        }
        let max_len: Option<i32> = row.get(7);
        found
            .entry(name)
            .or_insert_with(|| TableShape {
                columns: Vec::new(),
                primary_key: Vec::new(),
            })
            .columns
            .push(Column {
                name: column,
                base_type: row.get(3),
                kind,
                text_like: row.get(6),
                max_len: max_len.map(|n| n as usize),
                generated: row.get(8),
            });
    }
    for (name, mut positions) in key_positions {
        positions.sort();
        if let Some(shape) = found.get_mut(&name) {
            shape.primary_key = positions.into_iter().map(|(_, c)| c).collect();
        }
    }

    let mut shapes = Vec::with_capacity(source.tables.len());
    for table in &source.tables {
        match found.get(&table.name) {
            Some(shape) => shapes.push(shape.clone()),
            None => return Err(missing_table(client, source, &table.name, &table.location).await),
        }
    }
    check_columns(source, &shapes)?;
    Ok(shapes)
}

async fn missing_table(client: &Client, source: &Source, name: &TableName, location: &str) -> UserError {
    let all: Vec<String> = client
        .query(
            "SELECT n.nspname || '.' || c.relname FROM pg_catalog.pg_class c \
             JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') \
               AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'",
            &[],
        )
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default();
    UserError::usage(format!(
        "{location}: table `{name}` does not exist in source `{}`{}",
        source.name,
        suggestion(&name.to_string(), all.iter().map(String::as_str))
    ))
    .with_hint("names are case-sensitive and literal, as the catalog has them; a name without a schema means public")
}

/// Every column the map names must exist in its table.
fn check_columns(source: &Source, shapes: &[TableShape]) -> Result<(), UserError> {
    for (table, shape) in source.tables.iter().zip(shapes) {
        let mut named: Vec<(&str, &TableShape, &crate::config::Table)> = Vec::new();
        match &table.link {
            Link::Match(pairs) => named.extend(pairs.iter().map(|(_, c)| (c.as_str(), shape, table))),
            Link::Via {
                parent,
                columns,
                parent_columns,
            } => {
                named.extend(columns.iter().map(|c| (c.as_str(), shape, table)));
                let parent_table = &source.tables[*parent];
                named.extend(
                    parent_columns
                        .iter()
                        .map(|c| (c.as_str(), &shapes[*parent], parent_table)),
                );
            }
        }
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
    }
    Ok(())
}
