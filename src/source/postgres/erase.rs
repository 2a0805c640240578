//! Erasure on PostgreSQL: capture which rows a request covers, then move them batch by batch.
//!
//! Every batch is one transaction: take a batch of keys off the session's pending list, change
//! the live rows, write their sealed old values to `dsar.quarantine`, commit. A crash or
//! `kill -9` at any point rolls the open batch back, so each row is either live or quarantined,
//! never both and never neither. The pending lists are temporary tables: they die with the
//! session, and a re-run captures again from what is still live.

use serde::{Deserialize, Serialize};
use tokio_postgres::types::ToSql;

use super::sql::{Params, Schema, ident, table_ident};
use super::{PgSource, error_text};
use crate::config::OnDelete;
use crate::envelope::DataKey;
use crate::erase::plan::strategy_name;
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::erasure::{Captured, anonymized, outside_plan_query, sealed_columns};
pub use crate::source::erasure::{ErasedBatch, RestoreBatch};
use crate::source::postgres::foreign_keys::ForeignKey;

/// A row's old values, as sealed into quarantine: column names and their text forms, which
/// PostgreSQL parses back to exactly the same values.
#[derive(Debug, Serialize, Deserialize)]
pub struct RowPayload {
    pub columns: Vec<String>,
    pub values: Vec<Option<String>>,
}

impl RowPayload {
    fn get(&self, column: &str) -> Option<&Option<String>> {
        self.columns.iter().position(|c| c == column).map(|i| &self.values[i])
    }
}

/// Bind a list of text columns (one array per column) and return their `$n` placeholders.
fn bind_columns(params: &mut Vec<Box<dyn ToSql + Sync + Send>>, columns: Vec<Vec<Option<String>>>) -> Vec<String> {
    columns
        .into_iter()
        .map(|values| {
            params.push(Box::new(values));
            format!("${}", params.len())
        })
        .collect()
}

fn refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect()
}

