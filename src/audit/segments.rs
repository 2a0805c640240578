//! The audit log's files: numbered JSONL segments, the head record that detects a truncated
//! tail, and the record of segments removed by retention (so the chain still verifies).

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// `prev` of the very first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const HEAD: &str = "head.json";
const REMOVED: &str = "removed.json";

/// The last event written, kept beside the log: a log that ends before it was truncated.
/// `mac` authenticates it with the chain key, so whoever cuts the log cannot rewrite it to match.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
    /// Set while a group of events is being appended (`AuditLog::append_all`): the seq and hash
    /// its last line will have. Lines after `seq` are then expected up to this one and no
    /// further, so a crash mid-group is told from a tail cut back to an old head.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    #[serde(default)]
    pub mac: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub seq: u64,
    pub hash: String,
}

impl Head {
    pub fn sealed(key: &[u8], seq: u64, hash: String) -> Head {
        Head::with_pending(key, seq, hash, None)
    }

    /// The head at `seq`/`hash`, with a group ending at `pending` being written after it.
    pub fn pending(key: &[u8], seq: u64, hash: String, pending: Pending) -> Head {
        Head::with_pending(key, seq, hash, Some(pending))
    }

    fn with_pending(key: &[u8], seq: u64, hash: String, pending: Option<Pending>) -> Head {
        let mut head = Head {
            seq,
            hash,
            pending,
            mac: String::new(),
        };
        head.mac = head.expected_mac(key);
        head
    }

    fn expected_mac(&self, key: &[u8]) -> String {
        let seq = self.seq.to_string();
        match &self.pending {
            // The fields of a head without a group, as earlier releases wrote them.
            None => record_mac(key, "head", &[&seq, &self.hash]),
            Some(p) => record_mac(key, "head", &[&seq, &self.hash, &p.seq.to_string(), &p.hash]),
        }
    }

    pub fn authentic(&self, key: &[u8]) -> bool {
        self.expected_mac(key) == self.mac
    }

    /// Whether a log whose last line has `seq`, `hash` and `prev` ends where this head says,
    /// or where a crash after it can leave it: one line on (a single append writes the line,
    /// then the head), or part or all of a pending group. `None` if so, else what is wrong.
    /// Lines after the head must still be checked to carry the key's seal and to chain.
    pub fn problem_with_tail(&self, seq: u64, hash: &str, prev: &str) -> Option<String> {
        if (seq == self.seq && hash == self.hash) || (seq == self.seq + 1 && prev == self.hash) {
            return None;
        }
        if let Some(p) = &self.pending
            && seq > self.seq
            && (seq < p.seq || (seq == p.seq && hash == p.hash))
        {
            return None;
        }
        Some(if seq < self.seq {
            format!(
                "it ends at seq {seq} but seq {} was written: its tail was cut",
                self.seq
            )
        } else {
            format!(
                "its last line (seq {seq}) is not the one head.json records (seq {})",
                self.seq
            )
        })
    }
}

/// A segment removed by retention: where the chain continues from. Authenticated like the head.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Removed {
    pub segment: String,
    pub last_seq: u64,
    pub last_hash: String,
    pub removed_at: String,
    #[serde(default)]
    pub mac: String,
}

impl Removed {
    fn fields(&self) -> [String; 4] {
        [
            self.segment.clone(),
            self.last_seq.to_string(),
            self.last_hash.clone(),
            self.removed_at.clone(),
        ]
    }

    pub fn seal(mut self, key: &[u8]) -> Removed {
        let fields = self.fields();
        self.mac = record_mac(key, "removed", &fields.each_ref().map(String::as_str));
        self
    }

    pub fn authentic(&self, key: &[u8]) -> bool {
        let fields = self.fields();
        record_mac(key, "removed", &fields.each_ref().map(String::as_str)) == self.mac
    }
}

/// HMAC-SHA256 of a record beside the log, under the chain key, bound to what kind it is.
fn record_mac(key: &[u8], kind: &str, fields: &[&str]) -> String {
    let mut parts: Vec<&[u8]> = vec![b"dsar audit record\0", kind.as_bytes()];
    for field in fields {
        parts.push(b"\0");
        parts.push(field.as_bytes());
    }
    crate::state::keyed_hex(key, &parts)
}

pub fn segment_name(n: u64) -> String {
    format!("{n:06}.jsonl")
}

/// Segment files, oldest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.len() == 12 && name.ends_with(".jsonl") && name[..6].bytes().all(|b| b.is_ascii_digit())
        })
        .collect();
    found.sort();
    Ok(found)
}

/// The number in a segment's file name.
pub fn number(path: &Path) -> u64 {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n[..6].parse().ok())
        .unwrap_or(0)
}

/// The first line of a file, if any.
pub fn first_line(path: &Path) -> std::io::Result<Option<String>> {
    let mut line = String::new();
    let n = BufReader::new(File::open(path)?).read_line(&mut line)?;
    Ok((n > 0).then(|| line.trim_end_matches('\n').to_string()))
}

/// How many bytes of a segment's `text` are whole lines: up to its last newline. What follows, if
/// anything, is a last line an append did not finish (or a cut).
pub fn whole_len(text: &[u8]) -> usize {
    text.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)
}

/// Whether the segment at `path` is empty or ends with a newline (no torn line at its end).
pub fn ends_whole(path: &Path) -> std::io::Result<bool> {
    let mut file = File::open(path)?;
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// The last complete line of a file, read from the end so long segments cost nothing.
pub fn last_line(path: &Path) -> std::io::Result<Option<String>> {
    let mut file = File::open(path)?;
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(None);
    }
    let mut window = 4096u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start))?;
        let mut buf = Vec::new();
        (&mut file).take(len - start).read_to_end(&mut buf)?;
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

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> std::io::Result<Option<T>> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(std::io::Error::other),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replace `dir/name` atomically: write a temp file, fsync, rename, fsync the directory.
fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> std::io::Result<()> {
    let temp = dir.join(format!(".{name}.tmp"));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&temp)?;
    file.write_all(&serde_json::to_vec(value).map_err(std::io::Error::other)?)?;
    file.sync_all()?;
    fs::rename(&temp, dir.join(name))?;
    File::open(dir)?.sync_all()
}

pub fn read_head(dir: &Path) -> std::io::Result<Option<Head>> {
    read_json(&dir.join(HEAD))
}

pub fn write_head(dir: &Path, head: &Head) -> std::io::Result<()> {
    write_json(dir, HEAD, head)
}

pub fn read_removed(dir: &Path) -> std::io::Result<Vec<Removed>> {
    Ok(read_json(&dir.join(REMOVED))?.unwrap_or_default())
}

pub fn write_removed(dir: &Path, removed: &[Removed]) -> std::io::Result<()> {
    write_json(dir, REMOVED, &removed)
}
