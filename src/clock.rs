//! Time as dsar writes it (UTC, RFC 3339) and request ids derived from it.

use rand::Rng;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

pub fn now_rfc3339() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
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
    fn request_ids_are_distinct_and_file_name_safe() {
        let a = new_request_id();
        assert_ne!(a, new_request_id());
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'), "{a}");
    }
}
