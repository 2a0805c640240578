//! The whole catalog of a PostgreSQL database, for `dsar discover` to draft a map from.

use super::connect::{connect, failure};
use crate::config::{Source, TableName};
use crate::error::UserError;
use crate::source::discovery::{DbCatalog, Sampler, TablesFromRows};

const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'dsar') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'";

pub async fn read(source: &Source) -> Result<DbCatalog, UserError> {
    let (client, _) = connect(source).await?;
    let fail = |e| failure(format!("source `{}`: cannot read the catalog", source.name))(e);
    let rows = client
        .query(
            &format!(
                "SELECT n.nspname, c.relname, a.attname, NULL, t.typcategory = 'S', \
                        COALESCE(a.attnum = ANY(pk.indkey), false), COALESCE(array_position(pk.indkey::int2[], a.attnum), 0) \
                 FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
                 JOIN pg_catalog.pg_type t ON t.oid = a.atttypid \
                 LEFT JOIN pg_catalog.pg_index pk ON pk.indrelid = c.oid AND pk.indisprimary \
                 WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND {USER_SCHEMAS} \
                 ORDER BY n.nspname, c.relname, a.attnum"
            ),
            &[],
        )
        .await
        .map_err(fail)?;
    let mut tables = TablesFromRows::default();
    for row in rows {
        tables.column(
            TableName {
                schema: row.get(0),
                name: row.get(1),
            },
            row.get(2),
            row.get(4),
            // indkey is an int2vector, subscripted from 0.
            if row.get::<_, bool>(5) {
                i64::from(row.get::<_, i32>(6)) + 1
            } else {
                0
            },
        );
    }
    let tables = tables.finish();
    let foreign_keys = super::foreign_keys::read(&client, source, None).await?;
    let default_schema: String = client
        .query_one("SELECT COALESCE(current_schema(), 'public')", &[])
        .await
        .map_err(fail)?
        .get(0);
    Ok(DbCatalog {
        default_schema,
        sampler: Sampler::Postgres(client),
        tables,
        foreign_keys,
    })
}

/// Up to `limit` non-NULL values of a column, as text.
pub async fn sample(client: &tokio_postgres::Client, table: &TableName, column: &str, limit: i64) -> Vec<String> {
    use crate::source::quote::{ident, table as table_ident};
    let sql = format!(
        "SELECT {c}::text FROM {t} WHERE {c} IS NOT NULL LIMIT $1",
        c = ident(column),
        t = table_ident(table)
    );
    client
        .query(&sql, &[&limit])
        .await
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default()
}
