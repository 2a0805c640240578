//! Command sources: an external service reached through a program (the shipped fixture scripts
//! stand in for a billing API), next to Chinook on a real PostgreSQL.

mod common;

use common::{TestDb, Workspace, fresh_db, stderr, stdout};
use serde_json::Value;

const EXAMPLE: &str = include_str!("../sources.toml.example");
const FIXTURE: &str = include_str!("../examples/command/customers.jsonl");
const EMAIL: &str = "luisg@embraer.com.br";

fn script(name: &str) -> String {
    format!("{}/examples/command/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Chinook plus a `billing` command source whose records are keyed by email; the scripts' data
/// (a copy of the fixture) lives in the returned directory.
fn with_billing(run: &str, delete_run: Option<&str>) -> (TestDb, Workspace, tempfile::TempDir) {
    let db = fresh_db("chinook_tpl");
    let mut config = format!("{EXAMPLE}\n[[sources]]\nname = \"billing\"\nkind = \"command\"\nrun = {run}\n");
    if let Some(d) = delete_run {
        config.push_str(&format!("delete_run = {d}\n"));
    }
    let data = tempfile::tempdir().unwrap();
    let fixture = data.path().join("customers.jsonl");
    std::fs::write(&fixture, FIXTURE).unwrap();
    let ws = Workspace::new(
        &config,
        &[
            ("CHINOOK_DATABASE_URL", &db.url),
            ("FIXTURE", fixture.to_str().unwrap()),
        ],
    );
    (db, ws, data)
}

fn export_run() -> String {
    format!("[\"{}\", \"{{email}}\"]", script("fixture-export.sh"))
}

fn delete_run() -> String {
    format!("[\"{}\", \"{{email}}\"]", script("fixture-delete.sh"))
}

#[test]
fn records_of_a_command_source_land_in_the_archive_found_by_an_expanded_identity() {
    let (_db, ws, _data) = with_billing(&export_run(), None);
    // Asked by customer id: the email the script needs comes from Chinook (identity expansion).
    let report: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&[
        "export",
        "--subject",
        "customer_id=1",
        "--json",
    ])))
    .unwrap();
    let archive = ws.open_archive(std::path::Path::new(report["requests"][0]["archive"].as_str().unwrap()));
    let records = archive.json_rows("data/billing/records.json");
    assert_eq!(records.len(), 2, "both of the person's billing records, nobody else's");
    assert!(records.iter().all(|r| r["email"] == EMAIL));
    assert_eq!(records[1]["seats"], 5, "values keep their JSON types");
    assert_eq!(records[0]["seats"], Value::Null, "a key one record lacks is null");
    assert_eq!(archive.counts()["billing/records"], 2);
    assert_eq!(archive.counts()["chinook/public.invoice"], 7);
    let manifest = archive.manifest();
    let billing = manifest["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "billing")
        .unwrap()
        .clone();
    assert_eq!(billing["kind"], "command");
    ws.dsar_ok(&["check"]);
}

#[test]
fn a_failing_or_garbled_command_is_a_failed_source_with_its_stderr_and_exit_3() {
    for (run, expected) in [
        (
            r#"["sh", "-c", "echo 'rate limited, try later' >&2; exit 7"]"#,
            "rate limited, try later",
        ),
        (r#"["echo", "not json"]"#, "line 1 of its output is not a JSON object"),
        (r#"["/nonexistent/billing-export"]"#, "cannot run"),
    ] {
        let (_db, ws, _data) = with_billing(run, None);
        let out = ws.dsar(&["export", "--subject", "customer_id=1"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(3), "{run}: {err}");
        assert!(err.contains("billing") && err.contains(expected), "{run}: {err}");
        // The databases were still exported, and the archive says what is missing.
        let archive = ws.open_archive(&ws.archives()[0]);
        assert_eq!(archive.counts()["chinook/public.customer"], 1);
        let manifest = archive.manifest();
        let billing = manifest["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "billing")
            .unwrap()
            .clone();
        assert!(
            billing["unavailable"].as_str().unwrap().contains(expected),
            "{manifest}"
        );
    }
}

#[test]
fn a_subject_value_in_a_programs_complaint_never_reaches_the_audit_log() {
    let (_db, ws, _data) = with_billing(
        r#"["sh", "-c", "echo \"no customer $1\" >&2; exit 1", "sh", "{email}"]"#,
        None,
    );
    let out = ws.dsar(&["export", "--subject", &format!("email={EMAIL}")]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let log = std::fs::read_to_string(ws.state_dir().join("audit/000001.jsonl")).unwrap();
    assert!(
        log.contains("no customer <email>"),
        "the complaint is kept, redacted: {log}"
    );
    assert!(!log.contains(EMAIL), "the raw email is not in the audit log");
    let ledger = std::fs::read_dir(ws.state_dir().join("requests"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap_or_default())
        .collect::<String>();
    assert!(!ledger.contains(EMAIL), "nor in the ledger");
}

#[test]
fn delete_runs_delete_run_after_the_databases_and_says_when_a_source_cannot_erase() {
    let (db, ws, data) = with_billing(&export_run(), Some(&delete_run()));
    let fixture = data.path().join("customers.jsonl");
    let plan = stdout(&ws.dsar_ok(&["delete", "--subject", "customer_id=1", "--dry-run"]));
    assert!(plan.contains("external") && plan.contains("billing: records"), "{plan}");

    let report: Value = serde_json::from_str(&stdout(&ws.dsar_ok(&[
        "delete",
        "--subject",
        "customer_id=1",
        "--yes",
        "--json",
    ])))
    .unwrap();
    assert_eq!(
        common::psql(&db.url, "SELECT count(*) FROM customer WHERE customer_id = 1"),
        "0"
    );
    let left = std::fs::read_to_string(&fixture).unwrap();
    assert!(
        !left.contains(EMAIL) && left.contains("leonekohler"),
        "only that person is erased there: {left}"
    );
    let billing = report["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source"] == "billing")
        .unwrap()
        .clone();
    assert_eq!(
        (billing["strategy"].as_str(), billing["rows"].as_u64()),
        (Some("external"), Some(1))
    );

    // A source that cannot erase leaves the person there: the operator is told (exit 3).
    let (_db, ws, data) = with_billing(&export_run(), None);
    let out = ws.dsar(&["delete", "--subject", "customer_id=1", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("no delete_run"), "{}", stderr(&out));
    assert!(
        std::fs::read_to_string(data.path().join("customers.jsonl"))
            .unwrap()
            .contains(EMAIL)
    );
}

#[test]
fn a_command_source_map_is_checked_like_any_other() {
    let cases = [
        (
            format!("[\"{}\", \"{{phone}}\"]", script("fixture-export.sh")),
            "{phone}, which is not a subject key",
        ),
        ("[]".to_string(), "run is empty"),
    ];
    for (run, expected) in cases {
        let (_db, ws, _data) = with_billing(&run, None);
        let out = ws.dsar(&["export", "--subject", "customer_id=1"]);
        assert_eq!(out.status.code(), Some(2), "{run}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected) && stderr(&out).contains("sources.toml:"),
            "{}",
            stderr(&out)
        );
    }
    let (_db, ws, _data) = with_billing(r#"["no-such-billing-tool", "{email}"]"#, None);
    let out = ws.dsar(&["check"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        format!("{}{}", stdout(&out), stderr(&out)).contains("`no-such-billing-tool` is not found"),
        "{}",
        stderr(&out)
    );
}
