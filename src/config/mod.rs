//! The source map (`sources.toml`): where a person's data lives and what to do with it.
//!
//! [`load`] reads, parses and checks the map without touching any database; catalog checks happen
//! when a source is connected. Every error points at `file:line:column`.

mod duration;
mod raw;
mod secret;
mod table_name;
mod validate;

pub use validate::resolve_bare;

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use duration::parse_duration;
pub use secret::SecretRef;
pub use table_name::TableName;
pub(crate) use validate::placeholders;

use crate::error::{UserError, suggestion};

/// A checked source map.
#[derive(Debug)]
pub struct Config {
    pub settings: Settings,
    pub notify: Notify,
    /// The identifiers an operator may pass as `--subject KEY=VALUE`.
    pub subject_keys: Vec<String>,
    pub controller: Controller,
    pub sources: Vec<Source>,
    /// Non-fatal remarks found while loading (e.g. a literal connection string).
    pub warnings: Vec<String>,
}

/// `[controller]`: who holds the data and whom the person can turn to, for the archive's summary.
#[derive(Debug, Clone, Default)]
pub struct Controller {
    pub name: Option<String>,
    pub contact: Option<String>,
    pub dpo: Option<String>,
    pub supervisory_authority: Option<String>,
}

/// What a person is told about one table (GDPR Art. 15(1)): all optional, each left out of the
/// archive's page when the map does not say it.
#[derive(Debug, Clone, Default)]
pub struct About {
    pub title: Option<String>,
    pub description: Option<String>,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub recipients: Vec<String>,
    pub retention: Option<String>,
    /// Where the data came from, when not from the person.
    pub source: Option<String>,
    /// Column → what it holds.
    pub columns: Vec<(String, String)>,
}

impl About {
    /// What the person is told: the facts without `TODO` placeholders.
    pub fn said(&self) -> About {
        let keep = |v: &Option<String>| v.clone().filter(|t| is_said(t));
        About {
            title: keep(&self.title),
            description: keep(&self.description),
            purpose: keep(&self.purpose),
            legal_basis: keep(&self.legal_basis),
            recipients: self.recipients.iter().filter(|r| is_said(r)).cloned().collect(),
            retention: keep(&self.retention),
            source: keep(&self.source),
            columns: self.columns.iter().filter(|(_, m)| is_said(m)).cloned().collect(),
        }
    }

    /// The Art. 15 facts the map leaves unsaid for this table, by their map key. A value still
    /// starting `TODO` (as `dsar discover` drafts them) is unsaid too.
    pub fn missing(&self) -> Vec<&'static str> {
        let said = |v: &Option<String>| v.as_deref().is_some_and(is_said);
        let mut missing = Vec::new();
        for (key, set) in [
            ("title", said(&self.title)),
            ("purpose", said(&self.purpose)),
            ("legal_basis", said(&self.legal_basis)),
            (
                "recipients",
                !self.recipients.is_empty() && self.recipients.iter().all(|r| is_said(r)),
            ),
            ("retention", said(&self.retention)),
        ] {
            if !set {
                missing.push(key);
            }
        }
        missing
    }
}

/// A file name every common file system takes: separators, reserved and control characters
/// become `_`; leading dots and trailing dots or spaces go.
pub fn file_safe(text: &str) -> String {
    let replaced: String = text
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = replaced.trim_start_matches('.').trim_end_matches(['.', ' ']);
    if trimmed.is_empty() {
        "table".into()
    } else {
        trimmed.to_string()
    }
}

/// A fact of the map that is filled in: not a `TODO` placeholder.
pub fn is_said(text: &str) -> bool {
    !text.trim_start().starts_with("TODO")
}

/// Where the summary of a finished request goes (`[notify]`).
#[derive(Debug, Clone, Default)]
pub struct Notify {
    /// argv of a program that gets the summary JSON on stdin.
    pub command: Option<Vec<String>>,
    /// A URL the summary JSON is POSTed to.
    pub webhook: Option<String>,
}

