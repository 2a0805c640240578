//! The writer thread of an export batch: where the rows the database sends go.
//!
//! A batch of a few subjects writes every archive at once as the rows stream ([`write_rows`]).
//! A larger batch cannot keep an archive open per subject (each holds a deflate window, an age
//! stream and a page book: memory would grow with `--batch-size`), so its rows go to one spool
//! ([`RowSpool`]) and the archives are built afterwards, a few at a time, each from its own rows.
//! Both run the same steps per archive ([`OpenArchive::begin`], [`OpenArchive::row`],
//! [`OpenArchive::end`]), so an archive reads the same whichever way it was made.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::archive::ArchiveWriter;
use super::encode::TableEncoder;
use super::manifest::FileEntry;
use super::page::{PageBook, SectionInfo};
use crate::envelope::DataKey;
use crate::error::UserError;
use crate::source::field::Field;
use crate::source::{ExportRow, Spares};

/// Batches of up to this many subjects write their archives while the rows stream; larger ones
/// spool (see the module's comment). Each open archive costs about a megabyte.
pub const OPEN_AT_ONCE: usize = 8;

/// Chunks of rows the writer is done with, handed back to the thread that read them (see
/// [`Spent`]), and the values the next rows are read into ([`Spares`]).
pub struct SpentRows {
    chunks: std::sync::mpsc::Receiver<Vec<ExportRow>>,
    pub spares: Spares,
}

/// Where the writer hands back the chunks it is done with, so the reading thread frees (or
/// reuses) what it allocated. Freed here, each value would take the allocator's lock of the
/// reading thread's arena while that thread allocates the next rows: measured, a quarter of a
/// large export's time went to that contention. Bounded to two chunks (the reader takes them
/// back before each new one): when the reader is behind, the writer frees a chunk itself.
#[derive(Clone)]
pub struct Spent(std::sync::mpsc::SyncSender<Vec<ExportRow>>);

impl Spent {
    pub fn channel() -> (Spent, SpentRows) {
        let (tx, rx) = std::sync::mpsc::sync_channel(2);
        (
            Spent(tx),
            SpentRows {
                chunks: rx,
                spares: Spares::default(),
            },
        )
    }

    fn hand_back(&self, rows: Vec<ExportRow>) {
        let _ = self.0.try_send(rows);
    }
}

/// An empty chunk for the next rows: one handed back by the writer (its rows' values kept to be
/// read into again when `keep`, else freed on this thread; its capacity reused), or a new one.
pub fn next_chunk(spent: &SpentRows, capacity: usize, keep: bool) -> Vec<ExportRow> {
    let mut chunk = None;
    while let Ok(mut old) = spent.chunks.try_recv() {
        if keep {
            spent.spares.keep(old.drain(..));
        } else {
            old.clear();
        }
        chunk = Some(old);
    }
    chunk.unwrap_or_else(|| Vec::with_capacity(capacity))
}

/// Messages to the writer thread.
pub enum SinkMessage {
    Begin(Arc<TableStart>),
    Rows(Vec<ExportRow>),
    End,
}

/// What an archive needs to open a table's entry.
pub struct TableStart {
    pub path: String,
    pub source: String,
    pub table: String,
    pub encoder: Arc<TableEncoder>,
    pub section: SectionInfo,
}

/// An archive being written, with what it holds so far.
pub struct OpenArchive {
    pub writer: ArchiveWriter,
    rows_in_entry: u64,
    pub files: Vec<FileEntry>,
    /// What the map says of each table in `files`, in the same order.
    pub abouts: Vec<Arc<crate::config::About>>,
    pub book: PageBook,
}

impl OpenArchive {
    pub fn new(writer: ArchiveWriter, out_dir: &Path) -> OpenArchive {
        OpenArchive {
            writer,
            rows_in_entry: 0,
            files: Vec::new(),
            abouts: Vec::new(),
            book: PageBook::new(out_dir),
        }
    }

    fn begin(&mut self, table: &TableStart, buf: &mut Vec<u8>) -> Result<(), UserError> {
        buf.clear();
        table.encoder.header(buf);
        self.writer.start_entry(&table.path)?;
        self.writer.write(buf)?;
        self.rows_in_entry = 0;
        self.abouts.push(table.section.about.clone());
        self.book.begin(table.section.clone())?;
        Ok(())
    }

    fn row(&mut self, encoder: &TableEncoder, values: &[Field], buf: &mut Vec<u8>) -> Result<(), UserError> {
        buf.clear();
        encoder.row(self.rows_in_entry == 0, values, buf);
        self.writer.write(buf)?;
        self.book.row(values)?;
        self.rows_in_entry += 1;
        Ok(())
    }

