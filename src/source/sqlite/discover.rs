//! The whole schema of a SQLite file, for `dsar discover` to draft a map from.

use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};

use super::catalog::{Affinity, all_foreign_keys, user_tables};
use crate::config::{Source, TableName};
use crate::error::UserError;
use crate::source::discovery::{DbCatalog, DbColumn, DbTable, Sampler};
use crate::source::quote::{ident, table as table_ident};

/// Read every table, column, key and foreign key of the file (opened read-only: discover
/// changes nothing).
pub fn read(source: &Source) -> Result<DbCatalog, UserError> {
    let path = source.path.clone().unwrap_or_default();
    if !path.is_file() {
        return Err(UserError::usage(format!(
            "source `{}`: SQLite database {} does not exist",
            source.name,
            path.display()
        ))
        .with_hint("check path in the source map (relative paths start at the map's directory)"));
    }
    let fail =
        |e: rusqlite::Error| UserError::runtime(format!("source `{}`: cannot read the schema: {e}", source.name));
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(fail)?;
    let mut tables = Vec::new();
    for name in user_tables(&conn).map_err(fail)? {
        let mut stmt = conn
            .prepare("SELECT name, type, pk FROM pragma_table_info(?1, 'main') ORDER BY cid")
            .map_err(fail)?;
        let columns: Vec<(String, String, i64)> = stmt
            .query_map([&name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(fail)?
            .collect::<Result<_, _>>()
            .map_err(fail)?;
        let mut key: Vec<(i64, String)> = columns.iter().filter(|c| c.2 > 0).map(|c| (c.2, c.0.clone())).collect();
        key.sort();
        tables.push(DbTable {
            name: TableName {
                schema: "main".into(),
                name,
            },
            columns: columns
                .into_iter()
                .map(|(name, declared, _)| DbColumn {
                    name,
                    text_like: matches!(Affinity::of(&declared), Affinity::Text | Affinity::Blob),
                })
                .collect(),
            primary_key: key.into_iter().map(|(_, c)| c).collect(),
        });
    }
    let foreign_keys = all_foreign_keys(&conn).map_err(fail)?;
    Ok(DbCatalog {
        default_schema: "main".into(),
        sampler: Sampler::Sqlite(Mutex::new(conn)),
        tables,
        foreign_keys,
    })
}

/// Up to `limit` non-NULL values of a column, as text.
pub fn sample(conn: &Mutex<Connection>, table: &TableName, column: &str, limit: i64) -> Vec<String> {
    let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
    let sql = format!(
        "SELECT CAST({c} AS TEXT) FROM {t} WHERE {c} IS NOT NULL LIMIT ?1",
        c = ident(column),
        t = table_ident(table)
    );
    conn.prepare(&sql)
        .and_then(|mut s| s.query_map([limit], |r| r.get(0))?.collect())
        .unwrap_or_default()
}
