//! The first step of an erasure on MySQL/MariaDB: capture, in one consistent snapshot, the keys
//! of every row a request covers into session temporary tables, and check foreign keys against
//! that capture. The erasure engine (`src/engine/`) takes its batches from them.

use super::MySqlSource;
use super::sql::{ident, qualified, table_ident};
use crate::config::OnDelete;
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::backend::Dialect;
use crate::source::erasure::{Captured, outside_plan_query};
use crate::source::foreign_key::ForeignKey;

impl MySqlSource<'_> {
    fn primary_key(&self, table: usize) -> Result<Vec<String>, UserError> {
        crate::source::erasure::require_primary_key(&self.config.tables[table], &self.shapes[table])
            .map(<[String]>::to_vec)
    }

    fn column_index(&self, table: usize, column: &str) -> Option<usize> {
        self.shapes[table].columns.iter().position(|c| c.name == column)
    }

    /// The condition a `flag` table's row meets once it is flagged.
    fn flagged(&self, table: usize, alias: &str) -> Option<String> {
        let column = self.config.tables[table].flag_column.as_ref()?;
        let boolean = self.column_index(table, column).is_some_and(|i| self.boolean[table][i]);
        Some(if boolean {
            format!("{alias}.{} IS TRUE", ident(column))
        } else {
            format!("{alias}.{} IS NOT NULL", ident(column))
        })
    }

    /// A primary key as the operator typed it (`--key id=7`), in the text form it was sealed in.
    pub async fn canonical_key(
        &self,
        table: usize,
        given: &[(String, String)],
    ) -> Result<Vec<Option<String>>, UserError> {
        let pk = self.primary_key(table)?;
        let table_name = &self.config.tables[table].name;
        let values = crate::source::erasure::key_values(&self.config.tables[table], &pk, given)?;
        pk.iter()
            .zip(values)
            .map(|(column, v)| {
                let integer = self.column_index(table, column).is_some_and(|i| self.integer[table][i]);
                if !integer {
                    return Ok(Some(v));
                }
                v.trim().parse::<i64>().map(|n| Some(n.to_string())).map_err(|_| {
                    UserError::usage(format!("--key {column}: not an integer, but {table_name}.{column} is"))
                })
            })
            .collect()
    }

    pub async fn count_rows(&self, table: usize, ids: &Identities) -> Result<u64, UserError> {
        let mut params = Vec::new();
        let membership = self.schema().membership(table, 0, ids, &mut params);
        let query = format!(
            "SELECT COUNT(*) FROM {} t0 WHERE {membership}",
            table_ident(&self.config.tables[table].name)
        );
        let rows = self
            .rows(&query, params)
            .await
            .map_err(|e| self.query_failure(table, &e))?;
        Ok(rows.first().and_then(|r| r.get::<i64, _>(0)).unwrap_or(0) as u64)
    }

    /// Record, in one snapshot, the keys of every row each of `tables` will change.
    pub async fn capture(&self, tables: &[usize], ids: &Identities) -> Result<Vec<u64>, UserError> {
        self.run("START TRANSACTION WITH CONSISTENT SNAPSHOT", Vec::new())
            .await
            .map_err(|e| self.failure("cannot start the capture", &e))?;
        let mut counts = Vec::with_capacity(tables.len());
        for &t in tables {
            let pk = self.primary_key(t)?;
            let name = table_ident(&self.config.tables[t].name);
            let fail = |e: mysql_async::Error| self.query_failure(t, &e);
            self.run(
                &format!("DROP TEMPORARY TABLE IF EXISTS {}", self.pending_table(t)),
                Vec::new(),
            )
            .await
            .map_err(fail)?;
            self.run(
                &format!(
                    "CREATE TEMPORARY TABLE {} AS SELECT {} FROM {name} t0 WHERE FALSE",
                    self.pending_table(t),
                    qualified("t0", &pk)
                ),
                Vec::new(),
            )
            .await
            .map_err(fail)?;
            self.run(
                &format!(
                    "ALTER TABLE {} ADD PRIMARY KEY ({})",
                    self.pending_table(t),
                    pk.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
                ),
                Vec::new(),
            )
            .await
            .map_err(fail)?;
            let mut params = Vec::new();
            let mut condition = self.schema().membership(t, 0, ids, &mut params);
            if self.config.tables[t].on_delete == OnDelete::Flag
                && let Some(flagged) = self.flagged(t, "t0")
            {
                condition = format!("{condition} AND NOT ({flagged})");
            }
            let n = self
                .run(
                    &format!(
                        "INSERT INTO {} SELECT {} FROM {name} t0 WHERE {condition}",
                        self.pending_table(t),
                        qualified("t0", &pk)
                    ),
                    params,
                )
                .await
                .map_err(fail)?;
            counts.push(n);
        }
        self.run("COMMIT", Vec::new())
            .await
            .map_err(|e| self.failure("cannot end the capture", &e))?;
        Ok(counts)
    }

    /// Rows of the foreign key's child that reference captured rows of its parent: all of them
    /// when `child_captured` is `None`, else only those the child's own capture does not hold.
    pub async fn references_outside_plan(
        &self,
        fk: &ForeignKey,
        parent: usize,
        child_captured: Option<usize>,
    ) -> Result<u64, UserError> {
        let parent_key = self.primary_key(parent)?;
        let child_key = child_captured.map(|c| self.primary_key(c)).transpose()?;
        let parent_capture = Captured {
            pending: self.pending_table(parent),
            key: &parent_key,
        };
        let child_capture = child_captured.zip(child_key.as_deref()).map(|(c, key)| Captured {
            pending: self.pending_table(c),
            key,
        });
        let query = outside_plan_query(
            fk,
            &table_ident(&fk.child),
            &table_ident(&fk.parent),
            &parent_capture,
            child_capture.as_ref(),
        );
        let rows = self
            .rows(&query, Vec::new())
            .await
            .map_err(|e| self.failure("cannot check foreign keys", &e))?;
        Ok(rows.first().and_then(|r| r.get::<i64, _>(0)).unwrap_or(0) as u64)
    }
}
