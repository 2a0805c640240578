//! The request ledger: one JSON record per request under `<state>/requests/`, so a privacy
//! officer never has to wonder whether a request finished.
//!
//! Records are replaced atomically (temp file, fsync, rename). The process running a request
//! holds an exclusive lock on `<id>.lock` for its whole life (a request of an export, on its
//! run's `run-<id>.lock`, named in the record's `queued_by`): a record that says
//! `running` but whose lock is free belongs to a process that died, and reads as
//! `failed (interrupted)`.
//! The people of an export are recorded together as it starts, one line each, in the run's
//! `run-<id>.queue`, until their own `<id>.json` is written (as their batch starts, for the
//! first batch, else as it ends; a record wins over its line); the file goes once every line
//! has a record.
//! `dsar cancel` drops a `<id>.cancel` file that the running process sees between batches.
//!
//! Each record carries `mac`, an HMAC-SHA256 of the rest under the installation key: `resume`
//! acts on a record (whom to erase, where an archive goes), so one written or edited by hand is
//! reported as damaged and never acted on.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::audit::{AuditLog, Event, Outcome};
use crate::config::Notify;
use crate::error::UserError;
use crate::state::StateDir;

mod shared;
mod spool;

pub use shared::first_record;

/// How often a running request rewrites its record at most.
const WRITE_EVERY: Duration = Duration::from_millis(500);

/// `path`, created owner-only if need be, opened to be locked.
fn open_lock(path: &Path) -> Result<File, UserError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| UserError::runtime(format!("cannot create {}: {e}", path.display())))
}

/// Request locks `resume` took before reading the record ([`Ledger::claim`]), waiting for the
/// run that starts the request to take them over. A lock is per open file, so the run cannot
/// lock the file a second time in the same process.
static CLAIMED: Mutex<Vec<(PathBuf, File)>> = Mutex::new(Vec::new());

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TableProgress {
    pub source: String,
    pub table: String,
    pub done: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub planned: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub request_id: String,
    pub kind: String,
    /// For restore: the delete request it brings back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_request: Option<String>,
    /// For a delete made by `dsar reapply`: the earlier delete whose people it erases again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reapplied_from: Option<String>,
    /// For delete: its people are in the erasure register (an entry written before any row
    /// moved), so a missing entry is a removed file, not an older release.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub registered: bool,
    /// For purge: a dry run, which changed nothing; `resume` runs it again as one.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// queued, running, completed, failed, cancelled; `failed (interrupted)` when read back
    /// from a process that died.
    pub state: String,
    pub operator: String,
    /// The case (`--ticket`) the request belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Keyed hashes, as in the audit log: the ledger never holds a raw identifier.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject: Vec<String>,
    pub started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    pub progress: Vec<TableProgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flagged: Vec<String>,
    /// For delete: the subjects' identifiers age-encrypted to the recovery recipients (hex), so
    /// `dsar resume` can finish the request with a recovery key. Unreadable without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_subjects: Option<String>,
    /// For a request of a run (an export of many people): the run lock (`run-<id>.lock`) of the
    /// process that will run it (`queued`) or runs it (`running`); once that lock is free, the
    /// request was orphaned and reads `failed (interrupted)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_by: Option<String>,
    /// For export: how to make the archive again on resume (public recipients, not secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// One copy for a whole run's requests (a batch of 10,000 held 10,000).
    pub export: Option<Arc<ExportSettings>>,
    /// For delete: the fingerprint of the request's key ([`crate::envelope::DataKey::fingerprint`]):
    /// restore and resume refuse a stored key that does not match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_key: Option<String>,
    /// For delete: what became of it after it ran, so `status` tells the whole story.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub afterwards: Option<Afterwards>,
    pub pid: u32,
    /// HMAC-SHA256 of the record without it, under the installation key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mac: String,
    /// Why the record cannot be trusted (it does not verify, or does not parse), when so.
    #[serde(skip)]
    pub damaged: Option<String>,
}

/// What happened to a finished delete later: brought back by a restore, or made unrecoverable
/// by a purge (its key destroyed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Afterwards {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_at: Option<String>,
    /// The restore run that brought every row back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged_at: Option<String>,
    /// The purge run that destroyed its key: unrecoverable since `purged_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purged_by: Option<String>,
}

/// What an export needs to be made again: its recipients (age public keys), format and directory.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportSettings {
    pub recipients: Vec<String>,
    pub format: String,
    pub out_dir: String,
    /// CSV files start with a byte-order mark (`--no-bom` turns it off).
    #[serde(default = "yes")]
    pub csv_bom: bool,
    /// Identifiers that match several people's rows were exported as one request all the same
    /// (`--allow-multiple`). `resume` checks again that each request is one person unless this
    /// is set: a request refused for naming two people stays in the ledger, and resumed
    /// without the check it merged them into one archive. Left out when false, so records
    /// written before it verify as they did.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_multiple: bool,
}

fn yes() -> bool {
    true
}

impl Request {
    /// A request of this process, running from now.
    pub fn new(request_id: &str, kind: &str, operator: &str, subject: Vec<String>) -> Request {
        Request {
            request_id: request_id.to_string(),
            kind: kind.to_string(),
            target_request: None,
            reapplied_from: None,
            registered: false,
            dry_run: false,
            state: "running".into(),
            operator: operator.to_string(),
            ticket: None,
            reason: None,
            subject,
            started_at: crate::clock::now_rfc3339(),
            ended_at: None,
            progress: Vec::new(),
            eta_seconds: None,
            last_error: None,
            flagged: Vec::new(),
            sealed_subjects: None,
            queued_by: None,
            export: None,
            data_key: None,
            afterwards: None,
            pid: std::process::id(),
            mac: String::new(),
            damaged: None,
        }
    }

    pub fn rows_done(&self) -> u64 {
        self.progress.iter().map(|p| p.done).sum()
    }
}

pub struct Ledger {
    dir: Arc<Path>,
    /// The installation key, which authenticates every record.
    key: Arc<[u8]>,
    /// For requests this process runs: where their end is announced and notify failures logged.
    /// Shared with each request's handle, not copied (a batch of 10,000 held 10,000 copies).
    announce: Announce,
    /// Records are written without an fsync each, made durable (and announced) by
    /// [`Ledger::sync`]: a batch's records at once.
    grouped: Option<Arc<Mutex<Group>>>,
}

/// Where the end of a request this process runs is announced, and notify failures logged.
type Announce = Option<Arc<(AuditLog, Notify)>>;

/// What a grouped ledger wrote since its last sync.
struct Group {
    /// Records written as files of their own, not synced yet (progress of a request running).
    written: Vec<PathBuf>,
    /// Records of requests that ended, sealed, serialized (compact JSON) as its batch's file
    /// will hold them, in files without a name until the next sync gives them their requests'
    /// names ([`spool`], [`shared`]). A later one of a request replaces an earlier one.
    ended: spool::Spool,
    /// The locks of those requests that had one of their own (an export of one person), let
    /// go once their records are durable: until then the record on disk says `running`, and a
    /// free lock would make it read `failed (interrupted)`, for `resume` to take.
    held: Vec<File>,
    /// Finished requests, announced once their records are durable.
    finished: Vec<Request>,
}

