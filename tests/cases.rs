//! Requests as cases (`--ticket`, `--received`, `--regime`, `dsar extend`, `jobs --overdue`,
//! `status TICKET`), on a real SQLite Chinook through the real binary.

mod common;

use common::{Workspace, stderr, stdout};
use serde_json::Value;
use time::{Duration, OffsetDateTime};

const EMAIL: &str = "luisg@embraer.com.br";

fn workspace() -> Workspace {
    let ws = Workspace::new(include_str!("../demo/sources.toml"), &[]);
    common::sqlite_chinook(&ws.path("chinook.db"));
    ws
}

fn json(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(out)))
}

/// The day `days` ago, as `--received` takes it.
fn days_ago(days: i64) -> String {
    let d = (OffsetDateTime::now_utc() - Duration::days(days)).date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

fn tickets(out: &std::process::Output) -> Vec<String> {
    json(out)["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["ticket"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_case_received_40_days_ago_is_overdue_until_extended() {
    let ws = workspace();
    let subject = format!("email={EMAIL}");
    let received = days_ago(40);
    // A dry run is a step of the case: it opens it (nothing is answered yet).
    ws.dsar_ok(&[
        "delete",
        "--subject",
        &subject,
        "--dry-run",
        "--ticket",
        "DSAR-1",
        "--received",
        &received,
    ]);
    ws.dsar_ok(&[
        "delete",
        "--subject",
        &subject,
        "--dry-run",
        "--ticket",
        "CCPA-1",
        "--received",
        &received,
        "--regime",
        "ccpa",
    ]);
    let overdue = ws.dsar_ok(&["jobs", "--overdue", "--json"]);
    assert_eq!(
        tickets(&overdue),
        ["DSAR-1"],
        "GDPR: one month; CCPA's 45 days are not up"
    );
    let case = &json(&overdue)["cases"][0];
    assert_eq!(case["state"], "overdue");
    assert_eq!(case["regime"], "gdpr");
    assert_eq!(case["received"], received.as_str());
    assert!(case["days_left"].as_i64().unwrap() < 0, "{case}");
    let soon = ws.dsar_ok(&["jobs", "--due-within", "7d", "--json"]);
    assert_eq!(
        tickets(&soon),
        ["DSAR-1", "CCPA-1"],
        "overdue first, then due within a week"
    );

    let extended = ws.dsar_ok(&["extend", "DSAR-1", "--reason", "twelve systems to search", "--json"]);
    let extended = json(&extended);
    assert_eq!(extended["extension"]["reason"], "twelve systems to search");
    assert_eq!(
        extended["extension"]["late"], true,
        "made after the first deadline: {extended}"
    );
    assert!(extended["due"].as_str().unwrap() > days_ago(-40).as_str(), "{extended}");
    assert!(
        tickets(&ws.dsar_ok(&["jobs", "--overdue", "--json"])).is_empty(),
        "an extended case is not overdue"
    );
    let again = ws.dsar(&["extend", "DSAR-1", "--reason", "more"]);
    assert_eq!(again.status.code(), Some(2), "one extension only: {}", stderr(&again));
    assert!(stderr(&again).contains("already extended"), "{}", stderr(&again));

    // The audit log tells it.
    let actions: Vec<String> = ws
        .audit_events()
        .iter()
        .filter(|e| e["ticket"] == "DSAR-1")
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions.first().map(String::as_str), Some("case.opened"), "{actions:?}");
    assert!(actions.contains(&"case.extended".to_string()), "{actions:?}");
}

#[test]
fn a_case_tells_its_story_and_an_answered_case_is_not_overdue() {
    let ws = workspace();
    let subject = format!("email={EMAIL}");
    let received = days_ago(40);
    let export = ws.dsar_ok(&[
        "export",
        "--subject",
        &subject,
        "--ticket",
        "DSAR-7",
        "--received",
        &received,
        "--reason",
        "Art. 15 access",
        "--json",
    ]);
    let export_id = json(&export)["request_id"].as_str().unwrap().to_string();
    let delete = ws.dsar_ok(&["delete", "--subject", &subject, "--yes", "--ticket", "DSAR-7", "--json"]);
    let delete_id = json(&delete)["request_id"].as_str().unwrap().to_string();
    ws.dsar_ok(&[
        "restore",
        "--request",
        &delete_id,
        "--identity",
        "keys/recovery.key",
        "--ticket",
        "DSAR-7",
        "--reason",
        "erased the wrong person",
    ]);

    // Every run of the case, in the ledger.
    let jobs = json(&ws.dsar_ok(&["jobs", "--ticket", "DSAR-7", "--json"]));
    let kinds: Vec<&str> = jobs["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 3, "{jobs}");
    for kind in ["export", "delete", "restore"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }

    // The story, in order.
    let story = json(&ws.dsar_ok(&["status", "DSAR-7", "--json"]));
    assert_eq!(story["case"]["state"], "answered", "{story}");
    assert_eq!(story["case"]["late"], true, "answered after its due date");
    let events = story["story"].as_array().unwrap();
    let actions: Vec<&str> = events.iter().map(|e| e["action"].as_str().unwrap()).collect();
    let at = |a: &str| {
        actions
            .iter()
            .position(|x| *x == a)
            .unwrap_or_else(|| panic!("{a} in {actions:?}"))
    };
    assert!(at("case.opened") < at("export.completed"));
    assert!(at("export.completed") < at("delete.completed"));
    assert!(at("delete.completed") < at("restore.completed"));
    let exported = &events[at("export.completed")];
    assert_eq!(exported["request_id"], export_id.as_str());
    assert_eq!(
        exported["archive_sha256"].as_str().map(str::len),
        Some(64),
        "{exported}"
    );
    assert_eq!(exported["details"]["reason"], "Art. 15 access");
    assert!(
        events[at("delete.completed")]["details"]["restorable_until"].is_string(),
        "{}",
        events[at("delete.completed")]
    );
    assert_eq!(
        events[at("restore.completed")]["details"]["reason"],
        "erased the wrong person"
    );
    let text = stdout(&ws.dsar_ok(&["status", "DSAR-7"]));
    assert!(text.contains("answered") && text.contains("(late)"), "{text}");
    assert!(text.contains("restorable until"), "{text}");

    // Answered: not overdue, though received 40 days ago.
    assert!(tickets(&ws.dsar_ok(&["jobs", "--overdue", "--json"])).is_empty());
    // And `audit show --ticket` lists the case's events.
    let shown = json(&ws.dsar_ok(&["audit", "show", "--ticket", "DSAR-7", "--json"]));
    assert!(shown["events"].as_array().unwrap().len() >= 4, "{shown}");
}

#[test]
fn a_case_cannot_be_forged_or_contradicted() {
    let ws = workspace();
    let subject = format!("email={EMAIL}");
    let received = days_ago(40);
    ws.dsar_ok(&[
        "delete",
        "--subject",
        &subject,
        "--dry-run",
        "--ticket",
        "DSAR-9",
        "--received",
        &received,
    ]);
    // Another received date for the same case: refused, nothing done.
    let other = ws.dsar(&[
        "delete",
        "--subject",
        &subject,
        "--dry-run",
        "--ticket",
        "DSAR-9",
        "--received",
        &days_ago(1),
    ]);
    assert_eq!(other.status.code(), Some(2), "{}", stderr(&other));
    assert!(stderr(&other).contains("was received on"), "{}", stderr(&other));

    // A ticket that could leave the cases folder, or a date in the future: usage errors.
    for bad in [
        vec!["--ticket", "../x"],
        vec!["--ticket", "T-1", "--received", &days_ago(-3)],
        vec!["--ticket", "T-2", "--received", "1999-12-31"],
    ] {
        let mut args = vec!["delete", "--subject", &subject, "--dry-run"];
        args.extend(bad.iter().copied());
        let out = ws.dsar(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    assert!(!ws.state_dir().join("x.json").exists());
    // --received without a ticket makes no case.
    let loose = ws.dsar(&["delete", "--subject", &subject, "--dry-run", "--received", &received]);
    assert_eq!(loose.status.code(), Some(2), "{}", stderr(&loose));

    // Moving a due date by editing the record is caught.
    let path = ws.state_dir().join("cases/DSAR-9.json");
    let record = std::fs::read_to_string(&path).unwrap();
    let due = serde_json::from_str::<Value>(&record).unwrap()["due"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(&path, record.replace(&due, "2099-01-01")).unwrap();
    let out = ws.dsar(&["status", "DSAR-9"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("does not verify"), "{}", stderr(&out));
    // One damaged record is reported, and hides no other case.
    let listed = json(&ws.dsar_ok(&["jobs", "--overdue", "--json"]));
    assert_eq!(listed["damaged"][0]["ticket"], "DSAR-9", "{listed}");
    assert!(
        listed["damaged"][0]["damaged"]
            .as_str()
            .unwrap()
            .contains("does not verify")
    );

    // A case whose record is deleted is not opened again with a new date.
    std::fs::remove_file(&path).unwrap();
    let reopened = ws.dsar(&["delete", "--subject", &subject, "--dry-run", "--ticket", "DSAR-9"]);
    assert_eq!(reopened.status.code(), Some(1), "{}", stderr(&reopened));
    assert!(stderr(&reopened).contains("is missing"), "{}", stderr(&reopened));
    assert!(!path.exists());
    let status = ws.dsar(&["status", "DSAR-9"]);
    assert_eq!(status.status.code(), Some(1), "{}", stderr(&status));
}

#[test]
fn an_erasure_certificate_says_what_was_erased_and_since_when_it_cannot_be_undone() {
    let ws = Workspace::new(
        &include_str!("../demo/sources.toml").replace("recovery_window = \"30d\"", "recovery_window = \"0s\""),
        &[],
    );
    common::sqlite_chinook(&ws.path("chinook.db"));
    let subject = format!("email={EMAIL}");
    let delete = json(&ws.dsar_ok(&["delete", "--subject", &subject, "--yes", "--ticket", "DSAR-3", "--json"]));
    let id = delete["request_id"].as_str().unwrap().to_string();

    // Before the purge: erased, restorable.
    let before = json(&ws.dsar_ok(&["audit", "certificate", "--request", &id, "--json"]));
    assert_eq!(before["state"], "restorable", "{before}");
    assert_eq!(before["ticket"], "DSAR-3");
    let rows: u64 = before["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(rows, 1 + 7 + 38, "the customer, 7 invoices, 38 lines: {before}");
    // The cited event is the log's own line, by sequence number and hash.
    let cited = &before["events"][0];
    let logged = ws
        .audit_events()
        .into_iter()
        .find(|e| e["seq"] == cited["seq"])
        .unwrap();
    assert_eq!(logged["hash"], cited["hash"]);
    assert_eq!(logged["action"], "delete.completed");

    // A dry-run purge destroys nothing, and the certificate knows it.
    ws.dsar_ok(&["purge", "--dry-run"]);
    let dry = json(&ws.dsar_ok(&["audit", "certificate", "--request", &id, "--json"]));
    assert_eq!(dry["state"], "restorable", "{dry}");

    // After the purge: unrecoverable since the purge, found by the person's identifier too.
    ws.dsar_ok(&["purge"]);
    let after = json(&ws.dsar_ok(&["audit", "certificate", "--subject", &subject, "--json"]));
    assert_eq!(after["state"], "unrecoverable", "{after}");
    assert_eq!(after["request_id"], id.as_str());
    let purge = ws
        .audit_events()
        .into_iter()
        .find(|e| e["action"] == "purge.completed" && e["details"]["dry_run"] == false)
        .unwrap();
    assert_eq!(after["unrecoverable_since"], purge["time"]);
    assert_eq!(after["events"][1]["hash"], purge["hash"]);
    let text = stdout(&ws.dsar_ok(&["audit", "certificate", "--request", &id]));
    assert!(text.contains("UNRECOVERABLE since"), "{text}");
    assert!(!text.contains(EMAIL), "no raw identifier: {text}");

    // Nothing to certify: exit 3.
    let none = ws.dsar(&["audit", "certificate", "--request", "20260101-000000-00000000"]);
    assert_eq!(none.status.code(), Some(3), "{}", stderr(&none));
}

#[test]
fn the_certificate_of_a_restored_request_says_restored_and_exits_3() {
    let ws = workspace();
    let subject = format!("email={EMAIL}");
    let delete = json(&ws.dsar_ok(&["delete", "--subject", &subject, "--yes", "--json"]));
    let id = delete["request_id"].as_str().unwrap().to_string();
    ws.dsar_ok(&["restore", "--request", &id, "--identity", "keys/recovery.key"]);
    let out = ws.dsar(&["audit", "certificate", "--request", &id, "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let certificate = json(&out);
    assert_eq!(certificate["state"], "restored", "{certificate}");
    assert!(certificate["restored_at"].is_string());
}