    fn end(&mut self, table: &TableStart, buf: &mut Vec<u8>) -> Result<(), UserError> {
        buf.clear();
        table.encoder.footer(self.rows_in_entry > 0, buf);
        self.writer.write(buf)?;
        let entry = self.writer.finish_entry()?;
        self.files.push(FileEntry {
            path: entry.path,
            source: Some(table.source.clone()),
            table: Some(table.table.clone()),
            rows: Some(self.rows_in_entry),
            columns: table.encoder.columns().to_vec(),
            bytes: entry.bytes,
            sha256: entry.sha256,
        });
        Ok(())
    }
}

/// Which subjects of the batch (by position) a row belongs to: its owners, or all of them. A
/// row the server found for the batch but for none of its people would be in no archive, and
/// the archives would say complete: the batch fails instead.
fn targets(row: &ExportRow, subjects: usize, table: &TableStart) -> Result<Vec<usize>, UserError> {
    let targets: Vec<usize> = match &row.owners {
        None => (0..subjects).collect(),
        Some(owners) => owners.iter().map(|&o| o as usize).filter(|&o| o < subjects).collect(),
    };
    if targets.is_empty() {
        return Err(UserError::runtime(format!(
            "source `{}`, table `{}`: a row was found for the batch but for none of its people; \
             no archive of this batch is finished",
            table.source, table.table
        ))
        .with_hint("export these people one at a time (a batch of one needs no owners), and report it"));
    }
    Ok(targets)
}

/// Write each row into the open archives of the subjects it belongs to, as it arrives.
pub fn write_rows(
    mut rx: mpsc::Receiver<SinkMessage>,
    spent: Spent,
    mut archives: Vec<OpenArchive>,
) -> Result<Vec<OpenArchive>, UserError> {
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut current: Option<Arc<TableStart>> = None;
    while let Some(message) = rx.blocking_recv() {
        match message {
            SinkMessage::Begin(table) => {
                for archive in &mut archives {
                    archive.begin(&table, &mut buf)?;
                }
                current = Some(table);
            }
            SinkMessage::Rows(rows) => {
                let Some(table) = &current else { continue };
                for row in &rows {
                    for target in targets(row, archives.len(), table)? {
                        archives[target].row(&table.encoder, &row.values, &mut buf)?;
                    }
                }
                spent.hand_back(rows);
            }
            SinkMessage::End => {
                let Some(table) = current.take() else { continue };
                for archive in &mut archives {
                    archive.end(&table, &mut buf)?;
                }
            }
        }
    }
    Ok(archives)
}

/// The rows of a batch, kept until their archives are built: one temporary file (unlinked,
/// each row sealed under a key that exists only in this process, so plaintext never reaches the
/// disk) and, per subject, where its rows are in it. Memory: 16 bytes per row and subject it
/// belongs to, whatever the rows hold.
pub struct RowSpool {
    file: BufWriter<File>,
    key: DataKey,
    written: u64,
    tables: Vec<Arc<TableStart>>,
    /// `rows[subject]`: where each of its rows is, in the order they streamed (so by table). One
    /// list a subject, not one a table: a batch of 10,000 people's 80,000 lists, mostly of a
    /// row or two, cost 8 MB.
    rows: Vec<Vec<Spooled>>,
}

/// Where a spooled row is, and which of the batch's tables it is from (in what would be padding).
#[derive(Clone, Copy)]
struct Spooled {
    offset: u64,
    len: u32,
    table: u32,
}

impl RowSpool {
    /// Spool the rows of `subjects` subjects, in a temporary file in `dir`.
    pub fn new(dir: &Path, subjects: usize) -> Result<RowSpool, UserError> {
        let file = tempfile::tempfile_in(dir).map_err(|e| spool_error(dir, &e))?;
        Ok(RowSpool {
            file: BufWriter::with_capacity(256 * 1024, file),
            key: DataKey::generate(),
            written: 0,
            tables: Vec::new(),
            rows: vec![Vec::new(); subjects],
        })
    }

    /// Take every message of the batch.
    pub fn take(mut self, mut rx: mpsc::Receiver<SinkMessage>, spent: Spent) -> Result<RowSpool, UserError> {
        let fail = |e: std::io::Error| UserError::runtime(format!("cannot write the export spool: {e}"));
        let mut open = false;
        let mut plain = Vec::new();
        while let Some(message) = rx.blocking_recv() {
            match message {
                SinkMessage::Begin(table) => {
                    self.tables.push(table);
                    open = true;
                }
                SinkMessage::Rows(rows) => {
                    // As `write_rows`: rows outside a table's Begin and End go nowhere.
                    if !open {
                        continue;
                    }
                    let t = self.tables.len() - 1;
                    for row in &rows {
                        let targets = targets(row, self.rows.len(), &self.tables[t])?;
                        plain.clear();
                        for value in &row.values {
                            value.encode(&mut plain);
                        }
                        let sealed = self.key.seal(&plain, &self.written.to_be_bytes());
                        let len = u32::try_from(sealed.len())
                            .map_err(|_| UserError::runtime("a row over 4 GiB cannot be exported"))?;
                        self.file.write_all(&sealed).map_err(fail)?;
                        for target in targets {
                            self.rows[target].push(Spooled {
                                offset: self.written,
                                len,
                                table: t as u32,
                            });
                        }
                        self.written += u64::from(len);
                    }
                    spent.hand_back(rows);
                }
                SinkMessage::End => open = false,
            }
        }
        self.file.flush().map_err(fail)?;
        Ok(self)
    }

