//! The append-only, hash-chained audit log: JSON Lines segments under `<state>/audit/`.
//!
//! Each event carries `seq`, the hash of the previous event (`prev`) and its own `hash`: an
//! HMAC-SHA256, keyed by the installation key, of the line without `hash`. An edited, removed,
//! inserted or reordered line breaks the chain, and a forged line cannot carry a valid hash
//! without the key. `head.json` remembers the last event, so a truncated tail shows. Appends
//! happen under an exclusive lock, with `O_APPEND`, and are fsynced before the command reports
//! success. Subjects appear only as keyed hashes (see [`crate::state::subject_hash`]).

mod actor;
pub mod certificate;
pub mod command;
pub mod query;
pub mod segments;
pub mod verify;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};

pub use actor::Actor;
use segments::{GENESIS, Head, Removed};

use crate::cli::Global;
use crate::error::UserError;
use crate::state::StateDir;

/// The sealed lines one append keeps to write them; a larger group is sealed again as it is
/// written (see `append_locked`).
const KEPT_LINE_BYTES: usize = 1 << 20;

/// Flush a segment's buffered lines and make them durable; on failure, which step failed.
fn sync_lines(out: std::io::BufWriter<File>) -> Result<(), (&'static str, std::io::Error)> {
    let file = out.into_inner().map_err(|e| ("append", e.into_error()))?;
    file.sync_data().map_err(|e| ("fsync", e))
}

/// The first 8 bytes of a line's hash (hex), to check a line sealed again against.
fn hash_prefix(hash: &str) -> u64 {
    u64::from_str_radix(hash.get(..16).unwrap_or(hash), 16).unwrap_or(0)
}

/// Events per segment before a new one is started (`[settings] audit_segment_events`).
pub const DEFAULT_SEGMENT_EVENTS: u64 = 10_000;

/// The detail of an `export.requested` event that names the batch run whose queue held the
/// request (`audit verify` checks the ledger still knows it).
pub const QUEUED_BY: &str = "queued_by";

/// What a command records; `seq`, `time`, actor, host, `prev` and `hash` are added on append.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Event {
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The case (`--ticket`); stamped from the run's when left empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Keyed hashes of the subject's identifiers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subject: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableCount>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive_sha256: Option<String>,
    pub outcome: Outcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub details: Map<String, Value>,
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    #[default]
    Ok,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableCount {
    /// Shared, not copied: a batch of 10,000 people's archive summaries held 160,000 copies
    /// of the same few names.
    pub source: std::sync::Arc<str>,
    pub table: std::sync::Arc<str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<&'static str>,
    pub rows: u64,
}

/// `name` as a [`TableCount`] holds it: one copy of each source and table name however many
/// archives count rows of it (names are few; the set is never emptied).
pub fn shared_name(name: &str) -> std::sync::Arc<str> {
    static NAMES: std::sync::LazyLock<std::sync::Mutex<std::collections::HashSet<std::sync::Arc<str>>>> =
        std::sync::LazyLock::new(Default::default);
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = names.get(name) {
        return shared.clone();
    }
    let shared: std::sync::Arc<str> = name.into();
    names.insert(shared.clone());
    shared
}

/// The audit log of one installation, with who is acting.
#[derive(Clone)]
pub struct AuditLog {
    state: StateDir,
    /// The installation key: subject hashes.
    key: Vec<u8>,
    /// The key that seals the chain: the audit key file's, else the installation key.
    chain: Vec<u8>,
    actor: Actor,
    segment_events: u64,
    /// The run's `--ticket` and `--reason`, stamped on each event that names none.
    ticket: Option<String>,
    reason: Option<String>,
}

impl AuditLog {
    /// Open the state dir named by the global flags, its installation key, and the actor.
    pub fn open(global: &Global) -> Result<AuditLog, UserError> {
        let state = StateDir::open(crate::state::resolve(global).as_deref())?;
        let key = state.installation_key()?;
        let chain = state.chain_key(crate::state::audit_key_file(global).as_deref())?;
        let actor = Actor::current(global.operator.as_deref(), &key);
        Ok(AuditLog {
            state,
            key,
            chain,
            actor,
            segment_events: DEFAULT_SEGMENT_EVENTS,
            ticket: global.case.ticket.clone(),
            reason: global.case.reason.clone(),
        })
    }

    pub fn with_segment_events(mut self, events: Option<u64>) -> AuditLog {
        self.segment_events = events.unwrap_or(DEFAULT_SEGMENT_EVENTS).max(1);
        self
    }

    pub fn state(&self) -> &StateDir {
        &self.state
    }

    pub fn operator(&self) -> &str {
        &self.actor.operator
    }

    /// The run's case (`--ticket`), if it has one.
    pub fn ticket(&self) -> Option<&str> {
        self.ticket.as_deref()
    }

    /// The run's `--reason`, if given.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The installation key: subject hashes are keyed with it.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The key that seals the chain; records that must be as hard to forge as the log (cases)
    /// are sealed with it too.
    pub fn chain_key(&self) -> &[u8] {
        &self.chain
    }

