//! The contract between the erasure engine (`src/engine/`) and each kind of database.
//!
//! The engine holds the algorithm once; a [`Backend`] holds only what really differs between
//! PostgreSQL, MySQL/MariaDB and SQLite: how placeholders are written, how a value is read out
//! and written back exactly, how a batch of keys or rows is bound, what the store's tables are
//! called, how the erasure lock is taken, and how statements run. Every hook is a builder (no
//! I/O) in a [`Dialect`]; a [`Backend`] adds the connection: [`Backend::execute`],
//! [`Backend::query`] and [`Backend::lock_for_erasure`], and where a kind has a faster way,
//! [`Backend::text_rows`] (rows lent as text) and [`Backend::bulk_load`] (rows written back by
//! a bulk load), whose defaults serve every kind. A fourth kind of database implements this
//! trait and nothing else of the erasure.

use futures_util::future::BoxFuture;

pub use super::kind_sql::{KindSql, Seconds};
use super::shape::TableShape;
use crate::config::Source;
use crate::error::{DbErrorKind, UserError};
use crate::source::cell::Cell;

/// A value bound to a statement, or read from a result row. Arrays are bound only (by the
/// kinds whose [`Backend::key_set`] or [`Backend::in_list`] use them).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(String),
    Bytes(Vec<u8>),
    TextArray(Vec<Option<String>>),
    BytesArray(Vec<Vec<u8>>),
    IntArray(Vec<i64>),
}

impl Value {
    pub fn text(self) -> Option<String> {
        match self {
            Value::Text(t) => Some(t),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    pub fn int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Text(t) => t.parse().ok(),
            _ => None,
        }
    }

    pub fn bool(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Int(i) => *i != 0,
            _ => false,
        }
    }

    pub fn bytes(self) -> Option<Vec<u8>> {
        match self {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<Vec<u8>> for Value {
    fn from(b: Vec<u8>) -> Value {
        Value::Bytes(b)
    }
}

/// How a kind writes its placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholders {
    /// `$1`, `$2` (PostgreSQL).
    Dollar,
    /// `?` (MySQL/MariaDB).
    Question,
    /// `?1`, `?2` (SQLite).
    QuestionNumbered,
}

/// SQL text and its bound values. The statement numbers its placeholders itself: nobody counts
/// `$7` by hand, so adding a condition can never shift another's value.
#[derive(Debug, Clone)]
pub struct Statement {
    sql: String,
    binds: Vec<Value>,
    style: Placeholders,
}

impl Statement {
    pub fn new(style: Placeholders) -> Statement {
        Statement {
            sql: String::new(),
            binds: Vec::new(),
            style,
        }
    }

    /// Append SQL text (never a value: values go through [`Statement::bind`]).
    pub fn push(&mut self, sql: &str) -> &mut Statement {
        self.sql.push_str(sql);
        self
    }

    /// Append a placeholder for `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Statement {
        self.binds.push(value.into());
        match self.style {
            Placeholders::Dollar => self.sql.push_str(&format!("${}", self.binds.len())),
            Placeholders::Question => self.sql.push('?'),
            Placeholders::QuestionNumbered => self.sql.push_str(&format!("?{}", self.binds.len())),
        }
        self
    }

    /// Bind `value` and return its placeholder without appending it, for SQL assembled out of
    /// order. Only numbered placeholders allow that: with `?` the text order is the bind order.
    pub fn placeholder(&mut self, value: impl Into<Value>) -> String {
        assert!(
            self.style != Placeholders::Question,
            "positional placeholders must be bound in text order"
        );
        self.binds.push(value.into());
        match self.style {
            Placeholders::Dollar => format!("${}", self.binds.len()),
            _ => format!("?{}", self.binds.len()),
        }
    }

    /// Append `items`, each written by `each`, separated by `sep`.
    pub fn join<T>(&mut self, items: &[T], sep: &str, mut each: impl FnMut(&mut Statement, &T)) -> &mut Statement {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.push(sep);
            }
            each(self, item);
        }
        self
    }

    #[cfg(test)]
    pub fn sql(&self) -> &str {
        &self.sql
    }

    #[cfg(test)]
    pub fn binds(&self) -> &[Value] {
        &self.binds
    }

    /// How many values the statement binds.
    pub fn bound(&self) -> usize {
        self.binds.len()
    }

    pub fn into_parts(self) -> (String, Vec<Value>) {
        (self.sql, self.binds)
    }
}

