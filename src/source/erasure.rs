//! What erasure steps report back, and what they write, the same for every kind of database.

use crate::config::AnonRule;

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
