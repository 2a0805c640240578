//! age key files: recipients (who can decrypt) and identities (the secret keys that do).

use std::path::Path;
use std::str::FromStr;

use crate::error::UserError;

pub fn parse_recipient(text: &str) -> Result<age::x25519::Recipient, String> {
    if text.starts_with("ssh-") {
        return Err("SSH keys are not supported as recipients; use an age X25519 key (age1…, from age-keygen)".into());
    }
    age::x25519::Recipient::from_str(text).map_err(|e| format!("not an age X25519 recipient ({e})"))
}

/// age's recipients-file format: one recipient per line, `#` comments, blank lines ignored.
pub fn read_recipients_file(path: &Path) -> Result<Vec<age::x25519::Recipient>, UserError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UserError::usage(format!("cannot read recipients file {}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let recipient =
            parse_recipient(line).map_err(|e| UserError::usage(format!("{}:{}: {e}", path.display(), n + 1)))?;
        out.push(recipient);
    }
    if out.is_empty() {
        return Err(UserError::usage(format!(
            "recipients file {} lists no recipient",
            path.display()
        )));
    }
    Ok(out)
}

/// Read an age identity file (`AGE-SECRET-KEY-1…` lines, `#` comments), as `age -i` does.
pub fn read_identity_file(path: &Path) -> Result<Vec<Box<dyn age::Identity + Send + Sync>>, UserError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        UserError::usage(format!("cannot read identity file {}: {e}", path.display()))
            .with_hint("pass the age secret key file of a recovery recipient, e.g. --identity keys/recovery.key")
    };
    let file = age::IdentityFile::from_file(path.display().to_string()).map_err(|e| unreadable(&e))?;
    let identities = file.into_identities().map_err(|e| unreadable(&e))?;
    if identities.is_empty() {
        return Err(unreadable(&"it holds no identity"));
    }
    Ok(identities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn recipients_file_skips_comments_and_names_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let key = age::x25519::Identity::generate().to_public().to_string();
        let good = dir.path().join("good.txt");
        std::fs::write(&good, format!("# exports\n\n{key}\n")).unwrap();
        assert_eq!(read_recipients_file(&good).unwrap().len(), 1);
        let bad = dir.path().join("bad.txt");
        std::fs::write(&bad, format!("{key}\nnot-a-key\n")).unwrap();
        assert!(read_recipients_file(&bad).unwrap_err().message.contains("bad.txt:2"));
    }

    #[test]
    fn identity_file_reads_age_keygen_output() {
        let dir = tempfile::tempdir().unwrap();
        let identity = age::x25519::Identity::generate();
        let path = dir.path().join("key.txt");
        std::fs::write(
            &path,
            format!("# created: now\n{}\n", identity.to_string().expose_secret()),
        )
        .unwrap();
        assert_eq!(read_identity_file(&path).unwrap().len(), 1);
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(read_identity_file(&path).is_err());
    }
}
