//! Erasure on SQLite, with the same contract as on PostgreSQL: capture the keys a request
//! covers, then move them batch by batch, each batch one transaction (`BEGIN IMMEDIATE`).
//! A crash or `kill -9` rolls the open batch back (SQLite's journal), so each row is either
//! live or quarantined, never both and never neither. The pending lists are temp tables of this
//! connection: they die with it, and a re-run captures again from what is still live.

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde::{Deserialize, Serialize};

use super::SqliteSource;
use super::sql::{ident, qualified, table_ident};
use super::store::NOW;
use super::value::Cell;
use crate::config::{AnonRule, OnDelete};
use crate::envelope::DataKey;
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::erasure::{Captured, ErasedBatch, RestoreBatch, anonymized, outside_plan_query, sealed_columns};
use crate::source::foreign_key::ForeignKey;

/// A row's old values as sealed into quarantine, each with its storage class.
#[derive(Debug, Serialize, Deserialize)]
struct SealedRow {
    columns: Vec<String>,
    values: Vec<Cell>,
}

impl SealedRow {
    fn get(&self, column: &str) -> Option<&Cell> {
        self.columns.iter().position(|c| c == column).map(|i| &self.values[i])
    }
}

fn strategy_name(strategy: OnDelete) -> &'static str {
    crate::erase::plan::strategy_name(strategy)
}

/// `temp."dsar_pending_N"`: the keys of table N this request still has to move.
fn pending(table: usize) -> String {
    format!("temp.{}", ident(&format!("dsar_pending_{table}")))
}

