//! The SQL dsar sends to PostgreSQL, built from the map and the catalog.
//!
//! Two rules hold everywhere: identifiers from the map are always quoted by [`ident`], and subject
//! values only ever travel as bound array parameters (`= ANY($n)`), so one query serves a whole
//! batch of subjects. A `via` chain becomes nested `IN (SELECT …)` subqueries: the server walks it.

use std::collections::HashMap;

use tokio_postgres::types::ToSql;

use super::catalog::{ColumnKind, TableShape};
use crate::config::{Link, Table, TableName};
use crate::identity::Identities;
use crate::source::backend::Value;

pub use crate::source::quote::{ident, qualified};

/// `"schema"."table"`.
pub fn table_ident(name: &TableName) -> String {
    format!("{}.{}", ident(&name.schema), ident(&name.name))
}

/// The parameters of one statement. Each subject key's values (and owners) are bound once, however
/// often the statement refers to them.
#[derive(Default)]
pub struct Params {
    values: Vec<Box<dyn ToSql + Sync + Send>>,
    /// The same values as the erasure engine binds them.
    mirror: Vec<Value>,
    slots: HashMap<(String, bool), usize>,
}

impl Params {
    /// `$n` holding the values of `key` (text[]).
    fn values_of(&mut self, ids: &Identities, key: &str) -> String {
        let values = ids.values(key);
        let mirror = Value::TextArray(values.iter().cloned().map(Some).collect());
        self.slot(key, false, mirror, || Box::new(values))
    }

    /// `$n` holding, parallel to the values, which subject each belongs to (int4[]).
    fn owners_of(&mut self, ids: &Identities, key: &str) -> String {
        let owners = ids.subjects(key);
        let mirror = Value::IntArray(owners.iter().map(|&o| i64::from(o)).collect());
        self.slot(key, true, mirror, || Box::new(owners))
    }

    fn slot(
        &mut self,
        key: &str,
        owners: bool,
        mirror: Value,
        make: impl FnOnce() -> Box<dyn ToSql + Sync + Send>,
    ) -> String {
        let next = self.values.len();
        let n = *self.slots.entry((key.to_string(), owners)).or_insert(next);
        if n == next {
            self.values.push(make());
            self.mirror.push(mirror);
        }
        format!("${}", n + 1)
    }

    /// The values as the erasure engine binds them, in placeholder order.
    pub fn into_values(self) -> Vec<Value> {
        self.mirror
    }

    pub fn as_refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values.iter().map(|b| b.as_ref() as &(dyn ToSql + Sync)).collect()
    }
}

/// The mapped tables of one source with their catalog shapes: all the SQL builder needs.
pub struct Schema<'a> {
    pub tables: &'a [Table],
    pub shapes: &'a [TableShape],
}

