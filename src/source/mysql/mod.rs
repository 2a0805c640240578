//! A MySQL/MariaDB source: one session (ANSI quotes, UTC, bounded waits), its mapped tables
//! checked against `information_schema`, and the queries that find a subject's rows.
//!
//! Values cross in text form: exports read every row as one `JSON_ARRAY(…)` (numbers stay exact,
//! binary columns come as base64), and quarantine keeps `CAST(… AS CHAR)`, or `HEX(…)` for
//! binary columns, which MySQL converts back to exactly the same values on restore.

pub(crate) mod backend;
pub mod discover;
mod key;
mod lock;

use futures_util::{FutureExt, Stream, StreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, Row, Value as SqlValue};
use serde_json::Value;
use tokio::sync::Mutex;

use crate::config::{Source, TableName};
use crate::error::{DbErrorKind, UserError, suggestion};
use crate::identity::Identities;
use crate::source::ExportRow;
use crate::source::backend::Mapped;
use crate::source::backend::{Dialect, Value as DbValue};
use crate::source::field::Field;
use crate::source::foreign_key::{ForeignKey, OnParentDelete};
use crate::source::quote::qualified;
use crate::source::select::{check_subject_values, export_query, owners};
use crate::source::shape::{Column, ColumnKind, TableShape};
use crate::source::tls::mysql as tls;

/// Rows of an export read ahead of the archive writer: bounds memory however many rows a
/// subject owns.
const EXPORT_CHANNEL_ROWS: usize = 1024;

/// A connected MySQL/MariaDB source whose map has been checked against its catalog.
pub struct MySqlSource<'a> {
    dialect: MySqlDialect<'a>,
    conn: Mutex<Conn>,
    /// The erasure lock is held by this session.
    locked: std::sync::atomic::AtomicBool,
    /// How the session is secured (TLS or plaintext), for `dsar check`.
    pub security: crate::source::tls::Security,
}

/// What MySQL's SQL is built from: the map entry and what the catalog says of its tables.
pub struct MySqlDialect<'a> {
    pub mapped: Mapped<'a>,
    /// Per mapped table and column: whether it holds integers (subject values must be numbers).
    pub(in crate::source) integer: Vec<Vec<bool>>,
    /// Per mapped table and column: `tinyint(1)`, MySQL's boolean.
    pub(in crate::source) boolean: Vec<Vec<bool>>,
    /// The server is MariaDB, whose single-table `DELETE` takes `RETURNING` (MySQL's does not).
    pub(in crate::source) mariadb: bool,
}

/// The source reads as its dialect: its map entry, shapes and SQL builders.
impl<'a> std::ops::Deref for MySqlSource<'a> {
    type Target = MySqlDialect<'a>;
    fn deref(&self) -> &MySqlDialect<'a> {
        &self.dialect
    }
}

/// A connection, or `Err(Elapsed)` when the server did not answer within 10 s.
async fn connect_within_10s(
    opts: mysql_async::OptsBuilder,
) -> Result<Result<Conn, mysql_async::Error>, tokio::time::error::Elapsed> {
    tokio::time::timeout(std::time::Duration::from_secs(10), Conn::new(opts)).await
}

/// How the session is secured: plaintext when dsar connected without TLS (known here, not
/// taken from the server, which behind a proxy describes the proxy's link); otherwise TLS, with
/// the version the server reports (`Ssl_version`), unless the server says the session has none
/// (mysql_async moved to the server's Unix socket, which is local).
async fn security(
    conn: &mut Conn,
    client_tls: bool,
    tls: &tls::Tls,
    host: &str,
    local: bool,
) -> crate::source::tls::Security {
    if !client_tls {
        return crate::source::tls::Security::plaintext(local);
    }
    let reported = conn
        .query_first::<(String, String), _>("SHOW SESSION STATUS LIKE 'Ssl_version'")
        .await
        .ok()
        .flatten()
        .map(|(_, v)| v);
    match reported {
        Some(v) if v.is_empty() => crate::source::tls::Security::plaintext(true),
        version => crate::source::tls::Security::tls(version, tls.settings.check, host, local),
    }
}

fn is_integer(data_type: &str) -> bool {
    matches!(
        data_type,
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year"
    )
}

fn is_binary(data_type: &str) -> bool {
    matches!(
        data_type,
        "binary" | "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" | "bit"
    )
}

