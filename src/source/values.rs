//! Match-column values read as text, for the erasure register: the values a plan matched (to
//! remember who was erased) and a keyset scan of a whole table (to find them live again after a
//! backup is restored). Both read a column the way identity expansion does ([`Dialect::text_sql`]),
//! so a value hashed when it was erased hashes the same when it is found again.

use super::backend::{Backend, Value};
use super::cell::Cell;
use super::quote::{ident, qualified};
use super::select::push_membership;
use crate::error::UserError;
use crate::identity::Identities;

/// The distinct values of `columns` (as text) among the rows of `table` that belong to the
/// subjects: one statement for the whole batch. Which subject a value is of is the caller's to
/// tell from the identifiers, so no per-row owners list is computed.
pub async fn matched_values(
    db: &dyn Backend,
    table: usize,
    columns: &[String],
    ids: &Identities,
) -> Result<Vec<Vec<Option<String>>>, UserError> {
    let d = db.dialect();
    let mut st = d.statement();
    st.push("SELECT DISTINCT ");
    st.push(&text_columns(db, columns));
    st.push(&format!(
        " FROM {} t0 WHERE ",
        d.table_sql(&d.source().tables[table].name)
    ));
    push_membership(d, &mut st, table, 0, ids);
    let rows = db.query(st).await.map_err(|e| e.context(on(db, table)))?;
    Ok(rows
        .into_iter()
        .map(|row| row.into_iter().map(Value::text).collect())
        .collect())
}

/// One page of a keyset scan of `table`: its primary key `pk` and the text of `columns`, for the
/// `limit` rows after `after` in key order, leaving out rows that `skip` (a condition on `t0`)
/// holds for. Each page costs the same however far the scan has come.
pub async fn scan_page(
    db: &dyn Backend,
    table: usize,
    pk: &[String],
    columns: &[String],
    skip: Option<&str>,
    after: Option<&[Cell]>,
    limit: i64,
) -> Result<Vec<(Vec<Cell>, Vec<Option<String>>)>, UserError> {
    let d = db.dialect();
    let mut st = d.statement();
    st.push("SELECT ")
        .join(pk, ", ", |st, c| {
            st.push(&d.read_cell(table, "t0", c));
        })
        .push(", ")
        .push(&text_columns(db, columns))
        .push(&format!(
            " FROM {} t0 WHERE 1 = 1",
            d.table_sql(&d.source().tables[table].name)
        ));
    if let Some(skip) = skip {
        st.push(&format!(" AND NOT ({skip})"));
    }
    if let Some(after) = after {
        st.push(" AND (")
            .push(&qualified("t0", pk))
            .push(") > (")
            .join(&pk.iter().zip(after).collect::<Vec<_>>(), ", ", |st, (c, cell)| {
                d.bind_cell(st, table, c, cell);
            })
            .push(")");
    }
    st.push(" ORDER BY ")
        .push(&qualified("t0", pk))
        .push(" LIMIT ")
        .bind(limit);
    let rows = db.query(st).await.map_err(|e| e.context(on(db, table)))?;
    Ok(rows
        .into_iter()
        .map(|mut row| {
            let values = row.split_off(pk.len());
            (
                row.into_iter().map(Cell::from_value).collect(),
                values.into_iter().map(Value::text).collect(),
            )
        })
        .collect())
}

fn text_columns(db: &dyn Backend, columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| db.dialect().text_sql(&format!("t0.{}", ident(c))))
        .collect::<Vec<_>>()
        .join(", ")
}

fn on(db: &dyn Backend, table: usize) -> String {
    format!(
        "source `{}`, table `{}`",
        db.dialect().source().name,
        db.dialect().source().tables[table].name
    )
}
