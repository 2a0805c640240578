//! A SQLite source: one database file, its mapped tables checked against `sqlite_schema`, and
//! the queries that find a subject's rows.
//!
//! SQLite runs in this process, so a call is a function call, not a round trip: the methods are
//! synchronous, and a batch is one transaction whose prepared statements run per row where
//! PostgreSQL would bind arrays. Subject values reach SQL only as bound JSON arrays read through
//! `json_each`, so one query still serves a whole batch of subjects.

pub(crate) mod backend;
mod catalog;
pub mod discover;
mod key;
mod lock;
mod value;

use std::collections::VecDeque;
use std::fs::File;
use std::sync::{Mutex, MutexGuard};

use futures_util::Stream;
use rusqlite::{Connection, OpenFlags};

use crate::config::Source;
use crate::error::{DbErrorKind, UserError};
use crate::identity::Identities;
use crate::source::ExportRow;
use crate::source::backend::Dialect;
use crate::source::backend::Mapped;
use crate::source::backend::shortened;
use crate::source::foreign_key::ForeignKey;
use crate::source::select::{check_subject_values, export_query, owners};
pub(in crate::source) use catalog::Affinity;

/// Rows read per page of an export: bounds memory however many rows a subject owns.
const EXPORT_PAGE_ROWS: i64 = 1000;

/// An open SQLite database whose map has been checked against its schema.
pub struct SqliteSource<'a> {
    dialect: SqliteDialect<'a>,
    conn: Mutex<Connection>,
    /// Per mapped table: whether it has a rowid (exports page through it).
    has_rowid: Vec<bool>,
    /// The erasure lock file, held while this source is open once taken.
    lock: Mutex<Option<File>>,
}

/// What SQLite's SQL is built from: the map entry and what the schema says of its tables.
pub struct SqliteDialect<'a> {
    pub mapped: Mapped<'a>,
    /// Per mapped table: each column's type affinity, parallel to `shapes[t].columns`.
    pub(in crate::source) affinities: Vec<Vec<Affinity>>,
}

/// The source reads as its dialect: its map entry, shapes and SQL builders.
impl<'a> std::ops::Deref for SqliteSource<'a> {
    type Target = SqliteDialect<'a>;
    fn deref(&self) -> &SqliteDialect<'a> {
        &self.dialect
    }
}

