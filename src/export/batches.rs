//! The start and the end of a batch of an export run: what is written to the audit log and the
//! ledger before a batch's rows are read, and once its archives are in place (or it failed).
//! Between the two, `Job::read` reads the rows and starts building the archives, so the end of
//! one batch can wait while the next batch is read (see `export_subjects`).

use std::borrow::Cow;

use super::report::Reports;
use super::{Building, Exported, hashes};
use crate::audit::{AuditLog, Event, Outcome};
use crate::error::{ExitKind, UserError};
use crate::identity::Identities;
use crate::ledger::{ExportSettings, Ledger, Running};
use crate::subject::{self, Subject};

/// The audit log first: a ledger record is never without its `export.requested` event (an empty
/// log beside records reads as a deleted log), and a resumed one is logged as `export.resumed`
/// before its record is written again. The requests run under `run`'s lock when the
/// export has one (a new export: it queued and logged them all as it started, see
/// [`log_requested`]), else under its own (a resumed one); `queued`: a batch after the first, whose people
/// read `queued` from the run's queue until the batch ends (no record written here).
/// The `running` records are not synced: what must survive a power loss is the outcome, synced
/// after the batch (a record lost before that names no archive, and the audit log holds the
/// request).
#[allow(clippy::too_many_arguments)]
pub(super) fn start_batch(
    audit: &AuditLog,
    ledger: &Ledger,
    run: Option<&str>,
    key: &[u8],
    recovery: &Option<Vec<age::x25519::Recipient>>,
    resume_settings: &std::sync::Arc<ExportSettings>,
    batch: &[Subject],
    request_ids: &[String],
    queued: bool,
) -> Result<Vec<Running>, UserError> {
    // The people of a run were logged as requested when it queued them; a request without a
    // run is a resumed one, requested by the run that began it: logged as resumed, so the log
    // holds one `export.requested` per request, as it does one `delete.resumed` per resume.
    if run.is_none() {
        log_each(
            audit,
            key,
            batch,
            request_ids,
            "export.resumed",
            ("resumed", true.into()),
        )?;
    }
    let mut running = Vec::with_capacity(batch.len());
    for (subject, id) in batch.iter().zip(request_ids) {
        let sealed = match recovery {
            Some(recipients) => Some(subject::seal(std::slice::from_ref(subject), recipients)?),
            None => None,
        };
        let subject = hashes(key, &subject.ids);
        let prepare = |r: &mut crate::ledger::Request| {
            r.export = Some(resume_settings.clone());
            r.sealed_subjects = sealed;
        };
        running.push(match (run, queued) {
            (Some(run), true) => ledger.run_queued(run, id, "export", audit.operator(), subject, prepare)?,
            _ => ledger.start_with(run, id, "export", audit.operator(), None, subject, prepare)?,
        });
    }
    Ok(running)
}

/// Log `export.requested` for each of `people` (the request `ids[i]`); `queued_by` names the run
/// whose queue holds them, so `dsar audit verify` can tell a queue gone missing
/// (`Ledger::lost`): the queue is written, and synced, before these events.
pub(super) fn log_requested(
    audit: &AuditLog,
    key: &[u8],
    people: &[Subject],
    ids: &[String],
    queued_by: &str,
) -> Result<(), UserError> {
    let detail = (crate::audit::QUEUED_BY, queued_by.into());
    log_each(audit, key, people, ids, "export.requested", detail)
}

/// Log `action` for each of `people` (the request `ids[i]`, with its hashes), with one detail.
fn log_each(
    audit: &AuditLog,
    key: &[u8],
    people: &[Subject],
    ids: &[String],
    action: &str,
    (name, value): (&str, serde_json::Value),
) -> Result<(), UserError> {
    audit.append_each(people.len(), |i| {
        let mut details = serde_json::Map::new();
        details.insert(name.into(), value.clone());
        Cow::Owned(Event {
            action: action.into(),
            request_id: Some(ids[i].clone()),
            subject: hashes(key, &people[i].ids),
            outcome: Outcome::Ok,
            details,
            ..Default::default()
        })
    })
}

/// `message` without any identifier of the people of `batch`, each replaced by its name
/// (`<email>`). Longest first, so a short value (an id `2`) cannot cut a longer one (`1423`) in
/// pieces that no longer match.
fn redact_batch(message: &str, batch: &[Subject]) -> String {
    let mut values: Vec<(&str, &str)> = batch
        .iter()
        .flat_map(|s| s.ids.iter().map(|(k, v)| (v.as_str(), k.as_str())))
        .filter(|(v, _)| !v.is_empty())
        .collect();
    values.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.0.cmp(b.0)));
    values.dedup_by(|a, b| a.0 == b.0);
    values
        .iter()
        .fold(message.to_string(), |m, (v, k)| m.replace(v, &format!("<{k}>")))
}

