//! PostgreSQL as the erasure engine's [`Backend`]: values travel as text and are cast back to
//! each column's type; a batch of keys or rows is bound as one text array per column
//! (`unnest`), so a batch is one statement whatever its size; deletes return what they remove.

use futures_util::future::BoxFuture;
use futures_util::{FutureExt, SinkExt, TryStreamExt};
use tokio_postgres::types::{FromSql, ToSql, Type};

use super::{PgDialect, PgSource};
use crate::error::UserError;
use crate::source::backend::{
    Backend, DbError, Dialect, List, Mapped, MatchOwners, QuarantineBatch, RowUpdates, Statement, Value,
};
use crate::source::cell::Cell;
use crate::source::kind_sql::{self, KindSql};
use crate::source::quote::{ident, qualified, table as table_ident};

pub(crate) const STORE_DDL: &[&str] = &[
    "CREATE SCHEMA IF NOT EXISTS dsar",
    "CREATE TABLE IF NOT EXISTS dsar.requests (
        request_id    text PRIMARY KEY,
        source        text NOT NULL,
        created_at    timestamptz NOT NULL DEFAULT now(),
        restore_until timestamptz NOT NULL,
        wrapped_key   bytea,
        purged_at     timestamptz
    )",
    "CREATE TABLE IF NOT EXISTS dsar.quarantine (
        id            bigserial PRIMARY KEY,
        request_id    text NOT NULL,
        source        text NOT NULL,
        table_schema  text NOT NULL,
        table_name    text NOT NULL,
        strategy      text NOT NULL,
        key_hash      bytea NOT NULL,
        sealed        bytea NOT NULL,
        flag_key      jsonb,
        sealed_rows   bigint,
        deleted_at    timestamptz NOT NULL DEFAULT now(),
        restore_until timestamptz NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS quarantine_by_request ON dsar.quarantine (request_id, table_schema, table_name, id)",
    // Rows changed in place (anonymize, flag) still match their subject: a completion check
    // finds them again by key hash. Quarantined rows left their table; they need no entry here.
    "CREATE INDEX IF NOT EXISTS quarantine_changed_by_key ON dsar.quarantine (request_id, table_schema, table_name, key_hash) \
     WHERE strategy <> 'quarantine'",
    "CREATE TABLE IF NOT EXISTS dsar.plan (
        request_id    text NOT NULL,
        table_schema  text NOT NULL,
        table_name    text NOT NULL,
        position      bigint NOT NULL,
        strategy      text NOT NULL,
        key_hash      bytea NOT NULL,
        sealed_key    bytea NOT NULL,
        done          boolean NOT NULL DEFAULT false,
        PRIMARY KEY (request_id, table_schema, table_name, position)
    )",
    // Plans are found by position now; this index of earlier releases only costs.
    "DROP INDEX IF EXISTS dsar.plan_by_key",
];

/// Stores of earlier releases: a foreign key to `dsar.requests` on every quarantine and plan
/// row (a trigger per row written, which cost more than the write), and plans without `done`.
/// Each check counts 0 when its statement is still to run.
pub(crate) const STORE_MIGRATIONS: &[(&str, &str)] = &[
    (
        "SELECT 1 - count(*) FROM pg_constraint WHERE conname = 'quarantine_request_id_fkey' \
         AND conrelid = 'dsar.quarantine'::regclass",
        "ALTER TABLE dsar.quarantine DROP CONSTRAINT quarantine_request_id_fkey",
    ),
    (
        "SELECT 1 - count(*) FROM pg_constraint WHERE conname = 'plan_request_id_fkey' \
         AND conrelid = 'dsar.plan'::regclass",
        "ALTER TABLE dsar.plan DROP CONSTRAINT plan_request_id_fkey",
    ),
    (
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'dsar' AND table_name = 'plan' \
         AND column_name = 'done'",
        "ALTER TABLE dsar.plan ADD COLUMN done boolean NOT NULL DEFAULT false",
    ),
    // The full key-hash index goes once no plan of an earlier release is left to finish (resume
    // looks their rows up by hash).
    (
        "SELECT (SELECT count(*) FROM dsar.plan WHERE key_hash <> ''::bytea AND NOT done) \
         + (SELECT 1 - count(*) FROM pg_class WHERE relname = 'quarantine_by_key' \
            AND relnamespace = 'dsar'::regnamespace)",
        "DROP INDEX dsar.quarantine_by_key",
    ),
    // A quarantined batch is sealed as one entry (a bundle) that says how many rows it holds;
    // entries of earlier releases hold one row each (NULL).
    (
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'dsar' AND table_name = 'quarantine' \
         AND column_name = 'sealed_rows'",
        "ALTER TABLE dsar.quarantine ADD COLUMN sealed_rows bigint",
    ),
];

