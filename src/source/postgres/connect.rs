//! Opening a session on a PostgreSQL source with the settings every dsar session needs.

use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::Client;
use tokio_postgres::config::{Host, SslMode as DriverMode};

use crate::config::Source;
use crate::error::{DbErrorKind, UserError};
use crate::source::tls::libpq::{self as tls, SslMode};
use crate::source::tls::{Check, Security};

/// The kind of a PostgreSQL failure, by its SQLSTATE (never by its text).
/// A failure of a statement dsar runs for itself (catalog, session set-up): `context`, then
/// the server's words.
pub fn failure(context: String) -> impl FnOnce(tokio_postgres::Error) -> UserError {
    move |e| UserError::runtime(format!("{context}: {}", error_text(&e)))
}

impl From<tokio_postgres::Error> for crate::source::backend::DbError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::new(classify(&e), error_text(&e))
    }
}

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
        "55P03" | "57014" => DbErrorKind::LockTimeout,
        "40P01" | "40001" => DbErrorKind::Deadlock,
        "57P01" | "57P02" | "57P03" => DbErrorKind::ConnectionLost,
        // Text the database holds that the server cannot send in the session's UTF-8: the
        // data's fault, not a value the operator gave (see [`holds_invalid_text`]).
        "22021" | "22P05" => DbErrorKind::Other,
        _ if code.starts_with("22") => DbErrorKind::BadValue,
        _ if code.starts_with("08") => DbErrorKind::ConnectionLost,
        _ => DbErrorKind::Other,
    }
}

/// Whether the server could not send text a table holds in UTF-8 (invalid in the database's
/// own encoding, or a SQL_ASCII database's bytes that are not UTF-8): dsar reads every value as
/// UTF-8, and the server checks what it converts.
pub fn holds_invalid_text(e: &tokio_postgres::Error) -> bool {
    matches!(e.code().map(|c| c.code()), Some("22021" | "22P05"))
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

/// Connect (over TLS as `sslmode` says), then pin the session settings that make output
/// deterministic (UTC, ISO dates, shortest exact floats) and bound how long dsar may wait or
/// hold locks. Also says how the connection is secured.
pub async fn connect(source: &Source) -> Result<(Client, Security), ConnectError> {
    connect_cancellable(source)
        .await
        .map(|(client, security, _)| (client, security))
}

/// Stops whatever statement a session is running, from outside it: PostgreSQL's cancel
/// request, over a connection made as the session's was (its TLS settings included). A dropped
/// client does not stop its statement: the server runs it to the end.
pub struct Canceller {
    token: tokio_postgres::CancelToken,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
}

impl Canceller {
    /// Send the cancel request without waiting for it (called where nothing can wait: a drop).
    pub fn cancel_in_background(self) {
        tokio::spawn(async move {
            let _ = self.token.cancel_query(self.tls).await;
        });
    }
}

/// [`connect`], with what can cancel the session's statements.
pub async fn connect_cancellable(source: &Source) -> Result<(Client, Security, Canceller), ConnectError> {
    let url = source.url.resolve(&source.name).map_err(ConnectError::Config)?;
    let invalid = |why: String| {
        ConnectError::Config(
            UserError::usage(format!(
                "source `{}`: {} does not hold a valid PostgreSQL connection string: {why}",
                source.name,
                source.url.describe()
            ))
            .with_hint("use postgres://USER@HOST:PORT/DB?sslmode=verify-full&sslrootcert=FILE or the key=value form libpq accepts"),
        )
    };
    let (rest, written) = tls::split(&url).map_err(invalid)?;
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| invalid(option_error(&e)))?;
    if config.get_ssl_mode() != DriverMode::Prefer {
        // tokio-postgres read an sslmode that dsar did not: never let it decide on its own.
        return Err(invalid("sslmode is given in a form dsar does not read".to_string()));
    }
    config.application_name("dsar");
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let place = describe(&config);
    let host = host_name(&config);
    match crate::source::password::from_command(source)
        .await
        .map_err(ConnectError::Unreachable)?
    {
        Some(password) => {
            config.password(password);
        }
        None if config.get_password().is_none() => {
            let user = config.get_user().unwrap_or_default().to_string();
            let port = config.get_ports().first().copied().unwrap_or(5432);
            let database = config.get_dbname().unwrap_or(&user).to_string();
            if let Some(password) = crate::source::password::from_pgpass(&host, port, &database, &user) {
                config.password(password);
            }
        }
        None => {}
    }
    let local = config.get_hosts().iter().all(|h| match h {
        Host::Tcp(name) => crate::source::tls::is_local(name),
        Host::Unix(_) => true,
    });
    // As libpq: TLS settings do not apply to a Unix socket.
    let socket = config.get_hosts().iter().all(|h| matches!(h, Host::Unix(_)));
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let tls = written.with_environment().resolve(home).map_err(invalid)?;
    let mode = if socket { SslMode::Disable } else { tls.mode };
    // Certificate files matter only when TLS may be used (libpq ignores them otherwise).
    let tls_settings = if mode == SslMode::Disable {
        crate::source::tls::Settings {
            check: Check::Nothing,
            roots: crate::source::tls::Roots::None,
            client: None,
        }
    } else {
        tls.settings.clone()
    };
    if let Some((_, key)) = &tls_settings.client {
        tls::check_key_permissions(key, &source.name).map_err(ConnectError::Config)?;
    }
    let client_config =
        crate::source::tls::client_config(&tls_settings, &source.name, &tls::NAMES).map_err(ConnectError::Config)?;
    let connector = tokio_postgres_rustls::MakeRustlsConnect::new(client_config);
    let cancel_connector = connector.clone();
    // What is tried first, and what after a refusal: `allow` tries plaintext and then TLS,
    // `prefer` TLS and then plaintext, so whether TLS is in use is known here, not taken from
    // the server (behind a pooler, the server's view is the pooler's connection).
    let mut encrypted = matches!(
        mode,
        SslMode::Prefer | SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
    );
    config.ssl_mode(if encrypted {
        DriverMode::Require
    } else {
        DriverMode::Disable
    });
    let mut attempt = config.connect(connector.clone()).await;
    match (&attempt, mode) {
        (Err(e), SslMode::Allow)
            if e.code() == Some(&tokio_postgres::error::SqlState::INVALID_AUTHORIZATION_SPECIFICATION) =>
        {
            config.ssl_mode(DriverMode::Require);
            encrypted = true;
            attempt = config.connect(connector).await;
        }
        (Err(e), SslMode::Prefer) if error_text(e).contains("server does not support TLS") => {
            config.ssl_mode(DriverMode::Disable);
            encrypted = false;
            attempt = config.connect(connector).await;
        }
        _ => {}
    }
    let (client, connection) = attempt
        .map_err(|e| {
            let (cause, hint) = crate::source::tls::explain(&e, &host, &tls::NAMES)
                .or_else(|| {
                    error_text(&e).contains("server does not support TLS").then(|| {
                        (
                            format!("sslmode={} needs TLS, and the server does not offer it", mode.name()),
                            "turn on ssl in the server's postgresql.conf, or (on a trusted network only) set sslmode=prefer".to_string(),
                        )
                    })
                })
                .unwrap_or_else(|| {
                    (
                        format!("cannot connect: {}", error_text(&e)),
                        format!("check that the server is up and that {} points at it", source.url.describe()),
                    )
                });
            UserError::usage(format!("source `{}` ({place}): {cause}", source.name)).with_hint(hint)
        })
        .map_err(ConnectError::Unreachable)?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped; errors surface on the client side.
        let _ = connection.await;
    });
    // JIT off (where the server has it, from PostgreSQL 11): dsar's queries read a few rows
    // through indexes, but the planner's estimates for a batch's owner lists (a correlated
    // subquery per row) pass `jit_above_cost`, and compiling took 150 ms of a 160 ms query;
    // a large subject's export query lost 110 ms to it.
    let settings = format!(
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; \
         SET extra_float_digits = 3; SET statement_timeout = {}; SET lock_timeout = {}; \
         SELECT set_config('jit', 'off', false) FROM pg_settings WHERE name = 'jit'",
        source.statement_timeout.as_millis(),
        source.lock_timeout.as_millis()
    );
    client
        .batch_execute(&settings)
        .await
        .map_err(failure(format!(
            "source `{}` ({place}): cannot set up the session",
            source.name
        )))
        .map_err(ConnectError::Unreachable)?;
    let security = if encrypted {
        Security::tls(protocol(&client).await, tls_settings.check, &host, local)
    } else {
        Security::plaintext(local)
    };
    if let Some(warning) = security.warning(&source.name, &place) {
        crate::source::tls::warn_once(&source.name, &warning);
    }
    let canceller = Canceller {
        token: client.cancel_token(),
        tls: cancel_connector,
    };
    Ok((client, security, canceller))
}

