//! `dsar audit verify | export | show`: what compliance staff run.

use serde_json::{Map, Value, json};

use super::query::{self, Filter};
use super::{AuditLog, Event, Outcome};
use crate::cli::{AuditExportArgs, AuditFormat, AuditShowArgs, AuditVerifyArgs, Global};
use crate::error::UserError;

/// The top-level entry point for `dsar audit verify`.
pub fn run_verify(global: &Global, args: &AuditVerifyArgs) -> Result<(), UserError> {
    let log = AuditLog::open(global)?;
    let dir = log.dir()?;
    if args.seal_legacy && log.seal_legacy()? && !global.quiet && !global.json {
        eprintln!("sealed head.json and removed.json of a log written by dsar 0.1");
    }
    let anchor = args.head.as_deref().map(str::to_ascii_lowercase);
    match log.verify(anchor.as_deref())? {
        Ok(v) if v.events == 0 && has_requests(&log)? => {
            if global.json {
                crate::output::print_json(&json!({"state": "empty", "events": 0, "dir": dir.display().to_string()}));
            }
            Err(UserError::runtime(format!(
                "the audit log in {} holds no events, but the ledger beside it records requests: the log was cut away",
                dir.display()
            ))
            .with_hint("keep this copy as evidence and restore the log from backup"))
        }
        Ok(v) if v.events == 0 && !args.allow_empty => {
            if global.json {
                crate::output::print_json(&json!({"state": "empty", "events": 0, "dir": dir.display().to_string()}));
            }
            Err(UserError::runtime(format!(
                "the audit log in {} holds no events: it proves nothing, and a log cut away looks the same",
                dir.display()
            ))
            .with_hint("point --state-dir at the log you mean, or pass --allow-empty for a state dir that is new"))
        }
        Ok(v) => {
            let ledger = crate::ledger::Ledger::open_existing(log.state())?;
            let mut lost = match &ledger {
                Some(ledger) if !v.queued.is_empty() => Some(ledger.lost(v.queued.iter().map(String::as_str))?),
                Some(_) => Some(Vec::new()),
                None => None,
            };
            if args.record_lost
                && let (Some(ledger), Some(ids)) = (&ledger, &mut lost)
                && !ids.is_empty()
            {
                let before = ids.len();
                *ids = record_lost(&log, ledger, ids)?;
                if !global.quiet && !global.json {
                    eprintln!(
                        "recorded {} request(s) the ledger had lost as failed (`dsar jobs --state failed` lists them; \
                         export those people again)",
                        before - ids.len()
                    );
                }
            }
            report_verified(global, &v, lost.as_deref());
            match lost.as_deref() {
                Some([first, ..]) => Err(UserError::runtime(format!(
                    "the audit log verifies, but the ledger beside it has lost {} request(s) a batch export queued \
                     (first: {first}): its run's queue or their records were removed, cut or rewritten",
                    lost.as_ref().map_or(0, Vec::len),
                ))
                .with_hint(format!(
                    "`dsar audit show --request {first}` shows what the log holds; they cannot be resumed: export those \
                     people again, and `dsar audit verify --record-lost` records them as failed"
                ))),
                _ => Ok(()),
            }
        }
        Err(broken) => {
            if global.json {
                crate::output::print_json(
                    &json!({"state": "broken", "place": broken.place, "problem": broken.problem}),
                );
            }
            Err(broken.into())
        }
    }
}

/// What `audit verify` prints of a log that verifies: `lost`, the requests the ledger beside it
/// no longer holds (`None`: there is no ledger beside it to check).
fn report_verified(global: &Global, v: &super::verify::Verified, lost: Option<&[String]>) {
    if global.json {
        let state = if lost.is_some_and(|l| !l.is_empty()) {
            "ledger_incomplete"
        } else {
            "ok"
        };
        let mut result = json!({"state": state, "events": v.events, "segments": v.segments, "last_seq": v.last_seq});
        if let Some(place) = &v.torn_tail {
            result["torn_tail"] = place.clone().into();
        }
        match lost {
            None => result["ledger_checked"] = false.into(),
            Some(lost) if !lost.is_empty() => result["missing_requests"] = lost.into(),
            Some(_) => {}
        }
        crate::output::print_json(&result);
    } else if !global.quiet {
        println!(
            "audit log ok: {} events in {} segment(s), last seq {}",
            v.events, v.segments, v.last_seq
        );
    }
    if global.quiet {
        return;
    }
    if let Some(place) = &v.torn_tail {
        eprintln!(
            "note: the last line ({place}) is cut off: an append was interrupted (a crash, a full disk) before it \
             was recorded; the lines before it verify, and the next append sets it aside"
        );
    }
    if lost.is_none() && !v.queued.is_empty() {
        eprintln!(
            "note: no ledger beside the log (no requests/ folder): the requests it names were not checked against one"
        );
    }
}