impl<'a> MySqlSource<'a> {
    /// Connect and check every table and column the map names. A server out of reach is
    /// `Ok(Err(…))`, so an export can go on with the other sources.
    pub async fn try_open(config: &'a Source) -> Result<Result<MySqlSource<'a>, UserError>, UserError> {
        let url = config.url.resolve(&config.name)?;
        let invalid = |why: String| {
            UserError::usage(format!(
                "source `{}`: {} does not hold a valid MySQL connection string{why}",
                config.name,
                config.url.describe()
            ))
            .with_hint("use mysql://USER@HOST:PORT/DATABASE?ssl-mode=VERIFY_IDENTITY&ssl-ca=FILE")
        };
        let (rest, tls) = tls::split(&url).map_err(|why| invalid(format!(": {why}")))?;
        let mut opts = Opts::from_url(&rest).map_err(|_| invalid(String::new()))?;
        match crate::source::password::from_command(config).await {
            Ok(Some(password)) => opts = mysql_async::OptsBuilder::from_opts(opts).pass(Some(password)).into(),
            Ok(None) => {}
            Err(e) => return Ok(Err(e)),
        }
        crate::source::tls::check_files(&tls.settings, &config.name, &tls::NAMES)?;
        let host = opts.ip_or_hostname().to_string();
        let place = format!("{}:{}/{}", host, opts.tcp_port(), opts.db_name().unwrap_or_default());
        let local = opts.socket().is_some() || crate::source::tls::is_local(&host);
        let secured =
            |name: Option<String>| mysql_async::OptsBuilder::from_opts(opts.clone()).ssl_opts(tls.ssl_opts(name));
        let mut client_tls = tls.mode != tls::SslMode::Disabled;
        let mut attempt = connect_within_10s(secured(None)).await;
        if tls.settings.check == crate::source::tls::Check::Chain
            && let Ok(Err(e)) = &attempt
            && let Some(name) = crate::source::tls::name_in_certificate(e)
        {
            // VERIFY_CA: the chain, checked in full under a name the certificate lists.
            attempt = connect_within_10s(secured(Some(name))).await;
        }
        if tls.mode == tls::SslMode::Preferred
            && matches!(
                &attempt,
                Ok(Err(mysql_async::Error::Driver(
                    mysql_async::DriverError::NoClientSslFlagFromServer
                )))
            )
        {
            // PREFERRED: plaintext when the server offers no TLS.
            client_tls = false;
            attempt = connect_within_10s(mysql_async::OptsBuilder::from_opts(opts).ssl_opts(None)).await;
        }
        let mut conn = match attempt {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                let (cause, hint) = crate::source::tls::explain(&e, &host, &tls::NAMES)
                    .or_else(|| {
                        matches!(
                            &e,
                            mysql_async::Error::Driver(mysql_async::DriverError::NoClientSslFlagFromServer)
                        )
                        .then(|| {
                            (
                                "ssl-mode asks for TLS, and the server does not offer it".to_string(),
                                "turn on TLS on the server (ssl_cert, ssl_key), or (on a trusted network only) set ssl-mode=PREFERRED".to_string(),
                            )
                        })
                    })
                    .unwrap_or_else(|| {
                        (
                            format!("cannot connect ({}): {}", config.url.describe(), error_text(&e)),
                            "check that the server is up and the URL's user may connect".to_string(),
                        )
                    });
                return Ok(Err(UserError::usage(format!(
                    "source `{}` ({place}): {cause}",
                    config.name
                ))
                .with_hint(hint)));
            }
            Err(_) => {
                return Ok(Err(UserError::usage(format!(
                    "source `{}`: {place} did not answer within 10 s ({})",
                    config.name,
                    config.url.describe()
                ))));
            }
        };
        let setup = format!(
            "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES'), SESSION time_zone = '+00:00', \
             SESSION group_concat_max_len = 16777216, SESSION max_statement_time = {}, \
             SESSION innodb_lock_wait_timeout = {}, SESSION lock_wait_timeout = {}",
            config.statement_timeout.as_secs_f64(),
            config.lock_timeout.as_secs().max(1),
            config.lock_timeout.as_secs().max(1)
        );
        conn.query_drop(setup).await.map_err(|e| {
            UserError::runtime(format!(
                "source `{}`: cannot set up the session: {}",
                config.name,
                error_text(&e)
            ))
        })?;
        // A version that cannot be read, or that hides the name, leaves the path every server
        // takes (read, then delete).
        let mariadb = conn
            .query_first::<String, _>("SELECT VERSION()")
            .await
            .ok()
            .flatten()
            .is_some_and(|version| version.contains("MariaDB"));
        let security = security(&mut conn, client_tls, &tls, &host, local).await;
        if let Some(warning) = security.warning(&config.name, &place) {
            crate::source::tls::warn_once(&config.name, &warning);
        }
        let (shapes, integer, boolean) = load_catalog(&mut conn, config).await?;
        Ok(Ok(MySqlSource {
            dialect: MySqlDialect {
                mapped: Mapped { config, shapes },
                integer,
                boolean,
                mariadb,
            },
            conn: Mutex::new(conn),
            locked: std::sync::atomic::AtomicBool::new(false),
            security,
        }))
    }

