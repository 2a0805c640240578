//! The archive a person reads: `index.html` rendered by a real browser (Debian's Chromium,
//! headless), hostile values shown as text and never as markup, large tables split into linked
//! pages, and `README.txt` saying the same in plain text.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Workspace, stderr};
use rusqlite::Connection;

const EMAIL: &str = "luisg@embraer.com.br";

const HOSTILE: [(&str, &str); 5] = [
    ("FirstName", "<script>document.title='pwned'</script>"),
    ("LastName", "\"><img src=x onerror=alert(1)>"),
    ("Company", "שלום עולם \u{202E}evil"),
    ("Address", "🎵 O'Brien & \"Sons\" 🎸"),
    ("City", "</td></tr></table><h1>injected</h1>"),
];

/// The demo's map on a Chinook SQLite file, customer 1 carrying hostile values, a 1 MB text and
/// `extra_lines` more invoice lines.
fn workspace(extra_lines: i64) -> Workspace {
    let ws = Workspace::new(include_str!("../demo/sources.toml"), &[]);
    common::sqlite_chinook(&ws.path("chinook.db"));
    let db = Connection::open(ws.path("chinook.db")).unwrap();
    for (column, value) in HOSTILE {
        db.execute(
            &format!("UPDATE Customer SET \"{column}\" = ?1 WHERE CustomerId = 1"),
            [value],
        )
        .unwrap();
    }
    db.execute(
        "UPDATE Customer SET Fax = ?1 WHERE CustomerId = 1",
        ["x".repeat(1 << 20)],
    )
    .unwrap();
    db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1) \
         INSERT INTO InvoiceLine (InvoiceLineId, InvoiceId, TrackId, UnitPrice, Quantity) \
         SELECT 100000 + i, 98, 1, 0.99, 1 FROM n",
        [extra_lines],
    )
    .unwrap();
    ws
}

/// Export customer 1 and extract the archive with `dsar open`; the folder it went to.
fn export_and_extract(ws: &Workspace) -> PathBuf {
    ws.dsar_ok(&["export", "--subject", &format!("email={EMAIL}"), "--quiet"]);
    extract_last(ws, "unzipped")
}

/// Extract the newest archive with `dsar open` into `folder` of the workspace.
fn extract_last(ws: &Workspace, folder: &str) -> PathBuf {
    let archive = ws.archives().pop().unwrap();
    let out = ws.path(folder);
    ws.dsar_ok(&[
        "open",
        archive.to_str().unwrap(),
        "--identity",
        ws.identity.to_str().unwrap(),
        "--extract",
        out.to_str().unwrap(),
    ]);
    out
}

/// Chromium, headless and offline, as the machine's probe starts it.
fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs (scripts/test.sh installs Debian's chromium)");
    assert!(out.status.success(), "chromium failed: {}", stderr(&out));
    out
}

/// The page as the browser built it: its DOM after parsing (and after any script, were one to run).
fn rendered_dom(ws: &Workspace, page: &Path) -> String {
    let out = chromium(
        &ws.path("chromium-profile"),
        &["--dump-dom", &format!("file://{}", page.display())],
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The DOM's text as a person sees it, entities decoded (the order of decoding matters: `&amp;`
/// last).
fn text_of(dom: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&")
}

#[test]
fn the_page_renders_the_summary_tables_and_rows_with_hostile_values_as_text() {
    let ws = workspace(0);
    let out = export_and_extract(&ws);
    let index = out.join("index.html");

    let screenshot = ws.path("page.png");
    chromium(
        &ws.path("chromium-profile"),
        &[
            "--window-size=1200,3000",
            &format!("--screenshot={}", screenshot.display()),
            &format!("file://{}", index.display()),
        ],
    );
    let png = std::fs::read(&screenshot).expect("a screenshot was taken");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real picture of the page"
    );

    let dom = rendered_dom(&ws, &index);
    // Only the page's own elements exist: no value became a script, an image or a heading.
    assert!(!dom.contains("<script"), "no script element");
    assert!(!dom.contains("<img"), "no image element");
    assert_eq!(dom.matches("<h1").count(), 1, "one heading of the page's own");
    assert!(dom.contains("<title>Your personal data</title>"), "no script ran");
    let text = text_of(&dom);
    for needle in [
        "Your personal data",
        "Chinook Music Store (demo)",
        "Your rights",
        "Complaint",
        "10 years after the invoice date, tax law",
        "Your customer account",
        "Your invoices",
        "What you bought",
        "the address you signed up with",
        EMAIL,
        "Av. Brigadeiro Faria Lima, 2170",
    ] {
        assert!(text.contains(needle), "`{needle}` is on the page");
    }
    for (column, value) in HOSTILE {
        assert!(text.contains(value), "{column}'s value reads as text: {value}");
        // Cells are written without their end tags (the next cell or the row's end closes
        // them): the browser still ends each cell exactly where its value ends.
        let escaped = value.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        assert!(dom.contains(&format!(">{escaped}</td>")), "{column}: one whole cell");
    }
    assert!(!dom.contains("\n</td>"), "no row's line break is inside a cell");
    assert!(text.contains(&"x".repeat(1 << 20)), "the 1 MB value is shown whole");
    // The page needs nothing from outside the folder.
    let html = std::fs::read_to_string(&index).unwrap();
    for outside in ["http://", "https://", "<script", "<link", "<img", "<iframe"] {
        assert!(!html.contains(outside), "self-contained: no `{outside}`");
    }

    let readme = std::fs::read_to_string(out.join("README.txt")).unwrap();
    for needle in [
        "Your rights",
        "Chinook Music Store (demo)",
        "data/chinook/What you bought.json",
        "index.html",
    ] {
        assert!(readme.contains(needle), "README.txt says `{needle}`:\n{readme}");
    }
}

#[test]
fn a_large_table_is_split_into_linked_pages_that_render() {
    let ws = workspace(1200);
    let out = export_and_extract(&ws);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    let paths: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    // 38 + 1200 lines at 500 a page: the index shows 500, pages 2 and 3 the rest.
    for page in [
        "index.html",
        "pages/chinook/What you bought-2.html",
        "pages/chinook/What you bought-3.html",
    ] {
        assert!(paths.contains(&page), "the manifest lists {page}: {paths:?}");
    }
    assert!(!paths.iter().any(|p| p.ends_with("-4.html")));
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(index.contains("href=\"pages/chinook/What%20you%20bought-2.html\""));
    let dom = rendered_dom(&ws, &out.join("pages/chinook/What you bought-3.html"));
    let text = text_of(&dom);
    assert!(
        text.contains("page 3 of 3") && text.contains("back to the summary"),
        "{text}"
    );
    assert!(dom.contains("href=\"../../index.html#t2\""));
    let rows_on = |html: &str| html.matches("<tr><td").count();
    let page2 = std::fs::read_to_string(out.join("pages/chinook/What you bought-2.html")).unwrap();
    assert_eq!(rows_on(&page2), 500);
    assert_eq!(rows_on(&dom), 1238 - 1000);
}

#[test]
fn a_person_with_no_data_is_told_so_naming_the_systems_searched() {
    let ws = workspace(0);
    let out = ws.dsar(&["export", "--subject", "email=nobody@example.org", "--quiet"]);
    assert_eq!(out.status.code(), Some(3), "nothing matched asks for review");
    let extracted = extract_last(&ws, "empty");
    let text = text_of(&rendered_dom(&ws, &extracted.join("index.html")));
    assert!(text.contains("No data about you was found"), "{text}");
    assert!(text.contains("searched") && text.contains("chinook"), "{text}");
}
