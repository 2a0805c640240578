//! `index.html` and its pages: the archive as a person reads it in a browser.
//!
//! The page is self-contained (inline style, no script, no network) and works from the unzipped
//! folder. Rows arrive while the table's machine-readable file is the open zip entry, so they
//! cannot go into the archive yet. Each table's first page goes into `index.html`, which is
//! written last (it opens with the summary): its rows wait in a [`Spool`]. The further pages,
//! `pages/<source>/<file>-N.html`, are finished as soon as the next page starts or the table
//! ends, and compressed on a thread of their own ([`PageWorker`]) while the data files are still
//! being written; memory holds a few pages (the one being filled, two waiting for the thread,
//! the one it compresses), whatever the row count.
//!
//! Every value and every name from the map or the data is escaped: nothing can become markup.

use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::source::field::Field;

use super::archive::{ArchiveWriter, EntrySummary};
use super::notice::{Notice, plural};
use super::page_spool::{Back, Spool};
use super::page_worker::{Page, PageWorker};
use crate::config::About;
use crate::error::UserError;

/// A page holds at most this many rows…
const PAGE_ROWS: u64 = 500;
/// …and stops taking rows once it holds this many bytes (a page with one huge value still shows it).
const PAGE_BYTES: u64 = 1 << 20;

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;margin:2em auto;max-width:70em;padding:0 1em;color:#111}\
h1{font-size:1.8em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{margin-top:1.5em}\
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;white-space:pre-wrap}\
td{overflow-wrap:anywhere}th{background:#f3f3f3}dt{font-weight:600}dd{margin:0 0 .5em 1em}.note{background:#fff4d6;padding:.5em 1em}\
.muted{color:#666}nav ul{columns:2}@media print{nav{display:none}a{color:inherit}}";

/// One table of the archive, as the page shows it.
#[derive(Clone)]
pub struct SectionInfo {
    pub source: String,
    /// The map's `title`, else the table's name.
    pub title: String,
    pub about: Arc<About>,
    /// The machine-readable file, `data/<source>/<name>.<ext>`.
    pub data_path: String,
    pub columns: Vec<String>,
}

struct Section {
    info: SectionInfo,
    rows: u64,
    /// Where the first page's rows are in the spool: (offset, bytes, rows).
    first: Option<(u64, u64, u64)>,
    /// Pages started, the first included.
    pages: usize,
}

impl Section {
    fn stem(&self) -> &str {
        super::names::stem(&self.info.data_path)
    }

    /// Where page `n` (from 2) lives, from the archive's root.
    fn page_path(&self, n: usize) -> String {
        let folder = self.info.data_path.split('/').nth(1).unwrap_or_default();
        format!("pages/{folder}/{}-{n}.html", self.stem())
    }
}

/// The page of one archive, built while its rows stream.
pub struct PageBook {
    dir: PathBuf,
    /// The rows of each table's first page (made on the first row).
    spool: Option<Spool>,
    sections: Vec<Section>,
    /// The rows of the page being filled, from page 2 on.
    current: String,
    /// Rows and bytes of the page being filled.
    page_rows: u64,
    page_bytes: u64,
    /// Started when a table first needs a second page.
    worker: Option<PageWorker>,
    buf: String,
}

impl PageBook {
    /// A book whose spools (made when needed) go in `dir`, beside the archive.
    pub fn new(dir: &Path) -> PageBook {
        PageBook {
            dir: dir.to_path_buf(),
            spool: None,
            sections: Vec::new(),
            current: String::new(),
            page_rows: 0,
            page_bytes: 0,
            worker: None,
            buf: String::new(),
        }
    }

    pub fn begin(&mut self, info: SectionInfo) -> Result<(), UserError> {
        self.end_page(true)?;
        self.sections.push(Section {
            info,
            rows: 0,
            first: None,
            pages: 0,
        });
        Ok(())
    }

    /// Render one row of the current table.
    pub fn row(&mut self, values: &[Field]) -> Result<(), UserError> {
        let pages = self.sections.last().expect("row outside a table").pages;
        if pages == 0 || self.page_rows >= PAGE_ROWS || self.page_bytes >= PAGE_BYTES {
            self.end_page(false)?;
            let section = self.sections.last_mut().expect("row outside a table");
            section.pages += 1;
            self.page_rows = 0;
            self.page_bytes = 0;
        }
        self.buf.clear();
        // A cell's end tag is optional in HTML (the next `<td>` or the row's `</tr>` closes
        // it), and left out: it was a third of the markup of the bench's event pages, all of it
        // escaped around, deflated and hashed. `</tr>` stays, so the newline after it is
        // between rows and not the last cell's text (cells keep white space, `pre-wrap`).
        self.buf.push_str("<tr>");
        for value in values {
            match value {
                Field::Null => self.buf.push_str("<td class=\"muted\">"),
                // `dir="auto"` lets a cell of Arabic or Hebrew read right to left. ASCII has no
                // right-to-left letters, so there it would resolve to the page's left to right:
                // left out, which spares the bench's event pages a tenth of their bytes.
                Field::Text(text) => {
                    self.buf
                        .push_str(if text.is_ascii() { "<td>" } else { "<td dir=\"auto\">" });
                    escape_text_into(text, &mut self.buf);
                }
                other => {
                    self.buf.push_str("<td>");
                    other.with_text(|text| escape_text_into(text, &mut self.buf));
                }
            }
        }
        self.buf.push_str("</tr>\n");
        let section = self.sections.last_mut().expect("row outside a table");
        if section.pages == 1 {
            let spool = self.spool.get_or_insert_with(|| Spool::new(&self.dir));
            let first = section.first.get_or_insert((spool.written(), 0, 0));
            spool.append(self.buf.as_bytes())?;
            first.1 += self.buf.len() as u64;
            first.2 += 1;
        } else {
            self.current.push_str(&self.buf);
        }
        self.page_rows += 1;
        self.page_bytes += self.buf.len() as u64;
        section.rows += 1;
        Ok(())
    }

    /// The page being filled is complete (`last`: its table has no more rows): from page 2 on,
    /// wrap it and hand it to the page thread.
    fn end_page(&mut self, last: bool) -> Result<(), UserError> {
        let Some(i) = self.sections.len().checked_sub(1) else {
            return Ok(());
        };
        let section = &self.sections[i];
        let number = section.pages;
        if number < 2 {
            return Ok(());
        }
        let mut html = head(
            &section.info.title,
            &if last {
                format!(" – page {number} of {number}")
            } else {
                format!(" – page {number}")
            },
        );
        html.push_str("<h1>");
        escape_into(&section.info.title, &mut html);
        html.push_str(&format!(" <span class=\"muted\">page {number}"));
        if last {
            html.push_str(&format!(" of {number}"));
        }
        html.push_str(&format!(
            "</span></h1><p><a href=\"../../index.html#t{i}\">back to the summary</a>"
        ));
        if number > 2 {
            html.push_str(&format!(
                " · <a href=\"{}\">previous page</a>",
                href(&format!("{}-{}.html", section.stem(), number - 1))
            ));
        }
        if !last {
            html.push_str(&format!(
                " · <a href=\"{}\">next page</a>",
                href(&format!("{}-{}.html", section.stem(), number + 1))
            ));
        }
        html.push_str("</p>");
        table_head(&mut html, &section.info.columns);
        html.push_str(&self.current);
        html.push_str("</tbody></table></body></html>\n");
        self.current.clear();
        let path = section.page_path(number);
        let worker = match &mut self.worker {
            Some(worker) => worker,
            None => self.worker.insert(PageWorker::start(&self.dir)?),
        };
        worker.send(Page { path, html })
    }

    /// Write `index.html` and the further pages into the archive; say what each entry holds.
    pub fn finish(mut self, archive: &mut ArchiveWriter, notice: &Notice) -> Result<Vec<EntrySummary>, UserError> {
        self.end_page(true)?;
        let pages = match self.worker.take() {
            Some(worker) => Some(worker.finish()?),
            None => None,
        };
        let mut spool = match self.spool.take() {
            Some(spool) => Some(spool.read_back()?),
            None => None,
        };
        let mut entries = Vec::new();
        let mut out = Out {
            archive,
            html: String::new(),
            chunk: Vec::new(),
        };

        out.archive.start_entry("index.html")?;
        out.push(&head("Your personal data", ""));
        out.push("<header><h1>Your personal data</h1><p>");
        out.text(&notice.opening);
        out.push("</p><p><strong>");
        out.text(&notice.found);
        out.push("</strong></p>");
        if let Some(incomplete) = &notice.incomplete {
            out.push("<p class=\"note\">");
            out.text(incomplete);
            out.push("</p>");
        }
        out.push("</header>\n");
        for block in &notice.blocks {
            out.push("<h2>");
            out.text(block.heading);
            out.push("</h2><ul>");
            for item in &block.items {
                out.push("<li>");
                out.text(item);
                out.push("</li>");
            }
            out.push("</ul>\n");
        }
        if !self.sections.is_empty() {
            out.push("<h2>Your data</h2><nav><ul>");
            for (i, section) in self.sections.iter().enumerate() {
                // <bdi>: a title in a right-to-left script cannot reorder the rest of the line.
                out.push(&format!("<li><a href=\"#t{i}\"><bdi>"));
                out.text(&section.info.title);
                out.push("</bdi></a> <span class=\"muted\">(");
                out.text(&section.info.source);
                out.push(&format!(
                    ", {} {})</span></li>",
                    section.rows,
                    plural(section.rows, "record", "records")
                ));
            }
            out.push("</ul></nav>\n");
        }
        let mut source = None;
        for (i, section) in self.sections.iter().enumerate() {
            if source != Some(&section.info.source) {
                source = Some(&section.info.source);
                out.push("<h2>System: ");
                out.text(&section.info.source);
                out.push("</h2>\n");
            }
            out.push(&format!("<section id=\"t{i}\"><h3>"));
            out.text(&section.info.title);
            out.push("</h3>");
            describe(&mut out, &section.info);
            out.push(&format!(
                "<p>{} {}. Machine-readable: <a href=\"{}\">",
                section.rows,
                plural(section.rows, "record", "records"),
                href(&section.info.data_path)
            ));
            out.text(&section.info.data_path);
            out.push("</a></p>");
            if let (Some((offset, len, first_rows)), Some(spool)) = (section.first, spool.as_mut()) {
                table_head(&mut out.html, &section.info.columns);
                out.copy(spool, offset, len)?;
                out.push("</tbody></table>");
                if section.pages > 1 {
                    out.push(&format!(
                        "<p>The first {} {} shown here; the others are on pages ",
                        first_rows,
                        plural(first_rows, "record is", "records are")
                    ));
                    for n in 2..=section.pages {
                        out.push(&format!("<a href=\"{}\">{n}</a> ", href(&section.page_path(n))));
                    }
                    out.push("</p>");
                }
            }
            out.push("</section>\n");
        }
        out.push(
            "<footer><p class=\"muted\">manifest.json lists every file of this archive with its SHA-256 checksum, \
             so you can check that nothing was changed or left out.</p></footer></body></html>\n",
        );
        out.flush()?;
        entries.push(out.archive.finish_entry()?);
        if let Some(pages) = pages {
            entries.extend(pages.copy_into(out.archive)?);
        }
        Ok(entries)
    }
}

/// The table's Art. 15 facts and its columns explained.
fn describe(out: &mut Out<'_>, info: &SectionInfo) {
    let about = &info.about;
    if let Some(description) = &about.description {
        out.push("<p>");
        out.text(description);
        out.push("</p>");
    }
    let recipients = about.recipients.join("; ");
    let facts = [
        ("Why it is used", about.purpose.as_deref()),
        ("Legal basis", about.legal_basis.as_deref()),
        ("How long it is kept", about.retention.as_deref()),
        (
            "Who receives it",
            (!recipients.is_empty()).then_some(recipients.as_str()),
        ),
        ("Where it came from", about.source.as_deref()),
    ];
    if facts.iter().any(|(_, v)| v.is_some()) {
        out.push("<dl>");
        for (label, value) in facts {
            if let Some(value) = value {
                out.push(&format!("<dt>{label}</dt><dd>"));
                out.text(value);
                out.push("</dd>");
            }
        }
        out.push("</dl>");
    }
    let explained: Vec<&(String, String)> = about.columns.iter().filter(|(c, _)| info.columns.contains(c)).collect();
    if !explained.is_empty() {
        out.push("<table><thead><tr><th>Field</th><th>What it holds</th></tr></thead><tbody>");
        for (column, meaning) in explained {
            out.push("<tr><td>");
            out.text(column);
            out.push("</td><td>");
            out.text(meaning);
            out.push("</td></tr>");
        }
        out.push("</tbody></table>");
    }
}

/// Text going into one zip entry, in chunks.
struct Out<'a> {
    archive: &'a mut ArchiveWriter,
    html: String,
    /// Reused by every [`Out::copy`], and no larger than the largest copy needs: a fresh zeroed
    /// 64 KiB buffer per section of a few hundred bytes was 4.8 GB zeroed for the bench's
    /// 10,000 archives (seven or so sections each), and most of the batch export's memset.
    chunk: Vec<u8>,
}

impl Out<'_> {
    fn push(&mut self, markup: &str) {
        self.html.push_str(markup);
    }

    fn text(&mut self, text: &str) {
        escape_into(text, &mut self.html);
    }

    fn flush(&mut self) -> Result<(), UserError> {
        self.archive.write(self.html.as_bytes())?;
        self.html.clear();
        Ok(())
    }

    /// Copy `len` bytes of rendered rows from the spool at `offset`.
    fn copy(&mut self, spool: &mut Back, offset: u64, len: u64) -> Result<(), UserError> {
        self.flush()?;
        let fail = |e: io::Error| UserError::runtime(format!("cannot read back the page spool: {e}"));
        spool.seek(SeekFrom::Start(offset)).map_err(fail)?;
        let size = len.min(64 * 1024) as usize;
        if self.chunk.len() < size {
            self.chunk.resize(size, 0);
        }
        let mut left = len;
        while left > 0 {
            let want = left.min(size as u64) as usize;
            spool.read_exact(&mut self.chunk[..want]).map_err(fail)?;
            self.archive.write(&self.chunk[..want])?;
            left -= want as u64;
        }
        Ok(())
    }
}

