//! Reading the audit log back: every event in order, and the filters of `audit show`/`export`.

use std::path::Path;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::segments;
use crate::error::UserError;

/// Every event of every segment, oldest first.
pub fn read_all(dir: &Path) -> std::io::Result<Vec<Map<String, Value>>> {
    let mut out = Vec::new();
    let paths = segments::list(dir)?;
    for (n, path) in paths.iter().enumerate() {
        let segment = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut text = std::fs::read_to_string(path)?;
        // The log's last line cut off by an append that was interrupted (a crash, a full disk)
        // is no event: `audit verify` tells it apart from a line cut that was recorded, and the
        // next append sets it aside.
        if n + 1 == paths.len() {
            text.truncate(segments::whole_len(text.as_bytes()));
        }
        for (i, line) in text.lines().enumerate() {
            match serde_json::from_str(line) {
                Ok(Value::Object(event)) => out.push(event),
                _ => {
                    return Err(std::io::Error::other(format!(
                        "{segment}:{}: not a JSON event; run `dsar audit verify`",
                        i + 1
                    )));
                }
            }
        }
    }
    Ok(out)
}

/// RFC 3339 (`2026-11-25T16:30:00Z`) or a plain date (`2026-11-25`, midnight UTC).
pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(t);
    }
    let date = time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc())
}

/// `--since`/`--until` as given on the command line.
pub fn parse_bound(flag: &str, text: &str) -> Result<OffsetDateTime, UserError> {
    parse_time(text).ok_or_else(|| {
        UserError::usage(format!("{flag} `{text}` is not a time")).with_hint("write 2026-11-25 or 2026-11-25T16:30:00Z")
    })
}

/// What `audit show` and `audit export` keep.
#[derive(Debug, Default)]
pub struct Filter {
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub request: Option<String>,
    /// Keyed hashes to look for in `subject` (the operator types the raw value).
    pub subject_hash: Option<String>,
    /// An action or an action prefix: `delete` matches `delete.planned` and `delete.completed`.
    pub action: Option<String>,
    /// Events recorded with this operator.
    pub operator: Option<String>,
    /// Events of this case (`--ticket`).
    pub ticket: Option<String>,
}

impl Filter {
    pub fn keeps(&self, event: &Map<String, Value>) -> bool {
        let time = event.get("time").and_then(Value::as_str).and_then(parse_time);
        if let Some(since) = self.since
            && time.is_none_or(|t| t < since)
        {
            return false;
        }
        if let Some(until) = self.until
            && time.is_none_or(|t| t >= until)
        {
            return false;
        }
        if let Some(request) = &self.request
            && !names_request(event, request)
        {
            return false;
        }
        if let Some(ticket) = &self.ticket
            && event.get("ticket").and_then(Value::as_str) != Some(ticket.as_str())
        {
            return false;
        }
        if let Some(hash) = &self.subject_hash {
            let subjects = event.get("subject").and_then(Value::as_array);
            if !subjects.is_some_and(|s| s.iter().any(|v| v.as_str() == Some(hash.as_str()))) {
                return false;
            }
        }
        if let Some(operator) = &self.operator
            && event.get("operator").and_then(Value::as_str) != Some(operator.as_str())
        {
            return false;
        }
        if let Some(action) = &self.action {
            let a = event.get("action").and_then(Value::as_str).unwrap_or_default();
            if a != action && !a.starts_with(&format!("{action}.")) {
                return false;
            }
        }
        true
    }
}

/// Whether `event` is the `export.completed` of request `id` (its `request_id`).
pub fn completes_export(event: &Map<String, Value>, id: Option<&str>) -> bool {
    event.get("action").and_then(Value::as_str) == Some("export.completed")
        && event.get("request_id").and_then(Value::as_str) == id
}

/// Whether `event` acts on request `id`: its own, or one a purge destroyed (`request_ids`).
pub fn names_request(event: &Map<String, Value>, id: &str) -> bool {
    event.get("request_id").and_then(Value::as_str) == Some(id)
        || event
            .get("details")
            .and_then(|d| d.get("request_ids"))
            .and_then(Value::as_array)
            .is_some_and(|ids| ids.iter().any(|v| v.as_str() == Some(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_or_plain_dates() {
        assert!(parse_time("2026-11-25T16:30:00.123Z").is_some());
        assert_eq!(
            parse_time("2026-11-25").unwrap(),
            parse_time("2026-11-25T00:00:00Z").unwrap()
        );
        assert!(parse_time("yesterday").is_none());
    }

    #[test]
    fn action_filter_matches_whole_names_and_prefixes() {
        let filter = Filter {
            action: Some("delete".into()),
            ..Default::default()
        };
        let event = |a: &str| serde_json::json!({ "action": a }).as_object().unwrap().clone();
        assert!(filter.keeps(&event("delete.completed")));
        assert!(!filter.keeps(&event("deleted.x")));
        assert!(!filter.keeps(&event("export.completed")));
    }
}
