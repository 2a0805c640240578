//! What a delete writes into the register: the values its plan matched, read before any row
//! moves, then completion (or removal, when the request is restored on purpose).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Entry, Matched, Reapplied, Register, Strategy, merge};
use crate::config::{Link, OnDelete, Table};
use crate::error::UserError;
use crate::identity::Identities;
use crate::source::Database;
use crate::state::subject_hash;

/// One table of a plan, as the register needs it.
pub struct Planned<'a> {
    pub source: usize,
    pub table: usize,
    pub strategy: &'a str,
    pub rows: u64,
}

/// The match columns of `table` whose values leave the live row when it is erased with its
/// strategy: every one for quarantine and flag (a flagged row is not live), only the
/// anonymized ones for anonymize; none for retain. Paired with their subject key.
pub fn erased_columns(table: &Table) -> Vec<(String, String)> {
    let Link::Match(pairs) = &table.link else {
        return Vec::new();
    };
    pairs
        .iter()
        .filter(|(_, column)| match table.on_delete {
            OnDelete::Quarantine | OnDelete::Flag => true,
            OnDelete::Anonymize => table.anonymize.iter().any(|(c, _)| c == column),
            OnDelete::Retain => false,
        })
        .cloned()
        .collect()
}

/// The keyed hashes of the values each subject's planned rows hold in their erased match
/// columns: one query per table with rows. A value counts for the subjects it is an identifier
/// of (given, or learnt from their rows): a row is the person's by one of its columns, and the
/// others may hold someone else's value (a message's recipient) or an empty one.
pub async fn matched(
    sources: &[Database<'_>],
    planned: &[Planned<'_>],
    ids: &Identities,
    key: &[u8],
) -> Result<Vec<Matched>, UserError> {
    // (key, value) → the subjects it identifies; lowercased too, for ignore_case columns.
    let mut owners: HashMap<(String, String), Vec<u32>> = HashMap::new();
    let mut folded: HashMap<(String, String), Vec<u32>> = HashMap::new();
    let mut out: BTreeMap<(u32, String, String, String), BTreeSet<String>> = BTreeMap::new();
    for p in planned.iter().filter(|p| p.rows > 0 && p.strategy != "retain") {
        let source = &sources[p.source];
        let table = &source.config().tables[p.table];
        let pairs = erased_columns(table);
        if pairs.is_empty() {
            continue;
        }
        for (id_key, _) in &pairs {
            if owners.keys().any(|(k, _)| k == id_key) {
                continue;
            }
            for (value, subject) in ids.values(id_key).into_iter().zip(ids.subjects(id_key)) {
                folded
                    .entry((id_key.clone(), value.to_lowercase()))
                    .or_default()
                    .push(subject as u32);
                owners.entry((id_key.clone(), value)).or_default().push(subject as u32);
            }
        }
        let columns: Vec<String> = pairs.iter().map(|(_, c)| c.clone()).collect();
        let rows = crate::source::values::matched_values(source.backend(), p.table, &columns, ids).await?;
        for values in rows {
            for ((id_key, column), value) in pairs.iter().zip(&values) {
                let Some(value) = value.as_ref().filter(|v| !v.is_empty()) else {
                    continue;
                };
                let people = if table.ignore_case.contains(column) {
                    folded.get(&(id_key.clone(), value.to_lowercase()))
                } else {
                    owners.get(&(id_key.clone(), value.clone()))
                };
                for &person in people.into_iter().flatten() {
                    out.entry((
                        person,
                        source.config().name.clone(),
                        table.name.to_string(),
                        column.clone(),
                    ))
                    .or_default()
                    .insert(subject_hash(key, id_key, value));
                }
            }
        }
    }
    Ok(out
        .into_iter()
        .map(|((person, source, table, column), hashes)| Matched {
            person,
            source,
            table,
            column,
            hashes: hashes.into_iter().collect(),
        })
        .collect())
}

/// The entry of a delete about to erase: pending until [`complete`].
pub fn pending(
    request_id: &str,
    ticket: Option<&str>,
    strategies: Vec<Strategy>,
    matched: Vec<Matched>,
    reapplied_from: Option<Reapplied>,
) -> Entry {
    Entry {
        request_id: request_id.into(),
        ticket: ticket.map(str::to_string),
        erased_at: crate::clock::now_rfc3339(),
        completed: false,
        reapplied_from,
        strategies,
        allow_multiple: false,
        matched,
        mac: String::new(),
    }
}

/// The delete is complete: its entry is looked for from now on. A reapplied erasure takes over
/// its people from the original entry (which keeps the others, or goes when none are left), so
/// each person is in one entry and a later `reapply` makes one request for them.
pub fn complete(register: &Register, request_id: &str) -> Result<(), UserError> {
    let _lock = register.lock()?;
    let Some(mut entry) = register.get(request_id)? else {
        // A request planned by a release without the register.
        return Ok(());
    };
    entry.completed = true;
    entry.erased_at = crate::clock::now_rfc3339();
    // The rows are erased already: a damaged original must not fail this request. It keeps
    // its people (and is reported as damaged by the next check).
    let original = match &entry.reapplied_from {
        Some(from) => register.get(&from.request_id).unwrap_or_else(|e| {
            eprintln!("warning: {}", e.message);
            None
        }),
        None => None,
    };
    if let Some(from) = entry.reapplied_from.clone()
        && let Some(mut original) = original
    {
        let taken: Vec<Matched> = original
            .matched
            .iter()
            .filter_map(|m| {
                let now = from.people.iter().position(|&p| p == m.person)?;
                Some(Matched {
                    person: now as u32,
                    ..m.clone()
                })
            })
            .collect();
        merge(&mut entry.matched, taken);
        original.matched.retain(|m| !from.people.contains(&m.person));
        register.write(entry)?;
        if original.matched.is_empty() {
            register.remove(&original.request_id)?;
        } else {
            register.write(original)?;
        }
        return Ok(());
    }
    register.write(entry)
}
