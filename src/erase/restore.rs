//! `dsar restore`: bring a deleted request back, whole or row by row, inside its window.

use std::collections::HashMap;

use serde::Serialize;

use super::plan::restore_order;
use crate::age_keys::read_identity_file;
use crate::audit::{AuditLog, Event, Outcome, TableCount};
use crate::cli::{Global, RestoreArgs};
use crate::config::OnDelete;
use crate::engine;
use crate::envelope::DataKey;
use crate::error::{ExitKind, UserError};
use crate::ledger::Ledger;

#[derive(Serialize)]
struct Report<'a> {
    request_id: &'a str,
    state: &'static str,
    counts: &'a [TableCount],
    flagged: &'a [String],
}

/// The top-level entry point for `dsar restore`.
pub async fn run(global: &Global, args: &RestoreArgs) -> Result<(), UserError> {
    run_as(global, args, None).await
}

/// A restore run; `resumed` continues an interrupted one under its own run id (`dsar resume`).
/// Rows already back are not in quarantine any more, so the run simply restores the rest.
pub async fn run_as(global: &Global, args: &RestoreArgs, resumed: Option<&str>) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    crate::warn_all(global, &config.warnings);
    let identity = args.identity.as_ref().ok_or_else(|| {
        UserError::usage("restore needs --identity FILE").with_hint(
            "pass the age secret key of a recovery recipient (the pair of [settings].recovery_recipients_file)",
        )
    })?;
    let identities = read_identity_file(identity)?;
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    let request_id = args.request.as_str();

    let sources = super::open_sources(&config, &audit).await?;
    // One row (`--table T --key COL=VALUE`): the table resolved as the map resolves its names.
    let single = match &args.table {
        Some(text) => {
            if !sources.iter().any(|s| s.config().find_table(text).is_some()) {
                let known: Vec<String> = sources
                    .iter()
                    .flat_map(|s| s.config().tables.iter().map(|t| t.name.to_string()))
                    .collect();
                return Err(UserError::usage(format!(
                    "--table {text}: no table of that name in this map{}",
                    crate::error::suggestion(text, known.iter().map(String::as_str))
                ))
                .with_hint("name the table as the source map writes it"));
            }
            Some((text.as_str(), parse_keys(&args.key)?))
        }
        None => None,
    };
    let mut found = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        if let Some(stored) = engine::stored_request(source.backend(), request_id).await? {
            found.push((s, stored));
        }
    }
    if found.is_empty() {
        return Err(
            UserError::usage(format!("no request `{request_id}` in any source of this map"))
                .with_hint("check the id printed by `dsar delete` (or in the audit log)"),
        );
    }
    // Check every source before changing any: a closed window anywhere means no restore at all.
    if let Some((_, closed)) = found.iter().find(|(_, r)| !r.window_open) {
        return Err(UserError::runtime(format!(
            "the recovery window of request {request_id} closed at {}; its rows are purged or about to be; nothing was restored",
            closed.restore_until
        )));
    }
    let mut keys = Vec::new();
    let expected = super::expected_key(&audit, request_id)?;
    for (s, stored) in &found {
        let wrapped = stored
            .wrapped_key
            .as_deref()
            .ok_or_else(|| UserError::runtime(format!("request {request_id} was purged; nothing was restored")))?;
        let key = DataKey::unwrap(wrapped, &identities)?;
        super::check_key(request_id, &sources[*s].config().name, &key, expected.as_deref())?;
        keys.push((*s, key));
    }
    for (s, _) in &keys {
        sources[*s].lock_for_erasure().await?;
    }
    // A purge may have held the lock while this restore waited for it: the window is checked
    // again now that nothing else can change it.
    for (s, _) in &keys {
        let now = engine::stored_request(sources[*s].backend(), request_id).await?;
        if !now.as_ref().is_some_and(|r| r.window_open && r.wrapped_key.is_some()) {
            return Err(UserError::runtime(format!(
                "request {request_id} was purged while this restore waited for the erasure lock; nothing was restored"
            ))
            .with_hint("its rows are gone for good: `dsar audit show --request` shows the purge"));
        }
    }
    let run_id = resumed.map_or_else(crate::clock::new_request_id, str::to_string);
    let mut running =
        Ledger::for_runs(&audit, &config.notify)?.start(&run_id, "restore", audit.operator(), None, Vec::new())?;
    // Written at once: a restore killed before its first batch must still be resumable.
    running.set_target_request(request_id)?;
    crate::interrupt::install();

    // Whose rows these are, as the delete recorded them (keyed hashes): every restore event
    // names the person, so `audit show --subject` tells the whole story.
    let subject = Ledger::open(audit.state())?
        .get(request_id)?
        .filter(|r| r.damaged.is_none())
        .map(|r| r.subject)
        .unwrap_or_default();
    let event = |action: &str, outcome: Outcome, counts: &[TableCount], flagged: usize, error: Option<String>| {
        let mut details = serde_json::Map::new();
        details.insert("restore_run".into(), run_id.clone().into());
        details.insert("flagged_for_review".into(), flagged.into());
        if let Some(table) = &args.table {
            details.insert("single_table".into(), table.clone().into());
        }
        Event {
            action: action.into(),
            request_id: Some(request_id.to_string()),
            subject: subject.clone(),
            tables: counts.to_vec(),
            outcome,
            error,
            details,
            ..Default::default()
        }
    };

    let mut counts = Vec::new();
    let mut flagged = Vec::new();
    // What the quarantine held per table when this run began, to compare with the delete's record.
    let mut in_quarantine: Vec<(String, String, u64)> = Vec::new();
    let mut matched_single = false;
    // Rows already back stay back whatever happens next: a run that stops records them.
    let restoring_all = async {
        let mut siblings = HashMap::new();
        for (s, key) in &keys {
            let source = &sources[*s];
            // Declared keys only: a table reached by `via` comes back after the rows it was
            // reached through, and is held with them when they stay in quarantine.
            let fks = source.foreign_keys().await?;
            let mut entries = Vec::new();
            // A store of an earlier release learns what this one reads (its entries stay).
            engine::ensure_store(source.backend()).await?;
            for (name, strategy, count) in engine::quarantined_tables(source.backend(), request_id).await? {
                let table = source
                    .config()
                    .tables
                    .iter()
                    .position(|t| t.name == name)
                    .ok_or_else(|| {
                        UserError::usage(format!(
                            "request {request_id} holds rows of {name}, which the source map no longer lists"
                        ))
                        .with_hint("add the table back to the map to restore them")
                    })?;
                let strategy = OnDelete::of_quarantine(&strategy).ok_or_else(|| {
                    UserError::runtime(format!("dsar.quarantine holds an unknown strategy `{strategy}`"))
                })?;
                entries.push((table, strategy, count as u64));
                in_quarantine.push((source.config().name.clone(), name.to_string(), count as u64));
            }
            let only = match &single {
                Some((text, given)) => {
                    let Some(table) = source.config().find_table(text) else {
                        continue;
                    };
                    entries.retain(|(t, ..)| *t == table);
                    Some(vec![key.key_hash(&source.canonical_key(table, given).await?)])
                }
                None => None,
            };
            let tables: Vec<usize> = entries.iter().map(|(t, ..)| *t).collect();
            let order = restore_order(source, &tables, &fks);
            let restoring = engine::Restoring {
                request_id,
                key,
                installation_key: audit.key(),
                only: only.as_deref(),
            };
            // Parents come back first; a parent left in quarantine holds its children there.
            let mut held: HashMap<usize, engine::Held> = HashMap::new();
            for table in order {
                let holding = held.get(&table).cloned().unwrap_or_default();
                for (strategy, quarantined) in entries.iter().filter(|(t, ..)| *t == table).map(|(_, s, n)| (*s, *n)) {
                    // The rows in quarantine are the plan, so `status` shows a percentage and ETA
                    // (a single-row restore brings back fewer).
                    let planned = only.is_none().then_some(quarantined);
                    let mut restored = 0u64;
                    let mut cancelled = false;
                    let table_name = source.config().tables[table].name.to_string();
                    // `restore --key` brings back one entry: one session.
                    let rows = if only.is_none() { quarantined } else { 0 };
                    let sessions =
                        super::sessions_for(source, *s, table, rows, super::RESTORE_SIBLINGS, &mut siblings).await;
                    let restore_run = engine::RestoreRun {
                        table,
                        strategy,
                        restoring: &restoring,
                        held: &holding,
                        batch_rows: i64::from(source.config().batch_rows),
                        max_rows_per_second: source.config().max_rows_per_second,
                    };
                    let restored_all = engine::restore_table(&sessions, &restore_run, |batch| {
                        for row in &batch.kept {
                            hold_children(source, &fks, table, row, &mut held);
                        }
                        restored += batch.restored;
                        flagged.extend(batch.conflicts);
                        running.progress(&source.config().name, &table_name, restored, planned);
                        cancelled = running.cancel_requested();
                        engine::Flow::stop_if(cancelled)
                    })
                    .await;
                    if let Err(e) = restored_all {
                        // What came back before the failure stays back, and is counted.
                        counts.push(TableCount {
                            source: source.config().name.as_str().into(),
                            table: table_name.into(),
                            strategy: Some(strategy.name()),
                            rows: restored,
                        });
                        return Err(e);
                    }
                    if cancelled {
                        counts.push(TableCount {
                            source: source.config().name.as_str().into(),
                            table: table_name.into(),
                            strategy: Some(strategy.name()),
                            rows: restored,
                        });
                        running.finish("cancelled", None, redact_keys(&flagged, &args.key, audit.key()))?;
                        return Err(UserError::cancelled(format!(
                            "cancelled: rows restored so far stay restored (restore run {run_id})"
                        ))
                        .with_hint(format!(
                            "run the same restore again to bring back the rest of {request_id}"
                        )));
                    }
                    matched_single |= restored > 0;
                    counts.push(TableCount {
                        source: source.config().name.as_str().into(),
                        table: source.config().tables[table].name.to_string().into(),
                        strategy: Some(strategy.name()),
                        rows: restored,
                    });
                }
            }
        }
        Ok::<(), UserError>(())
    }
    .await;
    if let Err(e) = restoring_all {
        let cancelled = e.kind == ExitKind::Cancelled;
        audit.append(&event(
            if cancelled {
                "restore.cancelled"
            } else {
                "restore.failed"
            },
            Outcome::Error,
            &counts,
            flagged.len(),
            Some(e.message.clone()),
        ))?;
        return Err(e);
    }
    if single.is_some() && !matched_single && flagged.is_empty() {
        return Err(UserError::usage(format!(
            "request {request_id} holds no quarantined row with that key"
        )));
    }

    if single.is_none() && resumed.is_none() {
        flagged.extend(compare_with_delete(&audit, request_id, &run_id, &in_quarantine)?);
    }
    if single.is_none() {
        // The request is undone: its plan must not be finished by a later resume.
        for (s, _) in &keys {
            engine::clear_plan(sources[*s].backend(), request_id).await?;
        }
    }
    running.finish("completed", None, redact_keys(&flagged, &args.key, audit.key()))?;
    if single.is_none() && flagged.is_empty() {
        // Every row is back: the delete's own record says so from now on.
        Ledger::open(audit.state())?.note_afterwards(request_id, |after| {
            after.restored_at = Some(crate::clock::now_rfc3339());
            after.restored_by = Some(run_id.clone());
        })?;
        // Restored on purpose: its people are live because someone chose so, and neither
        // `check --erased` nor `reapply` may count them as erased any more. Removed after the
        // ledger says so, so a crash in between leaves an entry the ledger already excuses. A
        // restore that left rows flagged keeps the entry until a rerun brings every row back.
        crate::register::Register::open(audit.state(), audit.chain_key())?.remove(request_id)?;
    }
    audit.append(&event("restore.completed", Outcome::Ok, &counts, flagged.len(), None))?;

    if global.json {
        let state = if flagged.is_empty() {
            "completed"
        } else {
            "completed_with_flags"
        };
        let report = Report {
            request_id,
            state,
            counts: &counts,
            flagged: &flagged,
        };
        crate::output::print_json(&report);
    } else if !global.quiet {
        let total: u64 = counts.iter().map(|c| c.rows).sum();
        println!("restored: request {request_id}, {total} rows");
        for c in &counts {
            println!(
                "  {:<12} {:>9}  {}: {}",
                c.strategy.unwrap_or("-"),
                c.rows,
                c.source,
                c.table
            );
        }
    }
    if !flagged.is_empty() {
        for item in &flagged {
            eprintln!("flagged: {item}");
        }
        return Err(UserError {
            kind: ExitKind::Flagged,
            message: format!(
                "{} item(s) listed above were not restored and need manual review",
                flagged.len()
            ),
            hint: Some("nothing was overwritten; they stay in quarantine until the window closes".into()),
            db: None,
        });
    }
    Ok(())
}