impl<'a> SqliteSource<'a> {
    /// Open the file (never creating it) and check the map against its schema. A missing or
    /// unreadable file is `Ok(Err(…))`, like a PostgreSQL server out of reach.
    pub fn try_open(config: &'a Source) -> Result<Result<SqliteSource<'a>, UserError>, UserError> {
        let Some(path) = &config.path else {
            return Err(UserError::usage(format!("source `{}` has no path", config.name)));
        };
        if !path.is_file() {
            return Ok(Err(UserError::usage(format!(
                "source `{}`: SQLite database {} does not exist",
                config.name,
                path.display()
            ))
            .with_hint(
                "check path in the source map (relative paths start at the map's directory)",
            )));
        }
        let conn = match Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) {
            Ok(conn) => conn,
            Err(e) => {
                return Ok(Err(UserError::runtime(format!(
                    "source `{}`: cannot open {}: {e}",
                    config.name,
                    path.display()
                ))));
            }
        };
        let setup = conn
            .busy_timeout(config.lock_timeout)
            .and_then(|()| conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON"));
        if let Err(e) = setup {
            return Ok(Err(UserError::runtime(format!(
                "source `{}`: {} is not a usable SQLite database: {e}",
                config.name,
                path.display()
            ))));
        }
        let loaded = catalog::load(&conn, config)?;
        Ok(Ok(SqliteSource {
            dialect: SqliteDialect {
                mapped: Mapped {
                    config,
                    shapes: loaded.shapes,
                },
                affinities: loaded.affinities,
            },
            conn: Mutex::new(conn),
            has_rowid: loaded.has_rowid,
            lock: Mutex::new(None),
        }))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the connection ends the process (see main), so poison is moot.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn failure(&self, what: &str, e: &rusqlite::Error) -> UserError {
        UserError::runtime(format!(
            "source `{}`: {what}: {}",
            self.source().name,
            shortened(e.to_string())
        ))
        .with_db(classify(e))
    }

    fn query_failure(&self, table: usize, e: &rusqlite::Error) -> UserError {
        let name = &self.source().tables[table].name;
        UserError::runtime(format!(
            "source `{}`, table `{name}`: {}",
            self.source().name,
            shortened(e.to_string())
        ))
        .with_db(classify(e))
    }

    /// A read transaction: every table of an export sees the same moment.
    ///
    /// The snapshot is taken while this process holds the erasure lock file, so it never sees a
    /// delete, restore or purge half-way (see the PostgreSQL source).
    pub fn begin_snapshot(&self) -> Result<(), UserError> {
        let lock = self.wait_for_erasures()?;
        let started = self
            .conn()
            .execute_batch("BEGIN DEFERRED; SELECT count(*) FROM sqlite_schema")
            .map_err(|e| self.failure("cannot start a snapshot", &e));
        drop(lock);
        started
    }

    pub fn end_snapshot(&self) -> Result<(), UserError> {
        self.conn()
            .execute_batch("COMMIT")
            .map_err(|e| self.failure("cannot end the snapshot", &e))
    }

    /// Whether some index of `table` starts with `column` (the rowid alias counts).
    pub fn has_leading_index(&self, table: usize, column: &str) -> Result<bool, UserError> {
        let t = &self.source().tables[table];
        let shape = &self.shapes()[table];
        let is_rowid_alias = shape.primary_key.len() == 1
            && shape.primary_key[0] == column
            && shape
                .column(column)
                .is_some_and(|c| c.base_type.eq_ignore_ascii_case("INTEGER"));
        if is_rowid_alias {
            return Ok(true);
        }
        self.conn()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM pragma_index_list(?1, ?2) il \
                   JOIN pragma_index_info(il.name, ?2) ii WHERE ii.seqno = 0 AND ii.name = ?3)",
                (&t.name.name, &t.name.schema, column),
                |r| r.get(0),
            )
            .map_err(|e| self.failure("cannot read indexes", &e))
    }

    /// Foreign keys from any table into this source's mapped tables.
    pub fn foreign_keys(&self) -> Result<Vec<ForeignKey>, UserError> {
        catalog::foreign_keys(&self.conn(), self.source()).map_err(|e| self.failure("cannot read foreign keys", &e))
    }

    /// Refuse a subject value that a matched numeric column cannot hold (`customer_id=abc`
    /// against an INTEGER column): the operator's input, so it exits 2.
    pub fn check_subject_values(&self, ids: &Identities) -> Result<(), UserError> {
        check_subject_values(&self.dialect, ids, "a number", |t, c, v| {
            !self.affinities[t][c].is_numeric() || value::number(v).is_some()
        })
    }

