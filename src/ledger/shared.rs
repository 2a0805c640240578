//! A batch's records in one file, under every request's name.
//!
//! A batch export of 100 people ends with 100 records. Written a file each, that is 100 files
//! created, 100 fsyncs and 100 renames per batch: on ext4 without a journal each created file
//! also steps over every inode freed in the last minute or more. Here the batch's records are
//! one file (up to [`PER_FILE`] records), a compact record a line, hard-linked as `<id>.json`
//! for each of its requests (a link is a name, not a new file), then fsynced once, and the
//! folder fsynced once: one fsync of the ledger per batch. A request whose record is later
//! rewritten (`note_afterwards`, `resume`) gets a file of its own by the usual rename, which
//! unlinks only its own name.
//!
//! A record file holds one record, pretty-printed (`{` then a newline), or a batch's lines,
//! each starting `{"request_id":` (the field serialized first), so a reader tells them apart
//! by their first bytes.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::UserError;

/// How a batch's record file starts, and each of its lines.
const LINE_START: &[u8] = b"{\"request_id\":";

/// Records per file at most: a batch of 10,000 people is 79 files, not one of megabytes that
/// every name would read whole (`dsar status`), and that a copy not keeping hard links (`cp
/// -r`, `rsync` without `-H`) would write once per name.
pub const PER_FILE: usize = 128;

/// How the line of request `id` starts, in a batch's records file as in a run's queue
/// (`request_id` is the first field).
pub fn line_start(id: &str) -> String {
    format!("{{\"request_id\":{}", serde_json::Value::from(id))
}

/// Write `records`, each as `line` gives it (request id, compact JSON without a newline), as
/// files of up to [`PER_FILE`] lines in `dir` (a file's lines made only as it is written: a
/// batch of 10,000 people held 31 MB of them at once), link each as `<id>.json` for its
/// requests (replacing an existing one: a progress record written during the batch), then
/// fsync each file once (several at a time), which makes its data and its count of names
/// durable. The caller fsyncs `dir` afterwards, once for the batch, and tells no one before:
/// until both, a power loss can leave a name missing or its file empty (`damaged`), a crash
/// cannot. On an error the records linked stay
/// (each is whole), the others are still linked if they can be (a file whose lines do not
/// serialize is skipped, the files after it are written), and the first error is returned.
pub fn write<T>(
    dir: &Path,
    records: &[T],
    line: impl Fn(&T) -> Result<(String, Vec<u8>), UserError>,
) -> Result<(), UserError> {
    let fail = |path: &Path, e: std::io::Error| UserError::runtime(format!("cannot write {}: {e}", path.display()));
    let mut files = Vec::new();
    let mut first_error = None;
    for records in records.chunks(PER_FILE) {
        let chunk = match records.iter().map(&line).collect::<Result<Vec<_>, _>>() {
            Ok(chunk) => chunk,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        match write_unlinked(dir, &chunk) {
            Ok((temp, file)) => {
                for (id, _) in &chunk {
                    if let Err(e) = link(&temp, dir, id) {
                        first_error.get_or_insert_with(|| fail(&dir.join(format!("{id}.json")), e));
                    }
                }
                // The file stays under the requests' names; its own name goes. One left behind
                // (by a crash) is a hidden name beside the records, and reads as nothing.
                if let Err(e) = fs::remove_file(&temp) {
                    eprintln!("warning: cannot remove {}: {e}", temp.display());
                }
                files.push((temp, file));
            }
            Err((path, e)) => {
                first_error.get_or_insert_with(|| fail(&path, e));
                break;
            }
        }
    }
    if let Err((i, e)) = crate::fsync::each(&files, |(_, file)| file.sync_all()) {
        first_error.get_or_insert_with(|| fail(&files[i].0, e));
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// `lines` written to a new hidden file of `dir`, not synced: its path, and the file open.
fn write_unlinked(dir: &Path, lines: &[(String, Vec<u8>)]) -> Result<(PathBuf, File), (PathBuf, std::io::Error)> {
    loop {
        // Random, not the pid and a count: a container's dsar has the same pid every run, and
        // a file a killed run left must not stop the next.
        let temp = dir.join(format!(".records.{:016x}.tmp", rand::random::<u64>()));
        let mut file = match OpenOptions::new().create_new(true).write(true).mode(0o600).open(&temp) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err((temp, e)),
        };
        let written = (|| {
            let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, &mut file);
            for (_, line) in lines {
                buffered.write_all(line)?;
                buffered.write_all(b"\n")?;
            }
            buffered.flush()
        })();
        return match written {
            Ok(()) => Ok((temp, file)),
            Err(e) => {
                let _ = fs::remove_file(&temp);
                Err((temp, e))
            }
        };
    }
}

/// Link `file` as `dir/<id>.json`, replacing what is there.
fn link(file: &Path, dir: &Path, id: &str) -> std::io::Result<()> {
    link_as(dir, id, |name| fs::hard_link(file, name))
}

/// Give a file the name `dir/<id>.json` with `hard_link` (which makes a new name of it),
/// replacing what is there: a name already taken (a progress record written during the batch)
/// is replaced by a rename from a hidden name beside it, never removed first.
pub fn link_as(dir: &Path, id: &str, hard_link: impl Fn(&Path) -> std::io::Result<()>) -> std::io::Result<()> {
    let path = dir.join(format!("{id}.json"));
    match hard_link(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let beside = dir.join(format!(".{id}.json.{:016x}.link", rand::random::<u64>()));
            hard_link(&beside)?;
            fs::rename(&beside, &path).inspect_err(|_| {
                let _ = fs::remove_file(&beside);
            })
        }
        other => other,
    }
}