    fn failure(&self, what: &str, e: &mysql_async::Error) -> UserError {
        UserError::runtime(format!("source `{}`: {what}: {}", self.source().name, error_text(e))).with_db(classify(e))
    }

    fn query_failure(&self, table: usize, e: &mysql_async::Error) -> UserError {
        let name = &self.source().tables[table].name;
        UserError::runtime(format!(
            "source `{}`, table `{name}`: {}",
            self.source().name,
            error_text(e)
        ))
        .with_db(classify(e))
    }

    /// Run a statement with bound values and return its rows.
    async fn rows(&self, sql: &str, params: Vec<SqlValue>) -> Result<Vec<Row>, mysql_async::Error> {
        let mut conn = self.conn.lock().await;
        if params.is_empty() {
            conn.query(sql).await
        } else {
            conn.exec(sql, params).await
        }
    }

    /// Run a statement with bound values; returns the rows it changed.
    async fn run(&self, sql: &str, params: Vec<SqlValue>) -> Result<u64, mysql_async::Error> {
        let mut conn = self.conn.lock().await;
        if params.is_empty() {
            conn.query_drop(sql).await?;
        } else {
            conn.exec_drop(sql, params).await?;
        }
        Ok(conn.affected_rows())
    }

    /// A consistent read snapshot: every table of an export sees the same moment.
    ///
    /// The snapshot is taken while this session holds the erasure lock, so it never sees a
    /// delete, restore or purge half-way (see the PostgreSQL source).
    pub async fn begin_snapshot(&self) -> Result<(), UserError> {
        self.wait_for_erasures().await?;
        let started = self
            .run("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", Vec::new())
            .await
            .map(|_| ())
            .map_err(|e| self.failure("cannot start a snapshot", &e));
        let _ = self
            .run("SELECT RELEASE_LOCK(CONCAT('dsar-erasure:', DATABASE()))", Vec::new())
            .await;
        started
    }

    pub async fn end_snapshot(&self) -> Result<(), UserError> {
        self.run("COMMIT", Vec::new())
            .await
            .map(|_| ())
            .map_err(|e| self.failure("cannot end the snapshot", &e))
    }

    /// Whether some index of `table` starts with `column`.
    pub async fn has_leading_index(&self, table: usize, column: &str) -> Result<bool, UserError> {
        let name = &self.source().tables[table].name;
        let rows = self
            .rows(
                "SELECT COUNT(*) FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ? \
                   AND SEQ_IN_INDEX = 1 AND COLUMN_NAME = ?",
                vec![name.schema.as_str().into(), name.name.as_str().into(), column.into()],
            )
            .await
            .map_err(|e| self.failure("cannot read indexes", &e))?;
        Ok(rows.first().and_then(|r| r.get::<i64, _>(0)).unwrap_or(0) > 0)
    }

    /// Foreign keys from any table of the database into this source's mapped tables.
    pub async fn foreign_keys(&self) -> Result<Vec<ForeignKey>, UserError> {
        let mut fks = self.all_foreign_keys().await?;
        fks.retain(|fk| self.source().tables.iter().any(|t| t.name == fk.parent));
        Ok(fks)
    }

    /// Every foreign key of a table of the URL's database (its tables have the empty schema).
    async fn all_foreign_keys(&self) -> Result<Vec<ForeignKey>, UserError> {
        let rows = self
            .rows(
                "SELECT k.CONSTRAINT_NAME, IF(k.TABLE_SCHEMA = DATABASE(), '', k.TABLE_SCHEMA), k.TABLE_NAME, \
                        k.COLUMN_NAME, IF(k.REFERENCED_TABLE_SCHEMA = DATABASE(), '', k.REFERENCED_TABLE_SCHEMA), \
                        k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME, r.DELETE_RULE \
                 FROM information_schema.KEY_COLUMN_USAGE k \
                 JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
                   ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME \
                  AND r.TABLE_NAME = k.TABLE_NAME \
                 WHERE k.REFERENCED_TABLE_NAME IS NOT NULL AND k.TABLE_SCHEMA = DATABASE() \
                   AND k.TABLE_NAME NOT LIKE 'dsar\\_%' \
                 ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
                Vec::new(),
            )
            .await
            .map_err(|e| self.failure("cannot read foreign keys", &e))?;
        let mut out: Vec<ForeignKey> = Vec::new();
        for row in rows {
            let text = |i: usize| row.get::<Option<String>, _>(i).flatten().unwrap_or_default();
            let (name, child, parent) = (
                text(0),
                TableName {
                    schema: text(1),
                    name: text(2),
                },
                TableName {
                    schema: text(4),
                    name: text(5),
                },
            );
            match out.last_mut() {
                Some(fk) if fk.name == name && fk.child == child => {
                    fk.child_columns.push(text(3));
                    fk.parent_columns.push(text(6));
                }
                _ => out.push(ForeignKey {
                    name,
                    child,
                    child_columns: vec![text(3)],
                    parent,
                    parent_columns: vec![text(6)],
                    on_delete: OnParentDelete::from_rule(&text(7)),
                }),
            }
        }
        Ok(out)
    }

