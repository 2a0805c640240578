//! SQLite sources and `dsar demo`: export, delete, restore and purge on a real SQLite file
//! (Chinook), through the real binary.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Workspace, stderr};
use rusqlite::Connection;

const EMAIL: &str = "luisg@embraer.com.br";

/// The demo's source map, with the window and batch size a test needs.
fn map(window: &str, batch_rows: u32) -> String {
    include_str!("../demo/sources.toml")
        .replace("recovery_window = \"30d\"", &format!("recovery_window = \"{window}\""))
        .replace("batch_rows = 10", &format!("batch_rows = {batch_rows}"))
}

fn workspace(window: &str, batch_rows: u32) -> Workspace {
    let ws = Workspace::new(&map(window, batch_rows), &[]);
    load_chinook(&ws.path("chinook.db"));
    ws
}

fn load_chinook(path: &Path) {
    common::sqlite_chinook(path);
}

fn dump(path: &Path, table: &str, order_by: &str) -> String {
    common::sqlite_dump(path, table, order_by)
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("one JSON object on stdout")
}

fn scalar(path: &Path, sql: &str) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

const TABLES: [(&str, &str); 3] = [
    ("Customer", "CustomerId"),
    ("Invoice", "InvoiceId"),
    ("InvoiceLine", "InvoiceLineId"),
];

#[test]
fn demo_runs_the_whole_tour_and_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("tour");
    let out = Command::new(env!("CARGO_BIN_EXE_dsar"))
        .arg("demo")
        .arg(&demo)
        .env_remove("DSAR_CONFIG")
        .env_remove("DSAR_STATE_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "dsar demo failed:\n{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("customers with that email now: 0"), "{text}");
    // The tour restores its delete itself: no `undo with:` line for it.
    assert!(!text.contains("undo with"), "{text}");
    assert!(text.lines().any(|l| l == "customers with that email now: 1"), "{text}");
    assert!(text.contains("audit log ok: 6 events"), "{text}");

    // Restored byte for byte: the same as a fresh load.
    let fresh = dir.path().join("fresh.db");
    load_chinook(&fresh);
    for (table, key) in TABLES {
        assert_eq!(
            dump(&demo.join("chinook.db"), table, key),
            dump(&fresh, table, key),
            "{table} is back as it was"
        );
    }
    assert_eq!(
        scalar(
            &demo.join("chinook.db"),
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine"
        ),
        0
    );

    // The archive opens with the official age CLI and holds customer 1's rows.
    let archive = std::fs::read_dir(demo.join("exports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".zip.age"))
        .expect("an archive");
    let decrypted = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(demo.join("keys/exports.key"))
        .arg(&archive)
        .output()
        .unwrap();
    assert!(decrypted.status.success(), "{}", stderr(&decrypted));
    let zip = common::Archive::from_zip(decrypted.stdout);
    let counts = zip.counts();
    assert_eq!(counts["chinook/main.Customer"], 1);
    assert_eq!(counts["chinook/main.Invoice"], 7);
    assert_eq!(counts["chinook/main.InvoiceLine"], 38);
    let manifest = zip.manifest();
    assert_eq!(manifest["sources"][0]["kind"], "sqlite");
    let customer = &zip.json_rows("data/chinook/Your customer account.json")[0];
    assert_eq!(customer["Email"], EMAIL);
    assert_eq!(customer["CustomerId"], 1, "integers stay integers");

    // The secret keys are private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(demo.join("keys/recovery.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "recovery.key is readable by its owner only");
}

#[test]
fn demo_refuses_a_directory_that_holds_something() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious.txt"), "keep").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dsar"))
        .arg("demo")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not empty"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "nothing was written");
}

#[test]
fn delete_leaves_no_readable_copy_in_the_file_and_restore_brings_it_back() {
    let ws = workspace("30d", 5);
    let db = ws.path("chinook.db");
    let before: Vec<String> = TABLES.iter().map(|(t, k)| dump(&db, t, k)).collect();
    let others = scalar(&db, "SELECT count(*) FROM Customer WHERE CustomerId <> 1");

    let out = ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]);
    let result = json(&out);
    let id = result["request_id"].as_str().unwrap().to_string();
    assert_eq!(scalar(&db, "SELECT count(*) FROM Customer WHERE CustomerId = 1"), 0);
    assert_eq!(scalar(&db, "SELECT count(*) FROM Invoice WHERE CustomerId = 1"), 0);
    assert_eq!(
        scalar(
            &db,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine"
        ),
        46
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM Customer WHERE CustomerId <> 1"),
        others,
        "no other customer is touched"
    );
    let bytes = std::fs::read(&db).unwrap();
    for plain in [EMAIL.as_bytes(), "Gonçalves".as_bytes(), b"Embraer"] {
        let at = bytes.windows(plain.len()).position(|w| w == plain);
        assert!(
            at.is_none(),
            "the database file holds no readable {:?}: {:?}",
            String::from_utf8_lossy(plain),
            at.map(|i| String::from_utf8_lossy(&bytes[i.saturating_sub(300)..i + 40]).into_owned())
        );
    }

    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let after: Vec<String> = TABLES.iter().map(|(t, k)| dump(&db, t, k)).collect();
    assert_eq!(after, before, "every row is back byte for byte");
}

