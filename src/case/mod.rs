//! Requests as cases: a ticket, the day the person's request was received, the regime it falls
//! under, and so the day it is due.
//!
//! GDPR Art. 12(3): one month from receipt, extendable by two further months (once, with a
//! reason). CCPA (Cal. Civ. Code § 1798.130): 45 days, extendable once by 45 more. Every run
//! given the same `--ticket` (export, delete, restore, and the resume of any of them) belongs to
//! the case; a case is answered once an export or a delete under it has completed.
//!
//! Cases live in the state dir (`cases/<ticket>.json`), each record authenticated with the
//! installation key like the ledger's, so a due date cannot be moved by editing a file.

pub mod story;

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime};

use std::io::IsTerminal;

use crate::audit::{AuditLog, Event, Outcome};
use crate::cli::{ExtendArgs, Global};
use crate::error::UserError;

/// The law a request is answered under, which sets its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Regime {
    /// EU/UK GDPR: one month, extendable by two further months.
    Gdpr,
    /// California CCPA/CPRA: 45 days, extendable by 45 more.
    Ccpa,
}

impl Regime {
    pub fn name(self) -> &'static str {
        match self {
            Regime::Gdpr => "gdpr",
            Regime::Ccpa => "ccpa",
        }
    }

    /// The day a request received on `received` is due, extended or not.
    pub fn due(self, received: Date, extended: bool) -> Date {
        match (self, extended) {
            (Regime::Gdpr, false) => add_months(received, 1),
            (Regime::Gdpr, true) => add_months(received, 3),
            (Regime::Ccpa, false) => received + time::Duration::days(45),
            (Regime::Ccpa, true) => received + time::Duration::days(90),
        }
    }

    /// What an extension adds, in words.
    pub fn extension(self) -> &'static str {
        match self {
            Regime::Gdpr => "two further months (GDPR Art. 12(3))",
            Regime::Ccpa => "45 more days (CCPA § 1798.130(a)(2))",
        }
    }
}

/// The same day `months` later; the month's last day where it has no such day (31 January + 1
/// month is 28 or 29 February), as periods of months are counted.
fn add_months(date: Date, months: u8) -> Date {
    let index = date.year() * 12 + i32::from(u8::from(date.month()) - 1) + i32::from(months);
    let (year, month) = (index.div_euclid(12), (index.rem_euclid(12) + 1) as u8);
    let month = Month::try_from(month).unwrap_or(Month::January);
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).unwrap_or(date)
}

/// The options that make a run part of a case (flattened into the commands that touch data).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CaseArgs {
    /// The case this run answers (your ticket id, e.g. DSAR-1234): runs with one ticket form one
    /// case, with one due date. Letters, digits and `.` `_` `-` `:` `#`, at most 64.
    #[arg(long, value_name = "TICKET", help_heading = "Case")]
    pub ticket: Option<String>,

    /// Why, for the audit log and the ledger (a ticket summary, the article invoked).
    #[arg(long, value_name = "TEXT", help_heading = "Case")]
    pub reason: Option<String>,

    /// When the person's request was received (YYYY-MM-DD) [default: today]; needs --ticket.
    #[arg(long, value_name = "DATE", requires = "ticket", value_parser = parse_date, help_heading = "Case")]
    pub received: Option<Date>,

    /// The law that sets the deadline [default: `[settings] regime`, else gdpr]; needs --ticket.
    #[arg(long, value_name = "REGIME", requires = "ticket", value_enum, help_heading = "Case")]
    pub regime: Option<Regime>,
}

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("`{text}` is not a date like 2026-11-30"))
}

fn date_text(date: Date) -> String {
    date.format(time::macros::format_description!("[year]-[month]-[day]"))
        .unwrap_or_default()
}

/// Today, in UTC.
pub fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// One case, as its record holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Case {
    pub ticket: String,
    pub regime: Regime,
    /// YYYY-MM-DD.
    pub received: String,
    /// YYYY-MM-DD: the deadline in force (after any extension).
    pub due: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<Extension>,
    pub opened_by: String,
    pub opened_at: String,
    /// HMAC-SHA256 of the record without it, under the installation key.
    #[serde(default)]
    pub mac: String,
}

/// Why and when a case's deadline was extended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Extension {
    /// The deadline before the extension.
    pub was_due: String,
    /// Made after that deadline had passed (the person was not told in time).
    #[serde(default)]
    pub late: bool,
    pub reason: String,
    pub by: String,
    pub at: String,
}

