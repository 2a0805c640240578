//! The request ledger: status and jobs after real runs, and a long delete that is interrupted,
//! cancelled by signal, or cancelled from another shell.

mod common;

use std::process::{Child, Command};

use common::{TestDb, Workspace, fresh_db, psql, stderr, stdout};
use serde_json::Value;

const EXAMPLE: &str = include_str!("../sources.toml.example");
const MAP: &str = include_str!("fixtures/shop_erase.toml");
const ROWS: i64 = 60_000;

fn json(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(out)))
}

#[test]
fn status_and_jobs_show_finished_requests_with_their_counts() {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(EXAMPLE, &[("CHINOOK_DATABASE_URL", &db.url)]);
    let export = json(&ws.dsar_ok(&["export", "--subject", "customer_id=1", "--json"]));
    let delete = json(&ws.dsar_ok(&[
        "delete",
        "--subject",
        "customer_id=1",
        "--yes",
        "--json",
        "--reason",
        "DSAR-7",
    ]));

    let status = json(&ws.dsar_ok(&["status", delete["request_id"].as_str().unwrap(), "--json"]));
    assert_eq!(status["state"], "completed");
    assert_eq!(status["kind"], "delete");
    assert_eq!(status["reason"], "DSAR-7");
    let lines = status["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "public.invoice_line")
        .unwrap();
    assert_eq!(
        (lines["rows"].as_u64(), lines["planned"].as_u64()),
        (Some(38), Some(38))
    );

    let latest = json(&ws.dsar_ok(&["status", "--json"]));
    assert_eq!(
        latest["request_id"], delete["request_id"],
        "status without an id shows the latest"
    );

    let jobs = json(&ws.dsar_ok(&["jobs", "--json"]));
    let ids: Vec<&str> = jobs["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&export["request_id"].as_str().unwrap()) && ids.contains(&delete["request_id"].as_str().unwrap())
    );
    let none = json(&ws.dsar_ok(&["jobs", "--state", "running", "--json"]));
    assert!(none["requests"].as_array().unwrap().is_empty());
    let future = json(&ws.dsar_ok(&["jobs", "--since", "2999-01-01", "--json"]));
    assert!(
        future["requests"].as_array().unwrap().is_empty(),
        "--since filters by start"
    );
    let all = json(&ws.dsar_ok(&["jobs", "--since", "2000-01-01T00:00:00Z", "--json"]));
    assert_eq!(all["requests"].as_array().unwrap().len(), 2);

    // Export and restore plan their rows too (a count before the work), so status can show a
    // percentage and an ETA while they run; when they are done, done = planned.
    let restore = json(&ws.dsar_ok(&[
        "restore",
        "--request",
        delete["request_id"].as_str().unwrap(),
        "--identity",
        "keys/recovery.key",
        "--json",
    ]));
    for request in [&export, &restore] {
        let status = json(&ws.dsar_ok(&["status", request["request_id"].as_str().unwrap(), "--json"]));
        let progress = status["counts"].as_array().unwrap();
        assert_eq!(progress.len(), 3, "{status}");
        let done: u64 = progress.iter().map(|p| p["rows"].as_u64().unwrap()).sum();
        let planned: u64 = progress.iter().map(|p| p["planned"].as_u64().unwrap()).sum();
        assert_eq!((done, planned), (46, 46), "{} {status}", status["kind"]);
    }
    let human = ws.dsar_ok(&["jobs"]);
    assert!(stdout(&human).contains("completed"));
    let log = std::fs::read_to_string(
        ws.state_dir()
            .join("requests")
            .join(format!("{}.json", delete["request_id"].as_str().unwrap())),
    )
    .unwrap();
    assert!(!log.contains("luisg"), "the ledger holds no raw identifier");
}

/// A shop database where customer 1 owns `ROWS` events, and a delete of them paced at 20k rows/s.
fn long_delete() -> (TestDb, Workspace, Child) {
    let (db, ws) = shop_with_events(20_000);
    let child = ws.spawn(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    (db, ws, child)
}

/// Give customer 1 of a shop database `ROWS` events.
fn seed_events(db: &TestDb) {
    psql(
        &db.url,
        &format!("INSERT INTO \"Shop\".events SELECT g, 1, md5(g::text) FROM generate_series(1, {ROWS}) g; ANALYZE"),
    );
}

/// A shop database where customer 1 owns `ROWS` events, mapped in batches of 500 rows paced at
/// `rate` rows/s, so a run lasts long enough to be caught.
fn shop_with_events(rate: u32) -> (TestDb, Workspace) {
    let db = fresh_db("shop_tpl");
    seed_events(&db);
    let config = MAP.replace(
        "batch_rows = 2",
        &format!("batch_rows = 500\nmax_rows_per_second = {rate}"),
    );
    let ws = Workspace::new(&config, &[("SHOP_DATABASE_URL", &db.url)]);
    (db, ws)
}

/// Send SIGTERM (as Ctrl-C or systemd would) and wait for the process to stop.
fn sigterm(child: Child) -> std::process::Output {
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    child.wait_with_output().unwrap()
}

/// Wait (by polling the ledger) until the request is running and has moved some of the
/// events (the long, paced table: a smaller table done first is not yet "mid-run" there, and a
/// slow machine can be caught between the two).
fn running_id(ws: &Workspace, child: &mut Child) -> String {
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the delete ended before the test could act"
        );
        let jobs = json(&ws.dsar_ok(&["jobs", "--state", "running", "--json"]));
        if let Some(r) = jobs["requests"].as_array().unwrap().first()
            && r["counts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["table"] == "Shop.events" && p["rows"].as_u64().unwrap_or(0) > 0)
        {
            return r["request_id"].as_str().unwrap().to_string();
        }
    }
}

fn live_plus_quarantined(db: &TestDb) -> i64 {
    let live: i64 = psql(&db.url, "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" = 1")
        .parse()
        .unwrap();
    let q: i64 = psql(
        &db.url,
        "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine WHERE table_name = 'events'",
    )
    .parse()
    .unwrap();
    assert!(live > 0 && q > 0, "stopped mid-run: live {live}, quarantined {q}");
    live + q
}

#[test]
fn a_killed_request_shows_as_interrupted() {
    let (db, ws, mut child) = long_delete();
    let id = running_id(&ws, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let status = json(&ws.dsar_ok(&["status", &id, "--json"]));
    assert_eq!(status["state"], "failed (interrupted)");
    // A dead process has no estimate, and its progress is said to be its last record.
    assert!(status.get("eta_seconds").is_none_or(Value::is_null), "{status}");
    let text = stdout(&ws.dsar_ok(&["status", &id]));
    assert!(!text.contains("eta"), "{text}");
    assert!(
        text.contains("progress as its process last recorded it") && text.contains(&format!("dsar resume {id}")),
        "{text}"
    );
    assert_eq!(live_plus_quarantined(&db), ROWS);
    let failed = json(&ws.dsar_ok(&["jobs", "--state", "failed", "--json"]));
    assert_eq!(
        failed["requests"].as_array().unwrap().len(),
        1,
        "interrupted counts as failed"
    );
}

/// The ledger is authenticated: a record edited or written by hand is listed as damaged (the
/// rest still shown), and `resume` refuses to act on it.
#[test]
fn a_tampered_ledger_record_is_never_resumed() {
    let (db, ws, mut child) = long_delete();
    let id = running_id(&ws, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    // Someone points the interrupted delete at another person.
    let path = ws.state_dir().join(format!("requests/{id}.json"));
    let mut record: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    record["subject"] = serde_json::json!(["customer_id:0000"]);
    std::fs::write(&path, record.to_string()).unwrap();
    std::fs::write(
        ws.state_dir().join("requests/20990101-000000-deadbeef.json"),
        "not json",
    )
    .unwrap();

    let out = ws.dsar(&["resume", &id, "--yes", "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot be trusted"), "{}", stderr(&out));
    assert_eq!(live_plus_quarantined(&db), ROWS, "nothing was resumed");

    let jobs = json(&ws.dsar_ok(&["jobs", "--json"]));
    let listed = jobs["requests"].as_array().unwrap();
    assert_eq!(listed.len(), 2, "one bad file does not hide the others: {jobs}");
    assert!(listed.iter().all(|r| r["damaged"].is_string()), "{jobs}");
    assert!(listed.iter().all(|r| r.get("mac").is_none()), "{jobs}");
    assert!(stdout(&ws.dsar_ok(&["status", &id])).contains("DAMAGED"));
}

#[test]
fn sigterm_finishes_the_batch_records_cancelled_and_exits_130() {
    let (db, ws, mut child) = long_delete();
    let id = running_id(&ws, &mut child);
    let out = sigterm(child);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("stay erased"), "{}", stderr(&out));
    let status = json(&ws.dsar_ok(&["status", &id, "--json"]));
    assert_eq!(status["state"], "cancelled");
    assert_eq!(live_plus_quarantined(&db), ROWS, "nothing lost at the cancel");
    let events = status["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "Shop.events")
        .unwrap();
    let quarantined: u64 = psql(
        &db.url,
        "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine WHERE table_name = 'events'",
    )
    .parse()
    .unwrap();
    assert_eq!(
        events["rows"].as_u64(),
        Some(quarantined),
        "the ledger records exactly the committed batches"
    );
    assert_eq!(events["planned"].as_u64(), Some(ROWS as u64));
    assert_eq!(ws.audit_events().last().unwrap()["action"], "delete.cancelled");
}

#[test]
fn dsar_cancel_from_another_shell_stops_the_request() {
    let (db, ws, mut child) = long_delete();
    let id = running_id(&ws, &mut child);
    let out = json(&ws.dsar_ok(&["cancel", &id, "--json"]));
    assert_eq!(
        (out["request_id"].as_str(), out["state"].as_str()),
        (Some(id.as_str()), Some("cancelling"))
    );
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(json(&ws.dsar_ok(&["status", &id, "--json"]))["state"], "cancelled");
    assert_eq!(live_plus_quarantined(&db), ROWS);
    let events = ws.audit_events();
    let asked = events
        .iter()
        .position(|e| e["action"] == "cancel.requested" && e["request_id"] == id.as_str())
        .expect("the cancel request is audit-logged");
    let stopped = events
        .iter()
        .position(|e| e["action"] == "delete.cancelled" && e["request_id"] == id.as_str())
        .expect("the cancelled delete is audit-logged");
    assert!(asked < stopped, "asked, then stopped");
    assert!(
        !events[asked]["subject"].as_array().unwrap().is_empty()
            && events[asked]["subject"] == events[stopped]["subject"],
        "the cancel names whose request it stops: {}",
        events[asked]
    );
    let again = ws.dsar(&["cancel", &id]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "cancelling a finished request is a usage error"
    );
}

#[test]
fn a_finished_request_is_sent_to_the_notify_command_and_webhook() {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Read headers and the body announced by Content-Length.
        loop {
            let n = stream.read(&mut buf).unwrap();
            request.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= length {
                    stream
                        .write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")
                        .unwrap();
                    return text;
                }
            }
        }
    });
    let db = fresh_db("chinook_tpl");
    let config = EXAMPLE.replace(
        "[subject]",
        &format!("[notify]\ncommand = [\"sh\", \"-c\", \"cat > notified.json\"]\nwebhook = \"http://127.0.0.1:{port}/hooks/dsar\"\n\n[subject]"),
    );
    let ws = Workspace::new(&config, &[("CHINOOK_DATABASE_URL", &db.url)]);
    let out = json(&ws.dsar_ok(&["export", "--subject", "customer_id=1", "--json"]));
    let notified: Value = serde_json::from_slice(&std::fs::read(ws.path("notified.json")).unwrap()).unwrap();
    assert_eq!(notified["request_id"], out["request_id"]);
    assert_eq!(notified["state"], "completed");
    assert_eq!(notified["kind"], "export");
    let posted = server.join().unwrap();
    assert!(posted.starts_with("POST /hooks/dsar"), "{posted}");
    assert!(posted.contains(out["request_id"].as_str().unwrap()), "{posted}");

    // A notification that fails is a warning and an audit event, never a failed request.
    let broken = EXAMPLE.replace("[subject]", "[notify]\ncommand = [\"false\"]\n\n[subject]");
    let ws = Workspace::new(&broken, &[("CHINOOK_DATABASE_URL", &db.url)]);
    let out = ws.dsar_ok(&["export", "--subject", "customer_id=1"]);
    assert!(
        stderr(&out).contains("warning: notify command `false`"),
        "{}",
        stderr(&out)
    );
    assert!(ws.audit_events().iter().any(|e| e["action"] == "notify.failed"));
}

#[test]
fn without_a_terminal_long_runs_report_progress_as_json_lines_on_stderr() {
    let (_db, ws) = shop_with_events(30_000);
    let out = ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes"]);
    let events: Vec<Value> = stderr(&out)
        .lines()
        .filter(|l| l.contains("\"event\":\"progress\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!events.is_empty(), "a 2-second run reports progress: {}", stderr(&out));
    assert_eq!(events[0]["table"], "Shop.events");
    assert_eq!(events[0]["planned"], ROWS);
    assert!(stdout(&out).contains("deleted"), "the summary still goes to stdout");
}

#[test]
fn resume_finishes_a_killed_delete_under_the_same_request() {
    let (db, ws, mut child) = long_delete();
    let before_rows = ROWS;
    let id = running_id(&ws, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(live_plus_quarantined(&db), before_rows);

    let out = ws.dsar(&["resume", &id, "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a delete needs the recovery key to resume: {}",
        stderr(&out)
    );
    ws.dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    assert_eq!(
        psql(&db.url, "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" = 1"),
        "0"
    );
    assert_eq!(
        psql(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine WHERE table_name = 'events'"
        ),
        ROWS.to_string()
    );
    assert_eq!(
        psql(&db.url, "SELECT count(DISTINCT request_id) FROM dsar.quarantine"),
        "1",
        "one request, not two"
    );
    assert_eq!(json(&ws.dsar_ok(&["status", &id, "--json"]))["state"], "completed");
    let again = ws.dsar(&["resume", &id, "--yes", "--identity", "keys/recovery.key"]);
    assert_eq!(again.status.code(), Some(2), "nothing left to resume");

    let actions: Vec<String> = ws
        .audit_events()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert!(actions.contains(&"delete.resumed".to_string()), "{actions:?}");
    ws.dsar_ok(&[
        "restore",
        "--request",
        &id,
        "--identity",
        "keys/recovery.key",
        "--quiet",
    ]);
    assert_eq!(
        psql(&db.url, "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" = 1"),
        ROWS.to_string()
    );
    let record = std::fs::read_to_string(ws.state_dir().join("requests").join(format!("{id}.json"))).unwrap();
    assert!(
        !record.contains("customer_id\",\"1"),
        "the sealed subjects are not readable in the ledger"
    );
}

/// A one-person export that runs for more than a second counts its tables on a second session
/// in its snapshot while the rows stream (PostgreSQL): a run caught half-way already shows the
/// table's total, so `dsar status` has a percentage and an ETA, and the rows never waited for
/// the count; the second session is there beside the export's while it reads. (A short export
/// never opens it: the other tests' exports take a few milliseconds.)
#[test]
fn a_running_export_knows_its_table_totals_before_reading_them_all() {
    let (db, ws) = shop_with_events(20_000);
    let mut child = ws.spawn(&["export", "--subject", "customer_id=1", "--quiet"]);
    let caught = loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export ended before the test could act"
        );
        let jobs = json(&ws.dsar_ok(&["jobs", "--state", "running", "--json"]));
        let events = jobs["requests"].as_array().unwrap().first().and_then(|r| {
            r["counts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["table"] == "Shop.events")
                .cloned()
        });
        // Two seconds into the table: counting starts after one, and takes milliseconds.
        if let Some(events) = events
            && events["rows"].as_u64().unwrap_or(0) >= 40_000
        {
            break (jobs["requests"][0].clone(), events);
        }
    };
    let (record, events) = caught;
    assert!(events["rows"].as_i64().unwrap() < ROWS, "caught half-way: {events}");
    assert_eq!(events["planned"], ROWS, "the total is known mid-read: {record}");
    assert!(record["eta_seconds"].is_u64(), "{record}");
    // The counting session is the second one (it stays open until the rows are read).
    let sessions = psql(
        &db.url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'dsar'",
    );
    assert_eq!(sessions, "2");
    let out = sigterm(child);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
}

#[test]
fn resume_redoes_a_killed_export_under_the_same_request() {
    let (_db, ws) = shop_with_events(20_000);
    let mut child = ws.spawn(&["export", "--subject", "customer_id=1", "--quiet"]);
    // Kill it once its archive is being written (the temp file exists).
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export ended before the test could act"
        );
        if ws.archives().iter().any(|p| p.to_string_lossy().ends_with(".partial")) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let jobs = json(&ws.dsar_ok(&["jobs", "--json"]));
    let record = &jobs["requests"][0];
    assert_eq!(record["state"], "failed (interrupted)");
    let id = record["request_id"].as_str().unwrap().to_string();
    assert!(
        !ws.archives().iter().any(|p| p.to_string_lossy().ends_with(".zip.age")),
        "no finished archive yet"
    );

    // Two operators resume it at the same moment: one runs it, the other is told so and
    // changes nothing (not a second run once the first is done).
    let resume = || ws.spawn(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    let (first, second) = (resume(), resume());
    let outs = [first.wait_with_output().unwrap(), second.wait_with_output().unwrap()];
    let codes: Vec<Option<i32>> = outs.iter().map(|o| o.status.code()).collect();
    assert!(
        codes == [Some(0), Some(2)] || codes == [Some(2), Some(0)],
        "one resume runs, the other is refused: {codes:?}\n{}\n{}",
        stderr(&outs[0]),
        stderr(&outs[1])
    );
    let refused = outs.iter().find(|o| o.status.code() == Some(2)).unwrap();
    assert!(
        ["still running", "another dsar process", "already completed"]
            .iter()
            .any(|why| stderr(refused).contains(why)),
        "{}",
        stderr(refused)
    );
    let completions = ws
        .audit_events()
        .iter()
        .filter(|e| e["action"] == "export.completed" && e["request_id"] == id.as_str())
        .count();
    assert_eq!(completions, 1, "the request ran once");
    // Requested once, by the run the kill stopped; the resume says it is one.
    let actions: Vec<String> = ws
        .audit_events()
        .iter()
        .filter(|e| e["request_id"] == id.as_str())
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| *a == "export.requested").count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions.iter().filter(|a| *a == "export.resumed").count(),
        1,
        "{actions:?}"
    );
    let archive = ws.path(&format!("exports/{id}.zip.age"));
    let opened = ws.open_archive(&archive);
    assert_eq!(
        opened.counts()["shop/Shop.events"],
        ROWS as u64,
        "the resumed request's archive is whole"
    );
    assert_eq!(json(&ws.dsar_ok(&["status", &id, "--json"]))["state"], "completed");
}

/// Customer 1's events deleted at full speed, then a paced restore of them started (so it can
/// be caught mid-run): the database, the workspace, the delete's id and the restore.
fn paced_restore() -> (TestDb, Workspace, String, Child) {
    let db = fresh_db("shop_tpl");
    seed_events(&db);
    let fast = MAP.replace("batch_rows = 2", "batch_rows = 2000");
    let ws = Workspace::new(&fast, &[("SHOP_DATABASE_URL", &db.url)]);
    let deleted = json(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]));
    let delete_id = deleted["request_id"].as_str().unwrap().to_string();
    std::fs::write(
        ws.path("sources.toml"),
        MAP.replace("batch_rows = 2", "batch_rows = 500\nmax_rows_per_second = 20000"),
    )
    .unwrap();
    let child = ws.spawn(&[
        "restore",
        "--request",
        &delete_id,
        "--identity",
        "keys/recovery.key",
        "--quiet",
    ]);
    (db, ws, delete_id, child)
}

#[test]
fn resume_finishes_a_killed_restore_under_the_same_request() {
    let (db, ws, _, mut child) = paced_restore();
    let id = running_id(&ws, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let live = || -> i64 {
        psql(&db.url, "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" = 1")
            .parse()
            .unwrap()
    };
    let quarantined = || -> i64 {
        psql(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine WHERE table_name = 'events'",
        )
        .parse()
        .unwrap()
    };
    assert!(live() > 0 && quarantined() > 0, "killed mid-restore");
    assert_eq!(live() + quarantined(), ROWS, "every row is live or in quarantine, once");
    assert_eq!(
        json(&ws.dsar_ok(&["status", &id, "--json"]))["state"],
        "failed (interrupted)"
    );

    let resumed = json(&ws.dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--json"]));
    assert_eq!(resumed["state"], "completed", "{resumed}");
    assert_eq!((live(), quarantined()), (ROWS, 0), "all back, none twice");
}

/// A restore stopped half-way says so in the audit log: `restore.cancelled`, with the rows
/// already back per table, the person's hashes and the request it acted on.
#[test]
fn a_cancelled_restore_records_the_rows_already_back() {
    let (db, ws, delete_id, mut child) = paced_restore();
    running_id(&ws, &mut child);
    let out = sigterm(child);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let live: u64 = psql(&db.url, "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" = 1")
        .parse()
        .unwrap();
    let events = ws.audit_events();
    let delete = events.iter().find(|e| e["action"] == "delete.completed").unwrap();
    let cancelled = events.last().unwrap();
    assert_eq!(cancelled["action"], "restore.cancelled", "{cancelled}");
    assert_eq!(cancelled["request_id"], delete_id.as_str());
    assert_eq!(cancelled["subject"], delete["subject"], "the person is named, hashed");
    assert!(cancelled["details"]["restore_run"].is_string(), "{cancelled}");
    let back: u64 = cancelled["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["table"] == "Shop.events")
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    let all_back: u64 = cancelled["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert!(all_back > 0, "stopped after some rows were back: {cancelled}");
    assert!(live < ROWS as u64, "stopped before the end");
    assert_eq!(back, live, "the event counts exactly the events already back");
}

#[test]
fn sigterm_cancels_an_export_which_leaves_no_archive() {
    let (_db, ws) = shop_with_events(20_000);
    let mut child = ws.spawn(&["export", "--subject", "customer_id=1", "--quiet"]);
    // (That a running export learns its totals: `a_running_export_knows_its_table_totals_…`.)
    let id = running_id(&ws, &mut child);
    let out = sigterm(child);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert_eq!(json(&ws.dsar_ok(&["status", &id, "--json"]))["state"], "cancelled");
    assert!(
        ws.archives().is_empty(),
        "no archive, not even a partial one: {:?}",
        ws.archives()
    );
    assert!(
        ws.audit_events()
            .iter()
            .any(|e| e["action"] == "export.failed" || e["action"] == "export.cancelled"),
        "the audit log says it did not finish"
    );
}

/// An export of the customers in `people` (a CSV), one per batch, started in the background.
fn batch_export(people: &str) -> (TestDb, Workspace, Child) {
    let (db, ws) = shop_with_events(20_000);
    std::fs::write(ws.path("people.csv"), people).unwrap();
    let child = ws.spawn(&[
        "export",
        "--subjects-file",
        "people.csv",
        "--batch-size",
        "1",
        "--quiet",
    ]);
    (db, ws, child)
}

#[test]
fn a_batch_export_queues_the_later_subjects_and_a_killed_run_leaves_them_resumable() {
    let (_db, ws, mut child) = batch_export("customer_id\n1\n2\n");
    let running = running_id(&ws, &mut child);
    // The requests run under the run's lock, not one lock file each: while it is held, the
    // running request cannot be resumed from another shell.
    let locks: Vec<String> = std::fs::read_dir(ws.state_dir().join("requests"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lock"))
        .collect();
    assert!(
        locks.len() == 1 && locks[0].starts_with("run-"),
        "one run lock: {locks:?}"
    );
    let out = ws.dsar(&["resume", &running, "--yes", "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("still running"), "{}", stderr(&out));
    let states = |ws: &Workspace| -> Vec<String> {
        let mut s: Vec<String> = json(&ws.dsar_ok(&["jobs", "--json"]))["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["state"].as_str().unwrap().to_string())
            .collect();
        s.sort();
        s
    };
    assert_eq!(states(&ws), ["queued", "running"], "the second person waits its turn");
    let queued = json(&ws.dsar_ok(&["jobs", "--state", "queued", "--json"]))["requests"][0]["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Queued people are lines of the run's queue, not records of their own (yet).
    let queue = ws
        .state_dir()
        .join(format!("requests/{}.queue", locks[0].trim_end_matches(".lock")));
    assert!(std::fs::read_to_string(&queue).unwrap().contains(&queued), "{queue:?}");
    assert!(!ws.state_dir().join(format!("requests/{queued}.json")).exists());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        states(&ws),
        ["failed (interrupted)", "failed (interrupted)"],
        "a dead run's queue is not left waiting forever"
    );
    // Both resume: the one that was running under the dead run's lock, and the queued one.
    for id in [&running, &queued] {
        ws.dsar_ok(&["resume", id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
        assert_eq!(json(&ws.dsar_ok(&["status", id, "--json"]))["state"], "completed");
        let archive = ws.path(&format!("exports/{id}.zip.age"));
        assert_eq!(ws.open_archive(&archive).counts()["shop/Shop.Customers"], 1);
    }
    assert!(!queue.exists(), "the last of the queue resumed takes the queue with it");
}

/// A batch export of customers 1 to 3, one a batch, killed while the first runs: the ids of
/// the two it queued, and its queue.
fn dead_run_with_two_queued() -> (TestDb, Workspace, Vec<String>, std::path::PathBuf) {
    let (db, ws, mut child) = batch_export("customer_id\n1\n2\n3\n");
    running_id(&ws, &mut child);
    let queued: Vec<String> = json(&ws.dsar_ok(&["jobs", "--state", "queued", "--json"]))["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(queued.len(), 2, "{queued:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let queue = std::fs::read_dir(ws.state_dir().join("requests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "queue"))
        .expect("the run's queue");
    (db, ws, queued, queue)
}

/// A queued person is a keyed line of the run's queue: edited (pointed at someone else), it
/// is never resumed and reads damaged, while the others of the dead run still resume.
#[test]
fn an_edited_line_of_a_run_queue_is_never_resumed() {
    let (_db, ws, queued, queue) = dead_run_with_two_queued();
    let text = std::fs::read_to_string(&queue).unwrap();
    let edited: String = text
        .lines()
        .map(|line| {
            let mut record: Value = serde_json::from_str(line).unwrap();
            if record["request_id"] == queued[1].as_str() {
                record["subject"] = serde_json::json!(["customer_id:0000"]);
            }
            format!("{record}\n")
        })
        .collect();
    std::fs::write(&queue, edited).unwrap();

    let out = ws.dsar(&["resume", &queued[1], "--yes", "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("cannot be trusted"), "{}", stderr(&out));
    assert!(!ws.path(&format!("exports/{}.zip.age", queued[1])).exists());
    assert!(stdout(&ws.dsar_ok(&["status", &queued[1]])).contains("DAMAGED"));
    ws.dsar_ok(&[
        "resume",
        &queued[0],
        "--yes",
        "--identity",
        "keys/recovery.key",
        "--quiet",
    ]);
    assert_eq!(
        json(&ws.dsar_ok(&["status", &queued[0], "--json"]))["state"],
        "completed"
    );
    assert!(queue.exists(), "a line without a record keeps the queue");
}

/// Everyone a batch export runs is in its queue, synced, before the audit log names them (the
/// first batch too: its records, written as it starts, win over their lines), so a kill at any
/// point leaves each person the log names in the ledger. A queue removed or cut afterwards (its
/// people vanish from `jobs`), or a stub put in its place, is caught by `audit verify`, which
/// names whom the ledger lost; `--record-lost` records them as failed, and the check passes.
/// A copy of the log without its ledger verifies, with a note, and nothing is created in it.
#[test]
fn a_run_queue_removed_or_cut_is_caught_by_audit_verify() {
    let (_db, ws, queued, queue) = dead_run_with_two_queued();
    let running = json(&ws.dsar_ok(&["jobs", "--json"]))["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["request_id"].as_str().unwrap().to_string())
        .find(|id| !queued.contains(id))
        .expect("the first batch's person");
    let events = ws.audit_events();
    for id in queued.iter().chain([&running]) {
        assert!(
            events.iter().any(|e| e["action"] == "export.requested"
                && e["request_id"] == id.as_str()
                && e["details"]["queued_by"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("run-"))),
            "{id} logged as requested, queued by the run"
        );
        assert!(
            std::fs::read_to_string(&queue).unwrap().contains(id.as_str()),
            "{id} in the queue"
        );
    }
    let verified = json(&ws.dsar_ok(&["audit", "verify", "--json"]));
    assert_eq!(verified["state"], "ok", "{verified}");

    // The log alone (with its key), as an auditor's copy: it verifies, and nothing is made.
    let copy = tempfile::tempdir().unwrap();
    for name in ["audit", "installation.key"] {
        assert!(
            Command::new("cp")
                .arg("-a")
                .arg(ws.state_dir().join(name))
                .arg(copy.path())
                .status()
                .unwrap()
                .success()
        );
    }
    let alone = Command::new(env!("CARGO_BIN_EXE_dsar"))
        .args(["audit", "verify", "--json"])
        .env("DSAR_STATE_DIR", copy.path())
        .output()
        .unwrap();
    assert_eq!(alone.status.code(), Some(0), "{}", stderr(&alone));
    assert_eq!(json(&alone)["ledger_checked"], false, "{}", stdout(&alone));
    assert!(!copy.path().join("requests").exists(), "verify made nothing");

    // The queue's last line cut off: that person is gone from jobs, and verify names them.
    let text = std::fs::read_to_string(&queue).unwrap();
    let (kept, last) = text.trim_end().rsplit_once('\n').unwrap();
    let cut = serde_json::from_str::<Value>(last).unwrap()["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(queued.contains(&cut));
    std::fs::write(&queue, format!("{kept}\n")).unwrap();
    let listed = json(&ws.dsar_ok(&["jobs", "--json"]));
    assert!(!listed.to_string().contains(cut.as_str()), "{listed}");
    let out = ws.dsar(&["audit", "verify", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = json(&out);
    assert_eq!(report["state"], "ledger_incomplete", "{report}");
    assert_eq!(report["missing_requests"], serde_json::json!([cut]), "{report}");
    let out = ws.dsar(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("has lost 1 request(s)") && stderr(&out).contains(cut.as_str()),
        "{}",
        stderr(&out)
    );

    // Removed whole, and a stub put under one name: both queued people are lost (the stub does
    // not verify); the first batch's person has a record of their own.
    std::fs::remove_file(&queue).unwrap();
    let stub = ws.state_dir().join(format!("requests/{}.json", queued[0]));
    std::fs::write(&stub, b"{}").unwrap();
    let report = json(&ws.dsar(&["audit", "verify", "--json"]));
    let mut missing: Vec<String> = serde_json::from_value(report["missing_requests"].clone()).unwrap();
    missing.sort();
    let mut expected = queued.clone();
    expected.sort();
    assert_eq!(missing, expected, "{report}");

    // --record-lost records the one with nothing at its name as failed and leaves the stub
    // (evidence) as it is: still exit 1, naming it.
    let out = ws.dsar(&["audit", "verify", "--record-lost", "--json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(json(&out)["missing_requests"], serde_json::json!([queued[0]]));
    assert!(stderr(&out).contains("does not verify"), "{}", stderr(&out));
    let other = &queued[1];
    let status = json(&ws.dsar_ok(&["status", other, "--json"]));
    assert_eq!(status["state"], "failed", "{status}");
    assert!(
        status["last_error"]
            .as_str()
            .unwrap()
            .contains("export this person again"),
        "{status}"
    );
    assert!(
        ws.audit_events()
            .iter()
            .any(|e| e["action"] == "export.failed" && e["request_id"] == other.as_str()),
        "the loss is logged"
    );
    std::fs::remove_file(&stub).unwrap();
    ws.dsar_ok(&["audit", "verify", "--record-lost"]);
    ws.dsar_ok(&["audit", "verify"]);
    let failed = json(&ws.dsar_ok(&["jobs", "--state", "failed", "--json"]));
    for id in &queued {
        assert!(failed.to_string().contains(id.as_str()), "{id}: {failed}");
    }
}

/// `dsar resume ID` of an export whose archive is in place refuses it (exit 1) saying `says`,
/// and records nothing: the request still reads interrupted.
fn resume_is_refused(ws: &Workspace, id: &str, says: &str) {
    let out = ws.dsar(&["resume", id, "--yes", "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains(says), "{}", stderr(&out));
    assert_eq!(
        json(&ws.dsar_ok(&["status", id, "--json"]))["state"],
        "failed (interrupted)"
    );
}

/// An export whose run ended after its archive was in place and its completion logged, but
/// before its record said so (here the record's name is taken by a folder while it runs, so the
/// last write fails; a kill between the two leaves the same): `resume` accepts only the archive
/// the log records. Another person's archive put there is refused (exit 1, nothing recorded);
/// the real one is recorded completed with the logged counts, and no second event is logged.
#[test]
fn resume_accepts_only_the_archive_the_audit_log_records() {
    let (_db, ws) = shop_with_events(20_000);
    ws.dsar_ok(&["export", "--subject", "customer_id=2", "--quiet"]);
    let other = ws.archives();
    assert_eq!(other.len(), 1, "{other:?}");
    let mut child = ws.spawn(&["export", "--subject", "customer_id=1", "--quiet"]);
    let id = running_id(&ws, &mut child);
    let record = ws.state_dir().join(format!("requests/{id}.json"));
    let running = std::fs::read(&record).unwrap();
    std::fs::remove_file(&record).unwrap();
    std::fs::create_dir(&record).unwrap();
    std::fs::write(record.join("taken"), b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(&record).unwrap();
    std::fs::write(&record, &running).unwrap();
    assert_eq!(
        json(&ws.dsar_ok(&["status", &id, "--json"]))["state"],
        "failed (interrupted)"
    );
    let completions = |ws: &Workspace| -> Vec<Value> {
        ws.audit_events()
            .into_iter()
            .filter(|e| e["action"] == "export.completed" && e["request_id"] == id.as_str())
            .collect()
    };
    let logged = completions(&ws);
    assert_eq!(logged.len(), 1, "the run logged its completion");
    let archive = ws.path(&format!("exports/{id}.zip.age"));
    let original = std::fs::read(&archive).expect("the archive is in place");

    std::fs::copy(&other[0], &archive).unwrap();
    resume_is_refused(&ws, &id, "is not the archive the audit log records");

    std::fs::write(&archive, &original).unwrap();
    let resumed = json(&ws.dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--json"]));
    assert_eq!(resumed["state"], "completed", "{resumed}");
    assert_eq!(resumed["sha256"], logged[0]["archive_sha256"], "{resumed}");
    assert_eq!(completions(&ws).len(), 1, "no second export.completed");
    let status = json(&ws.dsar_ok(&["status", &id, "--json"]));
    assert_eq!(status["state"], "completed", "{status}");
    let events = status["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["table"] == "Shop.events")
        .unwrap()
        .clone();
    assert_eq!(events["rows"].as_i64(), Some(ROWS), "{status}");
    assert_eq!(ws.open_archive(&archive).counts()["shop/Shop.events"], ROWS as u64);
    ws.dsar_ok(&["audit", "verify"]);
}

/// An export killed after its archive was renamed into place (simulated: killed mid-run, then
/// the finished archive put where the rename would have left it) is recognised by `resume`:
/// the archive is checked, recorded with its checksum, and not refused as "already exists".
/// A file there that is not an age file is refused and nothing is recorded.
#[test]
fn resume_records_an_archive_a_killed_export_had_already_finished() {
    use sha2::{Digest, Sha256};
    let (_db, ws) = shop_with_events(20_000);
    let other = json(&ws.dsar_ok(&["export", "--subject", "customer_id=2", "--json"]));
    let other_archive = ws.archives();
    let mut child = ws.spawn(&["export", "--subject", "customer_id=1", "--quiet"]);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export ended before the test could act"
        );
        if ws.archives().iter().any(|p| p.to_string_lossy().ends_with(".partial")) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let jobs = json(&ws.dsar_ok(&["jobs", "--json"]));
    let id = jobs["requests"][0]["request_id"].as_str().unwrap().to_string();
    let archive = ws.path(&format!("exports/{id}.zip.age"));

    std::fs::write(&archive, b"not an archive").unwrap();
    resume_is_refused(&ws, &id, "is not a finished dsar archive");

    // Another export's archive (copied, or moved, under this name) is refused, naming it.
    std::fs::copy(&other_archive[0], &archive).unwrap();
    let other_id = other["request_id"].as_str().unwrap();
    resume_is_refused(&ws, &id, &format!("is the archive of export {other_id}"));

    let recipient: age::x25519::Recipient = ws.recipient.parse().unwrap();
    let encryptor = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient)).unwrap();
    let mut sealed = Vec::new();
    let mut writer = encryptor.wrap_output(&mut sealed).unwrap();
    std::io::Write::write_all(&mut writer, b"PK finished archive").unwrap();
    writer.finish().unwrap();
    std::fs::write(&archive, &sealed).unwrap();
    let sha256: String = Sha256::digest(&sealed).iter().map(|b| format!("{b:02x}")).collect();

    let resumed = json(&ws.dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--json"]));
    assert_eq!(resumed["state"], "completed", "{resumed}");
    assert_eq!(resumed["sha256"], sha256.as_str());
    assert_eq!(json(&ws.dsar_ok(&["status", &id, "--json"]))["state"], "completed");
    let events = ws.audit_events();
    let completed = events
        .iter()
        .find(|e| e["action"] == "export.completed" && e["request_id"] == id.as_str())
        .expect("an export.completed event");
    assert_eq!(completed["archive_sha256"], sha256.as_str());
    assert_eq!(
        std::fs::read(&archive).unwrap(),
        sealed,
        "the archive is left as it was"
    );
}