/// A failed statement, classified where it arose.
#[derive(Debug, Clone)]
pub struct DbError {
    pub kind: DbErrorKind,
    /// The database's own words (for the operator; never decided on).
    pub message: String,
}

impl DbError {
    /// A failure in the database's words, cut to [`MESSAGE_CHARS`]: SQLite's quotes the whole
    /// statement it could not prepare, which for a batch of thousands of keys is hundreds of
    /// kilobytes on one line of the operator's terminal and log.
    pub fn new(kind: DbErrorKind, message: String) -> DbError {
        DbError {
            kind,
            message: shortened(message),
        }
    }
}

/// The characters of a database's message that an error keeps.
const MESSAGE_CHARS: usize = 400;

pub(crate) fn shortened(message: String) -> String {
    let total = message.chars().count();
    if total <= MESSAGE_CHARS {
        return message;
    }
    let kept: String = message.chars().take(MESSAGE_CHARS).collect();
    format!("{kept}… ({total} characters in all)")
}

impl Value {
    /// This value as a driver's own value type: scalars by `From` (a boolean as 0 or 1), NULL
    /// as `null`, and lists as `list` makes them (each driver binds lists its own way).
    pub fn lower<T>(&self, null: T, list: impl FnOnce(&Value) -> T) -> T
    where
        T: From<i64> + From<f64> + From<String> + From<Vec<u8>>,
    {
        match self {
            Value::Null => null,
            Value::Int(i) => T::from(*i),
            Value::Float(f) => T::from(*f),
            Value::Bool(b) => T::from(i64::from(*b)),
            Value::Text(t) => T::from(t.clone()),
            Value::Bytes(b) => T::from(b.clone()),
            Value::TextArray(_) | Value::BytesArray(_) | Value::IntArray(_) => list(self),
        }
    }
}

/// The tables dsar keeps inside each database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreTable {
    Requests,
    Quarantine,
    /// The persisted plan: per request and table, the sealed key of every row it will change.
    Plan,
}

/// What every kind's SQL is built from: a map entry and what the catalog says of its tables.
pub struct Mapped<'a> {
    pub config: &'a Source,
    /// Parallel to `config.tables`.
    pub shapes: Vec<TableShape>,
}

/// A list of values for `expr IN (…)` or `expr = ANY(…)`.
pub enum List {
    Ints(Vec<i64>),
    Bytes(Vec<Vec<u8>>),
}

/// A `match` row's owners to list: row `alias` of `table`, by the map's (key, column) `pairs`
/// that `ids` has values for.
#[derive(Clone, Copy)]
pub struct MatchOwners<'a> {
    pub table: usize,
    pub alias: &'a str,
    pub pairs: &'a [(String, String)],
    pub ids: &'a crate::identity::Identities,
}

/// New values for some columns of some rows of `table`, found by their `key` columns: `rows`
/// are (key cells, new cells in `columns` order).
#[derive(Clone, Copy)]
pub struct RowUpdates<'a> {
    pub table: usize,
    pub key: &'a [String],
    pub columns: &'a [String],
    pub rows: &'a [(Vec<Cell>, Vec<Cell>)],
}

/// What one erase batch writes to the quarantine: sealed rows of one table and request.
pub struct QuarantineBatch<'a> {
    pub request_id: &'a str,
    pub table: &'a crate::config::TableName,
    pub strategy: &'a str,
    pub entries: &'a [SealedEntry],
}

impl QuarantineBatch<'_> {
    /// Bind what every entry of the batch shares, in [`QUARANTINE_COLUMNS`] order (request,
    /// `source`, schema, table, strategy), each followed by `cast`.
    pub fn bind_shared(&self, st: &mut Statement, source: &str, cast: &str) {
        let shared = [
            self.request_id,
            source,
            &self.table.schema,
            &self.table.name,
            self.strategy,
        ];
        st.join(&shared, ", ", |st, value| {
            st.bind(*value).push(cast);
        });
    }
}

