//! `dsar delete`: plan, confirm, then move the subject's rows into quarantine batch by batch.

use std::io::{BufRead, IsTerminal, Write};

use serde::Serialize;

use super::plan::{Plan, Step};
use crate::age_keys::{read_identity_file, read_recipients_file};
use crate::audit::{AuditLog, Event, Outcome, TableCount};
use crate::cli::{DeleteArgs, Global};
use crate::engine;
use crate::envelope::DataKey;
use crate::error::{ExitKind, UserError};
use crate::ledger::{Ledger, Request, Running};
use crate::progress::Progress;
use crate::register::Register;
use crate::register::record::Planned;
use crate::source::Database;
use crate::state::subject_hash;
use crate::subject;

#[derive(Serialize)]
struct Report<'a> {
    request_id: &'a str,
    state: &'static str,
    dry_run: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    restore_until: Option<String>,
    counts: Vec<Step>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    refusals: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    notes: &'a [String],
}

/// The top-level entry point for `dsar delete`.
pub async fn run(global: &Global, args: &DeleteArgs) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    crate::warn_all(global, &config.warnings);
    let order = Order {
        subjects: subject::from_args(global, &args.subjects, &config.subject_keys)?,
        allow_multiple: args.subjects.allow_multiple,
        dry_run: args.dry_run,
        yes: args.yes,
        reason: args.case.reason.clone(),
        reapplied_from: None,
        hide_values: None,
    };
    match erase_people(global, &config, order).await? {
        Erased::Request(_) | Erased::DryRun => Ok(()),
        Erased::NothingMatched => Err(UserError {
            kind: ExitKind::Flagged,
            message: "nothing matched, so nothing was erased and no request was made".into(),
            hint: Some(
                "check the identifier (look the person up with `dsar export`, or in the database), then run delete again"
                    .into(),
            ),
            db: None,
        }),
    }
}

/// What [`erase_people`] did.
pub enum Erased {
    /// The request made, completed.
    Request(String),
    /// A dry run: the plan was shown, nothing changed.
    DryRun,
    /// Nothing matched: no request was made (recorded as `delete.nothing_matched`).
    NothingMatched,
}

/// What one delete request is asked to do: by `dsar delete`, or by `dsar reapply` for the
/// people of an earlier request found live again.
pub struct Order {
    pub subjects: Vec<subject::Subject>,
    pub allow_multiple: bool,
    pub dry_run: bool,
    pub yes: bool,
    pub reason: Option<String>,
    /// For `reapply`: the request erased again, and which of its people each subject is.
    pub reapplied_from: Option<crate::register::Reapplied>,
    /// For `reapply`: the subjects' values were read from the database, not typed by the
    /// operator, so messages name them this way instead ("the people of request …").
    pub hide_values: Option<String>,
}