    pub fn dir(&self) -> Result<PathBuf, UserError> {
        self.state.audit_dir()
    }

    /// Whether the log holds no event yet (a new state dir).
    pub fn is_empty(&self) -> Result<bool, UserError> {
        let dir = self.dir()?;
        let segments = segments::list(&dir)
            .map_err(|e| UserError::runtime(format!("audit log in {}: cannot list segments: {e}", dir.display())))?;
        Ok(segments
            .iter()
            .all(|s| std::fs::metadata(s).map(|m| m.len() == 0).unwrap_or(true)))
    }

    /// Append one event and fsync it. Several dsar processes may append at once: the lock
    /// serialises them, so lines never interleave and the chain stays whole.
    pub fn append(&self, event: &Event) -> Result<(), UserError> {
        self.append_all(std::slice::from_ref(event))
    }

    /// Append `events` in order under one lock, with one write and one fsync (and one update of
    /// `head.json`): a batch of requests records its events as a group, not an fsync each.
    /// After a crash the log holds all of them or a prefix of whole lines, each sealed.
    pub fn append_all(&self, events: &[Event]) -> Result<(), UserError> {
        self.append_each(events.len(), |i| std::borrow::Cow::Borrowed(&events[i]))
    }

    /// [`append_all`](Self::append_all) of the `count` events that `event(i)` makes, each made
    /// as it is sealed (and, for a large group, made again as it is written): a batch of 10,000
    /// people records its events without holding them, or their lines, all at once.
    pub fn append_each<'e>(
        &self,
        count: usize,
        event: impl Fn(usize) -> std::borrow::Cow<'e, Event>,
    ) -> Result<(), UserError> {
        if count == 0 {
            return Ok(());
        }
        let dir = self.dir()?;
        let fail = |what: &str, e: std::io::Error| {
            UserError::runtime(format!("audit log in {}: cannot {what}: {e}", dir.display()))
                .with_hint("run `dsar audit verify` to check the log")
        };
        let _lock = lock(&dir).map_err(|e| fail("lock", e))?;
        if let Some((segment, bytes, digest, kept)) = self.cut_torn_tail(&dir).map_err(|e| fail("repair", e))? {
            let mut details = Map::new();
            details.insert("removed_bytes".into(), bytes.into());
            details.insert("removed_sha256".into(), digest.clone().into());
            details.insert("kept_as".into(), kept.into());
            details.insert("segment".into(), segment.into());
            let repaired = Event {
                action: "audit.repaired".into(),
                outcome: Outcome::Ok,
                details,
                ..Default::default()
            };
            self.append_locked(&dir, 1, &|_| std::borrow::Cow::Borrowed(&repaired))?;
        }
        self.append_locked(&dir, count, &event)
    }

    /// Remove a torn last line: an append that failed part-way (a full disk, a process killed
    /// mid-write) leaves bytes without their newline, and every later append would find the log
    /// damaged. Only when the whole lines before it end exactly where `head.json` (checked with
    /// the key) says the chain ends: then the torn bytes never were an event of the chain.
    /// Returns the segment and how many bytes were removed. Called under the lock.
    fn cut_torn_tail(&self, dir: &std::path::Path) -> std::io::Result<Option<(String, u64, String, String)>> {
        let mut all = segments::list(dir)?;
        let Some(path) = all.pop() else {
            return Ok(None);
        };
        // The last byte tells: a segment holds up to `segment_events` lines (megabytes), and
        // reading it whole on every append made a long batch run slower and larger as it went.
        if segments::ends_whole(&path)? {
            return Ok(None);
        }
        let bytes = std::fs::read(&path)?;
        let whole = segments::whole_len(&bytes);
        if serde_json::from_slice::<Value>(&bytes[whole..]).is_ok() {
            // A whole event without its newline is not a torn write: leave it to the checks.
            return Ok(None);
        }
        let head = segments::read_head(dir)?;
        // The last whole line before the torn bytes: in this segment, or (when the torn line was
        // the segment's first) the previous segment's last.
        let last_whole: Option<Value> = match bytes[..whole].strip_suffix(b"\n") {
            Some(body) => {
                let start = segments::whole_len(body);
                serde_json::from_slice(&body[start..]).ok()
            }
            None => match all.last() {
                Some(previous) => segments::last_line(previous)?.and_then(|l| serde_json::from_str(&l).ok()),
                None => None,
            },
        };
        let ends_at_head = match (&head, &last_whole) {
            // The last whole line is the head's, or one of a group the head names as pending
            // (a group's write cut short by a full disk or a kill leaves its torn end there).
            (Some(head), Some(last)) => {
                let seq = last.get("seq").and_then(Value::as_u64).unwrap_or(0);
                let hash = last.get("hash").and_then(Value::as_str).unwrap_or_default();
                head.authentic(&self.chain)
                    && ((seq == head.seq && hash == head.hash)
                        || (head.pending.is_some()
                            && sealed_with(&self.chain, last)
                            && head.problem_with_tail(seq, hash, "").is_none()))
            }
            // A head but no whole line anywhere before: only retention can explain that.
            (Some(_), None) => false,
            (None, None) => whole == 0 && all.is_empty(),
            (None, Some(_)) => false,
        };
        if !ends_at_head {
            return Ok(None);
        }
        // The torn bytes are kept beside the log (and their SHA-256 logged), never just dropped.
        let torn = &bytes[whole..];
        let digest = {
            use sha2::Digest;
            crate::hex::hex(&sha2::Sha256::digest(torn))
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let kept = keep_aside(dir, &format!("{name}.torn-{}", &digest[..16]), torn)?;
        let file = OpenOptions::new().write(true).open(&path)?;
        file.set_len(whole as u64)?;
        file.sync_all()?;
        Ok(Some((name, torn.len() as u64, digest, kept)))
    }

    /// The append itself, under the lock.
    fn append_locked<'e>(
        &self,
        dir: &std::path::Path,
        count: usize,
        event: &dyn Fn(usize) -> std::borrow::Cow<'e, Event>,
    ) -> Result<(), UserError> {
        let fail = |what: &str, e: std::io::Error| {
            UserError::runtime(format!("audit log in {}: cannot {what}: {e}", dir.display()))
                .with_hint("run `dsar audit verify` to check the log; once there is space again the next command repairs a torn last line")
        };
        let segments = segments::list(dir).map_err(|e| fail("list segments", e))?;

        // Where the chain stands: the last line written, else where retention left it.
        let mut tail = None;
        for path in segments.iter().rev() {
            if let Some(line) = segments::last_line(path).map_err(|e| fail("read", e))? {
                tail = Some(line);
                break;
            }
        }
        let last: Option<Value> = match tail {
            Some(line) => Some(serde_json::from_str(&line).map_err(|_| {
                UserError::runtime(format!(
                    "audit log in {}: the last line is not valid JSON",
                    dir.display()
                ))
                .with_hint("run `dsar audit verify` to find the damage")
            })?),
            None => None,
        };
        let removed = segments::read_removed(dir).map_err(|e| fail("read removed.json", e))?;
        let head = segments::read_head(dir).map_err(|e| fail("read head.json", e))?;
        // Never append to a log that was cut or whose records were rewritten: the new event
        // would seal the damage into the chain.
        let started_elsewhere = if last.is_none() && head.is_none() && removed.is_empty() {
            self.requests_of_other_processes()
        } else {
            0
        };
        check_tail(&self.chain, last.as_ref(), head.as_ref(), &removed)
            .and_then(|()| match started_elsewhere {
                0 => Ok(()),
                n => Err(format!(
                    "it holds nothing, but the ledger beside it records {n} request(s): the log was deleted"
                )),
            })
            .map_err(|problem| {
                UserError::runtime(format!(
                    "audit log in {}: {problem}; nothing was appended, so this command did nothing",
                    dir.display()
                ))
                .with_hint("run `dsar audit verify`; keep this copy as evidence and restore the log from backup")
            })?;
        let (seq, prev) = match &last {
            Some(last) => (
                last.get("seq").and_then(Value::as_u64).unwrap_or(0) + 1,
                last.get("hash").and_then(Value::as_str).unwrap_or_default().to_string(),
            ),
            None => match removed.last() {
                Some(r) => (r.last_seq + 1, r.last_hash.clone()),
                None => (1, GENESIS.to_string()),
            },
        };

        // The current segment and the seq of its first line: a new segment once it holds
        // `segment_events` events.
        let (mut number, mut first_seq) = match segments.last() {
            None => (1, None),
            Some(current) => (
                segments::number(current),
                segments::first_line(current)
                    .map_err(|e| fail("read", e))?
                    .and_then(|l| serde_json::from_str::<Value>(&l).ok())
                    .and_then(|v| v.get("seq").and_then(Value::as_u64)),
            ),
        };
        let open = |number: u64| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(dir.join(segments::segment_name(number)))
                .map_err(|e| fail("open", e))
        };
        // Seal the whole group first, so the head can name where it ends before any of it is
        // written; then write it. A group of up to KEPT_LINE_BYTES keeps its lines; a larger one
        // keeps only each line's time and seals it again as it writes it (the same bytes: a line
        // is its event, seq, time and the hash before it), so a batch of 10,000 people's events
        // costs a second sealing, not 20 MB of lines held at once.
        let (at_seq, at_hash) = (seq - 1, prev.clone());
        let first = seq;
        let mut times: Vec<String> = Vec::with_capacity(count);
        // The first 8 bytes of each line's hash: a line sealed again is checked against it
        // before it is written (an event made differently the second time would otherwise seal
        // a chain that ends elsewhere than the head says, and every later append would refuse
        // the log).
        let mut hashes: Vec<u64> = Vec::new();
        let mut kept: Vec<String> = Vec::new();
        let mut kept_bytes = 0;
        let mut prev = prev;
        for i in 0..count {
            let time = crate::clock::now_rfc3339();
            let (line, hash) = self.seal(&event(i), first + i as u64, &prev, &time);
            kept_bytes += line.len();
            if kept_bytes <= KEPT_LINE_BYTES {
                kept.push(line);
            } else {
                kept = Vec::new();
            }
            hashes.push(hash_prefix(&hash));
            times.push(time);
            prev = hash;
        }
        let seq = first + count as u64;
        // A single line needs no notice: a crash leaves it one past the head, which is accepted.
        if count > 1 {
            let pending = segments::Pending {
                seq: seq - 1,
                hash: prev.clone(),
            };
            segments::write_head(dir, &Head::pending(&self.chain, at_seq, at_hash.clone(), pending))
                .map_err(|e| fail("write head.json", e))?;
        }
        // One fsync per segment the group touches (one, unless it fills a segment), then the
        // head at the group's end. The lines go through a buffer, not joined into one string.
        let mut file: Option<(u64, std::io::BufWriter<File>)> = None;
        let mut line_prev = at_hash;
        for (i, time) in times.iter().enumerate() {
            let line_seq = first + i as u64;
            if first_seq.is_some_and(|f| line_seq - f >= self.segment_events) {
                number += 1;
                first_seq = None;
            }
            first_seq.get_or_insert(line_seq);
            if file.as_ref().is_none_or(|(n, _)| *n != number) {
                if let Some((_, done)) = file.take() {
                    sync_lines(done).map_err(|(what, e)| fail(what, e))?;
                }
                file = Some((number, std::io::BufWriter::with_capacity(256 * 1024, open(number)?)));
            }
            let (_, out) = file.as_mut().expect("opened above");
            if kept.len() == count {
                out.write_all(kept[i].as_bytes()).map_err(|e| fail("append", e))?;
            } else {
                let (line, hash) = self.seal(&event(i), line_seq, &line_prev, time);
                if hash_prefix(&hash) != hashes[i] {
                    // What is written is a prefix of the group, which the pending head accepts.
                    if let Some((_, done)) = file.take() {
                        sync_lines(done).map_err(|(what, e)| fail(what, e))?;
                    }
                    return Err(UserError::runtime(format!(
                        "audit log in {}: event {line_seq} did not seal the same twice; {i} of the group's {count} events were written, the rest were not",
                        dir.display()
                    ))
                    .with_hint("this is a bug in dsar: report it; `dsar audit verify` still passes"));
                }
                out.write_all(line.as_bytes()).map_err(|e| fail("append", e))?;
                line_prev = hash;
            }
        }
        if let Some((_, done)) = file.take() {
            sync_lines(done).map_err(|(what, e)| fail(what, e))?;
        }
        segments::write_head(dir, &Head::sealed(&self.chain, seq - 1, prev)).map_err(|e| fail("write head.json", e))?;
        Ok(())
    }

    /// How many ledger records of the state dir were written by other processes (this one may
    /// have just started its own): a log starting at seq 1 beside them was deleted, not new.
    pub(super) fn requests_of_other_processes(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(self.state.root.join("requests")) else {
            return 0;
        };
        entries
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.ends_with(".json") && !name.starts_with('.')
            })
            .filter(|e| {
                // A batch's records share a file: its first line speaks for them all.
                let record = std::fs::read(e.path())
                    .ok()
                    .and_then(|b| crate::ledger::first_record(&b));
                let pid = record.as_ref().and_then(|v| v.get("pid").and_then(Value::as_u64));
                // A queued request is written before anything is logged (a batch run's later
                // batches, in its queue file; dsar before 2026-12-02 wrote queued records): a
                // run killed then leaves them beside an empty log.
                let queued = record.as_ref().and_then(|v| v.get("state")).and_then(Value::as_str) == Some("queued");
                pid != Some(u64::from(std::process::id())) && !queued
            })
            .count()
    }

    /// Verify the chain under the log's lock, so an append under way is not read half-done.
    pub fn verify(&self, anchor: Option<&str>) -> Result<Result<verify::Verified, verify::Broken>, UserError> {
        let dir = self.dir()?;
        let _lock =
            lock(&dir).map_err(|e| UserError::runtime(format!("audit log in {}: cannot lock: {e}", dir.display())))?;
        Ok(verify::verify(&dir, &self.chain, anchor))
    }

    /// Seal the unauthenticated `head.json`/`removed.json` of a log dsar 0.1 wrote, after the
    /// whole chain checks out with them taken at their word. Only on the operator's word
    /// (`audit verify --seal-legacy`): done automatically, it would seal a head rewritten by
    /// someone who cut the log. Returns whether there was anything to seal.
    pub fn seal_legacy(&self) -> Result<bool, UserError> {
        let dir = self.dir()?;
        let fail = |what: &str, e: std::io::Error| {
            UserError::runtime(format!("audit log in {}: cannot {what}: {e}", dir.display()))
        };
        let _lock = lock(&dir).map_err(|e| fail("lock", e))?;
        let removed = segments::read_removed(&dir).map_err(|e| fail("read removed.json", e))?;
        let head = segments::read_head(&dir).map_err(|e| fail("read head.json", e))?;
        if !head.as_ref().is_some_and(|h| h.mac.is_empty()) && !removed.iter().any(|r| r.mac.is_empty()) {
            return Ok(false);
        }
        // dsar 0.1 wrote no `v`: a line that has one was written since, and so was a head
        // without authentication beside it, by hand.
        let events = query::read_all(&dir).map_err(|e| fail("read", e))?;
        if events.iter().any(|e| e.contains_key("v")) {
            return Err(UserError::runtime(format!(
                "audit log in {}: its head.json carries no authentication, but the log was written by this version of dsar, which always seals it: the head was rewritten by hand",
                dir.display()
            ))
            .with_hint("keep this copy as evidence and restore the log from backup; nothing was sealed"));
        }
        verify::verify_with(&dir, &self.chain, None, true)?;
        if !removed.is_empty() {
            let sealed: Vec<Removed> = removed.into_iter().map(|r| r.seal(&self.chain)).collect();
            segments::write_removed(&dir, &sealed).map_err(|e| fail("write removed.json", e))?;
        }
        if let Some(h) = head {
            segments::write_head(&dir, &Head::sealed(&self.chain, h.seq, h.hash))
                .map_err(|e| fail("write head.json", e))?;
        }
        Ok(true)
    }

    /// The last event written, as `head.json` records it (authenticated): for anchoring the log
    /// elsewhere (`dsar audit head`).
    pub fn head(&self) -> Result<Option<Head>, UserError> {
        let dir = self.dir()?;
        let head = segments::read_head(&dir)
            .map_err(|e| UserError::runtime(format!("audit log in {}: cannot read head.json: {e}", dir.display())))?;
        match head {
            Some(h) if !h.authentic(&self.chain) => Err(UserError::runtime(format!(
                "audit log in {}: head.json was rewritten without the key",
                dir.display()
            ))
            .with_hint("run `dsar audit verify`; keep this copy as evidence and restore the log from backup")),
            other => Ok(other),
        }
    }

    /// The event as its final line: envelope fields first, then the event, then `prev` and `hash`.
    fn seal(&self, event: &Event, seq: u64, prev: &str, time: &str) -> (String, String) {
        let mut map = Map::new();
        map.insert("seq".into(), seq.into());
        map.insert("time".into(), time.into());
        map.insert("user".into(), self.actor.user.clone().into());
        map.insert("operator".into(), self.actor.operator.clone().into());
        map.insert("host".into(), self.actor.host.clone().into());
        map.insert("command".into(), self.actor.command.clone().into());
        // The line format since head.json is authenticated (dsar 0.1 wrote none).
        map.insert("v".into(), 2.into());
        if let Ok(Value::Object(fields)) = serde_json::to_value(event) {
            map.extend(fields);
        }
        if let Some(ticket) = self.ticket.as_ref().filter(|_| !map.contains_key("ticket")) {
            map.insert("ticket".into(), ticket.clone().into());
        }
        if let Some(reason) = &self.reason {
            let details = map.entry("details").or_insert_with(|| Value::Object(Map::new()));
            if let Some(details) = details.as_object_mut() {
                details.entry("reason").or_insert_with(|| reason.clone().into());
            }
        }
        map.insert("prev".into(), prev.into());
        // The line is the event without its hash, written once: hashed as it is (what
        // `line_hash` reads back), then closed with `"hash"` as the last key. The same bytes as
        // inserting the hash and writing the map again (insertion order is kept; a hash is hex,
        // which JSON does not escape), for one serialization instead of a copy and two.
        let mut line = Value::Object(map).to_string();
        let hash = crate::state::keyed_hex(&self.chain, &[CHAIN_LABEL, line.as_bytes()]);
        debug_assert!(line.ends_with('}'));
        line.pop();
        line.push_str(",\"hash\":\"");
        line.push_str(&hash);
        line.push_str("\"}\n");
        (line, hash)
    }

    /// Remove whole sealed segments whose last event is older than `retention`, oldest first,
    /// never the segment being written. Records where the chain continues. Returns how many.
    pub fn remove_expired_segments(&self, retention: Duration, dry_run: bool) -> Result<u64, UserError> {
        let dir = self.dir()?;
        let fail = |what: &str, e: std::io::Error| {
            UserError::runtime(format!("audit log in {}: cannot {what}: {e}", dir.display()))
        };
        let _lock = lock(&dir).map_err(|e| fail("lock", e))?;
        let segments = segments::list(&dir).map_err(|e| fail("list segments", e))?;
        let cutoff = time::OffsetDateTime::now_utc() - retention;
        let mut removed = segments::read_removed(&dir).map_err(|e| fail("read removed.json", e))?;
        let mut count = 0;
        for path in segments.iter().take(segments.len().saturating_sub(1)) {
            let Some(line) = segments::last_line(path).map_err(|e| fail("read", e))? else {
                break;
            };
            let last: Value = serde_json::from_str(&line).map_err(|e| fail("parse", std::io::Error::other(e)))?;
            let time = last.get("time").and_then(Value::as_str).and_then(query::parse_time);
            if time.is_none_or(|t| t >= cutoff) {
                break;
            }
            count += 1;
            if dry_run {
                continue;
            }
            removed.push(
                Removed {
                    segment: path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    last_seq: last.get("seq").and_then(Value::as_u64).unwrap_or(0),
                    last_hash: last.get("hash").and_then(Value::as_str).unwrap_or_default().to_string(),
                    removed_at: crate::clock::now_rfc3339(),
                    mac: String::new(),
                }
                .seal(&self.chain),
            );
            // Record first: a crash after it leaves a segment verify can still skip.
            segments::write_removed(&dir, &removed).map_err(|e| fail("write removed.json", e))?;
            std::fs::remove_file(path).map_err(|e| fail("remove a segment", e))?;
        }
        Ok(count)
    }
}