/// `audit verify --record-lost`: a failed record for each of `lost` (requests the ledger lost,
/// see `Ledger::lost`: the run's queue was synced before they were logged, so only a queue or
/// record removed, cut or rewritten since loses one, never a crash) from its `export.requested`
/// (subject hashes, operator, case, time), and an `export.failed` event saying why; one whose
/// name holds a file that does not verify is left as it is (evidence). Those still lost.
fn record_lost(log: &AuditLog, ledger: &crate::ledger::Ledger, lost: &[String]) -> Result<Vec<String>, UserError> {
    const WHY: &str = "its ledger entry was lost after it was queued (its run's queue or its record removed, cut \
                       or rewritten); it cannot be resumed: export this person again";
    let wanted: std::collections::HashSet<&str> = lost.iter().map(String::as_str).collect();
    let dir = log.dir()?;
    let events = query::read_all(&dir).map_err(|e| UserError::runtime(format!("cannot read the audit log: {e}")))?;
    let mut requested: std::collections::HashMap<String, Map<String, Value>> = std::collections::HashMap::new();
    for event in events {
        if event.get("action").and_then(Value::as_str) == Some("export.requested")
            && let Some(id) = event.get("request_id").and_then(Value::as_str)
            && wanted.contains(id)
        {
            requested.entry(id.to_string()).or_insert(event);
        }
    }
    let text = |event: &Map<String, Value>, key: &str| event.get(key).and_then(Value::as_str).map(str::to_string);
    let mut failed = Vec::new();
    let mut still = Vec::new();
    for id in lost {
        let Some(event) = requested.get(id) else {
            still.push(id.clone());
            continue;
        };
        let subject = event
            .get("subject")
            .and_then(Value::as_array)
            .map(|s| s.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let operator = text(event, "operator").unwrap_or_default();
        let mut request = crate::ledger::Request::new(id, "export", &operator, subject);
        request.started_at = text(event, "time").unwrap_or(request.started_at);
        request.ticket = text(event, "ticket");
        let subject = request.subject.clone();
        match ledger.record_lost(request, WHY) {
            Ok(()) => failed.push(Event {
                action: "export.failed".into(),
                request_id: Some(id.clone()),
                subject,
                outcome: Outcome::Error,
                error: Some(WHY.into()),
                ..Default::default()
            }),
            Err(e) => {
                eprintln!("warning: request {id}: {}", e.message);
                still.push(id.clone());
            }
        }
    }
    log.append_all(&failed)?;
    Ok(still)
}

/// Whether the ledger of the log's state dir records any request (so an empty log was cut):
/// a record, not a line of a run's queue, which is written before anything is logged (a run
/// killed then leaves it beside an empty log). Nothing is created where there is no ledger.
fn has_requests(log: &AuditLog) -> Result<bool, UserError> {
    Ok(log.requests_of_other_processes() > 0)
}

/// The top-level entry point for `dsar audit head`.
pub fn run_head(global: &Global) -> Result<(), UserError> {
    let log = AuditLog::open(global)?;
    let dir = log.dir()?;
    let head = log.head()?.ok_or_else(|| {
        UserError::usage(format!(
            "the audit log in {} holds no events yet: nothing to anchor",
            dir.display()
        ))
    })?;
    if global.json {
        crate::output::print_json(&json!({"state": "ok", "seq": head.seq, "hash": head.hash}));
    } else {
        println!("seq {} hash {}", head.seq, head.hash);
    }
    Ok(())
}

/// Every event the filter keeps.
fn select(log: &AuditLog, filter: &Filter) -> Result<Vec<Map<String, Value>>, UserError> {
    let dir = log.dir()?;
    let events = query::read_all(&dir).map_err(|e| UserError::runtime(format!("cannot read the audit log: {e}")))?;
    Ok(events.into_iter().filter(|e| filter.keeps(e)).collect())
}

/// The stable CSV columns of `audit export`, documented in the README.
pub const CSV_COLUMNS: [&str; 17] = [
    "seq",
    "time",
    "action",
    "outcome",
    "request_id",
    "user",
    "operator",
    "host",
    "subject",
    "tables",
    "rows",
    "archive_sha256",
    "error",
    "details",
    "command",
    "prev",
    "hash",
];

fn text(event: &Map<String, Value>, key: &str) -> String {
    match event.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn csv_record(event: &Map<String, Value>) -> Vec<String> {
    let list = |key: &str| -> Vec<Value> { event.get(key).and_then(Value::as_array).cloned().unwrap_or_default() };
    let tables = list("tables");
    let subject: Vec<String> = list("subject")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let table_text: Vec<String> = tables
        .iter()
        .map(|t| {
            format!(
                "{}:{}={}",
                text_of(t, "source"),
                text_of(t, "table"),
                text_of(t, "rows")
            )
        })
        .collect();
    let rows: u64 = tables
        .iter()
        .filter_map(|t| t.get("rows").and_then(Value::as_u64))
        .sum();
    let command: Vec<String> = list("command")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    vec![
        text(event, "seq"),
        text(event, "time"),
        text(event, "action"),
        text(event, "outcome"),
        text(event, "request_id"),
        text(event, "user"),
        text(event, "operator"),
        text(event, "host"),
        subject.join("; "),
        table_text.join("; "),
        if tables.is_empty() {
            String::new()
        } else {
            rows.to_string()
        },
        text(event, "archive_sha256"),
        text(event, "error"),
        event.get("details").map(Value::to_string).unwrap_or_default(),
        command.join(" "),
        text(event, "prev"),
        text(event, "hash"),
    ]
}

fn text_of(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn since(text: Option<&str>) -> Result<Option<time::OffsetDateTime>, UserError> {
    text.map(|t| query::parse_bound("--since", t)).transpose()
}

/// The top-level entry point for `dsar audit export`.
pub fn run_export(global: &Global, args: &AuditExportArgs) -> Result<(), UserError> {
    let log = AuditLog::open(global)?;
    let filter = Filter {
        since: since(args.since.as_deref())?,
        until: args
            .until
            .as_deref()
            .map(|t| query::parse_bound("--until", t))
            .transpose()?,
        ..Default::default()
    };
    let events = select(&log, &filter)?;
    let mut out: Vec<u8> = Vec::new();
    match args.format {
        AuditFormat::Csv => {
            let mut writer = csv::Writer::from_writer(&mut out);
            let write = |w: &mut csv::Writer<&mut Vec<u8>>, r: Vec<String>| {
                w.write_record(r)
                    .map_err(|e| UserError::runtime(format!("cannot write CSV: {e}")))
            };
            write(&mut writer, CSV_COLUMNS.iter().map(|c| c.to_string()).collect())?;
            for logged in &events {
                write(&mut writer, csv_record(logged))?;
            }
            writer
                .flush()
                .map_err(|e| UserError::runtime(format!("cannot write CSV: {e}")))?;
        }
        AuditFormat::Json => {
            let all: Vec<Value> = events.iter().map(|e| Value::Object(e.clone())).collect();
            out = serde_json::to_vec_pretty(&all).map_err(|e| UserError::runtime(format!("cannot write JSON: {e}")))?;
            out.push(b'\n');
        }
    }
    // `-` is stdout, as for every file dsar writes.
    let out_file = args.out.as_ref().filter(|p| p.as_os_str() != "-");
    match out_file {
        Some(path) => std::fs::write(path, &out)
            .map_err(|e| UserError::runtime(format!("cannot write {}: {e}", path.display())))?,
        None => crate::output::write_stdout(&out)?,
    }
    let mut details = Map::new();
    details.insert("format".into(), format!("{:?}", args.format).to_lowercase().into());
    details.insert("events".into(), events.len().into());
    if let Some(s) = &args.since {
        details.insert("since".into(), s.clone().into());
    }
    if let Some(u) = &args.until {
        details.insert("until".into(), u.clone().into());
    }
    log.append(&Event {
        action: "audit.exported".into(),
        outcome: Outcome::Ok,
        details,
        ..Default::default()
    })?;
    // Without --out the events themselves are stdout; with it, --json gets a result object.
    if let Some(path) = out_file {
        if global.json {
            crate::output::print_json(&json!({
                "state": "completed",
                "events": events.len(),
                "format": format!("{:?}", args.format).to_lowercase(),
                "out": path.display().to_string(),
            }));
        } else if !global.quiet {
            eprintln!("exported {} events", events.len());
        }
    }
    Ok(())
}

/// The top-level entry point for `dsar audit show`.
pub fn run_show(global: &Global, args: &AuditShowArgs) -> Result<(), UserError> {
    let log = AuditLog::open(global)?;
    let subject_hash = match &args.subject {
        None => None,
        Some(kv) => {
            let (k, v) = kv
                .split_once('=')
                .ok_or_else(|| UserError::usage(format!("--subject `{kv}` is not KEY=VALUE")))?;
            Some(crate::state::subject_hash(log.key(), k, v))
        }
    };
    let filter = Filter {
        since: since(args.since.as_deref())?,
        request: args.request.clone(),
        subject_hash,
        action: args.action.clone(),
        operator: args.by.clone(),
        ticket: args.ticket.clone(),
        ..Default::default()
    };
    let events = select(&log, &filter)?;
    if global.json {
        let all: Vec<Value> = events.iter().map(|e| Value::Object(e.clone())).collect();
        crate::output::print_json(&json!({ "events": all }));
        return Ok(());
    }
    for e in &events {
        let rows: u64 = e
            .get("tables")
            .and_then(Value::as_array)
            .map(|t| t.iter().filter_map(|x| x.get("rows").and_then(Value::as_u64)).sum())
            .unwrap_or(0);
        println!(
            "{:>6}  {}  {:<12} {:<20} {:<32} {:<6} {rows} rows",
            text(e, "seq"),
            text(e, "time"),
            text(e, "operator"),
            text(e, "action"),
            text(e, "request_id"),
            text(e, "outcome"),
        );
    }
    if events.is_empty() && !global.quiet {
        eprintln!("no matching events");
    }
    Ok(())
}