impl PgDialect<'_> {
    /// The column's type without modifiers, for casting text back (`text` if unknown).
    pub(super) fn cast(&self, table: usize, column: &str) -> String {
        self.shapes()[table]
            .column(column)
            .map_or_else(|| "text".to_string(), |c| cast_type(&c.base_type))
    }

    /// Bind one text array per column of `rows` (`$n::text[]`), in column order.
    fn text_arrays(st: &mut Statement, rows: &[&[Cell]], width: usize) -> Vec<String> {
        (0..width)
            .map(|i| {
                let column: Vec<Option<String>> = rows.iter().map(|r| r[i].key_text()).collect();
                format!("{}::text[]", st.placeholder(Value::TextArray(column)))
            })
            .collect()
    }
}

/// The type a value is cast to for a column of `base_type` (the catalog's name of it, without
/// its length): the same, except where that name alone means a length of one. `character` is
/// `char(1)` and `bit` is `bit(1)`, so `'ABC1234'::character` is `'A'` (a subject's value cut to
/// its first letter, a restored `char(8)` written back as one): their unbounded forms are
/// `bpchar` and `varbit`, which the column's own type then pads or checks on assignment. An
/// array of them is named `character[]` (`char(4)[]` too): `'{abc,de}'::character[]` is
/// `{a,d}`, so its elements take the unbounded form as well.
fn cast_type(base_type: &str) -> String {
    let (element, dims) = match base_type.find("[]") {
        Some(at) => base_type.split_at(at),
        None => (base_type, ""),
    };
    let element = match element {
        "character" => "bpchar",
        "bit" => "varbit",
        other => other,
    };
    format!("{element}{dims}")
}

/// A bound value as tokio-postgres takes it, moved: a batch's arrays (a restore binds every
/// value of a thousand rows) are not copied again on their way to the wire.
pub(super) fn to_sql(value: Value) -> Box<dyn ToSql + Sync + Send> {
    match value {
        Value::Null => Box::new(None::<String>),
        Value::Int(i) => Box::new(i),
        Value::Float(f) => Box::new(f),
        Value::Bool(b) => Box::new(b),
        Value::Text(t) => Box::new(t),
        Value::Bytes(b) => Box::new(b),
        Value::TextArray(a) => Box::new(a),
        Value::BytesArray(a) => Box::new(a),
        Value::IntArray(a) => Box::new(a),
    }
}

/// A result value: the engine reads text (`::text`), integers, booleans and bytea.
fn from_row(row: &tokio_postgres::Row, i: usize) -> Value {
    let ty = row.columns()[i].type_();
    let value = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i).map(|v| v.map(Value::Int))
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)
            .map(|v| v.map(|n| Value::Int(n.into())))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)
            .map(|v| v.map(|n| Value::Int(n.into())))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i).map(|v| v.map(Value::Bool))
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i).map(|v| v.map(Value::Bytes))
    } else if *ty == Type::INT4_ARRAY {
        row.try_get::<_, Option<Vec<i32>>>(i)
            .map(|v| v.map(|a| Value::IntArray(a.into_iter().map(i64::from).collect())))
    } else if *ty == Type::FLOAT8 {
        row.try_get::<_, Option<f64>>(i).map(|v| v.map(Value::Float))
    } else {
        row.try_get::<_, Option<String>>(i).map(|v| v.map(Value::Text))
    };
    value.ok().flatten().unwrap_or(Value::Null)
}