/// Whether the log's last line, `head.json` and `removed.json` agree, as an append needs them
/// to: the head authentic and naming the last line (or the one before it, when a crash came
/// between a line and the head, or a line of the group it names as pending: see
/// [`Head::problem_with_tail`]), no head only for a log that never held an event.
fn check_tail(key: &[u8], last: Option<&Value>, head: Option<&Head>, removed: &[Removed]) -> Result<(), String> {
    if let Some(r) = removed.iter().find(|r| !r.authentic(key)) {
        return Err(format!(
            "removed.json was rewritten without the key (segment {})",
            r.segment
        ));
    }
    let continues_from = removed.last().map_or(0, |r| r.last_seq);
    match (last, head) {
        (None, None) if continues_from == 0 => Ok(()),
        (None, None) => Err(format!(
            "it holds no event and no head, but retention left it at seq {continues_from}: it was cut"
        )),
        (Some(_), None) => Err("head.json is missing, so a cut tail could not be seen".into()),
        (_, Some(head)) if !head.authentic(key) => Err("head.json was rewritten without the key".into()),
        (None, Some(head)) if head.seq > continues_from => Err(format!(
            "it holds no event, but seq {} was written: it was cut",
            head.seq
        )),
        (None, Some(_)) => Ok(()),
        (Some(last), Some(_)) if !sealed_with(key, last) => {
            Err("its last line does not carry its own keyed hash: it was forged or edited".into())
        }
        (Some(last), Some(head)) => {
            let seq = last.get("seq").and_then(Value::as_u64).unwrap_or(0);
            let hash = last.get("hash").and_then(Value::as_str).unwrap_or_default();
            let prev = last.get("prev").and_then(Value::as_str).unwrap_or_default();
            // The head is written after the lines of an append: after a crash it lags them by
            // one line, or by part of the group it names as pending (sealed lines, checked above).
            match head.problem_with_tail(seq, hash, prev) {
                None => Ok(()),
                Some(problem) => Err(problem),
            }
        }
    }
}

