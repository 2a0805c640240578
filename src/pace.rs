//! Pacing: big jobs keep to a source's `max_rows_per_second` so they do not starve production.

use std::time::{Duration, Instant};

/// Sleep as long as needed to keep `rows` since `started` at or under `limit` rows per second.
pub async fn throttle(started: Instant, rows: u64, limit: u32) {
    let due = Duration::from_secs_f64(rows as f64 / f64::from(limit));
    if let Some(wait) = due.checked_sub(started.elapsed()) {
        tokio::time::sleep(wait).await;
    }
}
