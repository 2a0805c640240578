//! `dsar audit certificate`: the proof compliance staff hand over when asked "prove this person
//! was erased, and since when it cannot be undone".
//!
//! Everything in it comes from the audit log, after the whole chain verifies: the delete's
//! `delete.completed` event (tables, counts, strategies, when, by whom, ticket, until when it
//! is restorable), then what happened to that request since: a `restore.completed` (the erasure
//! was undone) or the purge that destroyed its quarantine key (unrecoverable since).
//! Each event is cited by sequence number and hash, which `dsar audit verify` checks; with an
//! anchor taken by `dsar audit head`, `audit verify --head` proves the log was not rewritten.

use serde_json::{Map, Value, json};

use super::AuditLog;
use super::query::{self, names_request};
use crate::cli::{AuditCertificateArgs, Global};
use crate::error::{ExitKind, UserError};

fn text<'a>(event: &'a Map<String, Value>, field: &str) -> &'a str {
    event.get(field).and_then(Value::as_str).unwrap_or_default()
}

/// The event's place in the chain, as a certificate cites it.
fn cite(event: &Map<String, Value>) -> Value {
    json!({
        "seq": event.get("seq").cloned().unwrap_or(Value::Null),
        "action": text(event, "action"),
        "time": text(event, "time"),
        "hash": text(event, "hash"),
    })
}