    /// Refuse a subject value an integer column cannot hold (`customer_id=abc`): exit 2.
    pub async fn check_subject_values(&self, ids: &Identities) -> Result<(), UserError> {
        check_subject_values(&self.dialect, ids, "an integer", |t, c, v| {
            !self.integer[t][c] || v.trim().parse::<i64>().is_ok()
        })
    }

    /// Stream the subjects' rows of `table`: one query for the whole batch, its rows read off the
    /// connection as they are consumed (a bounded channel between the two), so memory stays flat
    /// and the server sorts the rows once, where keyset pages re-sorted them for every page.
    pub fn export_rows(
        &'a self,
        table: usize,
        ids: &Identities,
    ) -> impl Stream<Item = Result<ExportRow, UserError>> + Send + 'a {
        let exported = self.shapes()[table].exported(&self.source().tables[table].exclude_columns);
        let with_owners = ids.count > 1;
        let ids = ids.clone();
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<ExportRow, UserError>>(EXPORT_CHANNEL_ROWS);
        let producer = async move {
            if let Err(e) = self.send_rows(table, &exported, with_owners, &ids, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        };
        let rows = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|row| (row, rx)) });
        // Whoever reads the rows also drives the query: both are polled together, and the rows
        // end when the query has sent its last (the sender is dropped with it).
        futures_util::stream::select(rows.map(Some), producer.into_stream().map(|()| None))
            .filter_map(futures_util::future::ready)
    }

    /// Run the export query of `table` and send each row as it arrives; stop early when the
    /// reader is gone.
    async fn send_rows(
        &self,
        table: usize,
        exported: &[usize],
        with_owners: bool,
        ids: &Identities,
        tx: &tokio::sync::mpsc::Sender<Result<ExportRow, UserError>>,
    ) -> Result<(), UserError> {
        // In key order, as a person reads their file; a table identified by the map's `key` (not
        // checked unique until a delete) goes in the order the server gives.
        let shape = &self.shapes()[table];
        let mut st = export_query(&self.dialect, table, exported, with_owners, ids, "");
        if !shape.key_from_map && !shape.primary_key.is_empty() {
            st.push(&format!(" ORDER BY {}", qualified("t0", &shape.primary_key)));
        }
        let (query, binds) = st.into_parts();
        let params: Vec<SqlValue> = binds.iter().map(backend::to_sql).collect();
        // The connection is held until the last row is sent: nothing else may use this source
        // while the stream is read (the export reads one table at a time, and counts before).
        // Like every statement, it runs under `statement_timeout`, pacing included.
        let mut conn = self.conn.lock().await;
        let mut result = conn
            .exec_iter(query, params)
            .await
            .map_err(|e| self.query_failure(table, &e))?;
        while let Some(row) = result.next().await.map_err(|e| self.query_failure(table, &e))? {
            if tx.send(self.export_row(&row, with_owners, ids.count)).await.is_err() {
                break;
            }
        }
        result.drop_result().await.map_err(|e| self.query_failure(table, &e))
    }

    /// One row of an export query: the owners (for a batch), then the row as a JSON array.
    fn export_row(&self, row: &Row, with_owners: bool, count: usize) -> Result<ExportRow, UserError> {
        let owners = with_owners.then(|| {
            owners(
                row.get::<Option<String>, _>(0)
                    .flatten()
                    .map_or(DbValue::Null, DbValue::Text),
                count,
            )
            .into_iter()
            .map(|o| o as i32)
            .collect()
        });
        let json: String = row
            .get::<Option<String>, _>(usize::from(with_owners))
            .flatten()
            .unwrap_or_default();
        let values: Vec<Value> = serde_json::from_str(&json).map_err(|e| {
            UserError::runtime(format!(
                "source `{}`: a row did not read as JSON: {e}",
                self.source().name
            ))
        })?;
        Ok(ExportRow {
            owners,
            values: values.into_iter().map(Field::from_json).collect(),
        })
    }
}