fn table_head(html: &mut String, columns: &[String]) {
    html.push_str("<table><thead><tr>");
    for column in columns {
        html.push_str("<th>");
        escape_into(column, html);
        html.push_str("</th>");
    }
    html.push_str("</tr></thead><tbody>\n");
}

fn head(title: &str, suffix: &str) -> String {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>",
    );
    escape_into(title, &mut html);
    escape_into(suffix, &mut html);
    html.push_str("</title><style>");
    html.push_str(STYLE);
    html.push_str("</style></head><body>\n");
    html
}

/// Escape text for an HTML element or a quoted attribute. NUL, which HTML parsers replace
/// anyway, becomes U+FFFD so the page's bytes say what a browser shows.
pub fn escape_into(text: &str, out: &mut String) {
    escape(text, &IN_ATTRIBUTE, out);
}

/// Escape text for an element's content (a cell): `&`, `<` and `>`, and NUL as in
/// [`escape_into`]. Quotes end nothing outside a tag, and a cell's JSON is full of them: left as
/// they are, the bench's event pages are a quarter smaller (`&quot;` is six bytes).
pub fn escape_text_into(text: &str, out: &mut String) {
    escape(text, &IN_TEXT, out);
}

/// The bytes [`escape_into`] replaces, as a table indexed by byte.
static IN_ATTRIBUTE: [bool; 256] = special(b"&<>\"'\0");
/// The bytes [`escape_text_into`] replaces.
static IN_TEXT: [bool; 256] = special(b"&<>\0");