impl Group {
    fn new(dir: Arc<Path>) -> Group {
        Group {
            written: Vec::new(),
            ended: spool::Spool::new(dir),
            held: Vec::new(),
            finished: Vec::new(),
        }
    }
}

impl Ledger {
    pub fn open(state: &StateDir) -> Result<Ledger, UserError> {
        Ok(Ledger {
            dir: state.subdir("requests")?.into(),
            key: state.installation_key()?.into(),
            announce: None,
            grouped: None,
        })
    }

    /// The ledger of `state`, if it has one: nothing is created (`audit verify` of a copy of the
    /// log alone).
    pub fn open_existing(state: &StateDir) -> Result<Option<Ledger>, UserError> {
        if !state.root.join("requests").is_dir() {
            return Ok(None);
        }
        Ledger::open(state).map(Some)
    }

    /// The ledger for running requests: their end goes to `[notify]`, failures to the audit log.
    pub fn for_runs(audit: &AuditLog, notify: &Notify) -> Result<Ledger, UserError> {
        let mut ledger = Ledger::open(audit.state())?;
        ledger.announce = Some(Arc::new((audit.clone(), notify.clone())));
        Ok(ledger)
    }

    /// Write the records of requests started from here as a group: the caller makes a batch
    /// of them durable at once with [`Ledger::sync`], which also sends their `[notify]`
    /// announcements (never before the record is durable). The records of requests that ended
    /// are written as they end into files without a name ([`spool`]), and get their names at
    /// that sync (a batch's in files of up to [`shared::PER_FILE`]); a progress record is written at
    /// once, without an fsync (a power loss can leave it as it was before, or empty:
    /// `damaged`, never half-written). A ledger dropped before its sync writes what waits,
    /// without announcing it.
    pub fn grouped(mut self) -> Ledger {
        self.grouped = Some(Arc::new(Mutex::new(Group::new(self.dir.clone()))));
        self
    }

    /// Make every record written since the last sync durable, then announce the requests that
    /// finished: the records of requests that ended are given their names now, a batch's files
    /// ([`shared`]) with one fsync each; progress records written meanwhile, one fsync each, several
    /// at a time ([`crate::fsync::each`]); then one fsync of the folder.
    pub fn sync(&self) -> Result<(), UserError> {
        let Some(group) = &self.grouped else { return Ok(()) };
        let Group {
            mut written,
            ended,
            held,
            finished,
        } = std::mem::replace(
            &mut *group.lock().unwrap_or_else(|e| e.into_inner()),
            Group::new(self.dir.clone()),
        );
        let ended = self.write_ended(ended)?;
        // A progress record since replaced by its request's end is synced with the end.
        written.retain(|path| !ended.contains(path));
        written.sort();
        written.dedup();
        let fail = |path: &Path, e: std::io::Error| UserError::runtime(format!("cannot sync {}: {e}", path.display()));
        crate::fsync::each(&written, |path| File::open(path).and_then(|f| f.sync_all()))
            .map_err(|(i, e)| fail(&written[i], e))?;
        self.sync_folder()?;
        drop(held);
        for request in &finished {
            announce(&self.announce, request);
        }
        Ok(())
    }

    /// Write the records of requests that ended (sealed already), fsynced but their names not
    /// yet: one alone as a file of its own, as every record outside a batch is; several as one
    /// file under each of their names. Returns their paths.
    fn write_ended(&self, ended: spool::Spool) -> Result<Vec<PathBuf>, UserError> {
        // The last record of each request (one that ended twice: the second end).
        let ids = ended.write_all(|id, line| {
            // A record alone is written as every record outside a batch is: pretty (the same
            // bytes as the struct's: the JSON keeps its keys' order and numbers).
            let path = self.record_path(id);
            let json = serde_json::from_slice::<serde_json::Value>(line)
                .and_then(|v| serde_json::to_vec_pretty(&v))
                .map_err(|e| UserError::runtime(format!("cannot write {}: {e}", path.display())))?;
            crate::state::write_atomically(&path, &json)
        })?;
        Ok(ids.iter().map(|id| self.record_path(id)).collect())
    }

    /// Note a record written without an fsync, in grouped mode.
    fn wrote(group: &Option<Arc<Mutex<Group>>>, path: &Path) {
        if let Some(group) = group {
            group
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .written
                .push(path.to_path_buf());
        }
    }

    fn record_path(&self, id: &str) -> PathBuf {
        record_path(&self.dir, id)
    }