/// SQLite's change counter (the database header's bytes 24..28): one more for every write
/// transaction committed (in a rollback-journal mode).
fn commits(path: &Path) -> u32 {
    let bytes = std::fs::read(path).unwrap();
    u32::from_be_bytes(bytes[24..28].try_into().unwrap())
}

/// A SQLite source alone commits five of its plan's chunks at once (each commit is a journal
/// written, synced and deleted), and its restore five ranges: with `batch_rows = 1`, the 46
/// rows of customer 1 (46 chunks) leave and come back in far fewer commits than chunks, and
/// every row is back byte for byte. Killed mid-way, such a transaction rolls back whole, which
/// tests/erase_plan.rs checks on every kind.
#[test]
fn a_sqlite_erasure_commits_several_chunks_at_once() {
    let ws = workspace("30d", 1);
    let db = ws.path("chinook.db");
    let before: Vec<String> = TABLES.iter().map(|(t, k)| dump(&db, t, k)).collect();
    let start = commits(&db);
    let out = ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]);
    let id = json(&out)["request_id"].as_str().unwrap().to_string();
    let deleted = commits(&db) - start;
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM dsar_plan WHERE NOT done"),
        0,
        "every chunk is done"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine"
        ),
        46
    );
    // 1 + 2 + 8 transactions for the 1 + 7 + 38 chunks of the three tables, and the request's
    // own (its registration, plan, completion check, the rebuild): a chunk a commit was 46 and
    // more.
    assert!(deleted < 30, "{deleted} commits for 46 chunks");
    let start = commits(&db);
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let restored = commits(&db) - start;
    assert!(restored < 30, "{restored} commits for 46 quarantine entries");
    let after: Vec<String> = TABLES.iter().map(|(t, k)| dump(&db, t, k)).collect();
    assert_eq!(after, before, "every row is back byte for byte");
}

/// A restore group (five ranges a transaction on SQLite) that the table refuses in its third
/// range: the ranges before it come back on their own, the refused row stays in quarantine
/// (flagged for review: exit 3), and every other row comes back exactly once.
#[test]
fn a_row_refused_inside_a_restore_group_stays_and_the_others_come_back_once() {
    let ws = workspace("30d", 1);
    let db = ws.path("chinook.db");
    let before: Vec<String> = TABLES.iter().map(|(t, k)| dump(&db, t, k)).collect();
    let lines = "SELECT count(*) FROM InvoiceLine JOIN Invoice USING (InvoiceId) WHERE CustomerId = 1";
    assert_eq!(scalar(&db, lines), 38);
    let third = scalar(
        &db,
        "SELECT InvoiceLineId FROM InvoiceLine JOIN Invoice USING (InvoiceId) WHERE CustomerId = 1 \
         ORDER BY InvoiceLineId LIMIT 1 OFFSET 2",
    );
    let out = ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]);
    let id = json(&out)["request_id"].as_str().unwrap().to_string();
    Connection::open(&db)
        .unwrap()
        .execute_batch(&format!(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON InvoiceLine WHEN NEW.InvoiceLineId = {third} \
             BEGIN SELECT RAISE(ABORT, 'refused by a test'); END;"
        ))
        .unwrap();
    let out = ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(scalar(&db, lines), 37, "every line but the refused one is back");
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT count(*) FROM InvoiceLine WHERE InvoiceLineId = {third}")
        ),
        0
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine"
        ),
        1,
        "the refused row stays in quarantine, alone"
    );
    Connection::open(&db)
        .unwrap()
        .execute_batch("DROP TRIGGER refuse_one")
        .unwrap();
    let after: Vec<String> = TABLES.iter().map(|(t, k)| dump(&db, t, k)).collect();
    assert_eq!(after[..2], before[..2], "the customer and the invoices, once each");
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM InvoiceLine"),
        scalar(&db, "SELECT count(DISTINCT InvoiceLineId) FROM InvoiceLine"),
        "no line twice"
    );
}

