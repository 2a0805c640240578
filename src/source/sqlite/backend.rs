//! SQLite as the erasure engine's [`Backend`]: values keep their storage class (an integer stays
//! an integer, a blob its bytes) and are bound as they are; batches of keys and rows are bound
//! as `?` lists (`IN (VALUES …)`), under SQLite's limit of 32,766 values per statement. A batch
//! runs in a `BEGIN IMMEDIATE` transaction, which holds the file for writing.

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::catalog::Affinity;
use super::{SqliteDialect, SqliteSource, value};
use crate::error::UserError;
use crate::source::backend::{
    Backend, DbError, Dialect, Mapped, MatchOwners, QuarantineBatch, RowUpdates, Statement, Value,
};
use crate::source::cell::Cell;
use crate::source::kind_sql::{self, KindSql};
use crate::source::quote::{ident, qualified, table as table_ident};

/// Times in the store are Unix seconds (REAL) by the local clock, the database's clock here.
/// Now, in Unix seconds with sub-second precision, as SQL.
pub(crate) const NOW: &str = "((julianday('now') - 2440587.5) * 86400.0)";

pub(crate) const STORE_DDL: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS dsar_requests (
        request_id    TEXT PRIMARY KEY,
        source        TEXT NOT NULL,
        created_at    REAL NOT NULL,
        restore_until REAL NOT NULL,
        wrapped_key   BLOB,
        purged_at     REAL
    )",
    "CREATE TABLE IF NOT EXISTS dsar_quarantine (
        id            INTEGER PRIMARY KEY,
        request_id    TEXT NOT NULL REFERENCES dsar_requests,
        source        TEXT NOT NULL,
        table_schema  TEXT NOT NULL,
        table_name    TEXT NOT NULL,
        strategy      TEXT NOT NULL,
        key_hash      BLOB NOT NULL,
        sealed        BLOB NOT NULL,
        flag_key      TEXT,
        sealed_rows   INTEGER,
        deleted_at    REAL NOT NULL,
        restore_until REAL NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS dsar_quarantine_by_request
        ON dsar_quarantine (request_id, table_schema, table_name, id)",
    // Rows changed in place (anonymize, flag) still match their subject: a completion check
    // finds them again by key hash. Quarantined rows left their table; they need no entry here.
    "CREATE INDEX IF NOT EXISTS dsar_quarantine_changed_by_key
        ON dsar_quarantine (request_id, table_schema, table_name, key_hash) WHERE strategy <> 'quarantine'",
    "CREATE TABLE IF NOT EXISTS dsar_plan (
        request_id    TEXT NOT NULL REFERENCES dsar_requests,
        table_schema  TEXT NOT NULL,
        table_name    TEXT NOT NULL,
        position      INTEGER NOT NULL,
        strategy      TEXT NOT NULL,
        key_hash      BLOB NOT NULL,
        sealed_key    BLOB NOT NULL,
        done          INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (request_id, table_schema, table_name, position)
    )",
    // Plans are found by position now; this index of earlier releases only costs.
    "DROP INDEX IF EXISTS dsar_plan_by_key",
];

/// Plans recorded by earlier releases have no `done` column; their full key-hash index goes
/// once no such plan is left to finish (resume looks their rows up by hash).
pub(crate) const STORE_MIGRATIONS: &[(&str, &str)] = &[
    (
        "SELECT count(*) FROM pragma_table_info('dsar_plan') WHERE name = 'done'",
        "ALTER TABLE dsar_plan ADD COLUMN done INTEGER NOT NULL DEFAULT 0",
    ),
    (
        "SELECT (SELECT count(*) FROM dsar_plan WHERE length(key_hash) > 0 AND NOT done) \
         + (SELECT 1 - count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'dsar_quarantine_by_key')",
        "DROP INDEX dsar_quarantine_by_key",
    ),
    // A quarantined batch is sealed as one entry (a bundle); entries of earlier releases hold
    // one row each (NULL).
    (
        "SELECT count(*) FROM pragma_table_info('dsar_quarantine') WHERE name = 'sealed_rows'",
        "ALTER TABLE dsar_quarantine ADD COLUMN sealed_rows INTEGER",
    ),
];