/// Plan, confirm and erase one request: the people of `order`, as the map `config` says.
pub async fn erase_people(global: &Global, config: &crate::config::Config, order: Order) -> Result<Erased, UserError> {
    let args = &order;
    let subjects = &order.subjects;
    let recipients = if super::erases_anything(config) {
        let file = config.settings.recovery_recipients_file.as_ref().ok_or_else(|| {
            UserError::usage("no recovery recipients: quarantined rows would be readable by no one")
                .with_hint("set [settings].recovery_recipients_file to an age recipients file whose keys you keep safe")
        })?;
        read_recipients_file(file)?
    } else {
        Vec::new()
    };
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    let key = audit.key().to_vec();
    refuse_over_unfinished(global, &audit, config, subjects, &key)?;

    let sources = super::open_sources(config, &audit).await?;
    if !args.dry_run {
        // Held for the whole run: the plan must still be true when the rows move.
        for source in &sources {
            source.lock_for_erasure().await?;
        }
    }
    let ids = crate::identity::resolve(&sources, subjects, args.allow_multiple).await?;
    let mut plan = Plan::build(&sources, &ids).await?;
    plan.external = Plan::external_steps(config, subjects.len());
    crate::warn_all(global, &plan.notes);
    let request_id = crate::clock::new_request_id();
    let subject_hashes: Vec<String> = (0..subjects.len() as u32)
        .flat_map(|i| ids.of_subject(i))
        .map(|(k, v)| subject_hash(&key, &k, &v))
        .collect();
    let event = |action: &str, outcome: Outcome, counts: Vec<TableCount>, error: Option<String>| {
        let mut details = serde_json::Map::new();
        details.insert("dry_run".into(), args.dry_run.into());
        if let Some(from) = &args.reapplied_from {
            details.insert("reapplied_from".into(), from.request_id.clone().into());
        }
        if !plan.refusals.is_empty() {
            details.insert("refusals".into(), plan.refusals.len().into());
        }
        Event {
            action: action.into(),
            request_id: Some(request_id.clone()),
            subject: subject_hashes.clone(),
            tables: counts,
            outcome,
            error,
            details,
            ..Default::default()
        }
    };
    if !plan.refusals.is_empty() {
        // Its own event: a refused delete changed nothing, and the log says so.
        audit.append(&event(
            "delete.refused",
            Outcome::Error,
            table_counts(&plan.steps),
            Some(plan.refusals[0].clone()),
        ))?;
        eprint!("{}", plan.render());
        let more = if plan.refusals.len() > 1 {
            format!(" (and {} more above)", plan.refusals.len() - 1)
        } else {
            String::new()
        };
        return Err(UserError {
            kind: ExitKind::Refused,
            message: format!("delete refused, nothing changed: {}{more}", plan.refusals[0]),
            hint: Some("extend the source map as suggested, then run `dsar delete --dry-run` again".into()),
            db: None,
        });
    }
    if args.hide_values.is_none() {
        subject::warn_padded(global, subjects);
    }
    // Nothing matched is its own outcome, never a silent success: no request is made.
    let matched: u64 = plan.steps.iter().map(|s| s.rows).sum();
    if matched == 0 && plan.external.is_empty() {
        crate::warn_all(
            global,
            &[format!(
                "nothing matched {} in the mapped tables of {}; matching is exact (case, spaces and type count; `ignore_case` in the map lets a column ignore case)",
                args.hide_values.clone().unwrap_or_else(|| subject::describe(subjects)),
                sources
                    .iter()
                    .map(|s| s.config().name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
        );
        if args.dry_run {
            print_report(
                global,
                &request_id,
                "nothing_matched",
                true,
                None,
                plan.steps.clone(),
                &plan,
            );
            return Ok(Erased::DryRun);
        }
        audit.append(&event(
            "delete.nothing_matched",
            Outcome::Ok,
            table_counts(&plan.steps),
            None,
        ))?;
        print_report(
            global,
            &request_id,
            "nothing_matched",
            false,
            None,
            plan.steps.clone(),
            &plan,
        );
        return Ok(Erased::NothingMatched);
    }
    audit.append(&event("delete.planned", Outcome::Ok, table_counts(&plan.steps), None))?;
    if args.dry_run {
        let mut shown = plan.steps.clone();
        shown.extend(plan.external.iter().cloned());
        print_report(global, &request_id, "planned", true, None, shown, &plan);
        return Ok(Erased::DryRun);
    }
    confirm_or_log(
        args.yes,
        &plan,
        subjects,
        config.settings.recovery_window,
        &audit,
        &event,
    )?;
    if args.reapplied_from.is_some() {
        audit.append(&event("delete.reapplied", Outcome::Ok, table_counts(&plan.steps), None))?;
    }

    // Sealed to the recovery recipients, so `dsar resume` can finish the job with their key and
    // the ledger holds no readable identifier; sealed before anything is recorded, so that a
    // failure here leaves nothing behind.
    let sealed = subject::seal(subjects, &recipients)?;
    // Who is erased, as keyed hashes of the values the plan matched, read before any row moves:
    // the register outlives a restore of the databases from backup.
    let planned: Vec<Planned> = plan
        .steps
        .iter()
        .map(|s| Planned {
            source: s.source,
            table: s.table,
            strategy: s.strategy,
            rows: s.rows,
        })
        .collect();
    let strategies = plan
        .steps
        .iter()
        .map(|s| crate::register::Strategy {
            source: s.source_name.clone(),
            table: s.table_name.clone(),
            strategy: s.strategy.to_string(),
        })
        .collect();
    let matched = crate::register::record::matched(&sources, &planned, &ids, &key).await?;
    let mut entry = crate::register::record::pending(
        &request_id,
        audit.ticket(),
        strategies,
        matched,
        args.reapplied_from.clone(),
    );
    entry.allow_multiple = args.allow_multiple;
    Register::open(audit.state(), audit.chain_key())?.write(entry)?;

    let data_key = DataKey::generate();
    let ledger = Ledger::for_runs(&audit, &config.notify)?;
    // On record before any database holds a trace of the request (its registration, its plan):
    // a run killed or failing from here on leaves a request that `jobs` shows, that holds its
    // people against a second delete, and that `resume` finishes; never a plan no record
    // names. The whole record in its first write: what resume needs is never missing from a
    // record that says running (and a batch's record of 10,000 people, 2 MB, is written once,
    // not four times).
    let mut running = ledger.start_with(
        None,
        &request_id,
        "delete",
        audit.operator(),
        args.reason.clone(),
        subject_hashes.clone(),
        |record| {
            record.sealed_subjects = Some(sealed);
            record.data_key = Some(data_key.fingerprint());
            record.registered = true;
            record.reapplied_from = args.reapplied_from.as_ref().map(|from| from.request_id.clone());
        },
    )?;
    let run = Run {
        global,
        sources: &sources,
        commands: config.commands().collect(),
        ids: &ids,
        request_id: &request_id,
        data_key: &data_key,
        installation_key: &key,
        audit: &audit,
        raw_values: ids_text(subjects),
        event: &event,
        recovery_identity: crate::follow_up::recovery_identity(&config.settings),
    };
    let restore_until = match register_and_plan(&run, &plan, &recipients, config).await {
        Ok(until) => until,
        Err(e) => return Err(failed(&run, &mut running, &[], e)),
    };
    erase_and_report(&run, &plan, &mut running, restore_until, Vec::new())
        .await
        .map(|()| Erased::Request(request_id.clone()))
}

/// A delete of the same person that did not finish (killed, failed, cancelled, incomplete) has
/// a plan on record that only `resume` can finish: a new request would re-derive its plan from
/// what is live, and miss every row whose link to the person has already left. Refuse, naming
/// it (exit 2), unless it was undone by a restore since.
fn refuse_over_unfinished(
    global: &Global,
    audit: &AuditLog,
    config: &crate::config::Config,
    subjects: &[subject::Subject],
    key: &[u8],
) -> Result<(), UserError> {
    let ledger = crate::ledger::Ledger::open(audit.state())?;
    // A damaged record (or one dsar 0.1 wrote) still counts here: refusing is the safe side,
    // and the message names the request to look into. The deletes that did not finish, and
    // the requests restores undid, are kept as the records are read: each person is then
    // compared with those only (each of 10,000 people with each of the 10,000 records a batch
    // export had left was a third of a batch delete's CPU, and the records held at once 5 MiB).
    let mut restored = std::collections::HashSet::new();
    let mut candidates = Vec::new();
    ledger.each(|r| {
        if r.kind == "restore" {
            restored.extend(r.target_request);
        } else if r.kind == "delete"
            && !matches!(r.state.as_str(), "completed" | "running" | "queued")
            && r.sealed_subjects.is_some()
            && !purged(&r)
        {
            candidates.push(r);
        }
    })?;
    // The newest is named when several match, as in `dsar status`.
    candidates.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.request_id.cmp(&a.request_id)));
    let unfinished_deletes: Vec<(&crate::ledger::Request, std::collections::HashSet<&str>)> = candidates
        .iter()
        .filter(|r| !restored.contains(&r.request_id))
        .map(|r| (r, r.subject.iter().map(String::as_str).collect()))
        .collect();
    if unfinished_deletes.is_empty() {
        return Ok(());
    }
    for subject in subjects {
        let given: Vec<String> = subject.ids.iter().map(|(k, v)| subject_hash(key, k, v)).collect();
        let unfinished = unfinished_deletes
            .iter()
            .find(|(_, hashes)| given.iter().all(|h| hashes.contains(h.as_str())))
            .map(|(r, _)| *r);
        if let Some(r) = unfinished {
            return Err(UserError::usage(format!(
                "{}: delete request {} of this person did not finish ({}); a new delete would miss the rows it \
                 planned whose links are already gone, so nothing was changed",
                subject::describe(std::slice::from_ref(subject)),
                r.request_id,
                r.state
            ))
            .with_hint(format!(
                "finish it with `{}`, or undo it with `{}`",
                crate::follow_up::command(
                    global,
                    &format!(
                        "resume {} --identity {}",
                        r.request_id,
                        crate::follow_up::recovery_identity(&config.settings)
                    )
                ),
                crate::follow_up::command(
                    global,
                    &format!(
                        "restore --request {} --identity {}",
                        r.request_id,
                        crate::follow_up::recovery_identity(&config.settings)
                    )
                )
            )));
        }
    }
    Ok(())
}

/// Whether a purge destroyed the key of the request (a record that verifies says so): nothing
/// of it can be resumed or restored any more, so it holds its person no longer. A purge leaves
/// a request whose plan is not done in any database (and purges nothing while a database does
/// not answer), so a new delete misses nothing it planned; a purge of an earlier release did
/// not look.
fn purged(r: &crate::ledger::Request) -> bool {
    r.damaged.is_none() && r.afterwards.as_ref().is_some_and(|a| a.purged_at.is_some())
}

/// Erase the plan, then record and report the completed request.
async fn erase_and_report(
    run: &Run<'_>,
    plan: &Plan,
    running: &mut Running,
    restore_until: Option<String>,
    already: Vec<Step>,
) -> Result<(), UserError> {
    let mut done: Vec<Step> = plan.steps.iter().filter(|s| s.strategy == "retain").cloned().collect();
    done.extend(already);
    let mut acting: Vec<Step> = plan.steps.iter().filter(|s| s.strategy != "retain").cloned().collect();
    let mut blocked = None;
    for attempt in 0..=SETTLE_ROUNDS {
        let mut defer = (attempt < SETTLE_ROUNDS).then_some(&mut blocked);
        erase_planned(run, &acting, running, &mut done, defer.take()).await?;
        if blocked.take().is_none() {
            break;
        }
        // A row written meanwhile references a planned row (a new invoice of the customer
        // being erased): erase what appeared, children first, then finish the plan.
        settle(run, plan, running, &mut done).await?;
        acting = match remaining_plan(run, plan).await {
            Ok(steps) => steps,
            Err(e) => return Err(failed(run, running, &done, e)),
        };
    }
    settle(run, plan, running, &mut done).await?;
    let mut flagged = Vec::new();
    let progress = Progress::new(run.global.quiet, run.global.json);
    for source in run.sources {
        let spinner = progress.step(&format!(
            "{}: rebuilding free space so no copy of the rows remains",
            source.config().name
        ));
        let scrubbed = source.scrub_free_space().await;
        spinner.finish_and_clear();
        flagged.extend(scrubbed?);
    }
    flagged.extend(erase_external(run, plan, &mut done).await);
    let mut completed = (run.event)("delete.completed", Outcome::Ok, table_counts(&done), None);
    if let Some(until) = &restore_until {
        // When the erasure becomes final: the story of a case and a certificate say so.
        completed
            .details
            .insert("restorable_until".into(), until.clone().into());
    }
    completed
        .details
        .insert("data_key".into(), run.data_key.fingerprint().into());
    completed
        .details
        .insert("flagged_for_review".into(), flagged.len().into());
    // The register says the people are erased only once they are.
    crate::register::record::complete(
        &Register::open(run.audit.state(), run.audit.chain_key())?,
        run.request_id,
    )?;
    run.audit.append(&completed)?;
    running.finish("completed", None, flagged.clone())?;
    // A request resumed after its window closed (purge left it, unfinished) cannot be undone.
    let undoable = restore_until
        .as_deref()
        .is_none_or(|until| until > crate::clock::now_rfc3339().as_str());
    print_report(
        run.global,
        run.request_id,
        "completed",
        false,
        restore_until,
        done,
        plan,
    );
    if undoable && !run.global.json && !run.global.quiet {
        println!(
            "  undo with: {}",
            crate::follow_up::command(
                run.global,
                &format!(
                    "restore --request {} --identity {}",
                    run.request_id, run.recovery_identity
                )
            )
        );
    }
    if flagged.is_empty() {
        return Ok(());
    }
    for item in &flagged {
        eprintln!("flagged: {item}");
    }
    Err(UserError {
        kind: ExitKind::Flagged,
        message: format!(
            "the databases are erased, but {} item(s) need you (listed above)",
            flagged.len()
        ),
        hint: Some("fix the command source and run the same delete again, or erase there by hand".into()),
        db: None,
    })
}

/// Run every command source's delete_run for each subject, after the databases (it cannot be
/// undone). Adds a step per source to `done`; returns what needs a person: failures, and
/// sources with no delete_run. Messages name the subject by key, never by value.
async fn erase_external(run: &Run<'_>, plan: &Plan, done: &mut Vec<Step>) -> Vec<String> {
    let mut flagged = Vec::new();
    for (source, step) in run.commands.iter().zip(&plan.external) {
        let mut erased = 0u64;
        for subject in 0..run.ids.count as u32 {
            match crate::source::command::erase(source, &run.ids.of_subject(subject)).await {
                Ok(true) => erased += 1,
                Ok(false) => {
                    flagged.push(format!(
                        "source `{}` has no delete_run: erase subject {} there by hand",
                        source.name,
                        subject + 1
                    ));
                }
                // Redacted at the source (see source::command).
                Err(message) => flagged.push(message),
            }
        }
        done.push(Step {
            rows: erased,
            ..step.clone()
        });
    }
    flagged
}

/// Record the request (and its wrapped key) in every source the plan changes, unless it is
/// there already (a resumed request). Returns when its window closes.
async fn register(
    sources: &[Database<'_>],
    plan: &Plan,
    request_id: &str,
    data_key: &DataKey,
    recipients: &[age::x25519::Recipient],
    config: &crate::config::Config,
) -> Result<Option<String>, UserError> {
    let window = config.settings.recovery_window.as_secs_f64();
    let mut restore_until = None;
    for (s, source) in sources.iter().enumerate() {
        if plan
            .steps
            .iter()
            .any(|step| step.source == s && step.strategy != "retain")
        {
            engine::ensure_store(source.backend()).await?;
            if engine::stored_request(source.backend(), request_id).await?.is_none() {
                engine::register_request(source.backend(), request_id, window, &data_key.wrap(recipients)?).await?;
            }
            restore_until = engine::stored_request(source.backend(), request_id)
                .await?
                .map(|r| r.restore_until);
        }
    }
    Ok(restore_until)
}

/// Record the request in every source it changes, then every source's plan, before the first
/// row moves anywhere: a run killed at any point resumes from the plan, not from what is still
/// live. Returns when the request's window closes.
async fn register_and_plan(
    run: &Run<'_>,
    plan: &Plan,
    recipients: &[age::x25519::Recipient],
    config: &crate::config::Config,
) -> Result<Option<String>, UserError> {
    let restore_until = register(run.sources, plan, run.request_id, run.data_key, recipients, config).await?;
    for (s, source) in run.sources.iter().enumerate() {
        let acting = acting_tables(plan, s);
        if !acting.is_empty() {
            engine::record_plan(source.backend(), &acting, run.request_id, run.data_key).await?;
        }
    }
    Ok(restore_until)
}

/// What one erasure run needs besides its plan.
struct Run<'a> {
    global: &'a Global,
    sources: &'a [Database<'a>],
    /// Command sources, erased through their delete_run after the databases.
    commands: Vec<&'a crate::config::Source>,
    /// Everything known about the subjects (a command's `{key}`s are filled from it).
    ids: &'a crate::identity::Identities,
    request_id: &'a str,
    data_key: &'a DataKey,
    installation_key: &'a [u8],
    audit: &'a AuditLog,
    /// The subject's raw identifiers, only to redact them from logged errors.
    raw_values: Vec<String>,
    event: &'a EventFor<'a>,
    /// The recovery identity to name in the `undo with:` line.
    recovery_identity: String,
}

