//! Time as dsar writes it (UTC, RFC 3339) and request ids derived from it.

use rand::Rng;
use time::OffsetDateTime;
use time::macros::format_description;

/// Now, in UTC, as RFC 3339 with microseconds: fixed width, so logs line up and sort as text.
pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .unwrap_or_else(|_| "unknown".into())
}

/// `after` from now, in UTC to the minute (`2026-12-29 17:39 UTC`): when a window will close.
pub fn from_now(after: std::time::Duration) -> String {
    let then = OffsetDateTime::now_utc() + after;
    then.format(format_description!("[year]-[month]-[day] [hour]:[minute] UTC"))
        .unwrap_or_else(|_| "unknown".into())
}

/// A new request id: UTC time to the second, then random hex, e.g. `20261125-163012-3fa9c1d2`.
/// Sortable by time, safe in file names, and unique without coordination.
pub fn new_request_id() -> String {
    let now = OffsetDateTime::now_utc();
    let stamp = now
        .format(format_description!("[year][month][day]-[hour][minute][second]"))
        .unwrap_or_else(|_| "00000000-000000".into());
    format!("{stamp}-{:08x}", rand::thread_rng().r#gen::<u32>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_fixed_width_rfc3339() {
        let now = now_rfc3339();
        assert_eq!(now.len(), "2026-11-25T16:30:00.000000Z".len(), "{now}");
        assert!(time::OffsetDateTime::parse(&now, &time::format_description::well_known::Rfc3339).is_ok());
    }

    #[test]
    fn request_ids_are_distinct_and_file_name_safe() {
        let a = new_request_id();
        assert_ne!(a, new_request_id());
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{a}");
    }
}