impl QuarantineBatch<'_> {
    /// One entry's own values, in [`QUARANTINE_COLUMNS`] order: key hash, sealed row(s), flag
    /// key, rows of a bundle.
    pub fn entry_values(entry: &SealedEntry) -> [Value; 4] {
        [
            Value::Bytes(entry.key_hash.clone()),
            Value::Bytes(entry.sealed.clone()),
            entry.flag_key.clone().map_or(Value::Null, Value::Text),
            entry.rows.map_or(Value::Null, Value::Int),
        ]
    }

    /// The same, one array per column over every entry (for kinds that bind arrays); the rows
    /// of an entry that is not a bundle are 0 (the SQL makes that NULL).
    pub fn entry_columns(&self) -> [Value; 4] {
        let entries = self.entries;
        [
            Value::BytesArray(entries.iter().map(|e| e.key_hash.clone()).collect()),
            Value::BytesArray(entries.iter().map(|e| e.sealed.clone()).collect()),
            Value::TextArray(entries.iter().map(|e| e.flag_key.clone()).collect()),
            Value::IntArray(entries.iter().map(|e| e.rows.unwrap_or(0)).collect()),
        ]
    }
}

/// The quarantine's columns, in the order every kind's [`Dialect::push_quarantine_rows`] gives
/// them.
pub const QUARANTINE_COLUMNS: &str = "(request_id, source, table_schema, table_name, strategy, key_hash, sealed, flag_key, \
     sealed_rows, deleted_at, restore_until)";

/// One entry in the quarantine, sealed: one row, or (`rows`) a bundle of a quarantined
/// batch's rows.
pub struct SealedEntry {
    pub key_hash: Vec<u8>,
    pub sealed: Vec<u8>,
    /// The row's key, for `flag` entries (purge deletes the flagged row by it).
    pub flag_key: Option<String>,
    /// How many rows a bundle holds; `None` for an entry of one row (written as NULL).
    pub rows: Option<i64>,
}

/// The SQL of one kind of database, as the erasure engine builds it: pure builders that need no
/// connection (unit tests snapshot them).
pub trait Dialect: Send + Sync {
    /// The map entry this connection serves and its tables' shapes.
    fn mapped(&self) -> &Mapped<'_>;

    /// The map entry this connection serves.
    fn source(&self) -> &Source {
        self.mapped().config
    }

    /// The mapped tables as the catalog describes them (parallel to `source().tables`).
    fn shapes(&self) -> &[TableShape] {
        &self.mapped().shapes
    }

    /// What this kind spells as fixed text.
    fn kind_sql(&self) -> &'static KindSql;

    fn placeholders(&self) -> Placeholders {
        self.kind_sql().placeholders
    }

    fn statement(&self) -> Statement {
        Statement::new(self.placeholders())
    }

    /// Append the condition that `alias.column` of `table` holds one of `values` (the subjects'
    /// values of one key), bound as a list, in a form the column's index serves.
    fn push_match(&self, st: &mut Statement, table: usize, alias: &str, column: &str, values: &[String]);

    /// Append the expression listing which subjects of the batch the `match` row `alias` of
    /// `table` belongs to, for the map's (key, column) `pairs` that `ids` has values for (an
    /// array or a text list; [`crate::source::select::owners`] reads either).
    /// (Called with at least one pair; [`KindSql::no_owners`] stands for none.)
    fn push_match_owners(&self, st: &mut Statement, m: &MatchOwners<'_>);

    /// Whether `column` of `table` is matched without regard to case (`ignore_case = true`).
    fn ignores_case(&self, table: usize, column: &str) -> bool {
        self.source().tables[table].ignore_case.iter().any(|c| c == column)
    }

    /// `expr` as text (`CHAR` is text to MySQL and to SQLite's affinity rules alike).
    fn text_sql(&self, expr: &str) -> String {
        format!("CAST({expr} AS CHAR)")
    }

    /// The select expressions an export reads the `exported` columns of `table` through (called
    /// with at least one column; [`KindSql::no_columns`] stands for none).
    fn export_columns(&self, table: usize, exported: &[usize]) -> Vec<String>;

    /// The statement that starts the capture: one consistent snapshot of every table.
    fn snapshot_sql(&self) -> &'static str {
        self.kind_sql().snapshot
    }

