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
    let child = tokio::process::Command::new(program)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| failed(format!("cannot start: {e}")))?;
    let out = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| failed(format!("did not finish within {} s", COMMAND_TIMEOUT.as_secs())))?
        .map_err(|e| failed(format!("failed: {e}")))?;
    if !out.status.success() {
        // Its standard error says why (expired credentials, say); its first line only.
        let said = String::from_utf8_lossy(&out.stderr);
        let said: String = said.lines().next().unwrap_or_default().chars().take(200).collect();
        return Err(failed(format!(
            "failed ({}){}",
            out.status,
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        )));
    }
    let password = String::from_utf8(out.stdout).map_err(|_| failed("printed something that is not UTF-8".into()))?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    if password.is_empty() {
        return Err(failed("printed nothing".into()));
    }
    Ok(Some(password))
}

/// The password libpq's password file gives `user` on `host:port/database`: `PGPASSFILE`, or
/// `~/.pgpass`. As libpq: the first matching line wins, `*` matches anything, `\:` and `\\`
/// escape, a Unix-socket host matches `localhost`, and a file that others can read is ignored
/// (with a warning).
pub fn from_pgpass(host: &str, port: u16, database: &str, user: &str) -> Option<String> {
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".pgpass")))?;
    let text = std::fs::read_to_string(&file).ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(&file).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
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
    let host = if host.starts_with('/') { "localhost" } else { host };
    let port = port.to_string();
    text.lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .find_map(|line| {
            let fields = fields(line);
            let [h, p, d, u, password] = fields.as_slice() else {
                return None;
            };
            let matches = |field: &str, value: &str| field == "*" || field == value;
            (matches(h, host) && matches(p, &port) && matches(d, database) && matches(u, user))
                .then(|| password.clone())
        })
}

/// The five `:`-separated fields of a password file line, with `\:` and `\\` unescaped.
fn fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field").push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file_lines_split_as_libpq_does() {
        assert_eq!(fields("db:5432:*:u:p\\:w\\\\x"), ["db", "5432", "*", "u", "p:w\\x"]);
        assert_eq!(
            fields("h:1:d:u:a:b"),
            ["h", "1", "d", "u", "a:b"],
            "the password may hold a colon"
        );
        assert_eq!(fields("short:line").len(), 2);
    }
}
