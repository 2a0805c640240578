//! `dsar discover`: draft a source map from a live catalog, from a connection string alone
//! (`--url`) or a source of an existing map (`--source`).
//!
//! The catalog is read by the source kind's reader (PostgreSQL: every user schema; MySQL and
//! MariaDB: the URL's database; SQLite: the file), personal-looking columns are classified
//! (`personal`), the draft is made without touching the database again (`draft`), and printed as
//! TOML (`render`) or, with `--json`, as JSON. The draft passes `dsar check` as printed.

mod draft;
mod personal;
mod render;

use std::path::PathBuf;
use std::time::Duration;

use crate::cli::{DiscoverArgs, Global};
use crate::config::{SecretRef, Source, SourceKind, TableName};
use crate::error::{UserError, suggestion};

/// The top-level entry point for `dsar discover`.
pub async fn run(global: &Global, args: &DiscoverArgs) -> Result<(), UserError> {
    let (source, origin) = match (&args.source, &args.url) {
        (Some(name), _) => (from_map(global, name)?, format!("--source {name}")),
        (None, Some(url)) => (from_url(url)?, format!("--url {}", shown_url(url))),
        (None, None) => return Err(UserError::usage("give --url or --source")),
    };
    // The catalog's reader keeps the source for as long as the command runs.
    let source: &'static Source = Box::leak(Box::new(source));
    let catalog = match source.kind {
        SourceKind::Postgres => crate::source::postgres::discover::read(source).await?,
        SourceKind::Sqlite => crate::source::sqlite::discover::read(source)?,
        SourceKind::Mysql => crate::source::mysql::discover::read(source).await?,
        SourceKind::Command => {
            return Err(UserError::usage(format!(
                "source `{}` is a command: it has no catalog to draft a map from",
                source.name
            )));
        }
    };
    if catalog.tables.is_empty() {
        return Err(UserError::usage(format!(
            "source `{}` has no tables to map",
            source.name
        )));
    }
    let mut personal = Vec::with_capacity(catalog.tables.len());
    for table in &catalog.tables {
        personal.push(personal::columns(&catalog, table).await);
    }
    let subject = match &args.table {
        Some(name) => {
            let wanted = TableName::parse(name).map_err(UserError::usage)?;
            let wanted = crate::config::resolve_bare(source.kind, wanted);
            Some(catalog.tables.iter().position(|t| t.name == wanted).ok_or_else(|| {
                let names: Vec<String> = catalog.tables.iter().map(|t| t.name.to_string()).collect();
                UserError::usage(format!(
                    "no table `{wanted}` in source `{}`{}",
                    source.name,
                    suggestion(&wanted.to_string(), names.iter().map(String::as_str))
                ))
            })?)
        }
        None => None,
    };
    let draft = draft::draft(&catalog, &personal, subject)
        .map_err(|why| UserError::usage(why).with_hint("name the subject table with --table SCHEMA.TABLE"))?;
    crate::warn_all(global, &draft.notes);
    if global.json {
        crate::output::print_json(&draft);
    } else {
        print!(
            "{}",
            render::toml(
                &draft,
                &source.name,
                source.kind.name(),
                &location(global, source),
                &origin
            )
        );
    }
    Ok(())
}

/// A source of the map at `--config`, with its connection and none of its tables.
fn from_map(global: &Global, name: &str) -> Result<Source, UserError> {
    let config = crate::config::load_for_discovery(&global.config)?;
    let source = config.sources.into_iter().find(|s| s.name == name);
    let Some(source) = source else {
        let config = crate::config::load_for_discovery(&global.config)?;
        return Err(UserError::usage(format!(
            "no source `{name}` in {}{}",
            global.config.display(),
            suggestion(name, config.sources.iter().map(|s| s.name.as_str()))
        )));
    };
    Ok(Source {
        tables: Vec::new(),
        ..source
    })
}

/// A source for `--url`: `sqlite:PATH`, or `env:VAR` / `file:PATH` (or, discouraged, the URL
/// itself) holding a `postgres://` or `mysql://` URL.
fn from_url(text: &str) -> Result<Source, UserError> {
    let bare = |kind, url, path| Source {
        name: "app".into(),
        kind,
        url,
        path,
        run: Vec::new(),
        delete_run: None,
        max_rows_per_second: None,
        batch_rows: 1000,
        statement_timeout: Duration::from_secs(30 * 60),
        lock_timeout: Duration::from_secs(10),
        password_command: None,
        tables: Vec::new(),
    };
    let cwd = std::env::current_dir().unwrap_or_default();
    if let Some(path) = text.strip_prefix("sqlite:") {
        // `sqlite:app.db`, `sqlite:///abs/app.db` or `sqlite:////abs/app.db` (SQLAlchemy's forms).
        let path = path.strip_prefix("//").unwrap_or(path);
        let path = match path.strip_prefix('/') {
            Some(rest) if rest.starts_with('/') => PathBuf::from(rest),
            _ => PathBuf::from(path),
        };
        return Ok(bare(
            SourceKind::Sqlite,
            SecretRef::Literal(String::new()),
            Some(cwd.join(path)),
        ));
    }
    let secret = SecretRef::parse(text, &cwd);
    let url = secret.resolve("app")?;
    let kind = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        SourceKind::Postgres
    } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        SourceKind::Mysql
    } else {
        return Err(
            UserError::usage(format!("--url {}: not a postgres:// or mysql:// URL", shown_url(text))).with_hint(
                "give env:VAR or file:PATH holding postgres://… or mysql://…, or sqlite:PATH for a SQLite file",
            ),
        );
    };
    Ok(bare(kind, secret, None))
}

/// `--url` as messages and the draft may show it: a literal URL is never repeated (it may hold
/// a password).
fn shown_url(text: &str) -> String {
    if text.starts_with("env:") || text.starts_with("file:") || text.starts_with("sqlite:") {
        text.to_string()
    } else {
        "<url>".to_string()
    }
}

/// How the drafted source connects: the same reference it was drafted through.
fn location(global: &Global, source: &Source) -> String {
    match source.kind {
        SourceKind::Postgres | SourceKind::Mysql => {
            let url = match &source.url {
                SecretRef::Literal(_) => "env:DATABASE_URL".to_string(),
                SecretRef::File(path) => {
                    let dir = global.config.parent().unwrap_or(std::path::Path::new(""));
                    format!("file:{}", path.strip_prefix(dir).unwrap_or(path).display())
                }
                other => other.describe(),
            };
            format!("url = {}", render_string(&url))
        }
        SourceKind::Sqlite => {
            // Relative to the map's directory, where the map will look for it.
            let path = source.path.clone().unwrap_or_default();
            let cwd = std::env::current_dir().unwrap_or_default();
            let dir = cwd.join(global.config.parent().unwrap_or(std::path::Path::new("")));
            let shown = path.strip_prefix(&dir).unwrap_or(&path);
            format!("path = {}", render_string(&shown.display().to_string()))
        }
        SourceKind::Command => String::new(),
    }
}

fn render_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