    /// The statements that make `table`'s pending list (its key columns `key`) anew, empty.
    fn create_pending(&self, table: usize, key: &[String]) -> Vec<String>;

    /// The statements that index a filled pending list and refresh its statistics, so taking
    /// batches and checking foreign keys stay linear however many rows a subject owns.
    fn index_pending(&self, _table: usize, _key: &[String]) -> Vec<String> {
        Vec::new()
    }

    /// A mapped table's quoted name as this kind writes it.
    fn table_sql(&self, name: &crate::config::TableName) -> String {
        crate::source::quote::table(name)
    }

    /// The quoted name of the session table that holds `table`'s captured keys.
    fn pending_table(&self, table: usize) -> String {
        format!(
            "{}{}",
            self.kind_sql().temp_schema,
            crate::source::quote::ident(&format!("dsar_pending_{table}"))
        )
    }

    /// `DELETE FROM t AS alias` as this kind writes a delete with an alias.
    fn delete_from(&self, table_sql: &str, alias: &str) -> String {
        format!("DELETE FROM {table_sql} AS {alias}")
    }

    /// Append `(alias.column` equals `literal` as a value of the column's type`)`, NULL-safe: the
    /// database's own comparison (an inet `192.0.2.1` equals what reads back as `192.0.2.1/32`).
    fn push_same_value(&self, st: &mut Statement, table: usize, alias: &str, column: &str, literal: &str) {
        st.push(&format!(
            "({alias}.{} IS NOT DISTINCT FROM ",
            crate::source::quote::ident(column)
        ));
        self.bind_cell(st, table, column, &Cell::from_text(Some(literal.to_string())));
        st.push(")");
    }