// Erasure settings are read by delete/restore/purge, which land after export.
#[allow(dead_code)]
#[derive(Debug)]
pub struct Settings {
    pub recovery_window: Duration,
    pub export_retention: Duration,
    pub audit_retention: Option<Duration>,
    /// Events per audit segment; retention removes whole segments.
    pub audit_segment_events: Option<u64>,
    /// Resolved against the map's directory.
    pub export_dir: PathBuf,
    pub recipients_file: Option<PathBuf>,
    pub recovery_recipients_file: Option<PathBuf>,
    /// `[settings] state_dir`, resolved against the map's directory (read by
    /// [`crate::state::resolve`] before the map is loaded in full).
    pub state_dir: Option<PathBuf>,
    /// `[settings] regime` (read by [`crate::case`] before the map is loaded in full).
    pub regime: Option<crate::case::Regime>,
    /// `[settings] audit_key_file`, resolved against the map's directory (read by
    /// [`crate::state::audit_key_file`] before the map is loaded in full).
    pub audit_key_file: Option<PathBuf>,
}

#[allow(dead_code)]
#[derive(Debug)]
pub struct Source {
    pub name: String,
    pub kind: SourceKind,
    /// Where a PostgreSQL source connects (`Literal` empty for file-based kinds).
    pub url: SecretRef,
    /// The database file of a SQLite source, resolved against the map's directory.
    pub path: Option<PathBuf>,
    /// A command source's export program and arguments (`{key}` replaced by the subject's).
    pub run: Vec<String>,
    /// A command source's erase program, if it can erase.
    pub delete_run: Option<Vec<String>>,
    pub max_rows_per_second: Option<u32>,
    pub batch_rows: u32,
    pub statement_timeout: Duration,
    pub lock_timeout: Duration,
    /// PostgreSQL and MySQL: the program (and arguments) that prints the password.
    pub password_command: Option<Vec<String>>,
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Postgres,
    Sqlite,
    /// MySQL or MariaDB.
    Mysql,
    /// An external service reached through a program (an API wrapped with curl, say).
    Command,
}

impl Source {
    /// The index of the mapped table `text` names, resolved exactly as the map's own names are
    /// (`Customer` is `main.Customer` on SQLite, the connection's database on MySQL).
    pub fn find_table(&self, text: &str) -> Option<usize> {
        let name = validate::resolve_bare(self.kind, TableName::parse(text).ok()?);
        self.tables.iter().position(|t| t.name == name)
    }
}

impl SourceKind {
    /// The schema a bare table name (`users`) means: PostgreSQL's `public`, SQLite's file
    /// itself (`main`), MySQL's database of the connection (empty: it prints as just the table).
    pub fn bare_schema(self) -> &'static str {
        match self {
            SourceKind::Sqlite => "main",
            SourceKind::Mysql => "",
            SourceKind::Postgres | SourceKind::Command => "public",
        }
    }

    /// The name the map writes in `kind = "…"`.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Postgres => "postgres",
            SourceKind::Sqlite => "sqlite",
            SourceKind::Mysql => "mysql",
            SourceKind::Command => "command",
        }
    }
}

impl Config {
    /// The sources that are databases (tables, quarantine, catalogs).
    pub fn databases(&self) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(|s| s.kind != SourceKind::Command)
    }

    /// The sources that are programs.
    pub fn commands(&self) -> impl Iterator<Item = &Source> {
        self.sources.iter().filter(|s| s.kind == SourceKind::Command)
    }
}

#[allow(dead_code)]
#[derive(Debug)]
pub struct Table {
    pub name: TableName,
    /// `file:line:col` of the entry, for errors found later against the catalog.
    pub location: String,
    pub link: Link,
    /// Match columns compared without regard to case (`ignore_case = true`).
    pub ignore_case: Vec<String>,
    /// The columns that identify a row when the table has no primary key (`key = [...]`).
    pub key: Vec<String>,
    pub exclude_columns: Vec<String>,
    pub on_delete: OnDelete,
    pub anonymize: Vec<(String, AnonRule)>,
    pub flag_column: Option<String>,
    pub retain_reason: Option<String>,
    pub about: About,
}