impl Schema<'_> {
    fn cast(&self, table: usize, column: &str) -> String {
        let base = self.shapes[table]
            .column(column)
            .map_or("text", |c| c.base_type.as_str());
        format!("{base}[]")
    }

    /// A boolean expression: the row aliased `t{depth}` of `table` belongs to one of the subjects.
    pub fn membership(&self, table: usize, depth: usize, ids: &Identities, params: &mut Params) -> String {
        let alias = format!("t{depth}");
        match &self.tables[table].link {
            Link::Match(pairs) => {
                let conditions: Vec<String> = pairs
                    .iter()
                    .filter(|(key, _)| ids.has(key))
                    .map(|(key, column)| {
                        let values = params.values_of(ids, key);
                        format!(
                            "{alias}.{} = ANY({values}::text[]::{})",
                            ident(column),
                            self.cast(table, column)
                        )
                    })
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

    /// An int4[] expression: which subjects of the batch the row aliased `t{depth}` belongs to.
    /// Evaluated by the server per row (a correlated subquery), so a batch is still one query.
    pub fn owners(&self, table: usize, depth: usize, ids: &Identities, params: &mut Params) -> String {
        let alias = format!("t{depth}");
        match &self.tables[table].link {
            Link::Match(pairs) => {
                let parts: Vec<String> = pairs
                    .iter()
                    .filter(|(key, _)| ids.has(key))
                    .map(|(key, column)| {
                        let values = params.values_of(ids, key);
                        let owners = params.owners_of(ids, key);
                        format!(
                            "SELECT u.s FROM unnest({values}::text[]::{}, {owners}::int4[]) AS u(v, s) WHERE u.v = {alias}.{}",
                            self.cast(table, column),
                            ident(column)
                        )
                    })
                    .collect();
                if parts.is_empty() {
                    "ARRAY[]::int4[]".to_string()
                } else {
                    format!("ARRAY({})", parts.join(" UNION "))
                }
            }
            Link::Via {
                parent,
                columns,
                parent_columns,
            } => {
                let inner = format!("t{}", depth + 1);
                format!(
                    "ARRAY(SELECT DISTINCT x FROM {} {inner}, unnest({}) AS x WHERE ({}) = ({}))",
                    table_ident(&self.tables[*parent].name),
                    self.owners(*parent, depth + 1, ids, params),
                    qualified(&inner, parent_columns),
                    qualified(&alias, columns)
                )
            }
        }
    }

    /// The export query of a table: optionally the owners array first, then one JSON value per
    /// exported column, in catalog order.
    pub fn export_query(
        &self,
        table: usize,
        exported: &[usize],
        with_owners: bool,
        ids: &Identities,
    ) -> (String, Params) {
        let mut params = Params::default();
        let mut select: Vec<String> = Vec::new();
        if with_owners {
            select.push(self.owners(table, 0, ids, &mut params));
        }
        for &i in exported {
            let column = &self.shapes[table].columns[i];
            let c = format!("t0.{}", ident(&column.name));
            select.push(match column.kind {
                // PostgreSQL's base64 wraps lines at 76 characters; strip the breaks.
                ColumnKind::Bytea => format!("to_jsonb(translate(encode({c}, 'base64'), E'\\n', ''))"),
                ColumnKind::Json => c,
                ColumnKind::Other => format!("to_jsonb({c})"),
            });
        }
        if select.is_empty() {
            select.push("'null'::jsonb".into());
        }
        let membership = self.membership(table, 0, ids, &mut params);
        let sql = format!(
            "SELECT {} FROM {} t0 WHERE {membership}",
            select.join(", "),
            table_ident(&self.tables[table].name)
        );
        (sql, params)
    }

    /// The identity query of a `match` table: owners, then each matched column as text.
    pub fn identity_query(&self, table: usize, ids: &Identities) -> Option<(String, Params, Vec<String>)> {
        let Link::Match(pairs) = &self.tables[table].link else {
            return None;
        };
        let mut params = Params::default();
        let owners = self.owners(table, 0, ids, &mut params);
        let columns: Vec<String> = pairs.iter().map(|(_, c)| format!("t0.{}::text", ident(c))).collect();
        let membership = self.membership(table, 0, ids, &mut params);
        let sql = format!(
            "SELECT {owners}, {} FROM {} t0 WHERE {membership}",
            columns.join(", "),
            table_ident(&self.tables[table].name)
        );
        Some((sql, params, pairs.iter().map(|(k, _)| k.clone()).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_with_quotes_and_dots() {
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("we\"ird"), "\"we\"\"ird\"");
        let t = TableName {
            schema: "Shop".into(),
            name: "a.b".into(),
        };
        assert_eq!(table_ident(&t), "\"Shop\".\"a.b\"");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::ident;

    proptest! {
        /// Whatever a name holds (quotes, semicolons, comment marks), its quoted form is one
        /// identifier that reads back as exactly that name.
        #[test]
        fn quoting_round_trips_any_name(name in "[^\\x00]{0,40}") {
            let quoted = ident(&name);
            prop_assert!(quoted.starts_with('"') && quoted.ends_with('"'));
            let inner = &quoted[1..quoted.len() - 1];
            prop_assert!(!inner.replace("\"\"", "").contains('"'), "no lone quote ends it early");
            prop_assert_eq!(inner.replace("\"\"", "\""), name);
        }
    }
}