    /// ` FOR UPDATE`, where rows read in a transaction can be locked (empty for SQLite, whose
    /// write transaction already holds the file).
    fn lock_rows_sql(&self) -> &'static str {
        self.kind_sql().lock_rows
    }

    /// A boolean flag column's "deleted" value.
    fn true_sql(&self) -> &'static str {
        self.kind_sql().true_value
    }

    /// The quarantine's `flag_key` column as text.
    fn flag_key_sql(&self) -> &'static str {
        self.kind_sql().flag_key
    }

    /// Append the rows of the batch's INSERT into the quarantine (a `SELECT` or `VALUES` giving
    /// [`QUARANTINE_COLUMNS`]), each with the request's window end and the database's clock.
    fn push_quarantine_rows(&self, st: &mut Statement, batch: &QuarantineBatch<'_>);

    /// The quoted name of one of the store's tables (`dsar.quarantine`, `dsar_quarantine`).
    fn store_table(&self, table: StoreTable) -> &'static str {
        self.kind_sql().tables[table as usize]
    }

    /// The statement that starts a read-write transaction.
    fn begin_sql(&self) -> &'static str {
        self.kind_sql().begin
    }

    /// The database's clock, as SQL (`now()`).
    fn now_sql(&self) -> &'static str {
        self.kind_sql().now
    }

    /// `now + secs` as SQL, for the window's end, binding `secs`.
    fn push_now_plus(&self, st: &mut Statement, secs: f64) {
        let (before, after, unit) = self.kind_sql().now_plus;
        let amount = match unit {
            Seconds::Whole => Value::Float(secs),
            Seconds::Micros => Value::Int((secs * 1_000_000.0) as i64),
        };
        st.push(before).bind(amount).push(after);
    }

    /// A timestamp column as `YYYY-MM-DDTHH:MM:SSZ` text.
    fn utc_text(&self, column: &str) -> String {
        self.kind_sql().utc_text.replace("{column}", column)
    }

    /// The most values one statement may bind.
    fn max_binds(&self) -> usize {
        self.kind_sql().max_binds
    }

    /// Whether sealed rows keep each value's storage class (SQLite) rather than its text form.
    fn typed_payload(&self) -> bool {
        self.kind_sql().typed_payload
    }

    /// A `DELETE` of `table` that may end in `RETURNING`, and the name its columns go by
    /// there; `None` where the kind's delete does not return the rows it removes (read them,
    /// then delete).
    fn delete_returning(&self, table: &crate::config::TableName) -> Option<(String, String)> {
        self.kind_sql()
            .delete_returning
            .then(|| (self.delete_from(&self.table_sql(table), "t0"), "t0".to_string()))
    }

    /// The select expression that reads `alias.column` of mapped table `table` exactly, as the
    /// cell that is sealed.
    fn read_cell(&self, table: usize, alias: &str, column: &str) -> String;

    /// Append the expression that writes `cell` into `column` of mapped table `table` exactly.
    fn bind_cell(&self, st: &mut Statement, table: usize, column: &str, cell: &Cell);

    /// Append `(alias.k1, …) IN (…)` over the key columns `key` of `table` for `keys`: by
    /// default a list of bound tuples, each value written by [`Dialect::bind_cell`].
    fn key_set(&self, st: &mut Statement, table: usize, alias: &str, key: &[String], keys: &[Vec<Cell>]) {
        st.push("(")
            .push(&crate::source::quote::qualified(alias, key))
            .push(") IN (")
            .push(self.row_list_prefix());
        let keys: Vec<&[Cell]> = keys.iter().map(Vec::as_slice).collect();
        self.push_rows(st, table, key, &keys);
        st.push(")");
    }

    /// What opens a list of row values after `IN (`: `VALUES ` where the kind needs it.
    fn row_list_prefix(&self) -> &'static str {
        self.kind_sql().row_list_prefix
    }

    /// Append `(…), (…)`: each row's cells written into `columns` by [`Dialect::bind_cell`].
    fn push_rows(&self, st: &mut Statement, table: usize, columns: &[String], rows: &[&[Cell]]) {
        for (r, row) in rows.iter().enumerate() {
            st.push(if r == 0 { "(" } else { ", (" });
            for (i, (column, cell)) in columns.iter().zip(row.iter()).enumerate() {
                if i > 0 {
                    st.push(", ");
                }
                self.bind_cell(st, table, column, cell);
            }
            st.push(")");
        }
    }

    /// Append `expr IN (…)` (or `= ANY(…)`) for `list`; by default one bound value each.
    fn in_list(&self, st: &mut Statement, expr: &str, list: List) {
        let values: Vec<Value> = match list {
            List::Ints(ids) => ids.into_iter().map(Value::Int).collect(),
            List::Bytes(hashes) => hashes.into_iter().map(Value::Bytes).collect(),
        };
        if values.is_empty() {
            st.push("1 = 0");
            return;
        }
        st.push(expr).push(" IN (");
        st.join(&values, ", ", |st, v| {
            st.bind(v.clone());
        });
        st.push(")");
    }

    /// Append `INSERT INTO table (columns) …` writing `rows` (one cell per column); by default
    /// one multi-row `VALUES`.
    fn insert_rows(&self, st: &mut Statement, table: usize, columns: &[String], rows: &[&[Cell]]) {
        let names: Vec<String> = columns.iter().map(|c| crate::source::quote::ident(c)).collect();
        st.push(&format!(
            "INSERT INTO {} ({}) VALUES ",
            self.table_sql(&self.source().tables[table].name),
            names.join(", ")
        ));
        self.push_rows(st, table, columns, rows);
    }

    /// Append one `UPDATE` that sets `columns` of the rows of `table` whose key (`key`) matches:
    /// `rows` are (key cells, new cells).
    fn update_rows(&self, st: &mut Statement, u: &RowUpdates<'_>);

    /// Whether `column` of `table` holds booleans (a flag then is TRUE, else a time).
    fn is_boolean(&self, table: usize, column: &str) -> bool;

    /// The condition a row of `table` (aliased `t0`) meets once its `flag` strategy has flagged
    /// it; `None` for a table without a flag column.
    fn flagged_sql(&self, table: usize) -> Option<String> {
        let column = self.source().tables[table].flag_column.as_ref()?;
        let test = if self.is_boolean(table, column) {
            "IS TRUE"
        } else {
            "IS NOT NULL"
        };
        Some(format!("t0.{} {test}", crate::source::quote::ident(column)))
    }

    /// The value a `flag` strategy writes into `column` of `table` when it is not boolean: the
    /// time of the delete, in the column's type.
    fn flag_time_sql(&self, table: usize, column: &str) -> String {
        let column = self.shapes()[table].column(column);
        let sql_type = column.map_or("text", |c| c.base_type.as_str());
        self.kind_sql().flag_time.replace("{type}", sql_type)
    }
}

