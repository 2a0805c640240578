//! The erasure plan: per table the strategy, the rows it covers and the order, and everything
//! `delete` must refuse before it changes a single row.

use serde::Serialize;

use crate::config::{AnonRule, OnDelete};
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::Database;
use crate::source::foreign_key::{ForeignKey, OnParentDelete};

/// One table of the plan, in execution order.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    #[serde(skip)]
    pub source: usize,
    #[serde(skip)]
    pub table: usize,
    #[serde(rename = "source")]
    pub source_name: String,
    #[serde(rename = "table")]
    pub table_name: String,
    pub strategy: &'static str,
    pub rows: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_reason: Option<String>,
    /// For a table reached by several `via` paths: the rows each path finds (a row reached by
    /// two paths counts under both, and once in `rows`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<PathRows>,
}

/// The rows one `via` path reaches.
#[derive(Debug, Clone, Serialize)]
pub struct PathRows {
    /// `parent_table (column = parent_column)`.
    pub via: String,
    pub rows: u64,
}

#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Why `delete` will not run; each names the table, the constraint and the fix.
    pub refusals: Vec<String>,
    /// What the operator should know about how far the refusals go (a schema without foreign
    /// keys): printed as warnings, and in `--json`.
    pub notes: Vec<String>,
    /// Command sources: `external` (their delete_run erases, for good) or `manual` (no
    /// delete_run: the operator erases by hand). `rows` counts subjects, not records.
    pub external: Vec<Step>,
}

impl Plan {
    /// Capture the rows of every table, check foreign keys against the capture, and order the
    /// tables children first. Changes no data (the capture lives in session temp tables).
    pub async fn build(sources: &[Database<'_>], ids: &Identities) -> Result<Plan, UserError> {
        let mut plan = Plan::default();
        for (s, source) in sources.iter().enumerate() {
            check_anonymize_rules(source)?;
            let tables = &source.config().tables;
            let acting: Vec<usize> = (0..tables.len())
                .filter(|&t| tables[t].on_delete != OnDelete::Retain)
                .collect();
            let counts = crate::engine::capture(source.backend(), &acting, ids).await?;
            let declared = source.foreign_keys().await?;
            if acting.len() > 1 && !declared.iter().any(|fk| between_mapped(source, fk)) {
                plan.notes.push(format!(
                    "source `{}` declares no foreign keys between its mapped tables: delete refuses only what the \
                     map's `via` links show; run `dsar check` for columns that look like references",
                    source.config().name
                ));
            }
            let fks = with_map_references(source, declared);
            plan.refusals.extend(ambiguous_keys(source, &acting, ids).await?);
            plan.refusals
                .extend(refusals(source, &acting, &counts, &fks, ids).await?);

            for t in children_first(source, &acting, &fks) {
                let rows = counts[acting.iter().position(|&a| a == t).unwrap_or(0)];
                let mut step = step(source, s, t, rows);
                step.paths = path_rows(source, t, ids).await?;
                plan.steps.push(step);
            }
            for (t, table) in tables
                .iter()
                .enumerate()
                .filter(|(_, t)| t.on_delete == OnDelete::Retain)
            {
                let rows = crate::engine::count_rows(source.backend(), t, ids).await?;
                let mut retained = step(source, s, t, rows);
                retained.paths = path_rows(source, t, ids).await?;
                retained.retain_reason = Some(
                    table
                        .retain_reason
                        .clone()
                        .unwrap_or_else(|| "(no reason given)".into()),
                );
                plan.steps.push(retained);
            }
        }
        Ok(plan)
    }

    pub fn total_rows(&self) -> u64 {
        self.steps
            .iter()
            .filter(|s| !matches!(s.strategy, "retain" | "external" | "manual"))
            .map(|s| s.rows)
            .sum()
    }

    /// The command sources of `config` as plan steps for `subjects` people.
    pub fn external_steps(config: &crate::config::Config, subjects: usize) -> Vec<Step> {
        config
            .commands()
            .map(|c| Step {
                source: usize::MAX,
                table: usize::MAX,
                source_name: c.name.clone(),
                table_name: crate::export::RECORDS.into(),
                strategy: if c.delete_run.is_some() { "external" } else { "manual" },
                rows: subjects as u64,
                retain_reason: None,
                paths: Vec::new(),
            })
            .collect()
    }

    /// The plan as an operator reads it.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("  {:<5} {:<12} {:>9}  table\n", "order", "strategy", "rows"));
        for (i, step) in self.steps.iter().enumerate() {
            let order = if matches!(step.strategy, "retain" | "external" | "manual") {
                "-".to_string()
            } else {
                (i + 1).to_string()
            };
            out.push_str(&format!(
                "  {order:<5} {:<12} {:>9}  {}: {}",
                step.strategy, step.rows, step.source_name, step.table_name
            ));
            if let Some(reason) = &step.retain_reason {
                out.push_str(&format!("  (kept: {reason})"));
            }
            for path in &step.paths {
                out.push_str(&format!(
                    "\n  {:<5} {:<12} {:>9}    via {}",
                    "", "", path.rows, path.via
                ));
            }
            match step.strategy {
                "external" => out.push_str("  (subjects; delete_run erases there, not restorable)"),
                "manual" => out.push_str("  (subjects; no delete_run: erase them there by hand)"),
                _ => {}
            }
            out.push('\n');
        }
        for refusal in &self.refusals {
            out.push_str(&format!("  refused: {refusal}\n"));
        }
        out
    }
}