impl PgSource<'_> {
    fn pending(&self, table: usize) -> String {
        format!("pg_temp.{}", ident(&format!("dsar_pending_{table}")))
    }

    fn primary_key(&self, table: usize) -> Result<&[String], UserError> {
        crate::source::erasure::require_primary_key(&self.config.tables[table], &self.shapes[table])
    }

    fn cast(&self, table: usize, column: &str) -> String {
        self.shapes[table]
            .column(column)
            .map_or_else(|| "text".to_string(), |c| c.base_type.clone())
    }

    /// `(alias.k1, alias.k2) IN (SELECT * FROM unnest($a::text[]::t1[], $b::text[]::t2[]))`.
    fn key_in(&self, table: usize, alias: &str, placeholders: &[String]) -> Result<String, UserError> {
        let key = self.primary_key(table)?;
        let columns: Vec<String> = key.iter().map(|c| format!("{alias}.{}", ident(c))).collect();
        let arrays: Vec<String> = key
            .iter()
            .zip(placeholders)
            .map(|(c, p)| format!("{p}::text[]::{}[]", self.cast(table, c)))
            .collect();
        Ok(format!(
            "({}) IN (SELECT * FROM unnest({}))",
            columns.join(", "),
            arrays.join(", ")
        ))
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
            let pending = self.pending(t);
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
            pending: self.pending(parent),
            key: self.primary_key(parent)?,
        };
        let child_capture = match child_captured {
            Some(child) => Some(Captured {
                pending: self.pending(child),
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

    /// Move up to `limit` captured rows of `table` according to its strategy, in one
    /// transaction. Returns how many rows moved; 0 means the table is done.
    pub async fn erase_batch(
        &self,
        table: usize,
        after: Option<&[Option<String>]>,
        limit: i64,
        request_id: &str,
        key: &DataKey,
        installation_key: &[u8],
    ) -> Result<ErasedBatch, UserError> {
        self.in_transaction(self.erase_batch_body(table, after, limit, request_id, key, installation_key))
            .await
    }

    async fn erase_batch_body(
        &self,
        table: usize,
        after: Option<&[Option<String>]>,
        limit: i64,
        request_id: &str,
        key: &DataKey,
        installation_key: &[u8],
    ) -> Result<ErasedBatch, UserError> {
        let strategy = self.config.tables[table].on_delete;
        let pk = self.primary_key(table)?.to_vec();
        let name = table_ident(&self.config.tables[table].name);
        let place_name = self.config.tables[table].name.to_string();
        let pending = self.pending(table);

        // The next keys after the last batch, in key order through the pending table's index:
        // each batch costs the same however far the erasure has come.
        // Qualified: a bare name in ORDER BY would mean the `::text` output column, and text
        // order is not key order.
        let order: Vec<String> = pk.iter().map(|c| format!("p.{}", ident(c))).collect();
        let taken_text: Vec<String> = pk.iter().map(|c| format!("p.{}::text", ident(c))).collect();
        let mut take_params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(limit)];
        let after_clause = match after {
            None => String::new(),
            Some(last) => {
                let bounds: Vec<String> = pk
                    .iter()
                    .zip(last)
                    .map(|(c, v)| {
                        take_params.push(Box::new(v.clone()));
                        format!("${}::text::{}", take_params.len(), self.cast(table, c))
                    })
                    .collect();
                format!("WHERE ({}) > ({})", order.join(", "), bounds.join(", "))
            }
        };
        let taken = self
            .client
            .query(
                &format!(
                    "SELECT {} FROM {pending} p {after_clause} ORDER BY {} LIMIT $1",
                    taken_text.join(", "),
                    order.join(", ")
                ),
                &refs(&take_params),
            )
            .await
            .map_err(|e| self.failure_static("cannot take a batch", &e))?;
        let Some(last_taken) = taken.last() else {
            return Ok(ErasedBatch {
                taken: 0,
                moved: 0,
                last_key: Vec::new(),
            });
        };
        let last_key: Vec<Option<String>> = (0..pk.len()).map(|i| last_taken.get::<_, Option<String>>(i)).collect();
        let key_columns: Vec<Vec<Option<String>>> = (0..pk.len())
            .map(|i| taken.iter().map(|r| r.get::<_, Option<String>>(i)).collect())
            .collect();
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let placeholders = bind_columns(&mut params, key_columns);
        let key_in = self.key_in(table, "t0", &placeholders)?;

        // Which columns are sealed: all of them for quarantine; the key and the changed columns
        // for anonymize and flag.
        let sealed_columns = sealed_columns(&self.config.tables[table], &self.shapes[table], &pk)?;
        let select: Vec<String> = sealed_columns
            .iter()
            .map(|c| format!("t0.{}::text", ident(c)))
            .collect();

        let old_rows = match strategy {
            OnDelete::Quarantine => {
                let sql = format!("DELETE FROM {name} t0 WHERE {key_in} RETURNING {}", select.join(", "));
                self.client.query(&sql, &refs(&params)).await
            }
            _ => {
                let sql = format!("SELECT {} FROM {name} t0 WHERE {key_in} FOR UPDATE", select.join(", "));
                self.client.query(&sql, &refs(&params)).await
            }
        }
        .map_err(|e| self.query_failure(table, &e))?;

        let payloads: Vec<RowPayload> = old_rows
            .iter()
            .map(|r| RowPayload {
                columns: sealed_columns.clone(),
                values: (0..sealed_columns.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect(),
            })
            .collect();

        match strategy {
            OnDelete::Anonymize => self.anonymize_rows(table, &pk, &payloads, installation_key).await?,
            OnDelete::Flag => self.flag_rows(table, &pk, &payloads).await?,
            _ => {}
        }

        let strategy_text = strategy_name(strategy);
        let mut hashes = Vec::with_capacity(payloads.len());
        let mut sealed = Vec::with_capacity(payloads.len());
        let mut flag_keys = Vec::new();
        for payload in &payloads {
            let key_values: Vec<Option<String>> = payload.values[..pk.len()].to_vec();
            let hash = key.key_hash(&key_values);
            let plain =
                serde_json::to_vec(payload).map_err(|e| UserError::runtime(format!("cannot serialise a row: {e}")))?;
            sealed.push(key.seal(&plain, &DataKey::place(request_id, &place_name, strategy_text, &hash)));
            hashes.push(hash);
            if strategy == OnDelete::Flag {
                flag_keys.push(serde_json::to_string(&key_values).unwrap_or_default());
            }
        }
        let flag_keys: Option<Vec<String>> = (strategy == OnDelete::Flag).then_some(flag_keys);
        let table_name = &self.config.tables[table].name;
        self.client
            .execute(
            "INSERT INTO dsar.quarantine \
               (request_id, source, table_schema, table_name, strategy, key_hash, sealed, flag_key, restore_until) \
             SELECT $1, $2, $3, $4, $5, u.h, u.s, u.f::jsonb, r.restore_until \
             FROM unnest($6::bytea[], $7::bytea[], COALESCE($8::text[], array_fill(NULL::text, ARRAY[cardinality($6::bytea[])]))) AS u(h, s, f), \
                  dsar.requests r \
             WHERE r.request_id = $1",
            &[&request_id, &self.config.name, &table_name.schema, &table_name.name, &strategy_text, &hashes, &sealed, &flag_keys],
        )
        .await
        .map_err(|e| self.failure_static("cannot write to dsar.quarantine", &e))?;
        Ok(ErasedBatch {
            taken: taken.len() as u64,
            moved: payloads.len() as u64,
            last_key,
        })
    }

    async fn anonymize_rows(
        &self,
        table: usize,
        pk: &[String],
        rows: &[RowPayload],
        installation_key: &[u8],
    ) -> Result<(), UserError> {
        if rows.is_empty() {
            return Ok(());
        }
        let rules = &self.config.tables[table].anonymize;
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let key_columns = (0..pk.len())
            .map(|i| rows.iter().map(|r| r.values[i].clone()).collect())
            .collect();
        bind_columns(&mut params, key_columns);
        let new_columns: Vec<Vec<Option<String>>> = rules
            .iter()
            .map(|(column, rule)| {
                let max_len = self.shapes[table].column(column).and_then(|c| c.max_len);
                rows.iter()
                    .map(|r| anonymized(rule, r.get(column).cloned().flatten(), max_len, installation_key))
                    .collect()
            })
            .collect();
        bind_columns(&mut params, new_columns);
        let columns: Vec<String> = rules.iter().map(|(c, _)| c.clone()).collect();
        let sets = self.set_from_unnest(table, &columns);
        self.update_from_unnest(table, pk, &params, columns, sets).await
    }

    async fn flag_rows(&self, table: usize, pk: &[String], rows: &[RowPayload]) -> Result<(), UserError> {
        let Some(column) = self.config.tables[table].flag_column.clone() else {
            return Ok(());
        };
        if rows.is_empty() {
            return Ok(());
        }
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let key_columns = (0..pk.len())
            .map(|i| rows.iter().map(|r| r.values[i].clone()).collect())
            .collect();
        bind_columns(&mut params, key_columns);
        let value = if self.cast(table, &column) == "boolean" {
            "true".to_string()
        } else {
            format!("now()::{}", self.cast(table, &column))
        };
        let sets = vec![format!("{} = {value}", ident(&column))];
        self.update_from_unnest(table, pk, &params, Vec::new(), sets).await
    }

    /// `col = u.n_col::type` for each column, matching [`Self::update_from_unnest`]'s aliases.
    fn set_from_unnest(&self, table: usize, columns: &[String]) -> Vec<String> {
        columns
            .iter()
            .map(|c| format!("{} = u.{}::{}", ident(c), ident(&format!("n_{c}")), self.cast(table, c)))
            .collect()
    }

    /// `UPDATE t SET … FROM unnest(keys…, new values…) u WHERE t.key = u.key`: one statement for
    /// a whole batch. `value_columns` name the bound arrays after the keys (`u.n_<column>`).
    async fn update_from_unnest(
        &self,
        table: usize,
        pk: &[String],
        params: &[Box<dyn ToSql + Sync + Send>],
        value_columns: Vec<String>,
        sets: Vec<String>,
    ) -> Result<(), UserError> {
        let arrays: Vec<String> = (1..=params.len()).map(|i| format!("${i}::text[]")).collect();
        let mut aliases: Vec<String> = pk.iter().map(|c| ident(&format!("k_{c}"))).collect();
        aliases.extend(value_columns.iter().map(|c| ident(&format!("n_{c}"))));
        let matches: Vec<String> = pk
            .iter()
            .map(|c| {
                format!(
                    "t0.{} = u.{}::{}",
                    ident(c),
                    ident(&format!("k_{c}")),
                    self.cast(table, c)
                )
            })
            .collect();
        let sql = format!(
            "UPDATE {} t0 SET {} FROM unnest({}) AS u({}) WHERE {}",
            table_ident(&self.config.tables[table].name),
            sets.join(", "),
            arrays.join(", "),
            aliases.join(", "),
            matches.join(" AND ")
        );
        self.client
            .execute(&sql, &refs(params))
            .await
            .map(|_| ())
            .map_err(|e| self.query_failure(table, &e))
    }

    /// Bring back up to `limit` quarantine entries of `table` for the request, after entry
    /// `after_id`, optionally only those whose key hash is in `only`. A row whose key exists
    /// again in the live table (or, for anonymize and flag, no longer exists) is never
    /// overwritten: it stays in quarantine and is reported.
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
        let pk = self.primary_key(table)?.to_vec();
        let table_name = self.config.tables[table].name.clone();
        let strategy_text = strategy_name(strategy);
        let only: Option<Vec<Vec<u8>>> = only.map(<[Vec<u8>]>::to_vec);
        let entries = self
            .client
            .query(
                "SELECT id, key_hash, sealed FROM dsar.quarantine \
                 WHERE request_id = $1 AND table_schema = $2 AND table_name = $3 AND strategy = $4 AND id > $5 \
                   AND ($6::bytea[] IS NULL OR key_hash = ANY($6)) \
                 ORDER BY id LIMIT $7 FOR UPDATE",
                &[
                    &request_id,
                    &table_name.schema,
                    &table_name.name,
                    &strategy_text,
                    &after_id,
                    &only,
                    &limit,
                ],
            )
            .await
            .map_err(|e| self.failure_static("cannot read dsar.quarantine", &e))?;
        let mut outcome = RestoreBatch {
            seen: entries.len(),
            ..Default::default()
        };
        if entries.is_empty() {
            return Ok(outcome);
        }
        let mut ids = Vec::new();
        let mut payloads = Vec::new();
        for entry in &entries {
            let id: i64 = entry.get(0);
            let hash: Vec<u8> = entry.get(1);
            let sealed: Vec<u8> = entry.get(2);
            let plain = key.open(
                &sealed,
                &DataKey::place(request_id, &table_name.to_string(), strategy_text, &hash),
            )?;
            let payload: RowPayload = serde_json::from_slice(&plain)
                .map_err(|e| UserError::runtime(format!("a quarantined row of {table_name} is unreadable: {e}")))?;
            ids.push(id);
            payloads.push(payload);
            outcome.last_id = id;
        }
        let key_of =
            |p: &RowPayload| -> Vec<Option<String>> { pk.iter().map(|c| p.get(c).cloned().flatten()).collect() };
        let describe = |k: &[Option<String>]| -> String {
            let parts: Vec<String> = pk
                .iter()
                .zip(k)
                .map(|(c, v)| format!("{c}={}", v.clone().unwrap_or_else(|| "NULL".into())))
                .collect();
            format!("{table_name} ({})", parts.join(", "))
        };

        // Which keys are live right now decides what may be written.
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let key_columns = (0..pk.len())
            .map(|i| payloads.iter().map(|p| key_of(p)[i].clone()).collect())
            .collect();
        let key_ph = bind_columns(&mut params, key_columns);
        let pk_text: Vec<String> = pk.iter().map(|c| format!("t0.{}::text", ident(c))).collect();
        let live_sql = format!(
            "SELECT {} FROM {} t0 WHERE {} FOR UPDATE",
            pk_text.join(", "),
            table_ident(&table_name),
            self.key_in(table, "t0", &key_ph)?
        );
        let live: std::collections::HashSet<Vec<Option<String>>> = self
            .client
            .query(&live_sql, &refs(&params))
            .await
            .map_err(|e| self.query_failure(table, &e))?
            .iter()
            .map(|r| (0..pk.len()).map(|i| r.get::<_, Option<String>>(i)).collect())
            .collect();

        let mut restore = Vec::new();
        let mut restore_ids = Vec::new();
        for (payload, id) in payloads.iter().zip(&ids) {
            let k = key_of(payload);
            let ok = match strategy {
                OnDelete::Quarantine => !live.contains(&k),
                _ => live.contains(&k),
            };
            if ok {
                restore.push(payload);
                restore_ids.push(*id);
            } else {
                outcome.conflicts.push(describe(&k));
            }
        }
        if !restore.is_empty() {
            match strategy {
                OnDelete::Quarantine => self.insert_rows(table, &restore).await?,
                _ => self.write_back(table, &pk, &restore).await?,
            }
            self.client
                .execute("DELETE FROM dsar.quarantine WHERE id = ANY($1)", &[&restore_ids])
                .await
                .map_err(|e| self.failure_static("cannot clear restored rows from dsar.quarantine", &e))?;
        }
        outcome.restored = restore.len() as u64;
        Ok(outcome)
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
        let only: Option<Vec<Vec<u8>>> = only.map(<[Vec<u8>]>::to_vec);
        let row = self
            .client
            .query_one(
                "SELECT min(id) FROM dsar.quarantine \
                 WHERE request_id = $1 AND table_schema = $2 AND table_name = $3 AND strategy = $4 AND id > $5 \
                   AND ($6::bytea[] IS NULL OR key_hash = ANY($6))",
                &[
                    &request_id,
                    &name.schema,
                    &name.name,
                    &strategy_name(strategy),
                    &after,
                    &only,
                ],
            )
            .await
            .map_err(|e| self.failure_static("cannot read dsar.quarantine", &e))?;
        Ok(row.get(0))
    }

    /// `INSERT … SELECT … FROM unnest(…)` of whole rows, each column cast back from its text.
    async fn insert_rows(&self, table: usize, rows: &[&RowPayload]) -> Result<(), UserError> {
        let shape = &self.shapes[table];
        let columns: Vec<&str> = rows[0]
            .columns
            .iter()
            .map(String::as_str)
            .filter(|c| shape.column(c).is_none_or(|col| !col.generated))
            .collect();
        if let Some(missing) = columns.iter().find(|c| shape.column(c).is_none()) {
            return Err(UserError::runtime(format!(
                "table `{}` no longer has column `{missing}`; restore it or map the data by hand",
                self.config.tables[table].name
            )));
        }
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let values = columns
            .iter()
            .map(|c| rows.iter().map(|r| r.get(c).cloned().flatten()).collect())
            .collect();
        let placeholders = bind_columns(&mut params, values);
        let aliases: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
        let casts: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("u.c{i}::{}", self.cast(table, c)))
            .collect();
        let arrays: Vec<String> = placeholders.iter().map(|p| format!("{p}::text[]")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM unnest({}) AS u({})",
            table_ident(&self.config.tables[table].name),
            columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "),
            casts.join(", "),
            arrays.join(", "),
            aliases.join(", ")
        );
        self.client
            .execute(&sql, &refs(&params))
            .await
            .map(|_| ())
            .map_err(|e| self.query_failure(table, &e))
    }

    /// Put sealed old values back over an anonymized or flagged row.
    async fn write_back(&self, table: usize, pk: &[String], rows: &[&RowPayload]) -> Result<(), UserError> {
        let value_columns: Vec<String> = rows[0].columns.iter().filter(|c| !pk.contains(c)).cloned().collect();
        let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
        let keys = pk
            .iter()
            .map(|c| rows.iter().map(|r| r.get(c).cloned().flatten()).collect())
            .collect();
        bind_columns(&mut params, keys);
        let values = value_columns
            .iter()
            .map(|c| rows.iter().map(|r| r.get(c).cloned().flatten()).collect())
            .collect();
        bind_columns(&mut params, values);
        let sets = self.set_from_unnest(table, &value_columns);
        self.update_from_unnest(table, pk, &params, value_columns, sets).await
    }

    /// Hard-delete up to `limit` flagged rows of an expired request (purge), with their
    /// quarantine entries. Rows that were unflagged meanwhile are left alone. Returns entries done.
    pub async fn purge_flagged_batch(&self, request_id: &str, limit: i64) -> Result<u64, UserError> {
        self.in_transaction(self.purge_flagged_body(request_id, limit)).await
    }

    async fn purge_flagged_body(&self, request_id: &str, limit: i64) -> Result<u64, UserError> {
        let entries = self
            .client
            .query(
                "SELECT id, table_schema, table_name, flag_key::text FROM dsar.quarantine \
                 WHERE request_id = $1 AND strategy = 'flag' ORDER BY id LIMIT $2 FOR UPDATE",
                &[&request_id, &limit],
            )
            .await
            .map_err(|e| self.failure_static("cannot read dsar.quarantine", &e))?;
        let mut by_table: std::collections::BTreeMap<(String, String), Vec<Vec<Option<String>>>> = Default::default();
        let mut ids = Vec::new();
        for entry in &entries {
            ids.push(entry.get::<_, i64>(0));
            let key: Vec<Option<String>> = serde_json::from_str(&entry.get::<_, String>(3)).unwrap_or_default();
            by_table.entry((entry.get(1), entry.get(2))).or_default().push(key);
        }
        for ((schema, name), keys) in by_table {
            let Some(table) = self
                .config
                .tables
                .iter()
                .position(|t| t.name.schema == schema && t.name.name == name)
            else {
                return Err(UserError::runtime(format!(
                    "request {request_id} flagged rows in {schema}.{name}, which the source map no longer lists"
                ))
                .with_hint("add the table back to the map (with its flag_column) so purge can delete those rows"));
            };
            let pk = self.primary_key(table)?.to_vec();
            let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
            let columns = (0..pk.len())
                .map(|i| keys.iter().map(|k| k.get(i).cloned().flatten()).collect())
                .collect();
            let ph = bind_columns(&mut params, columns);
            let mut sql = format!(
                "DELETE FROM {} t0 WHERE {}",
                table_ident(&self.config.tables[table].name),
                self.key_in(table, "t0", &ph)?
            );
            if let Some(flagged) = self.flagged(table, "t0") {
                sql.push_str(&format!(" AND {flagged}"));
            }
            self.client
                .execute(&sql, &refs(&params))
                .await
                .map_err(|e| self.query_failure(table, &e))?;
        }
        self.client
            .execute("DELETE FROM dsar.quarantine WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(|e| self.failure_static("cannot clear dsar.quarantine", &e))?;
        Ok(ids.len() as u64)
    }

    /// Run `body` between BEGIN and COMMIT; roll back if it fails. If the process dies instead,
    /// the server rolls the open transaction back when the connection drops.
    async fn in_transaction<T>(
        &self,
        body: impl std::future::Future<Output = Result<T, UserError>>,
    ) -> Result<T, UserError> {
        self.client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| self.failure_static("cannot start a batch", &e))?;
        match body.await {
            Ok(value) => {
                self.client
                    .batch_execute("COMMIT")
                    .await
                    .map_err(|e| self.failure_static("cannot commit a batch", &e))?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    fn failure_static(&self, what: &str, e: &tokio_postgres::Error) -> UserError {
        UserError::runtime(format!("source `{}`: {what}: {}", self.config.name, error_text(e)))
    }
}