#[test]
fn after_the_window_purge_destroys_the_quarantine_and_restore_says_so() {
    let ws = workspace("0s", 10);
    let db = ws.path("chinook.db");
    let result = json(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]));
    let id = result["request_id"].as_str().unwrap().to_string();
    assert_eq!(
        scalar(
            &db,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine"
        ),
        46
    );
    let purge = ws.dsar_ok(&["purge"]);
    assert!(purge.stdout.is_empty(), "purge is silent on success");
    assert_eq!(
        scalar(
            &db,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine"
        ),
        0
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM dsar_requests WHERE wrapped_key IS NOT NULL"),
        0,
        "the request key is shredded"
    );
    ws.dsar_ok(&["purge"]);
    let restore = ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(restore.status.code(), Some(1), "{}", stderr(&restore));
    assert_eq!(scalar(&db, "SELECT count(*) FROM Customer WHERE CustomerId = 1"), 0);
}

#[test]
fn bad_input_on_a_sqlite_source_exits_2_and_changes_nothing() {
    let ws = workspace("30d", 10);
    let db = ws.path("chinook.db");
    let out = ws.dsar(&["delete", "--subject", "customer_id=1 OR 1=1", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("not a number"), "{}", stderr(&out));
    assert_eq!(scalar(&db, "SELECT count(*) FROM Customer"), 59);
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'dsar%'"),
        0,
        "no table was created"
    );

    let sql_like = ws.dsar(&["export", "--subject", "email=x' OR '1'='1", "--json"]);
    assert_eq!(
        sql_like.status.code(),
        Some(3),
        "nothing matched: {}",
        stderr(&sql_like)
    );
    assert!(!json(&sql_like)["counts"].as_array().unwrap().is_empty());
    assert!(
        json(&sql_like)["counts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["rows"] == 0),
        "a value that looks like SQL matches nothing: {}",
        common::stdout(&sql_like)
    );

    std::fs::remove_file(&db).unwrap();
    let missing = ws.dsar(&["export", "--subject", "customer_id=1"]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("does not exist"), "{}", stderr(&missing));
    assert!(!db.exists(), "a missing database is never created");
}

#[test]
fn a_sqlite_source_names_its_file_with_path_and_says_so_when_it_does_not() {
    for (from, to, expected) in [
        ("path = \"chinook.db\"", "", "needs path = \"FILE.db\""),
        (
            "path = \"chinook.db\"",
            "url = \"env:X\"",
            "name its database file with path, not url",
        ),
        ("kind = \"sqlite\"", "kind = \"sqlit\"", "did you mean `sqlite`?"),
    ] {
        let ws = Workspace::new(&map("30d", 10).replace(from, to), &[]);
        let out = ws.dsar(&["export", "--subject", "customer_id=1"]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(expected), "{err}");
        assert!(err.contains("sources.toml:"), "the error is located: {err}");
    }
}

#[test]
fn check_reads_the_sqlite_schema_and_names_the_missing_index() {
    let ws = workspace("30d", 10);
    let out = ws.dsar_ok(&["check", "--json"]);
    let report = json(&out);
    assert_eq!(report["state"], "ok");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains(r#"CREATE INDEX \"Customer_Email\" ON \"Customer\" (\"Email\")"#),
        "{warnings}"
    );
    assert!(
        !warnings.contains("CustomerId"),
        "the rowid key needs no index: {warnings}"
    );

    let broken = Workspace::new(
        &map("30d", 10).replace("table = \"Invoice\"", "table = \"Invoices\""),
        &[],
    );
    load_chinook(&broken.path("chinook.db"));
    let out = broken.dsar(&["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean `Invoice`?"), "{}", stderr(&out));
}

/// Customers anonymized in place, invoices flagged (purge deletes them later, after their lines,
/// which are quarantined at once).
fn flag_and_anonymize(window: &str) -> Workspace {
    let config = map(window, 3)
        .replacen(
            "match = { email = \"Email\", customer_id = \"CustomerId\" }\non_delete = \"quarantine\"",
            "match = { email = \"Email\", customer_id = \"CustomerId\" }\non_delete = \"anonymize\"\n\
             anonymize = { Email = \"hash\", FirstName = \"redact\", Company = \"null\", State = \"XX\" }",
            1,
        )
        .replacen(
            "parent_column = \"CustomerId\" }\non_delete = \"quarantine\"",
            "parent_column = \"CustomerId\" }\non_delete = \"flag\"\nflag_column = \"deleted_at\"",
            1,
        );
    assert!(
        config.contains("flag_column") && config.contains("anonymize ="),
        "{config}"
    );
    let ws = Workspace::new(&config, &[]);
    let db = ws.path("chinook.db");
    load_chinook(&db);
    Connection::open(&db)
        .unwrap()
        .execute_batch("ALTER TABLE Invoice ADD COLUMN deleted_at TEXT")
        .unwrap();
    ws
}

#[test]
fn flag_and_anonymize_on_sqlite_are_undone_by_restore_byte_for_byte() {
    let ws = flag_and_anonymize("30d");
    let db = ws.path("chinook.db");
    let before: Vec<String> = TABLES.iter().map(|(t, k)| dump(&db, t, k)).collect();

    let result = json(&ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]));
    let id = result["request_id"].as_str().unwrap().to_string();
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM Customer WHERE CustomerId = 1 AND FirstName = '[redacted]' \
             AND Company IS NULL AND State = 'XX' AND length(Email) = 16"
        ),
        1,
        "anonymized in place"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM Invoice WHERE CustomerId = 1 AND deleted_at IS NOT NULL"
        ),
        7,
        "flagged, not deleted"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM InvoiceLine WHERE InvoiceId IN (SELECT InvoiceId FROM Invoice WHERE CustomerId = 1)"
        ),
        0,
        "quarantined"
    );

    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let after: Vec<String> = TABLES.iter().map(|(t, k)| dump(&db, t, k)).collect();
    assert_eq!(after, before, "flag, anonymize and quarantine are undone byte for byte");
}
#[test]
fn demo_with_json_prints_one_object_that_sums_up_the_tour() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dsar"))
        .args(["demo", "--json"])
        .arg(dir.path().join("tour"))
        .env_remove("DSAR_CONFIG")
        .env_remove("DSAR_STATE_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let summary = json(&out);
    assert_eq!(summary["state"], "completed");
    assert_eq!(
        summary["requests"][0]["request_id"], summary["request_id"],
        "the export's"
    );
    let rows: u64 = summary["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, 46, "customer 1, 7 invoices, 38 lines");
    assert!(Path::new(summary["archive"].as_str().unwrap()).is_file());
    let kinds: Vec<&str> = summary["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["request_id"].is_string())
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["export", "delete", "restore"]);
}

#[test]
fn purge_hard_deletes_flagged_rows_and_keeps_anonymized_ones_on_sqlite() {
    let ws = flag_and_anonymize("0s");
    let db = ws.path("chinook.db");
    let invoices = scalar(&db, "SELECT count(*) FROM Invoice");
    ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    let summary = json(&ws.dsar_ok(&["purge", "--json"]));
    assert_eq!(summary["flagged_rows"], 7, "{summary}");
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM Invoice WHERE CustomerId = 1"),
        0,
        "flagged rows are gone"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT count(*) FROM Customer WHERE CustomerId = 1 AND FirstName = '[redacted]'"
        ),
        1,
        "the anonymized customer stays"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine"
        ),
        0
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM Invoice"),
        invoices - 7,
        "no other invoice is touched"
    );
}

