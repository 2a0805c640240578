//! The persisted plan, on a schema with no foreign keys (rows linked only by column names): a
//! delete killed after its customer row left resumes every planned row, an `anonymize` delete
//! killed at a random batch resumes without sealing a row twice and restores byte for byte, and
//! rows written while a delete runs are erased before it says completed.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestDb, Workspace, dump_table, fresh_db, psql, stdout};

const MAP: &str = include_str!("fixtures/store_nofk.toml");

/// Every table with its ordering key, the decoy included.
const TABLES: [(&str, &str); 8] = [
    ("store.customer", "1"),
    ("store.address", "1"),
    ("store.orders", "1"),
    ("store.order_item", "1, 2"),
    ("store.payment_card", "1"),
    ("store.login", "1"),
    ("store.visit", "1"),
    ("backup_schema.customer", "1"),
];

fn dumps(url: &str) -> Vec<String> {
    TABLES.iter().map(|(t, k)| dump_table(url, t, k)).collect()
}

fn count(url: &str, sql: &str) -> i64 {
    psql(url, sql).parse().unwrap()
}

fn store(config: &str) -> (TestDb, Workspace) {
    let db = fresh_db("store_tpl");
    let ws = Workspace::new(config, &[("STORE_DATABASE_URL", &db.url)]);
    (db, ws)
}

/// Poll `ready` every 20 ms for up to 60 s.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn quarantined(url: &str, table: &str) -> i64 {
    // Before the first delete, the store does not exist yet.
    common::try_psql(
        url,
        &format!("SELECT count(*) FROM dsar.quarantine WHERE table_name = '{table}'"),
    )
    .map_or(0, |n| n.parse().unwrap())
}

/// `dsar delete --subject SUBJECT --yes`; its request id.
fn delete(ws: &Workspace, subject: &str) -> String {
    let out = ws.dsar_ok(&["delete", "--subject", subject, "--yes", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    report["request_id"].as_str().unwrap().to_string()
}

/// The request id of the only delete in the ledger.
fn only_request(ws: &Workspace) -> String {
    let out = ws.dsar_ok(&["jobs", "--json"]);
    let jobs: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let list = jobs
        .as_array()
        .or_else(|| jobs["requests"].as_array())
        .expect("a list of jobs");
    assert_eq!(list.len(), 1, "one request: {jobs}");
    list[0]["request_id"].as_str().unwrap().to_string()
}

/// End every other session of the test database (a killed dsar's, a locker's).
fn end_other_sessions(url: &str) {
    psql(
        url,
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
    );
}

/// Customer 1's rows, table by table, as the plan should change them.
fn assert_customer_one_erased(url: &str) {
    assert_eq!(
        count(url, "SELECT count(*) FROM store.customer WHERE customer_id = 1"),
        0
    );
    assert_eq!(count(url, "SELECT count(*) FROM store.orders WHERE customer_id = 1"), 0);
    assert_eq!(
        count(url, "SELECT count(*) FROM store.order_item WHERE order_id <= 3"),
        0
    );
    assert_eq!(
        count(url, "SELECT count(*) FROM store.payment_card WHERE customer_id = 1"),
        0
    );
    assert_eq!(count(url, "SELECT count(*) FROM store.login WHERE customer_id = 1"), 0);
    assert_eq!(
        psql(
            url,
            "SELECT street || '/' || coalesce(city, 'NULL') FROM store.address WHERE address_id = 1"
        ),
        "[redacted]/NULL"
    );
    assert_eq!(
        count(
            url,
            "SELECT count(*) FROM store.visit WHERE email = 'customer-1@example.com' AND page <> '[redacted]'"
        ),
        0
    );
    // Nobody else lost anything.
    assert_eq!(count(url, "SELECT count(*) FROM store.customer"), 39);
    assert_eq!(count(url, "SELECT count(*) FROM store.orders"), 117);
    assert_eq!(count(url, "SELECT count(*) FROM store.order_item"), 234);
    assert_eq!(count(url, "SELECT count(*) FROM store.login"), 78);
    assert_eq!(
        count(url, "SELECT count(*) FROM store.visit WHERE page = '[redacted]'"),
        50
    );
    assert_eq!(count(url, "SELECT count(*) FROM backup_schema.customer"), 40);
}

/// Each planned row sealed exactly once.
fn assert_sealed_once(url: &str) {
    for (table, rows) in [
        ("customer", 1),
        ("address", 1),
        ("orders", 3),
        ("order_item", 6),
        ("payment_card", 1),
        ("login", 2),
        ("visit", 50),
    ] {
        assert_eq!(quarantined(url, table), rows, "quarantine entries of {table}");
    }
}

/// Killed once the customer's row has left (so nothing live leads from the email to the
/// customer_id any more), `resume` still erases every order, item, card and login it planned.
#[test]
fn a_delete_killed_after_the_customer_left_resumes_every_planned_row() {
    let (db, ws) = store(MAP);
    let before = dumps(&db.url);
    // Hold a row the delete reaches after the customer, so it waits there.
    let mut locker = Command::new("psql")
        .args([
            &db.url,
            "-X",
            "-q",
            "-c",
            "BEGIN; SELECT 1 FROM store.order_item WHERE order_id = 1 FOR UPDATE; SELECT pg_sleep(300);",
        ])
        .env("PGAPPNAME", "dsar_test_locker")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for("the locker to hold its row", || {
        count(
            &db.url,
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'dsar_test_locker' AND l.locktype = 'transactionid'",
        ) > 0
    });
    let mut child = ws.spawn(&[
        "delete",
        "--subject",
        "email=customer-1@example.com",
        "--yes",
        "--quiet",
    ]);
    wait_for("the customer row to be quarantined", || {
        quarantined(&db.url, "customer") == 1
    });
    wait_for("the delete to wait on the held row", || {
        count(
            &db.url,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query ILIKE '%order_item%'",
        ) > 0
    });
    child.kill().unwrap();
    child.wait().unwrap();
    end_other_sessions(&db.url);
    let _ = locker.kill();
    let _ = locker.wait();
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM store.customer WHERE customer_id = 1"),
        0
    );
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM store.orders WHERE customer_id = 1"),
        3,
        "killed before the orders"
    );

    let id = only_request(&ws);
    ws.dsar_ok(&["resume", &id, "--identity", "keys/recovery.key", "--quiet"]);
    assert_customer_one_erased(&db.url);
    assert_sealed_once(&db.url);

    ws.dsar_ok(&[
        "restore",
        "--request",
        &id,
        "--identity",
        "keys/recovery.key",
        "--quiet",
    ]);
    assert_eq!(dumps(&db.url), before, "restore gives back every table byte for byte");
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM dsar.plan"),
        0,
        "a restored request's plan is gone"
    );
}

