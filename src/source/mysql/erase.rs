//! Erasure on MySQL/MariaDB, with the same contract as on PostgreSQL: capture the keys a request
//! covers into session temporary tables, then move them batch by batch, each batch one InnoDB
//! transaction. A crash or `kill -9` rolls the open batch back, so each row is either live or
//! quarantined, never both and never neither. Batches bind their keys as `IN ((?, ?), …)` lists
//! and write quarantine rows with multi-row INSERTs: statements per batch, never per row.

use mysql_async::Value as SqlValue;
use serde::{Deserialize, Serialize};

use super::MySqlSource;
use super::sql::{ident, qualified, table_ident};
use crate::config::{AnonRule, OnDelete};
use crate::envelope::DataKey;
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::erasure::{Captured, ErasedBatch, RestoreBatch, anonymized, outside_plan_query, sealed_columns};
use crate::source::foreign_key::ForeignKey;
use crate::source::shape::ColumnKind;

/// One row's new values for an UPDATE: its key, then the values (both as sealed text).
type KeyedValues = (Vec<Option<String>>, Vec<Option<String>>);

/// MySQL's limit on placeholders in one statement.
const MAX_PLACEHOLDERS: usize = 65_535;

/// A row's old values as sealed into quarantine: text forms (`HEX` for binary columns).
#[derive(Debug, Serialize, Deserialize)]
struct RowPayload {
    columns: Vec<String>,
    values: Vec<Option<String>>,
}

impl RowPayload {
    fn get(&self, column: &str) -> Option<&Option<String>> {
        self.columns.iter().position(|c| c == column).map(|i| &self.values[i])
    }
}

fn pending(table: usize) -> String {
    ident(&format!("dsar_pending_{table}"))
}

/// `((?, ?), (?, ?))` for keys of `width` columns, pushing the values.
fn key_list(keys: &[Vec<Option<String>>], params: &mut Vec<SqlValue>) -> String {
    let tuples: Vec<String> = keys
        .iter()
        .map(|k| {
            params.extend(k.iter().map(|v| v.as_deref().map_or(SqlValue::NULL, SqlValue::from)));
            format!("({})", vec!["?"; k.len()].join(", "))
        })
        .collect();
    format!("({})", tuples.join(", "))
}