/// Chinook in batches of 100 with `settings` added to its source, customer 1 given 3,000 more
/// invoices (3,007 in all): an erasure long enough to pace or to catch mid-run.
fn with_invoices(settings: &str) -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::new(
        &map("30d", 100).replace("batch_rows = 100", &format!("batch_rows = 100\n{settings}")),
        &[],
    );
    let db = ws.path("chinook.db");
    load_chinook(&db);
    Connection::open(&db)
        .unwrap()
        .execute_batch(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 3000) \
             INSERT INTO Invoice (InvoiceId, CustomerId, InvoiceDate, Total) \
             SELECT 100000 + n, 1, '2020-01-01 00:00:00', 1 FROM g",
        )
        .unwrap();
    (ws, db)
}

#[test]
fn max_rows_per_second_paces_an_erasure() {
    let (ws, db) = with_invoices("max_rows_per_second = 2000");
    let started = std::time::Instant::now();
    ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    let took = started.elapsed();
    // 3,000 rows at 2,000 rows/s cannot finish in under about 1.5 s; unpaced it takes ~0.1 s.
    assert!(took.as_secs_f64() >= 1.4, "paced: took {took:?}");
    assert_eq!(scalar(&db, "SELECT count(*) FROM Invoice WHERE CustomerId = 1"), 0);
}