/// Builds the audit event of this request for an action, outcome, counts and error.
type EventFor<'a> = dyn Fn(&str, Outcome, Vec<TableCount>, Option<String>) -> Event + 'a;

/// Move every planned table, batch by batch, children first. A failure or a cancel is recorded
/// in the audit log and the ledger before it is returned; what was committed stays.
/// With `blocked`, a batch refused by a foreign key (a child row written since the plan was
/// made) stops the run without recording a failure: the error is left there for the caller to
/// erase what appeared and go on.
async fn erase_planned(
    run: &Run<'_>,
    steps: &[Step],
    running: &mut Running,
    done: &mut Vec<Step>,
    mut blocked: Option<&mut Option<UserError>>,
) -> Result<(), UserError> {
    let request_id = run.request_id;
    for step in steps {
        let before = rows_done(done, step);
        running.progress(&step.source_name, &step.table_name, before, Some(before + step.rows));
    }
    crate::interrupt::install();
    let progress = Progress::new(run.global.quiet, run.global.json);
    // One bar for the whole delete above the table's own: how far the plan is, and its ETA.
    let overall = progress.rows_of("all tables", steps.iter().map(|s| s.rows).sum());
    let mut siblings = std::collections::HashMap::new();
    for step in steps {
        let source = &run.sources[step.source];
        let bar = progress.rows_of(&format!("{}: {}", step.source_name, step.table_name), step.rows);
        let mut moved = 0u64;
        let mut cancelled = false;
        let table_run = engine::TableRun {
            table: step.table,
            request_id,
            key: run.data_key,
            installation_key: run.installation_key,
            max_rows_per_second: source.config().max_rows_per_second,
        };
        let sessions = super::sessions_for(
            source,
            step.source,
            step.table,
            step.rows,
            super::ERASE_SIBLINGS,
            &mut siblings,
        )
        .await;
        let result = engine::erase_table(&sessions, &table_run, |batch| {
            moved += batch.moved;
            bar.set_position(moved);
            overall.inc(batch.moved);
            let before = rows_done(done, step);
            running.progress(
                &step.source_name,
                &step.table_name,
                before + moved,
                Some(before + step.rows),
            );
            progress.event(request_id, &step.source_name, &step.table_name, moved, Some(step.rows));
            cancelled = running.cancel_requested();
            engine::Flow::stop_if(cancelled)
        })
        .await;
        match result {
            Ok(()) => {}
            Err(e) if e.db == Some(crate::error::DbErrorKind::ForeignKeyViolation) && blocked.is_some() => {
                bar.abandon();
                add_done(done, step, moved);
                if let Some(slot) = blocked.take() {
                    *slot = Some(e);
                }
                return Ok(());
            }
            Err(e) => {
                let counts = counts_with(done, step, moved);
                let error = redact(&e.message, &run.raw_values);
                run.audit.append(&(run.event)(
                    "delete.failed",
                    Outcome::Error,
                    counts,
                    Some(error.clone()),
                ))?;
                running.finish("failed", Some(error), Vec::new())?;
                return Err(UserError {
                    message: format!(
                        "{} ({moved} rows of {} were already quarantined; request {request_id})",
                        e.message, step.table_name
                    ),
                    hint: Some(format!(
                        "fix the cause, then `{}` finishes it",
                        crate::follow_up::command(
                            run.global,
                            &format!("resume {request_id} --identity {}", run.recovery_identity)
                        )
                    )),
                    ..e
                });
            }
        }
        if cancelled {
            bar.abandon();
            let counts = counts_with(done, step, moved);
            let total: u64 = counts
                .iter()
                .filter(|c| c.strategy != Some("retain"))
                .map(|c| c.rows)
                .sum();
            run.audit
                .append(&(run.event)("delete.cancelled", Outcome::Ok, counts, None))?;
            running.finish("cancelled", None, Vec::new())?;
            return Err(UserError::cancelled(format!(
                "cancelled after the current batch: {total} rows were erased and stay erased (request {request_id})"
            ))
            .with_hint(format!(
                "finish with `{}`, or undo with `{}`",
                crate::follow_up::command(
                    run.global,
                    &format!("resume {request_id} --identity {}", run.recovery_identity)
                ),
                crate::follow_up::command(
                    run.global,
                    &format!("restore --request {request_id} --identity {}", run.recovery_identity)
                )
            )));
        }
        bar.finish();
        add_done(done, step, moved);
    }
    Ok(())
}

