//! `dsar check --erased`, `dsar register export` and `dsar register list`.

use std::collections::HashSet;

use serde::Serialize;

use super::scan::{Found, scan};
use super::{Entry, Origin, Register};
use crate::audit::{AuditLog, Event, Outcome, TableCount};
use crate::cli::{Global, RegisterArgs, RegisterExportArgs};
use crate::error::{ExitKind, UserError};
use crate::ledger::{Ledger, Request};
use crate::source::Database;

/// The register's entries to look for: from the state dir or `--register FILE`, completed on or
/// after `--since`, less the requests restored on purpose since (the ledger says so even when
/// an exported file predates the restore).
pub fn entries_to_find(audit: &AuditLog, args: &RegisterArgs) -> Result<Vec<Entry>, UserError> {
    let register = Register::open(audit.state(), audit.key())?;
    let origin = match &args.register {
        Some(path) => Origin::File(path),
        None => Origin::State,
    };
    let requests = Ledger::open(audit.state())?.list()?;
    let restored = restored_on_purpose(&requests);
    let since = args
        .since
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()));
    let entries = register.load(&origin)?;
    if args.register.is_none() {
        refuse_missing(&register, &requests, &restored)?;
    }
    Ok(entries
        .into_iter()
        .filter(|e| !restored.contains(&e.request_id))
        .filter(|e| {
            since
                .as_ref()
                .is_none_or(|s| e.erased_at.get(..10).is_some_and(|d| d >= s.as_str()))
        })
        .collect())
}

/// A completed delete the ledger says was registered, whose entry is gone without a restore or a
/// reapply that took its people over: its file was removed, and reading the register as it is
/// would miss a person. Refused, naming the request.
fn refuse_missing(register: &Register, requests: &[Request], restored: &HashSet<String>) -> Result<(), UserError> {
    for r in requests {
        if r.damaged.is_none()
            && r.kind == "delete"
            && r.state == "completed"
            && r.registered
            && !restored.contains(&r.request_id)
            && !requests
                .iter()
                .any(|x| x.reapplied_from.as_deref() == Some(r.request_id.as_str()) && x.state == "completed")
            && register.get(&r.request_id)?.is_none()
        {
            return Err(UserError::runtime(format!(
                "the erasure register has no entry for completed delete request {}: its file was removed from the state dir",
                r.request_id
            ))
            .with_hint("read the copy kept beside the backups with --register FILE, or put the file back from it"));
        }
    }
    Ok(())
}

/// Delete requests whose every row was brought back by a restore (single rows restored with
/// `--table --key` do not count: the person stays erased).
fn restored_on_purpose(requests: &[Request]) -> HashSet<String> {
    requests
        .iter()
        .filter(|r| r.damaged.is_none() && r.afterwards.as_ref().is_some_and(|a| a.restored_at.is_some()))
        .map(|r| r.request_id.clone())
        .collect()
}

/// Connect every database of the map and look for the people of `entries`.
pub async fn find_live(
    config: &crate::config::Config,
    audit: &AuditLog,
    entries: &[Entry],
) -> Result<super::scan::Scan, UserError> {
    let mut sources = Vec::new();
    for source in config.databases() {
        sources.push(Database::open(source).await?);
    }
    scan(&sources, entries, audit.key()).await
}

#[derive(Serialize)]
struct CheckReport<'a> {
    scanned_requests: usize,
    found: &'a [Found],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    unscanned: &'a [String],
}

/// `dsar check --erased`: silent and exit 0 when no erased person is live; exit 3 naming each
/// one's request and tables (counts and hashes only) otherwise.
pub async fn run_check(global: &Global, args: &RegisterArgs) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    let entries = entries_to_find(&audit, args)?;
    let result = if entries.is_empty() {
        super::scan::Scan {
            found: Vec::new(),
            unscanned: Vec::new(),
        }
    } else {
        find_live(&config, &audit, &entries).await?
    };
    let mut details = serde_json::Map::new();
    details.insert("scanned_requests".into(), entries.len().into());
    details.insert("found_people".into(), result.found.len().into());
    audit.append(&Event {
        action: "register.checked".into(),
        subject: result
            .found
            .iter()
            .flat_map(|f| f.tables.iter().flat_map(|t| t.hashes.clone()))
            .collect(),
        tables: found_counts(&result.found),
        outcome: Outcome::Ok,
        details,
        ..Default::default()
    })?;
    for table in &result.unscanned {
        if !global.quiet {
            eprintln!("warning: not scanned: {table}");
        }
    }
    if global.json {
        crate::output::print_json(&CheckReport {
            scanned_requests: entries.len(),
            found: &result.found,
            unscanned: &result.unscanned,
        });
    } else if !result.found.is_empty() {
        println!("{} erased person(s) are live again:", result.found.len());
        print_found(&result.found);
    }
    if result.found.is_empty() {
        return Ok(());
    }
    Err(UserError {
        kind: ExitKind::Flagged,
        message: format!(
            "{} erased person(s) of the register are live again (a restore from backup brought them back?)",
            result.found.len()
        ),
        hint: Some(format!(
            "see who would be erased again with `{}`, then run it with --yes",
            crate::follow_up::command(global, "reapply --dry-run")
        )),
        db: None,
    })
}

