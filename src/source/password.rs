//! Passwords from where operators keep them: a source's `password_command` (an IAM token, a
//! secret store), run for each new connection, and libpq's password file (`~/.pgpass`,
//! `PGPASSFILE`). What they print is never shown, logged or audited.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::config::Source;
use crate::error::UserError;

/// How long a password command may take (a token service across the network).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// The most of its output a password command may print (a token is a few KiB).
const MAX_OUTPUT: u64 = 64 * 1024;

/// The password `source`'s `password_command` prints, without its trailing newline; `None`
/// when the source has none. A command that fails, hangs or prints nothing is one error naming
/// the source and the program, never what it printed on standard output.
pub async fn from_command(source: &Source) -> Result<Option<String>, UserError> {
    let Some(argv) = &source.password_command else {
        return Ok(None);
    };
    let program = &argv[0];
    let failed = |why: String| {
        UserError::usage(format!("source `{}`: password_command `{program}` {why}", source.name))
            .with_hint("run the command by hand: its standard output must be the password alone")
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Its own process group, so a timeout ends what it started too (`sh -c`'s children).
    #[cfg(unix)]
    command.process_group(0);
    let mut child = command.spawn().map_err(|e| failed(format!("cannot start: {e}")))?;
    let pid = child.id();
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let run = async {
        use tokio::io::AsyncReadExt;
        // A password is short: read at most 64 KiB of each stream, so a runaway program
        // cannot fill memory.
        let (mut out, mut err) = (Vec::new(), Vec::new());
        if let Some(s) = stdout.as_mut() {
            s.take(MAX_OUTPUT).read_to_end(&mut out).await?;
        }
        if let Some(s) = stderr.as_mut() {
            s.take(MAX_OUTPUT).read_to_end(&mut err).await?;
        }
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, out, err))
    };
    let (status, stdout, stderr) = match tokio::time::timeout(COMMAND_TIMEOUT, run).await {
        Ok(result) => result.map_err(|e| failed(format!("failed: {e}")))?,
        Err(_) => {
            #[cfg(unix)]
            if let Some(pid) = pid {
                let _ = std::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .stderr(Stdio::null())
                    .status();
            }
            return Err(failed(format!("did not finish within {} s", COMMAND_TIMEOUT.as_secs())));
        }
    };
    if !status.success() {
        // Its standard error says why (expired credentials, say); its first line only.
        let said = String::from_utf8_lossy(&stderr);
        let said: String = said.lines().next().unwrap_or_default().chars().take(200).collect();
        return Err(failed(format!(
            "failed ({status}){}",
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        )));
    }
    let password = String::from_utf8(stdout).map_err(|_| failed("printed something that is not UTF-8".into()))?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(failed("printed nothing".into()));
    }
    if password.contains(['\n', '\r']) {
        return Err(failed("printed more than one line".into()));
    }
    Ok(Some(password))
}

/// The password libpq's password file gives `user` on `host:port/database`: `PGPASSFILE`, or
/// `~/.pgpass`. As libpq: the first matching line wins, an unescaped `*` matches anything, `\:`
/// and `\\` escape, a Unix-socket host matches `localhost`, lines starting with `#` are
/// comments, and a file that is not a regular file or that others can read is ignored (the
/// latter with a warning).
pub fn from_pgpass(host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".pgpass")))?;
    let meta = std::fs::metadata(&file).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            crate::source::tls::warn_once(
                &format!("pgpass:{}", file.display()),
                &format!(
                    "password file {} has group or world access and is ignored; permissions should be u=rw (0600) or less",
                    file.display()
                ),
            );
            return None;
        }
    }
    let text = std::fs::read_to_string(&file).ok()?;
    let host = if host.starts_with('/') { "localhost" } else { host };
    let port = port.to_string();
    text.lines().filter(|line| !line.starts_with('#')).find_map(|line| {
        let fields = fields(line);
        let [h, p, d, u, password] = fields.as_slice() else {
            return None;
        };
        let matches = |field: &Field, value: &str| field.any || field.text == value;
        (matches(h, host) && matches(p, &port) && matches(d, database) && matches(u, user))
            .then(|| password.text.clone())
    })
}

/// A field of a password file line: its text unescaped, and whether it is the wildcard (a `*`
/// alone and unescaped).
#[derive(Debug, PartialEq, Eq)]
struct Field {
    text: String,
    any: bool,
}

/// The five `:`-separated fields of a password file line, with `\:` and `\\` unescaped. As
/// libpq, the password ends at its first unescaped `:`.
fn fields(line: &str) -> Vec<Field> {
    let mut fields: Vec<(String, bool)> = vec![(String::new(), false)];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    let current = fields.last_mut().expect("one field");
                    current.0.push(next);
                    current.1 = true;
                }
            }
            ':' if fields.len() < 5 => fields.push((String::new(), false)),
            ':' => break,
            c => fields.last_mut().expect("one field").0.push(c),
        }
    }
    fields
        .into_iter()
        .map(|(text, escaped)| Field {
            any: text == "*" && !escaped,
            text,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_lines_split_as_libpq_does() {
        let texts = |line: &str| fields(line).into_iter().map(|f| f.text).collect::<Vec<_>>();
        assert_eq!(texts("db:5432:*:u:p\\:w\\\\x"), ["db", "5432", "*", "u", "p:w\\x"]);
        assert_eq!(
            texts("h:1:d:u:a:b"),
            ["h", "1", "d", "u", "a"],
            "the password ends at a colon"
        );
        assert_eq!(texts("short:line").len(), 2);
        assert!(fields("*:1:d:u:p")[0].any);
        assert!(!fields("\\*:1:d:u:p")[0].any, "an escaped star is a star");
    }
}
