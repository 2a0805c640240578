//! Who a request is about: `--subject KEY=VALUE` (several identifiers of one person) or a
//! `--subjects-file` CSV (one person per row).

use std::path::Path;

use crate::cli::SubjectArgs;
use crate::error::{UserError, suggestion};

/// One person, as the operator identified them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// (subject key, value) pairs, in the order given.
    pub ids: Vec<(String, String)>,
    /// The line of `--subjects-file` this person was read from (the header is line 1), so a
    /// batch result can be paired with its input without repeating the identifiers.
    pub line: Option<u64>,
}

impl Subject {
    /// "email=…, user_id=…": only for the operator's own terminal, never for the audit log.
    pub fn describe(&self) -> String {
        self.ids
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The subjects a command acts on, checked against `[subject].keys`.
pub fn from_args(global: &crate::cli::Global, args: &SubjectArgs, keys: &[String]) -> Result<Vec<Subject>, UserError> {
    match &args.subjects_file {
        Some(path) => {
            let (subjects, trimmed) = from_file(path, keys)?;
            warn_trimmed(global, &trimmed);
            Ok(subjects)
        }
        None => {
            let mut ids = Vec::new();
            for arg in &args.subject {
                let (key, value) = arg.split_once('=').ok_or_else(|| {
                    UserError::usage(format!("--subject `{arg}` is not KEY=VALUE")).with_hint(format!(
                        "e.g. --subject {}=…; keys: {}",
                        keys[0],
                        keys.join(", ")
                    ))
                })?;
                ids.push((check_key(key, keys)?, check_value(key, value, "--subject")?));
            }
            Ok(vec![Subject { ids, line: None }])
        }
    }
}

/// The subjects, age-encrypted to the recovery recipients, hex-encoded for the ledger.
pub fn seal(subjects: &[Subject], recipients: &[age::x25519::Recipient]) -> Result<String, UserError> {
    let ids: Vec<&Vec<(String, String)>> = subjects.iter().map(|s| &s.ids).collect();
    let plain = serde_json::to_vec(&ids).map_err(|e| UserError::runtime(format!("cannot seal the subjects: {e}")))?;
    Ok(crate::hex::hex(&crate::envelope::age_encrypt(&plain, recipients)?))
}

pub fn unseal(sealed: &str, identities: &[Box<dyn age::Identity + Send + Sync>]) -> Result<Vec<Subject>, UserError> {
    let damaged = || UserError::runtime("the ledger's sealed subjects are damaged");
    let bytes: Vec<u8> = (0..sealed.len())
        .step_by(2)
        .map(|i| sealed.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<_>>()
        .ok_or_else(damaged)?;
    let plain = crate::envelope::age_decrypt(&bytes, identities)?;
    let ids: Vec<Vec<(String, String)>> = serde_json::from_slice(&plain).map_err(|_| damaged())?;
    Ok(ids.into_iter().map(|ids| Subject { ids, line: None }).collect())
}

fn check_key(key: &str, keys: &[String]) -> Result<String, UserError> {
    if keys.iter().any(|k| k == key) {
        Ok(key.to_string())
    } else {
        Err(UserError::usage(format!(
            "subject key `{key}` is not in [subject].keys{}",
            suggestion(key, keys.iter().map(String::as_str))
        ))
        .with_hint(format!("keys in this source map: {}", keys.join(", "))))
    }
}

fn check_value(key: &str, value: &str, place: &str) -> Result<String, UserError> {
    if value.is_empty() {
        return Err(UserError::usage(format!("{place}: the value for `{key}` is empty")));
    }
    if value.contains('\0') {
        return Err(UserError::usage(format!(
            "{place}: the value for `{key}` contains a NUL byte"
        )));
    }
    Ok(value.to_string())
}

/// The subjects of a subjects file, and the places (`file:line`) of values that had spaces
/// around them, trimmed (a space after each comma is common in hand-written CSV).
fn from_file(path: &Path, keys: &[String]) -> Result<(Vec<Subject>, Vec<String>), UserError> {
    use std::io::Read;
    let cannot =
        |e: &dyn std::fmt::Display| UserError::usage(format!("cannot read subjects file {}: {e}", path.display()));
    // `-` is standard input, as for every file dsar reads. Read whole: a row's line is counted
    // from its place in the text (the CSV reader's count skips blank lines).
    let mut input = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_end(&mut input)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut input))
    }
    .map_err(|e| cannot(&e))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::Headers)
        .from_reader(input.as_slice());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| cannot(&e))?
        .iter()
        .map(str::to_string)
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(UserError::usage(format!(
            "{}: the header row is empty; name subject keys, e.g. email",
            path.display()
        )));
    }
    for name in &header {
        check_key(name, keys).map_err(|e| UserError::usage(format!("{}:1: {}", path.display(), e.message)))?;
    }
    let mut subjects = Vec::new();
    let mut trimmed = Vec::new();
    // Lines before `counted` bytes, counted once: rows come in order.
    let (mut counted, mut line) = (0usize, 1u64);
    for record in reader.records() {
        let record = record.map_err(|e| cannot(&e))?;
        let mut at = record
            .position()
            .map_or(counted, |p| p.byte() as usize)
            .min(input.len());
        // The reader's position is where it started: before any blank lines it skipped.
        while input.get(at).is_some_and(|b| matches!(b, b'\n' | b'\r')) {
            at += 1;
        }
        if at > counted {
            line += input[counted..at].iter().filter(|&&b| b == b'\n').count() as u64;
            counted = at;
        }
        let place = format!("{}:{line}", path.display());
        let ids: Vec<(String, String)> = header
            .iter()
            .zip(record.iter())
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| {
                if v.trim() != v && trimmed.last() != Some(&place) {
                    trimmed.push(place.clone());
                }
                check_value(k, v.trim(), &place).map(|v| (k.clone(), v))
            })
            .collect::<Result<_, _>>()?;
        if ids.is_empty() {
            return Err(UserError::usage(format!("{place}: this row names no identifier")));
        }
        subjects.push(Subject { ids, line: Some(line) });
    }
    if subjects.is_empty() {
        return Err(UserError::usage(format!(
            "{}: no subjects below the header",
            path.display()
        )));
    }
    Ok((subjects, trimmed))
}