impl Dialect for PgDialect<'_> {
    fn kind_sql(&self) -> &'static KindSql {
        &kind_sql::POSTGRES
    }

    fn push_match(&self, st: &mut Statement, table: usize, alias: &str, column: &str, values: &[String]) {
        if self.ignores_case(table, column) {
            // The form an index on lower(column) serves: the array is computed once.
            st.push(&format!(
                "lower({alias}.{}::text) = ANY(ARRAY(SELECT lower(v) FROM unnest(",
                ident(column)
            ))
            .bind(Value::TextArray(values.iter().cloned().map(Some).collect()))
            .push("::text[]) v))");
            return;
        }
        st.push(&format!("{alias}.{} = ANY(", ident(column)))
            .bind(Value::TextArray(values.iter().cloned().map(Some).collect()))
            .push(&format!("::text[]::{}[])", self.cast(table, column)));
    }

    /// Where a row's value is among the batch's, found in C by `array_positions`: no subquery
    /// per row (which cost ~15 us a row, a function scan and an aggregate set up each time).
    /// The values of a key are bound as layers, one slot per subject: the k-th value of each
    /// subject (NULL for none) in layer k, subject `s` at position `s` (subject 0 last, at
    /// `count`), so a position modulo the batch's size is the subject ([`owners`] reads it so).
    /// A NULL column finds nothing (`array_positions` would find the empty slots).
    ///
    /// [`owners`]: crate::source::select::owners
    fn push_match_owners(&self, st: &mut Statement, m: &MatchOwners<'_>) {
        let (table, alias, ids) = (m.table, m.alias, m.ids);
        let count = ids.count.max(1);
        let mut parts = 0;
        st.push("(");
        for (key, column) in m.pairs {
            let mut layers: Vec<Vec<Option<String>>> = Vec::new();
            let mut taken = vec![0usize; count];
            for (value, subject) in ids.values(key).into_iter().zip(ids.subjects(key)) {
                let subject = subject as usize % count;
                let k = taken[subject];
                taken[subject] += 1;
                if layers.len() <= k {
                    layers.push(vec![None; count]);
                }
                layers[k][(subject + count - 1) % count] = Some(value);
            }
            let target = format!("{alias}.{}", ident(column));
            for layer in layers {
                if parts > 0 {
                    st.push(" || ");
                }
                parts += 1;
                st.push(&format!("CASE WHEN {target} IS NOT NULL THEN array_positions("));
                if self.ignores_case(table, column) {
                    // In the bound order, which the positions count in.
                    st.push("ARRAY(SELECT lower(x) FROM unnest(")
                        .bind(Value::TextArray(layer))
                        .push(&format!(
                            "::text[]) WITH ORDINALITY AS u(x, n) ORDER BY n), lower({target}::text)) END"
                        ));
                } else {
                    // The cast in a subquery of its own: run once, not for every row (a layer
                    // of 100 user ids cast to bigint[] per row was a third of the statement).
                    st.push("(SELECT ")
                        .bind(Value::TextArray(layer))
                        .push(&format!("::text[]::{}[]), {target}) END", self.cast(table, column)));
                }
            }
        }
        if parts == 0 {
            st.push(self.kind_sql().no_owners);
        }
        st.push(")");
    }

    fn text_sql(&self, expr: &str) -> String {
        format!("{expr}::text")
    }

    /// One JSON value per column, made by the server.
    fn export_columns(&self, table: usize, exported: &[usize]) -> Vec<String> {
        exported
            .iter()
            .map(|&i| super::export_value::wire(&self.shapes()[table].columns[i], "t0").1)
            .collect()
    }

    fn create_pending(&self, table: usize, key: &[String]) -> Vec<String> {
        vec![
            format!("DROP TABLE IF EXISTS {}", self.pending_table(table)),
            format!(
                "CREATE TEMP TABLE {} AS SELECT {} FROM {} t0 WITH NO DATA",
                ident(&format!("dsar_pending_{table}")),
                qualified("t0", key),
                table_ident(&self.source().tables[table].name)
            ),
        ]
    }

    fn index_pending(&self, table: usize, key: &[String]) -> Vec<String> {
        let pending = self.pending_table(table);
        let columns: Vec<String> = key.iter().map(|c| ident(c)).collect();
        // The map's `key` is not unique by constraint (see the MySQL backend).
        let index = if self.shapes()[table].key_from_map {
            format!("CREATE INDEX ON {pending} ({})", columns.join(", "))
        } else {
            format!("ALTER TABLE {pending} ADD PRIMARY KEY ({})", columns.join(", "))
        };
        vec![index, format!("ANALYZE {pending}")]
    }

    fn mapped(&self) -> &Mapped<'_> {
        &self.mapped
    }

    fn push_quarantine_rows(&self, st: &mut Statement, batch: &QuarantineBatch<'_>) {
        st.push("SELECT ");
        batch.bind_shared(st, &self.source().name, "::text");
        st.push(", u.h, u.s, u.f::jsonb, NULLIF(u.n, 0), now(), r.restore_until FROM unnest(");
        let arrays = batch
            .entry_columns()
            .into_iter()
            .zip(["::bytea[]", "::bytea[]", "::text[]", "::bigint[]"]);
        st.join(&arrays.collect::<Vec<_>>(), ", ", |st, (array, cast)| {
            st.bind(array.clone()).push(cast);
        });
        st.push(") AS u(h, s, f, n), dsar.requests r WHERE r.request_id = ")
            .bind(batch.request_id)
            .push("::text");
    }

    fn read_cell(&self, _table: usize, alias: &str, column: &str) -> String {
        format!("{alias}.{}::text", ident(column))
    }

    fn push_same_value(&self, st: &mut Statement, table: usize, alias: &str, column: &str, literal: &str) {
        // Types without `=` (json, xml, the geometric ones) compare by their text form.
        let no_equality = matches!(
            self.cast(table, column).as_str(),
            "json" | "xml" | "point" | "line" | "lseg" | "box" | "path" | "polygon" | "circle"
        );
        let c = format!("{alias}.{}", ident(column));
        st.push(&if no_equality {
            format!("({c}::text IS NOT DISTINCT FROM (")
        } else {
            format!("({c} IS NOT DISTINCT FROM ")
        });
        self.bind_cell(st, table, column, &Cell::from_text(Some(literal.to_string())));
        st.push(if no_equality { ")::text)" } else { ")" });
    }

    fn bind_cell(&self, st: &mut Statement, table: usize, column: &str, cell: &Cell) {
        st.bind(cell.key_text().map_or(Value::Null, Value::Text))
            .push(&format!("::text::{}", self.cast(table, column)));
    }

    fn key_set(&self, st: &mut Statement, table: usize, alias: &str, key: &[String], keys: &[Vec<Cell>]) {
        let rows: Vec<&[Cell]> = keys.iter().map(Vec::as_slice).collect();
        let arrays: Vec<String> = Self::text_arrays(st, &rows, key.len())
            .into_iter()
            .zip(key)
            .map(|(array, c)| format!("{array}::{}[]", self.cast(table, c)))
            .collect();
        // One column: `= ANY`, one index scan over the sorted keys; the semi-join over
        // `unnest` costs half as much again per key (measured on a 1,000-key DELETE batch).
        if let [column] = key {
            st.push(&format!("{alias}.{} = ANY({})", ident(column), arrays[0]));
            return;
        }
        st.push(&format!(
            "({}) IN (SELECT * FROM unnest({}))",
            qualified(alias, key),
            arrays.join(", ")
        ));
    }

    fn in_list(&self, st: &mut Statement, expr: &str, list: List) {
        st.push(expr).push(" = ANY(");
        match list {
            List::Ints(ids) => st.bind(Value::IntArray(ids)),
            List::Bytes(hashes) => st.bind(Value::BytesArray(hashes)),
        };
        st.push(")");
    }

    fn insert_rows(&self, st: &mut Statement, table: usize, columns: &[String], rows: &[&[Cell]]) {
        let arrays = Self::text_arrays(st, rows, columns.len());
        let aliases: Vec<String> = (0..columns.len()).map(|i| format!("c{i}")).collect();
        let casts: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("u.c{i}::{}", self.cast(table, c)))
            .collect();
        st.push(&format!(
            "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE SELECT {} FROM unnest({}) AS u({})",
            table_ident(&self.source().tables[table].name),
            columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "),
            casts.join(", "),
            arrays.join(", "),
            aliases.join(", ")
        ));
    }

    fn update_rows(&self, st: &mut Statement, u: &RowUpdates<'_>) {
        let (table, key, columns, rows) = (u.table, u.key, u.columns, u.rows);
        let keys: Vec<&[Cell]> = rows.iter().map(|(k, _)| k.as_slice()).collect();
        let values: Vec<&[Cell]> = rows.iter().map(|(_, v)| v.as_slice()).collect();
        let mut arrays = Self::text_arrays(st, &keys, key.len());
        arrays.extend(Self::text_arrays(st, &values, columns.len()));
        let mut aliases: Vec<String> = (0..key.len()).map(|i| format!("k{i}")).collect();
        aliases.extend((0..columns.len()).map(|i| format!("n{i}")));
        let sets: Vec<String> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{} = u.n{i}::{}", ident(c), self.cast(table, c)))
            .collect();
        let matches: Vec<String> = key
            .iter()
            .enumerate()
            .map(|(i, c)| format!("t0.{} = u.k{i}::{}", ident(c), self.cast(table, c)))
            .collect();
        st.push(&format!(
            "UPDATE {} AS t0 SET {} FROM unnest({}) AS u({}) WHERE {}",
            table_ident(&self.source().tables[table].name),
            sets.join(", "),
            arrays.join(", "),
            aliases.join(", "),
            matches.join(" AND ")
        ));
    }

    fn is_boolean(&self, table: usize, column: &str) -> bool {
        self.cast(table, column) == "boolean"
    }
}

