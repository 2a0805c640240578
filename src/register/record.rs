//! What a delete writes into the register: the values its plan matched, read before any row
//! moves, then completion (or removal, when the request is restored on purpose).

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
/// columns: one query per table with rows.
pub async fn matched(
    sources: &[Database<'_>],
    planned: &[Planned<'_>],
    ids: &Identities,
    key: &[u8],
) -> Result<Vec<Matched>, UserError> {
    let mut out = Vec::new();
    let known: Vec<std::collections::HashSet<(String, String)>> = (0..ids.count as u32)
        .map(|i| ids.of_subject(i).into_iter().collect())
        .collect();
    for p in planned.iter().filter(|p| p.rows > 0 && p.strategy != "retain") {
        let source = &sources[p.source];
        let table = &source.config().tables[p.table];
        let pairs = erased_columns(table);
        if pairs.is_empty() {
            continue;
        }
        let columns: Vec<String> = pairs.iter().map(|(_, c)| c.clone()).collect();
        let rows = crate::source::values::matched_values(source.backend(), p.table, &columns, ids).await?;
        let mut found = Vec::new();
        for (people, values) in rows {
            for ((id_key, column), value) in pairs.iter().zip(&values) {
                let Some(value) = value else { continue };
                for &person in &people {
                    // A row is the person's by one of its columns; the others may hold someone
                    // else's value (a message's recipient) or an empty one. Only the person's
                    // own identifiers are theirs to be found by.
                    let fold = table.ignore_case.contains(column);
                    let theirs = known[person as usize].iter().any(|(k, v)| {
                        k == id_key && (v == value || (fold && v.to_lowercase() == value.to_lowercase()))
                    });
                    if value.is_empty() || !theirs {
                        continue;
                    }
                    found.push(Matched {
                        person,
                        source: source.config().name.clone(),
                        table: table.name.to_string(),
                        column: column.clone(),
                        hashes: vec![subject_hash(key, id_key, value)],
                    });
                }
            }
        }
        merge(&mut out, found);
    }
    Ok(out)
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