/// Rounds of re-capture after the plan is done, before a delete may say completed.
const SETTLE_ROUNDS: usize = 3;

/// Completion is checked, not assumed: capture again what the map matches for the subjects,
/// leave out what this request already changed (anonymized and flagged rows still match), and
/// erase what appeared while the plan ran — recorded in the plan first, like the rest. A round
/// that changes nothing (only rows with nothing left to change, such as rows an earlier request
/// anonymized) ends it. Rows that keep appearing past [`SETTLE_ROUNDS`] stop the run with exit
/// 3, naming the tables.
async fn settle(run: &Run<'_>, plan: &Plan, running: &mut Running, done: &mut Vec<Step>) -> Result<(), UserError> {
    match settle_rounds(run, plan, running, done).await {
        Err(e) if e.kind != ExitKind::Flagged && e.kind != ExitKind::Cancelled && !running.is_finished() => {
            Err(failed(run, running, done, e))
        }
        other => other,
    }
}

/// Record a failure after the plan (audit event and ledger), with the hint to resume.
fn failed(run: &Run<'_>, running: &mut Running, done: &[Step], e: UserError) -> UserError {
    let error = redact(&e.message, &run.raw_values);
    let _ = run.audit.append(&(run.event)(
        "delete.failed",
        Outcome::Error,
        table_counts(done),
        Some(error.clone()),
    ));
    let _ = running.finish("failed", Some(error), Vec::new());
    UserError {
        hint: Some(format!(
            "fix the cause, then `{}` finishes it",
            crate::follow_up::command(
                run.global,
                &format!("resume {} --identity {}", run.request_id, run.recovery_identity)
            )
        )),
        ..e
    }
}

