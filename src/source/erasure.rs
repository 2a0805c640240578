//! What erasure steps report back, and what they write, the same for every kind of database.

use crate::config::{AnonRule, Table};
use crate::error::UserError;
use crate::source::shape::TableShape;

/// What an erase batch did.
#[derive(Debug)]
pub struct ErasedBatch {
    /// Keys taken from the plan (0: the table is done).
    pub taken: u64,
    /// Rows actually changed (fewer if some vanished meanwhile).
    pub moved: u64,
    /// Where the next batch starts.
    pub last_key: Vec<Option<String>>,
}

/// What a restore batch did.
#[derive(Debug, Default)]
pub struct RestoreBatch {
    /// Quarantine entries looked at (0: the table is done).
    pub seen: usize,
    pub restored: u64,
    /// Rows left in quarantine for manual review, described by table and key.
    pub conflicts: Vec<String>,
    pub last_id: i64,
}

/// A request as the source's request table holds it.
#[derive(Debug)]
pub struct StoredRequest {
    pub restore_until: String,
    pub window_open: bool,
    pub wrapped_key: Option<Vec<u8>>,
}

/// A request whose window has closed and that still has something to purge.
#[derive(Debug)]
pub struct ExpiredRequest {
    pub request_id: String,
    pub rows: i64,
    pub flagged_rows: i64,
}

/// The primary key of a table dsar changes rows of: quarantine, anonymize and flag need one to
/// find each row again on restore.
pub fn require_primary_key<'s>(table: &Table, shape: &'s TableShape) -> Result<&'s [String], UserError> {
    if shape.primary_key.is_empty() {
        return Err(UserError::usage(format!(
            "{}: table `{}` has no primary key; dsar needs one to quarantine, anonymize or flag rows and restore them one by one",
            table.location, table.name
        ))
        .with_hint("add a primary key, or set on_delete = \"retain\" for this table"));
    }
    Ok(&shape.primary_key)
}

/// The values of `--key COL=VALUE` in primary-key order: every key column given, no other.
pub fn key_values(table: &Table, pk: &[String], given: &[(String, String)]) -> Result<Vec<String>, UserError> {
    for (column, _) in given {
        if !pk.contains(column) {
            return Err(UserError::usage(format!(
                "--key {column}: not a primary key column of {} (its key is {})",
                table.name,
                pk.join(", ")
            )));
        }
    }
    pk.iter()
        .map(|column| {
            given
                .iter()
                .find(|(c, _)| c == column)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    UserError::usage(format!(
                        "--key: give every primary key column of {}: {}",
                        table.name,
                        pk.join(", ")
                    ))
                })
        })
        .collect()
}

/// The value `rule` writes over `old`.
pub fn anonymized(
    rule: &AnonRule,
    old: Option<String>,
    max_len: Option<usize>,
    installation_key: &[u8],
) -> Option<String> {
    let fit = |s: String| match max_len {
        Some(n) => s.chars().take(n).collect(),
        None => s,
    };
    match rule {
        AnonRule::Null => None,
        AnonRule::Redact => Some(fit("[redacted]".to_string())),
        AnonRule::Hash => old.map(|v| {
            let full = crate::state::subject_hash(installation_key, "anonymize", &v);
            let hex = full.rsplit(':').next().unwrap_or_default();
            fit(hex[..16].to_string())
        }),
        AnonRule::Literal(text) => Some(text.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymized_values_fit_their_column_and_hash_deterministically() {
        assert_eq!(anonymized(&AnonRule::Null, Some("a".into()), None, b"k"), None);
        assert_eq!(
            anonymized(&AnonRule::Redact, Some("a".into()), Some(4), b"k").unwrap(),
            "[red"
        );
        let h1 = anonymized(&AnonRule::Hash, Some("a@x".into()), None, b"k").unwrap();
        assert_eq!(h1.len(), 16);
        assert_eq!(
            Some(h1.clone()),
            anonymized(&AnonRule::Hash, Some("a@x".into()), None, b"k")
        );
        assert_ne!(
            Some(h1),
            anonymized(&AnonRule::Hash, Some("a@x".into()), None, b"other")
        );
        assert_eq!(anonymized(&AnonRule::Hash, None, None, b"k"), None);
    }
}