/// Whether both ends of `fk` are tables of the map.
fn between_mapped(source: &Database<'_>, fk: &ForeignKey) -> bool {
    let tables = &source.config().tables;
    tables.iter().any(|t| t.name == fk.child) && tables.iter().any(|t| t.name == fk.parent)
}

/// The name [`with_map_references`] gives the references it reads off the map.
const MAP_LINK: &str = "(the map's via)";

/// `fks`, and the references the map's `via` paths imply where the schema declares none between
/// the two tables: a path from a table's own key to a parent's other columns
/// (`address.address_id = customer.address_id`) means the parent's rows point at it. Another
/// person's row pointing at the same address is then refused like a foreign key would be,
/// instead of losing its address. (A path the usual way round, child to the parent's key, ties
/// every referencing row to the subject already.)
fn with_map_references(source: &Database<'_>, mut fks: Vec<ForeignKey>) -> Vec<ForeignKey> {
    let tables = &source.config().tables;
    let same = |a: &[String], b: &[String]| {
        let (mut a, mut b) = (a.to_vec(), b.to_vec());
        a.sort();
        b.sort();
        !a.is_empty() && a == b
    };
    for (t, table) in tables.iter().enumerate() {
        for path in table.link.paths() {
            let p = path.parent;
            let own_key = same(&path.columns, &source.shapes()[t].primary_key);
            let parent_key = same(&path.parent_columns, &source.shapes()[p].primary_key);
            let declared = fks.iter().any(|fk| {
                (fk.child == tables[p].name && fk.parent == table.name)
                    || (fk.child == table.name && fk.parent == tables[p].name)
            });
            if own_key && !parent_key && !declared && p != t {
                fks.push(ForeignKey {
                    name: MAP_LINK.into(),
                    child: tables[p].name.clone(),
                    child_columns: path.parent_columns.clone(),
                    parent: table.name.clone(),
                    parent_columns: path.columns.clone(),
                    on_delete: OnParentDelete::NoAction,
                });
            }
        }
    }
    fks
}

/// How a refusal names the reference it is about.
fn constraint_text(fk: &ForeignKey) -> String {
    if fk.name == MAP_LINK {
        format!(
            "the map's via link {}({}) → {}({}) (no foreign key declares it)",
            fk.child,
            fk.child_columns.join(", "),
            fk.parent,
            fk.parent_columns.join(", ")
        )
    } else {
        format!("constraint {} ({} ON DELETE {})", fk.name, fk.child, fk.on_delete.sql())
    }
}

