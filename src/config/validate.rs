//! From the map as written to a [`Config`] the rest of the tool can trust: names exist, links form
//! no cycle, strategies have what they need. Database catalogs are not consulted here.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::raw::{RawConfig, RawController, RawNotify, RawSettings, RawSource, RawTable};
use super::{
    About, AnonRule, Config, Controller, Link, Locator, Notify, OnDelete, SecretRef, Settings, Source, SourceKind,
    Table, TableName, ViaPath,
};
use crate::config::parse_duration;
use crate::error::{UserError, suggestion};

/// Rows per erase batch (one transaction each) when a source does not say. Measured on the
/// bench's 1M-row PostgreSQL delete, interleaved on a copy of one database: 1,000 took 4.33 s
/// (restore 5.68 s), 2,500 took 3.93 s (restore 5.40 s) at the same peak RSS (28 MiB), 5,000
/// 3.74 s but 38 MiB; SQLite, which commits five batches at once, measured the same. A batch
/// holds its rows and locks them until it commits: a few thousand rows of a few hundred bytes
/// is a few MB and milliseconds.
const DEFAULT_BATCH_ROWS: u32 = 2500;

pub(super) fn validate(
    raw: RawConfig,
    loc: &Locator,
    path: &Path,
    dir: &Path,
    allow_empty_sources: bool,
) -> Result<Config, UserError> {
    let mut warnings = Vec::new();
    let settings = settings(raw.settings, loc, dir)?;
    let notify = notify(raw.notify, loc)?;

    let keys_span = raw.subject.keys.span();
    let subject_keys = raw.subject.keys.into_inner();
    if subject_keys.is_empty() {
        return Err(loc.error(
            keys_span,
            "[subject].keys is empty; list the identifiers operators may use, e.g. [\"email\"]",
        ));
    }
    let mut seen = BTreeSet::new();
    for key in &subject_keys {
        if key.is_empty() || !seen.insert(key) {
            return Err(loc.error(
                keys_span.clone(),
                format!("[subject].keys: `{key}` is empty or listed twice"),
            ));
        }
    }

    if raw.sources.is_empty() {
        return Err(UserError::usage(format!("{}: no [[sources]] defined", path.display()))
            .with_hint("add a [[sources]] entry with name, kind, url and [[sources.tables]]"));
    }
    let mut names = BTreeSet::new();
    let mut sources = Vec::new();
    for raw_source in raw.sources {
        if !names.insert(raw_source.name.get_ref().clone()) {
            return Err(loc.error(
                raw_source.name.span(),
                format!("source `{}` is defined twice", raw_source.name.get_ref()),
            ));
        }
        sources.push(source(
            raw_source,
            &subject_keys,
            loc,
            dir,
            &mut warnings,
            allow_empty_sources,
        )?);
    }
    // Each source is a folder of every archive: two names one file system sees as the same
    // folder (`Shop`/`shop`, `a:b`/`a?b`) would mix their files.
    for (i, a) in sources.iter().enumerate() {
        if let Some(b) = sources[..i]
            .iter()
            .find(|b| super::file_safe(&b.name).to_lowercase() == super::file_safe(&a.name).to_lowercase())
        {
            return Err(UserError::usage(format!(
                "{}: sources `{}` and `{}` would share one folder in export archives (data/{}/)",
                path.display(),
                b.name,
                a.name,
                super::file_safe(&a.name)
            ))
            .with_hint("rename one of them: names must differ in more than case and punctuation"));
        }
    }
    for key in &subject_keys {
        let matched = sources.iter().flat_map(|s| &s.tables).any(|t| match &t.link {
            Link::Match(pairs) => pairs.iter().any(|(k, _)| k == key),
            Link::Via(_) => false,
        });
        if !matched {
            warnings.push(format!(
                "subject key `{key}` is matched by no table; --subject {key}=… finds nothing"
            ));
        }
    }
    Ok(Config {
        settings,
        notify,
        subject_keys,
        controller: controller(raw.controller),
        sources,
        warnings,
    })
}

fn duration(
    value: &Option<Spanned<String>>,
    default: Option<Duration>,
    loc: &Locator,
    key: &str,
) -> Result<Option<Duration>, UserError> {
    match value {
        None => Ok(default),
        Some(v) => parse_duration(v.get_ref())
            .map(Some)
            .map_err(|e| loc.error(v.span(), format!("{key}: {e}"))),
    }
}

fn controller(raw: RawController) -> Controller {
    Controller {
        name: raw.name,
        contact: raw.contact,
        dpo: raw.dpo,
        supervisory_authority: raw.supervisory_authority,
    }
}

