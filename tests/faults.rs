//! Fault injection: SIGKILL delete, restore, purge and export at seeded random points, then
//! finish them with `dsar resume` (the ledger shows the killed request as interrupted), and check
//! after every trial that each row is in exactly one place, that no archive that fails to decrypt
//! was left as finished, and that the audit log still verifies.
//!
//! `DSAR_FAULT_TRIALS` sets the trials per command (a handful in CI; 50 for a nightly run) and
//! `DSAR_FAULT_SEED` the seed, which every failure message prints.

mod common;

use std::process::{Child, Command, Stdio};

use common::{TestDb, Workspace, fresh_db, psql};
use serde_json::Value;

const MAP: &str = include_str!("fixtures/shop_erase.toml");
const ROWS: i64 = 20_000;

/// A small deterministic generator: trials repeat exactly for a seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as i64
    }
}

fn trials() -> usize {
    std::env::var("DSAR_FAULT_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

fn seed() -> u64 {
    std::env::var("DSAR_FAULT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_d5a2)
}

fn count(db: &TestDb, sql: &str) -> i64 {
    psql(&db.url, sql).parse().unwrap()
}

fn live(db: &TestDb) -> i64 {
    count(db, "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" = 1")
}

fn quarantined(db: &TestDb) -> i64 {
    if psql(&db.url, "SELECT to_regclass('dsar.quarantine') IS NULL") == "t" {
        return 0;
    }
    count(
        db,
        "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine WHERE table_name = 'events'",
    )
}

fn fingerprint(db: &TestDb) -> String {
    psql(
        &db.url,
        "SELECT md5(string_agg(event_id || '/' || payload, ',' ORDER BY event_id)) FROM \"Shop\".events",
    )
}

fn setup(window: &str) -> (TestDb, Workspace, String) {
    let db = fresh_db("shop_tpl");
    psql(
        &db.url,
        &format!("INSERT INTO \"Shop\".events SELECT g, 1, md5(g::text) FROM generate_series(1, {ROWS}) g; ANALYZE"),
    );
    let config = MAP
        .replace("batch_rows = 2", "batch_rows = 200")
        .replace("recovery_window = \"30d\"", &format!("recovery_window = \"{window}\""));
    let ws = Workspace::new(&config, &[("SHOP_DATABASE_URL", &db.url)]);
    let before = fingerprint(&db);
    (db, ws, before)
}

fn spawn(ws: &Workspace, db: &TestDb, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dsar"))
        .current_dir(ws.dir.path())
        .args(args)
        .arg("--quiet")
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("SHOP_DATABASE_URL", &db.url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Poll until `reached` or the child ends, then SIGKILL it. Returns whether it was killed mid-run.
fn kill_when(child: &mut Child, mut reached: impl FnMut() -> bool) -> bool {
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        if reached() {
            child.kill().unwrap();
            child.wait().unwrap();
            return true;
        }
    }
}

/// Finish what a kill interrupted. The ledger must show the request `failed (interrupted)`;
/// `dsar resume` then completes it as the same request. A process killed before it recorded
/// anything resumable (its subject not sealed yet) is told to run again, and is. Returns
/// whether it was resumed.
fn finish(ws: &Workspace, kind: &str, again: &[&str], context: &str) -> bool {
    let jobs: Value = serde_json::from_slice(&ws.dsar_ok(&["jobs", "--json"]).stdout).unwrap();
    let requests = jobs["requests"].as_array().unwrap();
    assert!(
        requests.iter().all(|r| r["state"] != "running"),
        "{context}: a killed process left a request that still reads as running"
    );
    let interrupted = requests
        .iter()
        .find(|r| r["kind"] == kind && r["state"] == "failed (interrupted)")
        .map(|r| r["request_id"].as_str().unwrap().to_string());
    let Some(id) = interrupted else {
        ws.dsar_ok(again);
        return false;
    };
    let out = ws.dsar(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    if out.status.code() == Some(2) && String::from_utf8_lossy(&out.stderr).contains("again") {
        ws.dsar_ok(again);
        return false;
    }
    assert!(
        out.status.success(),
        "{context}: resume {kind} {id} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: Value = serde_json::from_slice(&ws.dsar_ok(&["status", &id, "--json"]).stdout).unwrap();
    assert_eq!(
        status["state"], "completed",
        "{context}: the resumed {kind} is completed"
    );
    true
}

fn audit_verifies(ws: &Workspace, context: &str) {
    let out = ws.dsar(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{context}: audit verify failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn killed_deletes_restores_purges_and_exports_lose_nothing() {
    let seed = seed();
    let mut rng = Rng(seed);
    let (mut trials_run, mut kills, mut resumed, mut rows_checked) = (0, 0, 0, 0i64);
    for trial in 0..trials() {
        let context = format!("seed {seed}, trial {trial}");

        // delete, killed after a random number of committed rows, then run again
        let (db, ws, before) = setup("30d");
        let target = rng.below(ROWS);
        let mut child = spawn(&ws, &db, &["delete", "--subject", "customer_id=1", "--yes"]);
        kills += usize::from(kill_when(&mut child, || quarantined(&db) >= target));
        assert_eq!(
            live(&db) + quarantined(&db),
            ROWS,
            "{context}: delete killed at ~{target} rows"
        );
        resumed += usize::from(finish(
            &ws,
            "delete",
            &["delete", "--subject", "customer_id=1", "--yes", "--quiet"],
            &context,
        ));
        assert_eq!(
            (live(&db), quarantined(&db)),
            (0, ROWS),
            "{context}: resume finished the delete"
        );

        // restore of every request, killed part-way, then run again
        let ids = psql(&db.url, "SELECT request_id FROM dsar.requests ORDER BY created_at");
        let ids: Vec<String> = ids.lines().map(str::to_string).collect();
        let target = rng.below(ROWS);
        let mut child = spawn(
            &ws,
            &db,
            &["restore", "--request", &ids[0], "--identity", "keys/recovery.key"],
        );
        kills += usize::from(kill_when(&mut child, || live(&db) >= target));
        assert_eq!(
            live(&db) + quarantined(&db),
            ROWS,
            "{context}: restore killed at ~{target} rows"
        );
        resumed += usize::from(finish(
            &ws,
            "restore",
            &[
                "restore",
                "--request",
                &ids[0],
                "--identity",
                "keys/recovery.key",
                "--quiet",
            ],
            &context,
        ));
        for id in &ids[1..] {
            ws.dsar_ok(&["restore", "--request", id, "--identity", "keys/recovery.key", "--quiet"]);
        }
        assert_eq!(
            fingerprint(&db),
            before,
            "{context}: restore gave back exactly the original rows"
        );
        audit_verifies(&ws, &context);
        rows_checked += 4 * ROWS;

        // purge after a closed window, killed part-way, then run again
        let (db, ws, _) = setup("0s");
        ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
        let target = ROWS - rng.below(ROWS);
        let mut child = spawn(&ws, &db, &["purge"]);
        kills += usize::from(kill_when(&mut child, || quarantined(&db) <= target));
        assert_eq!(live(&db), 0, "{context}: purge never brings rows back");
        resumed += usize::from(finish(&ws, "purge", &["purge"], &context));
        assert_eq!(quarantined(&db), 0, "{context}: the second purge finished");
        assert_eq!(
            psql(&db.url, "SELECT bool_and(wrapped_key IS NULL) FROM dsar.requests"),
            "t",
            "{context}: keys destroyed"
        );
        audit_verifies(&ws, &context);
        rows_checked += ROWS;

        // export, killed while its archive is being written: no finished archive may be broken
        let (db, ws, _) = setup("30d");
        let mut child = spawn(&ws, &db, &["export", "--subject", "customer_id=1"]);
        let spins = rng.below(200);
        let mut seen = 0;
        kills += usize::from(kill_when(&mut child, || {
            seen += 1;
            seen > spins
        }));
        for archive in ws.archives() {
            let name = archive.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".zip.age") {
                let opened = ws.open_archive(&archive);
                assert_eq!(
                    opened.counts()["shop/Shop.events"],
                    ROWS as u64,
                    "{context}: a finished archive is whole"
                );
            } else {
                assert!(
                    name.ends_with(".partial") && name.starts_with('.'),
                    "{context}: unexpected file {name}"
                );
            }
        }
        resumed += usize::from(finish(
            &ws,
            "export",
            &["export", "--subject", "customer_id=1", "--quiet"],
            &context,
        ));
        let finished: Vec<_> = ws
            .archives()
            .into_iter()
            .filter(|a| a.to_string_lossy().ends_with(".zip.age"))
            .collect();
        assert!(!finished.is_empty(), "{context}: the export finished");
        for archive in finished {
            assert_eq!(
                ws.open_archive(&archive).counts()["shop/Shop.events"],
                ROWS as u64,
                "{context}: every finished archive is whole"
            );
        }
        audit_verifies(&ws, &context);
        rows_checked += ROWS;
        trials_run += 4;
    }
    // libtest captures stdout; the tally goes where CI logs show it.
    let tally = format!(
        "faults: {trials_run} trials, {kills} killed mid-run, {resumed} resumed, {rows_checked} rows checked, 0 violations (seed {seed})"
    );
    println!("{tally}");
    std::fs::write(
        concat!(env!("CARGO_TARGET_TMPDIR"), "/fault-tally.txt"),
        format!("{tally}\n"),
    )
    .unwrap();
}

/// A private PostgreSQL server for a test that restarts it (scripts/server.sh), stopped on drop.
struct PrivateServer {
    dir: String,
    url: String,
}

impl PrivateServer {
    fn start() -> PrivateServer {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/server.sh");
        let out = Command::new("bash")
            .args([script, "up", "postgres"])
            .output()
            .expect("server.sh runs");
        assert!(
            out.status.success(),
            "server.sh up postgres failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let value = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {key}=")).map(str::to_string))
                .unwrap()
        };
        PrivateServer {
            dir: value("PGTEST_DIR"),
            url: value("DATABASE_URL"),
        }
    }

    /// `pg_ctl restart -m fast`: every session is cut, as in a failover or an OOM kill.
    fn restart(&self) {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .map(|e| e.unwrap().path().join("bin/pg_ctl"))
            .filter(|p| p.exists())
            .max()
            .expect("pg_ctl");
        let data = format!("{}/data", self.dir);
        let mut cmd = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let log = format!("{}/server.log", self.dir);
        let status = cmd
            .args(["-D", &data, "-l", &log, "-m", "fast", "-w", "restart"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "pg_ctl restart failed");
    }
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/server.sh");
        let _ = Command::new("bash").args([script, "down", &self.dir]).status();
    }
}

#[test]
fn a_postgres_restart_mid_delete_restore_or_export_loses_nothing_and_resume_finishes() {
    let server = PrivateServer::start();
    let db = TestDb {
        name: "dsar_test".into(),
        url: server.url.clone(),
    };
    let out = Command::new("psql")
        .args([
            db.url.as_str(),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-f",
            common::SHOP_SQL,
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    psql(
        &db.url,
        "INSERT INTO \"Shop\".events SELECT g, 1, md5(g::text) FROM generate_series(1, 20000) g; ANALYZE",
    );
    let before = fingerprint(&db);
    let config = MAP.replace("batch_rows = 2", "batch_rows = 200\nmax_rows_per_second = 10000");
    let ws = Workspace::new(&config, &[("SHOP_DATABASE_URL", &db.url)]);

    let mut child = spawn(&ws, &db, &["delete", "--subject", "customer_id=1", "--yes"]);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the delete ended before the restart"
        );
        if quarantined(&db) >= 3000 {
            break;
        }
    }
    server.restart();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "a lost server is a run-time failure");
    assert_eq!(
        live(&db) + quarantined(&db),
        ROWS,
        "after the restart every row is live or quarantined, once"
    );

    let id = psql(&db.url, "SELECT request_id FROM dsar.requests");
    let jobs = ws.dsar_ok(&["status", &id, "--json"]);
    let state: serde_json::Value = serde_json::from_slice(&jobs.stdout).unwrap();
    assert_eq!(state["state"], "failed");
    ws.dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    assert_eq!((live(&db), quarantined(&db)), (0, ROWS));

    // The same for a restore: cut off part-way, failed, then resumed to the original rows.
    let mut child = spawn(
        &ws,
        &db,
        &["restore", "--request", &id, "--identity", "keys/recovery.key"],
    );
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the restore ended before the restart"
        );
        if live(&db) >= 3000 {
            break;
        }
    }
    server.restart();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert_eq!(
        live(&db) + quarantined(&db),
        ROWS,
        "restore cut off: every row in one place"
    );
    let restore = failed_request(&ws, "restore");
    ws.dsar_ok(&[
        "resume",
        &restore,
        "--yes",
        "--identity",
        "keys/recovery.key",
        "--quiet",
    ]);
    assert_eq!(fingerprint(&db), before);

    // And an export: cut off while streaming, it leaves no finished archive; resumed, it is whole.
    let mut child = spawn(&ws, &db, &["export", "--subject", "customer_id=1"]);
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export ended before the restart"
        );
        if ws.archives().iter().any(|a| a.to_string_lossy().ends_with(".partial")) {
            break;
        }
    }
    server.restart();
    assert_eq!(child.wait().unwrap().code(), Some(1));
    assert!(
        !ws.archives().iter().any(|a| a.to_string_lossy().ends_with(".zip.age")),
        "no archive is reported finished"
    );
    let export = failed_request(&ws, "export");
    ws.dsar_ok(&["resume", &export, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    let archive = ws.path(&format!("exports/{export}.zip.age"));
    assert_eq!(ws.open_archive(&archive).counts()["shop/Shop.events"], ROWS as u64);
    audit_verifies(&ws, "restart");
}

/// The request of `kind` the ledger shows as failed (a run that lost its server).
fn failed_request(ws: &Workspace, kind: &str) -> String {
    let jobs: Value = serde_json::from_slice(&ws.dsar_ok(&["jobs", "--state", "failed", "--json"]).stdout).unwrap();
    jobs["requests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == kind)
        .and_then(|r| r["request_id"].as_str())
        .unwrap_or_else(|| panic!("no failed {kind} in {jobs}"))
        .to_string()
}

/// A batch export makes its durable writes as a group: the batch's archives are synced together
/// and only then renamed into place, and only then are its ledger records and audit events
/// written and synced, together. Killed at any point, no archive under its final name is
/// partial, no request reads `completed` without its archive, the audit log verifies, and
/// `dsar resume` finishes every request that did not complete.
#[test]
fn a_killed_batch_export_leaves_whole_archives_and_resumes_every_request() {
    let seed = seed();
    let mut rng = Rng(seed | 1);
    let mut kills = 0;
    for trial in 0..trials().min(4) {
        let context = format!("batch trial {trial} (seed {seed})");
        let (db, ws, _) = setup("30d");
        // Fourteen people: a spooled batch of ten, then four written as they stream; customer 1
        // owns the 20,000 events, customers 100 to 110 three each.
        psql(
            &db.url,
            "INSERT INTO \"Shop\".\"Customers\" (\"CustomerId\", \"Email\") SELECT g, 'p' || g || '@example.com' FROM generate_series(100, 110) g; \
             INSERT INTO \"Shop\".events SELECT 100000 + g * 3 + i, g, md5(g::text) FROM generate_series(100, 110) g, generate_series(0, 2) i",
        );
        let mut csv = String::from("customer_id\n1\n2\n3\n");
        for id in 100..111 {
            csv.push_str(&format!("{id}\n"));
        }
        std::fs::write(ws.path("people.csv"), csv).unwrap();
        let mut child = spawn(
            &ws,
            &db,
            &["export", "--subjects-file", "people.csv", "--batch-size", "10"],
        );
        let spins = rng.below(400);
        let mut seen = 0;
        kills += usize::from(kill_when(&mut child, || {
            seen += 1;
            seen > spins
        }));
        let check_archives = |context: &str| {
            for archive in ws.archives() {
                let name = archive.file_name().unwrap().to_string_lossy().into_owned();
                if name.ends_with(".zip.age") {
                    let opened = ws.open_archive(&archive);
                    assert!(opened.files.contains_key("manifest.json"), "{context}: {name} is whole");
                } else {
                    assert!(
                        name.ends_with(".partial") && name.starts_with('.'),
                        "{context}: unexpected file {name}"
                    );
                }
            }
        };
        check_archives(&context);
        let jobs: Value = serde_json::from_slice(&ws.dsar_ok(&["jobs", "--json"]).stdout).unwrap();
        let requests = jobs["requests"].as_array().unwrap().clone();
        for r in &requests {
            let id = r["request_id"].as_str().unwrap();
            assert_ne!(r["state"], "running", "{context}: {id} still reads as running");
            if r["state"] == "completed" {
                assert!(
                    ws.path(&format!("exports/{id}.zip.age")).exists(),
                    "{context}: {id} reads completed without its archive"
                );
            }
        }
        if !requests.is_empty() {
            audit_verifies(&ws, &context);
        }
        // Every request recorded and not completed is resumed; a kill before the first batch
        // recorded anything leaves nothing to resume, and the export runs again.
        let unfinished: Vec<&str> = requests
            .iter()
            .filter(|r| r["state"] != "completed")
            .map(|r| r["request_id"].as_str().unwrap())
            .collect();
        if requests.is_empty() {
            ws.dsar_ok(&[
                "export",
                "--subjects-file",
                "people.csv",
                "--batch-size",
                "10",
                "--quiet",
            ]);
        }
        for id in &unfinished {
            let out = ws.dsar(&["resume", id, "--identity", "keys/recovery.key", "--quiet"]);
            assert!(
                out.status.success() || out.status.code() == Some(3),
                "{context}: resume {id}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let jobs: Value = serde_json::from_slice(&ws.dsar_ok(&["jobs", "--json"]).stdout).unwrap();
        let requests = jobs["requests"].as_array().unwrap();
        assert_eq!(requests.len(), 14, "{context}: one request per person");
        for r in requests {
            let id = r["request_id"].as_str().unwrap();
            assert_eq!(r["state"], "completed", "{context}: {id}");
            assert!(ws.path(&format!("exports/{id}.zip.age")).exists(), "{context}: {id}");
        }
        check_archives(&context);
        let events: u64 = ws
            .archives()
            .iter()
            .filter(|a| a.to_string_lossy().ends_with(".zip.age"))
            .map(|a| {
                ws.open_archive(a)
                    .counts()
                    .get("shop/Shop.events")
                    .copied()
                    .unwrap_or(0)
            })
            .sum();
        // Each person's events once: customer 1's 20,000 and whatever the others have.
        let expected = count(
            &db,
            "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" IN (1, 2, 3) OR \"CustomerId\" BETWEEN 100 AND 110",
        );
        assert_eq!(events, expected as u64, "{context}: every person's events, once");
        audit_verifies(&ws, &context);
    }
    println!("faults: batch export killed {kills} time(s) mid-run");
}

/// Batches overlap: the next batch is read while the one before builds and syncs its archives.
/// A batch that fails when it is read still leaves the batch before it recorded whole: here the
/// second batch names two people in one request (refused when its identities are resolved)
/// while the first batch's archives are being built. The first batch's requests read completed
/// with their archives, the second's failed with the refusal, the third's were never started,
/// nothing is left half-written, the audit log verifies, and the run exits 1 saying it stopped
/// after the first batch (not 2, "nothing was changed").
#[test]
fn a_batch_that_fails_leaves_the_batch_before_it_recorded_whole() {
    let (db, ws, _) = setup("30d");
    psql(
        &db.url,
        "INSERT INTO \"Shop\".\"Customers\" (\"CustomerId\", \"Email\") SELECT g, 'p' || g || '@example.com' FROM generate_series(100, 111) g",
    );
    // Customer 1 first, so the first batch's archives take a while (20,000 events).
    let mut csv = String::from("customer_id,email\n1,\n");
    for id in 100..111 {
        // The sixth person (second batch) is customer 105 with customer 111's email.
        let email = if id == 105 { 111 } else { id };
        csv.push_str(&format!("{id},p{email}@example.com\n"));
    }
    std::fs::write(ws.path("people.csv"), csv.replace("1,\n", "1,customer1@example.com\n")).unwrap();
    psql(
        &db.url,
        "UPDATE \"Shop\".\"Customers\" SET \"Email\" = 'customer1@example.com' WHERE \"CustomerId\" = 1",
    );
    let out = ws.dsar(&[
        "export",
        "--subjects-file",
        "people.csv",
        "--batch-size",
        "4",
        "--quiet",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    // Not exit 2 ("nothing was changed"): the first batch's people were exported.
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("more than one person") && err.contains("stopped after 4 of 12 people"),
        "{err}"
    );
    assert!(!err.contains("nothing was changed"), "{err}");
    let jobs: Value = serde_json::from_slice(&ws.dsar_ok(&["jobs", "--json"]).stdout).unwrap();
    let requests = jobs["requests"].as_array().unwrap();
    let states = |state: &str| requests.iter().filter(|r| r["state"] == state).count();
    assert_eq!(requests.len(), 12, "{jobs}");
    // The third batch's requests were queued; once the run is gone they read interrupted.
    assert_eq!(
        (states("completed"), states("failed"), states("failed (interrupted)")),
        (4, 4, 4),
        "{jobs}"
    );
    for r in requests {
        let id = r["request_id"].as_str().unwrap();
        let archive = ws.path(&format!("exports/{id}.zip.age"));
        assert_eq!(archive.exists(), r["state"] == "completed", "{id}: {r}");
        if r["state"] == "completed" {
            assert!(ws.open_archive(&archive).files.contains_key("manifest.json"), "{id}");
        }
    }
    let refused = requests
        .iter()
        .filter(|r| {
            r["state"] == "failed"
                && r["last_error"]
                    .as_str()
                    .is_some_and(|e| e.contains("more than one person"))
        })
        .count();
    assert_eq!(refused, 4, "the second batch failed with the refusal: {jobs}");
    // Nobody's identifiers are kept, the refused person's included.
    let state = std::fs::read_dir(ws.state_dir().join("requests"))
        .unwrap()
        .chain(std::fs::read_dir(ws.state_dir().join("audit")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned())
        .collect::<String>();
    assert!(state.contains("more than one person"), "the records are read as text");
    for raw in ["p111@example.com", "p102@example.com", "customer_id=105"] {
        assert!(!state.contains(raw), "{raw} is in the state dir");
    }
    assert_eq!(ws.archives().len(), 4, "no partial file is left");
    audit_verifies(&ws, "a failed second batch");
}
