//! Foreign keys into mapped tables: they order deletes (children first) and restores (parents
//! first), and decide what `delete` must refuse.

use crate::config::TableName;

/// What the database does to a child row when its parent row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnParentDelete {
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl OnParentDelete {
    pub fn from_code(code: u8) -> OnParentDelete {
        match code {
            b'r' => OnParentDelete::Restrict,
            b'c' => OnParentDelete::Cascade,
            b'n' => OnParentDelete::SetNull,
            b'd' => OnParentDelete::SetDefault,
            _ => OnParentDelete::NoAction,
        }
    }

    /// The rule as the SQL standard's catalogs write it (`SET NULL`).
    pub fn from_rule(rule: &str) -> OnParentDelete {
        [
            OnParentDelete::Cascade,
            OnParentDelete::SetNull,
            OnParentDelete::SetDefault,
            OnParentDelete::Restrict,
        ]
        .into_iter()
        .find(|r| r.sql().eq_ignore_ascii_case(rule.trim()))
        .unwrap_or(OnParentDelete::NoAction)
    }

    pub fn sql(self) -> &'static str {
        match self {
            OnParentDelete::NoAction => "NO ACTION",
            OnParentDelete::Restrict => "RESTRICT",
            OnParentDelete::Cascade => "CASCADE",
            OnParentDelete::SetNull => "SET NULL",
            OnParentDelete::SetDefault => "SET DEFAULT",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ForeignKey {
    pub name: String,
    pub child: TableName,
    pub child_columns: Vec<String>,
    pub parent: TableName,
    pub parent_columns: Vec<String>,
    pub on_delete: OnParentDelete,
}