fn notify(raw: RawNotify, loc: &Locator) -> Result<Notify, UserError> {
    if let Some(command) = &raw.command
        && command.get_ref().is_empty()
    {
        return Err(loc.error(
            command.span(),
            "[notify].command is empty; give the program and its arguments",
        ));
    }
    if let Some(url) = &raw.webhook
        && !(url.get_ref().starts_with("https://") || url.get_ref().starts_with("http://"))
    {
        return Err(loc.error(url.span(), "[notify].webhook must be an http:// or https:// URL"));
    }
    Ok(Notify {
        command: raw.command.map(Spanned::into_inner),
        webhook: raw.webhook.map(Spanned::into_inner),
    })
}

fn settings(raw: RawSettings, loc: &Locator, dir: &Path) -> Result<Settings, UserError> {
    let day = Duration::from_secs(86_400);
    let anchor = |p: PathBuf| if p.is_absolute() { p } else { dir.join(p) };
    Ok(Settings {
        recovery_window: duration(&raw.recovery_window, Some(30 * day), loc, "recovery_window")?.unwrap_or_default(),
        export_retention: duration(&raw.export_retention, Some(7 * day), loc, "export_retention")?.unwrap_or_default(),
        audit_retention: duration(&raw.audit_retention, None, loc, "audit_retention")?,
        audit_segment_events: raw.audit_segment_events,
        export_dir: anchor(raw.export_dir.unwrap_or_else(|| PathBuf::from("exports"))),
        recipients_file: raw.recipients_file.map(anchor),
        recovery_recipients_file: raw.recovery_recipients_file.map(anchor),
        state_dir: raw.state_dir.map(anchor),
        regime: raw.regime,
        audit_key_file: raw.audit_key_file.map(anchor),
    })
}

