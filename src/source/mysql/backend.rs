//! MySQL/MariaDB as the erasure engine's [`Backend`]: values travel as text (`CAST(… AS CHAR)`,
//! `HEX(…)` for binary columns) and MySQL converts them back to each column's type; batches of
//! keys and rows are bound as `?` lists, which the engine chunks under MySQL's limit of 65,535
//! placeholders per statement.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use mysql_async::Value as SqlValue;
use mysql_async::consts::ColumnType;

use super::{MySqlDialect, MySqlSource};
use crate::error::UserError;
use crate::source::backend::{
    Backend, DbError, Dialect, Mapped, MatchOwners, QuarantineBatch, RowUpdates, Statement, Value,
};
use crate::source::cell::Cell;
use crate::source::kind_sql::{self, KindSql};
use crate::source::quote::{ident, qualified, table as table_ident};
use crate::source::shape::ColumnKind;

pub(crate) const STORE_DDL: &[&str] = &[REQUESTS, QUARANTINE, PLAN];

const REQUESTS: &str = "CREATE TABLE IF NOT EXISTS dsar_requests (
    request_id    VARCHAR(64) PRIMARY KEY,
    source        VARCHAR(255) NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    restore_until DATETIME(6) NOT NULL,
    wrapped_key   BLOB,
    purged_at     DATETIME(6) NULL
) ENGINE = InnoDB";

const QUARANTINE: &str = "CREATE TABLE IF NOT EXISTS dsar_quarantine (
    id            BIGINT AUTO_INCREMENT PRIMARY KEY,
    request_id    VARCHAR(64) NOT NULL,
    source        VARCHAR(255) NOT NULL,
    table_schema  VARCHAR(64) NOT NULL,
    table_name    VARCHAR(64) NOT NULL,
    strategy      VARCHAR(16) NOT NULL,
    key_hash      VARBINARY(64) NOT NULL,
    sealed        LONGBLOB NOT NULL,
    flag_key      TEXT,
    sealed_rows   INT NULL,
    deleted_at    DATETIME(6) NOT NULL,
    restore_until DATETIME(6) NOT NULL,
    KEY dsar_quarantine_by_request (request_id, table_schema, table_name, id),
    KEY dsar_quarantine_by_key (request_id, table_schema, table_name, key_hash),
    FOREIGN KEY (request_id) REFERENCES dsar_requests (request_id)
) ENGINE = InnoDB";

const PLAN: &str = "CREATE TABLE IF NOT EXISTS dsar_plan (
    request_id    VARCHAR(64) NOT NULL,
    table_schema  VARCHAR(64) NOT NULL,
    table_name    VARCHAR(64) NOT NULL,
    position      BIGINT NOT NULL,
    strategy      VARCHAR(16) NOT NULL,
    key_hash      VARBINARY(64) NOT NULL,
    sealed_key    LONGBLOB NOT NULL,
    done          BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (request_id, table_schema, table_name, position),
    FOREIGN KEY (request_id) REFERENCES dsar_requests (request_id)
) ENGINE = InnoDB";

/// Quarantines made before plans were recorded lack the key-hash index (MySQL has no
/// CREATE INDEX IF NOT EXISTS); without it, resume and completion checks scan.
/// Plans of earlier releases held one key per row (a BLOB fits it) and no `done`.
pub(crate) const STORE_MIGRATIONS: &[(&str, &str)] = &[
    (
        "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'dsar_quarantine' AND INDEX_NAME = 'dsar_quarantine_by_key'",
        "CREATE INDEX dsar_quarantine_by_key ON dsar_quarantine (request_id, table_schema, table_name, key_hash)",
    ),
    (
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'dsar_plan' AND COLUMN_NAME = 'done'",
        "ALTER TABLE dsar_plan ADD COLUMN done BOOLEAN NOT NULL DEFAULT FALSE",
    ),
    (
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'dsar_plan' AND COLUMN_NAME = 'sealed_key' AND DATA_TYPE = 'longblob'",
        "ALTER TABLE dsar_plan MODIFY sealed_key LONGBLOB NOT NULL",
    ),
    // A quarantined batch is sealed as one entry (a bundle); entries of earlier releases hold
    // one row each (NULL).
    (
        "SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
                 AND TABLE_NAME = 'dsar_quarantine' AND COLUMN_NAME = 'sealed_rows'",
        "ALTER TABLE dsar_quarantine ADD COLUMN sealed_rows INT NULL AFTER flag_key",
    ),
];

