//! `dsar status`, `dsar jobs`, `dsar cancel`: the request ledger, for people and scripts.

use serde_json::json;

use crate::cli::{Global, JobsArgs, PurgeArgs, RequestIdArg, RestoreArgs, ResumeArgs, StatusArgs};
use crate::error::UserError;
use crate::ledger::{Ledger, Request};
use crate::state::StateDir;

fn ledger(global: &Global) -> Result<Ledger, UserError> {
    Ledger::open(&StateDir::open(crate::state::resolve(global).as_deref())?)
}

/// The top-level entry point for `dsar status`.
pub fn run_status(global: &Global, args: &StatusArgs) -> Result<(), UserError> {
    let ledger = ledger(global)?;
    let request = match &args.id {
        Some(id) => match ledger.get(id)? {
            Some(request) => request,
            None => return crate::case::story::run(global, &ledger, id),
        },
        None => ledger
            .list()?
            .into_iter()
            .next()
            .ok_or_else(|| UserError::usage("the ledger is empty: no request has run yet"))?,
    };
    if global.json {
        crate::output::print_json(&public(&request));
        return Ok(());
    }
    println!("request  {}", request.request_id);
    if let Some(why) = &request.damaged {
        println!("DAMAGED  {why}: what follows cannot be trusted, and `dsar resume` will not act on it");
    }
    println!("kind     {}", request.kind);
    if let Some(target) = &request.target_request {
        println!("target   {target}");
    }
    if let Some(original) = &request.reapplied_from {
        println!("reapplies {original} (its people were found live again)");
    }
    println!("state    {}", request.state);
    if let Some(ticket) = &request.ticket {
        println!("ticket   {ticket} (`dsar status {ticket}` tells the whole case)");
    }
    println!("operator {}", request.operator);
    if let Some(reason) = &request.reason {
        println!("reason   {reason}");
    }
    println!("started  {}", request.started_at);
    if let Some(ended) = &request.ended_at {
        println!("ended    {ended}");
    }
    if let Some(eta) = request.eta_seconds {
        println!("eta      {eta}s");
    }
    if let Some(error) = &request.last_error {
        println!("error    {error}");
    }
    if let Some(after) = &request.afterwards {
        if let (Some(at), Some(by)) = (&after.restored_at, &after.restored_by) {
            println!("restored {at} by restore {by}: every row is live again");
        }
        if let (Some(at), Some(by)) = (&after.purged_at, &after.purged_by) {
            println!("purged   {at} by purge {by}: unrecoverable since");
        }
    }
    if request.state == "failed (interrupted)" && !request.progress.is_empty() {
        println!(
            "progress as its process last recorded it (rewritten at most every half second, and not while a step \
             waited): what is done is in its plan, and `dsar resume {}` finishes the rest",
            request.request_id
        );
    }
    for p in &request.progress {
        let planned = p.planned.map(|n| format!("/{n}")).unwrap_or_default();
        println!("  {:>10}{planned:<11} {}: {}", p.done, p.source, p.table);
    }
    for item in &request.flagged {
        println!("  flagged: {item}");
    }
    Ok(())
}

/// The top-level entry point for `dsar jobs`.
pub fn run_jobs(global: &Global, args: &JobsArgs) -> Result<(), UserError> {
    let since = args
        .since
        .as_deref()
        .map(|t| crate::audit::query::parse_bound("--since", t))
        .transpose()?;
    let keep = |r: &Request| {
        let state_ok = args
            .state
            .map(crate::cli::RequestState::name)
            .is_none_or(|s| r.state == s || r.state.starts_with(&format!("{s} ")));
        let time_ok =
            since.is_none_or(|since| crate::audit::query::parse_time(&r.started_at).is_some_and(|t| t >= since));
        let ticket_ok = args.ticket.as_ref().is_none_or(|t| r.ticket.as_ref() == Some(t));
        state_ok && time_ok && ticket_ok
    };
    if args.overdue || args.due_within.is_some() {
        return crate::case::story::run_due(global, &ledger(global)?, args);
    }
    let requests: Vec<Request> = ledger(global)?.list()?.into_iter().filter(keep).collect();
    if global.json {
        let requests: Vec<serde_json::Value> = requests.iter().map(public).collect();
        crate::output::print_json(&json!({ "requests": requests }));
        return Ok(());
    }
    if requests.is_empty() {
        if !global.quiet {
            eprintln!("no requests");
        }
        return Ok(());
    }
    println!(
        "{:<32} {:<8} {:<21} {:>10}  {:<12} {:<19}  ticket",
        "request", "kind", "state", "rows", "operator", "started"
    );
    for r in &requests {
        println!(
            "{:<32} {:<8} {:<21} {:>10}  {:<12} {:<19}  {}",
            r.request_id,
            r.kind,
            r.state,
            r.rows_done(),
            r.operator,
            r.started_at.get(..19).unwrap_or(&r.started_at),
            r.ticket.as_deref().unwrap_or("-")
        );
        if let Some(why) = &r.damaged {
            println!("  damaged record: {why}; `dsar resume` will not act on it");
        }
    }
    Ok(())
}

