//! `dsar purge`, for cron: destroy what is past its recovery window, and expired exports.
//!
//! Per expired request: first the wrapped data key (from that commit on the rows are
//! unreadable), then the live rows of `flag` tables, then the ciphertext, in batches. Every step
//! is idempotent, so a purge that dies half-way is finished by the next one.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::audit::{AuditLog, Event, Outcome, TableCount};
use crate::cli::{Global, PurgeArgs};
use crate::config::OnDelete;
use crate::engine;
use crate::error::{ExitKind, UserError};
use crate::source::Database;

/// Interrupted archive writes older than this are debris.
const PARTIAL_MAX_AGE: Duration = Duration::from_secs(86_400);

#[derive(Debug, Default, Serialize)]
struct Summary {
    state: &'static str,
    /// This purge run's id (its ledger record and audit events).
    request_id: String,
    dry_run: bool,
    /// The requests whose window had closed, each with what was destroyed of it: a list, as
    /// export's `requests` is.
    requests: Vec<PurgedRequest>,
    rows: u64,
    flagged_rows: u64,
    /// Per source and table, what was destroyed (summed over the requests).
    counts: Vec<TableCount>,
    archives: u64,
    audit_segments: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    removed_archives: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    failures: Vec<String>,
    /// Requests past their window left as they are: their erasure did not finish.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    unfinished: Vec<String>,
}

/// One request purged (or, with `--dry-run`, that would be).
#[derive(Debug, Serialize)]
struct PurgedRequest {
    request_id: String,
    source: String,
    rows: u64,
    flagged_rows: u64,
    /// Per table and strategy, the quarantine entries destroyed (read before destroying them).
    counts: Vec<TableCount>,
}

/// The top-level entry point for `dsar purge`.
pub async fn run(global: &Global, args: &PurgeArgs) -> Result<(), UserError> {
    run_as(global, args, None).await
}

