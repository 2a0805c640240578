//! `dsar export`: every row about a subject, from every source, into one age-encrypted archive.
//!
//! Data flows rows → encoder → zip entry → age → temp file → fsync → rename (a batch's archives
//! synced together, see `archive::persist_all`). The database side runs on the async runtime; the
//! zip and age writers run on a blocking thread fed through a bounded channel, which gives
//! backpressure and keeps memory flat whatever the data size (a large batch is spooled first and
//! its archives built a few at a time, see `sink`).

pub mod archive;
mod batches;
mod external;
mod report;

pub use external::RECORDS;
mod encode;
mod manifest;
mod names;
mod notice;
mod page;
mod page_spool;
mod page_worker;
mod recipient_table;
mod recipients;
mod sink;

use std::sync::Arc;
use std::time::Instant;

use futures_util::{StreamExt, pin_mut};
use tokio::sync::mpsc;

use crate::audit::{AuditLog, Event, Outcome, TableCount};
use crate::cli::{ExportArgs, Format, Global};
use crate::error::{ExitKind, UserError};
use crate::identity::Identities;
use crate::ledger::{ExportSettings, Ledger, Request, Running};
use crate::progress::Progress;
use crate::source::Database;
use crate::state::subject_hash;
use crate::subject::{self, Subject};
use archive::{ArchiveSummary, ArchiveWriter, Unsynced, free_target, persist_all};
use batches::{BatchEnds, UnderWay, start_batch};
use encode::TableEncoder;
use manifest::{FileEntry, Manifest, SourceEntry, SubjectId};
use notice::{Notice, TableFacts};
use page::SectionInfo;
use recipients::Encryption;
use report::Reports;
use sink::{OPEN_AT_ONCE, OpenArchive, RowSpool, SinkMessage, Spent, SpentRows, TableStart, next_chunk, write_rows};

/// Rows per message to the writer thread: large enough to amortise the hand-off.
const CHUNK_ROWS: usize = 256;

/// How often an export looks for its requests' `dsar cancel` files while rows stream.
const CANCEL_POLL: std::time::Duration = std::time::Duration::from_millis(200);

/// Messages in flight to the writer thread: what a large table holds in memory is these chunks
/// (a few hundred rows each), so memory stops growing after the first thousand rows or so.
const IN_FLIGHT: usize = 3;

/// One finished archive, as audit-logged (and kept for the report: see `report::Reports`).
#[derive(Debug)]
pub struct Exported {
    pub request_id: String,
    pub archive: String,
    pub bytes: u64,
    pub sha256: String,
    pub counts: Vec<TableCount>,
    /// The `--subjects-file` line of the person this archive is about.
    pub line: Option<u64>,
    subject: String,
    /// Command sources that failed for this subject (their data is missing), redacted.
    failed_sources: Vec<String>,
}

/// The top-level entry point for `dsar export`.
pub async fn run(global: &Global, args: &ExportArgs) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    crate::warn_all(global, &config.warnings);
    let subjects = subject::from_args(global, &args.subjects, &config.subject_keys)?;
    subject::warn_padded(global, &subjects);
    let encryption = Encryption::from_args(args, &config.settings)?;
    let out_dir = args.out.clone().unwrap_or_else(|| config.settings.export_dir.clone());
    let plan = Plan {
        subjects: &subjects,
        encryption: &encryption,
        out_dir: &out_dir,
        format: args.format,
        csv_bom: !args.no_bom,
        allow_multiple: args.subjects.allow_multiple,
    };
    export_subjects(global, &config, &plan, args.batch_size as usize, None).await
}

/// What to export, where, and how it is encrypted.
struct Plan<'a> {
    subjects: &'a [Subject],
    encryption: &'a Encryption,
    out_dir: &'a std::path::Path,
    format: Format,
    /// CSV files start with a UTF-8 byte-order mark, so spreadsheets read them as UTF-8.
    csv_bom: bool,
    /// Identifiers that match several people's rows are exported as one request all the same.
    allow_multiple: bool,
}