/// The top-level entry point for `dsar cancel`.
pub fn run_cancel(global: &Global, args: &RequestIdArg) -> Result<(), UserError> {
    let request = ledger(global)?.request_cancel(&args.id)?;
    let audit = crate::audit::AuditLog::open(global)?;
    // Whose request it is and which case, as its record says: the story of a person or a case
    // includes its cancellation.
    audit.append(&crate::audit::Event {
        action: "cancel.requested".into(),
        request_id: Some(request.request_id.clone()),
        subject: request.subject.clone(),
        ticket: request.ticket.clone(),
        outcome: crate::audit::Outcome::Ok,
        ..Default::default()
    })?;
    if global.json {
        crate::output::print_json(&json!({"request_id": request.request_id, "state": "cancelling"}));
    } else if !global.quiet {
        println!(
            "asked request {} ({}) to stop after its current batch; `dsar status {}` shows when it has",
            request.request_id, request.kind, request.request_id
        );
    }
    Ok(())
}

/// The top-level entry point for `dsar resume`.
pub async fn run_resume(global: &Global, args: &ResumeArgs) -> Result<(), UserError> {
    let ledger = ledger(global)?;
    resumable(&ledger, &args.id)?;
    // Then locked, and read again: another `resume` may have run it in between.
    ledger.claim(&args.id)?;
    let record = resumable(&ledger, &args.id)?;
    // The resumed run belongs to the case of the one it finishes.
    let mut global = global.clone();
    global.case.ticket = record.ticket.clone();
    global.case.reason = record.reason.clone();
    let global = &global;
    let identity = || {
        args.identity.as_deref().ok_or_else(|| {
            UserError::usage(format!(
                "resuming a {} needs --identity FILE (a recovery key)",
                record.kind
            ))
        })
    };
    match record.kind.as_str() {
        "delete" => crate::erase::delete::resume(global, &record, identity()?, args.yes).await,
        "restore" => {
            let target = record
                .target_request
                .clone()
                .ok_or_else(|| UserError::runtime("the restore record names no request"))?;
            let args = RestoreArgs {
                request: target,
                case: Default::default(),
                identity: Some(identity()?.to_path_buf()),
                table: None,
                key: Vec::new(),
            };
            crate::erase::restore::run_as(global, &args, Some(&record.request_id)).await
        }
        "purge" => {
            crate::erase::purge::run_as(
                global,
                &PurgeArgs {
                    // A dry run resumed stays one: it was asked to change nothing.
                    dry_run: record.dry_run,
                    case: Default::default(),
                },
                Some(&record.request_id),
            )
            .await
        }
        "export" => {
            let resumed = crate::export::resume(global, &record, identity()?).await;
            // The last of a dead run's queue to be resumed takes the queue with it (whatever
            // this one's outcome: nothing matched, say, is an error that still records it).
            if let Some(run) = &record.queued_by {
                ledger.end_run(run);
            }
            resumed
        }
        other => Err(UserError::usage(format!(
            "a {other} request cannot be resumed: run it again"
        ))),
    }
}

/// The record of request `id`, if `resume` may act on it: written by dsar, neither running,
/// queued nor completed.
fn resumable(ledger: &Ledger, id: &str) -> Result<Request, UserError> {
    let record = ledger.get(id)?.ok_or_else(|| {
        UserError::usage(format!("no request `{id}` in the ledger")).with_hint("`dsar jobs` lists them")
    })?;
    // The record says whom to erase and where an archive goes: only one dsar wrote is acted on.
    if let Some(why) = &record.damaged {
        return Err(UserError::usage(format!(
            "the ledger record of request {id} cannot be trusted ({why}); nothing was resumed"
        ))
        .with_hint("`dsar audit show --request` shows what really happened; run the command again as a new request"));
    }
    match record.state.as_str() {
        "running" => Err(UserError::usage(format!("request {id} is still running"))),
        "queued" => Err(UserError::usage(format!(
            "request {id} is queued in a run that is still going; it will run"
        ))),
        "completed" => Err(UserError::usage(format!(
            "request {id} already completed; nothing to resume"
        ))),
        _ => Ok(record),
    }
}

/// A ledger record as `status --json` and `jobs --json` show it: without the sealed subjects,
/// a blob only `resume` can use (readable with a recovery key alone, but no business of a
/// script's), and with its per-table progress as `counts` (`rows` done, `planned`), the name
/// every other result uses.
fn public(request: &Request) -> serde_json::Value {
    let mut value = serde_json::to_value(request).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        fields.remove("sealed_subjects");
        fields.remove("mac");
        if let Some(why) = &request.damaged {
            fields.insert("damaged".into(), why.clone().into());
        }
        fields.remove("progress");
        let counts: Vec<serde_json::Value> = request
            .progress
            .iter()
            .map(|p| {
                let mut count = json!({"source": p.source, "table": p.table, "rows": p.done});
                if let Some(planned) = p.planned {
                    count["planned"] = planned.into();
                }
                count
            })
            .collect();
        fields.insert("counts".into(), counts.into());
    }
    value
}
