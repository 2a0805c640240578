//! What compliance staff ask of a case: `dsar status TICKET` tells its story in order (received,
//! each export and who opened it, erased, restorable until, restored, purged), and
//! `dsar jobs --overdue` / `--due-within` list the cases that are late or soon due.
//!
//! The story is read from the audit log (every event of the case's runs, and the purges that
//! destroyed its quarantine) and the ledger (which requests belong to the case, and whether one
//! answered it); a case record says when it was received and when it is due.

use serde_json::{Map, Value, json};
use time::Date;

use super::{Case, Cases, check_ticket, public, today};
use crate::audit::AuditLog;
use crate::audit::query::{self, names_request};
use crate::cli::{Global, JobsArgs};
use crate::error::UserError;
use crate::ledger::{Ledger, Request};

/// When `ticket`'s case was answered: the first export or delete completed under it, as the
/// audit log says (sealed with the chain key; a ledger record is not, so it cannot answer).
fn answered(events: &[Map<String, Value>], ticket: &str) -> Option<String> {
    events
        .iter()
        .filter(|e| e.get("ticket").and_then(Value::as_str) == Some(ticket))
        .filter(|e| matches!(text(e, "action"), "export.completed" | "delete.completed"))
        .filter(|e| text(e, "outcome") == "ok")
        .map(|e| text(e, "time").to_string())
        .min()
}

/// Every event of a log that verifies: deadlines read from a damaged log are not shown.
fn verified_events(audit: &AuditLog) -> Result<Vec<Map<String, Value>>, UserError> {
    if let Err(broken) = audit.verify(None)? {
        return Err(UserError::runtime(format!(
            "the audit log does not verify ({}: {}): the cases' story cannot be trusted",
            broken.place, broken.problem
        ))
        .with_hint("run `dsar audit verify`; restore the log from backup"));
    }
    let dir = audit.dir()?;
    query::read_all(&dir).map_err(|e| UserError::runtime(format!("audit log in {}: cannot read: {e}", dir.display())))
}

/// Where a case stands today, in words and for scripts.
fn standing(case: &Case, answered: Option<&str>) -> (String, Value) {
    if let Some(at) = answered {
        let late = case
            .due_date()
            .is_some_and(|due| at.get(..10).is_some_and(|day| day > due_text(due).as_str()));
        let words = format!(
            "answered {}{}",
            &at[..at.len().min(10)],
            if late { " (late)" } else { "" }
        );
        return (words, json!({"state": "answered", "answered_at": at, "late": late}));
    }
    let days = case.due_date().map_or(0, |due| (due - today()).whole_days());
    if days < 0 {
        (
            format!("OVERDUE by {} day(s)", -days),
            json!({"state": "overdue", "days_left": days}),
        )
    } else {
        (
            format!("open, {days} day(s) left"),
            json!({"state": "open", "days_left": days}),
        )
    }
}

fn due_text(date: Date) -> String {
    super::date_text(date)
}

/// The case's requests whose records verify: a hand-written record answers nothing.
fn requests_of<'a>(requests: &'a [Request], ticket: &str) -> Vec<&'a Request> {
    requests
        .iter()
        .filter(|r| r.damaged.is_none() && r.ticket.as_deref() == Some(ticket))
        .collect()
}

