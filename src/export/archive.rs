//! One export archive on disk: zip entries streamed through age into a temporary file beside the
//! target, made durable (fsync, a batch's archives together: [`persist_all`]) and then renamed into
//! place. Plaintext exists only in memory, one buffer at a time; a failed or interrupted export
//! leaves no file behind (a killed one, a hidden `.partial` file at most).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;
use zip::ZipWriter;
use zip::write::{SimpleFileOptions, StreamWriter};

use crate::error::UserError;
use crate::hex::hex;

/// Counts and hashes the bytes passing through, so the archive's own checksum costs no re-read.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    bytes: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type Encrypted = age::stream::StreamWriter<Hashing<BufWriter<File>>>;

/// What an entry of the archive holds, for the manifest.
#[derive(Debug, Clone)]
pub struct EntrySummary {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The archive once it is in place.
#[derive(Debug, Clone)]
pub struct ArchiveSummary {
    pub path: PathBuf,
    pub bytes: u64,
    /// Of the encrypted file, as it is on disk.
    pub sha256: String,
}

struct OpenEntry {
    path: String,
    hasher: Sha256,
    bytes: u64,
    /// Whether the zip entry is open: an entry starts in [`ArchiveWriter::pending`] and opens
    /// only once it outgrows [`SMALL_ENTRY`] or ends.
    started: bool,
}

/// Entries that end within this many bytes are written whole once they end (see
/// [`small_entry_options`]); larger ones stream through deflate as they come.
const SMALL_ENTRY: usize = 16 * 1024;

/// Measured on the bench's 25k-row subject (five runs each, CPU seconds and archive bytes):
/// level 1: 0.56 s, 1.01 MB; 2: 0.61 s, 0.78 MB; 3: 0.58 s, 0.75 MB; 4: 0.68 s, 0.72 MB; 6 (zlib's
/// default): 0.78 s, 0.67 MB; level 3 then cost a quarter less CPU than 6 for 13% more bytes.
/// Once rows stopped being allocated value by value, deflate became the writer's largest cost;
/// on the 251k-row subject (four runs each, client CPU seconds, archive bytes): level 3: 0.61 s,
/// 7.68 MB; 2 (zlib-rs's "fast" strategy, no lazy matching): 0.55 s, 7.97 MB; 1: 0.51 s,
/// 10.39 MB. Level 2: a tenth less CPU than 3 for 4% more bytes (1 costs 35% more bytes).
const DEFLATE_LEVEL: i64 = 2;

/// How an entry is written when its size is not known as it starts: a streamed entry, a page.
pub fn entry_options() -> SimpleFileOptions {
    SimpleFileOptions::default()
        .last_modified_time(zip_time_now())
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(DEFLATE_LEVEL))
        .large_file(true)
        .unix_permissions(0o644)
}

/// How an entry known in full, and no larger than [`SMALL_ENTRY`], is written. Each deflated
/// entry costs a fresh compressor (zlib-rs zeroes about 200 KiB for one) and, from level 2 on, a
/// block of Huffman trees, which for a few hundred bytes outweighs the deflating; level 1 (the
/// quick strategy: fixed trees) skips the trees. A batch's archives are mostly such entries.
/// Measured on 1,000 of the bench's ordinary users (11 entries each, on tmpfs so the file system
/// does not hide it; wall seconds, bytes of an archive): every entry at level 3, 0.99 s, 8.3 kB;
/// small ones at level 1, 0.88 s, 10.7 kB. Storing the smallest was faster still (0.84 s), but
/// an archive written as a stream marks every entry's sizes as following its data, and
/// streaming readers (Java's `ZipInputStream`, say) refuse that for a stored entry: every entry
/// is deflated.
fn small_entry_options() -> SimpleFileOptions {
    // Known to be small: 32-bit sizes, which every reader takes (a streamed entry's zip64 sizes
    // after its data are misread by Java's `ZipInputStream`).
    entry_options().compression_level(Some(1)).large_file(false)
}