/// The TLS version the server reports for this session (`pg_stat_ssl`), for `dsar check`.
async fn protocol(client: &Client) -> Option<String> {
    client
        .query_opt("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
        .await
        .ok()
        .flatten()
        .and_then(|row| row.get::<_, Option<String>>(0))
}

/// The first host's name (or socket directory), what a certificate is checked against.
fn host_name(config: &tokio_postgres::Config) -> String {
    match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    }
}

/// libpq's connection keywords: the only option names an error repeats.
const LIBPQ_KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "require_auth",
    "channel_binding",
    "connect_timeout",
    "client_encoding",
    "options",
    "application_name",
    "fallback_application_name",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "replication",
    "gssencmode",
    "sslmode",
    "sslnegotiation",
    "sslcompression",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "requirepeer",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "service",
    "target_session_attrs",
    "load_balance_hosts",
];

/// Why tokio-postgres refused a connection string, without echoing any value of it.
fn option_error(e: &tokio_postgres::Error) -> String {
    let text = std::iter::successors(std::error::Error::source(e), |s| s.source())
        .last()
        .map(|s| s.to_string())
        .unwrap_or_else(|| e.to_string());
    // A mis-quoted password can turn part of itself into an option's name: name only libpq's.
    let named = |rest: &str| {
        rest.split('`')
            .nth(1)
            .filter(|key| LIBPQ_KEYWORDS.contains(key))
            .map(|key| format!("`{key}`"))
    };
    if let Some(rest) = text.strip_prefix("unknown option") {
        format!(
            "unknown option {}",
            named(rest).unwrap_or_else(|| "(a name libpq does not know)".into())
        )
    } else if let Some(rest) = text.strip_prefix("invalid value for option") {
        format!("invalid value for option {}", named(rest).unwrap_or_default())
    } else {
        "it does not parse".to_string()
    }
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
