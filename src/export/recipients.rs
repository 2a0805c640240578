//! Who can open an export: age X25519 recipients, or a passphrase.

use std::io::IsTerminal;
use std::path::Path;
use std::str::FromStr;

use age::secrecy::SecretString;

use crate::cli::ExportArgs;
use crate::config::Settings;
use crate::error::UserError;

/// How archives are encrypted.
pub enum Encryption {
    Recipients(Vec<age::x25519::Recipient>),
    Passphrase(SecretString),
}

impl Encryption {
    /// Which flags win: `--passphrase`, then `--recipient`/`--recipients-file`, then
    /// `[settings].recipients_file`. No recipient at all is an error, never an unencrypted archive.
    pub fn from_args(args: &ExportArgs, settings: &Settings) -> Result<Encryption, UserError> {
        if args.passphrase {
            return passphrase().map(Encryption::Passphrase);
        }
        let mut recipients = Vec::new();
        for text in &args.recipient {
            recipients.push(parse_recipient(text).map_err(|e| UserError::usage(format!("--recipient `{text}`: {e}")))?);
        }
        let files: Vec<&Path> = if args.recipient.is_empty() && args.recipients_file.is_empty() {
            settings.recipients_file.iter().map(|p| p.as_path()).collect()
        } else {
            args.recipients_file.iter().map(|p| p.as_path()).collect()
        };
        for file in files {
            recipients.extend(read_recipients_file(file)?);
        }
        if recipients.is_empty() {
            return Err(
                UserError::usage("no recipient: the archive would be readable by no one").with_hint(
                    "pass --recipient age1…, --recipients-file FILE or --passphrase, or set [settings].recipients_file",
                ),
            );
        }
        Ok(Encryption::Recipients(recipients))
    }

    /// A fresh encryptor for one archive.
    pub fn encryptor(&self) -> Result<age::Encryptor, UserError> {
        match self {
            Encryption::Passphrase(p) => Ok(age::Encryptor::with_user_passphrase(p.clone())),
            Encryption::Recipients(list) => {
                age::Encryptor::with_recipients(list.iter().map(|r| r as &dyn age::Recipient))
                    .map_err(|e| UserError::runtime(format!("cannot set up encryption: {e}")))
            }
        }
    }
}

fn parse_recipient(text: &str) -> Result<age::x25519::Recipient, String> {
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

/// `DSAR_PASSPHRASE` for scripts; otherwise asked twice on the terminal.
fn passphrase() -> Result<SecretString, UserError> {
    if let Ok(p) = std::env::var("DSAR_PASSPHRASE") {
        if p.is_empty() {
            return Err(UserError::usage("DSAR_PASSPHRASE is set but empty"));
        }
        return Ok(SecretString::from(p));
    }
    if !std::io::stdin().is_terminal() {
        return Err(UserError::usage("--passphrase needs a terminal to ask on")
            .with_hint("set DSAR_PASSPHRASE for scripts, or use --recipient"));
    }
    let first = rpassword::prompt_password("Passphrase for the archive: ")
        .map_err(|e| UserError::usage(format!("cannot read the passphrase: {e}")))?;
    let second = rpassword::prompt_password("Repeat it: ")
        .map_err(|e| UserError::usage(format!("cannot read the passphrase: {e}")))?;
    if first != second {
        return Err(UserError::usage("the passphrases do not match"));
    }
    if first.is_empty() {
        return Err(UserError::usage("an empty passphrase protects nothing"));
    }
    Ok(SecretString::from(first))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
