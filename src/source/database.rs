//! One handle for a connected source, whatever kind of database it is.
//!
//! The commands (export, delete, restore, purge, check) speak only to [`Database`]; each method
//! hands the call to the kind's own implementation, which keeps its SQL dialect to itself. The
//! contract of every method is the one documented on the PostgreSQL implementation.

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt};

use super::backend::{Backend, Value};
use super::foreign_key::ForeignKey;
use super::mysql::MySqlSource;
use super::postgres::PgSource;
use super::shape::TableShape;
use super::sqlite::SqliteSource;
use super::{ExportRow, Spares};
use crate::config::{Source, SourceKind};
use crate::error::UserError;
use crate::identity::Identities;

/// A connected source whose map has been checked against its catalog.
pub enum Database<'a> {
    Postgres(PgSource<'a>),
    Sqlite(SqliteSource<'a>),
    Mysql(MySqlSource<'a>),
}

impl<'a> Database<'a> {
    /// Connect and check every table and column the map names.
    pub async fn open(config: &'a Source) -> Result<Database<'a>, UserError> {
        Self::try_open(config).await?
    }

    /// Like [`Database::open`], but a database out of reach is `Ok(Err(…))`, so an export can go
    /// on with the other sources and say which one is missing. A wrong map is still `Err`.
    pub async fn try_open(config: &'a Source) -> Result<Result<Database<'a>, UserError>, UserError> {
        Ok(match config.kind {
            SourceKind::Postgres => PgSource::try_open(config).await?.map(Database::Postgres),
            SourceKind::Sqlite => SqliteSource::try_open(config)?.map(Database::Sqlite),
            SourceKind::Mysql => MySqlSource::try_open(config).await?.map(Database::Mysql),
            SourceKind::Command => {
                return Err(UserError::runtime(format!(
                    "source `{}` is a command, not a database",
                    config.name
                )));
            }
        })
    }

    /// How the connection is secured; `None` for a SQLite file (no network).
    pub fn security(&self) -> Option<&crate::source::tls::Security> {
        match self {
            Database::Postgres(s) => Some(&s.security),
            Database::Mysql(s) => Some(&s.security),
            Database::Sqlite(_) => None,
        }
    }

    pub fn config(&self) -> &'a Source {
        match self {
            Database::Postgres(s) => s.mapped.config,
            Database::Sqlite(s) => s.mapped.config,
            Database::Mysql(s) => s.mapped.config,
        }
    }

    pub fn shapes(&self) -> &[TableShape] {
        self.backend().dialect().shapes()
    }

    /// The columns of `table` that are exported: all but `exclude_columns`, in catalog order.
    pub fn exported_columns(&self, table: usize) -> Vec<usize> {
        self.shapes()[table].exported(&self.config().tables[table].exclude_columns)
    }

    /// Start the read-only snapshot every table of an export reads in; `share`: name it, so
    /// [`Database::count_alongside`] can count in it too (PostgreSQL).
    pub async fn begin_snapshot(&self, share: bool) -> Result<(), UserError> {
        match self {
            Database::Postgres(s) => s.begin_snapshot(share).await,
            Database::Sqlite(s) => s.begin_snapshot(),
            Database::Mysql(s) => s.begin_snapshot().await,
        }
    }

    /// Count alongside the export's own session, in its snapshot (PostgreSQL, when the
    /// snapshot was shared); `None` where a kind cannot, and the caller counts in line.
    pub fn count_alongside<'b>(
        &'b self,
        statements: Vec<super::backend::Statement>,
        wanted: impl Fn(usize) -> bool + Send + 'b,
        found: impl Fn(usize, u64) + Send + 'b,
    ) -> Option<BoxFuture<'b, ()>> {
        match self {
            Database::Postgres(s) => s.count_alongside(statements, wanted, found).map(|f| f.boxed()),
            Database::Sqlite(_) | Database::Mysql(_) => None,
        }
    }

    pub async fn end_snapshot(&self) -> Result<(), UserError> {
        match self {
            Database::Postgres(s) => s.end_snapshot().await,
            Database::Sqlite(s) => s.end_snapshot(),
            Database::Mysql(s) => s.end_snapshot().await,
        }
    }

    pub async fn has_leading_index(&self, table: usize, column: &str) -> Result<bool, UserError> {
        match self {
            Database::Postgres(s) => s.has_leading_index(table, column).await,
            Database::Sqlite(s) => s.has_leading_index(table, column),
            Database::Mysql(s) => s.has_leading_index(table, column).await,
        }
    }

    /// Whether an index on `lower(column)` of `table` exists, the one an `ignore_case` match
    /// can use. MySQL and MariaDB have none to look for: they do not index such an expression.
    pub async fn has_lower_index(&self, table: usize, column: &str) -> Result<bool, UserError> {
        let db = self.backend();
        let name = &self.config().tables[table].name;
        let mut st = db.dialect().statement();
        match self {
            Database::Postgres(_) => {
                st.push("SELECT indexdef FROM pg_catalog.pg_indexes WHERE schemaname = ")
                    .bind(name.schema.as_str())
                    .push(" AND tablename = ")
                    .bind(name.name.as_str());
            }
            Database::Sqlite(_) => {
                st.push("SELECT sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL AND tbl_name = ")
                    .bind(name.name.as_str());
            }
            Database::Mysql(_) => return Ok(false),
        }
        let rows = db
            .query(st)
            .await
            .map_err(|e| e.context(format!("source `{}`, table `{name}`", self.config().name)))?;
        let column = column.to_lowercase();
        Ok(rows
            .into_iter()
            .filter_map(|mut r| r.pop().and_then(Value::text))
            .any(|def| {
                let def = def.to_lowercase();
                def.find("lower(").is_some_and(|at| def[at..].contains(&column))
            }))
    }

    pub async fn foreign_keys(&self) -> Result<Vec<ForeignKey>, UserError> {
        match self {
            Database::Postgres(s) => s.foreign_keys().await,
            Database::Sqlite(s) => s.foreign_keys(),
            Database::Mysql(s) => s.foreign_keys().await,
        }
    }

    pub async fn check_subject_values(&self, ids: &Identities) -> Result<(), UserError> {
        match self {
            Database::Postgres(s) => s.check_subject_values(ids).await,
            Database::Sqlite(s) => s.check_subject_values(ids),
            Database::Mysql(s) => s.check_subject_values(ids).await,
        }
    }

    pub async fn expand_identities(&self, ids: &mut Identities) -> Result<bool, UserError> {
        super::select::expand_identities(self.backend(), ids).await
    }

    /// Stream the subjects' rows of `table`, one query for the whole batch; PostgreSQL reads
    /// them into the values of `spares` where it can.
    pub async fn export_rows(
        &'a self,
        table: usize,
        ids: &Identities,
        spares: &Spares,
    ) -> Result<BoxStream<'a, Result<ExportRow, UserError>>, UserError> {
        Ok(match self {
            Database::Postgres(s) => s.export_rows(table, ids, spares).await?.boxed(),
            Database::Sqlite(s) => s.export_rows(table, ids)?.boxed(),
            Database::Mysql(s) => s.export_rows(table, ids).boxed(),
        })
    }

    /// Whether [`Database::export_rows`] reads rows into the values of `Spares` (PostgreSQL's
    /// driver lends each value; the others hand over values they allocated, so spent rows are
    /// freed, not kept for them).
    pub fn reads_into_spares(&self) -> bool {
        matches!(self, Database::Postgres(_))
    }

    /// Make sure no copy of a deleted row is left in the database's free space. SQLite keeps
    /// stale copies in free pages and unused page areas (from page splits long before dsar
    /// ran): it is rebuilt with `VACUUM`. PostgreSQL's dead tuples are the server's to reclaim
    /// (autovacuum); they never reach `pg_dump`.
    pub async fn scrub_free_space(&self) -> Result<Option<String>, UserError> {
        match self {
            Database::Postgres(_) | Database::Mysql(_) => Ok(None),
            Database::Sqlite(s) => s.vacuum(),
        }
    }

    pub async fn lock_for_erasure(&self) -> Result<(), UserError> {
        self.backend().lock_for_erasure().await
    }

    /// Another session of the same database, its map checked again, for an erasure's batches
    /// to run on beside this one's (see `engine::erase_table`); `None` when the server will
    /// not give one (its connection limit): the caller goes on with the sessions it has. It
    /// takes no erasure lock: this session holds it. PostgreSQL only: a SQLite file takes one writer at
    /// a time, and on MySQL/MariaDB InnoDB locks the gaps next to the rows a batch reads and
    /// writes (the quarantine's index, a key range), so two sessions' batches deadlocked.
    pub async fn open_sibling(&self) -> Option<Database<'a>> {
        match self {
            Database::Postgres(_) => Self::try_open(self.config()).await.ok()?.ok(),
            Database::Mysql(_) | Database::Sqlite(_) => None,
        }
    }

    /// This database as the erasure engine drives it.
    pub fn backend(&self) -> &dyn Backend {
        match self {
            Database::Postgres(s) => s,
            Database::Sqlite(s) => s,
            Database::Mysql(s) => s,
        }
    }

    pub async fn canonical_key(
        &self,
        table: usize,
        given: &[(String, String)],
    ) -> Result<Vec<Option<String>>, UserError> {
        match self {
            Database::Postgres(s) => s.canonical_key(table, given).await,
            Database::Sqlite(s) => s.canonical_key(table, given),
            Database::Mysql(s) => s.canonical_key(table, given).await,
        }
    }
}
