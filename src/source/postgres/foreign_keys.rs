//! Foreign keys that point at mapped tables, read from the catalog: they decide the order of
//! deletes (children first) and restores (parents first), and what `delete` must refuse.

use tokio_postgres::Client;

use super::connect::failure;
use crate::config::{Source, TableName};
use crate::error::UserError;
pub use crate::source::foreign_key::{ForeignKey, OnParentDelete};

/// Every foreign key, from any table, whose parent is a table of `source`'s map.
pub async fn into_mapped(client: &Client, source: &Source) -> Result<Vec<ForeignKey>, UserError> {
    let schemas: Vec<&str> = source.tables.iter().map(|t| t.name.schema.as_str()).collect();
    let names: Vec<&str> = source.tables.iter().map(|t| t.name.name.as_str()).collect();
    read(client, source, Some((&schemas, &names))).await
}

/// Foreign keys between user tables; with `parents`, only those into these (schemas, names).
pub async fn read(
    client: &Client,
    source: &Source,
    parents: Option<(&[&str], &[&str])>,
) -> Result<Vec<ForeignKey>, UserError> {
    let (schemas, names) = parents.map_or((None, None), |(s, n)| (Some(s.to_vec()), Some(n.to_vec())));
    let rows = client
        .query(
            "SELECT con.conname, cn.nspname, c.relname, pn.nspname, p.relname, con.confdeltype::\"char\"::text, \
                    ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(num, i) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.i), \
                    ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(num, i) \
                          JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.i) \
             FROM pg_catalog.pg_constraint con \
             JOIN pg_catalog.pg_class c ON c.oid = con.conrelid \
             JOIN pg_catalog.pg_namespace cn ON cn.oid = c.relnamespace \
             JOIN pg_catalog.pg_class p ON p.oid = con.confrelid \
             JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace \
             WHERE con.contype = 'f' \
               AND cn.nspname NOT IN ('pg_catalog', 'information_schema', 'dsar') \
               AND ($1::text[] IS NULL OR (pn.nspname, p.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))) \
             ORDER BY cn.nspname, c.relname, con.conname",
            &[&schemas, &names],
        )
        .await
        .map_err(failure(format!("source `{}`: cannot read foreign keys", source.name)))?;
    Ok(rows
        .iter()
        .map(|row| {
            let code: String = row.get(5);
            ForeignKey {
                name: row.get(0),
                child: TableName {
                    schema: row.get(1),
                    name: row.get(2),
                },
                parent: TableName {
                    schema: row.get(3),
                    name: row.get(4),
                },
                on_delete: OnParentDelete::from_code(code.bytes().next().unwrap_or(b'a')),
                child_columns: row.get(6),
                parent_columns: row.get(7),
            }
        })
        .collect())
}
