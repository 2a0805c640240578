//! The records of a batch's requests that ended, on disk as each ends instead of in memory until
//! the batch is recorded: a batch of 10,000 people held 11 MB of them (a compact line is about
//! 1.1 KB), half of its heap at its peak.
//!
//! Lines go to files that have no name yet (Linux's `O_TMPFILE`, in the ledger's folder): a
//! crash or `kill -9` leaves nothing behind, so what a crash leaves is what it left when the
//! lines waited in memory, and nothing reads a record before its batch's sync gives it its
//! name. The sync links each file under its requests' names, then fsyncs it, as
//! [`shared::write`] does with the files it writes: the same files, the same guarantees. Where
//! the file system cannot make a file without a name (or a write fails), the line waits in
//! memory and is written by [`shared::write`] at the sync, as before.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use super::shared;
use crate::error::UserError;

/// The lines of the requests that ended since the last sync.
pub struct Spool {
    dir: Arc<Path>,
    files: Vec<File>,
    /// The file lines go to now (an index of `files`) and its length. Its lines are the last of
    /// `lines` (a line kept in memory closes it first).
    open: Option<(usize, u64)>,
    /// Every line, in the order the requests ended (a request that ended twice: twice).
    lines: Vec<(String, Place)>,
    /// Set once a file without a name could not be made: the lines after wait in memory.
    no_unnamed: bool,
}

enum Place {
    File { file: usize, at: u64, len: usize },
    Memory(Box<[u8]>),
}