/// A second signal stops a delete at once even while it waits on a SQLite file another
/// connection has locked (SQLite waits in the calling thread, which holds dsar's one async
/// thread for up to `lock_timeout`): the signals are watched on a thread of their own. The
/// batch under way never started: every row of the subject is live or quarantined, once.
#[test]
fn a_second_signal_stops_a_delete_waiting_on_a_locked_file_at_once() {
    let (ws, db) = with_invoices("max_rows_per_second = 1000\nlock_timeout = \"120s\"");
    let invoices = "SELECT count(*) FROM Invoice WHERE CustomerId = 1";
    assert_eq!(scalar(&db, invoices), 3007);
    let mut child = ws.spawn(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    let reader = Connection::open(&db).unwrap();
    reader.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    // Until the invoices are under way (a batch of them committed).
    while reader.query_row(invoices, [], |r| r.get::<_, i64>(0)).unwrap() == 3007 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the delete ended before the test could act"
        );
    }
    let locker = Connection::open(&db).unwrap();
    locker.busy_timeout(std::time::Duration::from_secs(30)).unwrap();
    locker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    // The delete's next batch (a tenth of a second away at this pace) now waits on the lock.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = child.id().to_string();
    let term = || assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    term();
    // The second signal only once the first was seen (two signals close together are one).
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("stopping after the current batch") {
        let mut line = String::new();
        assert!(
            std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0,
            "dsar ended without seeing the first signal: {said}"
        );
        said.push_str(&line);
    }
    let signalled = std::time::Instant::now();
    term();
    let status = child.wait().unwrap();
    let took = signalled.elapsed();
    std::io::Read::read_to_string(&mut err, &mut said).unwrap();
    assert_eq!(status.code(), Some(130), "{said}");
    assert!(
        took.as_secs() < 20,
        "stopped {took:?} after the second signal (lock_timeout is 120 s)"
    );
    locker.execute_batch("ROLLBACK").unwrap();
    let live = scalar(&db, invoices);
    let quarantined = scalar(
        &db,
        "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine WHERE table_name = 'Invoice'",
    );
    assert!(
        live > 0 && quarantined > 0,
        "stopped mid-run: live {live}, quarantined {quarantined}"
    );
    assert_eq!(live + quarantined, 3007, "every invoice live or quarantined, once");
}

