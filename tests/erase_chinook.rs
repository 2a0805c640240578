//! delete / restore / purge on Chinook: the issue's own scenario, refusals, conflicts, windows.

mod common;

use common::{Workspace, dump_table, fresh_db, pg_dump, psql, stderr, stdout};
use serde_json::Value;

const EXAMPLE: &str = include_str!("../sources.toml.example");
const TABLES: [(&str, &str); 3] = [
    ("customer", "customer_id"),
    ("invoice", "invoice_id"),
    ("invoice_line", "invoice_line_id"),
];

fn chinook(config: &str) -> (common::TestDb, Workspace) {
    let db = fresh_db("chinook_tpl");
    let ws = Workspace::new(config, &[("CHINOOK_DATABASE_URL", &db.url)]);
    (db, ws)
}

fn dumps(url: &str) -> Vec<String> {
    TABLES.iter().map(|(t, k)| dump_table(url, t, k)).collect()
}

fn subject_rows(url: &str) -> (String, String, String) {
    let one = |sql: &str| psql(url, sql);
    (
        one("SELECT count(*) FROM customer WHERE customer_id = 1"),
        one("SELECT count(*) FROM invoice WHERE customer_id = 1"),
        one("SELECT count(*) FROM invoice_line WHERE invoice_id IN (98, 121, 143, 195, 316, 327, 382)"),
    )
}

fn request_id(out: &std::process::Output) -> String {
    let report: Value = serde_json::from_str(&stdout(out)).expect("--json output");
    report["request_id"].as_str().unwrap().to_string()
}

#[test]
fn delete_then_restore_brings_customer_1_back_byte_for_byte() {
    let (db, ws) = chinook(EXAMPLE);
    let before = dumps(&db.url);
    assert_eq!(subject_rows(&db.url), ("1".into(), "7".into(), "38".into()));
    let dump = pg_dump(&db.url, &[]);
    assert!(
        dump.contains("luisg@embraer.com.br") && dump.contains("Gonçalves"),
        "the subject is there to begin with"
    );

    let out = ws.dsar_ok(&[
        "delete",
        "--subject",
        "email=luisg@embraer.com.br",
        "--yes",
        "--json",
        "--reason",
        "DSAR-1",
    ]);
    let id = request_id(&out);
    assert_eq!(subject_rows(&db.url), ("0".into(), "0".into(), "0".into()));
    assert_eq!(
        psql(&db.url, "SELECT count(*) FROM customer"),
        "58",
        "other customers untouched"
    );
    assert_eq!(
        psql(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        "46"
    );
    let dump = pg_dump(&db.url, &[]);
    assert!(
        !dump.contains("luisg@embraer.com.br"),
        "the email is readable in pg_dump after delete"
    );
    assert!(
        !dump.contains("Gonçalves"),
        "the name is readable in pg_dump after delete"
    );

    let out = ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert!(stdout(&out).contains("46 rows"), "{}", stdout(&out));
    assert_eq!(dumps(&db.url), before, "every row back, byte for byte");
    assert_eq!(
        psql(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        "0"
    );

    let actions: Vec<String> = ws
        .audit_events()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["delete.planned", "delete.completed", "restore.completed"]);
    let events = ws.audit_events();
    assert_eq!(
        events[2]["subject"], events[1]["subject"],
        "the restore names the person"
    );
    assert_eq!(events[2]["request_id"], id.as_str(), "and the request it undid");
    let log = std::fs::read_to_string(ws.state_dir().join("audit/000001.jsonl")).unwrap();
    assert!(!log.contains("luisg@embraer.com.br"));
    // The delete's own record says it was undone, and by which run.
    let status: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&["status", &id, "--json"]))).unwrap();
    assert_eq!(status["state"], "completed");
    assert_eq!(
        status["afterwards"]["restored_by"], events[2]["details"]["restore_run"],
        "{status}"
    );
    assert!(stdout(&ws.dsar_ok(&["status", &id])).contains("every row is live again"));
}