/// The character set MySQL reports for binary strings.
const BINARY_CHARSET: u16 = 63;

impl MySqlDialect<'_> {
    fn is_binary(&self, table: usize, column: &str) -> bool {
        self.shapes()[table]
            .column(column)
            .is_some_and(|c| c.kind == ColumnKind::Bytea)
    }
}

pub(super) fn to_sql(value: &Value) -> SqlValue {
    // Lists are bound element by element (see `in_list`); never as one value.
    value.lower(SqlValue::NULL, |_| SqlValue::NULL)
}

/// A result value. The text protocol sends numbers as text too: the column type decides.
fn from_row(row: mysql_async::Row) -> Vec<Value> {
    let columns = row.columns();
    row.unwrap()
        .into_iter()
        .zip(columns.iter())
        .map(|(value, column)| match value {
            SqlValue::NULL => Value::Null,
            SqlValue::Int(i) => Value::Int(i),
            SqlValue::UInt(u) => Value::Int(u as i64),
            SqlValue::Float(f) => Value::Float(f.into()),
            SqlValue::Double(f) => Value::Float(f),
            SqlValue::Bytes(bytes) => match column.column_type() {
                ColumnType::MYSQL_TYPE_LONGLONG
                | ColumnType::MYSQL_TYPE_LONG
                | ColumnType::MYSQL_TYPE_INT24
                | ColumnType::MYSQL_TYPE_SHORT
                | ColumnType::MYSQL_TYPE_TINY => {
                    String::from_utf8_lossy(&bytes).parse().map_or(Value::Null, Value::Int)
                }
                _ if column.character_set() == BINARY_CHARSET => Value::Bytes(bytes),
                _ => Value::Text(String::from_utf8_lossy(&bytes).into_owned()),
            },
            other => Value::Text(other.as_sql(true)),
        })
        .collect()
}

