//! The erasure register: who was erased, kept outside the databases so that it outlives a
//! restore from backup. Restoring last week's dump rolls back `dsar.requests` and the quarantine
//! with the data; the register, in the state dir (and in copies the operator keeps beside the
//! backups), still says which people must not be live, and `dsar check --erased` / `dsar reapply`
//! find and erase them again.
//!
//! An entry holds, per erased person, the keyed hashes (installation key, the same
//! `key:hex` the audit log uses) of the values their rows held in each match column — per source,
//! table and column, never a raw value. It is written as `pending` when the plan is made (the
//! values are read before any row moves), completed when the delete is, and removed when the
//! request is restored on purpose. Each entry, and each exported file, carries an HMAC under the
//! installation key: an altered or truncated register is refused, never read as "nobody".

pub mod command;
pub mod record;
pub mod scan;
pub mod select;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::UserError;
use crate::state::{StateDir, keyed_hex, write_atomically, write_atomically_with};

/// What the exported file says it is.
const FORMAT: &str = "dsar-register/1";

/// One delete request's erased people.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// When the plan was made (RFC 3339); when the delete completed, once it has.
    pub erased_at: String,
    /// Only completed erasures are looked for: a pending one is still being erased (or must
    /// be resumed first).
    pub completed: bool,
    /// For a reapplied erasure: the request it repeats, and which of its people each of this
    /// request's people is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reapplied_from: Option<Reapplied>,
    /// How each table of the plan was erased, so a reapplied erasure does the same.
    pub strategies: Vec<Strategy>,
    /// The delete was allowed to treat identifiers matching several rows as one person
    /// (`--allow-multiple`); a reapplied erasure must be too, or it is refused every time.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_multiple: bool,
    /// Per person, per source, table and column: the keyed hashes of the values matched.
    pub matched: Vec<Matched>,
    #[serde(default)]
    pub mac: String,
}