pub struct ArchiveWriter {
    zip: ZipWriter<StreamWriter<Encrypted>>,
    temp: NamedTempFile,
    target: PathBuf,
    entry: Option<OpenEntry>,
    /// The first bytes of the open entry, until it is known to be small or not.
    pending: Vec<u8>,
}

impl ArchiveWriter {
    /// Start `dir/name` (which must not exist yet). Nothing appears under that name until
    /// [`ArchiveWriter::finish_unsynced`] and [`persist_all`] succeed.
    pub fn create(dir: &Path, name: &str, encryptor: age::Encryptor) -> Result<ArchiveWriter, UserError> {
        let target = free_target(dir, name)?;
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(dir)
            .map_err(|e| UserError::runtime(format!("cannot create a file in {}: {e}", dir.display())))?;
        let file = temp.as_file().try_clone().map_err(|e| io_error(&target, e))?;
        let hashing = Hashing {
            // Small: the age stream writes its chunks (64 KiB each) straight through, so this
            // only gathers the header and a small archive's one chunk; a batch has a hundred
            // archives open, and 256 KiB each kept the allocator busy mapping and trimming.
            inner: BufWriter::with_capacity(16 * 1024, file),
            hasher: Sha256::new(),
            bytes: 0,
        };
        let encrypted = encryptor.wrap_output(hashing).map_err(|e| io_error(&target, e))?;
        Ok(ArchiveWriter {
            zip: ZipWriter::new_stream(encrypted),
            temp,
            target,
            entry: None,
            pending: Vec::new(),
        })
    }

    pub fn start_entry(&mut self, path: &str) -> Result<(), UserError> {
        debug_assert!(self.entry.is_none(), "start_entry before the last entry was finished");
        self.entry = Some(OpenEntry {
            path: path.to_string(),
            hasher: Sha256::new(),
            bytes: 0,
            started: false,
        });
        self.pending.clear();
        Ok(())
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), UserError> {
        let entry = self.entry.as_mut().expect("write outside an entry");
        entry.hasher.update(bytes);
        entry.bytes += bytes.len() as u64;
        if !entry.started {
            if self.pending.len() + bytes.len() <= SMALL_ENTRY {
                self.pending.extend_from_slice(bytes);
                return Ok(());
            }
            entry.started = true;
            let path = entry.path.clone();
            self.open_with_pending(&path, entry_options())?;
        }
        self.zip.write_all(bytes).map_err(|e| io_error(&self.target, e))
    }

    /// Start the zip entry `path` and write what the entry held back so far.
    fn open_with_pending(&mut self, path: &str, options: SimpleFileOptions) -> Result<(), UserError> {
        self.zip
            .start_file(path, options)
            .map_err(|e| io_error(&self.target, io::Error::other(e)))?;
        self.zip
            .write_all(&self.pending)
            .map_err(|e| io_error(&self.target, e))?;
        self.pending.clear();
        Ok(())
    }

    /// Copy an entry compressed elsewhere (a page compressed off this thread: see
    /// [`super::page_worker`]) as it is, without inflating it again.
    pub fn copy_compressed<R: io::Read>(&mut self, entry: zip::read::ZipFile<'_, R>) -> Result<(), UserError> {
        self.zip
            .raw_copy_file(entry)
            .map_err(|e| io_error(&self.target, io::Error::other(e)))
    }

    /// Close the current entry and say what it holds.
    pub fn finish_entry(&mut self) -> Result<EntrySummary, UserError> {
        let entry = self.entry.take().expect("finish_entry without start_entry");
        if !entry.started {
            self.open_with_pending(&entry.path, small_entry_options())?;
        }
        Ok(EntrySummary {
            path: entry.path,
            bytes: entry.bytes,
            sha256: hex(&entry.hasher.finalize()),
        })
    }