/// The flagged items as the ledger (and so notifications) keep them: each `--key COL=VALUE`
/// the operator gave replaced by its keyed hash, since a row's key can identify the person.
/// The terminal still shows them as given.
fn redact_keys(flagged: &[String], keys: &[String], installation_key: &[u8]) -> Vec<String> {
    flagged
        .iter()
        .map(|item| {
            keys.iter().fold(item.clone(), |text, kv| match kv.split_once('=') {
                Some((column, value)) => text.replace(kv, &crate::state::subject_hash(installation_key, column, value)),
                None => text,
            })
        })
        .collect()
}

/// A row of `parent` stays in quarantine: hold back the rows that belong to it, in every
/// table that references it by a foreign key or reaches it by the map's `via`, and, when
/// `parent` identifies people (matched by several subject keys), in every table matched by one
/// of its keys: restored, those rows would belong to whoever holds that key now.
fn hold_children(
    source: &crate::source::Database<'_>,
    fks: &[crate::source::foreign_key::ForeignKey],
    parent: usize,
    row: &HashMap<String, Option<String>>,
    held: &mut HashMap<usize, engine::Held>,
) {
    let tables = &source.config().tables;
    // (child, its columns, the parent's columns, whether they compare ignoring case)
    let mut relations: Vec<(usize, Vec<String>, Vec<String>, bool)> = fks
        .iter()
        .filter(|fk| fk.parent == tables[parent].name)
        .filter_map(|fk| {
            let child = tables.iter().position(|t| t.name == fk.child)?;
            Some((child, fk.child_columns.clone(), fk.parent_columns.clone(), false))
        })
        .collect();
    for (child, table) in tables.iter().enumerate() {
        for path in table.link.paths().iter().filter(|p| p.parent == parent) {
            relations.push((child, path.columns.clone(), path.parent_columns.clone(), false));
        }
    }
    if let crate::config::Link::Match(keys) = &tables[parent].link
        && crate::config::distinct_keys(keys) > 1
    {
        for (child, table) in tables.iter().enumerate() {
            let crate::config::Link::Match(theirs) = &table.link else {
                continue;
            };
            for (key, column) in theirs {
                for (_, parent_column) in keys.iter().filter(|(k, _)| k == key) {
                    // A spelling the child's rows were found by ignoring case is held too.
                    let fold = table.ignore_case.contains(column) || tables[parent].ignore_case.contains(parent_column);
                    relations.push((child, vec![column.clone()], vec![parent_column.clone()], fold));
                }
            }
        }
    }
    for (child, columns, parent_columns, fold) in relations {
        if child == parent {
            continue;
        }
        let values: Option<Vec<Option<String>>> = parent_columns.iter().map(|c| row.get(c).cloned()).collect();
        if let Some(values) = values
            && values.iter().all(Option::is_some)
        {
            held.entry(child).or_default().hold(&columns, fold, values);
        }
    }
}

