//! What the database says the mapped tables look like, and the map's names checked against it.

use std::collections::HashMap;

use tokio_postgres::Client;

use super::connect::failure;
use crate::config::{Source, TableName};
use crate::error::{UserError, suggestion};
pub use crate::source::shape::{Column, ColumnKind, TableShape};

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
                    COALESCE(array_position(pk.indkey::int2[], a.attnum), 0) AS pk_pos, \
                    c.relkind IN ('r', 'p') AND NOT c.relhasrules AND NOT c.relrowsecurity \
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
        .map_err(failure(format!("source `{}`: cannot read the catalog", source.name)))?;
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
                key_from_map: false,
                bulk_load: row.get(11),
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
    crate::source::shape::apply_map_keys(source, &mut shapes)?;
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