async fn settle_rounds(
    run: &Run<'_>,
    plan: &Plan,
    running: &mut Running,
    done: &mut Vec<Step>,
) -> Result<(), UserError> {
    let mut appeared = Vec::new();
    for round in 0..=SETTLE_ROUNDS {
        appeared.clear();
        for (s, source) in run.sources.iter().enumerate() {
            let acting = acting_tables(plan, s);
            if acting.is_empty() {
                continue;
            }
            let db = source.backend();
            let mut counts = engine::capture(db, &acting, run.ids).await?;
            for (count, &t) in counts.iter_mut().zip(&acting) {
                if *count > 0 && source.config().tables[t].on_delete != crate::config::OnDelete::Quarantine {
                    *count -= engine::drop_done(db, t, run.request_id, run.data_key)
                        .await?
                        .min(*count);
                }
            }
            if counts.iter().all(|&c| c == 0) {
                continue;
            }
            // In the plan's order (children first), with what appeared.
            appeared.extend(steps_with(plan, s, &acting, &counts));
            if round < SETTLE_ROUNDS {
                engine::record_plan(db, &acting, run.request_id, run.data_key).await?;
            }
        }
        if appeared.is_empty() || round == SETTLE_ROUNDS {
            break;
        }
        let moved_before: u64 = done.iter().map(|d| d.rows).sum();
        erase_planned(run, &appeared, running, done, None).await?;
        if done.iter().map(|d| d.rows).sum::<u64>() == moved_before {
            return Ok(());
        }
    }
    if appeared.is_empty() {
        return Ok(());
    }
    let tables: Vec<String> = appeared
        .iter()
        .map(|s| format!("{}: {} ({} rows)", s.source_name, s.table_name, s.rows))
        .collect();
    let message = format!(
        "rows of the subject kept appearing while the delete ran ({}); what was planned is erased (request {})",
        tables.join(", "),
        run.request_id
    );
    run.audit.append(&(run.event)(
        "delete.incomplete",
        Outcome::Error,
        table_counts(done),
        Some(message.clone()),
    ))?;
    running.finish("incomplete", Some(message.clone()), tables)?;
    Err(UserError {
        kind: ExitKind::Flagged,
        message,
        hint: Some(format!(
            "stop what writes these rows, then `{}` erases them",
            crate::follow_up::command(
                run.global,
                &format!("resume {} --identity {}", run.request_id, run.recovery_identity)
            )
        )),
        db: None,
    })
}