impl Dialect for MySqlDialect<'_> {
    fn kind_sql(&self) -> &'static KindSql {
        &kind_sql::MYSQL
    }

    /// `column IN (?, …)`, exact: on a text column the usual collations ignore case and
    /// trailing spaces (`Customer-1@Example.com` would match `customer-1@example.com`), so the
    /// values are compared again as bytes. The first test still finds the rows by the index.
    fn push_match(&self, st: &mut Statement, table: usize, alias: &str, column: &str, values: &[String]) {
        let c = format!("{alias}.{}", ident(column));
        if self.ignores_case(table, column) {
            // LOWER() keeps the column's collation, and a case-insensitive one also ignores
            // accents and trailing spaces (`René` = `rene`): the lowered values are compared
            // again as bytes, as the exact match does.
            st.push(&format!("(LOWER({c}) IN ("));
            st.join(values, ", ", |st, v| {
                st.push("LOWER(").bind(v.as_str()).push(")");
            });
            st.push(&format!(") AND CAST(LOWER({c}) AS BINARY) IN ("));
            st.join(values, ", ", |st, v| {
                st.push("CAST(LOWER(").bind(v.as_str()).push(") AS BINARY)");
            });
            st.push("))");
            return;
        }
        let exact = self.shapes()[table].column(column).is_some_and(|c| c.text_like);
        st.push(if exact { "(" } else { "" }).push(&c).push(" IN (");
        st.join(values, ", ", |st, v| {
            st.bind(v.as_str());
        });
        st.push(")");
        if exact {
            st.push(&format!(" AND CAST({c} AS BINARY) IN ("));
            st.join(values, ", ", |st, v| {
                st.push("CAST(").bind(v.as_str()).push(" AS BINARY)");
            });
            st.push("))");
        }
    }

    /// `CONCAT_WS(',', IF(<row matches subject 0>, '0', NULL), …)`.
    fn push_match_owners(&self, st: &mut Statement, m: &MatchOwners<'_>) {
        let (table, alias, ids) = (m.table, m.alias, m.ids);
        let mut first = true;
        for s in 0..ids.count as u32 {
            let known = ids.of_subject(s);
            let tests: Vec<(&String, Vec<String>)> = m
                .pairs
                .iter()
                .map(|(key, column)| {
                    let values = known.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone());
                    (column, values.collect::<Vec<_>>())
                })
                .filter(|(_, values)| !values.is_empty())
                .collect();
            if tests.is_empty() {
                continue;
            }
            st.push(if first { "CONCAT_WS(',', IF(" } else { ", IF(" });
            first = false;
            st.join(&tests, " OR ", |st, (column, values)| {
                self.push_match(st, table, alias, column, values)
            });
            st.push(&format!(", '{s}', NULL)"));
        }
        st.push(if first { "''" } else { ")" });
    }

    /// One `JSON_ARRAY` per row: numbers stay exact, binary columns come as base64.
    fn export_columns(&self, table: usize, exported: &[usize]) -> Vec<String> {
        let values: Vec<String> = exported
            .iter()
            .map(|&i| {
                let column = &self.shapes()[table].columns[i];
                let c = format!("t0.{}", ident(&column.name));
                match column.kind {
                    ColumnKind::Bytea => format!("REPLACE(REPLACE(TO_BASE64({c}), '\\n', ''), '\\r', '')"),
                    _ => c,
                }
            })
            .collect();
        vec![format!("JSON_ARRAY({})", values.join(", "))]
    }

    fn create_pending(&self, table: usize, key: &[String]) -> Vec<String> {
        let pending = self.pending_table(table);
        let columns: Vec<String> = key.iter().map(|c| ident(c)).collect();
        vec![
            format!("DROP TEMPORARY TABLE IF EXISTS {pending}"),
            format!(
                "CREATE TEMPORARY TABLE {pending} AS SELECT {} FROM {} t0 WHERE FALSE",
                qualified("t0", key),
                table_ident(&self.source().tables[table].name)
            ),
            // The map's `key` is not unique by constraint: the delete's plan refuses rows it
            // does not single out, and the list must hold them to count them.
            if self.shapes()[table].key_from_map {
                format!("ALTER TABLE {pending} ADD INDEX ({})", columns.join(", "))
            } else {
                format!("ALTER TABLE {pending} ADD PRIMARY KEY ({})", columns.join(", "))
            },
        ]
    }

    fn mapped(&self) -> &Mapped<'_> {
        &self.mapped
    }

    fn delete_from(&self, table_sql: &str, alias: &str) -> String {
        format!("DELETE {alias} FROM {table_sql} {alias}")
    }

    /// MariaDB's: `RETURNING` only ends the single-table form, which takes no alias before
    /// MariaDB 11.6, so the columns go by the table's own name.
    fn delete_returning(&self, table: &crate::config::TableName) -> Option<(String, String)> {
        let table_sql = self.table_sql(table);
        self.mariadb.then(|| (format!("DELETE FROM {table_sql}"), table_sql))
    }

    /// One `VALUES` row per entry (MySQL reads no array, and MariaDB's table value constructor
    /// is not MySQL's).
    fn push_quarantine_rows(&self, st: &mut Statement, batch: &QuarantineBatch<'_>) {
        st.push("VALUES ").join(batch.entries, ", ", |st, entry| {
            st.push("(");
            batch.bind_shared(st, &self.source().name, "");
            st.push(", ")
                .join(&QuarantineBatch::entry_values(entry), ", ", |st, value| {
                    st.bind(value.clone());
                });
            st.push(", UTC_TIMESTAMP(6), (SELECT restore_until FROM dsar_requests WHERE request_id = ")
                .bind(batch.request_id)
                .push("))");
        });
    }

    fn read_cell(&self, table: usize, alias: &str, column: &str) -> String {
        if self.is_binary(table, column) {
            format!("HEX({alias}.{})", ident(column))
        } else {
            format!("CAST({alias}.{} AS CHAR)", ident(column))
        }
    }

    fn push_same_value(&self, st: &mut Statement, table: usize, alias: &str, column: &str, literal: &str) {
        st.push(&format!("({alias}.{} <=> ", ident(column)));
        let json = self.shapes()[table]
            .column(column)
            .is_some_and(|c| c.base_type == "json");
        if json {
            // A JSON column compared with a string compares with a JSON string.
            st.push("CAST(").bind(literal).push(" AS JSON))");
        } else {
            self.bind_cell(st, table, column, &Cell::from_text(Some(literal.to_string())));
            st.push(")");
        }
    }

    fn bind_cell(&self, st: &mut Statement, table: usize, column: &str, cell: &Cell) {
        let value = cell.key_text().map_or(Value::Null, Value::Text);
        if self.is_binary(table, column) {
            st.push("UNHEX(").bind(value).push(")");
        } else {
            st.bind(value);
        }
    }

    fn update_rows(&self, st: &mut Statement, u: &RowUpdates<'_>) {
        let (table, key, columns, rows) = (u.table, u.key, u.columns, u.rows);
        // `UPDATE t JOIN (SELECT ? AS k0, ? AS n0 UNION ALL SELECT ?, ?) u ON keys SET …`.
        st.push(&format!(
            "UPDATE {} t0 JOIN (",
            table_ident(&self.source().tables[table].name)
        ));
        for (r, (k, v)) in rows.iter().enumerate() {
            st.push(if r == 0 { "SELECT " } else { " UNION ALL SELECT " });
            for (i, (c, cell)) in key.iter().zip(k).enumerate() {
                if i > 0 {
                    st.push(", ");
                }
                self.bind_cell(st, table, c, cell);
                if r == 0 {
                    st.push(&format!(" AS k{i}"));
                }
            }
            for (i, (c, cell)) in columns.iter().zip(v).enumerate() {
                st.push(", ");
                self.bind_cell(st, table, c, cell);
                if r == 0 {
                    st.push(&format!(" AS n{i}"));
                }
            }
        }
        let on: Vec<String> = key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("t0.{} = u.k{i}", ident(c)))
            .collect();
        let sets: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("t0.{} = u.n{i}", ident(c)))
            .collect();
        st.push(&format!(") u ON {} SET {}", on.join(" AND "), sets.join(", ")));
    }

    fn is_boolean(&self, table: usize, column: &str) -> bool {
        self.shapes()[table]
            .columns
            .iter()
            .position(|c| c.name == column)
            .is_some_and(|i| self.boolean[table][i])
    }
}

impl Backend for MySqlSource<'_> {
    fn execute(&self, st: Statement) -> BoxFuture<'_, Result<u64, DbError>> {
        async move {
            let (sql, binds) = st.into_parts();
            self.run(&sql, binds.iter().map(to_sql).collect())
                .await
                .map_err(DbError::from)
        }
        .boxed()
    }

    fn query(&self, st: Statement) -> BoxFuture<'_, Result<Vec<Vec<Value>>, DbError>> {
        async move {
            let (sql, binds) = st.into_parts();
            let rows = self
                .rows(&sql, binds.iter().map(to_sql).collect())
                .await
                .map_err(DbError::from)?;
            Ok(rows.into_iter().map(from_row).collect())
        }
        .boxed()
    }

    fn lock_for_erasure(&self) -> BoxFuture<'_, Result<(), UserError>> {
        MySqlSource::lock_for_erasure(self).boxed()
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }
}