/// Say which rows of a subjects file had values with spaces around them: they are looked for
/// without the spaces (matching is exact), so a value stored with them is not found.
fn warn_trimmed(global: &crate::cli::Global, trimmed: &[String]) {
    const SHOWN: usize = 5;
    if trimmed.is_empty() {
        return;
    }
    let more = match trimmed.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!(" and {n} more row(s)"),
    };
    crate::warn_all(
        global,
        &[format!(
            "{}{more}: spaces around a value were trimmed; matching is exact, so the value is looked for without them",
            trimmed[..trimmed.len().min(SHOWN)].join(", ")
        )],
    );
}

/// `key=value` of every identifier the operator gave, for a warning on the terminal (never for
/// the audit log or the ledger).
pub fn describe(subjects: &[Subject]) -> String {
    subjects
        .iter()
        .flat_map(|s| s.ids.iter().map(|(k, v)| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Warn about identifiers with leading or trailing whitespace: matching is exact, so such a
/// value finds only a value stored with the same spaces.
pub fn warn_padded(global: &crate::cli::Global, subjects: &[Subject]) {
    let padded: Vec<String> = subjects
        .iter()
        .flat_map(|s| &s.ids)
        .filter(|(_, v)| v.trim() != v)
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    if !padded.is_empty() {
        crate::warn_all(
            global,
            &[format!(
                "{} has leading or trailing spaces; matching is exact, so it finds only a value stored with them",
                padded.join(", ")
            )],
        );
    }
}