/// [`Entry`] borrowed, as it is authenticated: the same fields in the same order, serialised
/// the same way (keep the two in step), with `mac` empty.
#[derive(Serialize)]
struct Unsealed<'a> {
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: &'a Option<String>,
    erased_at: &'a str,
    completed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reapplied_from: &'a Option<Reapplied>,
    strategies: &'a [Strategy],
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    allow_multiple: bool,
    matched: &'a [Matched],
    mac: &'a str,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reapplied {
    pub request_id: String,
    /// For each person of this request (by position), that person's number in the original.
    pub people: Vec<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Strategy {
    pub source: String,
    pub table: String,
    pub strategy: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Matched {
    /// The person's number in the request (0 for a request about one person).
    pub person: u32,
    pub source: String,
    pub table: String,
    pub column: String,
    /// `key:hex`, as [`crate::state::subject_hash`] makes them, sorted.
    pub hashes: Vec<String>,
}

impl Entry {
    /// The HMAC of the entry's JSON with `mac` empty, serialised straight into the MAC: an
    /// entry for 10,000 people is neither copied nor held twice as text.
    fn authenticate(&self, key: &[u8]) -> String {
        use hmac::Mac;
        struct MacWriter(hmac::Hmac<sha2::Sha256>);
        impl std::io::Write for MacWriter {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.update(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut mac = MacWriter(hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length"));
        mac.0.update(b"dsar register entry\0");
        let unsealed = Unsealed {
            request_id: &self.request_id,
            ticket: &self.ticket,
            erased_at: &self.erased_at,
            completed: self.completed,
            reapplied_from: &self.reapplied_from,
            strategies: &self.strategies,
            allow_multiple: self.allow_multiple,
            matched: &self.matched,
            mac: "",
        };
        serde_json::to_writer(&mut mac, &unsealed).expect("an entry serializes");
        crate::hex::hex(&mac.0.finalize().into_bytes())
    }

    /// How many people the entry names (numbers may have gaps once a reapplied erasure took
    /// some of them over).
    pub fn people(&self) -> usize {
        let mut people: Vec<u32> = self.matched.iter().map(|m| m.person).collect();
        people.sort_unstable();
        people.dedup();
        people.len()
    }
}

/// The register: one file per request in `<state>/register/`, authenticated with the audit
/// chain's key (which may live outside the state dir, `--audit-key-file`), so write access to
/// the state dir alone cannot forge or re-seal an entry.
pub struct Register {
    dir: PathBuf,
    key: Vec<u8>,
}

/// Where the entries to look for come from: the state dir's register, or a file exported from
/// it (`--register FILE`).
pub enum Origin<'a> {
    State,
    File(&'a Path),
}

impl Register {
    /// `key`: the audit chain key ([`crate::audit::AuditLog::chain_key`]).
    pub fn open(state: &StateDir, key: &[u8]) -> Result<Register, UserError> {
        Ok(Register {
            dir: state.subdir("register")?,
            key: key.to_vec(),
        })
    }

    fn path(&self, request_id: &str) -> Result<PathBuf, UserError> {
        if request_id.is_empty() || !request_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(
                UserError::runtime(format!("`{request_id}` is not a request id; the register is damaged"))
                    .with_hint("restore the register from the copy kept beside the backups (`dsar register export`)"),
            );
        }
        Ok(self.dir.join(format!("{request_id}.json")))
    }

    /// Write `entry` (sealed with its HMAC), replacing what the request had.
    pub fn write(&self, mut entry: Entry) -> Result<(), UserError> {
        entry.mac = entry.authenticate(&self.key);
        // Streamed to the file: an entry for 10,000 people is not held a second time as text.
        // On one line: indented, that entry was 7.9 MB where it is 5.6, written twice by a
        // delete (pending, then complete) and read back once.
        write_atomically_with(&self.path(&entry.request_id)?, |file| {
            serde_json::to_writer(file, &entry).map_err(std::io::Error::from)
        })
    }

    /// The request's entry, if it has one.
    pub fn get(&self, request_id: &str) -> Result<Option<Entry>, UserError> {
        let path = self.path(request_id)?;
        match fs::File::open(&path) {
            // Parsed from the file as it is read: a large entry is not held twice.
            Ok(file) => match serde_json::from_reader(std::io::BufReader::new(file)) {
                // A read that fails is not an entry that does not parse.
                Err(e) if e.is_io() => Err(UserError::runtime(format!("cannot read {}: {e}", path.display()))),
                parsed => self.checked(&path, parsed.ok()).map(Some),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(UserError::runtime(format!("cannot read {}: {e}", path.display()))),
        }
    }

    fn parse(&self, path: &Path, bytes: &[u8]) -> Result<Entry, UserError> {
        self.checked(path, serde_json::from_slice(bytes).ok())
    }

    /// An entry read from `path` (`None`: it did not parse), checked.
    fn checked(&self, path: &Path, entry: Option<Entry>) -> Result<Entry, UserError> {
        let damaged = |why: &str| {
            UserError::runtime(format!("register entry {} {why}", path.display())).with_hint(
                "restore the register from the copy kept beside the backups (`dsar register export`), or read that copy with --register FILE",
            )
        };
        let entry = entry.ok_or_else(|| damaged("does not parse"))?;
        if entry.mac != entry.authenticate(&self.key) {
            return Err(damaged("does not verify under the audit key: it was altered"));
        }
        // An entry copied over another request's file would hide that request's people.
        if path.file_stem().and_then(|n| n.to_str()) != Some(entry.request_id.as_str()) {
            return Err(damaged(&format!(
                "holds request {}, not the one its name says: it was moved",
                entry.request_id
            )));
        }
        Ok(entry)
    }

    /// Hold the register's lock until the returned file is dropped: a change that reads one
    /// entry and writes another (a reapplied erasure taking its original's people over) must
    /// not interleave with another.
    pub fn lock(&self) -> Result<fs::File, UserError> {
        let path = self.dir.join(".lock");
        let fail = |e: std::io::Error| {
            UserError::runtime(format!("cannot lock {}: {e}", path.display()))
                .with_hint("check the state dir's permissions and free space")
        };
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(fail)?;
        file.lock().map_err(fail)?;
        Ok(file)
    }

    /// Forget the request (restored on purpose: its people are live because someone chose so).
    pub fn remove(&self, request_id: &str) -> Result<(), UserError> {
        let path = self.path(request_id)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(UserError::runtime(format!("cannot remove {}: {e}", path.display()))),
        }
    }

    /// Every entry in the state dir, oldest request first.
    pub fn entries(&self) -> Result<Vec<Entry>, UserError> {
        let mut names: Vec<PathBuf> = fs::read_dir(&self.dir)
            .map_err(|e| UserError::runtime(format!("cannot read {}: {e}", self.dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json") && !is_hidden(p))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let bytes = fs::read(p).map_err(|e| UserError::runtime(format!("cannot read {}: {e}", p.display())))?;
                self.parse(p, &bytes)
            })
            .collect()
    }

    /// The completed entries to look for, from the state dir or an exported file.
    pub fn load(&self, from: &Origin<'_>) -> Result<Vec<Entry>, UserError> {
        let entries = match from {
            Origin::State => self.entries()?,
            Origin::File(path) => self.read_file(path)?,
        };
        Ok(entries.into_iter().filter(|e| e.completed).collect())
    }

    /// Write every completed entry to `out`, as one file sealed with an HMAC over all of them:
    /// an entry taken out of the file makes it fail to verify.
    pub fn export(&self, out: &Path) -> Result<usize, UserError> {
        let entries: Vec<Entry> = self.entries()?.into_iter().filter(|e| e.completed).collect();
        let mac = file_mac(&self.key, &entries);
        let file = ExportedFile {
            format: FORMAT.into(),
            exported_at: crate::clock::now_rfc3339(),
            entries,
            mac,
        };
        let json = serde_json::to_vec_pretty(&file).expect("a register serializes");
        write_atomically(out, &json)?;
        Ok(file.entries.len())
    }

    fn read_file(&self, path: &Path) -> Result<Vec<Entry>, UserError> {
        let bytes =
            fs::read(path).map_err(|e| UserError::usage(format!("cannot read register {}: {e}", path.display())))?;
        let wrong = |why: &str| {
            UserError::usage(format!("register {} {why}", path.display()))
                .with_hint("give a file written by `dsar register export` with this installation's state dir")
        };
        let file: ExportedFile = serde_json::from_slice(&bytes).map_err(|_| wrong("is not a dsar register"))?;
        if file.format != FORMAT {
            return Err(wrong(&format!("is in format `{}`, not {FORMAT}", file.format)));
        }
        if file.mac != file_mac(&self.key, &file.entries)
            || file.entries.iter().any(|e| e.mac != e.authenticate(&self.key))
        {
            return Err(wrong(
                "does not verify under this installation's key: it was altered, or comes from another installation",
            ));
        }
        Ok(file.entries)
    }
}

/// A temporary file of [`write_atomically`] (`.name.pid.tmp`).
fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

#[derive(Serialize, Deserialize)]
struct ExportedFile {
    format: String,
    exported_at: String,
    entries: Vec<Entry>,
    mac: String,
}

fn file_mac(key: &[u8], entries: &[Entry]) -> String {
    let json = serde_json::to_vec(entries).expect("entries serialize");
    keyed_hex(key, &[b"dsar register file\0", &json])
}

/// Fold `from`'s hashes into `into` (sorted, no repeats), each (person, source, table, column) once.
pub fn merge(into: &mut Vec<Matched>, from: impl IntoIterator<Item = Matched>) {
    let mut by: BTreeMap<(u32, String, String, String), Vec<String>> = BTreeMap::new();
    for m in into.drain(..).chain(from) {
        by.entry((m.person, m.source, m.table, m.column))
            .or_default()
            .extend(m.hashes);
    }
    *into = by
        .into_iter()
        .map(|((person, source, table, column), mut hashes)| {
            hashes.sort();
            hashes.dedup();
            Matched {
                person,
                source,
                table,
                column,
                hashes,
            }
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            request_id: "20261130-120000-abcd1234".into(),
            ticket: Some("DSAR-1".into()),
            erased_at: "2026-11-30T12:00:00Z".into(),
            completed: true,
            reapplied_from: None,
            strategies: vec![],
            allow_multiple: false,
            matched: vec![Matched {
                person: 0,
                source: "main".into(),
                table: "public.users".into(),
                column: "email".into(),
                hashes: vec!["email:00".into()],
            }],
            mac: String::new(),
        }
    }

    /// The borrowed serialisation authenticates exactly what the entry's own did, so entries
    /// written by earlier releases still verify.
    #[test]
    fn the_mac_is_the_one_of_the_entry_with_mac_empty() {
        for mut e in [entry(), {
            let mut e = entry();
            e.ticket = None;
            e.allow_multiple = true;
            e.reapplied_from = Some(Reapplied {
                request_id: "20261129-000000-00000000".into(),
                people: vec![3, 1],
            });
            e.mac = "stale".into();
            e
        }] {
            let mut body = e.clone();
            body.mac = String::new();
            let expected = keyed_hex(b"k", &[b"dsar register entry\0", &serde_json::to_vec(&body).unwrap()]);
            assert_eq!(e.authenticate(b"k"), expected);
            e.mac = expected.clone();
            assert_eq!(e.authenticate(b"k"), expected);
        }
    }

    #[test]
    fn an_altered_entry_or_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::open(Some(dir.path())).unwrap();
        let register = Register::open(&state, b"k").unwrap();
        register.write(entry()).unwrap();
        assert_eq!(register.entries().unwrap().len(), 1);
        let out = dir.path().join("register.json");
        assert_eq!(register.export(&out).unwrap(), 1);
        assert_eq!(register.load(&Origin::File(&out)).unwrap().len(), 1);
        // Another installation's key does not read it.
        let other = Register::open(&state, b"other").unwrap();
        assert!(other.load(&Origin::File(&out)).is_err());
        // An entry taken out of the file.
        let text = fs::read_to_string(&out).unwrap();
        let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
        file["entries"] = serde_json::json!([]);
        fs::write(&out, file.to_string()).unwrap();
        assert!(register.load(&Origin::File(&out)).is_err());
        // A hash changed in the state dir.
        let path = dir.path().join("register/20261130-120000-abcd1234.json");
        let altered = fs::read_to_string(&path).unwrap().replace("email:00", "email:01");
        fs::write(&path, altered).unwrap();
        assert!(register.entries().is_err());
    }

    #[test]
    fn merging_keeps_each_column_once() {
        let mut into = entry().matched;
        let mut more = entry().matched;
        more[0].hashes = vec!["email:01".into(), "email:00".into()];
        merge(&mut into, more);
        assert_eq!(into.len(), 1);
        assert_eq!(into[0].hashes, vec!["email:00", "email:01"]);
    }
}