/// One connected database, as the erasure engine drives it.
pub trait Backend: Send + Sync {
    /// How this kind writes its SQL.
    fn dialect(&self) -> &dyn Dialect;

    /// Run a statement that returns no rows; the number of rows it changed.
    fn execute(&self, st: Statement) -> BoxFuture<'_, Result<u64, DbError>>;

    /// Run a query; its rows, each value as [`Value`].
    fn query(&self, st: Statement) -> BoxFuture<'_, Result<Vec<Vec<Value>>, DbError>>;

    /// [`query`](Backend::query) for the values an erase batch seals: a value the kind can read
    /// only approximately is an error, not a copy with bytes replaced, since a restore writes
    /// back what was read (SQLite keeps whatever bytes a `TEXT` value was given; one that is
    /// not UTF-8 is refused). Other reads (the register's scan, a subject's identities) take
    /// such text with U+FFFD in place of the bad bytes, as an export does.
    fn query_exact(&self, st: Statement) -> BoxFuture<'_, Result<Vec<Vec<Value>>, DbError>> {
        self.query(st)
    }

    /// Run a query and hand `each` every row, in order, as its values' text form
    /// ([`Cell::key_text`] of the cell [`query`](Backend::query) would give); the number of
    /// rows. A kind that reads its values as text (PostgreSQL, where every column of an erase
    /// batch is read `::text`) lends each value from the row as received: a large quarantined
    /// batch is then encoded with no copy of a value, where building each value, then its
    /// row, then freeing both was a third of a 1M-row delete's client time.
    fn text_rows<'a>(
        &'a self,
        st: Statement,
        each: &'a mut (dyn FnMut(&[Option<&str>]) + Send),
    ) -> BoxFuture<'a, Result<u64, DbError>> {
        Box::pin(async move {
            let rows = self.query(st).await?;
            let count = rows.len() as u64;
            for row in rows {
                let texts: Vec<Option<String>> = row.into_iter().map(|v| Cell::from_value(v).into_key_text()).collect();
                let borrowed: Vec<Option<&str>> = texts.iter().map(Option::as_deref).collect();
                each(&borrowed);
            }
            Ok(count)
        })
    }

    /// Write `rows` (each a value per column of `columns`, in the text form) into `table` by the
    /// kind's bulk load, which checks and triggers what an `INSERT` does; the rows written.
    /// `None` where the kind or table has none ([`TableShape::bulk_load`]): the caller
    /// inserts them. A restore of a million rows on PostgreSQL took 5.0-5.3 s by `COPY` where
    /// `INSERT … SELECT … FROM unnest(…)` took 5.7-5.9 s (alternating runs).
    fn bulk_load<'a>(
        &'a self,
        table: usize,
        columns: &'a [String],
        rows: &'a [&'a [Cell]],
    ) -> Option<BoxFuture<'a, Result<u64, DbError>>> {
        let _ = (table, columns, rows);
        None
    }

    /// Take the database's erasure lock for this connection (waits at most `lock_timeout`).
    fn lock_for_erasure(&self) -> BoxFuture<'_, Result<(), UserError>>;
}

impl DbError {
    /// The operator's error: what failed, where, in the database's words; exit 1.
    pub fn context(self, what: impl std::fmt::Display) -> UserError {
        UserError::runtime(format!("{what}: {}", self.message)).with_db(self.kind)
    }
}

/// A fixed plan every kind's SQL is snapshotted for: table `Shop."Users"` (key `Id`, an integer;
/// `email` text; `avatar` binary), so a change to a statement shows in review as a diff of
/// `tests/snapshots/sql/<kind>.sql`. `DSAR_UPDATE_SNAPSHOTS=1 cargo test` rewrites them.
#[cfg(test)]
mod snapshot {
    use std::time::Duration;

    use super::{Dialect, List, QUARANTINE_COLUMNS, QuarantineBatch, RowUpdates, SealedEntry, StoreTable};
    use crate::config::{Link, OnDelete, SecretRef, Source, SourceKind, Table, TableName};
    use crate::source::cell::Cell;
    use crate::source::shape::{Column, ColumnKind, TableShape};

