//! The further pages of an archive (`pages/<source>/<file>-N.html`), compressed on a thread of
//! their own while the writer thread is still deflating the data files.
//!
//! A large subject's pages are more bytes than its data files (every value escaped into HTML):
//! deflating them after the data, on the writer thread, was the serial tail of a large export.
//! Each finished page goes to this thread, which deflates it into a zip of its own, kept in a
//! [`Spool`] (so what waits is compressed and encrypted, and memory stays flat); when the data
//! files are done the writer copies those entries into the archive as they are.

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::archive::{ArchiveWriter, EntrySummary, entry_options};
use super::page_spool::{Back, Spool};
use crate::error::UserError;
use crate::hex::hex;

/// Pages waiting for the thread (each about a megabyte at most, or one row when a single value
/// is larger; see `PAGE_BYTES`).
const WAITING: usize = 2;

/// One finished page: where it goes in the archive, and its whole text.
pub struct Page {
    pub path: String,
    pub html: String,
}

pub struct PageWorker {
    pages: Option<SyncSender<Page>>,
    thread: Option<JoinHandle<Result<Compressed, UserError>>>,
}

/// What the thread made: the pages, compressed, and what each holds (for the manifest).
pub struct Compressed {
    zip: ZipArchive<Back>,
    pub entries: Vec<EntrySummary>,
}

impl PageWorker {
    /// A thread whose spool, if it needs a file, goes in `dir`.
    pub fn start(dir: &Path) -> Result<PageWorker, UserError> {
        let (tx, rx) = sync_channel::<Page>(WAITING);
        let dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("dsar-pages".into())
            .spawn(move || {
                let mut zip = zip::ZipWriter::new_stream(Spool::new(&dir));
                let mut entries = Vec::new();
                // A failed write of the spool already says where and why (a full disk).
                let fail = |e: zip::result::ZipError| match e {
                    zip::result::ZipError::Io(io) => UserError::runtime(io.to_string()),
                    other => UserError::runtime(format!("cannot compress a page: {other}")),
                };
                for page in rx {
                    zip.start_file(page.path.as_str(), entry_options()).map_err(fail)?;
                    zip.write_all(page.html.as_bytes())
                        .map_err(|e| fail(zip::result::ZipError::Io(e)))?;
                    entries.push(EntrySummary {
                        path: page.path,
                        bytes: page.html.len() as u64,
                        sha256: hex(&Sha256::digest(page.html.as_bytes())),
                    });
                }
                let spool: Spool = zip.finish().map_err(fail)?.into_inner();
                let zip = ZipArchive::new(spool.read_back()?).map_err(fail)?;
                Ok(Compressed { zip, entries })
            })
            .map_err(|e| UserError::runtime(format!("cannot start the page thread: {e}")))?;
        Ok(PageWorker {
            pages: Some(tx),
            thread: Some(thread),
        })
    }

    /// Hand one finished page to the thread (waits while it is behind).
    pub fn send(&mut self, page: Page) -> Result<(), UserError> {
        if self.pages.as_ref().is_some_and(|tx| tx.send(page).is_ok()) {
            return Ok(());
        }
        // The thread stopped on an error: that error says why.
        match self.join() {
            Err(e) => Err(e),
            Ok(_) => Err(UserError::runtime("the page thread stopped")),
        }
    }

    /// Wait for the thread to compress every page sent.
    pub fn finish(mut self) -> Result<Compressed, UserError> {
        self.join()
    }

    fn join(&mut self) -> Result<Compressed, UserError> {
        self.pages = None;
        let thread = self
            .thread
            .take()
            .ok_or_else(|| UserError::runtime("the page thread stopped"))?;
        thread
            .join()
            .map_err(|_| UserError::runtime("the page thread panicked"))?
    }
}

impl Compressed {
    /// Copy every page into `archive`, in the order they were sent.
    pub fn copy_into(mut self, archive: &mut ArchiveWriter) -> Result<Vec<EntrySummary>, UserError> {
        for i in 0..self.zip.len() {
            let entry = self
                .zip
                .by_index_raw(i)
                .map_err(|e| UserError::runtime(format!("cannot read back a compressed page: {e}")))?;
            archive.copy_compressed(entry)?;
        }
        Ok(self.entries)
    }
}