const fn special(bytes: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        table[bytes[i] as usize] = true;
        i += 1;
    }
    table
}

/// `text` with each byte `special` marks replaced by its entity; runs of ordinary text are
/// copied whole, as most values have nothing to escape. Every special byte is ASCII, so it
/// never falls inside a character and the runs between are whole UTF-8. Looked up by byte in a
/// table: `str::find` with a set of chars decoded each character first, a twentieth of a large
/// export's client CPU.
fn escape(text: &str, special: &[bool; 256], out: &mut String) {
    let mut run = 0;
    for (at, &byte) in text.as_bytes().iter().enumerate() {
        if !special[usize::from(byte)] {
            continue;
        }
        out.push_str(&text[run..at]);
        out.push_str(match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => "\u{FFFD}",
        });
        run = at + 1;
    }
    out.push_str(&text[run..]);
}

/// A relative link to an archive path: every byte outside the unreserved set and `/` is
/// percent-encoded (names come from the map and can hold `#`, `?`, `%` or spaces).
fn href(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::archive::{test_archive, test_zip};
    use sha2::{Digest, Sha256};

    fn section(name: &str) -> SectionInfo {
        SectionInfo {
            source: "s".into(),
            title: name.into(),
            about: Arc::new(About::default()),
            data_path: format!("data/s/{name}.json"),
            columns: vec!["v".into()],
        }
    }

    fn notice() -> Notice {
        Notice {
            opening: "opening".into(),
            found: "found".into(),
            incomplete: None,
            blocks: Vec::new(),
        }
    }

    fn text(value: String) -> Vec<Field> {
        vec![Field::Text(value)]
    }

    /// Text that does not compress: a page of it spills the page thread's spool to a file.
    fn noise(seed: u64, len: usize) -> String {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                char::from(b"0123456789abcdef"[(x >> 60) as usize])
            })
            .collect()
    }

    /// Pages are finished as the rows stream, on the page thread: each but the last links to the
    /// next, the last says how many there are, index.html links them all, and the manifest's
    /// size and checksum of each are of what the archive holds.
    #[test]
    fn pages_link_forward_until_the_last_and_the_index_links_them_all() {
        let dir = tempfile::tempdir().unwrap();
        let (mut archive, identity) = test_archive(dir.path());
        let mut book = PageBook::new(dir.path());
        book.begin(section("big")).unwrap();
        for i in 0..1200 {
            book.row(&text(format!("row {i}"))).unwrap();
        }
        book.begin(section("small")).unwrap();
        book.row(&text("only".into())).unwrap();
        book.begin(section("empty")).unwrap();
        let entries = book.finish(&mut archive, &notice()).unwrap();
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["index.html", "pages/s/big-2.html", "pages/s/big-3.html"]);
        let mut zip = test_zip(dir.path(), archive, &identity);
        let mut read = |name: &str| {
            let mut html = String::new();
            zip.by_name(name).unwrap().read_to_string(&mut html).unwrap();
            html
        };
        for entry in &entries {
            let html = read(&entry.path);
            assert_eq!(html.len() as u64, entry.bytes, "{}", entry.path);
            assert_eq!(
                crate::hex::hex(&Sha256::digest(html.as_bytes())),
                entry.sha256,
                "{}",
                entry.path
            );
        }
        let two = read("pages/s/big-2.html");
        assert!(two.contains("page 2</span>") && !two.contains("page 2 of"), "{two}");
        assert!(two.contains("<a href=\"big-3.html\">next page</a>") && !two.contains("previous page"));
        assert!(two.contains(">row 500<") && two.contains(">row 999<"));
        assert!(!two.contains(">row 499<") && !two.contains(">row 1000<"));
        let three = read("pages/s/big-3.html");
        assert!(
            three.contains("page 3 of 3</span>") && !three.contains("next page"),
            "{three}"
        );
        assert!(three.contains("<a href=\"big-2.html\">previous page</a>"));
        assert!(three.contains(">row 1000<") && three.contains(">row 1199<"));
        let index = read("index.html");
        assert!(index.contains(">row 0<") && index.contains(">row 499<") && !index.contains(">row 500<"));
        assert!(index.contains("href=\"pages/s/big-2.html\"") && index.contains("href=\"pages/s/big-3.html\""));
        assert!(index.contains(">only<"));
    }

    /// A cell of text that could read right to left gets `dir="auto"`; ASCII, which cannot,
    /// does not; values other than text never do.
    #[test]
    fn only_cells_that_may_read_right_to_left_say_dir_auto() {
        let dir = tempfile::tempdir().unwrap();
        let (mut archive, identity) = test_archive(dir.path());
        let mut book = PageBook::new(dir.path());
        book.begin(section("t")).unwrap();
        book.row(&[Field::Text("plain, \"quoted\" <b>".into()), Field::Int(7)])
            .unwrap();
        book.row(&[Field::Text("שלום".into()), Field::Json(r#"{"k":"مرحبا"}"#.into())])
            .unwrap();
        book.finish(&mut archive, &notice()).unwrap();
        let mut zip = test_zip(dir.path(), archive, &identity);
        let mut html = String::new();
        zip.by_name("index.html").unwrap().read_to_string(&mut html).unwrap();
        assert!(
            html.contains("<tr><td>plain, \"quoted\" &lt;b&gt;<td>7</tr>\n"),
            "{html}"
        );
        assert!(
            html.contains("<tr><td dir=\"auto\">שלום<td>{\"k\":\"مرحبا\"}</tr>\n"),
            "{html}"
        );
    }

    /// The page thread cannot make its spool (the folder is gone): the export stops with that
    /// error, naming the folder; it neither hangs nor panics.
    #[test]
    fn a_page_thread_that_cannot_spool_stops_the_archive_with_its_error() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let identity = age::x25519::Identity::generate();
        let recipient = identity.to_public();
        let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).unwrap();
        let mut archive = ArchiveWriter::create(dir.path(), "t.zip.age", encryptor).unwrap();
        let mut book = PageBook::new(&gone);
        book.begin(section("big")).unwrap();
        // A first page small enough to stay in memory, then pages of noise: their compressed
        // form passes the spool's 256 KiB and needs a file in the folder that is gone.
        let mut failed = None;
        for i in 0..500u64 {
            if let Err(e) = book.row(&text(format!("row {i}"))) {
                failed = Some(e);
                break;
            }
        }
        assert!(failed.is_none(), "the first page stays in memory");
        for i in 0..400u64 {
            if let Err(e) = book.row(&text(noise(i, 10_000))) {
                failed = Some(e);
                break;
            }
        }
        let error = match failed {
            Some(e) => e,
            None => book
                .finish(&mut archive, &notice())
                .expect_err("a spool in a missing folder fails"),
        };
        assert!(
            error.message.contains("page spool") && error.message.contains("gone"),
            "{}",
            error.message
        );
    }

    #[test]
    fn escaping_leaves_no_markup() {
        let mut out = String::new();
        escape_into(
            "<script>alert('x')</script>\"><img src=x onerror=alert(1)>&\0",
            &mut out,
        );
        assert!(!out.contains('<') && !out.contains('>') && !out.contains('"') && !out.contains('\''));
        assert!(out.starts_with("&lt;script&gt;") && out.ends_with("&amp;\u{FFFD}"));
        // A cell's text: no tag can open or close, quotes stay (they end nothing there).
        let mut cell = String::new();
        escape_text_into("</td><script>x=\"'&amp;'\"</script>\0", &mut cell);
        assert_eq!(
            cell,
            "&lt;/td&gt;&lt;script&gt;x=\"'&amp;amp;'\"&lt;/script&gt;\u{FFFD}"
        );
        // Characters of several bytes on either side of what is escaped stay whole.
        let mut wide = String::new();
        escape_text_into("é<ü>日本&\0🙂x", &mut wide);
        assert_eq!(wide, "é&lt;ü&gt;日本&amp;\u{FFFD}🙂x");
        wide.clear();
        escape_into("\"日'", &mut wide);
        assert_eq!(wide, "&quot;日&#39;");
    }

    #[test]
    fn links_are_percent_encoded() {
        assert_eq!(
            href("data/shop/My #1 table?.json"),
            "data/shop/My%20%231%20table%3F.json"
        );
        assert_eq!(href("pages/a/é-2.html"), "pages/a/%C3%A9-2.html");
    }
}
