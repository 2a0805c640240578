//! The source map exactly as written in TOML, before any checking.
//!
//! Every struct rejects unknown keys, so a typo is an error with a location instead of a silently
//! ignored setting. Names that later errors must point at are kept `Spanned`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub settings: RawSettings,
    #[serde(default)]
    pub notify: RawNotify,
    pub subject: RawSubject,
    /// Who holds the data, for the archive's summary (Art. 15).
    #[serde(default)]
    pub controller: RawController,
    pub sources: Vec<RawSource>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawController {
    pub name: Option<String>,
    pub contact: Option<String>,
    /// The data-protection officer, if there is one.
    pub dpo: Option<String>,
    pub supervisory_authority: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    pub recovery_window: Option<Spanned<String>>,
    pub export_retention: Option<Spanned<String>>,
    pub audit_retention: Option<Spanned<String>>,
    pub audit_segment_events: Option<u64>,
    pub export_dir: Option<PathBuf>,
    pub recipients_file: Option<PathBuf>,
    pub recovery_recipients_file: Option<PathBuf>,
    /// The state dir (audit log, installation key, ledger), relative to the map: one map, one
    /// audit log.
    pub state_dir: Option<PathBuf>,
    /// The law a case's deadline follows by default: `gdpr` or `ccpa`.
    pub regime: Option<crate::case::Regime>,
    /// The key that seals the audit chain, kept apart from the state dir (relative to the map).
    pub audit_key_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotify {
    pub command: Option<Spanned<Vec<String>>>,
    pub webhook: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubject {
    pub keys: Spanned<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub name: Spanned<String>,
    pub kind: Spanned<String>,
    /// A connection string or `env:`/`file:` reference (postgres).
    pub url: Option<Spanned<String>>,
    /// The database file (sqlite), relative to the map's directory.
    pub path: Option<Spanned<PathBuf>>,
    /// The program that prints a subject's records as JSON lines (command), with `{key}`s.
    pub run: Option<Spanned<Vec<String>>>,
    /// The program that erases a subject's records (command), with `{key}`s.
    pub delete_run: Option<Spanned<Vec<String>>>,
    pub max_rows_per_second: Option<u32>,
    pub batch_rows: Option<Spanned<u32>>,
    pub statement_timeout: Option<Spanned<String>>,
    pub lock_timeout: Option<Spanned<String>>,
    /// A program whose standard output is the password, run for each new connection (IAM
    /// tokens, secret stores).
    pub password_command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub tables: Vec<RawTable>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub table: Spanned<String>,
    /// Per subject key, the column (or columns) holding it: `email = "email"`,
    /// `email = ["email", "alt_email"]`, or `email = { column = "email", ignore_case = true }`.
    #[serde(rename = "match")]
    pub match_: Option<Spanned<BTreeMap<String, RawMatch>>>,
    pub via: Option<Spanned<RawVias>>,
    /// The columns that identify a row of a table without a primary key.
    pub key: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub exclude_columns: Vec<String>,
    pub on_delete: Option<Spanned<String>>,
    pub anonymize: Option<Spanned<BTreeMap<String, String>>>,
    pub flag_column: Option<String>,
    pub retain_reason: Option<String>,
    /// What the person is told about this table in the archive (Art. 15(1)).
    pub title: Option<String>,
    pub description: Option<String>,
    pub purpose: Option<String>,
    pub legal_basis: Option<String>,
    pub recipients: Option<OneOrMany>,
    pub retention: Option<String>,
    pub source: Option<String>,
    /// Per column, what it holds in plain words.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVia {
    pub table: Spanned<String>,
    pub column: OneOrMany,
    pub parent_column: OneOrMany,
}

/// `via = { … }`, or `via = [{ … }, { … }]` for a table reached several ways. (Not an untagged
/// enum: that would buffer the value and lose the spans errors point at.)
#[derive(Debug)]
pub enum RawVias {
    One(RawVia),
    Many(Vec<RawVia>),
}

impl<'de> Deserialize<'de> for RawVias {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawVias;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table { table = …, column = …, parent_column = … }, or a list of them")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawVias, A::Error> {
                RawVia::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(RawVias::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<RawVias, A::Error> {
                Vec::<RawVia>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq)).map(RawVias::Many)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl RawVias {
    pub fn into_vec(self) -> Vec<RawVia> {
        match self {
            RawVias::One(v) => vec![v],
            RawVias::Many(v) => v,
        }
    }
}

/// What a `match` key names: its column(s), and how they compare. (Read by hand rather than as
/// an untagged enum, so that an unknown key inside `{ … }` gets its own error and suggestion.)
#[derive(Debug)]
pub enum RawMatch {
    Columns(OneOrMany),
    Detailed(RawMatchDetail),
}

impl<'de> Deserialize<'de> for RawMatch {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = RawMatch;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a column, a list of columns, or { column = …, ignore_case = true }")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawMatch, E> {
                Ok(RawMatch::Columns(OneOrMany::One(v.to_string())))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<RawMatch, A::Error> {
                Vec::<String>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(|v| RawMatch::Columns(OneOrMany::Many(v)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawMatch, A::Error> {
                RawMatchDetail::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(RawMatch::Detailed)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMatchDetail {
    pub column: OneOrMany,
    /// Compare without regard to case (`Customer-1@Example.com` is `customer-1@example.com`).
    #[serde(default)]
    pub ignore_case: bool,
}

impl RawMatch {
    /// The columns, and whether they compare ignoring case.
    pub fn into_parts(self) -> (Vec<String>, bool) {
        match self {
            RawMatch::Columns(c) => (c.into_vec(), false),
            RawMatch::Detailed(d) => (d.column.into_vec(), d.ignore_case),
        }
    }
}

/// `column = "id"` or `column = ["order_id", "line_no"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}