/// Every mapped table's columns and key from `information_schema`, checked against the map.
async fn load_catalog(
    conn: &mut Conn,
    source: &Source,
) -> Result<(Vec<TableShape>, Vec<Vec<bool>>, Vec<Vec<bool>>), UserError> {
    let fail = |e: mysql_async::Error| {
        UserError::runtime(format!(
            "source `{}`: cannot read the catalog: {}",
            source.name,
            error_text(&e)
        ))
    };
    let mut shapes = Vec::new();
    let (mut integer, mut boolean) = (Vec::new(), Vec::new());
    for table in &source.tables {
        let params = vec![
            SqlValue::from(table.name.schema.as_str()),
            SqlValue::from(table.name.name.as_str()),
        ];
        let rows: Vec<Row> = conn
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CAST(CHARACTER_MAXIMUM_LENGTH AS CHAR), EXTRA \
                 FROM information_schema.COLUMNS \
                 WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION",
                params.clone(),
            )
            .await
            .map_err(fail)?;
        if rows.is_empty() {
            let all: Vec<String> = conn
                .query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()")
                .await
                .unwrap_or_default();
            return Err(UserError::usage(format!(
                "{}: table `{}` does not exist in source `{}`{}",
                table.location,
                table.name,
                source.name,
                suggestion(&table.name.name, all.iter().map(String::as_str))
            ))
            .with_hint(
                "names are case-sensitive and literal, as the catalog has them; a bare name is the URL's database",
            ));
        }
        let key: Vec<String> = conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.STATISTICS \
                 WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' \
                 ORDER BY SEQ_IN_INDEX",
                params,
            )
            .await
            .map_err(fail)?;
        let mut shape = TableShape {
            columns: Vec::new(),
            primary_key: key,
            key_from_map: false,
            bulk_load: false,
        };
        let (mut ints, mut bools) = (Vec::new(), Vec::new());
        for row in rows {
            let text = |i: usize| row.get::<Option<String>, _>(i).flatten().unwrap_or_default();
            let data_type = text(1).to_ascii_lowercase();
            ints.push(is_integer(&data_type));
            bools.push(text(2).eq_ignore_ascii_case("tinyint(1)"));
            shape.columns.push(Column {
                name: text(0),
                kind: if is_binary(&data_type) {
                    ColumnKind::Bytea
                } else {
                    ColumnKind::Other
                },
                text_like: matches!(
                    data_type.as_str(),
                    "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext"
                ),
                max_len: text(3).parse().ok(),
                generated: text(4).to_ascii_uppercase().contains("GENERATED"),
                base_type: data_type,
            });
        }
        shapes.push(shape);
        integer.push(ints);
        boolean.push(bools);
    }
    crate::source::shape::apply_map_keys(source, &mut shapes)?;
    Ok((shapes, integer, boolean))
}

/// The kind of a MySQL/MariaDB failure, by the server's error number (never by its text).
impl From<mysql_async::Error> for crate::source::backend::DbError {
    fn from(e: mysql_async::Error) -> Self {
        Self::new(classify(&e), error_text(&e))
    }
}

pub fn classify(e: &mysql_async::Error) -> DbErrorKind {
    use mysql_async::{DriverError, Error};
    match e {
        Error::Server(s) => match s.code {
            1062 | 1586 => DbErrorKind::UniqueViolation,
            1216 | 1217 | 1451 | 1452 => DbErrorKind::ForeignKeyViolation,
            // 3819: MySQL's CHECK; 4025: MariaDB's CONSTRAINT_FAILED; 1048/1364: NOT NULL.
            1048 | 1364 | 3819 | 4025 => DbErrorKind::CheckViolation,
            1264 | 1265 | 1292 | 1366 | 1367 | 1406 | 1411 => DbErrorKind::BadValue,
            // Lock wait timeout, deadlock, and the statement time limits of MySQL and MariaDB.
            1205 | 1969 | 3024 => DbErrorKind::LockTimeout,
            1213 => DbErrorKind::Deadlock,
            1053 | 1927 | 2006 | 2013 => DbErrorKind::ConnectionLost,
            _ => DbErrorKind::Other,
        },
        Error::Io(_) | Error::Driver(DriverError::ConnectionClosed) => DbErrorKind::ConnectionLost,
        _ => DbErrorKind::Other,
    }
}

/// The server's own words, without the client's wrapping.
pub fn error_text(e: &mysql_async::Error) -> String {
    match e {
        mysql_async::Error::Server(s) => s.message.clone(),
        other => other.to_string(),
    }
}
