//! `dsar reapply`: erase again the people of the erasure register who are live again, most
//! likely because a backup taken before their erasure was restored. Each original request with
//! people found becomes one new delete request of those people, linked to it: its ticket, its
//! strategies, the `delete.reapplied` audit event and the ledger's `reapplied_from`. The values
//! to erase by are read from the live rows whose hashes the register holds, so the register
//! never needs a raw identifier and a purged original is no obstacle.

use std::collections::BTreeMap;

use serde::Serialize;

use super::delete::{Erased, Order, erase_people};
use crate::audit::AuditLog;
use crate::cli::{Global, ReapplyArgs};
use crate::config::{Config, OnDelete};
use crate::error::{ExitKind, UserError};
use crate::register::command::print_found;
use crate::register::scan::Found;
use crate::register::select::{entries_to_find, find_live};
use crate::register::{Entry, Reapplied};
use crate::subject::Subject;

/// One original request's outcome, for `--json`.
#[derive(Serialize)]
struct Reapplying {
    reapplied_from: String,
    people: usize,
    /// The new request (none for a dry run, nothing matched, or a failure before one was made).
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    /// `planned` (dry run), `completed`, `nothing_matched` (erased already, by a run or a
    /// request before this one) or `failed`.
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct Report<'a> {
    dry_run: bool,
    scanned_requests: usize,
    found: &'a [Found],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    incomplete: &'a [String],
    requests: Vec<Reapplying>,
}

/// The top-level entry point for `dsar reapply`.
pub async fn run(global: &Global, args: &ReapplyArgs) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    crate::warn_all(global, &config.warnings);
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    let selection = entries_to_find(&audit, &args.register)?;
    let entries = &selection.entries;
    let human = !global.quiet && !global.json;
    let scan = find_live(&config, &audit, entries).await?;
    let mut incomplete = scan.unscanned.clone();
    incomplete.extend(selection.unfinished.iter().cloned());
    if human && scan.found.is_empty() {
        println!(
            "none of the {} completed erasure(s) in the register is live again: nothing to erase again",
            entries.len()
        );
    } else if human {
        println!("{} erased person(s) are live again:", scan.found.len());
        print_found(&scan.found);
    }
    if human {
        for what in &incomplete {
            println!("not looked at: {what}");
        }
    }
    // People whose match is not trusted are left for a person to decide.
    let review: Vec<&Found> = scan.found.iter().filter(|f| f.review.is_some()).collect();
    let mut by_entry: BTreeMap<usize, Vec<&Found>> = BTreeMap::new();
    for found in scan.found.iter().filter(|f| f.review.is_none()) {
        by_entry.entry(found.entry).or_default().push(found);
    }
    // With --json, each delete's own report stays off stdout: one object says it all.
    let mut inner = global.clone();
    if global.json {
        inner.json = false;
        inner.quiet = true;
    }
    let mut requests = Vec::new();
    let mut worst: Option<ExitKind> = None;
    for (e, people) in by_entry {
        let entry = &entries[e];
        let outcome = reapply_one(&inner, args, entry, &people).await.map_err(|mut err| {
            // The values were read from the database: they never reach a message.
            for found in &people {
                for (_, value) in &found.ids {
                    err.message = err.message.replace(value.as_str(), "…");
                }
            }
            err
        });
        let (state, request_id, error) = match outcome {
            Ok(Erased::Request(id)) => ("completed", Some(id), None),
            Ok(Erased::DryRun) => ("planned", None, None),
            Ok(Erased::NothingMatched) => ("nothing_matched", None, None),
            Err(err) => {
                eprintln!("error: request {}: {}", entry.request_id, err.message);
                if let Some(hint) = &err.hint {
                    eprintln!("hint: {hint}");
                }
                worst.get_or_insert(err.kind);
                ("failed", None, Some(err.message))
            }
        };
        requests.push(Reapplying {
            reapplied_from: entry.request_id.clone(),
            people: people.len(),
            request_id,
            state,
            error,
        });
    }
    let failed: Vec<String> = requests
        .iter()
        .filter(|r| r.state == "failed")
        .map(|r| r.reapplied_from.clone())
        .collect();
    if global.json {
        crate::output::print_json(&Report {
            dry_run: args.dry_run,
            scanned_requests: entries.len(),
            found: &scan.found,
            incomplete: &incomplete,
            requests,
        });
    }
    if !failed.is_empty() {
        return Err(UserError {
            kind: worst.unwrap_or(ExitKind::Flagged),
            message: format!(
                "the erasure of {} request(s) was not applied again: {}",
                failed.len(),
                failed.join(", ")
            ),
            hint: Some(
                "fix what is said above, then run `dsar reapply` again: what was erased again is not found again"
                    .into(),
            ),
            db: None,
        });
    }
    if !review.is_empty() || !incomplete.is_empty() {
        return Err(UserError {
            kind: ExitKind::Flagged,
            message: format!(
                "{} person(s) need review and were not erased again, and {} thing(s) could not be looked at (listed above)",
                review.len(),
                incomplete.len()
            ),
            hint: Some(
                "look at the rows named; erase a person who is the one erased with `dsar delete`, or `dsar restore` the request if they came back on purpose"
                    .into(),
            ),
            db: None,
        });
    }
    Ok(())
}

