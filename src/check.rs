//! `dsar check`: the source map against the live databases, before anyone relies on it.
//!
//! Catalog queries only: every table, column and key exists, `via` links join columns of the
//! same type, lookups have an index to use, tables that erasure changes have a primary key, and
//! the keys that archives and quarantine are encrypted to are readable.

use serde::Serialize;

use crate::age_keys::read_recipients_file;
use crate::audit::{AuditLog, Event, Outcome};
use crate::cli::Global;
use crate::config::{Link, OnDelete};
use crate::error::UserError;
use crate::source::Database;

#[derive(Debug, Default, Serialize)]
struct Report {
    state: &'static str,
    sources: Vec<String>,
    /// How each database source is connected: TLS (protocol, what was verified) or plaintext.
    connections: Vec<Connection>,
    errors: Vec<String>,
    warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Connection {
    source: String,
    #[serde(flatten)]
    security: crate::source::tls::Security,
}

/// The top-level entry point for `dsar check`.
pub async fn run(global: &Global) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    let mut report = Report {
        warnings: config.warnings.clone(),
        ..Default::default()
    };

    match &config.settings.recipients_file {
        None => report
            .warnings
            .push("no [settings].recipients_file: every export needs --recipient or --passphrase".into()),
        Some(file) => {
            if let Err(e) = read_recipients_file(file) {
                report.errors.push(e.message);
            }
        }
    }
    if crate::erase::erases_anything(&config) {
        match &config.settings.recovery_recipients_file {
            None => report
                .warnings
                .push("no [settings].recovery_recipients_file: delete will refuse to run until it is set".into()),
            Some(file) => {
                if let Err(e) = read_recipients_file(file) {
                    report.errors.push(e.message);
                }
            }
        }
    }

    report.warnings.extend(art15_gaps(&config));

    for command in config.commands() {
        match crate::source::command::check(command) {
            Ok(found) => report.sources.push(format!("{}: runs {found}", command.name)),
            Err(e) => report.errors.push(e),
        }
    }
    // A plaintext connection is reported below, as a warning of the check.
    crate::source::tls::set_quiet(true);
    for source_config in config.databases() {
        match Database::open(source_config).await {
            // A connection's hint says what to set (sslrootcert, sslmode…): keep it.
            Err(e) => report.errors.push(match e.hint {
                Some(hint) => format!("{} (hint: {hint})", e.message),
                None => e.message,
            }),
            Ok(source) => {
                check_source(&source, &mut report).await?;
                let connected = match source.security() {
                    None => String::new(),
                    Some(security) => {
                        if security.transport == "plaintext" && !security.local {
                            report.warnings.push(format!(
                                "source `{}`: connected without TLS to a remote host; personal data crosses the network unencrypted (set sslmode=verify-full, or ssl-mode=VERIFY_IDENTITY for MySQL)",
                                source_config.name
                            ));
                        }
                        report.connections.push(Connection {
                            source: source_config.name.clone(),
                            security: security.clone(),
                        });
                        format!(", {}", security.describe())
                    }
                };
                report.sources.push(format!(
                    "{}: {} tables{connected}",
                    source_config.name,
                    source_config.tables.len()
                ));
            }
        }
    }