/// `a = ?1 AND b = ?2` over the key columns, for statements prepared once and run per row.
fn key_equals(pk: &[String], alias: &str, first: usize) -> String {
    pk.iter()
        .enumerate()
        .map(|(i, c)| format!("{alias}{} = ?{}", ident(c), first + i))
        .collect::<Vec<_>>()
        .join(" AND ")
}

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
                    pending = pending(t),
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
                            pending(t),
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
            pending: pending(parent),
            key: self.primary_key(parent)?,
        };
        let child_capture = match child_captured {
            Some(child) => Some(Captured {
                pending: pending(child),
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

    /// Move up to `limit` captured rows of `table` according to its strategy, in one
    /// transaction. The batch's keys leave the pending list in the same transaction, so the next
    /// batch starts where this one ended.
    pub fn erase_batch(
        &self,
        table: usize,
        limit: i64,
        request_id: &str,
        key: &DataKey,
        installation_key: &[u8],
    ) -> Result<ErasedBatch, UserError> {
        self.in_transaction(|conn| self.erase_batch_body(conn, table, limit, request_id, key, installation_key))
    }

    fn erase_batch_body(
        &self,
        conn: &Connection,
        table: usize,
        limit: i64,
        request_id: &str,
        key: &DataKey,
        installation_key: &[u8],
    ) -> Result<ErasedBatch, UserError> {
        let fail = |e: rusqlite::Error| self.query_failure(table, &e);
        let strategy = self.config.tables[table].on_delete;
        let pk = self.primary_key(table)?.to_vec();
        let name = table_ident(&self.config.tables[table].name);
        let place_name = self.config.tables[table].name.to_string();
        let order = pk.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ");
        conn.execute_batch("DROP TABLE IF EXISTS temp.dsar_batch")
            .map_err(fail)?;
        conn.execute(
            &format!(
                "CREATE TEMP TABLE dsar_batch AS SELECT * FROM {} ORDER BY {order} LIMIT ?1",
                pending(table)
            ),
            [limit],
        )
        .map_err(fail)?;
        // CREATE TABLE AS reports no row count; count what it took.
        let taken: i64 = conn
            .query_row("SELECT count(*) FROM temp.dsar_batch", [], |r| r.get(0))
            .map_err(fail)?;
        if taken == 0 {
            conn.execute_batch("DROP TABLE temp.dsar_batch").map_err(fail)?;
            return Ok(ErasedBatch {
                taken: 0,
                moved: 0,
                last_key: Vec::new(),
            });
        }
        let in_batch = format!("({}) IN (SELECT * FROM temp.dsar_batch)", qualified("t0", &pk));

        // Which columns are sealed: all of them for quarantine; the key and the changed columns
        // for anonymize and flag.
        let sealed_columns = sealed_columns(&self.config.tables[table], &self.shapes[table], &pk)?;
        let rows: Vec<SealedRow> = {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {} FROM {name} t0 WHERE {in_batch} ORDER BY {}",
                    qualified("t0", &sealed_columns),
                    qualified("t0", &pk)
                ))
                .map_err(fail)?;
            let mapped = stmt
                .query_map([], |r| {
                    Ok(SealedRow {
                        columns: sealed_columns.clone(),
                        values: (0..sealed_columns.len())
                            .map(|i| r.get_ref(i).map(Cell::read))
                            .collect::<Result<_, _>>()?,
                    })
                })
                .map_err(fail)?;
            mapped.collect::<Result<_, _>>().map_err(fail)?
        };

        match strategy {
            OnDelete::Quarantine => {
                conn.execute(&format!("DELETE FROM {name} AS t0 WHERE {in_batch}"), [])
                    .map_err(fail)?;
            }
            OnDelete::Anonymize => self.anonymize_rows(conn, table, &pk, &rows, installation_key)?,
            OnDelete::Flag => {
                if let Some(column) = &self.config.tables[table].flag_column {
                    let value = if self.is_boolean(table, column) {
                        "1"
                    } else {
                        "strftime('%Y-%m-%d %H:%M:%f', 'now')"
                    };
                    conn.execute(
                        &format!("UPDATE {name} AS t0 SET {} = {value} WHERE {in_batch}", ident(column)),
                        [],
                    )
                    .map_err(fail)?;
                }
            }
            OnDelete::Retain => {}
        }

        let strategy_text = strategy_name(strategy);
        let mut insert = conn
            .prepare_cached(&format!(
                "INSERT INTO dsar_quarantine \
                   (request_id, source, table_schema, table_name, strategy, key_hash, sealed, flag_key, deleted_at, restore_until) \
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, {NOW}, r.restore_until FROM dsar_requests r WHERE r.request_id = ?1"
            ))
            .map_err(|e| self.failure("cannot write to dsar_quarantine", &e))?;
        let table_name = &self.config.tables[table].name;
        for row in &rows {
            let key_cells = &row.values[..pk.len()];
            let key_text: Vec<Option<String>> = key_cells.iter().map(Cell::key_text).collect();
            let hash = key.key_hash(&key_text);
            let plain =
                serde_json::to_vec(row).map_err(|e| UserError::runtime(format!("cannot serialise a row: {e}")))?;
            let sealed = key.seal(&plain, &DataKey::place(request_id, &place_name, strategy_text, &hash));
            let flag_key = (strategy == OnDelete::Flag).then(|| serde_json::to_string(key_cells).unwrap_or_default());
            let written = insert
                .execute(rusqlite::params![
                    request_id,
                    self.config.name,
                    table_name.schema,
                    table_name.name,
                    strategy_text,
                    hash,
                    sealed,
                    flag_key
                ])
                .map_err(|e| self.failure("cannot write to dsar_quarantine", &e))?;
            if written != 1 {
                return Err(UserError::runtime(format!(
                    "request {request_id} is not registered in dsar_requests; nothing of this batch was changed"
                )));
            }
        }
        conn.execute_batch(&format!(
            "DELETE FROM {} AS p WHERE ({}) IN (SELECT * FROM temp.dsar_batch); DROP TABLE temp.dsar_batch",
            pending(table),
            qualified("p", &pk)
        ))
        .map_err(fail)?;
        Ok(ErasedBatch {
            taken: taken as u64,
            moved: rows.len() as u64,
            last_key: rows
                .last()
                .map(|r| r.values[..pk.len()].iter().map(Cell::key_text).collect())
                .unwrap_or_default(),
        })
    }

    fn anonymize_rows(
        &self,
        conn: &Connection,
        table: usize,
        pk: &[String],
        rows: &[SealedRow],
        installation_key: &[u8],
    ) -> Result<(), UserError> {
        let rules: &[(String, AnonRule)] = &self.config.tables[table].anonymize;
        if rows.is_empty() || rules.is_empty() {
            return Ok(());
        }
        let sets: Vec<String> = rules
            .iter()
            .enumerate()
            .map(|(i, (c, _))| format!("{} = ?{}", ident(c), i + 1))
            .collect();
        let mut stmt = conn
            .prepare(&format!(
                "UPDATE {} SET {} WHERE {}",
                table_ident(&self.config.tables[table].name),
                sets.join(", "),
                key_equals(pk, "", rules.len() + 1)
            ))
            .map_err(|e| self.query_failure(table, &e))?;
        for row in rows {
            let mut params: Vec<SqlValue> = rules
                .iter()
                .map(|(column, rule)| {
                    let old = row.get(column).and_then(Cell::key_text);
                    Cell::from_text(anonymized(rule, old, None, installation_key)).to_sql()
                })
                .collect();
            params.extend(row.values[..pk.len()].iter().map(Cell::to_sql));
            stmt.execute(rusqlite::params_from_iter(params.iter()))
                .map_err(|e| self.query_failure(table, &e))?;
        }
        Ok(())
    }

    /// `AND hex(key_hash) IN (…)` when only some entries are wanted, with its parameter.
    fn only_filter(only: Option<&[Vec<u8>]>, placeholder: usize) -> (String, SqlValue) {
        match only {
            None => (String::new(), SqlValue::Null),
            Some(hashes) => {
                let hex: Vec<String> = hashes
                    .iter()
                    .map(|h| crate::export::archive::hex(h).to_uppercase())
                    .collect();
                (
                    format!(" AND hex(key_hash) IN (SELECT value FROM json_each(?{placeholder}))"),
                    SqlValue::Text(serde_json::to_string(&hex).unwrap_or_default()),
                )
            }
        }
    }

    /// Bring back up to `limit` quarantine entries of `table` for the request, after entry
    /// `after_id`. A row whose key exists again in the live table (or, for anonymize and flag,
    /// no longer exists) is never overwritten: it stays in quarantine and is reported.
    #[allow(clippy::too_many_arguments)]
    pub fn restore_batch(
        &self,
        table: usize,
        strategy: OnDelete,
        request_id: &str,
        key: &DataKey,
        after_id: i64,
        limit: i64,
        only: Option<&[Vec<u8>]>,
    ) -> Result<RestoreBatch, UserError> {
        self.in_transaction(|conn| {
            self.restore_batch_body(conn, table, strategy, request_id, key, after_id, limit, only)
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn restore_batch_body(
        &self,
        conn: &Connection,
        table: usize,
        strategy: OnDelete,
        request_id: &str,
        key: &DataKey,
        after_id: i64,
        limit: i64,
        only: Option<&[Vec<u8>]>,
    ) -> Result<RestoreBatch, UserError> {
        let fail = |e: rusqlite::Error| self.query_failure(table, &e);
        let quarantine_fail = |e: rusqlite::Error| self.failure("cannot read dsar_quarantine", &e);
        let pk = self.primary_key(table)?.to_vec();
        let table_name = self.config.tables[table].name.clone();
        let strategy_text = strategy_name(strategy);
        let (filter, only_param) = Self::only_filter(only, 7);
        let entries: Vec<(i64, Vec<u8>, Vec<u8>)> = {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT id, key_hash, sealed FROM dsar_quarantine \
                     WHERE request_id = ?1 AND table_schema = ?2 AND table_name = ?3 AND strategy = ?4 AND id > ?5 \
                       AND ?7 IS ?7{filter} ORDER BY id LIMIT ?6"
                ))
                .map_err(quarantine_fail)?;
            let rows = stmt
                .query_map(
                    rusqlite::params![
                        request_id,
                        table_name.schema,
                        table_name.name,
                        strategy_text,
                        after_id,
                        limit,
                        only_param
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .map_err(quarantine_fail)?;
            rows.collect::<Result<_, _>>().map_err(quarantine_fail)?
        };
        let mut outcome = RestoreBatch {
            seen: entries.len(),
            ..Default::default()
        };
        let mut live = conn
            .prepare(&format!(
                "SELECT count(*) FROM {} WHERE {}",
                table_ident(&table_name),
                key_equals(&pk, "", 1)
            ))
            .map_err(fail)?;
        let mut restored_ids = Vec::new();
        // The write-back statement, prepared again only when a sealed row has other columns
        // (the table changed between batches of one request): (sealed columns, bound columns).
        let mut writer: Option<(rusqlite::Statement<'_>, Vec<String>, Vec<String>)> = None;
        for (id, hash, sealed) in &entries {
            outcome.last_id = *id;
            let plain = key.open(
                sealed,
                &DataKey::place(request_id, &table_name.to_string(), strategy_text, hash),
            )?;
            let row: SealedRow = serde_json::from_slice(&plain)
                .map_err(|e| UserError::runtime(format!("a quarantined row of {table_name} is unreadable: {e}")))?;
            let key_cells: Vec<Cell> = pk.iter().map(|c| row.get(c).cloned().unwrap_or(Cell::Null)).collect();
            let is_live = live
                .query_row(rusqlite::params_from_iter(key_cells.iter().map(Cell::to_sql)), |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(fail)?
                > 0;
            let ok = match strategy {
                OnDelete::Quarantine => !is_live,
                _ => is_live,
            };
            if !ok {
                let parts: Vec<String> = pk
                    .iter()
                    .zip(&key_cells)
                    .map(|(c, v)| format!("{c}={}", v.key_text().unwrap_or_else(|| "NULL".into())))
                    .collect();
                outcome.conflicts.push(format!("{table_name} ({})", parts.join(", ")));
                continue;
            }
            if writer.as_ref().is_none_or(|(_, sealed, _)| sealed != &row.columns) {
                let (sql, bound) = self.restore_statement(table, strategy, &pk, &row)?;
                writer = Some((conn.prepare(&sql).map_err(fail)?, row.columns.clone(), bound));
            }
            if let Some((stmt, _, bound)) = writer.as_mut() {
                let mut params: Vec<SqlValue> = bound
                    .iter()
                    .map(|c| row.get(c).map_or(SqlValue::Null, Cell::to_sql))
                    .collect();
                if strategy != OnDelete::Quarantine {
                    params.extend(key_cells.iter().map(Cell::to_sql));
                }
                stmt.execute(rusqlite::params_from_iter(params.iter())).map_err(fail)?;
            }
            restored_ids.push(*id);
        }
        let mut clear = conn
            .prepare("DELETE FROM dsar_quarantine WHERE id = ?1")
            .map_err(|e| self.failure("cannot clear restored rows from dsar_quarantine", &e))?;
        for id in &restored_ids {
            clear
                .execute([id])
                .map_err(|e| self.failure("cannot clear restored rows from dsar_quarantine", &e))?;
        }
        outcome.restored = restored_ids.len() as u64;
        Ok(outcome)
    }

    /// Whether `column` of a sealed row is written back: generated columns never are, and an
    /// anonymized or flagged row keeps its key.
    fn writable(&self, table: usize, strategy: OnDelete, pk: &[String], column: &str) -> bool {
        let generated = self.shapes[table].column(column).is_some_and(|c| c.generated);
        !generated && (strategy == OnDelete::Quarantine || !pk.iter().any(|k| k == column))
    }

    /// The statement that writes a sealed row back and the sealed columns it binds, in order
    /// (then, for an update, the key columns).
    fn restore_statement(
        &self,
        table: usize,
        strategy: OnDelete,
        pk: &[String],
        row: &SealedRow,
    ) -> Result<(String, Vec<String>), UserError> {
        let shape = &self.shapes[table];
        if let Some(missing) = row.columns.iter().find(|c| shape.column(c).is_none()) {
            return Err(UserError::runtime(format!(
                "table `{}` no longer has column `{missing}`; restore it or map the data by hand",
                self.config.tables[table].name
            )));
        }
        let columns: Vec<String> = row
            .columns
            .iter()
            .filter(|c| self.writable(table, strategy, pk, c))
            .cloned()
            .collect();
        let name = table_ident(&self.config.tables[table].name);
        let sql = if strategy == OnDelete::Quarantine {
            let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            format!(
                "INSERT INTO {name} ({}) VALUES ({})",
                columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "),
                marks.join(", ")
            )
        } else {
            let sets: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{} = ?{}", ident(c), i + 1))
                .collect();
            format!(
                "UPDATE {name} SET {} WHERE {}",
                sets.join(", "),
                key_equals(pk, "", columns.len() + 1)
            )
        };
        Ok((sql, columns))
    }

    /// The id of the next quarantine entry of `table` after `after` (for flagging one that fails).
    pub fn next_quarantined(
        &self,
        table: usize,
        strategy: OnDelete,
        request_id: &str,
        after: i64,
        only: Option<&[Vec<u8>]>,
    ) -> Result<Option<i64>, UserError> {
        let name = &self.config.tables[table].name;
        let (filter, only_param) = Self::only_filter(only, 6);
        self.conn()
            .query_row(
                &format!(
                    "SELECT min(id) FROM dsar_quarantine \
                     WHERE request_id = ?1 AND table_schema = ?2 AND table_name = ?3 AND strategy = ?4 AND id > ?5 \
                       AND ?6 IS ?6{filter}"
                ),
                rusqlite::params![
                    request_id,
                    name.schema,
                    name.name,
                    strategy_name(strategy),
                    after,
                    only_param
                ],
                |r| r.get(0),
            )
            .map_err(|e| self.failure("cannot read dsar_quarantine", &e))
    }

    /// Hard-delete up to `limit` flagged rows of an expired request (purge), with their
    /// quarantine entries. Rows that were unflagged meanwhile are left alone.
    pub fn purge_flagged_batch(&self, request_id: &str, limit: i64) -> Result<u64, UserError> {
        self.in_transaction(|conn| {
            let read_fail = |e: rusqlite::Error| self.failure("cannot read dsar_quarantine", &e);
            let entries: Vec<(i64, String, String, Option<String>)> = {
                let mut stmt = conn
                    .prepare(
                        "SELECT id, table_schema, table_name, flag_key FROM dsar_quarantine \
                         WHERE request_id = ?1 AND strategy = 'flag' ORDER BY id LIMIT ?2",
                    )
                    .map_err(read_fail)?;
                let rows = stmt
                    .query_map(rusqlite::params![request_id, limit], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })
                    .map_err(read_fail)?;
                rows.collect::<Result<_, _>>().map_err(read_fail)?
            };
            for (_, schema, name, flag_key) in &entries {
                let Some(table) = self
                    .config
                    .tables
                    .iter()
                    .position(|t| &t.name.schema == schema && &t.name.name == name)
                else {
                    return Err(UserError::runtime(format!(
                        "request {request_id} flagged rows in {schema}.{name}, which the source map no longer lists"
                    ))
                    .with_hint("add the table back to the map (with its flag_column) so purge can delete those rows"));
                };
                let pk = self.primary_key(table)?.to_vec();
                let key: Vec<Cell> = flag_key
                    .as_deref()
                    .and_then(|k| serde_json::from_str(k).ok())
                    .unwrap_or_default();
                let mut sql = format!(
                    "DELETE FROM {} AS t0 WHERE {}",
                    table_ident(&self.config.tables[table].name),
                    key_equals(&pk, "t0.", 1)
                );
                if let Some(flagged) = self.flagged(table, "t0.") {
                    sql.push_str(&format!(" AND {flagged}"));
                }
                conn.prepare_cached(&sql)
                    .and_then(|mut s| s.execute(rusqlite::params_from_iter(key.iter().map(Cell::to_sql))))
                    .map_err(|e| self.query_failure(table, &e))?;
            }
            let mut clear = conn
                .prepare("DELETE FROM dsar_quarantine WHERE id = ?1")
                .map_err(|e| self.failure("cannot clear dsar_quarantine", &e))?;
            for (id, ..) in &entries {
                clear
                    .execute([id])
                    .map_err(|e| self.failure("cannot clear dsar_quarantine", &e))?;
            }
            Ok(entries.len() as u64)
        })
    }
}
