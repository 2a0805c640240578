//! The erasure register attacked: a customer id handed out again after a backup was restored,
//! a reapplied erasure killed and resumed, an entry moved over another request's file. Chinook
//! on a real PostgreSQL server, through the real binary.

mod common;

use common::{Workspace, fresh_db, pg_backup as backup, pg_restore_backup as restore_backup, psql, stderr, stdout};
use serde_json::Value;

const MAP: &str = include_str!("../sources.toml.example");
const EMAIL: &str = "luisg@embraer.com.br";

fn chinook(map: &str) -> (common::TestDb, Workspace) {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(map, &[("CHINOOK_DATABASE_URL", &db.url)]);
    (db, ws)
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

/// Someone signs up after the backup (customer 100) and is erased; the backup is restored, and
/// the id 100 is handed to a new person. Their customer id matches the register, their email
/// does not: they are reported for review, and `reapply --yes` leaves them alone.
#[test]
fn a_customer_id_given_again_after_a_restore_is_reported_not_erased() {
    let (db, ws) = chinook(MAP);
    let kept = backup(&db.url);
    let insert = |email: &str| {
        psql(
            &db.url,
            &format!(
                "INSERT INTO customer (customer_id, first_name, last_name, email) VALUES (100, 'New', 'Person', '{email}'); \
                 INSERT INTO invoice (invoice_id, customer_id, invoice_date, total) VALUES (9000, 100, '2026-01-01', 1)"
            ),
        );
    };
    insert("first@example.org");
    ws.dsar_ok(&["delete", "--subject", "customer_id=100", "--yes"]);
    restore_backup(&db.url, &kept);
    insert("second@example.org");
    let out = ws.dsar(&["check", "--erased", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let found = json(&out);
    assert!(found["found"][0]["review"].is_string(), "{found}");
    let out = ws.dsar(&["reapply", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("needs review"), "{}", stdout(&out));
    assert_eq!(
        psql(&db.url, "SELECT count(*) FROM customer WHERE customer_id = 100"),
        "1",
        "the new person is untouched"
    );
    assert!(!stdout(&out).contains("second@example.org") && !stderr(&out).contains("second@example.org"));
}

/// A reapplied erasure killed half-way and finished by `resume` stays linked to its original:
/// the register still verifies as complete, and the check is then silent.
#[test]
fn a_reapplied_erasure_killed_and_resumed_keeps_the_register_whole() {
    let (db, ws) = chinook(&MAP.replace("batch_rows = 2500", "batch_rows = 1\nmax_rows_per_second = 20"));
    let kept = backup(&db.url);
    ws.dsar_ok(&["delete", "--subject", &format!("email={EMAIL}"), "--yes"]);
    restore_backup(&db.url, &kept);
    let mut child = ws.spawn(&["reapply", "--yes", "--quiet"]);
    let quarantined = || {
        common::try_psql(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine",
        )
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(0)
    };
    let start = std::time::Instant::now();
    while quarantined() == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "reapply ended before the test could act"
        );
        assert!(start.elapsed().as_secs() < 60);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let jobs = json(&ws.dsar_ok(&["jobs", "--json"]));
    let reapplied = jobs["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["reapplied_from"].is_string())
        .unwrap_or_else(|| panic!("{jobs}"))["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Not finished: the check says so rather than calling the register complete.
    let out = ws.dsar(&["check", "--erased"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("resume {reapplied}")),
        "{}",
        stdout(&out)
    );
    ws.dsar_ok(&[
        "resume",
        &reapplied,
        "--yes",
        "--identity",
        "keys/recovery.key",
        "--quiet",
    ]);
    assert_eq!(
        psql(
            &db.url,
            &format!("SELECT count(*) FROM customer WHERE email = '{EMAIL}'")
        ),
        "0"
    );
    let out = ws.dsar_ok(&["check", "--erased"]);
    assert_eq!(stdout(&out), "");
    let status = json(&ws.dsar_ok(&["status", &reapplied, "--json"]));
    assert!(status["reapplied_from"].is_string(), "{status}");
}

/// One request's entry copied over another's file would hide the second request's people: it
/// is refused as moved.
#[test]
fn an_entry_moved_over_another_requests_file_is_refused() {
    let (_db, ws) = chinook(MAP);
    ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes"]);
    ws.dsar_ok(&["delete", "--subject", "customer_id=2", "--yes"]);
    let dir = ws.state_dir().join("register");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 2);
    std::fs::copy(&files[0], &files[1]).unwrap();
    let out = ws.dsar(&["check", "--erased"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("moved"), "{}", stderr(&out));
    let out = ws.dsar(&["register", "export", "--out", "copy.json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a damaged register is not sealed into a copy"
    );
    assert!(!ws.path("copy.json").exists());
}
