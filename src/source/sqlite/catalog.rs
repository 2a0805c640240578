//! What `sqlite_schema` and the table pragmas say about the mapped tables.

use rusqlite::Connection;

use crate::config::{Source, TableName};
use crate::error::{UserError, suggestion};
use crate::source::foreign_key::{ForeignKey, OnParentDelete};
use crate::source::shape::{Column, ColumnKind, TableShape};

/// How SQLite compares and stores a column's values, from its declared type (SQLite's own
/// rules, "Determination Of Column Affinity").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affinity {
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

impl Affinity {
    pub fn of(declared: &str) -> Affinity {
        let t = declared.to_ascii_uppercase();
        if t.contains("INT") {
            Affinity::Integer
        } else if t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT") {
            Affinity::Text
        } else if t.contains("BLOB") || t.is_empty() {
            Affinity::Blob
        } else if t.contains("REAL") || t.contains("FLOA") || t.contains("DOUB") {
            Affinity::Real
        } else {
            Affinity::Numeric
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Affinity::Integer | Affinity::Real | Affinity::Numeric)
    }
}

pub struct Loaded {
    pub shapes: Vec<TableShape>,
    pub affinities: Vec<Vec<Affinity>>,
    pub has_rowid: Vec<bool>,
}

/// Read every mapped table's columns and key, and check the map's names against them.
pub fn load(conn: &Connection, source: &Source) -> Result<Loaded, UserError> {
    let fail =
        |e: rusqlite::Error| UserError::runtime(format!("source `{}`: cannot read the schema: {e}", source.name));
    let mut loaded = Loaded {
        shapes: Vec::new(),
        affinities: Vec::new(),
        has_rowid: Vec::new(),
    };
    for table in &source.tables {
        let schema = table.name.schema.as_str();
        let mut stmt = conn
            .prepare("SELECT name, type, pk, hidden FROM pragma_table_xinfo(?1, ?2) ORDER BY cid")
            .map_err(fail)?;
        let columns: Vec<(String, String, i64, i64)> = stmt
            .query_map((&table.name.name, schema), |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(fail)?
            .collect::<Result<_, _>>()
            .map_err(fail)?;
        if columns.is_empty() {
            return Err(missing_table(conn, source, &table.name, &table.location));
        }
        let mut key: Vec<(i64, String)> = Vec::new();
        let mut shape = TableShape {
            columns: Vec::new(),
            primary_key: Vec::new(),
            key_from_map: false,
            bulk_load: false,
        };
        let mut affinities = Vec::new();
        for (name, declared, pk, hidden) in columns {
            // hidden 1: a virtual table's hidden column, never data.
            if hidden == 1 {
                continue;
            }
            if pk > 0 {
                key.push((pk, name.clone()));
            }
            let affinity = Affinity::of(&declared);
            affinities.push(affinity);
            shape.columns.push(Column {
                name,
                base_type: declared,
                kind: if affinity == Affinity::Blob {
                    ColumnKind::Bytea
                } else {
                    ColumnKind::Other
                },
                text_like: matches!(affinity, Affinity::Text | Affinity::Blob),
                max_len: None,
                generated: hidden >= 2,
            });
        }
        key.sort();
        shape.primary_key = key.into_iter().map(|(_, c)| c).collect();
        let ddl: Option<String> = conn
            .query_row(
                &format!(
                    "SELECT sql FROM {}.sqlite_schema WHERE name = ?1",
                    crate::source::quote::ident(schema)
                ),
                [&table.name.name],
                |r| r.get(0),
            )
            .unwrap_or(None);
        let ddl = ddl.unwrap_or_default().to_ascii_uppercase();
        let is_view = ddl.trim_start().starts_with("CREATE VIEW");
        loaded.has_rowid.push(!is_view && !ddl.contains("WITHOUT ROWID"));
        loaded.shapes.push(shape);
        loaded.affinities.push(affinities);
    }
    crate::source::shape::apply_map_keys(source, &mut loaded.shapes)?;
    Ok(loaded)
}

fn missing_table(conn: &Connection, source: &Source, name: &TableName, location: &str) -> UserError {
    let all: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_default();
    UserError::usage(format!(
        "{location}: table `{}` does not exist in source `{}`{}",
        name.name,
        source.name,
        suggestion(&name.name, all.iter().map(String::as_str))
    ))
    .with_hint("names are case-sensitive and literal, as the schema has them")
}

/// Every foreign key, from any table of the main database, whose parent is a mapped table,
/// with table names as the map writes them.
pub fn foreign_keys(conn: &Connection, source: &Source) -> rusqlite::Result<Vec<ForeignKey>> {
    let mapped = |name: &TableName| -> Option<TableName> {
        source
            .tables
            .iter()
            .find(|t| t.name.name == name.name && t.name.schema == "main")
            .map(|t| t.name.clone())
    };
    Ok(all_foreign_keys(conn)?
        .into_iter()
        .filter_map(|mut fk| {
            fk.parent = mapped(&fk.parent)?;
            if let Some(child) = mapped(&fk.child) {
                fk.child = child;
            }
            Some(fk)
        })
        .collect())
}

/// Every foreign key between the tables of the main database (dsar's own tables aside).
pub fn all_foreign_keys(conn: &Connection) -> rusqlite::Result<Vec<ForeignKey>> {
    let main = |name: &str| TableName {
        schema: "main".into(),
        name: name.to_string(),
    };
    let mut out = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?1, 'main') ORDER BY id, seq",
    )?;
    for child in user_tables(conn)? {
        let rows: Vec<(i64, String, String, Option<String>, String)> = stmt
            .query_map([&child], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<Result<_, _>>()?;
        let mut i = 0;
        while i < rows.len() {
            let id = rows[i].0;
            let group: Vec<_> = rows[i..].iter().take_while(|r| r.0 == id).collect();
            i += group.len();
            // `REFERENCES parent` without columns means the parent's primary key.
            let parent_columns: Vec<String> = if group.iter().all(|r| r.3.is_some()) {
                group.iter().filter_map(|r| r.3.clone()).collect()
            } else {
                primary_key(conn, &group[0].1)?
            };
            out.push(ForeignKey {
                name: format!("{child}#{id}"),
                child: main(&child),
                child_columns: group.iter().map(|r| r.2.clone()).collect(),
                parent: main(&group[0].1),
                parent_columns,
                on_delete: OnParentDelete::from_rule(&group[0].4),
            });
        }
    }
    Ok(out)
}

/// The tables of the main database that hold data: not SQLite's, not dsar's quarantine.
pub fn user_tables(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'dsar\\_%' ESCAPE '\\' ORDER BY name",
    )?
    .query_map([], |r| r.get(0))?
    .collect()
}

/// A table's primary key columns, in key order.
pub fn primary_key(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    conn.prepare("SELECT name FROM pragma_table_info(?1, 'main') WHERE pk > 0 ORDER BY pk")?
        .query_map([table], |r| r.get(0))?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affinity_follows_sqlites_rules() {
        assert_eq!(Affinity::of("INTEGER"), Affinity::Integer);
        assert_eq!(Affinity::of("NVARCHAR(40)"), Affinity::Text);
        assert_eq!(Affinity::of(""), Affinity::Blob);
        assert_eq!(Affinity::of("DOUBLE PRECISION"), Affinity::Real);
        assert_eq!(Affinity::of("NUMERIC(10,2)"), Affinity::Numeric);
        assert_eq!(Affinity::of("DATETIME"), Affinity::Numeric);
        // "POINT" holds "INT": SQLite's own rule, kept on purpose.
        assert_eq!(Affinity::of("FLOATING POINT"), Affinity::Integer);
    }
}