fn source(
    raw: RawSource,
    subject_keys: &[String],
    loc: &Locator,
    dir: &Path,
    warnings: &mut Vec<String>,
    allow_empty_sources: bool,
) -> Result<Source, UserError> {
    let name = raw.name.get_ref().clone();
    if name.is_empty() || name.contains(['/', '\\', '\0']) {
        return Err(loc.error(
            raw.name.span(),
            "a source name must be non-empty and hold no `/`, `\\` or NUL (it names folders in archives)",
        ));
    }
    let kind = match raw.kind.get_ref().as_str() {
        "postgres" | "postgresql" => SourceKind::Postgres,
        "sqlite" => SourceKind::Sqlite,
        "command" => SourceKind::Command,
        "mysql" | "mariadb" => SourceKind::Mysql,
        other => {
            return Err(loc.error(
                raw.kind.span(),
                format!(
                    "unknown source kind `{other}`{}",
                    suggestion(other, ["postgres", "sqlite", "mysql", "command"])
                ),
            ));
        }
    };
    let (url, path) = match kind {
        SourceKind::Postgres | SourceKind::Mysql => {
            if let Some(path) = &raw.path {
                return Err(loc.error(
                    path.span(),
                    format!(
                        "source `{name}` is kind = \"{}\": it connects with url, not path",
                        kind.name()
                    ),
                ));
            }
            let Some(raw_url) = &raw.url else {
                return Err(loc.error(
                    raw.name.span(),
                    format!("source `{name}` needs url = \"env:NAME\" (or \"file:PATH\") naming its connection string"),
                ));
            };
            let url = SecretRef::parse(raw_url.get_ref(), dir);
            if matches!(url, SecretRef::Literal(_)) {
                warnings.push(format!(
                    "{}: source `{name}` has a literal connection string; prefer url = \"env:NAME\" or \"file:PATH\" so no password sits in the map",
                    loc.at(raw_url.span())
                ));
            }
            (url, None)
        }
        SourceKind::Sqlite => {
            if let Some(url) = &raw.url {
                return Err(loc.error(
                    url.span(),
                    format!("source `{name}` is kind = \"sqlite\": name its database file with path, not url"),
                ));
            }
            let Some(path) = &raw.path else {
                return Err(loc.error(
                    raw.name.span(),
                    format!("source `{name}` needs path = \"FILE.db\", the SQLite database file"),
                ));
            };
            (SecretRef::Literal(String::new()), Some(dir.join(path.get_ref())))
        }
        SourceKind::Command => {
            if let Some(url) = &raw.url {
                return Err(loc.error(
                    url.span(),
                    format!("source `{name}` is kind = \"command\": it runs `run`, it has no url"),
                ));
            }
            if let Some(path) = &raw.path {
                return Err(loc.error(
                    path.span(),
                    format!("source `{name}` is kind = \"command\": it runs `run`, it has no path"),
                ));
            }
            (SecretRef::Literal(String::new()), None)
        }
    };
    let (run, delete_run) = command_lines(&raw, kind, &name, subject_keys, loc, dir)?;
    let password_command = match &raw.password_command {
        None => None,
        Some(argv) if !matches!(kind, SourceKind::Postgres | SourceKind::Mysql) => {
            return Err(loc.error(
                argv.span(),
                format!("source `{name}`: password_command belongs to postgres and mysql sources"),
            ));
        }
        Some(argv) if argv.get_ref().first().is_none_or(|p| p.is_empty()) => {
            return Err(loc.error(
                argv.span(),
                format!("source `{name}`: password_command is empty; name a program, as [\"aws\", \"rds\", \"generate-db-auth-token\", …]"),
            ));
        }
        Some(argv) => Some(argv.get_ref().clone()),
    };
    let batch_rows = match raw.batch_rows {
        Some(b) if *b.get_ref() == 0 => return Err(loc.error(b.span(), "batch_rows must be at least 1")),
        Some(b) => b.into_inner(),
        None => DEFAULT_BATCH_ROWS,
    };
    if raw.max_rows_per_second == Some(0) {
        return Err(loc.error(
            raw.name.span(),
            format!("source `{name}`: max_rows_per_second must be at least 1 (leave it out for no limit)"),
        ));
    }
    if kind == SourceKind::Command && !raw.tables.is_empty() {
        return Err(loc.error(
            raw.name.span(),
            format!("source `{name}` is kind = \"command\": its records come from `run`, it lists no tables"),
        ));
    }
    if raw.tables.is_empty() && !allow_empty_sources && kind != SourceKind::Command {
        return Err(loc.error(
            raw.name.span(),
            format!("source `{name}` lists no tables; add [[sources.tables]] entries"),
        ));
    }

    let mut index = HashMap::new();
    for (i, t) in raw.tables.iter().enumerate() {
        let parsed = TableName::parse(t.table.get_ref()).map_err(|e| loc.error(t.table.span(), e))?;
        if index.insert(parsed.clone(), i).is_some() {
            return Err(loc.error(
                t.table.span(),
                format!("table `{parsed}` is listed twice in source `{name}`"),
            ));
        }
    }
    let mut tables = raw
        .tables
        .into_iter()
        .map(|t| table(t, &index, subject_keys, loc))
        .collect::<Result<Vec<_>, _>>()?;
    for t in &mut tables {
        t.name = resolve_bare(kind, t.name.clone());
    }
    check_no_cycles(&tables)?;

    Ok(Source {
        name,
        kind,
        url,
        path,
        run,
        delete_run,
        max_rows_per_second: raw.max_rows_per_second,
        batch_rows,
        statement_timeout: duration(
            &raw.statement_timeout,
            Some(Duration::from_secs(30 * 60)),
            loc,
            "statement_timeout",
        )?
        .unwrap_or_default(),
        lock_timeout: duration(&raw.lock_timeout, Some(Duration::from_secs(10)), loc, "lock_timeout")?
            .unwrap_or_default(),
        password_command,
        tables,
    })
}