impl SqliteDialect<'_> {
    /// A subject value as JSON the column compares equal with: a number for a numeric column,
    /// a string for text, both for an untyped column (which stores what it was given).
    fn typed(&self, table: usize, column: &str, text: &str) -> Vec<serde_json::Value> {
        let affinity = self.shapes()[table]
            .columns
            .iter()
            .position(|c| c.name == column)
            .map_or(Affinity::Blob, |i| self.affinities[table][i]);
        let number = value::number(text).filter(|_| affinity.is_numeric() || affinity == Affinity::Blob);
        let string = (!affinity.is_numeric()).then(|| serde_json::Value::String(text.to_string()));
        number.into_iter().chain(string).collect()
    }

    /// `(?, ?, …)` for one row's cells.
    fn tuple(st: &mut Statement, cells: &[Cell]) {
        st.push("(");
        st.join(cells, ", ", |st, cell| {
            st.bind(cell.to_value());
        });
        st.push(")");
    }
}

impl Dialect for SqliteDialect<'_> {
    fn kind_sql(&self) -> &'static KindSql {
        &kind_sql::SQLITE
    }

    /// `column IN (SELECT value FROM json_each(?))`, the values typed as the column stores them.
    fn push_match(&self, st: &mut Statement, table: usize, alias: &str, column: &str, values: &[String]) {
        if self.ignores_case(table, column) {
            // The form an index on lower(column) serves (SQLite's lower() folds ASCII only).
            let values: Vec<serde_json::Value> = values.iter().map(|v| v.as_str().into()).collect();
            st.push(&format!(
                "lower({alias}.{}) IN (SELECT lower(value) FROM json_each(",
                ident(column)
            ))
            .bind(Value::Text(serde_json::Value::Array(values).to_string()))
            .push("))");
            return;
        }
        let typed: Vec<serde_json::Value> = values.iter().flat_map(|v| self.typed(table, column, v)).collect();
        st.push(&format!("{alias}.{} IN (SELECT value FROM json_each(", ident(column)))
            .bind(Value::Text(serde_json::Value::Array(typed).to_string()))
            .push("))");
    }

    /// A JSON array of the subjects, from bound `[value, subject]` pairs.
    fn push_match_owners(&self, st: &mut Statement, m: &MatchOwners<'_>) {
        let (table, alias, ids) = (m.table, m.alias, m.ids);
        st.push("(SELECT json_group_array(o) FROM (");
        st.join(m.pairs, " UNION ", |st, (key, column)| {
            let pairs: Vec<serde_json::Value> = (ids.values(key).iter().zip(ids.subjects(key)))
                .flat_map(|(v, owner)| self.typed(table, column, v).into_iter().map(move |v| (v, owner)))
                .map(|(v, owner)| serde_json::Value::Array(vec![v, owner.into()]))
                .collect();
            let fold = self.ignores_case(table, column);
            st.push("SELECT json_extract(p.value, '$[1]') AS o FROM json_each(")
                .bind(Value::Text(serde_json::Value::Array(pairs).to_string()))
                .push(&if fold {
                    format!(
                        ") p WHERE lower(json_extract(p.value, '$[0]')) = lower({alias}.{})",
                        ident(column)
                    )
                } else {
                    format!(") p WHERE json_extract(p.value, '$[0]') = {alias}.{}", ident(column))
                });
        });
        st.push("))");
    }

    /// The columns as stored: the reader keeps each value's storage class.
    fn export_columns(&self, table: usize, exported: &[usize]) -> Vec<String> {
        let columns = exported
            .iter()
            .map(|&i| format!("t0.{}", ident(&self.shapes()[table].columns[i].name)));
        columns.collect()
    }

    fn create_pending(&self, table: usize, key: &[String]) -> Vec<String> {
        let bare = ident(&format!("dsar_pending_{table}"));
        let columns: Vec<String> = key.iter().map(|c| ident(c)).collect();
        vec![
            format!("DROP TABLE IF EXISTS {}", self.pending_table(table)),
            format!(
                "CREATE TEMP TABLE {bare} AS SELECT {} FROM {} t0 WHERE 0",
                qualified("t0", key),
                table_ident(&self.source().tables[table].name)
            ),
            // The map's `key` is not unique by constraint (see the MySQL backend).
            format!(
                "CREATE {}INDEX temp.{} ON {bare} ({})",
                if self.shapes()[table].key_from_map {
                    ""
                } else {
                    "UNIQUE "
                },
                ident(&format!("dsar_pending_{table}_key")),
                columns.join(", ")
            ),
        ]
    }

    fn mapped(&self) -> &Mapped<'_> {
        &self.mapped
    }

    fn push_quarantine_rows(&self, st: &mut Statement, batch: &QuarantineBatch<'_>) {
        st.push("SELECT ");
        batch.bind_shared(st, &self.source().name, "");
        st.push(&format!(
            ", u.column1, u.column2, u.column3, u.column4, {NOW}, r.restore_until FROM (VALUES "
        ))
        .join(batch.entries, ", ", |st, entry| {
            st.push("(")
                .join(&QuarantineBatch::entry_values(entry), ", ", |st, value| {
                    st.bind(value.clone());
                });
            st.push(")");
        });
        st.push(") AS u JOIN dsar_requests r ON r.request_id = ")
            .bind(batch.request_id);
    }

    fn read_cell(&self, _table: usize, alias: &str, column: &str) -> String {
        format!("{alias}.{}", ident(column))
    }

    fn bind_cell(&self, st: &mut Statement, _table: usize, _column: &str, cell: &Cell) {
        st.bind(cell.to_value());
    }

    fn update_rows(&self, st: &mut Statement, u: &RowUpdates<'_>) {
        let (table, key, columns, rows) = (u.table, u.key, u.columns, u.rows);
        // `UPDATE t SET c = u.columnN FROM (VALUES (k…, n…), …) AS u WHERE t.k = u.column1 …`.
        let sets: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = u.column{}", ident(c), key.len() + i + 1))
            .collect();
        st.push(&format!(
            "UPDATE {} AS t0 SET {} FROM (VALUES ",
            table_ident(&self.source().tables[table].name),
            sets.join(", ")
        ));
        st.join(rows, ", ", |st, (k, v)| {
            let cells: Vec<Cell> = k.iter().chain(v).cloned().collect();
            Self::tuple(st, &cells);
        });
        let matches: Vec<String> = key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("t0.{} = u.column{}", ident(c), i + 1))
            .collect();
        st.push(&format!(") AS u WHERE {}", matches.join(" AND ")));
    }

    fn is_boolean(&self, table: usize, column: &str) -> bool {
        self.shapes()[table]
            .column(column)
            .is_some_and(|c| c.base_type.to_ascii_uppercase().contains("BOOL"))
    }
}

