//! Where a page's rendered rows wait until the archive can take them: memory up to 256 KiB, then
//! a temporary file, unlinked, encrypted with a key that exists only in this process (plaintext
//! never reaches the disk). Read back by offset ([`Back`] seeks through the decryption).

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::UserError;

/// Bytes kept in memory before the spool becomes a file: no file and no key exchange for a
/// small archive, flat memory for a large one.
const IN_MEMORY: usize = 256 * 1024;

pub struct Spool {
    dir: PathBuf,
    store: Store,
    written: u64,
    /// A write as a [`Write`] failed: its error went to the writer; later writes (a zip
    /// finishing itself as it is dropped) are dropped too, so nothing else is printed.
    failed: bool,
}

enum Store {
    Memory(Vec<u8>),
    File {
        writer: age::stream::StreamWriter<BufWriter<File>>,
        identity: age::x25519::Identity,
    },
}

impl Spool {
    /// An empty spool whose file, if it needs one, goes in `dir`.
    pub fn new(dir: &Path) -> Spool {
        Spool {
            dir: dir.to_path_buf(),
            store: Store::Memory(Vec::new()),
            written: 0,
            failed: false,
        }
    }

    /// Bytes written so far: the offset the next write starts at.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn append(&mut self, bytes: &[u8]) -> Result<(), UserError> {
        if let Store::Memory(held) = &mut self.store {
            if held.len() + bytes.len() <= IN_MEMORY {
                held.extend_from_slice(bytes);
                self.written += bytes.len() as u64;
                return Ok(());
            }
            let held = std::mem::take(held);
            let mut store = open_file_store(&self.dir)?;
            if let Store::File { writer, .. } = &mut store {
                writer.write_all(&held).map_err(|e| spool_error(&self.dir, e))?;
            }
            self.store = store;
        }
        if let Store::File { writer, .. } = &mut self.store {
            writer.write_all(bytes).map_err(|e| spool_error(&self.dir, e))?;
        }
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Everything written, readable from the start.
    pub fn read_back(self) -> Result<Back, UserError> {
        let dir = self.dir;
        let (writer, identity) = match self.store {
            Store::Memory(held) => return Ok(Back::Memory(io::Cursor::new(held))),
            Store::File { writer, identity } => (writer, identity),
        };
        let back = || -> io::Result<Back> {
            let mut file = writer.finish()?.into_inner().map_err(io::IntoInnerError::into_error)?;
            file.seek(SeekFrom::Start(0))?;
            let decryptor = age::Decryptor::new(BufReader::new(file)).map_err(io::Error::other)?;
            // The key was made for this spool alone and is dropped with it.
            decryptor
                .decrypt(std::iter::once(&identity as &dyn age::Identity))
                .map(Back::File)
                .map_err(io::Error::other)
        };
        back().map_err(|e| spool_error(&dir, e))
    }
}

/// A spool as a writer (for a zip written into it).
impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Ok(buf.len());
        }
        if let Err(e) = self.append(buf) {
            self.failed = true;
            return Err(io::Error::other(e.to_string()));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A spool read back: from memory or through the file's decryption.
pub enum Back {
    Memory(io::Cursor<Vec<u8>>),
    File(age::stream::StreamReader<BufReader<File>>),
}

impl Read for Back {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Back::Memory(c) => c.read(buf),
            Back::File(r) => r.read(buf),
        }
    }
}

impl Seek for Back {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Back::Memory(c) => c.seek(pos),
            Back::File(r) => r.seek(pos),
        }
    }
}

fn open_file_store(dir: &Path) -> Result<Store, UserError> {
    let file = tempfile::tempfile_in(dir).map_err(|e| spool_error(dir, e))?;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| UserError::runtime(format!("cannot set up the page spool: {e}")))?;
    let writer = encryptor
        .wrap_output(BufWriter::with_capacity(16 * 1024, file))
        .map_err(|e| spool_error(dir, e))?;
    Ok(Store::File { writer, identity })
}

fn spool_error(dir: &Path, e: io::Error) -> UserError {
    UserError::runtime(format!("cannot write the page spool in {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spool_reads_back_what_was_written_in_memory_and_from_its_file() {
        let dir = tempfile::tempdir().unwrap();
        for size in [1000, IN_MEMORY * 3] {
            let mut spool = Spool::new(dir.path());
            let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            for chunk in bytes.chunks(7777) {
                spool.append(chunk).unwrap();
            }
            assert_eq!(spool.written(), size as u64);
            let mut back = spool.read_back().unwrap();
            back.seek(SeekFrom::Start(500)).unwrap();
            let mut read = Vec::new();
            back.read_to_end(&mut read).unwrap();
            assert_eq!(read, bytes[500..]);
        }
    }
}