/// An anonymize delete killed at a random batch, resumed, then restored: every table is as it
/// was, and no anonymized row was sealed twice (which would restore the anonymized copy over
/// the original).
#[test]
fn an_anonymize_delete_killed_at_a_random_batch_resumes_and_restores_byte_for_byte() {
    for trial in 0..2 {
        let config = MAP.replace("batch_rows = 1", "batch_rows = 1\nmax_rows_per_second = 40");
        let (db, ws) = store(&config);
        let before = dumps(&db.url);
        let kill_at = 1 + rand::random::<u32>() as i64 % 45;
        let mut child = ws.spawn(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
        wait_for("some visits to be anonymized", || {
            quarantined(&db.url, "visit") >= kill_at || child.try_wait().unwrap().is_some()
        });
        let _ = child.kill();
        child.wait().unwrap();
        end_other_sessions(&db.url);
        let context = format!("trial {trial}, killed after {kill_at} visits");

        let id = only_request(&ws);
        let out = ws.dsar(&["resume", &id, "--identity", "keys/recovery.key", "--quiet"]);
        assert!(
            out.status.success() || quarantined(&db.url, "visit") == 50,
            "{context}: resume failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_customer_one_erased(&db.url);
        assert_sealed_once(&db.url);
        ws.dsar_ok(&[
            "restore",
            "--request",
            &id,
            "--identity",
            "keys/recovery.key",
            "--quiet",
        ]);
        assert_eq!(dumps(&db.url), before, "{context}: restored byte for byte");
    }
}

/// Rows written for the subject while the delete runs are erased before it says completed.
#[test]
fn rows_written_during_a_delete_are_erased_before_it_completes() {
    let config = MAP.replace("batch_rows = 1", "batch_rows = 1\nmax_rows_per_second = 40");
    let (db, ws) = store(&config);
    let child = Command::new(env!("CARGO_BIN_EXE_dsar"))
        .current_dir(ws.dir.path())
        .args(["delete", "--subject", "email=customer-1@example.com", "--yes", "--json"])
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("STORE_DATABASE_URL", &db.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the plan is on record, the application writes more about the person.
    wait_for("the plan to be recorded", || quarantined(&db.url, "address") == 1);
    psql(
        &db.url,
        "INSERT INTO store.visit VALUES (5001, 'customer-1@example.com', '/late'), (5002, 'customer-1@example.com', '/later');
         INSERT INTO store.login VALUES (5001, 1, '10.9.9.9')",
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "delete failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = |table: &str| {
        report["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["table"] == table)
            .map(|c| c["rows"].as_u64().unwrap())
    };
    assert_eq!(rows("store.visit"), Some(52), "the late visits are counted: {report}");
    assert_eq!(rows("store.login"), Some(3), "the late login is counted: {report}");
    assert_eq!(
        count(
            &db.url,
            "SELECT count(*) FROM store.visit WHERE page IN ('/late', '/later')"
        ),
        0
    );
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM store.login WHERE login_id = 5001"),
        0
    );
    assert_eq!(quarantined(&db.url, "visit"), 52, "each visit sealed once");
}

/// Two deletes of one person: the second finds the visits the first anonymized and leaves them
/// alone (nothing left to change, so nothing sealed that a restore could write over the
/// originals); restored oldest first, every original is back.
#[test]
fn a_second_delete_of_one_person_seals_no_anonymized_row() {
    let (db, ws) = store(MAP);
    let before = dumps(&db.url);
    let first = delete(&ws, "email=customer-1@example.com");
    let second = delete(&ws, "email=customer-1@example.com");
    assert_ne!(first, second);
    assert_eq!(
        quarantined(&db.url, "visit"),
        50,
        "the anonymized visits are not sealed again"
    );
    for id in [&first, &second] {
        ws.dsar_ok(&["restore", "--request", id, "--identity", "keys/recovery.key", "--quiet"]);
    }
    assert_eq!(dumps(&db.url), before, "every original is back");
}

/// A value the application wrote over an anonymized one is newer than the request's original:
/// restore leaves it and flags the row (exit 3); the other rows come back.
#[test]
fn restore_never_writes_over_a_value_changed_since_the_delete() {
    let (db, ws) = store(MAP);
    let id = delete(&ws, "customer_id=1");
    psql(
        &db.url,
        "UPDATE store.visit SET page = '/written-later' WHERE visit_id = 7",
    );
    let out = ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(3), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("store.visit (visit_id=7): its anonymized values were changed since"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(
        psql(&db.url, "SELECT page FROM store.visit WHERE visit_id = 7"),
        "/written-later"
    );
    assert_eq!(
        psql(&db.url, "SELECT page FROM store.visit WHERE visit_id = 8"),
        "/page/8"
    );
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM store.customer WHERE customer_id = 1"),
        1
    );
}

/// A quarantined row removed by hand is not passed over: restore brings back the rest and
/// reports that the quarantine holds fewer rows than the delete recorded (exit 3).
#[test]
fn restore_reports_rows_missing_from_the_quarantine() {
    let (db, ws) = store(MAP);
    let id = delete(&ws, "customer_id=1");
    psql(
        &db.url,
        "DELETE FROM dsar.quarantine WHERE id = (SELECT min(id) FROM dsar.quarantine WHERE table_name = 'login')",
    );
    let out = ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(3), "{}", common::stderr(&out));
    assert!(
        common::stderr(&out).contains("store: store.login: the delete recorded 2 row(s), the quarantine held 1"),
        "{}",
        common::stderr(&out)
    );
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM store.login WHERE customer_id = 1"),
        1
    );
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM store.orders WHERE customer_id = 1"),
        3
    );
}

/// A card number of 16 digits has the shape of a dsar hash: it must still be anonymized (a
/// hash's shape alone never proves a row was anonymized already).
#[test]
fn a_value_shaped_like_a_hash_is_still_anonymized() {
    let map = MAP.replace(
        "table = \"store.payment_card\"\nmatch = { customer_id = \"customer_id\" }",
        "table = \"store.payment_card\"\nmatch = { customer_id = \"customer_id\" }\non_delete = \"anonymize\"\nanonymize = { number = \"hash\" }",
    );
    assert_ne!(map, MAP);
    let (db, ws) = store(&map);
    psql(
        &db.url,
        "UPDATE store.payment_card SET number = '4111111111110001' WHERE card_id = 1",
    );
    ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    let number = psql(&db.url, "SELECT number FROM store.payment_card WHERE card_id = 1");
    assert_ne!(number, "4111111111110001", "the card number was anonymized");
    assert_eq!(quarantined(&db.url, "payment_card"), 1, "and its original sealed");
}