    /// fsync the ledger's folder: the names of the files written in it are durable after.
    fn sync_folder(&self) -> Result<(), UserError> {
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| UserError::runtime(format!("cannot sync {}: {e}", self.dir.display())))
    }

    /// Record a request as running and hold its lock until the returned handle is finished or dropped.
    pub fn start(
        &self,
        request_id: &str,
        kind: &str,
        operator: &str,
        reason: Option<String>,
        subject: Vec<String>,
    ) -> Result<Running, UserError> {
        self.start_with(None, request_id, kind, operator, reason, subject, |_| {})
    }

    /// [`Ledger::start`], with `prepare` filling in the rest of the record before its first
    /// write (one write per request, not one per field). With `run` (a lock from
    /// [`Ledger::hold_run`] that this process holds), the request runs under the run's lock
    /// instead of one of its own: an export of 10,000 people makes one lock file, not 10,000
    /// (each a file created, a cost the file system charges more the more it has just deleted).
    #[allow(clippy::too_many_arguments)]
    pub fn start_with(
        &self,
        run: Option<&str>,
        request_id: &str,
        kind: &str,
        operator: &str,
        reason: Option<String>,
        subject: Vec<String>,
        prepare: impl FnOnce(&mut Request),
    ) -> Result<Running, UserError> {
        let lock = match run {
            Some(_) => None,
            None => Some(self.hold(request_id)?),
        };
        let mut request = Request::new(request_id, kind, operator, subject);
        request.queued_by = run.map(str::to_string);
        self.begin(lock, request, reason, prepare, true)
    }

    /// Run a request that this process queued under its run `run` ([`Ledger::queue`]) without
    /// writing a record yet: it reads `queued` (from the run's queue) until it ends (its run's
    /// lock tells that it is alive, and, once free, that it was interrupted, as a `running`
    /// record under the run would), and its end writes its record. A batch export of many
    /// people then writes one record per person, and replaces none: on a file system that
    /// discards freed blocks, each record replaced costs a synchronous discard of the old one.
    pub fn run_queued(
        &self,
        run: &str,
        request_id: &str,
        kind: &str,
        operator: &str,
        subject: Vec<String>,
        prepare: impl FnOnce(&mut Request),
    ) -> Result<Running, UserError> {
        let mut request = Request::new(request_id, kind, operator, subject);
        request.queued_by = Some(run.to_string());
        self.begin(None, request, None, prepare, false)
    }

    /// Write `request` as running, holding `lock` (`None`: its run's) until it ends.
    fn begin(
        &self,
        lock: Option<File>,
        mut request: Request,
        reason: Option<String>,
        prepare: impl FnOnce(&mut Request),
        write: bool,
    ) -> Result<Running, UserError> {
        let case = self.announce.as_deref().map(|(audit, _)| audit);
        request.reason = reason.or_else(|| case.and_then(|a| a.reason()).map(str::to_string));
        request.ticket = case.and_then(|a| a.ticket()).map(str::to_string);
        prepare(&mut request);
        let mut running = Running {
            dir: self.dir.clone(),
            request,
            _lock: lock,
            started: Instant::now(),
            last_write: None,
            announce: self.announce.clone(),
            key: self.key.clone(),
            grouped: self.grouped.clone(),
        };
        if write {
            running.write()?;
        } else {
            running.last_write = Some(Instant::now());
        }
        Ok(running)
    }

    /// One request, with a dead process's `running` read as `failed (interrupted)`. A record
    /// that does not parse or verify comes back with `damaged` set, never as an error, so one
    /// bad file does not stop `jobs`; whatever acts on a record checks `damaged` first.
    pub fn get(&self, id: &str) -> Result<Option<Request>, UserError> {
        if let Some(request) = self.get_record(id)? {
            return Ok(Some(request));
        }
        if let Some(request) = self.get_queued(id)? {
            return Ok(Some(request));
        }
        // Its batch may have ended between the two reads (its record written, the queue gone).
        self.get_record(id)
    }

    /// Request `id` from its own record, `<id>.json` (which may be its batch's file).
    fn get_record(&self, id: &str) -> Result<Option<Request>, UserError> {
        let path = self.record_path(id);
        match fs::read(&path) {
            Ok(text) => Ok(Some(self.read_record_file(id, &text))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(UserError::runtime(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Request `id` as its record file `text` says: the whole file, or its line of its batch's.
    fn read_record_file(&self, id: &str, text: &[u8]) -> Request {
        self.read_record_in(id, shared::record_text(id, text))
    }

    /// Request `id` from its record (`None`: a batch's file without a line of its own).
    fn read_record_in(&self, id: &str, record: Option<&[u8]>) -> Request {
        match record {
            Some(record) => self.read_record(id, record),
            None => damaged(id, "its file is a batch's records and none is its own".into()),
        }
    }

    /// Request `id` from the line a run's queue keeps of it, if any queue has one.
    fn get_queued(&self, id: &str) -> Result<Option<Request>, UserError> {
        let start = shared::line_start(id);
        for queue in self.open_queues(&self.names()?)? {
            let mut found = None;
            queue.each_line(|line| {
                if line.starts_with(&start) {
                    found = Some(self.read_record(id, line.as_bytes()));
                }
                found.is_none()
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// The names of the ledger's files.
    fn names(&self) -> Result<Vec<String>, UserError> {
        let entries = fs::read_dir(&self.dir)
            .map_err(|e| UserError::runtime(format!("cannot list {}: {e}", self.dir.display())))?;
        Ok(entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect())
    }

    /// The queues (`run-<id>.queue`) among `names`, opened: a queue removed once they are open
    /// (its run ended) still reads whole.
    fn open_queues(&self, names: &[String]) -> Result<Vec<Queue>, UserError> {
        let mut queues = Vec::new();
        for name in names {
            if let Some(run) = name.strip_suffix(QUEUE_SUFFIX)
                && run.starts_with("run-")
                && let Some(queue) = Queue::open(self.dir.join(name), run)?
            {
                queues.push(queue);
            }
        }
        Ok(queues)
    }

    /// Request `id` as its record (or queue line) `text` says, checked: see [`Ledger::get`].
    fn read_record(&self, id: &str, text: &[u8]) -> Request {
        let mut request: Request = match serde_json::from_slice(text) {
            Ok(request) => request,
            Err(e) => return damaged(id, format!("it is not a ledger record ({e})")),
        };
        if request.mac.is_empty() {
            request.damaged = Some("it carries no authentication: written by hand, or by dsar 0.1".into());
        } else if record_mac(&self.key, &mut request) != request.mac || request.request_id != id {
            request.damaged = Some("it does not verify: it was edited or written without the key".into());
        }
        let orphaned = match request.state.as_str() {
            "running" => !self.is_alive(request.queued_by.as_deref().unwrap_or(id)),
            "queued" => request.queued_by.as_deref().is_none_or(|run| !self.is_alive(run)),
            _ => false,
        };
        if orphaned {
            request.state = "failed (interrupted)".into();
            // A dead process finishes nothing: its last estimate is no estimate.
            request.eta_seconds = None;
        }
        request
    }

    /// Note on a finished request what became of it later (restored, purged). A request this
    /// state dir has no record of (made with another one) is left alone: `Ok(false)`.
    pub fn note_afterwards(&self, id: &str, note: impl FnOnce(&mut Afterwards)) -> Result<bool, UserError> {
        let path = self.record_path(id);
        let text = match fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(UserError::runtime(format!("cannot read {}: {e}", path.display()))),
        };
        let Some(Ok(mut request)) = shared::record_text(id, &text).map(serde_json::from_slice::<Request>) else {
            return Ok(false);
        };
        // Resealing a record that does not verify, or another request's record put under this
        // name, would make it trusted: leave it as it is.
        if request.mac.is_empty() || record_mac(&self.key, &mut request) != request.mac || request.request_id != id {
            return Ok(false);
        }
        note(request.afterwards.get_or_insert_with(Afterwards::default));
        write_record(&path, &mut request, &self.key, true)?;
        Ok(true)
    }

    /// Hold the lock of a whole run (an export of many subjects, say) while the returned file
    /// lives: the requests it queued read `queued` until then, and those it runs under it
    /// (`start_with`) `running`; all of them `failed (interrupted)` after.
    pub fn hold_run(&self, run_id: &str) -> Result<(File, String), UserError> {
        let name = format!("run-{run_id}");
        Ok((self.hold(&name)?, name))
    }

    /// Lock request `id` for this process without waiting, before `resume` reads its record
    /// the second time: two `dsar resume` of one request started together would otherwise both
    /// pass the state check and run it one after the other (a second archive, a second
    /// erasure run). The run that starts the request takes the lock over.
    pub fn claim(&self, id: &str) -> Result<(), UserError> {
        let path = self.dir.join(format!("{id}.lock"));
        let lock = open_lock(&path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(UserError::usage(format!(
                    "request {id} is being run by another dsar process; nothing was resumed"
                ))
                .with_hint("`dsar status ID` shows how it ends"));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(UserError::runtime(format!("cannot lock {}: {e}", path.display())));
            }
        }
        CLAIMED.lock().unwrap_or_else(|e| e.into_inner()).push((path, lock));
        Ok(())
    }

    /// Create `<name>.lock` if need be and lock it (waiting while another process holds it),
    /// or take over the lock [`Ledger::claim`] took.
    fn hold(&self, name: &str) -> Result<File, UserError> {
        let path = self.dir.join(format!("{name}.lock"));
        {
            let mut claimed = CLAIMED.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = claimed.iter().position(|(p, _)| *p == path) {
                return Ok(claimed.swap_remove(i).1);
            }
        }
        let lock = open_lock(&path)?;
        lock.lock()
            .map_err(|e| UserError::runtime(format!("cannot lock {}: {e}", path.display())))?;
        Ok(lock)
    }

    /// Record the requests this process will run later, as `queued` under its run lock `run`
    /// ([`Ledger::hold_run`]): one line each in the run's queue, one file for the whole run.
    /// With a file each, the record of every queued person would be replaced when their batch
    /// ends, and each file replaced frees an inode that ext4 (without a journal) steps over,
    /// for a minute or more, on every file it creates next: a run of 10,000 people wrote 20,000
    /// files and freed 10,000. Synced before the run logs its people as requested (each
    /// `export.requested` of a queued person names the run, `queued_by`): the ledger knows every
    /// person the log names, so a queue that goes missing later (removed, truncated) is caught
    /// by `dsar audit verify` ([`Ledger::lost`]) rather than its people vanishing from `jobs`.
    pub fn queue(
        &self,
        run: &str,
        requests: impl Iterator<Item = Result<Request, UserError>>,
    ) -> Result<(), UserError> {
        let path = self.queue_path(run);
        let mut failed = None;
        let written = crate::state::write_atomically_with(&path, |out| {
            for request in requests {
                let mut request = match request {
                    Ok(request) => request,
                    Err(e) => {
                        failed = Some(e);
                        return Err(std::io::Error::other("a queued request could not be made"));
                    }
                };
                request.state = "queued".into();
                request.queued_by = Some(run.to_string());
                request.mac = record_mac(&self.key, &mut request);
                serde_json::to_writer(&mut *out, &request)?;
                out.write_all(b"\n")?;
            }
            Ok(())
        });
        if let Some(e) = failed {
            return Err(e);
        }
        written?;
        self.sync_folder()
    }

    /// Of `ids` (requests the audit log names as queued by a batch run), those the ledger does
    /// not hold as a record or queue line that verifies: gone (a queue removed or cut, a record
    /// deleted), or replaced by something written without the key (`jobs` shows it damaged).
    pub fn lost<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, UserError> {
        let mut held = std::collections::HashSet::new();
        self.each(|request| {
            if request.damaged.is_none() {
                held.insert(request.request_id);
            }
        })?;
        Ok(ids
            .into_iter()
            .filter(|id| !held.contains(*id))
            .map(str::to_string)
            .collect())
    }

    /// Record request `request` (made from the log's `export.requested` of a request the
    /// ledger lost, see [`Ledger::lost`]) as failed with `why`, synced, so that `jobs` shows it
    /// again and `audit verify` holds it. Refused where something is at its record's name (a
    /// record that does not verify is evidence: move it aside first).
    pub fn record_lost(&self, mut request: Request, why: &str) -> Result<(), UserError> {
        let path = self.record_path(&request.request_id);
        if fs::symlink_metadata(&path).is_ok() {
            return Err(UserError::runtime(format!(
                "{} exists but does not verify; it was left as it is",
                path.display()
            ))
            .with_hint("move it aside (keep it: it may be evidence), then run this again"));
        }
        request.state = "failed".into();
        request.ended_at = Some(crate::clock::now_rfc3339());
        request.last_error = Some(why.to_string());
        write_record(&path, &mut request, &self.key, true)?;
        self.sync_folder()
    }

    /// Once run `run` has ended (or the last of a dead run's queue was resumed), remove its
    /// queue if every request in it has a record of its own (else the queue keeps showing those
    /// without one: interrupted, for `dsar resume`). Call it once those records are synced:
    /// the queue must not go first. What it cannot do is a warning: the requests are recorded
    /// either way, and a queue left behind is removed by the next run ([`Ledger::sweep_queues`]).
    pub fn end_run(&self, run: &str) {
        let path = self.queue_path(run);
        if let Err(e) = Queue::open(path.clone(), run).and_then(|queue| match queue {
            Some(queue) => self.remove_if_recorded(queue),
            None => Ok(()),
        }) {
            eprintln!("warning: the run's queue {} stays: {}", path.display(), e.message);
        }
    }

    /// Remove the queues of runs that are over (their lock free) whose every line has a record:
    /// left behind by a run killed between its last records and [`Ledger::end_run`], or by a
    /// resume that failed. A queue whose run is alive is left alone whatever it holds. Also
    /// remove the hidden names a batch's records file kept when its process died before
    /// dropping them ([`shared::is_stale_temp`]).
    pub fn sweep_queues(&self) {
        let Ok(names) = self.names() else { return };
        for name in &names {
            let path = self.dir.join(name);
            if shared::is_stale_temp(name, &path) {
                let _ = fs::remove_file(&path);
            }
        }
        let Ok(queues) = self.open_queues(&names) else {
            return;
        };
        for queue in queues {
            if !self.is_alive(&queue.run) {
                let _ = self.remove_if_recorded(queue);
            }
        }
    }

    fn remove_if_recorded(&self, queue: Queue) -> Result<(), UserError> {
        let mut all_recorded = true;
        queue.each_line(|line| {
            all_recorded =
                serde_json::from_str::<QueuedId>(line).is_ok_and(|q| self.record_path(&q.request_id).exists());
            all_recorded
        })?;
        if all_recorded {
            match fs::remove_file(&queue.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(UserError::runtime(format!(
                        "cannot remove {}: {e}",
                        queue.path.display()
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn queue_path(&self, run: &str) -> PathBuf {
        self.dir.join(format!("{run}{QUEUE_SUFFIX}"))
    }

    /// Whether a live process holds the lock named `id` (a request's, or a run's).
    fn is_alive(&self, id: &str) -> bool {
        let path = self.dir.join(format!("{id}.lock"));
        // Claimed by this process's `resume`, which has not started it yet.
        if CLAIMED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .any(|(p, _)| *p == path)
        {
            return false;
        }
        let Ok(file) = File::open(&path) else {
            return false;
        };
        // A shared lock to look: a live process holds its lock exclusively, and two processes
        // looking at once do not take each other for it (an exclusive look did: of 4,200
        // resumes of a dead run's people run two at a time, 6 were refused as "still going").
        match file.try_lock_shared() {
            Ok(()) => false,
            Err(_) => true,
        }
    }

    /// Every request, newest first.
    pub fn list(&self) -> Result<Vec<Request>, UserError> {
        let mut out = Vec::new();
        self.each(|r| out.push(r))?;
        out.sort_by(|a, b| b.started_at.cmp(&a.started_at).then(b.request_id.cmp(&a.request_id)));
        Ok(out)
    }

    /// Every request handed to `each` as it is read, in no order: a check over all of them
    /// keeps only what it needs (the 10,000 records of a batch export held at once were 5 MiB
    /// of a batch delete's peak).
    pub fn each(&self, mut each: impl FnMut(Request)) -> Result<(), UserError> {
        // One listing of the folder; its queues opened before any record is read: a run that
        // ends meanwhile (its queue removed) still has its lines read, and a line whose record
        // appeared meanwhile reads its record.
        let names = self.names()?;
        let queues = self.open_queues(&names)?;
        let mut recorded = std::collections::HashSet::new();
        // A batch's file, read once for all its names: (device, inode) -> text and lines.
        let mut batches = HashMap::new();
        for name in &names {
            let Some(id) = name.strip_suffix(".json").filter(|_| !name.starts_with('.')) else {
                continue;
            };
            let record = match self.batch_file_of(id, &mut batches)? {
                Some(record) => Some(record),
                None => self.get_record(id)?,
            };
            if let Some(r) = record {
                recorded.insert(id.to_string());
                each(r);
            }
        }
        for queue in queues {
            let mut failed = None;
            queue.each_line(|line| {
                let id = match serde_json::from_str::<QueuedId>(line) {
                    Ok(q) => q.request_id,
                    // Shown as damaged, under a name of its own (a line has no file name).
                    Err(_) => format!("(a line of {})", queue.path.display()),
                };
                if recorded.insert(id.clone()) {
                    match self.get_record(&id) {
                        Ok(Some(record)) => each(record),
                        Ok(None) => each(self.read_record(&id, line.as_bytes())),
                        Err(e) => failed = Some(e),
                    }
                }
                failed.is_none()
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The batch's file that `<id>.json` is a name of, read once per file into `batches` (with
    /// where each request's line is, and how many of its names are left to read, so it goes
    /// once they are); `None` when it is a file of its own (or gone). The file is read from the
    /// descriptor it was identified by: a rename meanwhile cannot put another file's text
    /// under its identity.
    fn batch_file_of(
        &self,
        id: &str,
        batches: &mut HashMap<(u64, u64), BatchFile>,
    ) -> Result<Option<Request>, UserError> {
        use std::io::Read;
        use std::os::unix::fs::MetadataExt;
        let path = self.record_path(id);
        let failed = |e: std::io::Error| UserError::runtime(format!("cannot read {}: {e}", path.display()));
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(failed(e)),
        };
        let meta = file.metadata().map_err(failed)?;
        if meta.nlink() < 2 {
            return Ok(None);
        }
        let key = (meta.dev(), meta.ino());
        let batch = match batches.entry(key) {
            std::collections::hash_map::Entry::Occupied(batch) => batch.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let mut text = Vec::new();
                file.read_to_end(&mut text).map_err(failed)?;
                if !shared::is_shared(&text) {
                    return Ok(Some(self.read_record(id, &text)));
                }
                let lines = shared::index(&text);
                slot.insert(BatchFile {
                    text,
                    lines,
                    names_left: meta.nlink(),
                })
            }
        };
        let record = self.read_record_in(id, batch.lines.get(id).map(|line| &batch.text[line.clone()]));
        batch.names_left = batch.names_left.saturating_sub(1);
        if batch.names_left == 0 {
            batches.remove(&key);
        }
        Ok(Some(record))
    }

    /// Ask a running request to stop after its current batch.
    pub fn request_cancel(&self, id: &str) -> Result<Request, UserError> {
        let request = self.get(id)?.ok_or_else(|| {
            UserError::usage(format!("no request `{id}` in the ledger")).with_hint("`dsar jobs` lists them")
        })?;
        if request.state != "running" {
            return Err(UserError::usage(format!(
                "request {id} is not running (it is {})",
                request.state
            )));
        }
        let path = self.dir.join(format!("{id}.cancel"));
        fs::write(&path, b"cancel\n")
            .map_err(|e| UserError::runtime(format!("cannot write {}: {e}", path.display())))?;
        Ok(request)
    }
}

impl Drop for Ledger {
    /// Records of requests that ended (failed, say) and were not synced: written, so they do not
    /// read `failed (interrupted)` for want of a sync that an error skipped.
    fn drop(&mut self) {
        let Some(group) = &self.grouped else { return };
        let (ended, held) = {
            let mut group = group.lock().unwrap_or_else(|e| e.into_inner());
            (
                std::mem::replace(&mut group.ended, spool::Spool::new(self.dir.clone())),
                std::mem::take(&mut group.held),
            )
        };
        if !ended.is_empty() && self.write_ended(ended).is_ok() {
            let _ = self.sync_folder();
        }
        drop(held);
    }
}

/// A batch's record file as [`Ledger::list`] reads it: its text, where each request's line
/// is, and how many of its names are still to be read.
struct BatchFile {
    text: Vec<u8>,
    lines: HashMap<String, std::ops::Range<usize>>,
    names_left: u64,
}

/// A run's queue file: `run-<id>.queue`.
pub(crate) const QUEUE_SUFFIX: &str = ".queue";

/// A run's queue, open, read a line at a time (a run of a million people queues hundreds of MB).
struct Queue {
    path: PathBuf,
    /// The run's lock name (`run-<id>`).
    run: String,
    file: File,
}

impl Queue {
    /// `None` when there is no such queue (any more).
    fn open(path: PathBuf, run: &str) -> Result<Option<Queue>, UserError> {
        match File::open(&path) {
            Ok(file) => Ok(Some(Queue {
                path,
                run: run.to_string(),
                file,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(UserError::runtime(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Hand each line to `each` until it returns false. Bytes that are not UTF-8 are replaced,
    /// so the line they are in reads as damaged, not the whole queue.
    fn each_line(&self, mut each: impl FnMut(&str) -> bool) -> Result<(), UserError> {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::with_capacity(64 * 1024, &self.file);
        let mut bytes = Vec::new();
        loop {
            bytes.clear();
            let n = reader
                .read_until(b'\n', &mut bytes)
                .map_err(|e| UserError::runtime(format!("cannot read {}: {e}", self.path.display())))?;
            if n == 0 {
                return Ok(());
            }
            let line = String::from_utf8_lossy(&bytes);
            let line = line.trim_end_matches('\n');
            if !line.is_empty() && !each(line) {
                return Ok(());
            }
        }
    }
}

/// What stands for request `id` when its record cannot be read: `damaged`, saying why.
fn damaged(id: &str, why: String) -> Request {
    let mut placeholder = Request::new(id, "?", "?", Vec::new());
    placeholder.state = "damaged".into();
    placeholder.pid = 0;
    placeholder.damaged = Some(why);
    placeholder
}

/// The one field of a queue line [`Ledger::list`] and [`Ledger::end_run`] need first.
#[derive(Deserialize)]
struct QueuedId {
    request_id: String,
}

/// A request this process is running.
pub struct Running {
    /// The ledger's folder: the record and the cancel file are named from it and the request
    /// id when needed (two paths a request, for every person of a batch, were kept before).
    dir: Arc<Path>,
    pub request: Request,
    /// The request's own lock; `None` for a request of a run, whose lock the process holds.
    _lock: Option<File>,
    started: Instant,
    last_write: Option<Instant>,
    announce: Announce,
    key: Arc<[u8]>,
    grouped: Option<Arc<Mutex<Group>>>,
}

impl Running {
    /// Set a table's progress; the record is rewritten at most every half second.
    pub fn progress(&mut self, source: &str, table: &str, done: u64, planned: Option<u64>) {
        self.set_progress(source, table, done, planned);
        if self.last_write.is_none_or(|t| t.elapsed() >= WRITE_EVERY) {
            // Progress is advisory: a failed write must not stop the erasure itself.
            let _ = self.write();
        }
    }

    /// Set a table's progress without writing the record (the write that ends the request
    /// follows).
    pub fn set_progress(&mut self, source: &str, table: &str, done: u64, planned: Option<u64>) {
        match self
            .request
            .progress
            .iter_mut()
            .find(|p| p.source == source && p.table == table)
        {
            Some(p) => {
                p.done = done;
                if planned.is_some() {
                    p.planned = planned;
                }
            }
            None => self.request.progress.push(TableProgress {
                source: source.into(),
                table: table.into(),
                done,
                planned,
            }),
        }
        self.request.eta_seconds = self.eta();
    }

    /// Seconds left at the rate so far, when every table has a planned count.
    fn eta(&self) -> Option<u64> {
        let planned: Option<u64> = self.request.progress.iter().map(|p| p.planned).sum();
        let planned = planned?;
        let done = self.request.rows_done();
        if done == 0 || planned <= done {
            return None;
        }
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        Some(((planned - done) as f64 / rate).ceil() as u64)
    }

    /// For restore: the delete request it brings back, recorded before any row moves.
    pub fn set_target_request(&mut self, request_id: &str) -> Result<(), UserError> {
        self.request.target_request = Some(request_id.to_string());
        self.write()
    }

    /// Whether the operator asked to stop: Ctrl-C/SIGTERM here, or `dsar cancel` elsewhere.
    pub fn cancel_requested(&self) -> bool {
        crate::interrupt::requested() || self.cancel_path().exists()
    }

    fn cancel_path(&self) -> PathBuf {
        self.dir.join(format!("{}.cancel", self.request.request_id))
    }

    /// Whether the outcome is recorded already.
    pub fn is_finished(&self) -> bool {
        self.request.state != "running"
    }

    /// Record the outcome; the lock is released when `self` is dropped.
    pub fn finish(&mut self, state: &str, error: Option<String>, flagged: Vec<String>) -> Result<Request, UserError> {
        self.request.state = state.to_string();
        self.request.ended_at = Some(crate::clock::now_rfc3339());
        self.request.last_error = error;
        self.request.flagged = flagged;
        self.request.eta_seconds = None;
        self.write()?;
        let _ = fs::remove_file(self.cancel_path());
        self.announce();
        Ok(self.request.clone())
    }

    /// Send the finished record to `[notify]`, or, grouped, leave it for `Ledger::sync` to send.
    fn announce(&self) {
        match &self.grouped {
            // Nothing to tell (no `[notify]` command or webhook): no copy of the record is kept
            // for it (a batch of 10,000 people kept 16 MB of them until its sync).
            Some(_) if !has_listener(&self.announce) => {}
            // Grouped: announced by `Ledger::sync`, once the record is durable.
            Some(group) => group
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .finished
                .push(self.request.clone()),
            None => announce(&self.announce, &self.request),
        }
    }

    fn write(&mut self) -> Result<(), UserError> {
        self.last_write = Some(Instant::now());
        if let Some(group) = &self.grouped
            && self.request.state != "running"
        {
            // Ended, in a group: written with the rest of its batch at the next sync, which
            // lets go of its lock then.
            self.request.mac = record_mac(&self.key, &mut self.request);
            let line = serde_json::to_vec(&self.request)
                .map_err(|e| UserError::runtime(format!("cannot write a ledger record: {e}")))?;
            let mut group = group.lock().unwrap_or_else(|e| e.into_inner());
            group.ended.push(self.request.request_id.clone(), line);
            group.held.extend(self._lock.take());
            return Ok(());
        }
        let path = record_path(&self.dir, &self.request.request_id);
        write_record(&path, &mut self.request, &self.key, self.grouped.is_none())?;
        Ledger::wrote(&self.grouped, &path);
        Ok(())
    }
}

/// Where request `id`'s record is in the ledger's folder `dir`.
fn record_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.json"))
}

/// Whether `[notify]` has anywhere to send a finished record.
fn has_listener(to: &Announce) -> bool {
    to.as_deref()
        .is_some_and(|(_, notify)| notify.command.is_some() || notify.webhook.is_some())
}

/// Send a finished record to `[notify]`; report and audit-log what fails, never fail.
fn announce(to: &Announce, request: &Request) {
    let Some((audit, notify)) = to.as_deref() else { return };
    if !has_listener(to) {
        return;
    }
    let summary = serde_json::to_string(request).unwrap_or_default();
    for failure in crate::notify::send(notify, &summary) {
        eprintln!("warning: {failure}");
        let _ = audit.append(&Event {
            action: "notify.failed".into(),
            request_id: Some(request.request_id.clone()),
            outcome: Outcome::Error,
            error: Some(failure),
            ..Default::default()
        });
    }
}

/// The record's MAC: an HMAC-SHA256 of its JSON without `mac`, under the installation key.
/// `mac` is taken out while the rest is serialized, then put back (a batch export writes three
/// records per person: no copy of each).
fn record_mac(key: &[u8], request: &mut Request) -> String {
    let mac = std::mem::take(&mut request.mac);
    let json = serde_json::to_vec(&*request).unwrap_or_default();
    request.mac = mac;
    crate::state::keyed_hex(key, &[b"dsar ledger record\0", &json])
}

/// Seal and replace a record atomically: a temp file (0600), fsync, rename.
fn write_record(path: &Path, request: &mut Request, key: &[u8], sync: bool) -> Result<(), UserError> {
    request.mac = record_mac(key, request);
    let json = serde_json::to_vec_pretty(request)
        .map_err(|e| UserError::runtime(format!("cannot write {}: {e}", path.display())))?;
    if sync {
        crate::state::write_atomically(path, &json)
    } else {
        crate::state::write_unsynced(path, &json)
    }
}

impl Drop for Running {
    /// A request that ends without `finish` (an error returned early) is recorded as failed; a
    /// process killed outright is caught by its free lock instead.
    fn drop(&mut self) {
        if self.request.state == "running" {
            self.request.state = "failed".into();
            self.request.ended_at = Some(crate::clock::now_rfc3339());
            self.request
                .last_error
                .get_or_insert_with(|| "stopped before it finished; see the error it printed".into());
            let _ = self.write();
            self.announce();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_being_looked_at_by_another_process_is_not_a_live_run() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let ledger = Ledger::open(&state).unwrap();
        let path = dir.path().join("requests/run-x.lock");
        std::fs::write(&path, b"").unwrap();
        assert!(!ledger.is_alive("run-x"), "nobody holds it");
        // Another process looking at the same time (its look holds a shared lock a moment).
        let looking = File::open(&path).unwrap();
        looking.try_lock_shared().unwrap();
        assert!(!ledger.is_alive("run-x"), "a look is not a live run");
        drop(looking);
        // A live run holds it exclusively.
        let held = ledger.hold("run-x").unwrap();
        assert!(ledger.is_alive("run-x"));
        drop(held);
        assert!(!ledger.is_alive("run-x"));
    }

    #[test]
    fn a_running_request_stays_running_while_its_lock_is_held_and_fails_when_dropped_unfinished() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let ledger = Ledger::open(&state).unwrap();
        let mut running = ledger.start("r1", "delete", "anna", None, vec![]).unwrap();
        running.progress("app", "public.t", 5, Some(10));
        assert_eq!(ledger.get("r1").unwrap().unwrap().state, "running");
        drop(running);
        let record = ledger.get("r1").unwrap().unwrap();
        assert_eq!(record.state, "failed");
        assert_eq!(record.progress[0].done, 5);
    }

    #[test]
    fn finished_requests_keep_their_outcome_and_list_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let ledger = Ledger::open(&state).unwrap();
        let mut a = ledger
            .start("20260101-000000-aaaaaaaa", "export", "anna", None, vec![])
            .unwrap();
        a.finish("completed", None, vec![]).unwrap();
        let mut b = ledger
            .start("20260102-000000-bbbbbbbb", "delete", "anna", None, vec![])
            .unwrap();
        b.finish("cancelled", None, vec![]).unwrap();
        let all = ledger.list().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all.iter().map(|r| r.state.as_str()).collect::<Vec<_>>().len(), 2);
        assert!(
            ledger.request_cancel("20260101-000000-aaaaaaaa").is_err(),
            "not running"
        );
    }

    /// A run's queued people are lines of one file: each reads `queued` while the run lives,
    /// its own record wins once written, an edited line reads damaged (never trusted), the
    /// others read interrupted once the run is gone, and the queue goes only once every line
    /// has a record.
    #[test]
    fn a_run_queues_its_people_in_one_file_until_each_has_a_record() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let ledger = Ledger::open(&state).unwrap();
        let (lock, run) = ledger.hold_run("q0").unwrap();
        let ids = ["q1", "q2", "q3"];
        let requests = ids
            .iter()
            .map(|id| Ok(Request::new(id, "export", "anna", vec![format!("key:{id}")])));
        ledger.queue(&run, requests).unwrap();
        let files = |ledger: &Ledger| -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(&ledger.dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names
        };
        assert_eq!(
            files(&ledger),
            ["run-q0.lock", "run-q0.queue"],
            "one file for the queue"
        );
        for id in ids {
            let queued = ledger.get(id).unwrap().unwrap();
            assert_eq!(
                (queued.state.as_str(), queued.damaged.as_deref()),
                ("queued", None),
                "{id}"
            );
            assert_eq!(queued.subject, [format!("key:{id}")]);
        }
        assert!(ledger.get("q4").unwrap().is_none());

        let mut one = ledger.run_queued(&run, "q1", "export", "anna", vec![], |_| {}).unwrap();
        assert_eq!(ledger.get("q1").unwrap().unwrap().state, "queued", "not written again");
        one.finish("completed", None, vec![]).unwrap();
        assert_eq!(ledger.get("q1").unwrap().unwrap().state, "completed", "its record wins");
        ledger.end_run(&run);
        assert!(
            files(&ledger).contains(&"run-q0.queue".to_string()),
            "q2 and q3 have no record"
        );

        // An edited line is damaged: it names whom to export, so `resume` must not act on it.
        let queue = dir.path().join("requests/run-q0.queue");
        let text = fs::read_to_string(&queue).unwrap();
        fs::write(&queue, text.replace("key:q2", "key:qX")).unwrap();
        assert!(ledger.get("q2").unwrap().unwrap().damaged.is_some());

        drop(lock);
        wait_released(&ledger, "run-q0");
        let mut all: Vec<(String, String)> = ledger
            .list()
            .unwrap()
            .into_iter()
            .map(|r| (r.request_id, r.state))
            .collect();
        all.sort();
        assert_eq!(
            all,
            [
                ("q1".to_string(), "completed".to_string()),
                ("q2".to_string(), "failed (interrupted)".to_string()),
                ("q3".to_string(), "failed (interrupted)".to_string()),
            ],
            "each once, a record over its line"
        );

        for id in ["q2", "q3"] {
            ledger
                .start(id, "export", "anna", None, vec![])
                .unwrap()
                .finish("completed", None, vec![])
                .unwrap();
        }
        ledger.end_run(&run);
        assert!(
            !files(&ledger).contains(&"run-q0.queue".to_string()),
            "every line has a record"
        );
        assert_eq!(ledger.list().unwrap().len(), 3);
    }

    /// A batch's records are one file under every request's name (one fsync for the batch),
    /// written at the sync: each name reads its own line; a record rewritten later gets a file
    /// of its own; an edited line reads damaged and its neighbours do not; a name whose file
    /// has no line of its own reads damaged. A grouped ledger dropped before its sync still
    /// writes what ended.
    #[test]
    fn a_batch_s_records_are_one_file_under_each_of_their_names() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let ledger = Ledger::open(&state).unwrap().grouped();
        let (_lock, run) = ledger.hold_run("r0").unwrap();
        let ids = ["b1", "b2", "b3"];
        let requests = ids
            .iter()
            .map(|id| Ok(Request::new(id, "export", "anna", vec![format!("key:{id}")])));
        ledger.queue(&run, requests).unwrap();
        for id in ids {
            let mut running = ledger.run_queued(&run, id, "export", "anna", vec![], |_| {}).unwrap();
            running.finish("completed", None, vec![]).unwrap();
            assert_eq!(ledger.get(id).unwrap().unwrap().state, "queued", "written at the sync");
        }
        ledger.sync().unwrap();
        let path = |id: &str| dir.path().join(format!("requests/{id}.json"));
        assert!(shared::same_file(&path("b1"), &path("b2")) && shared::same_file(&path("b1"), &path("b3")));
        let states = |ledger: &Ledger| -> Vec<(String, String, bool)> {
            let mut all: Vec<_> = ledger
                .list()
                .unwrap()
                .into_iter()
                .map(|r| (r.request_id, r.state, r.damaged.is_some()))
                .collect();
            all.sort();
            all
        };
        let completed = |id: &str| (id.to_string(), "completed".to_string(), false);
        assert_eq!(states(&ledger), [completed("b1"), completed("b2"), completed("b3")]);
        for id in ids {
            let record = ledger.get(id).unwrap().unwrap();
            assert_eq!((record.request_id.as_str(), record.damaged), (id, None));
        }

        assert!(
            ledger
                .note_afterwards("b2", |after| after.purged_at = Some("then".into()))
                .unwrap()
        );
        assert!(!shared::same_file(&path("b1"), &path("b2")), "b2 has a file of its own");
        assert!(shared::same_file(&path("b1"), &path("b3")));
        assert_eq!(
            ledger
                .get("b2")
                .unwrap()
                .unwrap()
                .afterwards
                .unwrap()
                .purged_at
                .as_deref(),
            Some("then")
        );
        assert!(ledger.get("b1").unwrap().unwrap().afterwards.is_none());

        // Edit b3's line in place (the file b1 shares).
        let text = fs::read_to_string(path("b3")).unwrap();
        let edited: String = text
            .lines()
            .map(|line| {
                if line.starts_with(&shared::line_start("b3")) {
                    line.replace("\"completed\"", "\"cancelled\"")
                } else {
                    line.to_string()
                }
            })
            .map(|line| line + "\n")
            .collect();
        assert_ne!(edited, text);
        fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(path("b3"))
            .unwrap()
            .write_all(edited.as_bytes())
            .unwrap();
        assert!(ledger.get("b3").unwrap().unwrap().damaged.is_some());
        assert!(ledger.get("b1").unwrap().unwrap().damaged.is_none());
        fs::hard_link(path("b1"), path("b9")).unwrap();
        let stray = ledger.get("b9").unwrap().unwrap();
        assert_eq!((stray.request_id.as_str(), stray.state.as_str()), ("b9", "damaged"));
        assert_eq!(
            states(&ledger),
            [
                completed("b1"),
                completed("b2"),
                ("b3".into(), "cancelled".into(), true),
                ("b9".into(), "damaged".into(), true)
            ]
        );

        let mut failed = ledger.run_queued(&run, "b4", "export", "anna", vec![], |_| {}).unwrap();
        failed.finish("failed", Some("it broke".into()), vec![]).unwrap();
        drop(failed);
        drop(ledger);
        let reopened = Ledger::open(&state).unwrap();
        assert_eq!(
            reopened.get("b4").unwrap().unwrap().state,
            "failed",
            "written as the ledger went"
        );

        // A records file a dead process left under its hidden name goes with the next sweep
        // once it is old; a fresh one (a live process about to link it) stays.
        let left = dir.path().join("requests/.records.0123456789abcdef.tmp");
        let fresh = dir.path().join("requests/.records.fedcba9876543210.tmp");
        fs::copy(path("b1"), &left).unwrap();
        fs::copy(path("b1"), &fresh).unwrap();
        File::options()
            .write(true)
            .open(&left)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - Duration::from_secs(3600))
            .unwrap();
        reopened.sweep_queues();
        assert!(!left.exists() && fresh.exists());
        assert_eq!(reopened.get("b1").unwrap().unwrap().state, "completed");
    }

    /// Wait until the lock `name` is free: another test of this process may be spawning a
    /// child just now, which holds a copy of every descriptor (this lock's among them) until
    /// it execs.
    fn wait_released(ledger: &Ledger, name: &str) {
        let released = std::time::Instant::now();
        while ledger.is_alive(name) {
            assert!(released.elapsed().as_secs() < 10, "the lock {name} is still held");
            std::thread::yield_now();
        }
    }

    /// An export of one person holds its own lock until its record is durable: while the
    /// record on disk still says `running`, a free lock would read `failed (interrupted)`.
    #[test]
    fn a_grouped_request_keeps_its_lock_until_its_record_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let ledger = Ledger::open(&state).unwrap().grouped();
        let mut running = ledger.start("one", "export", "anna", None, vec![]).unwrap();
        running.finish("completed", None, vec![]).unwrap();
        drop(running);
        assert_eq!(ledger.get("one").unwrap().unwrap().state, "running", "its record waits");
        ledger.sync().unwrap();
        let record = ledger.get("one").unwrap().unwrap();
        assert_eq!((record.state.as_str(), record.damaged), ("completed", None));
        wait_released(&ledger, "one");
        let text = fs::read_to_string(dir.path().join("requests/one.json")).unwrap();
        assert!(
            text.starts_with("{\n"),
            "one record alone is a file of its own, as before"
        );
    }

    /// A queue left behind by a run killed at its very end (every line recorded) is swept by
    /// the next run; one whose run is alive, or with a line not recorded, stays. A queue that
    /// cannot be made whole leaves no file, not even its temp file.
    #[test]
    fn queues_of_runs_that_are_over_are_swept_and_a_failed_queue_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let ledger = Ledger::open(&state).unwrap();
        let queue = |run: &str, ids: &[&str]| {
            let requests = ids.iter().map(|id| Ok(Request::new(id, "export", "anna", vec![])));
            ledger.queue(run, requests).unwrap();
        };
        let record = |id: &str| {
            ledger
                .start(id, "export", "anna", None, vec![])
                .unwrap()
                .finish("completed", None, vec![])
                .unwrap();
        };
        let (dead, dead_run) = ledger.hold_run("d0").unwrap();
        queue(&dead_run, &["d1", "d2"]);
        let (_alive, alive_run) = ledger.hold_run("a0").unwrap();
        queue(&alive_run, &["a1"]);
        let (gone, gone_run) = ledger.hold_run("g0").unwrap();
        queue(&gone_run, &["g1", "g2"]);
        for id in ["d1", "d2", "a1", "g1"] {
            record(id);
        }
        drop(dead);
        drop(gone);
        wait_released(&ledger, &dead_run);
        wait_released(&ledger, &gone_run);
        ledger.sweep_queues();
        let queues: std::collections::BTreeSet<String> = fs::read_dir(&ledger.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(QUEUE_SUFFIX))
            .collect();
        assert_eq!(
            queues.into_iter().collect::<Vec<_>>(),
            ["run-a0.queue", "run-g0.queue"],
            "alive, or g2 not recorded"
        );
        assert_eq!(ledger.get("g2").unwrap().unwrap().state, "failed (interrupted)");

        let failing = [
            Ok(Request::new("f1", "export", "anna", vec![])),
            Err(UserError::runtime("sealing failed")),
        ];
        let err = ledger.queue("run-f0", failing.into_iter()).unwrap_err();
        assert_eq!(err.message, "sealing failed");
        let left: Vec<String> = fs::read_dir(&ledger.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("f0"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        assert!(ledger.get("f1").unwrap().is_none());
    }
}