/// One new delete request: the people of `entry` found live, with its ticket and strategies.
async fn reapply_one(
    global: &Global,
    args: &ReapplyArgs,
    entry: &Entry,
    people: &[&Found],
) -> Result<Erased, UserError> {
    let mut config = crate::config::load(&global.config)?;
    apply_strategies(&mut config, entry)?;
    if !global.quiet && !global.json {
        println!(
            "\n{} request {}'s erasure for {} person(s){}:",
            if args.dry_run {
                "would apply again"
            } else {
                "applying again"
            },
            entry.request_id,
            people.len(),
            entry
                .ticket
                .as_deref()
                .map(|t| format!(" (ticket {t})"))
                .unwrap_or_default()
        );
    }
    let reason = format!(
        "the erasure of request {} applied again: found live (a restore from backup?)",
        entry.request_id
    );
    let mut global = global.clone();
    global.case.ticket = entry.ticket.clone();
    global.case.reason = Some(reason.clone());
    let order = Order {
        subjects: people
            .iter()
            .map(|f| Subject {
                ids: f.ids.iter().cloned().collect(),
                line: None,
            })
            .collect(),
        allow_multiple: entry.allow_multiple,
        dry_run: args.dry_run,
        yes: args.yes,
        reason: Some(reason),
        reapplied_from: Some(Reapplied {
            request_id: entry.request_id.clone(),
            people: people.iter().map(|f| f.person - 1).collect(),
        }),
        hide_values: Some(format!("the people of request {} found live", entry.request_id)),
    };
    erase_people(&global, &config, order).await
}

/// Erase each table as the original request did, where the map can still do it that way.
fn apply_strategies(config: &mut Config, entry: &Entry) -> Result<(), UserError> {
    for s in &entry.strategies {
        let Some(table) = config
            .sources
            .iter_mut()
            .filter(|source| source.name == s.source)
            .flat_map(|source| source.tables.iter_mut())
            .find(|t| t.name.to_string() == s.table)
        else {
            continue;
        };
        if table.on_delete.name() == s.strategy {
            continue;
        }
        let strategy = match s.strategy.as_str() {
            "quarantine" => OnDelete::Quarantine,
            "retain" => OnDelete::Retain,
            "anonymize" if !table.anonymize.is_empty() => OnDelete::Anonymize,
            "flag" if table.flag_column.is_some() => OnDelete::Flag,
            other => {
                return Err(UserError::usage(format!(
                    "{}: request {} erased {} with `{other}`, which the map no longer says how to do",
                    table.location, entry.request_id, table.name
                ))
                .with_hint("give the table back its rules for that strategy, then run reapply again"));
            }
        };
        if strategy == OnDelete::Retain && table.retain_reason.is_none() {
            table.retain_reason = Some(format!("kept, as request {} did", entry.request_id));
        }
        table.on_delete = strategy;
    }
    Ok(())
}