fn table(
    raw: RawTable,
    index: &HashMap<TableName, usize>,
    subject_keys: &[String],
    loc: &Locator,
) -> Result<Table, UserError> {
    let name = TableName::parse(raw.table.get_ref()).map_err(|e| loc.error(raw.table.span(), e))?;
    let location = loc.at(raw.table.span());
    let mut ignore_case = Vec::new();
    let link = match (raw.match_, raw.via) {
        (Some(_), Some(via)) => {
            return Err(loc.error(
                via.span(),
                format!("table `{name}` has both `match` and `via`; give one"),
            ));
        }
        (None, None) => {
            return Err(loc
                .error(
                    raw.table.span(),
                    format!("table `{name}` has neither `match` nor `via`, so no row can be tied to a subject"),
                )
                .with_hint(
                    "add match = { email = \"email_column\" } or via = { table = …, column = …, parent_column = … }",
                ));
        }
        (Some(m), None) => {
            let span = m.span();
            let mut pairs: Vec<(String, String)> = Vec::new();
            for (key, columns) in m.into_inner() {
                let (columns, fold) = columns.into_parts();
                if fold {
                    ignore_case.extend(columns.iter().cloned());
                }
                if columns.is_empty() {
                    return Err(loc.error(span, format!("table `{name}`: match key `{key}` lists no column")));
                }
                for column in columns {
                    if pairs.iter().any(|(_, c)| *c == column) {
                        return Err(loc.error(
                            span,
                            format!("table `{name}`: column `{column}` is listed twice in `match`"),
                        ));
                    }
                    pairs.push((key.clone(), column));
                }
            }
            if pairs.is_empty() {
                return Err(loc.error(span, format!("table `{name}`: `match` is empty")));
            }
            for (key, _) in &pairs {
                if !subject_keys.contains(key) {
                    return Err(loc.error(
                        span,
                        format!(
                            "table `{name}`: match key `{key}` is not in [subject].keys{}",
                            suggestion(key, subject_keys.iter().map(String::as_str))
                        ),
                    ));
                }
            }
            Link::Match(pairs)
        }
        (None, Some(via)) => {
            let span = via.span();
            let mut paths: Vec<ViaPath> = Vec::new();
            for via in via.into_inner().into_vec() {
                let parent_name = TableName::parse(via.table.get_ref()).map_err(|e| loc.error(via.table.span(), e))?;
                let Some(&parent) = index.get(&parent_name) else {
                    let known: Vec<String> = index.keys().map(ToString::to_string).collect();
                    return Err(loc.error(
                        via.table.span(),
                        format!(
                            "table `{name}`: via table `{parent_name}` is not listed in this source{}",
                            suggestion(&parent_name.to_string(), known.iter().map(String::as_str))
                        ),
                    ));
                };
                let columns = via.column.into_vec();
                let parent_columns = via.parent_column.into_vec();
                if columns.is_empty() || columns.len() != parent_columns.len() {
                    return Err(loc.error(span.clone(), format!("table `{name}`: via `column` and `parent_column` must list the same number of columns (got {} and {})", columns.len(), parent_columns.len())));
                }
                let path = ViaPath {
                    parent,
                    columns,
                    parent_columns,
                };
                if paths.iter().any(|p| {
                    p.parent == path.parent && p.columns == path.columns && p.parent_columns == path.parent_columns
                }) {
                    return Err(loc.error(
                        span.clone(),
                        format!("table `{name}`: the via path through `{parent_name}` is listed twice"),
                    ));
                }
                paths.push(path);
            }
            if paths.is_empty() {
                return Err(loc
                    .error(span, format!("table `{name}`: `via` lists no path"))
                    .with_hint("give at least one { table = …, column = …, parent_column = … }"));
            }
            Link::Via(paths)
        }
    };
    let key = match raw.key {
        None => Vec::new(),
        Some(key) => {
            let span = key.span();
            let columns = key.into_inner().into_vec();
            if columns.is_empty() {
                return Err(loc.error(span, format!("table `{name}`: `key` lists no column")));
            }
            if let Some(twice) = columns.iter().enumerate().find(|(i, c)| columns[..*i].contains(c)) {
                return Err(loc.error(
                    span,
                    format!("table `{name}`: column `{}` is listed twice in `key`", twice.1),
                ));
            }
            columns
        }
    };
    let on_delete = match raw.on_delete.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("quarantine") => OnDelete::Quarantine,
        Some("anonymize") => OnDelete::Anonymize,
        Some("flag") => OnDelete::Flag,
        Some("retain") => OnDelete::Retain,
        Some(other) => {
            let span = raw.on_delete.as_ref().map(|s| s.span()).unwrap_or(raw.table.span());
            return Err(loc.error(
                span,
                format!(
                    "on_delete = `{other}` is not a strategy{}; use quarantine, anonymize, flag or retain",
                    suggestion(other, ["quarantine", "anonymize", "flag", "retain"])
                ),
            ));
        }
    };
    if on_delete == OnDelete::Flag && raw.flag_column.is_none() {
        return Err(loc.error(
            raw.table.span(),
            format!("table `{name}`: on_delete = \"flag\" needs flag_column (the table's own soft-delete column)"),
        ));
    }
    let anonymize = match raw.anonymize {
        None => Vec::new(),
        Some(a) => {
            if on_delete != OnDelete::Anonymize {
                return Err(loc.error(
                    a.span(),
                    format!("table `{name}`: `anonymize` is set but on_delete is not \"anonymize\""),
                ));
            }
            a.into_inner()
                .into_iter()
                .map(|(c, r)| (c, AnonRule::parse(&r)))
                .collect()
        }
    };
    if on_delete == OnDelete::Anonymize && anonymize.is_empty() {
        return Err(loc.error(raw.table.span(), format!("table `{name}`: on_delete = \"anonymize\" needs anonymize = {{ column = \"null\" | \"redact\" | \"hash\" | literal }}")));
    }
    Ok(Table {
        name,
        location,
        link,
        ignore_case,
        key,
        exclude_columns: raw.exclude_columns,
        on_delete,
        anonymize,
        flag_column: raw.flag_column,
        retain_reason: raw.retain_reason,
        about: About {
            title: raw.title,
            description: raw.description,
            purpose: raw.purpose,
            legal_basis: raw.legal_basis,
            recipients: raw.recipients.map(|r| r.into_vec()).unwrap_or_default(),
            retention: raw.retention,
            source: raw.source,
            columns: raw.columns.into_iter().collect(),
        },
    })
}

