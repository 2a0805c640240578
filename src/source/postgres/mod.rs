//! A PostgreSQL source: one session, its mapped tables checked against the catalog, and the
//! queries that find a subject's rows.

pub(crate) mod backend;
mod catalog;
mod connect;
pub mod discover;
mod export_value;
pub mod foreign_keys;
mod key;
mod lock;

use futures_util::{Stream, StreamExt};
use tokio_postgres::Client;

use export_value::Wire;

pub use crate::source::ExportRow;
pub use connect::error_text;

use crate::config::{Link, Source};
use crate::error::{DbErrorKind, UserError};
use crate::identity::Identities;
use crate::source::Spares;
use crate::source::backend::Dialect;
use crate::source::backend::Mapped;
use crate::source::field::Field;
use crate::source::select::export_query;

/// How long an export reads before its tables are counted ([`PgSource::count_alongside`]), as
/// long as it waits before its first progress event (`progress::FIRST_EVENT`).
pub const COUNT_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// Cancels the session's running statement when dropped, unless taken out first.
struct CancelOnDrop(Option<connect::Canceller>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(canceller) = self.0.take() {
            canceller.cancel_in_background();
        }
    }
}

/// A connected source whose map has been checked against its catalog.
pub struct PgSource<'a> {
    dialect: PgDialect<'a>,
    client: Client,
    /// How the session is secured (TLS or plaintext), for `dsar check`.
    pub security: crate::source::tls::Security,
    /// The open snapshot's name, when [`PgSource::begin_snapshot`] shared it: a second session
    /// can read in it ([`PgSource::count_alongside`]).
    shared_snapshot: std::sync::Mutex<Option<String>>,
    /// Each export query, and each statement of an erase or restore batch, prepared once per
    /// session, by its text: a batch export runs the same query per table for every batch, and
    /// preparing it each time cost the server a parse (and the client a round trip) per table
    /// per batch.
    prepared: std::sync::Mutex<std::collections::HashMap<String, tokio_postgres::Statement>>,
}

/// How many prepared statements a session keeps at most (see [`PgSource::kept`]).
const KEPT_STATEMENTS: usize = 256;

/// What PostgreSQL's SQL is built from: the map entry and the mapped tables' shapes.
pub struct PgDialect<'a> {
    pub mapped: Mapped<'a>,
}

/// The source reads as its dialect: its map entry, shapes and SQL builders.
impl<'a> std::ops::Deref for PgSource<'a> {
    type Target = PgDialect<'a>;
    fn deref(&self) -> &PgDialect<'a> {
        &self.dialect
    }
}

