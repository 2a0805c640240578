//! The whole catalog of a PostgreSQL database, for `dsar discover` to draft a map from.

use tokio_postgres::Client;

use super::connect::{connect, error_text};
use super::foreign_keys::ForeignKey;
use super::sql::{ident, table_ident};
use crate::config::{Source, TableName};
use crate::error::UserError;

#[derive(Debug, Clone)]
pub struct DbColumn {
    pub name: String,
    pub text_like: bool,
}

#[derive(Debug, Clone)]
pub struct DbTable {
    pub name: TableName,
    pub columns: Vec<DbColumn>,
    pub primary_key: Vec<String>,
}

/// Every user table with its columns and key, and every foreign key between them.
pub struct DbCatalog {
    client: Client,
    pub tables: Vec<DbTable>,
    pub foreign_keys: Vec<ForeignKey>,
}

const USER_SCHEMAS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'dsar') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'";

pub async fn read(source: &Source) -> Result<DbCatalog, UserError> {
    let client = connect(source).await?;
    let fail = |e: tokio_postgres::Error| {
        UserError::runtime(format!(
            "source `{}`: cannot read the catalog: {}",
            source.name,
            error_text(&e)
        ))
    };
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
                 WHERE c.relkind IN ('r', 'p') AND {USER_SCHEMAS} \
                 ORDER BY n.nspname, c.relname, a.attnum"
            ),
            &[],
        )
        .await
        .map_err(fail)?;
    let mut tables: Vec<DbTable> = Vec::new();
    let mut keys: Vec<Vec<(i32, String)>> = Vec::new();
    for row in rows {
        let name = TableName {
            schema: row.get(0),
            name: row.get(1),
        };
        if tables.last().is_none_or(|t| t.name != name) {
            tables.push(DbTable {
                name,
                columns: Vec::new(),
                primary_key: Vec::new(),
            });
            keys.push(Vec::new());
        }
        let column: String = row.get(2);
        if row.get::<_, bool>(5) {
            keys.last_mut()
                .expect("pushed above")
                .push((row.get(6), column.clone()));
        }
        tables.last_mut().expect("pushed above").columns.push(DbColumn {
            name: column,
            text_like: row.get(4),
        });
    }
    for (table, mut key) in tables.iter_mut().zip(keys) {
        key.sort();
        table.primary_key = key.into_iter().map(|(_, c)| c).collect();
    }
    let foreign_keys = super::foreign_keys::read(&client, source, None).await?;
    Ok(DbCatalog {
        client,
        tables,
        foreign_keys,
    })
}

impl DbCatalog {
    /// Whether sampled values of a text column look like email addresses.
    pub async fn looks_like_email(&self, table: &TableName, column: &str) -> bool {
        let sql = format!(
            "SELECT count(*) FILTER (WHERE v ~ '^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$'), count(*) \
             FROM (SELECT {}::text AS v FROM {} WHERE {} IS NOT NULL LIMIT 50) s",
            ident(column),
            table_ident(table),
            ident(column)
        );
        match self.client.query_one(&sql, &[]).await {
            Ok(row) => {
                let (hits, all): (i64, i64) = (row.get(0), row.get(1));
                all > 0 && hits * 2 > all
            }
            Err(_) => false,
        }
    }
}
