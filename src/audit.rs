//! The append-only, hash-chained audit log: one JSON object per line under `<state>/audit/`.
//!
//! Each event carries `seq`, the hash of the previous event (`prev`) and its own `hash` (SHA-256 of
//! the line without `hash`), so an edited, removed or reordered line breaks the chain. Appends
//! happen under an exclusive lock and are fsynced before the command reports success. Subjects
//! appear only as keyed hashes (see [`crate::state::subject_hash`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;

use serde::Serialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::error::UserError;
use crate::export::archive::hex;
use crate::state::StateDir;

/// The segment new events go to.
const CURRENT_SEGMENT: &str = "000001.jsonl";
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a command records; `seq`, `time`, actor, host, `prev` and `hash` are added on append.
#[derive(Debug, Default, Serialize)]
pub struct Event {
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
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
    pub source: String,
    pub table: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strategy: Option<&'static str>,
    pub rows: u64,
}

/// Who runs the command and where, as every event records it.
pub struct Actor {
    pub user: String,
    pub operator: String,
    pub host: String,
    /// The command line with subject values replaced by their hashes.
    pub command: Vec<String>,
}

pub struct AuditLog<'a> {
    state: &'a StateDir,
    actor: &'a Actor,
}

impl<'a> AuditLog<'a> {
    pub fn new(state: &'a StateDir, actor: &'a Actor) -> AuditLog<'a> {
        AuditLog { state, actor }
    }

    /// Append one event and fsync it. Several dsar processes may append at once: the lock
    /// serialises them, so lines never interleave and the chain stays whole.
    pub fn append(&self, event: &Event) -> Result<(), UserError> {
        let dir = self.state.audit_dir()?;
        let fail = |what: &str, e: std::io::Error| {
            UserError::runtime(format!("audit log in {}: cannot {what}: {e}", dir.display()))
        };
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(dir.join(".lock"))
            .map_err(|e| fail("open the lock", e))?;
        lock.lock().map_err(|e| fail("lock", e))?;

        let path = dir.join(CURRENT_SEGMENT);
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| fail("open", e))?;
        let (seq, prev) = match last_line(&mut file).map_err(|e| fail("read", e))? {
            None => (1, GENESIS.to_string()),
            Some(line) => {
                let last: Value = serde_json::from_str(&line).map_err(|_| {
                    UserError::runtime(format!("audit log {}: the last line is not valid JSON", path.display()))
                        .with_hint("run `dsar audit verify` to find the damage")
                })?;
                let seq = last.get("seq").and_then(Value::as_u64).unwrap_or(0) + 1;
                let prev = last.get("hash").and_then(Value::as_str).unwrap_or_default().to_string();
                (seq, prev)
            }
        };
        let line = self.seal(event, seq, &prev);
        file.write_all(line.as_bytes()).map_err(|e| fail("append", e))?;
        file.sync_data().map_err(|e| fail("fsync", e))?;
        Ok(())
    }

    /// The event as its final line: envelope fields first, then the event, then `prev` and `hash`.
    fn seal(&self, event: &Event, seq: u64, prev: &str) -> String {
        let mut map = Map::new();
        map.insert("seq".into(), seq.into());
        map.insert("time".into(), crate::clock::now_rfc3339().into());
        map.insert("user".into(), self.actor.user.clone().into());
        map.insert("operator".into(), self.actor.operator.clone().into());
        map.insert("host".into(), self.actor.host.clone().into());
        map.insert("command".into(), self.actor.command.clone().into());
        if let Ok(Value::Object(fields)) = serde_json::to_value(event) {
            map.extend(fields);
        }
        map.insert("prev".into(), prev.into());
        let hash = line_hash(&map);
        map.insert("hash".into(), hash.into());
        let mut line = Value::Object(map).to_string();
        line.push('\n');
        line
    }
}

/// SHA-256 of the event's compact JSON without its `hash` field.
pub fn line_hash(event: &Map<String, Value>) -> String {
    let mut without = event.clone();
    without.shift_remove("hash");
    hex(&Sha256::digest(Value::Object(without).to_string().as_bytes()))
}

/// The last complete line of the file, read from the end so long logs cost nothing.
fn last_line(file: &mut File) -> std::io::Result<Option<String>> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        file.take(len - start).read_to_end(&mut buf)?;
        let body = buf.strip_suffix(b"\n").unwrap_or(&buf);
        if let Some(pos) = body.iter().rposition(|&b| b == b'\n') {
            return Ok(Some(String::from_utf8_lossy(&body[pos + 1..]).into_owned()));
        }
        if start == 0 {
            return Ok(Some(String::from_utf8_lossy(body).into_owned()));
        }
        window *= 4;
    }
}

/// Read every event of the current segment.
#[cfg(test)]
fn read_events(dir: &std::path::Path) -> std::io::Result<Vec<Map<String, Value>>> {
    let text = std::fs::read_to_string(dir.join(CURRENT_SEGMENT))?;
    Ok(text
        .lines()
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        })
        .collect())
}

impl Actor {
    /// The OS user, the operator (`--operator`, default the OS user), the host, and `argv` with
    /// every `--subject` value replaced by its keyed hash.
    pub fn current(operator: Option<&str>, installation_key: &[u8]) -> Actor {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| {
                use std::os::unix::fs::MetadataExt;
                let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
                user_name(uid).unwrap_or_else(|| format!("uid:{uid}"))
            });
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let command = redact_argv(std::env::args().collect(), installation_key);
        Actor {
            operator: operator.map_or_else(|| user.clone(), str::to_string),
            user,
            host,
            command,
        }
    }
}

/// The login name of `uid` from /etc/passwd (cron and containers often leave USER unset).
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

/// Replace the value of every `--subject KEY=VALUE` (both spellings) by its keyed hash.
fn redact_argv(args: Vec<String>, key: &[u8]) -> Vec<String> {
    let hash = |kv: &str| match kv.split_once('=') {
        Some((k, v)) => crate::state::subject_hash(key, k, v),
        None => "<redacted>".to_string(),
    };
    let mut out = Vec::with_capacity(args.len());
    let mut redact_next = false;
    for arg in args {
        if redact_next {
            out.push(hash(&arg));
            redact_next = false;
        } else if arg == "--subject" {
            out.push(arg);
            redact_next = true;
        } else if let Some(kv) = arg.strip_prefix("--subject=") {
            out.push(format!("--subject={}", hash(kv)));
        } else {
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_never_keeps_a_subject_value() {
        let args = ["dsar", "export", "--subject", "email=a@x", "--subject=user_id=7"]
            .map(String::from)
            .to_vec();
        let out = redact_argv(args, b"k").join(" ");
        assert!(!out.contains("a@x") && !out.contains("=7"), "{out}");
        assert!(out.contains("--subject email:"));
    }

    #[test]
    fn events_chain_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let actor = Actor {
            user: "u".into(),
            operator: "o".into(),
            host: "h".into(),
            command: vec![],
        };
        let log = AuditLog::new(&state, &actor);
        log.append(&Event {
            action: "a".into(),
            ..Default::default()
        })
        .unwrap();
        log.append(&Event {
            action: "b".into(),
            ..Default::default()
        })
        .unwrap();
        let events = read_events(&dir.path().join("audit")).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["prev"], GENESIS);
        assert_eq!(events[1]["prev"], events[0]["hash"]);
        assert_eq!(events[1]["seq"], 2);
        assert_eq!(events[1]["hash"].as_str().unwrap(), line_hash(&events[1]));
    }
}
