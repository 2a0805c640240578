//! Which erasures to look for, and whether the register can be trusted to name them all.

use std::collections::HashSet;

use super::scan::{Scan, scan};
use super::{Entry, Origin, Register};
use crate::audit::AuditLog;
use crate::cli::RegisterArgs;
use crate::error::UserError;
use crate::ledger::{Ledger, Request};
use crate::source::Database;

/// The erasures to look for, and what keeps the answer from being complete.
pub struct Selection {
    pub entries: Vec<Entry>,
    /// Deletes whose people are not in the register as erased yet, because the delete did not
    /// finish: `dsar resume` puts them there.
    pub unfinished: Vec<String>,
}

/// The register's entries to look for: from the state dir or `--register FILE`, completed on or
/// after `--since` (a UTC date), less the requests restored on purpose since (the ledger says
/// so even when an exported file predates the restore).
pub fn entries_to_find(audit: &AuditLog, args: &RegisterArgs) -> Result<Selection, UserError> {
    let register = Register::open(audit.state(), audit.chain_key())?;
    let origin = match &args.register {
        Some(path) => Origin::File(path),
        None => Origin::State,
    };
    let requests = Ledger::open(audit.state())?.list()?;
    let restored = restored_on_purpose(&requests);
    let loaded = register.load(&origin)?;
    if args.register.is_none() {
        let completed: HashSet<&str> = loaded.iter().map(|e| e.request_id.as_str()).collect();
        refuse_missing(&completed, &requests, &restored)?;
    }
    let since = args
        .since
        .map(|d| format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day()));
    let entries = loaded
        .into_iter()
        .filter(|e| !restored.contains(&e.request_id))
        .filter(|e| {
            since
                .as_ref()
                .is_none_or(|s| e.erased_at.get(..10).is_some_and(|d| d >= s.as_str()))
        })
        .collect();
    let unfinished = requests
        .iter()
        .filter(|r| {
            r.kind == "delete"
                && r.registered
                && !matches!(r.state.as_str(), "completed" | "running" | "queued")
                && !restored.contains(&r.request_id)
        })
        .map(|r| {
            format!(
                "delete request {} did not finish ({}): `dsar resume {}` puts its people in the register",
                r.request_id, r.state, r.request_id
            )
        })
        .collect();
    Ok(Selection { entries, unfinished })
}

/// A completed delete the ledger says was registered, whose entry is not among the `completed`
/// ones of the state dir, and was not restored or taken over by a reapplied erasure: reading the
/// register as it is would miss its people. Refused, naming the request.
fn refuse_missing(
    completed: &HashSet<&str>,
    requests: &[Request],
    restored: &HashSet<String>,
) -> Result<(), UserError> {
    let taken_over: HashSet<&str> = requests
        .iter()
        .filter(|x| x.state == "completed")
        .filter_map(|x| x.reapplied_from.as_deref())
        .collect();
    for r in requests {
        if r.damaged.is_none()
            && r.kind == "delete"
            && r.state == "completed"
            && r.registered
            && !restored.contains(&r.request_id)
            && !taken_over.contains(r.request_id.as_str())
            && !completed.contains(r.request_id.as_str())
        {
            return Err(UserError::runtime(format!(
                "the erasure register has no completed entry for delete request {}, which the ledger says completed",
                r.request_id
            ))
            .with_hint("read the copy kept beside the backups with --register FILE, or put its file back from there"));
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
pub async fn find_live(config: &crate::config::Config, audit: &AuditLog, entries: &[Entry]) -> Result<Scan, UserError> {
    if entries.is_empty() {
        return Ok(Scan::default());
    }
    let mut sources = Vec::new();
    for source in config.databases() {
        sources.push(Database::open(source).await?);
    }
    scan(&sources, entries, audit.key()).await
}
