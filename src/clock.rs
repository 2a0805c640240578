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

/// A new request id: UTC time to the second, then 64 random bits in hex, e.g.
/// `20261125-163012-3fa9c1d2e07b5a64`. Sortable by time, safe in file names, and unique
/// without coordination. 32 bits were too few: a batch of 10,000 people takes its ids in the
/// same second, and two of them shared one about once in 90 runs (a shared id is one request,
/// one record and one archive name for two people). Ids of the old width stay valid.
pub fn new_request_id() -> String {
    let now = OffsetDateTime::now_utc();
    let stamp = now
        .format(format_description!("[year][month][day]-[hour][minute][second]"))
        .unwrap_or_else(|_| "00000000-000000".into());
    format!("{stamp}-{:016x}", rand::thread_rng().r#gen::<u64>())
}

/// `n` request ids for one run, all different (a repeat is drawn again: with 64 random bits
/// it does not happen, and if it did, two people would share a request).
pub fn new_request_ids(n: usize) -> Vec<String> {
    distinct(n, new_request_id)
}

fn distinct(n: usize, mut next: impl FnMut() -> String) -> Vec<String> {
    let mut seen = std::collections::HashSet::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let id = next();
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    ids
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
        assert_eq!(a.len(), "20261125-163012-3fa9c1d2e07b5a64".len(), "{a}");
        let ids = new_request_ids(10_000);
        assert_eq!(ids.iter().collect::<std::collections::HashSet<_>>().len(), 10_000);
    }

    #[test]
    fn a_repeated_id_is_drawn_again() {
        let mut draws = ["a", "b", "a", "a", "c"].into_iter().map(String::from);
        assert_eq!(distinct(3, || draws.next().unwrap()), ["a", "b", "c"]);
    }
}