impl Case {
    pub fn received_date(&self) -> Option<Date> {
        parse_date(&self.received).ok()
    }

    pub fn due_date(&self) -> Option<Date> {
        parse_date(&self.due).ok()
    }
}

/// Refuse a ticket that could not be a file name or that would carry something else.
pub fn check_ticket(ticket: &str) -> Result<(), UserError> {
    let fine = !ticket.is_empty()
        && ticket.len() <= 64
        && !ticket.starts_with('.')
        && ticket
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '#'));
    if fine {
        Ok(())
    } else {
        Err(UserError::usage(format!("--ticket `{ticket}` is not a ticket id"))
            .with_hint("use letters, digits and . _ - : # (at most 64, not starting with a dot), e.g. DSAR-1234"))
    }
}

/// A case record that does not verify: its ticket, and why.
pub type Damaged = (String, String);

/// The case records of one state dir.
pub struct Cases {
    dir: PathBuf,
    key: Vec<u8>,
}

impl Cases {
    /// The cases beside `audit`'s log, sealed with its chain key (the audit key file's, when
    /// set, so whoever can write the state dir cannot move a due date).
    pub fn open(audit: &AuditLog) -> Result<Cases, UserError> {
        Ok(Cases {
            dir: audit.state().subdir("cases")?,
            key: audit.chain_key().to_vec(),
        })
    }

    fn path(&self, ticket: &str) -> PathBuf {
        self.dir.join(format!("{ticket}.json"))
    }