#[test]
fn discover_drafts_a_working_map_of_a_sqlite_file() {
    let bare =
        "[subject]\nkeys = [\"email\"]\n\n[[sources]]\nname = \"chinook\"\nkind = \"sqlite\"\npath = \"chinook.db\"\n";
    let ws = Workspace::new(bare, &[]);
    let db = ws.path("chinook.db");
    load_chinook(&db);
    let before = std::fs::read(&db).unwrap();
    let out = ws.dsar_ok(&["discover", "--source", "chinook"]);
    let draft = common::stdout(&out);
    assert!(draft.contains("kind = \"sqlite\"\npath = \"chinook.db\""), "{draft}");
    assert!(
        draft.contains("table = \"main.Customer\"\nmatch = { email = { column = \"Email\", ignore_case = true }"),
        "{draft}"
    );
    assert!(
        draft.contains("table = \"main.InvoiceLine\"\nvia = { table = \"main.Invoice\""),
        "customer → invoice → invoice_line: {draft}"
    );
    assert!(draft.contains("Email (email)") && draft.contains("(phone)"), "{draft}");
    assert_eq!(std::fs::read(&db).unwrap(), before, "discover changes nothing");

    // The draft is a working map: check passes and an export finds customer 1's 46 rows.
    std::fs::write(
        ws.path("sources.toml"),
        format!("[settings]\nrecipients_file = \"keys/exports.txt\"\n\n{draft}"),
    )
    .unwrap();
    ws.dsar_ok(&["check"]);
    let report = json(&ws.dsar_ok(&["export", "--subject", &format!("email={EMAIL}"), "--json"]));
    let rows: u64 = report["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, 46);
}

/// Whether `file` holds any of the person's values in readable form.
fn readable_in(file: &Path) -> Option<String> {
    let bytes = std::fs::read(file).unwrap_or_default();
    [EMAIL.as_bytes(), "Gonçalves".as_bytes(), b"Embraer"]
        .iter()
        .find(|plain| bytes.windows(plain.len()).any(|w| w == **plain))
        .map(|plain| String::from_utf8_lossy(plain).into_owned())
}

/// In WAL mode the rebuilt pages sit in `-wal` until a checkpoint: after a delete neither the
/// main file nor the log holds the person's rows. While another connection keeps a read
/// transaction open on the log it cannot be checkpointed: the delete says so, exit 3.
#[test]
fn a_delete_in_wal_mode_leaves_no_readable_copy_in_the_file_or_the_log() {
    let ws = workspace("30d", 5);
    let db = ws.path("chinook.db");
    let wal = ws.path("chinook.db-wal");
    let mode: String = Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--quiet"]);
    assert_eq!(readable_in(&db), None, "the main file");
    assert_eq!(readable_in(&wal), None, "the write-ahead log");

    // Another reader holds the log open: the delete erases, but cannot vouch for the log.
    let reader = Connection::open(&db).unwrap();
    reader.execute_batch("BEGIN; SELECT count(*) FROM Customer;").unwrap();
    let out = ws.dsar(&["delete", "--subject", "customer_id=2", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("chinook.db-wal in use"), "{}", stderr(&out));
    assert!(stderr(&out).contains("wal_checkpoint(TRUNCATE)"), "{}", stderr(&out));
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM Customer WHERE CustomerId = 2"),
        0,
        "erased all the same"
    );
}

/// `dsar` run as a user would, without `DSAR_STATE_DIR`: from `cwd`, `HOME` a fresh directory.
fn dsar_as_user(cwd: &Path, home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dsar"))
        .current_dir(cwd)
        .args(args)
        .env_remove("DSAR_STATE_DIR")
        .env_remove("DSAR_CONFIG")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", home)
        .output()
        .unwrap()
}

/// `[settings] state_dir` in the map (relative to it) is the state dir of every command run with
/// that map, from any directory; a state dir whose audit log is empty while the database records
/// earlier requests is refused (exit 2), until started on purpose with `dsar check`.
#[test]
fn the_map_names_its_state_dir_and_a_stray_one_is_refused() {
    let ws = Workspace::new(
        &map("30d", 10).replace("[settings]", "[settings]\nstate_dir = \"dsar-state\""),
        &[],
    );
    load_chinook(&ws.path("chinook.db"));
    let home = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = ws.path("sources.toml").display().to_string();
    let out = dsar_as_user(
        elsewhere.path(),
        home.path(),
        &[
            "--config",
            &config,
            "delete",
            "--subject",
            "customer_id=1",
            "--yes",
            "--quiet",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        ws.path("dsar-state/audit").is_dir(),
        "the map's state dir holds the log"
    );
    assert!(!home.path().join(".local/state/dsar").exists(), "no second log under ~");
    let verify = dsar_as_user(
        elsewhere.path(),
        home.path(),
        &["--config", &config, "audit", "verify", "--json"],
    );
    assert!(verify.status.success(), "{}", stderr(&verify));
    assert!(json(&verify)["events"].as_u64().unwrap() > 0);

    // Another state dir, empty, while the database records that request: refused.
    let stray = tempfile::tempdir().unwrap();
    let stray_dir = stray.path().display().to_string();
    let before = dump(&ws.path("chinook.db"), "Customer", "CustomerId");
    let args = [
        "--config",
        config.as_str(),
        "--state-dir",
        stray_dir.as_str(),
        "delete",
        "--subject",
        "customer_id=2",
        "--yes",
    ];
    let out = dsar_as_user(elsewhere.path(), home.path(), &args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("records 1 earlier request(s)") && stderr(&out).contains("state_dir"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        dump(&ws.path("chinook.db"), "Customer", "CustomerId"),
        before,
        "nothing changed"
    );
    // Started on purpose, it goes on.
    let check = dsar_as_user(
        elsewhere.path(),
        home.path(),
        &["--config", &config, "--state-dir", &stray_dir, "check"],
    );
    assert!(check.status.success(), "{}", stderr(&check));
    let out = dsar_as_user(elsewhere.path(), home.path(), &args);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// Someone who can write the `dsar` tables swaps another request's key (wrapped to the same
/// public recovery recipient) into this request's row: restore refuses it by the fingerprint the
/// delete recorded, and changes nothing.
#[test]
fn restore_refuses_a_request_key_that_is_not_the_one_the_delete_made() {
    let ws = workspace("30d", 1000);
    let db = ws.path("chinook.db");
    let first = ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes", "--json"]);
    let first = json(&first)["request_id"].as_str().unwrap().to_string();
    let second = ws.dsar_ok(&["delete", "--subject", "customer_id=2", "--yes", "--json"]);
    let second = json(&second)["request_id"].as_str().unwrap().to_string();
    let conn = Connection::open(&db).unwrap();
    conn.execute(
        "UPDATE dsar_requests SET wrapped_key = (SELECT wrapped_key FROM dsar_requests WHERE request_id = ?2) \
         WHERE request_id = ?1",
        [&first, &second],
    )
    .unwrap();
    drop(conn);
    let before = dump(&db, "Customer", "CustomerId");
    let out = ws.dsar(&["restore", "--request", &first, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("not the one dsar made"), "{}", stderr(&out));
    assert_eq!(dump(&db, "Customer", "CustomerId"), before, "nothing was restored");
    // The genuine key still restores the other request.
    ws.dsar_ok(&["restore", "--request", &second, "--identity", "keys/recovery.key"]);
}

/// A table whose primary key has `columns` columns, `mine` rows of one person and 10 of
/// another's, erased with `batch_rows` (None: the default) and restored.
fn wide_key_round_trip(columns: usize, mine: usize, batch_rows: Option<u32>) {
    let keys: Vec<String> = (1..=columns).map(|i| format!("k{i}")).collect();
    let map = format!(
        "[settings]\nrecovery_window = \"30d\"\nrecipients_file = \"keys/exports.txt\"\n\
         recovery_recipients_file = \"keys/recovery.txt\"\n\n[subject]\nkeys = [\"email\"]\n\n\
         [[sources]]\nname = \"wide\"\nkind = \"sqlite\"\npath = \"wide.db\"\n{}\n\
         [[sources.tables]]\ntable = \"wide\"\nmatch = {{ email = \"email\" }}\non_delete = \"quarantine\"\n",
        batch_rows.map_or(String::new(), |b| format!("batch_rows = {b}\n"))
    );
    let ws = Workspace::new(&map, &[]);
    let db = ws.path("wide.db");
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE wide ({}, email TEXT NOT NULL, note TEXT, PRIMARY KEY ({}));
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {mine} + 10)
         INSERT INTO wide SELECT {}, CASE WHEN i <= {mine} THEN 'me@example.com' ELSE 'other@example.com' END,
                                'row ' || i FROM n;",
        keys.iter()
            .map(|k| format!("{k} INTEGER NOT NULL"))
            .collect::<Vec<_>>()
            .join(", "),
        keys.join(", "),
        // Every key column takes part: k1 is the row number, the others derive from it.
        (1..=columns)
            .map(|c| if c == 1 {
                "i".to_string()
            } else {
                format!("i % {}", c + 1)
            })
            .collect::<Vec<_>>()
            .join(", "),
    ))
    .unwrap();
    drop(conn);
    let before = dump(&db, "wide", "k1");

    let out = ws.dsar_ok(&["delete", "--subject", "email=me@example.com", "--yes", "--json"]);
    let id = json(&out)["request_id"].as_str().unwrap().to_string();
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM wide WHERE email = 'me@example.com'"),
        0
    );
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM wide"),
        10,
        "the other person's rows stay"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine"
        ),
        mine as i64
    );
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(dump(&db, "wide", "k1"), before, "every row is back byte for byte");
}