/// The audit counts of `done` with `moved` more rows of `step`'s table.
fn counts_with(done: &[Step], step: &Step, moved: u64) -> Vec<TableCount> {
    let mut all = done.to_vec();
    add_done(&mut all, step, moved);
    table_counts(&all)
}

/// The plan's steps with what is left of them (planned rows without a quarantine entry), each
/// source's pending lists reloaded from the recorded plan.
async fn remaining_plan(run: &Run<'_>, plan: &Plan) -> Result<Vec<Step>, UserError> {
    let mut steps = Vec::new();
    for (s, source) in run.sources.iter().enumerate() {
        let acting = acting_tables(plan, s);
        if acting.is_empty() {
            continue;
        }
        let counts = engine::reload_plan(source.backend(), &acting, run.request_id, run.data_key).await?;
        steps.extend(steps_with(plan, s, &acting, &counts));
    }
    Ok(steps)
}

/// Source `s`'s steps in the plan's order (children first) with `counts` rows (one per table of
/// `acting`), those with none left out.
fn steps_with(plan: &Plan, s: usize, acting: &[usize], counts: &[u64]) -> Vec<Step> {
    plan.steps
        .iter()
        .filter(|st| st.source == s && st.strategy != "retain")
        .filter_map(|step| {
            let i = acting.iter().position(|&t| t == step.table)?;
            (counts[i] > 0).then(|| Step {
                rows: counts[i],
                ..step.clone()
            })
        })
        .collect()
}

/// The tables of source `s` that the plan changes rows of, in the plan's order.
fn acting_tables(plan: &Plan, s: usize) -> Vec<usize> {
    plan.steps
        .iter()
        .filter(|st| st.source == s && st.strategy != "retain")
        .map(|st| st.table)
        .collect()
}

/// Rows of `step`'s table already erased by this run.
fn rows_done(done: &[Step], step: &Step) -> u64 {
    done.iter()
        .find(|d| d.source == step.source && d.table == step.table)
        .map_or(0, |d| d.rows)
}

/// Count `moved` more rows of `step`'s table as erased.
fn add_done(done: &mut Vec<Step>, step: &Step, moved: u64) {
    match done
        .iter_mut()
        .find(|d| d.source == step.source && d.table == step.table)
    {
        Some(d) => d.rows += moved,
        None => done.push(Step {
            rows: moved,
            ..step.clone()
        }),
    }
}

