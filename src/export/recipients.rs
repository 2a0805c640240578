//! Who can open an export: age X25519 recipients, or a passphrase.

use std::io::IsTerminal;
use std::path::Path;

use age::secrecy::SecretString;

use super::recipient_table::TabledRecipient;
use crate::age_keys::{parse_recipient, read_recipients_file};
use crate::cli::ExportArgs;
use crate::config::Settings;
use crate::error::UserError;

/// How archives are encrypted.
#[derive(Clone)]
pub enum Encryption {
    /// Each with its table, built once for the whole export (see [`TabledRecipient`]).
    Recipients(Vec<TabledRecipient>),
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
        Ok(Encryption::to(recipients))
    }

    /// Encryption to `recipients`, each given its table once for the whole export.
    pub fn to(recipients: Vec<age::x25519::Recipient>) -> Encryption {
        Encryption::Recipients(recipients.into_iter().map(TabledRecipient::new).collect())
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
