//! `kill -9` in the middle of a large delete, then `resume`: every row is live or quarantined
//! exactly once, and restoring the request gives back exactly the original data; `kill -9` in
//! the middle of that restore, then the restore again: the same. Both run their batches on
//! several sessions of the database at once (the delete three, the restore two).

mod common;

use std::process::Child;

use common::{Workspace, fresh_db, psql};

const MAP: &str = include_str!("fixtures/shop_erase.toml");
const ROWS: i64 = 120_000;

/// Poll until `reached` and dsar has had `sessions` sessions open, then SIGKILL `child` (a
/// `what` that must still be running then); returns the most sessions dsar had open on the
/// database meanwhile.
///
/// The sessions are sampled on a thread of their own, so nothing stands between seeing
/// `reached` and the kill: with a sample taken in that gap (a `psql` started on a busy
/// machine), a delete that had grown faster finished in it, and the kill came too late.
fn kill_when(mut child: Child, url: &str, what: &str, sessions: i64, reached: impl Fn() -> bool) -> i64 {
    use std::os::unix::process::ExitStatusExt;
    use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

    /// Stops the sampler however the wait ends (a panic included), and kills the child if it
    /// still runs: a failed wait must fail the test, not hang it on the sampler's loop.
    struct Stop<'a>(&'a AtomicBool, &'a mut Child);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
            let _ = self.1.kill();
        }
    }

    let most_sessions = AtomicI64::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                most_sessions.fetch_max(dsar_sessions(url), Ordering::Relaxed);
            }
        });
        let stopping = Stop(&stop, &mut child);
        // The other sessions connect once the first table's plan is read: wait for them all
        // to have been seen as well, so a busy machine cannot kill the run before they are.
        while !(reached() && most_sessions.load(Ordering::Relaxed) >= sessions) {
            assert!(!sampler.is_finished(), "the session sampler stopped");
            assert!(
                stopping.1.try_wait().unwrap().is_none(),
                "{what} finished before it could be killed"
            );
        }
        drop(stopping);
    });
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "{what} was killed mid-run, not finished: {status}"
    );
    most_sessions.into_inner()
}

/// Wait for `child` to finish; returns how it ended and the most sessions dsar had open on
/// the database meanwhile.
fn finish_counting_sessions(mut child: Child, url: &str) -> (std::process::ExitStatus, i64) {
    let mut most_sessions = 0;
    loop {
        most_sessions = most_sessions.max(dsar_sessions(url));
        if let Some(status) = child.try_wait().unwrap() {
            return (status, most_sessions);
        }
    }
}

/// The command line of a quiet restore of request `id` with the workspace's recovery key.
fn restore_args(id: &str) -> [&str; 6] {
    ["restore", "--request", id, "--identity", "keys/recovery.key", "--quiet"]
}

/// How many sessions dsar has open on the database now.
fn dsar_sessions(url: &str) -> i64 {
    count(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'dsar' AND datname = current_database()",
    )
}

/// Rows of `table` in quarantine (a bundle entry holds `sealed_rows` of them).
fn quarantined_rows(url: &str, table: &str) -> i64 {
    count(
        url,
        &format!("SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine WHERE table_name = '{table}'"),
    )
}

fn count(url: &str, sql: &str) -> i64 {
    psql(url, sql).parse().unwrap()
}

fn fingerprint(url: &str) -> String {
    psql(
        url,
        "SELECT count(*) || ':' || md5(string_agg(event_id || '/' || \"CustomerId\" || '/' || payload, ',' ORDER BY event_id)) FROM \"Shop\".events",
    )
}

