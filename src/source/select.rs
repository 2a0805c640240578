//! Which rows belong to a batch of subjects, written once for every kind of database.
//!
//! The map links each table to the subjects either directly (`match`: a column holds one of the
//! subject's values) or through a parent (`via`: the row's columns equal a parent row's key). The
//! walk along those links is the same everywhere and lives here; a kind's [`Dialect`] writes only
//! the leaves: how a column is compared with a bound list of values, how the subjects a `match`
//! row belongs to are listed, and how lists of parent rows are joined into one. Two expressions
//! come out, evaluated by the server so that one statement serves a whole batch:
//! - the **membership** condition (`t0` belongs to one of the subjects), for export, capture and
//!   counts;
//! - the **owners** list (which subjects of the batch `t0` belongs to), for batch exports and for
//!   learning one key of a subject from another. A `via` row reads its parent's owners from a
//!   join to the parent's rows grouped by the columns it refers to ([`push_owner_joins`]).

use super::backend::{Backend, Dialect, MatchOwners, Statement, Value};
use super::kind_sql::OwnersGroup;
use super::quote::{ident, qualified};
use crate::config::{Link, ViaPath};
use crate::error::UserError;
use crate::identity::Identities;

/// Append the condition that the row aliased `t{depth}` of `table` belongs to one of the
/// subjects. A `via` chain becomes nested `IN (SELECT …)` subqueries: the server walks it.
pub fn push_membership(d: &dyn Dialect, st: &mut Statement, table: usize, depth: usize, ids: &Identities) {
    let alias = format!("t{depth}");
    match &d.source().tables[table].link {
        Link::Match(pairs) => {
            let pairs: Vec<&(String, String)> = pairs.iter().filter(|(key, _)| ids.has(key)).collect();
            if pairs.is_empty() {
                st.push("(1 = 0)");
                return;
            }
            st.push("(");
            st.join(&pairs, " OR ", |st, (key, column)| {
                d.push_match(st, table, &alias, column, &ids.values(key));
            });
            st.push(")");
        }
        Link::Via(paths) => {
            // Any path reaches the row; the row is still one row (a condition, not a join).
            st.push("(");
            st.join(paths, " OR ", |st, path| push_path(d, st, path, depth, ids));
            st.push(")");
        }
    }
}

/// Append the condition that the row aliased `t{depth}` is reached through `path`: its columns
/// equal those of a parent row that belongs to one of the subjects.
pub fn push_path(d: &dyn Dialect, st: &mut Statement, path: &ViaPath, depth: usize, ids: &Identities) {
    let inner = format!("t{}", depth + 1);
    st.push(&format!(
        "({}) IN (SELECT {} FROM {} {inner} WHERE ",
        qualified(&format!("t{depth}"), &path.columns),
        qualified(&inner, &path.parent_columns),
        d.table_sql(&d.source().tables[path.parent].name)
    ));
    push_membership(d, st, path.parent, depth + 1, ids);
    st.push(")");
}

/// Append the expression that lists which subjects of the batch the row aliased `t{depth}` of
/// `table` belongs to (read back by [`owners`]). For a `via` table it reads the joins
/// [`push_owner_joins`] put after the row's table, so those must be in the statement's `FROM`.
pub fn push_owners(d: &dyn Dialect, st: &mut Statement, table: usize, depth: usize, ids: &Identities) {
    let alias = format!("t{depth}");
    match &d.source().tables[table].link {
        Link::Match(pairs) => {
            let pairs: Vec<(String, String)> = pairs.iter().filter(|(key, _)| ids.has(key)).cloned().collect();
            if pairs.is_empty() {
                st.push(d.kind_sql().no_owners);
            } else {
                d.push_match_owners(
                    st,
                    &MatchOwners {
                        table,
                        alias: &alias,
                        pairs: &pairs,
                        ids,
                    },
                );
            }
        }
        Link::Via(paths) => {
            let lists: Vec<String> = (0..paths.len())
                .map(|i| format!("{}.o", join_alias(depth, i)))
                .collect();
            if let [list] = lists.as_slice() {
                st.push(list);
            } else {
                let (open, separator, close) = d.kind_sql().owners_union;
                st.push(open).push(&lists.join(separator)).push(close);
            }
        }
    }
}

/// The alias of the join that gives path `path` of the row `t{depth}` its parent's owners.
fn join_alias(depth: usize, path: usize) -> String {
    format!("dsar_j{depth}_{path}")
}