/// A batch binds each key column of each of its rows once (SQLite allows 32,766 bound values
/// in a statement): with the default batch of 2,500 rows, a 14-column key would need 35,000.
/// The plan makes its chunks small enough that a batch's statement fits.
#[test]
fn a_wide_primary_key_fits_a_batch_in_the_bound_values_sqlite_allows() {
    wide_key_round_trip(14, 2_600, None);
}

/// The same when the operator raised batch_rows, as the README suggests for big subjects: a
/// batch of 10,000 rows of a four-column key is 40,000 bound values.
#[test]
fn a_raised_batch_rows_still_fits_the_bound_values_sqlite_allows() {
    wide_key_round_trip(4, 10_500, Some(10_000));
}

/// A workspace whose map quarantines one SQLite table of documents, `docs (doc_id, email,
/// body)`: rows `0..n` as `row(i)` makes them (email, wide?), a wide body being 20 KB of text
/// that does not compress away (each row's own digits). Deletes `me@example.com`, and checks
/// that the plan has `chunks` chunks, that the other person's 5 rows stay, and that a restore
/// brings every row back byte for byte. The last 5 rows are the other person's.
fn docs_round_trip(n: i64, row: impl Fn(i64) -> (&'static str, bool), chunks: std::ops::RangeInclusive<i64>) {
    let map = "[settings]\nrecovery_window = \"30d\"\nrecipients_file = \"keys/exports.txt\"\n\
               recovery_recipients_file = \"keys/recovery.txt\"\n\n[subject]\nkeys = [\"email\"]\n\n\
               [[sources]]\nname = \"docs\"\nkind = \"sqlite\"\npath = \"docs.db\"\n\n\
               [[sources.tables]]\ntable = \"docs\"\nmatch = { email = \"email\" }\non_delete = \"quarantine\"\n";
    let ws = Workspace::new(map, &[]);
    let db = ws.path("docs.db");
    let mut conn = Connection::open(&db).unwrap();
    conn.execute_batch("CREATE TABLE docs (doc_id INTEGER PRIMARY KEY, email TEXT NOT NULL, body TEXT NOT NULL)")
        .unwrap();
    let tx = conn.transaction().unwrap();
    for i in 0..n {
        let (email, wide) = row(i);
        let body: String = if wide {
            (0..2_000)
                .map(|j: i64| format!("{:010}", (i * 7_919 + j) * 104_729 % 1_000_000_007))
                .collect()
        } else {
            format!("note {i}")
        };
        tx.execute(
            "INSERT INTO docs VALUES (?1, ?2, ?3)",
            rusqlite::params![i, email, body],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    drop(conn);
    let before = dump(&db, "docs", "doc_id");

    let out = ws.dsar_ok(&["delete", "--subject", "email=me@example.com", "--yes", "--json"]);
    let id = json(&out)["request_id"].as_str().unwrap().to_string();
    let planned = scalar(&db, "SELECT count(*) FROM dsar_plan");
    assert!(chunks.contains(&planned), "{planned} chunks");
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM docs"),
        5,
        "the other person's rows stay"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine"
        ),
        n - 5,
        "each of the person's rows sealed once"
    );
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(dump(&db, "docs", "doc_id"), before, "every row is back byte for byte");
}

/// Rows of 20 KB: a batch takes about 1 MiB of them, not the default 2,500 rows (a batch holds
/// its rows, and their sealed bundles, in memory on each session until it commits; the bench's
/// wide-row figures show the memory), and every row comes back byte for byte.
#[test]
fn wide_rows_take_batches_of_about_a_mebibyte() {
    // 200 rows of 20 KB are 4 MB: four or five chunks, where batch_rows alone would make one.
    let me = |i| if i < 200 { "me@example.com" } else { "other@example.com" };
    docs_round_trip(205, |i| (me(i), true), 4..=8);
}

/// Rows that grow along the key (older rows small, newer ones 20 KB): the plan measures rows
/// spread over what it reads, not only the first, so the wide stretch still takes batches of
/// about a mebibyte (the first rows alone would have put all 2,200 rows in one batch).
#[test]
fn rows_that_grow_along_the_key_still_take_batches_of_about_a_mebibyte() {
    // The 200 wide rows are 4 MB: four chunks or more (the small rows go with the first), not one.
    let me = |i| {
        if i < 2_200 {
            "me@example.com"
        } else {
            "other@example.com"
        }
    };
    docs_round_trip(2_205, |i| (me(i), i >= 2_000), 4..=10);
}

/// SQLite keeps whatever bytes a `TEXT` value was given. One that is not UTF-8 in a row a delete
/// would seal stops the delete (exit 1, naming the table and what to do), the row left exactly
/// as it was: read with its bad bytes replaced, it was sealed, and restored, as U+FFFD. What
/// moved before is in quarantine, once. Once the value is stored as a BLOB, `resume` finishes
/// the delete and restore brings its bytes back. Reads that only compare (the register's scan)
/// still read such text.
#[test]
fn text_that_is_not_utf8_is_refused_not_sealed_with_its_bytes_replaced() {
    let ws = workspace("30d", 5);
    let db = ws.path("chinook.db");
    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("UPDATE Customer SET Company = CAST(X'4dfc6c6c6572' AS TEXT) WHERE CustomerId = 1")
        .unwrap();
    let hex = |conn: &Connection| -> String {
        conn.query_row(
            "SELECT typeof(Company) || ':' || hex(Company) FROM Customer WHERE CustomerId = 1",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(hex(&conn), "text:4DFC6C6C6572");
    let invoices = scalar(&db, "SELECT count(*) FROM Invoice WHERE CustomerId = 1");
    let out = ws.dsar(&["delete", "--subject", &format!("email={EMAIL}"), "--yes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("Customer") && err.contains("not UTF-8") && err.contains("BLOB"),
        "{err}"
    );
    assert_eq!(hex(&conn), "text:4DFC6C6C6572", "the row is as it was");
    let quarantined = |table: &str| {
        scalar(
            &db,
            &format!(
                "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar_quarantine WHERE table_name = '{table}'"
            ),
        )
    };
    assert_eq!(quarantined("Customer"), 0, "nothing of it sealed");
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM Invoice WHERE CustomerId = 1") + quarantined("Invoice"),
        invoices,
        "every invoice live or quarantined, once"
    );

    conn.execute_batch("UPDATE Customer SET Company = CAST(Company AS BLOB) WHERE CustomerId = 1")
        .unwrap();
    let jobs = json(&ws.dsar_ok(&["jobs", "--json"]));
    let id = jobs["requests"][0]["request_id"].as_str().unwrap().to_string();
    ws.dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    assert_eq!(scalar(&db, "SELECT count(*) FROM Customer WHERE CustomerId = 1"), 0);
    assert_eq!(quarantined("Invoice"), invoices);
    // A read that only compares takes such text (with U+FFFD): the register's scan of another
    // customer's email.
    conn.execute_batch("UPDATE Customer SET Email = CAST(X'6dfc40782e636f6d' AS TEXT) WHERE CustomerId = 2")
        .unwrap();
    ws.dsar_ok(&["check", "--erased"]);
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(hex(&conn), "blob:4DFC6C6C6572", "restored byte for byte");
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM Invoice WHERE CustomerId = 1"),
        invoices
    );
}