/// A purge run; `resumed` finishes an interrupted one under its own run id (`dsar resume`).
/// Purge is idempotent, so it simply does what is still due.
pub async fn run_as(global: &Global, args: &PurgeArgs, resumed: Option<&str>) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    if global.verbose > 0 {
        crate::warn_all(global, &config.warnings);
    }
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    if audit.is_empty()? {
        // Shredding keys recorded in another audit log would split the record: refuse first.
        for source_config in config.databases() {
            if let Ok(source) = Database::open(source_config).await {
                super::refuse_without_history(&audit, &source).await?;
            }
        }
    }
    let run_id = resumed.map_or_else(crate::clock::new_request_id, str::to_string);
    let mut running = crate::ledger::Ledger::for_runs(&audit, &config.notify)?.start_with(
        None,
        &run_id,
        "purge",
        audit.operator(),
        None,
        Vec::new(),
        |r| r.dry_run = args.dry_run,
    )?;
    let mut summary = Summary {
        state: "completed",
        request_id: run_id.clone(),
        dry_run: args.dry_run,
        ..Default::default()
    };

    let mut sources = Vec::new();
    let mut all_checked = true;
    for source_config in config.databases() {
        match Database::open(source_config).await {
            Ok(source) => sources.push(source),
            Err(e) => {
                summary.failures.push(e.message);
                all_checked = false;
            }
        }
    }
    // An erasure that did not finish keeps its key in every database, past its window: its
    // plan is sealed under it, and `resume` needs the plan (and every database's key) to
    // finish the rows it planned. Destroyed, the plan was lost, and the request could be
    // neither resumed nor undone while its person stayed held against a new delete. Asked of
    // every database under its erasure lock (held until the purge ends), so no resume can
    // record or take a plan between the question and the purge.
    let mut unfinished = std::collections::BTreeSet::new();
    let mut stores = Vec::new();
    for source in &sources {
        match unfinished_plans(source, args.dry_run).await {
            Ok(Some(ids)) => {
                unfinished.extend(ids);
                stores.push(source);
            }
            Ok(None) => {}
            Err(e) => {
                summary.failures.push(e.message);
                all_checked = false;
            }
        }
    }
    // Held back only what `resume` can finish: a delete the ledger records, not completed (a
    // completed one is done whatever its plan still holds: entries of an earlier release's plan
    // whose rows had gone before their batch, chunks of a table taken out of the map since),
    // not purged elsewhere, and a record that verifies. Anything else would be held past its
    // window for good, every purge exiting 3, with nothing an operator could run to end it.
    let ledger = crate::ledger::Ledger::open(audit.state())?;
    let mut resumable = std::collections::BTreeSet::new();
    for id in unfinished {
        // Read one by one: a handful a night, where the ledger holds every request ever made.
        if ledger.get(&id)?.is_some_and(|r| {
            r.kind == "delete"
                && r.state != "completed"
                && r.damaged.is_none()
                && r.sealed_subjects.is_some()
                && r.afterwards.as_ref().is_none_or(|a| a.purged_at.is_none())
        }) {
            resumable.insert(id);
        }
    }
    let unfinished = resumable;
    let purger = Purger {
        ledger: (!args.dry_run).then_some(&ledger),
        run_id: &run_id,
        dry_run: args.dry_run,
        unfinished: &unfinished,
    };
    if all_checked {
        for source in stores {
            if let Err(e) = purge_source(source, &purger, &mut summary).await {
                summary.failures.push(e.message);
            }
        }
    } else {
        // A request of several databases could have its plan not done in the one that did not
        // answer: destroying its key elsewhere would leave it neither resumable nor undoable.
        summary
            .failures
            .push("no request was purged: not every database could be asked which deletes did not finish".into());
    }
    if let Err(e) = expire_archives(
        &config.settings.export_dir,
        config.settings.export_retention,
        args.dry_run,
        &mut summary,
    ) {
        summary.failures.push(e.message);
    }

    if let Some(retention) = config.settings.audit_retention {
        match audit.remove_expired_segments(retention, args.dry_run) {
            Ok(n) => summary.audit_segments = n,
            Err(e) => summary.failures.push(e.message),
        }
    }

    let failed = !summary.failures.is_empty();
    let left = if summary.unfinished.is_empty() {
        None
    } else {
        Some(format!(
            "{} {} request(s) whose erasure did not finish, sealed past the window until it does: {}",
            if args.dry_run { "would leave" } else { "left" },
            summary.unfinished.len(),
            summary.unfinished.join(", ")
        ))
    };
    if failed {
        summary.state = "failed";
    } else if left.is_some() && !args.dry_run {
        summary.state = "incomplete";
    }
    let error = summary.failures.first().cloned().or_else(|| left.clone());
    running.finish(summary.state, error.clone(), Vec::new())?;
    let mut details = serde_json::Map::new();
    details.insert("dry_run".into(), args.dry_run.into());
    details.insert("requests".into(), summary.requests.len().into());
    // Which requests: so `audit show` can answer "since when can this erasure not be undone".
    details.insert(
        "request_ids".into(),
        summary
            .requests
            .iter()
            .map(|r| serde_json::Value::from(r.request_id.clone()))
            .collect::<Vec<_>>()
            .into(),
    );
    details.insert("rows".into(), summary.rows.into());
    details.insert("archives".into(), summary.archives.into());
    details.insert("audit_segments".into(), summary.audit_segments.into());
    if !summary.unfinished.is_empty() {
        details.insert("unfinished".into(), summary.unfinished.clone().into());
    }
    audit.append(&Event {
        action: format!("purge.{}", summary.state),
        request_id: Some(run_id.clone()),
        outcome: if summary.state == "completed" {
            Outcome::Ok
        } else {
            Outcome::Error
        },
        error,
        details,
        ..Default::default()
    })?;

    if global.json {
        crate::output::print_json(&summary);
    } else if global.verbose > 0 || args.dry_run {
        let verb = if args.dry_run { "would purge" } else { "purged" };
        println!(
            "{verb}: {} request(s), {} quarantined row(s), {} flagged row(s), {} export archive(s), {} audit segment(s)",
            summary.requests.len(),
            summary.rows,
            summary.flagged_rows,
            summary.archives,
            summary.audit_segments
        );
        for r in &summary.requests {
            println!(
                "  request {} ({}: {} row(s))",
                r.request_id,
                r.source,
                r.rows + r.flagged_rows
            );
        }
        for a in &summary.removed_archives {
            println!("  archive {a}");
        }
        for id in &summary.unfinished {
            println!("  left: request {id} (its erasure did not finish)");
        }
    }
    if failed {
        return Err(UserError::runtime(format!(
            "purge failed: {}",
            summary.failures.join("; ")
        )));
    }
    if let Some(left) = left {
        let recovery = crate::follow_up::recovery_identity(&config.settings);
        return Err(UserError {
            kind: ExitKind::Flagged,
            message: format!("purge {left}"),
            hint: Some(format!(
                "`{}` finishes it; the next purge destroys it",
                crate::follow_up::command(
                    global,
                    &format!("resume {} --identity {recovery}", summary.unfinished[0])
                )
            )),
            db: None,
        });
    }
    Ok(())
}

