//! The local state directory: audit log, installation key, request ledger.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::UserError;
use crate::hex::hex;

/// The state dir a command uses: `--state-dir`/`DSAR_STATE_DIR`, else the map's
/// `[settings] state_dir` (relative to the map, so one map means one audit log wherever it is
/// run from), else `None` for the per-user default.
pub fn resolve(global: &crate::cli::Global) -> Option<PathBuf> {
    if let Some(dir) = &global.state_dir {
        return Some(dir.clone());
    }
    // Only this one key: commands that need no map (audit, jobs) still find the map's state.
    map_setting(global, "state_dir").map(|dir| beside_map(global, PathBuf::from(dir)))
}

/// One `[settings]` key of the map, read alone (before the map is loaded in full, so commands
/// that need no map still honour it, and a broken map is reported by the command itself).
pub fn map_setting(global: &crate::cli::Global, key: &str) -> Option<String> {
    let text = fs::read_to_string(&global.config).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    value.get("settings")?.get(key)?.as_str().map(str::to_string)
}

/// `path` from the map, relative to the map's directory unless absolute.
fn beside_map(global: &crate::cli::Global, path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        return path;
    }
    let base = global.config.parent().filter(|p| !p.as_os_str().is_empty());
    base.map_or(path.clone(), |b| b.join(&path))
}

#[derive(Clone)]
pub struct StateDir {
    pub root: PathBuf,
}

impl StateDir {
    /// `--state-dir`/`DSAR_STATE_DIR`, else `$XDG_STATE_HOME/dsar`, else `~/.local/state/dsar`.
    pub fn open(explicit: Option<&Path>) -> Result<StateDir, UserError> {
        let root = match explicit {
            Some(p) => p.to_path_buf(),
            None => match (std::env::var_os("XDG_STATE_HOME"), std::env::var_os("HOME")) {
                (Some(x), _) if !x.is_empty() => PathBuf::from(x).join("dsar"),
                (_, Some(h)) if !h.is_empty() => PathBuf::from(h).join(".local/state/dsar"),
                _ => {
                    return Err(UserError::usage(
                        "no state directory: set --state-dir or DSAR_STATE_DIR",
                    ));
                }
            },
        };
        create_private_dir(&root)?;
        Ok(StateDir { root })
    }

    pub fn audit_dir(&self) -> Result<PathBuf, UserError> {
        self.subdir("audit")
    }

    /// A folder of the state dir (`requests`, `cases`, …), created 0700 when missing.
    pub fn subdir(&self, name: &str) -> Result<PathBuf, UserError> {
        let dir = self.root.join(name);
        create_private_dir(&dir)?;
        Ok(dir)
    }

    /// The per-installation secret that keys subject hashes. Created on first use, mode 0600.
    /// Two processes racing to create it both end up with the one that won.
    pub fn installation_key(&self) -> Result<Vec<u8>, UserError> {
        // A new key beside an existing log or ledger would make every earlier event fail to
        // verify and every subject search miss: that is a lost key, never a first use.
        key_file(
            &self.root.join("installation.key"),
            || self.history(),
            |path| {
                format!(
                    "restore {} from your backup of the state dir; if it is lost for good, move audit/ and requests/ aside (keep them) and start again",
                    path.display()
                )
            },
        )
    }

    /// The key that seals the audit chain (event hashes, `head.json`, `removed.json`): the file
    /// `audit_key_file` names (`DSAR_AUDIT_KEY_FILE`, `[settings] audit_key_file`), created on
    /// first use, so whoever can write the state dir cannot forge the log; else the
    /// installation key.
    pub fn chain_key(&self, audit_key_file: Option<&Path>) -> Result<Vec<u8>, UserError> {
        let Some(path) = audit_key_file else {
            return self.installation_key();
        };
        let history = || {
            let audit = self.root.join("audit");
            let has_events = fs::read_dir(&audit).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name.ends_with(".jsonl") || name == "head.json") && e.metadata().is_ok_and(|m| m.len() > 0)
                })
            });
            has_events.then(|| format!("{} holds an audit log", audit.display()))
        };
        key_file(path, history, |path| {
            format!(
                "restore {} from its backup; an audit key file is set up before a log's first event (to start one, move audit/ aside, keep it, and run again)",
                path.display()
            )
        })
    }
}

/// The key in `path`, created (random, 0600) when the file does not exist and `history` finds
/// nothing that an earlier key sealed; otherwise a missing file is an error with `hint`.
fn key_file(
    path: &Path,
    history: impl FnOnce() -> Option<String>,
    hint: impl FnOnce(&Path) -> String,
) -> Result<Vec<u8>, UserError> {
    if let Ok(text) = fs::read_to_string(path) {
        return decode_key(&text, path);
    }
    if let Some(found) = history() {
        return Err(UserError::usage(format!(
            "{} is missing, but {found}: a new key would make all of it unverifiable",
            path.display()
        ))
        .with_hint(hint(path)));
    }
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        f.write_all(hex(&key).as_bytes())?;
        f.sync_all()
    };
    write().map_err(|e| UserError::runtime(format!("cannot create {}: {e}", path.display())))?;
    let linked = fs::hard_link(&temp, path);
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(key.to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text = fs::read_to_string(path)
                .map_err(|e| UserError::runtime(format!("cannot read {}: {e}", path.display())))?;
            decode_key(&text, path)
        }
        Err(e) => Err(UserError::runtime(format!("cannot create {}: {e}", path.display()))),
    }
}

