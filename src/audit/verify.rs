//! `dsar audit verify`: recompute the chain and name the first line that breaks it.

use std::path::Path;

use serde_json::Value;

use super::segments::{self, GENESIS};
use crate::error::UserError;

#[derive(Debug)]
pub struct Verified {
    pub events: u64,
    pub segments: usize,
    pub last_seq: u64,
    /// `segment:line` of a last line cut off after the head: an append that was interrupted (a
    /// crash, a full disk) before it was recorded, which the next append sets aside. The lines
    /// before it verify; a line cut off that the head records as written is [`Broken`].
    pub torn_tail: Option<String>,
    /// The requests the log records as queued by a batch run (`export.requested` with
    /// `queued_by`), which the ledger knew before they were logged: each must still be in it.
    pub queued: Vec<String>,
}

/// Where and how the log was tampered with.
#[derive(Debug)]
pub struct Broken {
    /// `segment:line`.
    pub place: String,
    pub problem: String,
}

impl Broken {
    fn at(segment: &str, line: usize, problem: impl Into<String>) -> Broken {
        Broken {
            place: format!("{segment}:{line}"),
            problem: problem.into(),
        }
    }
}

/// Walk every segment in order. Each line must parse, carry the keyed hash of its own content,
/// follow the previous line (`prev`, `seq + 1`), and the log must reach the recorded head.
pub fn verify(dir: &Path, key: &[u8], anchor: Option<&str>) -> Result<Verified, Broken> {
    verify_with(dir, key, anchor, false)
}

