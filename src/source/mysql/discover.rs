//! The catalog of a MySQL or MariaDB database (the one the URL names), for `dsar discover` to
//! draft a map from. Other databases on the server are not read: a bare name in a map means the
//! URL's database, and a shared server holds other applications' tables.

use mysql_async::Value as SqlValue;

use super::{MySqlSource, error_text};
use crate::config::{Source, TableName};
use crate::error::UserError;
use crate::source::discovery::{DbCatalog, Sampler, TablesFromRows};
use crate::source::quote::{ident, table as table_ident};

/// Read every table, column, key and foreign key of the URL's database. `source` lists no
/// tables; it lives as long as the catalog's sampler.
pub async fn read(source: &'static Source) -> Result<DbCatalog, UserError> {
    let db = MySqlSource::try_open(source).await??;
    let named = db.rows("SELECT DATABASE() IS NOT NULL", Vec::new()).await;
    if !matches!(named.as_deref(), Ok([row]) if row.get::<i64, _>(0) == Some(1)) {
        return Err(UserError::usage(format!(
            "source `{}`: the URL names no database, so there is no catalog to read",
            source.name
        ))
        .with_hint("end the URL with the database: mysql://USER@HOST:PORT/DATABASE"));
    }
    let fail = |e: mysql_async::Error| {
        UserError::runtime(format!(
            "source `{}`: cannot read the catalog: {}",
            source.name,
            error_text(&e)
        ))
    };
    let rows = db
        .rows(
            "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.DATA_TYPE, CAST(COALESCE(k.ORDINAL_POSITION, 0) AS SIGNED) \
             FROM information_schema.COLUMNS c \
             JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
             LEFT JOIN information_schema.KEY_COLUMN_USAGE k ON k.TABLE_SCHEMA = c.TABLE_SCHEMA \
               AND k.TABLE_NAME = c.TABLE_NAME AND k.COLUMN_NAME = c.COLUMN_NAME AND k.CONSTRAINT_NAME = 'PRIMARY' \
               AND k.REFERENCED_TABLE_NAME IS NULL \
             WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE' \
               AND c.TABLE_NAME NOT LIKE 'dsar\\_%' \
             ORDER BY BINARY c.TABLE_NAME, c.ORDINAL_POSITION",
            Vec::new(),
        )
        .await
        .map_err(fail)?;
    let mut tables = TablesFromRows::default();
    for row in rows {
        let text = |i: usize| row.get::<Option<String>, _>(i).flatten().unwrap_or_default();
        let data_type = text(2).to_ascii_lowercase();
        tables.column(
            TableName {
                schema: String::new(),
                name: text(0),
            },
            text(1),
            matches!(
                data_type.as_str(),
                "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"
            ),
            row.get::<Option<i64>, _>(3).flatten().unwrap_or(0),
        );
    }
    let tables = tables.finish();
    let mut foreign_keys = db.all_foreign_keys().await?;
    foreign_keys.retain(|fk| fk.parent.schema.is_empty());
    Ok(DbCatalog {
        sampler: Sampler::Mysql(Box::new(db)),
        tables,
        foreign_keys,
        default_schema: String::new(),
    })
}

/// Up to `limit` non-NULL values of a column, as text.
pub async fn sample(db: &MySqlSource<'_>, table: &TableName, column: &str, limit: i64) -> Vec<String> {
    let sql = format!(
        "SELECT CAST({c} AS CHAR) FROM {t} WHERE {c} IS NOT NULL LIMIT ?",
        c = ident(column),
        t = table_ident(table)
    );
    db.rows(&sql, vec![SqlValue::Int(limit)])
        .await
        .map(|rows| {
            rows.into_iter()
                .filter_map(|r| r.get::<Option<String>, _>(0).flatten())
                .collect()
        })
        .unwrap_or_default()
}
