//! The first step of an erasure on PostgreSQL: capture, in one snapshot, the keys of every row a
//! request covers, before any row moves (so `via` chains still see their parents), and check
//! foreign keys against that capture. The pending lists are temporary tables of this session;
//! the erasure engine (`src/engine/`) takes its batches from them.

use tokio_postgres::types::ToSql;

use super::PgSource;
use super::connect::error_text;
use super::sql::{Params, Schema, ident, table_ident};
use crate::config::OnDelete;
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::backend::Dialect;
use crate::source::erasure::{Captured, outside_plan_query};
use crate::source::foreign_key::ForeignKey;

impl PgSource<'_> {
    fn primary_key(&self, table: usize) -> Result<&[String], UserError> {
        crate::source::erasure::require_primary_key(&self.config.tables[table], &self.shapes[table])
    }

    /// The condition a `flag` table's row meets once it is flagged.
    fn flagged(&self, table: usize, alias: &str) -> Option<String> {
        let column = self.config.tables[table].flag_column.as_ref()?;
        let boolean = self.shapes[table]
            .column(column)
            .is_some_and(|c| c.base_type == "boolean");
        Some(if boolean {
            format!("{alias}.{} IS TRUE", ident(column))
        } else {
            format!("{alias}.{} IS NOT NULL", ident(column))
        })
    }

    /// A primary key as the operator typed it (`--key id=7`), in the text form the database
    /// writes, so it hashes like the key that was quarantined. Every key column must be given.
    pub async fn canonical_key(
        &self,
        table: usize,
        given: &[(String, String)],
    ) -> Result<Vec<Option<String>>, UserError> {
        let pk = self.primary_key(table)?.to_vec();
        let table_name = &self.config.tables[table].name;
        let values = crate::source::erasure::key_values(&self.config.tables[table], &pk, given)?;
        let casts: Vec<String> = pk
            .iter()
            .enumerate()
            .map(|(i, c)| format!("(${}::text::{})::text", i + 1, self.cast(table, c)))
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
        let row = self
            .client
            .query_one(&format!("SELECT {}", casts.join(", ")), &params)
            .await
            .map_err(|e| UserError::usage(format!("--key for {table_name}: {}", error_text(&e))))?;
        Ok((0..pk.len()).map(|i| row.get::<_, Option<String>>(i)).collect())
    }

    /// How many rows of `table` belong to the subjects (for tables dsar leaves alone).
    pub async fn count_rows(&self, table: usize, ids: &Identities) -> Result<u64, UserError> {
        let mut params = Params::default();
        let schema = Schema {
            tables: &self.config.tables,
            shapes: &self.shapes,
        };
        let membership = schema.membership(table, 0, ids, &mut params);
        let sql = format!(
            "SELECT count(*) FROM {} t0 WHERE {membership}",
            table_ident(&self.config.tables[table].name)
        );
        let row = self
            .client
            .query_one(&sql, &params.as_refs())
            .await
            .map_err(|e| self.query_failure(table, &e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// Record, in one snapshot, the keys of every row each of `tables` will change: before any
    /// row moves, so `via` chains still see their parents. Returns the count per table.
    pub async fn capture(&self, tables: &[usize], ids: &Identities) -> Result<Vec<u64>, UserError> {
        let schema = Schema {
            tables: &self.config.tables,
            shapes: &self.shapes,
        };
        self.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            .await
            .map_err(|e| self.failure("cannot start the capture", &e))?;
        let mut counts = Vec::with_capacity(tables.len());
        for &t in tables {
            let key: Vec<String> = self
                .primary_key(t)?
                .iter()
                .map(|c| format!("t0.{}", ident(c)))
                .collect();
            let name = table_ident(&self.config.tables[t].name);
            let pending = self.pending_table(t);
            let create = format!(
                "DROP TABLE IF EXISTS {pending}; CREATE TEMP TABLE {} AS SELECT {} FROM {name} t0 WITH NO DATA",
                ident(&format!("dsar_pending_{t}")),
                key.join(", ")
            );
            self.client
                .batch_execute(&create)
                .await
                .map_err(|e| self.query_failure(t, &e))?;
            let mut params = Params::default();
            let mut condition = schema.membership(t, 0, ids, &mut params);
            if self.config.tables[t].on_delete == OnDelete::Flag
                && let Some(flagged) = self.flagged(t, "t0")
            {
                condition = format!("{condition} AND NOT ({flagged})");
            }
            let insert = format!(
                "INSERT INTO {pending} SELECT {} FROM {name} t0 WHERE {condition}",
                key.join(", ")
            );
            let n = self
                .client
                .execute(&insert, &params.as_refs())
                .await
                .map_err(|e| self.query_failure(t, &e))?;
            // A key index and fresh statistics keep batch-taking and the foreign-key checks
            // linear however many rows a subject owns.
            let bare: Vec<String> = self.primary_key(t)?.iter().map(|c| ident(c)).collect();
            self.client
                .batch_execute(&format!(
                    "ALTER TABLE {pending} ADD PRIMARY KEY ({}); ANALYZE {pending}",
                    bare.join(", ")
                ))
                .await
                .map_err(|e| self.query_failure(t, &e))?;
            counts.push(n);
        }
        self.client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| self.failure("cannot end the capture", &e))?;
        Ok(counts)
    }

    /// Rows of the foreign key's child that reference captured rows of its parent: all of them
    /// when `child_captured` is false, else only those the child's own capture does not hold.
    pub async fn references_outside_plan(
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
        let row = self
            .client
            .query_one(&sql, &[])
            .await
            .map_err(|e| self.failure("cannot check foreign keys", &e))?;
        Ok(row.get::<_, i64>(0) as u64)
    }
}
