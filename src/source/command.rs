//! Command sources: an external service (Stripe, Intercom, an analytics API) reached through a
//! program the operator writes, often a few lines of curl. `run` prints the subject's records,
//! one JSON object per line, on stdout; `delete_run` erases them. Arguments are passed as argv,
//! never through a shell, so a subject value cannot become a command. A non-zero exit, a line
//! that is not a JSON object, or a run longer than `statement_timeout` fails the source, with the
//! program's stderr in the report. Messages never hold a subject's value: the program's stderr is
//! quoted with every identifier of the subject replaced by its key (`<email>`).

use std::path::Path;
use std::process::Stdio;

use serde_json::{Map, Value};

use crate::config::Source;

/// How much of a failing program's stderr a report quotes.
const STDERR_QUOTED: usize = 400;

/// The records `run` printed for one subject.
pub async fn export(source: &Source, ids: &[(String, String)]) -> Result<Vec<Map<String, Value>>, String> {
    let stdout = execute(source, &source.run, ids).await?;
    let mut records = Vec::new();
    for (n, line) in stdout.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(record)) => records.push(record),
            _ => {
                return Err(format!(
                    "source `{}`: line {} of its output is not a JSON object (one record per line)",
                    source.name,
                    n + 1
                ));
            }
        }
    }
    Ok(records)
}

/// Run `delete_run` for one subject; `Ok(false)` when the source has none.
pub async fn erase(source: &Source, ids: &[(String, String)]) -> Result<bool, String> {
    let Some(argv) = &source.delete_run else {
        return Ok(false);
    };
    execute(source, argv, ids).await.map(|_| true)
}

/// Whether the source's programs can be found and run, for `dsar check`: the program it runs.
pub fn check(source: &Source) -> Result<String, String> {
    let mut found = Vec::new();
    for argv in std::iter::once(&source.run).chain(source.delete_run.as_ref()) {
        let program = &argv[0];
        if locate(program).is_none() {
            return Err(format!(
                "source `{}`: program `{program}` is not found or not executable",
                source.name
            ));
        }
        found.push(program.clone());
    }
    Ok(found.join(", "))
}

/// `program` itself when it is a path, else the first executable of that name on PATH.
fn locate(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let p = Path::new(program);
        return executable(p).then(|| p.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|p| executable(p))
}

/// The argv with every `{key}` replaced by the subject's value of that key.
fn substitute(source: &Source, argv: &[String], ids: &[(String, String)]) -> Result<Vec<String>, String> {
    argv.iter()
        .map(|arg| {
            let mut out = arg.clone();
            for key in crate::config::placeholders(arg) {
                let Some((_, value)) = ids.iter().find(|(k, _)| k == key) else {
                    return Err(format!(
                        "source `{}`: no {key} is known for this subject, so it was not asked",
                        source.name
                    ));
                };
                out = out.replace(&format!("{{{key}}}"), value);
            }
            Ok(out)
        })
        .collect()
}

/// Run one program to completion within `statement_timeout`; its stdout on success.
async fn execute(source: &Source, argv: &[String], ids: &[(String, String)]) -> Result<String, String> {
    let argv = substitute(source, argv, ids)?;
    let child = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("source `{}`: cannot run `{}`: {e}", source.name, argv[0]))?;
    let output = match tokio::time::timeout(source.statement_timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Err(format!("source `{}`: `{}` failed: {e}", source.name, argv[0])),
        Err(_) => {
            return Err(format!(
                "source `{}`: `{}` ran longer than statement_timeout and was stopped",
                source.name, argv[0]
            ));
        }
    };
    if !output.status.success() {
        // Programs tend to echo what they were asked about: never quote a subject's value.
        let stderr = ids.iter().fold(
            String::from_utf8_lossy(&output.stderr).into_owned(),
            |text, (key, value)| text.replace(value.as_str(), &format!("<{key}>")),
        );
        let quoted: String = stderr.trim().chars().take(STDERR_QUOTED).collect();
        let code = output
            .status
            .code()
            .map_or_else(|| "a signal".to_string(), |c| format!("exit {c}"));
        return Err(format!(
            "source `{}`: `{}` failed ({code}): {}",
            source.name,
            argv[0],
            quoted.replace('\n', " / ")
        ));
    }
    String::from_utf8(output.stdout).map_err(|_| format!("source `{}`: its output is not UTF-8", source.name))
}