/// Append, after the `FROM` item of the row aliased `t{depth}` of `table`, one `LEFT JOIN` per
/// `via` path: the parent rows that belong to the subjects, grouped by the columns the child
/// refers to, each group with the owners of its rows (`o`). The server works a parent's owners
/// out once per statement, not once per child row in a correlated subquery per level: on a
/// batch of 100 people that made order items 3× slower to read than this. Several parent rows
/// may share those columns (no key, or a reused one); the group joins their owners, and the
/// child row is still one row. Nothing for a `match` table.
pub fn push_owner_joins(d: &dyn Dialect, st: &mut Statement, table: usize, depth: usize, ids: &Identities) {
    let Link::Via(paths) = &d.source().tables[table].link else {
        return;
    };
    let inner = format!("t{}", depth + 1);
    for (i, path) in paths.iter().enumerate() {
        let join = join_alias(depth, i);
        let keys: Vec<String> = (0..path.parent_columns.len()).map(|k| format!("k{k}")).collect();
        let grouped = qualified(&inner, &path.parent_columns);
        st.push(" LEFT JOIN (SELECT ");
        for (column, key) in path.parent_columns.iter().zip(&keys) {
            st.push(&format!("{inner}.{} AS {}, ", ident(column), ident(key)));
        }
        let from = format!(" FROM {} {inner}", d.table_sql(&d.source().tables[path.parent].name));
        // The parent's list is bound values for a `match` parent (its joins are none) and names
        // of its joins for a `via` one: either way the binds come in the order written.
        match d.kind_sql().owners_group {
            OwnersGroup::Aggregate(open, close) => {
                st.push(open);
                push_owners(d, st, path.parent, depth + 1, ids);
                st.push(close).push(" AS o").push(&from);
                push_owner_joins(d, st, path.parent, depth + 1, ids);
            }
            OwnersGroup::Unnest {
                select,
                from: (open, close),
            } => {
                st.push(select).push(" AS o").push(&from);
                push_owner_joins(d, st, path.parent, depth + 1, ids);
                st.push(open);
                push_owners(d, st, path.parent, depth + 1, ids);
                st.push(close);
            }
        }
        st.push(" WHERE ");
        push_membership(d, st, path.parent, depth + 1, ids);
        st.push(&format!(
            " GROUP BY {grouped}) {join} ON ({}) = ({})",
            qualified(&format!("t{depth}"), &path.columns),
            qualified(&join, &keys)
        ));
    }
}

/// The export query of `table`: `lead` (select expressions ending in `, `, such as a page key),
/// the owners when the batch has several subjects, then the exported columns as the kind reads
/// them ([`Dialect::export_columns`]), of the rows that belong to the subjects. A kind appends
/// its paging after it.
pub fn export_query(
    d: &dyn Dialect,
    table: usize,
    exported: &[usize],
    with_owners: bool,
    ids: &Identities,
    lead: &str,
) -> Statement {
    let mut st = d.statement();
    st.push("SELECT ").push(lead);
    if with_owners {
        push_owners(d, &mut st, table, 0, ids);
        st.push(", ");
    }
    if exported.is_empty() {
        st.push(d.kind_sql().no_columns);
    } else {
        st.push(&d.export_columns(table, exported).join(", "));
    }
    st.push(&format!(" FROM {} t0", d.table_sql(&d.source().tables[table].name)));
    if with_owners {
        push_owner_joins(d, &mut st, table, 0, ids);
    }
    st.push(" WHERE ");
    push_membership(d, &mut st, table, 0, ids);
    st
}

/// Refuse, before any query, a subject value that a column it is matched against cannot hold
/// (`customer_id=abc` against an integer): the operator's input, so it exits 2. `fits(table,
/// column, value)` says whether it can; `what` names what it must be.
pub fn check_subject_values(
    d: &dyn Dialect,
    ids: &Identities,
    what: &str,
    fits: impl Fn(usize, usize, &str) -> bool,
) -> Result<(), UserError> {
    for (t, table) in d.source().tables.iter().enumerate() {
        let Link::Match(pairs) = &table.link else { continue };
        for (key, column) in pairs {
            let Some(c) = d.shapes()[t].columns.iter().position(|c| &c.name == column) else {
                continue;
            };
            if ids.values(key).iter().any(|v| !fits(t, c, v)) {
                return Err(UserError::usage(format!(
                    "--subject {key}: not {what}, but it is matched against {}.{column} (of type {})",
                    table.name,
                    d.shapes()[t].columns[c].base_type
                ))
                .with_hint("a --subject value must fit the type of the column it is matched against"));
            }
        }
    }
    Ok(())
}

