//! What erasure steps report back, and what they write, the same for every kind of database.

use crate::config::{AnonRule, OnDelete, Table, TableName};
use crate::error::UserError;
use crate::source::foreign_key::ForeignKey;
use crate::source::quote::qualified;
use crate::source::shape::TableShape;

/// What an erase batch did.
#[derive(Debug)]
pub struct ErasedBatch {
    /// Rows actually changed (fewer if some vanished meanwhile).
    pub moved: u64,
}

/// What a restore batch did.
#[derive(Debug, Default)]
pub struct RestoreBatch {
    /// Quarantine entries looked at (0: the table is done).
    pub seen: usize,
    pub restored: u64,
    /// Rows left in quarantine for manual review, described by table and key.
    pub conflicts: Vec<String>,
    /// The old values (column, text) of the rows left in quarantine, so rows that belong to
    /// them are held back too.
    pub kept: Vec<std::collections::HashMap<String, Option<String>>>,
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
        .with_hint(
            "add a primary key, or name columns that identify each row in the map: key = [\"col\", …] \
             (delete checks that each row it takes is the only one with its key)",
        ));
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

/// The columns a batch seals into quarantine, key first: every column for `quarantine`, the
/// anonymized ones for `anonymize`, the flag column for `flag`, so restore can undo exactly that.
pub fn sealed_columns(table: &Table, shape: &TableShape, pk: &[String]) -> Result<Vec<String>, UserError> {
    let changed: Vec<String> = match table.on_delete {
        OnDelete::Quarantine => shape.columns.iter().map(|c| c.name.clone()).collect(),
        OnDelete::Anonymize => table.anonymize.iter().map(|(c, _)| c.clone()).collect(),
        OnDelete::Flag => table.flag_column.iter().cloned().collect(),
        OnDelete::Retain => return Err(UserError::runtime("retained tables are never erased")),
    };
    let mut sealed = pk.to_vec();
    sealed.extend(changed.into_iter().filter(|c| !pk.contains(c)));
    Ok(sealed)
}

/// A table's captured keys: the (quoted) pending list and the key columns it holds.
pub struct Captured<'a> {
    pub pending: String,
    pub key: &'a [String],
}

/// The query counting rows of the foreign key's child that reference captured rows of its
/// parent, less those the child's own capture holds (when given). The same SQL on every kind;
/// the caller quotes the table names its way.
pub fn outside_plan_query(
    fk: &ForeignKey,
    child_table: &str,
    parent_table: &str,
    parent: &Captured<'_>,
    child: Option<&Captured<'_>>,
) -> String {
    let mut sql = format!(
        "SELECT COUNT(*) FROM {child_table} c WHERE ({}) IN (SELECT {} FROM {parent_table} p WHERE ({}) IN (SELECT * FROM {}))",
        qualified("c", &fk.child_columns),
        qualified("p", &fk.parent_columns),
        qualified("p", parent.key),
        parent.pending
    );
    if let Some(child) = child {
        sql.push_str(&format!(
            " AND NOT EXISTS (SELECT 1 FROM {} pp WHERE ({}) = ({}))",
            child.pending,
            qualified("pp", child.key),
            qualified("c", child.key)
        ));
    }
    sql
}

/// The invariant of every erase batch: each row taken from the live table (deleted, anonymized
/// or flagged) has its sealed entry in quarantine, written in the same transaction. Anything
/// else (the request is not registered, a trigger swallowed rows) rolls the batch back.
pub fn check_sealed_all(request_id: &str, table: &TableName, changed: usize, sealed: u64) -> Result<(), UserError> {
    if sealed == changed as u64 {
        return Ok(());
    }
    Err(UserError::runtime(format!(
        "request {request_id}, table {table}: {changed} rows were taken from the live table but {sealed} written to quarantine; the batch was rolled back, nothing changed"
    ))
    .with_hint("check that the request is registered in the source's dsar request table, then run dsar resume"))
}

/// An export that waited `lock_timeout` for an erasure to finish: exit 1, nothing written.
pub fn erasure_under_way(source: &str, why: &str) -> UserError {
    UserError::runtime(format!(
        "source `{source}`: a dsar delete, restore or purge is under way on this database ({why}); no archive was written"
    ))
    .with_hint("export when it has finished (an export never shows a person half-erased), or raise lock_timeout")
}

/// The map's index of the table a quarantined flag entry names; a table the map no longer
/// lists is an error, since purge could not delete its flagged rows.
pub fn flagged_table(tables: &[Table], request_id: &str, schema: &str, name: &str) -> Result<usize, UserError> {
    tables
        .iter()
        .position(|t| t.name.schema == schema && t.name.name == name)
        .ok_or_else(|| {
            let table = TableName {
                schema: schema.into(),
                name: name.into(),
            };
            UserError::runtime(format!(
                "request {request_id} flagged rows in {table}, which the source map no longer lists"
            ))
            .with_hint("add the table back to the map (with its flag_column) so purge can delete those rows")
        })
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