impl SqliteSource<'_> {
    /// Run a query; its rows, each value read by [`value::read`] (`exact`: text that is not
    /// UTF-8 is an error).
    fn rows(&self, st: Statement, exact: bool) -> Result<Vec<Vec<Value>>, DbError> {
        let (sql, binds) = st.into_parts();
        let params: Vec<_> = binds.iter().map(value::bind).collect();
        let conn = self.conn();
        let result = conn.prepare_cached(&sql).and_then(|mut stmt| {
            let width = stmt.column_count();
            let rows = stmt.query_map(rusqlite::params_from_iter(params.iter()), |row| {
                (0..width)
                    .map(|i| {
                        value::read(row.get_ref(i)?, exact).map_err(|e| {
                            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, Box::new(e))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()
            })?;
            rows.collect::<Result<Vec<_>, _>>()
        });
        drop(conn);
        result.map_err(DbError::from)
    }
}

impl Backend for SqliteSource<'_> {
    fn execute(&self, st: Statement) -> BoxFuture<'_, Result<u64, DbError>> {
        let (sql, binds) = st.into_parts();
        let params: Vec<_> = binds.iter().map(value::bind).collect();
        let result = self
            .conn()
            .prepare_cached(&sql)
            .and_then(|mut stmt| stmt.execute(rusqlite::params_from_iter(params.iter())))
            .map(|n| n as u64)
            .map_err(DbError::from);
        futures_util::future::ready(result).boxed()
    }

    fn query(&self, st: Statement) -> BoxFuture<'_, Result<Vec<Vec<Value>>, DbError>> {
        futures_util::future::ready(self.rows(st, false)).boxed()
    }

    fn query_exact(&self, st: Statement) -> BoxFuture<'_, Result<Vec<Vec<Value>>, DbError>> {
        futures_util::future::ready(self.rows(st, true)).boxed()
    }

    fn lock_for_erasure(&self) -> BoxFuture<'_, Result<(), UserError>> {
        futures_util::future::ready(SqliteSource::lock_for_erasure(self)).boxed()
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }
}
