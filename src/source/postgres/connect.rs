//! Opening a session on a PostgreSQL source with the settings every dsar session needs.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::config::Source;
use crate::error::{DbErrorKind, UserError};

/// The kind of a PostgreSQL failure, by its SQLSTATE (never by its text).
pub fn classify(e: &tokio_postgres::Error) -> DbErrorKind {
    if e.is_closed() {
        return DbErrorKind::ConnectionLost;
    }
    let Some(state) = e.code() else {
        // No SQLSTATE: the client failed, which is the connection going away (an I/O error).
        let io = std::iter::successors(std::error::Error::source(e), |s| s.source())
            .any(|s| s.downcast_ref::<std::io::Error>().is_some());
        return if io {
            DbErrorKind::ConnectionLost
        } else {
            DbErrorKind::Other
        };
    };
    let code = state.code();
    match code {
        "23505" => DbErrorKind::UniqueViolation,
        "23503" => DbErrorKind::ForeignKeyViolation,
        "23502" | "23514" | "23P01" => DbErrorKind::CheckViolation,
        "55P03" | "57014" | "40P01" | "40001" => DbErrorKind::LockTimeout,
        "57P01" | "57P02" | "57P03" => DbErrorKind::ConnectionLost,
        _ if code.starts_with("22") => DbErrorKind::BadValue,
        _ if code.starts_with("08") => DbErrorKind::ConnectionLost,
        _ => DbErrorKind::Other,
    }
}

/// "host:port/db" of a connection string: enough to tell which server failed, never the password.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("(default db)");
    format!("{host}:{port}/{db}")
}

/// Why a connection failed: the map is wrong (fix it), or the server is out of reach (a
/// multi-source export can go on without it).
pub enum ConnectError {
    Config(UserError),
    Unreachable(UserError),
}

impl From<ConnectError> for UserError {
    fn from(e: ConnectError) -> UserError {
        match e {
            ConnectError::Config(e) | ConnectError::Unreachable(e) => e,
        }
    }
}

/// Connect, then pin the session settings that make output deterministic (UTC, ISO dates,
/// shortest exact floats) and bound how long dsar may wait or hold locks.
pub async fn connect(source: &Source) -> Result<Client, ConnectError> {
    let url = source.url.resolve(&source.name).map_err(ConnectError::Config)?;
    let mut config = tokio_postgres::Config::from_str(&url)
        .map_err(|_| {
            UserError::usage(format!(
                "source `{}`: {} does not hold a valid PostgreSQL connection string",
                source.name,
                source.url.describe()
            ))
            .with_hint("use postgres://USER@HOST:PORT/DB or the key=value form libpq accepts")
        })
        .map_err(ConnectError::Config)?;
    config.application_name("dsar");
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let place = describe(&config);
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| {
            UserError::usage(format!(
                "source `{}` ({place}): cannot connect: {}",
                source.name,
                error_text(&e)
            ))
            .with_hint(format!(
                "check that the server is up and that {} points at it",
                source.url.describe()
            ))
        })
        .map_err(ConnectError::Unreachable)?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; errors surface on the client side.
        let _ = connection.await;
    });
    let settings = format!(
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; \
         SET extra_float_digits = 3; SET statement_timeout = {}; SET lock_timeout = {}",
        source.statement_timeout.as_millis(),
        source.lock_timeout.as_millis()
    );
    client
        .batch_execute(&settings)
        .await
        .map_err(|e| {
            UserError::runtime(format!(
                "source `{}` ({place}): cannot set up the session: {}",
                source.name,
                error_text(&e)
            ))
        })
        .map_err(ConnectError::Unreachable)?;
    Ok(client)
}

/// The most useful one-line text of a driver error: the server's message when there is one.
pub fn error_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return db.message().to_string();
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}