    fn source(kind: SourceKind, schema: &str) -> Source {
        Source {
            name: "shop".into(),
            kind,
            url: SecretRef::Env("SHOP_URL".into()),
            path: None,
            run: Vec::new(),
            delete_run: None,
            max_rows_per_second: None,
            batch_rows: 1000,
            statement_timeout: Duration::from_secs(60),
            lock_timeout: Duration::from_secs(10),
            password_command: None,
            tables: vec![Table {
                name: TableName {
                    schema: schema.into(),
                    name: "Users".into(),
                },
                location: "sources.toml:1:1".into(),
                link: Link::Match(vec![("email".into(), "email".into())]),
                ignore_case: Vec::new(),
                key: Vec::new(),
                exclude_columns: Vec::new(),
                on_delete: OnDelete::Quarantine,
                anonymize: Vec::new(),
                flag_column: None,
                retain_reason: None,
                about: Default::default(),
            }],
        }
    }

    /// The table's shape with the kind's own type names.
    fn shapes(integer: &str, text: &str, binary: &str) -> Vec<TableShape> {
        let column = |name: &str, base_type: &str, kind| Column {
            name: name.into(),
            base_type: base_type.into(),
            kind,
            text_like: base_type == text,
            max_len: None,
            generated: false,
        };
        vec![TableShape {
            columns: vec![
                column("Id", integer, ColumnKind::Other),
                column("email", text, ColumnKind::Other),
                column("avatar", binary, ColumnKind::Bytea),
            ],
            primary_key: vec!["Id".into()],
            key_from_map: false,
            bulk_load: false,
        }]
    }

    /// Every statement the dialect builds for the fixed plan, with its bound values.
    fn render(d: &dyn Dialect) -> String {
        let key = vec!["Id".to_string()];
        let columns = vec!["Id".to_string(), "email".to_string(), "avatar".to_string()];
        let keys = vec![vec![Cell::Text("7".into())], vec![Cell::Integer(8)]];
        let row = vec![Cell::Integer(7), Cell::Text("a'b@x".into()), Cell::Blob("AP8=".into())];
        let mut out = String::new();
        let mut show = |title: &str, build: &dyn Fn(&mut super::Statement)| {
            let mut st = d.statement();
            build(&mut st);
            out.push_str(&format!("-- {title}\n{}\n-- binds: {:?}\n\n", st.sql(), st.binds()));
        };
        show("key set", &|st| d.key_set(st, 0, "t0", &key, &keys));
        show("read and bind a cell", &|st| {
            st.push(&d.read_cell(0, "t0", "avatar")).push(" = ");
            d.bind_cell(st, 0, "avatar", &row[2]);
        });
        show("in list", &|st| d.in_list(st, "id", List::Ints(vec![1, 2])));
        show("insert rows", &|st| d.insert_rows(st, 0, &columns, &[row.as_slice()]));
        show("update rows", &|st| {
            d.update_rows(
                st,
                &RowUpdates {
                    table: 0,
                    key: &key,
                    columns: &columns[1..],
                    rows: &[(vec![row[0].clone()], row[1..].to_vec())],
                },
            )
        });
        show("insert quarantine", &|st| {
            st.push(&format!(
                "INSERT INTO {} {QUARANTINE_COLUMNS} ",
                d.store_table(StoreTable::Quarantine)
            ));
            d.push_quarantine_rows(
                st,
                &QuarantineBatch {
                    request_id: "r1",
                    table: &d.source().tables[0].name,
                    strategy: "quarantine",
                    entries: &[SealedEntry {
                        key_hash: vec![1, 2],
                        sealed: vec![3],
                        flag_key: None,
                        rows: Some(2),
                    }],
                },
            )
        });
        show("delete", &|st| {
            st.push(&d.delete_from(&d.table_sql(&d.source().tables[0].name), "t0"));
        });
        show(
            "delete returning",
            &|st| match d.delete_returning(&d.source().tables[0].name) {
                Some((delete, alias)) => {
                    st.push(&delete).push(" WHERE ");
                    d.key_set(st, 0, &alias, &key, &keys);
                    st.push(" RETURNING ").push(&d.read_cell(0, &alias, "avatar"));
                }
                None => {
                    st.push("(read, then delete)");
                }
            },
        );
        show("window end", &|st| d.push_now_plus(st, 60.0));
        let subject = |email: &str| crate::subject::Subject {
            ids: vec![("email".into(), email.into())],
            line: None,
        };
        let ids = crate::identity::Identities::new(&[subject("a@x"), subject("b@x")]);
        show("membership", &|st| {
            crate::source::select::push_membership(d, st, 0, 0, &ids)
        });
        show("owners", &|st| crate::source::select::push_owners(d, st, 0, 0, &ids));
        let mut known_twice = ids.clone();
        known_twice.insert("email", "a2@x", 0);
        show("owners, the first subject known by two emails", &|st| {
            crate::source::select::push_owners(d, st, 0, 0, &known_twice)
        });
        out.push_str(&format!(
            "-- store\n{} {}\n{}\n{}\n",
            d.store_table(StoreTable::Requests),
            d.store_table(StoreTable::Quarantine),
            d.pending_table(0),
            d.kind_sql().exists
        ));
        out
    }

