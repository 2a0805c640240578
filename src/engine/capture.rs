//! The first step of an erasure: record, in one snapshot, the keys of every row a request covers,
//! before any row moves (so `via` chains still see their parents), and check foreign keys
//! against that record. The pending lists are temporary tables of this session; erase batches
//! take their keys from them.

use super::transaction::in_transaction_from;
use super::{on_source, on_table};
use crate::config::OnDelete;
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::backend::{Backend, Statement, Value};
use crate::source::erasure::{Captured, outside_plan_query, require_primary_key};
use crate::source::foreign_key::ForeignKey;
use crate::source::quote::qualified;
use crate::source::select::{push_membership, push_path};

/// Capture the keys of `tables`' rows that belong to the subjects; the count per table.
pub async fn capture(db: &dyn Backend, tables: &[usize], ids: &Identities) -> Result<Vec<u64>, UserError> {
    let d = db.dialect();
    // Every table's statement is built, and its bound values counted, before anything is
    // captured: a request too large for one statement is refused with nothing done (on MySQL a
    // temporary table's index commits). Counted on the statements that run, not on copies
    // built for the count: those cost a batch of 10,000 people 5% of dsar's CPU, twice.
    let mut inserts = Vec::with_capacity(tables.len());
    for &t in tables {
        let config = &d.source().tables[t];
        let key = require_primary_key(config, &d.shapes()[t])?.to_vec();
        let mut insert = d.statement();
        insert.push(&format!(
            "INSERT INTO {} SELECT {} FROM {} t0 WHERE ",
            d.pending_table(t),
            qualified("t0", &key),
            d.table_sql(&config.name)
        ));
        push_membership(d, &mut insert, t, 0, ids);
        // A row flagged by an earlier request is not flagged (nor sealed) again.
        if config.on_delete == OnDelete::Flag
            && let Some(flagged) = d.flagged_sql(t)
        {
            insert.push(&format!(" AND NOT ({flagged})"));
        }
        let bound = insert.bound();
        if bound > d.max_binds() {
            return Err(too_many_people(db, tables, ids, t, bound));
        }
        inserts.push((t, key, insert));
    }
    in_transaction_from(db, d.snapshot_sql(), async {
        let mut counts = Vec::with_capacity(tables.len());
        for (t, key, insert) in inserts {
            for sql in d.create_pending(t, &key) {
                let mut st = d.statement();
                st.push(&sql);
                db.execute(st).await.map_err(on_table(db, t))?;
            }
            counts.push(db.execute(insert).await.map_err(on_table(db, t))?);
            for sql in d.index_pending(t, &key) {
                let mut st = d.statement();
                st.push(&sql);
                db.execute(st).await.map_err(on_table(db, t))?;
            }
        }
        Ok(counts)
    })
    .await
}

/// The refusal of a request whose people the statement about `table` cannot name with its
/// `over` bound values: a capture names every person of the request at once, and MySQL binds
/// each value (each text value twice: as it is, and as bytes) where PostgreSQL and SQLite bind a
/// list as one value. A MySQL server takes at most 65,535 bound values a statement; past that,
/// the server's own error said only "too many placeholders". The hint says how many people do
/// fit every table's statement (the first people of the request, found by halving).
fn too_many_people(db: &dyn Backend, tables: &[usize], ids: &Identities, table: usize, over: usize) -> UserError {
    let d = db.dialect();
    let max = d.max_binds();
    let bound = |t: usize, ids: &Identities| count_statement(db, t, ids).bound();
    let people = ids.count as u32;
    let fits = |n: u32| tables.iter().all(|&t| bound(t, &ids.group(0, n)) <= max);
    let (mut low, mut high) = (0, people);
    while high - low > 1 {
        let mid = low + (high - low) / 2;
        if fits(mid) { low = mid } else { high = mid }
    }
    UserError::usage(format!(
        "source `{}`, table `{}`: one statement would name the {people} people of this request with {over} bound \
         values; a {} server takes at most {max}; nothing changed",
        d.source().name,
        d.source().tables[table].name,
        d.source().kind.name(),
    ))
    .with_hint(format!(
        "split the subjects file into files of at most {} people and run one request for each",
        low.max(1)
    ))
}

/// How many rows of `table` belong to the subjects (for tables dsar leaves alone, and plans).
pub async fn count_rows(db: &dyn Backend, table: usize, ids: &Identities) -> Result<u64, UserError> {
    let st = count_statement(db, table, ids);
    first_count(db.query(st).await.map_err(on_table(db, table))?)
}