/// Every `via` path must end at a `match` table; a loop would never reach the subject.
fn check_no_cycles(tables: &[Table]) -> Result<(), UserError> {
    /// The first loop met walking up from `chain`'s last table, as the chain of tables.
    fn walk(tables: &[Table], chain: &mut Vec<usize>) -> Option<Vec<usize>> {
        let current = *chain.last()?;
        for path in tables[current].link.paths() {
            if chain.contains(&path.parent) {
                let mut cycle = chain.clone();
                cycle.push(path.parent);
                return Some(cycle);
            }
            chain.push(path.parent);
            if let Some(cycle) = walk(tables, chain) {
                return Some(cycle);
            }
            chain.pop();
        }
        None
    }
    for (start, table) in tables.iter().enumerate() {
        if let Some(cycle) = walk(tables, &mut vec![start]) {
            let chain: Vec<String> = cycle.iter().map(|&i| tables[i].name.to_string()).collect();
            return Err(UserError::usage(format!(
                "{}: `via` links form a cycle: {}",
                table.location,
                chain.join(" → ")
            ))
            .with_hint("every via path must end at a table with `match`"));
        }
    }
    Ok(())
}

/// `run` and `delete_run` of a command source: argv lists whose `{key}`s are subject keys, the
/// program resolved against the map's directory when it is a relative path. Other kinds must
/// not have them.
fn command_lines(
    raw: &RawSource,
    kind: SourceKind,
    name: &str,
    subject_keys: &[String],
    loc: &Locator,
    dir: &Path,
) -> Result<(Vec<String>, Option<Vec<String>>), UserError> {
    if kind != SourceKind::Command {
        if let Some(run) = raw.run.as_ref().or(raw.delete_run.as_ref()) {
            return Err(loc.error(
                run.span(),
                format!("source `{name}`: run and delete_run belong to kind = \"command\" sources"),
            ));
        }
        return Ok((Vec::new(), None));
    }
    let Some(run) = &raw.run else {
        return Err(loc.error(
            raw.name.span(),
            format!("source `{name}` needs run = [\"program\", \"{{email}}\"], the program that prints its records"),
        ));
    };
    let check = |argv: &Spanned<Vec<String>>, what: &str| -> Result<Vec<String>, UserError> {
        let Some(program) = argv.get_ref().first() else {
            return Err(loc.error(argv.span(), format!("source `{name}`: {what} is empty; name a program")));
        };
        for arg in argv.get_ref() {
            for key in placeholders(arg) {
                if !subject_keys.iter().any(|k| k == key) {
                    return Err(loc.error(
                        argv.span(),
                        format!(
                            "source `{name}`: {what} uses {{{key}}}, which is not a subject key{}",
                            suggestion(key, subject_keys.iter().map(String::as_str))
                        ),
                    ));
                }
            }
        }
        let mut argv = argv.get_ref().clone();
        if program.contains('/') && Path::new(program).is_relative() {
            argv[0] = dir.join(program).display().to_string();
        }
        Ok(argv)
    };
    let run = check(run, "run")?;
    let delete_run = raw.delete_run.as_ref().map(|d| check(d, "delete_run")).transpose()?;
    Ok((run, delete_run))
}

/// The `{key}` names in one argument.
pub(crate) fn placeholders(arg: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else { break };
        out.push(&rest[open + 1..open + close]);
        rest = &rest[open + close + 1..];
    }
    out
}

/// A parsed table name as a source of `kind` means it: only PostgreSQL has a `public` schema
/// (see [`SourceKind::bare_schema`]). Every name the operator gives is resolved the same way.
pub fn resolve_bare(kind: SourceKind, mut name: TableName) -> TableName {
    if name.schema == "public" {
        name.schema = kind.bare_schema().into();
    }
    name
}
