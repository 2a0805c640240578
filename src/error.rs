//! Errors the user can act on, and the exit code each one maps to.
//!
//! Anything that is not a [`UserError`] is a run-time failure (exit 1). A `UserError` carries the
//! kind that decides the exit code, a one-line message, and optionally a hint that says what to do.

use std::fmt;

/// The exit codes of DESIGN.md.
// Flagged, Refused and Cancelled are raised by erasure and the ledger, which land after export.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Bad usage or configuration; nothing was changed (exit 2).
    Usage,
    /// Failed at run time (exit 1).
    Runtime,
    /// Done, but some items need manual review (exit 3).
    Flagged,
    /// Refused for safety; nothing was changed (exit 4).
    Refused,
    /// Cancelled by the operator (exit 130).
    Cancelled,
}

impl ExitKind {
    pub fn code(self) -> i32 {
        match self {
            ExitKind::Runtime => 1,
            ExitKind::Usage => 2,
            ExitKind::Flagged => 3,
            ExitKind::Refused => 4,
            ExitKind::Cancelled => 130,
        }
    }
}

/// An error with a message written for the operator.
#[derive(Debug)]
pub struct UserError {
    pub kind: ExitKind,
    pub message: String,
    pub hint: Option<String>,
    /// What the database said, classified where the error arose (by SQLSTATE or error code),
    /// so callers decide on the kind and never on the message's text.
    pub db: Option<DbErrorKind>,
}

/// The kinds of database failure dsar decides on, the same for every kind of database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    /// A unique or primary-key constraint refused the row.
    UniqueViolation,
    /// A foreign key refused the row (a missing parent) or its removal (a child still refers).
    ForeignKeyViolation,
    /// A check or not-null constraint refused the row.
    CheckViolation,
    /// A value the column's type cannot hold (a mistyped subject, an out-of-range number).
    BadValue,
    /// A lock or statement timeout ran out.
    LockTimeout,
    /// The server rolled the transaction back to break a deadlock (or a serialization
    /// conflict): nothing of it was applied, and the same transaction may simply run again.
    Deadlock,
    /// The connection went away (a server restart, a network cut).
    ConnectionLost,
    /// Anything else.
    Other,
}

impl DbErrorKind {
    /// The live table refused a row: a constraint, not an unwell database. Restore flags such a
    /// row for review and goes on with the others.
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            DbErrorKind::UniqueViolation | DbErrorKind::ForeignKeyViolation | DbErrorKind::CheckViolation
        )
    }
}

impl UserError {
    /// Bad usage or configuration: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        UserError {
            kind: ExitKind::Usage,
            message: message.into(),
            hint: None,
            db: None,
        }
    }

    /// A run-time failure with a message meant for the operator: exit 1.
    pub fn runtime(message: impl Into<String>) -> Self {
        UserError {
            kind: ExitKind::Runtime,
            message: message.into(),
            hint: None,
            db: None,
        }
    }

    /// Stopped on the operator's request (Ctrl-C, SIGTERM, `dsar cancel`): exit 130.
    pub fn cancelled(message: impl Into<String>) -> Self {
        UserError {
            kind: ExitKind::Cancelled,
            message: message.into(),
            hint: None,
            db: None,
        }
    }

    /// Record what kind of database failure this is.
    pub fn with_db(mut self, kind: DbErrorKind) -> Self {
        self.db = Some(kind);
        self
    }

    /// Whether the live table refused a row (see [`DbErrorKind::is_refusal`]).
    pub fn is_refusal(&self) -> bool {
        self.db.is_some_and(DbErrorKind::is_refusal)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// The closest of `candidates` to `given`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(given, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// " (did you mean `x`?)" or "".
pub fn suggestion<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    match did_you_mean(given, candidates) {
        Some(c) => format!("; did you mean `{c}`?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("tabel", ["table", "match", "via"]), Some("table"));
        assert_eq!(did_you_mean("zzz", ["table", "match", "via"]), None);
    }
}