/// Take `source`'s erasure lock (unless `dry_run`) and ask which requests' plans there are not
/// done; `None` where dsar has no tables yet.
async fn unfinished_plans(source: &Database<'_>, dry_run: bool) -> Result<Option<Vec<String>>, UserError> {
    if !engine::has_store(source.backend()).await? {
        return Ok(None);
    }
    // A store of an earlier release learns what this one reads (a column added; no entry
    // changes, so a dry run does it too).
    engine::ensure_store(source.backend()).await?;
    if !dry_run {
        source.lock_for_erasure().await?;
    }
    engine::unfinished_plans(source.backend()).await.map(Some)
}

/// What every database's purge shares.
struct Purger<'a> {
    /// Where each destroyed request is noted as purged (none for a dry run).
    ledger: Option<&'a crate::ledger::Ledger>,
    run_id: &'a str,
    dry_run: bool,
    /// Deletes that did not finish and that `resume` can finish: left as they are.
    unfinished: &'a std::collections::BTreeSet<String>,
}

async fn purge_source(source: &Database<'_>, purger: &Purger<'_>, summary: &mut Summary) -> Result<(), UserError> {
    let (dry_run, unfinished) = (purger.dry_run, purger.unfinished);
    let batch = i64::from(source.config().batch_rows);
    for request in engine::expired_requests(source.backend()).await? {
        if unfinished.contains(&request.request_id) {
            if !summary.unfinished.contains(&request.request_id) {
                summary.unfinished.push(request.request_id);
            }
            continue;
        }
        let mut purged = PurgedRequest {
            request_id: request.request_id.clone(),
            source: source.config().name.clone(),
            rows: 0,
            flagged_rows: 0,
            counts: Vec::new(),
        };
        for (table, strategy, rows) in engine::quarantined_tables(source.backend(), &request.request_id).await? {
            purged.counts.push(TableCount {
                source: source.config().name.as_str().into(),
                table: table.to_string().into(),
                strategy: OnDelete::of_quarantine(&strategy).map(OnDelete::name),
                rows: rows as u64,
            });
        }
        if dry_run {
            purged.rows = (request.rows - request.flagged_rows) as u64;
            purged.flagged_rows = request.flagged_rows as u64;
        } else {
            engine::shred_key(source.backend(), &request.request_id).await?;
            // Noted at once, not when the run ends: a purge killed after this commit does not
            // list the request again, and its record must say it can no longer be resumed.
            if let Some(ledger) = purger.ledger {
                // A request restored in full had nothing left to destroy: it stays "restored".
                ledger.note_afterwards(&request.request_id, |after| {
                    if after.restored_at.is_none() {
                        after.purged_at.get_or_insert_with(crate::clock::now_rfc3339);
                        after.purged_by.get_or_insert_with(|| purger.run_id.to_string());
                    }
                })?;
            }
            engine::clear_plan(source.backend(), &request.request_id).await?;
            loop {
                let n = engine::purge_flagged_batch(source.backend(), &request.request_id, batch).await?;
                if n == 0 {
                    break;
                }
                purged.flagged_rows += n;
            }
            loop {
                let n = engine::delete_quarantined(source.backend(), &request.request_id, batch).await?;
                if n == 0 {
                    break;
                }
                purged.rows += n;
            }
        }
        summary.rows += purged.rows;
        summary.flagged_rows += purged.flagged_rows;
        for count in &purged.counts {
            match summary
                .counts
                .iter_mut()
                .find(|c| c.source == count.source && c.table == count.table && c.strategy == count.strategy)
            {
                Some(total) => total.rows += count.rows,
                None => summary.counts.push(count.clone()),
            }
        }
        summary.requests.push(purged);
    }
    Ok(())
}

/// Remove `*.zip.age` archives older than the retention, and stale `.partial` leftovers.
fn expire_archives(dir: &Path, retention: Duration, dry_run: bool, summary: &mut Summary) -> Result<(), UserError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(UserError::runtime(format!("cannot list {}: {e}", dir.display()))),
    };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let max_age = if name.ends_with(".zip.age") {
            retention
        } else if name.starts_with('.') && name.ends_with(".partial") {
            PARTIAL_MAX_AGE
        } else {
            continue;
        };
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if now.duration_since(modified).unwrap_or_default() < max_age {
            continue;
        }
        if !dry_run {
            std::fs::remove_file(&path)
                .map_err(|e| UserError::runtime(format!("cannot remove {}: {e}", path.display())))?;
        }
        summary.archives += 1;
        summary.removed_archives.push(path.display().to_string());
    }
    Ok(())
}
