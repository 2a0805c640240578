//! Progress on stderr. A person at a terminal gets bars; cron logs and `--json` runs get a
//! one-line JSON event now and then instead; `--quiet` gets nothing.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

/// The first event comes after this long, so short runs stay silent…
const FIRST_EVENT: Duration = Duration::from_secs(1);
/// …and then at most this often.
const EVENT_EVERY: Duration = Duration::from_secs(5);

pub struct Progress {
    multi: Option<MultiProgress>,
    /// When events are on: when the run started and when the last event went out.
    events: Option<Mutex<(Instant, Option<Instant>)>>,
}

impl Progress {
    pub fn new(quiet: bool, json: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bars = !quiet && !json && terminal;
        let events = !quiet && (json || !terminal);
        Progress {
            multi: bars.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr())),
            events: events.then(|| Mutex::new((Instant::now(), None))),
        }
    }

    /// `{"event":"progress", …}` on stderr, when events are on and one is due.
    pub fn event(&self, request_id: &str, source: &str, table: &str, done: u64, planned: Option<u64>) {
        let Some(events) = &self.events else { return };
        let Ok(mut times) = events.lock() else { return };
        let (started, last) = *times;
        let due = match last {
            None => started.elapsed() >= FIRST_EVENT,
            Some(t) => t.elapsed() >= EVENT_EVERY,
        };
        if due {
            times.1 = Some(Instant::now());
            let line = json!({
                "event": "progress", "request_id": request_id, "source": source, "table": table,
                "done": done, "planned": planned, "elapsed_s": started.elapsed().as_secs(),
            });
            eprintln!("{line}");
        }
    }

    /// A bar for a known number of rows; hidden when progress is off.
    pub fn rows_of(&self, label: &str, total: u64) -> ProgressBar {
        let Some(multi) = &self.multi else {
            return ProgressBar::hidden();
        };
        let bar = multi.add(ProgressBar::new(total));
        bar.set_style(bar_style());
        bar.set_prefix(label.to_string());
        bar
    }

    /// A counter made by [`Progress::rows_counted`] learns its total: it becomes a bar with a
    /// percentage and an ETA, as [`Progress::rows_of`] makes.
    pub fn set_total(&self, bar: &ProgressBar, total: u64) {
        bar.set_length(total);
        bar.set_style(bar_style());
    }

    /// A counter for rows whose total is not known (a batch's table, or one person's until
    /// its count arrives: see `export`); hidden when progress is off.
    pub fn rows_counted(&self, label: &str) -> ProgressBar {
        let Some(multi) = &self.multi else {
            return ProgressBar::hidden();
        };
        let bar = multi.add(ProgressBar::no_length());
        let style = ProgressStyle::with_template("{prefix:40!} {human_pos:>9} rows {rate:>14}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(with_rate(style));
        bar.set_prefix(label.to_string());
        bar
    }

    /// A spinner with a message for a step that takes a while and has no count (VACUUM,
    /// sealing, a large fsync), so a terminal never sits silent; hidden when progress is off.
    pub fn step(&self, message: &str) -> ProgressBar {
        let Some(multi) = &self.multi else {
            return ProgressBar::hidden();
        };
        let spinner = multi.add(ProgressBar::new_spinner());
        spinner.set_message(message.to_string());
        spinner.enable_steady_tick(Duration::from_millis(120));
        spinner
    }
}

/// A bar with a total: position, total, rate and ETA.
fn bar_style() -> ProgressStyle {
    let style =
        ProgressStyle::with_template("{prefix:40!} [{bar:30}] {human_pos:>9}/{human_len:9} {rate:>14} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    with_rate(style).progress_chars("=> ")
}

/// `{rate}` in a template: rows per second as [`rate`] says it.
fn with_rate(style: ProgressStyle) -> ProgressStyle {
    style.with_key(
        "rate",
        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = w.write_str(&rate(state.per_sec()));
        },
    )
}

/// A rate as a person reads it: `950 rows/s`, `82.7k rows/s`, `1.2M rows/s`.
pub fn rate(per_sec: f64) -> String {
    if !per_sec.is_finite() || per_sec < 0.0 {
        return String::new();
    }
    if per_sec < 1_000.0 {
        format!("{per_sec:.0} rows/s")
    } else if per_sec < 1_000_000.0 {
        format!("{:.1}k rows/s", per_sec / 1_000.0)
    } else {
        format!("{:.1}M rows/s", per_sec / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rates_read_like_a_person_writes_them() {
        assert_eq!(super::rate(20_208.785_6), "20.2k rows/s");
        assert_eq!(super::rate(82_700.0), "82.7k rows/s");
        assert_eq!(super::rate(950.4), "950 rows/s");
        assert_eq!(super::rate(1_234_567.0), "1.2M rows/s");
        assert_eq!(super::rate(f64::NAN), "");
    }
}