/// `dsar resume` of a delete: the same request, its key unwrapped with the recovery identity,
/// its subjects unsealed from the ledger; it finishes the plan the delete recorded (committed
/// batches are not redone, nothing is skipped), then checks completion like `delete`.
pub async fn resume(global: &Global, record: &Request, identity: &std::path::Path, yes: bool) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    crate::warn_all(global, &config.warnings);
    let identities = read_identity_file(identity)?;
    let request_id = record.request_id.clone();
    let sealed = record.sealed_subjects.as_deref().ok_or_else(|| {
        UserError::usage(format!(
            "request {request_id} holds no sealed subjects, so it cannot be resumed"
        ))
        .with_hint("run the same delete again: it erases what is still live, as a new request")
    })?;
    let subjects = subject::unseal(sealed, &identities)?;
    let file = config
        .settings
        .recovery_recipients_file
        .as_ref()
        .ok_or_else(|| UserError::usage("no recovery recipients: set [settings].recovery_recipients_file"))?;
    let recipients = read_recipients_file(file)?;
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    let key = audit.key().to_vec();

    let sources = super::open_sources(&config, &audit).await?;
    for source in &sources {
        source.lock_for_erasure().await?;
    }
    let mut data_key = None;
    for source in &sources {
        if let Some(stored) = engine::stored_request(source.backend(), &request_id).await? {
            let wrapped = stored.wrapped_key.ok_or_else(|| {
                UserError::runtime(format!("request {request_id} was purged; nothing to resume")).with_hint(
                    "its key is destroyed, and with it what it quarantined and planned: run the same delete again \
                     to erase what is still live",
                )
            })?;
            let key = DataKey::unwrap(&wrapped, &identities)?;
            // Every source holds the same key: the one recorded, else the first one found.
            let expected = record
                .data_key
                .clone()
                .or_else(|| data_key.as_ref().map(DataKey::fingerprint));
            super::check_key(&request_id, &source.config().name, &key, expected.as_deref())?;
            data_key.get_or_insert(key);
        }
    }
    // Killed before any source recorded it: nothing was erased yet, so a new key is as good.
    let data_key = data_key.unwrap_or_else(DataKey::generate);
    // Checked (or allowed) when the request was first made.
    let ids = crate::identity::resolve(&sources, &subjects, true).await?;
    let mut plan = Plan::build(&sources, &ids).await?;
    plan.external = Plan::external_steps(&config, subjects.len());
    if let Some(first) = plan.refusals.first() {
        eprint!("{}", plan.render());
        return Err(UserError {
            kind: ExitKind::Refused,
            message: format!("resume refused, nothing changed: {first}"),
            hint: Some("extend the source map as suggested, then resume again".into()),
            db: None,
        });
    }
    let subject_hashes = record.subject.clone();
    let event = |action: &str, outcome: Outcome, counts: Vec<TableCount>, error: Option<String>| {
        let mut details = serde_json::Map::new();
        details.insert("resumed".into(), true.into());
        if let Some(original) = &record.reapplied_from {
            details.insert("reapplied_from".into(), original.clone().into());
        }
        Event {
            action: action.into(),
            request_id: Some(request_id.clone()),
            subject: subject_hashes.clone(),
            tables: counts,
            outcome,
            error,
            details,
            ..Default::default()
        }
    };
    // The person and the rows still live are shown and confirmed, as for a new delete: a ledger
    // record is what `resume` trusts, and an operator should see whom it is about to erase.
    confirm_or_log(yes, &plan, &subjects, config.settings.recovery_window, &audit, &event)?;
    let restore_until = register(&sources, &plan, &request_id, &data_key, &recipients, &config).await?;
    // Finish the plan the delete recorded, not what is live now: a child whose parent already
    // left is still in it, and a row already anonymized or flagged is not taken again. A source
    // without a plan on record was not erased from yet: what is live now is its plan.
    for (s, source) in sources.iter().enumerate() {
        let acting = acting_tables(&plan, s);
        if acting.is_empty() {
            continue;
        }
        if engine::has_plan(source.backend(), &request_id).await? {
            let counts = engine::reload_plan(source.backend(), &acting, &request_id, &data_key).await?;
            for (&t, count) in acting.iter().zip(counts) {
                if let Some(step) = plan.steps.iter_mut().find(|st| st.source == s && st.table == t) {
                    step.rows = count;
                }
            }
        } else {
            engine::record_plan(source.backend(), &acting, &request_id, &data_key).await?;
        }
    }
    // What earlier runs of this request erased counts toward its totals.
    let mut already = Vec::new();
    for (s, source) in sources.iter().enumerate() {
        // Only a source that acts has rows of the request in its store, and `register` above
        // made that store (and brought it up to date).
        if acting_tables(&plan, s).is_empty() {
            continue;
        }
        for (name, _, rows) in engine::quarantined_tables(source.backend(), &request_id).await? {
            if let Some(step) = plan
                .steps
                .iter()
                .find(|st| st.source == s && st.table_name == name.to_string())
            {
                already.push(Step {
                    rows: rows as u64,
                    ..step.clone()
                });
            }
        }
    }
    audit.append(&event("delete.resumed", Outcome::Ok, table_counts(&plan.steps), None))?;
    let ledger = Ledger::for_runs(&audit, &config.notify)?;
    let entry = Register::open(audit.state(), audit.chain_key())?.get(&request_id)?;
    let mut running = ledger.start_with(
        None,
        &request_id,
        "delete",
        audit.operator(),
        record.reason.clone(),
        record.subject.clone(),
        |record| {
            record.sealed_subjects = Some(sealed.to_string());
            record.data_key = Some(data_key.fingerprint());
            if let Some(entry) = &entry {
                record.registered = true;
                // A reapplied erasure stays linked to its original across runs: the register's
                // completeness check counts on it once the original's people are taken over.
                record.reapplied_from = entry.reapplied_from.as_ref().map(|from| from.request_id.clone());
            }
        },
    )?;
    let run = Run {
        global,
        sources: &sources,
        commands: config.commands().collect(),
        ids: &ids,
        request_id: &request_id,
        data_key: &data_key,
        installation_key: &key,
        audit: &audit,
        raw_values: ids_text(&subjects),
        event: &event,
        recovery_identity: crate::follow_up::recovery_identity(&config.settings),
    };
    erase_and_report(&run, &plan, &mut running, restore_until, already).await
}