impl MySqlSource<'_> {
    fn primary_key(&self, table: usize) -> Result<Vec<String>, UserError> {
        crate::source::erasure::require_primary_key(&self.config.tables[table], &self.shapes[table])
            .map(<[String]>::to_vec)
    }

    fn column_index(&self, table: usize, column: &str) -> Option<usize> {
        self.shapes[table].columns.iter().position(|c| c.name == column)
    }

    fn is_binary(&self, table: usize, column: &str) -> bool {
        self.shapes[table]
            .column(column)
            .is_some_and(|c| c.kind == ColumnKind::Bytea)
    }

    /// `CAST(t0.c AS CHAR)`, or `HEX(t0.c)` for a binary column: the text a value is sealed as.
    fn text_of(&self, table: usize, alias: &str, column: &str) -> String {
        if self.is_binary(table, column) {
            format!("HEX({alias}.{})", ident(column))
        } else {
            format!("CAST({alias}.{} AS CHAR)", ident(column))
        }
    }

    /// `?`, or `UNHEX(?)` for a binary column: a sealed text back into the column.
    fn placeholder_for(&self, table: usize, column: &str) -> &'static str {
        if self.is_binary(table, column) { "UNHEX(?)" } else { "?" }
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

    /// Run `body` in one transaction; roll back if it fails. A dropped connection (the process
    /// died) makes the server roll it back.
    async fn in_transaction<T>(
        &self,
        body: impl std::future::Future<Output = Result<T, UserError>>,
    ) -> Result<T, UserError> {
        self.run("START TRANSACTION", Vec::new())
            .await
            .map_err(|e| self.failure("cannot start a batch", &e))?;
        match body.await {
            Ok(value) => {
                self.run("COMMIT", Vec::new())
                    .await
                    .map_err(|e| self.failure("cannot commit a batch", &e))?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.run("ROLLBACK", Vec::new()).await;
                Err(e)
            }
        }
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
            self.run(&format!("DROP TEMPORARY TABLE IF EXISTS {}", pending(t)), Vec::new())
                .await
                .map_err(fail)?;
            self.run(
                &format!(
                    "CREATE TEMPORARY TABLE {} AS SELECT {} FROM {name} t0 WHERE FALSE",
                    pending(t),
                    qualified("t0", &pk)
                ),
                Vec::new(),
            )
            .await
            .map_err(fail)?;
            self.run(
                &format!(
                    "ALTER TABLE {} ADD PRIMARY KEY ({})",
                    pending(t),
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
                        pending(t),
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
            pending: pending(parent),
            key: &parent_key,
        };
        let child_capture = child_captured.zip(child_key.as_deref()).map(|(c, key)| Captured {
            pending: pending(c),
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

    /// Move up to `limit` captured rows of `table` according to its strategy, in one
    /// transaction; the batch's keys leave the pending list in the same transaction.
    pub async fn erase_batch(
        &self,
        table: usize,
        limit: i64,
        request_id: &str,
        key: &DataKey,
        installation_key: &[u8],
    ) -> Result<ErasedBatch, UserError> {
        self.in_transaction(self.erase_batch_body(table, limit, request_id, key, installation_key))
            .await
    }

    async fn erase_batch_body(
        &self,
        table: usize,
        limit: i64,
        request_id: &str,
        key: &DataKey,
        installation_key: &[u8],
    ) -> Result<ErasedBatch, UserError> {
        let fail = |e: mysql_async::Error| self.query_failure(table, &e);
        let strategy = self.config.tables[table].on_delete;
        let pk = self.primary_key(table)?;
        let name = table_ident(&self.config.tables[table].name);
        let place_name = self.config.tables[table].name.to_string();

        // The next keys, in key order, as text.
        let taken = self
            .rows(
                &format!(
                    "SELECT {} FROM {} p ORDER BY {} LIMIT ? FOR UPDATE",
                    pk.iter()
                        .map(|c| self.text_of(table, "p", c))
                        .collect::<Vec<_>>()
                        .join(", "),
                    pending(table),
                    qualified("p", &pk)
                ),
                vec![limit.into()],
            )
            .await
            .map_err(fail)?;
        if taken.is_empty() {
            return Ok(ErasedBatch {
                taken: 0,
                moved: 0,
                last_key: Vec::new(),
            });
        }
        let keys: Vec<Vec<Option<String>>> = taken
            .iter()
            .map(|r| (0..pk.len()).map(|i| r.get::<Option<String>, _>(i).flatten()).collect())
            .collect();
        let key_in = |alias: &str, params: &mut Vec<SqlValue>| -> String {
            let columns: Vec<String> = pk
                .iter()
                .map(|c| {
                    if self.is_binary(table, c) {
                        format!("HEX({alias}.{})", ident(c))
                    } else {
                        format!("{alias}.{}", ident(c))
                    }
                })
                .collect();
            format!("({}) IN {}", columns.join(", "), key_list(&keys, params))
        };

        let sealed_columns = sealed_columns(&self.config.tables[table], &self.shapes[table], &pk)?;
        let mut params = Vec::new();
        let condition = key_in("t0", &mut params);
        let old = self
            .rows(
                &format!(
                    "SELECT {} FROM {name} t0 WHERE {condition} ORDER BY {} FOR UPDATE",
                    sealed_columns
                        .iter()
                        .map(|c| self.text_of(table, "t0", c))
                        .collect::<Vec<_>>()
                        .join(", "),
                    qualified("t0", &pk)
                ),
                params,
            )
            .await
            .map_err(fail)?;
        let payloads: Vec<RowPayload> = old
            .iter()
            .map(|r| RowPayload {
                columns: sealed_columns.clone(),
                values: (0..sealed_columns.len())
                    .map(|i| r.get::<Option<String>, _>(i).flatten())
                    .collect(),
            })
            .collect();

        match strategy {
            OnDelete::Quarantine => {
                let mut params = Vec::new();
                let condition = key_in("t0", &mut params);
                self.run(&format!("DELETE t0 FROM {name} t0 WHERE {condition}"), params)
                    .await
                    .map_err(fail)?;
            }
            OnDelete::Anonymize => self.anonymize_rows(table, &pk, &payloads, installation_key).await?,
            OnDelete::Flag => {
                if let Some(column) = &self.config.tables[table].flag_column {
                    let boolean = self.column_index(table, column).is_some_and(|i| self.boolean[table][i]);
                    let value = if boolean { "TRUE" } else { "UTC_TIMESTAMP(6)" };
                    let mut params = Vec::new();
                    let condition = key_in("t0", &mut params);
                    self.run(
                        &format!("UPDATE {name} t0 SET t0.{} = {value} WHERE {condition}", ident(column)),
                        params,
                    )
                    .await
                    .map_err(fail)?;
                }
            }
            OnDelete::Retain => {}
        }

        let strategy_text = crate::erase::plan::strategy_name(strategy);
        let table_name = &self.config.tables[table].name;
        let mut rows: Vec<Vec<SqlValue>> = Vec::with_capacity(payloads.len());
        for payload in &payloads {
            let key_values: Vec<Option<String>> = payload.values[..pk.len()].to_vec();
            let hash = key.key_hash(&key_values);
            let plain =
                serde_json::to_vec(payload).map_err(|e| UserError::runtime(format!("cannot serialise a row: {e}")))?;
            let sealed = key.seal(&plain, &DataKey::place(request_id, &place_name, strategy_text, &hash));
            let flag_key = (strategy == OnDelete::Flag).then(|| serde_json::to_string(&key_values).unwrap_or_default());
            rows.push(vec![
                request_id.into(),
                self.config.name.as_str().into(),
                table_name.schema.as_str().into(),
                table_name.name.as_str().into(),
                strategy_text.into(),
                SqlValue::Bytes(hash),
                SqlValue::Bytes(sealed),
                flag_key.map_or(SqlValue::NULL, SqlValue::from),
                request_id.into(),
            ]);
        }
        for chunk in rows.chunks(MAX_PLACEHOLDERS / 9) {
            let tuples = vec![
                "(?, ?, ?, ?, ?, ?, ?, ?, UTC_TIMESTAMP(6), (SELECT restore_until FROM dsar_requests WHERE request_id = ?))";
                chunk.len()
            ];
            self.run(
                &format!(
                    "INSERT INTO dsar_quarantine \
                       (request_id, source, table_schema, table_name, strategy, key_hash, sealed, flag_key, deleted_at, restore_until) \
                     VALUES {}",
                    tuples.join(", ")
                ),
                chunk.concat(),
            )
            .await
            .map_err(|e| self.failure("cannot write to dsar_quarantine", &e))?;
        }
        let mut params = Vec::new();
        let condition = key_in("p", &mut params);
        self.run(&format!("DELETE p FROM {} p WHERE {condition}", pending(table)), params)
            .await
            .map_err(fail)?;
        Ok(ErasedBatch {
            taken: keys.len() as u64,
            moved: payloads.len() as u64,
            last_key: keys.last().cloned().unwrap_or_default(),
        })
    }

    /// `UPDATE t JOIN (SELECT ? AS k…, ? AS n… UNION ALL …) u ON keys SET cols = u.n…`: one
    /// statement for a whole batch.
    async fn update_rows(
        &self,
        table: usize,
        pk: &[String],
        columns: &[String],
        rows: &[KeyedValues],
    ) -> Result<(), UserError> {
        if rows.is_empty() || columns.is_empty() {
            return Ok(());
        }
        let width = pk.len() + columns.len();
        for chunk in rows.chunks((MAX_PLACEHOLDERS / width).max(1)) {
            let mut params = Vec::new();
            let selects: Vec<String> = chunk
                .iter()
                .enumerate()
                .map(|(r, (keys, values))| {
                    let mut parts = Vec::new();
                    for (i, (c, v)) in pk.iter().zip(keys).enumerate() {
                        params.push(v.as_deref().map_or(SqlValue::NULL, SqlValue::from));
                        let alias = if r == 0 { format!(" AS k{i}") } else { String::new() };
                        parts.push(format!("{}{alias}", self.placeholder_for(table, c)));
                    }
                    for (i, (c, v)) in columns.iter().zip(values).enumerate() {
                        params.push(v.as_deref().map_or(SqlValue::NULL, SqlValue::from));
                        let alias = if r == 0 { format!(" AS n{i}") } else { String::new() };
                        parts.push(format!("{}{alias}", self.placeholder_for(table, c)));
                    }
                    format!("SELECT {}", parts.join(", "))
                })
                .collect();
            let on: Vec<String> = pk
                .iter()
                .enumerate()
                .map(|(i, c)| format!("t0.{} = u.k{i}", ident(c)))
                .collect();
            let sets: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("t0.{} = u.n{i}", ident(c)))
                .collect();
            self.run(
                &format!(
                    "UPDATE {} t0 JOIN ({}) u ON {} SET {}",
                    table_ident(&self.config.tables[table].name),
                    selects.join(" UNION ALL "),
                    on.join(" AND "),
                    sets.join(", ")
                ),
                params,
            )
            .await
            .map_err(|e| self.query_failure(table, &e))?;
        }
        Ok(())
    }

    async fn anonymize_rows(
        &self,
        table: usize,
        pk: &[String],
        rows: &[RowPayload],
        installation_key: &[u8],
    ) -> Result<(), UserError> {
        let rules: &[(String, AnonRule)] = &self.config.tables[table].anonymize;
        let columns: Vec<String> = rules.iter().map(|(c, _)| c.clone()).collect();
        let updates: Vec<KeyedValues> = rows
            .iter()
            .map(|r| {
                let key = r.values[..pk.len()].to_vec();
                let new = rules
                    .iter()
                    .map(|(column, rule)| {
                        let max_len = self.shapes[table].column(column).and_then(|c| c.max_len);
                        anonymized(rule, r.get(column).cloned().flatten(), max_len, installation_key)
                    })
                    .collect();
                (key, new)
            })
            .collect();
        self.update_rows(table, pk, &columns, &updates).await
    }

    /// Bring back up to `limit` quarantine entries of `table` for the request, after entry
    /// `after_id`. A row whose key exists again (or, for anonymize and flag, no longer exists)
    /// is never overwritten: it stays in quarantine and is reported.
    #[allow(clippy::too_many_arguments)]
    pub async fn restore_batch(
        &self,
        table: usize,
        strategy: OnDelete,
        request_id: &str,
        key: &DataKey,
        after_id: i64,
        limit: i64,
        only: Option<&[Vec<u8>]>,
    ) -> Result<RestoreBatch, UserError> {
        self.in_transaction(self.restore_batch_body(table, strategy, request_id, key, after_id, limit, only))
            .await
    }

    /// `AND key_hash IN (?, …)` when only some entries are wanted.
    fn only_filter(only: Option<&[Vec<u8>]>, params: &mut Vec<SqlValue>) -> String {
        match only {
            None => String::new(),
            Some(hashes) => {
                params.extend(hashes.iter().map(|h| SqlValue::Bytes(h.clone())));
                format!(" AND key_hash IN ({})", vec!["?"; hashes.len().max(1)].join(", "))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn restore_batch_body(
        &self,
        table: usize,
        strategy: OnDelete,
        request_id: &str,
        key: &DataKey,
        after_id: i64,
        limit: i64,
        only: Option<&[Vec<u8>]>,
    ) -> Result<RestoreBatch, UserError> {
        let fail = |e: mysql_async::Error| self.query_failure(table, &e);
        let pk = self.primary_key(table)?;
        let table_name = self.config.tables[table].name.clone();
        let strategy_text = crate::erase::plan::strategy_name(strategy);
        let mut params: Vec<SqlValue> = vec![
            request_id.into(),
            table_name.schema.as_str().into(),
            table_name.name.as_str().into(),
            strategy_text.into(),
            after_id.into(),
        ];
        let filter = Self::only_filter(only, &mut params);
        params.push(limit.into());
        let entries = self
            .rows(
                &format!(
                    "SELECT id, key_hash, sealed FROM dsar_quarantine \
                     WHERE request_id = ? AND table_schema = ? AND table_name = ? AND strategy = ? AND id > ?{filter} \
                     ORDER BY id LIMIT ? FOR UPDATE"
                ),
                params,
            )
            .await
            .map_err(|e| self.failure("cannot read dsar_quarantine", &e))?;
        let mut outcome = RestoreBatch {
            seen: entries.len(),
            ..Default::default()
        };
        if entries.is_empty() {
            return Ok(outcome);
        }
        let mut payloads = Vec::new();
        for entry in &entries {
            let id: i64 = entry.get(0).unwrap_or(0);
            let hash: Vec<u8> = entry.get(1).unwrap_or_default();
            let sealed: Vec<u8> = entry.get(2).unwrap_or_default();
            let plain = key.open(
                &sealed,
                &DataKey::place(request_id, &table_name.to_string(), strategy_text, &hash),
            )?;
            let payload: RowPayload = serde_json::from_slice(&plain)
                .map_err(|e| UserError::runtime(format!("a quarantined row of {table_name} is unreadable: {e}")))?;
            payloads.push((id, payload));
            outcome.last_id = id;
        }
        let key_of =
            |p: &RowPayload| -> Vec<Option<String>> { pk.iter().map(|c| p.get(c).cloned().flatten()).collect() };

        // Which keys are live right now decides what may be written.
        let keys: Vec<Vec<Option<String>>> = payloads.iter().map(|(_, p)| key_of(p)).collect();
        let mut params = Vec::new();
        let columns: Vec<String> = pk
            .iter()
            .map(|c| {
                if self.is_binary(table, c) {
                    format!("HEX(t0.{})", ident(c))
                } else {
                    format!("t0.{}", ident(c))
                }
            })
            .collect();
        let condition = format!("({}) IN {}", columns.join(", "), key_list(&keys, &mut params));
        let live: std::collections::HashSet<Vec<Option<String>>> = self
            .rows(
                &format!(
                    "SELECT {} FROM {} t0 WHERE {condition} FOR UPDATE",
                    pk.iter()
                        .map(|c| self.text_of(table, "t0", c))
                        .collect::<Vec<_>>()
                        .join(", "),
                    table_ident(&table_name)
                ),
                params,
            )
            .await
            .map_err(fail)?
            .iter()
            .map(|r| (0..pk.len()).map(|i| r.get::<Option<String>, _>(i).flatten()).collect())
            .collect();

        let mut restore: Vec<&RowPayload> = Vec::new();
        let mut restore_ids = Vec::new();
        for (id, payload) in &payloads {
            let k = key_of(payload);
            let ok = match strategy {
                OnDelete::Quarantine => !live.contains(&k),
                _ => live.contains(&k),
            };
            if ok {
                restore.push(payload);
                restore_ids.push(*id);
            } else {
                let parts: Vec<String> = pk
                    .iter()
                    .zip(&k)
                    .map(|(c, v)| format!("{c}={}", v.clone().unwrap_or_else(|| "NULL".into())))
                    .collect();
                outcome.conflicts.push(format!("{table_name} ({})", parts.join(", ")));
            }
        }
        if !restore.is_empty() {
            match strategy {
                OnDelete::Quarantine => self.insert_rows(table, &restore).await?,
                _ => {
                    let columns: Vec<String> = restore[0].columns.iter().filter(|c| !pk.contains(c)).cloned().collect();
                    let updates: Vec<KeyedValues> = restore
                        .iter()
                        .map(|p| (key_of(p), columns.iter().map(|c| p.get(c).cloned().flatten()).collect()))
                        .collect();
                    self.update_rows(table, &pk, &columns, &updates).await?;
                }
            }
            let ids: Vec<SqlValue> = restore_ids.iter().map(|&i| SqlValue::from(i)).collect();
            self.run(
                &format!(
                    "DELETE FROM dsar_quarantine WHERE id IN ({})",
                    vec!["?"; ids.len()].join(", ")
                ),
                ids,
            )
            .await
            .map_err(|e| self.failure("cannot clear restored rows from dsar_quarantine", &e))?;
        }
        outcome.restored = restore.len() as u64;
        Ok(outcome)
    }

    /// Multi-row `INSERT` of whole rows from their sealed text forms (generated columns skipped).
    async fn insert_rows(&self, table: usize, rows: &[&RowPayload]) -> Result<(), UserError> {
        let shape = &self.shapes[table];
        let columns: Vec<&String> = rows[0]
            .columns
            .iter()
            .filter(|c| shape.column(c).is_none_or(|col| !col.generated))
            .collect();
        if let Some(missing) = columns.iter().find(|c| shape.column(c).is_none()) {
            return Err(UserError::runtime(format!(
                "table `{}` no longer has column `{missing}`; restore it or map the data by hand",
                self.config.tables[table].name
            )));
        }
        let tuple = format!(
            "({})",
            columns
                .iter()
                .map(|c| self.placeholder_for(table, c))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for chunk in rows.chunks((MAX_PLACEHOLDERS / columns.len().max(1)).max(1)) {
            let mut params = Vec::new();
            for row in chunk {
                params.extend(
                    columns
                        .iter()
                        .map(|c| row.get(c).cloned().flatten().map_or(SqlValue::NULL, SqlValue::from)),
                );
            }
            self.run(
                &format!(
                    "INSERT INTO {} ({}) VALUES {}",
                    table_ident(&self.config.tables[table].name),
                    columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "),
                    vec![tuple.as_str(); chunk.len()].join(", ")
                ),
                params,
            )
            .await
            .map_err(|e| self.query_failure(table, &e))?;
        }
        Ok(())
    }

    /// The id of the next quarantine entry of `table` after `after` (for flagging one that fails).
    pub async fn next_quarantined(
        &self,
        table: usize,
        strategy: OnDelete,
        request_id: &str,
        after: i64,
        only: Option<&[Vec<u8>]>,
    ) -> Result<Option<i64>, UserError> {
        let name = &self.config.tables[table].name;
        let mut params: Vec<SqlValue> = vec![
            request_id.into(),
            name.schema.as_str().into(),
            name.name.as_str().into(),
            crate::erase::plan::strategy_name(strategy).into(),
            after.into(),
        ];
        let filter = Self::only_filter(only, &mut params);
        let rows = self
            .rows(
                &format!(
                    "SELECT MIN(id) FROM dsar_quarantine \
                     WHERE request_id = ? AND table_schema = ? AND table_name = ? AND strategy = ? AND id > ?{filter}"
                ),
                params,
            )
            .await
            .map_err(|e| self.failure("cannot read dsar_quarantine", &e))?;
        Ok(rows.first().and_then(|r| r.get::<Option<i64>, _>(0)).flatten())
    }

    /// Hard-delete up to `limit` flagged rows of an expired request (purge), with their
    /// quarantine entries. Rows that were unflagged meanwhile are left alone.
    pub async fn purge_flagged_batch(&self, request_id: &str, limit: i64) -> Result<u64, UserError> {
        self.in_transaction(self.purge_flagged_body(request_id, limit)).await
    }

    async fn purge_flagged_body(&self, request_id: &str, limit: i64) -> Result<u64, UserError> {
        let entries = self
            .rows(
                "SELECT id, table_schema, table_name, flag_key FROM dsar_quarantine \
                 WHERE request_id = ? AND strategy = 'flag' ORDER BY id LIMIT ? FOR UPDATE",
                vec![request_id.into(), limit.into()],
            )
            .await
            .map_err(|e| self.failure("cannot read dsar_quarantine", &e))?;
        let mut by_table: std::collections::BTreeMap<(String, String), Vec<Vec<Option<String>>>> = Default::default();
        let mut ids = Vec::new();
        for entry in &entries {
            ids.push(SqlValue::from(entry.get::<i64, _>(0).unwrap_or(0)));
            let text = |i: usize| entry.get::<Option<String>, _>(i).flatten().unwrap_or_default();
            let key: Vec<Option<String>> = serde_json::from_str(&text(3)).unwrap_or_default();
            by_table.entry((text(1), text(2))).or_default().push(key);
        }
        for ((schema, name), keys) in by_table {
            let Some(table) = self
                .config
                .tables
                .iter()
                .position(|t| t.name.schema == schema && t.name.name == name)
            else {
                return Err(UserError::runtime(format!(
                    "request {request_id} flagged rows in {name}, which the source map no longer lists"
                ))
                .with_hint("add the table back to the map (with its flag_column) so purge can delete those rows"));
            };
            let pk = self.primary_key(table)?;
            let mut params = Vec::new();
            let columns: Vec<String> = pk
                .iter()
                .map(|c| {
                    if self.is_binary(table, c) {
                        format!("HEX(t0.{})", ident(c))
                    } else {
                        format!("t0.{}", ident(c))
                    }
                })
                .collect();
            let mut query = format!(
                "DELETE t0 FROM {} t0 WHERE ({}) IN {}",
                table_ident(&self.config.tables[table].name),
                columns.join(", "),
                key_list(&keys, &mut params)
            );
            if let Some(flagged) = self.flagged(table, "t0") {
                query.push_str(&format!(" AND {flagged}"));
            }
            self.run(&query, params)
                .await
                .map_err(|e| self.query_failure(table, &e))?;
        }
        if !ids.is_empty() {
            self.run(
                &format!(
                    "DELETE FROM dsar_quarantine WHERE id IN ({})",
                    vec!["?"; ids.len()].join(", ")
                ),
                ids,
            )
            .await
            .map_err(|e| self.failure("cannot clear dsar_quarantine", &e))?;
        }
        Ok(entries.len() as u64)
    }
}
