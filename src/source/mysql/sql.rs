//! SQL for MySQL/MariaDB sources. Sessions run with `ANSI_QUOTES`, so identifiers are quoted
//! with double quotes exactly as on PostgreSQL; subject values are always bound (`IN (?, ?)`
//! lists), so a batch of subjects is still one statement per table.

use mysql_async::Value as SqlValue;

use crate::config::{Link, Table, TableName};
use crate::identity::Identities;
use crate::source::shape::TableShape;

pub use crate::source::quote::{ident, qualified};

/// `"schema"."table"`, or just `"table"` for the connection's database (a bare name in the map).
pub fn table_ident(name: &TableName) -> String {
    if name.schema.is_empty() {
        ident(&name.name)
    } else {
        format!("{}.{}", ident(&name.schema), ident(&name.name))
    }
}

/// `(?, ?, ?)` for `n` values, bound as text (MySQL converts them to the column's type).
fn placeholders(values: &[String], params: &mut Vec<SqlValue>) -> String {
    params.extend(values.iter().map(|v| SqlValue::from(v.as_str())));
    format!("({})", vec!["?"; values.len()].join(", "))
}

pub struct Schema<'a> {
    pub tables: &'a [Table],
    pub shapes: &'a [TableShape],
}

impl Schema<'_> {
    /// `column IN (?, …)` of the row aliased `alias`, exact: on a text column the usual
    /// collations ignore case and trailing spaces (`Customer-1@Example.com` would match
    /// `customer-1@example.com`), so the values are compared again as bytes. The first test
    /// still finds the rows by the column's index.
    fn matches(
        &self,
        table: usize,
        alias: &str,
        column: &str,
        values: &[String],
        params: &mut Vec<SqlValue>,
    ) -> String {
        let loose = format!("{alias}.{} IN {}", ident(column), placeholders(values, params));
        if !self.shapes[table].column(column).is_some_and(|c| c.text_like) {
            return loose;
        }
        params.extend(values.iter().map(|v| SqlValue::from(v.as_str())));
        format!(
            "({loose} AND CAST({alias}.{} AS BINARY) IN ({}))",
            ident(column),
            vec!["CAST(? AS BINARY)"; values.len()].join(", ")
        )
    }

    /// A boolean expression: the row aliased `t{depth}` of `table` belongs to one of the subjects.
    pub fn membership(&self, table: usize, depth: usize, ids: &Identities, params: &mut Vec<SqlValue>) -> String {
        let alias = format!("t{depth}");
        match &self.tables[table].link {
            Link::Match(pairs) => {
                let conditions: Vec<String> = pairs
                    .iter()
                    .filter(|(key, _)| ids.has(key))
                    .map(|(key, column)| self.matches(table, &alias, column, &ids.values(key), params))
                    .collect();
                if conditions.is_empty() {
                    "FALSE".to_string()
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

    /// A text expression: the comma-separated subjects of the batch the row aliased `t{depth}`
    /// belongs to (repeats possible; the reader dedupes). Evaluated per row by the server.
    pub fn owners(&self, table: usize, depth: usize, ids: &Identities, params: &mut Vec<SqlValue>) -> String {
        let alias = format!("t{depth}");
        match &self.tables[table].link {
            Link::Match(pairs) => {
                let per_subject: Vec<String> = (0..ids.count as u32)
                    .filter_map(|s| {
                        let known = ids.of_subject(s);
                        let tests: Vec<String> = pairs
                            .iter()
                            .filter_map(|(key, column)| {
                                let values: Vec<String> =
                                    known.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect();
                                (!values.is_empty()).then(|| self.matches(table, &alias, column, &values, params))
                            })
                            .collect();
                        (!tests.is_empty()).then(|| format!("IF({}, '{s}', NULL)", tests.join(" OR ")))
                    })
                    .collect();
                if per_subject.is_empty() {
                    "''".to_string()
                } else {
                    format!("CONCAT_WS(',', {})", per_subject.join(", "))
                }
            }
            Link::Via {
                parent,
                columns,
                parent_columns,
            } => {
                let inner = format!("t{}", depth + 1);
                format!(
                    "(SELECT GROUP_CONCAT({} SEPARATOR ',') FROM {} {inner} WHERE ({}) = ({}))",
                    self.owners(*parent, depth + 1, ids, params),
                    table_ident(&self.tables[*parent].name),
                    qualified(&inner, parent_columns),
                    qualified(&alias, columns)
                )
            }
        }
    }
}

/// The subjects an owners expression named.
pub fn parse_owners(text: Option<&str>) -> Vec<u32> {
    let mut out: Vec<u32> = text
        .unwrap_or_default()
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_read_back_deduplicated() {
        assert_eq!(parse_owners(Some("2,0,2,,1")), vec![0, 1, 2]);
        assert_eq!(parse_owners(None), Vec::<u32>::new());
        let t = TableName {
            schema: String::new(),
            name: "Invoice\"Line".into(),
        };
        assert_eq!(table_ident(&t), "\"Invoice\"\"Line\"");
    }
}