/// How many different subject keys a `match` lists (a key may name several columns).
pub fn distinct_keys(pairs: &[(String, String)]) -> usize {
    let mut keys: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len()
}

/// How a table's rows are tied to the subject.
#[derive(Debug, Clone)]
pub enum Link {
    /// Rows whose column equals one of the subject's identifiers: (subject key, column) pairs,
    /// sorted by key; a key may have several columns (`email = ["email", "alt_email"]`).
    Match(Vec<(String, String)>),
    /// Rows reached through any of these paths (`via = [ … ]`); each row counts once.
    Via(Vec<ViaPath>),
}

/// One way from a table to a parent: the row's `columns` equal the `parent_columns` of a row
/// that belongs to the subject in `parent` (an index into the same source's `tables`).
#[derive(Debug, Clone)]
pub struct ViaPath {
    pub parent: usize,
    pub columns: Vec<String>,
    pub parent_columns: Vec<String>,
}

impl Link {
    /// The `via` paths (none for `match`).
    pub fn paths(&self) -> &[ViaPath] {
        match self {
            Link::Via(paths) => paths,
            Link::Match(_) => &[],
        }
    }
}

/// What `anonymize` writes over a column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnonRule {
    /// SQL NULL.
    Null,
    /// A fixed marker, `[redacted]`.
    Redact,
    /// A keyed hash of the old value, the same for the same value within one installation, so
    /// joins and counts on the column still line up.
    Hash,
    /// This literal, cast to the column's type.
    Literal(String),
}

impl AnonRule {
    pub fn parse(text: &str) -> AnonRule {
        match text {
            "null" => AnonRule::Null,
            "redact" => AnonRule::Redact,
            "hash" => AnonRule::Hash,
            other => AnonRule::Literal(other.to_string()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    Quarantine,
    Anonymize,
    Flag,
    Retain,
}

impl OnDelete {
    /// The name the map, the plan and `dsar.quarantine.strategy` use.
    pub fn name(self) -> &'static str {
        match self {
            OnDelete::Quarantine => "quarantine",
            OnDelete::Anonymize => "anonymize",
            OnDelete::Flag => "flag",
            OnDelete::Retain => "retain",
        }
    }

    /// The strategy a quarantine entry names (`retain` leaves none).
    pub fn of_quarantine(text: &str) -> Option<OnDelete> {
        match text {
            "quarantine" => Some(OnDelete::Quarantine),
            "anonymize" => Some(OnDelete::Anonymize),
            "flag" => Some(OnDelete::Flag),
            _ => None,
        }
    }
}

/// Read and check the source map at `path`.
pub fn load(path: &Path) -> Result<Config, UserError> {
    load_with(path, false)
}

/// For `dsar discover`: a source may list no tables yet (that is what discover drafts).
pub fn load_for_discovery(path: &Path) -> Result<Config, UserError> {
    load_with(path, true)
}

fn load_with(path: &Path, allow_empty_sources: bool) -> Result<Config, UserError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => e.to_string(),
        };
        UserError::usage(format!("cannot read source map {}: {why}", path.display()))
            .with_hint("pass --config PATH or set DSAR_CONFIG; sources.toml.example shows the format")
    })?;
    let locator = Locator {
        file: path.display().to_string(),
        text: &text,
    };
    let raw: raw::RawConfig = toml::from_str(&text).map_err(|e| locator.toml_error(&e))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut config = validate::validate(raw, &locator, path, &dir, allow_empty_sources)?;
    let literal = config
        .sources
        .iter()
        .any(|s| matches!(s.kind, SourceKind::Postgres | SourceKind::Mysql) && matches!(s.url, SecretRef::Literal(_)));
    if literal && readable_by_others(path) {
        config.warnings.push(format!(
            "{} holds a literal connection string and other users can read it; chmod 600 it, or use url = \"env:…\"",
            path.display()
        ));
    }
    Ok(config)
}