/// `dsar resume` of an export: the same request id, its subject unsealed from the ledger with the
/// recovery key, the same recipients, format and directory. An archive is all or nothing, so
/// the subject is exported again from the start.
pub async fn resume(global: &Global, record: &Request, identity: &std::path::Path) -> Result<(), UserError> {
    let config = crate::config::load(&global.config)?;
    crate::warn_all(global, &config.warnings);
    let cannot = |why: &str| {
        UserError::usage(format!("export {} cannot be resumed: {why}", record.request_id))
            .with_hint("run the export again; it makes a new request")
    };
    let sealed = record
        .sealed_subjects
        .as_deref()
        .ok_or_else(|| cannot("no recovery recipients were set when it ran"))?;
    let settings = record
        .export
        .as_ref()
        .ok_or_else(|| cannot("it records no export settings"))?;
    if settings.recipients.is_empty() {
        return Err(cannot("it was encrypted with a passphrase, which dsar does not keep"));
    }
    let identities = crate::age_keys::read_identity_file(identity)?;
    let subjects = subject::unseal(sealed, &identities)?;
    let recipients = settings
        .recipients
        .iter()
        .map(|r| crate::age_keys::parse_recipient(r).map_err(|e| UserError::runtime(format!("stored recipient: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let format = match settings.format.as_str() {
        "csv" => Format::Csv,
        "ndjson" => Format::Ndjson,
        _ => Format::Json,
    };
    let encryption = Encryption::to(recipients);
    let out_dir = std::path::PathBuf::from(&settings.out_dir);
    // Killed after the archive was renamed into place but before it was recorded: the rename is
    // the last step of a complete archive, so check it and record it rather than refuse.
    let archive = out_dir.join(format!("{}.zip.age", record.request_id));
    if archive.exists() {
        return record_finished_archive(global, &config, record, &archive);
    }
    let plan = Plan {
        subjects: &subjects,
        encryption: &encryption,
        out_dir: &out_dir,
        format,
        csv_bom: settings.csv_bom,
        // Checked again: the request may have been refused for naming several people (or its
        // run killed before its batch was checked), and is still in the ledger.
        allow_multiple: settings.allow_multiple,
    };
    export_subjects(global, &config, &plan, 1, Some(&record.request_id)).await
}

/// An archive a killed export had already finished: it must be an age file (the header
/// parses); its checksum goes into the audit log and the ledger as the export's completion.
fn record_finished_archive(
    global: &Global,
    config: &crate::config::Config,
    record: &Request,
    archive: &std::path::Path,
) -> Result<(), UserError> {
    use sha2::{Digest, Sha256};
    let unreadable = |why: String| {
        UserError::runtime(format!(
            "{} exists but is not a finished dsar archive ({why}); nothing was recorded",
            archive.display()
        ))
        .with_hint("move it aside, then resume again to make the archive anew")
    };
    let file = std::fs::File::open(archive).map_err(|e| unreadable(e.to_string()))?;
    age::Decryptor::new(std::io::BufReader::new(file)).map_err(|e| unreadable(format!("not an age file: {e}")))?;
    let mut file = std::fs::File::open(archive).map_err(|e| unreadable(e.to_string()))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(|e| unreadable(e.to_string()))?;
    let sha256 = crate::hex::hex(&hasher.finalize());
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    // A batch logs its events before it writes its records: a run killed in between left this
    // archive's `export.completed`, with its checksum and counts. Then the file must be that
    // archive (another person's copied there is refused), no second event is logged, and the
    // record gets the event's counts. Without one, only its age header can be checked, and that
    // it is no other export's archive (copied, or moved, under this name).
    let Logged { own: logged, other } = logged_completion(&audit, &record.request_id, &sha256)?;
    if logged.is_none()
        && let Some(other) = other
    {
        return Err(UserError::runtime(format!(
            "{} is the archive of export {other}, not of export {} (the audit log records its sha256 for {other}); \
             nothing was recorded",
            archive.display(),
            record.request_id
        ))
        .with_hint("move it back (or aside), then resume again to make this request's archive anew"));
    }
    if let Some(event) = &logged
        && event.get("archive_sha256").and_then(serde_json::Value::as_str) != Some(sha256.as_str())
    {
        return Err(UserError::runtime(format!(
            "{} is not the archive the audit log records for export {} (its sha256 differs); nothing was recorded",
            archive.display(),
            record.request_id
        ))
        .with_hint("move it aside (keep it: it may be evidence), then resume again to make the archive anew"));
    }
    // (source, table, rows) of each table the event counts.
    let counts: Vec<(String, String, u64)> = logged
        .as_ref()
        .and_then(|event| event.get("tables"))
        .and_then(serde_json::Value::as_array)
        .map(|tables| {
            tables
                .iter()
                .filter_map(|t| {
                    Some((
                        t.get("source")?.as_str()?.to_string(),
                        t.get("table")?.as_str()?.to_string(),
                        t.get("rows")?.as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    let ledger = Ledger::for_runs(&audit, &config.notify)?;
    // The request as its run recorded it (when it started, where and how it exported), ended.
    let mut run = ledger.start_with(
        None,
        &record.request_id,
        "export",
        audit.operator(),
        record.reason.clone(),
        record.subject.clone(),
        |r| {
            r.started_at = record.started_at.clone();
            r.export = record.export.clone();
            r.sealed_subjects = record.sealed_subjects.clone();
        },
    )?;
    for (source, table, rows) in &counts {
        run.set_progress(source, table, *rows, Some(*rows));
    }
    run.finish("completed", None, Vec::new())?;
    if logged.is_none() {
        let mut details = serde_json::Map::new();
        details.insert("recovered".into(), true.into());
        details.insert("bytes".into(), bytes.into());
        audit.append(&Event {
            action: "export.completed".into(),
            request_id: Some(record.request_id.clone()),
            subject: record.subject.clone(),
            archive_sha256: Some(sha256.clone()),
            outcome: Outcome::Ok,
            details,
            ..Default::default()
        })?;
    }
    if global.json {
        crate::output::print_json(&serde_json::json!({
            "state": "completed",
            "request_id": record.request_id,
            "recovered": true,
            "archive": archive.display().to_string(),
            "sha256": sha256,
        }));
    } else if !global.quiet {
        println!(
            "export {}: {} was already complete (its run stopped after writing it); recorded, sha256 {sha256}",
            record.request_id,
            archive.display()
        );
    }
    Ok(())
}

/// The last `export.completed` event the audit log holds for `request_id`, and, logged after
/// it (or without it), the last other export whose archive's sha256 is `sha256`.
fn logged_completion(audit: &AuditLog, request_id: &str, sha256: &str) -> Result<Logged, UserError> {
    let dir = audit.dir()?;
    let events = crate::audit::query::read_all(&dir)
        .map_err(|e| UserError::runtime(format!("cannot read the audit log in {}: {e}", dir.display())))?;
    let mut logged = Logged::default();
    for event in events.into_iter().rev() {
        if crate::audit::query::completes_export(&event, Some(request_id)) {
            logged.own = Some(event);
            break;
        }
        if logged.other.is_none()
            && event.get("action").and_then(serde_json::Value::as_str) == Some("export.completed")
            && event.get("archive_sha256").and_then(serde_json::Value::as_str) == Some(sha256)
        {
            logged.other = event
                .get("request_id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string);
        }
    }
    Ok(logged)
}

/// What the audit log holds about an archive found in place of request's: the request's own
/// `export.completed`, if logged, and another export whose logged archive has the same sha256.
#[derive(Default)]
struct Logged {
    own: Option<serde_json::Map<String, serde_json::Value>>,
    other: Option<String>,
}

/// Export `plan.subjects` in batches; `resumed` reuses that request id for a one-subject plan.
async fn export_subjects(
    global: &Global,
    config: &crate::config::Config,
    plan: &Plan<'_>,
    batch_size: usize,
    resumed: Option<&str>,
) -> Result<(), UserError> {
    let (subjects, encryption, out_dir) = (plan.subjects, plan.encryption, plan.out_dir);
    crate::state::private_dir(out_dir)
        .map_err(|e| UserError::usage(format!("cannot create output directory {}: {e}", out_dir.display())))?;
    let audit = AuditLog::open(global)?.with_segment_events(config.settings.audit_segment_events);
    let key = audit.key().to_vec();

    // A server out of reach does not stop the others; the archive and exit 3 say it is missing.
    let mut sources = Vec::new();
    let mut unavailable: Vec<SourceEntry> = Vec::new();
    let mut first_unreachable = None;
    for source in config.databases() {
        match Database::try_open(source).await? {
            Ok(opened) => sources.push(opened),
            Err(e) => {
                unavailable.push(SourceEntry {
                    name: source.name.clone(),
                    kind: source.kind.name(),
                    unavailable: Some(e.message.clone()),
                });
                first_unreachable.get_or_insert(e);
            }
        }
    }
    if sources.is_empty()
        && let Some(e) = first_unreachable
    {
        return Err(e);
    }
    let progress = Progress::new(global.quiet, global.json);
    let commands: Vec<&crate::config::Source> = config.commands().collect();
    let job = Job {
        sources: &sources,
        commands: &commands,
        encryption,
        out_dir,
        format: plan.format,
        csv_bom: plan.csv_bom,
        controller: &config.controller,
        progress: &progress,
        unavailable: &unavailable,
        allow_multiple: plan.allow_multiple,
    };

    let missing: Vec<String> = unavailable
        .iter()
        .map(|s| {
            format!(
                "source `{}` was not exported: {}",
                s.name,
                s.unavailable.as_deref().unwrap_or("")
            )
        })
        .collect();
    let mut missing_details = serde_json::Map::new();
    if !unavailable.is_empty() {
        let names: Vec<serde_json::Value> = unavailable.iter().map(|s| s.name.clone().into()).collect();
        missing_details.insert("unavailable_sources".into(), names.into());
    }
    // A batch's records and audit events are made durable together (one sync each per batch),
    // after its archives are: see `BatchEnds::record`.
    let ledger = Ledger::for_runs(&audit, &config.notify)?.grouped();
    crate::interrupt::install();
    // With recovery recipients, each request keeps its subject sealed so `dsar resume` can redo it.
    let recovery = match &config.settings.recovery_recipients_file {
        Some(file) => crate::age_keys::read_recipients_file(file).ok(),
        None => None,
    };
    let resume_settings = std::sync::Arc::new(ExportSettings {
        recipients: match encryption {
            Encryption::Recipients(list) => list.iter().map(ToString::to_string).collect(),
            Encryption::Passphrase(_) => Vec::new(),
        },
        format: plan.format.extension().to_string(),
        csv_bom: plan.csv_bom,
        allow_multiple: plan.allow_multiple,
        out_dir: std::fs::canonicalize(out_dir)
            .unwrap_or_else(|_| out_dir.to_path_buf())
            .display()
            .to_string(),
    });
    let all_ids: Vec<String> = match resumed {
        Some(id) => vec![id.to_string()],
        None => crate::clock::new_request_ids(subjects.len()),
    };
    let batch_size = batch_size.max(1);
    // A new export, of one person or many, holds one run lock, which stands for each request's
    // own: the requests run under it, and wait as `queued` under it until their batch, so `dsar
    // jobs` shows the whole run from the start. Either way, a free run lock tells a request
    // whose process died. A resumed request has its record already, and runs under its own.
    let run = if resumed.is_none() {
        // Queues of earlier runs that are over and fully recorded (one killed at its very end):
        // looked for by runs of several people only (a listing of the ledger's folder).
        if subjects.len() > 1 {
            ledger.sweep_queues();
        }
        let (lock, run) = ledger.hold_run(&all_ids[0])?;
        let queued = subjects.iter().zip(&all_ids).map(|(subject, id)| {
            let mut request = Request::new(id, "export", audit.operator(), hashes(&key, &subject.ids));
            request.export = Some(resume_settings.clone());
            if let Some(recipients) = &recovery {
                request.sealed_subjects = Some(subject::seal(std::slice::from_ref(subject), recipients)?);
            }
            Ok(request)
        });
        // Everyone, the first batch too (a person exported alone too), is in the run's queue
        // (synced) before the log names them: a run killed at any point leaves each person it
        // logged in the ledger, as a record of their own or as their queue line, to resume (the
        // first batch's records, written as it starts, win over their lines). `audit verify`
        // checks that it stays so.
        ledger.queue(&run, queued)?;
        batches::log_requested(&audit, &key, subjects, &all_ids, &run)?;
        Some((lock, run))
    } else {
        None
    };
    let run_name = run.as_ref().map(|(_, name)| name.as_str());
    let mut ends = BatchEnds {
        audit: &audit,
        ledger: &ledger,
        key: &key,
        missing: &missing,
        missing_details: &missing_details,
        done: Reports::default(),
        failed_commands: Vec::new(),
    };
    // Batches overlap by one: while a batch's archives are built and synced (CPU and the disk),
    // the next batch's rows are read (the database). Each batch is still recorded whole and in
    // order, and a run that stops records the batch under way first, so no archive is left
    // without its outcome.
    let batches = async {
        let mut under_way: Option<UnderWay<'_>> = None;
        for (i, (batch, request_ids)) in subjects.chunks(batch_size).zip(all_ids.chunks(batch_size)).enumerate() {
            let request_ids = request_ids.to_vec();
            let started = start_batch(
                &audit,
                &ledger,
                run_name,
                &key,
                &recovery,
                &resume_settings,
                batch,
                &request_ids,
                // Every batch after the first was queued by the run.
                i > 0,
            );
            let mut running = match started {
                Ok(running) => running,
                Err(e) => {
                    if let Some(previous) = under_way.take() {
                        ends.record(previous).await?;
                    }
                    return Err(e);
                }
            };
            // The batch before is recorded as soon as its archives are in place, while this one is
            // read: an archive stays in place unrecorded no longer than before batches overlapped.
            let (recorded, read) = match under_way.take() {
                Some(previous) => tokio::join!(ends.record(previous), job.read(batch, &request_ids, &mut running)),
                None => (Ok(()), job.read(batch, &request_ids, &mut running).await),
            };
            let current = UnderWay {
                batch,
                request_ids,
                running,
                read,
            };
            if let Err(e) = recorded {
                // This batch's archives are being built: let them finish and record them too.
                let _ = ends.record(current).await;
                return Err(e);
            }
            if current.read.is_err() {
                return ends.record(current).await;
            }
            under_way = Some(current);
        }
        if let Some(last) = under_way.take() {
            ends.record(last).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = batches {
        return Err(stopped_partway(global, &ends.done, subjects.len(), e));
    }
    // Every batch is recorded and synced: the queue goes if each of its people has a record.
    if let Some(run) = run_name {
        ledger.end_run(run);
    }
    let BatchEnds {
        done, failed_commands, ..
    } = ends;
    done.print(global);
    // Nothing matched is its own outcome: the archive says no data was found, and the run
    // asks for review rather than passing an empty archive off as the person's data.
    let empty: Vec<&str> = done
        .done
        .iter()
        .filter(|r| r.complete && r.total_rows() == 0)
        .map(|r| &*r.subject)
        .collect();
    if missing.is_empty() && failed_commands.is_empty() && !empty.is_empty() {
        crate::warn_all(
            global,
            &[format!(
                "nothing matched {}: matching is exact (case, spaces and type count); the archive says no data was found",
                empty.join("; ")
            )],
        );
        return Err(UserError {
            kind: ExitKind::Flagged,
            message: format!(
                "{} of {} archive(s) hold no data: nothing matched (listed above)",
                empty.len(),
                done.done.len()
            ),
            hint: Some("check the identifiers, then export again; the empty archives say so to the person".into()),
            db: None,
        });
    }
    if !missing.is_empty() || !failed_commands.is_empty() {
        for m in missing.iter().chain(&failed_commands) {
            eprintln!("flagged: {m}");
        }
        return Err(UserError {
            kind: ExitKind::Flagged,
            message: format!(
                "exported, but {} source(s) could not be read; their data is missing (listed above)",
                missing.len() + failed_commands.len()
            ),
            hint: Some("the archive's manifest and README say so; export again once the source is back".into()),
            db: None,
        });
    }
    Ok(())
}

/// The error of a run that stopped after some of its people were exported, whose requests are
/// completed: those are reported as a finished run's are (with `--json`, in the error's own
/// object), and the error says how far the run got. A refusal of a later batch (exit 2, "nothing
/// was changed": a line that names two people, say) is a run-time failure here, exit 1: the
/// batches before it did change something, and a script that took exit 2 for "nothing was
/// done" would export those people again.
fn stopped_partway(global: &Global, done: &Reports, people: usize, error: UserError) -> UserError {
    if done.done.is_empty() {
        return error;
    }
    let reason = error
        .message
        .trim_end_matches("nothing was changed")
        .trim_end_matches("; ")
        .trim_end_matches(", ");
    let kind = match error.kind {
        ExitKind::Usage | ExitKind::Refused => ExitKind::Runtime,
        kind => kind,
    };
    let stopped = UserError {
        kind,
        message: format!(
            "the run stopped after {} of {people} people were exported (their requests are completed); the others were not: {reason}",
            done.done.len()
        ),
        hint: Some(format!(
            "{}`dsar jobs` lists the requests that did not complete; `dsar resume <id>` exports each",
            error.hint.as_deref().map(|h| format!("{h}; ")).unwrap_or_default()
        )),
        db: error.db,
    };
    done.print_stopped(global, &stopped);
    stopped
}

fn hashes(key: &[u8], ids: &[(String, String)]) -> Vec<String> {
    ids.iter().map(|(k, v)| subject_hash(key, k, v)).collect()
}

/// What every batch of an export run shares.
struct Job<'a> {
    sources: &'a [Database<'a>],
    /// Command sources, run once per subject after the databases.
    commands: &'a [&'a crate::config::Source],
    encryption: &'a Encryption,
    out_dir: &'a std::path::Path,
    format: Format,
    csv_bom: bool,
    controller: &'a crate::config::Controller,
    progress: &'a Progress,
    /// Sources that could not be reached, named in every manifest.
    unavailable: &'a [SourceEntry],
    allow_multiple: bool,
}

impl Job<'_> {
    /// Read one batch of subjects (one query per table for the whole batch) and start building
    /// their archives, one each, off the async threads: [`Building::finish`] waits for them.
    async fn read(
        &self,
        batch: &[Subject],
        request_ids: &[String],
        running: &mut [Running],
    ) -> Result<Building, UserError> {
        // One person: the snapshot is shared, so the tables are counted alongside the rows.
        for source in self.sources {
            source.begin_snapshot(request_ids.len() == 1).await?;
        }
        let ids = crate::identity::resolve(self.sources, batch, self.allow_multiple).await?;

        // A few subjects: their archives are written as the rows stream. More: the rows are
        // spooled and the archives built afterwards, a few at a time (see `sink`).
        let (tx, rx) = mpsc::channel::<SinkMessage>(IN_FLIGHT);
        let (spent, spent_rows) = Spent::channel();
        let sink = if request_ids.len() <= OPEN_AT_ONCE {
            let archives = self.open_archives(request_ids).await?;
            tokio::task::spawn_blocking(move || write_rows(rx, spent, archives).map(Sunk::Archives))
        } else {
            // Refused now, not after the rows are read (each archive is created later).
            for id in request_ids {
                free_target(self.out_dir, &format!("{id}.zip.age"))?;
            }
            let spool = RowSpool::new(self.out_dir, request_ids.len())?;
            tokio::task::spawn_blocking(move || spool.take(rx, spent).map(Sunk::Spool))
        };
        let streamed = match self.stream_tables(&ids, &tx, &spent_rows, running).await {
            Ok(()) => self.stream_commands(batch.len(), &ids, &tx).await,
            Err(e) => Err(e),
        };
        drop(tx);
        let written = sink
            .await
            .map_err(|e| UserError::runtime(format!("archive writer stopped: {e}")))?;
        // A writer failure explains a closed channel, so it wins over the streaming error.
        let sunk = written?;
        let failed = streamed?;
        for source in self.sources {
            source.end_snapshot().await?;
        }
        // Each archive's encryptor wraps its file key for every recipient (an X25519 exchange
        // each): made on the threads that build the archives, not here one after the other.
        let encryption = self.encryption.clone();

        let created_at = crate::clock::now_rfc3339();
        let sources: Vec<SourceEntry> = self
            .sources
            .iter()
            .map(|s| SourceEntry {
                name: s.config().name.clone(),
                kind: s.config().kind.name(),
                unavailable: None,
            })
            .chain(self.commands.iter().map(|c| SourceEntry {
                name: c.name.clone(),
                kind: c.kind.name(),
                unavailable: None,
            }))
            .chain(self.unavailable.iter().cloned())
            .collect();
        let format = self.format;
        let subjects: Vec<Subject> = batch.to_vec();
        let ids_owned: Vec<String> = request_ids.to_vec();
        let controller = self.controller.clone();
        let out_dir = self.out_dir.to_path_buf();
        // The manifest, the end of the age stream and the fsync of a large archive take a while,
        // and a spooled batch builds all its archives here: a terminal shows a spinner, not
        // silence.
        let spinner = self.progress.step(&match &sunk {
            Sunk::Archives(_) => format!("finishing {} archive(s): manifest, encryption, fsync", ids_owned.len()),
            Sunk::Spool(_) => format!(
                "building {} archive(s) from the batch's rows: compression, encryption, fsync",
                ids_owned.len()
            ),
        });
        let finished = tokio::task::spawn_blocking(move || {
            // Add index.html, README.txt and the manifest to archive `i`, and close it.
            let finish = |i: usize, archive: OpenArchive| -> Result<(Exported, Unsynced), UserError> {
                // A command that failed for this person is named in their manifest.
                let mut sources = sources.clone();
                let mut failures = Vec::new();
                // Command messages come redacted (see source::command).
                for (_, name, message) in failed.iter().filter(|(s, ..)| *s == i) {
                    let message = message.clone();
                    if let Some(entry) = sources.iter_mut().find(|e| &e.name == name) {
                        entry.unavailable = Some(message.clone());
                    }
                    failures.push(message);
                }
                let (mut exported, unsynced) = finish_archive(
                    archive,
                    &subjects[i],
                    ids_owned[i].clone(),
                    &created_at,
                    format,
                    &sources,
                    &controller,
                )?;
                exported.failed_sources = failures;
                Ok((exported, unsynced))
            };
            match sunk {
                Sunk::Archives(archives) => archives
                    .into_iter()
                    .enumerate()
                    .map(|(i, archive)| finish(i, archive))
                    .collect::<Result<Vec<_>, UserError>>(),
                Sunk::Spool(spool) => {
                    let build = |i: usize| -> Result<(Exported, Unsynced), UserError> {
                        // Ctrl-C/SIGTERM stops the batch between archives: none of it is recorded
                        // done, and its finished archives, never named, are removed.
                        if crate::interrupt::requested() {
                            return Err(batch_cancelled());
                        }
                        let encryptor = encryption.encryptor()?;
                        let writer = ArchiveWriter::create(&out_dir, &format!("{}.zip.age", ids_owned[i]), encryptor)?;
                        let mut archive = OpenArchive::new(writer, &out_dir);
                        spool.replay(i, &mut archive)?;
                        finish(i, archive)
                    };
                    // A passphrase's scrypt (a second an archive) outweighs the reading: every core.
                    let spare = !matches!(encryption, Encryption::Passphrase(_));
                    // Built a group at a time, each group's archives synced (and closed) before
                    // the next: a batch holds a group's descriptors, not one per person.
                    let n = spool.subjects();
                    let mut built = Vec::with_capacity(n);
                    for start in (0..n).step_by(OPEN_ARCHIVES) {
                        let group = in_parallel((n - start).min(OPEN_ARCHIVES), spare, |j| build(start + j))?;
                        let (exported, unsynced): (Vec<_>, Vec<_>) = group.into_iter().unzip();
                        built.extend(exported.into_iter().zip(archive::sync_open(unsynced)?));
                    }
                    Ok(built)
                }
            }
            .and_then(|finished| {
                // One sync for the batch's archives, then their names.
                let (mut exported, unsynced): (Vec<_>, Vec<_>) = finished.into_iter().unzip();
                // Absolute, so scripts reading --json need not know the working directory: the
                // folder resolved once (an archive is a file just created in it, never a link).
                let dir = std::fs::canonicalize(&out_dir).ok();
                for (e, summary) in exported.iter_mut().zip(persist_all(&out_dir, unsynced)?) {
                    let ArchiveSummary { path, bytes, sha256 } = summary;
                    let absolute = match (&dir, path.file_name()) {
                        (Some(dir), Some(name)) => dir.join(name),
                        _ => path,
                    };
                    e.archive = absolute.display().to_string();
                    e.bytes = bytes;
                    e.sha256 = sha256;
                }
                Ok(exported)
            })
        });
        Ok(Building {
            archives: finished,
            ids,
            spinner,
        })
    }

    async fn open_archives(&self, request_ids: &[String]) -> Result<Vec<OpenArchive>, UserError> {
        let mut archives = Vec::with_capacity(request_ids.len());
        for id in request_ids {
            let encryptor = self.encryption.encryptor()?;
            let dir = self.out_dir.to_path_buf();
            let name = format!("{id}.zip.age");
            // A passphrase costs a deliberate second of scrypt: keep it off the async threads.
            let writer = tokio::task::spawn_blocking(move || ArchiveWriter::create(&dir, &name, encryptor))
                .await
                .map_err(|e| UserError::runtime(format!("archive writer stopped: {e}")))??;
            archives.push(OpenArchive::new(writer, self.out_dir));
        }
        Ok(archives)
    }

    /// Query every mapped table once and send its rows to the writer.
    async fn stream_tables(
        &self,
        ids: &Identities,
        tx: &mpsc::Sender<SinkMessage>,
        spent: &SpentRows,
        running: &mut [Running],
    ) -> Result<(), UserError> {
        for source in self.sources {
            // For one person, each table is counted in the same snapshot, so the bars and `dsar
            // status` show a real percentage and ETA. Where the snapshot can be shared
            // (PostgreSQL), a second session counts while the rows stream, once the export has
            // run for a second: counted first, in line, the whale's tables waited 0.16 s for
            // their counts, and an ordinary person's export (30 ms) needs no total at all. A
            // batch's tables are not counted: a second query per table per batch would cost
            // more than a batch's rows take to read, so its bars count rows without a total.
            let tables = source.config().tables.len();
            let alongside = Alongside {
                counted: std::sync::Mutex::new(vec![None; tables]),
                reading: std::sync::atomic::AtomicUsize::new(0),
            };
            let counting = match running {
                [_] => {
                    let statements = (0..tables)
                        .map(|t| crate::engine::count_statement(source.backend(), t, ids))
                        .collect();
                    source.count_alongside(
                        statements,
                        |t| t >= alongside.reading.load(std::sync::atomic::Ordering::Relaxed),
                        |t, n| {
                            if let Ok(mut counted) = alongside.counted.lock() {
                                counted[t] = Some(n);
                            }
                        },
                    )
                }
                _ => None,
            };
            let counts = match (&counting, running.len()) {
                (Some(_), _) => Counts::Alongside(&alongside),
                (None, 1) => Counts::InLine,
                (None, _) => Counts::None,
            };
            let streaming = self.stream_source(source, ids, tx, spent, running, counts);
            match counting {
                None => streaming.await?,
                Some(counting) => {
                    // The counting session works while the rows stream, and is dropped (its
                    // session closed, whatever it has not counted left) once they are read.
                    pin_mut!(streaming, counting);
                    let mut counting_done = false;
                    loop {
                        tokio::select! {
                            streamed = &mut streaming => break streamed?,
                            () = &mut counting, if !counting_done => counting_done = true,
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Query each mapped table of `source` once and send its rows to the writer.
    async fn stream_source(
        &self,
        source: &Database<'_>,
        ids: &Identities,
        tx: &mpsc::Sender<SinkMessage>,
        spent: &SpentRows,
        running: &mut [Running],
        counts: Counts<'_>,
    ) -> Result<(), UserError> {
        let closed = || UserError::runtime("the archive writer stopped early");
        let pace = source.config().max_rows_per_second;
        let paths = names::table_paths(&source.config().name, &source.config().tables, self.format);
        // `dsar cancel` leaves a file per request: a batch of many people would look for each of
        // them after every chunk of rows (a stat each, on the reading thread), so they are looked
        // for at most every CANCEL_POLL; a signal is a flag, seen at once.
        let mut cancel_polled: Option<std::time::Instant> = None;
        for (t, table) in source.config().tables.iter().enumerate() {
            let columns: Vec<String> = source
                .exported_columns(t)
                .into_iter()
                .map(|i| source.shapes()[t].columns[i].name.clone())
                .collect();
            let path = paths[t].clone();
            let about = table.about.said();
            let section = SectionInfo {
                source: source.config().name.clone(),
                // Untitled: the table's name as its file shows it (no schema unless needed).
                title: about.title.clone().unwrap_or_else(|| names::stem(&path).to_string()),
                about: Arc::new(about),
                data_path: path.clone(),
                columns: columns.clone(),
            };
            let encoder = Arc::new(TableEncoder::new(self.format, columns, self.csv_bom));
            let begin = SinkMessage::Begin(Arc::new(TableStart {
                path,
                source: source.config().name.clone(),
                table: table.name.to_string(),
                encoder,
                section,
            }));
            tx.send(begin).await.map_err(|_| closed())?;

            if let Counts::Alongside(alongside) = counts {
                alongside.reading.store(t, std::sync::atomic::Ordering::Relaxed);
            }
            let mut planned = match counts {
                Counts::InLine => Some(crate::engine::count_rows(source.backend(), t, ids).await?),
                _ => counts.of(t),
            };
            let table_name = table.name.to_string();
            let label = format!("{}: {}", source.config().name, table.name);
            let bar = match planned {
                Some(total) => self.progress.rows_of(&label, total),
                None => self.progress.rows_counted(&label),
            };
            if let [one] = &mut *running {
                one.progress(&source.config().name, &table_name, 0, planned);
            }
            let started = Instant::now();
            let rows = source.export_rows(t, ids, &spent.spares).await?;
            pin_mut!(rows);
            let keep = source.reads_into_spares();
            let mut chunk = next_chunk(spent, CHUNK_ROWS, keep);
            let mut count: u64 = 0;
            while let Some(row) = rows.next().await {
                chunk.push(row?);
                count += 1;
                if chunk.len() == CHUNK_ROWS {
                    let full = std::mem::replace(&mut chunk, next_chunk(spent, CHUNK_ROWS, keep));
                    tx.send(SinkMessage::Rows(full)).await.map_err(|_| closed())?;
                    if planned.is_none()
                        && let Some(total) = counts.of(t)
                    {
                        planned = Some(total);
                        self.progress.set_total(&bar, total);
                    }
                    bar.set_position(count);
                    if let [one] = &mut *running {
                        one.progress(&source.config().name, &table_name, count, planned);
                    }
                    if let Some(first) = running.first() {
                        let id = &first.request.request_id;
                        self.progress
                            .event(id, &source.config().name, &table_name, count, planned);
                    }
                    if crate::interrupt::requested() {
                        return Err(batch_cancelled());
                    }
                    if cancel_polled.is_none_or(|at| at.elapsed() >= CANCEL_POLL) {
                        cancel_polled = Some(std::time::Instant::now());
                        if running.iter().any(Running::cancel_requested) {
                            return Err(batch_cancelled());
                        }
                    }
                    if let Some(limit) = pace {
                        crate::pace::throttle(started, count, limit).await;
                    }
                }
            }
            if !chunk.is_empty() {
                tx.send(SinkMessage::Rows(chunk)).await.map_err(|_| closed())?;
            }
            tx.send(SinkMessage::End).await.map_err(|_| closed())?;
            // Read to the end in the snapshot the count is taken in: what was read is the
            // table's count, whether or not the count came first.
            if let [one] = &mut *running {
                one.progress(&source.config().name, &table_name, count, Some(count));
            }
            bar.set_position(count);
            bar.finish();
        }
        Ok(())
    }
}

/// What the counting session and the reader share.
struct Alongside {
    /// Each table's count, once the counting session has it.
    counted: std::sync::Mutex<Vec<Option<u64>>>,
    /// The table being read: the counting session skips those before it.
    reading: std::sync::atomic::AtomicUsize,
}

/// Where a table's count (for progress) comes from.
#[derive(Clone, Copy)]
enum Counts<'a> {
    /// A second session counts the tables while the rows stream; `None` until it has.
    Alongside(&'a Alongside),
    /// Each table is counted just before it is read.
    InLine,
    /// Not counted (a batch).
    None,
}

impl Counts<'_> {
    fn of(self, table: usize) -> Option<u64> {
        match self {
            Counts::Alongside(alongside) => alongside.counted.lock().ok().and_then(|c| c[table]),
            Counts::InLine | Counts::None => None,
        }
    }
}

/// A batch whose rows are read and whose archives are being built.
struct Building {
    archives: tokio::task::JoinHandle<Result<Vec<Exported>, UserError>>,
    ids: Identities,
    spinner: indicatif::ProgressBar,
}

impl Building {
    /// Wait for the archives: in place, or the error that stopped them.
    async fn finish(self) -> Result<(Vec<Exported>, Identities), UserError> {
        let finished = self.archives.await;
        self.spinner.finish_and_clear();
        let exported = finished.map_err(|e| UserError::runtime(format!("archive writer stopped: {e}")))??;
        Ok((exported, self.ids))
    }
}

/// How a batch's rows were taken: into its open archives, or into a spool.
enum Sunk {
    Archives(Vec<OpenArchive>),
    Spool(RowSpool),
}

/// Archives a spooled batch builds before it syncs and closes them (see `archive::sync_open`):
/// well under the usual limit of 1,024 open files, whatever `--batch-size`.
const OPEN_ARCHIVES: usize = 256;

/// `build(i)` for every `i < n`, in order, on as many threads as there are cores, or with
/// `spare_a_core` one fewer (at least one; at most 4): the next batch is read while this one
/// builds, and its reader and the database's backend need a core. Measured on 2 cores (10,000
/// people in batches of 100, on tmpfs, three runs each): two building threads 3.95-4.05 s,
/// one 3.76-3.85 s.
fn in_parallel<T: Send>(
    n: usize,
    spare_a_core: bool,
    build: impl Fn(usize) -> Result<T, UserError> + Sync,
) -> Result<Vec<T>, UserError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(usize::from(spare_a_core))
        .clamp(1, 4)
        .min(n.max(1));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<T, UserError>>>> =
        (0..n).map(|_| std::sync::Mutex::new(None)).collect();
    let failed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    // After a failure the others stop at their next archive.
                    if i >= n || failed.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let result = build(i);
                    if result.is_err() {
                        failed.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                    if let Ok(mut slot) = results[i].lock() {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    let results: Vec<Option<Result<T, UserError>>> = results
        .into_iter()
        .map(|slot| slot.into_inner().ok().flatten())
        .collect();
    // The failure that stopped the others, wherever it is: archives after it may be missing.
    let mut built = Vec::with_capacity(n);
    let mut missing = false;
    for result in results {
        match result {
            Some(Ok(value)) => built.push(value),
            Some(Err(e)) => return Err(e),
            None => missing = true,
        }
    }
    if missing {
        return Err(UserError::runtime(
            "archive writer stopped before every archive was built",
        ));
    }
    Ok(built)
}

/// A batch stopped by Ctrl-C, SIGTERM or `dsar cancel`, while its rows stream or its archives
/// are built: none of its archives is recorded done.
fn batch_cancelled() -> UserError {
    UserError::cancelled("export cancelled; no archive was written for this batch")
}

/// Add index.html (with its pages), README.txt and manifest.json, and close the archive under
/// its temporary name (`persist_all` syncs and renames a batch's archives together).
fn finish_archive(
    mut archive: OpenArchive,
    subject: &Subject,
    request_id: String,
    created_at: &str,
    format: Format,
    sources: &[SourceEntry],
    controller: &crate::config::Controller,
) -> Result<(Exported, Unsynced), UserError> {
    let subject_ids = subject
        .ids
        .iter()
        .map(|(k, v)| SubjectId {
            key: k.clone(),
            value: v.clone(),
        })
        .collect();
    let source_entries = sources.to_vec();
    let mut manifest = Manifest::new(
        request_id.clone(),
        created_at.to_string(),
        format,
        subject_ids,
        source_entries,
    );
    manifest.files = std::mem::take(&mut archive.files);
    let counts: Vec<TableCount> = manifest
        .files
        .iter()
        .map(|f| TableCount {
            source: crate::audit::shared_name(f.source.as_deref().unwrap_or_default()),
            table: crate::audit::shared_name(f.table.as_deref().unwrap_or_default()),
            strategy: None,
            rows: f.rows.unwrap_or(0),
        })
        .collect();

    let facts: Vec<TableFacts> = manifest
        .files
        .iter()
        .zip(&archive.abouts)
        .map(|(file, about)| TableFacts {
            source: file.source.as_deref().unwrap_or_default(),
            title: about.title.as_deref().unwrap_or_else(|| names::stem(&file.path)),
            about,
            rows: file.rows.unwrap_or(0),
            path: &file.path,
        })
        .collect();
    let notice = Notice::new(&notice::Context {
        controller,
        request_id: &request_id,
        created_at,
        sources: &manifest.sources,
        tables: &facts,
    });
    let readme = format!("{}{}", notice.text(), notice::tables_text(&facts));
    drop(facts);
    let mut entries = archive.book.finish(&mut archive.writer, &notice)?;
    archive.writer.start_entry("README.txt")?;
    archive.writer.write(readme.as_bytes())?;
    entries.push(archive.writer.finish_entry()?);
    for entry in entries {
        manifest.files.push(FileEntry {
            path: entry.path,
            source: None,
            table: None,
            rows: None,
            columns: Vec::new(),
            bytes: entry.bytes,
            sha256: entry.sha256,
        });
    }

    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| UserError::runtime(format!("cannot write the manifest: {e}")))?;
    archive.writer.start_entry("manifest.json")?;
    archive.writer.write(&json)?;
    archive.writer.finish_entry()?;
    let unsynced = archive.writer.finish_unsynced()?;
    let exported = Exported {
        failed_sources: Vec::new(),
        request_id,
        // Set once the archive is in place (see `persist_all`).
        archive: String::new(),
        bytes: 0,
        sha256: String::new(),
        counts,
        line: subject.line,
        subject: subject.describe(),
    };
    Ok((exported, unsynced))
}