/// The data a bulk load sends per message, about.
const COPY_PIECE: usize = 1 << 20;

/// Append one row to `out` in `COPY`'s text format: values separated by tabs, the row ended by
/// a newline, NULL as `\N`, and in a value a backslash, newline, carriage return or tab written
/// as its backslash escape (every other byte is itself). Each value is the text its column's
/// input reads, as the `INSERT` path's cast from text does.
fn copy_text_row(out: &mut Vec<u8>, row: &[Cell]) {
    for (i, cell) in row.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match cell {
            Cell::Null => out.extend_from_slice(b"\\N"),
            Cell::Integer(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            Cell::Text(t) | Cell::Blob(t) => copy_escaped(out, t),
            Cell::Real(_) => copy_escaped(out, &cell.key_text().unwrap_or_default()),
        }
    }
    out.push(b'\n');
}

fn copy_escaped(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// One of the transaction statements the engine sends as they are (never a text with a `;`,
/// which a simple query would run as several statements).
fn is_transaction_control(sql: &str) -> bool {
    ["BEGIN", "COMMIT", "ROLLBACK"]
        .iter()
        .any(|s| sql.eq_ignore_ascii_case(s))
}

impl PgSource<'_> {
    /// Send a query; its rows as they arrive.
    async fn rows(&self, st: Statement) -> Result<tokio_postgres::RowStream, DbError> {
        let (sql, binds) = st.into_parts();
        let params: Vec<Box<dyn ToSql + Sync + Send>> = binds.into_iter().map(to_sql).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect();
        match self.kept(&sql).await.map_err(DbError::from)? {
            Some(statement) => self.client.query_raw(&statement, refs.iter().copied()).await,
            None => self.client.query_raw(sql.as_str(), refs.iter().copied()).await,
        }
        .map_err(DbError::from)
    }
}

