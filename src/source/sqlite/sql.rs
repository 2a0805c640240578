//! SQL for SQLite sources. Identifiers are quoted; subject values are bound as JSON arrays and
//! read back with `json_each`, so a batch of subjects is still one statement per table.

use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use super::catalog::Affinity;
use super::value;
use crate::config::{Link, Table, TableName};
use crate::identity::Identities;
use crate::source::shape::TableShape;

pub use crate::source::quote::{ident, qualified};

/// The schema (attached database) a map's table lives in; a bare name in the map is `main`.
pub fn schema_name(name: &TableName) -> &str {
    &name.schema
}

pub fn table_ident(name: &TableName) -> String {
    format!("{}.{}", ident(schema_name(name)), ident(&name.name))
}

/// The mapped tables of one source with their shapes and affinities.
pub struct Schema<'a> {
    pub tables: &'a [Table],
    pub shapes: &'a [TableShape],
    pub affinities: &'a [Vec<Affinity>],
}

impl Schema<'_> {
    fn affinity(&self, table: usize, column: &str) -> Affinity {
        self.shapes[table]
            .columns
            .iter()
            .position(|c| c.name == column)
            .map_or(Affinity::Blob, |i| self.affinities[table][i])
    }

    /// The subject values of `key` as JSON the column compares equal with: numbers for numeric
    /// columns, strings for text, both for untyped columns (which store what they were given).
    fn typed_values(&self, table: usize, column: &str, ids: &Identities, key: &str) -> Vec<(Value, u32)> {
        let affinity = self.affinity(table, column);
        ids.values(key)
            .into_iter()
            .zip(ids.subjects(key))
            .flat_map(|(text, owner)| {
                let mut out = Vec::new();
                let number = value::number(&text);
                if affinity.is_numeric() || affinity == Affinity::Blob {
                    out.extend(number.map(|n| (n, owner as u32)));
                }
                if !affinity.is_numeric() {
                    out.push((Value::String(text), owner as u32));
                }
                out
            })
            .collect()
    }

    /// A boolean expression: the row aliased `t{depth}` of `table` belongs to one of the subjects.
    pub fn membership(&self, table: usize, depth: usize, ids: &Identities, params: &mut Vec<SqlValue>) -> String {
        let alias = format!("t{depth}");
        match &self.tables[table].link {
            Link::Match(pairs) => {
                let conditions: Vec<String> = pairs
                    .iter()
                    .filter(|(key, _)| ids.has(key))
                    .map(|(key, column)| {
                        let values: Vec<Value> = self
                            .typed_values(table, column, ids, key)
                            .into_iter()
                            .map(|(v, _)| v)
                            .collect();
                        params.push(SqlValue::Text(Value::Array(values).to_string()));
                        format!(
                            "{alias}.{} IN (SELECT value FROM json_each(?{}))",
                            ident(column),
                            params.len()
                        )
                    })
                    .collect();
                if conditions.is_empty() {
                    "0".to_string()
                } else {
                    format!("({})", conditions.join(" OR "))
                }
            }
            Link::Via {
                parent,
                columns,
                parent_columns,
            } => {
                let inner = format!("t{}", depth + 1);
                format!(
                    "({}) IN (SELECT {} FROM {} {inner} WHERE {})",
                    qualified(&alias, columns),
                    qualified(&inner, parent_columns),
                    table_ident(&self.tables[*parent].name),
                    self.membership(*parent, depth + 1, ids, params)
                )
            }
        }
    }

    /// A JSON-array expression: which subjects of the batch the row aliased `t{depth}` belongs
    /// to, evaluated per row by SQLite so a batch is still one query.
    pub fn owners(&self, table: usize, depth: usize, ids: &Identities, params: &mut Vec<SqlValue>) -> String {
        let alias = format!("t{depth}");
        match &self.tables[table].link {
            Link::Match(pairs) => {
                let parts: Vec<String> = pairs
                    .iter()
                    .filter(|(key, _)| ids.has(key))
                    .map(|(key, column)| {
                        let pairs: Vec<Value> = self
                            .typed_values(table, column, ids, key)
                            .into_iter()
                            .map(|(v, owner)| Value::Array(vec![v, owner.into()]))
                            .collect();
                        params.push(SqlValue::Text(Value::Array(pairs).to_string()));
                        format!(
                            "SELECT json_extract(p.value, '$[1]') AS o FROM json_each(?{}) p \
                             WHERE json_extract(p.value, '$[0]') = {alias}.{}",
                            params.len(),
                            ident(column)
                        )
                    })
                    .collect();
                if parts.is_empty() {
                    "'[]'".to_string()
                } else {
                    format!("(SELECT json_group_array(o) FROM ({}))", parts.join(" UNION "))
                }
            }
            Link::Via {
                parent,
                columns,
                parent_columns,
            } => {
                let inner = format!("t{}", depth + 1);
                format!(
                    "(SELECT json_group_array(DISTINCT x.value) FROM {} {inner}, json_each({}) x WHERE ({}) = ({}))",
                    table_ident(&self.tables[*parent].name),
                    self.owners(*parent, depth + 1, ids, params),
                    qualified(&inner, parent_columns),
                    qualified(&alias, columns)
                )
            }
        }
    }

    /// The export query of a table: the rowid (when `paged`; then two more parameters follow:
    /// the last rowid read and the page size), the owners (optional), then each exported column.
    pub fn export_query(
        &self,
        table: usize,
        exported: &[usize],
        with_owners: bool,
        paged: bool,
        ids: &Identities,
    ) -> (String, Vec<SqlValue>) {
        let mut params = Vec::new();
        let mut select: Vec<String> = Vec::new();
        if paged {
            select.push("t0.rowid".into());
        }
        if with_owners {
            select.push(self.owners(table, 0, ids, &mut params));
        }
        for &i in exported {
            select.push(format!("t0.{}", ident(&self.shapes[table].columns[i].name)));
        }
        if select.is_empty() {
            select.push("NULL".into());
        }
        let membership = self.membership(table, 0, ids, &mut params);
        let mut sql = format!(
            "SELECT {} FROM {} t0 WHERE {membership}",
            select.join(", "),
            table_ident(&self.tables[table].name)
        );
        if paged {
            sql.push_str(&format!(
                " AND t0.rowid > ?{} ORDER BY t0.rowid LIMIT ?{}",
                params.len() + 1,
                params.len() + 2
            ));
        }
        (sql, params)
    }

    /// The identity query of a `match` table: owners, then each matched column as text.
    pub fn identity_query(&self, table: usize, ids: &Identities) -> Option<(String, Vec<SqlValue>, Vec<String>)> {
        let Link::Match(pairs) = &self.tables[table].link else {
            return None;
        };
        let mut params = Vec::new();
        let owners = self.owners(table, 0, ids, &mut params);
        let columns: Vec<String> = pairs
            .iter()
            .map(|(_, c)| format!("CAST(t0.{} AS TEXT)", ident(c)))
            .collect();
        let membership = self.membership(table, 0, ids, &mut params);
        let sql = format!(
            "SELECT {owners}, {} FROM {} t0 WHERE {membership}",
            columns.join(", "),
            table_ident(&self.tables[table].name)
        );
        Some((sql, params, pairs.iter().map(|(k, _)| k.clone()).collect()))
    }
}
