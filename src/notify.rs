//! Notifications for long jobs: when a request ends, its ledger record (JSON) goes to a command's
//! stdin and/or is POSTed to a webhook. A failed notification is reported and audit-logged,
//! never fatal: the request itself already succeeded or failed on its own terms.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::Notify;

/// How long a notify command or webhook may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Send `summary` (one JSON object) everywhere `notify` says. Returns the failures, one line each.
pub fn send(notify: &Notify, summary: &str) -> Vec<String> {
    let mut failures = Vec::new();
    if let Some(argv) = &notify.command
        && let Err(e) = run_command(argv, summary)
    {
        failures.push(format!("notify command `{}`: {e}", argv.join(" ")));
    }
    if let Some(url) = &notify.webhook
        && let Err(e) = post(url, summary)
    {
        // The URL may carry a token: name only its scheme and host.
        failures.push(format!("notify webhook {}: {e}", redact_url(url)));
    }
    failures
}

fn run_command(argv: &[String], summary: &str) -> Result<(), String> {
    let (program, args) = argv.split_first().ok_or("the command is empty")?;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that ignores its input may close it early; that is its business.
        let _ = stdin.write_all(summary.as_bytes());
    }
    let started = Instant::now();
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => {
                let mut err = String::new();
                if let Some(mut stderr) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
                }
                return Err(format!("{status}: {}", err.lines().next().unwrap_or("").trim()));
            }
            None if started.elapsed() > TIMEOUT => {
                let _ = child.kill();
                return Err(format!("did not finish within {}s and was stopped", TIMEOUT.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn post(url: &str, summary: &str) -> Result<(), String> {
    ureq::post(url)
        .timeout(TIMEOUT)
        .set("Content-Type", "application/json")
        .set("User-Agent", concat!("dsar/", env!("CARGO_PKG_VERSION")))
        .send_string(summary)
        .map(|_| ())
        .map_err(|e| match e {
            ureq::Error::Status(code, _) => format!("HTTP {code}"),
            ureq::Error::Transport(t) => t.kind().to_string(),
        })
}

fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/…")
        }
        None => "(not a URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls_are_named_without_path_or_credentials() {
        assert_eq!(
            redact_url("https://user:tok@hooks.example.com/T123/secret?x=1"),
            "https://hooks.example.com/…"
        );
    }

    #[test]
    fn a_failing_command_is_reported_not_fatal() {
        let notify = Notify {
            command: Some(vec!["false".into()]),
            webhook: None,
        };
        assert_eq!(send(&notify, "{}").len(), 1);
        let notify = Notify {
            command: Some(vec!["cat".into()]),
            webhook: None,
        };
        assert!(send(&notify, "{}").is_empty());
    }
}