    /// The case of `ticket`, if there is one; a record that does not verify is an error (a due
    /// date nobody can trust is not shown as if it were).
    pub fn get(&self, ticket: &str) -> Result<Option<Case>, UserError> {
        check_ticket(ticket)?;
        let path = self.path(ticket);
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(UserError::runtime(format!("cannot read {}: {e}", path.display()))),
        };
        let damaged = || {
            UserError::runtime(format!(
                "the case record {} is damaged or was edited: it does not verify",
                path.display()
            ))
            .with_hint("restore it from a backup of the state dir; `dsar audit show --ticket` shows what happened")
        };
        let case: Case = serde_json::from_slice(&text).map_err(|_| damaged())?;
        if case.ticket != ticket || case.mac != self.mac(&case) {
            return Err(damaged());
        }
        Ok(Some(case))
    }

    /// Every case, oldest deadline first; damaged records are errors.
    /// Every case, oldest deadline first, and the records that do not verify (ticket, why): one
    /// damaged record is reported, and does not hide the others.
    pub fn list(&self) -> Result<(Vec<Case>, Vec<Damaged>), UserError> {
        let mut cases = Vec::new();
        let mut damaged = Vec::new();
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| UserError::runtime(format!("cannot read {}: {e}", self.dir.display())))?;
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(ticket) = name.strip_suffix(".json").filter(|t| !t.starts_with('.')) else {
                continue;
            };
            match self.get(ticket) {
                Ok(Some(case)) => cases.push(case),
                Ok(None) => {}
                Err(e) => damaged.push((ticket.to_string(), e.message)),
            }
        }
        cases.sort_by(|a, b| (&a.due, &a.ticket).cmp(&(&b.due, &b.ticket)));
        damaged.sort();
        Ok((cases, damaged))
    }

    fn mac(&self, case: &Case) -> String {
        let mut unsealed = case.clone();
        unsealed.mac = String::new();
        let json = serde_json::to_vec(&unsealed).unwrap_or_default();
        crate::state::keyed_hex(&self.key, &[b"dsar case record\0", &json])
    }

    /// Seal and write a record atomically.
    pub fn write(&self, case: &mut Case) -> Result<(), UserError> {
        case.mac = self.mac(case);
        let path = self.path(&case.ticket);
        crate::state::write_atomically(&path, &serde_json::to_vec_pretty(case).unwrap_or_default())
    }

    /// The case a run with `args` belongs to: opened now when the ticket is new (the event that
    /// says so is returned, for the caller to log), or the existing one, which `--received`
    /// and `--regime` may not contradict. `None` without `--ticket`.
    pub fn for_run(
        &self,
        args: &CaseArgs,
        default_regime: Regime,
        operator: &str,
    ) -> Result<Option<(Case, bool)>, UserError> {
        let Some(ticket) = &args.ticket else {
            return Ok(None);
        };
        if let Some(case) = self.get(ticket)? {
            let received = args.received.map(date_text);
            if received.as_ref().is_some_and(|r| *r != case.received) || args.regime.is_some_and(|r| r != case.regime) {
                return Err(UserError::usage(format!(
                    "case {ticket} was received on {} under {}; --received/--regime say otherwise",
                    case.received,
                    case.regime.name()
                ))
                .with_hint("leave them out to continue the case; a new request is a new ticket"));
            }
            return Ok(Some((case, false)));
        }
        let received = args.received.unwrap_or_else(today);
        // A day of slack: the operator's calendar may be a day ahead of UTC.
        if received > today() + time::Duration::days(1) {
            return Err(UserError::usage(format!(
                "--received {}: that is in the future",
                date_text(received)
            )));
        }
        if received.year() < 2000 {
            return Err(UserError::usage(format!(
                "--received {}: before 2000, surely a typo",
                date_text(received)
            ))
            .with_hint("give the day the person's request arrived, as YYYY-MM-DD"));
        }
        let regime = args.regime.unwrap_or(default_regime);
        let mut case = Case {
            ticket: ticket.clone(),
            regime,
            received: date_text(received),
            due: date_text(regime.due(received, false)),
            extension: None,
            opened_by: operator.to_string(),
            opened_at: crate::clock::now_rfc3339(),
            mac: String::new(),
        };
        // Two first runs of one ticket at once: the first to link its record wins, the other
        // continues (or contradicts) that case, as if it had come second.
        if !self.write_new(&mut case)? {
            return self.for_run(args, default_regime, operator);
        }
        Ok(Some((case, true)))
    }

    /// Write a new record, never replacing one: false when the ticket already has one.
    fn write_new(&self, case: &mut Case) -> Result<bool, UserError> {
        case.mac = self.mac(case);
        let path = self.path(&case.ticket);
        let temp = self.dir.join(format!(".{}.{}.new", case.ticket, std::process::id()));
        crate::state::write_atomically(&temp, &serde_json::to_vec_pretty(case).unwrap_or_default())?;
        let linked = fs::hard_link(&temp, &path);
        let _ = fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(UserError::runtime(format!("cannot write {}: {e}", path.display()))),
        }
    }

    /// Extend the deadline of `ticket` once, by what its regime allows.
    pub fn extend(&self, ticket: &str, reason: &str, operator: &str) -> Result<Case, UserError> {
        let mut case = self.get(ticket)?.ok_or_else(|| {
            UserError::usage(format!("no case `{ticket}`"))
                .with_hint("a case is opened by the first export or delete run with --ticket")
        })?;
        if let Some(ext) = &case.extension {
            return Err(UserError::usage(format!(
                "case {ticket} was already extended on {} (due {} instead of {}); the law allows one extension",
                ext.at.get(..10).unwrap_or(&ext.at),
                case.due,
                ext.was_due
            )));
        }
        let received = case
            .received_date()
            .ok_or_else(|| UserError::runtime(format!("case {ticket}: its received date does not read")))?;
        // The person must be told of an extension within the first deadline: one made later is
        // recorded as late, so it cannot quietly hide that the case was overdue.
        let late = case.due_date().is_some_and(|due| today() > due);
        case.extension = Some(Extension {
            late,
            was_due: case.due.clone(),
            reason: reason.to_string(),
            by: operator.to_string(),
            at: crate::clock::now_rfc3339(),
        });
        case.due = date_text(case.regime.due(received, true));
        self.write(&mut case)?;
        Ok(case)
    }
}

/// The default regime: the map's `[settings] regime`; GDPR without one.
fn default_regime(global: &Global) -> Regime {
    match crate::state::map_setting(global, "regime").as_deref() {
        Some("ccpa") => Regime::Ccpa,
        _ => Regime::Gdpr,
    }
}

/// Open the case of a run that names a ticket, or continue it: a new case is logged
/// (`case.opened`, with its received and due dates), and a terminal is told when it is due.
pub fn begin(global: &Global) -> Result<(), UserError> {
    let Some(ticket) = &global.case.ticket else {
        return Ok(());
    };
    check_ticket(ticket)?;
    let audit = AuditLog::open(global)?;
    let cases = Cases::open(&audit)?;
    if cases.get(ticket)?.is_none() {
        refuse_lost_case(&audit, ticket)?;
    }
    let Some((case, new)) = cases.for_run(&global.case, default_regime(global), audit.operator())? else {
        return Ok(());
    };
    if new {
        let mut details = serde_json::Map::new();
        details.insert("received".into(), case.received.clone().into());
        details.insert("regime".into(), case.regime.name().into());
        details.insert("due".into(), case.due.clone().into());
        audit.append(&Event {
            action: "case.opened".into(),
            ticket: Some(case.ticket.clone()),
            outcome: Outcome::Ok,
            details,
            ..Default::default()
        })?;
    }
    if !global.quiet && !global.json && std::io::stderr().is_terminal() {
        eprintln!(
            "case {}: received {} ({}), due {}",
            case.ticket,
            case.received,
            case.regime.name(),
            case.due
        );
    }
    Ok(())
}