#[test]
fn dry_run_prints_the_ordered_plan_and_changes_nothing() {
    let (db, ws) = chinook(EXAMPLE);
    let before = dumps(&db.url);
    let out = ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--dry-run", "--json"]);
    let plan: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(plan["state"], "planned");
    let steps: Vec<(String, u64)> = plan["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["table"].as_str().unwrap().to_string(), s["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("public.invoice_line".to_string(), 38),
            ("public.invoice".to_string(), 7),
            ("public.customer".to_string(), 1)
        ],
        "children before parents"
    );
    let human = ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--dry-run"]);
    assert!(stdout(&human).contains("dry run"));
    // Without --yes and without a terminal to ask on, the delete is declined, and logged so.
    let declined = ws.dsar(&["delete", "--subject", "customer_id=1"]);
    assert_eq!(declined.status.code(), Some(2), "{}", stderr(&declined));
    let actions: Vec<String> = ws
        .audit_events()
        .iter()
        .rev()
        .take(2)
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, ["delete.declined", "delete.planned"]);
    assert_eq!(dumps(&db.url), before);
    assert_eq!(
        psql(&db.url, "SELECT to_regclass('dsar.quarantine') IS NULL"),
        "t",
        "not even the dsar schema"
    );
}

#[test]
fn without_a_terminal_or_yes_delete_refuses_and_changes_nothing() {
    let (db, ws) = chinook(EXAMPLE);
    let out = ws.dsar(&["delete", "--subject", "customer_id=1"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"));
    assert_eq!(subject_rows(&db.url), ("1".into(), "7".into(), "38".into()));
}

#[test]
fn an_uncovered_child_is_refused_with_the_fix_whatever_its_on_delete() {
    for action in ["CASCADE", "SET NULL", "RESTRICT", "NO ACTION"] {
        let (db, ws) = chinook(EXAMPLE);
        psql(
            &db.url,
            &format!(
                "CREATE TABLE customer_note (note_id int PRIMARY KEY, customer_id int REFERENCES customer ON DELETE {action}, note text);
                 INSERT INTO customer_note VALUES (1, 1, 'called about refund')"
            ),
        );
        let before = dumps(&db.url);
        let out = ws.dsar(&["delete", "--subject", "customer_id=1", "--yes"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(4), "{action}: {err}");
        assert!(
            err.contains("public.customer_note") && err.contains("customer_note_customer_id_fkey"),
            "{action}: {err}"
        );
        assert!(err.contains(&format!("ON DELETE {action}")), "{action}: {err}");
        assert!(
            err.contains("table = \"public.customer_note\" via"),
            "the map entry that fixes it: {err}"
        );
        assert_eq!(dumps(&db.url), before, "{action}: nothing changed");
        assert_eq!(
            psql(&db.url, "SELECT customer_id FROM customer_note"),
            "1",
            "{action}: the note is untouched"
        );
    }
}

#[test]
fn kept_children_of_a_flagged_parent_are_refused_because_purge_would_delete_it() {
    // Customers are flagged (purge hard-deletes them later); their invoices are kept for tax law.
    let config = EXAMPLE
        .replacen(
            "match = { email = \"email\", customer_id = \"customer_id\" }\non_delete = \"quarantine\"",
            "match = { email = \"email\", customer_id = \"customer_id\" }\non_delete = \"flag\"\nflag_column = \"deleted_at\"",
            1,
        )
        .replacen(
            "parent_column = \"customer_id\" }\non_delete = \"quarantine\"",
            "parent_column = \"customer_id\" }\non_delete = \"retain\"\nretain_reason = \"kept 10 years for tax law\"",
            1,
        );
    assert!(
        config.contains("flag_column") && config.contains("retain_reason"),
        "{config}"
    );
    let (db, ws) = chinook(&config);
    psql(&db.url, "ALTER TABLE customer ADD COLUMN deleted_at timestamptz");
    let before = dumps(&db.url);

    let out = ws.dsar(&["delete", "--subject", "customer_id=1", "--yes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("public.invoice") && err.contains("kept"), "{err}");
    assert!(
        err.contains("(kept: kept 10 years for tax law)"),
        "the plan says why: {err}"
    );
    assert_eq!(dumps(&db.url), before, "nothing changed");
}

#[test]
fn two_deletes_of_one_subject_at_once_move_each_row_once() {
    let (db, ws) = chinook(EXAMPLE);
    let first = std::process::Command::new(env!("CARGO_BIN_EXE_dsar"))
        .current_dir(ws.dir.path())
        .args(["delete", "--subject", "customer_id=1", "--yes", "--quiet"])
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("CHINOOK_DATABASE_URL", &db.url)
        .spawn()
        .unwrap();
    let second = ws.dsar(&["delete", "--subject", "customer_id=1", "--yes", "--quiet"]);
    let first = first.wait_with_output().unwrap();
    // Whichever waited for the other's lock finds nothing left to erase (exit 3).
    let codes = [first.status.code(), second.status.code()];
    assert!(
        codes == [Some(0), Some(3)] || codes == [Some(3), Some(0)],
        "{codes:?}: {}",
        stderr(&second)
    );
    assert_eq!(subject_rows(&db.url), ("0".into(), "0".into(), "0".into()));
    assert_eq!(
        psql(
            &db.url,
            "SELECT sum(coalesce(sealed_rows, 1)), count(*) = count(DISTINCT (table_name, key_hash)) FROM dsar.quarantine"
        ),
        "46|t",
        "the erasure lock serialises them: every row is quarantined exactly once"
    );
}

#[test]
fn purge_with_a_source_out_of_reach_fails_with_one_clear_line() {
    let (_db, ws) = chinook(EXAMPLE);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dsar"))
        .current_dir(ws.dir.path())
        .arg("purge")
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("CHINOOK_DATABASE_URL", "postgres://dsar@127.0.0.1:1/nowhere")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "one error line: {err}");
    assert!(errors[0].contains("chinook"), "it names the source: {err}");
    assert!(out.stdout.is_empty());
}

/// The example map with the first `from` made `to` (which must be in it).
fn example_with(from: &str, to: &str) -> String {
    let config = EXAMPLE.replacen(from, to, 1);
    assert_ne!(config, EXAMPLE, "the example map has no {from}");
    config
}

#[test]
fn a_kept_child_of_a_deleted_parent_is_refused() {
    let config = example_with(
        "via = { table = \"public.customer\", column = \"customer_id\", parent_column = \"customer_id\" }\non_delete = \"quarantine\"",
        "via = { table = \"public.customer\", column = \"customer_id\", parent_column = \"customer_id\" }\non_delete = \"retain\"",
    );
    let (db, ws) = chinook(&config);
    let out = ws.dsar(&["delete", "--subject", "customer_id=1", "--yes"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("public.invoice"), "{}", stderr(&out));
    assert_eq!(subject_rows(&db.url), ("1".into(), "7".into(), "38".into()));
}

/// The check that no row outside the plan points at a deleted parent is skipped only where the
/// capture holds every such row by construction (a `via` on the foreign key's own columns). An
/// invoice the map ties to its customer by another column is still checked: the one invoice of
/// customer 1 that the map gives to someone else is found, and the delete is refused.
#[test]
fn a_child_tied_by_another_column_is_still_checked_for_rows_outside_the_plan() {
    let config = example_with(
        "via = { table = \"public.customer\", column = \"customer_id\", parent_column = \"customer_id\" }",
        "via = { table = \"public.customer\", column = \"buyer_id\", parent_column = \"customer_id\" }",
    );
    let (db, ws) = chinook(&config);
    psql(
        &db.url,
        "ALTER TABLE invoice ADD COLUMN buyer_id int; UPDATE invoice SET buyer_id = customer_id; \
         UPDATE invoice SET buyer_id = 2 WHERE invoice_id = 98",
    );
    let before = dumps(&db.url);
    let out = ws.dsar(&["delete", "--subject", "customer_id=1", "--yes"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(
        err.contains("1 row(s) of public.invoice reference the subject's rows in public.customer"),
        "{err}"
    );
    assert_eq!(dumps(&db.url), before, "nothing changed");
}

#[test]
fn restore_never_overwrites_a_reused_key_and_exits_3() {
    let (db, ws) = chinook(EXAMPLE);
    let id = request_id(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]));
    psql(
        &db.url,
        "INSERT INTO customer (customer_id, first_name, last_name, email) VALUES (1, 'New', 'Person', 'new@x.org')",
    );
    let out = ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("public.customer (customer_id=1)"), "{err}");
    assert_eq!(
        psql(&db.url, "SELECT first_name FROM customer WHERE customer_id = 1"),
        "New",
        "not overwritten"
    );
    assert_eq!(
        psql(&db.url, "SELECT count(*) FROM invoice WHERE customer_id = 1"),
        "0",
        "no invoice lands under the new person"
    );
    assert_eq!(
        psql(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        "46",
        "the conflicting row stays in quarantine, with its invoices and their lines"
    );
    assert!(
        err.contains("public.invoice (invoice_id=98): a row it belongs to was not restored"),
        "{err}"
    );
}

#[test]
fn single_rows_can_be_restored_by_key() {
    let (db, ws) = chinook(EXAMPLE);
    let id = request_id(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]));
    let restore_customer = || {
        ws.dsar(&[
            "restore",
            "--request",
            &id,
            "--identity",
            "keys/recovery.key",
            "--table",
            "public.customer",
            "--key",
            "customer_id=1",
        ])
    };
    // The key was reused meanwhile: flagged on the terminal as given, but the ledger and the
    // audit log keep only its keyed hash.
    psql(
        &db.url,
        "INSERT INTO customer (customer_id, first_name, last_name, email) VALUES (1, 'X', 'Y', 'x@y.example')",
    );
    let flagged = restore_customer();
    assert_eq!(flagged.status.code(), Some(3), "{}", stderr(&flagged));
    assert!(stderr(&flagged).contains("customer_id=1"), "{}", stderr(&flagged));
    for dir in ["requests", "audit"] {
        for file in std::fs::read_dir(ws.state_dir().join(dir)).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap_or_default();
            assert!(
                !text.contains("customer_id=1"),
                "{dir} keeps the key's hash only: {text}"
            );
        }
    }
    psql(&db.url, "DELETE FROM customer WHERE customer_id = 1");
    let out = restore_customer();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(subject_rows(&db.url), ("1".into(), "0".into(), "0".into()));
    let out = ws.dsar(&[
        "restore",
        "--request",
        &id,
        "--identity",
        "keys/recovery.key",
        "--table",
        "public.invoice",
        "--key",
        "invoice_id=999999",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn deleting_twice_is_a_no_op_the_second_time() {
    let (db, ws) = chinook(EXAMPLE);
    ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes"]);
    // The second finds nothing left: exit 3 (nothing matched), and it changes nothing.
    let out = ws.dsar(&["delete", "--subject", "customer_id=1", "--yes", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report["counts"].as_array().unwrap().iter().all(|c| c["rows"] == 0));
    assert_eq!(
        psql(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        "46"
    );
}

#[test]
fn after_the_window_restore_fails_cleanly_and_purge_destroys_everything_once() {
    let config = EXAMPLE.replace("recovery_window = \"30d\"", "recovery_window = \"0s\"");
    let (db, ws) = chinook(&config);
    let id = request_id(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]));

    let out = ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("window") && stderr(&out).contains("nothing was restored"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        psql(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        "46",
        "restore changed nothing"
    );

    // Two purges at once: both succeed, the work is done exactly once.
    let a = std::process::Command::new(env!("CARGO_BIN_EXE_dsar"))
        .current_dir(ws.dir.path())
        .args(["purge", "--json"])
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("CHINOOK_DATABASE_URL", &db.url)
        .spawn()
        .unwrap();
    let b = ws.dsar(&["purge", "--json"]);
    let a = a.wait_with_output().unwrap();
    assert!(a.status.success() && b.status.success(), "{}", stderr(&b));
    assert_eq!(
        psql(
            &db.url,
            "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine"
        ),
        "0"
    );
    assert_eq!(
        psql(
            &db.url,
            "SELECT wrapped_key IS NULL AND purged_at IS NOT NULL FROM dsar.requests"
        ),
        "t"
    );

    let purges: Vec<Value> = ws
        .audit_events()
        .into_iter()
        .filter(|e| e["action"] == "purge.completed")
        .collect();
    assert_eq!(purges.len(), 2, "each purge run is audit-logged");
    let rows: u64 = purges.iter().map(|e| e["details"]["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 46, "the purge events count the rows destroyed, once");
    assert!(purges.iter().all(|e| e["details"]["dry_run"] == false));
    // The delete's own record says since when it cannot be undone, and which purge did it.
    let status: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&["status", &id, "--json"]))).unwrap();
    let purged_by = status["afterwards"]["purged_by"].as_str().unwrap().to_string();
    assert!(status["afterwards"]["purged_at"].is_string(), "{status}");
    assert!(
        purges
            .iter()
            .any(|e| e["request_id"] == purged_by.as_str() && e["details"]["request_ids"].to_string().contains(&id)),
        "the purge run that destroyed it lists it: {purges:?}"
    );
    assert!(stdout(&ws.dsar_ok(&["status", &id])).contains("unrecoverable since"));

    let again = ws.dsar_ok(&["purge", "--json"]);
    let summary: Value = serde_json::from_str(&stdout(&again)).unwrap();
    assert_eq!(summary["requests"].as_array().map(Vec::len), Some(0), "idempotent");
    let quiet = ws.dsar_ok(&["purge"]);
    assert!(
        quiet.stdout.is_empty() && quiet.stderr.is_empty(),
        "silent on success for cron"
    );

    let out = ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn purge_removes_export_archives_past_their_retention() {
    let config = EXAMPLE.replace("export_retention = \"7d\"", "export_retention = \"0s\"");
    let (_db, ws) = chinook(&config);
    ws.dsar_ok(&["export", "--subject", "customer_id=1"]);
    assert_eq!(ws.archives().len(), 1);
    let dry = ws.dsar_ok(&["purge", "--dry-run"]);
    assert!(stdout(&dry).contains("1 export archive"), "{}", stdout(&dry));
    assert_eq!(ws.archives().len(), 1, "dry run keeps it");
    ws.dsar_ok(&["purge"]);
    assert!(ws.archives().is_empty());
}

#[test]
fn restore_of_an_unknown_request_or_without_identity_is_a_usage_error() {
    let (_db, ws) = chinook(EXAMPLE);
    let out = ws.dsar(&["restore", "--request", "nope", "--identity", "keys/recovery.key"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = ws.dsar(&["restore", "--request", "nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--identity"));
}

/// Run dsar under a pseudo-terminal (util-linux `script`), typing `answer` at the prompt.
fn on_a_terminal(ws: &Workspace, db: &common::TestDb, args: &str, answer: &str) -> std::process::Output {
    use std::io::Write;
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_dsar"));
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(ws.dir.path())
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("CHINOOK_DATABASE_URL", &db.url)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    child.stdin.take().unwrap().write_all(answer.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn on_a_terminal_delete_shows_the_plan_and_asks_first() {
    let (db, ws) = chinook(EXAMPLE);
    let out = on_a_terminal(&ws, &db, "delete --subject customer_id=1", "no\n");
    let screen = stdout(&out);
    assert_eq!(out.status.code(), Some(2), "{screen}");
    assert!(
        screen.contains("public.invoice_line") && screen.contains("Type yes"),
        "{screen}"
    );
    // The prompt says what will happen: rows, tables, people and their kind of identifier,
    // and until when the rows stay restorable.
    assert!(
        screen.contains("Erase 46 rows in 3 tables about 1 person (identified by customer_id)")
            && screen.contains("restorable until about"),
        "{screen}"
    );
    assert_eq!(
        subject_rows(&db.url),
        ("1".into(), "7".into(), "38".into()),
        "a no changes nothing"
    );
    // Only `yes` in full goes on.
    let out = on_a_terminal(&ws, &db, "delete --subject customer_id=1", "y\n");
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert_eq!(subject_rows(&db.url), ("1".into(), "7".into(), "38".into()));

    let out = on_a_terminal(&ws, &db, "delete --subject customer_id=1", "yes\n");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert_eq!(subject_rows(&db.url), ("0".into(), "0".into(), "0".into()));
}

#[test]
fn rows_the_table_no_longer_accepts_are_flagged_and_the_rest_restored() {
    let (db, ws) = chinook(EXAMPLE);
    let before = dumps(&db.url);
    let id = request_id(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--yes", "--json"]));
    // A rule added after the delete: the 13.86 invoice (and so its lines) no longer fit.
    psql(
        &db.url,
        "ALTER TABLE invoice ADD CONSTRAINT invoice_small CHECK (total < 10) NOT VALID",
    );
    let out = ws.dsar(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("invoice_small"), "the reason is given: {err}");
    assert_eq!(
        psql(&db.url, "SELECT count(*) FROM customer WHERE customer_id = 1"),
        "1"
    );
    assert_eq!(psql(&db.url, "SELECT count(*) FROM invoice WHERE customer_id = 1"), "6");
    let left: i64 = psql(
        &db.url,
        "SELECT coalesce(sum(coalesce(sealed_rows, 1)), 0) FROM dsar.quarantine",
    )
    .parse()
    .unwrap();
    assert!(left > 1, "the refused invoice and its lines wait in quarantine: {left}");

    psql(&db.url, "ALTER TABLE invoice DROP CONSTRAINT invoice_small");
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    assert_eq!(dumps(&db.url), before, "a second restore brings back the rest");
}

#[test]
fn a_table_locked_by_someone_else_fails_after_lock_timeout_and_changes_nothing() {
    use std::io::Write;
    let config = EXAMPLE.replace("batch_rows = 2500", "batch_rows = 2500\nlock_timeout = \"1s\"");
    let (db, ws) = chinook(&config);
    let before = dumps(&db.url);
    // Another session holds an exclusive lock on invoice until its stdin closes.
    let mut holder = std::process::Command::new("psql")
        .args([db.url.as_str(), "-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut sql = holder.stdin.take().unwrap();
    writeln!(
        sql,
        "BEGIN; LOCK TABLE invoice IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
    )
    .unwrap();
    // Wait until the lock is really held (the server says so), not for a fixed time.
    while psql(
        &db.url,
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
         WHERE c.relname = 'invoice' AND l.mode = 'AccessExclusiveLock' AND l.granted",
    ) != "1"
    {}
    let out = ws.dsar(&["delete", "--subject", "customer_id=1", "--yes"]);
    drop(sql);
    holder.wait().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("lock timeout"), "the cause is named: {err}");
    assert_eq!(err.lines().filter(|l| l.starts_with("error:")).count(), 1, "{err}");
    assert_eq!(dumps(&db.url), before, "nothing changed");
}

/// The `undo with:` line after a delete is a command that works pasted as printed: it carries
/// the map and state dir of the run (from another directory too) and the recovery key's path.
#[test]
fn the_undo_line_works_pasted_as_printed() {
    let (db, ws) = chinook(EXAMPLE);
    let before = dumps(&db.url);
    let map = ws.path("sources.toml");
    let out = ws.dsar_ok(&[
        "--config",
        map.to_str().unwrap(),
        "delete",
        "--subject",
        "customer_id=1",
        "--yes",
    ]);
    let line = stdout(&out)
        .lines()
        .find_map(|l| l.trim().strip_prefix("undo with: ").map(str::to_string))
        .unwrap_or_else(|| panic!("no undo line: {}", stdout(&out)));
    assert!(
        line.contains("--config") && line.contains("keys/recovery.key"),
        "{line}"
    );
    // Pasted into a shell in another directory, with dsar as the binary under test.
    let elsewhere = tempfile::tempdir().unwrap();
    let shell = format!("dsar() {{ '{}' \"$@\"; }}; {line}", env!("CARGO_BIN_EXE_dsar"));
    let pasted = std::process::Command::new("sh")
        .args(["-c", &shell])
        .current_dir(elsewhere.path())
        .env("DSAR_STATE_DIR", ws.state_dir())
        .env("CHINOOK_DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(pasted.status.success(), "{line}: {}", stderr(&pasted));
    assert_eq!(dumps(&db.url), before, "restored by the printed command");
}