/// One line per person and table: the request, its ticket, the rows and the hashes found.
pub fn print_found(found: &[Found]) {
    for f in found {
        let ticket = f.ticket.as_deref().map(|t| format!(", ticket {t}")).unwrap_or_default();
        println!(
            "  request {} (person {}{ticket}, erased {}):",
            f.request_id, f.person, f.erased_at
        );
        for t in &f.tables {
            let hashes: Vec<String> = t.hashes.iter().map(|h| short(h)).collect();
            println!(
                "    {}: {}  {} row(s) live  {}",
                t.source,
                t.table,
                t.rows,
                hashes.join(" ")
            );
        }
    }
}

/// `key:` and the first 12 hex digits: enough to tell hashes apart on a terminal (--json has
/// them whole).
fn short(hash: &str) -> String {
    match hash.split_once(':') {
        Some((key, hex)) => format!("{key}:{}…", &hex[..hex.len().min(12)]),
        None => hash.to_string(),
    }
}

fn found_counts(found: &[Found]) -> Vec<TableCount> {
    let mut counts: Vec<TableCount> = Vec::new();
    for t in found.iter().flat_map(|f| &f.tables) {
        match counts.iter_mut().find(|c| c.source == t.source && c.table == t.table) {
            Some(c) => c.rows += t.rows,
            None => counts.push(TableCount {
                source: t.source.clone(),
                table: t.table.clone(),
                strategy: None,
                rows: t.rows,
            }),
        }
    }
    counts
}

/// `dsar register export --out FILE`.
pub fn run_export(global: &Global, args: &RegisterExportArgs) -> Result<(), UserError> {
    let audit = AuditLog::open(global)?;
    let register = Register::open(audit.state(), audit.key())?;
    let written = register.export(&args.out)?;
    let mut details = serde_json::Map::new();
    details.insert("entries".into(), written.into());
    details.insert("file".into(), args.out.display().to_string().into());
    audit.append(&Event {
        action: "register.exported".into(),
        outcome: Outcome::Ok,
        details,
        ..Default::default()
    })?;
    if global.json {
        crate::output::print_json(&serde_json::json!({"entries": written, "file": args.out}));
    } else if !global.quiet {
        println!(
            "wrote {written} erasure(s) to {}; read it back with --register {}",
            args.out.display(),
            args.out.display()
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct Listed<'a> {
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<&'a str>,
    erased_at: &'a str,
    state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reapplied_from: Option<&'a str>,
    people: u32,
    tables: Vec<String>,
}

/// `dsar register list`.
pub fn run_list(global: &Global) -> Result<(), UserError> {
    let audit = AuditLog::open(global)?;
    let register = Register::open(audit.state(), audit.key())?;
    let entries = register.entries()?;
    let listed: Vec<Listed> = entries
        .iter()
        .map(|e| {
            let mut tables: Vec<String> = e.matched.iter().map(|m| format!("{}: {}", m.source, m.table)).collect();
            tables.dedup();
            Listed {
                request_id: &e.request_id,
                ticket: e.ticket.as_deref(),
                erased_at: &e.erased_at,
                state: if e.completed { "completed" } else { "pending" },
                reapplied_from: e.reapplied_from.as_ref().map(|r| r.request_id.as_str()),
                people: e.people(),
                tables,
            }
        })
        .collect();
    if global.json {
        crate::output::print_json(&listed);
        return Ok(());
    }
    if listed.is_empty() {
        if !global.quiet {
            println!("the register is empty: no completed delete recorded one yet");
        }
        return Ok(());
    }
    for l in &listed {
        println!(
            "{}  {:<9}  {}  {} person(s){}{}  {}",
            l.request_id,
            l.state,
            l.erased_at,
            l.people,
            l.ticket.map(|t| format!("  ticket {t}")).unwrap_or_default(),
            l.reapplied_from.map(|r| format!("  reapplies {r}")).unwrap_or_default(),
            l.tables.join(", ")
        );
    }
    Ok(())
}