/// `dsar status TICKET`.
pub fn run(global: &Global, ledger: &Ledger, ticket: &str) -> Result<(), UserError> {
    let unknown = || {
        UserError::usage(format!("no request or case `{ticket}`")).with_hint(format!(
            "`dsar jobs` lists requests with their tickets; `dsar jobs --due-within 365d` lists open cases; \
                 `dsar audit show --request {ticket}` shows what the log holds of a request the ledger lost"
        ))
    };
    check_ticket(ticket).map_err(|_| unknown())?;
    let audit = AuditLog::open(global)?;
    let Some(case) = Cases::open(&audit)?.get(ticket)? else {
        super::refuse_lost_case(&audit, ticket)?;
        return Err(unknown());
    };
    let all = ledger.list()?;
    let requests = requests_of(&all, ticket);
    let events: Vec<Map<String, Value>> = verified_events(&audit)?
        .into_iter()
        .filter(|e| {
            e.get("ticket").and_then(Value::as_str) == Some(ticket)
                || requests.iter().any(|r| names_request(e, &r.request_id))
        })
        .collect();
    let (words, state) = standing(&case, answered(&events, ticket).as_deref());
    if global.json {
        let mut case_json = public(&case);
        if let (Some(fields), Some(extra)) = (case_json.as_object_mut(), state.as_object()) {
            fields.extend(extra.clone());
        }
        let ids: Vec<&str> = requests.iter().map(|r| r.request_id.as_str()).collect();
        let story: Vec<Value> = events.into_iter().map(Value::Object).collect();
        crate::output::print_json(&json!({"case": case_json, "requests": ids, "story": story}));
        return Ok(());
    }
    println!("case     {} ({})", case.ticket, case.regime.name());
    println!("received {}", case.received);
    match &case.extension {
        Some(ext) => println!(
            "due      {} (extended{} from {}: {})",
            case.due,
            if ext.late {
                " LATE, after the first deadline,"
            } else {
                ""
            },
            ext.was_due,
            ext.reason
        ),
        None => println!("due      {}", case.due),
    }
    println!("state    {words}");
    for e in &events {
        println!(
            "{:<19}  {:<12} {:<18} {}",
            text(e, "time").get(..19).unwrap_or_default(),
            text(e, "operator"),
            text(e, "action"),
            summary(e)
        );
        if matches!(
            text(e, "action"),
            "delete.completed" | "restore.completed" | "restore.failed"
        ) {
            for t in e.get("tables").and_then(Value::as_array).into_iter().flatten() {
                println!(
                    "{:>44} {:>8} rows  {}: {}",
                    "",
                    t.get("rows").and_then(Value::as_u64).unwrap_or(0),
                    t.get("source").and_then(Value::as_str).unwrap_or_default(),
                    t.get("table").and_then(Value::as_str).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

fn text<'a>(event: &'a Map<String, Value>, field: &str) -> &'a str {
    event.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// One line about an event: what it did, to what, and what follows from it.
fn summary(e: &Map<String, Value>) -> String {
    let details = e.get("details").and_then(Value::as_object);
    let detail = |k: &str| {
        details
            .and_then(|d| d.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let rows: u64 = e
        .get("tables")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(|x| x.get("rows").and_then(Value::as_u64)).sum())
        .unwrap_or(0);
    let mut parts: Vec<String> = Vec::new();
    match text(e, "action") {
        "case.opened" => parts.push(format!(
            "received {} ({}), due {}",
            detail("received"),
            detail("regime"),
            detail("due")
        )),
        "case.extended" => parts.push(format!(
            "due {} (was {}): {}",
            detail("due"),
            detail("was_due"),
            detail("reason")
        )),
        // A purge is in the story because it names the request among those it destroyed,
        // however the purge ended (`purge.incomplete` left another request unfinished).
        a if a.starts_with("purge.")
            && details.and_then(|d| d.get("dry_run")).and_then(Value::as_bool) == Some(true) =>
        {
            parts.push("dry run: nothing destroyed".into())
        }
        a if a.starts_with("purge.") => {
            parts.push(format!("quarantine destroyed: unrecoverable since {}", text(e, "time")))
        }
        _ if rows > 0 => parts.push(format!("{rows} rows")),
        _ => {}
    }
    if let Some(sha) = e.get("archive_sha256").and_then(Value::as_str) {
        parts.push(format!("archive sha256 {sha}"));
    }
    if !detail("restorable_until").is_empty() {
        parts.push(format!("restorable until {}", detail("restorable_until")));
    }
    if let Some(id) = e.get("request_id").and_then(Value::as_str) {
        parts.push(format!("request {id}"));
    }
    if let Some(error) = e.get("error").and_then(Value::as_str) {
        parts.push(format!("error: {error}"));
    }
    parts.join("; ")
}

/// `dsar jobs --overdue` / `--due-within D`: the unanswered cases due by then, soonest first.
pub fn run_due(global: &Global, ledger: &Ledger, args: &JobsArgs) -> Result<(), UserError> {
    let limit = match &args.due_within {
        Some(text) => {
            let within =
                crate::config::parse_duration(text).map_err(|e| UserError::usage(format!("--due-within: {e}")))?;
            let days = within.as_secs().div_ceil(86_400).min(365 * 100) as i64;
            today().checked_add(time::Duration::days(days)).unwrap_or(Date::MAX)
        }
        // Overdue: due before today.
        None => today() - time::Duration::days(1),
    };
    let audit = AuditLog::open(global)?;
    let all = ledger.list()?;
    let events = verified_events(&audit)?;
    let mut rows = Vec::new();
    let (cases, damaged) = Cases::open(&audit)?.list()?;
    let damaged: Vec<(String, String)> = damaged
        .into_iter()
        .filter(|(t, _)| args.ticket.as_ref().is_none_or(|want| want == t))
        .collect();
    for case in cases {
        if args.ticket.as_ref().is_some_and(|t| *t != case.ticket) {
            continue;
        }
        let requests = requests_of(&all, &case.ticket);
        if answered(&events, &case.ticket).is_some() || case.due_date().is_none_or(|due| due > limit) {
            continue;
        }
        let (words, state) = standing(&case, None);
        rows.push((case, requests, words, state));
    }
    if global.json {
        let cases: Vec<Value> = rows
            .iter()
            .map(|(case, requests, _, state)| {
                let mut value = public(case);
                if let (Some(fields), Some(extra)) = (value.as_object_mut(), state.as_object()) {
                    fields.extend(extra.clone());
                    let ids: Vec<&str> = requests.iter().map(|r| r.request_id.as_str()).collect();
                    fields.insert("requests".into(), json!(ids));
                }
                value
            })
            .collect();
        let damaged: Vec<Value> = damaged
            .iter()
            .map(|(ticket, why)| json!({"ticket": ticket, "state": "damaged", "damaged": why}))
            .collect();
        crate::output::print_json(&json!({ "cases": cases, "damaged": damaged }));
        return Ok(());
    }
    // A record that does not verify may hide a deadline: always shown, whatever the filter.
    for (ticket, why) in &damaged {
        println!("DAMAGED  {ticket}: {why}");
    }
    if rows.is_empty() {
        if !global.quiet {
            eprintln!(
                "no unanswered case {}",
                args.due_within
                    .as_ref()
                    .map_or("is overdue".to_string(), |d| format!("is due within {d}"))
            );
        }
        return Ok(());
    }
    println!(
        "{:<20} {:<6} {:<10} {:<10} {:<24} requests",
        "ticket", "regime", "received", "due", "state"
    );
    for (case, requests, words, _) in &rows {
        println!(
            "{:<20} {:<6} {:<10} {:<10} {:<24} {}",
            case.ticket,
            case.regime.name(),
            case.received,
            case.due,
            words,
            requests.len()
        );
    }
    Ok(())
}