fn ids_text(subjects: &[subject::Subject]) -> Vec<String> {
    subjects
        .iter()
        .flat_map(|s| s.ids.iter().map(|(_, v)| v.clone()))
        .collect()
}

/// An error fit for the audit log: raw identifiers removed.
fn redact(message: &str, values: &[String]) -> String {
    values
        .iter()
        .fold(message.to_string(), |m, v| m.replace(v.as_str(), "<subject>"))
}

fn table_count(step: &Step) -> TableCount {
    TableCount {
        source: step.source_name.as_str().into(),
        table: step.table_name.as_str().into(),
        strategy: Some(step.strategy),
        rows: step.rows,
    }
}

fn table_counts(steps: &[Step]) -> Vec<TableCount> {
    steps.iter().map(table_count).collect()
}

/// `--yes`, or a person at a terminal who types yes. Scripts without `--yes` are refused.
/// Ask at the terminal, saying what will happen: how many people (by which kinds of
/// identifier), rows and tables, and until when the rows stay restorable. Only `yes`, typed in
/// full, goes on.
/// How a delete run makes its audit events: action, outcome, per-table counts, error.
type MakeEvent<'a> = dyn Fn(&str, Outcome, Vec<TableCount>, Option<String>) -> Event + 'a;

/// [`confirm`], and a refusal logged as `delete.declined` (nothing changed).
fn confirm_or_log(
    yes: bool,
    plan: &Plan,
    subjects: &[subject::Subject],
    window: std::time::Duration,
    audit: &AuditLog,
    event: &MakeEvent<'_>,
) -> Result<(), UserError> {
    confirm(yes, plan, subjects, window).or_else(|e| {
        audit.append(&event(
            "delete.declined",
            Outcome::Error,
            table_counts(&plan.steps),
            Some(e.message.clone()),
        ))?;
        Err(e)
    })
}

fn confirm(
    yes: bool,
    plan: &Plan,
    subjects: &[subject::Subject],
    window: std::time::Duration,
) -> Result<(), UserError> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(
            UserError::usage("delete needs confirmation and there is no terminal to ask on; nothing changed")
                .with_hint("review the plan with --dry-run, then run again with --yes"),
        );
    }
    eprint!("{}", plan.render());
    let mut kinds: Vec<&str> = subjects
        .iter()
        .flat_map(|s| s.ids.iter().map(|(k, _)| k.as_str()))
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let people = if subjects.len() == 1 {
        "1 person".to_string()
    } else {
        format!("{} people", subjects.len())
    };
    let tables = plan.steps.iter().filter(|s| s.rows > 0).count();
    eprint!(
        "Erase {} rows in {tables} tables about {people} (identified by {})? They stay restorable \
         until about {}, then are destroyed for good.\nType yes to erase, anything else to stop: ",
        plan.total_rows(),
        kinds.join(", "),
        crate::clock::from_now(window)
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| UserError::usage(format!("cannot read the answer: {e}")))?;
    if answer.trim_end_matches(['\r', '\n']) == "yes" {
        Ok(())
    } else {
        Err(UserError::usage("not confirmed; nothing changed"))
    }
}

fn print_report(
    global: &Global,
    request_id: &str,
    state: &'static str,
    dry_run: bool,
    restore_until: Option<String>,
    counts: Vec<Step>,
    plan: &Plan,
) {
    if global.json {
        let report = Report {
            request_id,
            state,
            dry_run,
            restore_until,
            counts,
            refusals: &plan.refusals,
            notes: &plan.notes,
        };
        crate::output::print_json(&report);
        return;
    }
    if global.quiet {
        return;
    }
    let shown = Plan {
        steps: counts,
        ..Plan::default()
    };
    if state == "nothing_matched" {
        println!("nothing matched: nothing was erased");
        return;
    }
    if dry_run {
        println!("plan for a delete (dry run, nothing changed):");
    } else {
        let window = match restore_until.as_deref() {
            // A request resumed after its window closed (purge left it, unfinished).
            Some(until) if until < crate::clock::now_rfc3339().as_str() => {
                format!("its recovery window closed at {until}: the next purge makes it final")
            }
            until => format!("restorable until {}", until.unwrap_or("-")),
        };
        println!("deleted: request {request_id}, {} rows; {window}", shown.total_rows());
    }
    print!("{}", shown.render());
}