impl Backend for PgSource<'_> {
    fn execute(&self, st: Statement) -> BoxFuture<'_, Result<u64, DbError>> {
        async move {
            let (sql, binds) = st.into_parts();
            // BEGIN, COMMIT and ROLLBACK as simple queries: one round trip each, where the
            // extended protocol first parses the text as an unnamed statement and waits for
            // it (two; they were four of an erase batch's eight round trips).
            if binds.is_empty() && is_transaction_control(&sql) {
                return self.client.batch_execute(&sql).await.map(|()| 0).map_err(DbError::from);
            }
            let params: Vec<Box<dyn ToSql + Sync + Send>> = binds.into_iter().map(to_sql).collect();
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect();
            match self.kept(&sql).await.map_err(DbError::from)? {
                Some(statement) => self.client.execute(&statement, &refs).await,
                None => self.client.execute(sql.as_str(), &refs).await,
            }
            .map_err(DbError::from)
        }
        .boxed()
    }

    fn query(&self, st: Statement) -> BoxFuture<'_, Result<Vec<Vec<Value>>, DbError>> {
        async move {
            let rows = self.rows(st).await?;
            // Each row is turned into values as it arrives and let go: a received row shares
            // the connection's read buffer, which grows to the largest message, so rows held
            // until the last arrived kept a buffer each (a batch of 80 rows of 50 KB held 85
            // MiB; its values are 4 MiB).
            futures_util::pin_mut!(rows);
            let mut values = Vec::new();
            while let Some(row) = rows.try_next().await.map_err(DbError::from)? {
                values.push((0..row.len()).map(|i| from_row(&row, i)).collect());
            }
            Ok(values)
        }
        .boxed()
    }

    /// Each value of a row read as text is lent from the received row (checked UTF-8):
    /// nothing is copied or allocated per value.
    fn text_rows<'a>(
        &'a self,
        st: Statement,
        each: &'a mut (dyn FnMut(&[Option<&str>]) + Send),
    ) -> BoxFuture<'a, Result<u64, DbError>> {
        async move {
            let rows = self.rows(st).await?;
            futures_util::pin_mut!(rows);
            let mut count = 0;
            // The columns are the same for every row: whether all are text is asked once.
            let mut all_text = None;
            while let Some(row) = rows.try_next().await.map_err(DbError::from)? {
                let text = *all_text
                    .get_or_insert_with(|| row.columns().iter().all(|c| <&str as FromSql>::accepts(c.type_())));
                if text {
                    let texts = (0..row.len())
                        .map(|i| row.try_get::<_, Option<&str>>(i))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(DbError::from)?;
                    each(&texts);
                } else {
                    // A column not read as text: its value's text form, as `query` reads it.
                    let owned: Vec<Option<String>> = (0..row.len())
                        .map(|i| Cell::from_value(from_row(&row, i)).into_key_text())
                        .collect();
                    each(&owned.iter().map(Option::as_deref).collect::<Vec<_>>());
                }
                count += 1;
            }
            Ok(count)
        }
        .boxed()
    }

    /// `COPY … FROM STDIN` in the text format, sent in pieces of about [`COPY_PIECE`] bytes.
    fn bulk_load<'a>(
        &'a self,
        table: usize,
        columns: &'a [String],
        rows: &'a [&'a [Cell]],
    ) -> Option<BoxFuture<'a, Result<u64, DbError>>> {
        if !self.shapes()[table].bulk_load {
            return None;
        }
        Some(
            async move {
                let sql = format!(
                    "COPY {} ({}) FROM STDIN",
                    table_ident(&self.source().tables[table].name),
                    columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
                );
                let sink = self.client.copy_in::<_, std::io::Cursor<Vec<u8>>>(sql.as_str()).await?;
                futures_util::pin_mut!(sink);
                let mut piece = Vec::new();
                for row in rows {
                    copy_text_row(&mut piece, row);
                    if piece.len() >= COPY_PIECE {
                        sink.send(std::io::Cursor::new(std::mem::take(&mut piece))).await?;
                    }
                }
                if !piece.is_empty() {
                    sink.send(std::io::Cursor::new(piece)).await?;
                }
                Ok(sink.finish().await?)
            }
            .boxed(),
        )
    }

    fn lock_for_erasure(&self) -> BoxFuture<'_, Result<(), UserError>> {
        PgSource::lock_for_erasure(self).boxed()
    }

    fn dialect(&self) -> &dyn Dialect {
        &self.dialect
    }
}