/// A case the audit log says was opened, whose record is gone: opening it anew would give it a
/// new received date (and so a new deadline), so it is refused.
pub fn refuse_lost_case(audit: &AuditLog, ticket: &str) -> Result<(), UserError> {
    let dir = audit.dir()?;
    let events = crate::audit::query::read_all(&dir)
        .map_err(|e| UserError::runtime(format!("cannot read the audit log: {e}")))?;
    let opened = events.iter().find(|e| {
        e.get("action").and_then(|v| v.as_str()) == Some("case.opened")
            && e.get("ticket").and_then(|v| v.as_str()) == Some(ticket)
    });
    match opened {
        Some(e) => Err(UserError::runtime(format!(
            "case {ticket} was opened (audit seq {}, received {}), but its record cases/{ticket}.json is missing",
            e.get("seq").cloned().unwrap_or_default(),
            e.get("details")
                .and_then(|d| d.get("received"))
                .and_then(|v| v.as_str())
                .unwrap_or("?")
        ))
        .with_hint("restore the state dir's cases/ from a backup; a case is never opened twice")),
        None => Ok(()),
    }
}

/// The top-level entry point for `dsar extend`.
pub fn run_extend(global: &Global, args: &ExtendArgs) -> Result<(), UserError> {
    check_ticket(&args.ticket)?;
    let audit = AuditLog::open(global)?;
    let case = Cases::open(&audit)?.extend(&args.ticket, &args.reason, audit.operator())?;
    let was = case.extension.as_ref().map(|e| e.was_due.clone()).unwrap_or_default();
    let mut details = serde_json::Map::new();
    details.insert("was_due".into(), was.clone().into());
    details.insert("due".into(), case.due.clone().into());
    details.insert("reason".into(), args.reason.clone().into());
    let late = case.extension.as_ref().is_some_and(|e| e.late);
    details.insert("late".into(), late.into());
    audit.append(&Event {
        action: "case.extended".into(),
        ticket: Some(case.ticket.clone()),
        outcome: Outcome::Ok,
        details,
        ..Default::default()
    })?;
    if global.json {
        crate::output::print_json(&serde_json::to_value(public(&case)).unwrap_or_default());
    } else if !global.quiet {
        println!(
            "case {}: due {} (was {}), extended by {}",
            case.ticket,
            case.due,
            was,
            case.regime.extension()
        );
        if late {
            println!("  LATE: the first deadline ({was}) had passed; the extension is recorded as late");
        } else {
            println!(
                "  tell the person within the first deadline, with the reason: {}",
                args.reason
            );
        }
    }
    Ok(())
}

/// A case as `--json` shows it (without its MAC).
pub fn public(case: &Case) -> serde_json::Value {
    let mut value = serde_json::to_value(case).unwrap_or_default();
    if let Some(fields) = value.as_object_mut() {
        fields.remove("mac");
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn deadlines_follow_each_regime() {
        assert_eq!(Regime::Gdpr.due(date!(2026 - 01 - 31), false), date!(2026 - 02 - 28));
        assert_eq!(Regime::Gdpr.due(date!(2028 - 01 - 31), false), date!(2028 - 02 - 29));
        assert_eq!(Regime::Gdpr.due(date!(2026 - 11 - 30), false), date!(2026 - 12 - 30));
        assert_eq!(Regime::Gdpr.due(date!(2026 - 11 - 30), true), date!(2027 - 02 - 28));
        assert_eq!(Regime::Ccpa.due(date!(2026 - 11 - 30), false), date!(2027 - 01 - 14));
        assert_eq!(Regime::Ccpa.due(date!(2026 - 11 - 30), true), date!(2027 - 02 - 28));
    }

    #[test]
    fn tickets_are_plain_names() {
        assert!(check_ticket("DSAR-1234").is_ok());
        assert!(check_ticket("JIRA:PRIV#12").is_ok());
        for bad in ["", "../x", ".hidden", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_ticket(bad).is_err(), "{bad}");
        }
    }
}