/// Whether an event carries the keyed hash of its own content.
fn sealed_with(key: &[u8], event: &Value) -> bool {
    event
        .as_object()
        .is_some_and(|e| line_hash(key, e) == e.get("hash").and_then(Value::as_str).unwrap_or_default())
}

/// Hold the log's exclusive lock for as long as the returned file lives.
fn lock(dir: &std::path::Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(dir.join(".lock"))?;
    file.lock()?;
    Ok(file)
}

/// Write `bytes` to a new file `name` in `dir` (or `name.1`, `name.2`, … if taken), never
/// through an existing path: the state dir's writers could plant a symlink there, and a write
/// that followed it would put bytes of their choosing wherever it points. Returns the name used.
fn keep_aside(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::io::Result<String> {
    for n in 0..100 {
        let candidate = if n == 0 {
            name.to_string()
        } else {
            format!("{name}.{n}")
        };
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(dir.join(&candidate))
        {
            Ok(mut file) => {
                file.write_all(bytes)?;
                file.sync_all()?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!("{name}: every name is taken")))
}

/// HMAC-SHA256 (installation key) of the event's compact JSON without its `hash` field.
pub fn line_hash(key: &[u8], event: &Map<String, Value>) -> String {
    let mut without = event.clone();
    without.shift_remove("hash");
    crate::state::keyed_hex(key, &[CHAIN_LABEL, Value::Object(without).to_string().as_bytes()])
}

/// What a line's hash is keyed under, before the line's JSON (see [`line_hash`]).
const CHAIN_LABEL: &[u8] = b"dsar audit chain\0";

#[cfg(test)]
mod tests {
    use super::*;

    fn log_in(dir: &std::path::Path, segment_events: u64) -> AuditLog {
        let state = StateDir::open(Some(dir)).unwrap();
        let key = state.installation_key().unwrap();
        let actor = Actor {
            user: "u".into(),
            operator: "o".into(),
            host: "h".into(),
            command: vec![],
        };
        AuditLog {
            state,
            chain: key.clone(),
            key,
            actor,
            segment_events,
            ticket: None,
            reason: None,
        }
    }

    fn five_events_two_per_segment() -> (tempfile::TempDir, AuditLog) {
        let dir = tempfile::tempdir().unwrap();
        let log = log_in(dir.path(), 2);
        for action in ["a", "b", "c", "d", "e"] {
            log.append(&Event {
                action: action.into(),
                ..Default::default()
            })
            .unwrap();
        }
        (dir, log)
    }

    fn events(actions: &[&str]) -> Vec<Event> {
        actions
            .iter()
            .map(|a| Event {
                action: (*a).into(),
                ..Default::default()
            })
            .collect()
    }

    /// A sealed line is what writing the event with its hash as the last key gives, and its
    /// hash is what verification computes from the line (quotes and non-ASCII in the fields).
    #[test]
    fn a_sealed_line_is_the_event_with_its_hash_last() {
        let dir = tempfile::tempdir().unwrap();
        let log = log_in(dir.path(), 100);
        let event = Event {
            action: "export \"quoted\" é".into(),
            ..Default::default()
        };
        let (line, hash) = log.seal(&event, 7, "abc", "2026-12-06T10:00:00.000000Z");
        let parsed: Map<String, Value> = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed.keys().next_back().map(String::as_str), Some("hash"));
        assert_eq!(parsed["hash"].as_str(), Some(hash.as_str()));
        assert_eq!(line_hash(&log.chain, &parsed), hash);
        assert_eq!(format!("{}\n", Value::Object(parsed)), line);
    }

    /// A group spans segments, verifies, and leaves a head without a pending group.
    #[test]
    fn a_group_is_appended_across_segments_and_verifies() {
        let (dir, log) = five_events_two_per_segment();
        log.append_all(&events(&["f", "g", "h", "i"])).unwrap();
        let audit = dir.path().join("audit");
        assert_eq!(verify::verify(&audit, log.key(), None).unwrap().events, 9);
        assert_eq!(segments::list(&audit).unwrap().len(), 5, "2 + 2 + 2 + 2 + 1 events");
        let head = segments::read_head(&audit).unwrap().unwrap();
        assert_eq!((head.seq, head.pending), (9, None));
    }

    /// A group whose lines are more than one append keeps is sealed again as it is written:
    /// the same chain, across segments, with each event's own time.
    #[test]
    fn a_group_too_large_to_keep_is_sealed_again_the_same() {
        let (dir, log) = five_events_two_per_segment();
        let wide = "x".repeat(4096);
        let count = KEPT_LINE_BYTES / 4096 + 10;
        log.append_each(count, |i| {
            std::borrow::Cow::Owned(Event {
                action: format!("wide {i}"),
                error: Some(wide.clone()),
                ..Default::default()
            })
        })
        .unwrap();
        let audit = dir.path().join("audit");
        assert_eq!(
            verify::verify(&audit, log.key(), None).unwrap().events,
            5 + count as u64
        );
        let all = query::read_all(&audit).unwrap();
        assert_eq!(all.len(), 5 + count);
        assert_eq!(all[5 + count - 1]["action"], format!("wide {}", count - 1));
        let head = segments::read_head(&audit).unwrap().unwrap();
        assert_eq!((head.seq, head.pending), (5 + count as u64, None));
    }

    /// An event made differently the second time is refused before its line is written: the
    /// lines before it stay (a prefix the pending head accepts), the log verifies, and the
    /// next append goes on from them.
    #[test]
    fn an_event_that_seals_differently_again_is_refused_and_the_log_stays_whole() {
        let (dir, log) = five_events_two_per_segment();
        let wide = "x".repeat(4096);
        let count = KEPT_LINE_BYTES / 4096 + 10;
        let calls = std::cell::Cell::new(0usize);
        let err = log
            .append_each(count, |i| {
                calls.set(calls.get() + 1);
                // The 3rd event reads differently when it is made again.
                let action = if i == 2 && calls.get() > count {
                    "changed".to_string()
                } else {
                    format!("wide {i}")
                };
                std::borrow::Cow::Owned(Event {
                    action,
                    error: Some(wide.clone()),
                    ..Default::default()
                })
            })
            .unwrap_err();
        assert!(err.message.contains("did not seal the same twice"), "{}", err.message);
        let audit = dir.path().join("audit");
        assert_eq!(verify::verify(&audit, log.key(), None).unwrap().events, 5 + 2);
        log.append(&Event {
            action: "after".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(verify::verify(&audit, log.key(), None).unwrap().events, 5 + 2 + 1);
    }

    /// A crash after the group's pending head and part (or all) of its lines: the log verifies
    /// and takes the next append. The same lines after an old head without the pending notice
    /// (a head.json put back from a copy) are refused by both.
    #[test]
    fn lines_of_an_interrupted_group_are_accepted_only_as_far_as_the_head_announced() {
        let (dir, log) = five_events_two_per_segment();
        let audit = dir.path().join("audit");
        let before = segments::read_head(&audit).unwrap().unwrap();
        log.append_all(&events(&["f", "g", "h"])).unwrap();
        let after = segments::read_head(&audit).unwrap().unwrap();
        let all = query::read_all(&audit).unwrap();
        let line = |seq: usize| &all[seq - 1];
        // The head as the group left it before its lines were all written.
        let pending = Head::pending(
            log.chain_key(),
            before.seq,
            before.hash.clone(),
            segments::Pending {
                seq: after.seq,
                hash: after.hash.clone(),
            },
        );
        segments::write_head(&audit, &pending).unwrap();
        verify::verify(&audit, log.key(), None).unwrap();
        assert_eq!(line(8)["hash"].as_str(), Some(after.hash.as_str()));

        // Rolled back to the old head with no notice: three lines too many, and two.
        segments::write_head(&audit, &before).unwrap();
        let err = verify::verify(&audit, log.key(), None).unwrap_err();
        assert!(err.problem.contains("older copy"), "{}", err.problem);
        assert!(log.append(&events(&["x"])[0]).is_err(), "the next append refuses too");

        // With the notice, the next append goes on from the last line.
        segments::write_head(&audit, &pending).unwrap();
        log.append(&events(&["x"])[0]).unwrap();
        assert_eq!(verify::verify(&audit, log.key(), None).unwrap().events, 9);
    }

    /// A group torn part-way (a full disk, a kill between pages): the whole lines stay, the
    /// torn bytes are cut away and kept aside by the next append, and the log verifies, before
    /// that with the torn line named, where the append would repair it, and only there.
    #[test]
    fn a_torn_group_is_repaired_by_the_next_append() {
        let (dir, log) = five_events_two_per_segment();
        let audit = dir.path().join("audit");
        let before = segments::read_head(&audit).unwrap().unwrap();
        log.append_all(&events(&["f", "g"])).unwrap();
        let after = segments::read_head(&audit).unwrap().unwrap();
        let pending = Head::pending(
            log.chain_key(),
            before.seq,
            before.hash,
            segments::Pending {
                seq: after.seq,
                hash: after.hash,
            },
        );
        segments::write_head(&audit, &pending).unwrap();
        // "f" (seq 6) whole in segment 3, "g" (seq 7) torn in segment 4.
        let last = segments::list(&audit).unwrap().pop().unwrap();
        let text = std::fs::read(&last).unwrap();
        std::fs::write(&last, &text[..text.len() / 2]).unwrap();
        // Before the repair: the lines up to "f" verify, the torn "g" is named, and reading
        // the log leaves it out.
        let verified = verify::verify(&audit, log.key(), None).unwrap();
        assert_eq!(verified.events, 6, "5 and f");
        let name = last.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(verified.torn_tail.as_deref(), Some(&*format!("{name}:1")));
        assert_eq!(query::read_all(&audit).unwrap().len(), 6);
        log.append(&events(&["h"])[0]).unwrap();
        let verified = verify::verify(&audit, log.key(), None).unwrap();
        assert_eq!(verified.events, 8, "5, f, the repair event, h");
        assert!(verified.torn_tail.is_none());
        // Torn bytes after the head's line: what an interrupted single append leaves.
        let last = segments::list(&audit).unwrap().pop().unwrap();
        let whole = std::fs::read(&last).unwrap();
        let mut torn = whole.clone();
        torn.extend_from_slice(b"{\"seq\":9,\"act");
        std::fs::write(&last, &torn).unwrap();
        assert!(verify::verify(&audit, log.key(), None).unwrap().torn_tail.is_some());
        // Torn bytes after a line past the head that no pending group explains ("i" written, its
        // head not): not what an interrupted append leaves, and the append would not repair
        // them, so they are reported as a cut line.
        std::fs::write(&last, &whole).unwrap();
        let head = segments::read_head(&audit).unwrap().unwrap();
        log.append(&events(&["i"])[0]).unwrap();
        segments::write_head(&audit, &head).unwrap();
        assert_eq!(verify::verify(&audit, log.key(), None).unwrap().events, 9);
        let last = segments::list(&audit).unwrap().pop().unwrap();
        let mut torn = std::fs::read(&last).unwrap();
        torn.extend_from_slice(b"{\"seq\":10,\"act");
        std::fs::write(&last, &torn).unwrap();
        let broken = verify::verify(&audit, log.key(), None).unwrap_err();
        assert!(broken.problem.contains("cut off"), "{}", broken.problem);
    }

    #[test]
    fn events_chain_across_segments_and_verify() {
        let (dir, log) = five_events_two_per_segment();
        let audit = dir.path().join("audit");
        assert_eq!(segments::list(&audit).unwrap().len(), 3, "2 + 2 + 1 events");
        let events = query::read_all(&audit).unwrap();
        assert_eq!(events.len(), 5);
        assert_eq!(events[0]["prev"], GENESIS);
        assert_eq!(events[3]["prev"], events[2]["hash"]);
        assert_eq!(verify::verify(&audit, log.key(), None).unwrap().events, 5);
    }

    #[test]
    fn retention_removes_whole_old_segments_and_the_rest_still_verifies() {
        let (dir, log) = five_events_two_per_segment();
        assert_eq!(log.remove_expired_segments(Duration::ZERO, false).unwrap(), 2);
        let audit = dir.path().join("audit");
        assert_eq!(segments::list(&audit).unwrap().len(), 1, "the current segment stays");
        assert_eq!(verify::verify(&audit, log.key(), None).unwrap().events, 1);
        log.append(&Event {
            action: "f".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(verify::verify(&audit, log.key(), None).unwrap().events, 2);
    }
}