impl<'a> PgSource<'a> {
    /// Connect and check every table and column the map names; like [`crate::source::Database::open`],
    /// but a server out of reach is `Ok(Err(…))`, so an export can go
    /// on with the other sources and say which one is missing. A wrong map is still `Err`.
    pub async fn try_open(config: &'a Source) -> Result<Result<PgSource<'a>, UserError>, UserError> {
        let (client, security) = match connect::connect(config).await {
            Ok(connected) => connected,
            Err(connect::ConnectError::Unreachable(e)) => return Ok(Err(e)),
            Err(connect::ConnectError::Config(e)) => return Err(e),
        };
        let shapes = catalog::load(&client, config).await?;
        Ok(Ok(PgSource {
            dialect: PgDialect {
                mapped: Mapped { config, shapes },
            },
            client,
            security,
            shared_snapshot: std::sync::Mutex::new(None),
            prepared: std::sync::Mutex::new(std::collections::HashMap::new()),
        }))
    }

    /// Start a read-only snapshot: every table of an export sees the same moment.
    ///
    /// The snapshot is taken while this session holds the erasure lock, so it never sees a
    /// delete, restore or purge half-way: an export waits for one under way (up to
    /// `lock_timeout`), then lets go of the lock at once (later erasures do not touch its
    /// snapshot).
    ///
    /// `share`: also name the snapshot (`pg_export_snapshot`), for [`PgSource::count_alongside`].
    /// Where the server refuses that, the snapshot is simply not shared.
    pub async fn begin_snapshot(&self, share: bool) -> Result<(), UserError> {
        self.wait_for_erasures().await?;
        let started = self.start_snapshot(share).await;
        self.release_erasure_lock().await;
        started
    }

    async fn start_snapshot(&self, share: bool) -> Result<(), UserError> {
        /// An export's transaction: one read-only snapshot, and no hashed de-duplication of an
        /// `IN (SELECT …)` (a `via` table's parent keys). Hashing hands the keys to the next
        /// index scan in no order; sorted, they walk its index in order: a large subject's 20,000
        /// orders took their 100,000 order items in 125 ms hashed and 88 ms sorted (`EXPLAIN
        /// ANALYZE`, the same buffers), where the baseline's `IN` (planned with a sort) took 60.
        /// For a transaction only: other commands' `DISTINCT` scans keep hashing.
        const BEGIN_EXPORT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL enable_hashagg = off";
        self.set_shared_snapshot(None);
        if share {
            let begun = self
                .client
                .simple_query(&format!("{BEGIN_EXPORT}; SELECT pg_export_snapshot()"))
                .await;
            let name = begun.as_ref().ok().and_then(|messages| {
                messages.iter().find_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                    _ => None,
                })
            });
            if let Some(name) = name {
                self.set_shared_snapshot(Some(name));
                return Ok(());
            }
            // Refused (an aborted transaction now, or none): start again without sharing.
            let _ = self.client.batch_execute("ROLLBACK").await;
        }
        self.client
            .batch_execute(&format!("{BEGIN_EXPORT}; SELECT 1"))
            .await
            .map_err(|e| self.failure("cannot start a snapshot", &e))
    }

    fn set_shared_snapshot(&self, name: Option<String>) {
        if let Ok(mut shared) = self.shared_snapshot.lock() {
            *shared = name;
        }
    }

    /// Run `statements` (each returning one count) one after the other on a second session
    /// that reads in this session's shared snapshot, telling `found` each result as it comes:
    /// an export's tables are counted for its progress bars and `dsar status` while its rows
    /// stream, instead of each table waiting for its count. Tables `wanted` says no to when
    /// their turn comes (read already) are skipped. The second session starts only after
    /// [`COUNT_AFTER`]; once it has counted, it ends its transaction and stays open, idle,
    /// until the future is dropped (when the export has read the source), which also cancels
    /// a count still running. `None` when the snapshot is not shared. The counts are advisory:
    /// a second session that cannot connect, or a count that fails, ends the counting quietly
    /// (the export goes on without totals).
    pub fn count_alongside<'b>(
        &'b self,
        statements: Vec<crate::source::backend::Statement>,
        wanted: impl Fn(usize) -> bool + Send + 'b,
        found: impl Fn(usize, u64) + Send + 'b,
    ) -> Option<impl std::future::Future<Output = ()> + Send + 'b> {
        let snapshot = self.shared_snapshot.lock().ok()?.clone()?;
        let source = self.source();
        Some(async move {
            // Totals are for a person watching a long export: one that is over within the
            // first second (almost all are) never opens the second session.
            tokio::time::sleep(COUNT_AFTER).await;
            let Ok((client, _, canceller)) = connect::connect_cancellable(source).await else {
                return;
            };
            // Dropped with a statement under way (the export has read the source): cancel it,
            // or the server would count to the end for nobody.
            let mut running = CancelOnDrop(Some(canceller));
            // The counts run beside the export on the same server: without parallel workers.
            let begin = format!(
                "SET max_parallel_workers_per_gather = 0; \
                 BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{}'",
                snapshot.replace('\'', "''")
            );
            if client.batch_execute(&begin).await.is_err() {
                return;
            }
            for (t, statement) in statements.into_iter().enumerate() {
                if !wanted(t) {
                    continue;
                }
                let (sql, binds) = statement.into_parts();
                let params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> =
                    binds.into_iter().map(backend::to_sql).collect();
                let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
                    .collect();
                match client.query_one(&sql, &params).await {
                    Ok(row) => found(t, u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)),
                    Err(_) => return,
                }
            }
            // Counted: the snapshot is let go; the session stays, idle, for as long as the
            // export reads the source (`pg_stat_activity` shows the pair).
            if client.batch_execute("COMMIT").await.is_err() {
                return;
            }
            running.0 = None;
            std::future::pending::<()>().await;
        })
    }

    pub async fn end_snapshot(&self) -> Result<(), UserError> {
        self.set_shared_snapshot(None);
        self.client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| self.failure("cannot end the snapshot", &e))
    }

    /// Whether some index of `table` starts with `column`, so lookups on it need no full scan.
    pub async fn has_leading_index(&self, table: usize, column: &str) -> Result<bool, UserError> {
        let name = &self.source().tables[table].name;
        let row = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i \
                   JOIN pg_catalog.pg_class c ON c.oid = i.indrelid \
                   JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                   JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] \
                   WHERE n.nspname = $1 AND c.relname = $2 AND a.attname = $3)",
                &[&name.schema, &name.name, &column],
            )
            .await
            .map_err(|e| self.failure("cannot read indexes", &e))?;
        Ok(row.get(0))
    }

    /// Foreign keys from any table into this source's mapped tables.
    pub async fn foreign_keys(&self) -> Result<Vec<foreign_keys::ForeignKey>, UserError> {
        foreign_keys::into_mapped(&self.client, self.source()).await
    }

    /// The columns of `table` that are exported: all but `exclude_columns`, in catalog order.
    pub fn exported_columns(&self, table: usize) -> Vec<usize> {
        self.shapes()[table].exported(&self.source().tables[table].exclude_columns)
    }

    /// Refuse, before any other query, a subject value that a matched column's type cannot hold
    /// (`customer_id=abc` against an integer): that is the operator's input, so it exits 2.
    pub async fn check_subject_values(&self, ids: &Identities) -> Result<(), UserError> {
        let mut checked = std::collections::HashSet::new();
        for (t, table) in self.source().tables.iter().enumerate() {
            let Link::Match(pairs) = &table.link else { continue };
            for (key, column) in pairs {
                let Some(col) = self.shapes()[t].column(column) else {
                    continue;
                };
                if !ids.has(key) || !checked.insert((key.clone(), col.base_type.clone())) {
                    continue;
                }
                let sql = format!("SELECT $1::text[]::{}[]", self.cast(t, column));
                if let Err(e) = self.client.query(&sql, &[&ids.values(key)]).await {
                    return Err(UserError::usage(format!(
                        "--subject {key}: {} (it is matched against {}.{column}, of type {})",
                        error_text(&e),
                        table.name,
                        col.base_type
                    )));
                }
            }
        }
        Ok(())
    }

    /// Stream the subjects' rows of `table`, one query for the whole batch.
    pub async fn export_rows(
        &self,
        table: usize,
        ids: &Identities,
        spares: &Spares,
    ) -> Result<impl Stream<Item = Result<ExportRow, UserError>> + '_, UserError> {
        let exported = self.exported_columns(table);
        let with_owners = ids.count > 1;
        let count = i32::try_from(ids.count).unwrap_or(i32::MAX);
        let st = export_query(&self.dialect, table, &exported, with_owners, ids, "");
        let (sql, binds) = st.into_parts();
        let params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> =
            binds.into_iter().map(backend::to_sql).collect();
        let statement = self.prepared(&sql).await.map_err(|e| self.query_failure(table, &e))?;
        let stream = self
            .client
            .query_raw(
                &statement,
                params
                    .iter()
                    .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync)),
            )
            .await
            .map_err(|e| self.query_failure(table, &e))?;
        // As `export_columns` read them; a table with no column reads one JSON null.
        let mut wires: Vec<Wire> = exported
            .iter()
            .map(|&i| export_value::wire(&self.shapes()[table].columns[i], "t0").0)
            .collect();
        if wires.is_empty() {
            wires.push(Wire::Json);
        }
        // Rows are read into spent rows' values where there are some (see `Spares`), taken all
        // at once (a chunk's worth at most), so the lock is not taken per row.
        let spares = spares.clone();
        let mut ready: Vec<Vec<Field>> = Vec::new();
        Ok(stream.map(move |row| {
            let row = row.map_err(|e| self.query_failure(table, &e))?;
            let first = usize::from(with_owners);
            // NULL where no parent row's group had owners (a LEFT JOIN): none.
            let owners = with_owners.then(|| {
                let mut owners = row.get::<_, Option<Vec<i32>>>(0).unwrap_or_default();
                // Positions of the values found: modulo the batch's size, its subjects.
                for o in &mut owners {
                    *o = o.rem_euclid(count);
                }
                owners.sort_unstable();
                owners.dedup();
                owners
            });
            if ready.is_empty() {
                ready = spares.take();
            }
            let mut values = ready.pop().unwrap_or_default();
            values.resize(wires.len(), Field::Null);
            for (i, (&wire, slot)) in wires.iter().zip(&mut values).enumerate() {
                export_value::field_into(&row, first + i, wire, slot).map_err(|e| self.query_failure(table, &e))?;
            }
            Ok(ExportRow { owners, values })
        }))
    }

    /// `sql` prepared once and kept, when it is a statement that runs again and again (an erase
    /// or restore batch runs the same few statements a thousand times: preparing each cost a
    /// parse and a round trip); `None` for the rest (schema changes, session settings), and once
    /// this session keeps [`KEPT_STATEMENTS`] (a statement whose text grows with its batch
    /// would otherwise be kept once per size).
    pub(super) async fn kept(&self, sql: &str) -> Result<Option<tokio_postgres::Statement>, tokio_postgres::Error> {
        let repeats = ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH"].iter().any(|verb| {
            sql.get(..verb.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(verb))
        });
        let full = self.prepared.lock().unwrap_or_else(|e| e.into_inner()).len() >= KEPT_STATEMENTS;
        if !repeats || full {
            return Ok(None);
        }
        self.prepared(sql).await.map(Some)
    }

    /// `sql` prepared on this session: once, then as kept (see `prepared`).
    async fn prepared(&self, sql: &str) -> Result<tokio_postgres::Statement, tokio_postgres::Error> {
        if let Some(statement) = self.prepared.lock().unwrap_or_else(|e| e.into_inner()).get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql).await?;
        self.prepared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    fn failure(&self, what: &str, e: &tokio_postgres::Error) -> UserError {
        UserError::runtime(format!("source `{}`: {what}: {}", self.source().name, error_text(e)))
            .with_db(connect::classify(e))
    }

    /// A failed query on a table. A subject value the column's type cannot hold is the operator's
    /// input, not a run-time fault: it exits 2.
    fn query_failure(&self, table: usize, e: &tokio_postgres::Error) -> UserError {
        let name = &self.source().tables[table].name;
        let text = format!("source `{}`, table `{name}`: {}", self.source().name, error_text(e));
        let kind = connect::classify(e);
        let error = if kind == DbErrorKind::BadValue {
            UserError::usage(text)
                .with_hint("a --subject value does not fit the type of the column it is matched against")
        } else if connect::holds_invalid_text(e) {
            UserError::runtime(text).with_hint(
                "the table holds text the server cannot send as UTF-8 (a SQL_ASCII database, or bytes in \
                 another encoding); dsar reads every value as UTF-8: convert those values, then run it again",
            )
        } else {
            UserError::runtime(text)
        };
        error.with_db(kind)
    }
}