/// The rows each `via` path of `table` reaches, when it has several.
async fn path_rows(source: &Database<'_>, table: usize, ids: &Identities) -> Result<Vec<PathRows>, UserError> {
    let tables = &source.config().tables;
    let paths = tables[table].link.paths();
    if paths.len() < 2 {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(paths.len());
    for (i, path) in paths.iter().enumerate() {
        out.push(PathRows {
            via: format!(
                "{} ({})",
                tables[path.parent].name,
                path.columns
                    .iter()
                    .zip(&path.parent_columns)
                    .map(|(c, p)| format!("{c} = {p}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            rows: crate::engine::count_path_rows(source.backend(), table, i, ids).await?,
        });
    }
    Ok(out)
}

fn step(source: &Database<'_>, s: usize, t: usize, rows: u64) -> Step {
    let table = &source.config().tables[t];
    Step {
        source: s,
        table: t,
        source_name: source.config().name.clone(),
        table_name: table.name.to_string(),
        strategy: table.on_delete.name(),
        rows,
        retain_reason: None,
        paths: Vec::new(),
    }
}

/// What `delete` would refuse for this map whatever the person, foreseen from the catalog
/// alone (for `dsar check`): anonymize rules a column cannot take, tables that reference a
/// table delete empties but that the map does not cover, and kept tables whose rows would lose
/// their parent. (Rows the map covers but does not tie to the person depend on the data, and are
/// found by the delete's plan.)
pub fn foreseen_refusals(source: &Database<'_>, fks: &[ForeignKey]) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = check_anonymize_rules(source) {
        out.push(e.message);
    }
    let tables = &source.config().tables;
    let index = |name: &crate::config::TableName| tables.iter().position(|t| &t.name == name);
    for fk in fks {
        let Some(parent) = index(&fk.parent) else { continue };
        let parent_strategy = tables[parent].on_delete;
        if !matches!(parent_strategy, OnDelete::Quarantine | OnDelete::Flag) {
            continue;
        }
        let constraint = format!("constraint {} ({} ON DELETE {})", fk.name, fk.child, fk.on_delete.sql());
        match index(&fk.child) {
            None => out.push(format!("delete would refuse: {}", uncovered(fk, &constraint))),
            Some(child) => {
                if !goes_along(parent_strategy, tables[child].on_delete) && child != parent {
                    out.push(format!(
                        "delete would refuse whenever a person has rows in {}: they are kept (on_delete = \"{}\") but \
                         reference {} through {constraint}, which delete empties; set on_delete = \"quarantine\" for {}, \
                         or anonymize {} instead",
                        fk.child,
                        tables[child].on_delete.name(),
                        fk.parent,
                        fk.child,
                        fk.parent
                    ));
                }
            }
        }
    }
    out
}

/// `redact` and `hash` write text: refuse them on columns that cannot hold it.
fn check_anonymize_rules(source: &Database<'_>) -> Result<(), UserError> {
    for (t, table) in source.config().tables.iter().enumerate() {
        for (column, rule) in &table.anonymize {
            let Some(col) = source.shapes()[t].column(column) else {
                continue;
            };
            if matches!(rule, AnonRule::Redact | AnonRule::Hash) && !col.text_like {
                return Err(UserError::usage(format!(
                    "{}: anonymize `{column}` = \"{}\" needs a text column, but it is {}",
                    table.location,
                    if *rule == AnonRule::Redact { "redact" } else { "hash" },
                    col.base_type
                ))
                .with_hint("use \"null\" or a literal value of the column's type"));
            }
        }
    }
    Ok(())
}

/// Foreign keys into tables whose rows will be deleted must not lose or block anything the
/// map does not cover: an uncovered child table (whatever its ON DELETE), covered rows that the
/// map does not tie to the subject, or covered rows that are kept while their parent goes.
/// The subject's rows, in tables identified by the map's `key`, that their key does not single
/// out; one refusal per such table.
async fn ambiguous_keys(source: &Database<'_>, acting: &[usize], ids: &Identities) -> Result<Vec<String>, UserError> {
    let mut out = Vec::new();
    for &t in acting {
        let shape = &source.shapes()[t];
        if !shape.key_from_map {
            continue;
        }
        let ambiguous = crate::engine::ambiguous_keys(source.backend(), t, ids).await?;
        if ambiguous > 0 {
            out.push(format!(
                "{ambiguous} of the subject's row(s) in {} are not singled out by its key ({}): another row has the \
                 same key, or part of it is NULL; name columns that identify each row in `key`, or add a primary key",
                source.config().tables[t].name,
                shape.primary_key.join(", ")
            ));
        }
    }
    Ok(out)
}

async fn refusals(
    source: &Database<'_>,
    acting: &[usize],
    counts: &[u64],
    fks: &[ForeignKey],
    ids: &Identities,
) -> Result<Vec<String>, UserError> {
    let tables = &source.config().tables;
    let index = |name: &crate::config::TableName| tables.iter().position(|t| &t.name == name);
    let mut out = Vec::new();
    for fk in fks {
        let Some(parent) = index(&fk.parent) else { continue };
        if fk.name == MAP_LINK {
            // A row the map reaches through another's reference, changed in any way (taken,
            // flagged or anonymized), is taken from everyone else who points at it too.
            let parent_rows = acting.iter().position(|&a| a == parent).map_or(0, |i| counts[i]);
            let Some(child) = index(&fk.child) else { continue };
            if parent_rows == 0 {
                continue;
            }
            let shared = crate::engine::shared_with_others(source.backend(), fk, parent, child, ids).await?;
            if shared > 0 {
                out.push(format!(
                    "{shared} row(s) of {} that are not the subject's point at the subject's rows in {} through {}: \
                     those rows are shared with someone else; set on_delete = \"retain\" for {}, or settle the \
                     shared rows by hand first",
                    fk.child,
                    fk.parent,
                    constraint_text(fk),
                    fk.parent
                ));
            }
            continue;
        }
        // Quarantined parents leave at once; flagged ones are hard-deleted by purge. Either way a
        // child row still pointing at them would block the delete or go with it.
        let parent_strategy = tables[parent].on_delete;
        if !matches!(parent_strategy, OnDelete::Quarantine | OnDelete::Flag) {
            continue;
        }
        let parent_rows = acting.iter().position(|&a| a == parent).map_or(0, |i| counts[i]);
        let constraint = constraint_text(fk);
        match index(&fk.child) {
            None => out.push(uncovered(fk, &constraint)),
            Some(child) if parent_rows > 0 => {
                let child_acts = goes_along(parent_strategy, tables[child].on_delete);
                if child_acts && acting.contains(&child) && captured_through(fk, parent, &tables[child]) {
                    continue;
                }
                let outside = crate::engine::references_outside_plan(
                    source.backend(),
                    fk,
                    parent,
                    child_acts.then_some(child).filter(|c| acting.contains(c)),
                )
                .await?;
                if outside == 0 {
                    continue;
                }
                if child_acts {
                    out.push(format!(
                        "{outside} row(s) of {} reference the subject's rows in {} through {constraint} but the map \
                         does not tie them to the subject; deleting would {} them",
                        fk.child,
                        fk.parent,
                        if fk.on_delete == OnParentDelete::Cascade {
                            "silently delete"
                        } else {
                            "break or alter"
                        }
                    ));
                } else {
                    out.push(format!(
                        "{outside} row(s) of {} are kept (on_delete = \"{}\") but reference the subject's rows in {} \
                         through {constraint}; set on_delete = \"quarantine\" for {}, or anonymize {} instead",
                        fk.child,
                        tables[child].on_delete.name(),
                        fk.parent,
                        fk.child,
                        fk.parent
                    ));
                }
            }
            Some(_) => {}
        }
    }
    Ok(out)
}

/// The refusal for a table that references one delete empties but that the map does not cover,
/// with the map entry that fixes it.
fn uncovered(fk: &ForeignKey, constraint: &str) -> String {
    format!(
        "table {} references {} through {constraint}, but the source map does not cover it; \
         add [[sources.tables]] table = \"{}\" via = {{ table = \"{}\", column = {}, parent_column = {} }}",
        fk.child,
        fk.parent,
        fk.child,
        fk.parent,
        toml_list(&fk.child_columns),
        toml_list(&fk.parent_columns)
    )
}

/// Whether the child's capture holds, by construction, every row that references a captured
/// parent row through `fk`: the child is quarantined (its capture is its membership, unfiltered)
/// and reached through a `via` path on exactly the reference's columns, so the capture took
/// every row whose columns equal those of a parent row that belongs to the subjects — a superset
/// of the captured parents. Counting the rows outside it would count none in the capture's
/// snapshot, and costs a scan of the child's rows per captured parent (0.8 s on a million rows).
fn captured_through(fk: &ForeignKey, parent: usize, child: &crate::config::Table) -> bool {
    let pairs = |a: &[String], b: &[String]| {
        let mut v: Vec<(String, String)> = a.iter().cloned().zip(b.iter().cloned()).collect();
        v.sort();
        v
    };
    let wanted = pairs(&fk.child_columns, &fk.parent_columns);
    child.on_delete == OnDelete::Quarantine
        && child.link.paths().iter().any(|path| {
            path.parent == parent
                && path.columns.len() == fk.child_columns.len()
                && pairs(&path.columns, &path.parent_columns) == wanted
        })
}

/// Whether a child leaves no later than its parent, so delete may take it along: quarantined
/// with a quarantined parent; quarantined or flagged (purged first) with a flagged one.
fn goes_along(parent: OnDelete, child: OnDelete) -> bool {
    match parent {
        OnDelete::Flag => matches!(child, OnDelete::Quarantine | OnDelete::Flag),
        _ => child == OnDelete::Quarantine,
    }
}

fn toml_list(columns: &[String]) -> String {
    match columns {
        [one] => format!("\"{one}\""),
        many => format!(
            "[{}]",
            many.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// `tables` ordered so that a table referencing another comes before it (deletes go children
/// first; restores walk this backwards): by the foreign keys the schema declares, and, where
/// none ties two tables, by the map's `via` (a table found through another's rows goes before
/// it). Ties keep map order; a cycle falls back to map order.
pub fn children_first(source: &Database<'_>, tables: &[usize], fks: &[ForeignKey]) -> Vec<usize> {
    order_by(tables, &edges(source, tables, fks))
}

/// The order a restore brings `tables` back in: parents first, as [`children_first`] walked
/// backwards, and, where nothing else ties two tables, a table that identifies people (matched
/// by several subject keys) before the tables matched by one of its keys. So when a person's
/// row cannot come back (its key now belongs to someone else), what was matched through that
/// row's identifiers is known to be held before it is restored under the new owner.
pub fn restore_order(source: &Database<'_>, tables: &[usize], fks: &[ForeignKey]) -> Vec<usize> {
    let names = &source.config().tables;
    let mut unique: Vec<usize> = Vec::with_capacity(tables.len());
    for &t in tables {
        if !unique.contains(&t) {
            unique.push(t);
        }
    }
    let tables = &unique[..];
    let mut edges = edges(source, tables, fks);
    for &people in tables {
        let crate::config::Link::Match(keys) = &names[people].link else {
            continue;
        };
        if crate::config::distinct_keys(keys) < 2 {
            continue;
        }
        for &t in tables {
            if let crate::config::Link::Match(theirs) = &names[t].link
                && t != people
                && theirs.iter().any(|(key, _)| keys.iter().any(|(k, _)| k == key))
                && !edges
                    .iter()
                    .any(|&(a, b)| (a, b) == (people, t) || (a, b) == (t, people))
            {
                edges.push((t, people));
            }
        }
    }
    let mut order = order_by(tables, &edges);
    order.reverse();
    order
}

/// (child, parent) pairs among `tables`: declared foreign keys, and the map's `via` where no
/// key ties the two.
fn edges(source: &Database<'_>, tables: &[usize], fks: &[ForeignKey]) -> Vec<(usize, usize)> {
    let names = &source.config().tables;
    let mut edges: Vec<(usize, usize)> = fks
        .iter()
        .filter_map(|fk| {
            let child = tables.iter().copied().find(|&t| names[t].name == fk.child)?;
            let parent = tables.iter().copied().find(|&t| names[t].name == fk.parent)?;
            (child != parent).then_some((child, parent))
        })
        .collect();
    for &t in tables {
        for path in names[t].link.paths() {
            let parent = path.parent;
            if parent != t
                && tables.contains(&parent)
                && !edges
                    .iter()
                    .any(|&(a, b)| (a, b) == (parent, t) || (a, b) == (t, parent))
            {
                edges.push((t, parent));
            }
        }
    }
    edges
}

/// `tables` with every child before its parent; ties keep the given order, a cycle falls back
/// to it.
fn order_by(tables: &[usize], edges: &[(usize, usize)]) -> Vec<usize> {
    let mut left: Vec<usize> = tables.to_vec();
    let mut order = Vec::with_capacity(tables.len());
    while !left.is_empty() {
        // A table goes next when no table still left references it.
        let next = left
            .iter()
            .position(|&t| {
                !edges
                    .iter()
                    .any(|&(child, parent)| parent == t && left.contains(&child))
            })
            .unwrap_or(0);
        order.push(left.remove(next));
    }
    order
}