/// The audit key file a command uses: `DSAR_AUDIT_KEY_FILE`, else the map's
/// `[settings] audit_key_file` (relative to the map), else none.
pub fn audit_key_file(global: &crate::cli::Global) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DSAR_AUDIT_KEY_FILE").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    map_setting(global, "audit_key_file").map(|path| beside_map(global, PathBuf::from(path)))
}

impl StateDir {
    /// What of an earlier life this state dir holds (audit events, ledger records), if anything.
    fn history(&self) -> Option<String> {
        let has = |dir: &str, wanted: &dyn Fn(&str) -> bool| {
            fs::read_dir(self.root.join(dir)).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    wanted(&name) && e.metadata().is_ok_and(|m| m.len() > 0)
                })
            })
        };
        if has("audit", &|n| n.ends_with(".jsonl") || n == "head.json") {
            Some(format!("{} holds an audit log", self.root.join("audit").display()))
        } else if has("requests", &|n| n.ends_with(".json") && !n.starts_with('.')) {
            Some(format!(
                "{} holds request records",
                self.root.join("requests").display()
            ))
        } else {
            None
        }
    }
}

fn decode_key(text: &str, path: &Path) -> Result<Vec<u8>, UserError> {
    let text = text.trim();
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    match bytes {
        Some(b) if b.len() == 32 => Ok(b),
        _ => Err(
            UserError::runtime(format!("{} is damaged (expected 64 hex digits)", path.display()))
                .with_hint("restore it from backup: without it, audit searches by subject no longer match"),
        ),
    }
}

fn create_private_dir(dir: &Path) -> Result<(), UserError> {
    private_dir(dir).map_err(|e| UserError::usage(format!("cannot create state directory {}: {e}", dir.display())))
}

/// Replace `path` with `bytes` atomically: a temp file beside it (0600, per process, so two
/// writers never mix theirs), fsync, rename. A reader sees the old content or the new, whole.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), UserError> {
    write_replacing_with(path, true, |file| file.write_all(bytes))
}

/// [`write_atomically`] without the fsync, for a group of writes made durable together later
/// (a batch's ledger records, see `Ledger::sync`). Readers still see old or new, whole; only a
/// power loss before that sync can leave the file as it was, or empty.
pub fn write_unsynced(path: &Path, bytes: &[u8]) -> Result<(), UserError> {
    write_replacing_with(path, false, |file| file.write_all(bytes))
}

/// [`write_atomically`] of what `write` writes, streamed to the file (a large JSON document is
/// never held whole in memory).
pub fn write_atomically_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), UserError> {
    write_replacing_with(path, true, write)
}

fn write_replacing_with(
    path: &Path,
    sync: bool,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), UserError> {
    let fail = |e: std::io::Error| UserError::runtime(format!("cannot write {}: {e}", path.display()));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&temp)
        .map_err(fail)?;
    let mut buffered = std::io::BufWriter::new(&mut file);
    let written = write(&mut buffered).and_then(|()| buffered.flush());
    drop(buffered);
    let done = written
        .and_then(|()| if sync { file.sync_all() } else { Ok(()) })
        .and_then(|()| fs::rename(&temp, path));
    if done.is_err() {
        // A full disk, a failed write: no temp file is left behind.
        let _ = fs::remove_file(&temp);
    }
    done.map_err(fail)
}

/// Create `dir` (and missing parents) readable only by its owner (0700 whatever the umask). A
/// folder that exists is never re-permissioned — it may be shared on purpose — but one that
/// others can write gets a warning, since they could alter what dsar keeps there.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    match fs::metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o022 != 0 {
                eprintln!(
                    "warning: {} is writable by {} (mode {mode:o}): whoever can write it can alter what dsar keeps there; \
                     `chmod 700` it, or use a folder of your own",
                    dir.display(),
                    if mode & 0o002 != 0 { "everyone" } else { "its group" }
                );
            }
            Ok(())
        }
        Ok(_) => Err(std::io::Error::other("exists and is not a folder")),
        Err(_) => {
            fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        }
    }
}

/// A subject identifier as the audit log stores it: `key:` + HMAC-SHA256(installation key,
/// "key=value"). Searchable by whoever holds the key and the raw value; reveals nothing otherwise.
/// HMAC-SHA256 under `key` of `parts` fed in order, as hex: the one way the audit chain, its
/// records and the ledger authenticate what they write (each starts with its own domain tag).
pub fn keyed_hex(key: &[u8], parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    for part in parts {
        mac.update(part);
    }
    hex(&mac.finalize().into_bytes())
}

pub fn subject_hash(key: &[u8], id_key: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id_key.as_bytes());
    mac.update(b"=");
    mac.update(value.as_bytes());
    format!("{id_key}:{}", hex(&mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installation_key_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let a = state.installation_key().unwrap();
        let b = state.installation_key().unwrap();
        assert_eq!(a, b);
        let mode = fs::metadata(dir.path().join("installation.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn subject_hash_is_keyed_and_hides_the_value() {
        let h1 = subject_hash(b"k1", "email", "a@x");
        assert_ne!(h1, subject_hash(b"k2", "email", "a@x"));
        assert!(h1.starts_with("email:") && !h1.contains("a@x"));
    }
}