/// The subjects of a batch of `count` an owners expression listed: an integer array, or its
/// text in any of the forms the kinds produce (`{0,2}`, `[0,2]`, `0,2,2`), sorted and without
/// repeats. A number is a subject modulo `count` (PostgreSQL lists the positions of the values
/// it found, where subject 0 is at `count`; the others list subjects).
pub fn owners(value: Value, count: usize) -> Vec<u32> {
    let count = u32::try_from(count.max(1)).unwrap_or(u32::MAX);
    let mut out: Vec<u32> = match value {
        Value::IntArray(a) => a.into_iter().filter_map(|o| u32::try_from(o).ok()).collect(),
        Value::Text(t) => t
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse().ok())
            .collect(),
        Value::Int(i) => u32::try_from(i).ok().into_iter().collect(),
        _ => Vec::new(),
    };
    for o in &mut out {
        *o %= count;
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Add to `ids` what `match` tables with several keys say about the subjects (an email found
/// gives the row's user id, and the other way round). Returns whether anything new was learnt;
/// callers repeat until nothing is.
pub async fn expand_identities(db: &dyn Backend, ids: &mut Identities) -> Result<bool, UserError> {
    let d = db.dialect();
    let mut learnt = false;
    for (t, table) in d.source().tables.iter().enumerate() {
        let Link::Match(pairs) = &table.link else { continue };
        if crate::config::distinct_keys(pairs) < 2 {
            continue;
        }
        let label = format!("{}: {}", d.source().name, table.name);
        // Rows are learnt from only through a key held in one column: a row found through
        // `alt_email` may be someone else's account that names the person's address, and its
        // customer id is not theirs. A key held in several columns (`email` and `alt_email`)
        // is searched in each, but not learnt from them: which one is the person's is not known.
        let learns: Vec<bool> = pairs
            .iter()
            .map(|(key, _)| pairs.iter().filter(|(k, _)| k == key).count() == 1)
            .collect();
        // A group of subjects a statement: which of them a row belongs to is worked out per
        // row over the group's values (a row of 10,000 people's was compared with all 10,000:
        // 3.5 s of a 5.3 s erasure of them), so a statement's cost stays that of its rows.
        // Groups name different subjects, so what one group learns changes no other group's
        // statement: [`GROUPS_IN_FLIGHT`] of them are sent at once, and PostgreSQL's pipeline
        // keeps the server busy while the next statement is built.
        let groups: Vec<u32> = (0..ids.count as u32).step_by(EXPANSION_GROUP).collect();
        for window in groups.chunks(GROUPS_IN_FLIGHT) {
            let queries: Vec<_> = window
                .iter()
                .filter_map(|&start| {
                    let group = ids.group(start, (start as usize + EXPANSION_GROUP).min(ids.count) as u32);
                    let trusted: Vec<(String, String)> = pairs
                        .iter()
                        .zip(&learns)
                        .filter(|((key, _), learns)| **learns && group.has(key))
                        .map(|(pair, _)| pair.clone())
                        .collect();
                    (!trusted.is_empty()).then_some((start, group, trusted))
                })
                .collect();
            let found = futures_util::future::try_join_all(
                queries
                    .iter()
                    .map(|(_, group, trusted)| group_rows(db, t, pairs, trusted, group)),
            )
            .await?;
            for ((start, _, _), rows) in queries.iter().zip(found) {
                for (owners, matched) in rows {
                    for owner in owners {
                        let owner = owner + start;
                        ids.note_row(&label, owner, matched.clone());
                        for (((key, _), value), learns) in pairs.iter().zip(&matched).zip(&learns) {
                            if let Some(value) = value
                                && *learns
                            {
                                learnt |= ids.insert(key, value, owner);
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(learnt)
}

/// How many subjects one statement of [`expand_identities`] looks up.
const EXPANSION_GROUP: usize = 100;

/// How many statements of [`expand_identities`] are sent before their rows are read.
const GROUPS_IN_FLIGHT: usize = 4;

/// The rows of `table` that `group`'s values of the `trusted` keys match: for each, the
/// subjects of the group it belongs to and its values of every matched column (`pairs`).
async fn group_rows(
    db: &dyn Backend,
    t: usize,
    pairs: &[(String, String)],
    trusted: &[(String, String)],
    group: &Identities,
) -> Result<Vec<(Vec<u32>, Vec<Option<String>>)>, UserError> {
    let d = db.dialect();
    let table = &d.source().tables[t];
    let mut st = d.statement();
    st.push("SELECT ");
    d.push_match_owners(
        &mut st,
        &MatchOwners {
            table: t,
            alias: "t0",
            pairs: trusted,
            ids: group,
        },
    );
    for (_, column) in pairs {
        st.push(", ")
            .push(&d.text_sql(&format!("t0.{}", super::quote::ident(column))));
    }
    st.push(&format!(" FROM {} t0 WHERE (", d.table_sql(&table.name)));
    st.join(trusted, " OR ", |st, (key, column)| {
        d.push_match(st, t, "t0", column, &group.values(key));
    });
    st.push(")");
    let rows = db
        .query(st)
        .await
        .map_err(|e| e.context(format!("source `{}`, table `{}`", d.source().name, table.name)))?;
    Ok(rows
        .into_iter()
        .map(|mut row| {
            let matched: Vec<Option<String>> = row.drain(1..).map(Value::text).collect();
            (owners(row.pop().unwrap_or(Value::Null), group.count), matched)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_read_back_from_every_form() {
        assert_eq!(owners(Value::Text("2,0,2,,1".into()), 5), vec![0, 1, 2]);
        assert_eq!(owners(Value::Text("[0,2]".into()), 5), vec![0, 2]);
        assert_eq!(owners(Value::Text("{3,1}".into()), 5), vec![1, 3]);
        assert_eq!(owners(Value::IntArray(vec![4, 4, -1]), 5), vec![4]);
        assert_eq!(owners(Value::Null, 5), Vec::<u32>::new());
        // PostgreSQL's positions: subject 0 at the batch's size.
        assert_eq!(owners(Value::IntArray(vec![5, 3, 8]), 5), vec![0, 3]);
    }
}
