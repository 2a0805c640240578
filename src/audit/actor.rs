//! Who acts, from where, with what command line: recorded in every audit event.

/// Who runs the command and where, as every event records it.
#[derive(Clone)]
pub struct Actor {
    pub user: String,
    pub operator: String,
    pub host: String,
    /// The command line with subject values replaced by their hashes.
    pub command: Vec<String>,
}

impl Actor {
    /// The OS user, the operator (`--operator`, default the OS user), the host, and `argv` with
    /// every `--subject` value replaced by its keyed hash.
    pub fn current(operator: Option<&str>, installation_key: &[u8]) -> Actor {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| {
                use std::os::unix::fs::MetadataExt;
                let uid = std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(u32::MAX);
                user_name(uid).unwrap_or_else(|| format!("uid:{uid}"))
            });
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .or_else(|_| std::env::var("HOSTNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let command = redact_argv(std::env::args().collect(), installation_key);
        Actor {
            operator: operator.map_or_else(|| user.clone(), str::to_string),
            user,
            host,
            command,
        }
    }
}

/// The login name of `uid` from /etc/passwd (cron and containers often leave USER unset).
fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
    })
}

/// Replace the value of every `--subject KEY=VALUE` and `--key COL=VALUE` (both spellings) by
/// its keyed hash: a row's key can be an email as well as a subject can.
fn redact_argv(args: Vec<String>, key: &[u8]) -> Vec<String> {
    let hash = |kv: &str| match kv.split_once('=') {
        Some((k, v)) => crate::state::subject_hash(key, k, v),
        None => "<redacted>".to_string(),
    };
    let mut out = Vec::with_capacity(args.len());
    let mut redact_next = false;
    for arg in args {
        if redact_next {
            out.push(hash(&arg));
            redact_next = false;
        } else if arg == "--subject" || arg == "--key" {
            out.push(arg);
            redact_next = true;
        } else if let Some((flag, kv)) = ["--subject=", "--key="]
            .iter()
            .find_map(|flag| arg.strip_prefix(flag).map(|kv| (flag, kv)))
        {
            out.push(format!("{flag}{}", hash(kv)));
        } else {
            out.push(arg);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_never_keeps_a_subject_value() {
        let args = ["dsar", "export", "--subject", "email=a@x", "--subject=user_id=7"]
            .map(String::from)
            .to_vec();
        let out = redact_argv(args, b"k").join(" ");
        assert!(!out.contains("a@x") && !out.contains("=7"), "{out}");
        assert!(out.contains("--subject email:"));
        let args = [
            "dsar",
            "restore",
            "--table",
            "users",
            "--key",
            "email=j@x",
            "--key=id=9",
        ]
        .map(String::from)
        .to_vec();
        let out = redact_argv(args, b"k").join(" ");
        assert!(!out.contains("j@x") && !out.contains("=9"), "{out}");
        assert!(out.contains("--key email:") && out.contains("--key=id:"), "{out}");
    }
}