#[test]
fn a_killed_delete_loses_nothing_and_duplicates_nothing() {
    let db = fresh_db("shop_tpl");
    psql(
        &db.url,
        &format!(
            "INSERT INTO \"Shop\".events SELECT g, 1, md5(g::text) FROM generate_series(1, {ROWS}) g;
             INSERT INTO \"Shop\".events SELECT g, 2, md5(g::text) FROM generate_series({ROWS} + 1, {ROWS} + 500) g;
             ANALYZE"
        ),
    );
    let before = fingerprint(&db.url);
    let config = MAP.replace("batch_rows = 2", "batch_rows = 1000");
    let ws = Workspace::new(&config, &[("SHOP_DATABASE_URL", &db.url)]);
    let live = || count(&db.url, "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" = 1");
    let quarantined = || quarantined_rows(&db.url, "events");

    // Wait until a good number of batches have committed, then SIGKILL mid-run.
    let child = ws.spawn(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    let most_sessions = kill_when(child, &db.url, "delete", 3, || {
        psql(&db.url, "SELECT to_regclass('dsar.quarantine') IS NOT NULL") == "t" && quarantined() >= 10_000
    });
    assert_eq!(most_sessions, 3, "the delete's batches ran on three sessions");

    let (l, q) = (live(), quarantined());
    assert!(l > 0 && q > 0, "killed mid-run: live {l}, quarantined {q}");
    assert_eq!(l + q, ROWS, "after the kill every row is live or quarantined, once");

    let id = psql(&db.url, "SELECT request_id FROM dsar.requests");
    ws.dsar_ok(&["resume", &id, "--yes", "--identity", "keys/recovery.key", "--quiet"]);
    assert_eq!(live(), 0);
    assert_eq!(quarantined(), ROWS, "resume quarantined exactly the rest");
    assert_eq!(
        count(&db.url, "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" = 2"),
        500
    );

    let requests = psql(&db.url, "SELECT request_id FROM dsar.requests ORDER BY created_at");
    let requests: Vec<&str> = requests.lines().collect();
    assert_eq!(requests.len(), 1, "resume finishes the same request");

    // The restore, killed mid-run as well: every row is back or still in quarantine, once.
    let child = ws.spawn(&restore_args(&id));
    let most_sessions = kill_when(child, &db.url, "restore", 2, || quarantined() <= ROWS - 10_000);
    assert_eq!(most_sessions, 2, "the restore's batches ran on two sessions");
    let (l, q) = (live(), quarantined());
    assert!(l > 0 && q > 0, "restore killed mid-run: live {l}, quarantined {q}");
    assert_eq!(l + q, ROWS, "after the kill every row is live or quarantined, once");
    for id in requests {
        ws.dsar_ok(&["restore", "--request", id, "--identity", "keys/recovery.key", "--quiet"]);
    }
    assert_eq!(
        fingerprint(&db.url),
        before,
        "both requests restore exactly the original rows"
    );
    assert_eq!(
        count(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        0
    );
}

/// A table whose rows refer to each other (here each row's parent is the next row, and a
/// parent's delete cascades to its child) is erased on one session: on two, one session could
/// delete a parent before the other took its child, which the cascade would then remove
/// without sealing it. Every row must reach quarantine.
#[test]
fn a_table_that_refers_to_itself_is_erased_on_one_session() {
    const NODES: i64 = 20_000;
    let db = fresh_db("shop_tpl");
    psql(
        &db.url,
        &format!(
            "CREATE TABLE \"Shop\".nodes (id bigint PRIMARY KEY, \"CustomerId\" int NOT NULL,
                 parent_id bigint REFERENCES \"Shop\".nodes (id) ON DELETE CASCADE);
             INSERT INTO \"Shop\".nodes SELECT g, 1, NULL FROM generate_series(1, {NODES}) g;
             UPDATE \"Shop\".nodes SET parent_id = id + 1 WHERE id < {NODES};
             ANALYZE"
        ),
    );
    let config = MAP.replace("batch_rows = 2", "batch_rows = 1000")
        + "\n[[sources.tables]]\ntable = \"Shop.nodes\"\nmatch = { customer_id = \"CustomerId\" }\n";
    let ws = Workspace::new(&config, &[("SHOP_DATABASE_URL", &db.url)]);
    let (status, most_sessions) = finish_counting_sessions(
        ws.spawn(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]),
        &db.url,
    );
    assert!(status.success(), "delete failed: {status}");
    assert!(most_sessions <= 1, "the table was erased on {most_sessions} sessions");
    assert_eq!(count(&db.url, "SELECT count(*) FROM \"Shop\".nodes"), 0);
    assert_eq!(
        quarantined_rows(&db.url, "nodes"),
        NODES,
        "every row was sealed into quarantine, none removed by the cascade unsealed"
    );
}

/// A server that gives fewer sessions than dsar asks for (the role's connection limit) leaves
/// the work to the sessions it gave: the delete and its restore complete, every row sealed and
/// brought back once, on no more sessions than the limit (the delete on all it was given).
#[test]
fn a_connection_limit_leaves_the_work_to_the_sessions_given() {
    const EVENTS: i64 = 50_000;
    for limit in [1, 2] {
        let db = fresh_db("shop_tpl");
        // Superusers are not held to a connection limit: the database goes to a role that is.
        let role = format!("{}_limited", db.name);
        psql(
            &db.url,
            &format!(
                "CREATE ROLE {role} LOGIN CONNECTION LIMIT {limit};
                 ALTER DATABASE {db} OWNER TO {role};
                 ALTER SCHEMA \"Shop\" OWNER TO {role};
                 DO $$ DECLARE t record; BEGIN
                   FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'Shop' LOOP
                     EXECUTE format('ALTER TABLE \"Shop\".%I OWNER TO {role}', t.tablename);
                   END LOOP;
                 END $$;
                 INSERT INTO \"Shop\".events SELECT g, 1, md5(g::text) FROM generate_series(1, {EVENTS}) g;
                 ANALYZE",
                db = db.name
            ),
        );
        let before = fingerprint(&db.url);
        let url = db.url.replacen("postgres@", &format!("{role}@"), 1);
        assert_ne!(url, db.url, "the test server's URL names the user postgres");
        let config = MAP.replace("batch_rows = 2", "batch_rows = 1000");
        let ws = Workspace::new(&config, &[("SHOP_DATABASE_URL", &url)]);
        let run = |args: &[&str]| -> i64 {
            let (status, most_sessions) = finish_counting_sessions(ws.spawn(args), &db.url);
            assert!(status.success(), "{args:?} with a limit of {limit} sessions: {status}");
            assert!(
                most_sessions <= limit,
                "{args:?} had {most_sessions} sessions open, over the limit of {limit}"
            );
            most_sessions
        };
        let sessions = run(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
        assert_eq!(sessions, limit, "the delete ran on every session the server gave");
        assert_eq!(
            count(&db.url, "SELECT count(*) FROM \"Shop\".events WHERE \"CustomerId\" = 1"),
            0
        );
        assert_eq!(quarantined_rows(&db.url, "events"), EVENTS);
        let id = psql(&db.url, "SELECT request_id FROM dsar.requests");
        run(&restore_args(&id));
        assert_eq!(
            fingerprint(&db.url),
            before,
            "the restore gives back exactly the original rows"
        );
    }
}