/// The statement [`count_rows`] runs: one row, one count.
pub fn count_statement(db: &dyn Backend, table: usize, ids: &Identities) -> Statement {
    let d = db.dialect();
    let mut st = d.statement();
    st.push(&format!(
        "SELECT count(*) FROM {} t0 WHERE ",
        d.table_sql(&d.source().tables[table].name)
    ));
    push_membership(d, &mut st, table, 0, ids);
    st
}

/// How many rows of `table` its `via` path number `path` reaches (for a plan that shows which
/// paths found a table's rows).
pub async fn count_path_rows(db: &dyn Backend, table: usize, path: usize, ids: &Identities) -> Result<u64, UserError> {
    let d = db.dialect();
    let config = &d.source().tables[table];
    let mut st = d.statement();
    st.push(&format!("SELECT count(*) FROM {} t0 WHERE ", d.table_sql(&config.name)));
    push_path(d, &mut st, &config.link.paths()[path], 0, ids);
    first_count(db.query(st).await.map_err(on_table(db, table))?)
}

/// Rows of `table` that belong to the subjects and that its key does not single out: another
/// row has the same key, or part of it is NULL. Only asked of tables identified by the map's
/// `key`, where no constraint makes it unique (a batch would take every row with the key), and
/// before the capture, whose lists are keyed by it.
pub async fn ambiguous_keys(db: &dyn Backend, table: usize, ids: &Identities) -> Result<u64, UserError> {
    let d = db.dialect();
    let key = &d.shapes()[table].primary_key;
    let name = d.table_sql(&d.source().tables[table].name);
    let mut st = d.statement();
    st.push(&format!("SELECT count(*) FROM {name} t0 WHERE "));
    push_membership(d, &mut st, table, 0, ids);
    st.push(&format!(
        " AND (SELECT count(*) FROM {name} k1 WHERE ({}) = ({})) <> 1",
        qualified("k1", key),
        qualified("t0", key)
    ));
    first_count(db.query(st).await.map_err(on_table(db, table))?)
}

/// Rows of the reference's child that point at captured rows of its parent but do not belong to
/// the subjects themselves: someone else's rows sharing the parent row (two people at one
/// address).
pub async fn shared_with_others(
    db: &dyn Backend,
    fk: &ForeignKey,
    parent: usize,
    child: usize,
    ids: &Identities,
) -> Result<u64, UserError> {
    let d = db.dialect();
    let mut st = d.statement();
    st.push(&format!(
        "SELECT count(*) FROM {} t0 WHERE ({}) IN (SELECT {} FROM {} p WHERE ({}) IN (SELECT * FROM {})) AND NOT COALESCE(",
        d.table_sql(&fk.child),
        qualified("t0", &fk.child_columns),
        qualified("p", &fk.parent_columns),
        d.table_sql(&fk.parent),
        qualified("p", &d.shapes()[parent].primary_key),
        d.pending_table(parent)
    ));
    push_membership(d, &mut st, child, 0, ids);
    st.push(", 1 = 0)");
    first_count(db.query(st).await.map_err(on_table(db, child))?)
}

/// Rows of the foreign key's child that reference captured rows of its parent: all of them when
/// `child_captured` is `None`, else only those the child's own capture does not hold.
pub async fn references_outside_plan(
    db: &dyn Backend,
    fk: &ForeignKey,
    parent: usize,
    child_captured: Option<usize>,
) -> Result<u64, UserError> {
    let d = db.dialect();
    let key_of = |t: usize| require_primary_key(&d.source().tables[t], &d.shapes()[t]);
    let parent_capture = Captured {
        pending: d.pending_table(parent),
        key: key_of(parent)?,
    };
    let child_capture = match child_captured {
        Some(child) => Some(Captured {
            pending: d.pending_table(child),
            key: key_of(child)?,
        }),
        None => None,
    };
    let mut st = d.statement();
    st.push(&outside_plan_query(
        fk,
        &d.table_sql(&fk.child),
        &d.table_sql(&fk.parent),
        &parent_capture,
        child_capture.as_ref(),
    ));
    first_count(db.query(st).await.map_err(on_source(db, "cannot check foreign keys"))?)
}

fn first_count(rows: Vec<Vec<Value>>) -> Result<u64, UserError> {
    Ok(rows.first().and_then(|r| r.first()).and_then(Value::int).unwrap_or(0) as u64)
}