    #[test]
    fn every_kinds_sql_matches_its_snapshot() {
        use crate::source::mysql::MySqlDialect;
        use crate::source::postgres::PgDialect;
        use crate::source::sqlite::{Affinity, SqliteDialect};
        let (pg, my, lite) = (
            source(SourceKind::Postgres, "Shop"),
            source(SourceKind::Mysql, ""),
            source(SourceKind::Sqlite, "main"),
        );
        let mapped = |config, types: [&str; 3]| super::Mapped {
            config,
            shapes: shapes(types[0], types[1], types[2]),
        };
        let postgres = PgDialect {
            mapped: mapped(&pg, ["integer", "text", "bytea"]),
        };
        check("postgres", &render(&postgres));
        let mysql = MySqlDialect {
            mapped: mapped(&my, ["int", "varchar", "varbinary"]),
            integer: vec![vec![true, false, false]],
            boolean: vec![vec![false; 3]],
            mariadb: true,
        };
        check("mysql", &render(&mysql));
        let oracle_mysql = MySqlDialect {
            mariadb: false,
            ..mysql
        };
        assert_eq!(
            oracle_mysql.delete_returning(&my.tables[0].name),
            None,
            "MySQL's DELETE returns nothing: read, then delete"
        );
        let sqlite = SqliteDialect {
            mapped: mapped(&lite, ["INTEGER", "TEXT", "BLOB"]),
            affinities: vec![vec![Affinity::Integer, Affinity::Text, Affinity::Blob]],
        };
        check("sqlite", &render(&sqlite));
    }

    fn check(kind: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/snapshots/sql")
            .join(format!("{kind}.sql"));
        if std::env::var_os("DSAR_UPDATE_SNAPSHOTS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, actual).unwrap();
            return;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            expected == actual,
            "{} changed; if intended, run DSAR_UPDATE_SNAPSHOTS=1 cargo test and review the diff\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{DbError, DbErrorKind, MESSAGE_CHARS};

    #[test]
    fn a_database_message_is_cut_to_a_readable_length_and_says_how_long_it_was() {
        let short = DbError::new(DbErrorKind::Other, "no such table: t".into());
        assert_eq!(short.message, "no such table: t");
        // SQLite quotes the statement it could not prepare: a batch's is hundreds of kB.
        let statement = format!("too many SQL variables in SELECT {}", "?, ".repeat(100_000));
        let long = DbError::new(DbErrorKind::Other, statement.clone());
        assert!(long.message.starts_with("too many SQL variables in SELECT ?, "));
        assert!(long.message.chars().count() < MESSAGE_CHARS + 40, "{}", long.message);
        assert!(
            long.message
                .ends_with(&format!("… ({} characters in all)", statement.chars().count())),
            "{}",
            long.message
        );
        // Cut on a character, not a byte.
        let wide = DbError::new(DbErrorKind::Other, "é".repeat(MESSAGE_CHARS + 1));
        assert!(wide.message.starts_with(&"é".repeat(MESSAGE_CHARS)));
    }
}