/// A started batch: its rows read and its archives being built, or the error that stopped it.
pub(super) struct UnderWay<'s> {
    pub batch: &'s [Subject],
    pub request_ids: Vec<String>,
    pub running: Vec<Running>,
    pub read: Result<Building, UserError>,
}

/// What the ends of a run's batches write to, and what they add up to.
pub(super) struct BatchEnds<'a> {
    pub audit: &'a AuditLog,
    pub ledger: &'a Ledger,
    pub key: &'a [u8],
    /// Sources that could not be reached, flagged on every request.
    pub missing: &'a [String],
    pub missing_details: &'a serde_json::Map<String, serde_json::Value>,
    pub done: Reports,
    pub failed_commands: Vec<String>,
}

impl BatchEnds<'_> {
    /// Wait for the batch's archives, then record how it ended: its audit events first (one
    /// group), then its ledger records (written, then synced together; `[notify]` is told after
    /// that). A crash in between leaves an event before its record, never a `completed` record
    /// without its event; a record that cannot be written does not keep the others, or the
    /// events, from being. A batch that failed returns its error.
    pub async fn record(&mut self, under_way: UnderWay<'_>) -> Result<(), UserError> {
        let UnderWay {
            batch,
            request_ids,
            running,
            read,
        } = under_way;
        let outcome = match read {
            Ok(building) => building.finish().await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok((exported, ids)) => self.completed(exported, &ids, running),
            Err(err) => {
                let cancelled = err.kind == ExitKind::Cancelled;
                // The error may name anyone of the batch (a refused identifier, say): every
                // person's identifiers are taken out of what the log and the ledger keep.
                let message = redact_batch(&err.message, batch);
                self.audit.append_each(batch.len(), |i| {
                    Cow::Owned(Event {
                        action: if cancelled { "export.cancelled" } else { "export.failed" }.into(),
                        request_id: Some(request_ids[i].clone()),
                        subject: hashes(self.key, &batch[i].ids),
                        outcome: Outcome::Error,
                        error: Some(message.clone()),
                        ..Default::default()
                    })
                })?;
                for mut run in running {
                    // A record that cannot be written reads `failed (interrupted)` once this
                    // process is gone; the batch's own error is the one to report.
                    let _ = run.finish(
                        if cancelled { "cancelled" } else { "failed" },
                        Some(message.clone()),
                        Vec::new(),
                    );
                }
                self.ledger.sync()?;
                Err(err)
            }
        }
    }

    fn completed(&mut self, exported: Vec<Exported>, ids: &Identities, running: Vec<Running>) -> Result<(), UserError> {
        // Each event made as the log seals it, not all held at once (a batch of 10,000 people's
        // were megabytes).
        self.audit.append_each(exported.len(), |i| {
            let e = &exported[i];
            let mut details = self.missing_details.clone();
            if e.counts.iter().map(|c| c.rows).sum::<u64>() == 0 {
                details.insert("nothing_matched".into(), true.into());
            }
            if !e.failed_sources.is_empty() {
                details.insert("failed_sources".into(), e.failed_sources.clone().into());
            }
            Cow::Owned(Event {
                action: "export.completed".into(),
                request_id: Some(e.request_id.clone()),
                subject: hashes(self.key, &ids.of_subject(i as u32)),
                tables: e.counts.clone(),
                archive_sha256: Some(e.sha256.clone()),
                outcome: Outcome::Ok,
                details,
                ..Default::default()
            })
        })?;
        let mut first_error = None;
        for (e, mut run) in exported.iter().zip(running) {
            for c in &e.counts {
                run.set_progress(&c.source, &c.table, c.rows, Some(c.rows));
            }
            let mut flagged = self.missing.to_vec();
            flagged.extend(e.failed_sources.iter().cloned());
            if let Err(err) = run.finish("completed", None, flagged) {
                first_error.get_or_insert(err);
            }
        }
        self.ledger.sync()?;
        if let Some(err) = first_error {
            return Err(err);
        }
        self.failed_commands
            .extend(exported.iter().flat_map(|e| e.failed_sources.iter().cloned()));
        for e in exported {
            self.done.push(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(key: &str, value: &str) -> Subject {
        Subject {
            ids: vec![(key.to_string(), value.to_string())],
            line: None,
        }
    }

    #[test]
    fn a_batch_error_keeps_no_identifier_of_anyone_in_the_batch() {
        let batch = [
            subject("id", "2"),
            subject("id", "1423"),
            subject("email", "a@example.com"),
        ];
        let message = "id=1423, email=a@example.com: these identifiers match 2 people";
        let redacted = redact_batch(message, &batch);
        assert!(
            !redacted.contains("1423") && !redacted.contains("a@example.com"),
            "{redacted}"
        );
        assert!(redacted.starts_with("id=<id>, email=<email>"), "{redacted}");
    }
}