    /// Stream the subjects' rows of `table`: one query for the whole batch, read a page of rows
    /// at a time in rowid order so memory stays flat.
    pub fn export_rows(
        &'a self,
        table: usize,
        ids: &Identities,
    ) -> Result<impl Stream<Item = Result<ExportRow, UserError>> + Send + 'a, UserError> {
        let exported = self.shapes()[table].exported(&self.source().tables[table].exclude_columns);
        let with_owners = ids.count > 1;
        let paged = self.has_rowid[table];
        let ids = ids.clone();
        let mut state = Page {
            after: i64::MIN,
            buffer: VecDeque::new(),
            done: false,
        };
        // A table without rowid is read in one go (its rows still arrive as a stream).
        let page_size = if paged { EXPORT_PAGE_ROWS } else { i64::MAX };
        Ok(futures_util::stream::iter(std::iter::from_fn(move || {
            if state.buffer.is_empty() && !state.done {
                let query = self.page_query(
                    table,
                    &exported,
                    with_owners,
                    &ids,
                    paged.then_some((state.after, page_size)),
                );
                match self.read_page(table, query, paged, with_owners.then_some(ids.count), exported.len()) {
                    Ok((rows, last)) => {
                        state.done = !paged || (rows.len() as i64) < page_size;
                        state.after = last.unwrap_or(state.after);
                        state.buffer.extend(rows);
                    }
                    Err(e) => {
                        state.done = true;
                        return Some(Err(e));
                    }
                }
            }
            state.buffer.pop_front().map(Ok)
        })))
    }

    /// The export query of a table: the rowid (when `page` gives the last rowid read and the
    /// page size), the owners (optional), then each exported column.
    fn page_query(
        &self,
        table: usize,
        exported: &[usize],
        with_owners: bool,
        ids: &Identities,
        page: Option<(i64, i64)>,
    ) -> crate::source::backend::Statement {
        let lead = if page.is_some() { "t0.rowid, " } else { "" };
        let mut st = export_query(&self.dialect, table, exported, with_owners, ids, lead);
        if let Some((after, size)) = page {
            st.push(" AND t0.rowid > ")
                .bind(after)
                .push(" ORDER BY t0.rowid LIMIT ")
                .bind(size);
        }
        st
    }

    fn read_page(
        &self,
        table: usize,
        query: crate::source::backend::Statement,
        paged: bool,
        owned: Option<usize>,
        width: usize,
    ) -> Result<(Vec<ExportRow>, Option<i64>), UserError> {
        let (query, binds) = query.into_parts();
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&query).map_err(|e| self.query_failure(table, &e))?;
        let bound: Vec<rusqlite::types::Value> = binds.iter().map(value::bind).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(bound.iter()))
            .map_err(|e| self.query_failure(table, &e))?;
        let mut out = Vec::new();
        let mut last = None;
        while let Some(row) = rows.next().map_err(|e| self.query_failure(table, &e))? {
            let mut i = 0;
            if paged {
                last = Some(row.get::<_, i64>(0).map_err(|e| self.query_failure(table, &e))?);
                i += 1;
            }
            let owners = if let Some(count) = owned {
                // NULL where no parent row's group had owners (a LEFT JOIN): none.
                let text: Option<String> = row.get(i).map_err(|e| self.query_failure(table, &e))?;
                i += 1;
                Some(
                    owners(
                        text.map_or(crate::source::backend::Value::Null, crate::source::backend::Value::Text),
                        count,
                    )
                    .into_iter()
                    .map(|o| o as i32)
                    .collect(),
                )
            } else {
                None
            };
            let values = (i..i + width)
                .map(|c| row.get_ref(c).map(value::to_field))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| self.query_failure(table, &e))?;
            out.push(ExportRow { owners, values });
        }
        Ok((out, last))
    }
}

/// Where a paged export read is.
struct Page {
    after: i64,
    buffer: VecDeque<ExportRow>,
    done: bool,
}

/// The kind of a SQLite failure, by its extended result code (never by its text).
impl From<rusqlite::Error> for crate::source::backend::DbError {
    fn from(e: rusqlite::Error) -> Self {
        Self::new(classify(&e), e.to_string())
    }
}

pub fn classify(e: &rusqlite::Error) -> DbErrorKind {
    use rusqlite::ffi;
    let rusqlite::Error::SqliteFailure(failure, _) = e else {
        return DbErrorKind::Other;
    };
    match failure.extended_code {
        ffi::SQLITE_CONSTRAINT_PRIMARYKEY | ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_ROWID => {
            DbErrorKind::UniqueViolation
        }
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => DbErrorKind::ForeignKeyViolation,
        _ => match failure.code {
            rusqlite::ErrorCode::ConstraintViolation => DbErrorKind::CheckViolation,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => DbErrorKind::LockTimeout,
            rusqlite::ErrorCode::TypeMismatch | rusqlite::ErrorCode::TooBig => DbErrorKind::BadValue,
            _ => DbErrorKind::Other,
        },
    }
}