impl Spool {
    pub fn new(dir: Arc<Path>) -> Spool {
        Spool {
            dir,
            files: Vec::new(),
            open: None,
            lines: Vec::new(),
            no_unnamed: false,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Keep `line` (a record, compact JSON without a newline) of request `id`. Never fails: a
    /// line that cannot be written to a file waits in memory.
    pub fn push(&mut self, id: String, mut line: Vec<u8>) {
        line.push(b'\n');
        let place = self.write(&id, &line).unwrap_or_else(|| {
            line.pop();
            Place::Memory(line.into_boxed_slice())
        });
        self.lines.push((id, place));
    }

    /// `line` appended to the open file (a new one when it is full or has a line of `id`: a
    /// reader takes the first line of a request in a file as its record).
    fn write(&mut self, id: &str, line: &[u8]) -> Option<Place> {
        if let Some((open, _)) = self.open {
            let in_open = self
                .lines
                .iter()
                .rev()
                .take_while(|(_, place)| matches!(place, Place::File { file, .. } if *file == open));
            let (mut count, mut has_id) = (0, false);
            for (other, _) in in_open {
                count += 1;
                has_id |= other == id;
            }
            if count >= shared::PER_FILE || has_id {
                self.open = None;
            }
        }
        if self.open.is_none() {
            if self.no_unnamed {
                return None;
            }
            match unnamed_file(&self.dir) {
                Ok(file) => {
                    self.files.push(file);
                    self.open = Some((self.files.len() - 1, 0));
                }
                Err(_) => {
                    self.no_unnamed = true;
                    return None;
                }
            }
        }
        let (file, at) = self.open.as_mut()?;
        match self.files[*file].write_all_at(line, *at) {
            Ok(()) => {
                let place = Place::File {
                    file: *file,
                    at: *at,
                    len: line.len() - 1,
                };
                *at += line.len() as u64;
                Some(place)
            }
            // Part of the line may be in the file, after its last whole line: no line is
            // written after it, and no name is given to the file for it.
            Err(_) => {
                self.open = None;
                None
            }
        }
    }

    /// Write the last record of each request: one alone by `alone` (its id and line); several
    /// under their names in the files they are in, each file fsynced once (those waiting in
    /// memory through [`shared::write`]). The caller fsyncs the folder. Returns the requests'
    /// ids, in the order they ended. On an error the records linked stay (each is whole), the
    /// others are still linked if they can be, and the first error is returned.
    pub fn write_all(
        mut self,
        alone: impl FnOnce(&str, &[u8]) -> Result<(), UserError>,
    ) -> Result<Vec<String>, UserError> {
        // The last line of each request, in place.
        let mut seen = HashSet::new();
        self.lines.reverse();
        self.lines.retain(|(id, _)| seen.insert(id.clone()));
        self.lines.reverse();
        drop(seen);
        let ids: Vec<String> = self.lines.iter().map(|(id, _)| id.clone()).collect();
        match self.lines.as_slice() {
            [] => {}
            [(id, place)] => {
                let line = match place {
                    Place::Memory(line) => line.to_vec(),
                    Place::File { file, at, len } => {
                        let mut line = vec![0; *len];
                        self.files[*file]
                            .read_exact_at(&mut line, *at)
                            .map_err(|e| self.failed(e))?;
                        line
                    }
                };
                alone(id, &line)?;
            }
            many => {
                let mut first_error = None;
                let mut linked = vec![false; self.files.len()];
                let mut kept = Vec::new();
                for (id, place) in many {
                    match place {
                        Place::File { file, .. } => {
                            let from = &self.files[*file];
                            match shared::link_as(&self.dir, id, |name| link(from, name)) {
                                Ok(()) => linked[*file] = true,
                                Err(e) => {
                                    first_error.get_or_insert_with(|| self.failed(e));
                                }
                            }
                        }
                        Place::Memory(line) => kept.push((id, line)),
                    }
                }
                let linked: Vec<&File> = self
                    .files
                    .iter()
                    .zip(&linked)
                    .filter(|(_, l)| **l)
                    .map(|(f, _)| f)
                    .collect();
                if let Err((_, e)) = crate::fsync::each(&linked, |file| file.sync_all()) {
                    first_error.get_or_insert_with(|| self.failed(e));
                }
                if !kept.is_empty()
                    && let Err(e) = shared::write(&self.dir, &kept, |(id, line)| Ok((id.to_string(), line.to_vec())))
                {
                    first_error.get_or_insert(e);
                }
                if let Some(e) = first_error {
                    return Err(e);
                }
            }
        }
        Ok(ids)
    }

    fn failed(&self, e: io::Error) -> UserError {
        UserError::runtime(format!(
            "cannot write the ledger's records in {}: {e}",
            self.dir.display()
        ))
    }
}

/// A new file in `dir` that has no name: gone with the last descriptor unless linked first.
#[cfg(target_os = "linux")]
fn unnamed_file(dir: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
}

#[cfg(not(target_os = "linux"))]
fn unnamed_file(_dir: &Path) -> io::Result<File> {
    Err(io::ErrorKind::Unsupported.into())
}

/// Make `name` a name of `file` (one without a name, from [`unnamed_file`]): `linkat(2)` of its
/// descriptor through `/proc/self/fd`, as the man page of `open(2)` gives it for `O_TMPFILE`.
#[cfg(target_os = "linux")]
fn link(file: &File, name: &Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    let from = std::ffi::CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    let to = std::ffi::CString::new(name.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated C strings that outlive the call.
    let linked = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if linked == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn link(_file: &File, _name: &Path) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool(dir: &Path) -> Spool {
        Spool::new(Arc::from(dir))
    }

    fn line(id: &str, n: u32) -> Vec<u8> {
        format!("{}, \"n\": {n}}}", shared::line_start(id)).into_bytes()
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Nothing appears in the folder before the sync, and a spool dropped without one (a crash
    /// drops nothing, but its files go with the process all the same) leaves nothing.
    #[test]
    fn lines_have_no_name_until_written_and_leave_nothing_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spool(dir.path());
        for i in 0..300 {
            s.push(format!("r{i:03}"), line(&format!("r{i:03}"), i));
        }
        assert!(names(dir.path()).is_empty());
        assert!(
            s.lines.iter().all(|(_, p)| matches!(p, Place::File { .. })),
            "spooled to files"
        );
        drop(s);
        assert!(names(dir.path()).is_empty());
    }

    /// Each request's name reads its last line, in a file of at most PER_FILE lines, and a
    /// request that ended twice is read as its second end, not its first.
    #[test]
    fn each_request_is_linked_to_its_last_line() {
        let dir = tempfile::tempdir().unwrap();
        // A progress record written during the batch, replaced by the link.
        std::fs::write(dir.path().join("r005.json"), b"{\n  \"progress\": 1\n}").unwrap();
        let mut s = spool(dir.path());
        for i in 0..200 {
            s.push(format!("r{i:03}"), line(&format!("r{i:03}"), i));
        }
        s.push("r005".into(), line("r005", 1005));
        s.push("r199".into(), line("r199", 1199));
        let ids = s.write_all(|_, _| panic!("not alone")).unwrap();
        assert_eq!(ids.len(), 200);
        let read = |id: &str| {
            let text = std::fs::read(dir.path().join(format!("{id}.json"))).unwrap();
            assert!(text.iter().filter(|b| **b == b'\n').count() <= shared::PER_FILE);
            String::from_utf8(shared::record_text(id, &text).unwrap().to_vec()).unwrap()
        };
        assert_eq!(read("r000"), String::from_utf8(line("r000", 0)).unwrap());
        assert_eq!(read("r005"), String::from_utf8(line("r005", 1005)).unwrap());
        assert_eq!(read("r199"), String::from_utf8(line("r199", 1199)).unwrap());
        assert_eq!(read("r150"), String::from_utf8(line("r150", 150)).unwrap());
        let listed = names(dir.path());
        assert_eq!(
            listed.len(),
            200,
            "one name per request, no hidden name left: {listed:?}"
        );
    }

    /// One request alone is handed back whole, to be written as a record of its own.
    #[test]
    fn a_request_alone_is_handed_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spool(dir.path());
        s.push("only".into(), line("only", 1));
        s.push("only".into(), line("only", 2));
        let mut got = None;
        let ids = s
            .write_all(|id, l| {
                got = Some((id.to_string(), l.to_vec()));
                Ok(())
            })
            .unwrap();
        assert_eq!(ids, ["only"]);
        assert_eq!(got, Some(("only".to_string(), line("only", 2))));
        assert!(names(dir.path()).is_empty());
    }

    /// Where no file without a name can be made, lines wait in memory and are written as before.
    #[test]
    fn lines_wait_in_memory_where_no_unnamed_file_can_be_made() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spool(dir.path());
        s.no_unnamed = true;
        for i in 0..3 {
            s.push(format!("m{i}"), line(&format!("m{i}"), i));
        }
        assert!(s.lines.iter().all(|(_, p)| matches!(p, Place::Memory(_))));
        s.write_all(|_, _| panic!("not alone")).unwrap();
        for i in 0..3 {
            let text = std::fs::read(dir.path().join(format!("m{i}.json"))).unwrap();
            assert_eq!(
                shared::record_text(&format!("m{i}"), &text).unwrap(),
                line(&format!("m{i}"), i).as_slice()
            );
        }
    }
}