/// [`verify`], taking `head.json` and `removed.json` records that carry no authentication at all
/// (written by dsar 0.1) at their word when `legacy` is set: only [`super::AuditLog::append`]
/// does, once, to seal such a log's records after the whole chain checked out.
pub(super) fn verify_with(dir: &Path, key: &[u8], anchor: Option<&str>, legacy: bool) -> Result<Verified, Broken> {
    let io = |e: std::io::Error| Broken {
        place: dir.display().to_string(),
        problem: format!("cannot read: {e}"),
    };
    let removed = segments::read_removed(dir).map_err(io)?;
    // Records written by dsar 0.1 carry no MAC: trusted only when `legacy` says so.
    let trusted = |authentic: bool, mac: &str| authentic || (legacy && mac.is_empty());
    if let Some(r) = removed.iter().find(|r| !trusted(r.authentic(key), &r.mac)) {
        return Err(Broken {
            place: dir.join("removed.json").display().to_string(),
            problem: format!(
                "its record of segment {} was rewritten without the key: the chain's start cannot be trusted",
                r.segment
            ),
        });
    }
    let mut anchored = anchor.is_none();
    let (mut expected_seq, mut expected_prev) = match removed.last() {
        Some(r) => (r.last_seq + 1, r.last_hash.clone()),
        None => (1, GENESIS.to_string()),
    };
    let paths = segments::list(dir).map_err(io)?;
    // All lines first: telling "removed" from "reordered" needs to look ahead.
    let mut lines: Vec<(String, usize, String)> = Vec::new();
    let mut torn = None;
    for (i, path) in paths.iter().enumerate() {
        let segment = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = std::fs::read(path).map_err(io)?;
        let mut text = String::from_utf8_lossy(&text).into_owned();
        if !text.is_empty() && !text.ends_with('\n') {
            let n = text.lines().count();
            let cut_off = || {
                Broken::at(
                    &segment,
                    n,
                    "the last line is cut off (the file was truncated mid-line)",
                )
            };
            // Only the log's very last line can be one an append did not finish, and only if
            // it is not a whole event (one that lost its newline was cut); whether the head
            // records it as written (then it was cut too) is checked below.
            let whole = segments::whole_len(text.as_bytes());
            if i + 1 < paths.len() || serde_json::from_str::<Value>(&text[whole..]).is_ok() {
                return Err(cut_off());
            }
            text.truncate(whole);
            torn = Some(cut_off());
        }
        lines.extend(
            text.lines()
                .enumerate()
                .map(|(i, l)| (segment.clone(), i + 1, l.to_string())),
        );
    }
    let seqs: Vec<Option<u64>> = lines
        .iter()
        .map(|(_, _, l)| {
            serde_json::from_str::<Value>(l)
                .ok()
                .and_then(|v| v.get("seq").and_then(Value::as_u64))
        })
        .collect();

    let (first_seq, start_hash) = (expected_seq, expected_prev.clone());
    // Read once: the hash of the line it names is taken during the walk, to check the lines
    // after it continue it.
    let head = segments::read_head(dir).map_err(io)?;
    let head_seq = head.as_ref().map(|h| h.seq);
    let mut hash_at_head: Option<String> = None;
    let mut count = 0u64;
    let mut queued = Vec::new();
    for (i, (segment, line, text)) in lines.iter().enumerate() {
        let Ok(Value::Object(event)) = serde_json::from_str::<Value>(text) else {
            return Err(Broken::at(segment, *line, "not a JSON event: the line was altered"));
        };
        let stated = event.get("hash").and_then(Value::as_str).unwrap_or_default();
        if super::line_hash(key, &event) != stated {
            return Err(Broken::at(
                segment,
                *line,
                "its content does not match its hash: the line was altered or forged",
            ));
        }
        let seq = seqs[i].unwrap_or(0);
        if seq != expected_seq {
            let problem = if seq < expected_seq {
                format!(
                    "seq {seq} comes after seq {}: a line was inserted or the lines were reordered",
                    expected_seq - 1
                )
            } else if seqs[i + 1..].contains(&Some(expected_seq)) {
                format!("seq {seq} comes where seq {expected_seq} belongs: the lines were reordered")
            } else {
                format!(
                    "seq jumps from {} to {seq}: {} line(s) were removed",
                    expected_seq - 1,
                    seq - expected_seq
                )
            };
            return Err(Broken::at(segment, *line, problem));
        }
        if event.get("prev").and_then(Value::as_str) != Some(expected_prev.as_str()) {
            return Err(Broken::at(
                segment,
                *line,
                "it does not follow the line before it (prev hash differs)",
            ));
        }
        if Some(seq) == head_seq {
            hash_at_head = Some(stated.to_string());
        }
        expected_seq = seq + 1;
        expected_prev = stated.to_string();
        anchored |= anchor == Some(stated);
        count += 1;
        if event.get("action").and_then(Value::as_str) == Some("export.requested")
            && event.get("details").and_then(|d| d.get(super::QUEUED_BY)).is_some()
            && let Some(id) = event.get("request_id").and_then(Value::as_str)
        {
            queued.push(id.to_string());
        }
    }
    let last_seq = expected_seq - 1;
    if let Some(head) = head {
        if head.mac.is_empty() && !legacy {
            return Err(Broken {
                place: dir.join("head.json").display().to_string(),
                problem: "carries no authentication: written by dsar 0.1, or rewritten by hand; if dsar 0.1 wrote this log last, `dsar audit verify --seal-legacy` checks the whole chain and seals it".into(),
            });
        }
        if !trusted(head.authentic(key), &head.mac) {
            return Err(Broken {
                place: dir.join("head.json").display().to_string(),
                problem: "was rewritten without the key (its authentication does not match)".into(),
            });
        }
        // The head is written after the lines; it never runs ahead of them.
        if head.seq > last_seq {
            if let Some(torn) = torn {
                return Err(torn);
            }
            let place = lines
                .last()
                .map_or_else(|| "the log".to_string(), |(s, l, _)| format!("{s}:{l}"));
            return Err(Broken {
                place,
                problem: format!(
                    "the log ends at seq {last_seq} but seq {} was written: its tail was truncated",
                    head.seq
                ),
            });
        }
        if head.seq == last_seq && head.hash != expected_prev {
            let (s, l, _) = lines.last().cloned().unwrap_or_default();
            return Err(Broken::at(&s, l, "the last line is not the one that was written last"));
        }
        // Lines after the head are what a crash leaves: one line (written before its head), or
        // part of the group the head names as pending. They must continue the very line the
        // head names; each carries its keyed hash, checked above.
        if last_seq > head.seq {
            let (s, l, _) = lines.last().cloned().unwrap_or_default();
            let head_line = if head.seq + 1 == first_seq {
                Some(start_hash.as_str())
            } else if head.seq >= first_seq {
                hash_at_head.as_deref()
            } else {
                None
            };
            if head_line != Some(head.hash.as_str()) {
                return Err(Broken::at(
                    &s,
                    l,
                    format!(
                        "{} line(s) after the recorded head, which names a line this log does not hold",
                        last_seq - head.seq
                    ),
                ));
            }
            let within = last_seq == head.seq + 1
                || head
                    .pending
                    .as_ref()
                    .is_some_and(|p| last_seq < p.seq || (last_seq == p.seq && expected_prev == p.hash));
            if !within {
                return Err(Broken::at(
                    &s,
                    l,
                    format!(
                        "{} line(s) after the recorded head, more than an interrupted append leaves: \
                         head.json was put back from an older copy, or lines were appended by hand",
                        last_seq - head.seq
                    ),
                ));
            }
        }
        // What the next append sets aside (see `AuditLog::cut_torn_tail`): torn bytes after the
        // head's line, or after a line of the group it names as pending.
        if last_seq != head.seq
            && head.pending.is_none()
            && let Some(torn) = torn.take()
        {
            return Err(torn);
        }
    } else if count > 0 {
        return Err(Broken {
            place: dir.join("head.json").display().to_string(),
            problem: "is missing, so a truncated tail could not be seen".into(),
        });
    }
    if !anchored {
        let anchor = anchor.unwrap_or_default();
        let problem = if removed.is_empty() {
            format!("no event of the chain has the anchored hash {anchor}: the log was cut before it or replaced")
        } else {
            format!(
                "no event of the chain has the anchored hash {anchor}: the log was cut before it, or retention removed its segment"
            )
        };
        return Err(Broken {
            place: dir.display().to_string(),
            problem,
        });
    }
    Ok(Verified {
        events: count,
        segments: paths.len(),
        last_seq,
        torn_tail: torn.map(|t| t.place),
        queued,
    })
}

impl From<Broken> for UserError {
    fn from(b: Broken) -> UserError {
        UserError::runtime(format!("audit log broken at {}: {}", b.place, b.problem))
            .with_hint("keep this copy as evidence and restore the log from backup")
    }
}