#[cfg(test)]
mod tests {
    use super::{copy_text_row, is_transaction_control};
    use crate::source::cell::Cell;

    /// `COPY`'s text format: tab between values, newline after the row, `\N` for NULL, and a
    /// value's backslash, newline, carriage return and tab escaped; nothing else changed (a
    /// literal `\N` or `\.` in a value is its backslash escaped, so never NULL or the end).
    #[test]
    fn a_row_is_written_in_copy_text_format() {
        let mut out = Vec::new();
        copy_text_row(
            &mut out,
            &[
                Cell::Text("7".into()),
                Cell::Null,
                Cell::Text("a\tb\nc\r\n d\\e \\N \\. é日".into()),
                Cell::Text(String::new()),
                Cell::Integer(-3),
            ],
        );
        copy_text_row(&mut out, &[Cell::Text("\\".into())]);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "7\t\\N\ta\\tb\\nc\\r\\n d\\\\e \\\\N \\\\. é日\t\t-3\n\\\\\n"
        );
    }

    /// A type whose bare name means a length of one is cast to its unbounded form, alone or
    /// as an array's element; every other name is kept.
    #[test]
    fn a_cast_never_cuts_a_value_to_one_character_or_bit() {
        for (catalog, cast) in [
            ("character", "bpchar"),
            ("character[]", "bpchar[]"),
            ("bit", "varbit"),
            ("bit[]", "varbit[]"),
            ("character varying", "character varying"),
            ("character varying[]", "character varying[]"),
            ("bit varying", "bit varying"),
            ("integer[]", "integer[]"),
            ("\"Weird\"[]", "\"Weird\"[]"),
        ] {
            assert_eq!(super::cast_type(catalog), cast, "{catalog}");
        }
    }

    #[test]
    fn only_the_bare_transaction_statements_go_as_simple_queries() {
        for sql in ["BEGIN", "COMMIT", "ROLLBACK", "commit"] {
            assert!(is_transaction_control(sql), "{sql}");
        }
        // A simple query runs every statement of its text: nothing else may take that path.
        for sql in [
            "BEGIN; DELETE FROM t",
            "COMMIT;",
            "BEGIN ISOLATION LEVEL SERIALIZABLE",
            "SELECT 1",
            "",
        ] {
            assert!(!is_transaction_control(sql), "{sql}");
        }
    }
}