/// How old a hidden name of [`write`] must be to be taken for one a dead process left: a live
/// one keeps it for the moments between writing the file and linking it.
const STALE: std::time::Duration = std::time::Duration::from_secs(600);

/// Whether `name` (at `path`) is a hidden name [`write`] left behind (a temporary records file
/// or a link on its way to a request's name), or the temporary file of a record or a run's queue
/// whose process is gone (`.<name>.<pid>.tmp`, see `state::write_atomically`: a kill while a
/// run wrote its queue left one), and older than [`STALE`].
pub fn is_stale_temp(name: &str, path: &Path) -> bool {
    let temp = (name.starts_with(".records.") && name.ends_with(".tmp"))
        || (name.starts_with('.') && name.contains(".json.") && name.ends_with(".link"))
        || writer_is_gone(name);
    temp && fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .is_ok_and(|at| at.elapsed().is_ok_and(|age| age > STALE))
}

/// Whether `name` is `.<record or queue name>.<pid>.tmp` and no process has that pid (one of another user's
/// counts as alive: dsar cannot tell it is not the writer).
fn writer_is_gone(name: &str) -> bool {
    let Some((written, pid)) = name
        .strip_prefix('.')
        .and_then(|n| n.strip_suffix(".tmp"))
        .and_then(|n| n.rsplit_once('.'))
    else {
        return false;
    };
    // Only what dsar writes there: a record, or a run's queue.
    if !((written.len() > ".json".len() && written.ends_with(".json"))
        || (written.starts_with("run-") && written.ends_with(super::QUEUE_SUFFIX)))
    {
        return false;
    }
    if !pid.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Ok(pid) = pid.parse::<libc::pid_t>() else {
        return false;
    };
    // SAFETY: signal 0 only asks whether the process exists; nothing is sent.
    let alive =
        unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    pid > 0 && !alive
}

/// Whether `text` (a record file) is a batch's file of lines.
pub fn is_shared(text: &[u8]) -> bool {
    text.starts_with(LINE_START)
}

/// The record of request `id` in `text`, a record file: the whole of it, or its line of a
/// batch's file (`None` when that has no line for `id`).
pub fn record_text<'a>(id: &str, text: &'a [u8]) -> Option<&'a [u8]> {
    if !is_shared(text) {
        return Some(text);
    }
    let start = line_start(id);
    lines(text).find(|line| line.starts_with(start.as_bytes()))
}

/// Where each request's line is in `text`, a batch's file, by request id: for reading many
/// names of one file without searching it for each. The id is read from the line's start, as
/// [`record_text`] finds it, and the first line of an id is its line, as there.
pub fn index(text: &[u8]) -> HashMap<String, Range<usize>> {
    let mut at = HashMap::new();
    let base = text.as_ptr() as usize;
    for line in lines(text) {
        let Some(rest) = line.strip_prefix(LINE_START) else {
            continue;
        };
        let Some(Ok(id)) = serde_json::Deserializer::from_slice(rest).into_iter::<String>().next() else {
            continue;
        };
        // Only an id written as `line_start` writes it is found by `record_text` too.
        if !line.starts_with(line_start(&id).as_bytes()) {
            continue;
        }
        let start = line.as_ptr() as usize - base;
        at.entry(id).or_insert(start..start + line.len());
    }
    at
}

fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|b| *b == b'\n').filter(|line| !line.is_empty())
}