    report.state = if report.errors.is_empty() { "ok" } else { "failed" };
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    let mut details = serde_json::Map::new();
    details.insert("errors".into(), report.errors.len().into());
    details.insert("warnings".into(), report.warnings.len().into());
    audit.append(&Event {
        action: "config.checked".into(),
        outcome: if report.errors.is_empty() {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        error: report.errors.first().cloned(),
        details,
        ..Default::default()
    })?;

    if global.json {
        crate::output::print_json(&report);
    } else {
        for w in &report.warnings {
            if !global.quiet {
                eprintln!("warning: {w}");
            }
        }
        for e in report.errors.iter().skip(1) {
            eprintln!("error: {e}");
        }
        if !global.quiet {
            for s in &report.sources {
                println!("ok  {s}");
            }
        }
    }
    match report.errors.first() {
        None => Ok(()),
        Some(first) => Err(UserError::usage(first.clone()).with_hint(format!(
            "{} problem(s) in {}; fix them before export or delete",
            report.errors.len(),
            global.config.display()
        ))),
    }
}

async fn check_source(source: &Database<'_>, report: &mut Report) -> Result<(), UserError> {
    let tables = &source.config().tables;
    let fks = source.foreign_keys().await?;
    report
        .errors
        .extend(crate::erase::plan::foreseen_refusals(source, &fks));
    report.warnings.extend(guessed_references(source, &fks));
    for (t, table) in tables.iter().enumerate() {
        let shape = &source.shapes()[t];
        if table.on_delete != OnDelete::Retain && shape.primary_key.is_empty() {
            report.errors.push(format!(
                "{}: table `{}` has no primary key, so on_delete = \"{}\" cannot work; add one, or name the columns \
                 that identify each row with key = [\"col\", …]",
                table.location,
                table.name,
                table.on_delete.name()
            ));
        }
        let looked_up: Vec<&String> = match &table.link {
            Link::Match(pairs) => pairs.iter().map(|(_, c)| c).collect(),
            Link::Via(paths) => {
                for path in paths {
                    for (c, p) in path.columns.iter().zip(&path.parent_columns) {
                        let ours = shape.column(c).map(|x| x.base_type.as_str()).unwrap_or("?");
                        let theirs = source.shapes()[path.parent]
                            .column(p)
                            .map(|x| x.base_type.as_str())
                            .unwrap_or("?");
                        if ours != theirs && !(integer(ours) && integer(theirs)) {
                            report.errors.push(format!(
                                "{}: via column `{c}` ({ours}) and parent_column `{p}` of {} ({theirs}) have different types",
                                table.location, tables[path.parent].name
                            ));
                        }
                    }
                }
                let mut firsts: Vec<&String> = paths.iter().filter_map(|p| p.columns.first()).collect();
                firsts.sort_unstable();
                firsts.dedup();
                firsts
            }
        };
        for column in looked_up {
            let lower = table.ignore_case.contains(column);
            let served = if lower {
                source.has_lower_index(t, column).await?
            } else {
                source.has_leading_index(t, column).await?
            };
            if !served {
                let what = if lower {
                    format!(
                        "{}.{column} is matched ignoring case and no index serves that",
                        table.name
                    )
                } else {
                    format!("no index starts with {}.{column}", table.name)
                };
                report.warnings.push(format!(
                    "{}: {what}: every request scans the whole table; {}",
                    table.location,
                    create_index(source.config().kind, &table.name, column, lower)
                ));
            }
        }
    }
    Ok(())
}

/// Columns of mapped tables that look by their name like references to a table delete takes
/// rows out of (`customer_id`, `address_id` → `address`), when nothing says what they are: no
/// foreign key declares it, no `via` ties the two tables by it, and the two are not matched by
/// the same subject key. Delete cannot refuse what it does not know; the operator decides.
fn guessed_references(source: &Database<'_>, fks: &[crate::source::foreign_key::ForeignKey]) -> Vec<String> {
    let tables = &source.config().tables;
    let mut out = Vec::new();
    for (q, target) in tables.iter().enumerate() {
        let key = &source.shapes()[q].primary_key;
        if !matches!(target.on_delete, OnDelete::Quarantine | OnDelete::Flag) || key.len() != 1 {
            continue;
        }
        let names = crate::source::discovery::reference_names(&target.name.name, &key[0]);
        for (c, table) in tables.iter().enumerate() {
            if c == q {
                continue;
            }
            for column in &source.shapes()[c].columns {
                if !crate::source::discovery::refers_by_name(&names, &column.name) {
                    continue;
                }
                let declared = fks.iter().any(|fk| {
                    fk.child == table.name && fk.parent == target.name && fk.child_columns.contains(&column.name)
                });
                let via = table
                    .link
                    .paths()
                    .iter()
                    .any(|p| p.parent == q && p.columns.contains(&column.name))
                    || target
                        .link
                        .paths()
                        .iter()
                        .any(|p| p.parent == c && p.parent_columns.contains(&column.name));
                let same_key = match (&table.link, &target.link) {
                    (Link::Match(ours), Link::Match(theirs)) => ours
                        .iter()
                        .any(|(k, col)| col == &column.name && theirs.iter().any(|(tk, tc)| tk == k && tc == &key[0])),
                    _ => false,
                };
                if declared || via || same_key {
                    continue;
                }
                out.push(format!(
                    "{}: {}.{} looks like a reference to {} ({}), which delete takes rows out of, but no foreign key \
                     or `via` says so: a row pointing at an erased person's row would be left dangling, and delete \
                     cannot refuse it. If it is a reference, declare the foreign key or map {} via {}",
                    table.location, table.name, column.name, target.name, key[0], table.name, target.name
                ));
            }
        }
    }
    out
}

/// An integer type of any width (`integer` linked to `bigint` joins fine; delete and export
/// compare the values, not the types).
fn integer(base_type: &str) -> bool {
    matches!(
        base_type.to_ascii_lowercase().as_str(),
        "smallint" | "integer" | "bigint" | "int" | "int2" | "int4" | "int8" | "tinyint" | "mediumint"
    )
}

/// The statement that adds the missing index, quoted for the source's kind (SQLite needs a name):
/// on `column`, or with `lower`, on `lower(column)` (MySQL and MariaDB cannot index that
/// expression: what to do instead).
fn create_index(
    kind: crate::config::SourceKind,
    table: &crate::config::TableName,
    column: &str,
    lower: bool,
) -> String {
    use crate::source::quote::{ident, table as table_ident};
    let expr = if lower {
        format!("lower({})", ident(column))
    } else {
        ident(column)
    };
    let suffix = if lower { "_lower" } else { "" };
    match kind {
        crate::config::SourceKind::Postgres => format!("CREATE INDEX ON {} ({expr})", table_ident(table)),
        crate::config::SourceKind::Mysql if lower => format!(
            "MySQL and MariaDB cannot serve this comparison from an index, so each request reads the whole table; \
             if the application writes `{column}` in one case, match it exactly instead and index it"
        ),
        crate::config::SourceKind::Mysql => format!("CREATE INDEX `{0}_{1}` ON `{0}` (`{1}`)", table.name, column),
        crate::config::SourceKind::Sqlite | crate::config::SourceKind::Command => format!(
            "CREATE INDEX {} ON {} ({expr})",
            ident(&format!("{}_{column}{suffix}", table.name)),
            ident(&table.name),
        ),
    }
}

/// What an export's summary cannot tell the person (GDPR Art. 15(1)) because the map is silent:
/// who holds the data and how to reach them, and per table its title, purpose, legal basis,
/// recipients and retention.
fn art15_gaps(config: &crate::config::Config) -> Vec<String> {
    let mut gaps = Vec::new();
    let controller = &config.controller;
    let missing: Vec<&str> = [("name", &controller.name), ("contact", &controller.contact)]
        .into_iter()
        .filter(|(_, v)| !v.as_deref().is_some_and(crate::config::is_said))
        .map(|(k, _)| k)
        .collect();
    if !missing.is_empty() {
        gaps.push(format!(
            "[controller] has no {}: the archive cannot tell the person who holds their data and how to reach them (Art. 15)",
            missing.join(" or ")
        ));
    }
    for source in config.databases() {
        for table in &source.tables {
            let missing = table.about.missing();
            if !missing.is_empty() {
                gaps.push(format!(
                    "{}: {} ({}): no {}, so the archive cannot tell the person (Art. 15); add them to the table in the map",
                    source.name,
                    table.name,
                    table.location,
                    missing.join(", ")
                ));
            }
        }
    }
    gaps
}