    /// Write the zip directory and finish the age stream, still under the temporary name:
    /// [`persist_all`] makes a batch of them durable and renames them into place.
    pub fn finish_unsynced(self) -> Result<Unsynced, UserError> {
        let target = self.target;
        let encrypted = self
            .zip
            .finish()
            .map_err(|e| io_error(&target, io::Error::other(e)))?
            .into_inner();
        let hashing = encrypted.finish().map_err(|e| io_error(&target, e))?;
        let Hashing { inner, hasher, bytes } = hashing;
        let mut file = inner.into_inner().map_err(|e| io_error(&target, e.into_error()))?;
        file.flush().map_err(|e| io_error(&target, e))?;
        Ok(Unsynced {
            temp: Pending::Open(self.temp),
            summary: ArchiveSummary {
                path: target,
                bytes,
                sha256: hex(&hasher.finalize()),
            },
        })
    }
}

/// `dir/name`, refused if something is there already: an archive never replaces a file.
pub fn free_target(dir: &Path, name: &str) -> Result<PathBuf, UserError> {
    let target = dir.join(name);
    if target.exists() {
        return Err(UserError::runtime(format!(
            "{} already exists; refusing to overwrite it",
            target.display()
        )));
    }
    Ok(target)
}

/// A finished archive not yet under its name: open and not yet durable, or (see [`sync_open`])
/// durable and closed.
pub struct Unsynced {
    temp: Pending,
    summary: ArchiveSummary,
}

enum Pending {
    Open(NamedTempFile),
    Synced(tempfile::TempPath),
}

/// Make the open archives of `archives` durable, each on the descriptor that wrote it, and close
/// them, still under their temporary names. A spooled batch (`--batch-size` up to 10,000) does
/// this for each group of archives it builds, so it holds a group's descriptors, not one per
/// person (with the usual limit of 1,024 open files, a batch of 900 once failed with "Too many
/// open files"); [`persist_all`] then only renames them.
pub fn sync_open(archives: Vec<Unsynced>) -> Result<Vec<Unsynced>, UserError> {
    Ok(synced(archives)?
        .into_iter()
        .map(|(temp, summary)| Unsynced {
            temp: Pending::Synced(temp),
            summary,
        })
        .collect())
}

/// `archives` durable and closed (those still open synced on their own descriptors, several at
/// a time), each as its temporary path and summary.
fn synced(archives: Vec<Unsynced>) -> Result<Vec<(tempfile::TempPath, ArchiveSummary)>, UserError> {
    crate::fsync::each(&archives, |archive| match &archive.temp {
        Pending::Open(temp) => temp.as_file().sync_all(),
        Pending::Synced(_) => Ok(()),
    })
    .map_err(|(i, e)| io_error(&archives[i].summary.path, e))?;
    Ok(archives
        .into_iter()
        .map(|Unsynced { temp, summary }| match temp {
            Pending::Open(temp) => (temp.into_temp_path(), summary),
            Pending::Synced(temp) => (temp, summary),
        })
        .collect())
}

/// Make `archives` (all in `dir`) durable, rename each into place, then fsync `dir` once so the
/// renames are durable too. Every archive is written before the fsyncs, which run several at a
/// time ([`crate::fsync::each`]); each, on the descriptor that wrote the file, also reports a
/// write-back error of that file (those [`sync_open`] synced already are only renamed). A name
/// therefore never shows an archive whose bytes a power loss could still take; a
/// crash before the renames leaves `.partial` files, which hold no name a resume would trust.
pub fn persist_all(dir: &Path, archives: Vec<Unsynced>) -> Result<Vec<ArchiveSummary>, UserError> {
    let archives = synced(archives)?;
    let mut done = Vec::with_capacity(archives.len());
    let mut renamed = Ok(());
    for (temp, summary) in archives {
        if let Err(e) = temp.persist_noclobber(&summary.path) {
            renamed = Err(io_error(&summary.path, e.error));
            break;
        }
        done.push(summary);
    }
    // The renames made so far are made durable even when one failed.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| UserError::runtime(format!("cannot write to {}: {e}", dir.display())))?;
    renamed.map(|()| done)
}

/// The current UTC time as zip stores it (so entries do not read 1980-01-01 in `unzip -l`).
fn zip_time_now() -> zip::DateTime {
    let now = time::OffsetDateTime::now_utc();
    zip::DateTime::from_date_and_time(
        now.year().clamp(1980, 2107) as u16,
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
    )
    .unwrap_or_default()
}