/// The rows the delete recorded per table against what its quarantine held when this restore
/// began: a row missing from the quarantine (or one too many) is reported, never passed over.
/// Only for the first whole restore of a request (earlier restores took rows out already) and
/// when this state dir holds the record of a delete that completed.
fn compare_with_delete(
    audit: &AuditLog,
    request_id: &str,
    run_id: &str,
    in_quarantine: &[(String, String, u64)],
) -> Result<Vec<String>, UserError> {
    let ledger = Ledger::open(audit.state())?;
    // Only a delete that ran to its end recorded its final counts (a killed run's last
    // progress lags what it committed).
    let Some(delete) = ledger
        .get(request_id)?
        .filter(|r| r.kind == "delete" && r.state == "completed" && r.damaged.is_none())
    else {
        return Ok(Vec::new());
    };
    if ledger.list()?.iter().any(|r| {
        r.kind == "restore"
            && r.target_request.as_deref() == Some(request_id)
            && r.request_id != run_id
            && r.damaged.is_none()
    }) {
        return Ok(Vec::new());
    }
    let mut differences = Vec::new();
    for p in delete.progress.iter().filter(|p| p.done > 0) {
        let held = in_quarantine
            .iter()
            .filter(|(s, t, _)| *s == p.source && *t == p.table)
            .map(|(_, _, n)| n)
            .sum::<u64>();
        if held != p.done {
            differences.push(format!(
                "{}: {}: the delete recorded {} row(s), the quarantine held {held}; the difference cannot be restored",
                p.source, p.table, p.done
            ));
        }
    }
    Ok(differences)
}

/// `--key COL=VALUE`, repeatable.
fn parse_keys(keys: &[String]) -> Result<Vec<(String, String)>, UserError> {
    keys.iter()
        .map(|k| {
            k.split_once('=')
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .ok_or_else(|| UserError::usage(format!("--key `{k}` is not COL=VALUE")))
        })
        .collect()
}