/// The top-level entry point for `dsar audit certificate`.
pub fn run(global: &Global, args: &AuditCertificateArgs) -> Result<(), UserError> {
    let log = AuditLog::open(global)?;
    let verified = match log.verify(args.head.as_deref())? {
        Ok(v) => v,
        Err(broken) => {
            return Err(UserError::runtime(format!(
                "the audit log does not verify ({}: {}): it cannot prove anything",
                broken.place, broken.problem
            ))
            .with_hint("run `dsar audit verify`; restore the log from backup"));
        }
    };
    let dir = log.dir()?;
    let events = query::read_all(&dir).map_err(|e| UserError::runtime(format!("cannot read the audit log: {e}")))?;
    let completed = |e: &&Map<String, Value>| text(e, "action") == "delete.completed";
    let erasure = match (&args.request, &args.subject) {
        (Some(id), _) => events.iter().filter(completed).find(|e| text(e, "request_id") == id),
        (None, Some(kv)) => {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| UserError::usage(format!("--subject `{kv}` is not KEY=VALUE")))?;
            let hash = crate::state::subject_hash(log.key(), k, v);
            events.iter().filter(completed).rfind(|e| {
                e.get("subject")
                    .and_then(Value::as_array)
                    .is_some_and(|s| s.iter().any(|h| h.as_str() == Some(hash.as_str())))
            })
        }
        (None, None) => None,
    };
    let Some(erasure) = erasure else {
        let what = match &args.request {
            Some(id) => format!("request {id}"),
            None => "this person".to_string(),
        };
        return Err(UserError {
            kind: ExitKind::Flagged,
            message: format!("no completed erasure of {what} in the audit log: nothing to certify"),
            hint: Some("`dsar audit show --request ID` (or --subject) shows what did happen".into()),
            db: None,
        });
    };
    let id = text(erasure, "request_id").to_string();
    let seq = erasure.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let later: Vec<&Map<String, Value>> = events
        .iter()
        .filter(|e| e.get("seq").and_then(Value::as_u64).unwrap_or(0) > seq && names_request(e, &id))
        .collect();
    // Every restore that put rows back counts, finished or not; a single-table restore (`--key`)
    // undoes part of the erasure.
    let restores: Vec<&&Map<String, Value>> = later
        .iter()
        .filter(|e| text(e, "action").starts_with("restore.") && rows(e) > 0)
        .collect();
    let restored = restores.last().copied();
    let whole_restore = restores.iter().any(|e| {
        text(e, "action") == "restore.completed" && e.get("details").and_then(|d| d.get("single_table")).is_none()
    });
    // A purge names in `request_ids` the requests it destroyed, however it ended (one that left
    // an unfinished delete is `purge.incomplete`); a dry run destroyed nothing.
    let purged = later.iter().find(|e| {
        text(e, "action").starts_with("purge.")
            && e.get("details").and_then(|d| d.get("dry_run")).and_then(Value::as_bool) != Some(true)
    });
    let flagged = erasure
        .get("details")
        .and_then(|d| d.get("flagged_for_review"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let restorable_until = erasure
        .get("details")
        .and_then(|d| d.get("restorable_until"))
        .and_then(Value::as_str);
    let state = match (restored, purged) {
        (Some(_), _) if whole_restore => "restored",
        (Some(_), _) => "partly restored",
        (None, Some(_)) => "unrecoverable",
        (None, None) if restorable_until.is_some() => "restorable",
        (None, None) => "erased",
    };
    let mut cited = vec![cite(erasure)];
    cited.extend(restores.iter().map(|e| cite(e)));
    cited.extend(purged.map(|e| cite(e)));
    let head = log.head()?;
    let certificate = json!({
        "state": state,
        "request_id": id,
        "ticket": erasure.get("ticket"),
        "subject": erasure.get("subject"),
        "erased_at": text(erasure, "time"),
        "erased_by": text(erasure, "operator"),
        "tables": erasure.get("tables"),
        "restorable_until": restorable_until,
        "unrecoverable_since": purged.map(|e| text(e, "time")),
        "restored_at": restored.map(|e| text(e, "time")),
        "restored_by": restored.map(|e| text(e, "operator")),
        "restored_rows": restores.iter().map(|e| rows(e)).sum::<u64>(),
        "flagged_for_review": flagged,
        "events": cited,
        "log": {
            "verified": true,
            "events": verified.events,
            "head": head.map(|h| json!({"seq": h.seq, "hash": h.hash})),
        },
    });
    if global.json {
        crate::output::print_json(&certificate);
    } else {
        print_text(&certificate, erasure);
    }
    if restored.is_some() {
        return Err(UserError {
            kind: ExitKind::Flagged,
            message: format!(
                "request {id} was {state} on {}: the erasure no longer holds in full",
                restored.map(|e| text(e, "time")).unwrap_or_default()
            ),
            hint: Some("erase the person again with `dsar delete` if that is still asked for".into()),
            db: None,
        });
    }
    if flagged > 0 {
        return Err(UserError {
            kind: ExitKind::Flagged,
            message: format!(
                "request {id} completed with {flagged} item(s) flagged for review: the erasure may not be whole"
            ),
            hint: Some(format!("`dsar status {id}` lists them")),
            db: None,
        });
    }
    if args.head.is_none() && !global.quiet {
        eprintln!(
            "note: checked against the log's own head; `--head HASH` (an anchor kept elsewhere, from `dsar audit head`) also proves no later event was cut"
        );
    }
    Ok(())
}

/// The rows an event counts.
fn rows(event: &Map<String, Value>) -> u64 {
    event
        .get("tables")
        .and_then(Value::as_array)
        .map(|t| t.iter().filter_map(|x| x.get("rows").and_then(Value::as_u64)).sum())
        .unwrap_or(0)
}

fn print_text(c: &Value, erasure: &Map<String, Value>) {
    let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
    println!("ERASURE CERTIFICATE");
    println!("request      {}", s("request_id"));
    if let Some(ticket) = c["ticket"].as_str() {
        println!("ticket       {ticket}");
    }
    for hash in c["subject"].as_array().into_iter().flatten() {
        println!(
            "subject      {} (keyed hash; dsar keeps no raw identifier)",
            hash.as_str().unwrap_or_default()
        );
    }
    println!("erased       {} by {}", s("erased_at"), s("erased_by"));
    for t in erasure.get("tables").and_then(Value::as_array).into_iter().flatten() {
        println!(
            "  {:>10} rows  {}: {} ({})",
            t.get("rows").and_then(Value::as_u64).unwrap_or(0),
            t.get("source").and_then(Value::as_str).unwrap_or_default(),
            t.get("table").and_then(Value::as_str).unwrap_or_default(),
            t.get("strategy").and_then(Value::as_str).unwrap_or("quarantine"),
        );
    }
    match s("state").as_str() {
        "unrecoverable" => println!(
            "state        UNRECOVERABLE since {}: the purge destroyed the key of its quarantine",
            s("unrecoverable_since")
        ),
        "restored" | "partly restored" => println!(
            "state        {} on {} by {}: {} row(s) put back, the erasure was undone",
            s("state").to_uppercase(),
            s("restored_at"),
            s("restored_by"),
            c["restored_rows"]
        ),
        "restorable" => println!(
            "state        erased; restorable with the recovery key until {}, unrecoverable after the purge that follows",
            s("restorable_until")
        ),
        _ => println!("state        erased"),
    }
    println!("evidence     (`dsar audit verify` checks each of these in the chain)");
    for e in c["events"].as_array().into_iter().flatten() {
        println!(
            "  seq {:<6} {:<18} {}  hash {}",
            e["seq"],
            e["action"].as_str().unwrap_or_default(),
            e["time"].as_str().unwrap_or_default(),
            e["hash"].as_str().unwrap_or_default()
        );
    }
    println!(
        "audit log    verifies: {} events; head seq {} hash {}",
        c["log"]["events"],
        c["log"]["head"]["seq"],
        c["log"]["head"]["hash"].as_str().unwrap_or("-")
    );
}
