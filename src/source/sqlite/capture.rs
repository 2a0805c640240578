//! The first step of an erasure on SQLite: capture, in one transaction, the keys of every row a
//! request covers into temporary tables of this connection, and check foreign keys against that
//! capture. The erasure engine (`src/engine/`) takes its batches from them.

use rusqlite::Connection;

use super::SqliteSource;
use super::sql::{ident, qualified, table_ident};
use crate::config::OnDelete;
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::backend::Dialect;
use crate::source::erasure::{Captured, outside_plan_query};
use crate::source::foreign_key::ForeignKey;

impl SqliteSource<'_> {
    fn primary_key(&self, table: usize) -> Result<&[String], UserError> {
        crate::source::erasure::require_primary_key(&self.config.tables[table], &self.shapes[table])
    }

    /// The condition a `flag` table's row meets once it is flagged.
    fn flagged(&self, table: usize, alias: &str) -> Option<String> {
        let column = self.config.tables[table].flag_column.as_ref()?;
        Some(if self.is_boolean(table, column) {
            format!("{alias}{} IS TRUE", ident(column))
        } else {
            format!("{alias}{} IS NOT NULL", ident(column))
        })
    }

    fn is_boolean(&self, table: usize, column: &str) -> bool {
        self.shapes[table]
            .column(column)
            .is_some_and(|c| c.base_type.to_ascii_uppercase().contains("BOOL"))
    }

    /// Run `body` between `BEGIN IMMEDIATE` and `COMMIT`; roll back if it fails.
    fn in_transaction<T>(&self, body: impl FnOnce(&Connection) -> Result<T, UserError>) -> Result<T, UserError> {
        let conn = self.conn();
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.failure("cannot start a batch", &e))?;
        match body(&conn) {
            Ok(value) => {
                conn.execute_batch("COMMIT")
                    .map_err(|e| self.failure("cannot commit a batch", &e))?;
                Ok(value)
            }
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    }

    /// A primary key as the operator typed it (`--key id=7`), in the text form its stored value
    /// hashes as. Every key column must be given.
    pub fn canonical_key(&self, table: usize, given: &[(String, String)]) -> Result<Vec<Option<String>>, UserError> {
        let pk = self.primary_key(table)?.to_vec();
        let table_name = &self.config.tables[table].name;
        let values = crate::source::erasure::key_values(&self.config.tables[table], &pk, given)?;
        pk.iter()
            .zip(values)
            .map(|(column, v)| {
                let i = self.shapes[table].columns.iter().position(|c| &c.name == column);
                if !i.is_some_and(|i| self.affinities[table][i].is_numeric()) {
                    return Ok(Some(v));
                }
                if let Ok(n) = v.trim().parse::<i64>() {
                    return Ok(Some(n.to_string()));
                }
                v.trim().parse::<f64>().map(|f| Some(f.to_string())).map_err(|_| {
                    UserError::usage(format!(
                        "--key {column}: not a number, but {table_name}.{column} is numeric"
                    ))
                })
            })
            .collect()
    }

    pub fn count_rows(&self, table: usize, ids: &Identities) -> Result<u64, UserError> {
        let mut params = Vec::new();
        let membership = self.schema().membership(table, 0, ids, &mut params);
        let sql = format!(
            "SELECT count(*) FROM {} t0 WHERE {membership}",
            table_ident(&self.config.tables[table].name)
        );
        self.conn()
            .query_row(&sql, rusqlite::params_from_iter(params.iter()), |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.query_failure(table, &e))
    }

    /// Record, in one read transaction, the keys of every row each of `tables` will change:
    /// before any row moves, so `via` chains still see their parents.
    pub fn capture(&self, tables: &[usize], ids: &Identities) -> Result<Vec<u64>, UserError> {
        let mut counts = Vec::with_capacity(tables.len());
        let schema = self.schema();
        self.in_transaction(|conn| {
            for &t in tables {
                let pk = self.primary_key(t)?.to_vec();
                let name = table_ident(&self.config.tables[t].name);
                let bare = ident(&format!("dsar_pending_{t}"));
                conn.execute_batch(&format!(
                    "DROP TABLE IF EXISTS {pending}; \
                     CREATE TEMP TABLE {bare} AS SELECT {cols} FROM {name} t0 WHERE 0; \
                     CREATE UNIQUE INDEX temp.{index} ON {bare} ({keys})",
                    pending = self.pending_table(t),
                    cols = qualified("t0", &pk),
                    index = ident(&format!("dsar_pending_{t}_key")),
                    keys = pk.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
                ))
                .map_err(|e| self.query_failure(t, &e))?;
                let mut params = Vec::new();
                let mut condition = schema.membership(t, 0, ids, &mut params);
                if self.config.tables[t].on_delete == OnDelete::Flag
                    && let Some(flagged) = self.flagged(t, "t0.")
                {
                    condition = format!("{condition} AND NOT ({flagged})");
                }
                let n = conn
                    .execute(
                        &format!(
                            "INSERT INTO {} SELECT {} FROM {name} t0 WHERE {condition}",
                            self.pending_table(t),
                            qualified("t0", &pk)
                        ),
                        rusqlite::params_from_iter(params.iter()),
                    )
                    .map_err(|e| self.query_failure(t, &e))?;
                counts.push(n as u64);
            }
            Ok(())
        })?;
        Ok(counts)
    }

    /// Rows of the foreign key's child that reference captured rows of its parent: all of them
    /// when `child_captured` is `None`, else only those the child's own capture does not hold.
    pub fn references_outside_plan(
        &self,
        fk: &ForeignKey,
        parent: usize,
        child_captured: Option<usize>,
    ) -> Result<u64, UserError> {
        let parent_capture = Captured {
            pending: self.pending_table(parent),
            key: self.primary_key(parent)?,
        };
        let child_capture = match child_captured {
            Some(child) => Some(Captured {
                pending: self.pending_table(child),
                key: self.primary_key(child)?,
            }),
            None => None,
        };
        let sql = outside_plan_query(
            fk,
            &table_ident(&fk.child),
            &table_ident(&fk.parent),
            &parent_capture,
            child_capture.as_ref(),
        );
        self.conn()
            .query_row(&sql, [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(|e| self.failure("cannot check foreign keys", &e))
    }
}