fn io_error(target: &Path, e: io::Error) -> UserError {
    UserError::runtime(format!("cannot write {}: {e}", target.display()))
}

/// An archive in `dir` for a new identity, for tests.
#[cfg(test)]
pub(crate) fn test_archive(dir: &Path) -> (ArchiveWriter, age::x25519::Identity) {
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).unwrap();
    (ArchiveWriter::create(dir, "t.zip.age", encryptor).unwrap(), identity)
}

/// `archive` put in place, decrypted with `identity` and opened, for tests.
#[cfg(test)]
pub(crate) fn test_zip(
    dir: &Path,
    archive: ArchiveWriter,
    identity: &age::x25519::Identity,
) -> zip::ZipArchive<io::Cursor<Vec<u8>>> {
    use std::io::Read;
    let placed = persist_all(dir, vec![archive.finish_unsynced().unwrap()]).unwrap();
    let decryptor = age::Decryptor::new(File::open(&placed[0].path).unwrap()).unwrap();
    let mut plain = Vec::new();
    decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    zip::ZipArchive::new(io::Cursor::new(plain)).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// Every entry reads back as written, with the size and checksum its summary gives, and is
    /// deflated (a stored entry with a data descriptor is refused by streaming readers), whether
    /// it ends within the first bytes (tiny or small: level 1), is written in many pieces past
    /// them (streamed, level 2), or is empty.
    #[test]
    fn entries_of_every_size_are_deflated_and_read_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (mut archive, identity) = test_archive(dir.path());
        let tiny = b"[{\"id\":1}]".to_vec();
        let small: Vec<u8> = (0..300)
            .flat_map(|i| format!("{{\"row\":{i}}},").into_bytes())
            .collect();
        let large: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{{\"row\":{i}}},").into_bytes())
            .collect();
        assert!(tiny.len() < 512 && (512..SMALL_ENTRY).contains(&small.len()) && large.len() > SMALL_ENTRY);
        let mut summaries = Vec::new();
        for (name, bytes) in [
            ("tiny", &tiny),
            ("small", &small),
            ("large", &large),
            ("empty", &Vec::new()),
        ] {
            archive.start_entry(name).unwrap();
            for piece in bytes.chunks(1000) {
                archive.write(piece).unwrap();
            }
            summaries.push(archive.finish_entry().unwrap());
        }
        let mut zip = test_zip(dir.path(), archive, &identity);
        let expected = [
            ("tiny", &tiny),
            ("small", &small),
            ("large", &large),
            ("empty", &Vec::new()),
        ];
        for ((name, bytes), summary) in expected.into_iter().zip(&summaries) {
            let mut entry = zip.by_name(name).unwrap();
            assert_eq!(entry.compression(), zip::CompressionMethod::Deflated, "{name}");
            let mut read = Vec::new();
            entry.read_to_end(&mut read).unwrap();
            assert_eq!(&read, bytes, "{name}");
            assert_eq!(summary.bytes, bytes.len() as u64, "{name}");
            assert_eq!(summary.sha256, hex(&Sha256::digest(bytes)), "{name}");
        }
        assert!(zip.by_name("small").unwrap().compressed_size() < small.len() as u64 / 2);
        // A small entry's sizes after its data are 32-bit (a 16-byte descriptor, then the next
        // entry's header), which streaming readers such as Java's ZipInputStream take.
        let zip_bytes = zip.clone().into_inner().into_inner();
        for name in ["tiny", "small"] {
            let entry = zip.by_name(name).unwrap();
            let end = (entry.data_start().unwrap() + entry.compressed_size()) as usize;
            assert_eq!(&zip_bytes[end..end + 4], b"PK\x07\x08", "{name}: a data descriptor");
            assert_eq!(&zip_bytes[end + 16..end + 20], b"PK\x03\x04", "{name}: 32-bit sizes");
        }
    }
}