/// The first record of a record file, parsed as JSON: a batch's file's first line.
pub fn first_record(text: &[u8]) -> Option<serde_json::Value> {
    serde_json::Deserializer::from_slice(text)
        .into_iter::<serde_json::Value>()
        .next()
        .and_then(Result::ok)
}

#[cfg(test)]
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let (a, b) = (fs::metadata(a).unwrap(), fs::metadata(b).unwrap());
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file whose lines do not serialize is skipped and reported; the files after it are
    /// still written and linked.
    #[test]
    fn a_file_that_does_not_serialize_leaves_the_others_written() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..PER_FILE + 2).map(|i| format!("s{i:04}")).collect();
        let result = write(dir.path(), &ids, |id| {
            if id == "s0000" {
                Err(UserError::runtime("no line"))
            } else {
                Ok((id.clone(), format!("{{\"request_id\":\"{id}\"}}").into_bytes()))
            }
        });
        assert!(result.is_err());
        assert!(
            !dir.path().join("s0001.json").exists(),
            "the first file was skipped whole"
        );
        let last = &ids[PER_FILE + 1];
        let text = fs::read(dir.path().join(format!("{last}.json"))).unwrap();
        assert!(record_text(last, &text).is_some());
    }

    /// More records than a file holds are several files, each linked under its requests' names
    /// and each name reading its own line (found by its start and by the index alike); an
    /// existing name is replaced; no temporary name is left.
    #[test]
    fn records_are_files_of_at_most_per_file_lines_under_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<String> = (0..PER_FILE + 3).map(|i| format!("r{i:04}")).collect();
        fs::write(dir.path().join("r0001.json"), b"{\n  \"request_id\": \"r0001\"\n}").unwrap();
        let records: Vec<(String, Vec<u8>)> = ids
            .iter()
            .map(|id| (id.clone(), format!("{{\"request_id\":\"{id}\",\"n\":1}}").into_bytes()))
            .collect();
        write(dir.path(), &records, |r| Ok(r.clone())).unwrap();
        let path = |id: &str| dir.path().join(format!("{id}.json"));
        assert!(same_file(&path(&ids[0]), &path(&ids[PER_FILE - 1])));
        assert!(!same_file(&path(&ids[0]), &path(&ids[PER_FILE])));
        assert!(same_file(&path(&ids[PER_FILE]), &path(&ids[PER_FILE + 2])));
        for id in &ids {
            let text = fs::read(path(id)).unwrap();
            let line = record_text(id, &text).unwrap();
            assert_eq!(line, format!("{{\"request_id\":\"{id}\",\"n\":1}}").as_bytes());
            assert_eq!(&text[index(&text)[id].clone()], line);
        }
        assert!(record_text("r9999", &fs::read(path(&ids[0])).unwrap()).is_none());
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(names.is_empty(), "{names:?}");
        assert_eq!(
            first_record(&fs::read(path(&ids[5])).unwrap()).unwrap()["request_id"],
            "r0000"
        );
    }

    /// Hidden names a dead process left are stale once ten minutes old; fresh ones (a live
    /// process between writing and linking), a live process's temporary files and records
    /// are not.
    #[test]
    fn only_old_hidden_names_of_a_batch_are_stale() {
        let dir = tempfile::tempdir().unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        // A process that has ended (its pid not reused in the moments of this test).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = child.id();
        child.wait().unwrap();
        for (name, aged, stale) in [
            (".records.0123456789abcdef.tmp", true, true),
            (".r1.json.0123456789abcdef.link", true, true),
            (".records.fedcba9876543210.tmp", false, false),
            ("r1.json", true, false),
            (&format!(".r1.json.{}.tmp", std::process::id()), true, false),
            (&format!(".run-x.queue.{}.tmp", std::process::id()), true, false),
            (&format!(".run-x.queue.{gone}.tmp"), true, true),
            (&format!(".r1.json.{gone}.tmp"), true, true),
            (&format!(".r1.json.{gone}.tmp.x"), true, false),
            (&format!(".run-x.queue.{gone}.tmp"), false, false),
            (".run-x.queue.0.tmp", true, false),
            (".run-x.queue.+12.tmp", true, false),
            (&format!(".keepme.{gone}.tmp"), true, false),
            (&format!("..{gone}.tmp"), true, false),
            (&format!(".x.queue.{gone}.tmp"), true, false),
        ] {
            let path = dir.path().join(name);
            let file = fs::File::create(&path).unwrap();
            if aged {
                file.set_modified(old).unwrap();
            }
            assert_eq!(is_stale_temp(name, &path), stale, "{name}");
        }
    }
}