    pub fn subjects(&self) -> usize {
        self.rows.len()
    }

    /// Write subject `subject`'s tables into `archive`, in the order they streamed.
    pub fn replay(&self, subject: usize, archive: &mut OpenArchive) -> Result<(), UserError> {
        let fail = |e: String| UserError::runtime(format!("cannot read back the export spool: {e}"));
        let file = self.file.get_ref();
        // Grows to what the subject's rows need (most hold a few hundred bytes).
        let mut buf = Vec::new();
        let mut run = Vec::new();
        let mut values = Vec::new();
        let mut rest = self.rows[subject].as_slice();
        for (t, table) in self.tables.iter().enumerate() {
            archive.begin(table, &mut buf)?;
            let n = rest.iter().take_while(|r| r.table as usize == t).count();
            let (rows, after) = rest.split_at(n);
            rest = after;
            let mut rest_of_table = rows;
            while !rest_of_table.is_empty() {
                // Rows stored one after another (a person's rows mostly stream together) are
                // read at once: one read per row was a tenth of a batch's syscalls.
                let (start, end, n) = next_run(rest_of_table);
                run.resize((end - start) as usize, 0);
                file.read_exact_at(&mut run, start).map_err(|e| fail(e.to_string()))?;
                for &Spooled { offset, len, .. } in &rest_of_table[..n] {
                    let at = (offset - start) as usize;
                    let plain = self.key.open(&run[at..at + len as usize], &offset.to_be_bytes())?;
                    values.clear();
                    let mut rest = plain.as_slice();
                    while !rest.is_empty() {
                        values.push(Field::decode(&mut rest).ok_or_else(|| fail("a row does not read back".into()))?);
                    }
                    archive.row(&table.encoder, &values, &mut buf)?;
                }
                rest_of_table = &rest_of_table[n..];
            }
            archive.end(table, &mut buf)?;
        }
        Ok(())
    }
}

/// The most bytes [`RowSpool::replay`] reads at once (a row larger than this is read alone).
const RUN_BYTES: u64 = 64 * 1024;

/// The first run of `rows` (offset, length) stored one after another, at most [`RUN_BYTES`]
/// long unless its first row alone is longer: where it starts, where it ends, how many rows.
fn next_run(rows: &[Spooled]) -> (u64, u64, usize) {
    let start = rows[0].offset;
    let mut end = start + u64::from(rows[0].len);
    let mut n = 1;
    while let Some(&Spooled { offset, len, .. }) = rows.get(n) {
        if offset != end || end + u64::from(len) - start > RUN_BYTES {
            break;
        }
        end += u64::from(len);
        n += 1;
    }
    (start, end, n)
}

fn spool_error(dir: &Path, e: &std::io::Error) -> UserError {
    UserError::runtime(format!("cannot create the export spool in {}: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_adjacent_rows_up_to_the_limit() {
        // Adjacent, then a gap, then a row read before (a row of several people), then adjacent.
        let at = |offset: u64, len: u32| Spooled { offset, len, table: 0 };
        let rows = [at(0, 10), at(10, 5), at(40, 2), at(0, 10), at(10, 5), at(15, 1)];
        assert_eq!(next_run(&rows), (0, 15, 2));
        assert_eq!(next_run(&rows[2..]), (40, 42, 1));
        assert_eq!(next_run(&rows[3..]), (0, 16, 3));
        // A run stops before it would pass RUN_BYTES; a row larger than that is a run alone.
        let big = RUN_BYTES as u32;
        assert_eq!(
            next_run(&[at(0, big - 1), at(u64::from(big) - 1, 2)]),
            (0, u64::from(big) - 1, 1)
        );
        assert_eq!(
            next_run(&[at(0, big + 7), at(u64::from(big) + 7, 1)]),
            (0, u64::from(big) + 7, 1)
        );
        assert_eq!(
            next_run(&[at(0, big - 1), at(u64::from(big) - 1, 1)]),
            (0, u64::from(big), 2)
        );
    }
}
