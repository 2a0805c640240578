//! `dsar check --erased`, `dsar register export` and `dsar register list`.

use serde::Serialize;

use super::Register;
use super::scan::Found;
use super::select::{entries_to_find, find_live};
use crate::audit::{AuditLog, Event, Outcome, TableCount};
use crate::cli::{Global, RegisterArgs, RegisterExportArgs};
use crate::error::{ExitKind, UserError};

#[derive(Serialize)]
struct CheckReport<'a> {
    scanned_requests: usize,
    found: &'a [Found],
    /// What kept the check from being complete: tables not scanned, deletes not finished.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    incomplete: &'a [String],
}

/// `dsar check --erased`: silent and exit 0 when no erased person is live and everything could
/// be looked at; exit 3 naming each person's request and tables (counts and hashes only), or
/// what could not be looked at, otherwise.
pub async fn run_check(global: &Global, args: &RegisterArgs) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    let selection = entries_to_find(&audit, args)?;
    let result = find_live(&config, &audit, &selection.entries).await?;
    let mut incomplete = result.unscanned.clone();
    incomplete.extend(selection.unfinished.iter().cloned());
    let mut details = serde_json::Map::new();
    details.insert("scanned_requests".into(), selection.entries.len().into());
    details.insert("found_people".into(), result.found.len().into());
    details.insert("incomplete".into(), incomplete.len().into());
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
    if global.json {
        crate::output::print_json(&CheckReport {
            scanned_requests: selection.entries.len(),
            found: &result.found,
            incomplete: &incomplete,
        });
    } else {
        if !result.found.is_empty() {
            println!("{} erased person(s) are live again:", result.found.len());
            print_found(&result.found);
        }
        for what in &incomplete {
            println!("not looked at: {what}");
        }
    }
    if result.found.is_empty() && incomplete.is_empty() {
        return Ok(());
    }
    if result.found.is_empty() {
        return Err(UserError {
            kind: ExitKind::Flagged,
            message: format!(
                "no erased person was found live, but {} thing(s) could not be looked at (listed above)",
                incomplete.len()
            ),
            hint: Some("map the tables again, or resume the deletes named, then check again".into()),
            db: None,
        });
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
        if let Some(why) = &f.review {
            println!("    needs review, not erased again by reapply: {why}");
        }
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
        match counts
            .iter_mut()
            .find(|c| *c.source == *t.source && *c.table == *t.table)
        {
            Some(c) => c.rows += t.rows,
            None => counts.push(TableCount {
                source: t.source.as_str().into(),
                table: t.table.as_str().into(),
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
    // A register missing an entry must not be sealed as whole into a copy.
    entries_to_find(
        &audit,
        &RegisterArgs {
            register: None,
            since: None,
        },
    )?;
    let register = Register::open(audit.state(), audit.chain_key())?;
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
    people: usize,
    tables: Vec<String>,
}

/// `dsar register list`.
pub fn run_list(global: &Global) -> Result<(), UserError> {
    let audit = AuditLog::open(global)?;
    let register = Register::open(audit.state(), audit.chain_key())?;
    let entries = register.entries()?;
    let listed: Vec<Listed> = entries
        .iter()
        .map(|e| {
            let mut tables: Vec<String> = e.matched.iter().map(|m| format!("{}: {}", m.source, m.table)).collect();
            tables.sort();
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