/// Whether the group or others may read `path`.
fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}

/// Turns byte offsets of the map into `file:line:col`.
pub(crate) struct Locator<'a> {
    file: String,
    text: &'a str,
}

impl Locator<'_> {
    pub fn at(&self, span: Range<usize>) -> String {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!("{}:{line}:{col}", self.file)
    }

    pub fn error(&self, span: Range<usize>, message: impl std::fmt::Display) -> UserError {
        UserError::usage(format!("{}: {message}", self.at(span)))
    }

    fn toml_error(&self, e: &toml::de::Error) -> UserError {
        let place = match e.span() {
            Some(span) => self.at(span),
            None => self.file.clone(),
        };
        let message = e.message().trim().replace('\n', " ");
        // serde says "unknown field `x`, expected one of `a`, `b`": turn that into a suggestion.
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let (unknown, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let names: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            let err = UserError::usage(format!(
                "{place}: unknown key `{unknown}`{}",
                suggestion(unknown, names.iter().copied())
            ));
            return err.with_hint(format!("allowed keys here: {}", names.join(", ")));
        }
        if message.contains("struct RawVia") {
            return UserError::usage(format!(
                "{place}: a `via` path is {{ table = …, column = …, parent_column = … }}"
            ))
            .with_hint("several paths go in a list: via = [{ table = …, … }, { table = …, … }]");
        }
        if message.contains("struct RawMatchDetail") {
            return UserError::usage(format!(
                "{place}: a `match` key names a column, a list of columns, or {{ column = …, ignore_case = true }}"
            ))
            .with_hint("e.g. match = { email = { column = \"email\", ignore_case = true } }");
        }
        let message = message.replace("missing field", "missing key");
        UserError::usage(format!("{place}: {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locator_counts_lines_and_columns_from_one() {
        let locator = Locator {
            file: "m.toml".into(),
            text: "a = 1\nbb = 2\n",
        };
        assert_eq!(locator.at(0..1), "m.toml:1:1");
        assert_eq!(locator.at(9..10), "m.toml:2:4");
    }
}

#[cfg(test)]
mod properties {
    //! Property tests: whatever text the map holds, parsing never panics and errors point at a
    //! place; whatever a name holds, quoting round-trips.
    use proptest::prelude::*;

    use super::*;

    /// Loading `text` as a map gives a config, or one error line that names the file.
    fn loads_or_locates(text: &str) -> Result<(), TestCaseError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sources.toml");
        std::fs::write(&path, text).unwrap();
        if let Err(e) = load(&path) {
            prop_assert!(e.message.contains("sources.toml"), "{}", e.message);
            prop_assert!(!e.message.contains('\n'), "one line: {}", e.message);
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn any_text_as_a_source_map_is_a_config_or_a_located_error(text in "\\PC{0,300}") {
            loads_or_locates(&text)?;
        }

        /// Near-misses of a real map (a cut, a splice) are the typos operators make.
        #[test]
        fn a_damaged_example_map_is_a_config_or_a_located_error(
            at in 0usize..2000, cut in 0usize..40, splice in "[\\[\\]{}=,.\"'a-z0-9 \n]{0,8}"
        ) {
            let example = include_str!("../../sources.toml.example");
            let at = example.char_indices().map(|(i, _)| i).take_while(|&i| i <= at % example.len()).last().unwrap_or(0);
            let end = example[at..].char_indices().map(|(i, _)| at + i).take(cut + 1).last().unwrap_or(at);
            let text = format!("{}{splice}{}", &example[..at], &example[end..]);
            loads_or_locates(&text)?;
        }

        #[test]
        fn table_names_parse_or_refuse_without_panicking(text in "\\PC{0,40}") {
            if let Ok(name) = TableName::parse(&text) {
                prop_assert!(!name.schema.is_empty() && !name.name.is_empty());
                prop_assert_eq!(format!("{}.{}", name.schema, name.name).len() >= text.len(), true);
            }
        }
    }
}
